//! `/dev/overlay`: the target ioctls varpd uses (`overlay_target.c`'s
//! `overlay_target_open`, `_close`, `_ioctl`).
//!
//! Each open of minor 0 is a clone with its own minor number (from an
//! `id_space`, 1..INT32_MAX) and its own [`CtlHandle`], which owns the
//! lookups handed out on it; closing the minor drops the handle, which
//! returns its unanswered lookups to the queue.
//!
//! An ioctl moves bytes, the core decides: the fixed argument is copied
//! in with `ddi_copyin` (honouring `FKIOCTL` through the mode word), a
//! 32-bit caller's `overlay_targ_pkt_t` is widened, and the command's
//! [`copy_plan`] (the one table every host and the client read) says the
//! rest: the variable tails of `LIST` and `CACHE_ITER` are output only
//! (never copied in, never allocated from the caller's count), the frame
//! buffers of `PKT`, `INJECT` and `RESEND` are moved with
//! `ddi_copyin`/`ddi_copyout` at `otp_buf`; then [`targ_ioctl`] runs and
//! its result is copied out.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::ffi::c_void;

use illumos_sys_hdrs::cred::{GLOBAL_ZONEID, cred_t, crgetzoneid, secpolicy_dl_config};
use illumos_sys_hdrs::ddi::{
    FEXCL, FKIOCTL, FREAD, FWRITE, OTYP_BLK, ddi_copyin, ddi_copyout, getmajor, getminor, id_alloc,
    id_free, makedevice,
};
use illumos_sys_hdrs::errno::{EFAULT, EINVAL, ENOTTY, ENXIO, EPERM};
use illumos_sys_hdrs::types::{c_int, dev_t, intptr_t, minor_t};
use overlay::abi::targ::{
    FrameCopy, OverlayTargLookup, OverlayTargPkt, OverlayTargPkt32, OverlayTargResp, TargIoctl,
    copy_plan,
};
use overlay::ioctl::{TargData, targ_ioctl};
use overlay::{Cred, CtlHandle, Errno, OpenFlags};
use zerocopy::{FromBytes, IntoBytes};

use crate::module;
use crate::platform::IllumosPlatform;
use crate::sdt;
use crate::sync::KRawMutex;
use crate::sys_extra::mode_is_ilp32;

type Handle = Arc<CtlHandle<IllumosPlatform>>;

/// Open clones by minor number.
static HANDLES: lock_api::Mutex<KRawMutex, BTreeMap<minor_t, Handle>> =
    lock_api::Mutex::new(BTreeMap::new());

/// Largest `PKT` copy-out: a frame waiting for varpd is at most the
/// largest MTU plus headers, far below this.
const PKT_MAX: usize = 64 * 1024;

/// Open clones (detach refuses while any).
pub fn open_minors() -> usize {
    HANDLES.lock().len()
}

/// The caller's credentials as the core sees them.
fn cred_of(credp: *const cred_t) -> Cred {
    // SAFETY: the kernel's credential for this call.
    unsafe {
        Cred {
            dl_config: secpolicy_dl_config(credp) == 0,
            global_zone: crgetzoneid(credp) == GLOBAL_ZONEID,
        }
    }
}

/// open(9E): the illumos rules (facts §2.3), in `overlay_target_open`'s
/// order: privilege (`EPERM`), minor 0 only (`ENXIO`), character opens
/// only (`EINVAL`; the C test `otype & OTYP_BLK` is always false since
/// `OTYP_BLK` is 0 -- fixed), no flags but read, write and exclusive
/// (`EINVAL`); then the core's rules: read or write, write only with
/// `O_EXCL` (`EINVAL`), global zone (`EPERM`), one exclusive opener
/// (`EEXIST`).
pub unsafe extern "C" fn overlay_target_open(
    devp: *mut dev_t,
    flag: c_int,
    otyp: c_int,
    credp: *mut cred_t,
) -> c_int {
    // SAFETY: the kernel's credential.
    if unsafe { secpolicy_dl_config(credp) } != 0 {
        return EPERM;
    }
    // SAFETY: the kernel's dev_t in/out pointer.
    let dev = unsafe { *devp };
    if getminor(dev) != 0 {
        return ENXIO;
    }
    if otyp == OTYP_BLK {
        return EINVAL;
    }
    if flag & !(FREAD | FWRITE | FEXCL) != 0 {
        return EINVAL;
    }
    let Some(ov) = module::driver() else {
        return ENXIO;
    };
    let how = OpenFlags {
        read: flag & FREAD != 0,
        write: flag & FWRITE != 0,
        excl: flag & FEXCL != 0,
    };
    let h = match ov.open(how, cred_of(credp)) {
        Ok(h) => h,
        Err(e) => return e.0,
    };
    // SAFETY: the id space lives from _init to _fini; id_alloc sleeps
    // until an id is free, which open may.
    let minor = unsafe { id_alloc(module::minors()) } as minor_t;
    HANDLES.lock().insert(minor, Arc::new(h));
    // SAFETY: the kernel's out pointer.
    unsafe { *devp = makedevice(getmajor(dev), minor) };
    0
}

/// close(9E): the last close of a clone drops its handle (its lookups go
/// back to the queue) and frees the minor.
pub unsafe extern "C" fn overlay_target_close(
    dev: dev_t,
    _flag: c_int,
    _otyp: c_int,
    _credp: *mut cred_t,
) -> c_int {
    let minor = getminor(dev);
    let h = HANDLES.lock().remove(&minor);
    let Some(h) = h else {
        return ENXIO;
    };
    drop(h);
    // SAFETY: a minor we allocated in open and no longer use.
    unsafe { id_free(module::minors(), minor as i32) };
    0
}

/// `ddi_copyin` of `dst.len()` bytes; of the mode word only `FKIOCTL`
/// matters (a kernel caller's address), as `overlay_target_ioctl` passes.
///
/// # Safety
/// `src` is the caller's ioctl address (user, or kernel with `FKIOCTL`
/// in `mode`).
unsafe fn copyin(src: u64, dst: &mut [u8], mode: c_int) -> Result<(), Errno> {
    if dst.is_empty() {
        return Ok(());
    }
    // SAFETY: ddi_copyin validates `src` for the caller's address space
    // and writes at most dst.len() bytes into `dst`.
    let r = unsafe {
        ddi_copyin(
            src as usize as *const c_void,
            dst.as_mut_ptr().cast(),
            dst.len(),
            mode & FKIOCTL,
        )
    };
    if r == 0 { Ok(()) } else { Err(Errno(EFAULT)) }
}

/// `ddi_copyout` of `src`.
///
/// # Safety
/// As for [`copyin`].
unsafe fn copyout(src: &[u8], dst: u64, mode: c_int) -> Result<(), Errno> {
    if src.is_empty() {
        return Ok(());
    }
    // SAFETY: ddi_copyout validates `dst` for the caller's address space.
    let r = unsafe {
        ddi_copyout(
            src.as_ptr().cast(),
            dst as usize as *mut c_void,
            src.len(),
            mode & FKIOCTL,
        )
    };
    if r == 0 { Ok(()) } else { Err(Errno(EFAULT)) }
}

/// ioctl(9E).
pub unsafe extern "C" fn overlay_target_ioctl(
    dev: dev_t,
    cmd: c_int,
    arg: intptr_t,
    mode: c_int,
    credp: *mut cred_t,
    _rvalp: *mut c_int,
) -> c_int {
    let Some(op) = TargIoctl::from_cmd(cmd as u32) else {
        return ENOTTY;
    };
    let cred = cred_of(credp);
    if !cred.dl_config {
        return EPERM;
    }
    let Some(h) = HANDLES.lock().get(&getminor(dev)).cloned() else {
        return ENXIO;
    };
    // SAFETY: `arg` and `mode` are this ioctl's.
    match unsafe { targ(&h, op, cred, arg as u64, mode) } {
        Ok(()) => 0,
        Err(e) => e.0,
    }
}

/// One `/dev/overlay` ioctl on an open clone.
///
/// # Safety
/// `uarg` and `mode` are the ioctl's argument address and mode word.
unsafe fn targ(h: &Handle, op: TargIoctl, cred: Cred, uarg: u64, mode: c_int) -> Result<(), Errno> {
    let cmd = op.cmd();
    if op.needs_write() && !h.flags().write {
        return Err(Errno::EBADF);
    }
    let pkt_op = matches!(op, TargIoctl::Pkt | TargIoctl::Inject | TargIoctl::Resend);
    let ilp32 = pkt_op && mode_is_ilp32(mode);

    // The fixed argument, as the core's LP64 layout.
    let mut buf: Vec<u8> = if ilp32 {
        // The caller's struct is 28 bytes (illumos copies 32: 4 bytes past
        // its end; see OverlayTargPkt32).
        let mut raw = [0u8; core::mem::size_of::<OverlayTargPkt32>()];
        // SAFETY: the caller's argument.
        unsafe { copyin(uarg, &mut raw, mode)? };
        let p32 = OverlayTargPkt32::read_from_bytes(&raw[..]).map_err(|_| Errno::EFAULT)?;
        OverlayTargPkt::from(p32).as_bytes().to_vec()
    } else {
        let mut b = vec![0u8; op.arg_size()];
        // SAFETY: the caller's argument.
        unsafe { copyin(uarg, &mut b, mode)? };
        b
    };

    let plan = copy_plan(cmd, &buf, PKT_MAX)?;
    let mut data = match plan.frame {
        FrameCopy::Out(n) | FrameCopy::In(n) => vec![0u8; n],
        FrameCopy::None => Vec::new(),
    };
    let ubuf = if pkt_op {
        OverlayTargPkt::read_from_prefix(&buf[..])
            .map_err(|_| Errno::EFAULT)?
            .0
            .otp_buf
    } else {
        0
    };
    if let FrameCopy::In(_) = plan.frame {
        // SAFETY: the caller's frame buffer of otp_size bytes.
        unsafe { copyin(ubuf, &mut data, mode)? };
    }

    let r = {
        let td = match op {
            TargIoctl::Pkt => TargData::Out(&mut data),
            TargIoctl::Inject | TargIoctl::Resend => TargData::In(&data),
            _ => TargData::None,
        };
        targ_ioctl(h, cmd, cred, &mut buf, td)
    };
    probe_result(op, &buf, r);
    r?;

    if op == TargIoctl::Pkt {
        let p = OverlayTargPkt::read_from_prefix(&buf[..])
            .map_err(|_| Errno::EFAULT)?
            .0;
        let n = (p.otp_size as usize).min(data.len());
        // SAFETY: the caller's frame buffer, which it sized.
        unsafe { copyout(&data[..n], ubuf, mode)? };
    }
    if op.copy_out() {
        if ilp32 {
            let p = OverlayTargPkt::read_from_prefix(&buf[..])
                .map_err(|_| Errno::EFAULT)?
                .0;
            // SAFETY: the caller's 28-byte argument.
            unsafe { copyout(p.to_ilp32().as_bytes(), uarg, mode)? };
        } else {
            // The core never returns more than the plan's copy_out, the
            // memory the caller described.
            let n = buf.len().min(plan.copy_out);
            // SAFETY: the caller's argument, `n` bytes of what it described.
            unsafe { copyout(&buf[..n], uarg, mode)? };
        }
    }
    Ok(())
}

/// The ioctl-side probes: a lookup handed out, a reply taken. Inlined so
/// no probe ends up a tail call.
#[inline(always)]
fn probe_result(op: TargIoctl, buf: &[u8], r: Result<(), Errno>) {
    match op {
        TargIoctl::Lookup if r.is_ok() => {
            if let Ok((l, _)) = OverlayTargLookup::read_from_prefix(buf) {
                sdt::targ_lookup(l.otl_dlid, l.otl_reqid);
            }
        }
        TargIoctl::Respond | TargIoctl::Drop => {
            if let Ok((resp, _)) = OverlayTargResp::read_from_prefix(buf) {
                sdt::targ_reply(resp.otr_reqid, op.cmd(), Errno::code(r));
            }
        }
        _ => {}
    }
}
