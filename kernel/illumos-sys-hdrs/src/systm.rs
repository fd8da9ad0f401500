//! Context queries: `sys/systm.h`.

use crate::types::c_int;

unsafe extern "C" {
    /// Non-zero when the caller runs in interrupt context (where
    /// `KM_SLEEP` allocations are not allowed).
    pub fn servicing_interrupt() -> c_int;
    /// The current thread (`curthread`).
    pub fn threadp() -> *mut crate::types::c_void;
}
