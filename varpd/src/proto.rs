//! The client protocol of varpd (`libvarpd_door.c`, `libvarpd_client.h`):
//! `varpd_client_arg_t` in, the same buffer out, with the command's errno
//! in `vca_errno`.
//!
//! The structs are the illumos ones, field for field (LP64). On illumos
//! they travel over the door; elsewhere over a Unix stream socket, each
//! request and reply preceded by its length as a little-endian `u32`
//! ([`crate::server`]).
//!
//! One quirk fixed: a WALK reply holds kernel cache entries (36 bytes
//! each) and the client here sizes its buffer for those; the illumos
//! client allowed 28 bytes per entry.

use std::mem::{offset_of, size_of};

use overlay::Errno;
use overlay::abi::EtherAddr;
use overlay::abi::common::{OVERLAY_PROP_NAMELEN, OVERLAY_PROP_SIZEMAX};
use overlay::abi::targ::OverlayTargCacheEntry;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::core::{CacheEntry, Varpd};

pub const VARPD_CLIENT_INVALID: u32 = 0;
pub const VARPD_CLIENT_CREATE: u32 = 1;
pub const VARPD_CLIENT_ACTIVATE: u32 = 2;
pub const VARPD_CLIENT_DESTROY: u32 = 3;
pub const VARPD_CLIENT_NPROPS: u32 = 4;
pub const VARPD_CLIENT_PROPINFO: u32 = 5;
pub const VARPD_CLIENT_GETPROP: u32 = 6;
pub const VARPD_CLIENT_SETPROP: u32 = 7;
pub const VARPD_CLIENT_LOOKUP: u32 = 8;
pub const VARPD_CLIENT_TARGET_MODE: u32 = 9;
pub const VARPD_CLIENT_CACHE_FLUSH: u32 = 10;
pub const VARPD_CLIENT_CACHE_DELETE: u32 = 11;
pub const VARPD_CLIENT_CACHE_GET: u32 = 12;
pub const VARPD_CLIENT_CACHE_SET: u32 = 13;
pub const VARPD_CLIENT_CACHE_WALK: u32 = 14;
pub const VARPD_CLIENT_MAX: u32 = 15;

/// PROPINFO by name.
pub const PROPID_BY_NAME: u32 = u32::MAX;
/// The most entries one WALK returns.
pub const WALK_MAX: u64 = 200;
/// The largest request accepted.
pub const MAX_REQUEST: usize = ARG_SIZE + WALK_MAX as usize * size_of::<OverlayTargCacheEntry>();

/// `sizeof (varpd_client_arg_t)`.
pub const ARG_SIZE: usize = 616;
/// The union's offset.
pub const UNION_OFF: usize = 8;
/// `varpd_client_eresp_t`: the reply to a request too short to parse.
pub const ERESP_SIZE: usize = 8;

macro_rules! wire {
    ($(#[$m:meta])* $name:ident { $($f:ident : $t:ty),* $(,)? } = $size:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
        #[repr(C)]
        pub struct $name { $(pub $f: $t),* }
        const _: () = assert!(size_of::<$name>() == $size);
    };
}

wire!(
    /// `varpd_client_create_arg_t`.
    CreateArg { vcca_linkid: u32, vcca_pad: u32, vcca_id: u64, vcca_plugin: [u8; 64] } = 80
);
wire!(
    /// `varpd_client_instance_arg_t`.
    InstanceArg { vcia_id: u64 } = 8
);
wire!(
    /// `varpd_client_nprops_arg_t`.
    NpropsArg { vcna_id: u64, vcna_nprops: u32, vcna_pad: [u8; 4] } = 16
);
wire!(
    /// `varpd_client_propinfo_arg_t`.
    PropinfoArg {
        vcfa_id: u64,
        vcfa_propid: u32,
        vcfa_type: u32,
        vcfa_prot: u32,
        vcfa_defsize: u32,
        vcfa_psize: u32,
        vcfa_pad: [u8; 4],
        vcfa_name: [u8; OVERLAY_PROP_NAMELEN],
        vcfa_default: [u8; OVERLAY_PROP_SIZEMAX],
        vcfa_poss: [u8; OVERLAY_PROP_SIZEMAX],
    } = 608
);
wire!(
    /// `varpd_client_prop_arg_t`.
    PropArg {
        vcpa_id: u64,
        vcpa_propid: u32,
        vcpa_buf: [u8; OVERLAY_PROP_SIZEMAX],
        vcpa_pad: [u8; 4],
        vcpa_bufsize: u64,
    } = 280
);
wire!(
    /// `varpd_client_lookup_arg_t`.
    LookupArg { vcla_linkid: u32, vcla_pad: u32, vcla_id: u64 } = 16
);
wire!(
    /// `varpd_client_target_mode_arg_t`.
    ModeArg { vtma_id: u64, vtma_dest: u32, vtma_mode: u32 } = 16
);
wire!(
    /// `varpd_client_cache_entry_t`.
    ClientCacheEntry { vcp_mac: [u8; 6], vcp_flags: u16, vcp_ip: [u8; 16], vcp_port: u16, vcp_pad: [u8; 2] } = 28
);
wire!(
    /// `varpd_client_target_cache_arg_t`.
    CacheArg { vtca_id: u64, vtca_key: [u8; 6], vtca_pad: [u8; 2], vtca_entry: ClientCacheEntry, vtca_pad2: [u8; 4] } = 48
);
wire!(
    /// `varpd_client_target_walk_arg_t` (the header; entries follow).
    WalkArg { vtcw_id: u64, vtcw_marker: u64, vtcw_count: u64 } = 24
);

const _: () = assert!(offset_of!(PropinfoArg, vcfa_name) == 32);
const _: () = assert!(offset_of!(PropinfoArg, vcfa_default) == 96);
const _: () = assert!(offset_of!(PropinfoArg, vcfa_poss) == 352);
const _: () = assert!(offset_of!(PropArg, vcpa_buf) == 12);
const _: () = assert!(offset_of!(PropArg, vcpa_bufsize) == 272);
const _: () = assert!(offset_of!(CacheArg, vtca_entry) == 16);
const _: () = assert!(offset_of!(ClientCacheEntry, vcp_ip) == 8);
const _: () = assert!(offset_of!(ClientCacheEntry, vcp_port) == 24);
const _: () = assert!(UNION_OFF + size_of::<PropinfoArg>() == ARG_SIZE);

/// Where WALK entries start in the buffer.
pub const WALK_ENTS_OFF: usize = UNION_OFF + size_of::<WalkArg>();

/// A fresh request buffer for `cmd`.
pub fn request(cmd: u32) -> Vec<u8> {
    let mut b = vec![0u8; ARG_SIZE];
    b[..4].copy_from_slice(&cmd.to_ne_bytes());
    b
}

/// Reads the union member `T`.
pub fn get<T: FromBytes>(b: &[u8]) -> T {
    T::read_from_prefix(&b[UNION_OFF..])
        .map(|(t, _)| t)
        .unwrap_or_else(|_| T::new_zeroed())
}

/// Writes the union member `T`.
pub fn put<T: IntoBytes + Immutable>(b: &mut [u8], t: &T) {
    let s = t.as_bytes();
    b[UNION_OFF..UNION_OFF + s.len()].copy_from_slice(s);
}

pub fn command(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

pub fn errno_of(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[4], b[5], b[6], b[7]])
}

fn c_str(b: &[u8]) -> &str {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    std::str::from_utf8(&b[..end]).unwrap_or("")
}

fn copy_str(dst: &mut [u8], s: &str) {
    let n = s.len().min(dst.len().saturating_sub(1));
    dst.fill(0);
    dst[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// Serves one request in place. `privileged`: the caller may change the
/// target cache (illumos: `PRIV_SYS_NET_CONFIG` in its effective set;
/// here, on sockets: root). Returns the reply length.
pub fn serve(v: &Varpd, buf: &mut Vec<u8>, privileged: bool) -> usize {
    if buf.len() < ARG_SIZE {
        buf.clear();
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&(Errno::EINVAL.0 as u32).to_ne_bytes());
        return ERESP_SIZE;
    }
    let r = dispatch(v, buf, privileged);
    let e = match r {
        Ok(()) => 0,
        Err(e) => e.0 as u32,
    };
    buf[4..8].copy_from_slice(&e.to_ne_bytes());
    buf.len()
}

fn dispatch(v: &Varpd, b: &mut [u8], privileged: bool) -> Result<(), Errno> {
    let cmd = command(b);
    match cmd {
        VARPD_CLIENT_CREATE => {
            let mut a: CreateArg = get(b);
            a.vcca_plugin[63] = 0;
            a.vcca_id = v.create(a.vcca_linkid, c_str(&a.vcca_plugin))?;
            put(b, &a);
        }
        VARPD_CLIENT_ACTIVATE => v.activate(get::<InstanceArg>(b).vcia_id)?,
        VARPD_CLIENT_DESTROY => v.destroy(get::<InstanceArg>(b).vcia_id)?,
        VARPD_CLIENT_NPROPS => {
            let mut a: NpropsArg = get(b);
            a.vcna_nprops = v.nprops(a.vcna_id)?;
            put(b, &a);
        }
        VARPD_CLIENT_PROPINFO => {
            let mut a: PropinfoArg = get(b);
            let (id, info) = if a.vcfa_propid == PROPID_BY_NAME {
                a.vcfa_name[OVERLAY_PROP_NAMELEN - 1] = 0;
                v.propinfo_by_name(a.vcfa_id, c_str(&a.vcfa_name))?
            } else {
                (a.vcfa_propid, v.propinfo(a.vcfa_id, a.vcfa_propid)?)
            };
            a.vcfa_propid = id;
            a.vcfa_type = info.ptype;
            a.vcfa_prot = info.prot;
            a.vcfa_defsize = info.defsize;
            a.vcfa_psize = info.posssize;
            copy_str(&mut a.vcfa_name, info.name());
            a.vcfa_default = info.default;
            a.vcfa_poss = info.poss;
            put(b, &a);
        }
        VARPD_CLIENT_GETPROP => {
            let mut a: PropArg = get(b);
            let val = v.getprop(a.vcpa_id, a.vcpa_propid)?;
            a.vcpa_buf = [0; OVERLAY_PROP_SIZEMAX];
            a.vcpa_buf[..val.len()].copy_from_slice(&val);
            a.vcpa_bufsize = val.len() as u64;
            put(b, &a);
        }
        VARPD_CLIENT_SETPROP => {
            let a: PropArg = get(b);
            if a.vcpa_bufsize > OVERLAY_PROP_SIZEMAX as u64 {
                return Err(Errno::EOVERFLOW);
            }
            v.setprop(
                a.vcpa_id,
                a.vcpa_propid,
                &a.vcpa_buf[..a.vcpa_bufsize as usize],
            )?;
        }
        VARPD_CLIENT_LOOKUP => {
            let mut a: LookupArg = get(b);
            a.vcla_id = v.lookup_link(a.vcla_linkid)?;
            put(b, &a);
        }
        VARPD_CLIENT_TARGET_MODE => {
            let mut a: ModeArg = get(b);
            (a.vtma_dest, a.vtma_mode) = v.target_mode(a.vtma_id)?;
            put(b, &a);
        }
        VARPD_CLIENT_CACHE_FLUSH | VARPD_CLIENT_CACHE_DELETE | VARPD_CLIENT_CACHE_SET
            if !privileged =>
        {
            return Err(Errno::EPERM);
        }
        VARPD_CLIENT_CACHE_FLUSH => v.cache_flush(get::<InstanceArg>(b).vcia_id)?,
        VARPD_CLIENT_CACHE_DELETE => {
            let a: CacheArg = get(b);
            v.cache_delete(a.vtca_id, EtherAddr(a.vtca_key))?
        }
        VARPD_CLIENT_CACHE_GET => {
            let mut a: CacheArg = get(b);
            let e = v.cache_get(a.vtca_id, EtherAddr(a.vtca_key))?;
            a.vtca_entry = ClientCacheEntry {
                vcp_mac: e.mac.0,
                vcp_flags: e.flags,
                vcp_ip: e.ip.0,
                vcp_port: e.port,
                vcp_pad: [0; 2],
            };
            put(b, &a);
        }
        VARPD_CLIENT_CACHE_SET => {
            let a: CacheArg = get(b);
            let e = &a.vtca_entry;
            v.cache_set(
                a.vtca_id,
                EtherAddr(a.vtca_key),
                &CacheEntry {
                    mac: EtherAddr(e.vcp_mac),
                    flags: e.vcp_flags,
                    ip: overlay::abi::In6Addr(e.vcp_ip),
                    port: e.vcp_port,
                },
            )?
        }
        VARPD_CLIENT_CACHE_WALK => {
            let mut a: WalkArg = get(b);
            if a.vtcw_count > WALK_MAX {
                return Err(Errno::E2BIG);
            }
            let room = (b.len() - WALK_ENTS_OFF) / size_of::<OverlayTargCacheEntry>();
            if a.vtcw_count == 0 || a.vtcw_count as usize > room {
                return Err(Errno::EINVAL);
            }
            let (ents, marker) = v.cache_walk(a.vtcw_id, a.vtcw_marker, a.vtcw_count as u16)?;
            for (i, e) in ents.iter().enumerate() {
                let o = WALK_ENTS_OFF + i * size_of::<OverlayTargCacheEntry>();
                b[o..o + size_of::<OverlayTargCacheEntry>()].copy_from_slice(e.as_bytes());
            }
            a.vtcw_count = ents.len() as u64;
            a.vtcw_marker = marker;
            put(b, &a);
        }
        _ => return Err(Errno::EINVAL),
    }
    Ok(())
}

/// The reply when no daemon state is available (`EAGAIN`).
pub fn serve_unavailable(buf: &mut Vec<u8>) -> usize {
    buf.clear();
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&(Errno::EAGAIN.0 as u32).to_ne_bytes());
    ERESP_SIZE
}
