//! The control-socket protocol of the Linux host (`overlayd`).
//!
//! On illumos, userland reaches the driver with `ioctl(2)` on `/dev/dld`
//! (the `OVERLAY_IOC_*` commands) and `/dev/overlay` (the
//! `OVERLAY_TARG_*` commands). On Linux the driver lives in `overlayd`,
//! and the same commands travel over a Unix stream socket (default
//! [`CTL_PATH`], mode 0600, root peers only): the illumos command number
//! and the illumos argument struct bytes go in, the illumos errno and the
//! struct bytes (as the driver would copy them out) come back. Nothing is
//! re-encoded: a struct is its `repr(C)` bytes in native byte order, as
//! on illumos, since both ends are on one host.
//!
//! One connection is one open of `/dev/overlay` once it sends
//! [`OVERLAY_HOST_OPEN`] (with `FREAD`/`FWRITE`/`FEXCL`, the illumos open
//! rules applying); before that it serves only the `/dev/dld` commands
//! and the host commands. Closing the connection closes the handle, which
//! returns its unanswered lookups to the queue.
//!
//! ```text
//! request:  ReqHdr { magic "OVq2", cmd, id, arg_len, data_len, flags, 0 } arg data
//! reply:    RepHdr { magic "OVr2", errno, id, arg_len, data_len, cmd, flags } arg data
//! ```
//!
//! A connection is **multiplexed**, as a descriptor is on illumos, where
//! the kernel runs concurrent ioctls on one open of `/dev/overlay` in
//! parallel: a client may have any number of commands in flight on one
//! connection, from any number of threads. Each request carries an `id`
//! the client chooses; the server answers every request exactly once,
//! with a reply carrying the same `id`, in whatever order the commands
//! finish. A `LOOKUP` that waits (up to a second) for work therefore
//! holds up nothing else on its connection, and varpd's lookup threads
//! (LOOKUP, RESPOND, PKT, INJECT, ...) share one handle as they share one
//! descriptor on illumos. The client must not reuse an `id` while its
//! reply is outstanding; the server does not look at it beyond echoing
//! it. (Version 1 had no ids and served one command at a time per
//! connection; its magics were "OVLq"/"OVLr", so a peer speaking it is
//! refused at its first header rather than misread.)
//!
//! A request may be **quiet** ([`REQ_F_QUIET`]): it is answered only if
//! it fails. varpd posts its RESPONDs and DROPs this way: the lookup
//! thread does not wait for a reply that is nearly always "done", and no
//! thread is woken to read one. The failure reply of a quiet request
//! carries [`REP_F_QUIET`] and, unlike any other failure reply, the
//! request's argument as received, so that the client can tell which
//! request failed (`otr_reqid`) without having kept a record of it.
//!
//! Headers are 32 bytes, 8-byte aligned, native byte order; `id` sits
//! at offset 8 so that it is naturally aligned. A reply names the
//! command it answers (`cmd`). A header whose magic is wrong, whose
//! lengths exceed [`MAX_PAYLOAD`] or that sets an unknown flag ends the
//! connection (the stream cannot be resynchronised), before any of its
//! payload is read.
//!
//! `data` carries the frame of `OVERLAY_TARG_INJECT` and `_RESEND` (in)
//! and of `OVERLAY_TARG_PKT` (out), where illumos passes a user pointer.
//! For `OVERLAY_TARG_LIST` and `_CACHE_ITER` the request carries only the
//! fixed header; the reply carries header and array.
//!
//! Host-only commands ([`HostCmd`], `OVERLAY_HOST_*`, module `'O' 'H'`)
//! stand in for what dlmgmtd and dld do on illumos: link ids for names,
//! and VNICs (TAP devices) on overlays. They exist only here.
//!
//! This module sits beside the ioctl ABI it carries so that both ends
//! take it from the bottom of the dependency graph: overlayd serves it,
//! `overlay-client` speaks it, neither owns it.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Default path of the control socket.
pub const CTL_PATH: &str = "/run/overlay/ctl";

/// Environment variable that overrides [`CTL_PATH`] for clients.
pub const CTL_ENV: &str = "OVERLAY_CTL";

/// Magic of a request header (version 2: with request ids).
pub const REQ_MAGIC: u32 = u32::from_be_bytes(*b"OVq2");
/// Magic of a reply header (version 2: with request ids).
pub const REP_MAGIC: u32 = u32::from_be_bytes(*b"OVr2");

/// Largest `arg` or `data` either side accepts.
pub const MAX_PAYLOAD: u32 = 256 * 1024;

/// [`ReqHdr::flags`]: answer only a failure (see the module
/// documentation).
pub const REQ_F_QUIET: u32 = 0x1;
/// Every request flag defined.
pub const REQ_F_ALL: u32 = REQ_F_QUIET;
/// [`RepHdr::flags`]: the failure reply of a quiet request; its argument
/// is the request's.
pub const REP_F_QUIET: u32 = 0x1;

/// Request header.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct ReqHdr {
    pub magic: u32,
    pub cmd: u32,
    /// Chosen by the client, echoed in the reply.
    pub id: u64,
    pub arg_len: u32,
    pub data_len: u32,
    /// `REQ_F_*`.
    pub flags: u32,
    /// Zero.
    pub reserved: u32,
}

/// Reply header. `errno` is an illumos errno (0: success); `id` that of
/// the request answered.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct RepHdr {
    pub magic: u32,
    pub errno: u32,
    pub id: u64,
    pub arg_len: u32,
    pub data_len: u32,
    /// The command answered.
    pub cmd: u32,
    /// `REP_F_*`.
    pub flags: u32,
}

/// Host commands: `('O' << 24) | ('H' << 16) | n`.
pub const OVERLAY_HOST_IOC: u32 = (b'O' as u32) << 24 | (b'H' as u32) << 16;
/// Open this connection as `/dev/overlay`: arg [`HostOpen`].
pub const OVERLAY_HOST_OPEN: u32 = OVERLAY_HOST_IOC | 0x01;
/// Allocate a link id for a name (dlmgmtd): arg [`HostLink`] in/out.
pub const OVERLAY_HOST_LINK_CREATE: u32 = OVERLAY_HOST_IOC | 0x10;
/// Free a link id: arg [`HostLink`] (by `hl_linkid`).
pub const OVERLAY_HOST_LINK_DELETE: u32 = OVERLAY_HOST_IOC | 0x11;
/// Look a name up: arg [`HostLink`] (by `hl_name`) in/out.
pub const OVERLAY_HOST_LINK_LOOKUP: u32 = OVERLAY_HOST_IOC | 0x12;
/// Every link: arg [`HostListHdr`] in; out header + `HostLink` array.
pub const OVERLAY_HOST_LINK_LIST: u32 = OVERLAY_HOST_IOC | 0x13;
/// Create a VNIC (a TAP device) on an overlay: arg [`HostVnic`] in/out.
pub const OVERLAY_HOST_VNIC_CREATE: u32 = OVERLAY_HOST_IOC | 0x20;
/// Delete a VNIC: arg [`HostVnic`] (by `hv_linkid`).
pub const OVERLAY_HOST_VNIC_DELETE: u32 = OVERLAY_HOST_IOC | 0x21;
/// Every VNIC: arg [`HostListHdr`] in; out header + `HostVnic` array.
pub const OVERLAY_HOST_VNIC_LIST: u32 = OVERLAY_HOST_IOC | 0x22;
/// Counters of an overlay or a VNIC: arg [`HostListHdr`] with the link
/// id in `hlh_linkid`; out header + [`HostStat`] array.
pub const OVERLAY_HOST_STATS: u32 = OVERLAY_HOST_IOC | 0x30;

/// The host commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostCmd {
    Open,
    LinkCreate,
    LinkDelete,
    LinkLookup,
    LinkList,
    VnicCreate,
    VnicDelete,
    VnicList,
    Stats,
}

impl HostCmd {
    pub const fn from_cmd(cmd: u32) -> Option<HostCmd> {
        Some(match cmd {
            OVERLAY_HOST_OPEN => HostCmd::Open,
            OVERLAY_HOST_LINK_CREATE => HostCmd::LinkCreate,
            OVERLAY_HOST_LINK_DELETE => HostCmd::LinkDelete,
            OVERLAY_HOST_LINK_LOOKUP => HostCmd::LinkLookup,
            OVERLAY_HOST_LINK_LIST => HostCmd::LinkList,
            OVERLAY_HOST_VNIC_CREATE => HostCmd::VnicCreate,
            OVERLAY_HOST_VNIC_DELETE => HostCmd::VnicDelete,
            OVERLAY_HOST_VNIC_LIST => HostCmd::VnicList,
            OVERLAY_HOST_STATS => HostCmd::Stats,
            _ => return None,
        })
    }
}

/// `FREAD`, `FWRITE`, `FEXCL` as illumos `<sys/file.h>`.
pub const FREAD: u32 = 0x01;
pub const FWRITE: u32 = 0x02;
pub const FEXCL: u32 = 0x400;

/// Argument of [`OVERLAY_HOST_OPEN`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct HostOpen {
    pub ho_flags: u32,
}

/// `DATALINK_CLASS_VNIC` (`sys/dls_mgmt.h`).
pub const DATALINK_CLASS_VNIC: u32 = 0x08;

/// A datalink: id, class, name.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct HostLink {
    pub hl_linkid: u32,
    /// `DATALINK_CLASS_*`.
    pub hl_class: u32,
    /// NUL-terminated, `MAXLINKNAMELEN`.
    pub hl_name: [u8; 32],
}

/// A VNIC: its datalink, its overlay, its MAC and the Linux interface
/// that carries it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct HostVnic {
    /// Out: the VNIC's link id (allocated with its name).
    pub hv_linkid: u32,
    /// The overlay it is on.
    pub hv_overlay: u32,
    /// In if `HV_F_MAC` is set, else out (random, locally administered).
    pub hv_mac: [u8; 6],
    pub hv_flags: u16,
    /// Out: the TAP's interface index.
    pub hv_ifindex: u32,
    /// The VNIC's name, which is also the TAP device's name.
    pub hv_name: [u8; 32],
}

/// `hv_flags`: `hv_mac` is given.
pub const HV_F_MAC: u16 = 0x1;

/// Header of a list request and reply: the number of entries the caller
/// has room for (in) and the number that exist (out), as
/// `OVERLAY_TARG_LIST`. `hlh_linkid` selects the link for
/// [`OVERLAY_HOST_STATS`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct HostListHdr {
    pub hlh_count: u32,
    pub hlh_linkid: u32,
}

/// One named counter.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct HostStat {
    /// NUL-terminated.
    pub hs_name: [u8; 32],
    pub hs_value: u64,
}

impl ReqHdr {
    /// A request header with the magic filled in.
    pub const fn new(cmd: u32, id: u64, arg_len: u32, data_len: u32) -> ReqHdr {
        ReqHdr {
            magic: REQ_MAGIC,
            cmd,
            id,
            arg_len,
            data_len,
            flags: 0,
            reserved: 0,
        }
    }

    /// Whether the magic, lengths and flags are acceptable (the id is
    /// the client's business).
    pub const fn is_valid(&self) -> bool {
        self.magic == REQ_MAGIC
            && self.arg_len <= MAX_PAYLOAD
            && self.data_len <= MAX_PAYLOAD
            && self.flags & !REQ_F_ALL == 0
            && self.reserved == 0
    }

    /// Whether only a failure is to be answered.
    pub const fn is_quiet(&self) -> bool {
        self.flags & REQ_F_QUIET != 0
    }
}

impl RepHdr {
    /// A reply header with the magic filled in.
    pub const fn new(errno: u32, id: u64, arg_len: u32, data_len: u32) -> RepHdr {
        RepHdr {
            magic: REP_MAGIC,
            errno,
            id,
            arg_len,
            data_len,
            cmd: 0,
            flags: 0,
        }
    }
}

impl HostCmd {
    /// Every host command, in command-number order.
    pub const ALL: [HostCmd; 9] = [
        HostCmd::Open,
        HostCmd::LinkCreate,
        HostCmd::LinkDelete,
        HostCmd::LinkLookup,
        HostCmd::LinkList,
        HostCmd::VnicCreate,
        HostCmd::VnicDelete,
        HostCmd::VnicList,
        HostCmd::Stats,
    ];

    /// The command number.
    pub const fn cmd(self) -> u32 {
        match self {
            HostCmd::Open => OVERLAY_HOST_OPEN,
            HostCmd::LinkCreate => OVERLAY_HOST_LINK_CREATE,
            HostCmd::LinkDelete => OVERLAY_HOST_LINK_DELETE,
            HostCmd::LinkLookup => OVERLAY_HOST_LINK_LOOKUP,
            HostCmd::LinkList => OVERLAY_HOST_LINK_LIST,
            HostCmd::VnicCreate => OVERLAY_HOST_VNIC_CREATE,
            HostCmd::VnicDelete => OVERLAY_HOST_VNIC_DELETE,
            HostCmd::VnicList => OVERLAY_HOST_VNIC_LIST,
            HostCmd::Stats => OVERLAY_HOST_STATS,
        }
    }

    /// The C-style name, for diagnostics.
    pub const fn name(self) -> &'static str {
        match self {
            HostCmd::Open => "OVERLAY_HOST_OPEN",
            HostCmd::LinkCreate => "OVERLAY_HOST_LINK_CREATE",
            HostCmd::LinkDelete => "OVERLAY_HOST_LINK_DELETE",
            HostCmd::LinkLookup => "OVERLAY_HOST_LINK_LOOKUP",
            HostCmd::LinkList => "OVERLAY_HOST_LINK_LIST",
            HostCmd::VnicCreate => "OVERLAY_HOST_VNIC_CREATE",
            HostCmd::VnicDelete => "OVERLAY_HOST_VNIC_DELETE",
            HostCmd::VnicList => "OVERLAY_HOST_VNIC_LIST",
            HostCmd::Stats => "OVERLAY_HOST_STATS",
        }
    }

    /// The fixed argument a request carries: the struct, or for the list
    /// commands the [`HostListHdr`].
    pub const fn arg_size(self) -> usize {
        match self {
            HostCmd::Open => size_of::<HostOpen>(),
            HostCmd::LinkCreate | HostCmd::LinkDelete | HostCmd::LinkLookup => {
                size_of::<HostLink>()
            }
            HostCmd::VnicCreate | HostCmd::VnicDelete => size_of::<HostVnic>(),
            HostCmd::LinkList | HostCmd::VnicList | HostCmd::Stats => size_of::<HostListHdr>(),
        }
    }

    /// For the list commands, the size of one element of the array that
    /// follows the [`HostListHdr`] in the reply.
    pub const fn entry_size(self) -> Option<usize> {
        match self {
            HostCmd::LinkList => Some(size_of::<HostLink>()),
            HostCmd::VnicList => Some(size_of::<HostVnic>()),
            HostCmd::Stats => Some(size_of::<HostStat>()),
            _ => None,
        }
    }
}

/// The bytes of a NUL-terminated name field, lossily as text (for
/// display; an unterminated field is taken whole).
fn name_field(b: &[u8]) -> alloc::borrow::Cow<'_, str> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    alloc::string::String::from_utf8_lossy(&b[..end])
}

impl HostLink {
    /// `hl_name` as text.
    pub fn name(&self) -> alloc::borrow::Cow<'_, str> {
        name_field(&self.hl_name)
    }
}

impl HostVnic {
    /// `hv_name` as text.
    pub fn name(&self) -> alloc::borrow::Cow<'_, str> {
        name_field(&self.hv_name)
    }
}

impl HostStat {
    /// `hs_name` as text.
    pub fn name(&self) -> alloc::borrow::Cow<'_, str> {
        name_field(&self.hs_name)
    }
}

const _: () = assert!(size_of::<ReqHdr>() == 32);
const _: () = assert!(size_of::<RepHdr>() == 32);
const _: () = assert!(align_of::<ReqHdr>() == 8 && align_of::<RepHdr>() == 8);
const _: () = assert!(core::mem::offset_of!(ReqHdr, id) == 8);
const _: () = assert!(core::mem::offset_of!(RepHdr, id) == 8);
const _: () = assert!(size_of::<HostLink>() == 40);
const _: () = assert!(size_of::<HostVnic>() == 52);
const _: () = assert!(size_of::<HostListHdr>() == 8);
const _: () = assert!(size_of::<HostStat>() == 40);
