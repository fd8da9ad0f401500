//! # The overlay driver hosted in a Linux process
//!
//! Where this crate sits among the others: `ARCHITECTURE.md` at the
//! repository root.
//!
//! `overlayd` runs the driver core (`overlay`) in user space, for real:
//!
//! * **VNICs** are TAP devices attached to an overlay's virtual switch
//!   ([`switch`]); a VNIC may be moved into any network namespace and
//!   keeps working, since the daemon holds its file descriptor.
//! * **The underlay** is one UDP socket per mux ([`sock`]), bound to the
//!   plugin's `listen_ip:listen_port`, IPv4 or IPv6, batched with
//!   `recvmmsg`/`sendmmsg`.
//! * **Userland** reaches the driver through a control socket ([`ctl`])
//!   that carries the illumos ioctl ABI byte for byte, plus a few
//!   host-only commands standing in for dlmgmtd and dld ([`host`]).
//!
//! Threads: one per VNIC reading its TAP and transmitting (switching
//! locally or through the overlay), one per mux socket receiving and
//! delivering, one per control connection (plus workers for its slow
//! commands, and one thread timing out parked LOOKUPs). None of the
//! data-path threads ever waits on a control connection or on varpd: a
//! cache miss queues the frame in the driver and moves on, answering a
//! LOOKUP varpd has waiting on the way if it can do so without waiting
//! (see [`ctl`]).

pub mod ctl;
pub mod errno;
pub mod gro;
pub mod host;
pub mod offload;
pub mod platform;
pub mod pool;
pub mod sock;
pub mod switch;
pub mod tap;

pub use host::Host;
pub use platform::LinuxPlatform;
