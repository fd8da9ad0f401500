//! Kernel sockets: `sys/ksocket.h` (including the direct-receive interface
//! `ksocket_krecv_set`, which mainline illumos has had since 2015) and
//! `sys/socketvar.h` (`SOCKET_SLEEP`).

use crate::cred::cred_t;
use crate::kmem::{KM_NOSLEEP, KM_SLEEP};
use crate::socket::{nmsghdr, sockaddr};
use crate::stream::mblk_t;
use crate::types::{boolean_t, c_int, c_void, size_t, socklen_t};

/// `typedef struct __ksocket *ksocket_t;`
#[repr(C)]
pub struct __ksocket {
    _p: [u8; 0],
}
pub type ksocket_t = *mut __ksocket;

/// `KSOCKET_SLEEP` is `SOCKET_SLEEP` is `KM_SLEEP`.
pub const KSOCKET_SLEEP: c_int = KM_SLEEP;
/// `KSOCKET_NOSLEEP` is `SOCKET_NOSLEEP` is `KM_NOSLEEP`.
pub const KSOCKET_NOSLEEP: c_int = KM_NOSLEEP;

/// `typedef boolean_t (*ksocket_krecv_f)(ksocket_t, mblk_t *, size_t, int,
/// void *);`
///
/// Called (from the protocol's receive path: interrupt or soft-ring
/// context, never sleeping) with a `b_next` chain of received messages,
/// their total size, a flags word and the argument given to
/// `ksocket_krecv_set`. The callback owns the chain. For UDP every message
/// is an `M_PROTO` `T_UNITDATA_IND` block with the payload in `b_cont`.
/// Return `B_TRUE` to keep receiving.
pub type ksocket_krecv_f = Option<
    unsafe extern "C" fn(
        ks: ksocket_t,
        mp: *mut mblk_t,
        msgsize: size_t,
        oob: c_int,
        arg: *mut c_void,
    ) -> boolean_t,
>;

unsafe extern "C" {
    pub fn ksocket_socket(
        ksp: *mut ksocket_t,
        domain: c_int,
        ty: c_int,
        protocol: c_int,
        flags: c_int,
        cr: *mut cred_t,
    ) -> c_int;
    pub fn ksocket_bind(
        ks: ksocket_t,
        addr: *mut sockaddr,
        addrlen: socklen_t,
        cr: *mut cred_t,
    ) -> c_int;
    /// Send the message `*mpp` to `msg->msg_name`. On error the unsent part
    /// is left in `*mpp` (possibly a `b_cont` of the original) and the
    /// caller must free it.
    pub fn ksocket_sendmblk(
        ks: ksocket_t,
        msg: *mut nmsghdr,
        flags: c_int,
        mpp: *mut *mut mblk_t,
        cr: *mut cred_t,
    ) -> c_int;
    pub fn ksocket_setsockopt(
        ks: ksocket_t,
        level: c_int,
        optname: c_int,
        optval: *const c_void,
        optlen: c_int,
        cr: *mut cred_t,
    ) -> c_int;
    pub fn ksocket_getsockopt(
        ks: ksocket_t,
        level: c_int,
        optname: c_int,
        optval: *mut c_void,
        optlen: *mut c_int,
        cr: *mut cred_t,
    ) -> c_int;
    pub fn ksocket_getsockname(
        ks: ksocket_t,
        addr: *mut sockaddr,
        addrlen: *mut socklen_t,
        cr: *mut cred_t,
    ) -> c_int;
    /// Install (or, with `None`, remove) the direct-receive callback.
    pub fn ksocket_krecv_set(ks: ksocket_t, cb: ksocket_krecv_f, arg: *mut c_void) -> c_int;
    /// `void ksocket_krecv_unblock(ksocket_t);` (declared for
    /// completeness; the overlay driver does not use it).
    pub fn ksocket_krecv_unblock(ks: ksocket_t);
    pub fn ksocket_close(ks: ksocket_t, cr: *mut cred_t) -> c_int;
    pub fn ksocket_hold(ks: ksocket_t);
    pub fn ksocket_rele(ks: ksocket_t);
}
