//! The underlay: one UDP socket per mux, batched with `sendmmsg` and
//! `recvmmsg`.
//!
//! A mux socket is bound to the plugin's listen address and port. An
//! IPv4(-mapped) listen address gets an `AF_INET` socket, so that IPv4
//! peers see plain IPv4; an IPv6 one an `AF_INET6` socket with
//! `IPV6_V6ONLY`. Linux computes the outer UDP checksum for both.
//!
//! The source port of what we send is the bound port (4789 by default),
//! as it was on illumos without `UDP_SRCPORT_HASH`: a bound UDP socket
//! cannot vary it per flow. The plugin's flow-hash port is carried in
//! [`UnderlayDest::src_port`] for hosts that can use it.

use std::io;
use std::mem::{MaybeUninit, size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;

use overlay::Errno;
use overlay::abi::In6Addr;
use overlay::buf::PktBuf;
use overlay::mux::Mux;
use overlay::platform::{Frame, SocketParams, UnderlayDest};

use crate::platform::LinuxPlatform;
use crate::tap::poll_readable;

/// Datagrams per `recvmmsg` / `sendmmsg` call.
pub const BATCH: usize = 64;
/// Largest datagram received.
const RX_BUF: usize = 65536;
/// Socket buffer size asked for (forced when privileged).
const SOCK_BUF: libc::c_int = 8 << 20;
/// How often a blocked receiver checks whether it should stop.
const POLL_MS: i32 = 200;

/// Counters of one underlay socket.
#[derive(Debug, Default)]
pub struct SockStats {
    pub tx_datagrams: AtomicU64,
    pub tx_errors: AtomicU64,
    /// Destinations of the other address family than the socket's.
    pub tx_family_mismatch: AtomicU64,
    pub rx_datagrams: AtomicU64,
    pub rx_errors: AtomicU64,
}

/// A bound underlay socket and its receive thread.
#[derive(Debug)]
pub struct UdpSock {
    fd: Arc<OwnedFd>,
    v4: bool,
    stop: Arc<AtomicBool>,
    rx: Option<JoinHandle<()>>,
    pub stats: Arc<SockStats>,
}

impl Drop for UdpSock {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.rx.take() {
            let _ = t.join();
        }
    }
}

fn setsockopt_int(fd: i32, level: i32, name: i32, v: libc::c_int) -> io::Result<()> {
    // SAFETY: an int option of the right size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as u32,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A socket address for an underlay destination.
enum SockAddr {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
}

impl SockAddr {
    fn new(ip: In6Addr, port: u16) -> SockAddr {
        match ip.to_ipv4_mapped() {
            Some(v4) => {
                // SAFETY: all-zero sockaddr_in is valid.
                let mut sa: libc::sockaddr_in = unsafe { zeroed() };
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_port = port.to_be();
                sa.sin_addr.s_addr = u32::from(v4).to_be();
                SockAddr::V4(sa)
            }
            None => {
                // SAFETY: all-zero sockaddr_in6 is valid.
                let mut sa: libc::sockaddr_in6 = unsafe { zeroed() };
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_port = port.to_be();
                sa.sin6_addr.s6_addr = ip.0;
                SockAddr::V6(sa)
            }
        }
    }

    fn as_ptr(&self) -> (*const libc::sockaddr, libc::socklen_t) {
        match self {
            SockAddr::V4(a) => (
                (a as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as u32,
            ),
            SockAddr::V6(a) => (
                (a as *const libc::sockaddr_in6).cast(),
                size_of::<libc::sockaddr_in6>() as u32,
            ),
        }
    }
}

impl UdpSock {
    /// Opens and binds the socket for `params` and starts its receive
    /// thread, which hands datagrams to `mux`.
    pub fn open(
        platform: &LinuxPlatform,
        params: &SocketParams,
        mux: Weak<Mux<LinuxPlatform>>,
    ) -> Result<UdpSock, Errno> {
        let v4 = params.addr.to_ipv4_mapped().is_some();
        let family = if v4 { libc::AF_INET } else { libc::AF_INET6 };
        // SAFETY: socket(2); the result is checked.
        let fd = unsafe {
            libc::socket(
                family,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::IPPROTO_UDP,
            )
        };
        if fd < 0 {
            return Err(crate::errno::last());
        }
        // SAFETY: a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let raw = fd.as_raw_fd();
        if !v4 {
            setsockopt_int(raw, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)
                .map_err(|e| crate::errno::from_io(&e))?;
        }
        for (force, plain) in [
            (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
            (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
        ] {
            if setsockopt_int(raw, libc::SOL_SOCKET, force, SOCK_BUF).is_err() {
                let _ = setsockopt_int(raw, libc::SOL_SOCKET, plain, SOCK_BUF);
            }
        }
        for o in &params.sockopts {
            // illumos's UDP_SRCPORT_HASH has no Linux counterpart; the
            // plugin's flow-hash port is in each destination instead.
            tracing::debug!(
                level = o.oso_level,
                name = o.oso_name,
                "plugin socket option not applicable on Linux"
            );
        }
        let addr = SockAddr::new(params.addr, params.port);
        let (p, l) = addr.as_ptr();
        // SAFETY: a valid socket address of length `l`.
        if unsafe { libc::bind(raw, p, l) } < 0 {
            return Err(crate::errno::last());
        }
        let fd = Arc::new(fd);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(SockStats::default());
        let rx = {
            let (fd, stop, stats, platform) =
                (fd.clone(), stop.clone(), stats.clone(), platform.clone());
            let name = format!("rx {}:{}", params.addr, params.port);
            std::thread::Builder::new()
                .name(name)
                .spawn(move || rx_loop(&fd, &stop, &stats, &platform, &mux))
                .map_err(|_| Errno::ENOMEM)?
        };
        Ok(UdpSock {
            fd,
            v4,
            stop,
            rx: Some(rx),
            stats,
        })
    }

    /// Sends a batch of datagrams; the batch is drained. A datagram that
    /// cannot be sent is counted and skipped.
    pub fn send(&self, batch: &mut Vec<(UnderlayDest, PktBuf)>) {
        let raw = self.fd.as_raw_fd();
        let mut i = 0;
        while i < batch.len() {
            let chunk = &batch[i..batch.len().min(i + BATCH)];
            let mut addrs: Vec<SockAddr> = Vec::with_capacity(chunk.len());
            let mut iovs: Vec<libc::iovec> = Vec::with_capacity(chunk.len());
            for (d, f) in chunk {
                let a = SockAddr::new(d.ip, d.port);
                let matches = matches!(a, SockAddr::V4(_)) == self.v4;
                if !matches {
                    self.stats.tx_family_mismatch.fetch_add(1, Relaxed);
                }
                addrs.push(a);
                let head = f.head();
                iovs.push(libc::iovec {
                    iov_base: head.as_ptr() as *mut _,
                    iov_len: if matches { head.len() } else { 0 },
                });
            }
            // SAFETY: all-zero mmsghdrs are valid; filled below.
            let mut msgs: Vec<libc::mmsghdr> =
                (0..chunk.len()).map(|_| unsafe { zeroed() }).collect();
            for (k, m) in msgs.iter_mut().enumerate() {
                let (p, l) = addrs[k].as_ptr();
                m.msg_hdr.msg_name = p as *mut _;
                m.msg_hdr.msg_namelen = l;
                m.msg_hdr.msg_iov = &mut iovs[k];
                m.msg_hdr.msg_iovlen = 1;
            }
            let mut sent = 0;
            while sent < msgs.len() {
                // Skip mismatched-family datagrams (zero-length iovec).
                if iovs[sent].iov_len == 0 {
                    sent += 1;
                    continue;
                }
                let run_end = (sent..msgs.len())
                    .find(|&k| iovs[k].iov_len == 0)
                    .unwrap_or(msgs.len());
                // SAFETY: `msgs[sent..run_end]` point at live addresses
                // and iovecs over frames that outlive the call.
                let n = unsafe {
                    libc::sendmmsg(raw, msgs[sent..].as_mut_ptr(), (run_end - sent) as u32, 0)
                };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() == Some(libc::EINTR) {
                        continue;
                    }
                    // The datagram at `sent` failed: count it, go on.
                    self.stats.tx_errors.fetch_add(1, Relaxed);
                    sent += 1;
                    continue;
                }
                self.stats.tx_datagrams.fetch_add(n as u64, Relaxed);
                sent += n as usize;
            }
            i += chunk.len();
        }
        batch.clear();
    }
}

/// Receives datagrams in batches and hands them to the mux until told to
/// stop or the mux is gone.
fn rx_loop(
    fd: &OwnedFd,
    stop: &AtomicBool,
    stats: &SockStats,
    platform: &LinuxPlatform,
    mux: &Weak<Mux<LinuxPlatform>>,
) {
    let raw = fd.as_raw_fd();
    let mut bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0u8; RX_BUF]).collect();
    let mut frames: Vec<PktBuf> = Vec::with_capacity(BATCH);
    while !stop.load(Relaxed) {
        match poll_readable(raw, POLL_MS) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => {
                stats.rx_errors.fetch_add(1, Relaxed);
                continue;
            }
        }
        let mut iovs: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .map(|iov| {
                // SAFETY: all-zero mmsghdr is valid.
                let mut m: libc::mmsghdr = unsafe { MaybeUninit::zeroed().assume_init() };
                m.msg_hdr.msg_iov = iov;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        // SAFETY: `msgs` describes BATCH writable buffers.
        let n = unsafe {
            libc::recvmmsg(
                raw,
                msgs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            let e = io::Error::last_os_error();
            if !matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EINTR)) {
                stats.rx_errors.fetch_add(1, Relaxed);
            }
            continue;
        }
        stats.rx_datagrams.fetch_add(n as u64, Relaxed);
        for (k, m) in msgs.iter().take(n as usize).enumerate() {
            let len = (m.msg_len as usize).min(RX_BUF);
            frames.push(PktBuf::new(&bufs[k][..len]));
        }
        let Some(mux) = mux.upgrade() else { break };
        mux.rx_batch(platform, frames.drain(..));
    }
}
