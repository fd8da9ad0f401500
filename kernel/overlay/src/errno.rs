//! illumos error numbers.
//!
//! The driver speaks illumos errnos on every interface (ioctl replies,
//! plugin return codes), whatever platform hosts it: the values here are
//! those of illumos `<sys/errno.h>`, which differ from Linux for several
//! codes (`ENOTSUP` is 48 on illumos and 95 on Linux, `EOVERFLOW` 79 and
//! 75). A host translates only where it talks to its own kernel.

use core::fmt;

/// An illumos errno value. Never zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Errno(pub i32);

macro_rules! errnos {
    ($($name:ident = $val:expr, $msg:expr;)*) => {
        impl Errno {
            $(
                #[doc = $msg]
                pub const $name: Errno = Errno($val);
            )*

            /// The symbolic name, e.g. `"ENOENT"`.
            pub const fn name(self) -> &'static str {
                match self.0 {
                    $($val => stringify!($name),)*
                    _ => "E?",
                }
            }

            /// The illumos `strerror` text.
            pub const fn message(self) -> &'static str {
                match self.0 {
                    $($val => $msg,)*
                    _ => "Unknown error",
                }
            }
        }
    };
}

errnos! {
    EPERM = 1, "Not owner";
    ENOENT = 2, "No such file or directory";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "I/O error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Arg list too long";
    EBADF = 9, "Bad file number";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Not enough space";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    EBUSY = 16, "Device busy";
    EEXIST = 17, "File exists";
    ENODEV = 19, "No such device";
    EINVAL = 22, "Invalid argument";
    ENOTTY = 25, "Inappropriate ioctl for device";
    ENOSPC = 28, "No space left on device";
    ERANGE = 34, "Result too large";
    ENOTSUP = 48, "Operation not supported";
    ETIME = 62, "Timer expired";
    EPROTO = 71, "Protocol error";
    EOVERFLOW = 79, "Value too large for defined data type";
    EADDRINUSE = 125, "Address already in use";
    EADDRNOTAVAIL = 126, "Cannot assign requested address";
    ENOBUFS = 132, "No buffer space available";
    ECONNREFUSED = 146, "Connection refused";
}

impl Errno {
    /// Interprets a C return code: zero is success.
    pub const fn result(code: i32) -> Result<(), Errno> {
        if code == 0 { Ok(()) } else { Err(Errno(code)) }
    }

    /// The C return code for a result: zero or the errno.
    pub const fn code(r: Result<(), Errno>) -> i32 {
        match r {
            Ok(()) => 0,
            Err(e) => e.0,
        }
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.name())
    }
}

impl core::error::Error for Errno {}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn illumos_values_differ_from_linux_where_expected() {
        assert_eq!(Errno::ENOTSUP.0, 48);
        assert_eq!(Errno::EOVERFLOW.0, 79);
        assert_eq!(Errno::ETIME.0, 62);
        assert_eq!(Errno::ENOENT.name(), "ENOENT");
        assert_eq!(Errno::result(0), Ok(()));
        assert_eq!(Errno::result(22), Err(Errno::EINVAL));
    }
}
