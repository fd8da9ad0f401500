//! errno values across the plugin boundary.
//!
//! Plugin ops return errnos of the host they run on (a C plugin includes
//! `<errno.h>`); varpd and the client protocol speak illumos errnos
//! ([`Errno`]). On illumos the two are the same; elsewhere numbers 1 to 34
//! agree and the rest are mapped by name.

use core::ffi::c_int;

use overlay::Errno;

#[cfg(not(any(target_os = "illumos", target_os = "solaris")))]
const MAP: [(c_int, Errno); 9] = [
    (libc::EOPNOTSUPP, Errno::ENOTSUP),
    (libc::EOVERFLOW, Errno::EOVERFLOW),
    (libc::ETIME, Errno::ETIME),
    (libc::EPROTO, Errno::EPROTO),
    (libc::ERANGE, Errno::ERANGE),
    (libc::EADDRINUSE, Errno::EADDRINUSE),
    (libc::EADDRNOTAVAIL, Errno::EADDRNOTAVAIL),
    (libc::ENOBUFS, Errno::ENOBUFS),
    (libc::ECONNREFUSED, Errno::ECONNREFUSED),
];

/// The illumos errno for a host errno (unknown ones become `EIO`).
pub fn from_host(code: c_int) -> Errno {
    #[cfg(any(target_os = "illumos", target_os = "solaris"))]
    {
        Errno(code)
    }
    #[cfg(not(any(target_os = "illumos", target_os = "solaris")))]
    {
        if (1..=34).contains(&code) {
            return Errno(code);
        }
        MAP.iter()
            .find(|(h, _)| *h == code)
            .map_or(Errno::EIO, |(_, e)| *e)
    }
}

/// The host errno for an illumos errno.
pub fn to_host(e: Errno) -> c_int {
    #[cfg(any(target_os = "illumos", target_os = "solaris"))]
    {
        e.0
    }
    #[cfg(not(any(target_os = "illumos", target_os = "solaris")))]
    {
        if (1..=34).contains(&e.0) {
            return e.0;
        }
        MAP.iter()
            .find(|(_, i)| *i == e)
            .map_or(libc::EIO, |(h, _)| *h)
    }
}

/// A C return code (0 or a host errno) as a result.
pub fn result(code: c_int) -> Result<(), Errno> {
    if code == 0 {
        Ok(())
    } else {
        Err(from_host(code))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn round_trip() {
        for e in [
            Errno::EINVAL,
            Errno::ENOTSUP,
            Errno::EOVERFLOW,
            Errno::EAGAIN,
            Errno::ENOENT,
        ] {
            assert_eq!(from_host(to_host(e)), e);
        }
        assert_eq!(from_host(to_host(Errno::ENOTSUP)), Errno::ENOTSUP);
    }
}
