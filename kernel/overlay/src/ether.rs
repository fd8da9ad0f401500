//! Ethernet header parsing for the lookup path (`mac_vlan_header_info`).

use crate::abi::EtherAddr;

/// `ETHERTYPE_VLAN`.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// Untagged Ethernet header length.
pub const ETHER_HDR_LEN: usize = 14;
/// `VLAN_TAGSZ`.
pub const VLAN_TAGSZ: usize = 4;

/// What the lookup path needs from a frame's MAC header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacHeaderInfo {
    pub dst: EtherAddr,
    pub src: EtherAddr,
    /// Header length: 14, or 18 with an 802.1Q tag.
    pub hdr_size: usize,
    /// The ethertype (the inner one for tagged frames).
    pub sap: u16,
    /// VLAN id from the TCI, 0 if untagged.
    pub vlan: u16,
}

/// The destination MAC of a frame, the only thing the transmit hit path
/// needs.
#[inline]
pub fn dst_mac(head: &[u8]) -> Option<EtherAddr> {
    let b: [u8; 6] = head.get(..6)?.try_into().ok()?;
    if head.len() < ETHER_HDR_LEN {
        return None;
    }
    Some(EtherAddr(b))
}

/// Parses the MAC header, VLAN-aware.
pub fn header_info(head: &[u8]) -> Option<MacHeaderInfo> {
    if head.len() < ETHER_HDR_LEN {
        return None;
    }
    let mac = |o: usize| {
        EtherAddr([
            head[o],
            head[o + 1],
            head[o + 2],
            head[o + 3],
            head[o + 4],
            head[o + 5],
        ])
    };
    let ethertype = u16::from_be_bytes([head[12], head[13]]);
    let (hdr_size, sap, vlan) = if ethertype == ETHERTYPE_VLAN {
        if head.len() < ETHER_HDR_LEN + VLAN_TAGSZ {
            return None;
        }
        let tci = u16::from_be_bytes([head[14], head[15]]);
        (
            ETHER_HDR_LEN + VLAN_TAGSZ,
            u16::from_be_bytes([head[16], head[17]]),
            tci & 0x0fff,
        )
    } else {
        (ETHER_HDR_LEN, ethertype, 0)
    };
    Some(MacHeaderInfo {
        dst: mac(0),
        src: mac(6),
        hdr_size,
        sap,
        vlan,
    })
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn tagged_and_untagged() {
        let mut f = [0u8; 18];
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        let h = header_info(&f).unwrap();
        assert_eq!((h.hdr_size, h.sap, h.vlan), (14, 0x0806, 0));
        f[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
        f[14..16].copy_from_slice(&0xa00au16.to_be_bytes());
        f[16..18].copy_from_slice(&0x86ddu16.to_be_bytes());
        let h = header_info(&f).unwrap();
        assert_eq!((h.hdr_size, h.sap, h.vlan), (18, 0x86dd, 10));
        assert!(header_info(&f[..17]).is_none());
        assert!(dst_mac(&f[..13]).is_none());
    }
}
