//! The `OVERLAY_IOC_*` commands on `/dev/dld` (`overlay.c`'s
//! `overlay_ioc_list`).
//!
//! dld does the user-boundary work: it checks the privilege function
//! (`secpolicy_dl_config`, none for `STATUS`), copies exactly
//! `di_argsize` bytes in (`DLDCOPYIN`) and, on success, back out
//! (`DLDCOPYINOUT`), and hands `di_func` its kernel copy. The table is
//! built from the core's [`DldIoctl::ALL`], so the command numbers,
//! sizes, copy directions and privileges are the core's, i.e. the
//! illumos ABI. Each entry is a monomorphised [`dld_entry`] (dld does
//! not pass the command to the function) that calls the core's
//! [`dld_ioctl`] on dld's buffer in place.
//!
//! `CREATE` does two things around the core, as `overlay_i_create`
//! does: loads the encapsulation plugin module on demand
//! (`modload("overlay", name)`, once, if no plugin of that name is
//! registered), and creates the datalink in the caller's zone. After a
//! successful create it binds the new device to its link (see `link.rs`).

use core::ffi::{c_char, c_void};

use illumos_sys_hdrs::cred::{cred_t, crgetzoneid, secpolicy_dl_config};
use illumos_sys_hdrs::dld::{DLDCOPYIN, DLDCOPYINOUT, dld_ioc_func_t, dld_ioc_info_t};
use illumos_sys_hdrs::errno::{ENOTTY, ENXIO};
use illumos_sys_hdrs::modctl::modload;
use illumos_sys_hdrs::types::{c_int, intptr_t, uint_t};
use overlay::abi::common::{MAXLINKNAMELEN, cstr_field};
use overlay::abi::dld::*;
use overlay::ioctl::dld_ioctl;
use overlay::plugin::registry;
use overlay::{Cred, Errno};
use zerocopy::FromBytes;

use crate::module::{self, KernelStatic};

/// One dld entry point per command.
///
/// # Safety
/// Called by dld with its kernel copy of the argument (`di_argsize`
/// bytes) and the caller's credential.
unsafe extern "C" fn dld_entry<const CMD: u32>(
    karg: *mut c_void,
    _arg: intptr_t,
    _mode: c_int,
    credp: *mut cred_t,
    _rvalp: *mut c_int,
) -> c_int {
    let Some(op) = DldIoctl::from_cmd(CMD) else {
        return ENOTTY;
    };
    let Some(ov) = module::driver() else {
        return ENXIO;
    };
    // SAFETY: dld's buffer of di_argsize == op.arg_size() bytes, ours for
    // the duration of the call.
    let arg = unsafe { core::slice::from_raw_parts_mut(karg.cast::<u8>(), op.arg_size()) };
    let cred = Cred {
        // dld checked it already for every command that needs it; STATUS
        // needs none, so do not ask (an unprivileged dladm would log a
        // privilege failure for nothing).
        // SAFETY: the caller's credential.
        dl_config: op.needs_dl_config() && unsafe { secpolicy_dl_config(credp) } == 0,
        // SAFETY: as above.
        global_zone: unsafe { crgetzoneid(credp) } == illumos_sys_hdrs::cred::GLOBAL_ZONEID,
    };
    if op != DldIoctl::Create {
        return Errno::code(dld_ioctl(&ov, CMD, cred, arg));
    }

    let Ok((c, _)) = OverlayIocCreate::read_from_prefix(&arg[..]) else {
        return Errno::EFAULT.0;
    };
    if let Ok(name) = cstr_field(&c.oic_encap)
        && !name.is_empty()
        && !name.contains('/')
        && registry::lookup(name).is_none()
    {
        let mut cname = [0 as c_char; MAXLINKNAMELEN + 1];
        for (d, s) in cname.iter_mut().zip(name.bytes()) {
            *d = s as c_char;
        }
        // SAFETY: NUL-terminated names; modload sleeps, which an ioctl
        // may. Its result does not matter: the core looks the plugin up
        // again and answers ENOENT if it is still missing.
        unsafe { modload(c"overlay".as_ptr(), cname.as_ptr()) };
    }
    let _serial = module::CREATE_LOCK.lock();
    // SAFETY: the caller's credential.
    module::set_create_zone(unsafe { crgetzoneid(credp) });
    let r = dld_ioctl(&ov, CMD, cred, arg);
    if r.is_ok()
        && let Some(dev) = ov.device(c.oic_linkid)
    {
        dev.link().bind(&dev);
    }
    Errno::code(r)
}

/// The entry function of a command.
const fn func_for(op: DldIoctl) -> dld_ioc_func_t {
    match op {
        DldIoctl::Create => dld_entry::<OVERLAY_IOC_CREATE>,
        DldIoctl::Delete => dld_entry::<OVERLAY_IOC_DELETE>,
        DldIoctl::Propinfo => dld_entry::<OVERLAY_IOC_PROPINFO>,
        DldIoctl::Getprop => dld_entry::<OVERLAY_IOC_GETPROP>,
        DldIoctl::Setprop => dld_entry::<OVERLAY_IOC_SETPROP>,
        DldIoctl::Nprops => dld_entry::<OVERLAY_IOC_NPROPS>,
        DldIoctl::Activate => dld_entry::<OVERLAY_IOC_ACTIVATE>,
        DldIoctl::Status => dld_entry::<OVERLAY_IOC_STATUS>,
    }
}

/// Number of commands (`DLDIOCCNT(overlay_ioc_list)`).
pub const TABLE_LEN: uint_t = DldIoctl::ALL.len() as uint_t;

const EMPTY: dld_ioc_info_t = dld_ioc_info_t {
    di_cmd: 0,
    di_flags: 0,
    di_argsize: 0,
    di_func: None,
    di_priv_func: None,
};

/// `overlay_ioc_list`, from the core's table.
static TABLE: KernelStatic<[dld_ioc_info_t; DldIoctl::ALL.len()]> = KernelStatic::new({
    let mut t = [EMPTY; DldIoctl::ALL.len()];
    let mut i = 0;
    while i < t.len() {
        let op = DldIoctl::ALL[i];
        t[i] = dld_ioc_info_t {
            di_cmd: op.cmd(),
            di_flags: if op.copy_out() {
                DLDCOPYINOUT
            } else {
                DLDCOPYIN
            },
            di_argsize: op.arg_size(),
            di_func: Some(func_for(op)),
            di_priv_func: if op.needs_dl_config() {
                Some(secpolicy_dl_config)
            } else {
                None
            },
        };
        i += 1;
    }
    t
});

/// The table for `dld_ioc_register` (dld keeps the pointer until
/// `dld_ioc_unregister`).
pub fn table() -> *mut dld_ioc_info_t {
    TABLE.get().cast()
}

const _: () = assert!(TABLE_LEN == 8);
