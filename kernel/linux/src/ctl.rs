//! The control socket: the illumos ioctl ABI over a Unix stream socket.
//!
//! See `overlay_client::proto` for the framing. Each connection is served
//! by its own thread, so a varpd thread blocked in `OVERLAY_TARG_LOOKUP`
//! holds nothing but its connection. Only root peers are served (checked
//! with `SO_PEERCRED`); the socket file is mode 0600 besides.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use overlay::Errno;
use overlay::abi::dld::DldIoctl;
use overlay::abi::targ::TargIoctl;
use overlay::driver::{Cred, CtlHandle, OpenFlags};
use overlay::ioctl::{TargData, dld_ioctl, targ_arg_len, targ_data_len, targ_ioctl};
use overlay_client::proto::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::host::Host;
use crate::platform::LinuxPlatform;

/// The listening socket. Dropping it removes the socket file.
#[derive(Debug)]
pub struct CtlServer {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for CtlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl CtlServer {
    /// Binds `path` (mode 0600), creating its directory. A socket file
    /// left by a process that is gone is replaced; one that answers is
    /// not (`EADDRINUSE`).
    pub fn bind(path: &Path) -> io::Result<CtlServer> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running overlayd", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(CtlServer {
            listener,
            path: path.to_owned(),
        })
    }

    /// Accepts and serves connections until `stop` is set.
    pub fn serve(&self, host: &Arc<Host>, stop: &AtomicBool) {
        while !stop.load(Relaxed) {
            match crate::tap::poll_readable(self.listener.as_raw_fd(), 200) {
                Ok(true) => {}
                _ => continue,
            }
            let Ok((conn, _)) = self.listener.accept() else {
                continue;
            };
            if !peer_is_root(&conn) {
                tracing::warn!("refused a control connection from a non-root peer");
                continue;
            }
            let host = host.clone();
            let _ = std::thread::Builder::new()
                .name("ctl".into())
                .spawn(move || {
                    if let Err(e) = Connection::new(host).serve(conn) {
                        tracing::debug!(error = %e, "control connection closed");
                    }
                });
        }
    }
}

fn peer_is_root(conn: &UnixStream) -> bool {
    // SAFETY: all-zero ucred is valid.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED into a ucred of the given length.
    let r = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    r == 0 && cred.uid == 0
}

/// One client connection: optionally an open of `/dev/overlay`.
struct Connection {
    host: Arc<Host>,
    handle: Option<CtlHandle<LinuxPlatform>>,
}

/// Peers are root: they hold every privilege, in the only zone.
const CRED: Cred = Cred::ROOT;

impl Connection {
    fn new(host: Arc<Host>) -> Connection {
        Connection { host, handle: None }
    }

    fn serve(mut self, mut conn: UnixStream) -> io::Result<()> {
        conn.set_nonblocking(false)?;
        loop {
            let mut hdr = [0u8; size_of::<ReqHdr>()];
            conn.read_exact(&mut hdr)?;
            let Ok(req) = ReqHdr::read_from_bytes(&hdr) else {
                unreachable!("sized")
            };
            if req.magic != REQ_MAGIC || req.arg_len > MAX_PAYLOAD || req.data_len > MAX_PAYLOAD {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "bad request header",
                ));
            }
            let mut arg = vec![0u8; req.arg_len as usize];
            conn.read_exact(&mut arg)?;
            let mut data = vec![0u8; req.data_len as usize];
            conn.read_exact(&mut data)?;
            let (res, out) = self.dispatch(req.cmd, &mut arg, &data);
            let errno = match res {
                Ok(()) => 0,
                Err(e) => e.0 as u32,
            };
            let (arg_out, data_out): (&[u8], &[u8]) =
                if errno == 0 { (&arg, &out) } else { (&[], &[]) };
            let rep = RepHdr {
                magic: REP_MAGIC,
                errno,
                arg_len: arg_out.len() as u32,
                data_len: data_out.len() as u32,
            };
            let mut buf = Vec::with_capacity(16 + arg_out.len() + data_out.len());
            buf.extend_from_slice(rep.as_bytes());
            buf.extend_from_slice(arg_out);
            buf.extend_from_slice(data_out);
            conn.write_all(&buf)?;
        }
    }

    /// Serves one command; `arg` becomes the reply's argument bytes and
    /// the returned vector its data.
    fn dispatch(
        &mut self,
        cmd: u32,
        arg: &mut Vec<u8>,
        data: &[u8],
    ) -> (Result<(), Errno>, Vec<u8>) {
        if let Some(h) = HostCmd::from_cmd(cmd) {
            return (self.host_cmd(h, arg), Vec::new());
        }
        if let Some(op) = DldIoctl::from_cmd(cmd) {
            // dld copies in exactly sizeof the struct.
            arg.resize(op.arg_size(), 0);
            return (dld_ioctl(&self.host.overlay, cmd, CRED, arg), Vec::new());
        }
        if TargIoctl::from_cmd(cmd).is_none() {
            return (Err(Errno::ENOTTY), Vec::new());
        }
        let Some(h) = self.handle.as_ref() else {
            // Not opened as /dev/overlay.
            return (Err(Errno::EBADF), Vec::new());
        };
        match targ_arg_len(cmd, arg) {
            Ok(n) => arg.resize(n.max(arg.len()), 0),
            Err(e) => return (Err(e), Vec::new()),
        }
        let mut out = Vec::new();
        let want = match targ_data_len(cmd, arg, MAX_PAYLOAD as usize) {
            Ok(n) => n,
            Err(e) => return (Err(e), Vec::new()),
        };
        let res = match TargIoctl::from_cmd(cmd) {
            Some(TargIoctl::Pkt) => {
                out.resize(want, 0);
                let r = targ_ioctl(h, cmd, CRED, arg, TargData::Out(&mut out));
                let copied = overlay::abi::targ::OverlayTargPkt::read_from_prefix(arg)
                    .map(|(p, _)| p.otp_size as usize)
                    .unwrap_or(0);
                out.truncate(copied);
                r
            }
            Some(TargIoctl::Inject | TargIoctl::Resend) => {
                if data.len() < want {
                    Err(Errno::EFAULT)
                } else {
                    targ_ioctl(h, cmd, CRED, arg, TargData::In(&data[..want]))
                }
            }
            _ => targ_ioctl(h, cmd, CRED, arg, TargData::None),
        };
        (res, out)
    }

    fn host_cmd(&mut self, cmd: HostCmd, arg: &mut Vec<u8>) -> Result<(), Errno> {
        let host = &self.host;
        match cmd {
            HostCmd::Open => {
                let o: HostOpen = read(arg)?;
                if self.handle.is_some() {
                    return Err(Errno::EBUSY);
                }
                let how = OpenFlags {
                    read: o.ho_flags & FREAD != 0,
                    write: o.ho_flags & FWRITE != 0,
                    excl: o.ho_flags & FEXCL != 0,
                };
                self.handle = Some(host.overlay.open(how, CRED)?);
                Ok(())
            }
            HostCmd::LinkCreate => {
                let mut l: HostLink = read(arg)?;
                let name = overlay::abi::common::cstr_field(&l.hl_name)?;
                l.hl_linkid = host.link_create(name, l.hl_class)?;
                write(arg, &l)
            }
            HostCmd::LinkDelete => host.link_delete(read::<HostLink>(arg)?.hl_linkid),
            HostCmd::LinkLookup => {
                let mut l: HostLink = read(arg)?;
                let name = overlay::abi::common::cstr_field(&l.hl_name)?;
                (l.hl_linkid, l.hl_class) = host.link_lookup(name)?;
                write(arg, &l)
            }
            HostCmd::LinkList => list_reply(arg, host.link_list()),
            HostCmd::VnicCreate => {
                let v: HostVnic = read(arg)?;
                let out = host.vnic_create(&v)?;
                write(arg, &out)
            }
            HostCmd::VnicDelete => host.vnic_delete(read::<HostVnic>(arg)?.hv_linkid),
            HostCmd::VnicList => list_reply(arg, host.vnic_list()),
            HostCmd::Stats => {
                let h: HostListHdr = read(arg)?;
                let stats: Vec<HostStat> = host
                    .stats(h.hlh_linkid)?
                    .into_iter()
                    .map(|(name, value)| {
                        let mut s = HostStat {
                            hs_value: value,
                            ..Default::default()
                        };
                        s.hs_name[..name.len()].copy_from_slice(name.as_bytes());
                        s
                    })
                    .collect();
                list_reply(arg, stats)
            }
        }
    }
}

fn read<T: FromBytes>(arg: &[u8]) -> Result<T, Errno> {
    T::read_from_prefix(arg)
        .map(|(t, _)| t)
        .map_err(|_| Errno::EFAULT)
}

fn write<T: IntoBytes + zerocopy::Immutable>(arg: &mut Vec<u8>, v: &T) -> Result<(), Errno> {
    arg.clear();
    arg.extend_from_slice(v.as_bytes());
    Ok(())
}

/// A list reply, as `OVERLAY_TARG_LIST`: the header with the total
/// count, then as many entries as the caller has room for (none when it
/// asked for none: it only wanted the count).
fn list_reply<T: IntoBytes + zerocopy::Immutable>(
    arg: &mut Vec<u8>,
    items: Vec<T>,
) -> Result<(), Errno> {
    let mut h: HostListHdr = read(arg)?;
    let room = h.hlh_count as usize;
    h.hlh_count = items.len() as u32;
    arg.clear();
    arg.extend_from_slice(h.as_bytes());
    for it in items.iter().take(room) {
        arg.extend_from_slice(it.as_bytes());
    }
    Ok(())
}
