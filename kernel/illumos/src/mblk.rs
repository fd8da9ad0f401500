//! Frames as STREAMS messages: [`MsgBlk`] owns one `mblk_t` message (a
//! `b_cont` chain of blocks) and is the core's
//! [`Frame`](overlay::platform::Frame); [`MblkChain`] turns a `b_next`
//! chain (what `mc_tx` and the ksocket receive callback get) into owned
//! frames one at a time.
//!
//! Rules kept here, as in `overlay.c` and OPTE's `MsgBlk`:
//! - the bytes of a data block are written only when `DB_REF == 1` (a
//!   shared block, e.g. one `dupb`ed by a MAC client for snooping, may be
//!   read but not modified); moving our own `b_rptr` is always allowed;
//! - an owned message has `b_next == NULL`: it is one frame;
//! - dropping a `MsgBlk` frees the message (`freemsg`); handing it to the
//!   kernel (`mac_rx`, `ksocket_sendmblk`) goes through
//!   [`MsgBlk::into_raw`], which gives up ownership.
//!
//! A frame may carry a drop probe: a frame that came from the wire (or
//! from MAC) and is freed by the core rather than handed on fires
//! `overlay-fremsg` (receive) or `overlay-tx-drop` (transmit) with the
//! block's address, so every frame the driver throws away is visible to
//! DTrace even though the decision is made in the platform-free core.

use core::ffi::CStr;
use core::ptr::{self, NonNull};

use illumos_sys_hdrs::stream::{
    DB_LIM, DB_REF, DB_TYPE, M_DATA, MBLKHEAD, MBLKL, allocb, freeb, freemsg, mblk_t,
};
use overlay::Errno;

use crate::sdt;

/// Size of the block `prepend` allocates when the frame has no usable
/// headroom: room for the encapsulation header at its end and, in front
/// of it, for the UDP, IP and Ethernet headers the stack adds.
pub const HDR_BLOCK: usize = 128;

/// Which DTrace probe a frame fires if the core frees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropProbe {
    None,
    /// `overlay-fremsg`: a received frame.
    Rx,
    /// `overlay-tx-drop`: a frame MAC gave us to send.
    Tx,
}

/// One owned STREAMS message.
#[derive(Debug)]
pub struct MsgBlk {
    mp: NonNull<mblk_t>,
    probe: DropProbe,
}

// SAFETY: a MsgBlk is the only owner of its message (b_next is NULL and
// nobody else holds the mblk_t); STREAMS messages are passed between
// threads all the time. Shared data blocks are never written (DB_REF).
unsafe impl Send for MsgBlk {}
// SAFETY: `&MsgBlk` only reads the blocks.
unsafe impl Sync for MsgBlk {}

impl MsgBlk {
    /// Takes ownership of the message `mp`.
    ///
    /// # Safety
    /// `mp` is NULL or a valid message (a `b_cont` chain of valid blocks)
    /// that the caller owns and no longer touches; its `b_next` and
    /// `b_prev` are cleared.
    pub unsafe fn wrap(mp: *mut mblk_t, probe: DropProbe) -> Option<MsgBlk> {
        let mp = NonNull::new(mp)?;
        // SAFETY: the caller hands us a valid, owned mblk_t.
        unsafe {
            (*mp.as_ptr()).b_next = ptr::null_mut();
            (*mp.as_ptr()).b_prev = ptr::null_mut();
        }
        Some(MsgBlk { mp, probe })
    }

    /// A new single-block message holding a copy of `bytes` (`allocb`,
    /// which never sleeps).
    pub fn copy_from(bytes: &[u8]) -> Result<MsgBlk, Errno> {
        // SAFETY: allocb returns NULL or a fresh block of at least the
        // requested size, M_DATA, with b_rptr == b_wptr == db_base.
        unsafe {
            let mp = allocb(bytes.len(), 0);
            let Some(nn) = NonNull::new(mp) else {
                return Err(Errno::ENOMEM);
            };
            ptr::copy_nonoverlapping(bytes.as_ptr(), (*mp).b_wptr, bytes.len());
            (*mp).b_wptr = (*mp).b_wptr.add(bytes.len());
            Ok(MsgBlk {
                mp: nn,
                probe: DropProbe::None,
            })
        }
    }

    /// Gives the message back to the caller (for `mac_rx`,
    /// `ksocket_sendmblk`, `freemsg`).
    pub fn into_raw(self) -> *mut mblk_t {
        let mp = self.mp.as_ptr();
        core::mem::forget(self);
        mp
    }

    /// The blocks of the message, first to last.
    fn blocks(&self) -> impl Iterator<Item = *mut mblk_t> + '_ {
        let mut b = self.mp.as_ptr();
        core::iter::from_fn(move || {
            if b.is_null() {
                return None;
            }
            let cur = b;
            // SAFETY: every block of an owned message is valid.
            b = unsafe { (*cur).b_cont };
            Some(cur)
        })
    }

    /// The bytes of one block.
    ///
    /// # Safety
    /// `b` is a block of this message.
    unsafe fn block_bytes(&self, b: *const mblk_t) -> &[u8] {
        // SAFETY: b_rptr..b_wptr of a valid block are initialised bytes
        // inside its data block, alive while we own the message.
        unsafe {
            let n = MBLKL(b);
            if n == 0 {
                return &[];
            }
            core::slice::from_raw_parts((*b).b_rptr, n)
        }
    }
}

impl Drop for MsgBlk {
    fn drop(&mut self) {
        let mp = self.mp.as_ptr();
        match self.probe {
            DropProbe::None => {}
            DropProbe::Rx => sdt::fremsg(mp, c"freed by the driver core (decap failed, no matching vid or dev dropped)"),
            DropProbe::Tx => sdt::tx_drop(mp, c"freed by the driver core (stopped, no target, drop entry, queue full or encap failed)"),
        }
        // SAFETY: we own the whole message.
        unsafe { freemsg(mp) }
    }
}

impl overlay::platform::Frame for MsgBlk {
    #[inline]
    fn head(&self) -> &[u8] {
        // SAFETY: the head block is ours.
        unsafe { self.block_bytes(self.mp.as_ptr()) }
    }

    fn len(&self) -> usize {
        // SAFETY: every block of the message is valid.
        self.blocks().map(|b| unsafe { MBLKL(b) }).sum()
    }

    /// In place if the head block is ours alone (`DB_REF == 1`), is data
    /// and has the headroom; otherwise a new 128-byte block carrying the
    /// header at its end is linked in front (`allocb`, no sleeping).
    fn prepend(&mut self, hdr: &[u8]) -> Result<(), Errno> {
        let n = hdr.len();
        let mp = self.mp.as_ptr();
        // SAFETY: `mp` is our valid head block. We write into it only when
        // its data block is unshared and has `n` bytes before b_rptr; a new
        // block gets the header in its last `n` bytes (allocb gives at
        // least HDR_BLOCK.max(n)), and takes over the old chain.
        unsafe {
            if DB_REF(mp) == 1 && DB_TYPE(mp) == M_DATA && MBLKHEAD(mp) >= n {
                let r = (*mp).b_rptr.sub(n);
                ptr::copy_nonoverlapping(hdr.as_ptr(), r, n);
                (*mp).b_rptr = r;
                return Ok(());
            }
            let nb = allocb(HDR_BLOCK.max(n), 0);
            let Some(nn) = NonNull::new(nb) else {
                return Err(Errno::ENOMEM);
            };
            let lim = DB_LIM(nb);
            (*nb).b_wptr = lim;
            (*nb).b_rptr = lim.sub(n);
            ptr::copy_nonoverlapping(hdr.as_ptr(), (*nb).b_rptr, n);
            (*nb).b_cont = mp;
            self.mp = nn;
        }
        Ok(())
    }

    /// Advances `b_rptr` across blocks; blocks that become empty (and
    /// empty blocks in front) are freed, so the head block holds the
    /// first remaining byte whenever there is one.
    fn strip(&mut self, n: usize) -> Result<(), Errno> {
        if n > self.len() {
            return Err(Errno::EINVAL);
        }
        let mut n = n;
        loop {
            let mp = self.mp.as_ptr();
            // SAFETY: `mp` is our valid head block; n <= remaining length,
            // so either it ends inside this block or a b_cont exists. A
            // block we unlink and free is ours alone (its b_cont cleared
            // first, so freeb frees just it).
            unsafe {
                let l = MBLKL(mp);
                let next = (*mp).b_cont;
                if n < l || next.is_null() {
                    (*mp).b_rptr = (*mp).b_rptr.add(n);
                    return Ok(());
                }
                n -= l;
                (*mp).b_cont = ptr::null_mut();
                freeb(mp);
                self.mp = NonNull::new_unchecked(next);
            }
        }
    }

    fn copy_to(&self, dst: &mut [u8]) -> usize {
        let mut off = 0;
        for b in self.blocks() {
            if off == dst.len() {
                break;
            }
            // SAFETY: `b` is a block of this message.
            let src = unsafe { self.block_bytes(b) };
            let k = src.len().min(dst.len() - off);
            dst[off..off + k].copy_from_slice(&src[..k]);
            off += k;
        }
        off
    }
}

/// A `b_next` chain of messages, consumed front to back as owned frames.
/// Whatever is not taken is freed on drop (each with its drop probe).
#[derive(Debug)]
pub struct MblkChain {
    head: *mut mblk_t,
    probe: DropProbe,
}

impl MblkChain {
    /// # Safety
    /// `head` is NULL or a `b_next` chain of valid messages that the
    /// caller owns and hands over.
    pub unsafe fn new(head: *mut mblk_t, probe: DropProbe) -> MblkChain {
        MblkChain { head, probe }
    }

    /// Frees every remaining message, firing `probe` on each with
    /// `reason` first.
    pub fn drop_all(mut self, reason: &'static CStr) {
        while let Some(m) = self.next() {
            let mp = m.into_raw();
            match self.probe {
                DropProbe::Rx => sdt::fremsg(mp, reason),
                _ => sdt::tx_drop(mp, reason),
            }
            // SAFETY: we owned `mp` (taken from the chain just above).
            unsafe { freemsg(mp) }
        }
    }
}

impl Iterator for MblkChain {
    type Item = MsgBlk;

    fn next(&mut self) -> Option<MsgBlk> {
        let mp = self.head;
        if mp.is_null() {
            return None;
        }
        // SAFETY: a valid chain we own: unlink the head (wrap clears its
        // b_next) and keep the rest.
        unsafe {
            self.head = (*mp).b_next;
            MsgBlk::wrap(mp, self.probe)
        }
    }
}

impl Drop for MblkChain {
    fn drop(&mut self) {
        for m in self.by_ref() {
            drop(m);
        }
    }
}

// SAFETY: the chain owns its messages, like MsgBlk.
unsafe impl Send for MblkChain {}
