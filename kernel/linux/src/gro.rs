//! Receive coalescing: consecutive TCP segments of one flow, delivered
//! to a VNIC together, are written to its TAP as one super-frame with a
//! GSO `virtio_net_hdr`, as a NIC doing LRO would hand them up. The
//! VNIC's stack then processes one large segment instead of forty-five.
//!
//! Segments coalesce when they are TCP over IPv4 (no options, not a
//! fragment) or IPv6 (no extension headers), share the Ethernet and IP
//! headers and the TCP ports, follow each other in sequence, carry only
//! ACK (and PSH on the last), have the same TCP header length, options
//! included, and are all of one size but the last, which may be shorter.
//! Their inner checksums are not verified again: each arrived in a UDP
//! datagram whose own checksum the kernel verified.

use crate::offload::{
    VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, csum_fold,
    csum_partial,
};

/// Most bytes in one coalesced frame (an IP datagram).
const MAX_IP: usize = 65535;

/// Where a segment's headers and payload are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seg {
    v4: bool,
    l3: usize,
    l4: usize,
    hlen: usize,
    seq: u32,
    flags: u8,
}

const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;

fn parse(f: &[u8]) -> Option<Seg> {
    if f.len() < 14 {
        return None;
    }
    let l3 = 14;
    let (v4, l4) = match u16::from_be_bytes([f[12], f[13]]) {
        0x0800 => {
            let ip = f.get(l3..l3 + 20)?;
            let ihl = (ip[0] & 0x0f) as usize * 4;
            let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            if ip[0] >> 4 != 4 || ihl != 20 || ip[9] != 6 || frag != 0 || l3 + total != f.len() {
                return None;
            }
            (true, l3 + 20)
        }
        0x86dd => {
            let ip = f.get(l3..l3 + 40)?;
            let pl = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            if ip[0] >> 4 != 6 || ip[6] != 6 || l3 + 40 + pl != f.len() {
                return None;
            }
            (false, l3 + 40)
        }
        _ => return None,
    };
    let tcp = f.get(l4..l4 + 20)?;
    let thl = (tcp[12] >> 4) as usize * 4;
    let hlen = l4 + thl;
    if thl < 20 || hlen > f.len() {
        return None;
    }
    let flags = tcp[13];
    if flags & !(TCP_ACK | TCP_PSH) != 0 || flags & TCP_ACK == 0 {
        return None;
    }
    Some(Seg {
        v4,
        l3,
        l4,
        hlen,
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        flags,
    })
}

/// Whether `b` may follow `a` (whose payload is `a_len` bytes) in one
/// coalesced frame.
fn follows(af: &[u8], a: &Seg, a_len: usize, bf: &[u8], b: &Seg) -> bool {
    if a.v4 != b.v4
        || a.hlen != b.hlen
        || a.flags & TCP_PSH != 0
        || b.seq != a.seq.wrapping_add(a_len as u32)
    {
        return false;
    }
    // Same MACs and ethertype; same addresses; same ports; same TCP
    // options. (IPv4 id, TTL and checksums may differ.)
    if af[..14] != bf[..14]
        || af[a.l4..a.l4 + 4] != bf[b.l4..b.l4 + 4]
        || af[a.l4 + 20..a.hlen] != bf[b.l4 + 20..b.hlen]
    {
        return false;
    }
    if a.v4 {
        af[a.l3 + 12..a.l3 + 20] == bf[b.l3 + 12..b.l3 + 20] && af[a.l3 + 8] == bf[b.l3 + 8]
    } else {
        af[a.l3..a.l3 + 4] == bf[b.l3..b.l3 + 4]
            && af[a.l3 + 8..a.l3 + 40] == bf[b.l3 + 8..b.l3 + 40]
    }
}

/// Writes `frames` (complete Ethernet frames for one VNIC, in order)
/// through `write`, each as the parts of one write (`virtio_net_hdr`
/// first) and the number of frames it stands for, coalescing runs of TCP
/// segments into super-frames. A super-frame is written as its patched
/// headers (built in `out`) followed by the segments' payloads where they
/// lie: nothing is copied.
pub fn coalesce(frames: &[&[u8]], out: &mut Vec<u8>, mut write: impl FnMut(&[&[u8]], u64)) {
    let zero = [0u8; crate::offload::VNET_HDR_LEN];
    let mut i = 0;
    while i < frames.len() {
        let f = frames[i];
        let Some(first) = parse(f) else {
            write(&[&zero, f], 1);
            i += 1;
            continue;
        };
        let mss = f.len() - first.hlen;
        // Find the run.
        let (mut j, mut total, mut last, mut last_f) = (i + 1, f.len() - first.l3, first, f);
        let mut last_len = mss;
        while j < frames.len() && mss > 0 {
            let g = frames[j];
            let Some(s) = parse(g) else { break };
            let len = g.len() - s.hlen;
            if len == 0
                || len > mss
                || last_len != mss
                || total + len > MAX_IP
                || !follows(last_f, &last, last_len, g, &s)
            {
                break;
            }
            total += len;
            last = s;
            last_f = g;
            last_len = len;
            j += 1;
        }
        if j == i + 1 {
            write(&[&zero, f], 1);
            i += 1;
            continue;
        }
        // The super-frame: the first segment's headers, patched for the
        // whole, then every payload, PSH from the last.
        let hlen = first.hlen;
        let payload: usize = frames[i..j].iter().map(|g| g.len() - hlen).sum();
        let frame_len = hlen + payload;
        out.clear();
        out.extend_from_slice(&f[..hlen]);
        let l3 = first.l3;
        let l4 = first.l4;
        let tcp_len = frame_len - l4;
        if first.v4 {
            let ip_len = (frame_len - l3) as u16;
            out[l3 + 2..l3 + 4].copy_from_slice(&ip_len.to_be_bytes());
            out[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
            let c = csum_fold(csum_partial(&out[l3..l3 + 20], 0));
            out[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        } else {
            let pl = (frame_len - l4) as u16;
            out[l3 + 4..l3 + 6].copy_from_slice(&pl.to_be_bytes());
        }
        out[l4 + 13] = first.flags | (last.flags & TCP_PSH);
        // The checksum field holds the pseudo-header sum, as for a frame
        // whose checksum is left to the device (CHECKSUM_PARTIAL).
        let mut sum = if first.v4 {
            csum_partial(&out[l3 + 12..l3 + 20], 0)
        } else {
            csum_partial(&out[l3 + 8..l3 + 40], 0)
        };
        sum = csum_partial(&[0, 6], sum);
        sum = csum_partial(&(tcp_len as u32).to_be_bytes(), sum);
        out[l4 + 16..l4 + 18].copy_from_slice(&(!csum_fold(sum)).to_be_bytes());
        let mut h = [0u8; crate::offload::VNET_HDR_LEN];
        h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h[1] = if first.v4 {
            VIRTIO_NET_HDR_GSO_TCPV4
        } else {
            VIRTIO_NET_HDR_GSO_TCPV6
        };
        h[2..4].copy_from_slice(&(hlen as u16).to_ne_bytes());
        h[4..6].copy_from_slice(&(mss as u16).to_ne_bytes());
        h[6..8].copy_from_slice(&(l4 as u16).to_ne_bytes());
        h[8..10].copy_from_slice(&16u16.to_ne_bytes());
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 + j - i);
        parts.push(&h);
        parts.push(out);
        parts.extend(frames[i..j].iter().map(|g| &g[hlen..]));
        write(&parts, (j - i) as u64);
        i = j;
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::offload::{VnetHdr, from_vnic, segment};

    fn seg(seq: u32, payload: &[u8], flags: u8) -> Vec<u8> {
        let mut f = vec![0u8; 54];
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&[192, 0, 2, 1]);
        f[30..34].copy_from_slice(&[192, 0, 2, 2]);
        f[34..36].copy_from_slice(&1u16.to_be_bytes());
        f[36..38].copy_from_slice(&2u16.to_be_bytes());
        f[38..42].copy_from_slice(&seq.to_be_bytes());
        f[46] = 5 << 4;
        f[47] = flags;
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn runs_coalesce_and_resegment_to_the_originals() {
        let p: Vec<Vec<u8>> = (0..4)
            .map(|i| vec![i as u8; if i == 3 { 500 } else { 1000 }])
            .collect();
        let frames: Vec<Vec<u8>> = vec![
            seg(100, &p[0], TCP_ACK),
            seg(1100, &p[1], TCP_ACK),
            seg(2100, &p[2], TCP_ACK),
            seg(3100, &p[3], TCP_ACK | TCP_PSH),
            seg(9999, b"other", TCP_ACK),
        ];
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        let mut written: Vec<Vec<u8>> = Vec::new();
        coalesce(&refs, &mut Vec::new(), |parts, _| {
            written.push(parts.concat())
        });
        assert_eq!(written.len(), 2, "one super-frame and the stray segment");
        let h = VnetHdr::parse(&written[0]).unwrap();
        assert_eq!(
            (h.gso_type, h.gso_size, h.hdr_len, h.csum_start),
            (VIRTIO_NET_HDR_GSO_TCPV4, 1000, 54, 34)
        );
        // Cutting it again (what the stack's GSO would do) gives back the
        // original segments, checksums and all.
        let mut one = Vec::new();
        from_vnic(&written[0], &mut one).unwrap();
        let again = segment(&one[0]).unwrap();
        assert_eq!(again.len(), 4);
        for (a, f) in again.iter().zip(&frames) {
            let a = a.bytes();
            // The TCP header (but its checksum, which the originals here
            // never had) and the payload.
            assert_eq!(&a[34..50], &f[34..50]);
            assert_eq!(&a[52..], &f[52..]);
        }
        assert_eq!(&written[1][10..], &frames[4][..]);
    }

    #[test]
    fn gaps_and_flags_break_runs() {
        let a = seg(100, &[1; 100], TCP_ACK);
        let gap = seg(300, &[2; 100], TCP_ACK);
        let syn = seg(200, &[3; 100], 0x02);
        let refs: Vec<&[u8]> = vec![&a, &gap, &syn, b"short"];
        let mut n = 0;
        coalesce(&refs, &mut Vec::new(), |parts, count| {
            assert_eq!((parts[0], count), (&[0u8; 10][..], 1));
            n += 1;
        });
        assert_eq!(n, 4);
    }
}
