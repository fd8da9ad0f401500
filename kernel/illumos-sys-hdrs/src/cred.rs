//! Credentials and privilege checks: `sys/cred.h`, `sys/policy.h`,
//! `sys/sunddi.h` (`ddi_get_cred`).

use crate::types::{c_int, zoneid_t};

/// `struct cred` / `cred_t`: opaque, only handled by pointer.
#[repr(C)]
pub struct cred_t {
    _p: [u8; 0],
}

/// `zoneid_t` of the global zone.
pub const GLOBAL_ZONEID: zoneid_t = 0;

unsafe extern "C" {
    /// The kernel's own credential (`extern struct cred *kcred;`), used for
    /// kernel sockets.
    pub static kcred: *mut cred_t;

    /// `zoneid_t crgetzoneid(const cred_t *);`
    pub fn crgetzoneid(cr: *const cred_t) -> zoneid_t;

    /// `int secpolicy_dl_config(const cred_t *);` 0 if the caller holds
    /// `PRIV_SYS_DL_CONFIG`, else an errno (`EPERM`).
    pub fn secpolicy_dl_config(cr: *const cred_t) -> c_int;

    /// `cred_t *ddi_get_cred(void);` the credential of the current thread.
    pub fn ddi_get_cred() -> *mut cred_t;
}
