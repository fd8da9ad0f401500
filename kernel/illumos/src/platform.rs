//! [`IllumosPlatform`]: the core's [`Platform`] over the illumos kernel.
//!
//! | core | illumos |
//! |---|---|
//! | `RawMutex`, `RawRwLock` | `kmutex_t`, `krwlock_t` ([`crate::sync`]) |
//! | `Event` | `kmutex_t` + `kcondvar_t`, `cv_timedwait` on lbolt |
//! | `Frame` | an owned `mblk_t` message ([`crate::mblk::MsgBlk`]) |
//! | `Socket` | a bound kernel UDP socket with a direct-receive callback ([`crate::ksock`]) |
//! | `Link` | a registered MAC provider and its datalink ([`crate::link`]) |
//! | `deliver` | `mac_rx` |
//! | `fma_service` | `ddi_fm_service_impact` on the driver's dev_info |
//! | `now_ns` | `gethrtime` |
//!
//! The type is stateless: what it needs (the dev_info, the driver
//! instance) lives in the module's globals ([`crate::module`]), so the
//! ksocket callback can use a `static` instance too.

use alloc::sync::Weak;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use illumos_sys_hdrs::ddi::{DDI_SERVICE_DEGRADED, DDI_SERVICE_RESTORED, ddi_fm_service_impact};
use illumos_sys_hdrs::mac::{LINK_STATE_UP, mac_link_update, mac_maxsdu_update, mac_rx};
use illumos_sys_hdrs::time::gethrtime;
use overlay::Errno;
use overlay::mux::Mux;
use overlay::platform::{Platform, SocketParams, UnderlayDest};

use crate::ksock::KSocket;
use crate::link::MacLink;
use crate::mblk::MsgBlk;
use crate::module;
use crate::sync::{KEvent, KRawMutex, KRawRwLock};

/// The illumos kernel as the core's host.
#[derive(Debug, Default, Clone, Copy)]
pub struct IllumosPlatform;

/// The instance the receive callback passes to `Mux::rx`.
pub static PLATFORM: IllumosPlatform = IllumosPlatform;

/// Mixed into every seed, so two seeds taken in one clock tick differ.
static SEED_COUNTER: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

/// splitmix64's finaliser.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Platform for IllumosPlatform {
    type RawMutex = KRawMutex;
    type RawRwLock = KRawRwLock;
    type Event = KEvent;
    type Frame = MsgBlk;
    type Socket = KSocket;
    type Link = MacLink;

    fn socket_open(&self, params: &SocketParams, mux: Weak<Mux<Self>>) -> Result<KSocket, Errno> {
        KSocket::open(params, mux)
    }

    fn socket_send(&self, sock: &KSocket, batch: &mut Vec<(UnderlayDest, MsgBlk)>) {
        sock.send(batch);
    }

    fn link_create(&self, linkid: u32, margin: u32, mtu: u32) -> Result<MacLink, Errno> {
        MacLink::create(linkid, margin, mtu)
    }

    fn link_disable(&self, link: &MacLink) -> Result<(), Errno> {
        link.disable()
    }

    fn link_set_mtu(&self, link: &MacLink, mtu: u32) -> Result<(), Errno> {
        // SAFETY: a registered MAC handle, alive as long as the link.
        Errno::result(unsafe { mac_maxsdu_update(link.mh(), mtu) })
    }

    fn link_up(&self, link: &MacLink) {
        // SAFETY: a registered MAC handle.
        unsafe { mac_link_update(link.mh(), LINK_STATE_UP) }
    }

    fn deliver(&self, link: &MacLink, frame: MsgBlk) {
        // SAFETY: a registered MAC handle; mac_rx takes ownership of the
        // single message (b_next is NULL).
        unsafe { mac_rx(link.mh(), core::ptr::null_mut(), frame.into_raw()) }
    }

    fn frame_alloc(&self, bytes: &[u8]) -> Result<MsgBlk, Errno> {
        MsgBlk::copy_from(bytes)
    }

    fn probe(&self, probe: overlay::platform::Probe) {
        match probe {
            overlay::platform::Probe::TargetValidDrop { linkid, mac } => {
                crate::sdt::target_valid_drop(linkid, mac.0)
            }
        }
        // Keeps the probe call out of tail position (see `sdt`).
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    }

    fn fma_service(&self, degraded: bool) {
        let dip = module::dip();
        if dip.is_null() {
            return;
        }
        let impact = if degraded {
            DDI_SERVICE_DEGRADED
        } else {
            DDI_SERVICE_RESTORED
        };
        // SAFETY: the attached dev_info, registered EREPORT capable with
        // ddi_fm_init in attach.
        unsafe { ddi_fm_service_impact(dip, impact) }
    }

    fn random_seed(&self) -> u64 {
        // SAFETY: gethrtime has no preconditions.
        let t = unsafe { gethrtime() } as u64;
        let c = SEED_COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Relaxed);
        mix(t ^ mix(c))
    }

    fn now_ns(&self) -> u64 {
        // SAFETY: gethrtime has no preconditions.
        unsafe { gethrtime() as u64 }
    }
}
