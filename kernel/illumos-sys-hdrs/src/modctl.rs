//! Loadable-module linkage: `sys/modctl.h`, see `_init(9E)`,
//! `mod_install(9F)`, `modldrv(9S)`, `modlmisc(9S)`, `modlinkage(9S)`.
//!
//! A module exports `_init`, `_fini` and `_info`, and describes itself with
//! a static `modlinkage` pointing at one `modldrv` (a driver, e.g.
//! `drv/overlay`) or `modlmisc` (a misc module, e.g. `overlay/vxlan`),
//! whose first field is the kernel's `mod_driverops`/`mod_miscops`.
//! `modload` loads another module by directory and name.

use crate::ddi::dev_ops;
use crate::types::{c_char, c_int, c_void};

/// Revision of the loadable-module interface for `ml_rev`.
pub const MODREV_1: c_int = 1;

/// `struct mod_ops`: the kernel's per-module-type operations. In C the
/// members are unprototyped `int (*)()`; we never call them, they only give
/// the type its real size (OPTE found that an unsized opaque type here made
/// rustc fail while const-evaluating a static `modldrv`).
#[repr(C)]
pub struct mod_ops {
    pub modm_install: Option<unsafe extern "C" fn() -> c_int>,
    pub modm_remove: Option<unsafe extern "C" fn() -> c_int>,
    pub modm_info: Option<unsafe extern "C" fn() -> c_int>,
}

/// `struct modinfo`: filled in by `mod_info` for `_info(9E)`. Opaque here:
/// the module only passes the kernel's pointer through.
#[repr(C)]
pub struct modinfo {
    _p: [u8; 0],
}

/// `struct modldrv`: linkage for a device driver.
#[repr(C)]
pub struct modldrv {
    /// `&mod_driverops`
    pub drv_modops: *const mod_ops,
    /// Shown by `modinfo(8)`.
    pub drv_linkinfo: *const c_char,
    pub drv_dev_ops: *mut dev_ops,
}

/// `struct modlmisc`: linkage for a miscellaneous module.
#[repr(C)]
pub struct modlmisc {
    /// `&mod_miscops`
    pub misc_modops: *const mod_ops,
    /// Shown by `modinfo(8)`.
    pub misc_linkinfo: *const c_char,
}

/// Number of linkage slots in `modlinkage` on LP64.
pub const MODLINKAGE_SLOTS: usize = 7;

/// `struct modlinkage`: `ml_rev` plus a NULL-terminated list of linkage
/// structures (`modldrv`, `modlmisc`, …); 7 slots on LP64.
#[repr(C)]
pub struct modlinkage {
    /// `MODREV_1`
    pub ml_rev: c_int,
    pub ml_linkage: [*const c_void; MODLINKAGE_SLOTS],
}

// SAFETY: the linkage structures are immutable once built (they are
// statics the kernel reads during mod_install/mod_remove/mod_info); the raw
// pointers inside point at other statics or at kernel data.
unsafe impl Sync for mod_ops {}
// SAFETY: as for `mod_ops`.
unsafe impl Sync for modldrv {}
// SAFETY: as for `mod_ops`.
unsafe impl Sync for modlmisc {}
// SAFETY: as for `mod_ops`.
unsafe impl Sync for modlinkage {}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<mod_ops>() == 24);
    assert!(size_of::<modldrv>() == 24);
    assert!(size_of::<modlmisc>() == 16);
    assert!(size_of::<modlinkage>() == 64);
    assert!(offset_of!(modlinkage, ml_linkage) == 8);
};

unsafe extern "C" {
    /// `mod_ops` of device drivers (`extern struct mod_ops mod_driverops;`).
    pub static mod_driverops: mod_ops;
    /// `mod_ops` of miscellaneous modules.
    pub static mod_miscops: mod_ops;

    /// Install the module; call from `_init`. Returns 0 or an errno.
    pub fn mod_install(modlp: *mut modlinkage) -> c_int;
    /// Remove the module; call from `_fini`. Returns 0 or an errno (e.g.
    /// `EBUSY`).
    pub fn mod_remove(modlp: *mut modlinkage) -> c_int;
    /// Fill in `modinfop`; call from `_info`.
    pub fn mod_info(modlp: *mut modlinkage, modinfop: *mut modinfo) -> c_int;

    /// `int modload(const char *subdir, const char *filename);` load
    /// `<moddir>/<subdir>/<filename>`, e.g. `("overlay", "vxlan")`. Returns
    /// the module id, or -1.
    pub fn modload(subdir: *const c_char, filename: *const c_char) -> c_int;
}
