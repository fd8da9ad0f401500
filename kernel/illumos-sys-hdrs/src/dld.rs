//! GLDv3 control ioctls on `/dev/dld`: `sys/dld_ioc.h`.
//!
//! A GLDv3 module registers a table of `dld_ioc_info_t` under its module
//! id; dld copies the argument in and out (`DLDCOPYIN`/`DLDCOPYOUT`,
//! exactly `di_argsize` bytes), checks the privilege function, and calls
//! `di_func` with the kernel copy.

use crate::cred::cred_t;
use crate::types::{c_int, c_void, intptr_t, size_t, uint_t};

/// `DLD_IOC_CMD(modid, cmdid)`: GLDv3 ioctl numbers are
/// `(module id << 16) | command id`.
#[inline]
pub const fn DLD_IOC_CMD(modid: u16, cmdid: u16) -> uint_t {
    ((modid as uint_t) << 16) | cmdid as uint_t
}

/// `DLD_IOC_MODID(cmd)`
#[inline]
pub const fn DLD_IOC_MODID(cmd: uint_t) -> u16 {
    ((cmd & 0xffff_0000) >> 16) as u16
}

// GLDv3 module ids for dld_ioc_register().
pub const DLD_IOC: u16 = 0x0D1D;
pub const AGGR_IOC: u16 = 0x0A66;
pub const VNIC_IOC: u16 = 0x0171;
pub const SIMNET_IOC: u16 = 0x5132;
pub const IPTUN_IOC: u16 = 0x454A;
pub const BRIDGE_IOC: u16 = 0xB81D;
pub const IBPART_IOC: u16 = 0x6171;
/// The overlay driver's module id (`OVERLAY_IOC`, added to `dld_ioc.h`
/// with the overlay driver).
pub const OVERLAY_IOC: u16 = 0x2005;

/// Copy in `di_argsize` bytes before calling `di_func`.
pub const DLDCOPYIN: uint_t = 0x0000_0001;
/// Copy out `di_argsize` bytes after `di_func` succeeds.
pub const DLDCOPYOUT: uint_t = 0x0000_0002;
pub const DLDCOPYINOUT: uint_t = DLDCOPYIN | DLDCOPYOUT;

/// `typedef int (dld_ioc_func_t)(void *karg, intptr_t arg, int mode,
/// cred_t *cred, int *rvalp);` `karg` is dld's kernel copy of the
/// argument, `arg` the user address.
pub type dld_ioc_func_t = unsafe extern "C" fn(
    karg: *mut c_void,
    arg: intptr_t,
    mode: c_int,
    cred: *mut cred_t,
    rvalp: *mut c_int,
) -> c_int;

/// `typedef int (dld_ioc_priv_func_t)(const cred_t *);` e.g.
/// `secpolicy_dl_config`.
pub type dld_ioc_priv_func_t = unsafe extern "C" fn(cred: *const cred_t) -> c_int;

/// `dld_ioc_info_t`: one ioctl of a module's table.
#[repr(C)]
pub struct dld_ioc_info_t {
    /// Full ioctl number (`DLD_IOC_CMD(modid, n)`).
    pub di_cmd: uint_t,
    /// `DLDCOPYIN`/`DLDCOPYOUT` bits.
    pub di_flags: uint_t,
    pub di_argsize: size_t,
    pub di_func: Option<dld_ioc_func_t>,
    /// `None`: no privilege check.
    pub di_priv_func: Option<dld_ioc_priv_func_t>,
}

// SAFETY: an ioctl table holds only integers and function pointers and is
// immutable after it is built; dld only reads it.
unsafe impl Sync for dld_ioc_info_t {}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<dld_ioc_info_t>() == 32);
    assert!(offset_of!(dld_ioc_info_t, di_argsize) == 8);
    assert!(offset_of!(dld_ioc_info_t, di_func) == 16);
    assert!(offset_of!(dld_ioc_info_t, di_priv_func) == 24);
};

unsafe extern "C" {
    /// Register `count` ioctls under `modid`. Returns 0 or an errno.
    pub fn dld_ioc_register(modid: u16, list: *mut dld_ioc_info_t, count: uint_t) -> c_int;
    pub fn dld_ioc_unregister(modid: u16);
}
