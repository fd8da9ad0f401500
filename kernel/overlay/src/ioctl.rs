//! The ioctl entry points: argument structs in, illumos errnos out.
//!
//! A host moves bytes across its user boundary (illumos: dld's copyin and
//! `ddi_copyin`; Linux: the control socket) and hands them here. These
//! functions decode them with the [`abi`](crate::abi) layouts, check the
//! illumos rules, call the driver, and encode the reply. They never trust
//! a length or a string from the caller and never panic on its input.

use alloc::vec::Vec;

use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::abi::EtherAddr;
use crate::abi::common::*;
use crate::abi::dld::*;
use crate::abi::targ::*;
use crate::driver::{Cred, CtlHandle, LOOKUP_TIMEOUT_NS, Overlay};
use crate::errno::Errno;
use crate::platform::Platform;

fn read<T: FromBytes>(arg: &[u8]) -> Result<T, Errno> {
    T::read_from_prefix(arg)
        .map(|(t, _)| t)
        .map_err(|_| Errno::EFAULT)
}

fn write<T: IntoBytes + zerocopy::Immutable>(arg: &mut [u8], v: &T) -> Result<(), Errno> {
    v.write_to_prefix(arg).map_err(|_| Errno::EFAULT)
}

/// Serves one `/dev/dld` overlay ioctl. `arg` holds the argument struct
/// (exactly `sizeof`, as dld copies it in); it is updated in place for the
/// commands that copy out.
pub fn dld_ioctl<P: Platform>(
    ov: &Overlay<P>,
    cmd: u32,
    cred: Cred,
    arg: &mut [u8],
) -> Result<(), Errno> {
    let op = DldIoctl::from_cmd(cmd).ok_or(Errno::ENOTTY)?;
    if op.needs_dl_config() && !cred.dl_config {
        return Err(Errno::EPERM);
    }
    if arg.len() < op.arg_size() {
        return Err(Errno::EFAULT);
    }
    match op {
        DldIoctl::Create => {
            let c: OverlayIocCreate = read(arg)?;
            let encap = cstr_field(&c.oic_encap)?;
            ov.create(c.oic_linkid, c.oic_vnetid, encap).map(drop)
        }
        DldIoctl::Delete => ov.delete(read::<OverlayIocDelete>(arg)?.oid_linkid),
        DldIoctl::Activate => ov
            .activate(read::<OverlayIocActivate>(arg)?.oia_linkid)
            .map_err(|(e, _)| e),
        DldIoctl::Nprops => {
            let mut n: OverlayIocNprops = read(arg)?;
            n.oipn_nprops = ov.device(n.oipn_linkid).ok_or(Errno::ENOENT)?.nprops();
            write(arg, &n)
        }
        DldIoctl::Propinfo => {
            let mut p: OverlayIocPropinfo = read(arg)?;
            let dev = ov.device(p.oipi_linkid).ok_or(Errno::ENOENT)?;
            let name = if p.oipi_id == -1 {
                cstr_field(&p.oipi_name)?
            } else {
                ""
            };
            let id = dev.resolve_prop(p.oipi_id, name)?;
            let info = dev.propinfo(id)?;
            p.oipi_id = id;
            p.oipi_name = info.name;
            p.oipi_type = info.ptype;
            p.oipi_prot = info.prot;
            p.oipi_default = info.default;
            p.oipi_defsize = info.defsize;
            p.oipi_posssize = info.posssize;
            p.oipi_poss = info.poss;
            write(arg, &p)
        }
        DldIoctl::Getprop => {
            let mut p: OverlayIocProp = read(arg)?;
            let dev = ov.device(p.oip_linkid).ok_or(Errno::ENOENT)?;
            let name = if p.oip_id == -1 {
                cstr_field(&p.oip_name)?
            } else {
                ""
            };
            let id = dev.resolve_prop(p.oip_id, name)?;
            p.oip_value = [0; OVERLAY_PROP_SIZEMAX];
            p.oip_size = dev.getprop(id, &mut p.oip_value)? as u32;
            p.oip_id = id;
            write(arg, &p)
        }
        DldIoctl::Setprop => {
            let p: OverlayIocProp = read(arg)?;
            if p.oip_size as usize > OVERLAY_PROP_SIZEMAX {
                return Err(Errno::EINVAL);
            }
            let dev = ov.device(p.oip_linkid).ok_or(Errno::ENOENT)?;
            if dev.flags() & crate::dev::flags::ACTIVATED != 0 {
                return Err(Errno::ENOTSUP);
            }
            let name = if p.oip_id == -1 {
                cstr_field(&p.oip_name)?
            } else {
                ""
            };
            let id = dev.resolve_prop(p.oip_id, name)?;
            ov.setprop(&dev, id, &p.oip_value[..p.oip_size as usize])
        }
        DldIoctl::Status => {
            let mut s: OverlayIocStatus = read(arg)?;
            let (degraded, msg) = ov.status(s.ois_linkid)?;
            s.ois_status = if degraded {
                OVERLAY_I_DEGRADED
            } else {
                OVERLAY_I_OK
            };
            s.ois_message = if degraded {
                msg
            } else {
                [0; OVERLAY_STATUS_BUFLEN]
            };
            write(arg, &s)
        }
    }
}

/// Data that travels beside a `/dev/overlay` argument struct: the frame
/// buffer of `PKT` (out), `INJECT` and `RESEND` (in).
#[derive(Debug)]
pub enum TargData<'a> {
    None,
    Out(&'a mut [u8]),
    In(&'a [u8]),
}

/// Serves one `/dev/overlay` ioctl on a control handle. `arg` holds the
/// argument as [`copy_plan`](crate::abi::targ::copy_plan) says a host
/// copies it in (for `LIST` and `CACHE_ITER` just the header: their
/// arrays are output only); on success it holds what is to be copied out,
/// never more than the plan's `copy_out`.
pub fn targ_ioctl<P: Platform>(
    h: &CtlHandle<P>,
    cmd: u32,
    cred: Cred,
    arg: &mut Vec<u8>,
    data: TargData<'_>,
) -> Result<(), Errno> {
    targ_ioctl_timed(h, cmd, cred, arg, data, LOOKUP_TIMEOUT_NS)
}

/// [`targ_ioctl`] with `OVERLAY_TARG_LOOKUP` waiting at most
/// `lookup_timeout_ns` for work (0: answer at once, `ETIME` if none is
/// queued). A host that serves a connection's commands from one reader
/// tries a LOOKUP this way first and hands it to a thread that may
/// block only when it must (see overlayd's control socket).
pub fn targ_ioctl_timed<P: Platform>(
    h: &CtlHandle<P>,
    cmd: u32,
    cred: Cred,
    arg: &mut Vec<u8>,
    data: TargData<'_>,
    lookup_timeout_ns: u64,
) -> Result<(), Errno> {
    let op = TargIoctl::from_cmd(cmd).ok_or(Errno::ENOTTY)?;
    if !cred.dl_config {
        return Err(Errno::EPERM);
    }
    if op.needs_write() && !h.flags().write {
        return Err(Errno::EBADF);
    }
    if arg.len() < op.arg_size() {
        return Err(Errno::EFAULT);
    }
    let ov = h.overlay();
    match op {
        TargIoctl::Info => {
            let id: OverlayTargId = read(arg)?;
            let info = ov.targ_info(id.otid_linkid)?;
            write(arg, &info)
        }
        TargIoctl::Associate => ov.associate(&read(arg)?),
        TargIoctl::Disassociate => ov.disassociate(read::<OverlayTargId>(arg)?.otid_linkid),
        TargIoctl::Degrade => {
            let d: OverlayTargDegrade = read(arg)?;
            ov.degrade(d.otd_linkid, &d.otd_buf)
        }
        TargIoctl::Restore => ov.restore(read::<OverlayTargId>(arg)?.otid_linkid),
        TargIoctl::Lookup => {
            let req = h.lookup(lookup_timeout_ns)?;
            write(arg, &req)
        }
        TargIoctl::Respond => {
            let r: OverlayTargResp = read(arg)?;
            h.respond(r.otr_reqid, &r.otr_answer)
        }
        TargIoctl::Drop => h.drop_request(read::<OverlayTargResp>(arg)?.otr_reqid),
        TargIoctl::Pkt => {
            let mut p: OverlayTargPkt = read(arg)?;
            let TargData::Out(buf) = data else {
                return Err(Errno::EFAULT);
            };
            let n = buf.len().min(p.otp_size as usize);
            p.otp_size = h.pkt(p.otp_reqid, &mut buf[..n])? as u64;
            write(arg, &p)
        }
        TargIoctl::Inject | TargIoctl::Resend => {
            let p: OverlayTargPkt = read(arg)?;
            if p.otp_size > INJECT_MAX as u64 {
                return Err(Errno::EINVAL);
            }
            let TargData::In(frame) = data else {
                return Err(Errno::EFAULT);
            };
            let frame = frame.get(..p.otp_size as usize).ok_or(Errno::EFAULT)?;
            if op == TargIoctl::Inject {
                h.inject(p.otp_linkid, p.otp_reqid, frame)
            } else {
                h.resend(p.otp_linkid, p.otp_reqid, frame)
            }
        }
        TargIoctl::List => {
            // Validates the count (EINVAL) as the copy-in did.
            copy_plan(cmd, arg, 0)?;
            let n = read::<OverlayTargListHdr>(arg)?.otl_nents as usize;
            let links = ov.list();
            // Sized by what exists, not by the room the caller announced.
            let mut out = Vec::with_capacity(OTL_ENTS_OFFSET + 4 * n.min(links.len()));
            out.extend_from_slice(&(links.len() as u32).to_ne_bytes());
            for l in links.iter().take(n) {
                out.extend_from_slice(&l.to_ne_bytes());
            }
            *arg = out;
            Ok(())
        }
        TargIoctl::CacheGet => {
            let mut c: OverlayTargCache = read(arg)?;
            c.otc_entry = ov.cache_get(c.otc_linkid, c.otc_entry.otce_mac)?;
            write(arg, &c)
        }
        TargIoctl::CacheSet => {
            let c: OverlayTargCache = read(arg)?;
            ov.cache_set(c.otc_linkid, &c.otc_entry)
        }
        TargIoctl::CacheRemove => {
            let c: OverlayTargCache = read(arg)?;
            ov.cache_remove(c.otc_linkid, c.otc_entry.otce_mac)
        }
        TargIoctl::CacheFlush => ov.cache_flush(read::<OverlayTargCache>(arg)?.otc_linkid),
        TargIoctl::CacheIter => {
            let mut hdr: OverlayTargCacheIterHdr = read(arg)?;
            if hdr.otci_count == 0 {
                return Err(Errno::EINVAL);
            }
            copy_plan(cmd, arg, 0)?;
            let (ents, marker) = ov.cache_iter(
                hdr.otci_linkid,
                IterMarker::from_u64(hdr.otci_marker),
                hdr.otci_count,
            )?;
            hdr.otci_marker = marker.to_u64();
            hdr.otci_count = ents.len() as u16;
            let mut out = alloc::vec![0u8; otci_copy_size(hdr.otci_count)];
            write(&mut out, &hdr)?;
            for (i, e) in ents.iter().enumerate() {
                let off = OTCI_ENTS_OFFSET + i * core::mem::size_of::<OverlayTargCacheEntry>();
                write(&mut out[off..], e)?;
            }
            *arg = out;
            Ok(())
        }
    }
}

/// Builds a cache entry argument (for clients and tests).
pub fn cache_arg(linkid: u32, mac: EtherAddr, entry: OverlayTargCacheEntry) -> OverlayTargCache {
    let mut c = OverlayTargCache::new_zeroed();
    c.otc_linkid = linkid;
    c.otc_entry = entry;
    c.otc_entry.otce_mac = mac;
    c
}
