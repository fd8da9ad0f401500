//! # The overlay client
//!
//! Where this crate sits among the others: `ARCHITECTURE.md` at the
//! repository root.
//!
//! Userland's way to the overlay driver, for varpd and dladm-overlay.
//!
//! ## Theory statement
//!
//! There is one client, [`Client`], and two transports under it. On
//! illumos the driver is in the kernel and the client is what libdladm
//! and libvarpd are: `ioctl(2)` on `/dev/dld` for the `OVERLAY_IOC_*`
//! commands (create, delete, properties, activate, status) and on
//! `/dev/overlay` for the `OVERLAY_TARG_*` commands (varpd's lookups,
//! answers, frames, and cache). On Linux the driver runs in the `overlayd`
//! daemon, and the client connects to its control socket instead
//! ([`proto`]).
//!
//! The two differ only in how bytes cross into the driver, so nothing
//! above [`Client::ioctl`] knows which one it has. What crosses is the
//! same on both: the illumos command number and the illumos argument
//! struct of [`overlay::abi`], byte for byte, and back the illumos errno
//! and the struct as the driver copies it out. The socket does not
//! re-encode because there is nothing to gain: both ends are on one host,
//! share the layouts (asserted at compile time against the illumos
//! headers), and run the same entry points (`overlay::ioctl`) behind
//! both doors, so the daemon serves exactly what the kernel module
//! serves, errnos included, and a bug cannot hide in a translation.
//!
//! Only three things cannot be the same bytes, and the socket carries
//! them the way the kernel would copy them:
//!
//! * `OVERLAY_TARG_PKT`, `_INJECT` and `_RESEND` name a frame by user
//!   pointer (`otp_buf`). The ioctl transport points it at the caller's
//!   buffer; the socket sends the frame (in) or receives it (out) as the
//!   request's or reply's data.
//! * `OVERLAY_TARG_LIST` and `_CACHE_ITER` take a header followed by room
//!   for an array. The ioctl transport hands the kernel the whole buffer;
//!   the socket sends only the header and copies the reply (header and
//!   array) back into the buffer.
//! * Opening `/dev/overlay` (once per handle, with `FEXCL` for varpd) is
//!   a command on the socket, [`proto::OVERLAY_HOST_OPEN`]. Lookups
//!   taken on a handle belong to it; closing the handle (dropping the
//!   client) returns the unanswered ones to the queue, on both.
//!
//! Linux also lacks dlmgmtd and dld, which on illumos name links and make
//! VNICs. The daemon does that with the host commands (`OVERLAY_HOST_*`:
//! [`Client::link_create`], [`Client::vnic_create`] and friends), which
//! on illumos answer `ENOTSUP`.
//!
//! Every typed method builds its struct and goes through the one raw
//! [`Client::ioctl`], which checks the buffers against the command
//! (so that even the raw call cannot make the kernel write past them)
//! and then hands it to the transport. Failures are a [`ClientError`]:
//! the driver's errno, or a transport failure.
//!
//! A `Client` is shared between threads as a descriptor is: on illumos
//! the kernel runs concurrent ioctls on one descriptor in parallel, and
//! the socket protocol is multiplexed to match (requests carry ids,
//! replies come back in any order, see [`proto`]). So a `LOOKUP` waiting
//! up to a second for work on one thread holds up nothing another thread
//! sends on the same client, and varpd runs its `2 × ncpu + 1` lookup
//! threads on one handle on both transports.
//!
//! Two additions serve varpd's lookup path, where on the socket the
//! cost is thread handoffs rather than work: [`Client::respond_posted`]
//! and [`Client::drop_posted`] send the answer without waiting for the
//! driver's (errno-only) reply, which goes to a handler
//! ([`Client::on_posted_error`]) if it is a refusal; and
//! [`Client::set_lookup_prefetch`] keeps `LOOKUP`s in flight ahead of the
//! threads asking, so that in a burst of misses an answer is waiting
//! when a lookup thread comes back. On illumos both are the plain
//! ioctls: a posted command is issued synchronously (a refusal still
//! goes to the handler), and there is nothing to prefetch.

#![deny(missing_debug_implementations)]

use std::path::{Path, PathBuf};

#[cfg(target_os = "illumos")]
use std::fs::File;
use std::os::unix::net::UnixStream;

use zerocopy::{FromBytes, Immutable, IntoBytes};

pub use overlay;
pub use overlay::Errno;

mod dld;
mod error;
mod host;
#[cfg(target_os = "illumos")]
mod illumos;
/// The control-socket protocol (it lives with the ABI it carries).
pub use overlay::abi::ctl as proto;
mod shape;
mod socket;
mod targ;
#[cfg(test)]
mod tests;

pub use error::ClientError;
pub use proto::{HostLink, HostStat, HostVnic};

/// A posted command ([`Client::respond_posted`], [`Client::drop_posted`])
/// that the driver refused.
#[derive(Debug)]
pub struct PostedError {
    /// The command (`OVERLAY_TARG_RESPOND` or `OVERLAY_TARG_DROP`).
    pub cmd: u32,
    /// The request it answered.
    pub reqid: u64,
    /// The driver's errno.
    pub error: ClientError,
}

/// Receives refused posted commands. On the socket it runs on whichever
/// thread reads the reply, in the middle of that thread's own call: it
/// must be quick and must not call into the client.
pub type PostedHandler = dyn Fn(PostedError) + Send + Sync;

/// The frame buffer that travels beside a `/dev/overlay` argument.
#[derive(Debug)]
pub enum IoData<'a> {
    /// No frame: every command but the three below.
    None,
    /// The frame of `OVERLAY_TARG_INJECT` or `_RESEND`; `otp_size` bytes
    /// of it are sent.
    In(&'a [u8]),
    /// Room for the frame of `OVERLAY_TARG_PKT`; `otp_size` may not
    /// exceed it.
    Out(&'a mut [u8]),
}

/// A handle on the overlay driver.
///
/// Made by [`open_dld`](Client::open_dld) (the datalink commands, as
/// dladm needs) or [`open_overlay`](Client::open_overlay) (also the
/// target commands, as varpd needs). It is `Send` and `Sync`; dropping it
/// closes the handle.
#[derive(Debug)]
pub struct Client {
    transport: Transport,
}

#[derive(Debug)]
enum Transport {
    /// The illumos kernel driver.
    #[cfg(target_os = "illumos")]
    Ioctl {
        dld: File,
        /// Present once opened as `/dev/overlay`.
        overlay: Option<File>,
        /// Where refused posted commands go.
        posted: PostedSlot,
    },
    /// overlayd's control socket.
    Socket(socket::Conn),
}

/// The posted handler of the ioctl transport.
#[cfg(target_os = "illumos")]
#[derive(Default)]
struct PostedSlot(std::sync::RwLock<Option<std::sync::Arc<PostedHandler>>>);

#[cfg(target_os = "illumos")]
impl std::fmt::Debug for PostedSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostedSlot")
    }
}

/// The control socket clients connect to: `$OVERLAY_CTL`, else
/// [`proto::CTL_PATH`].
pub fn ctl_path() -> PathBuf {
    std::env::var_os(proto::CTL_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(proto::CTL_PATH))
}

impl Client {
    /// Opens the datalink side of the driver (`OVERLAY_IOC_*`, and on
    /// Linux the host commands).
    ///
    /// illumos: `/dev/dld`, read-write. Elsewhere: connects to the
    /// control socket at [`ctl_path`].
    pub fn open_dld() -> Result<Client, ClientError> {
        #[cfg(target_os = "illumos")]
        {
            let dld = illumos::open(illumos::DLD_PATH, true, false)?;
            Ok(Client {
                transport: Transport::Ioctl {
                    dld,
                    overlay: None,
                    posted: Default::default(),
                },
            })
        }
        #[cfg(not(target_os = "illumos"))]
        {
            Client::connect(ctl_path())
        }
    }

    /// Opens the driver as `/dev/overlay` as well: the handle varpd
    /// holds (`excl`: read-write and exclusive, as varpd opens it) or a
    /// read-only one for queries.
    ///
    /// illumos: `/dev/dld` and `/dev/overlay` (`O_RDWR | O_EXCL`, or
    /// `O_RDONLY`). Elsewhere: connects to [`ctl_path`] and sends
    /// [`proto::OVERLAY_HOST_OPEN`] with `FREAD | FWRITE | FEXCL` (or
    /// `FREAD`).
    pub fn open_overlay(excl: bool) -> Result<Client, ClientError> {
        #[cfg(target_os = "illumos")]
        {
            let dld = illumos::open(illumos::DLD_PATH, true, false)?;
            let overlay = illumos::open(illumos::OVERLAY_PATH, excl, excl)?;
            Ok(Client {
                transport: Transport::Ioctl {
                    dld,
                    overlay: Some(overlay),
                    posted: Default::default(),
                },
            })
        }
        #[cfg(not(target_os = "illumos"))]
        {
            let flags = if excl {
                proto::FREAD | proto::FWRITE | proto::FEXCL
            } else {
                proto::FREAD
            };
            Client::connect_overlay(ctl_path(), flags)
        }
    }

    /// Connects to a control socket (the datalink and host commands).
    pub fn connect(path: impl AsRef<Path>) -> Result<Client, ClientError> {
        let path = path.as_ref();
        let s = UnixStream::connect(path).map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    " (is overlayd running?)"
                }
                _ => "",
            };
            ClientError::io(
                e.kind(),
                format!("connecting to {}: {e}{hint}", path.display()),
            )
        })?;
        Client::from_stream(s)
    }

    /// Connects to a control socket and opens the connection as
    /// `/dev/overlay` with `flags` ([`proto::FREAD`], [`proto::FWRITE`],
    /// [`proto::FEXCL`]).
    pub fn connect_overlay(path: impl AsRef<Path>, flags: u32) -> Result<Client, ClientError> {
        let c = Client::connect(path)?;
        c.host_open(flags)?;
        Ok(c)
    }

    /// A client on an already connected control socket (a socket pair
    /// into an in-process server, say). The stream is made blocking, with
    /// a generous reply timeout.
    pub fn from_stream(stream: UnixStream) -> Result<Client, ClientError> {
        Ok(Client {
            transport: Transport::Socket(socket::Conn::new(stream)?),
        })
    }

    /// Sends [`proto::OVERLAY_HOST_OPEN`]: from now on this connection is
    /// an open of `/dev/overlay` with `flags`. Once only; `ENOTSUP` on
    /// the illumos transport (open with [`Client::open_overlay`]).
    pub fn host_open(&self, flags: u32) -> Result<(), ClientError> {
        let mut o = proto::HostOpen { ho_flags: flags };
        self.call(proto::OVERLAY_HOST_OPEN, &mut o)
    }

    /// Issues one command: `arg` is its argument struct (for
    /// `OVERLAY_TARG_LIST`, `_CACHE_ITER` and the host lists, the header
    /// followed by room for the array its count announces), updated in
    /// place with what the driver copies out; `data` the frame of the
    /// `PKT` family. Returns the frame bytes moved (received for `PKT`,
    /// sent for `INJECT` and `RESEND`; otherwise 0).
    ///
    /// Only the overlay commands are accepted (others are `ENOTTY`
    /// without asking). Buffers too small for what the command makes the
    /// driver copy, or an `otp_size` beyond the frame buffer, are
    /// `EFAULT`; a frame buffer for a command that takes none, or the
    /// wrong way round, is `EINVAL`. `otp_buf` is set by the transport
    /// and left as the caller had it.
    pub fn ioctl(&self, cmd: u32, arg: &mut [u8], data: IoData<'_>) -> Result<usize, ClientError> {
        let shape = shape::check(cmd, arg, &data)?;
        match &self.transport {
            #[cfg(target_os = "illumos")]
            Transport::Ioctl { dld, overlay, .. } => {
                illumos::call(dld, overlay.as_ref(), cmd, &shape, arg, data)
            }
            Transport::Socket(c) => c.call(cmd, &shape, arg, data),
        }
    }

    /// Sets where refused posted commands are reported (replacing any
    /// handler set before). Without one they are dropped.
    pub fn on_posted_error(&self, f: impl Fn(PostedError) + Send + Sync + 'static) {
        let f: std::sync::Arc<PostedHandler> = std::sync::Arc::new(f);
        match &self.transport {
            #[cfg(target_os = "illumos")]
            Transport::Ioctl { posted, .. } => {
                *posted
                    .0
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(f);
            }
            Transport::Socket(c) => c.set_posted_handler(f),
        }
    }

    /// How many `OVERLAY_TARG_LOOKUP`s [`Client::lookup`] keeps in flight
    /// beyond one per thread waiting in it (socket transport; default 0,
    /// at most 256). The answers they bring wait in the client for the
    /// next [`Client::lookup`] call; they belong to this handle, and go
    /// back to the driver's queue if it closes first. Nothing on illumos.
    pub fn set_lookup_prefetch(&self, n: usize) {
        match &self.transport {
            #[cfg(target_os = "illumos")]
            Transport::Ioctl { .. } => {
                let _ = n;
            }
            Transport::Socket(c) => c.set_lookup_prefetch(n),
        }
    }

    /// Issues a command whose reply is only an errno, without waiting
    /// for it where the transport allows; a refusal goes to the
    /// [posted handler](Client::on_posted_error) with `reqid` (which on
    /// the socket the driver echoes: it must lead the argument).
    fn post<T: FromBytes + IntoBytes + Immutable>(
        &self,
        cmd: u32,
        arg: &mut T,
        reqid: u64,
    ) -> Result<(), ClientError> {
        let arg = arg.as_mut_bytes();
        let shape = shape::check(cmd, arg, &IoData::None)?;
        match &self.transport {
            #[cfg(target_os = "illumos")]
            Transport::Ioctl {
                dld,
                overlay,
                posted,
            } => match illumos::call(dld, overlay.as_ref(), cmd, &shape, arg, IoData::None) {
                Err(ClientError::Errno(e)) => {
                    let h = posted
                        .0
                        .read()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .clone();
                    if let Some(h) = h {
                        h(PostedError {
                            cmd,
                            reqid,
                            error: ClientError::Errno(e),
                        });
                    }
                    Ok(())
                }
                r => r.map(drop),
            },
            Transport::Socket(c) => {
                // Not kept: a failure reply echoes the argument, which
                // leads with it.
                let _ = reqid;
                c.post(cmd, &shape, arg)
            }
        }
    }

    /// A command whose argument is one struct, in and out.
    fn call<T: FromBytes + IntoBytes + Immutable>(
        &self,
        cmd: u32,
        arg: &mut T,
    ) -> Result<(), ClientError> {
        self.ioctl(cmd, arg.as_mut_bytes(), IoData::None).map(drop)
    }

    /// The two-call protocol of `OVERLAY_TARG_LIST` (and the host lists):
    /// ask how many with room for none, then ask again with room for that
    /// many, and again if more appeared in between. `hdr` is the request
    /// header whose leading `u32` is the count; returns the reply buffer
    /// and how many entries of `ent_size` it holds after `hdr`.
    fn list_raw(
        &self,
        cmd: u32,
        hdr: &[u8],
        ent_size: usize,
    ) -> Result<(Vec<u8>, usize), ClientError> {
        /// Rounds before giving up on a list that keeps growing.
        const TRIES: usize = 32;
        let set_count = |b: &mut [u8], n: u32| b[..4].copy_from_slice(&n.to_ne_bytes());
        let count = |b: &[u8]| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        for _ in 0..TRIES {
            let mut probe = hdr.to_vec();
            set_count(&mut probe, 0);
            self.ioctl(cmd, &mut probe, IoData::None)?;
            let want = count(&probe);
            if want == 0 {
                return Ok((probe, 0));
            }
            let len = (want as usize)
                .checked_mul(ent_size)
                .and_then(|a| a.checked_add(hdr.len()))
                .ok_or(Errno::EOVERFLOW)?;
            let mut buf = vec![0u8; len];
            buf[..hdr.len()].copy_from_slice(hdr);
            set_count(&mut buf, want);
            self.ioctl(cmd, &mut buf, IoData::None)?;
            let got = count(&buf);
            if got <= want {
                return Ok((buf, got as usize));
            }
        }
        Err(Errno::EAGAIN.into())
    }
}

/// The entries of a list reply.
fn decode_entries<T: FromBytes>(buf: &[u8], off: usize, n: usize) -> Vec<T> {
    buf.get(off..)
        .unwrap_or(&[])
        .chunks_exact(size_of::<T>())
        .take(n)
        .filter_map(|c| T::read_from_bytes(c).ok())
        .collect()
}

/// A fixed C string field as text, lossily (for messages and names the
/// driver made).
fn c_text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// `strlcpy` into a fixed C string field: truncated (at a character
/// boundary) to leave room for the NUL, and cut at an embedded NUL.
fn strlcpy(dst: &mut [u8], s: &str) {
    let s = s.split('\0').next().unwrap_or("");
    let mut end = s.len().min(dst.len().saturating_sub(1));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    dst.fill(0);
    dst[..end].copy_from_slice(&s.as_bytes()[..end]);
}
