//! The subset of libnvpair varpd gives plugins (declared in
//! `libvarpd_provider.h` off illumos), and its serialisation in the
//! persistence files.
//!
//! Plugins written for illumos use libnvpair for more than `vpo_save` and
//! `vpo_restore`: the files plugin keeps its whole map as an nvlist parsed
//! by `nvlist_parse_json` and walks it with `nvlist_next_nvpair`. So the
//! subset is what those plugins call, with illumos' semantics and errnos:
//! lists of their own (`nvlist_alloc`/`nvlist_free`), nested lists
//! (copied in by `nvlist_add_nvlist`, borrowed out by lookups), pair
//! iteration, typed values, and the JSON parser ([`crate::nvjson`]).
//!
//! An `nvlist_t *` is a pointer to an [`NvList`]; an `nvpair_t *` is a
//! pointer to one of its [`NvPair`]s, valid until the list changes (as in
//! illumos, where removing a pair frees it).

use std::ffi::{CStr, CString, c_char, c_int, c_uint};

use overlay::Errno;

/// One value. The variants are illumos' `data_type_t`s varpd supports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `DATA_TYPE_BOOLEAN`: a name with no value (a flag).
    Flag,
    Bool(bool),
    Byte(u8),
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Str(CString),
    Bytes(Vec<u8>),
    List(Box<NvList>),
}

impl Value {
    /// The `data_type_t` number of the value.
    pub fn data_type(&self) -> c_int {
        match self {
            Value::Flag => 1,
            Value::Byte(_) => 2,
            Value::I16(_) => 3,
            Value::U16(_) => 4,
            Value::I32(_) => 5,
            Value::U32(_) => 6,
            Value::I64(_) => 7,
            Value::U64(_) => 8,
            Value::Str(_) => 9,
            Value::Bytes(_) => 10,
            Value::List(_) => 19,
            Value::Bool(_) => 21,
            Value::I8(_) => 22,
            Value::U8(_) => 23,
        }
    }
}

/// A named value: what an `nvpair_t *` points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvPair {
    pub name: CString,
    pub value: Value,
}

/// How a list treats a name added twice (`nvlist_alloc`'s `nvflag`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Uniqueness {
    /// `NV_UNIQUE_NAME` (varpd's own lists): the new pair replaces.
    #[default]
    Name,
    /// `NV_UNIQUE_NAME_TYPE`: replaces a pair of the same name and type.
    NameType,
    /// `0`: names may repeat; lookups find the first.
    None,
}

/// An ordered list of name/value pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NvList {
    pub pairs: Vec<NvPair>,
    pub unique: Uniqueness,
}

/// How deep [`NvList::decode`] follows nested lists: far more than any
/// plugin state needs, and a bound on the recursion a hostile file can
/// cause.
const MAX_DEPTH: usize = 32;

impl NvList {
    pub fn with_uniqueness(unique: Uniqueness) -> NvList {
        NvList {
            pairs: Vec::new(),
            unique,
        }
    }

    /// Adds a pair; `name` must not contain NUL (C names cannot).
    pub fn add(&mut self, name: &str, v: Value) {
        if let Ok(name) = CString::new(name) {
            self.add_c(name, v);
        }
    }

    fn add_c(&mut self, name: CString, value: Value) {
        let same = |p: &NvPair| match self.unique {
            Uniqueness::Name => p.name == name,
            Uniqueness::NameType => p.name == name && p.value.data_type() == value.data_type(),
            Uniqueness::None => false,
        };
        self.pairs.retain(|p| !same(p));
        self.pairs.push(NvPair { name, value });
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.pairs
            .iter()
            .find(|p| p.name.as_bytes() == name.as_bytes())
            .map(|p| &p.value)
    }

    /// Serialises: count, then per pair: name length, name, tag, value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.pairs.len() as u32).to_le_bytes());
        for p in &self.pairs {
            put_bytes(out, p.name.as_bytes());
            match &p.value {
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
                Value::Flag => out.push(10),
                Value::Byte(x) => out.extend_from_slice(&[11, *x]),
                Value::I8(x) => out.extend_from_slice(&[12, *x as u8]),
                Value::I16(x) => {
                    out.push(13);
                    out.extend_from_slice(&x.to_le_bytes())
                }
                Value::List(l) => {
                    out.push(14);
                    l.encode(out)
                }
            }
        }
    }

    /// The inverse of [`encode`](NvList::encode); `None` on anything
    /// malformed.
    pub fn decode(r: &mut Reader<'_>) -> Option<NvList> {
        Self::decode_at(r, 0)
    }

    fn decode_at(r: &mut Reader<'_>, depth: usize) -> Option<NvList> {
        if depth > MAX_DEPTH {
            return None;
        }
        let n = r.u32()?;
        let mut l = NvList::default();
        for _ in 0..n {
            let name = CString::new(r.bytes()?.to_vec()).ok()?;
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
                10 => Value::Flag,
                11 => Value::Byte(r.u8()?),
                12 => Value::I8(r.u8()? as i8),
                13 => Value::I16(i16::from_le_bytes(r.take(2)?.try_into().ok()?)),
                14 => Value::List(Box::new(Self::decode_at(r, depth + 1)?)),
                _ => return None,
            };
            l.add_c(name, v);
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
//
// Every function takes pointers a plugin got from varpd (a list varpd
// passed, one from `nvlist_alloc`/`nvlist_parse_json`, or a nested list or
// pair borrowed from one of those) and C strings; that is the `# Safety`
// contract of each, not repeated below. NULL is EINVAL, as in illumos.

const NV_UNIQUE_NAME: c_uint = 0x1;
const NV_UNIQUE_NAME_TYPE: c_uint = 0x2;

/// # Safety
/// `nvl` is a list from varpd or null.
unsafe fn list<'a>(nvl: *mut NvList) -> Result<&'a mut NvList, c_int> {
    // SAFETY: per the function's contract.
    unsafe { nvl.as_mut() }.ok_or(libc::EINVAL)
}

/// # Safety
/// `name` is a C string or null.
unsafe fn cname(name: *const c_char) -> Result<CString, c_int> {
    if name.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: per the function's contract.
    Ok(unsafe { CStr::from_ptr(name) }.to_owned())
}

/// # Safety
/// As [`list`] and [`cname`].
unsafe fn add(nvl: *mut NvList, name: *const c_char, v: Value) -> c_int {
    // SAFETY: the caller's contract.
    let r = unsafe { list(nvl).and_then(|l| Ok((l, cname(name)?))) };
    match r {
        Ok((l, n)) => {
            l.add_c(n, v);
            0
        }
        Err(e) => e,
    }
}

/// # Safety
/// As [`list`] and [`cname`].
unsafe fn lookup<'a>(nvl: *mut NvList, name: *const c_char) -> Result<&'a mut Value, c_int> {
    // SAFETY: the caller's contract.
    let (l, n) = unsafe { (list(nvl)?, cname(name)?) };
    l.pairs
        .iter_mut()
        .find(|p| p.name == n)
        .map(|p| &mut p.value)
        .ok_or(libc::ENOENT)
}

/// # Safety
/// `p` is a pair borrowed from a live list, or null.
unsafe fn pair<'a>(p: *mut NvPair) -> Result<&'a mut NvPair, c_int> {
    // SAFETY: per the function's contract.
    unsafe { p.as_mut() }.ok_or(libc::EINVAL)
}

/// Writes a value of the wanted variant to `out`, or EINVAL (another
/// type, or a null `out`), as libnvpair does.
macro_rules! scalar {
    ($add:ident, $look:ident, $val:ident, $t:ty, $var:ident) => {
        /// # Safety
        /// See "the C functions".
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $add(nvl: *mut NvList, name: *const c_char, v: $t) -> c_int {
            // SAFETY: the caller's contract.
            unsafe { add(nvl, name, Value::$var(v)) }
        }

        /// # Safety
        /// See "the C functions"; `out` is writable.
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

        /// # Safety
        /// See "the C functions"; `out` is writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $val(p: *mut NvPair, out: *mut $t) -> c_int {
            // SAFETY: the caller's contract.
            match unsafe { pair(p) } {
                Ok(NvPair {
                    value: Value::$var(v),
                    ..
                }) if !out.is_null() => {
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

scalar!(
    nvlist_add_byte,
    nvlist_lookup_byte,
    nvpair_value_byte,
    u8,
    Byte
);
scalar!(
    nvlist_add_int8,
    nvlist_lookup_int8,
    nvpair_value_int8,
    i8,
    I8
);
scalar!(
    nvlist_add_uint8,
    nvlist_lookup_uint8,
    nvpair_value_uint8,
    u8,
    U8
);
scalar!(
    nvlist_add_int16,
    nvlist_lookup_int16,
    nvpair_value_int16,
    i16,
    I16
);
scalar!(
    nvlist_add_uint16,
    nvlist_lookup_uint16,
    nvpair_value_uint16,
    u16,
    U16
);
scalar!(
    nvlist_add_int32,
    nvlist_lookup_int32,
    nvpair_value_int32,
    i32,
    I32
);
scalar!(
    nvlist_add_uint32,
    nvlist_lookup_uint32,
    nvpair_value_uint32,
    u32,
    U32
);
scalar!(
    nvlist_add_int64,
    nvlist_lookup_int64,
    nvpair_value_int64,
    i64,
    I64
);
scalar!(
    nvlist_add_uint64,
    nvlist_lookup_uint64,
    nvpair_value_uint64,
    u64,
    U64
);

/// # Safety
/// See "the C functions"; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_alloc(
    out: *mut *mut NvList,
    nvflag: c_uint,
    _kmflag: c_int,
) -> c_int {
    if out.is_null() {
        return libc::EINVAL;
    }
    let unique = if nvflag & NV_UNIQUE_NAME != 0 {
        Uniqueness::Name
    } else if nvflag & NV_UNIQUE_NAME_TYPE != 0 {
        Uniqueness::NameType
    } else {
        Uniqueness::None
    };
    // SAFETY: the caller's out slot.
    unsafe { *out = Box::into_raw(Box::new(NvList::with_uniqueness(unique))) };
    0
}

/// # Safety
/// `nvl` came from `nvlist_alloc`, `nvlist_dup` or `nvlist_parse_json`
/// (not from varpd's callbacks, not a nested list), or is null.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_free(nvl: *mut NvList) {
    if !nvl.is_null() {
        // SAFETY: the Box leaked by one of the allocating functions.
        drop(unsafe { Box::from_raw(nvl) });
    }
}

/// # Safety
/// See "the C functions"; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_dup(
    nvl: *mut NvList,
    out: *mut *mut NvList,
    _kmflag: c_int,
) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { list(nvl) } {
        Ok(l) if !out.is_null() => {
            // SAFETY: the caller's out slot.
            unsafe { *out = Box::into_raw(Box::new(l.clone())) };
            0
        }
        Ok(_) => libc::EINVAL,
        Err(e) => e,
    }
}

/// `boolean_t`: whether `name` is in the list.
///
/// # Safety
/// See "the C functions".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_exists(nvl: *mut NvList, name: *const c_char) -> c_uint {
    // SAFETY: the caller's contract.
    c_uint::from(unsafe { lookup(nvl, name) }.is_ok())
}

/// # Safety
/// See "the C functions".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_remove_all(nvl: *mut NvList, name: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    let (l, n) = match unsafe { list(nvl).and_then(|l| Ok((l, cname(name)?))) } {
        Ok(x) => x,
        Err(e) => return e,
    };
    let before = l.pairs.len();
    l.pairs.retain(|p| p.name != n);
    if l.pairs.len() == before {
        libc::ENOENT
    } else {
        0
    }
}

/// The pair after `prev` (the first if `prev` is null), or null at the
/// end or if `prev` is not a pair of this list.
///
/// # Safety
/// See "the C functions".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_next_nvpair(nvl: *mut NvList, prev: *mut NvPair) -> *mut NvPair {
    // SAFETY: the caller's contract.
    let Ok(l) = (unsafe { list(nvl) }) else {
        return std::ptr::null_mut();
    };
    let next = if prev.is_null() {
        0
    } else {
        // A pair pointer is an element of `pairs`: its index follows from
        // the address, checked before it is trusted.
        let base = l.pairs.as_ptr() as usize;
        let off = (prev as usize).wrapping_sub(base);
        let size = std::mem::size_of::<NvPair>();
        if !off.is_multiple_of(size) || off / size >= l.pairs.len() {
            return std::ptr::null_mut();
        }
        off / size + 1
    };
    l.pairs
        .get_mut(next)
        .map_or(std::ptr::null_mut(), |p| p as *mut NvPair)
}

/// # Safety
/// See "the C functions"; the name lives as long as the pair.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvpair_name(p: *mut NvPair) -> *mut c_char {
    // SAFETY: the caller's contract.
    match unsafe { pair(p) } {
        Ok(p) => p.name.as_ptr() as *mut c_char,
        Err(_) => std::ptr::null_mut(),
    }
}

/// # Safety
/// See "the C functions".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvpair_type(p: *mut NvPair) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { pair(p) } {
        Ok(p) => p.value.data_type(),
        Err(_) => 0, // DATA_TYPE_UNKNOWN
    }
}

/// # Safety
/// See "the C functions".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_add_boolean(nvl: *mut NvList, name: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { add(nvl, name, Value::Flag) }
}

/// # Safety
/// See "the C functions".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_lookup_boolean(nvl: *mut NvList, name: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { lookup(nvl, name) } {
        Ok(Value::Flag) => 0,
        Ok(_) => libc::EINVAL,
        Err(e) => e,
    }
}

/// Reads a `boolean_t` (any non-zero is true, as C code expects).
fn value_bool(v: Result<&mut Value, c_int>, out: *mut c_uint) -> c_int {
    match v {
        Ok(Value::Bool(b)) if !out.is_null() => {
            // SAFETY: the caller's out slot.
            unsafe { *out = c_uint::from(*b) };
            0
        }
        Ok(_) => libc::EINVAL,
        Err(e) => e,
    }
}

/// # Safety
/// See "the C functions".
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
/// See "the C functions"; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_lookup_boolean_value(
    nvl: *mut NvList,
    name: *const c_char,
    out: *mut c_uint,
) -> c_int {
    // SAFETY: the caller's contract.
    value_bool(unsafe { lookup(nvl, name) }, out)
}

/// # Safety
/// See "the C functions"; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvpair_value_boolean_value(p: *mut NvPair, out: *mut c_uint) -> c_int {
    // SAFETY: the caller's contract.
    value_bool(unsafe { pair(p) }.map(|p| &mut p.value), out)
}

/// # Safety
/// See "the C functions".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_add_string(
    nvl: *mut NvList,
    name: *const c_char,
    v: *const c_char,
) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { cname(v) } {
        // SAFETY: the caller's contract.
        Ok(s) => unsafe { add(nvl, name, Value::Str(s)) },
        Err(e) => e,
    }
}

fn value_string(v: Result<&mut Value, c_int>, out: *mut *mut c_char) -> c_int {
    match v {
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
/// See "the C functions"; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_lookup_string(
    nvl: *mut NvList,
    name: *const c_char,
    out: *mut *mut c_char,
) -> c_int {
    // SAFETY: the caller's contract.
    value_string(unsafe { lookup(nvl, name) }, out)
}

/// # Safety
/// See "the C functions"; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvpair_value_string(p: *mut NvPair, out: *mut *mut c_char) -> c_int {
    // SAFETY: the caller's contract.
    value_string(unsafe { pair(p) }.map(|p| &mut p.value), out)
}

/// # Safety
/// See "the C functions"; `v` has `n` readable bytes.
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

fn value_bytes(v: Result<&mut Value, c_int>, out: *mut *mut u8, n: *mut c_uint) -> c_int {
    match v {
        Ok(Value::Bytes(b)) if !out.is_null() && !n.is_null() => {
            // SAFETY: the caller's out slots.
            unsafe {
                *out = b.as_mut_ptr();
                *n = b.len() as c_uint;
            }
            0
        }
        Ok(_) => libc::EINVAL,
        Err(e) => e,
    }
}

/// # Safety
/// See "the C functions"; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_lookup_byte_array(
    nvl: *mut NvList,
    name: *const c_char,
    out: *mut *mut u8,
    n: *mut c_uint,
) -> c_int {
    // SAFETY: the caller's contract.
    value_bytes(unsafe { lookup(nvl, name) }, out, n)
}

/// # Safety
/// See "the C functions"; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvpair_value_byte_array(
    p: *mut NvPair,
    out: *mut *mut u8,
    n: *mut c_uint,
) -> c_int {
    // SAFETY: the caller's contract.
    value_bytes(unsafe { pair(p) }.map(|p| &mut p.value), out, n)
}

/// Adds a copy of `v` (illumos copies too: the caller keeps and frees
/// its own list).
///
/// # Safety
/// See "the C functions".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_add_nvlist(
    nvl: *mut NvList,
    name: *const c_char,
    v: *mut NvList,
) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { list(v) } {
        // SAFETY: the caller's contract.
        Ok(v) => unsafe { add(nvl, name, Value::List(Box::new(v.clone()))) },
        Err(e) => e,
    }
}

fn value_list(v: Result<&mut Value, c_int>, out: *mut *mut NvList) -> c_int {
    match v {
        Ok(Value::List(l)) if !out.is_null() => {
            // SAFETY: the caller's out slot.
            unsafe { *out = &mut **l as *mut NvList };
            0
        }
        Ok(_) => libc::EINVAL,
        Err(e) => e,
    }
}

/// The nested list itself (not a copy), valid as long as its parent.
///
/// # Safety
/// See "the C functions"; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_lookup_nvlist(
    nvl: *mut NvList,
    name: *const c_char,
    out: *mut *mut NvList,
) -> c_int {
    // SAFETY: the caller's contract.
    value_list(unsafe { lookup(nvl, name) }, out)
}

/// # Safety
/// See "the C functions"; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvpair_value_nvlist(p: *mut NvPair, out: *mut *mut NvList) -> c_int {
    // SAFETY: the caller's contract.
    value_list(unsafe { pair(p) }.map(|p| &mut p.value), out)
}

/// Keeps the exports in the binary (see [`crate::keep_exports`]).
pub(crate) fn exports() -> Vec<*const ()> {
    vec![
        nvlist_alloc as *const (),
        nvlist_free as *const (),
        nvlist_dup as *const (),
        nvlist_exists as *const (),
        nvlist_remove_all as *const (),
        nvlist_next_nvpair as *const (),
        nvpair_name as *const (),
        nvpair_type as *const (),
        nvlist_add_boolean as *const (),
        nvlist_lookup_boolean as *const (),
        nvlist_add_boolean_value as *const (),
        nvlist_lookup_boolean_value as *const (),
        nvpair_value_boolean_value as *const (),
        nvlist_add_byte as *const (),
        nvlist_lookup_byte as *const (),
        nvpair_value_byte as *const (),
        nvlist_add_int8 as *const (),
        nvlist_lookup_int8 as *const (),
        nvpair_value_int8 as *const (),
        nvlist_add_uint8 as *const (),
        nvlist_lookup_uint8 as *const (),
        nvpair_value_uint8 as *const (),
        nvlist_add_int16 as *const (),
        nvlist_lookup_int16 as *const (),
        nvpair_value_int16 as *const (),
        nvlist_add_uint16 as *const (),
        nvlist_lookup_uint16 as *const (),
        nvpair_value_uint16 as *const (),
        nvlist_add_int32 as *const (),
        nvlist_lookup_int32 as *const (),
        nvpair_value_int32 as *const (),
        nvlist_add_uint32 as *const (),
        nvlist_lookup_uint32 as *const (),
        nvpair_value_uint32 as *const (),
        nvlist_add_int64 as *const (),
        nvlist_lookup_int64 as *const (),
        nvpair_value_int64 as *const (),
        nvlist_add_uint64 as *const (),
        nvlist_lookup_uint64 as *const (),
        nvpair_value_uint64 as *const (),
        nvlist_add_string as *const (),
        nvlist_lookup_string as *const (),
        nvpair_value_string as *const (),
        nvlist_add_byte_array as *const (),
        nvlist_lookup_byte_array as *const (),
        nvpair_value_byte_array as *const (),
        nvlist_add_nvlist as *const (),
        nvlist_lookup_nvlist as *const (),
        nvpair_value_nvlist as *const (),
        crate::nvjson::nvlist_parse_json as *const (),
    ]
}

/// An errno for "the list is unusable".
pub const fn bad() -> Errno {
    Errno::EINVAL
}
