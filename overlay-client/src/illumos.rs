//! The ioctl transport: `ioctl(2)` on `/dev/dld` and `/dev/overlay`, as
//! libdladm and libvarpd issue them.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

use overlay::Errno;
use overlay::abi::targ::OverlayTargPkt;
use zerocopy::{FromBytes, IntoBytes};

use crate::IoData;
use crate::error::ClientError;
use crate::shape::{Family, Shape};

pub(crate) const DLD_PATH: &str = "/dev/dld";
pub(crate) const OVERLAY_PATH: &str = "/dev/overlay";

/// Opens a device node: read-write, or read-only; `excl` adds `O_EXCL`
/// (the driver's `FEXCL`: one exclusive holder, varpd).
pub(crate) fn open(path: &str, write: bool, excl: bool) -> Result<File, ClientError> {
    let mut o = OpenOptions::new();
    o.read(true).write(write);
    if excl {
        o.custom_flags(libc::O_EXCL);
    }
    o.open(path)
        .map_err(|e| ClientError::io(e.kind(), format!("opening {path}: {e}")))
}

/// `ioctl(fd, cmd, arg)`; a failure is the kernel's errno.
///
/// # Safety
///
/// `arg` must point to memory the kernel may read and write for `cmd`:
/// every byte the command's ABI copies in or out, and for the `PKT`
/// family the `otp_size` bytes at `otp_buf`.
unsafe fn sys_ioctl(f: &File, cmd: u32, arg: *mut u8) -> Result<(), ClientError> {
    // SAFETY: the fd is open for the life of `f`; the caller vouches for
    // the memory the command touches. illumos' request argument is an
    // `int` holding the 32-bit command number, as the C headers pass it.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), cmd as libc::c_int, arg) };
    if r == -1 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            // On illumos an errno is an illumos errno.
            Some(n) => ClientError::Errno(Errno(n)),
            None => ClientError::Io(e),
        });
    }
    Ok(())
}

/// Issues one checked command.
pub(crate) fn call(
    dld: &File,
    overlay: Option<&File>,
    cmd: u32,
    shape: &Shape,
    arg: &mut [u8],
    data: IoData<'_>,
) -> Result<usize, ClientError> {
    let fd = match shape.family {
        Family::Dld => dld,
        // Opened for /dev/dld only: as an ioctl on a descriptor that
        // does not take it.
        Family::Targ => overlay.ok_or(Errno::EBADF)?,
        // dlmgmtd and dld do this on illumos.
        Family::Host => return Err(Errno::ENOTSUP.into()),
    };
    let Some(frame) = shape.frame else {
        // SAFETY: `shape::check` verified that `arg` holds every byte
        // `cmd` copies in or out: the struct, or for LIST and CACHE_ITER
        // the header and the array its count announces.
        unsafe { sys_ioctl(fd, cmd, arg.as_mut_ptr())? };
        return Ok(0);
    };

    // The PKT family: the frame goes by user pointer, as illumos expects.
    let (mut p, _) = OverlayTargPkt::read_from_prefix(arg).map_err(|_| Errno::EFAULT)?;
    let (buf, room, out) = match data {
        IoData::Out(b) => (b.as_mut_ptr(), b.len(), true),
        IoData::In(b) => (b.as_ptr().cast_mut(), b.len(), false),
        IoData::None => return Err(Errno::EINVAL.into()),
    };
    p.otp_size = frame.size as u64;
    p.otp_buf = buf as u64;
    // SAFETY: `p` is a whole `overlay_targ_pkt_t`, which is all the
    // kernel copies for these commands; `otp_buf` points at a buffer of
    // `room >= otp_size` bytes (checked by `shape::check`), which the
    // kernel only reads for INJECT and RESEND (the `In` case, where the
    // buffer is borrowed shared) and writes for PKT (borrowed mutably,
    // and alive until this call returns).
    unsafe { sys_ioctl(fd, cmd, p.as_mut_bytes().as_mut_ptr())? };
    let n = if out {
        (p.otp_size as usize).min(room)
    } else {
        frame.size
    };
    p.otp_buf = frame.caller_buf;
    p.write_to_prefix(arg).map_err(|_| Errno::EFAULT)?;
    Ok(n)
}
