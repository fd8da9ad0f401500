//! The `OVERLAY_TARG_*` commands that varpd issues on `/dev/overlay`
//! (`sys/overlay_target.h`), and the target-cache entry flags of
//! `overlay_impl.h`.
//!
//! Unlike the `/dev/dld` commands, the driver copies these itself, so two
//! of them carry variable-length arrays after a fixed header (LIST and
//! CACHE_ITER) and one (PKT and friends) has a separate ILP32 layout
//! because it holds a user pointer.

use core::mem::{offset_of, size_of};

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::addr::{EtherAddr, In6Addr};
use super::common::OVERLAY_STATUS_BUFLEN;
use crate::errno::Errno;

/// `OVERLAY_TARG_IOCTL`: `('o' << 24) | ('v' << 16) | ('t' << 8)`.
pub const OVERLAY_TARG_IOCTL: u32 = (b'o' as u32) << 24 | (b'v' as u32) << 16 | (b't' as u32) << 8;

const _: () = assert!(OVERLAY_TARG_IOCTL == 0x6F76_7400);

pub const OVERLAY_TARG_INFO: u32 = OVERLAY_TARG_IOCTL | 0x01;
pub const OVERLAY_TARG_ASSOCIATE: u32 = OVERLAY_TARG_IOCTL | 0x02;
pub const OVERLAY_TARG_DISASSOCIATE: u32 = OVERLAY_TARG_IOCTL | 0x03;
pub const OVERLAY_TARG_DEGRADE: u32 = OVERLAY_TARG_IOCTL | 0x04;
pub const OVERLAY_TARG_RESTORE: u32 = OVERLAY_TARG_IOCTL | 0x05;
pub const OVERLAY_TARG_LOOKUP: u32 = OVERLAY_TARG_IOCTL | 0x10;
pub const OVERLAY_TARG_RESPOND: u32 = OVERLAY_TARG_IOCTL | 0x11;
pub const OVERLAY_TARG_DROP: u32 = OVERLAY_TARG_IOCTL | 0x12;
pub const OVERLAY_TARG_INJECT: u32 = OVERLAY_TARG_IOCTL | 0x13;
pub const OVERLAY_TARG_PKT: u32 = OVERLAY_TARG_IOCTL | 0x14;
pub const OVERLAY_TARG_RESEND: u32 = OVERLAY_TARG_IOCTL | 0x15;
pub const OVERLAY_TARG_LIST: u32 = OVERLAY_TARG_IOCTL | 0x20;
pub const OVERLAY_TARG_CACHE_GET: u32 = OVERLAY_TARG_IOCTL | 0x30;
pub const OVERLAY_TARG_CACHE_SET: u32 = OVERLAY_TARG_IOCTL | 0x31;
pub const OVERLAY_TARG_CACHE_REMOVE: u32 = OVERLAY_TARG_IOCTL | 0x32;
pub const OVERLAY_TARG_CACHE_FLUSH: u32 = OVERLAY_TARG_IOCTL | 0x33;
pub const OVERLAY_TARG_CACHE_ITER: u32 = OVERLAY_TARG_IOCTL | 0x34;

// `overlay_targ_info_flags_t`, in `oti_flags`.

pub const OVERLAY_TARG_INFO_F_ACTIVE: u64 = 0x01;
pub const OVERLAY_TARG_INFO_F_DEGRADED: u64 = 0x02;

/// `otce_flags`: the entry answers every frame with a drop.
pub const OVERLAY_TARGET_CACHE_DROP: u16 = 0x01;

/// `OVERLAY_TARGET_ITER_MAX`: caps what one CACHE_ITER makes the kernel
/// allocate on the caller's behalf.
pub const OVERLAY_TARGET_ITER_MAX: u16 = 500;

// `overlay_target_entry_flags_t` (`overlay_impl.h`): the state of a
// dynamic-mode cache entry. Kernel-internal, but varpd-visible through
// CACHE_GET/ITER as `OVERLAY_TARGET_CACHE_DROP`.

/// Queued for, or awaiting an answer from, varpd.
pub const OVERLAY_ENTRY_F_PENDING: u8 = 0x01;
/// The destination is valid.
pub const OVERLAY_ENTRY_F_VALID: u8 = 0x02;
/// Always drop (checked before VALID).
pub const OVERLAY_ENTRY_F_DROP: u8 = 0x04;
/// VALID or DROP: the entry has an answer.
pub const OVERLAY_ENTRY_F_VALID_MASK: u8 = 0x06;

/// `overlay_target_point_t`: where to send a frame. Which fields count
/// depends on the plugin's `OVERLAY_PLUGIN_D_*` needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargetPoint {
    pub otp_mac: EtherAddr,
    pub _pad0: [u8; 2],
    pub otp_ip: In6Addr,
    /// Host byte order.
    pub otp_port: u16,
    pub _pad1: [u8; 2],
}

const _: () = assert!(size_of::<OverlayTargetPoint>() == 28);
const _: () = assert!(core::mem::align_of::<OverlayTargetPoint>() == 4);
const _: () = assert!(offset_of!(OverlayTargetPoint, otp_mac) == 0);
const _: () = assert!(offset_of!(OverlayTargetPoint, otp_ip) == 8);
const _: () = assert!(offset_of!(OverlayTargetPoint, otp_port) == 24);

impl OverlayTargetPoint {
    /// A point with the padding zeroed.
    pub const fn new(mac: EtherAddr, ip: In6Addr, port: u16) -> OverlayTargetPoint {
        OverlayTargetPoint {
            otp_mac: mac,
            _pad0: [0; 2],
            otp_ip: ip,
            otp_port: port,
            _pad1: [0; 2],
        }
    }
}

/// `overlay_targ_info_t`: what varpd needs to know to serve a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargInfo {
    pub oti_linkid: u32,
    /// The plugin's `OVERLAY_PLUGIN_D_*` flags.
    pub oti_needs: u32,
    /// `OVERLAY_TARG_INFO_F_*`.
    pub oti_flags: u64,
    pub oti_vnetid: u64,
}

const _: () = assert!(size_of::<OverlayTargInfo>() == 24);
const _: () = assert!(offset_of!(OverlayTargInfo, oti_linkid) == 0);
const _: () = assert!(offset_of!(OverlayTargInfo, oti_needs) == 4);
const _: () = assert!(offset_of!(OverlayTargInfo, oti_flags) == 8);
const _: () = assert!(offset_of!(OverlayTargInfo, oti_vnetid) == 16);

/// `overlay_targ_associate_t`: binds a device to a varpd instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargAssociate {
    pub ota_linkid: u32,
    /// `OVERLAY_TARGET_POINT` or `OVERLAY_TARGET_DYNAMIC`.
    pub ota_mode: u32,
    /// varpd instance id; never 0.
    pub ota_id: u64,
    /// Must equal the plugin's `OVERLAY_PLUGIN_D_*` flags.
    pub ota_provides: u32,
    /// The destination, in point mode.
    pub ota_point: OverlayTargetPoint,
}

// 20 + 28 ends exactly on the 8-byte alignment: no tail padding.
const _: () = assert!(size_of::<OverlayTargAssociate>() == 48);
const _: () = assert!(core::mem::align_of::<OverlayTargAssociate>() == 8);
const _: () = assert!(offset_of!(OverlayTargAssociate, ota_linkid) == 0);
const _: () = assert!(offset_of!(OverlayTargAssociate, ota_mode) == 4);
const _: () = assert!(offset_of!(OverlayTargAssociate, ota_id) == 8);
const _: () = assert!(offset_of!(OverlayTargAssociate, ota_provides) == 16);
const _: () = assert!(offset_of!(OverlayTargAssociate, ota_point) == 20);

/// `overlay_targ_degrade_t`: varpd cannot make progress for a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargDegrade {
    pub otd_linkid: u32,
    pub otd_pad: u32,
    /// The reason, NUL-terminated; shown by `dladm show-overlay`.
    pub otd_buf: [u8; OVERLAY_STATUS_BUFLEN],
}

const _: () = assert!(size_of::<OverlayTargDegrade>() == 264);
const _: () = assert!(offset_of!(OverlayTargDegrade, otd_linkid) == 0);
const _: () = assert!(offset_of!(OverlayTargDegrade, otd_pad) == 4);
const _: () = assert!(offset_of!(OverlayTargDegrade, otd_buf) == 8);

/// `overlay_targ_id_t`: DISASSOCIATE and RESTORE name only a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargId {
    pub otid_linkid: u32,
}

const _: () = assert!(size_of::<OverlayTargId>() == 4);
const _: () = assert!(offset_of!(OverlayTargId, otid_linkid) == 0);

/// `overlay_targ_lookup_t`: one pending destination question, handed to
/// a varpd thread blocked in LOOKUP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargLookup {
    pub otl_dlid: u64,
    /// Opaque token for RESPOND/DROP/PKT/INJECT/RESEND.
    pub otl_reqid: u64,
    pub otl_varpdid: u64,
    pub otl_vnetid: u64,
    /// MAC header size: 14, or 18 if VLAN-tagged.
    pub otl_hdrsize: u64,
    /// Frame length minus the header.
    pub otl_pktsize: u64,
    pub otl_srcaddr: EtherAddr,
    pub otl_dstaddr: EtherAddr,
    /// `mac_addrtype_t`: 0 unicast, 1 multicast, 2 broadcast.
    pub otl_dsttype: u32,
    /// Ethertype (the inner one for tagged frames).
    pub otl_sap: u32,
    /// VLAN id, 0 if untagged.
    pub otl_vlan: i32,
}

const _: () = assert!(size_of::<OverlayTargLookup>() == 72);
const _: () = assert!(offset_of!(OverlayTargLookup, otl_dlid) == 0);
const _: () = assert!(offset_of!(OverlayTargLookup, otl_reqid) == 8);
const _: () = assert!(offset_of!(OverlayTargLookup, otl_varpdid) == 16);
const _: () = assert!(offset_of!(OverlayTargLookup, otl_vnetid) == 24);
const _: () = assert!(offset_of!(OverlayTargLookup, otl_hdrsize) == 32);
const _: () = assert!(offset_of!(OverlayTargLookup, otl_pktsize) == 40);
const _: () = assert!(offset_of!(OverlayTargLookup, otl_srcaddr) == 48);
const _: () = assert!(offset_of!(OverlayTargLookup, otl_dstaddr) == 54);
const _: () = assert!(offset_of!(OverlayTargLookup, otl_dsttype) == 60);
const _: () = assert!(offset_of!(OverlayTargLookup, otl_sap) == 64);
const _: () = assert!(offset_of!(OverlayTargLookup, otl_vlan) == 68);

/// `overlay_targ_resp_t`: the answer to (RESPOND) or dismissal of (DROP)
/// a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargResp {
    pub otr_reqid: u64,
    pub otr_answer: OverlayTargetPoint,
    /// Tail padding to the 8-byte alignment of `otr_reqid`.
    pub _pad: [u8; 4],
}

const _: () = assert!(size_of::<OverlayTargResp>() == 40);
const _: () = assert!(offset_of!(OverlayTargResp, otr_reqid) == 0);
const _: () = assert!(offset_of!(OverlayTargResp, otr_answer) == 8);

/// `overlay_targ_pkt_t` (LP64): a frame in user memory, for INJECT,
/// RESEND and PKT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargPkt {
    /// Device to act on, or `u64::MAX` to go by `otp_reqid`.
    pub otp_linkid: u64,
    pub otp_reqid: u64,
    /// Buffer length in; for PKT, bytes copied out.
    pub otp_size: u64,
    /// The user `void *`, held as an integer: it is never dereferenced
    /// here, only handed to the host's copyin/copyout.
    pub otp_buf: u64,
}

const _: () = assert!(size_of::<OverlayTargPkt>() == 32);
const _: () = assert!(offset_of!(OverlayTargPkt, otp_linkid) == 0);
const _: () = assert!(offset_of!(OverlayTargPkt, otp_reqid) == 8);
const _: () = assert!(offset_of!(OverlayTargPkt, otp_size) == 16);
const _: () = assert!(offset_of!(OverlayTargPkt, otp_buf) == 24);

/// `overlay_targ_pkt32_t`: [`OverlayTargPkt`] as a 32-bit process lays
/// it out.
///
/// The i386 ABI aligns `uint64_t` to 4 inside structs, so the buffer
/// pointer (`caddr32_t`) sits at 24 as in LP64 but nothing pads after it:
/// the struct is 28 bytes, 4-aligned, hence `packed(4)`.
///
/// illumos declares this struct in the amd64 kernel without
/// `#pragma pack(4)`, so its kernel `sizeof` is 32 and `overlay_target.c`
/// copies 32 bytes in and out for ILP32 callers: 4 bytes past the end of
/// the caller's struct. The offsets agree, so only those 4 bytes differ;
/// [`OVERLAY_TARG_PKT32_KERNEL_COPY`] records the illumos figure for a
/// host that chooses to reproduce it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C, packed(4))]
pub struct OverlayTargPkt32 {
    pub otp_linkid: u64,
    pub otp_reqid: u64,
    pub otp_size: u64,
    pub otp_buf: u32,
}

const _: () = assert!(size_of::<OverlayTargPkt32>() == 28);
const _: () = assert!(core::mem::align_of::<OverlayTargPkt32>() == 4);
const _: () = assert!(offset_of!(OverlayTargPkt32, otp_linkid) == 0);
const _: () = assert!(offset_of!(OverlayTargPkt32, otp_reqid) == 8);
const _: () = assert!(offset_of!(OverlayTargPkt32, otp_size) == 16);
const _: () = assert!(offset_of!(OverlayTargPkt32, otp_buf) == 24);

/// Bytes illumos copies for an ILP32 `overlay_targ_pkt_t` (see
/// [`OverlayTargPkt32`]); the true 32-bit size is 28.
pub const OVERLAY_TARG_PKT32_KERNEL_COPY: usize = 32;

impl From<OverlayTargPkt32> for OverlayTargPkt {
    /// The kernel's copyin conversion: the pointer is zero-extended.
    fn from(p: OverlayTargPkt32) -> OverlayTargPkt {
        OverlayTargPkt {
            otp_linkid: p.otp_linkid,
            otp_reqid: p.otp_reqid,
            otp_size: p.otp_size,
            otp_buf: u64::from(p.otp_buf),
        }
    }
}

impl OverlayTargPkt {
    /// The kernel's copyout conversion for a 32-bit caller: the pointer
    /// is truncated, as `(caddr32_t)` does; it came from that caller, so
    /// it fits.
    pub const fn to_ilp32(&self) -> OverlayTargPkt32 {
        OverlayTargPkt32 {
            otp_linkid: self.otp_linkid,
            otp_reqid: self.otp_reqid,
            otp_size: self.otp_size,
            otp_buf: self.otp_buf as u32,
        }
    }
}

/// `overlay_targ_list_t` without its flexible `uint32_t otl_ents[]`: the
/// count of link ids the caller has room for in, the number of overlays
/// out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargListHdr {
    pub otl_nents: u32,
}

const _: () = assert!(size_of::<OverlayTargListHdr>() == 4);
const _: () = assert!(offset_of!(OverlayTargListHdr, otl_nents) == 0);

/// `offsetof (overlay_targ_list_t, otl_ents)`.
pub const OTL_ENTS_OFFSET: usize = 4;

/// `overlay_targ_cache_entry_t`: one cache entry as varpd sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargCacheEntry {
    pub otce_mac: EtherAddr,
    /// 0 or `OVERLAY_TARGET_CACHE_DROP`.
    pub otce_flags: u16,
    pub otce_dest: OverlayTargetPoint,
}

const _: () = assert!(size_of::<OverlayTargCacheEntry>() == 36);
const _: () = assert!(core::mem::align_of::<OverlayTargCacheEntry>() == 4);
const _: () = assert!(offset_of!(OverlayTargCacheEntry, otce_mac) == 0);
const _: () = assert!(offset_of!(OverlayTargCacheEntry, otce_flags) == 6);
const _: () = assert!(offset_of!(OverlayTargCacheEntry, otce_dest) == 8);

/// `overlay_targ_cache_t`: GET, SET, REMOVE and FLUSH of one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargCache {
    pub otc_linkid: u32,
    pub otc_entry: OverlayTargCacheEntry,
}

const _: () = assert!(size_of::<OverlayTargCache>() == 40);
const _: () = assert!(offset_of!(OverlayTargCache, otc_linkid) == 0);
const _: () = assert!(offset_of!(OverlayTargCache, otc_entry) == 4);

/// `overlay_targ_cache_iter_t` without its flexible
/// `overlay_targ_cache_entry_t otci_ents[]`.
///
/// Current illumos declares `uint8_t otci_pad2[3]` after `otci_count`,
/// which pushes the 4-aligned entries from 20 to 24
/// ([`OTCI_ENTS_OFFSET`]): the header is exactly `sizeof` (24) bytes and
/// the entries follow it without overlapping. The kernel copies
/// `24 + count * 36` bytes both ways ([`otci_copy_size`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayTargCacheIterHdr {
    pub otci_linkid: u32,
    pub otci_pad: u32,
    /// An [`IterMarker`]; zero to start, preserved across calls.
    pub otci_marker: u64,
    /// Entries the caller has room for in, entries written out.
    pub otci_count: u16,
    pub otci_pad2: [u8; 3],
    /// The alignment padding C inserts before `otci_ents` (not a named
    /// field there; spelled out so the struct has no implicit padding).
    pub _align: [u8; 3],
}

const _: () = assert!(size_of::<OverlayTargCacheIterHdr>() == 24);
const _: () = assert!(offset_of!(OverlayTargCacheIterHdr, otci_linkid) == 0);
const _: () = assert!(offset_of!(OverlayTargCacheIterHdr, otci_pad) == 4);
const _: () = assert!(offset_of!(OverlayTargCacheIterHdr, otci_marker) == 8);
const _: () = assert!(offset_of!(OverlayTargCacheIterHdr, otci_count) == 16);
const _: () = assert!(offset_of!(OverlayTargCacheIterHdr, otci_pad2) == 18);

/// `offsetof (overlay_targ_cache_iter_t, otci_ents)`: the 21 bytes up to
/// the end of `otci_pad2`, rounded up to the entries' 4-byte alignment.
pub const OTCI_ENTS_OFFSET: usize = 24;

const _: () = assert!(
    OTCI_ENTS_OFFSET
        == (offset_of!(OverlayTargCacheIterHdr, otci_pad2) + 3)
            .next_multiple_of(core::mem::align_of::<OverlayTargCacheEntry>())
);
const _: () = assert!(OTCI_ENTS_OFFSET == size_of::<OverlayTargCacheIterHdr>());

/// Bytes the kernel copies for a CACHE_ITER of `count` entries:
/// `sizeof (overlay_targ_cache_iter_t) + count * sizeof (entry)`.
pub const fn otci_copy_size(count: u16) -> usize {
    size_of::<OverlayTargCacheIterHdr>() + count as usize * size_of::<OverlayTargCacheEntry>()
}

/// `overlay_targ_cache_marker_t`: how the kernel reads `otci_marker`,
/// by casting its address. The MAC is where the next call resumes
/// (entries are walked in MAC order); `done` non-zero ends iteration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IterMarker {
    pub mac: [u8; 6],
    pub done: u16,
}

impl IterMarker {
    /// The marker stored in a native-endian `otci_marker`.
    pub const fn from_u64(v: u64) -> IterMarker {
        let b = v.to_ne_bytes();
        IterMarker {
            mac: [b[0], b[1], b[2], b[3], b[4], b[5]],
            done: u16::from_ne_bytes([b[6], b[7]]),
        }
    }

    /// The `otci_marker` value whose memory holds this marker.
    pub const fn to_u64(self) -> u64 {
        let m = self.mac;
        let d = self.done.to_ne_bytes();
        u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[4], m[5], d[0], d[1]])
    }

    pub const fn is_done(&self) -> bool {
        self.done != 0
    }
}

/// The `/dev/overlay` commands and how the driver handles each (the
/// `overlay_target_ioctab` table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum TargIoctl {
    Info = OVERLAY_TARG_INFO,
    Associate = OVERLAY_TARG_ASSOCIATE,
    Disassociate = OVERLAY_TARG_DISASSOCIATE,
    Degrade = OVERLAY_TARG_DEGRADE,
    Restore = OVERLAY_TARG_RESTORE,
    Lookup = OVERLAY_TARG_LOOKUP,
    Respond = OVERLAY_TARG_RESPOND,
    Drop = OVERLAY_TARG_DROP,
    Inject = OVERLAY_TARG_INJECT,
    Pkt = OVERLAY_TARG_PKT,
    Resend = OVERLAY_TARG_RESEND,
    List = OVERLAY_TARG_LIST,
    CacheGet = OVERLAY_TARG_CACHE_GET,
    CacheSet = OVERLAY_TARG_CACHE_SET,
    CacheRemove = OVERLAY_TARG_CACHE_REMOVE,
    CacheFlush = OVERLAY_TARG_CACHE_FLUSH,
    CacheIter = OVERLAY_TARG_CACHE_ITER,
}

impl TargIoctl {
    /// Every command, in command-number order.
    pub const ALL: [TargIoctl; 17] = [
        TargIoctl::Info,
        TargIoctl::Associate,
        TargIoctl::Disassociate,
        TargIoctl::Degrade,
        TargIoctl::Restore,
        TargIoctl::Lookup,
        TargIoctl::Respond,
        TargIoctl::Drop,
        TargIoctl::Inject,
        TargIoctl::Pkt,
        TargIoctl::Resend,
        TargIoctl::List,
        TargIoctl::CacheGet,
        TargIoctl::CacheSet,
        TargIoctl::CacheRemove,
        TargIoctl::CacheFlush,
        TargIoctl::CacheIter,
    ];

    /// The command for an ioctl number; `None` means `ENOTTY`.
    pub const fn from_cmd(cmd: u32) -> Option<TargIoctl> {
        Some(match cmd {
            OVERLAY_TARG_INFO => TargIoctl::Info,
            OVERLAY_TARG_ASSOCIATE => TargIoctl::Associate,
            OVERLAY_TARG_DISASSOCIATE => TargIoctl::Disassociate,
            OVERLAY_TARG_DEGRADE => TargIoctl::Degrade,
            OVERLAY_TARG_RESTORE => TargIoctl::Restore,
            OVERLAY_TARG_LOOKUP => TargIoctl::Lookup,
            OVERLAY_TARG_RESPOND => TargIoctl::Respond,
            OVERLAY_TARG_DROP => TargIoctl::Drop,
            OVERLAY_TARG_INJECT => TargIoctl::Inject,
            OVERLAY_TARG_PKT => TargIoctl::Pkt,
            OVERLAY_TARG_RESEND => TargIoctl::Resend,
            OVERLAY_TARG_LIST => TargIoctl::List,
            OVERLAY_TARG_CACHE_GET => TargIoctl::CacheGet,
            OVERLAY_TARG_CACHE_SET => TargIoctl::CacheSet,
            OVERLAY_TARG_CACHE_REMOVE => TargIoctl::CacheRemove,
            OVERLAY_TARG_CACHE_FLUSH => TargIoctl::CacheFlush,
            OVERLAY_TARG_CACHE_ITER => TargIoctl::CacheIter,
            _ => return None,
        })
    }

    pub const fn cmd(self) -> u32 {
        self as u32
    }

    /// The C name, for diagnostics.
    pub const fn name(self) -> &'static str {
        match self {
            TargIoctl::Info => "OVERLAY_TARG_INFO",
            TargIoctl::Associate => "OVERLAY_TARG_ASSOCIATE",
            TargIoctl::Disassociate => "OVERLAY_TARG_DISASSOCIATE",
            TargIoctl::Degrade => "OVERLAY_TARG_DEGRADE",
            TargIoctl::Restore => "OVERLAY_TARG_RESTORE",
            TargIoctl::Lookup => "OVERLAY_TARG_LOOKUP",
            TargIoctl::Respond => "OVERLAY_TARG_RESPOND",
            TargIoctl::Drop => "OVERLAY_TARG_DROP",
            TargIoctl::Inject => "OVERLAY_TARG_INJECT",
            TargIoctl::Pkt => "OVERLAY_TARG_PKT",
            TargIoctl::Resend => "OVERLAY_TARG_RESEND",
            TargIoctl::List => "OVERLAY_TARG_LIST",
            TargIoctl::CacheGet => "OVERLAY_TARG_CACHE_GET",
            TargIoctl::CacheSet => "OVERLAY_TARG_CACHE_SET",
            TargIoctl::CacheRemove => "OVERLAY_TARG_CACHE_REMOVE",
            TargIoctl::CacheFlush => "OVERLAY_TARG_CACHE_FLUSH",
            TargIoctl::CacheIter => "OVERLAY_TARG_CACHE_ITER",
        }
    }

    /// The fixed argument size: the header for LIST and CACHE_ITER (the
    /// arrays are sized from it), the LP64 struct for the PKT family.
    pub const fn arg_size(self) -> usize {
        match self {
            TargIoctl::Info => size_of::<OverlayTargInfo>(),
            TargIoctl::Associate => size_of::<OverlayTargAssociate>(),
            TargIoctl::Disassociate | TargIoctl::Restore => size_of::<OverlayTargId>(),
            TargIoctl::Degrade => size_of::<OverlayTargDegrade>(),
            TargIoctl::Lookup => size_of::<OverlayTargLookup>(),
            TargIoctl::Respond | TargIoctl::Drop => size_of::<OverlayTargResp>(),
            TargIoctl::Inject | TargIoctl::Pkt | TargIoctl::Resend => size_of::<OverlayTargPkt>(),
            TargIoctl::List => size_of::<OverlayTargListHdr>(),
            TargIoctl::CacheGet
            | TargIoctl::CacheSet
            | TargIoctl::CacheRemove
            | TargIoctl::CacheFlush => size_of::<OverlayTargCache>(),
            TargIoctl::CacheIter => size_of::<OverlayTargCacheIterHdr>(),
        }
    }

    /// Whether the descriptor must be open for writing (else `EBADF`).
    /// As in illumos' table, only LOOKUP, LIST, CACHE_GET and CACHE_ITER
    /// are exempt; INFO, a pure query, is not.
    pub const fn needs_write(self) -> bool {
        !matches!(
            self,
            TargIoctl::Lookup | TargIoctl::List | TargIoctl::CacheGet | TargIoctl::CacheIter
        )
    }

    /// Whether the argument goes back to user land on success.
    pub const fn copy_out(self) -> bool {
        matches!(
            self,
            TargIoctl::Info
                | TargIoctl::Lookup
                | TargIoctl::Pkt
                | TargIoctl::List
                | TargIoctl::CacheGet
                | TargIoctl::CacheSet
                | TargIoctl::CacheRemove
                | TargIoctl::CacheFlush
                | TargIoctl::CacheIter
        )
    }
}

/// Largest frame `INJECT` and `RESEND` accept (`ETHERMAX` + VLAN tag).
pub const INJECT_MAX: usize = 1518;

/// Which way a command's frame data moves, and how many bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameCopy {
    None,
    /// `PKT`: up to this many bytes copied out to `otp_buf`.
    Out(usize),
    /// `INJECT`, `RESEND`: exactly this many bytes copied in from `otp_buf`.
    In(usize),
}

/// How one `/dev/overlay` command's argument crosses the user boundary:
/// the copy sizes of illumos' `overlay_target_ioctl_t` table, computed in
/// one place that the illumos module, overlayd and the client all read.
/// A host copies in [`copy_in`](CopyPlan::copy_in) bytes, runs the
/// command, and copies out what it returns (never more than
/// [`copy_out`](CopyPlan::copy_out)); it allocates nothing else from what
/// the caller announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyPlan {
    /// The struct, or for `LIST` and `CACHE_ITER` their header: their
    /// arrays are output only, so only the header is ever read.
    pub copy_in: usize,
    /// The most argument bytes copied back (0: nothing), which is also
    /// how much of the caller's memory the command may write: for `LIST`
    /// and `CACHE_ITER` the header plus the array it announces room for.
    pub copy_out: usize,
    pub frame: FrameCopy,
}

impl CopyPlan {
    /// The caller's argument buffer must be at least this long.
    pub const fn caller_len(&self) -> usize {
        if self.copy_out > self.copy_in {
            self.copy_out
        } else {
            self.copy_in
        }
    }
}

/// The copy plan of `cmd`, given at least its fixed argument bytes
/// (`fixed`); `pkt_room` bounds a `PKT` frame to the host's buffer.
///
/// Errnos as illumos: unknown command `ENOTTY`; a `LIST` count that would
/// overflow the copy `EINVAL`; a `CACHE_ITER` count above
/// [`OVERLAY_TARGET_ITER_MAX`] `E2BIG`; an `INJECT`/`RESEND` frame above
/// [`INJECT_MAX`] `EINVAL`; `fixed` shorter than the struct `EFAULT`.
pub fn copy_plan(cmd: u32, fixed: &[u8], pkt_room: usize) -> Result<CopyPlan, Errno> {
    let op = TargIoctl::from_cmd(cmd).ok_or(Errno::ENOTTY)?;
    let copy_in = op.arg_size();
    let fixed = fixed.get(..copy_in).ok_or(Errno::EFAULT)?;
    let mut plan = CopyPlan {
        copy_in,
        copy_out: if op.copy_out() { copy_in } else { 0 },
        frame: FrameCopy::None,
    };
    match op {
        TargIoctl::List => {
            let (h, _) = OverlayTargListHdr::read_from_prefix(fixed).map_err(|_| Errno::EFAULT)?;
            if h.otl_nents >= i32::MAX as u32 / 4 {
                return Err(Errno::EINVAL);
            }
            plan.copy_out = OTL_ENTS_OFFSET + h.otl_nents as usize * 4;
        }
        TargIoctl::CacheIter => {
            let (h, _) =
                OverlayTargCacheIterHdr::read_from_prefix(fixed).map_err(|_| Errno::EFAULT)?;
            if h.otci_count > OVERLAY_TARGET_ITER_MAX {
                return Err(Errno::E2BIG);
            }
            plan.copy_out = otci_copy_size(h.otci_count);
        }
        TargIoctl::Pkt | TargIoctl::Inject | TargIoctl::Resend => {
            let (p, _) = OverlayTargPkt::read_from_prefix(fixed).map_err(|_| Errno::EFAULT)?;
            plan.frame = if op == TargIoctl::Pkt {
                FrameCopy::Out(
                    usize::try_from(p.otp_size)
                        .unwrap_or(usize::MAX)
                        .min(pkt_room),
                )
            } else if p.otp_size > INJECT_MAX as u64 {
                return Err(Errno::EINVAL);
            } else {
                FrameCopy::In(p.otp_size as usize)
            };
        }
        _ => {}
    }
    Ok(plan)
}

#[cfg(test)]
mod test {
    use core::net::Ipv4Addr;

    use zerocopy::FromZeros;

    use super::*;

    #[test]
    fn commands() {
        for c in TargIoctl::ALL {
            assert_eq!(TargIoctl::from_cmd(c.cmd()), Some(c));
            assert_eq!(c.cmd() & 0xffff_ff00, 0x6F76_7400);
        }
        let mut sorted = TargIoctl::ALL;
        sorted.sort_by_key(|c| c.cmd());
        assert_eq!(sorted, TargIoctl::ALL);
        assert_eq!(TargIoctl::Info.cmd(), 0x6F76_7401);
        assert_eq!(TargIoctl::CacheIter.cmd(), 0x6F76_7434);
        for bad in [0x6F76_7400, 0x6F76_7406, 0x6F76_7416, 0x6F76_7435, 0] {
            assert_eq!(TargIoctl::from_cmd(bad), None);
        }

        assert_eq!(TargIoctl::List.arg_size(), 4);
        assert_eq!(TargIoctl::CacheIter.arg_size(), 24);
        assert_eq!(TargIoctl::Pkt.arg_size(), 32);
        assert_eq!(TargIoctl::Respond.arg_size(), 40);
        assert_eq!(TargIoctl::Associate.arg_size(), 48);

        let writers = TargIoctl::ALL.iter().filter(|c| c.needs_write()).count();
        assert_eq!(writers, 13);
        assert!(TargIoctl::Info.needs_write());
        assert!(!TargIoctl::Lookup.needs_write());
        assert!(TargIoctl::Pkt.copy_out() && !TargIoctl::Inject.copy_out());
        assert!(TargIoctl::CacheFlush.copy_out() && !TargIoctl::Associate.copy_out());
        assert_eq!(TargIoctl::Resend.name(), "OVERLAY_TARG_RESEND");
    }

    #[test]
    fn copy_plans() {
        let list = |n: u32| copy_plan(OVERLAY_TARG_LIST, &n.to_ne_bytes(), 0);
        // A huge LIST announces room; it never makes a host read or
        // allocate more than the 4-byte header.
        let p = list(i32::MAX as u32 / 4 - 1).unwrap();
        assert_eq!(
            (p.copy_in, p.copy_out),
            (4, 4 + (i32::MAX as usize / 4 - 1) * 4)
        );
        assert_eq!(list(i32::MAX as u32 / 4), Err(Errno::EINVAL));
        assert_eq!(list(u32::MAX), Err(Errno::EINVAL));

        let mut it = [0u8; 24];
        it[16..18].copy_from_slice(&501u16.to_ne_bytes());
        assert_eq!(
            copy_plan(OVERLAY_TARG_CACHE_ITER, &it, 0),
            Err(Errno::E2BIG)
        );
        it[16..18].copy_from_slice(&500u16.to_ne_bytes());
        let p = copy_plan(OVERLAY_TARG_CACHE_ITER, &it, 0).unwrap();
        assert_eq!((p.copy_in, p.copy_out), (24, 24 + 500 * 36));

        let mut pkt = [0u8; 32];
        pkt[16..24].copy_from_slice(&9000u64.to_ne_bytes());
        assert_eq!(
            copy_plan(OVERLAY_TARG_PKT, &pkt, 2048).unwrap().frame,
            FrameCopy::Out(2048)
        );
        assert_eq!(
            copy_plan(OVERLAY_TARG_INJECT, &pkt, 2048),
            Err(Errno::EINVAL)
        );
        pkt[16..24].copy_from_slice(&60u64.to_ne_bytes());
        let p = copy_plan(OVERLAY_TARG_RESEND, &pkt, 0).unwrap();
        assert_eq!((p.copy_in, p.copy_out, p.frame), (32, 0, FrameCopy::In(60)));

        assert_eq!(
            copy_plan(OVERLAY_TARG_ASSOCIATE, &[0; 47], 0),
            Err(Errno::EFAULT)
        );
        assert_eq!(copy_plan(0x6F76_7499, &[0; 64], 0), Err(Errno::ENOTTY));
        let p = copy_plan(OVERLAY_TARG_INFO, &[0; 24], 0).unwrap();
        assert_eq!((p.copy_in, p.copy_out, p.caller_len()), (24, 24, 24));
    }

    fn point() -> OverlayTargetPoint {
        OverlayTargetPoint::new(
            EtherAddr([2, 8, 0x20, 1, 2, 3]),
            In6Addr::from(Ipv4Addr::new(192, 0, 2, 7)),
            4789,
        )
    }

    #[test]
    fn point_bytes() {
        let p = point();
        let b = p.as_bytes();
        assert_eq!(b.len(), 28);
        assert_eq!(&b[0..6], &[2, 8, 0x20, 1, 2, 3]);
        assert_eq!(&b[20..24], &[192, 0, 2, 7]);
        assert_eq!(&b[24..26], &4789u16.to_ne_bytes());
        assert_eq!(OverlayTargetPoint::read_from_bytes(b).unwrap(), p);
    }

    #[test]
    fn associate_and_resp() {
        let a = OverlayTargAssociate {
            ota_linkid: 5,
            ota_mode: super::super::common::OVERLAY_TARGET_POINT,
            ota_id: 0x1234,
            ota_provides: 6,
            ota_point: point(),
        };
        let b = a.as_bytes();
        assert_eq!(&b[16..20], &6u32.to_ne_bytes());
        assert_eq!(&b[20..26], &[2, 8, 0x20, 1, 2, 3]);
        assert_eq!(OverlayTargAssociate::read_from_bytes(b).unwrap(), a);

        let mut r = OverlayTargResp::new_zeroed();
        r.otr_reqid = u64::MAX - 1;
        r.otr_answer = point();
        let back = OverlayTargResp::read_from_bytes(r.as_bytes()).unwrap();
        assert_eq!(back, r);
        assert_eq!(&r.as_bytes()[8..14], &[2, 8, 0x20, 1, 2, 3]);
    }

    #[test]
    fn lookup_bytes() {
        let mut l = OverlayTargLookup::new_zeroed();
        l.otl_reqid = 99;
        l.otl_dstaddr = EtherAddr::BROADCAST;
        l.otl_dsttype = 2;
        l.otl_vlan = -1;
        let b = l.as_bytes();
        assert_eq!(&b[54..60], &[0xff; 6]);
        assert_eq!(&b[68..72], &(-1i32).to_ne_bytes());
        assert_eq!(OverlayTargLookup::read_from_bytes(b).unwrap(), l);
    }

    #[test]
    fn pkt32() {
        let mut raw = [0u8; 28];
        raw[0..8].copy_from_slice(&u64::MAX.to_ne_bytes());
        raw[8..16].copy_from_slice(&7u64.to_ne_bytes());
        raw[16..24].copy_from_slice(&60u64.to_ne_bytes());
        raw[24..28].copy_from_slice(&0x8004_1000u32.to_ne_bytes());
        // Packed to 4: readable from any 4-aligned slot of a 32-bit
        // caller's memory, and exactly 28 bytes.
        let p32 = OverlayTargPkt32::read_from_bytes(&raw[..]).unwrap();
        assert!(OverlayTargPkt32::read_from_bytes(&[0u8; 32][..]).is_err());
        let p: OverlayTargPkt = p32.into();
        assert_eq!(p.otp_linkid, u64::MAX);
        assert_eq!(p.otp_reqid, 7);
        assert_eq!(p.otp_size, 60);
        assert_eq!(p.otp_buf, 0x8004_1000);
        assert_eq!(p.to_ilp32(), p32);
        assert_eq!(p.to_ilp32().as_bytes(), &raw[..]);
        let lp64 = OverlayTargPkt::read_from_bytes(p.as_bytes()).unwrap();
        assert_eq!(lp64, p);
    }

    #[test]
    fn cache_structs() {
        let c = OverlayTargCache {
            otc_linkid: 11,
            otc_entry: OverlayTargCacheEntry {
                otce_mac: EtherAddr([0, 1, 2, 3, 4, 5]),
                otce_flags: OVERLAY_TARGET_CACHE_DROP,
                otce_dest: point(),
            },
        };
        let b = c.as_bytes();
        assert_eq!(b.len(), 40);
        assert_eq!(&b[4..10], &[0, 1, 2, 3, 4, 5]);
        assert_eq!(&b[10..12], &1u16.to_ne_bytes());
        assert_eq!(&b[12..18], &[2, 8, 0x20, 1, 2, 3]);
        assert_eq!(OverlayTargCache::read_from_bytes(b).unwrap(), c);
    }

    #[test]
    fn cache_iter_layout() {
        assert_eq!(otci_copy_size(1), 60);
        assert_eq!(otci_copy_size(OVERLAY_TARGET_ITER_MAX), 24 + 500 * 36);
        // A reply: header, then entries at 24, in a buffer of the
        // kernel's copy size.
        let mut buf = [0u8; 24 + 2 * 36];
        let mut h = OverlayTargCacheIterHdr::new_zeroed();
        h.otci_linkid = 3;
        h.otci_marker = IterMarker {
            mac: [9; 6],
            done: 0,
        }
        .to_u64();
        h.otci_count = 2;
        buf[..24].copy_from_slice(h.as_bytes());
        let e = OverlayTargCacheEntry {
            otce_mac: EtherAddr([0xa; 6]),
            otce_flags: 0,
            otce_dest: point(),
        };
        for i in 0..2 {
            let off = OTCI_ENTS_OFFSET + i * 36;
            buf[off..off + 36].copy_from_slice(e.as_bytes());
        }
        let (back, _) = OverlayTargCacheIterHdr::read_from_prefix(&buf).unwrap();
        assert_eq!(back.otci_count, 2);
        assert_eq!(IterMarker::from_u64(back.otci_marker).mac, [9; 6]);
        let ents = &buf[OTCI_ENTS_OFFSET..];
        let (e0, rest) = OverlayTargCacheEntry::read_from_prefix(ents).unwrap();
        let (e1, slack) = OverlayTargCacheEntry::read_from_prefix(rest).unwrap();
        assert_eq!((e0, e1), (e, e));
        // The copy size is exactly header + entries: no slack since
        // otci_pad2 moved the entries out of the header's tail.
        assert!(slack.is_empty());
    }

    #[test]
    fn list_header() {
        let mut buf = [0u8; 12];
        buf[..4].copy_from_slice(&2u32.to_ne_bytes());
        buf[4..8].copy_from_slice(&100u32.to_ne_bytes());
        let (h, ents) = OverlayTargListHdr::read_from_prefix(&buf).unwrap();
        assert_eq!(h.otl_nents, 2);
        assert_eq!(ents, &buf[OTL_ENTS_OFFSET..]);
    }

    #[test]
    fn iter_marker() {
        let m = IterMarker {
            mac: [0, 0x1b, 0x21, 0xaa, 0xbb, 0xcc],
            done: 0,
        };
        let v = m.to_u64();
        assert_eq!(&v.to_ne_bytes()[..6], &m.mac);
        assert_eq!(IterMarker::from_u64(v), m);
        assert!(!m.is_done());
        assert_eq!(IterMarker::from_u64(0), IterMarker::default());

        let d = IterMarker {
            mac: [0; 6],
            done: 1,
        };
        assert!(IterMarker::from_u64(d.to_u64()).is_done());
        // The in-struct bytes of otci_marker are the marker's bytes.
        let mut h = OverlayTargCacheIterHdr::new_zeroed();
        h.otci_marker = d.to_u64();
        assert_eq!(&h.as_bytes()[14..16], &1u16.to_ne_bytes());
    }

    #[test]
    fn info_degrade_id() {
        let i = OverlayTargInfo {
            oti_linkid: 1,
            oti_needs: 6,
            oti_flags: OVERLAY_TARG_INFO_F_ACTIVE | OVERLAY_TARG_INFO_F_DEGRADED,
            oti_vnetid: 0xff_ffff,
        };
        assert_eq!(OverlayTargInfo::read_from_bytes(i.as_bytes()).unwrap(), i);
        let mut d = OverlayTargDegrade::new_zeroed();
        d.otd_linkid = 4;
        super::super::common::set_cstr_field(&mut d.otd_buf, "svp down").unwrap();
        assert_eq!(&d.as_bytes()[8..17], b"svp down\0");
        let id = OverlayTargId::read_from_bytes(&4u32.to_ne_bytes()[..]).unwrap();
        assert_eq!(id.otid_linkid, 4);
        assert_eq!(
            OVERLAY_ENTRY_F_VALID | OVERLAY_ENTRY_F_DROP,
            OVERLAY_ENTRY_F_VALID_MASK
        );
    }
}
