//! The core's locks and wakeups over illumos `kmutex_t`, `krwlock_t` and
//! `kcondvar_t` (mutex(9F), rwlock(9F), condvar(9F)).
//!
//! ## The zero-initialised assumption
//!
//! `lock_api` builds every lock from the constant [`RawMutex::INIT`]
//! (`const`, so no `mutex_init` call can run), including the module's
//! statics. This relies on an illumos property: **all-zero storage is a
//! valid, unlocked adaptive mutex** (`mutex_init(9F)` with
//! `MUTEX_DRIVER`/`MUTEX_DEFAULT` and a NULL interrupt cookie, the only
//! kind these types ever are, stores exactly zero: no owner, no waiters
//! bit, adaptive type), **an unheld reader/writer lock** (`rw_init`
//! zeroes `rw_wwwh`) and **a condition variable without waiters**
//! (`cv_init` zeroes `cv_waiters`). Zeroed statics and `kmem_zalloc`ed
//! locks are used that way throughout illumos. None of them holds a
//! pointer to itself, so an unheld lock may be moved, which `lock_api`
//! does when it moves a `Mutex` by value (it cannot move a held one: a
//! guard borrows it). These locks must never be used from high-level
//! interrupt context (they are adaptive, not spin, locks).
//!
//! `Drop` calls `mutex_destroy`/`rw_destroy` when the lock is free (they
//! only poison the word in illumos, but a DEBUG kernel checks them); a
//! lock dropped while held (a forgotten guard) is left alone rather than
//! handed to a destroy routine that would panic.
//!
//! Guards are `GuardNoSend`: an adaptive mutex and a write-held rwlock
//! record their owner thread, and must be released by it.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

use illumos_sys_hdrs::sync::{
    CV_DRIVER, MUTEX_DRIVER, RW_READER, RW_WRITER, cv_broadcast, cv_destroy, cv_init, cv_signal,
    cv_timedwait, kcondvar_t, kmutex_t, krwlock_t, mutex_destroy, mutex_enter, mutex_exit,
    mutex_init, mutex_owned, mutex_tryenter, rw_destroy, rw_enter, rw_exit, rw_tryenter,
};
use illumos_sys_hdrs::time::{ddi_get_lbolt, drv_usectohz};
use illumos_sys_hdrs::types::clock_t;
use lock_api::GuardNoSend;

/// `kmutex_t` as a `lock_api::RawMutex`.
pub struct KRawMutex(UnsafeCell<kmutex_t>);

// SAFETY: the kmutex_t is only ever touched through the kernel's mutex
// routines, which are MT-safe; the cell exists because they take `*mut`.
unsafe impl Send for KRawMutex {}
// SAFETY: as above.
unsafe impl Sync for KRawMutex {}

impl KRawMutex {
    fn ptr(&self) -> *mut kmutex_t {
        self.0.get()
    }
}

// SAFETY: mutex_enter/mutex_tryenter/mutex_exit provide mutual exclusion
// with acquire/release semantics; zeroed storage is an unlocked adaptive
// mutex (module doc); a moved or dropped unheld kmutex_t is fine, and
// Drop leaves a held one alone.
unsafe impl lock_api::RawMutex for KRawMutex {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: KRawMutex = KRawMutex(UnsafeCell::new(kmutex_t::zeroed()));
    type Guard = GuardNoSend;

    #[inline]
    fn lock(&self) -> GuardNoSend {
        // SAFETY: a valid (zeroed or initialised) adaptive mutex.
        unsafe { mutex_enter(self.ptr()) };
        GuardNoSend::new()
    }

    #[inline]
    fn try_lock(&self) -> Option<GuardNoSend> {
        // SAFETY: as for lock.
        (unsafe { mutex_tryenter(self.ptr()) } != 0).then(GuardNoSend::new)
    }

    #[inline]
    unsafe fn unlock(&self, _guard: GuardNoSend) {
        // SAFETY: the guard proves this thread holds the mutex.
        unsafe { mutex_exit(self.ptr()) }
    }

    fn is_locked(&self) -> bool {
        match self.try_lock() {
            Some(g) => {
                // SAFETY: we just took it.
                unsafe { self.unlock(g) };
                false
            }
            None => true,
        }
    }
}

impl Drop for KRawMutex {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: nobody else can reach the lock. Destroy it
        // if it is free, or held by this thread (mutex_destroy allows the
        // owner); otherwise leave the storage be.
        unsafe {
            if mutex_tryenter(self.ptr()) != 0 {
                mutex_exit(self.ptr());
                mutex_destroy(self.ptr());
            } else if mutex_owned(self.ptr()) != 0 {
                mutex_destroy(self.ptr());
            }
        }
    }
}

/// `krwlock_t` as a `lock_api::RawRwLock`. illumos rwlocks prefer
/// writers: a reader that re-enters while a writer waits deadlocks, so
/// read locks must not nest (the core never nests them).
pub struct KRawRwLock(UnsafeCell<krwlock_t>);

// SAFETY: only touched through the kernel's MT-safe rwlock routines.
unsafe impl Send for KRawRwLock {}
// SAFETY: as above.
unsafe impl Sync for KRawRwLock {}

impl KRawRwLock {
    fn ptr(&self) -> *mut krwlock_t {
        self.0.get()
    }
}

// SAFETY: rw_enter/rw_tryenter/rw_exit give shared or exclusive
// acquisition with acquire/release semantics; zeroed storage is an unheld
// rwlock (module doc).
unsafe impl lock_api::RawRwLock for KRawRwLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: KRawRwLock = KRawRwLock(UnsafeCell::new(krwlock_t::zeroed()));
    type SharedGuard = GuardNoSend;
    type ExclusiveGuard = GuardNoSend;

    #[inline]
    fn lock_shared(&self) -> GuardNoSend {
        // SAFETY: a valid rwlock.
        unsafe { rw_enter(self.ptr(), RW_READER) };
        GuardNoSend::new()
    }

    #[inline]
    fn try_lock_shared(&self) -> Option<GuardNoSend> {
        // SAFETY: a valid rwlock.
        (unsafe { rw_tryenter(self.ptr(), RW_READER) } != 0).then(GuardNoSend::new)
    }

    #[inline]
    unsafe fn unlock_shared(&self, _guard: GuardNoSend) {
        // SAFETY: the guard proves a read hold by this thread.
        unsafe { rw_exit(self.ptr()) }
    }

    #[inline]
    fn lock_exclusive(&self) -> GuardNoSend {
        // SAFETY: a valid rwlock.
        unsafe { rw_enter(self.ptr(), RW_WRITER) };
        GuardNoSend::new()
    }

    #[inline]
    fn try_lock_exclusive(&self) -> Option<GuardNoSend> {
        // SAFETY: a valid rwlock.
        (unsafe { rw_tryenter(self.ptr(), RW_WRITER) } != 0).then(GuardNoSend::new)
    }

    #[inline]
    unsafe fn unlock_exclusive(&self, _guard: GuardNoSend) {
        // SAFETY: the guard proves the write hold.
        unsafe { rw_exit(self.ptr()) }
    }

    fn is_locked(&self) -> bool {
        match self.try_lock_exclusive() {
            Some(g) => {
                // SAFETY: we just took it.
                unsafe { self.unlock_exclusive(g) };
                false
            }
            None => true,
        }
    }

    /// A snapshot; a waiting writer also makes a read attempt fail, so
    /// this may say true while only a writer waits.
    fn is_locked_exclusive(&self) -> bool {
        match self.try_lock_shared() {
            Some(g) => {
                // SAFETY: we just took it.
                unsafe { self.unlock_shared(g) };
                false
            }
            None => true,
        }
    }
}

impl Drop for KRawRwLock {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: nobody else can reach the lock. Destroy it
        // only if it is free (rw_destroy panics on an active lock).
        unsafe {
            if rw_tryenter(self.ptr(), RW_WRITER) != 0 {
                rw_exit(self.ptr());
                rw_destroy(self.ptr());
            }
        }
    }
}

/// The core's [`Event`](overlay::platform::Event): a generation number
/// advanced under a kmutex, and a kcondvar to sleep on it with an lbolt
/// deadline (`cv_timedwait`, as `overlay_target_lookup_request` sleeps
/// for one second of `drv_usectohz`).
pub struct KEvent {
    lock: UnsafeCell<kmutex_t>,
    cv: UnsafeCell<kcondvar_t>,
    generation: AtomicU64,
}

// SAFETY: the kmutex and kcondvar are only touched through the kernel's
// MT-safe routines; the generation is atomic.
unsafe impl Send for KEvent {}
// SAFETY: as above.
unsafe impl Sync for KEvent {}

/// Longest single sleep, in microseconds (`clock_t` ticks stay small);
/// a longer wait returns early as a timeout and the core loops.
const MAX_WAIT_US: u64 = i32::MAX as u64;

impl overlay::platform::Event for KEvent {
    fn new() -> KEvent {
        let e = KEvent {
            lock: UnsafeCell::new(kmutex_t::zeroed()),
            cv: UnsafeCell::new(kcondvar_t::zeroed()),
            generation: AtomicU64::new(0),
        };
        // SAFETY: fresh storage; an adaptive mutex and a condvar hold no
        // pointer to themselves, so returning (moving) them is fine.
        unsafe {
            mutex_init(
                e.lock.get(),
                core::ptr::null(),
                MUTEX_DRIVER,
                core::ptr::null_mut(),
            );
            cv_init(
                e.cv.get(),
                core::ptr::null(),
                CV_DRIVER,
                core::ptr::null_mut(),
            );
        }
        e
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn notify_all(&self) {
        // SAFETY: initialised in new(); the generation moves under the
        // mutex, so a waiter that compared it under the mutex cannot miss
        // the broadcast.
        unsafe {
            mutex_enter(self.lock.get());
            self.generation.fetch_add(1, Ordering::Release);
            cv_broadcast(self.cv.get());
            mutex_exit(self.lock.get());
        }
    }

    fn notify_one(&self) {
        // SAFETY: as notify_all, with cv_signal (wakes one sleeper).
        unsafe {
            mutex_enter(self.lock.get());
            self.generation.fetch_add(1, Ordering::Release);
            cv_signal(self.cv.get());
            mutex_exit(self.lock.get());
        }
    }

    fn wait_changed(&self, seen: u64, timeout_ns: u64) -> bool {
        let us = (timeout_ns / 1000).clamp(1, MAX_WAIT_US);
        // SAFETY: plain arithmetic on the tick clock.
        let deadline = unsafe { ddi_get_lbolt() + drv_usectohz(us as clock_t) };
        let mut changed;
        // SAFETY: initialised in new(); cv_timedwait is called with the
        // mutex held, as it requires, and returns with it held.
        unsafe {
            mutex_enter(self.lock.get());
            loop {
                changed = self.generation.load(Ordering::Acquire) != seen;
                if changed {
                    break;
                }
                if cv_timedwait(self.cv.get(), self.lock.get(), deadline) == -1 {
                    changed = self.generation.load(Ordering::Acquire) != seen;
                    break;
                }
            }
            mutex_exit(self.lock.get());
        }
        changed
    }
}

impl Drop for KEvent {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no waiter can remain (a waiter borrows the
        // event), and the mutex is not held.
        unsafe {
            cv_destroy(self.cv.get());
            mutex_destroy(self.lock.get());
        }
    }
}
