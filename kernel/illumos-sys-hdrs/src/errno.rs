//! Error numbers: `sys/errno.h`. Only the values the overlay modules return
//! or test for.

use crate::types::c_int;

pub const EPERM: c_int = 1;
pub const ENOENT: c_int = 2;
pub const EINTR: c_int = 4;
pub const EIO: c_int = 5;
pub const ENXIO: c_int = 6;
pub const E2BIG: c_int = 7;
pub const EBADF: c_int = 9;
pub const EAGAIN: c_int = 11;
pub const ENOMEM: c_int = 12;
pub const EACCES: c_int = 13;
pub const EFAULT: c_int = 14;
pub const EBUSY: c_int = 16;
pub const EEXIST: c_int = 17;
pub const ENODEV: c_int = 19;
pub const EINVAL: c_int = 22;
pub const ENFILE: c_int = 23;
pub const ENOTTY: c_int = 25;
pub const ENOSPC: c_int = 28;
pub const ERANGE: c_int = 34;
pub const ENOMSG: c_int = 35;
pub const ECANCELED: c_int = 47;
pub const ENOTSUP: c_int = 48;
pub const ENOSTR: c_int = 60;
pub const ETIME: c_int = 62;
pub const EPROTO: c_int = 71;
pub const EOVERFLOW: c_int = 79;
pub const EOPNOTSUPP: c_int = 122;
pub const EAFNOSUPPORT: c_int = 124;
pub const EADDRINUSE: c_int = 125;
pub const EADDRNOTAVAIL: c_int = 126;
pub const ENOBUFS: c_int = 132;
pub const ETIMEDOUT: c_int = 145;
