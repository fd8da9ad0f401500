//! What the core needs from the system that hosts it.
//!
//! Everything platform-specific reaches the core through [`Platform`]:
//! frames, underlay sockets, delivery to MAC clients, locks and the wakeup
//! used by `OVERLAY_TARG_LOOKUP`. The illumos module implements it over
//! `mblk_t`, ksocket, `krwlock_t`/`kmutex_t`/`kcondvar_t` and `mac_rx`; the
//! Linux host over owned buffers, UDP sockets, parking_lot and TAP
//! devices; the core's own tests over plain memory.

use alloc::sync::Weak;

use crate::abi::In6Addr;
use crate::errno::Errno;
use crate::mux::Mux;
use crate::plugin::abi::overlay_sockopt_t;

/// A frame owned by the driver (an `mblk_t` chain on illumos).
pub trait Frame: Send + 'static {
    /// The contiguous bytes at the start of the frame (the first block of
    /// an `mblk_t` chain). Headers are parsed from here only.
    fn head(&self) -> &[u8];

    /// Total length in bytes.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Prepends `hdr` to the frame, in place if there is headroom. Fails
    /// only when memory cannot be had without sleeping.
    fn prepend(&mut self, hdr: &[u8]) -> Result<(), Errno>;

    /// Removes `n` bytes from the front (they may span blocks).
    fn strip(&mut self, n: usize) -> Result<(), Errno>;

    /// Copies up to `dst.len()` bytes from the start of the frame; returns
    /// how many were copied.
    fn copy_to(&self, dst: &mut [u8]) -> usize;
}

/// A destination on the underlay: address (IPv4-mapped for IPv4) and port
/// in host order, plus the outer UDP source port the plugin chose for the
/// flow (0: the socket's own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnderlayDest {
    pub ip: In6Addr,
    pub port: u16,
    pub src_port: u16,
}

/// Parameters of a mux socket, as the plugin's `socket` and `sockopt` ops
/// report them (illumos socket constants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketParams {
    pub domain: i32,
    pub sock_type: i32,
    pub protocol: i32,
    pub addr: In6Addr,
    pub port: u16,
    pub sockopts: alloc::vec::Vec<overlay_sockopt_t>,
}

/// A wakeup with a generation number, for waits that must not miss a
/// notification sent between checking a condition and going to sleep.
pub trait Event: Send + Sync {
    fn new() -> Self;
    /// The current generation.
    fn generation(&self) -> u64;
    /// Advances the generation and wakes every waiter.
    fn notify_all(&self);
    /// Advances the generation and wakes at least one waiter, if any
    /// sleeps (illumos `cv_signal`). Waiters that are not woken keep
    /// sleeping although the generation moved: use it where any one
    /// waiter can do the work, and have that one wake the next if work
    /// is left. The default wakes every waiter, which is always correct.
    fn notify_one(&self) {
        self.notify_all();
    }
    /// Sleeps until the generation differs from `seen` or `timeout_ns`
    /// passes. Returns false on timeout.
    fn wait_changed(&self, seen: u64, timeout_ns: u64) -> bool;
}

/// Events only the core sees, for the host's tracing (DTrace SDT probes
/// on illumos).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// varpd answered DROP for an entry that is already VALID (illumos
    /// `overlay-target-valid-drop`).
    TargetValidDrop {
        linkid: u32,
        mac: crate::abi::EtherAddr,
    },
}

/// The host.
pub trait Platform: Sized + Send + Sync + 'static {
    /// Mutex for short control-path critical sections.
    type RawMutex: lock_api::RawMutex + Send + Sync;
    /// Reader-writer lock; the transmit hit path takes it for reading.
    type RawRwLock: lock_api::RawRwLock + Send + Sync;
    type Event: Event;
    type Frame: Frame;
    /// A bound underlay socket. Dropping it closes it.
    type Socket: Send + Sync;
    /// The MAC side of one overlay device (a registered MAC provider and
    /// its datalink on illumos; the virtual switch on Linux).
    type Link: Send + Sync;

    /// Opens and binds a mux socket. Received datagrams are to be handed
    /// to [`Mux::rx`] on `mux` (which may be gone by then).
    fn socket_open(
        &self,
        params: &SocketParams,
        mux: Weak<Mux<Self>>,
    ) -> Result<Self::Socket, Errno>;

    /// Sends encapsulated frames. The batch is drained; frames that cannot
    /// be sent are freed and counted by the host.
    fn socket_send(
        &self,
        sock: &Self::Socket,
        batch: &mut alloc::vec::Vec<(UnderlayDest, Self::Frame)>,
    );

    /// Creates the MAC side of a new device (illumos: `mac_register` and
    /// `dls_devnet_create`).
    fn link_create(&self, linkid: u32, margin: u32, mtu: u32) -> Result<Self::Link, Errno>;

    /// Prepares the link for destruction; fails with `EBUSY` while MAC
    /// clients remain. On success the link is dropped.
    fn link_disable(&self, link: &Self::Link) -> Result<(), Errno>;

    /// Reports a new MTU to MAC clients (`mac_maxsdu_update`).
    fn link_set_mtu(&self, link: &Self::Link, mtu: u32) -> Result<(), Errno>;

    /// Marks the link up (`mac_link_update(LINK_STATE_UP)`).
    fn link_up(&self, link: &Self::Link);

    /// Delivers a frame up to the device's MAC clients (`mac_rx`).
    fn deliver(&self, link: &Self::Link, frame: Self::Frame);

    /// Delivers several frames up at once (`mac_rx` takes a chain).
    /// Hosts that can hand a batch over in one step override this.
    fn deliver_batch(&self, link: &Self::Link, frames: impl Iterator<Item = Self::Frame>) {
        for f in frames {
            self.deliver(link, f);
        }
    }

    /// Allocates a frame holding a copy of `bytes` (for `INJECT` and
    /// `RESEND`).
    fn frame_alloc(&self, bytes: &[u8]) -> Result<Self::Frame, Errno>;

    /// Called when the number of degraded devices goes from 0 to 1
    /// (`degraded` true) or from 1 to 0 (FMA service impact / restore).
    fn fma_service(&self, degraded: bool) {
        let _ = degraded;
    }

    /// Entries were queued for lookup (after the threads waiting in
    /// `OVERLAY_TARG_LOOKUP` were signalled). A host that keeps LOOKUPs
    /// waiting without a thread blocked in each (overlayd parks them and
    /// answers them from here, saving the thread handoff that is most of
    /// a lookup's latency on a small machine) serves them now. Called on
    /// the thread that queued the entries (the transmit path, or a
    /// control command), outside every driver lock; it must not block.
    /// The default does nothing (illumos: the signalled thread serves).
    fn lookups_posted(&self) {}

    /// Reports a [`Probe`] event. Free unless traced.
    fn probe(&self, probe: Probe) {
        let _ = probe;
    }

    /// Seed for per-device hash tables.
    fn random_seed(&self) -> u64;

    /// Monotonic nanoseconds (`gethrtime`).
    fn now_ns(&self) -> u64;
}
