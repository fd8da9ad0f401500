//! Host tests of `kernel/illumos/src/mblk.rs`, the glue's `mblk_t`
//! frames (`MsgBlk`, `MblkChain`), compiled for the host against a mock
//! of the STREAMS allocator (`allocb`, `freeb`, `freemsg`) that counts
//! live blocks, and a mock of the SDT probes that counts firings.
//!
//! The glue crate itself is kernel-only (a `no_std` staticlib with its
//! own allocator and panic handler), so the file is included here by
//! path; everything it uses from the kernel is a symbol the mock
//! defines.
//!
//! Run: `cargo test --manifest-path kernel/illumos/host-tests/Cargo.toml`.

#[path = "../src/mblk.rs"]
pub mod mblk;

pub mod mock;

/// The glue's `sdt` module, as counters.
pub mod sdt {
    use core::ffi::CStr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use illumos_sys_hdrs::stream::mblk_t;

    pub static FREMSG: AtomicUsize = AtomicUsize::new(0);
    pub static TX_DROP: AtomicUsize = AtomicUsize::new(0);

    pub fn fremsg(_mp: *const mblk_t, _reason: &'static CStr) {
        FREMSG.fetch_add(1, Ordering::SeqCst);
    }

    pub fn tx_drop(_mp: *const mblk_t, _reason: &'static CStr) {
        TX_DROP.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests;
