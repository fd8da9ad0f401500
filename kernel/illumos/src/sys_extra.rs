//! Bindings `illumos-sys-hdrs` does not (yet) carry, kept here so that
//! crate stays someone else's. Every item names the header it mirrors.
//! Nothing here adds an undefined symbol to the module: these are
//! constants and inline re-implementations of tiny C functions, so the
//! allow-list of kernel exports needs no new entry for them.
//!
//! To move into `illumos-sys-hdrs` (and then delete from here):
//! - `mac.rs`: the `mac_driver_stat` values (`MAC_STAT_*`);
//! - `ddi.rs`: `DDI_MODEL_*` and `ddi_model_convert_from` (a real genunix
//!   function, `uint_t ddi_model_convert_from(uint_t)`; inlined here so
//!   the module does not depend on one more symbol);
//! - `types.rs`: `INT32_MAX`.

#![allow(dead_code)]

use illumos_sys_hdrs::ddi::{DATAMODEL_ILP32, DATAMODEL_LP64, DATAMODEL_MASK, DATAMODEL_NATIVE};
use illumos_sys_hdrs::types::{c_int, uint_t};

// ---- sys/mac.h: enum mac_driver_stat -------------------------------------------
//
// "Do not reorder, and add only to the end of this list." MAC_STAT_MIN is
// 1000; statistics below it are kept by mac itself, 2000 and up
// (MACTYPE_STAT_MIN) belong to the MAC-type plugin (ETHER_STAT_*).

pub const MAC_STAT_MIN: uint_t = 1000;
pub const MACTYPE_STAT_MIN: uint_t = 2000;

pub const MAC_STAT_IFSPEED: uint_t = MAC_STAT_MIN;
pub const MAC_STAT_MULTIRCV: uint_t = 1001;
pub const MAC_STAT_BRDCSTRCV: uint_t = 1002;
pub const MAC_STAT_MULTIXMT: uint_t = 1003;
pub const MAC_STAT_BRDCSTXMT: uint_t = 1004;
pub const MAC_STAT_NORCVBUF: uint_t = 1005;
pub const MAC_STAT_IERRORS: uint_t = 1006;
pub const MAC_STAT_UNKNOWNS: uint_t = 1007;
pub const MAC_STAT_NOXMTBUF: uint_t = 1008;
pub const MAC_STAT_OERRORS: uint_t = 1009;
pub const MAC_STAT_COLLISIONS: uint_t = 1010;
pub const MAC_STAT_RBYTES: uint_t = 1011;
pub const MAC_STAT_IPACKETS: uint_t = 1012;
pub const MAC_STAT_OBYTES: uint_t = 1013;
pub const MAC_STAT_OPACKETS: uint_t = 1014;
pub const MAC_STAT_UNDERFLOWS: uint_t = 1015;
pub const MAC_STAT_OVERFLOWS: uint_t = 1016;

// ---- sys/sunddi.h: data models -------------------------------------------------

pub const DDI_MODEL_MASK: uint_t = DATAMODEL_MASK as uint_t;
pub const DDI_MODEL_ILP32: uint_t = DATAMODEL_ILP32 as uint_t;
pub const DDI_MODEL_LP64: uint_t = DATAMODEL_LP64 as uint_t;
pub const DDI_MODEL_NATIVE: uint_t = DATAMODEL_NATIVE as uint_t;
pub const DDI_MODEL_NONE: uint_t = 0;

/// `uint_t ddi_model_convert_from(uint_t model)` (`sunddi.c`): the data
/// model of the caller if it differs from the kernel's, else
/// `DDI_MODEL_NONE`. The same computation as genunix, inline.
#[inline]
pub const fn ddi_model_convert_from(model: uint_t) -> uint_t {
    (model & DDI_MODEL_MASK) & !DDI_MODEL_NATIVE
}

/// Whether an ioctl(9E) `mode` word comes from a 32-bit process.
#[inline]
pub const fn mode_is_ilp32(mode: c_int) -> bool {
    ddi_model_convert_from(mode as uint_t) == DDI_MODEL_ILP32
}

// ---- sys/int_limits.h ----------------------------------------------------------

pub const INT32_MAX: i32 = i32::MAX;

const _: () = {
    assert!(ddi_model_convert_from(DDI_MODEL_LP64) == DDI_MODEL_NONE);
    assert!(ddi_model_convert_from(DDI_MODEL_ILP32 | 0x3) == DDI_MODEL_ILP32);
};
