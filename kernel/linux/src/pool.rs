//! Frame buffers, recycled.
//!
//! Both datapath threads make a buffer per frame and are done with it a
//! moment later on the same thread: the underlay receive thread cuts
//! each GRO datagram into frames and writes them to the VNICs; a VNIC's
//! reader reads TCP super-frames (64 KiB) and sends them to the
//! underlay. Allocating and freeing those buffers cost a fifth of the
//! receive thread's time, and the 64 KiB ones made malloc give memory
//! back to the kernel and fault it in again, zeroed, for the next frame.
//! So buffers come back here ([`recycle`]) and are reused ([`frame_from`],
//! [`big`]). The pools are per thread (no locking) and bounded in count,
//! so they hold at most a few megabytes.

use std::cell::RefCell;

use overlay::buf::{DEFAULT_HEADROOM, PktBuf};

/// Small buffers kept per thread: more than a receive batch of segments.
const MAX_SMALL: usize = 512;
/// The largest buffer the small pool keeps.
const SMALL_CAPACITY: usize = 4096;
/// Big buffers kept per thread: a VNIC read batch of super-frames.
const MAX_BIG: usize = 16;
/// The smallest buffer the big pool keeps (a super-frame's).
const BIG_CAPACITY: usize = 64 * 1024;

thread_local! {
    static POOL: RefCell<Vec<PktBuf>> = const { RefCell::new(Vec::new()) };
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

/// A frame holding a copy of `bytes`, in a recycled buffer if there is one.
pub fn frame_from(bytes: &[u8]) -> PktBuf {
    match POOL.with(|p| p.borrow_mut().pop()) {
        Some(mut b) => {
            b.reset_from(DEFAULT_HEADROOM, bytes);
            b
        }
        None => PktBuf::new(bytes),
    }
}

/// Takes back frames that have been delivered.
pub fn recycle(frames: impl Iterator<Item = PktBuf>) {
    POOL.with(|small| {
        BIG.with(|big| {
            let (mut small, mut big) = (small.borrow_mut(), big.borrow_mut());
            for f in frames {
                let cap = f.capacity();
                if cap <= SMALL_CAPACITY && small.len() < MAX_SMALL {
                    small.push(f);
                } else if cap >= BIG_CAPACITY && big.len() < MAX_BIG {
                    big.push(f);
                }
            }
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_with_new_contents() {
        let a = frame_from(&[1, 2, 3]);
        let cap = a.capacity();
        recycle([a].into_iter());
        let b = frame_from(&[9; 10]);
        assert_eq!(b.bytes(), &[9; 10]);
        assert_eq!(b.headroom(), DEFAULT_HEADROOM);
        assert!(b.tso.is_none());
        assert!(b.capacity() >= cap);
        // Mid-sized buffers are not kept; big ones go to the big pool.
        recycle([PktBuf::new(&[0; 9000])].into_iter());
        assert!(frame_from(&[1]).capacity() < 9000);
        recycle([PktBuf::with_headroom(64, 70_000)].into_iter());
        let b = big(64, 60_000);
        assert!(b.capacity() >= 70_000 && b.bytes().is_empty() && b.headroom() == 64);
        // One too small for the request is not used.
        recycle([PktBuf::with_headroom(0, 65_536)].into_iter());
        assert!(big(64, 100_000).capacity() >= 100_064);
    }
}
