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
thread_local! {
    /// Where a sending thread lays out the datagrams of a super-frame.
    static TSO_SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Most segments in one UDP GSO send (the kernel's `UDP_MAX_SEGMENTS`).
const GSO_MAX_SEGS: usize = 64;
/// Most bytes in one UDP GSO send: an IP datagram's payload.
const GSO_MAX_BYTES: usize = 65000;
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
    /// UDP GSO works on this socket (cleared if the kernel refuses it).
    gso: AtomicBool,
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
            gso: AtomicBool::new(true),
            stats,
        })
    }

    /// Sends a batch of datagrams; the batch is drained. A datagram that
    /// cannot be sent is counted and skipped.
    ///
    /// Runs of datagrams to one destination whose sizes are equal (the
    /// last may be shorter), as the segments of a TCP super-frame are, go
    /// down the stack as one UDP GSO super-datagram (`UDP_SEGMENT`), cut
    /// by the kernel (or the NIC) at the last moment.
    pub fn send(&self, batch: &mut Vec<(UnderlayDest, PktBuf)>) {
        if batch.iter().all(|(_, f)| f.tso.is_none()) {
            return self.send_plain(batch);
        }
        // In order: plain runs as they come, each super-frame cut and
        // sent where it stands.
        let mut plain = Vec::with_capacity(batch.len());
        for (d, f) in batch.drain(..) {
            match f.tso {
                None => plain.push((d, f)),
                Some(t) => {
                    self.send_plain(&mut plain);
                    self.send_tso(&d, &f, &t);
                    crate::pool::recycle(std::iter::once(f));
                }
            }
        }
        self.send_plain(&mut plain);
    }

    /// Sends a TCP super-frame (with its encapsulation header in front)
    /// as UDP GSO sends: each segment is its headers (built in a small
    /// buffer) and its payload where it lies in the frame, one iovec
    /// each, so the payload is not copied here.
    fn send_tso(&self, d: &UnderlayDest, f: &PktBuf, t: &overlay::buf::Tso) {
        let bytes = f.head();
        let Some(hdr_len) = bytes.len().checked_sub(t.inner_len as usize) else {
            self.stats.tx_errors.fetch_add(1, Relaxed);
            return;
        };
        let (prefix, inner) = bytes.split_at(hdr_len);
        let mut hdrs = TSO_SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        let result = crate::offload::segment_headers(inner, t, prefix, &mut hdrs);
        if let Ok(seg) = result {
            let a = SockAddr::new(d.ip, d.port);
            if matches!(a, SockAddr::V4(_)) != self.v4 {
                self.stats
                    .tx_family_mismatch
                    .fetch_add(seg.count as u64, Relaxed);
            } else {
                let size = seg.hdr_len + seg.mss;
                let per_send = if self.gso.load(Relaxed) {
                    (GSO_MAX_BYTES / size).clamp(1, GSO_MAX_SEGS)
                } else {
                    1
                };
                let mut iov: Vec<libc::iovec> = Vec::with_capacity(2 * per_send);
                let mut first = 0;
                while first < seg.count {
                    let n = per_send.min(seg.count - first);
                    iov.clear();
                    for i in first..first + n {
                        let h = &hdrs[i * seg.hdr_len..(i + 1) * seg.hdr_len];
                        let p = seg.payload(inner, i);
                        iov.push(libc::iovec {
                            iov_base: h.as_ptr() as *mut _,
                            iov_len: h.len(),
                        });
                        iov.push(libc::iovec {
                            iov_base: p.as_ptr() as *mut _,
                            iov_len: p.len(),
                        });
                    }
                    if self.send_iov(&a, &iov, if n > 1 { Some(size as u16) } else { None }) {
                        self.stats.tx_datagrams.fetch_add(n as u64, Relaxed);
                    } else {
                        self.stats.tx_errors.fetch_add(n as u64, Relaxed);
                    }
                    first += n;
                }
            }
        } else {
            self.stats.tx_errors.fetch_add(1, Relaxed);
        }
        TSO_SCRATCH.with(|s| *s.borrow_mut() = hdrs);
    }

    /// One `sendmsg` of the concatenation of `iov`, as datagrams of
    /// `segment` bytes (UDP GSO) if given, else as one datagram.
    fn send_iov(&self, a: &SockAddr, iov: &[libc::iovec], segment: Option<u16>) -> bool {
        let (p, l) = a.as_ptr();
        let mut ctl = [0u64; 4];
        // SAFETY: all-zero msghdr is valid; filled below.
        let mut m: libc::msghdr = unsafe { zeroed() };
        m.msg_name = p as *mut _;
        m.msg_namelen = l;
        m.msg_iov = iov.as_ptr() as *mut _;
        m.msg_iovlen = iov.len();
        if let Some(seg) = segment {
            // SAFETY: `ctl` is 32 aligned bytes, room for one cmsghdr and
            // a u16 (CMSG_SPACE(2) is 24 on LP64).
            unsafe {
                let h = ctl.as_mut_ptr().cast::<libc::cmsghdr>();
                (*h).cmsg_level = libc::SOL_UDP;
                (*h).cmsg_type = libc::UDP_SEGMENT;
                (*h).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
                libc::CMSG_DATA(h).cast::<u16>().write_unaligned(seg);
            }
            m.msg_control = ctl.as_mut_ptr().cast();
            m.msg_controllen = unsafe_cmsg_space(size_of::<u16>()) as _;
        }
        loop {
            // SAFETY: `m` points at a live address, iovecs over live
            // buffers, and control data.
            let r = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &m, 0) };
            if r >= 0 {
                return true;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EIO) | Some(libc::EINVAL) | Some(libc::EOPNOTSUPP)
                    if segment.is_some() =>
                {
                    // No UDP GSO here: the same datagrams one at a time,
                    // from now on.
                    tracing::warn!(error = %e, "UDP GSO refused; sending datagrams singly from now on");
                    self.gso.store(false, Relaxed);
                    return iov.chunks(2).all(|pair| self.send_iov(a, pair, None));
                }
                _ => return false,
            }
        }
    }

    /// Sends datagrams that need no segmentation; the batch is drained.
    fn send_plain(&self, batch: &mut Vec<(UnderlayDest, PktBuf)>) {
        let raw = self.fd.as_raw_fd();
        let gso = self.gso.load(Relaxed);
        // Group the batch into messages: (first, count, segment size).
        let mut groups: Vec<(usize, usize, usize)> = Vec::with_capacity(batch.len());
        let mut i = 0;
        while i < batch.len() {
            let (d, f) = &batch[i];
            let size = f.len();
            let mut n = 1;
            let mut total = size;
            if gso {
                while i + n < batch.len() && n < GSO_MAX_SEGS {
                    let (d2, f2) = &batch[i + n];
                    let l = f2.len();
                    if d2.ip != d.ip || d2.port != d.port || l > size || total + l > GSO_MAX_BYTES {
                        break;
                    }
                    n += 1;
                    total += l;
                    if l < size {
                        break;
                    }
                }
            }
            groups.push((i, n, size));
            i += n;
        }
        let mut addrs: Vec<SockAddr> = Vec::with_capacity(groups.len());
        let mut iovs: Vec<libc::iovec> = Vec::with_capacity(batch.len());
        for &(first, n, _) in &groups {
            let (d, _) = &batch[first];
            let a = SockAddr::new(d.ip, d.port);
            let family_ok = matches!(a, SockAddr::V4(_)) == self.v4;
            addrs.push(a);
            for (_, f) in &batch[first..first + n] {
                let head = f.head();
                iovs.push(libc::iovec {
                    iov_base: head.as_ptr() as *mut _,
                    iov_len: if family_ok { head.len() } else { 0 },
                });
            }
        }
        // One control buffer per message, for UDP_SEGMENT.
        let cmsg_space = unsafe_cmsg_space(size_of::<u16>());
        // u64 storage: control messages must be aligned for cmsghdr.
        let words = cmsg_space.div_ceil(8);
        let mut ctl = vec![0u64; words * groups.len()];
        // SAFETY: all-zero mmsghdrs are valid; filled below.
        let mut msgs: Vec<libc::mmsghdr> = (0..groups.len()).map(|_| unsafe { zeroed() }).collect();
        let mut skip = vec![false; groups.len()];
        let mut at = 0;
        for (k, &(_, n, size)) in groups.iter().enumerate() {
            let (p, l) = addrs[k].as_ptr();
            let m = &mut msgs[k].msg_hdr;
            m.msg_name = p as *mut _;
            m.msg_namelen = l;
            m.msg_iov = iovs[at..].as_mut_ptr();
            m.msg_iovlen = n;
            if iovs[at].iov_len == 0 {
                skip[k] = true;
                self.stats.tx_family_mismatch.fetch_add(n as u64, Relaxed);
            }
            at += n;
            if n > 1 {
                let c = &mut ctl[k * words..(k + 1) * words];
                // SAFETY: `c` is at least CMSG_SPACE(2) bytes of u64s,
                // aligned for cmsghdr; it holds one header and a u16.
                unsafe {
                    let h = c.as_mut_ptr().cast::<libc::cmsghdr>();
                    (*h).cmsg_level = libc::SOL_UDP;
                    (*h).cmsg_type = libc::UDP_SEGMENT;
                    (*h).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
                    libc::CMSG_DATA(h)
                        .cast::<u16>()
                        .write_unaligned(size as u16);
                }
                m.msg_control = c.as_mut_ptr().cast();
                m.msg_controllen = cmsg_space as _;
            }
        }
        let mut k = 0;
        while k < msgs.len() {
            if skip[k] {
                k += 1;
                continue;
            }
            let end = (k..msgs.len())
                .find(|&e| skip[e])
                .unwrap_or(msgs.len())
                .min(k + BATCH);
            // SAFETY: `msgs[k..end]` point at live addresses, iovecs over
            // frames and control buffers that outlive the call.
            let r = unsafe { libc::sendmmsg(raw, msgs[k..].as_mut_ptr(), (end - k) as u32, 0) };
            if r < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    // No UDP GSO here (old kernel, or a path without
                    // it): send the rest one datagram at a time.
                    Some(libc::EIO) | Some(libc::EINVAL) | Some(libc::EOPNOTSUPP)
                        if gso && groups[k].1 > 1 =>
                    {
                        tracing::warn!(error = %e, "UDP GSO refused; sending datagrams singly from now on");
                        self.gso.store(false, Relaxed);
                        let rest: Vec<(UnderlayDest, PktBuf)> =
                            batch.drain(groups[k].0..).collect();
                        batch.clear();
                        let mut rest = rest;
                        self.send(&mut rest);
                        return;
                    }
                    _ => {
                        self.stats.tx_errors.fetch_add(groups[k].1 as u64, Relaxed);
                        k += 1;
                        continue;
                    }
                }
            }
            for g in &groups[k..k + r as usize] {
                self.stats.tx_datagrams.fetch_add(g.1 as u64, Relaxed);
            }
            k += r as usize;
        }
        batch.clear();
    }
}

/// `CMSG_SPACE(len)`.
fn unsafe_cmsg_space(len: usize) -> usize {
    // SAFETY: CMSG_SPACE is arithmetic.
    unsafe { libc::CMSG_SPACE(len as u32) as usize }
}

/// Receives datagrams in batches and hands them to the mux until told to
/// stop or the mux is gone. With `UDP_GRO`, the kernel hands over runs of
/// same-sized datagrams of one flow coalesced; they are cut apart here by
/// the segment size it reports.
fn rx_loop(
    fd: &OwnedFd,
    stop: &AtomicBool,
    stats: &SockStats,
    platform: &LinuxPlatform,
    mux: &Weak<Mux<LinuxPlatform>>,
) {
    let raw = fd.as_raw_fd();
    if setsockopt_int(raw, libc::SOL_UDP, libc::UDP_GRO, 1).is_err() {
        tracing::debug!("no UDP GRO on this kernel");
    }
    let cmsg_space = unsafe_cmsg_space(size_of::<libc::c_int>());
    // One buffer and one control buffer per message, and the messages
    // pointing at them. The frames received are windows of the buffers
    // (no copy), and are gone again once the mux has delivered them; a
    // buffer a frame still holds is left to it and replaced.
    let mut bufs: Vec<Arc<Vec<u8>>> = (0..BATCH).map(|_| Arc::new(vec![0u8; RX_BUF])).collect();
    // u64 storage: control messages must be aligned for cmsghdr.
    let mut ctls: Vec<Vec<u64>> = (0..BATCH)
        .map(|_| vec![0u64; cmsg_space.div_ceil(8)])
        .collect();
    let mut iovs: Vec<libc::iovec> = (0..BATCH)
        .map(|_| libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: RX_BUF,
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .zip(ctls.iter_mut())
        .map(|(iov, c)| {
            // SAFETY: all-zero mmsghdr is valid.
            let mut m: libc::mmsghdr = unsafe { MaybeUninit::zeroed().assume_init() };
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_control = c.as_mut_ptr().cast();
            m
        })
        .collect();
    let mut frames: Vec<PktBuf> = Vec::with_capacity(BATCH);
    // recvmmsg blocks for the first datagram (MSG_WAITFORONE takes what
    // else is queued without waiting), up to the receive timeout, after
    // which the stop flag is looked at: one system call per batch where
    // poll(2) then recvmmsg made two.
    let blocking = set_rcvtimeo(raw, POLL_MS).is_ok();
    if !blocking {
        tracing::debug!("no SO_RCVTIMEO: polling before each receive");
    }
    while !stop.load(Relaxed) {
        if !blocking {
            match poll_readable(raw, POLL_MS) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => {
                    stats.rx_errors.fetch_add(1, Relaxed);
                    continue;
                }
            }
        }
        for ((m, iov), buf) in msgs.iter_mut().zip(iovs.iter_mut()).zip(bufs.iter_mut()) {
            // recvmmsg shrinks it to what it wrote.
            m.msg_hdr.msg_controllen = cmsg_space as _;
            // Its own again once the frames of the last batch are gone
            // (if one lingers, this gives the buffer a fresh copy).
            iov.iov_base = Arc::make_mut(buf).as_mut_ptr().cast();
        }
        // SAFETY: `msgs` describes BATCH writable buffers and control
        // buffers, all alive for the loop.
        let n = unsafe {
            libc::recvmmsg(
                raw,
                msgs.as_mut_ptr(),
                BATCH as u32,
                if blocking {
                    libc::MSG_WAITFORONE
                } else {
                    libc::MSG_DONTWAIT
                },
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
        let Some(mux) = mux.upgrade() else { break };
        let mut received = 0;
        for (k, m) in msgs.iter().take(n as usize).enumerate() {
            let len = (m.msg_len as usize).min(RX_BUF);
            let seg = gro_segment_size(&m.msg_hdr).unwrap_or(len).max(1);
            // A GRO super-datagram is handed to the mux whole, never
            // split across two chains, so that its TCP segments can be
            // written to the VNIC as one super-frame again.
            if frames.len() + len.div_ceil(seg) > overlay::mux::RX_CHAIN {
                received += frames.len();
                mux.rx_batch(platform, frames.drain(..));
            }
            frames.extend(
                (0..len)
                    .step_by(seg)
                    .filter_map(|at| PktBuf::shared(&bufs[k], at..(at + seg).min(len))),
            );
        }
        received += frames.len();
        stats.rx_datagrams.fetch_add(received as u64, Relaxed);
        mux.rx_batch(platform, frames.drain(..));
    }
}

/// Sets `SO_RCVTIMEO`: blocking receives return `EAGAIN` after `ms`.
fn set_rcvtimeo(fd: i32, ms: i32) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: libc::time_t::from(ms / 1000),
        tv_usec: libc::suseconds_t::from((ms % 1000) * 1000),
    };
    // SAFETY: setsockopt with a timeval of the size we pass.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The `UDP_GRO` segment size the kernel attached to a received message.
fn gro_segment_size(h: &libc::msghdr) -> Option<usize> {
    // SAFETY: walking the control buffer the kernel filled, with the
    // libc CMSG macros, bounded by msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == libc::UDP_GRO {
                let v = libc::CMSG_DATA(c).cast::<libc::c_int>().read_unaligned();
                return usize::try_from(v).ok().filter(|&v| v > 0);
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    None
}
