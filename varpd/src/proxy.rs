//! The proxy frames of `libvarpd_arp.c`: reading ARP requests, neighbour
//! solicitations and DHCP requests out of a frame the kernel queued, and
//! building the answers. Pure functions on byte slices; every check is a
//! `None`, never a panic.
//!
//! Quirks of illumos fixed here (noted where they apply): a solicitation
//! must be type 135 *and* code 0 (illumos accepted either), and a DHCP
//! request must be IPv4 *and* UDP (illumos accepted either), with the UDP
//! header found after the IPv4 options (illumos assumed none).

use std::net::{Ipv4Addr, Ipv6Addr};

/// The largest frame the helpers handle (`ETHERMAX` + a VLAN tag).
pub const FRAME_MAX: usize = 1518;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IP: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ARP_LEN: usize = 28;
const IPV6_HDR: usize = 40;
const ICMPV6: u8 = 58;
const ND_NS: u8 = 135;
const ND_NA: u8 = 136;
const NS_LEN: usize = 24;
/// The fixed BOOTP part and the DHCP magic cookie. (`sizeof (struct
/// dhcp)` of illumos was not verified; this is what a DHCP message must
/// hold at least.)
pub const DHCP_MIN: usize = 240;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The target of an ARP request at `hdr` in `frame`, or `None` if the
/// frame is not one varpd answers (not Ethernet/IPv4, not a request, or
/// gratuitous).
pub fn arp_request_target(frame: &[u8], hdr: usize) -> Option<Ipv4Addr> {
    let a = frame.get(hdr..hdr + ARP_LEN)?;
    if be16(a, 0)? != 1 || be16(a, 2)? != ETHERTYPE_IP || a[4] != 6 || a[5] != 4 {
        return None;
    }
    if be16(a, 6)? != 1 {
        return None;
    }
    let spa = &a[14..18];
    let tpa = &a[24..28];
    if spa == tpa {
        return None;
    }
    Some(Ipv4Addr::new(tpa[0], tpa[1], tpa[2], tpa[3]))
}

/// Turns the ARP request in `frame` into the reply from `mac` (in place,
/// as illumos: the VLAN tag, if any, is kept).
pub fn arp_make_reply(frame: &mut [u8], hdr: usize, mac: [u8; 6]) -> Option<()> {
    if frame.len() < hdr + ARP_LEN || hdr < 14 {
        return None;
    }
    let src: [u8; 6] = frame[6..12].try_into().ok()?;
    frame[0..6].copy_from_slice(&src);
    frame[6..12].copy_from_slice(&mac);
    let a = &mut frame[hdr..hdr + ARP_LEN];
    a[6..8].copy_from_slice(&2u16.to_be_bytes());
    let sha: [u8; 6] = a[8..14].try_into().ok()?;
    let spa: [u8; 4] = a[14..18].try_into().ok()?;
    let tpa: [u8; 4] = a[24..28].try_into().ok()?;
    a[18..24].copy_from_slice(&sha);
    a[24..28].copy_from_slice(&spa);
    a[8..14].copy_from_slice(&mac);
    a[14..18].copy_from_slice(&tpa);
    Some(())
}

/// The target of a neighbour solicitation at `hdr` in `frame` (which
/// holds `pkt` bytes after the header).
pub fn ndp_solicit_target(frame: &[u8], hdr: usize, pkt: usize) -> Option<Ipv6Addr> {
    if hdr < 14 {
        return None;
    }
    if frame.get(..2)? != [0x33, 0x33] || pkt < IPV6_HDR + NS_LEN {
        return None;
    }
    let ip = frame.get(hdr..hdr + IPV6_HDR)?;
    if ip[0] >> 4 != 6 || ip[6] != ICMPV6 {
        return None;
    }
    let dst: [u8; 16] = ip[24..40].try_into().ok()?;
    let solicited = dst[..13] == [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff];
    if !solicited && dst[..2] != [0xff, 0x02] {
        return None;
    }
    let plen = usize::from(be16(ip, 4)?);
    let body = frame.get(hdr + IPV6_HDR..)?;
    if plen > body.len() || plen < NS_LEN {
        return None;
    }
    let body = &body[..plen];
    // illumos let a message through if either the type or the code
    // matched; both must.
    if body[0] != ND_NS || body[1] != 0 {
        return None;
    }
    let target = Ipv6Addr::from(<[u8; 16]>::try_from(&body[8..24]).ok()?);
    if target.is_multicast() || target.is_loopback() || target.to_ipv4_mapped().is_some() {
        return None;
    }
    // Options: none may be empty, and the source link-layer address
    // must be there.
    let mut opts = &body[NS_LEN..];
    let mut slla = false;
    while opts.len() >= 2 {
        let len = usize::from(opts[1]) * 8;
        if len == 0 || len > opts.len() {
            return None;
        }
        if opts[0] == 1 {
            slla = true;
        }
        opts = &opts[len..];
    }
    slla.then_some(target)
}

/// The RFC 4443 checksum of an ICMPv6 message.
pub fn icmp6_checksum(src: &[u8; 16], dst: &[u8; 16], msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            sum += u32::from(w);
        }
    };
    add(src);
    add(dst);
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, ICMPV6]);
    add(msg);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The neighbour advertisement answering the solicitation in `frame`:
/// `mac` owns the target.
pub fn ndp_make_advert(frame: &[u8], hdr: usize, mac: [u8; 6]) -> Option<Vec<u8>> {
    if hdr < 14 {
        return None;
    }
    let ip = frame.get(hdr..hdr + IPV6_HDR)?;
    let target: [u8; 16] = frame
        .get(hdr + IPV6_HDR + 8..hdr + IPV6_HDR + 24)?
        .try_into()
        .ok()?;
    let orig_src: [u8; 16] = ip[8..24].try_into().ok()?;
    let mut out = Vec::with_capacity(hdr + IPV6_HDR + 32);
    out.extend_from_slice(frame.get(..hdr)?);
    let esrc: [u8; 6] = frame.get(6..12)?.try_into().ok()?;
    out[0..6].copy_from_slice(&esrc);
    out[6..12].copy_from_slice(&mac);
    let mut ip6 = [0u8; IPV6_HDR];
    ip6[..4].copy_from_slice(&ip[..4]);
    ip6[4..6].copy_from_slice(&32u16.to_be_bytes());
    ip6[6] = ICMPV6;
    ip6[7] = ip[7];
    ip6[8..24].copy_from_slice(&target);
    ip6[24..40].copy_from_slice(&orig_src);
    out.extend_from_slice(&ip6);
    let mut na = [0u8; 32];
    na[0] = ND_NA;
    // Solicited | Override.
    na[4] = 0x60;
    na[8..24].copy_from_slice(&target);
    na[24] = 2;
    na[25] = 1;
    na[26..32].copy_from_slice(&mac);
    let ck = icmp6_checksum(&target, &orig_src, &na);
    na[2..4].copy_from_slice(&ck.to_be_bytes());
    out.extend_from_slice(&na);
    Some(out)
}

/// Whether `frame` is a broadcast DHCP request varpd may redirect.
pub fn dhcp_is_request(frame: &[u8], hdr: usize) -> bool {
    if hdr < 14 {
        return false;
    }
    let Some(ip) = frame.get(hdr..) else {
        return false;
    };
    if ip.len() < 20 {
        return false;
    }
    // illumos refused only when both the version and the protocol were
    // wrong; both must be right.
    if ip[0] >> 4 != 4 || ip[9] != 17 {
        return false;
    }
    let ihl = usize::from(ip[0] & 0xf) * 4;
    if ihl < 20 || ip.len() < ihl + 8 + DHCP_MIN {
        return false;
    }
    be16(ip, ihl) == Some(68) && be16(ip, ihl + 2) == Some(67)
}

/// A gratuitous ARP for `ip` at `src`, to `dst`, tagged with `vlan` if
/// non-zero (`libvarpd_inject_arp`).
pub fn gratuitous_arp(vlan: u16, src: [u8; 6], ip: Ipv4Addr, dst: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::with_capacity(46);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if vlan != 0 {
        f.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        f.extend_from_slice(&(vlan & 0x0fff).to_be_bytes());
    }
    f.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes());
    f.extend_from_slice(&ETHERTYPE_IP.to_be_bytes());
    f.extend_from_slice(&[6, 4]);
    f.extend_from_slice(&1u16.to_be_bytes());
    f.extend_from_slice(&src);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&ip.octets());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gratuitous_arp_by_hand() {
        let src = [2, 0, 0, 0, 0, 1];
        let dst = [2, 0, 0, 0, 0, 2];
        let ip = Ipv4Addr::new(10, 0, 0, 7);
        let mut want = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x06];
        want.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 7]);
        want.extend_from_slice(&[0xff; 6]);
        want.extend_from_slice(&[10, 0, 0, 7]);
        assert_eq!(gratuitous_arp(0, src, ip, dst), want);
        let tagged = gratuitous_arp(0x123, src, ip, dst);
        assert_eq!(&tagged[12..18], &[0x81, 0x00, 0x01, 0x23, 0x08, 0x06]);
        assert_eq!(&tagged[18..], &want[14..]);
        // The VLAN id is 12 bits; PCP and CFI stay 0.
        assert_eq!(&gratuitous_arp(0xf123, src, ip, dst)[14..16], &[0x01, 0x23]);
    }

    #[test]
    fn tagged_arp_reply_keeps_the_tag() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x81, 0, 0, 5, 0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&[10, 0, 0, 2]);
        assert_eq!(arp_request_target(&f, 18), Some(Ipv4Addr::new(10, 0, 0, 2)));
        arp_make_reply(&mut f, 18, [2, 0, 0, 0, 0, 9]).unwrap();
        assert_eq!(
            &f[..18],
            &[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 9, 0x81, 0, 0, 5, 8, 6]
        );
        assert_eq!(&f[24..26], &[0, 2]);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(frame in proptest::collection::vec(any::<u8>(), 0..200),
                               hdr in 0usize..40, pkt in 0usize..300) {
            let _ = arp_request_target(&frame, hdr);
            let _ = ndp_solicit_target(&frame, hdr, pkt);
            let _ = dhcp_is_request(&frame, hdr);
            let _ = ndp_make_advert(&frame, hdr, [1; 6]);
            let mut f = frame.clone();
            let _ = arp_make_reply(&mut f, hdr, [1; 6]);
        }
    }
}
