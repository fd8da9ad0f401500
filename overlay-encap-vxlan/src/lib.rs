//! # The VXLAN encapsulation plugin
//!
//! A port of illumos `usr/src/uts/common/io/overlay/plugins/overlay_vxlan.c`:
//! the plugin that tells the overlay driver *how* a frame goes on the
//! wire when a device is created with `-e vxlan`.
//!
//! ## Theory statement
//!
//! The overlay driver knows nothing about VXLAN. It finds plugins by name
//! in a registry that plugins enter through the C ABI of
//! `overlay::plugin::abi`: a plugin fills an `overlay_plugin_register_t`
//! (name `vxlan`, 3-byte virtual network ids, inner 802.1Q tags allowed,
//! destinations of IP address + UDP port, properties
//! `vxlan/listen_ip` and `vxlan/listen_port`, and an ops vector) and
//! calls `overlay_plugin_register`. That is all [`overlay_vxlan_init`]
//! does. Nothing else links the two: this crate depends on the driver's
//! ABI types only, never on its engine, so that it is a module of its
//! own — the `overlay/vxlan` misc module on illumos (build the
//! staticlib with the `kmod` feature for a kernel target), an object
//! linked into the user-space host on Linux, where start-up calls
//! [`overlay_vxlan_init`] (or [`register`]) once.
//!
//! The driver makes one plugin *instance* per overlay device
//! (`ovpo_init`), holding that device's listen address and port
//! ([`instance::Vxlan`]). It asks the instance for the parameters of
//! the underlay socket — an `AF_INET6` UDP socket bound to
//! `[listen_ip]:listen_port` — when the device starts, and shares one
//! such socket (a *mux*) among all devices with the same address, port
//! and plugin; received packets find their device by the VNI that
//! `decap` reads. Properties are validated and stored by the instance;
//! they are fixed once the device is activated.
//!
//! On the data path the plugin is pure computation on bytes, with no
//! allocation, no lock and no instance state:
//!
//! ```text
//!  TX  inner frame ──encap──▶ [VXLAN hdr 8 B] + inner frame   (+ src port)
//!  RX  [VXLAN hdr 8 B] + inner frame ──decap──▶ VNI, header length 8
//! ```
//!
//! ## Wire format (RFC 7348)
//!
//! `outer Ethernet | outer IPv4/IPv6 | UDP (dst 4789) | VXLAN | inner
//! Ethernet frame (no FCS)`. The VXLAN header ([`wire`]) is two
//! big-endian words: flags `0x08000000` (only the I bit: "the VNI is
//! valid"; all other bits reserved) and `vni << 8`. We send exactly
//! that; on receipt, like illumos, we require the I bit and ignore
//! every reserved bit, as RFC 7348 asks. VNIs are 24 bits
//! (0..=16777215).
//!
//! ## Source-port entropy
//!
//! Between two VTEPs every tunnel packet has the same outer addresses,
//! protocol and destination port; only the UDP *source* port is free.
//! ECMP routers and LACP bonds hash the outer 5-tuple to pick a path,
//! so RFC 7348 §5 recommends deriving the source port from a hash of
//! the inner frame, taken from the dynamic/private range 49152–65535
//! (ports no service is assigned, which middleboxes do not treat as
//! a well-known application, and 2^14 wide, so the 14 bits we keep map
//! exactly onto it). The same inner flow must always get the same port
//! — otherwise its packets take different paths and arrive reordered —
//! and different flows should spread evenly. illumos delegated this to
//! UDP (`UDP_SRCPORT_HASH`, via the `vxlan_fanout` tunable, here
//! [`VXLAN_FANOUT`]); this Rust port computes it in the plugin
//! ([`flow`]: inner MACs, IP addresses and protocol, TCP/UDP/SCTP
//! ports, mixed by three 64×64→128-bit folded multiplies; no
//! allocation, no state) and returns it in `ovdi_src_port`, so it works
//! on any host. The `sockopt` op still asks for `UDP_SRCPORT_HASH`, for
//! hosts that prefer their own.
//!
//! ## Differences from illumos
//!
//! * `encap` writes the header into a driver-provided buffer instead of
//!   allocating or prepending into an `mblk_t`: the driver does the
//!   `vxlan_noalloc_min`/`vxlan_alloc_size` choice.
//! * `sockopt` lists the options rather than setting them on a ksocket.
//! * Every op checks its pointers and returns `EINVAL` for NULL.
//! * The instance is lock-free (see [`instance`]).

#![no_std]
#![deny(missing_debug_implementations)]

extern crate alloc;

// This crate is also a staticlib, and cargo builds every crate type of
// a library, even when it is only a dependency. A staticlib is a final
// artifact: it needs a panic handler and a global allocator. For every
// hosted build (the Linux host, the driver's tests, fuzzing, `cargo
// build --target x86_64-unknown-illumos`) std supplies both, so std is
// linked here although no code uses it. The `kmod` feature replaces
// std with the kernel runtime in `kmod.rs` instead.
#[cfg(not(feature = "kmod"))]
extern crate std;

pub mod flow;
pub mod instance;
pub mod ops;
pub mod prop;
pub mod wire;

#[cfg(all(feature = "kmod", not(test)))]
mod kmod;

use core::sync::atomic::AtomicBool;

pub use instance::{SocketParams, Vxlan};
pub use ops::{Encap, VXLAN_NAME, VXLAN_OPS, decap, encap, fill_registration};
pub use overlay::Errno;
pub use prop::{PropInfoSpec, VxlanProp, propinfo};
pub use wire::{
    IPPORT_VXLAN, VXLAN_F_VDI, VXLAN_HDR_LEN, VXLAN_ID_LEN, VXLAN_ID_SHIFT, VxlanHeader, VxlanRepr,
};

/// illumos `vxlan_fanout`: spread tunnel traffic over outer UDP source
/// ports by inner flow. On (the illumos default): `sockopt` asks for
/// `UDP_SRCPORT_HASH` and `encap` returns a flow-hash source port. Off:
/// no option, and `ovdi_src_port` 0 (the socket's bound port is used).
/// Read on every encap with a relaxed load; change it before devices
/// start for a consistent mux.
pub static VXLAN_FANOUT: AtomicBool = AtomicBool::new(true);

// The entry points below call into the driver, whose symbols are absent
// from this crate's unit-test binary (they are tested against a mock
// through `ops::init_with` and `ops::fini_with`), so they are compiled
// out of it: a `#[no_mangle]` function is always kept by the linker.

/// Registers the vxlan plugin with the overlay driver: what the illumos
/// module's `_init` does, minus `mod_install`. Returns 0 or an illumos
/// errno: `ENOTSUP` if the driver does not speak `OVEP_VERSION`,
/// `EEXIST` if `vxlan` is already registered, `EINVAL` if the driver
/// rejects the record.
#[cfg(not(test))]
#[unsafe(no_mangle)]
pub extern "C" fn overlay_vxlan_init() -> core::ffi::c_int {
    ops::init_with(&ops::ExternDriver, || 0)
}

/// Unregisters the vxlan plugin: `EBUSY` while a device uses it,
/// `ENOENT` if it is not registered.
#[cfg(not(test))]
#[unsafe(no_mangle)]
pub extern "C" fn overlay_vxlan_fini() -> core::ffi::c_int {
    ops::fini_with(&ops::ExternDriver, || 0)
}

/// [`overlay_vxlan_init`] as a `Result`.
#[cfg(not(test))]
pub fn register() -> Result<(), Errno> {
    Errno::result(overlay_vxlan_init())
}

/// [`overlay_vxlan_fini`] as a `Result`.
#[cfg(not(test))]
pub fn unregister() -> Result<(), Errno> {
    Errno::result(overlay_vxlan_fini())
}
