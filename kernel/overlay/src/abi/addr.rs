//! Address types shared by the ioctl structures and the data path.

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `ETHERADDRL`.
pub const ETHERADDRL: usize = 6;

/// A 48-bit Ethernet address (`struct ether_addr`, `uint8_t[ETHERADDRL]`).
#[derive(
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
)]
#[repr(transparent)]
pub struct EtherAddr(pub [u8; ETHERADDRL]);

impl EtherAddr {
    pub const ZERO: EtherAddr = EtherAddr([0; 6]);
    pub const BROADCAST: EtherAddr = EtherAddr([0xff; 6]);

    pub const fn is_broadcast(&self) -> bool {
        matches!(self.0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }

    /// Group bit set (includes broadcast).
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// The `mac_addrtype_t` of this destination: 0 unicast, 1 multicast,
    /// 2 broadcast.
    pub const fn addr_type(&self) -> u32 {
        if self.is_broadcast() {
            2
        } else if self.is_multicast() {
            1
        } else {
            0
        }
    }
}

impl fmt::Display for EtherAddr {
    /// illumos `ether_ntoa` style: lower-case hex without leading zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for EtherAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// illumos `struct in6_addr`: 16 bytes, 4-byte aligned (it is a union
/// that contains `uint32_t[4]`). IPv4 addresses are held IPv4-mapped.
#[derive(
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
)]
#[repr(C, align(4))]
pub struct In6Addr(pub [u8; 16]);

const _: () = assert!(core::mem::size_of::<In6Addr>() == 16);
const _: () = assert!(core::mem::align_of::<In6Addr>() == 4);

impl In6Addr {
    pub const UNSPECIFIED: In6Addr = In6Addr([0; 16]);

    pub const fn to_ipv6(self) -> Ipv6Addr {
        Ipv6Addr::from_octets(self.0)
    }

    /// The IPv4 address if this is IPv4-mapped (`::ffff:a.b.c.d`).
    pub const fn to_ipv4_mapped(self) -> Option<Ipv4Addr> {
        self.to_ipv6().to_ipv4_mapped()
    }

    /// `IN6_IS_ADDR_V4COMPAT`: `::a.b.c.d` with the last word neither 0
    /// nor 1 (so `::` and `::1` are not V4COMPAT).
    pub const fn is_v4compat(&self) -> bool {
        let b = &self.0;
        let mut i = 0;
        while i < 12 {
            if b[i] != 0 {
                return false;
            }
            i += 1;
        }
        let last = u32::from_be_bytes([b[12], b[13], b[14], b[15]]);
        last > 1
    }

    /// `IN6_IS_ADDR_V4MAPPED`.
    pub const fn is_v4mapped(&self) -> bool {
        self.to_ipv4_mapped().is_some()
    }

    /// `IN6_IS_ADDR_V4MAPPED_ANY`: `::ffff:0.0.0.0`.
    pub const fn is_v4mapped_any(&self) -> bool {
        matches!(self.to_ipv4_mapped(), Some(a) if a.is_unspecified())
    }

    pub const fn is_unspecified(&self) -> bool {
        self.to_ipv6().is_unspecified()
    }

    /// `IN6_IS_ADDR_MULTICAST` (ff00::/8).
    pub const fn is_multicast(&self) -> bool {
        self.0[0] == 0xff
    }

    /// `IN6_IS_ADDR_V4MAPPED_CLASSD`: an IPv4-mapped multicast address.
    pub const fn is_v4mapped_multicast(&self) -> bool {
        matches!(self.to_ipv4_mapped(), Some(a) if a.is_multicast())
    }

    /// `IN6_IS_ADDR_6TO4` (2002::/16).
    pub const fn is_6to4(&self) -> bool {
        self.0[0] == 0x20 && self.0[1] == 0x02
    }
}

impl From<Ipv6Addr> for In6Addr {
    fn from(a: Ipv6Addr) -> Self {
        In6Addr(a.octets())
    }
}

impl From<Ipv4Addr> for In6Addr {
    fn from(a: Ipv4Addr) -> Self {
        In6Addr(a.to_ipv6_mapped().octets())
    }
}

impl From<core::net::IpAddr> for In6Addr {
    fn from(a: core::net::IpAddr) -> Self {
        match a {
            core::net::IpAddr::V4(a) => a.into(),
            core::net::IpAddr::V6(a) => a.into(),
        }
    }
}

impl fmt::Display for In6Addr {
    /// IPv4-mapped addresses print as IPv4, as dladm does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_ipv4_mapped() {
            Some(v4) => write!(f, "{v4}"),
            None => write!(f, "{}", self.to_ipv6()),
        }
    }
}

impl fmt::Debug for In6Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod test {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn address_classes() {
        let v4c = In6Addr([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1]);
        assert!(v4c.is_v4compat());
        assert!(!In6Addr::UNSPECIFIED.is_v4compat());
        let mapped = In6Addr::from(Ipv4Addr::new(192, 0, 2, 1));
        assert!(mapped.is_v4mapped());
        assert_eq!(mapped.to_string(), "192.0.2.1");
        assert!(In6Addr::from(Ipv4Addr::UNSPECIFIED).is_v4mapped_any());
        assert!(In6Addr::from(Ipv4Addr::new(224, 0, 0, 1)).is_v4mapped_multicast());
        assert!(In6Addr::from("2002::1".parse::<Ipv6Addr>().unwrap()).is_6to4());
        assert_eq!(
            EtherAddr([0, 0x1b, 2, 3, 4, 0xff]).to_string(),
            "0:1b:2:3:4:ff"
        );
        assert_eq!(EtherAddr::BROADCAST.addr_type(), 2);
        assert_eq!(EtherAddr([0x33, 0x33, 0, 0, 0, 1]).addr_type(), 1);
    }
}
