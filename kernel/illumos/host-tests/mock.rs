//! A user-space STREAMS allocator with the illumos layouts: enough of
//! `allocb(9F)`, `freeb(9F)` and `freemsg(9F)` for `MsgBlk`, plus `dupb`
//! -like sharing for tests. Blocks are tracked per thread so tests can run
//! in parallel and check for leaks.

// The mocks have C's shape: they take raw pointers whose validity is the
// caller's contract, as allocb(9F)/freeb(9F) do; only tests call them.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::cell::Cell;
use std::ptr;

use illumos_sys_hdrs::stream::{M_DATA, dblk_t, mblk_t};
use illumos_sys_hdrs::types::{size_t, uint_t};

thread_local! {
    /// mblk_t's allocated and not freed, on this thread.
    static LIVE_MBLKS: Cell<isize> = const { Cell::new(0) };
    /// dblk_t's (with their data) allocated and not freed.
    static LIVE_DBLKS: Cell<isize> = const { Cell::new(0) };
    /// Make the next allocb fail.
    static FAIL_NEXT: Cell<bool> = const { Cell::new(false) };
}

pub fn live_mblks() -> isize {
    LIVE_MBLKS.with(Cell::get)
}

pub fn live_dblks() -> isize {
    LIVE_DBLKS.with(Cell::get)
}

pub fn fail_next_allocb() {
    FAIL_NEXT.with(|f| f.set(true));
}

fn data_layout(size: usize) -> Layout {
    Layout::from_size_align(size.max(1), 8).unwrap()
}

/// `allocb`: at least `size` bytes (16 for 0), M_DATA, empty.
#[unsafe(no_mangle)]
pub extern "C" fn allocb(size: size_t, _pri: uint_t) -> *mut mblk_t {
    if FAIL_NEXT.with(|f| f.replace(false)) {
        return ptr::null_mut();
    }
    let size = if size == 0 { 16 } else { size };
    // SAFETY: non-zero layouts; every field of dblk_t/mblk_t is valid
    // zeroed (NULL pointers, zero integers, None callbacks).
    unsafe {
        let base = alloc_zeroed(data_layout(size));
        let db = alloc_zeroed(Layout::new::<dblk_t>()).cast::<dblk_t>();
        let mp = alloc_zeroed(Layout::new::<mblk_t>()).cast::<mblk_t>();
        (*db).db_base = base;
        (*db).db_lim = base.add(size);
        (*db).db_ref = 1;
        (*db).db_type = M_DATA;
        (*db).db_mblk = mp;
        (*mp).b_datap = db;
        (*mp).b_rptr = base;
        (*mp).b_wptr = base;
        LIVE_MBLKS.with(|c| c.set(c.get() + 1));
        LIVE_DBLKS.with(|c| c.set(c.get() + 1));
        mp
    }
}

/// A second mblk_t sharing `mp`'s data block (`dupb`).
///
/// # Safety
/// `mp` is a live mock block.
pub unsafe fn dupb_mock(mp: *mut mblk_t) -> *mut mblk_t {
    // SAFETY: as in allocb; `mp` is live.
    unsafe {
        let nb = alloc_zeroed(Layout::new::<mblk_t>()).cast::<mblk_t>();
        (*nb).b_datap = (*mp).b_datap;
        (*nb).b_rptr = (*mp).b_rptr;
        (*nb).b_wptr = (*mp).b_wptr;
        (*(*mp).b_datap).db_ref += 1;
        LIVE_MBLKS.with(|c| c.set(c.get() + 1));
        nb
    }
}

/// `freeb`: one block; the data block when its last reference goes.
#[unsafe(no_mangle)]
pub extern "C" fn freeb(mp: *mut mblk_t) {
    // SAFETY: `mp` is a live mock block (the code under test's contract).
    unsafe {
        let db = (*mp).b_datap;
        (*db).db_ref -= 1;
        if (*db).db_ref == 0 {
            let size = (*db).db_lim.offset_from((*db).db_base) as usize;
            dealloc((*db).db_base, data_layout(size));
            dealloc(db.cast(), Layout::new::<dblk_t>());
            LIVE_DBLKS.with(|c| c.set(c.get() - 1));
        }
        dealloc(mp.cast(), Layout::new::<mblk_t>());
        LIVE_MBLKS.with(|c| c.set(c.get() - 1));
    }
}

/// `freemsg`: every block of the `b_cont` chain.
#[unsafe(no_mangle)]
pub extern "C" fn freemsg(mut mp: *mut mblk_t) {
    while !mp.is_null() {
        // SAFETY: a live mock message.
        let next = unsafe { (*mp).b_cont };
        freeb(mp);
        mp = next;
    }
}

/// A one-block message holding `bytes` with `headroom` free bytes before
/// them.
pub fn block(headroom: usize, bytes: &[u8]) -> *mut mblk_t {
    let mp = allocb(headroom + bytes.len(), 0);
    // SAFETY: a fresh block of the requested size.
    unsafe {
        (*mp).b_rptr = (*mp).b_rptr.add(headroom);
        ptr::copy_nonoverlapping(bytes.as_ptr(), (*mp).b_rptr, bytes.len());
        (*mp).b_wptr = (*mp).b_rptr.add(bytes.len());
    }
    mp
}

/// Links blocks into one message (`b_cont`), returning the head.
pub fn message(blocks: &[*mut mblk_t]) -> *mut mblk_t {
    for w in blocks.windows(2) {
        // SAFETY: live mock blocks.
        unsafe { (*w[0]).b_cont = w[1] };
    }
    blocks[0]
}

/// Links messages into a chain (`b_next`), returning the head.
pub fn chain(msgs: &[*mut mblk_t]) -> *mut mblk_t {
    for w in msgs.windows(2) {
        // SAFETY: live mock messages.
        unsafe { (*w[0]).b_next = w[1] };
    }
    msgs[0]
}

/// The bytes of every block of a message, concatenated.
pub fn bytes_of(mut mp: *const mblk_t) -> Vec<u8> {
    let mut v = Vec::new();
    while !mp.is_null() {
        // SAFETY: a live mock message.
        unsafe {
            let n = (*mp).b_wptr.offset_from((*mp).b_rptr) as usize;
            v.extend_from_slice(std::slice::from_raw_parts((*mp).b_rptr, n));
            mp = (*mp).b_cont;
        }
    }
    v
}

/// Number of blocks in a message.
pub fn nblocks(mut mp: *const mblk_t) -> usize {
    let mut n = 0;
    while !mp.is_null() {
        n += 1;
        // SAFETY: a live mock message.
        mp = unsafe { (*mp).b_cont };
    }
    n
}
