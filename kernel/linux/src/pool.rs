//! Frame buffers, recycled.
//!
//! A VNIC's reader reads TCP super-frames (64 KiB) into a buffer each
//! and sends them to the underlay, done with the buffer a moment later
//! on the same thread. Allocating and freeing them made malloc give the
//! memory back to the kernel and fault it in again, zeroed, for the next
//! frame. So buffers come back here ([`recycle`]) and are reused
//! ([`big`]). The pool is per thread (no locking) and bounded in count,
//! so it holds at most a megabyte.
//!
//! (Received frames need no pool: they are windows of the receive
//! buffers, see [`crate::sock`].)

use std::cell::RefCell;

use overlay::buf::PktBuf;

/// Big buffers kept per thread: a VNIC read batch of super-frames.
const MAX_BIG: usize = 16;
/// The smallest buffer the big pool keeps (a super-frame's).
const BIG_CAPACITY: usize = 64 * 1024;

thread_local! {
    static BIG: RefCell<Vec<PktBuf>> = const { RefCell::new(Vec::new()) };
}

/// An empty frame with `headroom` and room for `cap` bytes, in a
/// recycled big buffer if there is one.
pub fn big(headroom: usize, cap: usize) -> PktBuf {
    match BIG.with(|p| p.borrow_mut().pop()) {
        Some(mut b) if b.capacity() >= headroom + cap => {
            b.clear(headroom);
            b
        }
        _ => PktBuf::with_headroom(headroom, cap),
    }
}

/// Takes back frames that have been delivered.
pub fn recycle(frames: impl Iterator<Item = PktBuf>) {
    BIG.with(|big| {
        let mut big = big.borrow_mut();
        for f in frames {
            if f.capacity() >= BIG_CAPACITY && big.len() < MAX_BIG {
                big.push(f);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_buffers_come_back_empty() {
        recycle([PktBuf::with_headroom(64, 70_000)].into_iter());
        let b = big(64, 60_000);
        assert!(b.capacity() >= 70_000 && b.bytes().is_empty() && b.headroom() == 64);
        // One too small for the request is not used.
        recycle([PktBuf::with_headroom(0, 65_536)].into_iter());
        assert!(big(64, 100_000).capacity() >= 100_064);
        // Small ones are not kept.
        recycle([PktBuf::new(&[0; 9000])].into_iter());
        assert!(big(64, 100).capacity() < 9000);
    }
}
