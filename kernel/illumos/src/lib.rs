//! # `drv/overlay`: the illumos kernel module
//!
//! This crate is the illumos kernel driver `overlay`: the GLDv3, DDI,
//! dld, ksocket and STREAMS glue around the platform-free driver core
//! (`kernel/overlay`, crate `overlay`). It is a `no_std` staticlib built
//! for a kernel target and linked into an ELF relocatable module (see
//! `README.md`); it runs nowhere else.
//!
//! ## Theory statement: the layering
//!
//! ```text
//!   dladm ──/dev/dld──▶ dld ──dld_ioc table──▶ dld.rs ──▶ ioctl::dld_ioctl ─┐
//!   varpd ─/dev/overlay▶ cb_ops ────────────▶ ctl.rs ──▶ ioctl::targ_ioctl ─┤
//!                                                                           ▼
//!   MAC ──mc_tx/mc_start/mc_stop/mc_*prop──▶ link.rs ──────────────▶ Overlay (core)
//!   UDP ──ksocket direct receive──────────▶ ksock.rs ──▶ Mux::rx_batch ───▲  │
//!                                                                         │  │ Platform
//!   MAC clients ◀─mac_rx── platform.rs ◀──────────────────────────────────┴──┘
//! ```
//!
//! The core owns every decision: which device, which destination, which
//! errno, which frame waits for varpd. It reaches the kernel only
//! through [`IllumosPlatform`](platform::IllumosPlatform), the core's
//! `Platform` over `kmutex_t`/`krwlock_t`/`kcondvar_t` ([`sync`]),
//! `mblk_t` messages ([`mblk`]), kernel UDP sockets ([`ksock`]) and
//! registered MAC providers ([`link`]). The glue above the core only
//! moves bytes across the user boundary and translates entry points:
//!
//! - [`module`]: module linkage (`_init`, `_info`, `_fini`), the DDI
//!   driver (attach/detach/getinfo, `dev_ops`, `cb_ops`) and the globals
//!   (the driver instance, created at attach; the dev_info).
//! - [`dld`]: the eight `OVERLAY_IOC_*` commands, registered with
//!   `dld_ioc_register` from the core's `DldIoctl` table; dld copies the
//!   argument structs.
//! - [`ctl`]: `/dev/overlay` open/close/ioctl, with clone minors, the
//!   illumos open rules and the copy-in/copy-out of the target ioctls
//!   (including 32-bit callers' `overlay_targ_pkt_t`).
//! - [`link`]: the MAC callbacks, and the registration and teardown of a
//!   device's MAC provider and datalink.
//! - [`ksock`]: mux sockets and the receive callback.
//! - [`runtime`]: the kmem global allocator, the panic handler and
//!   console logging; [`sdt`]: the DTrace probes; [`sys_extra`]:
//!   bindings `illumos-sys-hdrs` lacks.
//!
//! ## Contexts and locks
//!
//! - ioctls, opens, closes, attach/detach and `mc_start`/`mc_stop` run in
//!   kernel thread context and may sleep (allocation with `KM_SLEEP`,
//!   `ksocket_close`, `id_alloc`, `cv_timedwait` in `OVERLAY_TARG_LOOKUP`).
//! - `mc_tx` runs in the sender's thread or a MAC worker; the hit path
//!   takes the device's target lock for reading, uses a pooled scratch,
//!   and sends with `ksocket_sendmblk`.
//! - The ksocket receive callback runs in the UDP receive path (soft ring
//!   or interrupt thread): it never sleeps or allocates; it frees and
//!   re-links `mblk_t`s, decapsulates and calls `mac_rx`.
//! - All locks are adaptive kmutexes and krwlocks taken in the core's
//!   order; the glue adds only short leaf locks (the clone table, the
//!   scratch pool, the create serialiser) and never holds one across a
//!   call into MAC, dls or ksocket, except `CREATE`'s serialiser, which is
//!   held across `mac_register`/`dls_devnet_create` (nothing those call
//!   re-enters this module's create path).
//!
//! ## Lifetimes
//!
//! `_init` calls `mac_init_ops(NULL, "overlay")`, as `overlay.c` does:
//! that marks the driver GLDv3 without turning its `cb_ops` into dld's
//! STREAMS entry points, so `/dev/overlay` stays the target ioctl device
//! (and there is no `mac_fini_ops` to call in `_fini`).
//!
//! A device (`Arc<Device>`) owns its [`MacLink`](link::MacLink);
//! dropping the link unregisters the MAC. A mux owns its socket; closing
//! it waits for receive callbacks, and a mux that dies inside its own
//! callback has its socket closed later from thread context (see
//! [`ksock`]). The driver instance lives from attach to detach; detach
//! and `_fini` refuse (`EBUSY`) while overlays exist or `/dev/overlay`
//! is open. Plugins are separate modules that depend on this one, so
//! krtld unloads them first.
//!
//! Every `unsafe` block says why it is sound (`// SAFETY:`).

#![no_std]
#![deny(unused_must_use)]

extern crate alloc;

mod ctl;
mod dld;
mod ksock;
mod link;
mod mblk;
mod module;
mod platform;
/// The runtime shared by every Rust kernel module of the project.
use illumos_kmod_rt as runtime;

illumos_kmod_rt::module_name!("overlay");
mod sdt;
mod sync;
mod sys_extra;

/// The modules this one needs, for krtld, which reads `_depends_on` when
/// a module carries no `DT_NEEDED` entries (it is linked here with GNU
/// `ld -r`, which cannot write them; on illumos the same list is given
/// as `-N` flags). The last byte is the only NUL.
#[unsafe(no_mangle)]
#[used]
pub static _depends_on: [u8; DEPENDS_ON.len()] = *DEPENDS_ON;

const DEPENDS_ON: &[u8; 39] = b"misc/mac drv/dld misc/dls misc/ksocket\0";
