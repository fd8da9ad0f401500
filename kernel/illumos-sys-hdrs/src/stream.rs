//! STREAMS messages: `sys/stream.h` (`msgb`/`mblk_t`, `datab`/`dblk_t`,
//! `allocb`, …), `sys/strsun.h` (`DB_*`/`MBLK*` macros, `msgsize`,
//! `miocnak`) and `sys/strsubr.h` (`freemsgchain`, `DB_CKSUMFLAGS`).
//!
//! A message is a `b_cont` chain of `mblk_t`s, each pointing at a data block
//! (`dblk_t`) that may be shared (`db_ref > 1`, e.g. after `dupb`); a
//! *chain* of messages is linked through `b_next`. The bytes of a block are
//! `[b_rptr, b_wptr)` inside `[db_base, db_lim)`. A shared block's bytes
//! must not be written.
//!
//! Layouts are those of mainline illumos-gate `sys/stream.h` (112-byte
//! `dblk_t`, 64-byte `mblk_t`). Oxide's illumos fork (Helios) appends
//! mac offload fields (`db_meoi`, …) to `dblk_t`; nothing here reads past
//! `db_credp`, and we never allocate a `dblk_t` ourselves, so the module
//! works on both as long as the common prefix is unchanged.

use crate::cred::cred_t;
use crate::types::{
    c_int, c_uchar, c_ushort, c_void, caddr_t, intptr_t, pid_t, size_t, ssize_t, uint_t,
};

/// `queue_t` (`struct queue`): a STREAMS queue. Opaque here.
#[repr(C)]
pub struct queue_t {
    _p: [u8; 0],
}

/// `struct qinit`: queue entry points. Opaque here.
#[repr(C)]
pub struct qinit {
    _p: [u8; 0],
}

/// `struct fthdr`: STREAMS flow-trace header. Opaque.
#[repr(C)]
pub struct fthdr {
    _p: [u8; 0],
}

/// `struct streamtab`: how a STREAMS driver describes its queues;
/// `cb_ops.cb_str` points at one (`mac_init_ops` fills it in for GLDv3).
#[repr(C)]
pub struct streamtab {
    pub st_rdinit: *mut qinit,
    pub st_wrinit: *mut qinit,
    pub st_muxrinit: *mut qinit,
    pub st_muxwinit: *mut qinit,
}

/// `frtn_t` (`struct free_rtn`): the free routine of an `esballoc` block.
#[repr(C)]
pub struct frtn_t {
    pub free_func: Option<unsafe extern "C" fn(arg: caddr_t)>,
    pub free_arg: caddr_t,
}

/// The checksum view of `db_struioun` (`sys/stream.h`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct datab_cksum {
    /// `union { uint32_t u32; uint16_t u16; } cksum_val;`
    pub cksum_val: u32,
    /// Hardware checksum flags (`HCK_*`, `sys/pattr.h`); `DB_CKSUMFLAGS`.
    pub flags: u16,
    /// Used by GLDv2 for the VLAN TCI (`DB_TCI`).
    pub pad: u16,
}

/// `db_struioun`: an 8-byte, 8-aligned union (`double enforce_alignment`
/// in C; a `u64` here so that no floating-point type appears in the
/// kernel's soft-float code).
#[repr(C)]
#[derive(Clone, Copy)]
pub union datab_struioun {
    pub enforce_alignment: u64,
    pub data: [u8; 8],
    pub cksum: datab_cksum,
}

/// `dblk_t` (`struct datab`): a data block descriptor. Only `db_base`,
/// `db_lim`, `db_ref` and `db_type` are public (datab(9S)); the rest is
/// implementation-private and declared so the layout is right.
#[repr(C)]
pub struct dblk_t {
    pub db_frtnp: *mut frtn_t,
    pub db_base: *mut c_uchar,
    pub db_lim: *mut c_uchar,
    /// Number of `mblk_t`s pointing at this block.
    pub db_ref: c_uchar,
    /// Message type (`M_DATA`, `M_PROTO`, …).
    pub db_type: c_uchar,
    pub db_flags: c_uchar,
    pub db_struioflag: c_uchar,
    pub db_cpid: pid_t,
    pub db_cache: *mut c_void,
    pub db_mblk: *mut mblk_t,
    pub db_free: Option<unsafe extern "C" fn(mp: *mut mblk_t, dbp: *mut dblk_t)>,
    pub db_lastfree: Option<unsafe extern "C" fn(mp: *mut mblk_t, dbp: *mut dblk_t)>,
    pub db_cksumstart: intptr_t,
    pub db_cksumend: intptr_t,
    pub db_cksumstuff: intptr_t,
    pub db_struioun: datab_struioun,
    pub db_fthdr: *mut fthdr,
    pub db_credp: *mut cred_t,
}

/// `mblk_t` (`struct msgb`): a message block.
#[repr(C)]
pub struct mblk_t {
    /// Next message in a chain of messages.
    pub b_next: *mut mblk_t,
    pub b_prev: *mut mblk_t,
    /// Next block of this message.
    pub b_cont: *mut mblk_t,
    /// First unread byte.
    pub b_rptr: *mut c_uchar,
    /// First unwritten byte.
    pub b_wptr: *mut c_uchar,
    pub b_datap: *mut dblk_t,
    pub b_band: c_uchar,
    pub b_tag: c_uchar,
    pub b_flag: c_ushort,
    pub b_queue: *mut queue_t,
}

/// `struct msgb` is `mblk_t`.
pub type msgb = mblk_t;
/// `struct datab` is `dblk_t`.
pub type datab = dblk_t;

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<datab_struioun>() == 8);
    assert!(align_of::<datab_struioun>() == 8);
    assert!(size_of::<dblk_t>() == 112);
    assert!(offset_of!(dblk_t, db_ref) == 24);
    assert!(offset_of!(dblk_t, db_type) == 25);
    assert!(offset_of!(dblk_t, db_cpid) == 28);
    assert!(offset_of!(dblk_t, db_cache) == 32);
    assert!(offset_of!(dblk_t, db_cksumstart) == 64);
    assert!(offset_of!(dblk_t, db_struioun) == 88);
    assert!(offset_of!(dblk_t, db_fthdr) == 96);
    assert!(offset_of!(dblk_t, db_credp) == 104);
    assert!(size_of::<mblk_t>() == 64);
    assert!(offset_of!(mblk_t, b_rptr) == 24);
    assert!(offset_of!(mblk_t, b_wptr) == 32);
    assert!(offset_of!(mblk_t, b_datap) == 40);
    assert!(offset_of!(mblk_t, b_band) == 48);
    assert!(offset_of!(mblk_t, b_flag) == 50);
    assert!(offset_of!(mblk_t, b_queue) == 56);
    assert!(size_of::<streamtab>() == 32);
    assert!(size_of::<frtn_t>() == 16);
};

// Message types (sys/stream.h); db_type.
/// Regular data.
pub const M_DATA: c_uchar = 0x00;
/// Protocol control (e.g. a `T_UNITDATA_IND` from a kernel socket).
pub const M_PROTO: c_uchar = 0x01;
/// Device-specific control message.
pub const M_CTL: c_uchar = 0x0d;
/// ioctl request.
pub const M_IOCTL: c_uchar = 0x0e;
/// Negative ioctl acknowledgement.
pub const M_IOCNAK: c_uchar = 0x82;
/// Priority protocol control.
pub const M_PCPROTO: c_uchar = 0x83;

// allocb(9F) priorities (ignored by modern illumos, but part of the ABI).
pub const BPRI_LO: uint_t = 1;
pub const BPRI_MED: uint_t = 2;
pub const BPRI_HI: uint_t = 3;

/// Maximum `db_ref`.
pub const DBLK_REFMAX: c_uchar = 255;

unsafe extern "C" {
    /// Allocate a message block with at least `size` bytes of data
    /// (16 for `size == 0`); `NULL` on failure. Never sleeps.
    pub fn allocb(size: size_t, pri: uint_t) -> *mut mblk_t;
    /// Allocate a message block around a caller-owned buffer; `fr` is called
    /// when the last reference goes away.
    pub fn esballoc(base: *mut c_uchar, size: size_t, pri: uint_t, fr: *mut frtn_t) -> *mut mblk_t;
    /// Free one block (not its `b_cont`).
    pub fn freeb(bp: *mut mblk_t);
    /// Free a message (the whole `b_cont` chain).
    pub fn freemsg(mp: *mut mblk_t);
    /// Free a chain of messages (`b_next`), each with `freemsg`
    /// (`sys/strsubr.h`).
    pub fn freemsgchain(mp: *mut mblk_t);
    /// New `mblk_t` sharing `bp`'s data block (`db_ref` goes up).
    pub fn dupb(bp: *mut mblk_t) -> *mut mblk_t;
    /// `dupb` over the whole message.
    pub fn dupmsg(mp: *mut mblk_t) -> *mut mblk_t;
    /// Copy one block into a new, private block.
    pub fn copyb(bp: *mut mblk_t) -> *mut mblk_t;
    /// Copy a whole message into new, private blocks.
    pub fn copymsg(mp: *mut mblk_t) -> *mut mblk_t;
    /// Append `bp2` to the end of `mp1`'s `b_cont` chain.
    pub fn linkb(mp1: *mut mblk_t, bp2: *mut mblk_t);
    /// Detach and return the second block of a message.
    pub fn unlinkb(mp: *mut mblk_t) -> *mut mblk_t;
    /// Make the first `len` bytes (-1: all) contiguous in the first block,
    /// in place. Returns 1 on success, 0 on failure.
    pub fn pullupmsg(mp: *mut mblk_t, len: ssize_t) -> c_int;
    /// As `pullupmsg`, but into a new message; the original is untouched.
    pub fn msgpullup(mp: *mut mblk_t, len: ssize_t) -> *mut mblk_t;
    /// Number of data bytes in the `M_DATA` blocks of a message.
    pub fn msgdsize(mp: *mut mblk_t) -> size_t;
    /// Number of data bytes in all blocks of a message (`sys/strsun.h`).
    pub fn msgsize(mp: *mut mblk_t) -> size_t;
    /// Turn an `M_IOCTL` into an `M_IOCNAK` and reply (`sys/strsun.h`).
    pub fn miocnak(wq: *mut queue_t, mp: *mut mblk_t, count: c_int, error: c_int);
}

// The `sys/strsun.h` and `sys/strsubr.h` accessor macros, as functions.
// They all dereference raw pointers and are `unsafe`: `mp` must point at a
// valid `mblk_t` with a valid `b_datap`.

/// `DB_BASE(mp)`
///
/// # Safety
/// `mp` and `mp->b_datap` must be valid.
#[inline]
pub unsafe fn DB_BASE(mp: *const mblk_t) -> *mut c_uchar {
    // SAFETY: the caller guarantees `mp` and its data block are valid.
    unsafe { (*(*mp).b_datap).db_base }
}

/// `DB_LIM(mp)`
///
/// # Safety
/// `mp` and `mp->b_datap` must be valid.
#[inline]
pub unsafe fn DB_LIM(mp: *const mblk_t) -> *mut c_uchar {
    // SAFETY: the caller guarantees `mp` and its data block are valid.
    unsafe { (*(*mp).b_datap).db_lim }
}

/// `DB_REF(mp)`: how many `mblk_t`s share this data block. Its bytes may
/// only be written when this is 1.
///
/// # Safety
/// `mp` and `mp->b_datap` must be valid.
#[inline]
pub unsafe fn DB_REF(mp: *const mblk_t) -> c_uchar {
    // SAFETY: the caller guarantees `mp` and its data block are valid.
    unsafe { (*(*mp).b_datap).db_ref }
}

/// `DB_TYPE(mp)`: the message type (`M_DATA`, `M_PROTO`, …).
///
/// # Safety
/// `mp` and `mp->b_datap` must be valid.
#[inline]
pub unsafe fn DB_TYPE(mp: *const mblk_t) -> c_uchar {
    // SAFETY: the caller guarantees `mp` and its data block are valid.
    unsafe { (*(*mp).b_datap).db_type }
}

/// `DB_CKSUMFLAGS(mp)` (`sys/strsubr.h`): hardware checksum flags.
///
/// # Safety
/// `mp` and `mp->b_datap` must be valid.
#[inline]
pub unsafe fn DB_CKSUMFLAGS(mp: *const mblk_t) -> u16 {
    // SAFETY: the caller guarantees `mp` and its data block are valid; every
    // bit pattern of the union is a valid `datab_cksum`.
    unsafe { (*(*mp).b_datap).db_struioun.cksum.flags }
}

/// `DB_CKSUMFLAGS(mp) = flags`
///
/// # Safety
/// `mp` and `mp->b_datap` must be valid, and no other thread may be
/// touching the data block descriptor.
#[inline]
pub unsafe fn DB_CKSUMFLAGS_SET(mp: *mut mblk_t, flags: u16) {
    // SAFETY: the caller guarantees `mp` and its data block are valid and
    // that we have exclusive access to the descriptor.
    unsafe { (*(*mp).b_datap).db_struioun.cksum.flags = flags }
}

/// `MBLKL(mp)`: bytes in this block, `b_wptr - b_rptr`.
///
/// # Safety
/// `mp` must be valid, with `b_rptr <= b_wptr` in the same data block.
#[inline]
pub unsafe fn MBLKL(mp: *const mblk_t) -> usize {
    // SAFETY: the caller guarantees both pointers are in one allocation.
    unsafe { (*mp).b_wptr.offset_from((*mp).b_rptr) as usize }
}

/// `MBLKSIZE(mp)`: size of the data block, `db_lim - db_base`.
///
/// # Safety
/// `mp` and `mp->b_datap` must be valid.
#[inline]
pub unsafe fn MBLKSIZE(mp: *const mblk_t) -> usize {
    // SAFETY: the caller guarantees the block is valid; base and limit are
    // in one allocation.
    unsafe { DB_LIM(mp).offset_from(DB_BASE(mp)) as usize }
}

/// `MBLKHEAD(mp)`: headroom, `b_rptr - db_base`.
///
/// # Safety
/// `mp` and `mp->b_datap` must be valid.
#[inline]
pub unsafe fn MBLKHEAD(mp: *const mblk_t) -> usize {
    // SAFETY: the caller guarantees the block is valid; `b_rptr` lies in
    // `[db_base, db_lim]`.
    unsafe { (*mp).b_rptr.offset_from(DB_BASE(mp)) as usize }
}

/// `MBLKTAIL(mp)`: tailroom, `db_lim - b_wptr`.
///
/// # Safety
/// `mp` and `mp->b_datap` must be valid.
#[inline]
pub unsafe fn MBLKTAIL(mp: *const mblk_t) -> usize {
    // SAFETY: the caller guarantees the block is valid; `b_wptr` lies in
    // `[db_base, db_lim]`.
    unsafe { DB_LIM(mp).offset_from((*mp).b_wptr) as usize }
}
