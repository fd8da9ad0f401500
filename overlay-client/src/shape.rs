//! What a command's argument and data look like, checked once for both
//! transports.
//!
//! On illumos the kernel reads and writes the caller's memory at the
//! sizes the command implies (the struct; for `LIST` and `CACHE_ITER` the
//! header plus the array it announces; for the `PKT` family `otp_size`
//! bytes at `otp_buf`). [`check`] makes sure the caller's buffers hold
//! that much before anything is issued, which is what keeps the raw
//! [`Client::ioctl`](crate::Client::ioctl) sound, and gives the socket
//! transport the same answers for the same mistakes.

use overlay::Errno;
use overlay::abi::dld::DldIoctl;
use overlay::abi::targ::{FrameCopy, OverlayTargPkt, TargIoctl, copy_plan};
use zerocopy::FromBytes;

use crate::IoData;
use crate::error::ClientError;
use crate::proto::{HostCmd, HostListHdr};

/// Which device a command belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// `OVERLAY_IOC_*` on `/dev/dld`.
    Dld,
    /// `OVERLAY_TARG_*` on `/dev/overlay`.
    Targ,
    /// `OVERLAY_HOST_*`, the Linux host only.
    Host,
}

/// The frame buffer of a `PKT`, `INJECT` or `RESEND`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frame {
    /// `otp_size`, checked against the buffer.
    pub size: usize,
    /// The caller's `otp_buf`, restored in what is copied back (the
    /// transports put their own there, or nothing).
    pub caller_buf: u64,
}

/// A checked command.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    /// The device the ioctl transport issues it on (the socket serves
    /// all three).
    #[cfg_attr(not(target_os = "illumos"), allow(dead_code))]
    pub family: Family,
    /// The fixed argument bytes: the struct, or a list's header. Only
    /// these travel in a socket request.
    pub fixed: usize,
    /// Set for the `PKT` family.
    pub frame: Option<Frame>,
}

/// Byte offset of `otp_buf` in [`OverlayTargPkt`].
pub(crate) const OTP_BUF_OFFSET: usize = core::mem::offset_of!(OverlayTargPkt, otp_buf);

fn need(arg: &[u8], len: usize) -> Result<(), ClientError> {
    if arg.len() < len {
        Err(Errno::EFAULT.into())
    } else {
        Ok(())
    }
}

/// Checks `arg` and `data` against what `cmd` makes the driver touch.
///
/// An unknown command is `ENOTTY`; an argument buffer shorter than its
/// command reads or writes, or an `otp_size` beyond the frame buffer, is
/// `EFAULT` (what a copy from or to memory the caller does not own
/// earns); a frame buffer the command does not take, or the wrong way
/// round, is `EINVAL`, as is a frame to send larger than the control
/// socket carries (the driver's own limit is far smaller).
pub(crate) fn check(cmd: u32, arg: &[u8], data: &IoData<'_>) -> Result<Shape, ClientError> {
    let mut frame = None;
    let (family, fixed) = if let Some(op) = DldIoctl::from_cmd(cmd) {
        need(arg, op.arg_size())?;
        (Family::Dld, op.arg_size())
    } else if let Some(op) = TargIoctl::from_cmd(cmd) {
        let fixed = op.arg_size();
        need(arg, fixed)?;
        // The driver's own copy plan: what it reads, and how much of the
        // caller's memory it may write back.
        let plan = copy_plan(cmd, arg, usize::MAX)?;
        need(arg, plan.caller_len())?;
        if plan.frame != FrameCopy::None {
            let (p, _) = OverlayTargPkt::read_from_prefix(arg).map_err(|_| Errno::EFAULT)?;
            let room = match (plan.frame, data) {
                (FrameCopy::Out(_), IoData::Out(b)) => b.len(),
                (FrameCopy::In(_), IoData::In(b)) => b.len(),
                _ => return Err(Errno::EINVAL.into()),
            };
            if p.otp_size > room as u64 {
                return Err(Errno::EFAULT.into());
            }
            frame = Some(Frame {
                size: p.otp_size as usize,
                caller_buf: p.otp_buf,
            });
        }
        (Family::Targ, fixed)
    } else if let Some(op) = HostCmd::from_cmd(cmd) {
        let fixed = op.arg_size();
        need(arg, fixed)?;
        if let Some(size) = op.entry_size() {
            let (h, _) = HostListHdr::read_from_prefix(arg).map_err(|_| Errno::EFAULT)?;
            let full = (h.hlh_count as usize)
                .checked_mul(size)
                .and_then(|a| a.checked_add(fixed))
                .ok_or(Errno::EINVAL)?;
            need(arg, full)?;
        }
        (Family::Host, fixed)
    } else {
        return Err(Errno::ENOTTY.into());
    };
    if frame.is_none() && !matches!(data, IoData::None) {
        return Err(Errno::EINVAL.into());
    }
    Ok(Shape {
        family,
        fixed,
        frame,
    })
}
