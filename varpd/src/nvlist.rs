//! The subset of libnvpair varpd gives plugins for `vpo_save` and
//! `vpo_restore` (declared in `libvarpd_provider.h` off illumos), and its
//! serialisation in the persistence files.

use std::ffi::{CStr, CString, c_char, c_int, c_uint};

use overlay::Errno;

/// One value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    I32(i32),
    I64(i64),
    Str(CString),
    Bytes(Vec<u8>),
}

/// An ordered name/value list; adding a name replaces its value
/// (`NV_UNIQUE_NAME`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NvList {
    pub pairs: Vec<(String, Value)>,
}

impl NvList {
    pub fn add(&mut self, name: &str, v: Value) {
        if let Some(p) = self.pairs.iter_mut().find(|(n, _)| n == name) {
            p.1 = v;
        } else {
            self.pairs.push((name.to_owned(), v));
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Serialises: count, then per pair: name length, name, tag, value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.pairs.len() as u32).to_le_bytes());
        for (n, v) in &self.pairs {
            put_bytes(out, n.as_bytes());
            match v {
                Value::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
                Value::U8(x) => out.extend_from_slice(&[2, *x]),
                Value::U16(x) => {
                    out.push(3);
                    out.extend_from_slice(&x.to_le_bytes())
                }
                Value::U32(x) => {
                    out.push(4);
                    out.extend_from_slice(&x.to_le_bytes())
                }
                Value::U64(x) => {
                    out.push(5);
                    out.extend_from_slice(&x.to_le_bytes())
                }
                Value::I32(x) => {
                    out.push(6);
                    out.extend_from_slice(&x.to_le_bytes())
                }
                Value::I64(x) => {
                    out.push(7);
                    out.extend_from_slice(&x.to_le_bytes())
                }
                Value::Str(s) => {
                    out.push(8);
                    put_bytes(out, s.as_bytes())
                }
                Value::Bytes(b) => {
                    out.push(9);
                    put_bytes(out, b)
                }
            }
        }
    }

    /// The inverse of [`encode`](NvList::encode); `None` on anything
    /// malformed.
    pub fn decode(r: &mut Reader<'_>) -> Option<NvList> {
        let n = r.u32()?;
        let mut l = NvList::default();
        for _ in 0..n {
            let name = String::from_utf8(r.bytes()?.to_vec()).ok()?;
            let v = match r.u8()? {
                1 => Value::Bool(r.u8()? != 0),
                2 => Value::U8(r.u8()?),
                3 => Value::U16(u16::from_le_bytes(r.take(2)?.try_into().ok()?)),
                4 => Value::U32(r.u32()?),
                5 => Value::U64(r.u64()?),
                6 => Value::I32(r.u32()? as i32),
                7 => Value::I64(r.u64()? as i64),
                8 => Value::Str(CString::new(r.bytes()?.to_vec()).ok()?),
                9 => Value::Bytes(r.bytes()?.to_vec()),
                _ => return None,
            };
            l.add(&name, v);
        }
        Some(l)
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// A bounds-checked cursor.
#[derive(Debug)]
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

// --- the C functions ---------------------------------------------------------

/// # Safety
/// `nvl` is an `NvList` varpd passed to the plugin, `name` a C string.
unsafe fn add(nvl: *mut NvList, name: *const c_char, v: Value) -> c_int {
    if nvl.is_null() || name.is_null() {
        return libc::EINVAL;
    }
    // SAFETY: per the function's contract.
    let (l, n) = unsafe { (&mut *nvl, CStr::from_ptr(name)) };
    match n.to_str() {
        Ok(n) => {
            l.add(n, v);
            0
        }
        Err(_) => libc::EINVAL,
    }
}

/// # Safety
/// As [`add`]; `out` is writable.
unsafe fn lookup<'a>(nvl: *mut NvList, name: *const c_char) -> Result<&'a Value, c_int> {
    if nvl.is_null() || name.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: per the function's contract.
    let (l, n) = unsafe { (&*nvl, CStr::from_ptr(name)) };
    let n = n.to_str().map_err(|_| libc::EINVAL)?;
    l.get(n).ok_or(libc::ENOENT)
}

macro_rules! scalar {
    ($add:ident, $look:ident, $t:ty, $var:ident) => {
        /// # Safety
        /// `nvl` is the list varpd passed, `name` a C string.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $add(nvl: *mut NvList, name: *const c_char, v: $t) -> c_int {
            // SAFETY: the caller's contract.
            unsafe { add(nvl, name, Value::$var(v)) }
        }

        /// # Safety
        /// `nvl` is the list varpd passed, `name` a C string, `out`
        /// writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $look(
            nvl: *mut NvList,
            name: *const c_char,
            out: *mut $t,
        ) -> c_int {
            // SAFETY: the caller's contract.
            match unsafe { lookup(nvl, name) } {
                Ok(Value::$var(v)) if !out.is_null() => {
                    // SAFETY: the caller's out slot.
                    unsafe { *out = *v };
                    0
                }
                Ok(_) => libc::EINVAL,
                Err(e) => e,
            }
        }
    };
}

scalar!(nvlist_add_uint8, nvlist_lookup_uint8, u8, U8);
scalar!(nvlist_add_uint16, nvlist_lookup_uint16, u16, U16);
scalar!(nvlist_add_uint32, nvlist_lookup_uint32, u32, U32);
scalar!(nvlist_add_uint64, nvlist_lookup_uint64, u64, U64);
scalar!(nvlist_add_int32, nvlist_lookup_int32, i32, I32);
scalar!(nvlist_add_int64, nvlist_lookup_int64, i64, I64);

/// # Safety
/// `nvl` is the list varpd passed, `name` a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_add_boolean_value(
    nvl: *mut NvList,
    name: *const c_char,
    v: c_uint,
) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { add(nvl, name, Value::Bool(v != 0)) }
}

/// # Safety
/// As `nvlist_add_boolean_value`; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_lookup_boolean_value(
    nvl: *mut NvList,
    name: *const c_char,
    out: *mut c_uint,
) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { lookup(nvl, name) } {
        Ok(Value::Bool(v)) if !out.is_null() => {
            // SAFETY: the caller's out slot.
            unsafe { *out = c_uint::from(*v) };
            0
        }
        Ok(_) => libc::EINVAL,
        Err(e) => e,
    }
}

/// # Safety
/// `nvl` is the list varpd passed; `name` and `v` C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_add_string(
    nvl: *mut NvList,
    name: *const c_char,
    v: *const c_char,
) -> c_int {
    if v.is_null() {
        return libc::EINVAL;
    }
    // SAFETY: the caller's contract.
    let s = unsafe { CStr::from_ptr(v) }.to_owned();
    // SAFETY: the caller's contract.
    unsafe { add(nvl, name, Value::Str(s)) }
}

/// # Safety
/// `nvl` is the list varpd passed, `name` a C string, `out` writable;
/// the string returned lives as long as the list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_lookup_string(
    nvl: *mut NvList,
    name: *const c_char,
    out: *mut *mut c_char,
) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { lookup(nvl, name) } {
        Ok(Value::Str(s)) if !out.is_null() => {
            // SAFETY: the caller's out slot.
            unsafe { *out = s.as_ptr() as *mut c_char };
            0
        }
        Ok(_) => libc::EINVAL,
        Err(e) => e,
    }
}

/// # Safety
/// `nvl` is the list varpd passed, `name` a C string, `v` `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_add_byte_array(
    nvl: *mut NvList,
    name: *const c_char,
    v: *const u8,
    n: c_uint,
) -> c_int {
    if v.is_null() && n != 0 {
        return libc::EINVAL;
    }
    let b = if n == 0 {
        Vec::new()
    } else {
        // SAFETY: the caller's `n` readable bytes.
        unsafe { std::slice::from_raw_parts(v, n as usize) }.to_vec()
    };
    // SAFETY: the caller's contract.
    unsafe { add(nvl, name, Value::Bytes(b)) }
}

/// # Safety
/// `nvl` is the list varpd passed, `name` a C string, the outs writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_lookup_byte_array(
    nvl: *mut NvList,
    name: *const c_char,
    out: *mut *mut u8,
    n: *mut c_uint,
) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { lookup(nvl, name) } {
        Ok(Value::Bytes(b)) if !out.is_null() && !n.is_null() => {
            // SAFETY: the caller's out slots.
            unsafe {
                *out = b.as_ptr() as *mut u8;
                *n = b.len() as c_uint;
            }
            0
        }
        Ok(_) => libc::EINVAL,
        Err(e) => e,
    }
}

/// Keeps the exports in the binary (see [`crate::keep_exports`]).
pub(crate) fn exports() -> Vec<*const ()> {
    vec![
        nvlist_add_uint8 as *const (),
        nvlist_lookup_uint8 as *const (),
        nvlist_add_uint16 as *const (),
        nvlist_lookup_uint16 as *const (),
        nvlist_add_uint32 as *const (),
        nvlist_lookup_uint32 as *const (),
        nvlist_add_uint64 as *const (),
        nvlist_lookup_uint64 as *const (),
        nvlist_add_int32 as *const (),
        nvlist_lookup_int32 as *const (),
        nvlist_add_int64 as *const (),
        nvlist_lookup_int64 as *const (),
        nvlist_add_boolean_value as *const (),
        nvlist_lookup_boolean_value as *const (),
        nvlist_add_string as *const (),
        nvlist_lookup_string as *const (),
        nvlist_add_byte_array as *const (),
        nvlist_lookup_byte_array as *const (),
    ]
}

/// An errno for "the list is unusable".
pub const fn bad() -> Errno {
    Errno::EINVAL
}
