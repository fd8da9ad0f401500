//! The two vxlan properties, `vxlan/listen_ip` and `vxlan/listen_port`:
//! their names, their description for `propinfo` and the validation
//! `setprop` applies, all as plain Rust so that it can be tested without
//! the driver. The `extern "C"` ops in [`crate::ops`] only translate.
//!
//! | Name | Type | Prot | Default | Range | Set validation |
//! |---|---|---|---|---|---|
//! | `vxlan/listen_ip` | IP | RRW | none | — | 16 bytes; not IPv4-compatible, multicast, 6to4 or IPv4-mapped multicast |
//! | `vxlan/listen_port` | UINT | RRW | 4789 (2 bytes) | 1–65535 | 8 bytes (u64, native endian); 1–65535 |
//!
//! Every failure is `EINVAL` except a get into a short buffer
//! (`EOVERFLOW`), as in illumos `overlay_vxlan.c`.

use core::ffi::CStr;

use overlay::Errno;
use overlay::abi::addr::In6Addr;

use crate::wire::IPPORT_VXLAN;

/// `OVERLAY_PROP_PERM_RRW`: required, readable and writable.
pub use overlay::abi::common::OVERLAY_PROP_PERM_RRW;
/// `OVERLAY_PROP_T_IP`.
pub use overlay::abi::common::OVERLAY_PROP_T_IP;
/// `OVERLAY_PROP_T_UINT` (`overlay::abi::common`).
pub use overlay::abi::common::OVERLAY_PROP_T_UINT;

/// `vxlan/listen_ip`.
pub const PROP_LISTEN_IP: &CStr = c"vxlan/listen_ip";
/// `vxlan/listen_port`.
pub const PROP_LISTEN_PORT: &CStr = c"vxlan/listen_port";

/// Bytes of an IP property value (`struct in6_addr`).
pub const IP_VALUE_LEN: usize = 16;
/// Bytes of a UINT property value as dladm sets it and we return it.
pub const UINT_VALUE_LEN: usize = 8;

/// The listen_port default as propinfo reports it: a 2-byte native
/// endian value, as illumos' `uint16_t vxlan_defport`.
static DEFAULT_PORT: [u8; 2] = IPPORT_VXLAN.to_ne_bytes();

/// A vxlan property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VxlanProp {
    /// `vxlan/listen_ip`: the address the mux socket binds.
    ListenIp,
    /// `vxlan/listen_port`: the UDP port the mux socket binds.
    ListenPort,
}

impl VxlanProp {
    /// Both, in registration order (their driver ids are 4 and 5).
    pub const ALL: [VxlanProp; 2] = [VxlanProp::ListenIp, VxlanProp::ListenPort];

    /// The property a name refers to; `EINVAL` for any other name.
    pub fn from_name(name: &CStr) -> Result<VxlanProp, Errno> {
        match name.to_bytes() {
            b"vxlan/listen_ip" => Ok(VxlanProp::ListenIp),
            b"vxlan/listen_port" => Ok(VxlanProp::ListenPort),
            _ => Err(Errno::EINVAL),
        }
    }

    pub const fn name(self) -> &'static CStr {
        match self {
            VxlanProp::ListenIp => PROP_LISTEN_IP,
            VxlanProp::ListenPort => PROP_LISTEN_PORT,
        }
    }

    /// What `propinfo` reports for the property.
    pub const fn info(self) -> PropInfoSpec {
        match self {
            VxlanProp::ListenIp => PropInfoSpec {
                name: PROP_LISTEN_IP,
                prot: OVERLAY_PROP_PERM_RRW,
                ty: OVERLAY_PROP_T_IP,
                default: None,
                range_uint32: None,
            },
            VxlanProp::ListenPort => PropInfoSpec {
                name: PROP_LISTEN_PORT,
                prot: OVERLAY_PROP_PERM_RRW,
                ty: OVERLAY_PROP_T_UINT,
                default: Some(&DEFAULT_PORT),
                range_uint32: Some((1, u16::MAX as u32)),
            },
        }
    }

    /// The smallest buffer `getprop` accepts (`EOVERFLOW` below).
    pub const fn get_len(self) -> usize {
        match self {
            VxlanProp::ListenIp => IP_VALUE_LEN,
            VxlanProp::ListenPort => UINT_VALUE_LEN,
        }
    }
}

/// The description of one property, in the terms of the driver's
/// `overlay_prop_set_*` helpers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PropInfoSpec {
    pub name: &'static CStr,
    /// `OVERLAY_PROP_PERM_*`.
    pub prot: u32,
    /// `OVERLAY_PROP_T_*`.
    pub ty: u32,
    /// The default value's bytes; `None`: `overlay_prop_set_nodefault`.
    pub default: Option<&'static [u8]>,
    /// An advisory `overlay_prop_set_range_uint32(min, max)`.
    pub range_uint32: Option<(u32, u32)>,
}

/// The `propinfo` of a property name; `EINVAL` for an unknown one.
pub fn propinfo(name: &CStr) -> Result<PropInfoSpec, Errno> {
    VxlanProp::from_name(name).map(VxlanProp::info)
}

/// Receiver of a property description: the driver's
/// `overlay_prop_set_*` helpers, or a recorder in tests.
pub(crate) trait PropSink {
    fn set_name(&mut self, name: &CStr);
    fn set_prot(&mut self, prot: u32);
    fn set_type(&mut self, ty: u32);
    fn set_default(&mut self, def: &[u8]);
    fn set_nodefault(&mut self);
    fn set_range_uint32(&mut self, min: u32, max: u32);
}

impl PropInfoSpec {
    /// Issues the helper calls, in the order illumos makes them: name,
    /// prot, type, default (or no default), range.
    pub(crate) fn apply<S: PropSink + ?Sized>(&self, sink: &mut S) {
        sink.set_name(self.name);
        sink.set_prot(self.prot);
        sink.set_type(self.ty);
        match self.default {
            Some(def) => sink.set_default(def),
            None => sink.set_nodefault(),
        }
        if let Some((min, max)) = self.range_uint32 {
            sink.set_range_uint32(min, max);
        }
    }
}

/// Validates a `vxlan/listen_ip` value: exactly 16 bytes, and an
/// address a VTEP may bind: not IPv4-compatible (`::a.b.c.d`),
/// multicast, 6to4 (2002::/16) or IPv4-mapped multicast. `::`, `::1`
/// and IPv4-mapped unicast (including `::ffff:0.0.0.0`) are accepted,
/// as by illumos.
pub fn validate_listen_ip(val: &[u8]) -> Result<In6Addr, Errno> {
    let bytes: [u8; IP_VALUE_LEN] = val.try_into().map_err(|_| Errno::EINVAL)?;
    let addr = In6Addr(bytes);
    if addr.is_v4compat() || addr.is_multicast() || addr.is_6to4() || addr.is_v4mapped_multicast() {
        return Err(Errno::EINVAL);
    }
    Ok(addr)
}

/// Validates a `vxlan/listen_port` value: exactly 8 bytes holding a
/// native-endian u64 in 1–65535.
pub fn validate_listen_port(val: &[u8]) -> Result<u16, Errno> {
    let bytes: [u8; UINT_VALUE_LEN] = val.try_into().map_err(|_| Errno::EINVAL)?;
    match u64::from_ne_bytes(bytes) {
        0 => Err(Errno::EINVAL),
        v => u16::try_from(v).map_err(|_| Errno::EINVAL),
    }
}

#[cfg(test)]
pub(crate) mod test {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use std::string::String;
    use std::vec::Vec;

    /// A [`PropSink`] that writes down each call.
    #[derive(Debug, Default)]
    pub(crate) struct Recorder {
        pub calls: Vec<String>,
    }

    impl PropSink for Recorder {
        fn set_name(&mut self, name: &CStr) {
            self.calls
                .push(std::format!("name {}", name.to_str().unwrap()));
        }
        fn set_prot(&mut self, prot: u32) {
            self.calls.push(std::format!("prot {prot:#x}"));
        }
        fn set_type(&mut self, ty: u32) {
            self.calls.push(std::format!("type {ty}"));
        }
        fn set_default(&mut self, def: &[u8]) {
            self.calls.push(std::format!("default {def:?}"));
        }
        fn set_nodefault(&mut self) {
            self.calls.push(String::from("nodefault"));
        }
        fn set_range_uint32(&mut self, min: u32, max: u32) {
            self.calls.push(std::format!("range {min}-{max}"));
        }
    }

    pub(crate) fn v6(s: &str) -> [u8; 16] {
        s.parse::<Ipv6Addr>().unwrap().octets()
    }

    #[test]
    fn abi_constants() {
        assert_eq!(OVERLAY_PROP_T_UINT, 2);
        assert_eq!(OVERLAY_PROP_T_IP, 3);
        assert_eq!(OVERLAY_PROP_PERM_RRW, 0x7);
    }

    #[test]
    fn names() {
        assert_eq!(
            VxlanProp::from_name(c"vxlan/listen_ip"),
            Ok(VxlanProp::ListenIp)
        );
        assert_eq!(
            VxlanProp::from_name(c"vxlan/listen_port"),
            Ok(VxlanProp::ListenPort)
        );
        for bad in [
            c"",
            c"vxlan",
            c"vxlan/",
            c"listen_ip",
            c"vxlan/listen_ip2",
            c"vxlan/listen_por",
            c"VXLAN/listen_ip",
            c"mtu",
            c"direct/dest_ip",
        ] {
            assert_eq!(VxlanProp::from_name(bad), Err(Errno::EINVAL), "{bad:?}");
            assert_eq!(propinfo(bad), Err(Errno::EINVAL), "{bad:?}");
        }
        for p in VxlanProp::ALL {
            assert_eq!(VxlanProp::from_name(p.name()), Ok(p));
            assert!(p.name().to_bytes().len() < 64);
        }
    }

    #[test]
    fn propinfo_specs() {
        let ip = propinfo(c"vxlan/listen_ip").unwrap();
        assert_eq!(ip.name, c"vxlan/listen_ip");
        assert_eq!(ip.ty, OVERLAY_PROP_T_IP);
        assert_eq!(ip.prot, OVERLAY_PROP_PERM_RRW);
        assert_eq!(ip.default, None);
        assert_eq!(ip.range_uint32, None);

        let port = propinfo(c"vxlan/listen_port").unwrap();
        assert_eq!(port.name, c"vxlan/listen_port");
        assert_eq!(port.ty, OVERLAY_PROP_T_UINT);
        assert_eq!(port.prot, OVERLAY_PROP_PERM_RRW);
        assert_eq!(port.default, Some(&4789u16.to_ne_bytes()[..]));
        assert_eq!(port.range_uint32, Some((1, 65535)));
    }

    #[test]
    fn propinfo_call_sequence() {
        let mut r = Recorder::default();
        VxlanProp::ListenIp.info().apply(&mut r);
        assert_eq!(
            r.calls,
            ["name vxlan/listen_ip", "prot 0x7", "type 3", "nodefault"]
        );
        let mut r = Recorder::default();
        VxlanProp::ListenPort.info().apply(&mut r);
        let def = std::format!("default {:?}", 4789u16.to_ne_bytes());
        assert_eq!(
            r.calls,
            [
                "name vxlan/listen_port",
                "prot 0x7",
                "type 2",
                def.as_str(),
                "range 1-65535"
            ]
        );
    }

    #[test]
    fn listen_ip_validation() {
        let mapped = |a: Ipv4Addr| a.to_ipv6_mapped().octets();
        let cases: &[(&str, [u8; 16], Result<(), Errno>)] = &[
            ("global v6", v6("2001:db8::1"), Ok(())),
            ("link-local", v6("fe80::1"), Ok(())),
            ("unspecified", v6("::"), Ok(())),
            ("loopback", v6("::1"), Ok(())),
            (
                "mapped unicast",
                mapped(Ipv4Addr::new(192, 0, 2, 1)),
                Ok(()),
            ),
            ("mapped any", mapped(Ipv4Addr::UNSPECIFIED), Ok(())),
            ("mapped broadcast", mapped(Ipv4Addr::BROADCAST), Ok(())),
            ("v4-compat", v6("::10.0.0.1"), Err(Errno::EINVAL)),
            ("v4-compat ::0.0.0.2", v6("::2"), Err(Errno::EINVAL)),
            ("multicast", v6("ff02::1"), Err(Errno::EINVAL)),
            ("multicast global", v6("ff0e::101"), Err(Errno::EINVAL)),
            ("6to4", v6("2002:c000:201::1"), Err(Errno::EINVAL)),
            (
                "mapped multicast",
                mapped(Ipv4Addr::new(224, 0, 0, 1)),
                Err(Errno::EINVAL),
            ),
            (
                "mapped multicast top",
                mapped(Ipv4Addr::new(239, 255, 255, 255)),
                Err(Errno::EINVAL),
            ),
            (
                "mapped class E",
                mapped(Ipv4Addr::new(240, 0, 0, 1)),
                Ok(()),
            ),
        ];
        for (what, bytes, want) in cases {
            let got = validate_listen_ip(bytes).map(|_| ());
            assert_eq!(got, *want, "{what}");
            if want.is_ok() {
                assert_eq!(validate_listen_ip(bytes).unwrap().0, *bytes, "{what}");
            }
        }
        let good = v6("2001:db8::1");
        for len in [0, 1, 4, 15, 17, 32] {
            let mut buf = [0u8; 32];
            buf[..16].copy_from_slice(&good);
            assert_eq!(
                validate_listen_ip(&buf[..len]),
                Err(Errno::EINVAL),
                "len {len}"
            );
        }
    }

    #[test]
    fn listen_port_validation() {
        let cases: &[(u64, Result<u16, Errno>)] = &[
            (0, Err(Errno::EINVAL)),
            (1, Ok(1)),
            (4789, Ok(4789)),
            (8472, Ok(8472)),
            (65535, Ok(65535)),
            (65536, Err(Errno::EINVAL)),
            (1 << 32, Err(Errno::EINVAL)),
            (u64::MAX, Err(Errno::EINVAL)),
        ];
        for (v, want) in cases {
            assert_eq!(validate_listen_port(&v.to_ne_bytes()), *want, "{v}");
        }
        // Only an 8-byte value is accepted, even if it would fit.
        for buf in [
            &[][..],
            &[1][..],
            &4789u16.to_ne_bytes()[..],
            &4789u32.to_ne_bytes()[..],
        ] {
            assert_eq!(validate_listen_port(buf), Err(Errno::EINVAL));
        }
        assert_eq!(validate_listen_port(&[0u8; 9]), Err(Errno::EINVAL));
    }
}
