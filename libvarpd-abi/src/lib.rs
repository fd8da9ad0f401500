//! # libvarpd-abi: the varpd search-plugin ABI
//!
//! Where this crate sits among the others: `ARCHITECTURE.md` at the
//! repository root.
//!
//! ## Theory statement
//!
//! varpd answers the kernel's "where does this MAC live?" questions
//! through search plugins, shared objects it `dlopen`s. The contract
//! between the two is illumos' `libvarpd_provider.h`, shipped here as
//! `include/libvarpd_provider.h`: a plugin hands varpd a registration
//! (version, mode, name, ops vector), varpd calls the ops, and the plugin
//! calls back into a fixed set of library functions (reply to a query,
//! proxy ARP/NDP/DHCP, describe a property, inject a cache entry, degrade
//! the overlay). Nothing else crosses: no Rust types, no Rust heap
//! objects; a plugin's state is a `void *` only the plugin reads.
//!
//! * [`sys`] is the `repr(C)` mirror of the header, with layout
//!   assertions (and a test compiling the header with `cc` checks the C
//!   side of the same numbers).
//! * [`sdk`] is the safe Rust side for plugin authors: the
//!   [`Plugin`](sdk::Plugin) trait and [`varpd_plugin!`], which emits the
//!   registration as an exported `varpd_plugin_init` that varpd calls
//!   after `dlopen` (an explicit symbol rather than a load-time
//!   constructor, so no `ctor` machinery and no code running inside the
//!   dynamic loader). C plugins may use either that symbol or an illumos
//!   style constructor.
//! * [`errno`] converts between the host's errnos, which plugin ops
//!   return, and the illumos errnos varpd speaks to its clients.
//!
//! ## A plugin in Rust
//!
//! ```rust,no_run
//! use std::ffi::CStr;
//! use libvarpd_abi::sdk::*;
//!
//! /// Sends everything to one fixed host (a toy `direct`).
//! struct Fixed(Point);
//!
//! impl Plugin for Fixed {
//!     const NAME: &'static CStr = c"fixed";
//!     const MODE: Mode = Mode::Dynamic;
//!
//!     fn create(_p: Provider, _dest: u32) -> Result<Self, Errno> {
//!         let ip = In6Addr::from("192.0.2.1".parse::<std::net::IpAddr>().unwrap());
//!         Ok(Fixed(Point::new(EtherAddr::ZERO, ip, 4789)))
//!     }
//!     fn start(&self) -> Result<(), Errno> { Ok(()) }
//!     fn lookup(&self, q: Query) { q.reply(self.0) }
//!     fn nprops(&self) -> u32 { 0 }
//!     fn propinfo(&self, _i: u32, _p: &mut PropInfo) -> Result<(), Errno> {
//!         Err(Errno::EINVAL)
//!     }
//!     fn getprop(&self, _n: &str, _b: &mut [u8]) -> Result<usize, Errno> {
//!         Err(Errno::EINVAL)
//!     }
//!     fn setprop(&self, _n: &str, _v: &[u8]) -> Result<(), Errno> {
//!         Err(Errno::EINVAL)
//!     }
//!     fn save(&self, _nv: &mut NvList) -> Result<(), Errno> { Ok(()) }
//!     fn restore(_nv: &NvList, p: Provider, dest: u32) -> Result<Self, Errno> {
//!         Fixed::create(p, dest)
//!     }
//! }
//!
//! libvarpd_abi::varpd_plugin!(Fixed);
//! ```
//!
//! Built as a `cdylib` and dropped into a plugin directory, it is then
//! `dladm create-overlay -s fixed ...`.
//!
//! Differences from illumos, all in the header: the handful of
//! `libnvpair` functions plugins use for save/restore are provided by
//! varpd off illumos; `libvarpd_plugin_bunyan` is absent (varpd logs with
//! `tracing`); `libvarpd_panic` prints its format string unformatted
//! (a variadic definition needs unstable Rust).

pub mod errno;
pub mod sdk;
pub mod sys;

pub use overlay::Errno;
