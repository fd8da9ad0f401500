//! What a `no_std` staticlib needs to run in the illumos kernel: a global
//! allocator on kmem, a panic handler on `cmn_err`/`panic`, a console
//! logger, and a non-sleeping allocation path. One crate for every Rust
//! kernel module of the project (`drv/overlay`, `overlay/vxlan`, and the
//! encapsulation modules to come), so each links the same runtime; a
//! module names itself once with [`module_name!`], which prefixes its
//! console messages and panics.
//!
//! ## Allocation and sleeping
//!
//! `GlobalAlloc` cannot carry kmem flags, so the allocator picks them
//! from the context: in interrupt context (`servicing_interrupt()`) it
//! allocates with `KM_NOSLEEP | KM_NORMALPRI` and may return NULL; in
//! thread context (ioctls, open/close, attach, `mc_start`/`mc_stop`, and
//! `mc_tx` from a sending thread or a soft-ring worker) with `KM_SLEEP`,
//! which never fails.
//!
//! NULL only reaches code that asked for it: the data path allocates
//! nothing on the receive side (the ksocket callback frees and re-links
//! `mblk_t`s; the core delivers chains from a stack array) nor on the
//! transmit hit path (a per-link pool of
//! [`TxScratch`](overlay::dev::TxScratch), see `link.rs`), and where the
//! core does allocate on the transmit path (a new cache entry, a waiting
//! frame, a lookup post, a longer send batch) it uses `try_reserve` and
//! drops and counts the frame on failure, as the C driver does with its
//! `KM_NOSLEEP` allocations in `overlay_target_lookup`. Frames are
//! STREAMS blocks from `allocb`, which never sleeps.
//!
//! MAC may call `mc_tx` where blocking is not allowed even in thread
//! context, so `mc_tx` and the receive callback mark their thread with
//! [`NoSleep`], and the allocator uses `KM_NOSLEEP` for marked threads
//! too.
//!
//! [`alloc_nosleep`] / [`try_box_nosleep`] allocate without sleeping
//! whatever the context, for glue code that must not sleep in thread
//! context either.

#![no_std]

extern crate alloc;

use alloc::boxed::Box;
use core::alloc::{GlobalAlloc, Layout};
use core::fmt::{self, Write};
use core::ptr::{self, NonNull};

use core::sync::atomic::{AtomicUsize, Ordering};
use illumos_sys_hdrs::cmn_err::{CE_NOTE, cmn_err, panic};
use illumos_sys_hdrs::kmem::{
    KM_NORMALPRI, KM_NOSLEEP, KM_SLEEP, KMEM_ALIGN, kmem_alloc, kmem_free, kmem_zalloc,
};

use illumos_sys_hdrs::systm::{servicing_interrupt, threadp};
use illumos_sys_hdrs::types::c_int;

/// The global allocator: kmem, sleeping in thread context and not in
/// interrupt context (see the module comment). kmem aligns to 8 bytes; a
/// larger alignment gets NULL, never misaligned memory. Nothing in the
/// driver asks for one.
struct KmemAlloc;

// SAFETY: kmem_alloc/kmem_zalloc return memory of at least the requested
// size, 8-byte aligned, or we return NULL for alignments kmem cannot
// honour; dealloc hands kmem_free the same size back, as it requires.
unsafe impl GlobalAlloc for KmemAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > KMEM_ALIGN {
            return ptr::null_mut();
        }
        // SAFETY: the size is non-zero per the GlobalAlloc contract; a
        // NULL from KM_NOSLEEP is the allocation failure GlobalAlloc
        // reports.
        unsafe { kmem_alloc(layout.size(), kmflags()).cast() }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() > KMEM_ALIGN {
            return ptr::null_mut();
        }
        // SAFETY: as for alloc.
        unsafe { kmem_zalloc(layout.size(), kmflags()).cast() }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: `p` came from kmem_alloc/kmem_zalloc (here or in
        // alloc_nosleep) with exactly this size.
        unsafe { kmem_free(p.cast(), layout.size()) }
    }
}

#[global_allocator]
static ALLOCATOR: KmemAlloc = KmemAlloc;

/// `KM_SLEEP` where sleeping is allowed, else `KM_NOSLEEP`.
#[inline]
fn kmflags() -> c_int {
    // SAFETY: servicing_interrupt has no preconditions.
    if unsafe { servicing_interrupt() } != 0 || NoSleep::active() {
        KM_NOSLEEP | KM_NORMALPRI
    } else {
        KM_SLEEP
    }
}

/// Threads inside a data-path entry point (`mc_tx`, the receive
/// callback), where nothing may sleep whatever the context. A lock-free
/// set of `curthread` values: more slots than threads can be in the data
/// path at once on any machine this module runs on.
static NOSLEEP_THREADS: [AtomicUsize; 256] = [const { AtomicUsize::new(0) }; 256];

/// Marks the current thread as not allowed to sleep until dropped: the
/// global allocator then allocates with `KM_NOSLEEP`, and the core's
/// data path drops and counts what it cannot get.
pub struct NoSleep(Option<usize>);

impl NoSleep {
    pub fn enter() -> NoSleep {
        // SAFETY: threadp has no preconditions.
        let me = unsafe { threadp() } as usize;
        for (i, slot) in NOSLEEP_THREADS.iter().enumerate() {
            if slot
                .compare_exchange(0, me, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return NoSleep(Some(i));
            }
        }
        // Every slot taken (not expected): the thread allocates as any
        // other, with KM_SLEEP, and gets memory rather than a NULL.
        NoSleep(None)
    }

    fn active() -> bool {
        // SAFETY: threadp has no preconditions.
        let me = unsafe { threadp() } as usize;
        NOSLEEP_THREADS
            .iter()
            .any(|s| s.load(Ordering::Relaxed) == me)
    }
}

impl Drop for NoSleep {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            NOSLEEP_THREADS[i].store(0, Ordering::Release);
        }
    }
}

#[allow(dead_code)]
/// Allocates `layout` without sleeping (`KM_NOSLEEP | KM_NORMALPRI`).
/// `None` when memory is short, for a zero size, or for an alignment
/// above 8. The memory may be freed through the global allocator with
/// the same layout.
pub fn alloc_nosleep(layout: Layout) -> Option<NonNull<u8>> {
    if layout.align() > KMEM_ALIGN || layout.size() == 0 {
        return None;
    }
    // SAFETY: a non-zero size; KM_NOSLEEP may return NULL, handled below.
    NonNull::new(unsafe { kmem_alloc(layout.size(), KM_NOSLEEP | KM_NORMALPRI) }.cast())
}

/// `Box::new` without sleeping: the value back if memory is short.
#[allow(dead_code)]
pub fn try_box_nosleep<T>(value: T) -> Result<Box<T>, T> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Ok(Box::new(value));
    }
    let Some(p) = alloc_nosleep(layout) else {
        return Err(value);
    };
    let p = p.cast::<T>().as_ptr();
    // SAFETY: `p` is fresh, non-NULL, sized and aligned for T (kmem's
    // 8-byte alignment covers T, or alloc_nosleep refused); after the
    // write it holds a valid T, and the global allocator frees it with
    // Layout::new::<T>(), the layout it was allocated with.
    unsafe {
        p.write(value);
        Ok(Box::from_raw(p))
    }
}

/// A truncating writer into a fixed, NUL-terminated buffer on the stack:
/// formatting a message never allocates.
pub struct MsgBuf {
    buf: [u8; 256],
    len: usize,
}

impl MsgBuf {
    pub const fn new() -> MsgBuf {
        MsgBuf {
            buf: [0; 256],
            len: 0,
        }
    }

    /// The message, NUL-terminated.
    pub fn as_cstr_ptr(&mut self) -> *const u8 {
        self.buf[self.len] = 0;
        self.buf.as_ptr()
    }
}

impl Default for MsgBuf {
    fn default() -> Self {
        Self::new()
    }
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

/// Writes `<module>: <message>` to the console at `level` (`CE_WARN`,
/// `CE_NOTE`). The message is an argument of `"%s"`, never a format.
pub fn log(level: c_int, args: fmt::Arguments<'_>) {
    let mut m = MsgBuf::new();
    let _ = write!(m, "{}: ", name());
    let _ = m.write_fmt(args);
    // SAFETY: "%s" with a NUL-terminated buffer that outlives the call.
    unsafe { cmn_err(level, c"%s".as_ptr(), m.as_cstr_ptr()) }
}

/// `cmn_err(CE_WARN, ...)` with Rust formatting.
#[macro_export]
macro_rules! kwarn {
    ($($t:tt)*) => {
        $crate::log($crate::CE_WARN, format_args!($($t)*))
    };
}

pub use illumos_sys_hdrs::cmn_err::CE_WARN;

#[allow(dead_code)]
pub fn note(args: fmt::Arguments<'_>) {
    log(CE_NOTE, args)
}

unsafe extern "Rust" {
    /// Defined by [`module_name!`] in the module's own crate.
    static ILLUMOS_KMOD_RT_MODULE_NAME: &'static str;
}

/// The module's name, as [`module_name!`] gave it.
fn name() -> &'static str {
    // SAFETY: a `&'static str` static, written once at compile time by
    // `module_name!` and never mutated.
    unsafe { ILLUMOS_KMOD_RT_MODULE_NAME }
}

/// Names the kernel module (`module_name!("overlay")`) for its console
/// messages and panics. Exactly once per module, at its crate root.
#[macro_export]
macro_rules! module_name {
    ($name:literal) => {
        #[unsafe(no_mangle)]
        static ILLUMOS_KMOD_RT_MODULE_NAME: &str = $name;
    };
}

/// A panic in the kernel is for keeps: report it as a warning (so the
/// message is in the log even if the dump is lost), then panic the
/// system. Both calls pass the message as an argument of `"%s"`: a `%`
/// in it cannot be read as a conversion.
#[panic_handler]
fn panic_handler(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut m = MsgBuf::new();
    let _ = write!(m, "{}: {info}", name());
    let p = m.as_cstr_ptr();
    // SAFETY: "%s" with a NUL-terminated buffer that outlives the calls.
    unsafe {
        cmn_err(CE_WARN, c"%s".as_ptr(), p);
        panic(c"%s".as_ptr(), p)
    }
}
