//! Time: `sys/time.h` (`gethrtime`), `sys/ddi.h`/`sys/sunddi.h`
//! (`ddi_get_lbolt`, `drv_usectohz`, `drv_hztousec`).

use crate::types::{clock_t, hrtime_t};

/// Microseconds per second (`MICROSEC`, `sys/time.h`).
pub const MICROSEC: clock_t = 1_000_000;
/// Nanoseconds per second (`NANOSEC`).
pub const NANOSEC: hrtime_t = 1_000_000_000;

unsafe extern "C" {
    /// Ticks since boot (the `lbolt` clock used by `cv_timedwait`).
    pub fn ddi_get_lbolt() -> clock_t;
    /// Ticks since boot, 64-bit.
    pub fn ddi_get_lbolt64() -> i64;
    /// Microseconds to ticks, rounded up.
    pub fn drv_usectohz(microsecs: clock_t) -> clock_t;
    /// Ticks to microseconds.
    pub fn drv_hztousec(ticks: clock_t) -> clock_t;
    /// High-resolution monotonic time in nanoseconds.
    pub fn gethrtime() -> hrtime_t;
}
