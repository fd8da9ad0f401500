//! Hand-written bindings to the illumos kernel interfaces that the overlay
//! driver (`drv/overlay`) and its encapsulation plugins (`overlay/vxlan`)
//! use.
//!
//! This is *our* crate: the `illumos-sys-hdrs` crate of OPTE is not
//! published, and a bindgen dump of the kernel headers is far more than a
//! driver needs. Only what the overlay modules call is declared here, one
//! module per illumos header area, each naming the headers it mirrors.
//!
//! Conventions:
//!
//! * Everything is LP64 (amd64). Every struct whose layout the kernel
//!   defines carries compile-time size (and, where it matters, offset)
//!   assertions with the amd64 values; `tests/layout.rs` repeats them on the
//!   host so a failure names the struct.
//! * C enums are `#[repr(transparent)]` newtypes over the C integer type
//!   with associated consts, never Rust enums: a value the kernel hands us
//!   that we do not know about must not be undefined behaviour.
//! * Opaque kernel objects are `#[repr(C)] struct X { _p: [u8; 0] }` and are
//!   only ever used behind raw pointers.
//! * Callback slots the C code may leave `NULL` are
//!   `Option<unsafe extern "C" fn ...>` with the exact C signature.
//! * C names are kept (`mblk_t`, `mac_register_t`, `DB_TYPE`), so code can
//!   be checked against the illumos sources line by line.
//!
//! Nothing here defines behaviour; the only code is a handful of inline
//! functions that re-implement C macros (`DB_TYPE`, `MBLKL`, `getminor`, …).
//! DTrace SDT probes (`__dtrace_probe_*`) are declared by the glue crate,
//! not here.

#![no_std]
// The bindings keep the C spelling of types, fields, macros and globals.
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]

#[cfg(not(target_pointer_width = "64"))]
compile_error!("illumos-sys-hdrs describes the LP64 (amd64) kernel ABI only");

pub mod cmn_err;
pub mod cred;
pub mod ddi;
pub mod dld;
pub mod dls;
pub mod errno;
pub mod kmem;
pub mod ksocket;
pub mod mac;
pub mod modctl;
pub mod socket;
pub mod stream;
pub mod sync;
pub mod systm;
pub mod tihdr;
pub mod time;
pub mod types;

pub use types::*;
