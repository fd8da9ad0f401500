use std::sync::Mutex;
use std::sync::atomic::Ordering::SeqCst;

use overlay::Errno;
use overlay::platform::Frame;

use crate::mblk::{DropProbe, HDR_BLOCK, MblkChain, MsgBlk};
use crate::mock::*;
use crate::sdt;

/// Tests that look at the (process-wide) probe counters run one at a time.
static PROBES: Mutex<()> = Mutex::new(());

fn frame(mp: *mut illumos_sys_hdrs::stream::mblk_t) -> MsgBlk {
    // SAFETY: a fresh mock message handed over.
    unsafe { MsgBlk::wrap(mp, DropProbe::None) }.unwrap()
}

fn no_leaks() {
    assert_eq!(live_mblks(), 0, "mblk_t leaked or double-freed");
    assert_eq!(live_dblks(), 0, "dblk_t leaked or double-freed");
}

#[test]
fn copy_from_reads_back() {
    {
        let f = MsgBlk::copy_from(b"hello").unwrap();
        assert_eq!(f.head(), b"hello");
        assert_eq!(f.len(), 5);
        let mut b = [0u8; 3];
        assert_eq!(f.copy_to(&mut b), 3);
        assert_eq!(&b, b"hel");
        let mut big = [0u8; 9];
        assert_eq!(f.copy_to(&mut big), 5);
        assert_eq!(&big[..5], b"hello");
    }
    no_leaks();
}

#[test]
fn copy_from_fails_without_memory() {
    fail_next_allocb();
    assert_eq!(MsgBlk::copy_from(b"x").unwrap_err(), Errno::ENOMEM);
    no_leaks();
}

#[test]
fn wrap_null_is_none() {
    // SAFETY: NULL is allowed.
    assert!(unsafe { MsgBlk::wrap(std::ptr::null_mut(), DropProbe::None) }.is_none());
}

#[test]
fn multi_block_read() {
    {
        let f = frame(message(&[
            block(0, b"ab"),
            block(0, b""),
            block(3, b"cdef"),
        ]));
        assert_eq!(f.head(), b"ab");
        assert_eq!(f.len(), 6);
        let mut b = [0u8; 10];
        assert_eq!(f.copy_to(&mut b), 6);
        assert_eq!(&b[..6], b"abcdef");
        let mut b = [0u8; 4];
        assert_eq!(f.copy_to(&mut b), 4);
        assert_eq!(&b, b"abcd");
        assert_eq!(f.copy_to(&mut []), 0);
    }
    no_leaks();
}

#[test]
fn prepend_in_place_with_headroom() {
    let mp = block(16, b"payload");
    let mut f = frame(mp);
    f.prepend(b"HDR").unwrap();
    assert_eq!(f.head(), b"HDRpayload");
    let back = f.into_raw();
    assert_eq!(back, mp, "no new block when the head has headroom");
    assert_eq!(nblocks(back), 1);
    assert_eq!(bytes_of(back), b"HDRpayload");
    freemsg(back);
    no_leaks();
}

#[test]
fn prepend_exactly_the_headroom() {
    let mp = block(8, b"x");
    let mut f = frame(mp);
    f.prepend(&[7u8; 8]).unwrap();
    let back = f.into_raw();
    assert_eq!(back, mp);
    assert_eq!(bytes_of(back), [7, 7, 7, 7, 7, 7, 7, 7, b'x']);
    freemsg(back);
    no_leaks();
}

#[test]
fn prepend_without_headroom_links_a_header_block() {
    let mp = block(2, b"payload");
    let mut f = frame(mp);
    f.prepend(b"VXLANHDR").unwrap();
    assert_eq!(f.head(), b"VXLANHDR");
    assert_eq!(f.len(), 15);
    let back = f.into_raw();
    assert_ne!(back, mp);
    assert_eq!(nblocks(back), 2);
    assert_eq!(bytes_of(back), b"VXLANHDRpayload");
    // The header sits at the end of a HDR_BLOCK block: room in front for
    // the UDP/IP/Ethernet headers the stack adds.
    // SAFETY: live mock blocks.
    unsafe {
        let head = (*back).b_rptr.offset_from((*(*back).b_datap).db_base) as usize;
        assert_eq!(head, HDR_BLOCK - 8);
        assert_eq!((*back).b_wptr, (*(*back).b_datap).db_lim);
        assert_eq!((*back).b_cont, mp);
    }
    freemsg(back);
    no_leaks();
}

#[test]
fn prepend_never_writes_a_shared_block() {
    let mp = block(16, b"p");
    // SAFETY: a live mock block.
    let dup = unsafe { dupb_mock(mp) };
    let mut f = frame(mp);
    f.prepend(b"H").unwrap();
    let back = f.into_raw();
    assert_eq!(nblocks(back), 2, "a shared head gets its own header block");
    assert_eq!(bytes_of(back), b"Hp");
    assert_eq!(bytes_of(dup), b"p");
    // SAFETY: the shared data block is untouched before its b_rptr.
    unsafe { assert_eq!(*(*dup).b_rptr.sub(1), 0) };
    freemsg(back);
    freemsg(dup);
    no_leaks();
}

#[test]
fn prepend_larger_than_a_header_block() {
    let mut f = frame(block(0, b"z"));
    let big = vec![1u8; HDR_BLOCK + 10];
    f.prepend(&big).unwrap();
    assert_eq!(f.len(), HDR_BLOCK + 11);
    assert_eq!(f.head(), &big[..]);
    drop(f);
    no_leaks();
}

#[test]
fn prepend_fails_cleanly_without_memory() {
    let mp = block(0, b"abc");
    let mut f = frame(mp);
    fail_next_allocb();
    assert_eq!(f.prepend(b"HDR").unwrap_err(), Errno::ENOMEM);
    assert_eq!(f.head(), b"abc");
    let back = f.into_raw();
    assert_eq!(back, mp);
    freemsg(back);
    no_leaks();
}

#[test]
fn strip_within_and_across_blocks() {
    {
        let mut f = frame(message(&[
            block(0, b"ab"),
            block(0, b"cd"),
            block(0, b"ef"),
        ]));
        f.strip(1).unwrap();
        assert_eq!(f.head(), b"b");
        assert_eq!(f.len(), 5);
        // Exactly the rest of the head block: it is freed.
        f.strip(1).unwrap();
        assert_eq!(f.head(), b"cd");
        assert_eq!(f.len(), 4);
        f.strip(3).unwrap();
        assert_eq!(f.head(), b"f");
        assert_eq!(f.len(), 1);
        f.strip(0).unwrap();
        assert_eq!(f.head(), b"f");
        f.strip(1).unwrap();
        assert_eq!(f.len(), 0);
        assert!(f.is_empty());
        assert_eq!(f.strip(1).unwrap_err(), Errno::EINVAL);
        let back = f.into_raw();
        assert_eq!(nblocks(back), 1, "the last block stays, empty");
        freemsg(back);
    }
    no_leaks();
}

#[test]
fn strip_frees_empty_blocks_in_front() {
    {
        let mut f = frame(message(&[
            block(0, b"ab"),
            block(0, b""),
            block(0, b""),
            block(0, b"cd"),
        ]));
        f.strip(2).unwrap();
        assert_eq!(f.head(), b"cd");
        let back = f.into_raw();
        assert_eq!(nblocks(back), 1);
        freemsg(back);
    }
    no_leaks();
}

#[test]
fn strip_too_much_changes_nothing() {
    {
        let mut f = frame(message(&[block(0, b"ab"), block(0, b"c")]));
        assert_eq!(f.strip(4).unwrap_err(), Errno::EINVAL);
        assert_eq!(f.head(), b"ab");
        assert_eq!(f.len(), 3);
    }
    no_leaks();
}

#[test]
fn strip_then_prepend_reuses_the_space() {
    // The receive path strips the VXLAN header; a resend would prepend
    // one again into the same bytes.
    let mp = block(0, b"HDR!inner");
    let mut f = frame(mp);
    f.strip(4).unwrap();
    assert_eq!(f.head(), b"inner");
    f.prepend(b"NEW!").unwrap();
    let back = f.into_raw();
    assert_eq!(back, mp);
    assert_eq!(bytes_of(back), b"NEW!inner");
    freemsg(back);
    no_leaks();
}

#[test]
fn drop_probes_and_chains() {
    let _g = PROBES.lock().unwrap();
    let fremsg = || sdt::FREMSG.load(SeqCst);
    let tx_drop = || sdt::TX_DROP.load(SeqCst);

    // Frames freed by the core fire their probe; frames handed on do not.
    let (r0, t0) = (fremsg(), tx_drop());
    // SAFETY: fresh mock messages.
    unsafe {
        drop(MsgBlk::wrap(block(0, b"rx"), DropProbe::Rx).unwrap());
        drop(MsgBlk::wrap(block(0, b"tx"), DropProbe::Tx).unwrap());
        drop(MsgBlk::wrap(block(0, b"none"), DropProbe::None).unwrap());
        freemsg(
            MsgBlk::wrap(block(0, b"sent"), DropProbe::Tx)
                .unwrap()
                .into_raw(),
        );
    }
    assert_eq!((fremsg() - r0, tx_drop() - t0), (1, 1));

    // A b_next chain: frames come out one by one, unlinked; the rest is
    // freed (with the probe) when the chain drops.
    let (r0, t0) = (fremsg(), tx_drop());
    let c = chain(&[
        block(0, b"one"),
        message(&[block(0, b"tw"), block(0, b"o")]),
        block(0, b"three"),
    ]);
    // SAFETY: a fresh mock chain handed over.
    let mut frames = unsafe { MblkChain::new(c, DropProbe::Tx) };
    let first = frames.next().unwrap();
    assert_eq!(first.head(), b"one");
    let raw = first.into_raw();
    // SAFETY: a live mock block.
    unsafe {
        assert!((*raw).b_next.is_null());
        assert!((*raw).b_prev.is_null());
    }
    freemsg(raw);
    let second = frames.next().unwrap();
    assert_eq!(second.len(), 3);
    drop(second);
    drop(frames);
    assert_eq!((fremsg() - r0, tx_drop() - t0), (0, 2));

    // drop_all frees everything with the given probe.
    let (r0, t0) = (fremsg(), tx_drop());
    let c = chain(&[block(0, b"a"), block(0, b"b")]);
    // SAFETY: a fresh mock chain.
    unsafe { MblkChain::new(c, DropProbe::Rx) }.drop_all(c"mux closing");
    // SAFETY: NULL is an empty chain.
    unsafe { MblkChain::new(std::ptr::null_mut(), DropProbe::Tx) }.drop_all(c"nothing");
    assert_eq!((fremsg() - r0, tx_drop() - t0), (2, 0));

    no_leaks();
}
