//! Keeps the lookup threads out of the way of other driver calls.
//!
//! On the socket transport a LOOKUP holds the driver connection for up to
//! a second when no work is pending (see the theory statement in
//! `lib.rs`). [`Gated`] wraps the driver: every call but LOOKUP enters the
//! gate for its duration, and a lookup thread issues its next LOOKUP only
//! when nobody is inside. A client command enters once for all its
//! driver calls ([`Gated::enter`]), so it waits for at most the one
//! LOOKUP in flight, not once per call behind a lookup thread that keeps
//! re-taking the connection. On illumos the gate costs two uncontended
//! lock operations per call.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use overlay::Errno;
use overlay::abi::EtherAddr;
use overlay::abi::targ::*;

use crate::driver::Driver;

#[derive(Debug, Default)]
struct Gate {
    inside: Mutex<usize>,
    idle: Condvar,
}

/// A guard: the gate is occupied while it lives.
#[derive(Debug)]
pub struct Entered<'a>(&'a Gate);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        let mut n = self.0.inside.lock().unwrap_or_else(PoisonError::into_inner);
        *n -= 1;
        if *n == 0 {
            self.0.idle.notify_all();
        }
    }
}

/// The driver behind the gate.
pub struct Gated {
    inner: Arc<dyn Driver>,
    gate: Gate,
}

impl std::fmt::Debug for Gated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gated").finish_non_exhaustive()
    }
}

impl Gated {
    pub fn new(inner: Arc<dyn Driver>) -> Gated {
        Gated {
            inner,
            gate: Gate::default(),
        }
    }

    /// Occupies the gate until the guard is dropped (re-entrant).
    pub fn enter(&self) -> Entered<'_> {
        *self
            .gate
            .inside
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        Entered(&self.gate)
    }

    /// Waits (a bounded while) until nobody is inside.
    fn wait_idle(&self) {
        let mut n = self
            .gate
            .inside
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut rounds = 0;
        while *n > 0 && rounds < 50 {
            n = self
                .gate
                .idle
                .wait_timeout(n, Duration::from_millis(100))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            rounds += 1;
        }
    }
}

macro_rules! gated {
    ($(fn $name:ident(&self $(, $a:ident : $t:ty)*) -> $r:ty;)*) => {
        $(fn $name(&self $(, $a: $t)*) -> $r {
            let _g = self.enter();
            self.inner.$name($($a),*)
        })*
    };
}

impl Driver for Gated {
    fn lookup(&self) -> Result<OverlayTargLookup, Errno> {
        self.wait_idle();
        self.inner.lookup()
    }

    gated! {
        fn info(&self, linkid: u32) -> Result<OverlayTargInfo, Errno>;
        fn associate(&self, a: &OverlayTargAssociate) -> Result<(), Errno>;
        fn disassociate(&self, linkid: u32) -> Result<(), Errno>;
        fn degrade(&self, linkid: u32, msg: &str) -> Result<(), Errno>;
        fn restore(&self, linkid: u32) -> Result<(), Errno>;
        fn respond(&self, reqid: u64, answer: &OverlayTargetPoint) -> Result<(), Errno>;
        fn drop_req(&self, reqid: u64) -> Result<(), Errno>;
        fn pkt(&self, reqid: u64, buf: &mut [u8]) -> Result<usize, Errno>;
        fn inject(&self, linkid: Option<u32>, reqid: u64, frame: &[u8]) -> Result<(), Errno>;
        fn resend(&self, linkid: Option<u32>, reqid: u64, frame: &[u8]) -> Result<(), Errno>;
        fn list(&self) -> Result<Vec<u32>, Errno>;
        fn cache_get(&self, linkid: u32, mac: EtherAddr) -> Result<OverlayTargCacheEntry, Errno>;
        fn cache_set(&self, linkid: u32, e: &OverlayTargCacheEntry) -> Result<(), Errno>;
        fn cache_remove(&self, linkid: u32, mac: EtherAddr) -> Result<(), Errno>;
        fn cache_flush(&self, linkid: u32) -> Result<(), Errno>;
        fn cache_iter(&self, linkid: u32, marker: u64, count: u16) -> Result<(Vec<OverlayTargCacheEntry>, u64), Errno>;
    }
}
