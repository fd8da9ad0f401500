//! # varpd: the virtual ARP daemon
//!
//! Where this crate sits among the others: `ARCHITECTURE.md` at the
//! repository root.
//!
//! ## Theory statement
//!
//! The overlay driver knows how to put a frame on the wire but not where
//! to send it; for a destination MAC it has no answer for, it queues the
//! frame and raises a lookup. varpd answers those, through search plugins
//! (`direct`, `files`, ...) loaded with `dlopen` ([`plugin`]) and spoken
//! to through the C ABI of `libvarpd_provider.h` (`libvarpd-abi`).
//!
//! * An **instance** ([`core::Instance`]) is one plugin instance serving
//!   one overlay link; `dladm` creates, configures (properties) and
//!   activates it over the client protocol ([`proto`], served by
//!   [`server`]). Activation starts the plugin, saves the instance
//!   ([`persist`]) and associates the link with it in the driver.
//! * **Lookup threads** ([`run_lookups`]) loop on `OVERLAY_TARG_LOOKUP`
//!   and hand each question to the instance's plugin; the plugin answers
//!   through the library functions varpd exports ([`capi`]): a
//!   destination, a drop, or a proxy ARP/NDP/DHCP answer built by varpd
//!   ([`proxy`]).
//! * varpd survives its plugins and the kernel survives varpd: a lookup
//!   is one driver call, plugin panics are caught at the SDK boundary,
//!   and a varpd killed at any moment is restored from its saved
//!   instances at the next start, re-associating each link (the driver
//!   puts the dead connection's pending lookups back in the queue).
//!   Overlays without an instance are degraded with "no varpd instance
//!   exists".
//!
//! ## Lookup threads and the Linux transport
//!
//! illumos runs `2 × ncpu + 1` lookup threads on one `/dev/overlay`
//! descriptor; the kernel serves their ioctls in parallel. varpd does the
//! same on both platforms. On Linux the driver is `overlayd` and the
//! descriptor a socket connection, and the connection is multiplexed to
//! match (requests carry ids and are served concurrently; see
//! `overlay_client::proto` and overlayd's `ctl`): a LOOKUP waiting up to
//! a second for work holds up neither the RESPOND another lookup thread
//! sends meanwhile, nor a client command, nor a plugin answering later
//! from its own thread (svp). The one exclusive handle, with the
//! requests it took, is shared by all of them, as the illumos
//! descriptor is. `VARPD_LOOKUP_THREADS` overrides the count.
//!
//! A synchronous plugin (direct, files, the proxies) answers in about a
//! microsecond; on the socket a lookup's cost is the thread handoffs
//! between overlayd and varpd, and the transport is arranged to need as
//! few as it can (see `overlay_client`'s socket module): answers are
//! posted (`RESPOND` and `DROP` do not wait for the driver's reply,
//! [`driver::Driver::respond_posted`]), LOOKUPs are kept in flight ahead
//! of the threads ([`driver::LOOKUP_PREFETCH`]) so that a burst of misses
//! comes back in batches, and a sleeping lookup thread is woken only when
//! no running one will take the work. So in a burst one thread does the
//! work without sleeping, as illumos' threads do on a busy kernel, and
//! the others are there for what the many threads are there for on
//! illumos: a thread held up in a slow plugin leaves the others to
//! answer (within a few milliseconds here).

pub mod capi;
pub mod client;
pub mod core;
pub mod driver;
pub mod nvjson;
pub mod nvlist;
pub mod persist;
pub mod plugin;
pub mod proto;
pub mod proxy;
pub mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

pub use crate::core::{Instance, Varpd};
pub use overlay::Errno;

/// Makes sure the functions plugins call are linked into the binary that
/// calls this (with `-rdynamic`, see `build.rs`, they are then exported).
pub fn keep_exports() {
    let mut v = capi::exports();
    v.extend(nvlist::exports());
    std::hint::black_box(v);
}

/// Set when the driver connection is lost: the daemon exits with
/// `SMF_EXIT_ERR_FATAL`.
pub static DRIVER_LOST: AtomicBool = AtomicBool::new(false);

/// The number of lookup threads for this platform (see the theory
/// statement).
pub fn lookup_thread_count() -> usize {
    if let Some(n) = std::env::var("VARPD_LOOKUP_THREADS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n;
    }
    2 * std::thread::available_parallelism().map_or(1, |n| n.get()) + 1
}

/// Starts `n` lookup threads; they stop (within a second) once `stop`.
pub fn run_lookups(v: &Arc<Varpd>, n: usize, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    (0..n)
        .filter_map(|i| {
            let v = v.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("varpd-lookup-{i}"))
                .spawn(move || lookup_loop(&v, &stop))
                .ok()
        })
        .collect()
}

fn lookup_loop(v: &Varpd, stop: &AtomicBool) {
    let mut failures = 0u32;
    while !stop.load(Ordering::Relaxed) {
        match v.driver.lookup() {
            Ok(req) => {
                failures = 0;
                probe_lookup_start(&req);
                tracing::trace!(reqid = req.otl_reqid, dst = %req.otl_dstaddr, "lookup start");
                v.dispatch(req);
            }
            Err(e) if e == Errno::ETIME || e == Errno::EINTR => {}
            Err(e) if e == Errno::EIO => {
                // The driver connection is gone (overlayd exited): nothing
                // can be answered any more. Stop, and let the service
                // manager start a new varpd against the new driver.
                tracing::error!("lost the overlay driver; exiting");
                DRIVER_LOST.store(true, Ordering::Relaxed);
                stop.store(true, Ordering::Relaxed);
                return;
            }
            Err(e) => {
                // illumos aborts; back off and retry, so a transient
                // failure does not end the daemon.
                failures = failures.saturating_add(1);
                if failures == 1 || failures.is_power_of_two() {
                    tracing::error!("OVERLAY_TARG_LOOKUP failed: {e} ({failures} in a row)");
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

/// USDT probes (DTrace on illumos; SystemTap notes on Linux, usable
/// from bpftrace): `varpd:::lookup-start` (reqid, link id, instance id)
/// when a lookup is taken, `varpd:::lookup-done` (reqid, answered: 1 for
/// a destination, 0 for a drop) when it is answered.
#[usdt::provider(provider = "varpd")]
mod probes {
    fn lookup__start(reqid: u64, linkid: u64, id: u64) {}
    fn lookup__done(reqid: u64, ok: u8) {}
}

/// Registers the USDT probes (a no-op where the platform needs none).
pub fn register_probes() {
    if let Err(e) = usdt::register_probes() {
        tracing::debug!("USDT probes not registered: {e}");
    }
}

pub(crate) fn probe_lookup_start(req: &overlay::abi::targ::OverlayTargLookup) {
    probes::lookup__start!(|| (req.otl_reqid, req.otl_dlid, req.otl_varpdid));
}

pub(crate) fn probe_lookup_done(reqid: u64, ok: bool) {
    probes::lookup__done!(|| (reqid, u8::from(ok)));
}
