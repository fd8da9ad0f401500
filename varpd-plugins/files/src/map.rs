//! The `overlay_files(5)` JSON map.
//!
//! A single top-level object whose keys are overlay MAC addresses and
//! whose values are objects with `ip` (underlay address, required),
//! `port` (underlay UDP port, required, 1-65535), and optionally `arp`
//! (an overlay IPv4 address), `ndp` (an overlay IPv6 address) and
//! `dhcp-proxy` (a MAC). Other members are reserved and ignored.
//!
//! illumos parses each entry again at every lookup and silently drops
//! frames for a malformed one; here the whole file is checked when read,
//! and a bad file is refused with a message naming the problem and its
//! place (line and column for JSON syntax, the MAC key and member for a
//! bad value), so the map in force is always a good one.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libvarpd_abi::sdk::{EtherAddr, In6Addr};
use serde_json::Value;

/// One host of the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub ip: In6Addr,
    pub port: u16,
    pub arp: Option<Ipv4Addr>,
    pub ndp: Option<Ipv6Addr>,
    pub dhcp_proxy: Option<EtherAddr>,
}

/// A parsed map, indexed for the three questions.
#[derive(Clone, Debug, Default)]
pub struct Map {
    pub by_mac: HashMap<EtherAddr, Entry>,
    pub by_v4: HashMap<Ipv4Addr, EtherAddr>,
    pub by_v6: HashMap<Ipv6Addr, EtherAddr>,
}

/// Why a file was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapError(pub String);

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a MAC in any common notation: `de:ad:be:ef:0:1` (the illumos
/// `ether_ntoa` form, leading zeros optional), `de-ad-be-ef-00-01`,
/// `dead.beef.0001`, or twelve hex digits.
pub fn parse_mac(s: &str) -> Option<EtherAddr> {
    let s = s.trim();
    let mut m = [0u8; 6];
    for sep in [':', '-'] {
        if s.contains(sep) {
            let parts: Vec<&str> = s.split(sep).collect();
            if parts.len() != 6 {
                return None;
            }
            for (i, p) in parts.iter().enumerate() {
                if p.is_empty() || p.len() > 2 || !p.chars().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                m[i] = u8::from_str_radix(p, 16).ok()?;
            }
            return Some(EtherAddr(m));
        }
    }
    let hex: String = if s.contains('.') {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.len() != 4) {
            return None;
        }
        parts.concat()
    } else {
        s.to_owned()
    };
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    for (i, b) in m.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(EtherAddr(m))
}

fn underlay_ip(s: &str) -> Option<In6Addr> {
    let ip: IpAddr = s.trim().parse().ok()?;
    let a = In6Addr::from(ip);
    if a.is_unspecified() || a.is_v4mapped_any() || a.is_multicast() {
        return None;
    }
    Some(a)
}

/// Parses and checks a whole file.
pub fn parse(text: &str) -> Result<Map, MapError> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        MapError(format!(
            "line {}, column {}: {}",
            e.line(),
            e.column(),
            strip_position(&e.to_string())
        ))
    })?;
    let Value::Object(top) = v else {
        return Err(MapError(
            "the top level must be an object keyed by MAC address".into(),
        ));
    };
    let mut map = Map::default();
    for (key, val) in &top {
        let at = |what: &str| MapError(format!("entry \"{key}\": {what}"));
        let mac = parse_mac(key).ok_or_else(|| at("the key is not a MAC address"))?;
        let Value::Object(o) = val else {
            return Err(at("the value must be an object"));
        };
        let ip = match o.get("ip") {
            Some(Value::String(s)) => underlay_ip(s)
                .ok_or_else(|| at(&format!("\"ip\": {s:?} is not a usable address")))?,
            Some(_) => return Err(at("\"ip\" must be a string")),
            None => return Err(at("\"ip\" is missing")),
        };
        let port = match o.get("port") {
            Some(Value::Number(n)) => match n.as_u64() {
                Some(p @ 1..=65535) => p as u16,
                _ => return Err(at(&format!("\"port\": {n} is not in 1-65535"))),
            },
            Some(_) => return Err(at("\"port\" must be a number")),
            None => return Err(at("\"port\" is missing")),
        };
        let text_of = |k: &str| -> Result<Option<&str>, MapError> {
            match o.get(k) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(at(&format!("\"{k}\" must be a string"))),
            }
        };
        let arp = match text_of("arp")? {
            Some(s) => Some(
                s.trim()
                    .parse::<Ipv4Addr>()
                    .map_err(|_| at(&format!("\"arp\": {s:?} is not an IPv4 address")))?,
            ),
            None => None,
        };
        let ndp = match text_of("ndp")? {
            Some(s) => Some(
                s.trim()
                    .parse::<Ipv6Addr>()
                    .map_err(|_| at(&format!("\"ndp\": {s:?} is not an IPv6 address")))?,
            ),
            None => None,
        };
        let dhcp_proxy = match text_of("dhcp-proxy")? {
            Some(s) => Some(
                parse_mac(s)
                    .ok_or_else(|| at(&format!("\"dhcp-proxy\": {s:?} is not a MAC address")))?,
            ),
            None => None,
        };
        if map.by_mac.contains_key(&mac) {
            return Err(at("the MAC address appears twice (in another notation)"));
        }
        if let Some(a) = arp {
            map.by_v4.entry(a).or_insert(mac);
        }
        if let Some(a) = ndp {
            map.by_v6.entry(a).or_insert(mac);
        }
        map.by_mac.insert(
            mac,
            Entry {
                ip,
                port,
                arp,
                ndp,
                dhcp_proxy,
            },
        );
    }
    Ok(map)
}

/// serde_json appends " at line L column C"; the message says it first.
fn strip_position(s: &str) -> &str {
    s.rfind(" at line ").map_or(s, |i| &s[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{
        "de:ad:be:ef:00:00": { "arp": "10.55.55.2", "ndp": "fe80::3",
            "ip": "10.88.88.69", "port": 4789 },
        "de:ad:be:ef:00:01": { "arp": "10.55.55.3", "ndp": "fe80::4",
            "ip": "10.88.88.70", "port": 4789, "dhcp-proxy": "de:ad:be:ef:00:00" },
        "de:ad:be:ef:0:2": { "arp": "10.55.55.4", "ndp": "fe80::5",
            "ip": "2001:db8::71", "port": 4790, "future": [1, 2] }
    }"#;

    #[test]
    fn the_manual_example() {
        let m = parse(EXAMPLE).unwrap();
        assert_eq!(m.by_mac.len(), 3);
        let k = |l| EtherAddr([0xde, 0xad, 0xbe, 0xef, 0, l]);
        let e = &m.by_mac[&k(1)];
        assert_eq!(
            e.ip,
            In6Addr::from("10.88.88.70".parse::<IpAddr>().unwrap())
        );
        assert_eq!(e.port, 4789);
        assert_eq!(e.dhcp_proxy, Some(k(0)));
        assert_eq!(m.by_v4[&"10.55.55.4".parse().unwrap()], k(2));
        assert_eq!(m.by_v6[&"fe80::3".parse().unwrap()], k(0));
        assert_eq!(m.by_mac[&k(2)].port, 4790);
    }

    #[test]
    fn mac_notations() {
        let want = Some(EtherAddr([0, 1, 2, 0xa, 0xb, 0xc]));
        for s in [
            "0:1:2:a:b:c",
            "00:01:02:0A:0B:0C",
            "00-01-02-0a-0b-0c",
            "0001.020a.0b0c",
            "0001020a0b0c",
        ] {
            assert_eq!(parse_mac(s), want, "{s}");
        }
        for s in [
            "",
            "0:1:2:3:4",
            "0:1:2:3:4:5:6",
            "001:1:2:3:4:5",
            "zz:1:2:3:4:5",
            "0001.020a",
        ] {
            assert_eq!(parse_mac(s), None, "{s}");
        }
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().0
    }

    #[test]
    fn bad_files_name_the_problem_and_place() {
        let e = err("{\n  \"0:1:2:3:4:5\": { \"ip\": \"10.0.0.1\", \"port\": 4789 ,}\n}");
        assert!(e.starts_with("line 2, column"), "{e}");
        assert!(err("[1, 2]").contains("top level"));
        assert!(
            err(r#"{"nope": {"ip": "10.0.0.1", "port": 1}}"#)
                .contains("\"nope\": the key is not a MAC")
        );
        assert!(err(r#"{"0:1:2:3:4:5": 7}"#).contains("must be an object"));
        assert!(err(r#"{"0:1:2:3:4:5": {"port": 1}}"#).contains("\"ip\" is missing"));
        assert!(err(r#"{"0:1:2:3:4:5": {"ip": "x", "port": 1}}"#).contains("\"ip\": \"x\""));
        assert!(
            err(r#"{"0:1:2:3:4:5": {"ip": 5, "port": 1}}"#).contains("\"ip\" must be a string")
        );
        assert!(err(r#"{"0:1:2:3:4:5": {"ip": "10.0.0.1"}}"#).contains("\"port\" is missing"));
        assert!(err(r#"{"0:1:2:3:4:5": {"ip": "10.0.0.1", "port": 0}}"#).contains("1-65535"));
        assert!(err(r#"{"0:1:2:3:4:5": {"ip": "10.0.0.1", "port": 70000}}"#).contains("1-65535"));
        assert!(err(r#"{"0:1:2:3:4:5": {"ip": "10.0.0.1", "port": 1.5}}"#).contains("1-65535"));
        assert!(
            err(r#"{"0:1:2:3:4:5": {"ip": "10.0.0.1", "port": "1"}}"#).contains("must be a number")
        );
        assert!(
            err(r#"{"0:1:2:3:4:5": {"ip": "10.0.0.1", "port": 1, "arp": "fe80::1"}}"#)
                .contains("\"arp\"")
        );
        assert!(
            err(r#"{"0:1:2:3:4:5": {"ip": "10.0.0.1", "port": 1, "ndp": "1.2.3.4"}}"#)
                .contains("\"ndp\"")
        );
        assert!(
            err(r#"{"0:1:2:3:4:5": {"ip": "10.0.0.1", "port": 1, "dhcp-proxy": "x"}}"#)
                .contains("\"dhcp-proxy\"")
        );
        assert!(
            err(r#"{"0:1:2:3:4:5": {"ip": "10.0.0.1", "port": 1, "arp": 4}}"#)
                .contains("must be a string")
        );
        assert!(err(r#"{"0:1:2:3:4:5": {"ip": "10.0.0.1", "port": 1}, "00-01-02-03-04-05": {"ip": "10.0.0.1", "port": 1}}"#).contains("twice"));
        assert!(err("").contains("line 1"));
        assert!(err("{\"0:1:2:3:4:5\": {\"ip\": \"\\u00e9\"").contains("line 1"));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in ".{0,300}") {
            let _ = parse(&text);
        }

        #[test]
        fn parse_never_panics_on_near_json(
            key in "[0-9a-fA-F:.-]{0,20}",
            ip in "[0-9a-f:.]{0,20}",
            port in proptest::prelude::any::<i64>(),
        ) {
            let _ = parse(&format!(r#"{{"{key}": {{"ip": "{ip}", "port": {port}, "arp": "{ip}", "ndp": "{ip}", "dhcp-proxy": "{key}"}}}}"#));
        }
    }
}
