//! The stand-alone illumos kernel module (`kmod` feature): the runtime a
//! `no_std` staticlib needs (global allocator, panic handler) on kmem
//! and cmn_err, and the module linkage of `overlay_vxlan.c`: a misc
//! module whose `_init` registers the plugin before `mod_install` and
//! whose `_fini` unregisters it (refusing with `EBUSY` while a device
//! uses vxlan) before `mod_remove`.
//!
//! Build for a kernel target (kernel code model, soft-float, panic
//! abort) with `-Zbuild-std=core,alloc --features kmod`, then link with
//! `ld -ztype=kmod -Ndrv/overlay -Ndrv/ip -z allextract`.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_void};
use core::fmt::{self, Write};
use core::ptr;

use crate::ops;

/// `KM_SLEEP`: may block until memory is available; never NULL.
const KM_SLEEP: c_int = 0x0000;
/// `CE_WARN`.
const CE_WARN: c_int = 2;
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
    fn kmem_alloc(size: usize, kmflag: c_int) -> *mut c_void;
    fn kmem_zalloc(size: usize, kmflag: c_int) -> *mut c_void;
    fn kmem_free(buf: *mut c_void, size: usize);
    fn cmn_err(level: c_int, fmt: *const c_char, ...);
    fn panic(fmt: *const c_char, ...) -> !;
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

/// The global allocator: kmem with `KM_SLEEP`, which never fails. kmem
/// aligns to 8 bytes; larger alignments are refused (NULL, so the
/// allocation fails loudly), and nothing in this crate asks for one.
struct KmemAlloc;

// SAFETY: kmem_alloc returns 8-byte aligned memory of the requested size
// (or we return NULL); kmem_free gets the same size back, as it needs.
unsafe impl GlobalAlloc for KmemAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > 8 {
            return ptr::null_mut();
        }
        // SAFETY: size is non-zero per the GlobalAlloc contract.
        unsafe { kmem_alloc(layout.size(), KM_SLEEP).cast() }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() > 8 {
            return ptr::null_mut();
        }
        // SAFETY: as for alloc.
        unsafe { kmem_zalloc(layout.size(), KM_SLEEP).cast() }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: `p` came from kmem_alloc/kmem_zalloc with this size.
        unsafe { kmem_free(p.cast(), layout.size()) }
    }
}

#[global_allocator]
static ALLOCATOR: KmemAlloc = KmemAlloc;

/// A truncating writer into a fixed, NUL-terminated buffer.
struct MsgBuf {
    buf: [u8; 256],
    len: usize,
}

impl Write for MsgBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[panic_handler]
fn panic_handler(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut msg = MsgBuf {
        buf: [0; 256],
        len: 0,
    };
    let _ = write!(msg, "vxlan: {info}");
    msg.buf[msg.len] = 0;
    // SAFETY: "%s" with a NUL-terminated buffer that outlives the calls;
    // the message is never used as a format string itself.
    unsafe {
        cmn_err(CE_WARN, c"%s".as_ptr(), msg.buf.as_ptr());
        panic(c"%s".as_ptr(), msg.buf.as_ptr())
    }
}
