//! Offloads between TAP devices and the overlay, the way virtio-net
//! does them: `IFF_VNET_HDR` frames carry a `virtio_net_hdr` that says
//! whether the checksum is still to be done and whether the frame is a
//! TCP super-frame (TSO) to be cut into segments.
//!
//! The kernel hands us 64 KiB TCP super-frames from a VNIC instead of
//! 1.4 KiB frames, which is most of what makes a user-space tunnel fast
//! (wireguard-go showed the way). Each super-frame is cut here into
//! MSS-sized segments with their own IP and TCP headers and checksums,
//! since a segment leaves this host as an ordinary frame inside VXLAN.

use overlay::buf::{PktBuf, Tso};
use overlay::platform::Frame;

/// `sizeof (struct virtio_net_hdr)`.
pub const VNET_HDR_LEN: usize = 10;

pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
pub const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
pub const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
pub const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// `struct virtio_net_hdr` (native byte order: legacy virtio on a
/// little-endian host, what TAP uses unless told otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHdr {
    pub fn parse(b: &[u8]) -> Option<VnetHdr> {
        let b: &[u8; VNET_HDR_LEN] = b.get(..VNET_HDR_LEN)?.try_into().ok()?;
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }
}

/// Why a frame from a VNIC could not be made into wire frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffloadError {
    /// The virtio header or the headers it points at do not fit the frame.
    Malformed,
    /// A GSO type we did not enable (UDP, for one).
    Unsupported,
}

/// Adds the Internet checksum of `data` (taken as starting at an even
/// offset) to the partial sum `sum`.
///
/// The one's-complement sum does not care about byte order except for a
/// final swap, so the words are added in native order and the folded
/// result is swapped into network order once (RFC 1071 §2).
#[inline]
pub fn csum_partial(data: &[u8], sum: u64) -> u64 {
    // The one's-complement sum is the same whatever the word size, as
    // long as carries wrap around: add native 64-bit words into 128-bit
    // accumulators (whose upper halves collect the carries), four at a
    // time so the additions do not wait on each other, and fold once.
    // This runs at about twice the speed of 32-bit words in 64-bit sums.
    let (mut a, mut b, mut c, mut d) = (0u128, 0u128, 0u128, 0u128);
    let word = |x: &[u8]| u64::from_ne_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
    let mut chunks = data.chunks_exact(32);
    for ch in &mut chunks {
        a += u128::from(word(&ch[0..8]));
        b += u128::from(word(&ch[8..16]));
        c += u128::from(word(&ch[16..24]));
        d += u128::from(word(&ch[24..32]));
    }
    let mut total = a + b + c + d;
    let mut rest = chunks.remainder();
    while rest.len() >= 8 {
        total += u128::from(word(rest));
        rest = &rest[8..];
    }
    while rest.len() >= 2 {
        total += u128::from(u16::from_ne_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
    }
    if let [last] = rest {
        // A trailing byte is the high byte of a network-order word: the
        // word [last, 0] in memory.
        total += u128::from(u16::from_ne_bytes([*last, 0]));
    }
    // Fold the carries back in: 128 -> 64 bits (twice covers the carry
    // the first fold can make), then to 16.
    let total = u128::from(total as u64) + (total >> 64);
    let total = u128::from(total as u64) + (total >> 64);
    let native = fold16(total as u64);
    sum + u16::from_be(native) as u64
}

/// Folds a 64-bit sum of 16-bit words to 16 bits (end-around carry).
#[inline]
fn fold16(mut s: u64) -> u16 {
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// Folds a partial sum to the 16-bit one's-complement checksum.
#[inline]
pub fn csum_fold(mut sum: u64) -> u16 {
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    let mut s = sum as u32;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

/// Completes a checksum the stack left to the "device": the 16-bit sum
/// over `frame[start..]` (whose checksum field, at `start + offset`,
/// holds the pseudo-header sum) is stored at `start + offset`.
pub fn complete_csum(frame: &mut [u8], start: usize, offset: usize) -> Result<(), OffloadError> {
    let at = start.checked_add(offset).ok_or(OffloadError::Malformed)?;
    if at + 2 > frame.len() || start > frame.len() {
        return Err(OffloadError::Malformed);
    }
    let c = csum_fold(csum_partial(&frame[start..], 0));
    frame[at..at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Turns one frame read from a `IFF_VNET_HDR` TAP (header included) into
/// a wire-ready frame appended to `out`: a plain frame is copied (its
/// checksum completed if asked); a TCP super-frame is copied whole, its
/// headers checked and its segmentation recorded in [`PktBuf::tso`], to
/// be done by [`segment_into`] when it is sent.
pub fn from_vnic(buf: &[u8], out: &mut Vec<PktBuf>) -> Result<(), OffloadError> {
    from_vnic_buf(PktBuf::new(buf), out)
}

/// As [`from_vnic`], for a frame already in its own buffer, which is
/// kept (no copy): the virtio header is stripped in place.
pub fn from_vnic_buf(mut f: PktBuf, out: &mut Vec<PktBuf>) -> Result<(), OffloadError> {
    let h = VnetHdr::parse(f.bytes()).ok_or(OffloadError::Malformed)?;
    f.strip(VNET_HDR_LEN).map_err(|_| OffloadError::Malformed)?;
    match h.gso_type & !VIRTIO_NET_HDR_GSO_ECN {
        VIRTIO_NET_HDR_GSO_NONE => {
            if h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
                complete_csum(f.bytes_mut(), h.csum_start as usize, h.csum_offset as usize)?;
            }
            out.push(f);
            Ok(())
        }
        t @ (VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_TCPV6) => {
            let tso = Tso {
                v6: t == VIRTIO_NET_HDR_GSO_TCPV6,
                l4: h.csum_start,
                mss: h.gso_size,
                inner_len: f.len() as u32,
            };
            layout(f.bytes(), &tso)?;
            f.tso = Some(tso);
            out.push(f);
            Ok(())
        }
        _ => Err(OffloadError::Unsupported),
    }
}

/// Where the headers of a TCP super-frame are: (IP header offset, TCP
/// header length, all headers' length).
fn layout(frame: &[u8], t: &Tso) -> Result<(usize, usize, usize), OffloadError> {
    let l4 = t.l4 as usize;
    // The IP header is between the MAC header and the TCP header; the MAC
    // header is 14 bytes, or 18 with a VLAN tag.
    let l3 = if frame.get(12..14) == Some(&[0x81, 0x00]) {
        18
    } else {
        14
    };
    let tcp_hlen = frame
        .get(l4 + 12)
        .map(|b| ((b >> 4) as usize) * 4)
        .ok_or(OffloadError::Malformed)?;
    let hlen = l4 + tcp_hlen;
    if tcp_hlen < 20 || hlen > frame.len() || l4 < l3 + if t.v6 { 40 } else { 20 } || t.mss == 0 {
        return Err(OffloadError::Malformed);
    }
    Ok((l3, tcp_hlen, hlen))
}

/// The `virtio_net_hdr` that hands a TCP super-frame to a TAP as it came
/// (for a frame switched between two local VNICs).
pub fn vnet_hdr_for(frame: &[u8], t: &Tso) -> Option<[u8; VNET_HDR_LEN]> {
    let (_, _, hlen) = layout(frame, t).ok()?;
    let mut h = [0u8; VNET_HDR_LEN];
    h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h[1] = if t.v6 {
        VIRTIO_NET_HDR_GSO_TCPV6
    } else {
        VIRTIO_NET_HDR_GSO_TCPV4
    };
    h[2..4].copy_from_slice(&(hlen as u16).to_ne_bytes());
    h[4..6].copy_from_slice(&t.mss.to_ne_bytes());
    h[6..8].copy_from_slice(&t.l4.to_ne_bytes());
    h[8..10].copy_from_slice(&16u16.to_ne_bytes());
    Some(h)
}

/// The segments of a TCP super-frame, as [`segment_headers`] lays them
/// out: segment `i` is `hdrs[i * hdr_len..][..hdr_len]` followed by
/// `payload(i)` of the original frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments {
    pub count: usize,
    /// Bytes of prefix and headers per segment.
    pub hdr_len: usize,
    /// Offset of the payload in the super-frame.
    pub payload_off: usize,
    pub mss: usize,
}

impl Segments {
    /// The payload of segment `i` within the super-frame.
    pub fn payload<'a>(&self, frame: &'a [u8], i: usize) -> &'a [u8] {
        let p = &frame[self.payload_off..];
        &p[(i * self.mss).min(p.len())..((i + 1) * self.mss).min(p.len())]
    }
}

/// Cuts the TCP super-frame `frame` into segments of `mss` payload bytes:
/// writes, for each, `prefix` (the encapsulation header) and its own IP
/// and TCP headers (lengths, ids, sequence numbers, flags, checksums)
/// into `hdrs`; the payloads stay where they are in `frame`. Checksums
/// read the payloads; nothing copies them.
pub fn segment_headers(
    frame: &[u8],
    t: &Tso,
    prefix: &[u8],
    hdrs: &mut Vec<u8>,
) -> Result<Segments, OffloadError> {
    let (l3, tcp_hlen, hlen) = layout(frame, t)?;
    let (l4, mss, v4) = (t.l4 as usize, t.mss as usize, !t.v6);
    let hdr = &frame[..hlen];
    let seg = Segments {
        count: (frame.len() - hlen).div_ceil(mss).max(1),
        hdr_len: prefix.len() + hlen,
        payload_off: hlen,
        mss,
    };
    let seq0 = u32::from_be_bytes([hdr[l4 + 4], hdr[l4 + 5], hdr[l4 + 6], hdr[l4 + 7]]);
    let id0 = u16::from_be_bytes([hdr[l3 + 4], hdr[l3 + 5]]);
    let flags0 = hdr[l4 + 13];
    hdrs.clear();
    hdrs.reserve(seg.count * seg.hdr_len);
    for i in 0..seg.count {
        let chunk = seg.payload(frame, i);
        hdrs.extend_from_slice(prefix);
        let at = hdrs.len();
        hdrs.extend_from_slice(hdr);
        let b = &mut hdrs[at..];
        let tcp_len = tcp_hlen + chunk.len();
        // IP: length, id (v4), header checksum (v4).
        if v4 {
            let ip_len = (l4 - l3 + tcp_len) as u16;
            b[l3 + 2..l3 + 4].copy_from_slice(&ip_len.to_be_bytes());
            b[l3 + 4..l3 + 6].copy_from_slice(&id0.wrapping_add(i as u16).to_be_bytes());
            b[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
            let ihl = ((b[l3] & 0x0f) as usize) * 4;
            let c = csum_fold(csum_partial(&b[l3..l3 + ihl], 0));
            b[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        } else {
            let pl = (l4 - l3 - 40 + tcp_len) as u16;
            b[l3 + 4..l3 + 6].copy_from_slice(&pl.to_be_bytes());
        }
        // TCP: sequence, flags (FIN and PSH only on the last segment, CWR
        // only on the first), checksum over header and payload.
        let seq = seq0.wrapping_add((i * mss) as u32);
        b[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        let mut fl = flags0;
        if i + 1 < seg.count {
            fl &= !(0x01 | 0x08);
        }
        if i > 0 {
            fl &= !0x80;
        }
        b[l4 + 13] = fl;
        b[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
        let mut sum = if v4 {
            csum_partial(&b[l3 + 12..l3 + 20], 0)
        } else {
            csum_partial(&b[l3 + 8..l3 + 40], 0)
        };
        sum = csum_partial(&[0, 6], sum);
        sum = csum_partial(&(tcp_len as u32).to_be_bytes(), sum);
        // The TCP header has an even length, so the payload's sum can
        // simply be added.
        sum = csum_partial(&b[l4..hlen], sum);
        let c = csum_fold(csum_partial(chunk, sum));
        b[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
    }
    Ok(seg)
}

/// As [`segment_headers`], with each segment laid out whole, one after
/// the other, in `out`. Returns the number of segments and the size of
/// each but the last.
pub fn segment_into(
    frame: &[u8],
    t: &Tso,
    prefix: &[u8],
    out: &mut Vec<u8>,
) -> Result<(usize, usize), OffloadError> {
    let mut hdrs = Vec::new();
    let seg = segment_headers(frame, t, prefix, &mut hdrs)?;
    for i in 0..seg.count {
        out.extend_from_slice(&hdrs[i * seg.hdr_len..(i + 1) * seg.hdr_len]);
        out.extend_from_slice(seg.payload(frame, i));
    }
    Ok((seg.count, seg.hdr_len + seg.mss))
}

/// Cuts a super-frame into separate frames (for tests and for paths that
/// need frames one by one).
pub fn segment(f: &PktBuf) -> Result<Vec<PktBuf>, OffloadError> {
    let Some(t) = f.tso else {
        return Ok(vec![f.clone()]);
    };
    let mut flat = Vec::new();
    let (n, size) = segment_into(f.bytes(), &t, &[], &mut flat)?;
    Ok(flat.chunks(size).take(n).map(PktBuf::new).collect())
}

#[cfg(test)]
mod test {
    use super::*;
    use overlay::platform::Frame;

    /// A TCP/IPv4 frame with a correct checksum, built by hand.
    fn tcp4(payload: &[u8], seq: u32, flags: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&7u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[192, 0, 2, 1]);
        ip[16..20].copy_from_slice(&[192, 0, 2, 2]);
        let c = csum_fold(csum_partial(&f[14..34], 0));
        f[24..26].copy_from_slice(&c.to_be_bytes());
        let tcp = &mut f[34..54];
        tcp[0..2].copy_from_slice(&1234u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        f.extend_from_slice(payload);
        f
    }

    fn tcp_csum_ok(f: &[u8]) -> bool {
        let l = f.len() - 34;
        let mut s = csum_partial(&f[26..34], 0);
        s = csum_partial(&[0, 6], s);
        s = csum_partial(&(l as u32).to_be_bytes(), s);
        csum_fold(csum_partial(&f[34..], s)) == 0
    }

    #[test]
    fn checksum_of_known_header() {
        // RFC 1071 example words.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(csum_fold(csum_partial(&d, 0)), !0xddf2);
        // Odd length.
        assert_eq!(csum_fold(csum_partial(&[0xff], 0)), !0xff00);
    }

    #[test]
    fn tso_segments_are_correct() {
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let frame = tcp4(&payload, 1000, 0x18); // PSH|ACK
        let mut buf = vec![0u8; VNET_HDR_LEN];
        buf[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        buf[1] = VIRTIO_NET_HDR_GSO_TCPV4;
        buf[2..4].copy_from_slice(&54u16.to_ne_bytes());
        buf[4..6].copy_from_slice(&1400u16.to_ne_bytes());
        buf[6..8].copy_from_slice(&34u16.to_ne_bytes());
        buf[8..10].copy_from_slice(&16u16.to_ne_bytes());
        buf.extend_from_slice(&frame);
        let mut one = Vec::new();
        from_vnic(&buf, &mut one).unwrap();
        assert_eq!(one.len(), 1, "a super-frame stays whole");
        assert!(one[0].tso.is_some());
        let out = segment(&one[0]).unwrap();
        assert_eq!(out.len(), 3);
        let mut got = Vec::new();
        for (i, s) in out.iter().enumerate() {
            let b = s.bytes();
            assert_eq!(csum_fold(csum_partial(&b[14..34], 0)), 0, "ip csum");
            assert!(tcp_csum_ok(b), "tcp csum of segment {i}");
            let seq = u32::from_be_bytes([b[38], b[39], b[40], b[41]]);
            assert_eq!(seq, 1000 + 1400 * i as u32);
            assert_eq!(u16::from_be_bytes([b[16], b[17]]) as usize, b.len() - 14);
            assert_eq!(b[47] & 0x08 != 0, i == 2, "PSH only last");
            got.extend_from_slice(&b[54..]);
        }
        assert_eq!(got, payload);
        assert_eq!(out[2].len(), 54 + 200);
    }

    #[test]
    fn partial_checksum_completed_and_garbage_refused() {
        let mut frame = tcp4(b"hello", 1, 0x10);
        // The stack leaves the pseudo-header sum in the field.
        frame[50..52].copy_from_slice(&[0, 0]);
        let mut s = csum_partial(&frame[26..34], 0);
        s = csum_partial(&[0, 6], s);
        s = csum_partial(&25u32.to_be_bytes(), s);
        let pseudo = !csum_fold(s);
        frame[50..52].copy_from_slice(&pseudo.to_be_bytes());
        let mut buf = vec![VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 0, 0];
        buf.extend_from_slice(&34u16.to_ne_bytes());
        buf.extend_from_slice(&16u16.to_ne_bytes());
        buf.extend_from_slice(&frame);
        let mut out = Vec::new();
        from_vnic(&buf, &mut out).unwrap();
        assert!(tcp_csum_ok(out[0].bytes()));
        assert_eq!(out[0].len(), frame.len());
        // Offsets past the end, and headers that do not fit.
        buf[6..8].copy_from_slice(&9000u16.to_ne_bytes());
        assert_eq!(from_vnic(&buf, &mut out), Err(OffloadError::Malformed));
        let mut gso = buf.clone();
        gso[1] = VIRTIO_NET_HDR_GSO_TCPV4;
        gso[6..8].copy_from_slice(&60u16.to_ne_bytes());
        gso[4..6].copy_from_slice(&1400u16.to_ne_bytes());
        assert_eq!(from_vnic(&gso, &mut out), Err(OffloadError::Malformed));
        gso[1] = 3; // UDP GSO: not enabled
        assert_eq!(from_vnic(&gso, &mut out), Err(OffloadError::Unsupported));
        assert_eq!(from_vnic(&[1, 2], &mut out), Err(OffloadError::Malformed));
    }
}

#[cfg(test)]
mod csum_test {
    use super::*;

    /// The plain RFC 1071 definition, to check the fast one against.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for w in data.chunks(2) {
            s += u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]) as u32;
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    #[test]
    fn fast_checksum_matches_the_definition() {
        let mut x = 0x1234_5678u32;
        for len in 0..300 {
            let d: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            assert_eq!(csum_fold(csum_partial(&d, 0)), reference(&d), "len {len}");
        }
        // Every alignment, over lengths past the unrolled loop's stride.
        let big: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 3) as u8).collect();
        for at in 0..9 {
            for len in [255, 256, 257, 319, 320, 1348, 1349, 4000] {
                let d = &big[at..at + len];
                assert_eq!(
                    csum_fold(csum_partial(d, 0)),
                    reference(d),
                    "at {at} len {len}"
                );
            }
        }
        // All ones: the end-around carry everywhere.
        for len in [4096, 8999, 65535] {
            for b in [0xff, 0xfe, 0x80] {
                let d = vec![b; len];
                assert_eq!(
                    csum_fold(csum_partial(&d, 0)),
                    reference(&d),
                    "{b:#x} x {len}"
                );
            }
        }
    }
}
