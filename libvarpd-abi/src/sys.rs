//! The `repr(C)` mirror of `include/libvarpd_provider.h`.
//!
//! Layouts are asserted at compile time; `tests/header.rs` checks them
//! against the C header with the C compiler.

#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int, c_uint, c_void};
use core::mem::{offset_of, size_of};

pub use overlay::abi::targ::{OverlayTargLookup, OverlayTargetPoint};

/// `overlay_target_point_t`.
pub type overlay_target_point_t = OverlayTargetPoint;
/// `overlay_targ_lookup_t`.
pub type overlay_targ_lookup_t = OverlayTargLookup;

pub const VARPD_VERSION_ONE: c_uint = 1;
pub const VARPD_CURRENT_VERSION: c_uint = VARPD_VERSION_ONE;
pub const VARPD_LOOKUP_OK: c_int = 0;
pub const VARPD_LOOKUP_DROP: c_int = -1;
pub const VARPD_QTYPE_ETHERNET: c_int = 0;

/// The registration function a plugin may export (called after `dlopen`).
pub const VARPD_PLUGIN_INIT_SYMBOL: &[u8] = b"varpd_plugin_init\0";
/// The reload function a plugin may export (called on SIGHUP).
pub const VARPD_PLUGIN_RELOAD_SYMBOL: &[u8] = b"varpd_plugin_reload\0";

macro_rules! opaque {
    ($($name:ident),*) => {$(
        /// An opaque handle type.
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
        }
    )*};
}
opaque!(
    varpd_provider_handle_t,
    varpd_query_handle_t,
    varpd_arp_handle_t,
    varpd_dhcp_handle_t,
    varpd_prop_handle_t,
    nvlist_t
);

pub type varpd_plugin_create_f =
    unsafe extern "C" fn(*mut varpd_provider_handle_t, *mut *mut c_void, u32) -> c_int;
pub type varpd_plugin_start_f = unsafe extern "C" fn(*mut c_void) -> c_int;
pub type varpd_plugin_stop_f = unsafe extern "C" fn(*mut c_void);
pub type varpd_plugin_destroy_f = unsafe extern "C" fn(*mut c_void);
pub type varpd_plugin_default_f =
    unsafe extern "C" fn(*mut c_void, *mut overlay_target_point_t) -> c_int;
pub type varpd_plugin_lookup_f = unsafe extern "C" fn(
    *mut c_void,
    *mut varpd_query_handle_t,
    *const overlay_targ_lookup_t,
    *mut overlay_target_point_t,
);
pub type varpd_plugin_arp_f = unsafe extern "C" fn(
    *mut c_void,
    *mut varpd_arp_handle_t,
    c_int,
    *const libc::sockaddr,
    *mut u8,
);
pub type varpd_plugin_dhcp_f = unsafe extern "C" fn(
    *mut c_void,
    *mut varpd_dhcp_handle_t,
    c_int,
    *const overlay_targ_lookup_t,
    *mut u8,
);
pub type varpd_plugin_nprops_f = unsafe extern "C" fn(*mut c_void, *mut c_uint) -> c_int;
pub type varpd_plugin_propinfo_f =
    unsafe extern "C" fn(*mut c_void, c_uint, *mut varpd_prop_handle_t) -> c_int;
pub type varpd_plugin_getprop_f =
    unsafe extern "C" fn(*mut c_void, *const c_char, *mut c_void, *mut u32) -> c_int;
pub type varpd_plugin_setprop_f =
    unsafe extern "C" fn(*mut c_void, *const c_char, *const c_void, u32) -> c_int;
pub type varpd_plugin_save_f = unsafe extern "C" fn(*mut c_void, *mut nvlist_t) -> c_int;
pub type varpd_plugin_restore_f = unsafe extern "C" fn(
    *mut nvlist_t,
    *mut varpd_provider_handle_t,
    u32,
    *mut *mut c_void,
) -> c_int;

/// `varpd_plugin_ops_t`, in the illumos field order. Every op is a
/// nullable function pointer (`Option`), as C allows.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct varpd_plugin_ops_t {
    pub vpo_callbacks: c_uint,
    pub vpo_create: Option<varpd_plugin_create_f>,
    pub vpo_start: Option<varpd_plugin_start_f>,
    pub vpo_stop: Option<varpd_plugin_stop_f>,
    pub vpo_destroy: Option<varpd_plugin_destroy_f>,
    pub vpo_default: Option<varpd_plugin_default_f>,
    pub vpo_lookup: Option<varpd_plugin_lookup_f>,
    pub vpo_nprops: Option<varpd_plugin_nprops_f>,
    pub vpo_propinfo: Option<varpd_plugin_propinfo_f>,
    pub vpo_getprop: Option<varpd_plugin_getprop_f>,
    pub vpo_setprop: Option<varpd_plugin_setprop_f>,
    pub vpo_save: Option<varpd_plugin_save_f>,
    pub vpo_restore: Option<varpd_plugin_restore_f>,
    pub vpo_arp: Option<varpd_plugin_arp_f>,
    pub vpo_dhcp: Option<varpd_plugin_dhcp_f>,
}

const _: () = assert!(size_of::<varpd_plugin_ops_t>() == 8 + 14 * 8);
const _: () = assert!(offset_of!(varpd_plugin_ops_t, vpo_create) == 8);
const _: () = assert!(offset_of!(varpd_plugin_ops_t, vpo_default) == 40);
const _: () = assert!(offset_of!(varpd_plugin_ops_t, vpo_lookup) == 48);
const _: () = assert!(offset_of!(varpd_plugin_ops_t, vpo_save) == 88);
const _: () = assert!(offset_of!(varpd_plugin_ops_t, vpo_restore) == 96);
const _: () = assert!(offset_of!(varpd_plugin_ops_t, vpo_arp) == 104);
const _: () = assert!(offset_of!(varpd_plugin_ops_t, vpo_dhcp) == 112);

/// `varpd_plugin_register_t`.
#[repr(C)]
pub struct varpd_plugin_register_t {
    pub vpr_version: c_uint,
    pub vpr_mode: c_uint,
    pub vpr_name: *const c_char,
    pub vpr_ops: *const varpd_plugin_ops_t,
}

const _: () = assert!(size_of::<varpd_plugin_register_t>() == 24);
const _: () = assert!(offset_of!(varpd_plugin_register_t, vpr_mode) == 4);
const _: () = assert!(offset_of!(varpd_plugin_register_t, vpr_name) == 8);
const _: () = assert!(offset_of!(varpd_plugin_register_t, vpr_ops) == 16);

/// The library functions of the header, as function-pointer types. The
/// SDK resolves them at run time (see [`crate::sdk`]); varpd defines them.
pub mod fns {
    use super::*;
    pub type plugin_alloc =
        unsafe extern "C" fn(c_uint, *mut c_int) -> *mut varpd_plugin_register_t;
    pub type plugin_free = unsafe extern "C" fn(*mut varpd_plugin_register_t);
    pub type plugin_register = unsafe extern "C" fn(*mut varpd_plugin_register_t) -> c_int;
    pub type plugin_vnetid = unsafe extern "C" fn(*mut varpd_provider_handle_t) -> u64;
    pub type query_reply = unsafe extern "C" fn(*mut varpd_query_handle_t, c_int);
    pub type proxy = unsafe extern "C" fn(
        *mut varpd_provider_handle_t,
        *mut varpd_query_handle_t,
        *const overlay_targ_lookup_t,
    );
    pub type arp_reply = unsafe extern "C" fn(*mut varpd_arp_handle_t, c_int);
    pub type dhcp_reply = unsafe extern "C" fn(*mut varpd_dhcp_handle_t, c_int);
    pub type prop_set_name = unsafe extern "C" fn(*mut varpd_prop_handle_t, *const c_char);
    pub type prop_set_u32 = unsafe extern "C" fn(*mut varpd_prop_handle_t, u32);
    pub type prop_set_default =
        unsafe extern "C" fn(*mut varpd_prop_handle_t, *mut c_void, isize) -> c_int;
    pub type prop_set_nodefault = unsafe extern "C" fn(*mut varpd_prop_handle_t);
    pub type prop_set_range_uint32 = unsafe extern "C" fn(*mut varpd_prop_handle_t, u32, u32);
    pub type inject_varp = unsafe extern "C" fn(
        *mut varpd_provider_handle_t,
        *const u8,
        *const overlay_target_point_t,
    );
    pub type inject_arp = unsafe extern "C" fn(
        *mut varpd_provider_handle_t,
        u16,
        *const u8,
        *const libc::in_addr,
        *const u8,
    );
    pub type fma_degrade = unsafe extern "C" fn(*mut varpd_provider_handle_t, *const c_char);
    pub type fma_restore = unsafe extern "C" fn(*mut varpd_provider_handle_t);
    pub type nv_add_str =
        unsafe extern "C" fn(*mut nvlist_t, *const c_char, *const c_char) -> c_int;
    pub type nv_add_u64 = unsafe extern "C" fn(*mut nvlist_t, *const c_char, u64) -> c_int;
    pub type nv_lookup_str =
        unsafe extern "C" fn(*mut nvlist_t, *const c_char, *mut *mut c_char) -> c_int;
    pub type nv_lookup_u64 = unsafe extern "C" fn(*mut nvlist_t, *const c_char, *mut u64) -> c_int;
}
