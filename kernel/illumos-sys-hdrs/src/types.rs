//! Scalar types: `sys/types.h`, `sys/int_types.h`, `sys/isa_defs.h` (LP64),
//! `sys/dls_mgmt.h` (`datalink_id_t`) and `sys/socket.h` (`socklen_t`).

pub use core::ffi::{
    c_char, c_int, c_long, c_longlong, c_short, c_uchar, c_uint, c_ulong, c_ulonglong, c_ushort,
    c_void,
};

pub type uchar_t = c_uchar;
pub type ushort_t = c_ushort;
pub type uint_t = c_uint;
pub type ulong_t = c_ulong;
pub type longlong_t = c_longlong;
pub type u_longlong_t = c_ulonglong;

pub type size_t = usize;
pub type ssize_t = isize;
pub type intptr_t = isize;
pub type uintptr_t = usize;

/// `typedef char *caddr_t;`
pub type caddr_t = *mut c_char;
/// `typedef long off_t;` (LP64)
pub type off_t = c_long;
/// `typedef longlong_t offset_t;`
pub type offset_t = longlong_t;
/// `typedef long daddr_t;`
pub type daddr_t = c_long;

/// `typedef long clock_t;` (ticks, see `ddi_get_lbolt(9F)`)
pub type clock_t = c_long;
/// `typedef longlong_t hrtime_t;` (nanoseconds, see `gethrtime(9F)`)
pub type hrtime_t = longlong_t;

/// `typedef int pid_t;`
pub type pid_t = c_int;
/// `typedef int id_t;`
pub type id_t = c_int;
/// `typedef id_t zoneid_t;`
pub type zoneid_t = id_t;
/// `typedef short pri_t;`
pub type pri_t = c_short;
/// `typedef int processorid_t;`
pub type processorid_t = c_int;

/// `typedef uint_t major_t;`
pub type major_t = uint_t;
/// `typedef uint_t minor_t;`
pub type minor_t = uint_t;
/// `typedef ulong_t dev_t;` (LP64: 32 bits of major, 32 bits of minor)
pub type dev_t = ulong_t;

/// `typedef uint32_t datalink_id_t;` (`sys/dls_mgmt.h`)
pub type datalink_id_t = u32;

/// `typedef int32_t t_scalar_t;` (LP64)
pub type t_scalar_t = i32;
/// `typedef uint32_t t_uscalar_t;` (LP64)
pub type t_uscalar_t = u32;

/// `typedef uint32_t socklen_t;`
pub type socklen_t = u32;

/// `typedef enum { B_FALSE, B_TRUE } boolean_t;`
///
/// Not Rust's `bool`: it is an `int` (4 bytes), and the kernel may hand us
/// any non-zero value as true.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct boolean_t(pub c_int);

impl boolean_t {
    pub const B_FALSE: Self = Self(0);
    pub const B_TRUE: Self = Self(1);

    /// C truthiness: any non-zero value is true.
    #[inline]
    pub const fn is_true(self) -> bool {
        self.0 != 0
    }
}

impl From<bool> for boolean_t {
    #[inline]
    fn from(b: bool) -> Self {
        if b { Self::B_TRUE } else { Self::B_FALSE }
    }
}

pub const B_FALSE: boolean_t = boolean_t::B_FALSE;
pub const B_TRUE: boolean_t = boolean_t::B_TRUE;

const _: () = {
    use core::mem::{align_of, size_of};
    assert!(size_of::<boolean_t>() == 4);
    assert!(size_of::<dev_t>() == 8);
    assert!(size_of::<clock_t>() == 8);
    assert!(size_of::<hrtime_t>() == 8);
    assert!(size_of::<off_t>() == 8);
    assert!(size_of::<id_t>() == 4);
    assert!(size_of::<minor_t>() == 4);
    assert!(size_of::<t_scalar_t>() == 4);
    assert!(align_of::<caddr_t>() == 8);
};
