//! The one error type of the client.

use std::fmt;
use std::io;

use overlay::Errno;

/// Why a command failed.
///
/// [`Errno`](ClientError::Errno) is the driver's answer, an illumos
/// errno whatever the host (`ENOTSUP` is 48 even on Linux); it is also
/// what the client answers, without asking, for a request the driver
/// would refuse the same way (a buffer too small for its command is
/// `EFAULT`, an unknown command `ENOTTY`). [`Io`](ClientError::Io) means
/// the driver could not be asked or its answer could not be read: a
/// device that would not open, a socket that would not connect, a
/// connection that broke or spoke something other than the protocol.
#[derive(Debug)]
pub enum ClientError {
    /// The driver's (illumos) errno.
    Errno(Errno),
    /// The transport failed.
    Io(io::Error),
}

impl ClientError {
    /// The driver's errno, if that is what this is.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            ClientError::Errno(e) => Some(*e),
            ClientError::Io(_) => None,
        }
    }

    /// A transport error with context.
    pub(crate) fn io(kind: io::ErrorKind, msg: impl Into<String>) -> ClientError {
        ClientError::Io(io::Error::new(kind, msg.into()))
    }

    /// A reply that does not follow the protocol or the ABI.
    pub(crate) fn bad_reply(msg: impl Into<String>) -> ClientError {
        ClientError::io(io::ErrorKind::InvalidData, msg)
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Errno(e) => write!(f, "overlay driver: {e}"),
            ClientError::Io(e) => write!(f, "overlay control: {e}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Errno(_) => None,
            // The message of an `Io` already carries its cause.
            ClientError::Io(e) => e.get_ref().and_then(|inner| inner.source()),
        }
    }
}

impl From<Errno> for ClientError {
    fn from(e: Errno) -> ClientError {
        ClientError::Errno(e)
    }
}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> ClientError {
        ClientError::Io(e)
    }
}
