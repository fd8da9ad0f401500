//! `nvlist_parse_json`: JSON text to an nvlist, as illumos' libnvpair
//! does it for the plugins that keep their configuration as JSON (the
//! illumos files plugin parses its map with it).
//!
//! The shape follows libnvpair: the top level is an object or an array;
//! objects become nested lists (names unique, the last of a repeated name
//! wins); arrays become lists keyed `"0"`, `"1"`, ... plus a boolean
//! `.__json_array` and a uint32 `length`; `true`/`false` are boolean
//! values and `null` a valueless boolean; numbers are integers only (a
//! fraction or exponent is refused), stored as int32 when they fit and
//! int64 otherwise. Errors are `EPROTO` with the byte position and a
//! message.
//!
//! Where illumos has a bug we do not copy it: `\uXXXX` escapes are read as
//! hexadecimal (illumos read the four digits as decimal and accepted only
//! values up to 0x7f), and the order of an object's members is kept, so
//! `nvlist_next_nvpair` walks them as written.

use std::ffi::{CString, c_char, c_int, c_long, c_uint};
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::nvlist::{NvList, Uniqueness, Value};

/// `nvlist_parse_json_error_t`.
#[repr(C)]
pub struct NvlistParseJsonError {
    pub nje_errno: c_int,
    pub nje_pos: c_long,
    pub nje_message: [c_char; 512],
}

/// Builds one JSON value as a [`Value`].
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(i32::try_from(n).map_or(Value::I64(n), Value::I32))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        match i64::try_from(n) {
            Ok(n) => self.visit_i64(n),
            Err(_) => Err(E::custom(format_args!("integer {n} out of range"))),
        }
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        Err(E::custom(
            "numbers must be integers (no fraction or exponent)",
        ))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        CString::new(s)
            .map(Value::Str)
            .map_err(|_| E::custom("a string contains NUL"))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Flag)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut l = NvList::default();
        let mut n: u32 = 0;
        while let Some(v) = seq.next_element_seed(ValueSeed)? {
            l.add(&n.to_string(), v);
            n = n
                .checked_add(1)
                .ok_or_else(|| de::Error::custom("array too long"))?;
        }
        l.add(".__json_array", Value::Bool(true));
        l.add("length", Value::U32(n));
        Ok(Value::List(Box::new(l)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut l = NvList::default();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(ValueSeed)?;
            let k = CString::new(k).map_err(|_| de::Error::custom("a name contains NUL"))?;
            let k = k.to_str().map_err(de::Error::custom)?.to_owned();
            l.add(&k, v);
        }
        Ok(Value::List(Box::new(l)))
    }
}

/// What went wrong, and where (a byte offset into the text).
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    pub pos: usize,
    pub message: String,
}

/// Parses `text` into a list (the top level must be an object or array).
pub fn parse(text: &[u8]) -> Result<NvList, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let v = ValueSeed
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match v {
        Ok(Value::List(mut l)) => {
            l.unique = Uniqueness::Name;
            Ok(*l)
        }
        Ok(_) => Err(ParseError {
            pos: 0,
            message: "the top level must be an object or an array".into(),
        }),
        Err(e) => Err(ParseError {
            pos: byte_offset(text, e.line(), e.column()),
            message: e.to_string(),
        }),
    }
}

/// serde_json reports 1-based line and column; libnvpair a byte offset.
fn byte_offset(text: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

/// `int nvlist_parse_json(const char *, size_t, nvlist_t **,
/// nvlist_parse_json_flags_t, nvlist_parse_json_error_t *)`.
///
/// # Safety
/// `buf` has `len` readable bytes; `out` is writable; `err` is writable
/// or null. The list returned is the caller's, freed with `nvlist_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvlist_parse_json(
    buf: *const c_char,
    len: usize,
    out: *mut *mut NvList,
    _flags: c_uint,
    err: *mut NvlistParseJsonError,
) -> c_int {
    if out.is_null() || (buf.is_null() && len != 0) {
        return libc::EINVAL;
    }
    let text = if len == 0 {
        &[][..]
    } else {
        // SAFETY: the caller's `len` readable bytes.
        unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len) }
    };
    // libnvpair stops at a NUL inside the buffer, as C strings do.
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    match parse(text) {
        Ok(l) => {
            // SAFETY: the caller's out slot.
            unsafe { *out = Box::into_raw(Box::new(l)) };
            0
        }
        Err(e) => {
            // SAFETY: the caller's error slot, if given.
            if let Some(err) = unsafe { err.as_mut() } {
                err.nje_errno = libc::EPROTO;
                err.nje_pos = c_long::try_from(e.pos).unwrap_or(c_long::MAX);
                err.nje_message = [0; 512];
                for (d, s) in err.nje_message.iter_mut().zip(e.message.bytes().take(511)) {
                    *d = s as c_char;
                }
            }
            libc::EPROTO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &Value) -> &NvList {
        match v {
            Value::List(l) => l,
            other => panic!("not a list: {other:?}"),
        }
    }

    #[test]
    fn the_files_map_shape() {
        let l = parse(
            br#"{"de:ad:be:ef:0:1": {"ip": "10.88.88.70", "port": 4789, "arp": "10.55.55.3"},
                 "de:ad:be:ef:0:0": {"ip": "::1", "port": 4789, "big": 5000000000, "x": null,
                                     "t": true, "a": [1, "two"]}}"#,
        )
        .unwrap();
        let names: Vec<_> = l.pairs.iter().map(|p| p.name.to_str().unwrap()).collect();
        assert_eq!(
            names,
            ["de:ad:be:ef:0:1", "de:ad:be:ef:0:0"],
            "member order kept"
        );
        let e = list(l.get("de:ad:be:ef:0:0").unwrap());
        assert_eq!(e.get("port"), Some(&Value::I32(4789)));
        assert_eq!(e.get("big"), Some(&Value::I64(5_000_000_000)));
        assert_eq!(e.get("x"), Some(&Value::Flag));
        assert_eq!(e.get("t"), Some(&Value::Bool(true)));
        let a = list(e.get("a").unwrap());
        assert_eq!(a.get("0"), Some(&Value::I32(1)));
        assert_eq!(a.get("1"), Some(&Value::Str(c"two".into())));
        assert_eq!(a.get(".__json_array"), Some(&Value::Bool(true)));
        assert_eq!(a.get("length"), Some(&Value::U32(2)));
    }

    #[test]
    fn errors_have_a_position_and_a_reason() {
        let e = parse(b"{\"a\": 1.5}").unwrap_err();
        assert!(e.message.contains("integers"), "{e:?}");
        assert_eq!(e.pos, 8, "at the number: {e:?}");
        let e = parse(b"{\"a\":\n  x}").unwrap_err();
        assert_eq!(e.pos, 8, "{e:?}");
        assert!(parse(b"7").is_err());
        assert!(parse(b"{} trailing").is_err());
        assert_eq!(
            parse(br#"{"\u0041": 1}"#).unwrap().pairs[0].name.to_str(),
            Ok("A")
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn the_c_entry_point() {
        let text = b"{\"k\": \"v\"} ";
        let mut out: *mut NvList = std::ptr::null_mut();
        // SAFETY: a buffer of that length and a writable slot.
        let r = unsafe {
            nvlist_parse_json(
                text.as_ptr().cast(),
                text.len(),
                &mut out,
                1,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(r, 0);
        // SAFETY: the list just made, freed once.
        unsafe {
            assert_eq!((*out).get("k"), Some(&Value::Str(c"v".into())));
            crate::nvlist::nvlist_free(out);
        }
        let bad = b"{\"k\": }";
        // SAFETY: zeroed memory is a valid error struct.
        let mut err: NvlistParseJsonError = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let r = unsafe { nvlist_parse_json(bad.as_ptr().cast(), bad.len(), &mut out, 1, &mut err) };
        assert_eq!((r, err.nje_errno), (libc::EPROTO, libc::EPROTO));
        assert!(err.nje_pos > 0 && err.nje_message[0] != 0);
    }
}
