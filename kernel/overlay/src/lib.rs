//! # The overlay driver core
//!
//! Where this crate sits among the others: `ARCHITECTURE.md` at the
//! repository root.
//!
//! This crate is the platform-free heart of the illumos `overlay` driver:
//! everything that `overlay.c`, `overlay_target.c`, `overlay_mux.c`,
//! `overlay_plugin.c` and `overlay_prop.c` do, without any of the kernel
//! services they do it with. It is `no_std` + `alloc`; a host supplies
//! frames, sockets, locks, wakeups and delivery through the [`Platform`]
//! trait. Two hosts exist: the illumos kernel module (`kernel/illumos`,
//! over `mblk_t`, ksocket, kmutex and `mac_rx`) and the Linux user-space
//! daemon (`kernel/linux`, over owned buffers, UDP sockets and TAP
//! devices).
//!
//! ## Theory statement
//!
//! An overlay device is a virtual switch that spans hosts. Two questions
//! are kept apart, as in illumos:
//!
//! 1. *How* does a frame go on the wire? An encapsulation plugin answers
//!    (`vxlan`), registered through the C ABI of [`plugin::abi`]. Plugins
//!    are found by name when a device is created and cannot be unloaded
//!    while a device uses them.
//! 2. *Where* does it go? varpd answers, in user land. The driver keeps a
//!    per-device *target* ([`target`]): in point mode one destination for
//!    every frame; in dynamic mode a cache keyed by destination MAC. A
//!    miss never blocks the sender: the frame is queued on its cache entry
//!    (at most 128 KiB per entry) and the entry is posted to a single
//!    global lookup queue. varpd's threads sit in `OVERLAY_TARG_LOOKUP`,
//!    take one entry each, and answer with `RESPOND` (the queued frames go
//!    out at once) or `DROP` (the head frame is freed; the entry is posted
//!    again if frames remain). Outstanding requests belong to the control
//!    handle (one open of `/dev/overlay`) that took them; closing the
//!    handle puts them back on the queue, so a varpd crash loses nothing.
//!
//! ```text
//!  MAC client ──tx──▶ device ──▶ target ──hit──▶ plugin encap ──▶ mux socket
//!                                  │ miss
//!                                  ▼
//!                       entry queue ──▶ lookup queue ──LOOKUP──▶ varpd
//!                                  ▲                               │
//!                                  └──────RESPOND / DROP───────────┘
//!
//!  mux socket ──rx──▶ plugin decap ──vnetid──▶ device ──▶ MAC clients
//! ```
//!
//! Underlay sockets are shared: a *mux* ([`mux`]) is one bound socket per
//! (family, address, port, plugin), opened when the first device using it
//! starts, closed when the last stops; received frames find their device
//! by virtual network id.
//!
//! Devices ([`dev`]) carry the generic properties (`mtu`, `vnetid`,
//! `encap`, `varpd/id`) and their plugin's, and become immutable once
//! activated. The ioctl entry points ([`ioctl`]) decode the illumos
//! argument structs and return illumos errnos.
//!
//! Locking: each device's target is behind a reader-writer lock that the
//! transmit hit path takes for reading only, for as long as it takes to
//! copy a destination out. Control operations take it for writing and
//! never call out (to the plugin, the platform, or a socket) while holding
//! it: frames released by a `RESPOND` are sent after the lock is dropped.
//! The lookup queue has its own mutex; no lock is ever held across a
//! wait. So nothing varpd does can stall the data path for longer than a
//! table update.

#![no_std]
#![deny(missing_debug_implementations)]

extern crate alloc;

pub mod abi;
pub mod errno;
pub mod plugin;

#[cfg(feature = "engine")]
pub mod buf;
#[cfg(feature = "engine")]
pub mod dev;
#[cfg(feature = "engine")]
pub mod driver;
#[cfg(feature = "engine")]
pub mod ether;
#[cfg(any(test, feature = "std"))]
pub mod hosted;
#[cfg(feature = "engine")]
pub mod ioctl;
#[cfg(feature = "engine")]
pub mod mux;
#[cfg(feature = "engine")]
pub mod platform;
#[cfg(feature = "engine")]
pub mod prop;
#[cfg(feature = "engine")]
pub mod target;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

#[cfg(feature = "engine")]
pub use driver::{Cred, CtlHandle, OpenFlags, Overlay};
pub use errno::Errno;
#[cfg(feature = "engine")]
pub use platform::Platform;
