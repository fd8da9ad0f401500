//! The MAC side of an overlay device: a GLDv3 provider registered with
//! `mac_register` and made a named datalink with `dls_devnet_create`
//! ([`MacLink`], the core's `Platform::Link`), and the MAC entry points
//! (`mc_*`) that MAC calls on it.
//!
//! ## Finding the device from a MAC callback
//!
//! MAC passes every callback the `m_driver` pointer given at
//! registration: here the link's heap-allocated [`LinkInner`], whose
//! address never changes. The core creates the link *before* the device
//! that owns it, so `LinkInner` gets a `Weak<Device>` afterwards
//! ([`MacLink::bind`], called by the `OVERLAY_IOC_CREATE` handler); until
//! then (a window in which MAC has no client yet) a callback looks the
//! device up by link id in the driver and binds it. Upgrading the weak
//! reference is one atomic operation on the transmit path.
//!
//! A MAC callback never drops the last reference to its device: a device
//! leaves the driver's table only after `link_disable` succeeded, that
//! is after `mac_disable` proved no client (hence no callback) remains.
//!
//! ## Teardown
//!
//! `OVERLAY_IOC_DELETE` runs `link_disable` (`dls_devnet_destroy`, then
//! `mac_disable`, recreating the datalink if that fails, as
//! `overlay_i_delete` does); the link is dropped with its device, which
//! runs `mac_unregister` (and `dls_devnet_destroy` first if the link was
//! never disabled, e.g. when creation lost a race after registering).

use alloc::sync::{Arc, Weak};
use core::ffi::{c_char, c_int, c_void};
use core::mem::ManuallyDrop;
use core::ptr::{self, NonNull};
use core::sync::atomic::{
    AtomicBool, AtomicPtr,
    Ordering::{AcqRel, Acquire, Relaxed},
};

use illumos_sys_hdrs::dls::{dls_devnet_create, dls_devnet_destroy};
use illumos_sys_hdrs::errno::{EINVAL, EIO, ENOTSUP, EOVERFLOW};
use illumos_sys_hdrs::mac::{
    MAC_PLUGIN_IDENT_ETHER, MAC_PROP_MTU, MAC_VERSION, MAC_VIRT_NONE, MC_GETCAPAB, MC_GETPROP,
    MC_IOCTL, MC_PROPINFO, MC_SETPROP, mac_alloc, mac_callbacks_t, mac_capab_t, mac_disable,
    mac_free, mac_handle_t, mac_maxsdu_update, mac_prop_id_t, mac_prop_info_handle_t,
    mac_prop_info_set_default_uint32, mac_prop_info_set_range_uint32, mac_register, mac_unregister,
};
use illumos_sys_hdrs::stream::{mblk_t, miocnak, queue_t};
use illumos_sys_hdrs::types::{B_FALSE, B_TRUE, boolean_t, datalink_id_t, uint_t, zoneid_t};
use overlay::abi::common::{OVERLAY_MTU_DEF, OVERLAY_MTU_MAX, OVERLAY_MTU_MIN};
use overlay::dev::{Device, PROP_MTU, TxScratch, flags};
use overlay::{Errno, Overlay};

use crate::ksock;
use crate::mblk::{DropProbe, MblkChain};
use crate::module::{self, KernelStatic};
use crate::platform::IllumosPlatform;
use illumos_kmod_rt::kwarn;
use crate::sys_extra::*;

type Dev = Device<IllumosPlatform>;
type ScratchSlot = lock_api::Mutex<crate::sync::KRawMutex, Option<TxScratch<IllumosPlatform>>>;

/// Transmit scratch buffers kept per link, so that concurrent senders
/// rarely need a fresh one (which allocates).
const SCRATCH_POOL: usize = 4;

/// What `m_driver` points at.
pub struct LinkInner {
    /// The driver instance the device belongs to. It outlives the link:
    /// detach refuses while devices exist, and the device that owns this
    /// link is dropped inside the `OVERLAY_IOC_DELETE` that removed it,
    /// during which dld holds the driver attached. A raw pointer, so the
    /// transmit path takes neither the global lock nor a reference count.
    ov: NonNull<Overlay<IllumosPlatform>>,
    mh: mac_handle_t,
    linkid: datalink_id_t,
    /// The zone of the `OVERLAY_IOC_CREATE` caller, for re-creating the
    /// datalink when `mac_disable` fails.
    zoneid: zoneid_t,
    /// `dls_devnet_create` done and not undone.
    devnet: AtomicBool,
    /// `Weak::into_raw` of the owning device, or NULL until bound.
    dev: AtomicPtr<Dev>,
    scratch: [ScratchSlot; SCRATCH_POOL],
}

/// A registered MAC provider and its datalink.
pub struct MacLink {
    inner: NonNull<LinkInner>,
}

// SAFETY: LinkInner is immutable after creation except for atomics and
// the mutex-protected scratch pool; the MAC handle's operations are
// MT-safe.
unsafe impl Send for MacLink {}
// SAFETY: as above.
unsafe impl Sync for MacLink {}

impl core::fmt::Debug for MacLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MacLink")
            .field("linkid", &self.inner().linkid)
            .finish_non_exhaustive()
    }
}

impl MacLink {
    fn inner(&self) -> &LinkInner {
        // SAFETY: allocated in create, freed only in Drop.
        unsafe { self.inner.as_ref() }
    }

    /// The MAC handle.
    pub fn mh(&self) -> mac_handle_t {
        self.inner().mh
    }

    /// `overlay_i_create`'s MAC half: `mac_alloc`, fill in the
    /// registration (Ethernet, zero source address, SDU 1..mtu, the
    /// plugin's VLAN margin, no virtualization, MAC picks the instance),
    /// `mac_register`, `mac_free`, then `dls_devnet_create` in the
    /// creator's zone.
    pub fn create(linkid: u32, margin: u32, mtu: u32) -> Result<MacLink, Errno> {
        // Links are made by Overlay::create, inside a dld ioctl of the
        // attached driver.
        let ov = module::driver().ok_or(Errno::ENXIO)?;
        let inner = alloc::boxed::Box::new(LinkInner {
            ov: NonNull::from(&*ov),
            mh: ptr::null_mut(),
            linkid,
            zoneid: module::create_zone(),
            devnet: AtomicBool::new(false),
            dev: AtomicPtr::new(ptr::null_mut()),
            scratch: core::array::from_fn(|_| lock_api::Mutex::new(Some(TxScratch::default()))),
        });
        let inner = NonNull::from(alloc::boxed::Box::leak(inner));
        let free = |p: NonNull<LinkInner>| {
            // SAFETY: leaked just above and not registered with MAC (or
            // unregistered): ours again.
            drop(unsafe { alloc::boxed::Box::from_raw(p.as_ptr()) });
        };
        let src = [0u8; 6];
        // SAFETY: mac_alloc returns NULL or a zeroed registration; we fill
        // it with pointers that outlive mac_register (which copies the
        // source address and type name), then free it. The callbacks
        // table and `inner` outlive the registration.
        unsafe {
            let mreg = mac_alloc(MAC_VERSION);
            if mreg.is_null() {
                free(inner);
                return Err(Errno::EINVAL);
            }
            (*mreg).m_type_ident = MAC_PLUGIN_IDENT_ETHER.as_ptr();
            (*mreg).m_driver = inner.as_ptr().cast();
            (*mreg).m_dip = module::dip();
            (*mreg).m_instance = uint_t::MAX;
            (*mreg).m_src_addr = src.as_ptr().cast_mut();
            (*mreg).m_dst_addr = ptr::null_mut();
            (*mreg).m_callbacks = MAC_CALLBACKS.get();
            (*mreg).m_min_sdu = 1;
            (*mreg).m_max_sdu = mtu;
            (*mreg).m_margin = margin;
            (*mreg).m_v12n = MAC_VIRT_NONE;
            (*mreg).m_multicast_sdu = 0;
            (*mreg).m_priv_props = ptr::null_mut();
            let mut mh: mac_handle_t = ptr::null_mut();
            let r = mac_register(mreg, &mut mh);
            mac_free(mreg);
            if r != 0 {
                free(inner);
                return Err(Errno(r));
            }
            (*inner.as_ptr()).mh = mh;
            let r = dls_devnet_create(mh, linkid, (*inner.as_ptr()).zoneid);
            if r != 0 {
                if mac_unregister(mh) != 0 {
                    // MAC still knows `inner`: keep it.
                    kwarn!("mac_unregister failed for link {linkid}; leaking it");
                    return Err(Errno(r));
                }
                free(inner);
                return Err(Errno(r));
            }
            (*inner.as_ptr()).devnet.store(true, Relaxed);
        }
        Ok(MacLink { inner })
    }

    /// Tells the link which device owns it (once; later calls are no-ops).
    pub fn bind(&self, dev: &Arc<Dev>) {
        self.inner().bind(dev);
    }

    /// `link_disable`: `dls_devnet_destroy`, then `mac_disable`; if MAC
    /// refuses (clients remain, `EBUSY`), the datalink is created again
    /// and the error returned.
    pub fn disable(&self) -> Result<(), Errno> {
        let inner = self.inner();
        // SAFETY: our registered handle; the datalink exists iff devnet.
        unsafe {
            if inner.devnet.load(Acquire) {
                let mut id: datalink_id_t = 0;
                Errno::result(dls_devnet_destroy(inner.mh, &mut id, B_TRUE))?;
                inner.devnet.store(false, Relaxed);
            }
            let r = mac_disable(inner.mh);
            if r != 0 {
                if dls_devnet_create(inner.mh, inner.linkid, inner.zoneid) == 0 {
                    inner.devnet.store(true, Relaxed);
                } else {
                    kwarn!(
                        "could not recreate datalink {} after mac_disable failed",
                        inner.linkid
                    );
                }
                return Err(Errno(r));
            }
        }
        Ok(())
    }
}

impl Drop for MacLink {
    fn drop(&mut self) {
        let p = self.inner.as_ptr();
        // SAFETY: our handle and allocation. mac_unregister disables the
        // MAC first if link_disable did not; once it succeeds MAC makes no
        // more callbacks with `inner`, which is then freed (with the weak
        // device reference it holds).
        unsafe {
            let inner = &*p;
            if inner.devnet.load(Acquire) {
                let mut id: datalink_id_t = 0;
                let r = dls_devnet_destroy(inner.mh, &mut id, B_TRUE);
                if r != 0 {
                    kwarn!("dls_devnet_destroy of link {} failed: {r}", inner.linkid);
                }
            }
            let r = mac_unregister(inner.mh);
            if r != 0 {
                kwarn!(
                    "mac_unregister of link {} failed: {r}; leaking it",
                    inner.linkid
                );
                return;
            }
            let w = inner.dev.swap(ptr::null_mut(), AcqRel);
            if !w.is_null() {
                drop(Weak::from_raw(w));
            }
            drop(alloc::boxed::Box::from_raw(p));
        }
    }
}

impl LinkInner {
    fn bind(&self, dev: &Arc<Dev>) {
        let w = Weak::into_raw(Arc::downgrade(dev)).cast_mut();
        if self
            .dev
            .compare_exchange(ptr::null_mut(), w, AcqRel, Acquire)
            .is_err()
        {
            // SAFETY: ours, just made by into_raw and not stored.
            drop(unsafe { Weak::from_raw(w) });
        }
    }

    /// The driver instance.
    fn overlay(&self) -> &Overlay<IllumosPlatform> {
        // SAFETY: the instance outlives the link (field doc).
        unsafe { self.ov.as_ref() }
    }

    /// The device this link belongs to, while it exists.
    fn device(&self) -> Option<Arc<Dev>> {
        let p = self.dev.load(Acquire);
        if p.is_null() {
            let dev = self.overlay().device(self.linkid)?;
            self.bind(&dev);
            return Some(dev);
        }
        // SAFETY: a Weak made by into_raw and kept until LinkInner is
        // freed; borrowed here without giving up that reference.
        let w = ManuallyDrop::new(unsafe { Weak::from_raw(p) });
        w.upgrade()
    }

    fn take_scratch(&self) -> Option<(usize, TxScratch<IllumosPlatform>)> {
        self.scratch.iter().enumerate().find_map(|(i, slot)| {
            let mut g = slot.try_lock()?;
            g.take().map(|s| (i, s))
        })
    }

    fn put_scratch(&self, i: usize, s: TxScratch<IllumosPlatform>) {
        *self.scratch[i].lock() = Some(s);
    }
}

/// # Safety
/// `arg` is the `m_driver` of a registered link.
unsafe fn inner<'a>(arg: *mut c_void) -> &'a LinkInner {
    // SAFETY: MAC passes back the m_driver we registered, alive until
    // mac_unregister succeeds.
    unsafe { &*arg.cast::<LinkInner>() }
}

// ---- MAC entry points (overlay_m_*) ---------------------------------------------

/// `mc_getstat`: the core's per-device counters for the MIB-II statistics
/// they correspond to; `ENOTSUP` for the rest (as `overlay_m_stat` does
/// for all of them).
unsafe extern "C" fn m_getstat(arg: *mut c_void, stat: uint_t, val: *mut u64) -> c_int {
    // SAFETY: MAC's m_driver.
    let Some(dev) = (unsafe { inner(arg) }).device() else {
        return ENOTSUP;
    };
    let s = &dev.stats;
    let v = match stat {
        MAC_STAT_RBYTES => s.rx_bytes.load(Relaxed),
        MAC_STAT_IPACKETS => s.rx_frames.load(Relaxed),
        MAC_STAT_OBYTES => s.tx_bytes.load(Relaxed),
        MAC_STAT_OPACKETS => s.tx_frames.load(Relaxed),
        MAC_STAT_NOXMTBUF => s.tx_drop_queue_full.load(Relaxed),
        MAC_STAT_OERRORS => {
            s.tx_drop_encap.load(Relaxed)
                + s.tx_drop_bad_header.load(Relaxed)
                + s.tx_drop_dest_type.load(Relaxed)
        }
        MAC_STAT_IERRORS => s.rx_drop_stopped.load(Relaxed),
        _ => return ENOTSUP,
    };
    // SAFETY: MAC's out pointer.
    unsafe { *val = v };
    0
}

/// `mc_start`: the first client; the device joins its mux (`EAGAIN`
/// until activated).
unsafe extern "C" fn m_start(arg: *mut c_void) -> c_int {
    ksock::reap_orphans();
    // SAFETY: MAC's m_driver.
    let inner = unsafe { inner(arg) };
    let Some(dev) = inner.device() else {
        return EIO;
    };
    Errno::code(inner.overlay().start(&dev))
}

/// `mc_stop`: the last client left; the mux closes with its last device.
unsafe extern "C" fn m_stop(arg: *mut c_void) {
    // SAFETY: MAC's m_driver.
    let inner = unsafe { inner(arg) };
    if let Some(dev) = inner.device() {
        inner.overlay().stop(&dev);
    }
    ksock::reap_orphans();
}

/// `mc_setpromisc`: an overlay is a switch; nothing to do.
unsafe extern "C" fn m_setpromisc(_arg: *mut c_void, _on: boolean_t) -> c_int {
    0
}

/// `mc_multicst`: always succeeds (IPv6 neighbour discovery needs
/// multicast addresses to be accepted).
unsafe extern "C" fn m_multicst(_arg: *mut c_void, _add: boolean_t, _addr: *const u8) -> c_int {
    0
}

/// `mc_unicst`: the zero primary address of an overlay means nothing.
unsafe extern "C" fn m_unicst(_arg: *mut c_void, _addr: *const u8) -> c_int {
    0
}

/// `mc_tx`: the chain becomes owned frames, looked up, encapsulated and
/// sent by the core. Never returns frames to MAC (there is no
/// `mac_tx_update`, so returning them would stall the link): what cannot
/// be sent is freed and counted, and fires `overlay-tx-drop`.
///
/// Scratch buffers come from the link's pool; when every pooled one is
/// busy (more concurrent senders than [`SCRATCH_POOL`]) a fresh one is
/// made on the stack; its buffers grow (without sleeping, see
/// [`NoSleep`](crate::runtime::NoSleep)) as the core needs them, and a
/// frame that finds no memory is dropped and counted.
unsafe extern "C" fn m_tx(arg: *mut c_void, chain: *mut mblk_t) -> *mut mblk_t {
    let _nosleep = crate::runtime::NoSleep::enter();
    // SAFETY: MAC's m_driver; MAC hands us the chain.
    let (inner, frames) = unsafe { (inner(arg), MblkChain::new(chain, DropProbe::Tx)) };
    let Some(dev) = inner.device() else {
        frames.drop_all(c"device gone");
        return ptr::null_mut();
    };
    let ov = inner.overlay();
    match inner.take_scratch() {
        Some((i, mut s)) => {
            ov.tx(&dev, frames, &mut s);
            inner.put_scratch(i, s);
        }
        None => {
            let mut s = TxScratch::default();
            ov.tx(&dev, frames, &mut s);
        }
    }
    ptr::null_mut()
}

/// `mc_ioctl`: no driver ioctls on the data link (`ENOTSUP`).
unsafe extern "C" fn m_ioctl(_arg: *mut c_void, q: *mut queue_t, mp: *mut mblk_t) {
    // SAFETY: MAC hands us the queue and the M_IOCTL message to answer.
    unsafe { miocnak(q, mp, 0, ENOTSUP) }
}

/// `mc_getcapab`: an overlay says so (`MAC_CAPAB_OVERLAY`), so that MAC
/// gives the VNICs above it fanout instead of trusting a link speed;
/// nothing else.
unsafe extern "C" fn m_getcapab(
    _arg: *mut c_void,
    cap: mac_capab_t,
    _data: *mut c_void,
) -> boolean_t {
    if cap == mac_capab_t::MAC_CAPAB_OVERLAY {
        B_TRUE
    } else {
        B_FALSE
    }
}

/// `mc_setprop` (`dladm set-linkprop -p mtu`): only the MTU, within
/// 576..8900. Before activation it goes through the core's `mtu`
/// property (which updates MAC and the core's copy); after activation
/// the core's property is frozen, but `overlay_m_setprop` still lets MAC
/// change the SDU, so the glue calls `mac_maxsdu_update` itself (the
/// core's cached `mtu`, reported by `OVERLAY_IOC_GETPROP`, is then stale:
/// illumos reads it back with `mac_sdu_get`; see the report).
unsafe extern "C" fn m_setprop(
    arg: *mut c_void,
    _name: *const c_char,
    num: mac_prop_id_t,
    valsize: uint_t,
    val: *const c_void,
) -> c_int {
    if num != MAC_PROP_MTU {
        return ENOTSUP;
    }
    if (valsize as usize) < core::mem::size_of::<u32>() {
        return EOVERFLOW;
    }
    // SAFETY: MAC's value buffer of `valsize` >= 4 bytes.
    let mtu = unsafe { ptr::read_unaligned(val.cast::<u32>()) };
    if !(OVERLAY_MTU_MIN..=OVERLAY_MTU_MAX).contains(&mtu) {
        return EINVAL;
    }
    // SAFETY: MAC's m_driver.
    let inner = unsafe { inner(arg) };
    let Some(dev) = inner.device() else {
        return EIO;
    };
    let ov = inner.overlay();
    if dev.flags() & flags::ACTIVATED != 0 {
        // SAFETY: our registered MAC handle.
        return unsafe { mac_maxsdu_update(inner.mh, mtu) };
    }
    Errno::code(ov.setprop(&dev, PROP_MTU, &mtu.to_ne_bytes()))
}

/// `mc_getprop`: only the MTU.
unsafe extern "C" fn m_getprop(
    arg: *mut c_void,
    _name: *const c_char,
    num: mac_prop_id_t,
    valsize: uint_t,
    val: *mut c_void,
) -> c_int {
    if num != MAC_PROP_MTU {
        return ENOTSUP;
    }
    if (valsize as usize) < core::mem::size_of::<u32>() {
        return EOVERFLOW;
    }
    // SAFETY: MAC's m_driver.
    let Some(dev) = (unsafe { inner(arg) }).device() else {
        return EIO;
    };
    // SAFETY: MAC's value buffer of `valsize` >= 4 bytes.
    unsafe { ptr::write_unaligned(val.cast::<u32>(), dev.mtu()) };
    0
}

/// `mc_propinfo`: the MTU's default and range.
unsafe extern "C" fn m_propinfo(
    _arg: *mut c_void,
    _name: *const c_char,
    num: mac_prop_id_t,
    prh: mac_prop_info_handle_t,
) {
    if num != MAC_PROP_MTU {
        return;
    }
    // SAFETY: MAC's property-info handle for this call.
    unsafe {
        mac_prop_info_set_default_uint32(prh, OVERLAY_MTU_DEF);
        mac_prop_info_set_range_uint32(prh, OVERLAY_MTU_MIN, OVERLAY_MTU_MAX);
    }
}

/// The callbacks every overlay link registers (`overlay_m_callbacks`).
/// MAC takes a `*mut` but only reads it.
static MAC_CALLBACKS: KernelStatic<mac_callbacks_t> = KernelStatic::new(mac_callbacks_t {
    mc_callbacks: MC_IOCTL | MC_GETCAPAB | MC_SETPROP | MC_GETPROP | MC_PROPINFO,
    mc_getstat: Some(m_getstat),
    mc_start: Some(m_start),
    mc_stop: Some(m_stop),
    mc_setpromisc: Some(m_setpromisc),
    mc_multicst: Some(m_multicst),
    mc_unicst: Some(m_unicst),
    mc_tx: Some(m_tx),
    mc_reserved: ptr::null_mut(),
    mc_ioctl: Some(m_ioctl),
    mc_getcapab: Some(m_getcapab),
    mc_open: None,
    mc_close: None,
    mc_setprop: Some(m_setprop),
    mc_getprop: Some(m_getprop),
    mc_propinfo: Some(m_propinfo),
});
