//! Text to property values and back, as libdladm writes and dladm
//! prints them, and the MAC address notation of `ether_aton(3C)` /
//! `ether_ntoa(3C)`.

use std::net::{Ipv4Addr, Ipv6Addr};

use overlay::abi::common::*;

use crate::status::Status;

/// `ether_ntoa`: lower-case hex without leading zeros, `2:8:20:0:1:a`.
pub fn ether_ntoa(m: &[u8; 6]) -> String {
    format!(
        "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// `ether_aton`: six groups of one or two hex digits joined by `:`.
pub fn ether_aton(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut n = 0;
    for part in s.split(':') {
        if n == 6 || part.is_empty() || part.len() > 2 {
            return None;
        }
        m[n] = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(m)
}

/// An IPv6 address as dladm prints one: IPv4-mapped addresses in dotted
/// quad.
pub fn ip_text(a: &[u8; 16]) -> String {
    let v6 = Ipv6Addr::from(*a);
    match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    }
}

/// An address as libdladm parses one: IPv6, else IPv4 (stored mapped).
pub fn parse_ip(s: &str) -> Option<[u8; 16]> {
    if let Ok(v6) = s.parse::<Ipv6Addr>() {
        return Some(v6.octets());
    }
    s.parse::<Ipv4Addr>()
        .ok()
        .map(|v4| v4.to_ipv6_mapped().octets())
}

/// `dladm_overlay_parse_prop`: the bytes of `val` for a property of
/// type `ptype`.
///
/// Quirks fixed: illumos ignored trailing garbage (`strtol` without an
/// end check) and parsed unsigned values with the signed `strtol`, so
/// `-1` became 2^64−1; here the whole string must be the number, of the
/// right sign.
pub fn parse_prop(ptype: u32, val: &str) -> Result<Vec<u8>, Status> {
    match ptype {
        OVERLAY_PROP_T_INT => val
            .parse::<i64>()
            .map(|v| v.to_ne_bytes().to_vec())
            .map_err(|_| Status::BadArg),
        OVERLAY_PROP_T_UINT => val
            .parse::<u64>()
            .map(|v| v.to_ne_bytes().to_vec())
            .map_err(|_| Status::BadArg),
        OVERLAY_PROP_T_STRING => {
            if val.len() >= OVERLAY_PROP_SIZEMAX || val.contains('\0') {
                return Err(Status::BadArg);
            }
            let mut b = val.as_bytes().to_vec();
            b.push(0);
            Ok(b)
        }
        OVERLAY_PROP_T_IP => parse_ip(val).map(|a| a.to_vec()).ok_or(Status::BadArg),
        _ => Err(Status::BadProp),
    }
}

/// `print_overlay_value`: how show-overlay prints a value of `ptype`.
/// Integers are printed by their size (1, 2, 4 or 8 bytes; `?`
/// otherwise). Quirk fixed: illumos printed unsigned values with `%d`.
/// `Err` carries the warning for a malformed address (printed as `--`).
pub fn prop_text(ptype: u32, v: &[u8]) -> Result<String, String> {
    fn int<const N: usize>(v: &[u8]) -> [u8; N] {
        let mut b = [0u8; N];
        b.copy_from_slice(&v[..N]);
        b
    }
    Ok(match ptype {
        OVERLAY_PROP_T_INT => match v.len() {
            1 => i8::from_ne_bytes(int(v)).to_string(),
            2 => i16::from_ne_bytes(int(v)).to_string(),
            4 => i32::from_ne_bytes(int(v)).to_string(),
            8 => i64::from_ne_bytes(int(v)).to_string(),
            _ => "?".into(),
        },
        OVERLAY_PROP_T_UINT => match v.len() {
            1 => v[0].to_string(),
            2 => u16::from_ne_bytes(int(v)).to_string(),
            4 => u32::from_ne_bytes(int(v)).to_string(),
            8 => u64::from_ne_bytes(int(v)).to_string(),
            _ => "?".into(),
        },
        OVERLAY_PROP_T_IP => match <[u8; 16]>::try_from(v) {
            Ok(a) => ip_text(&a),
            Err(_) => {
                return Err(format!("malformed overlay IP property: {} bytes", v.len()));
            }
        },
        OVERLAY_PROP_T_STRING => {
            let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
            String::from_utf8_lossy(&v[..end]).into_owned()
        }
        _ => "?".into(),
    })
}

/// `dladm_range2strs` over a `mac_propval_range_t`: `min-max` (or one
/// number) per uint32 range, or the strings; empty if there are none.
/// A range that does not fit its buffer is cut at the buffer's end.
pub fn possible_values(poss: &[u8]) -> Vec<String> {
    let word = |o: usize| -> Option<u32> {
        poss.get(o..o + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(count), Some(ty)) = (word(0), word(4)) else {
        return Vec::new();
    };
    let count = count as usize;
    match ty {
        MAC_PROPVAL_UINT32 => (0..count)
            .map_while(|i| {
                let o = MAC_PROPVAL_RANGE_UNION_OFFSET + i * 8;
                Some((word(o)?, word(o + 4)?))
            })
            .map(|(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect(),
        MAC_PROPVAL_STR => poss
            .get(MAC_PROPVAL_STR_DATA_OFFSET..)
            .unwrap_or(&[])
            .split(|&b| b == 0)
            .take(count)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
        _ => Vec::new(),
    }
}

/// `dladm_valid_linkname`: shorter than `MAXLINKNAMELEN`, of
/// `[A-Za-z0-9_.]`, not starting with a digit and ending with one.
pub fn valid_linkname(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() < MAXLINKNAMELEN
        && !b[0].is_ascii_digit()
        && b[b.len() - 1].is_ascii_digit()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use overlay::abi::prop::PropInfo;

    #[test]
    fn mac_notation_is_ether_aton_and_ntoa() {
        assert_eq!(ether_aton("2:8:20:0:1:a"), Some([2, 8, 0x20, 0, 1, 0xa]));
        assert_eq!(
            ether_aton("02:08:20:00:01:0A"),
            Some([2, 8, 0x20, 0, 1, 0xa])
        );
        for bad in [
            "",
            "1:2:3:4:5",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:100",
            "1::3:4:5:6",
            "g:1:2:3:4:5",
        ] {
            assert_eq!(ether_aton(bad), None, "{bad}");
        }
        assert_eq!(ether_ntoa(&[2, 8, 0x20, 0, 1, 0xab]), "2:8:20:0:1:ab");
    }

    #[test]
    fn values_round_trip_by_type() {
        let ip = parse_prop(OVERLAY_PROP_T_IP, "192.0.2.1").unwrap();
        assert_eq!(prop_text(OVERLAY_PROP_T_IP, &ip).unwrap(), "192.0.2.1");
        let ip = parse_prop(OVERLAY_PROP_T_IP, "fd00::1").unwrap();
        assert_eq!(prop_text(OVERLAY_PROP_T_IP, &ip).unwrap(), "fd00::1");
        let u = parse_prop(OVERLAY_PROP_T_UINT, "18446744073709551615").unwrap();
        assert_eq!(
            prop_text(OVERLAY_PROP_T_UINT, &u).unwrap(),
            "18446744073709551615"
        );
        assert_eq!(
            prop_text(OVERLAY_PROP_T_UINT, &4789u16.to_ne_bytes()).unwrap(),
            "4789"
        );
        assert_eq!(prop_text(OVERLAY_PROP_T_UINT, &[1, 2, 3]).unwrap(), "?");
        let i = parse_prop(OVERLAY_PROP_T_INT, "-5").unwrap();
        assert_eq!(prop_text(OVERLAY_PROP_T_INT, &i).unwrap(), "-5");
        let s = parse_prop(OVERLAY_PROP_T_STRING, "/etc/x.json").unwrap();
        assert_eq!(s.last(), Some(&0));
        assert_eq!(prop_text(OVERLAY_PROP_T_STRING, &s).unwrap(), "/etc/x.json");
        assert!(prop_text(OVERLAY_PROP_T_IP, &[0; 4]).is_err());
    }

    #[test]
    fn bad_values_are_badarg() {
        for (t, v) in [
            (OVERLAY_PROP_T_UINT, "-1"),
            (OVERLAY_PROP_T_UINT, "12abc"),
            (OVERLAY_PROP_T_INT, ""),
            (OVERLAY_PROP_T_IP, "300.1.1.1"),
            (OVERLAY_PROP_T_IP, "host.example"),
        ] {
            assert_eq!(parse_prop(t, v), Err(Status::BadArg), "{v}");
        }
        let long = "x".repeat(OVERLAY_PROP_SIZEMAX);
        assert_eq!(
            parse_prop(OVERLAY_PROP_T_STRING, &long),
            Err(Status::BadArg)
        );
    }

    #[test]
    fn possible_values_decode_the_driver_encoding() {
        let mut p = PropInfo::new("mtu", OVERLAY_PROP_T_UINT, OVERLAY_PROP_PERM_RW);
        p.add_range_uint32(576, 8900);
        p.add_range_uint32(9000, 9000);
        assert_eq!(possible_values(&p.poss), ["576-8900", "9000"]);
        let mut p = PropInfo::new("encap", OVERLAY_PROP_T_STRING, OVERLAY_PROP_PERM_READ);
        p.add_range_str(b"vxlan");
        p.add_range_str(b"geneve");
        assert_eq!(possible_values(&p.poss), ["vxlan", "geneve"]);
        assert!(possible_values(&[0; 16]).is_empty());
        assert!(possible_values(&[1, 0]).is_empty());
    }

    #[test]
    fn link_names_follow_dladm() {
        for ok in ["overlay0", "ov_1.2", "a0"] {
            assert!(valid_linkname(ok), "{ok}");
        }
        for bad in [
            "",
            "0ov",
            "overlay",
            "ov-1",
            "a23456789012345678901234567890123",
        ] {
            assert!(!valid_linkname(bad), "{bad}");
        }
    }
}
