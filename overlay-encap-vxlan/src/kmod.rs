//! The stand-alone illumos kernel module (`kmod` feature): the module
//! linkage of `overlay_vxlan.c`, a misc module whose `_init` registers
//! the plugin before `mod_install` and whose `_fini` unregisters it
//! (refusing with `EBUSY` while a device uses vxlan) before `mod_remove`.
//! The runtime a `no_std` staticlib needs (kmem global allocator, panic
//! handler on cmn_err) is the project's shared `illumos-kmod-rt`.
//!
//! Build for a kernel target (kernel code model, soft-float, panic
//! abort) with `-Zbuild-std=core,alloc --features kmod`, then link with
//! `ld -ztype=kmod -Ndrv/overlay -Ndrv/ip -z allextract`.

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_void};
use core::ptr;

use crate::ops;

/// `MODREV_1`.
const MODREV_1: c_int = 1;
/// `MODMAXLINK` (LP64).
const MODMAXLINK: usize = 10;

/// `struct mod_ops` (opaque).
#[repr(C)]
struct ModOps {
    _private: [u8; 0],
}

/// `struct modinfo` (opaque).
#[repr(C)]
pub struct ModInfo {
    _private: [u8; 0],
}

/// `struct modlmisc`.
#[repr(C)]
struct ModlMisc {
    misc_modops: *const ModOps,
    misc_linkinfo: *const c_char,
}

/// `struct modlinkage`.
#[repr(C)]
struct ModLinkage {
    ml_rev: c_int,
    ml_linkage: [*const c_void; MODMAXLINK],
}

unsafe extern "C" {
    fn mod_install(ml: *mut ModLinkage) -> c_int;
    fn mod_remove(ml: *mut ModLinkage) -> c_int;
    fn mod_info(ml: *mut ModLinkage, mi: *mut ModInfo) -> c_int;
    static mod_miscops: ModOps;
}

/// A `static` the module system may write through a pointer.
#[repr(transparent)]
struct KernelStatic<T>(UnsafeCell<T>);

// SAFETY: the contents are only handed to the module system
// (mod_install/mod_remove/mod_info), which serialises its own accesses;
// Rust code never reads or writes them.
unsafe impl<T> Sync for KernelStatic<T> {}

static VXLAN_MODLMISC: KernelStatic<ModlMisc> = KernelStatic(UnsafeCell::new(ModlMisc {
    misc_modops: &raw const mod_miscops,
    misc_linkinfo: c"VXLAN encap plugin".as_ptr(),
}));

static VXLAN_MODLINKAGE: KernelStatic<ModLinkage> = KernelStatic(UnsafeCell::new(ModLinkage {
    ml_rev: MODREV_1,
    ml_linkage: {
        let mut l = [ptr::null(); MODMAXLINK];
        l[0] = VXLAN_MODLMISC.0.get().cast_const().cast();
        l
    },
}));

/// The modules krtld loads before this one: the overlay driver, whose
/// `overlay_plugin_register` and `overlay_prop_set_*` we call, and `ip`
/// (the mux sockets are UDP), as illumos `overlay_vxlan.c` declares.
#[unsafe(no_mangle)]
#[used]
pub static _depends_on: [u8; 19] = *b"drv/overlay drv/ip\0";

fn modlinkage() -> *mut ModLinkage {
    VXLAN_MODLINKAGE.0.get()
}

/// Module load: register, then `mod_install` (unregistering if that
/// fails).
#[unsafe(no_mangle)]
pub extern "C" fn _init() -> c_int {
    // SAFETY: our static linkage, valid for the module's lifetime.
    ops::init_with(&ops::ExternDriver, || unsafe { mod_install(modlinkage()) })
}

/// Module information.
///
/// # Safety
///
/// Called by the module system with its `modinfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _info(modinfop: *mut ModInfo) -> c_int {
    // SAFETY: our static linkage and the module system's modinfo.
    unsafe { mod_info(modlinkage(), modinfop) }
}

/// Module unload: unregister (`EBUSY` while in use), then `mod_remove`.
#[unsafe(no_mangle)]
pub extern "C" fn _fini() -> c_int {
    // SAFETY: our static linkage, valid for the module's lifetime.
    ops::fini_with(&ops::ExternDriver, || unsafe { mod_remove(modlinkage()) })
}

illumos_kmod_rt::module_name!("vxlan");
