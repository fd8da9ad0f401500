//! Kernel locks and condition variables: `sys/mutex.h`, `sys/rwlock.h`,
//! `sys/condvar.h`, see `mutex(9F)`, `rwlock(9F)`, `condvar(9F)`.
//!
//! The lock types are sized opaque storage: the kernel defines only their
//! size and alignment, and the contents are private to it. They must be
//! initialised with `mutex_init`/`rw_init`/`cv_init` before use and
//! destroyed before the memory is freed. illumos locks hold no pointers to
//! themselves, so a lock that has been initialised but is not held may be
//! moved (OPTE relies on this too); a held lock, or one with waiters, must
//! not move.

use crate::types::{c_char, c_int, c_void, clock_t, hrtime_t};

/// `typedef struct mutex { void *_opaque[1]; } kmutex_t;` (LP64)
#[repr(C)]
pub struct kmutex_t {
    _opaque: [*mut c_void; 1],
}

impl kmutex_t {
    /// All-zero storage, the state `kmem_zalloc` or a zeroed static gives.
    /// Still needs `mutex_init` before use.
    pub const fn zeroed() -> Self {
        Self {
            _opaque: [core::ptr::null_mut()],
        }
    }
}

/// `typedef struct _krwlock { void *_opaque[1]; } krwlock_t;`
#[repr(C)]
pub struct krwlock_t {
    _opaque: [*mut c_void; 1],
}

impl krwlock_t {
    /// All-zero storage; still needs `rw_init` before use.
    pub const fn zeroed() -> Self {
        Self {
            _opaque: [core::ptr::null_mut()],
        }
    }
}

/// `typedef struct _kcondvar { ushort_t _opaque; } kcondvar_t;`
#[repr(C)]
pub struct kcondvar_t {
    _opaque: u16,
}

impl kcondvar_t {
    /// All-zero storage; still needs `cv_init` before use.
    pub const fn zeroed() -> Self {
        Self { _opaque: 0 }
    }
}

// SAFETY: the storage is only ever read or written by the kernel's lock
// functions, which are MT-safe by design; the raw pointer inside is the
// kernel's owner word, not a Rust reference.
unsafe impl Send for kmutex_t {}
// SAFETY: as above.
unsafe impl Sync for kmutex_t {}
// SAFETY: as for `kmutex_t`.
unsafe impl Send for krwlock_t {}
// SAFETY: as for `kmutex_t`.
unsafe impl Sync for krwlock_t {}

const _: () = {
    use core::mem::{align_of, size_of};
    assert!(size_of::<kmutex_t>() == 8);
    assert!(align_of::<kmutex_t>() == 8);
    assert!(size_of::<krwlock_t>() == 8);
    assert!(align_of::<krwlock_t>() == 8);
    assert!(size_of::<kcondvar_t>() == 2);
    assert!(align_of::<kcondvar_t>() == 2);
};

/// `kmutex_type_t`
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct kmutex_type_t(pub c_int);

impl kmutex_type_t {
    pub const MUTEX_ADAPTIVE: Self = Self(0);
    pub const MUTEX_SPIN: Self = Self(1);
    /// What drivers pass; turned into adaptive or spin from the iblock
    /// cookie (NULL: adaptive).
    pub const MUTEX_DRIVER: Self = Self(4);
    pub const MUTEX_DEFAULT: Self = Self(6);
}

pub const MUTEX_ADAPTIVE: kmutex_type_t = kmutex_type_t::MUTEX_ADAPTIVE;
pub const MUTEX_SPIN: kmutex_type_t = kmutex_type_t::MUTEX_SPIN;
pub const MUTEX_DRIVER: kmutex_type_t = kmutex_type_t::MUTEX_DRIVER;
pub const MUTEX_DEFAULT: kmutex_type_t = kmutex_type_t::MUTEX_DEFAULT;

/// `krw_type_t`
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct krw_type_t(pub c_int);

impl krw_type_t {
    pub const RW_DRIVER: Self = Self(2);
    pub const RW_DEFAULT: Self = Self(4);
}

pub const RW_DRIVER: krw_type_t = krw_type_t::RW_DRIVER;
pub const RW_DEFAULT: krw_type_t = krw_type_t::RW_DEFAULT;

/// `krw_t`: how to take a reader/writer lock.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct krw_t(pub c_int);

impl krw_t {
    pub const RW_WRITER: Self = Self(0);
    pub const RW_READER: Self = Self(1);
}

pub const RW_WRITER: krw_t = krw_t::RW_WRITER;
pub const RW_READER: krw_t = krw_t::RW_READER;

/// `kcv_type_t`
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct kcv_type_t(pub c_int);

impl kcv_type_t {
    pub const CV_DEFAULT: Self = Self(0);
    pub const CV_DRIVER: Self = Self(1);
}

pub const CV_DEFAULT: kcv_type_t = kcv_type_t::CV_DEFAULT;
pub const CV_DRIVER: kcv_type_t = kcv_type_t::CV_DRIVER;

/// `time_res_t`: how precisely `cv_reltimedwait` must honour its timeout.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct time_res_t(pub c_int);

impl time_res_t {
    pub const TR_NANOSEC: Self = Self(0);
    pub const TR_MICROSEC: Self = Self(1);
    pub const TR_MILLISEC: Self = Self(2);
    pub const TR_SEC: Self = Self(3);
    pub const TR_CLOCK_TICK: Self = Self(4);
}

unsafe extern "C" {
    // sys/mutex.h
    pub fn mutex_init(mp: *mut kmutex_t, name: *const c_char, ty: kmutex_type_t, arg: *mut c_void);
    pub fn mutex_destroy(mp: *mut kmutex_t);
    pub fn mutex_enter(mp: *mut kmutex_t);
    /// Returns non-zero if the lock was taken.
    pub fn mutex_tryenter(mp: *mut kmutex_t) -> c_int;
    pub fn mutex_exit(mp: *mut kmutex_t);
    /// Non-zero if the current thread holds the lock (`MUTEX_HELD`).
    pub fn mutex_owned(mp: *const kmutex_t) -> c_int;

    // sys/rwlock.h
    pub fn rw_init(rwlp: *mut krwlock_t, name: *const c_char, ty: krw_type_t, arg: *mut c_void);
    pub fn rw_destroy(rwlp: *mut krwlock_t);
    pub fn rw_enter(rwlp: *mut krwlock_t, rw: krw_t);
    /// Returns non-zero if the lock was taken.
    pub fn rw_tryenter(rwlp: *mut krwlock_t, rw: krw_t) -> c_int;
    pub fn rw_exit(rwlp: *mut krwlock_t);
    pub fn rw_downgrade(rwlp: *mut krwlock_t);
    pub fn rw_tryupgrade(rwlp: *mut krwlock_t) -> c_int;
    pub fn rw_read_held(rwlp: *mut krwlock_t) -> c_int;
    pub fn rw_write_held(rwlp: *mut krwlock_t) -> c_int;

    // sys/condvar.h
    pub fn cv_init(cvp: *mut kcondvar_t, name: *const c_char, ty: kcv_type_t, arg: *mut c_void);
    pub fn cv_destroy(cvp: *mut kcondvar_t);
    pub fn cv_wait(cvp: *mut kcondvar_t, mp: *mut kmutex_t);
    /// Returns 0 if woken by a signal (interrupted), > 0 otherwise.
    pub fn cv_wait_sig(cvp: *mut kcondvar_t, mp: *mut kmutex_t) -> c_int;
    /// `timeout` is an absolute `ddi_get_lbolt()` time; returns -1 on
    /// timeout, > 0 if signalled.
    pub fn cv_timedwait(cvp: *mut kcondvar_t, mp: *mut kmutex_t, timeout: clock_t) -> clock_t;
    /// As `cv_timedwait`, but also returns 0 if interrupted by a signal.
    pub fn cv_timedwait_sig(cvp: *mut kcondvar_t, mp: *mut kmutex_t, timeout: clock_t) -> clock_t;
    /// `delta` is relative, in ticks; returns -1 on timeout.
    pub fn cv_reltimedwait(
        cvp: *mut kcondvar_t,
        mp: *mut kmutex_t,
        delta: clock_t,
        res: time_res_t,
    ) -> clock_t;
    /// As `cv_reltimedwait`, but also returns 0 if interrupted by a signal.
    pub fn cv_reltimedwait_sig(
        cvp: *mut kcondvar_t,
        mp: *mut kmutex_t,
        delta: clock_t,
        res: time_res_t,
    ) -> clock_t;
    /// `timeout` is an absolute `gethrtime()` time; returns -1 on timeout,
    /// 0 if interrupted, > 0 if signalled.
    pub fn cv_timedwait_sig_hrtime(
        cvp: *mut kcondvar_t,
        mp: *mut kmutex_t,
        timeout: hrtime_t,
    ) -> c_int;
    pub fn cv_signal(cvp: *mut kcondvar_t);
    pub fn cv_broadcast(cvp: *mut kcondvar_t);
}
