//! A client of varpd (what `libvarpd_client.c` is to libdladm): over the
//! door on illumos, over the Unix socket of [`crate::server`] elsewhere.

#[cfg(not(target_os = "illumos"))]
use std::io::{Read, Write};
#[cfg(not(target_os = "illumos"))]
use std::os::unix::net::UnixStream;
use std::path::Path;
#[cfg(not(target_os = "illumos"))]
use std::sync::Mutex;
#[cfg(not(target_os = "illumos"))]
use std::time::Duration;

use overlay::Errno;
use overlay::abi::EtherAddr;
use overlay::abi::common::OVERLAY_PROP_SIZEMAX;
use overlay::abi::targ::OverlayTargCacheEntry;
use overlay_client::ClientError;
use zerocopy::{FromBytes, FromZeros};

use crate::core::CacheEntry;
use crate::proto::*;

/// A property description, as PROPINFO returns it.
#[derive(Clone, Debug)]
pub struct PropDesc {
    pub id: u32,
    pub name: String,
    pub ptype: u32,
    pub prot: u32,
    pub default: Vec<u8>,
    /// The `mac_propval_range_t` of possible values.
    pub poss: Vec<u8>,
}

/// A connection to varpd.
#[derive(Debug)]
pub struct VarpdClient {
    #[cfg(not(target_os = "illumos"))]
    s: Mutex<UnixStream>,
    #[cfg(target_os = "illumos")]
    door: std::fs::File,
}

fn io(e: std::io::Error) -> ClientError {
    ClientError::Io(e)
}

impl VarpdClient {
    pub fn connect(path: impl AsRef<Path>) -> Result<VarpdClient, ClientError> {
        #[cfg(target_os = "illumos")]
        {
            let door = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(io)?;
            Ok(VarpdClient { door })
        }
        #[cfg(not(target_os = "illumos"))]
        {
            let s = UnixStream::connect(path).map_err(io)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .map_err(io)?;
            Ok(VarpdClient { s: Mutex::new(s) })
        }
    }

    /// Sends a raw request; returns the reply buffer (whatever its
    /// `vca_errno`). illumos: `door_call` with the request as argument
    /// and a result buffer of the largest reply, retried on `EINTR`.
    #[cfg(target_os = "illumos")]
    pub fn call_raw(&self, req: &[u8]) -> Result<Vec<u8>, ClientError> {
        use std::os::fd::AsRawFd;
        #[repr(C)]
        struct DoorArg {
            data_ptr: *mut libc::c_char,
            data_size: libc::size_t,
            desc_ptr: *mut libc::c_void,
            desc_num: libc::c_uint,
            rbuf: *mut libc::c_char,
            rsize: libc::size_t,
        }
        unsafe extern "C" {
            fn door_call(d: libc::c_int, params: *mut DoorArg) -> libc::c_int;
        }
        let mut arg = req.to_vec();
        let mut rbuf = vec![0u8; MAX_REQUEST.max(req.len())];
        loop {
            let mut da = DoorArg {
                data_ptr: arg.as_mut_ptr().cast(),
                data_size: arg.len(),
                desc_ptr: std::ptr::null_mut(),
                desc_num: 0,
                rbuf: rbuf.as_mut_ptr().cast(),
                rsize: rbuf.len(),
            };
            // SAFETY: door_call on our door with buffers that outlive it.
            let r = unsafe { door_call(self.door.as_raw_fd(), &mut da) };
            if r != 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(io(e));
            }
            let n = da.data_size.min(MAX_REQUEST);
            // SAFETY: the result is in our buffer or in one the door
            // mapped for us; `n` bytes are readable either way.
            let out = unsafe { std::slice::from_raw_parts(da.data_ptr.cast::<u8>(), n) }.to_vec();
            if da.rbuf != rbuf.as_mut_ptr().cast() {
                // SAFETY: the door mapped a larger result area for us.
                unsafe { libc::munmap(da.rbuf.cast(), da.rsize) };
            }
            return Ok(out);
        }
    }

    /// Sends a raw request; returns the reply buffer (whatever its
    /// `vca_errno`).
    #[cfg(not(target_os = "illumos"))]
    pub fn call_raw(&self, req: &[u8]) -> Result<Vec<u8>, ClientError> {
        let mut s = self.s.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(4 + req.len());
        out.extend_from_slice(&(req.len() as u32).to_le_bytes());
        out.extend_from_slice(req);
        s.write_all(&out).map_err(io)?;
        let mut len = [0u8; 4];
        s.read_exact(&mut len).map_err(io)?;
        let n = u32::from_le_bytes(len) as usize;
        if n > MAX_REQUEST {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "reply too large",
            )));
        }
        let mut b = vec![0u8; n];
        s.read_exact(&mut b).map_err(io)?;
        Ok(b)
    }

    /// One command: the reply, or its errno.
    pub fn call(&self, req: &[u8]) -> Result<Vec<u8>, ClientError> {
        let b = self.call_raw(req)?;
        if b.len() < ERESP_SIZE {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "short reply",
            )));
        }
        match errno_of(&b) {
            0 if b.len() >= ARG_SIZE => Ok(b),
            0 => Err(Errno::EPROTO.into()),
            e => Err(Errno(e as i32).into()),
        }
    }

    fn cmd<T: zerocopy::IntoBytes + zerocopy::Immutable + FromBytes>(
        &self,
        cmd: u32,
        arg: &T,
    ) -> Result<T, ClientError> {
        let mut b = request(cmd);
        put(&mut b, arg);
        let r = self.call(&b)?;
        Ok(get(&r))
    }

    pub fn create(&self, linkid: u32, plugin: &str) -> Result<u64, ClientError> {
        let mut a = CreateArg::new_zeroed();
        a.vcca_linkid = linkid;
        let n = plugin.len().min(63);
        a.vcca_plugin[..n].copy_from_slice(&plugin.as_bytes()[..n]);
        Ok(self.cmd(VARPD_CLIENT_CREATE, &a)?.vcca_id)
    }

    pub fn activate(&self, id: u64) -> Result<(), ClientError> {
        self.cmd(VARPD_CLIENT_ACTIVATE, &InstanceArg { vcia_id: id })
            .map(drop)
    }

    pub fn destroy(&self, id: u64) -> Result<(), ClientError> {
        self.cmd(VARPD_CLIENT_DESTROY, &InstanceArg { vcia_id: id })
            .map(drop)
    }

    pub fn nprops(&self, id: u64) -> Result<u32, ClientError> {
        let mut a = NpropsArg::new_zeroed();
        a.vcna_id = id;
        Ok(self.cmd(VARPD_CLIENT_NPROPS, &a)?.vcna_nprops)
    }

    fn propinfo_raw(&self, id: u64, propid: u32, name: &str) -> Result<PropDesc, ClientError> {
        let mut a = PropinfoArg::new_zeroed();
        a.vcfa_id = id;
        a.vcfa_propid = propid;
        let n = name.len().min(63);
        a.vcfa_name[..n].copy_from_slice(&name.as_bytes()[..n]);
        let r = self.cmd(VARPD_CLIENT_PROPINFO, &a)?;
        let end = r.vcfa_name.iter().position(|&c| c == 0).unwrap_or(64);
        Ok(PropDesc {
            id: r.vcfa_propid,
            name: String::from_utf8_lossy(&r.vcfa_name[..end]).into_owned(),
            ptype: r.vcfa_type,
            prot: r.vcfa_prot,
            default: r.vcfa_default[..(r.vcfa_defsize as usize).min(OVERLAY_PROP_SIZEMAX)].to_vec(),
            poss: r.vcfa_poss[..(r.vcfa_psize as usize).min(OVERLAY_PROP_SIZEMAX)].to_vec(),
        })
    }

    pub fn propinfo(&self, id: u64, propid: u32) -> Result<PropDesc, ClientError> {
        self.propinfo_raw(id, propid, "")
    }

    pub fn propinfo_by_name(&self, id: u64, name: &str) -> Result<PropDesc, ClientError> {
        self.propinfo_raw(id, PROPID_BY_NAME, name)
    }

    pub fn getprop(&self, id: u64, propid: u32) -> Result<Vec<u8>, ClientError> {
        let mut a = PropArg::new_zeroed();
        a.vcpa_id = id;
        a.vcpa_propid = propid;
        let r = self.cmd(VARPD_CLIENT_GETPROP, &a)?;
        if r.vcpa_bufsize > OVERLAY_PROP_SIZEMAX as u64 {
            return Err(Errno::E2BIG.into());
        }
        Ok(r.vcpa_buf[..r.vcpa_bufsize as usize].to_vec())
    }

    /// `len` 0 is `EINVAL`, over 256 `EOVERFLOW` (checked here, as
    /// libvarpd_client does).
    pub fn setprop(&self, id: u64, propid: u32, value: &[u8]) -> Result<(), ClientError> {
        if value.is_empty() {
            return Err(Errno::EINVAL.into());
        }
        if value.len() > OVERLAY_PROP_SIZEMAX {
            return Err(Errno::EOVERFLOW.into());
        }
        let mut a = PropArg::new_zeroed();
        a.vcpa_id = id;
        a.vcpa_propid = propid;
        a.vcpa_buf[..value.len()].copy_from_slice(value);
        a.vcpa_bufsize = value.len() as u64;
        self.cmd(VARPD_CLIENT_SETPROP, &a).map(drop)
    }

    pub fn setprop_by_name(&self, id: u64, name: &str, value: &[u8]) -> Result<(), ClientError> {
        let p = self.propinfo_by_name(id, name)?;
        self.setprop(id, p.id, value)
    }

    pub fn lookup(&self, linkid: u32) -> Result<u64, ClientError> {
        let a = LookupArg {
            vcla_linkid: linkid,
            vcla_pad: 0,
            vcla_id: 0,
        };
        Ok(self.cmd(VARPD_CLIENT_LOOKUP, &a)?.vcla_id)
    }

    /// (dest, mode).
    pub fn target_mode(&self, id: u64) -> Result<(u32, u32), ClientError> {
        let a = ModeArg {
            vtma_id: id,
            vtma_dest: 0,
            vtma_mode: 0,
        };
        let r = self.cmd(VARPD_CLIENT_TARGET_MODE, &a)?;
        Ok((r.vtma_dest, r.vtma_mode))
    }

    pub fn cache_flush(&self, id: u64) -> Result<(), ClientError> {
        self.cmd(VARPD_CLIENT_CACHE_FLUSH, &InstanceArg { vcia_id: id })
            .map(drop)
    }

    fn cache_arg(id: u64, key: EtherAddr) -> CacheArg {
        let mut a = CacheArg::new_zeroed();
        a.vtca_id = id;
        a.vtca_key = key.0;
        a
    }

    pub fn cache_delete(&self, id: u64, key: EtherAddr) -> Result<(), ClientError> {
        self.cmd(VARPD_CLIENT_CACHE_DELETE, &Self::cache_arg(id, key))
            .map(drop)
    }

    pub fn cache_get(&self, id: u64, key: EtherAddr) -> Result<CacheEntry, ClientError> {
        let r = self.cmd(VARPD_CLIENT_CACHE_GET, &Self::cache_arg(id, key))?;
        let e = r.vtca_entry;
        Ok(CacheEntry {
            mac: EtherAddr(e.vcp_mac),
            flags: e.vcp_flags,
            ip: overlay::abi::In6Addr(e.vcp_ip),
            port: e.vcp_port,
        })
    }

    pub fn cache_set(&self, id: u64, key: EtherAddr, e: &CacheEntry) -> Result<(), ClientError> {
        let mut a = Self::cache_arg(id, key);
        a.vtca_entry = ClientCacheEntry {
            vcp_mac: e.mac.0,
            vcp_flags: e.flags,
            vcp_ip: e.ip.0,
            vcp_port: e.port,
            vcp_pad: [0; 2],
        };
        self.cmd(VARPD_CLIENT_CACHE_SET, &a).map(drop)
    }

    /// One WALK call: up to `count` entries from `marker`; the new marker.
    pub fn cache_walk_raw(
        &self,
        id: u64,
        marker: u64,
        count: u64,
    ) -> Result<(Vec<OverlayTargCacheEntry>, u64), ClientError> {
        let ent = size_of::<OverlayTargCacheEntry>();
        let mut b = request(VARPD_CLIENT_CACHE_WALK);
        b.resize(WALK_ENTS_OFF + ent * count.min(WALK_MAX) as usize, 0);
        if b.len() < ARG_SIZE {
            b.resize(ARG_SIZE, 0);
        }
        put(
            &mut b,
            &WalkArg {
                vtcw_id: id,
                vtcw_marker: marker,
                vtcw_count: count,
            },
        );
        let r = self.call(&b)?;
        let a: WalkArg = get(&r);
        let n = (a.vtcw_count as usize).min((r.len().saturating_sub(WALK_ENTS_OFF)) / ent);
        let ents = (0..n)
            .filter_map(|i| {
                let o = WALK_ENTS_OFF + i * ent;
                OverlayTargCacheEntry::read_from_bytes(&r[o..o + ent]).ok()
            })
            .collect();
        Ok((ents, a.vtcw_marker))
    }

    /// The whole cache, 100 entries per call as libvarpd_client.
    pub fn cache_walk(&self, id: u64) -> Result<Vec<OverlayTargCacheEntry>, ClientError> {
        let mut all = Vec::new();
        let mut marker = 0;
        loop {
            let (ents, m) = self.cache_walk_raw(id, marker, 100)?;
            if ents.is_empty() {
                return Ok(all);
            }
            all.extend(ents);
            marker = m;
        }
    }
}
