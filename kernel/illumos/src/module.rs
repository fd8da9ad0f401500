//! Module linkage and the DDI driver (`overlay.c`'s `_init`, `_fini`,
//! `_info`, `overlay_attach`, `overlay_detach`, `overlay_getinfo`) and the
//! module's globals.
//!
//! Globals, and who may touch them when:
//! - [`DRIVER`], the one driver instance (`Arc<Overlay>`), created at the
//!   first attach and dropped at detach. Readers (ioctls, opens, MAC
//!   callbacks) take a read lock only long enough to clone the `Arc`;
//!   attach/detach write it. DDI does not detach a driver while one of
//!   its devices is open or while dld runs one of its ioctls (dld holds
//!   the driver), and detach refuses while overlays exist (whose MAC
//!   callbacks could run) or `/dev/overlay` is open.
//! - [`DIP`], the dev_info of instance 0, for `mac_register` and FMA.
//! - The clone minors of `/dev/overlay` (`ctl.rs`), an `id_space`
//!   created in `_init` and destroyed in `_fini`.

use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

use illumos_sys_hdrs::cred::GLOBAL_ZONEID;
use illumos_sys_hdrs::ddi::{
    CB_REV, D_MP, DDI_FAILURE, DDI_FM_EREPORT_CAPABLE, DDI_PSEUDO, DDI_SUCCESS, DEVO_REV, S_IFCHR,
    cb_ops, ddi_attach_cmd_t, ddi_create_minor_node, ddi_detach_cmd_t, ddi_fm_fini, ddi_fm_init,
    ddi_get_instance, ddi_info_cmd_t, ddi_prop_op, ddi_quiesce_not_supported,
    ddi_remove_minor_node, ddi_report_dev, dev_info_t, dev_ops, id_space_create, id_space_destroy,
    id_space_t, nochpoll, nodev_aread, nodev_awrite, nodev_devmap, nodev_dump, nodev_mmap,
    nodev_print, nodev_read, nodev_segmap, nodev_strategy, nodev_write, nulldev_identify,
    nulldev_probe, nulldev_reset,
};
use illumos_sys_hdrs::dld::{OVERLAY_IOC, dld_ioc_register, dld_ioc_unregister};
use illumos_sys_hdrs::errno::EBUSY;
use illumos_sys_hdrs::mac::mac_init_ops;
use illumos_sys_hdrs::modctl::{
    MODLINKAGE_SLOTS, MODREV_1, mod_driverops, mod_info, mod_install, mod_remove, modinfo, modldrv,
    modlinkage,
};
use illumos_sys_hdrs::types::{c_int, zoneid_t};
use overlay::Overlay;

use crate::platform::IllumosPlatform;
use crate::sync::{KRawMutex, KRawRwLock};
use crate::sys_extra::INT32_MAX;
use crate::{ctl, dld, ksock};

/// A `static` the kernel writes or reads through a raw pointer
/// (`dev_ops`, which `mac_init_ops` fills in; the linkage; the MAC
/// callbacks and dld tables, which the kernel only reads but takes as
/// `*mut`).
#[repr(transparent)]
pub struct KernelStatic<T>(UnsafeCell<T>);

// SAFETY: Rust code never reads or writes the contents after
// construction: they are handed to the kernel, which serialises its own
// accesses (mac_init_ops runs in _init before anything can look at the
// tables; MAC and dld only read them).
unsafe impl<T> Sync for KernelStatic<T> {}

impl<T> KernelStatic<T> {
    pub const fn new(v: T) -> Self {
        KernelStatic(UnsafeCell::new(v))
    }

    pub const fn get(&self) -> *mut T {
        self.0.get()
    }
}

/// The driver instance.
static DRIVER: lock_api::RwLock<KRawRwLock, Option<Arc<Overlay<IllumosPlatform>>>> =
    lock_api::RwLock::new(None);

/// Instance 0's dev_info while attached.
static DIP: AtomicPtr<dev_info_t> = AtomicPtr::new(ptr::null_mut());

/// Clone minors of `/dev/overlay` (1..INT32_MAX), from `_init` to `_fini`.
static MINORS: AtomicPtr<id_space_t> = AtomicPtr::new(ptr::null_mut());

/// Serialises `OVERLAY_IOC_CREATE` so that [`create_zone`] is the zone
/// of the caller whose create is running.
pub static CREATE_LOCK: lock_api::Mutex<KRawMutex, ()> = lock_api::Mutex::new(());
static CREATE_ZONE: AtomicI32 = AtomicI32::new(GLOBAL_ZONEID);

/// The driver instance, if attached.
pub fn driver() -> Option<Arc<Overlay<IllumosPlatform>>> {
    DRIVER.read().clone()
}

/// The attached dev_info, or NULL.
pub fn dip() -> *mut dev_info_t {
    DIP.load(Ordering::Acquire)
}

/// The minor-number space of `/dev/overlay` clones.
pub fn minors() -> *mut id_space_t {
    MINORS.load(Ordering::Acquire)
}

/// Records the zone of the create in progress (called with
/// [`CREATE_LOCK`] held).
pub fn set_create_zone(z: zoneid_t) {
    CREATE_ZONE.store(z, Ordering::Relaxed);
}

/// The zone `dls_devnet_create` puts a new datalink in: the creator's,
/// as `overlay_i_create` passes `crgetzoneid(cred)`.
pub fn create_zone() -> zoneid_t {
    CREATE_ZONE.load(Ordering::Relaxed)
}

// ---- DDI entry points ----------------------------------------------------------

/// The control minor node, `/dev/overlay` (minor 0; clones get 1..).
const OVERLAY_CTL: &core::ffi::CStr = c"overlay";

unsafe extern "C" fn overlay_attach(dip: *mut dev_info_t, cmd: ddi_attach_cmd_t) -> c_int {
    if cmd != ddi_attach_cmd_t::DDI_ATTACH {
        return DDI_FAILURE;
    }
    // SAFETY: DDI's dev_info for this call.
    if !self::dip().is_null() || unsafe { ddi_get_instance(dip) } != 0 {
        return DDI_FAILURE;
    }
    {
        let mut d = DRIVER.write();
        if d.is_none() {
            *d = Some(Overlay::new(IllumosPlatform));
        }
    }
    // SAFETY: DDI's dev_info; static strings; the dld table is static and
    // stays registered until detach.
    unsafe {
        let mut cap: c_int = DDI_FM_EREPORT_CAPABLE;
        ddi_fm_init(dip, &mut cap, ptr::null_mut());
        if ddi_create_minor_node(
            dip,
            OVERLAY_CTL.as_ptr(),
            S_IFCHR,
            0,
            DDI_PSEUDO.as_ptr(),
            0,
        ) != DDI_SUCCESS
        {
            ddi_fm_fini(dip);
            return DDI_FAILURE;
        }
        if dld_ioc_register(OVERLAY_IOC, dld::table(), dld::TABLE_LEN) != 0 {
            ddi_remove_minor_node(dip, OVERLAY_CTL.as_ptr());
            ddi_fm_fini(dip);
            return DDI_FAILURE;
        }
        DIP.store(dip, Ordering::Release);
        ddi_report_dev(dip);
    }
    DDI_SUCCESS
}

/// Whether overlays exist or `/dev/overlay` is open (detach and `_fini`
/// refuse then).
fn busy() -> bool {
    let d = DRIVER.read();
    d.as_ref()
        .is_some_and(|ov| ov.device_count() != 0 || ov.open_count() != 0)
        || ctl::open_minors() != 0
}

unsafe extern "C" fn overlay_detach(dip: *mut dev_info_t, cmd: ddi_detach_cmd_t) -> c_int {
    if cmd != ddi_detach_cmd_t::DDI_DETACH {
        return DDI_FAILURE;
    }
    if busy() {
        return DDI_FAILURE;
    }
    // SAFETY: the dev_info we attached; dld waits for no ioctl of ours to
    // be running (it holds the driver around them).
    unsafe {
        dld_ioc_unregister(OVERLAY_IOC);
        ddi_fm_fini(dip);
        ddi_remove_minor_node(dip, ptr::null());
    }
    ksock::reap_orphans();
    DIP.store(ptr::null_mut(), Ordering::Release);
    let old = DRIVER.write().take();
    drop(old);
    DDI_SUCCESS
}

unsafe extern "C" fn overlay_getinfo(
    _dip: *mut dev_info_t,
    cmd: ddi_info_cmd_t,
    _arg: *mut c_void,
    result: *mut *mut c_void,
) -> c_int {
    let v = match cmd {
        ddi_info_cmd_t::DDI_INFO_DEVT2DEVINFO => {
            let d = dip();
            if d.is_null() {
                return DDI_FAILURE;
            }
            d.cast()
        }
        ddi_info_cmd_t::DDI_INFO_DEVT2INSTANCE => ptr::null_mut(),
        _ => return DDI_FAILURE,
    };
    // SAFETY: DDI's out pointer.
    unsafe { *result = v };
    DDI_SUCCESS
}

static CB_OPS: KernelStatic<cb_ops> = KernelStatic::new(cb_ops {
    cb_open: Some(ctl::overlay_target_open),
    cb_close: Some(ctl::overlay_target_close),
    cb_strategy: Some(nodev_strategy),
    cb_print: Some(nodev_print),
    cb_dump: Some(nodev_dump),
    cb_read: Some(nodev_read),
    cb_write: Some(nodev_write),
    cb_ioctl: Some(ctl::overlay_target_ioctl),
    cb_devmap: Some(nodev_devmap),
    cb_mmap: Some(nodev_mmap),
    cb_segmap: Some(nodev_segmap),
    cb_chpoll: Some(nochpoll),
    cb_prop_op: Some(ddi_prop_op),
    cb_str: ptr::null_mut(),
    cb_flag: D_MP,
    cb_rev: CB_REV,
    cb_aread: Some(nodev_aread),
    cb_awrite: Some(nodev_awrite),
});

/// The kernel takes `*mut` pointers to the tables, hence the cells.
static DEV_OPS: KernelStatic<dev_ops> = KernelStatic::new(dev_ops {
    devo_rev: DEVO_REV,
    devo_refcnt: 0,
    devo_getinfo: Some(overlay_getinfo),
    devo_identify: Some(nulldev_identify),
    devo_probe: Some(nulldev_probe),
    devo_attach: Some(overlay_attach),
    devo_detach: Some(overlay_detach),
    devo_reset: Some(nulldev_reset),
    devo_cb_ops: CB_OPS.get(),
    devo_bus_ops: ptr::null_mut(),
    devo_power: None,
    devo_quiesce: Some(ddi_quiesce_not_supported),
});

static MODLDRV: KernelStatic<modldrv> = KernelStatic::new(modldrv {
    drv_modops: &raw const mod_driverops,
    drv_linkinfo: c"Overlay Network Driver".as_ptr(),
    drv_dev_ops: DEV_OPS.get(),
});

static MODLINKAGE: KernelStatic<modlinkage> = KernelStatic::new(modlinkage {
    ml_rev: MODREV_1,
    ml_linkage: {
        let mut l = [ptr::null(); MODLINKAGE_SLOTS];
        l[0] = MODLDRV.get().cast_const().cast();
        l
    },
});

// ---- module linkage ------------------------------------------------------------

/// Module load: mark the driver GLDv3 (`mac_init_ops`), the clone-minor
/// id space, then `mod_install` (undoing the id space if it fails). The driver
/// instance itself is made at attach.
#[unsafe(no_mangle)]
pub extern "C" fn _init() -> c_int {
    // SAFETY: a static name; mac_init_ops with NULL ops only marks the
    // major as a GLDv3 driver. id_space_create sleeps, which _init may.
    unsafe {
        // NULL, as overlay.c does: with our dev_ops, dld_init_ops would
        // install dld's STREAMS open/close (cb_str) and getinfo, and
        // /dev/overlay would become a DLPI node instead of the target
        // ioctl device. The overlay's datalinks are served by dld through
        // /dev/net regardless. Hence no mac_fini_ops in _fini either
        // (mac_fini_ops(NULL) would dereference it).
        mac_init_ops(ptr::null_mut(), OVERLAY_CTL.as_ptr());
        let ids = id_space_create(c"overlay_target_minors".as_ptr(), 1, INT32_MAX);
        MINORS.store(ids, Ordering::Release);
        let r = mod_install(MODLINKAGE.get());
        if r != 0 {
            MINORS.store(ptr::null_mut(), Ordering::Release);
            id_space_destroy(ids);
        }
        r
    }
}

/// Module information.
///
/// # Safety
/// Called by the module system with its `modinfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _info(modinfop: *mut modinfo) -> c_int {
    // SAFETY: our static linkage and the module system's modinfo.
    unsafe { mod_info(MODLINKAGE.get(), modinfop) }
}

/// Module unload: `EBUSY` while overlays exist or `/dev/overlay` is open
/// (encapsulation plugins depend on this module, so krtld unloads them
/// first); then `mod_remove` (which detaches) and the id space.
#[unsafe(no_mangle)]
pub extern "C" fn _fini() -> c_int {
    if busy() {
        return EBUSY;
    }
    // SAFETY: our static linkage and tables.
    let r = unsafe { mod_remove(MODLINKAGE.get()) };
    if r != 0 {
        return r;
    }
    ksock::reap_orphans();
    drop(DRIVER.write().take());
    // SAFETY: removed: no open, ioctl or attach can run any more.
    unsafe {
        let ids = MINORS.swap(ptr::null_mut(), Ordering::AcqRel);
        if !ids.is_null() {
            id_space_destroy(ids);
        }
    }
    0
}
