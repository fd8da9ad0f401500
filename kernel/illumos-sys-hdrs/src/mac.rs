//! The GLDv3 MAC layer, provider side: `sys/mac.h` (handles, `link_state_t`,
//! `mac_prop_id_t`, `mac_header_info_t`), `sys/mac_provider.h`
//! (`mac_register_t`, `mac_callbacks_t`, `mac_alloc`, `mac_rx`, …),
//! `sys/mac_client.h` (`mac_perim_handle_t`), `sys/mac_client_priv.h`
//! (`mac_header_info`, perimeter, `mac_set_prop`, `mac_prop_info`),
//! `sys/mac_ether.h` (`MAC_PLUGIN_IDENT_ETHER`), `sys/ethernet.h` and
//! `sys/vlan.h`.
//!
//! An overlay device is a MAC provider: the driver fills in a
//! `mac_register_t` from `mac_alloc(MAC_VERSION)`, points it at its
//! `mac_callbacks_t`, calls `mac_register`, and then hands received frames
//! up with `mac_rx`.

use core::ffi::CStr;

use crate::ddi::{dev_info_t, dev_ops};
use crate::stream::{mblk_t, queue_t};
use crate::types::{boolean_t, c_char, c_int, c_uint, c_void, minor_t, size_t, uint_t};

/// MAC provider interface version (`MAC_VERSION_V1`).
pub const MAC_VERSION_V1: uint_t = 0x1;
/// The version ON drivers register with.
pub const MAC_VERSION: uint_t = MAC_VERSION_V1;

/// The Ethernet MAC-type plugin (`sys/mac_ether.h`), for `m_type_ident`.
pub const MAC_PLUGIN_IDENT_ETHER: &CStr = c"mac_ether";

/// Ethernet address length (`sys/ethernet.h`).
pub const ETHERADDRL: usize = 6;
/// Size of an 802.1Q tag (`sys/vlan.h`); the MAC margin of a device whose
/// frames may be tagged.
pub const VLAN_TAGSZ: u32 = 4;

// Virtualization levels for m_v12n (sys/mac_provider.h).
pub const MAC_VIRT_NONE: u32 = 0x0;
pub const MAC_VIRT_LEVEL1: u32 = 0x1;
pub const MAC_VIRT_HIO: u32 = 0x2;

/// `typedef struct __mac_handle *mac_handle_t;`
#[repr(C)]
pub struct __mac_handle {
    _p: [u8; 0],
}
pub type mac_handle_t = *mut __mac_handle;

/// `typedef struct __mac_resource_handle *mac_resource_handle_t;`
#[repr(C)]
pub struct __mac_resource_handle {
    _p: [u8; 0],
}
pub type mac_resource_handle_t = *mut __mac_resource_handle;

/// `typedef struct __mac_ring_handle *mac_ring_handle_t;`
#[repr(C)]
pub struct __mac_ring_handle {
    _p: [u8; 0],
}
pub type mac_ring_handle_t = *mut __mac_ring_handle;

/// `typedef struct __mac_prop_info_handle *mac_prop_info_handle_t;`
#[repr(C)]
pub struct __mac_prop_info_handle {
    _p: [u8; 0],
}
pub type mac_prop_info_handle_t = *mut __mac_prop_info_handle;

/// `typedef struct __mac_perim_handle *mac_perim_handle_t;`
/// (`sys/mac_client.h`)
#[repr(C)]
pub struct __mac_perim_handle {
    _p: [u8; 0],
}
pub type mac_perim_handle_t = *mut __mac_perim_handle;

/// `link_state_t`
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct link_state_t(pub c_int);

impl link_state_t {
    pub const LINK_STATE_UNKNOWN: Self = Self(-1);
    pub const LINK_STATE_DOWN: Self = Self(0);
    pub const LINK_STATE_UP: Self = Self(1);
}

pub const LINK_STATE_UNKNOWN: link_state_t = link_state_t::LINK_STATE_UNKNOWN;
pub const LINK_STATE_DOWN: link_state_t = link_state_t::LINK_STATE_DOWN;
pub const LINK_STATE_UP: link_state_t = link_state_t::LINK_STATE_UP;

/// `mac_prop_id_t`: public link properties (`sys/mac.h`). Only the head of
/// the C enumeration is given; the values are positional from 1.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct mac_prop_id_t(pub c_int);

impl mac_prop_id_t {
    pub const MAC_PROP_DUPLEX: Self = Self(0x0000_0001);
    pub const MAC_PROP_SPEED: Self = Self(2);
    pub const MAC_PROP_STATUS: Self = Self(3);
    pub const MAC_PROP_AUTONEG: Self = Self(4);
    pub const MAC_PROP_EN_AUTONEG: Self = Self(5);
    pub const MAC_PROP_MTU: Self = Self(6);
    pub const MAC_PROP_ZONE: Self = Self(7);
    pub const MAC_PROP_AUTOPUSH: Self = Self(8);
    pub const MAC_PROP_FLOWCTRL: Self = Self(9);
    /// Driver-private property, identified by name.
    pub const MAC_PROP_PRIVATE: Self = Self(-1);
}

pub const MAC_PROP_MTU: mac_prop_id_t = mac_prop_id_t::MAC_PROP_MTU;
pub const MAC_PROP_PRIVATE: mac_prop_id_t = mac_prop_id_t::MAC_PROP_PRIVATE;

// Property permissions (sys/mac.h), for mac_prop_info_set_perm() and the
// permission mac_prop_info() returns.
pub const MAC_PROP_PERM_READ: u8 = 0x01;
pub const MAC_PROP_PERM_WRITE: u8 = 0x10;
pub const MAC_PROP_PERM_RW: u8 = MAC_PROP_PERM_READ | MAC_PROP_PERM_WRITE;

/// `mac_capab_t`: capabilities queried through `mc_getcapab`
/// (`sys/mac_provider.h`). Powers of two.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct mac_capab_t(pub c_uint);

impl mac_capab_t {
    pub const MAC_CAPAB_HCKSUM: Self = Self(0x0000_0001);
    pub const MAC_CAPAB_LSO: Self = Self(0x0000_0008);
    pub const MAC_CAPAB_RINGS: Self = Self(0x0000_0010);
    pub const MAC_CAPAB_SHARES: Self = Self(0x0000_0020);
    pub const MAC_CAPAB_MULTIFACTADDR: Self = Self(0x0000_0040);
    pub const MAC_CAPAB_VNIC: Self = Self(0x0001_0000);
    pub const MAC_CAPAB_ANCHOR_VNIC: Self = Self(0x0002_0000);
    pub const MAC_CAPAB_AGGR: Self = Self(0x0004_0000);
    pub const MAC_CAPAB_NO_NATIVEVLAN: Self = Self(0x0008_0000);
    pub const MAC_CAPAB_NO_ZCOPY: Self = Self(0x0010_0000);
    pub const MAC_CAPAB_LEGACY: Self = Self(0x0020_0000);
    pub const MAC_CAPAB_VRRP: Self = Self(0x0040_0000);
    /// Boolean only: "this device is an overlay" (so MAC gives VNICs on top
    /// of it fanout rather than trusting a link speed).
    pub const MAC_CAPAB_OVERLAY: Self = Self(0x0080_0000);
    pub const MAC_CAPAB_TRANSCEIVER: Self = Self(0x0100_0000);
    pub const MAC_CAPAB_LED: Self = Self(0x0200_0000);
}

/// `mac_addrtype_t`
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct mac_addrtype_t(pub c_int);

impl mac_addrtype_t {
    pub const MAC_ADDRTYPE_UNICAST: Self = Self(0);
    pub const MAC_ADDRTYPE_MULTICAST: Self = Self(1);
    pub const MAC_ADDRTYPE_BROADCAST: Self = Self(2);
}

/// `mac_header_info_t`: what `mac_header_info`/`mac_vlan_header_info`
/// report about a frame's MAC header.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct mac_header_info_t {
    pub mhi_hdrsize: size_t,
    pub mhi_pktsize: size_t,
    pub mhi_daddr: *const u8,
    pub mhi_saddr: *const u8,
    pub mhi_origsap: u32,
    pub mhi_bindsap: u32,
    pub mhi_dsttype: mac_addrtype_t,
    pub mhi_tci: u16,
    pub mhi_istagged: boolean_t,
    pub mhi_ispvid: boolean_t,
}

/// `mac_propval_uint32_range_t`
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct mac_propval_uint32_range_t {
    pub mpur_min: u32,
    pub mpur_max: u32,
}

/// `mac_propval_type_t`
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct mac_propval_type_t(pub c_int);

impl mac_propval_type_t {
    pub const MAC_PROPVAL_UINT8: Self = Self(0);
    pub const MAC_PROPVAL_UINT32: Self = Self(1);
    pub const MAC_PROPVAL_STR: Self = Self(2);
}

/// `mac_propval_range_t` with its one-element union
/// (`u.mpr_uint32[1]`, `mpr_range_uint32`). Value-result for
/// `mac_prop_info`: set `mpr_count` to 1 before the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mac_propval_range_t {
    pub mpr_count: uint_t,
    pub mpr_type: mac_propval_type_t,
    pub mpr_range_uint32: [mac_propval_uint32_range_t; 1],
}

// Driver entry points (sys/mac_provider.h). `arg` is `m_driver`.
pub type mac_getstat_t =
    Option<unsafe extern "C" fn(arg: *mut c_void, stat: uint_t, val: *mut u64) -> c_int>;
pub type mac_start_t = Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>;
pub type mac_stop_t = Option<unsafe extern "C" fn(arg: *mut c_void)>;
pub type mac_setpromisc_t = Option<unsafe extern "C" fn(arg: *mut c_void, on: boolean_t) -> c_int>;
pub type mac_multicst_t =
    Option<unsafe extern "C" fn(arg: *mut c_void, add: boolean_t, addr: *const u8) -> c_int>;
pub type mac_unicst_t = Option<unsafe extern "C" fn(arg: *mut c_void, addr: *const u8) -> c_int>;
/// Transmit a `b_next` chain; return what could not be sent (MAC treats a
/// non-NULL return as flow control and waits for `mac_tx_update`).
pub type mac_tx_t = Option<unsafe extern "C" fn(arg: *mut c_void, mp: *mut mblk_t) -> *mut mblk_t>;
pub type mac_ioctl_t =
    Option<unsafe extern "C" fn(arg: *mut c_void, q: *mut queue_t, mp: *mut mblk_t)>;
pub type mac_getcapab_t = Option<
    unsafe extern "C" fn(arg: *mut c_void, cap: mac_capab_t, cap_data: *mut c_void) -> boolean_t,
>;
pub type mac_open_t = Option<unsafe extern "C" fn(arg: *mut c_void) -> c_int>;
pub type mac_close_t = Option<unsafe extern "C" fn(arg: *mut c_void)>;
pub type mac_set_prop_t = Option<
    unsafe extern "C" fn(
        arg: *mut c_void,
        pr_name: *const c_char,
        pr_num: mac_prop_id_t,
        pr_valsize: uint_t,
        pr_val: *const c_void,
    ) -> c_int,
>;
pub type mac_get_prop_t = Option<
    unsafe extern "C" fn(
        arg: *mut c_void,
        pr_name: *const c_char,
        pr_num: mac_prop_id_t,
        pr_valsize: uint_t,
        pr_val: *mut c_void,
    ) -> c_int,
>;
pub type mac_prop_info_t = Option<
    unsafe extern "C" fn(
        arg: *mut c_void,
        pr_name: *const c_char,
        pr_num: mac_prop_id_t,
        prh: mac_prop_info_handle_t,
    ),
>;

// mc_callbacks flags: which optional callbacks are set.
pub const MC_RESERVED: uint_t = 0x0001;
pub const MC_IOCTL: uint_t = 0x0002;
pub const MC_GETCAPAB: uint_t = 0x0004;
pub const MC_OPEN: uint_t = 0x0008;
pub const MC_CLOSE: uint_t = 0x0010;
pub const MC_SETPROP: uint_t = 0x0020;
pub const MC_GETPROP: uint_t = 0x0040;
pub const MC_PROPINFO: uint_t = 0x0080;
pub const MC_PROPERTIES: uint_t = MC_SETPROP | MC_GETPROP | MC_PROPINFO;

/// `mac_callbacks_t`: the driver's entry points, in C order. Optional
/// callbacks must also have their `MC_*` bit set in `mc_callbacks`.
#[repr(C)]
pub struct mac_callbacks_t {
    /// `MC_*` bits of the optional callbacks that are set.
    pub mc_callbacks: uint_t,
    pub mc_getstat: mac_getstat_t,
    pub mc_start: mac_start_t,
    pub mc_stop: mac_stop_t,
    pub mc_setpromisc: mac_setpromisc_t,
    pub mc_multicst: mac_multicst_t,
    pub mc_unicst: mac_unicst_t,
    pub mc_tx: mac_tx_t,
    /// Reserved, must be NULL.
    pub mc_reserved: *mut c_void,
    pub mc_ioctl: mac_ioctl_t,
    pub mc_getcapab: mac_getcapab_t,
    pub mc_open: mac_open_t,
    pub mc_close: mac_close_t,
    pub mc_setprop: mac_set_prop_t,
    pub mc_getprop: mac_get_prop_t,
    pub mc_propinfo: mac_prop_info_t,
}

// SAFETY: a callbacks table is immutable after it is built and is only read
// by MAC; the one raw pointer (`mc_reserved`) is always NULL.
unsafe impl Sync for mac_callbacks_t {}

/// `mac_register_t`: the registration a driver fills in between
/// `mac_alloc` and `mac_register` (fields in C order).
#[repr(C)]
pub struct mac_register_t {
    /// Set by `mac_alloc`.
    pub m_version: uint_t,
    /// MAC-type plugin, e.g. `MAC_PLUGIN_IDENT_ETHER`.
    pub m_type_ident: *const c_char,
    /// Driver-private argument passed to every callback.
    pub m_driver: *mut c_void,
    pub m_dip: *mut dev_info_t,
    /// `(uint_t)-1`: let MAC pick.
    pub m_instance: uint_t,
    pub m_src_addr: *mut u8,
    pub m_dst_addr: *mut u8,
    pub m_callbacks: *mut mac_callbacks_t,
    pub m_min_sdu: uint_t,
    pub m_max_sdu: uint_t,
    pub m_pdata: *mut c_void,
    pub m_pdata_size: size_t,
    pub m_priv_props: *mut *mut c_char,
    /// Extra bytes allowed beyond the SDU (`VLAN_TAGSZ` for tagged frames).
    pub m_margin: u32,
    /// `MAC_VIRT_*`
    pub m_v12n: u32,
    pub m_multicast_sdu: uint_t,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<mac_header_info_t>() == 56);
    assert!(offset_of!(mac_header_info_t, mhi_origsap) == 32);
    assert!(offset_of!(mac_header_info_t, mhi_dsttype) == 40);
    assert!(offset_of!(mac_header_info_t, mhi_tci) == 44);
    assert!(offset_of!(mac_header_info_t, mhi_istagged) == 48);
    assert!(offset_of!(mac_header_info_t, mhi_ispvid) == 52);
    assert!(size_of::<mac_propval_range_t>() == 16);
    assert!(size_of::<mac_callbacks_t>() == 128);
    assert!(offset_of!(mac_callbacks_t, mc_getstat) == 8);
    assert!(offset_of!(mac_callbacks_t, mc_tx) == 56);
    assert!(offset_of!(mac_callbacks_t, mc_reserved) == 64);
    assert!(offset_of!(mac_callbacks_t, mc_ioctl) == 72);
    assert!(offset_of!(mac_callbacks_t, mc_getcapab) == 80);
    assert!(offset_of!(mac_callbacks_t, mc_setprop) == 104);
    assert!(offset_of!(mac_callbacks_t, mc_getprop) == 112);
    assert!(offset_of!(mac_callbacks_t, mc_propinfo) == 120);
    assert!(size_of::<mac_register_t>() == 112);
    assert!(offset_of!(mac_register_t, m_type_ident) == 8);
    assert!(offset_of!(mac_register_t, m_driver) == 16);
    assert!(offset_of!(mac_register_t, m_dip) == 24);
    assert!(offset_of!(mac_register_t, m_instance) == 32);
    assert!(offset_of!(mac_register_t, m_src_addr) == 40);
    assert!(offset_of!(mac_register_t, m_dst_addr) == 48);
    assert!(offset_of!(mac_register_t, m_callbacks) == 56);
    assert!(offset_of!(mac_register_t, m_min_sdu) == 64);
    assert!(offset_of!(mac_register_t, m_max_sdu) == 68);
    assert!(offset_of!(mac_register_t, m_pdata) == 72);
    assert!(offset_of!(mac_register_t, m_pdata_size) == 80);
    assert!(offset_of!(mac_register_t, m_priv_props) == 88);
    assert!(offset_of!(mac_register_t, m_margin) == 96);
    assert!(offset_of!(mac_register_t, m_v12n) == 100);
    assert!(offset_of!(mac_register_t, m_multicast_sdu) == 104);
};

unsafe extern "C" {
    // sys/mac_provider.h
    /// A zeroed registration with `m_version` set, or NULL if `version` is
    /// not supported.
    pub fn mac_alloc(version: uint_t) -> *mut mac_register_t;
    pub fn mac_free(mregp: *mut mac_register_t);
    pub fn mac_register(mregp: *mut mac_register_t, mhp: *mut mac_handle_t) -> c_int;
    /// Fails (`EBUSY`) while clients (e.g. VNICs) are open on the MAC.
    pub fn mac_unregister(mh: mac_handle_t) -> c_int;
    /// Mark the MAC as going away: fails (`EBUSY`) if it is in use;
    /// on success no new client can open it.
    pub fn mac_disable(mh: mac_handle_t) -> c_int;
    pub fn mac_disable_nowait(mh: mac_handle_t) -> c_int;
    /// Deliver a `b_next` chain of received frames to the MAC clients.
    pub fn mac_rx(mh: mac_handle_t, mrh: mac_resource_handle_t, mp_chain: *mut mblk_t);
    pub fn mac_link_update(mh: mac_handle_t, link: link_state_t);
    /// Resume transmission after `mc_tx` returned frames.
    pub fn mac_tx_update(mh: mac_handle_t);
    pub fn mac_maxsdu_update(mh: mac_handle_t, sdu_max: uint_t) -> c_int;
    pub fn mac_sdu_get(mh: mac_handle_t, min_sdu: *mut uint_t, max_sdu: *mut uint_t);
    /// Fill in the STREAMS parts of a GLDv3 driver's `dev_ops` (or, with
    /// NULL, just record the driver name); call from `_init`.
    pub fn mac_init_ops(ops: *mut dev_ops, name: *const c_char);
    pub fn mac_fini_ops(ops: *mut dev_ops);
    /// The first minor number GLDv3 does not use for its own nodes.
    pub fn mac_private_minor() -> minor_t;
    pub fn mac_prop_info_set_default_uint32(ph: mac_prop_info_handle_t, val: u32);
    pub fn mac_prop_info_set_range_uint32(ph: mac_prop_info_handle_t, min: u32, max: u32);
    pub fn mac_prop_info_set_perm(ph: mac_prop_info_handle_t, perm: u8);

    // sys/mac_client_priv.h
    pub fn mac_header_info(
        mh: mac_handle_t,
        mp: *mut mblk_t,
        mhip: *mut mac_header_info_t,
    ) -> c_int;
    /// As `mac_header_info`, but looks through an 802.1Q tag.
    pub fn mac_vlan_header_info(
        mh: mac_handle_t,
        mp: *mut mblk_t,
        mhip: *mut mac_header_info_t,
    ) -> c_int;
    pub fn mac_perim_enter_by_mh(mh: mac_handle_t, mphp: *mut mac_perim_handle_t);
    pub fn mac_perim_exit(mph: mac_perim_handle_t);
    pub fn mac_perim_held(mh: mac_handle_t) -> boolean_t;
    pub fn mac_set_prop(
        mh: mac_handle_t,
        id: mac_prop_id_t,
        name: *mut c_char,
        val: *mut c_void,
        valsize: uint_t,
    ) -> c_int;
    pub fn mac_prop_info(
        mh: mac_handle_t,
        id: mac_prop_id_t,
        name: *mut c_char,
        default_val: *mut c_void,
        default_size: uint_t,
        range: *mut mac_propval_range_t,
        perm: *mut uint_t,
    ) -> c_int;
}
