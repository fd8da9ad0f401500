//! Transport provider interface primitives: `sys/tihdr.h`. A kernel UDP
//! socket's direct-receive callback gets each datagram as an `M_PROTO`
//! block holding a `T_unitdata_ind` (followed by the source address and
//! options), with the payload in `b_cont`.

use crate::types::t_scalar_t;

/// Unit-data indication: a datagram arrived.
pub const T_UNITDATA_IND: t_scalar_t = 20;
/// Unit-data error indication.
pub const T_UDERROR_IND: t_scalar_t = 21;

/// `struct T_unitdata_ind`. `SRC_offset`/`OPT_offset` are byte offsets from
/// the start of this structure (i.e. from `b_rptr`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct T_unitdata_ind {
    /// Always `T_UNITDATA_IND`.
    pub PRIM_type: t_scalar_t,
    pub SRC_length: t_scalar_t,
    pub SRC_offset: t_scalar_t,
    pub OPT_length: t_scalar_t,
    pub OPT_offset: t_scalar_t,
}

const _: () = {
    use core::mem::{align_of, size_of};
    assert!(size_of::<T_unitdata_ind>() == 20);
    assert!(align_of::<T_unitdata_ind>() == 4);
};
