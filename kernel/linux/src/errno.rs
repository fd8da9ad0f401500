//! Linux errors as illumos errnos, for the replies of the ioctl ABI.

use std::io;

use overlay::Errno;

/// The illumos errno for a Linux error. Numbers 1 to 34 agree between
/// the two systems; the rest are mapped by name.
pub fn from_io(e: &io::Error) -> Errno {
    let Some(code) = e.raw_os_error() else {
        return Errno::EIO;
    };
    match code {
        1..=34 => Errno(code),
        libc::EADDRINUSE => Errno::EADDRINUSE,
        libc::EADDRNOTAVAIL => Errno::EADDRNOTAVAIL,
        libc::EOPNOTSUPP => Errno::ENOTSUP,
        libc::EOVERFLOW => Errno::EOVERFLOW,
        libc::ENOBUFS => Errno::ENOBUFS,
        libc::ETIME => Errno::ETIME,
        libc::EPROTO => Errno::EPROTO,
        libc::ECONNREFUSED => Errno::ECONNREFUSED,
        _ => Errno::EIO,
    }
}

/// The last OS error as an illumos errno.
pub fn last() -> Errno {
    from_io(&io::Error::last_os_error())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(
            from_io(&io::Error::from_raw_os_error(libc::EADDRNOTAVAIL)),
            Errno::EADDRNOTAVAIL
        );
        assert_eq!(
            from_io(&io::Error::from_raw_os_error(libc::EOPNOTSUPP)),
            Errno::ENOTSUP
        );
        assert_eq!(
            from_io(&io::Error::from_raw_os_error(libc::EBUSY)),
            Errno::EBUSY
        );
        assert_eq!(from_io(&io::Error::other("x")), Errno::EIO);
    }
}
