//! The [`Platform`] of the Linux host.

use std::sync::{Arc, Weak};

use overlay::Errno;
use overlay::buf::PktBuf;
use overlay::hosted::CondvarEvent;
use overlay::mux::Mux;
use overlay::platform::{Platform, SocketParams, UnderlayDest};

use crate::sock::UdpSock;
use crate::switch::VSwitch;

/// The Linux host: owned buffers, UDP sockets, TAP-backed switches.
#[derive(Clone, Debug, Default)]
pub struct LinuxPlatform {
    /// LOOKUPs the control socket keeps waiting for work, answered from
    /// [`Platform::lookups_posted`] (see [`crate::ctl::Parked`]).
    pub(crate) parked: Arc<crate::ctl::Parked>,
}

impl LinuxPlatform {
    pub fn new() -> LinuxPlatform {
        LinuxPlatform::default()
    }
}

impl Platform for LinuxPlatform {
    type RawMutex = parking_lot::RawMutex;
    type RawRwLock = parking_lot::RawRwLock;
    type Event = CondvarEvent;
    type Frame = PktBuf;
    type Socket = UdpSock;
    type Link = Arc<VSwitch>;

    fn socket_open(&self, params: &SocketParams, mux: Weak<Mux<Self>>) -> Result<UdpSock, Errno> {
        UdpSock::open(self, params, mux)
    }

    fn socket_send(&self, sock: &UdpSock, batch: &mut Vec<(UnderlayDest, PktBuf)>) {
        sock.send(batch);
    }

    fn link_create(&self, linkid: u32, _margin: u32, mtu: u32) -> Result<Arc<VSwitch>, Errno> {
        Ok(Arc::new(VSwitch::new(linkid, mtu)))
    }

    fn link_disable(&self, link: &Arc<VSwitch>) -> Result<(), Errno> {
        if link.has_ports() {
            Err(Errno::EBUSY)
        } else {
            Ok(())
        }
    }

    fn link_set_mtu(&self, link: &Arc<VSwitch>, mtu: u32) -> Result<(), Errno> {
        link.set_mtu(mtu);
        Ok(())
    }

    fn link_up(&self, link: &Arc<VSwitch>) {
        tracing::info!(linkid = link.linkid, "overlay link up");
    }

    fn deliver(&self, link: &Arc<VSwitch>, frame: PktBuf) {
        link.deliver_up(frame);
    }

    fn deliver_batch(&self, link: &Arc<VSwitch>, frames: impl Iterator<Item = PktBuf>) {
        link.deliver_up_batch(&mut frames.collect());
    }

    fn lookups_posted(&self) {
        self.parked.service();
    }

    fn frame_alloc(&self, bytes: &[u8]) -> Result<PktBuf, Errno> {
        Ok(PktBuf::new(bytes))
    }

    fn fma_service(&self, degraded: bool) {
        if degraded {
            tracing::warn!("overlay service degraded: at least one overlay is degraded");
        } else {
            tracing::info!("overlay service restored");
        }
    }

    fn random_seed(&self) -> u64 {
        let mut b = [0u8; 8];
        // SAFETY: getrandom(2) into an 8-byte buffer.
        let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
        if n == 8 {
            u64::from_ne_bytes(b)
        } else {
            self.now_ns() ^ 0x9e37_79b9_7f4a_7c15
        }
    }

    fn now_ns(&self) -> u64 {
        // SAFETY: an all-zero timespec is valid.
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        // SAFETY: CLOCK_MONOTONIC into a valid timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
}
