//! Mux sockets: one bound kernel UDP socket per mux (`overlay_mux.c`),
//! opened with `ksocket_socket`/`ksocket_bind`, configured with the
//! plugin's socket options (vxlan: `UDP_SRCPORT_HASH`, which makes the
//! UDP layer derive the outer source port from the inner flow, so the
//! core's `UnderlayDest::src_port` is not needed here), and fed by a
//! direct-receive callback (`ksocket_krecv_set`).
//!
//! ## Receive
//!
//! The callback runs in the protocol's receive context (a soft ring or
//! an interrupt thread): it must not sleep and must not allocate. It gets
//! a `b_next` chain of datagrams, each an `M_PROTO` `T_UNITDATA_IND`
//! block with the UDP payload in `b_cont`. As `overlay_mux_recv` does,
//! it rejects anything else (probe `overlay-fremsg` with the illumos
//! reason strings), frees the `T_UNITDATA_IND` block ("freed a fmp
//! block"), clears the hardware checksum flags of the payload, and hands
//! the payloads, one batch per chain, to [`Mux::rx_batch`] through the
//! `Weak<Mux>` the core gave `socket_open`. Nothing else is stripped: the
//! plugin's decap finds its header at the start of the payload.
//!
//! ## Close, and the one subtle case
//!
//! The socket closes when its `Mux` drops: `ksocket_close`, which waits
//! for callbacks in progress, then the callback argument is freed. The
//! callback holds a strong reference to the mux while it delivers; if the
//! last device stops meanwhile, the callback's reference is the last one
//! and the mux would drop -- and close its socket -- inside its own
//! callback, which would wait for itself. So the callback drops its
//! reference with `Arc::into_inner`: if it was the last, it marks the
//! socket `defer_close` first, and `Drop` then parks the socket on a
//! small static list of orphans instead of closing it. Orphans are
//! closed from thread context by [`reap_orphans`] (called from
//! `mc_start`, `mc_stop`, detach and `_fini`). Callbacks that run
//! meanwhile find the mux gone (`Weak::upgrade` fails) and free their
//! datagrams.

use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::ffi::c_void;
use core::mem::size_of;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use illumos_sys_hdrs::cred::kcred;
use illumos_sys_hdrs::ksocket::{
    KSOCKET_SLEEP, ksocket_bind, ksocket_close, ksocket_krecv_set, ksocket_sendmblk,
    ksocket_setsockopt, ksocket_socket, ksocket_t,
};
use illumos_sys_hdrs::socket::{
    AF_INET, AF_INET6, in_addr, in6_addr, msghdr, sockaddr, sockaddr_in, sockaddr_in6,
    sockaddr_storage,
};
use illumos_sys_hdrs::stream::{DB_CKSUMFLAGS_SET, DB_TYPE, M_PROTO, MBLKL, freemsg, mblk_t};
use illumos_sys_hdrs::tihdr::T_UNITDATA_IND;
use illumos_sys_hdrs::types::{B_TRUE, boolean_t, c_int, size_t, socklen_t};
use overlay::Errno;
use overlay::abi::In6Addr;
use overlay::mux::Mux;
use overlay::platform::{SocketParams, UnderlayDest};

use crate::mblk::{DropProbe, MsgBlk};
use crate::platform::{IllumosPlatform, PLATFORM};
use illumos_kmod_rt::kwarn;
use crate::sdt;

/// What the receive callback gets as its argument.
struct RecvCtx {
    mux: Weak<Mux<IllumosPlatform>>,
    ks: ksocket_t,
    /// Set by the callback when it is about to drop the last reference
    /// to the mux: the socket must not be closed from there.
    defer_close: AtomicBool,
}

/// Send-side counters of one socket (read with mdb; DTrace sees each
/// event through the probes).
#[derive(Debug, Default)]
pub struct SockStats {
    /// `ksocket_sendmblk` failures.
    pub send_errors: AtomicU64,
    /// Frames freed unsent: after a failure in the same batch, or with a
    /// destination the socket's family cannot reach.
    pub send_dropped: AtomicU64,
}

/// A bound mux socket.
#[derive(Debug)]
pub struct KSocket {
    ks: ksocket_t,
    ctx: NonNull<RecvCtx>,
    family: c_int,
    pub stats: SockStats,
}

// SAFETY: ksocket_t is a kernel handle whose operations are MT-safe; the
// callback context is immutable but for atomics.
unsafe impl Send for KSocket {}
// SAFETY: as above.
unsafe impl Sync for KSocket {}

impl core::fmt::Debug for RecvCtx {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecvCtx").finish_non_exhaustive()
    }
}

/// A socket address big enough for either family, and its length.
fn sockaddr_for(family: c_int, ip: &In6Addr, port: u16) -> Option<(sockaddr_storage, socklen_t)> {
    // SAFETY: sockaddr_storage is plain bytes; all-zero is valid.
    let mut ss: sockaddr_storage = unsafe { core::mem::zeroed() };
    let p = (&raw mut ss).cast::<u8>();
    if family == AF_INET6 {
        let sin6 = sockaddr_in6 {
            sin6_family: AF_INET6 as u16,
            sin6_port: port.to_be(),
            sin6_flowinfo: 0,
            sin6_addr: in6_addr { s6_addr: ip.0 },
            sin6_scope_id: 0,
            __sin6_src_id: 0,
        };
        // SAFETY: sockaddr_storage (256 bytes, 8-aligned) holds a
        // sockaddr_in6 (32 bytes, 4-aligned) at its start.
        unsafe { p.cast::<sockaddr_in6>().write(sin6) };
        Some((ss, size_of::<sockaddr_in6>() as socklen_t))
    } else if family == AF_INET {
        let v4 = ip.to_ipv4_mapped()?;
        let sin = sockaddr_in {
            sin_family: AF_INET as u16,
            sin_port: port.to_be(),
            sin_addr: in_addr {
                s_addr: u32::from_ne_bytes(v4.octets()),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: as above, for a 16-byte sockaddr_in.
        unsafe { p.cast::<sockaddr_in>().write(sin) };
        Some((ss, size_of::<sockaddr_in>() as socklen_t))
    } else {
        None
    }
}

impl KSocket {
    /// `overlay_mux_open`: socket, bind, plugin options, receive callback.
    pub fn open(params: &SocketParams, mux: Weak<Mux<IllumosPlatform>>) -> Result<KSocket, Errno> {
        let (mut sa, salen) =
            sockaddr_for(params.domain, &params.addr, params.port).ok_or(Errno::EINVAL)?;
        let mut ks: ksocket_t = ptr::null_mut();
        // SAFETY: out pointer to a local; kcred is the kernel's credential.
        Errno::result(unsafe {
            ksocket_socket(
                &mut ks,
                params.domain,
                params.sock_type,
                params.protocol,
                KSOCKET_SLEEP,
                kcred,
            )
        })?;
        let close = |ks: ksocket_t| {
            // SAFETY: a socket we opened and nobody else knows about.
            unsafe { ksocket_close(ks, kcred) };
        };
        // SAFETY: `sa` holds a sockaddr of length `salen`.
        let r = unsafe { ksocket_bind(ks, (&raw mut sa).cast::<sockaddr>(), salen, kcred) };
        if r != 0 {
            close(ks);
            return Err(Errno(r));
        }
        for o in &params.sockopts {
            let v: c_int = o.oso_value;
            // SAFETY: an int option value of its size.
            let r = unsafe {
                ksocket_setsockopt(
                    ks,
                    o.oso_level,
                    o.oso_name,
                    (&raw const v).cast::<c_void>(),
                    size_of::<c_int>() as c_int,
                    kcred,
                )
            };
            if r != 0 {
                close(ks);
                return Err(Errno(r));
            }
        }
        let ctx = NonNull::from(Box::leak(Box::new(RecvCtx {
            mux,
            ks,
            defer_close: AtomicBool::new(false),
        })));
        // SAFETY: `ctx` stays valid until the socket is closed (Drop or
        // reap_orphans free it only after ksocket_close returns).
        let r = unsafe { ksocket_krecv_set(ks, Some(recv_cb), ctx.as_ptr().cast()) };
        if r != 0 {
            close(ks);
            // SAFETY: the callback was never installed; we own ctx.
            drop(unsafe { Box::from_raw(ctx.as_ptr()) });
            return Err(Errno(r));
        }
        Ok(KSocket {
            ks,
            ctx,
            family: params.domain,
            stats: SockStats::default(),
        })
    }

    /// Sends every frame of the batch with `ksocket_sendmblk`, one
    /// message each, to its destination. As in `overlay_m_tx`, the first
    /// failure ends the batch: the frames after it are freed.
    pub fn send(&self, batch: &mut Vec<(UnderlayDest, MsgBlk)>) {
        let mut failed = false;
        for (dest, frame) in batch.drain(..) {
            let mp = frame.into_raw();
            let addr = if failed {
                None
            } else {
                sockaddr_for(self.family, &dest.ip, dest.port)
            };
            let Some((mut sa, salen)) = addr else {
                sdt::tx_drop(
                    mp,
                    if failed {
                        c"freed after a send failure earlier in the chain"
                    } else {
                        c"destination not reachable on the mux socket's family"
                    },
                );
                self.stats.send_dropped.fetch_add(1, Ordering::Relaxed);
                // SAFETY: we own `mp` (into_raw above).
                unsafe { freemsg(mp) };
                continue;
            };
            let mut hdr = msghdr {
                msg_name: (&raw mut sa).cast::<c_void>(),
                msg_namelen: salen,
                msg_iov: ptr::null_mut(),
                msg_iovlen: 0,
                msg_control: ptr::null_mut(),
                msg_controllen: 0,
                msg_flags: 0,
            };
            let mut m = mp;
            // SAFETY: a bound socket; `hdr` names a valid address; the
            // message is ours and ksocket_sendmblk takes it, leaving in
            // `m` whatever it did not consume on error.
            let r = unsafe { ksocket_sendmblk(self.ks, &mut hdr, 0, &mut m, kcred) };
            if r != 0 {
                sdt::tx_send_error(mp, r);
                self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                failed = true;
                if !m.is_null() {
                    // SAFETY: the unsent remainder is ours to free.
                    unsafe { freemsg(m) };
                }
            }
        }
    }
}

impl Drop for KSocket {
    fn drop(&mut self) {
        // SAFETY: ctx is valid until freed below or by reap_orphans.
        let deferred = unsafe { self.ctx.as_ref() }
            .defer_close
            .load(Ordering::Acquire);
        if deferred {
            park_orphan(self.ctx);
            return;
        }
        // SAFETY: ksocket_close waits for callbacks in progress, so ctx
        // may be freed once it returns; we are not in our own callback
        // (that case set defer_close).
        unsafe {
            ksocket_close(self.ks, kcred);
            drop(Box::from_raw(self.ctx.as_ptr()));
        }
    }
}

/// Sockets whose mux dropped inside their own receive callback, waiting
/// to be closed from thread context.
static ORPHANS: [AtomicPtr<RecvCtx>; 16] = [const { AtomicPtr::new(ptr::null_mut()) }; 16];

fn park_orphan(ctx: NonNull<RecvCtx>) {
    for slot in &ORPHANS {
        if slot
            .compare_exchange(
                ptr::null_mut(),
                ctx.as_ptr(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            return;
        }
    }
    // Sixteen sockets stopped inside their callbacks with no mc_start,
    // mc_stop or detach in between: leak this one (its port stays bound)
    // rather than close it from its own callback.
    kwarn!("leaking an underlay socket closed from its receive callback");
}

/// Closes the sockets parked by [`KSocket::drop`]. Thread context only
/// (`ksocket_close` sleeps).
pub fn reap_orphans() {
    for slot in &ORPHANS {
        let p = slot.swap(ptr::null_mut(), Ordering::AcqRel);
        if p.is_null() {
            continue;
        }
        // SAFETY: parked contexts are owned by this list; close waits for
        // the callbacks still running, after which nothing uses ctx.
        unsafe {
            ksocket_close((*p).ks, kcred);
            drop(Box::from_raw(p));
        }
    }
}

/// The direct-receive callback (`overlay_mux_recv`). The whole chain
/// goes to the core as one batch ([`Mux::rx_batch`]: one read lock of
/// the vnetid table per chain).
unsafe extern "C" fn recv_cb(
    _ks: ksocket_t,
    chain: *mut mblk_t,
    _msgsize: size_t,
    _oob: c_int,
    arg: *mut c_void,
) -> boolean_t {
    let _nosleep = crate::runtime::NoSleep::enter();
    // SAFETY: `arg` is the RecvCtx we installed, valid until the socket is
    // closed, which waits for this callback.
    let ctx = unsafe { &*arg.cast::<RecvCtx>() };
    // SAFETY: the callback owns the chain it is given.
    let datagrams = unsafe { Unitdata::new(chain) };
    match ctx.mux.upgrade() {
        Some(mux) => {
            mux.rx_batch(&PLATFORM, datagrams);
            if let Some(last) = Arc::into_inner(mux) {
                // The mux was stopped while we delivered: it dies here,
                // in our callback, so its socket must not be closed from
                // here.
                ctx.defer_close.store(true, Ordering::Release);
                drop(last);
            }
        }
        None => {
            for frame in datagrams {
                let mp = frame.into_raw();
                sdt::fremsg(mp, c"mux closing");
                // SAFETY: ours (into_raw above).
                unsafe { freemsg(mp) };
            }
        }
    }
    B_TRUE
}

/// The UDP payloads of a chain of `T_UNITDATA_IND` messages, as owned
/// frames. Messages that are not well-formed datagrams are freed on the
/// way (probe `overlay-fremsg` with `overlay_mux_recv`'s reasons); so is
/// the `M_PROTO` block of each good one ("freed a fmp block"). Whatever
/// is not consumed is freed on drop.
struct Unitdata {
    next: *mut mblk_t,
}

impl Unitdata {
    /// # Safety
    /// `chain` is NULL or a `b_next` chain of valid messages the caller
    /// hands over.
    unsafe fn new(chain: *mut mblk_t) -> Unitdata {
        Unitdata { next: chain }
    }
}

impl Iterator for Unitdata {
    type Item = MsgBlk;

    fn next(&mut self) -> Option<MsgBlk> {
        loop {
            let mp = self.next;
            if mp.is_null() {
                return None;
            }
            // SAFETY: a valid chain we own: unlink the head, then check
            // each block before reading it; every message is either
            // freed here or handed out as an owned frame.
            unsafe {
                self.next = (*mp).b_next;
                (*mp).b_next = ptr::null_mut();
                (*mp).b_prev = ptr::null_mut();
                if DB_TYPE(mp) != M_PROTO {
                    sdt::fremsg(mp, c"first one isn't M_PROTO");
                    freemsg(mp);
                    continue;
                }
                if (*mp).b_cont.is_null() {
                    sdt::fremsg(mp, c"missing a b_cont");
                    freemsg(mp);
                    continue;
                }
                if MBLKL(mp) < size_of::<c_int>()
                    || ptr::read_unaligned((*mp).b_rptr.cast::<c_int>()) != T_UNITDATA_IND
                {
                    sdt::fremsg(mp, c"Not a T_unitdata_ind *");
                    freemsg(mp);
                    continue;
                }
                // In the future, the source address in the
                // T_UNITDATA_IND may matter; for now only the payload does.
                let data = (*mp).b_cont;
                (*mp).b_cont = ptr::null_mut();
                sdt::fremsg(mp, c"freed a fmp block");
                freemsg(mp);
                // No decap offload exists: whatever the NIC checked was the
                // outer packet, not the inner frame.
                DB_CKSUMFLAGS_SET(data, 0);
                if let Some(f) = MsgBlk::wrap(data, DropProbe::Rx) {
                    return Some(f);
                }
            }
        }
    }
}

impl Drop for Unitdata {
    fn drop(&mut self) {
        for frame in self.by_ref() {
            drop(frame);
        }
    }
}
