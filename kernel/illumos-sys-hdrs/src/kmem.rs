//! Kernel memory allocator: `sys/kmem.h`, see `kmem_alloc(9F)`.
//!
//! `kmem_alloc` only promises 8-byte alignment, and `kmem_free` needs the
//! size back. `KM_SLEEP` allocations never fail but may block, so they must
//! not be used from the data path (interrupt or soft-ring context); use
//! `KM_NOSLEEP | KM_NORMALPRI` there and handle `NULL`.

use crate::types::{c_int, c_void, size_t};

/// Can block for memory; success guaranteed.
pub const KM_SLEEP: c_int = 0x0000;
/// Cannot block for memory; may fail.
pub const KM_NOSLEEP: c_int = 0x0001;
/// If memory cannot be allocated, panic.
pub const KM_PANIC: c_int = 0x0002;
/// Can block for memory; may use the reserve.
pub const KM_PUSHPAGE: c_int = 0x0004;
/// With `KM_NOSLEEP`: lower-priority allocation (fails earlier under
/// memory pressure instead of dipping into reserves).
pub const KM_NORMALPRI: c_int = 0x0008;

/// The alignment `kmem_alloc(9F)` guarantees.
pub const KMEM_ALIGN: usize = 8;

unsafe extern "C" {
    pub fn kmem_alloc(size: size_t, kmflags: c_int) -> *mut c_void;
    pub fn kmem_zalloc(size: size_t, kmflags: c_int) -> *mut c_void;
    pub fn kmem_free(buf: *mut c_void, size: size_t);
}
