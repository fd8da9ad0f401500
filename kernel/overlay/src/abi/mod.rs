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
//!
//! The headers followed are those of illumos-gate commit
//! `61219925bb32ebb8717b9f71c65d328d79f7dcaa`; in particular its
//! `overlay_targ_cache_iter_t` has `otci_pad2[3]`, which puts the entries
//! at offset 24, and its varpd door structs have `vcna_pad`/`vcfa_pad`.
//! `varpd/tests/abi_layout.rs` pins every shared struct's size and field
//! offsets in one table against that revision.

pub mod addr;
pub mod common;
pub mod ctl;
pub mod dld;
pub mod prop;
pub mod targ;

pub use addr::{ETHERADDRL, EtherAddr, In6Addr};
