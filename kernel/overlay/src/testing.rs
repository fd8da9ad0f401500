//! An in-memory [`Platform`] for tests, benchmarks and fuzzing.
//!
//! Frames are byte vectors with headroom; sockets and links record what
//! they are given; time is the real monotonic clock. Nothing here is used
//! by a real host.

extern crate std;

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use crate::errno::Errno;
use crate::mux::Mux;
use crate::platform::{Platform, SocketParams, UnderlayDest};

/// Test frames are the core's own headroom buffers.
pub type MemFrame = crate::buf::PktBuf;

/// What a test socket was asked to send.
#[derive(Debug, Default)]
pub struct MemSocket {
    pub params: Option<SocketParams>,
    pub sent: parking_lot::Mutex<Vec<(UnderlayDest, MemFrame)>>,
    /// Keep no frames, only count them (benchmarks).
    pub discard: AtomicBool,
    pub count: AtomicU64,
    pub mux: parking_lot::Mutex<Option<Weak<Mux<MemPlatform>>>>,
}

/// What a test link was given.
#[derive(Debug, Default)]
pub struct MemLink {
    pub linkid: u32,
    pub delivered: parking_lot::Mutex<Vec<MemFrame>>,
    pub up: AtomicBool,
    pub mtu: AtomicU64,
    pub discard: AtomicBool,
    pub count: AtomicU64,
    /// Make `link_disable` fail with `EBUSY` (MAC clients present).
    pub busy: AtomicBool,
}

/// The test host.
#[derive(Debug, Default)]
pub struct MemPlatform {
    /// Every socket opened, in order (they stay listed after closing).
    pub sockets: parking_lot::Mutex<Vec<Arc<MemSocket>>>,
    /// Make the next `socket_open` fail with this errno.
    pub fail_socket: parking_lot::Mutex<Option<Errno>>,
    pub fma_degraded: AtomicBool,
    pub discard: bool,
    /// Every probe fired, in order.
    pub probes: parking_lot::Mutex<Vec<crate::platform::Probe>>,
}

impl MemPlatform {
    /// A platform whose sockets and links only count frames.
    pub fn discarding() -> MemPlatform {
        MemPlatform {
            discard: true,
            ..Default::default()
        }
    }
}

/// A socket handle that keeps the recorder alive.
#[derive(Debug)]
pub struct SocketHandle(pub Arc<MemSocket>);

impl Platform for MemPlatform {
    type RawMutex = parking_lot::RawMutex;
    type RawRwLock = parking_lot::RawRwLock;
    type Event = crate::hosted::CondvarEvent;
    type Frame = MemFrame;
    type Socket = SocketHandle;
    type Link = MemLink;

    fn socket_open(
        &self,
        params: &SocketParams,
        mux: Weak<Mux<Self>>,
    ) -> Result<SocketHandle, Errno> {
        if let Some(e) = self.fail_socket.lock().take() {
            return Err(e);
        }
        let s = Arc::new(MemSocket {
            params: Some(params.clone()),
            ..Default::default()
        });
        s.discard.store(self.discard, Relaxed);
        *s.mux.lock() = Some(mux);
        self.sockets.lock().push(s.clone());
        Ok(SocketHandle(s))
    }

    fn socket_send(&self, sock: &SocketHandle, batch: &mut Vec<(UnderlayDest, MemFrame)>) {
        sock.0.count.fetch_add(batch.len() as u64, Relaxed);
        if sock.0.discard.load(Relaxed) {
            batch.clear();
        } else {
            sock.0.sent.lock().append(batch);
        }
    }

    fn link_create(&self, linkid: u32, _margin: u32, mtu: u32) -> Result<MemLink, Errno> {
        let l = MemLink {
            linkid,
            ..Default::default()
        };
        l.mtu.store(mtu as u64, Relaxed);
        l.discard.store(self.discard, Relaxed);
        Ok(l)
    }

    fn link_disable(&self, link: &MemLink) -> Result<(), Errno> {
        if link.busy.load(Relaxed) {
            Err(Errno::EBUSY)
        } else {
            Ok(())
        }
    }

    fn link_set_mtu(&self, link: &MemLink, mtu: u32) -> Result<(), Errno> {
        link.mtu.store(mtu as u64, Relaxed);
        Ok(())
    }

    fn link_up(&self, link: &MemLink) {
        link.up.store(true, Relaxed);
    }

    fn deliver(&self, link: &MemLink, frame: MemFrame) {
        link.count.fetch_add(1, Relaxed);
        if !link.discard.load(Relaxed) {
            link.delivered.lock().push(frame);
        }
    }

    fn deliver_batch(&self, link: &MemLink, frames: impl Iterator<Item = MemFrame>) {
        if link.discard.load(Relaxed) {
            link.count.fetch_add(frames.count() as u64, Relaxed);
        } else {
            let mut d = link.delivered.lock();
            let before = d.len();
            d.extend(frames);
            link.count.fetch_add((d.len() - before) as u64, Relaxed);
        }
    }

    fn frame_alloc(&self, bytes: &[u8]) -> Result<MemFrame, Errno> {
        Ok(MemFrame::new(bytes))
    }

    fn fma_service(&self, degraded: bool) {
        self.fma_degraded.store(degraded, Relaxed);
    }

    fn probe(&self, probe: crate::platform::Probe) {
        self.probes.lock().push(probe);
    }

    fn random_seed(&self) -> u64 {
        // Fixed, so tests are repeatable.
        0x5eed_0f0c_e1a1_u64
    }

    fn now_ns(&self) -> u64 {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// Entry points shared by the fuzz targets and the corpus replay test.
pub mod fuzz {
    extern crate std;
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use std::sync::OnceLock;

    use super::MemPlatform;
    use crate::abi::dld::DldIoctl;
    use crate::abi::targ::{TargIoctl, copy_plan};
    use crate::driver::{Cred, CtlHandle, OpenFlags, Overlay};
    use crate::ioctl::{TargData, dld_ioctl, targ_ioctl};

    struct Rig {
        ov: Arc<Overlay<MemPlatform>>,
        h: CtlHandle<MemPlatform>,
    }

    fn rig() -> &'static parking_lot::Mutex<Rig> {
        static RIG: OnceLock<parking_lot::Mutex<Rig>> = OnceLock::new();
        RIG.get_or_init(|| {
            let ov = Overlay::new(MemPlatform::discarding());
            let h = ov.open(OpenFlags::RDWR_EXCL, Cred::ROOT).unwrap();
            parking_lot::Mutex::new(Rig { ov, h })
        })
    }

    /// Every command number the driver knows, and a few it does not.
    fn command(sel: u8) -> u32 {
        let dld = DldIoctl::ALL;
        let targ = TargIoctl::ALL;
        let i = sel as usize;
        if i < dld.len() {
            dld[i].cmd()
        } else if i < dld.len() + targ.len() {
            targ[i - dld.len()].cmd()
        } else {
            0x2005_0000 | sel as u32
        }
    }

    /// One fuzz input: `[selector, cred, bytes...]`. The caller registers
    /// the plugins the inputs name (the fuzz crate links vxlan). LOOKUP, which blocks
    /// for a second when there is no work, is answered with a zero wait.
    pub fn ioctl_one(data: &[u8]) {
        let [sel, cred, arg @ ..] = data else { return };
        let cmd = command(*sel);
        let cred = Cred {
            dl_config: cred & 1 != 0,
            global_zone: cred & 2 != 0,
        };
        let rig = rig().lock();
        if DldIoctl::from_cmd(cmd).is_some() || TargIoctl::from_cmd(cmd).is_none() {
            let mut a = arg.to_vec();
            let _ = dld_ioctl(&rig.ov, cmd, cred, &mut a);
            return;
        }
        if TargIoctl::from_cmd(cmd) == Some(TargIoctl::Lookup) {
            let _ = rig.h.lookup(0);
            return;
        }
        // The host copies in what the plan says (the fixed part), padding
        // a short input with zeros as memory past it would read.
        let len = copy_plan(cmd, arg, 0).map_or(arg.len(), |p| p.copy_in);
        let mut a: Vec<u8> = arg
            .iter()
            .copied()
            .chain(core::iter::repeat(0))
            .take(len.max(arg.len()))
            .collect();
        let mut out = [0u8; 2048];
        let data = match TargIoctl::from_cmd(cmd) {
            Some(TargIoctl::Pkt) => TargData::Out(&mut out),
            Some(TargIoctl::Inject | TargIoctl::Resend) => TargData::In(arg),
            _ => TargData::None,
        };
        let _ = targ_ioctl(&rig.h, cmd, cred, &mut a, data);
    }
}
