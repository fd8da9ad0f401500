//! `dladm_status_t`: what libdladm calls its errors, and the words
//! `dladm_status2str` prints for them.

use std::fmt;

use overlay_client::ClientError;

/// The `dladm_status_t` values dladm's overlay and VNIC commands can
/// report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadArg,
    Failed,
    TooSmall,
    NotSup,
    NotFound,
    BadVal,
    NoMem,
    Exist,
    LinkInval,
    Denied,
    IoErr,
    LinkBusy,
    TryAgain,
    BadProp,
    MacAddrInval,
    AddrInUse,
}

impl Status {
    /// `dladm_errno2status`, as illumos maps errnos (anything else is
    /// `FAILED`).
    pub fn from_errno(e: i32) -> Status {
        match e {
            0 => Status::Ok,
            libc_errno::EINVAL => Status::BadArg,
            libc_errno::EEXIST => Status::Exist,
            libc_errno::ENOENT => Status::NotFound,
            libc_errno::ENOSPC => Status::TooSmall,
            libc_errno::ENOMEM => Status::NoMem,
            libc_errno::ENOTSUP => Status::NotSup,
            libc_errno::EACCES | libc_errno::EPERM => Status::Denied,
            libc_errno::EIO => Status::IoErr,
            libc_errno::EBUSY => Status::LinkBusy,
            libc_errno::EAGAIN => Status::TryAgain,
            libc_errno::EADDRINUSE => Status::AddrInUse,
            _ => Status::Failed,
        }
    }

    /// A client failure: the driver's or varpd's errno, or (for a
    /// transport failure) `FAILED`.
    pub fn from_client(e: &ClientError) -> Status {
        match e.errno() {
            Some(e) => Status::from_errno(e.0),
            None => Status::Failed,
        }
    }

    /// `dladm_status2str`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::BadArg => "invalid argument",
            Status::Failed => "operation failed",
            Status::TooSmall => "buffer size too small",
            Status::NotSup => "operation not supported",
            Status::NotFound => "object not found",
            Status::BadVal => "invalid value",
            Status::NoMem => "insufficient memory",
            Status::Exist => "object already exists",
            Status::LinkInval => "invalid link",
            Status::Denied => "permission denied",
            Status::IoErr => "I/O error",
            Status::LinkBusy => "link busy",
            Status::TryAgain => "try again later",
            Status::BadProp => "invalid property",
            Status::MacAddrInval => "invalid MAC address",
            Status::AddrInUse => "address already in use",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The errno values of illumos (`overlay::Errno` carries illumos
/// numbers on every platform, since they cross the driver ABI).
mod libc_errno {
    use overlay::Errno;
    pub const EPERM: i32 = Errno::EPERM.0;
    pub const ENOENT: i32 = Errno::ENOENT.0;
    pub const EIO: i32 = Errno::EIO.0;
    pub const EAGAIN: i32 = Errno::EAGAIN.0;
    pub const ENOMEM: i32 = Errno::ENOMEM.0;
    pub const EACCES: i32 = Errno::EACCES.0;
    pub const EBUSY: i32 = Errno::EBUSY.0;
    pub const EEXIST: i32 = Errno::EEXIST.0;
    pub const EINVAL: i32 = Errno::EINVAL.0;
    pub const ENOSPC: i32 = Errno::ENOSPC.0;
    pub const ENOTSUP: i32 = Errno::ENOTSUP.0;
    pub const EADDRINUSE: i32 = Errno::EADDRINUSE.0;
}
