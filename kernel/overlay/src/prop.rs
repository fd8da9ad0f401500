//! The property helpers plugins call (`overlay_prop.c`).
//!
//! A plugin's `ovpo_propinfo` op describes one of its properties by
//! calling the `overlay_prop_set_*` C functions exported here on the
//! handle the driver passes, which is a [`PropInfo`] (defined on the ABI
//! side, [`crate::abi::prop`], so userland can use it without the engine).

use core::ffi::{CStr, c_char, c_int, c_uint, c_void};

use crate::abi::common::OVERLAY_PROP_SIZEMAX;
pub use crate::abi::prop::{MAC_PROPVAL_RANGE_SIZE, PropInfo};
use crate::errno::Errno;
use crate::plugin::abi::overlay_prop_handle_t;

// The C helpers a plugin's `ovpo_propinfo` op calls. The handle is the
// `PropInfo` the driver passed in.

/// # Safety
/// `hdl` must be the handle passed to `ovpo_propinfo`, `name` a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn overlay_prop_set_name(
    hdl: *mut overlay_prop_handle_t,
    name: *const c_char,
) {
    if hdl.is_null() || name.is_null() {
        return;
    }
    // SAFETY: the caller passes the live handle and a NUL-terminated string.
    let (info, name) = unsafe { (&mut *hdl.cast::<PropInfo>(), CStr::from_ptr(name)) };
    info.set_name(name.to_bytes());
}

/// # Safety
/// `hdl` must be the handle passed to `ovpo_propinfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn overlay_prop_set_prot(hdl: *mut overlay_prop_handle_t, prot: c_uint) {
    // SAFETY: the caller passes the live handle (or NULL, ignored).
    if let Some(info) = unsafe { hdl.cast::<PropInfo>().as_mut() } {
        info.prot = prot;
    }
}

/// # Safety
/// `hdl` must be the handle passed to `ovpo_propinfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn overlay_prop_set_type(hdl: *mut overlay_prop_handle_t, ty: c_uint) {
    // SAFETY: the caller passes the live handle (or NULL, ignored).
    if let Some(info) = unsafe { hdl.cast::<PropInfo>().as_mut() } {
        info.ptype = ty;
    }
}

/// Returns `E2BIG` if `len` exceeds 256 and `EOVERFLOW` if it is negative.
///
/// # Safety
/// `hdl` must be the handle passed to `ovpo_propinfo`; `def` must point to
/// `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn overlay_prop_set_default(
    hdl: *mut overlay_prop_handle_t,
    def: *const c_void,
    len: isize,
) -> c_int {
    if len < 0 {
        return Errno::EOVERFLOW.0;
    }
    if len as usize > OVERLAY_PROP_SIZEMAX {
        return Errno::E2BIG.0;
    }
    // SAFETY: the caller passes the live handle (or NULL, rejected).
    let Some(info) = (unsafe { hdl.cast::<PropInfo>().as_mut() }) else {
        return Errno::EINVAL.0;
    };
    if len == 0 || def.is_null() {
        info.set_nodefault();
        return 0;
    }
    // SAFETY: `def` points to `len` readable bytes, len <= 256.
    let value = unsafe { core::slice::from_raw_parts(def.cast::<u8>(), len as usize) };
    Errno::code(info.set_default(value))
}

/// # Safety
/// `hdl` must be the handle passed to `ovpo_propinfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn overlay_prop_set_nodefault(hdl: *mut overlay_prop_handle_t) {
    // SAFETY: the caller passes the live handle (or NULL, ignored).
    if let Some(info) = unsafe { hdl.cast::<PropInfo>().as_mut() } {
        info.set_nodefault();
    }
}

/// # Safety
/// `hdl` must be the handle passed to `ovpo_propinfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn overlay_prop_set_range_uint32(
    hdl: *mut overlay_prop_handle_t,
    min: u32,
    max: u32,
) {
    // SAFETY: the caller passes the live handle (or NULL, ignored).
    if let Some(info) = unsafe { hdl.cast::<PropInfo>().as_mut() } {
        info.add_range_uint32(min, max);
    }
}

/// # Safety
/// `hdl` must be the handle passed to `ovpo_propinfo`, `s` a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn overlay_prop_set_range_str(
    hdl: *mut overlay_prop_handle_t,
    s: *const c_char,
) {
    if s.is_null() {
        return;
    }
    // SAFETY: the caller passes the live handle and a NUL-terminated string.
    if let Some(info) = unsafe { hdl.cast::<PropInfo>().as_mut() } {
        // SAFETY: as above.
        info.add_range_str(unsafe { CStr::from_ptr(s) }.to_bytes());
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn default_limits() {
        let mut p = PropInfo::default();
        assert_eq!(p.set_default(&[0; 257]), Err(Errno::E2BIG));
        let hdl = (&mut p as *mut PropInfo).cast();
        // SAFETY: `hdl` is a live PropInfo; the buffer is valid for 2 bytes.
        unsafe {
            assert_eq!(
                overlay_prop_set_default(hdl, [1u8, 2].as_ptr().cast(), -1),
                Errno::EOVERFLOW.0
            );
            assert_eq!(
                overlay_prop_set_default(hdl, [1u8, 2].as_ptr().cast(), 2),
                0
            );
        }
        assert_eq!(&p.default[..p.defsize as usize], &[1, 2]);
    }
}
