//! The kernel ABI, byte for byte as illumos: `sys/overlay_common.h`,
//! `sys/overlay.h` (the `OVERLAY_IOC_*` commands on `/dev/dld`) and
//! `sys/overlay_target.h` (the `OVERLAY_TARG_*` commands on
//! `/dev/overlay`).
//!
//! Every argument struct is `repr(C)` with its implicit C padding written
//! out as named fields, so that it can derive zerocopy's byte conversions;
//! its size and every field offset are asserted at compile time against
//! the LP64 layout of the illumos headers. Userland crates (the ioctl
//! client, varpd, dladm-overlay) use this module without the engine.

pub mod addr;
pub mod common;
pub mod dld;
pub mod targ;

pub use addr::{ETHERADDRL, EtherAddr, In6Addr};
