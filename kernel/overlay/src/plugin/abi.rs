//! The encapsulation plugin C ABI (`sys/overlay_plugin.h`).
//!
//! An encapsulation plugin is a separate module (a kernel misc module in
//! `overlay/` on illumos; a linked-in object on the Linux host) that fills
//! an [`overlay_plugin_register_t`] and hands it to
//! `overlay_plugin_register`. Only C types cross this boundary.
//!
//! The registration struct, the order of the ops vector and the property
//! helpers follow illumos. The frame-carrying ops differ by necessity:
//! illumos passes `mblk_t` chains, which do not exist on other hosts, so
//! here a plugin sees the contiguous head of the frame and writes its
//! header into a buffer the driver provides. The driver then prepends that
//! header (in place when there is headroom, in a separate block otherwise,
//! exactly the `vxlan_noalloc_min` / `vxlan_alloc_size` choice the illumos
//! plugin made for itself), so a plugin never allocates on the data path.

#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int, c_uint, c_void};

use super::super::abi::addr::In6Addr;

/// `OVEP_VERSION_ONE`.
pub const OVEP_VERSION_ONE: c_uint = 1;
/// `OVEP_VERSION`.
pub const OVEP_VERSION: c_uint = OVEP_VERSION_ONE;

/// `OVEP_F_VLAN_TAG`: inner frames may carry an 802.1Q tag.
pub const OVEP_F_VLAN_TAG: c_uint = 0x01;

/// Longest header a plugin may write (illumos `vxlan_alloc_size`).
pub const OVEP_HDR_MAX: usize = 128;

/// illumos socket constants, as a plugin's `socket` op reports them. A
/// host translates them to its own values.
pub const AF_INET: c_int = 2;
pub const AF_INET6: c_int = 26;
pub const SOCK_DGRAM: c_int = 1;
pub const IPPROTO_UDP: c_int = 17;
/// `UDP_SRCPORT_HASH` socket option (`<netinet/udp.h>`).
pub const UDP_SRCPORT_HASH: c_int = 0x0104;
/// `UDP_HASH_VXLAN` value of `UDP_SRCPORT_HASH`.
pub const UDP_HASH_VXLAN: c_int = 0x0001;

/// Opaque handle of the overlay device a plugin instance serves
/// (`overlay_handle_t`). Plugins never look inside.
#[repr(C)]
#[derive(Debug)]
pub struct overlay_handle_t {
    _private: [u8; 0],
}

/// Opaque property-information handle (`overlay_prop_handle_t`), filled
/// through the `overlay_prop_set_*` helpers.
#[repr(C)]
#[derive(Debug)]
pub struct overlay_prop_handle_t {
    _private: [u8; 0],
}

/// illumos `struct sockaddr_in6` (32 bytes). `sin6_port` is in network
/// byte order, `sin6_family` an illumos `AF_*` value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct sockaddr_in6_t {
    pub sin6_family: u16,
    pub sin6_port: u16,
    pub sin6_flowinfo: u32,
    pub sin6_addr: In6Addr,
    pub sin6_scope_id: u32,
    pub __sin6_src_id: u32,
}

const _: () = assert!(core::mem::size_of::<sockaddr_in6_t>() == 32);
const _: () = assert!(core::mem::offset_of!(sockaddr_in6_t, sin6_addr) == 8);

/// One socket option a plugin wants on its mux socket.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct overlay_sockopt_t {
    pub oso_level: c_int,
    pub oso_name: c_int,
    pub oso_value: c_int,
}

/// Most socket options one plugin may ask for.
pub const OVERLAY_SOCKOPT_MAX: usize = 8;

/// `ovep_encap_info_t`: `ovdi_id` is the virtual network id (in for
/// encap, out for decap) and `ovdi_hdr_size` the header length (out).
///
/// `ovdi_src_port` is new: the outer UDP source port a plugin derives from
/// the inner flow (0: let the socket choose). illumos obtained the same
/// entropy from UDP through the `UDP_SRCPORT_HASH` socket option; a host
/// that has that option may ignore this field.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ovep_encap_info_t {
    pub ovdi_id: u64,
    pub ovdi_hdr_size: usize,
    pub ovdi_src_port: u16,
}

/// `ovpo_init`: create the per-device instance.
pub type ovpo_init_f = unsafe extern "C" fn(*mut overlay_handle_t, *mut *mut c_void) -> c_int;
/// `ovpo_fini`: destroy the instance.
pub type ovpo_fini_f = unsafe extern "C" fn(*mut c_void);
/// `ovpo_encap(arg, frame, frame_len, info, hdr, hdr_cap)`: write the
/// header for the frame (whose first `frame_len` bytes are given) into
/// `hdr`, at most `hdr_cap` bytes; set `ovdi_hdr_size`.
pub type ovpo_encap_f = unsafe extern "C" fn(
    *mut c_void,
    *const u8,
    usize,
    *mut ovep_encap_info_t,
    *mut u8,
    usize,
) -> c_int;
/// `ovpo_decap(arg, data, len, info)`: validate the header at the start of
/// `data`; set `ovdi_id` and `ovdi_hdr_size`. `arg` is NULL: the device is
/// not known until the id is.
pub type ovpo_decap_f =
    unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut ovep_encap_info_t) -> c_int;
/// `ovpo_socket(arg, domain, type, protocol, addr, addrlen)`.
pub type ovpo_socket_f = unsafe extern "C" fn(
    *mut c_void,
    *mut c_int,
    *mut c_int,
    *mut c_int,
    *mut sockaddr_in6_t,
    *mut u32,
) -> c_int;
/// `ovpo_sockopt(arg, opts, nopts)`: list the options to set on a new mux
/// socket after bind; `*nopts` is the capacity in, the count out. (illumos
/// handed the plugin the ksocket itself; a list works on every host.)
pub type ovpo_sockopt_f =
    unsafe extern "C" fn(*mut c_void, *mut overlay_sockopt_t, *mut c_uint) -> c_int;
/// `ovpo_getprop(arg, name, buf, size)`: `*size` is the capacity in, the
/// value length out (0: unset).
pub type ovpo_getprop_f =
    unsafe extern "C" fn(*mut c_void, *const c_char, *mut c_void, *mut u32) -> c_int;
/// `ovpo_setprop(arg, name, buf, size)`.
pub type ovpo_setprop_f =
    unsafe extern "C" fn(*mut c_void, *const c_char, *const c_void, u32) -> c_int;
/// `ovpo_propinfo(name, handle)`.
pub type ovpo_propinfo_f = unsafe extern "C" fn(*const c_char, *mut overlay_prop_handle_t) -> c_int;

/// `overlay_plugin_ops_t`, in the illumos (2019) field order.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct overlay_plugin_ops_t {
    /// Must be 0.
    pub ovpo_callbacks: c_uint,
    pub ovpo_init: Option<ovpo_init_f>,
    pub ovpo_fini: Option<ovpo_fini_f>,
    pub ovpo_encap: Option<ovpo_encap_f>,
    pub ovpo_decap: Option<ovpo_decap_f>,
    pub ovpo_socket: Option<ovpo_socket_f>,
    /// Optional.
    pub ovpo_sockopt: Option<ovpo_sockopt_f>,
    pub ovpo_getprop: Option<ovpo_getprop_f>,
    pub ovpo_setprop: Option<ovpo_setprop_f>,
    pub ovpo_propinfo: Option<ovpo_propinfo_f>,
}

/// `overlay_plugin_register_t`, field order as illumos.
#[repr(C)]
#[derive(Debug)]
pub struct overlay_plugin_register_t {
    pub ovep_version: c_uint,
    pub ovep_name: *const c_char,
    pub ovep_ops: *const overlay_plugin_ops_t,
    /// NULL-terminated array of property names.
    pub ovep_props: *const *const c_char,
    /// Bytes in a virtual network id: ids are `[0, 2^(8*size))`.
    pub ovep_id_size: c_uint,
    pub ovep_flags: c_uint,
    /// `OVERLAY_PLUGIN_D_*` bits the plugin needs in a destination.
    pub ovep_dest: c_uint,
}

// The functions a plugin may call, exported by the driver (see
// `registry` and `prop`).
unsafe extern "C" {
    pub fn overlay_plugin_alloc(version: c_uint) -> *mut overlay_plugin_register_t;
    pub fn overlay_plugin_free(reg: *mut overlay_plugin_register_t);
    pub fn overlay_plugin_register(reg: *const overlay_plugin_register_t) -> c_int;
    pub fn overlay_plugin_unregister(name: *const c_char) -> c_int;
    pub fn overlay_prop_set_name(hdl: *mut overlay_prop_handle_t, name: *const c_char);
    pub fn overlay_prop_set_prot(hdl: *mut overlay_prop_handle_t, prot: c_uint);
    pub fn overlay_prop_set_type(hdl: *mut overlay_prop_handle_t, ty: c_uint);
    pub fn overlay_prop_set_default(
        hdl: *mut overlay_prop_handle_t,
        def: *const c_void,
        len: isize,
    ) -> c_int;
    pub fn overlay_prop_set_nodefault(hdl: *mut overlay_prop_handle_t);
    pub fn overlay_prop_set_range_uint32(hdl: *mut overlay_prop_handle_t, min: u32, max: u32);
    pub fn overlay_prop_set_range_str(hdl: *mut overlay_prop_handle_t, s: *const c_char);
}
