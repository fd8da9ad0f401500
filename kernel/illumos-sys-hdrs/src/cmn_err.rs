//! Console messages and panics: `sys/cmn_err.h`, see `cmn_err(9F)`.
//!
//! Both functions take a *format string*. Never pass text that came from
//! elsewhere (a panic message, a device name) as the format: pass `"%s"`
//! and the text as the argument, or a `%` in it reads garbage off the stack.

use crate::types::{c_char, c_int};

/// Continue a previous message (no prefix, no newline).
pub const CE_CONT: c_int = 0;
/// `NOTICE:` prefix.
pub const CE_NOTE: c_int = 1;
/// `WARNING:` prefix.
pub const CE_WARN: c_int = 2;
/// Panic the system.
pub const CE_PANIC: c_int = 3;
/// Print nothing.
pub const CE_IGNORE: c_int = 4;

unsafe extern "C" {
    /// `void cmn_err(int level, const char *fmt, ...);`
    pub fn cmn_err(level: c_int, fmt: *const c_char, ...);

    /// `void panic(const char *fmt, ...) __NORETURN;`
    pub fn panic(fmt: *const c_char, ...) -> !;
}
