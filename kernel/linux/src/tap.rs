//! TAP devices: the Linux side of a VNIC.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `IFNAMSIZ`: interface names are at most 15 bytes.
pub const IFNAMSIZ: usize = 16;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NAPI: libc::c_short = 0x0010;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const TUN_F_CSUM: libc::c_uint = 0x01;
const TUN_F_TSO4: libc::c_uint = 0x02;
const TUN_F_TSO6: libc::c_uint = 0x04;
const TUN_F_TSO_ECN: libc::c_uint = 0x08;

#[repr(C)]
struct IfReqFlags {
    name: [u8; IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

#[repr(C)]
struct IfReqMtu {
    name: [u8; IFNAMSIZ],
    mtu: libc::c_int,
    _pad: [u8; 20],
}

#[repr(C)]
struct IfReqHwaddr {
    name: [u8; IFNAMSIZ],
    addr: libc::sockaddr,
    _pad: [u8; 8],
}

const _: () = assert!(size_of::<IfReqFlags>() == 40);
const _: () = assert!(size_of::<IfReqMtu>() == 40);
const _: () = assert!(size_of::<IfReqHwaddr>() == 40);

fn ifname(name: &str) -> io::Result<[u8; IFNAMSIZ]> {
    if name.is_empty()
        || name.len() >= IFNAMSIZ
        || name
            .bytes()
            .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace())
    {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut n = [0u8; IFNAMSIZ];
    n[..name.len()].copy_from_slice(name.as_bytes());
    Ok(n)
}

/// A TAP device, open. Closing the descriptor removes the device (it is
/// not persistent), wherever it has been moved.
///
/// Frames cross the descriptor with a `virtio_net_hdr` in front
/// (`IFF_VNET_HDR`), and the device offers checksum and TCP segmentation
/// offload (`TUNSETOFFLOAD`): the stack hands us TCP super-frames and
/// leaves checksums to us ([`crate::offload`]). What we write goes
/// through the kernel's NAPI and GRO (`IFF_NAPI`), so that segments of a
/// flow reach the stack coalesced, as from a real NIC.
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    name: String,
    ifindex: u32,
}

/// A socket for interface ioctls.
fn ctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Tap {
    /// Creates TAP device `name` (no packet information header), with
    /// the given MAC address and MTU, and sets it up.
    pub fn create(name: &str, mac: [u8; 6], mtu: u32) -> io::Result<Tap> {
        let ifr_name = ifname(name)?;
        // SAFETY: open(2) of a constant path; the result is checked.
        let fd = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let base = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        let mut req = IfReqFlags {
            name: ifr_name,
            flags: base | IFF_NAPI,
            _pad: [0; 22],
        };
        // SAFETY: TUNSETIFF takes a struct ifreq, which `req` lays out.
        if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req) } < 0 {
            // Kernels without NAPI for TAP: the same without it.
            req = IfReqFlags {
                name: ifr_name,
                flags: base,
                _pad: [0; 22],
            };
            // SAFETY: as above.
            if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
        // SAFETY: TUNSETOFFLOAD takes the flags as its argument.
        if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD, offloads as libc::c_ulong) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let real = CStr::from_bytes_until_nul(&req.name)
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_else(|_| name.to_owned());
        let ifindex = if_index(&real)?;
        let tap = Tap {
            fd,
            name: real,
            ifindex,
        };
        tap.set_mac(mac)?;
        tap.set_mtu(mtu)?;
        tap.set_up()?;
        Ok(tap)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    fn ifreq_ioctl<T>(&self, req: libc::c_ulong, arg: &mut T) -> io::Result<()> {
        let s = ctl_socket()?;
        // SAFETY: `arg` is an ifreq layout for `req`.
        if unsafe { libc::ioctl(s.as_raw_fd(), req, arg as *mut T) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn set_mac(&self, mac: [u8; 6]) -> io::Result<()> {
        // SAFETY: an all-zero sockaddr is valid.
        let mut addr: libc::sockaddr = unsafe { std::mem::zeroed() };
        addr.sa_family = libc::ARPHRD_ETHER;
        for (d, s) in addr.sa_data.iter_mut().zip(mac) {
            *d = s as libc::c_char;
        }
        let mut req = IfReqHwaddr {
            name: ifname(&self.name)?,
            addr,
            _pad: [0; 8],
        };
        self.ifreq_ioctl(libc::SIOCSIFHWADDR, &mut req)
    }

    /// Sets the MTU. The device may live in another network namespace by
    /// now, where this process's name lookup cannot find it; that is not
    /// an error for the caller to act on, so it is reported and ignored.
    pub fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        let mut req = IfReqMtu {
            name: ifname(&self.name)?,
            mtu: mtu as libc::c_int,
            _pad: [0; 20],
        };
        self.ifreq_ioctl(libc::SIOCSIFMTU, &mut req)
    }

    fn set_up(&self) -> io::Result<()> {
        let mut req = IfReqFlags {
            name: ifname(&self.name)?,
            flags: 0,
            _pad: [0; 22],
        };
        self.ifreq_ioctl(libc::SIOCGIFFLAGS, &mut req)?;
        req.flags |= libc::IFF_UP as libc::c_short;
        self.ifreq_ioctl(libc::SIOCSIFFLAGS, &mut req)
    }

    /// Reads one frame into `len` bytes at `buf`, if one is waiting, with
    /// its `virtio_net_hdr`.
    ///
    /// # Safety
    /// `buf` must be valid for `len` bytes of writes.
    pub unsafe fn read_raw(&self, buf: *mut u8, len: usize) -> io::Result<usize> {
        // SAFETY: the caller's buffer is writable for `len` bytes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.cast(), len) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// Reads one frame, if one is waiting, with its `virtio_net_hdr`.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// Writes one frame given as parts, its `virtio_net_hdr` first.
    pub fn write_parts(&self, parts: &[&[u8]]) -> io::Result<usize> {
        let iov: Vec<libc::iovec> = parts
            .iter()
            .map(|p| libc::iovec {
                iov_base: p.as_ptr() as *mut _,
                iov_len: p.len(),
            })
            .collect();
        // SAFETY: iovecs over live, readable buffers.
        let n =
            unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), iov.len() as libc::c_int) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

fn if_index(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i)
    }
}

/// Waits until `fd` is readable or `timeout_ms` passes.
pub fn poll_readable(fd: i32, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(n > 0)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn names() {
        assert!(ifname("vnic0").is_ok());
        assert!(ifname("").is_err());
        assert!(ifname("a-name-that-is-too-long").is_err());
        assert!(ifname("bad/name").is_err());
    }
}
