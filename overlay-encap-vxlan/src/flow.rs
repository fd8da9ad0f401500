//! The outer UDP source port: a hash of the inner flow.
//!
//! The underlay sees every VXLAN packet between two VTEPs as the same
//! UDP 4-tuple except for the source port, so that port is the only
//! entropy ECMP routers and LACP bonds can spread tunnel traffic with.
//! RFC 7348 §5 therefore asks for a source port computed from a hash of
//! the inner frame, in the dynamic/private range 49152–65535. illumos
//! got it from UDP itself (`UDP_SRCPORT_HASH` = `UDP_HASH_VXLAN` on the
//! mux socket: a hash of the inner MACs, IP addresses and L4 ports);
//! this Rust port computes it here, in the plugin, and hands it to the
//! driver in `ovdi_src_port`, so it works on hosts whose UDP has no such
//! option.
//!
//! Inputs, as far as the frame goes (a short or garbled frame hashes
//! whatever prefix is there, and nothing here can panic):
//!
//! * destination and source MAC;
//! * after an optional 802.1Q tag, for IPv4 and IPv6: source and
//!   destination address and the protocol (IPv6: the first next header);
//! * for TCP, UDP and SCTP, the two ports, when they are in this packet:
//!   IPv4 only when the packet is not a fragment (so all fragments of a
//!   datagram, and the whole flow, stay on one path), IPv6 only when no
//!   extension header comes first.
//!
//! Fields that change within a flow (TTL, IP id, checksums, payload,
//! VLAN priority) are never read, so a flow keeps its port.
//!
//! The hash folds each group of fields (MACs; IPv4 addresses with
//! protocol and ports; IPv6 source, destination, and protocol with
//! ports) as two 64-bit words through one 64×64→128-bit multiply whose
//! halves are xored (foldhash's "folded multiply"), each group with its
//! own keys. The groups are independent, so their multiplies overlap
//! in the pipeline; their results are xored and mixed by one final
//! folded multiply, whose top 14 bits select exactly one of the 16384
//! ports of 49152–65535. An IPv4 TCP frame costs three multiplies on a
//! dependency chain of two. The keys are fixed, so a flow maps to the
//! same port on every host and across restarts; nothing secret rides
//! on them (the port only steers load, and a sender can already choose
//! its flows).

/// The lowest source port: RFC 7348's (and IANA's) dynamic range start.
pub const SRC_PORT_MIN: u16 = 49152;
/// The highest source port.
pub const SRC_PORT_MAX: u16 = 65535;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;

const ETHER_ADDRS_LEN: usize = 12;
const IPV4_HDR_MIN: usize = 20;
const IPV6_HDR_LEN: usize = 40;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;

/// IPv4 flags + fragment offset: MF and the 13-bit offset.
const IPV4_FRAG_MASK: u16 = 0x3fff;

/// The outer UDP source port for an inner frame (its first bytes; the
/// headers suffice): always in `SRC_PORT_MIN..=SRC_PORT_MAX`, the same
/// for every frame of a flow.
#[inline]
pub fn source_port(frame: &[u8]) -> u16 {
    // 64 - 14 = 50: the top 14 bits of the hash select one of the 16384
    // ports of the range.
    SRC_PORT_MIN | (flow_hash(frame) >> 50) as u16
}

/// The 64-bit flow hash behind [`source_port`].
#[inline]
pub fn flow_hash(frame: &[u8]) -> u64 {
    let mut h = FlowHasher::new();

    let Some(macs) = frame.get(..ETHER_ADDRS_LEN) else {
        h.write_tail(frame);
        return h.finish();
    };
    h.absorb(LANE_L2, le_u64(&macs[..8]), u64::from(le_u32(&macs[8..12])));

    let mut off = ETHER_ADDRS_LEN;
    let Some(mut ethertype) = be_u16(frame, off) else {
        return h.finish();
    };
    off += 2;
    if ethertype == ETHERTYPE_VLAN {
        // Skip the TCI: the VLAN is already implied by the MACs, and
        // the priority bits may change within a flow.
        off += 2;
        let Some(inner) = be_u16(frame, off) else {
            return h.finish();
        };
        ethertype = inner;
        off += 2;
    }

    // `off` is at most frame.len() here: be_u16 just read up to it.
    let l3 = frame.get(off..).unwrap_or(&[]);
    match ethertype {
        ETHERTYPE_IPV4 => hash_ipv4(&mut h, l3),
        ETHERTYPE_IPV6 => hash_ipv6(&mut h, l3),
        _ => {}
    }
    h.finish()
}

fn hash_ipv4(h: &mut FlowHasher, ip: &[u8]) {
    let Some(hdr) = ip.get(..IPV4_HDR_MIN) else {
        return;
    };
    if hdr[0] >> 4 != 4 {
        return;
    }
    let ihl = usize::from(hdr[0] & 0x0f) * 4;
    if ihl < IPV4_HDR_MIN {
        return;
    }
    let proto = hdr[9];
    let frag = u16::from_be_bytes([hdr[6], hdr[7]]);
    let ports = if frag & IPV4_FRAG_MASK == 0 {
        l4_ports(proto, ip, ihl)
    } else {
        0
    };
    let l4 = (u64::from(proto) << 32) | u64::from(ports);
    h.absorb(LANE_L3_A, le_u64(&hdr[12..20]), l4);
}

fn hash_ipv6(h: &mut FlowHasher, ip: &[u8]) {
    let Some(hdr) = ip.get(..IPV6_HDR_LEN) else {
        return;
    };
    if hdr[0] >> 4 != 6 {
        return;
    }
    let next = hdr[6];
    let ports = l4_ports(next, ip, IPV6_HDR_LEN);
    h.absorb(LANE_L3_A, le_u64(&hdr[8..16]), le_u64(&hdr[16..24]));
    h.absorb(LANE_L3_B, le_u64(&hdr[24..32]), le_u64(&hdr[32..40]));
    let l4 = (u64::from(next) << 32) | u64::from(ports);
    h.absorb(LANE_L4, l4, 0);
}

/// Source and destination port (as one word) of a TCP, UDP or SCTP
/// header at `off`, or 0 for another protocol or a short frame. All
/// three start with the two 16-bit ports.
fn l4_ports(proto: u8, ip: &[u8], off: usize) -> u32 {
    if !matches!(proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) {
        return 0;
    }
    match ip.get(off..off.saturating_add(4)) {
        Some(p) => le_u32(p),
        None => 0,
    }
}

fn be_u16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// `b` must be 8 bytes long (callers slice exactly).
#[inline]
fn le_u64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    u64::from_le_bytes(w)
}

/// `b` must be 4 bytes long (callers slice exactly).
#[inline]
fn le_u32(b: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(b);
    u32::from_le_bytes(w)
}

/// Lanes of [`FlowHasher::absorb`]: one per field group, each with
/// its own keys, so that equal values in different fields (the same
/// address as source and destination) neither cancel nor commute.
const LANE_L2: usize = 0;
const LANE_L3_A: usize = 1;
const LANE_L3_B: usize = 2;
const LANE_L4: usize = 3;

/// Lane keys and the finaliser's: hexadecimal digits of pi. Any
/// structureless constants would do; nothing secret rides on them.
const KEYS: [(u64, u64); 5] = [
    (0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344),
    (0xa409_3822_299f_31d0, 0x082e_fa98_ec4e_6c89),
    (0x4528_21e6_38d0_1377, 0xbe54_66cf_34e9_0c6c),
    (0xc0ac_29b7_c97c_50dd, 0x3f84_d5b5_b547_0917),
    (0x9216_d5d9_8979_fb1b, 0xd131_0ba6_98df_b5ac),
];
const FINISH: usize = 4;

/// The full 128-bit product of two words with its halves xored
/// together (foldhash's `folded_multiply`): one `mul` on x86-64
/// (`mul` + `umulh` on aarch64), and the high output bits depend on
/// every bit of both operands.
#[inline(always)]
fn folded_multiply(x: u64, y: u64) -> u64 {
    let p = u128::from(x) * u128::from(y);
    (p as u64) ^ ((p >> 64) as u64)
}

/// The flow hasher (see the module docs): each lane folds two words
/// with one multiply; lanes are independent (so their multiplies
/// overlap in the pipeline) and xored together; one last multiply
/// mixes the sum.
struct FlowHasher(u64);

impl FlowHasher {
    #[inline(always)]
    fn new() -> Self {
        FlowHasher(0)
    }

    /// Absorbs two words into a lane. Each lane is used at most once
    /// per frame.
    #[inline(always)]
    fn absorb(&mut self, lane: usize, a: u64, b: u64) {
        let (ka, kb) = KEYS[lane];
        self.0 ^= folded_multiply(a ^ ka, b ^ kb);
    }

    /// Absorbs a runt of fewer than 16 bytes, length included, into the
    /// L2 lane (the only lane a runt uses).
    fn write_tail(&mut self, b: &[u8]) {
        let mut buf = [0u8; 16];
        let n = b.len().min(15);
        buf[..n].copy_from_slice(&b[..n]);
        buf[15] = n as u8;
        self.absorb(LANE_L2, le_u64(&buf[..8]), le_u64(&buf[8..]));
    }

    #[inline(always)]
    fn finish(&self) -> u64 {
        let (ka, kb) = KEYS[FINISH];
        folded_multiply(self.0 ^ ka, kb)
    }
}

#[cfg(test)]
pub(crate) mod test {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;
    use std::vec::Vec;

    const MAC_A: [u8; 6] = [0x02, 0x08, 0x20, 0x11, 0x22, 0x33];
    const MAC_B: [u8; 6] = [0x02, 0x08, 0x20, 0x44, 0x55, 0x66];

    /// A builder of inner test frames.
    #[derive(Clone)]
    pub(crate) struct Flow {
        pub dst: [u8; 6],
        pub src: [u8; 6],
        pub vlan: Option<u16>,
        pub v6: bool,
        pub saddr: [u8; 16],
        pub daddr: [u8; 16],
        pub proto: u8,
        pub sport: u16,
        pub dport: u16,
    }

    impl Flow {
        pub(crate) fn udp4(saddr: [u8; 4], daddr: [u8; 4], sport: u16, dport: u16) -> Flow {
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s[..4].copy_from_slice(&saddr);
            d[..4].copy_from_slice(&daddr);
            Flow {
                dst: MAC_B,
                src: MAC_A,
                vlan: None,
                v6: false,
                saddr: s,
                daddr: d,
                proto: IPPROTO_UDP,
                sport,
                dport,
            }
        }

        /// The frame, with IPv4 id/TTL/checksum and payload varied by
        /// `salt` (fields a flow hash must not read).
        pub(crate) fn frame_with(&self, salt: u8, frag: u16) -> Vec<u8> {
            let mut f = Vec::new();
            f.extend_from_slice(&self.dst);
            f.extend_from_slice(&self.src);
            if let Some(tci) = self.vlan {
                f.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
                // Vary the priority bits with the salt.
                let tci = tci | (u16::from(salt & 7) << 13);
                f.extend_from_slice(&tci.to_be_bytes());
            }
            if self.v6 {
                f.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
                f.extend_from_slice(&[0x60, salt, 0, 0, 0, 16, self.proto, salt]);
                f.extend_from_slice(&self.saddr);
                f.extend_from_slice(&self.daddr);
            } else {
                f.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
                f.extend_from_slice(&[0x45, salt, 0, 36, salt, salt]);
                f.extend_from_slice(&frag.to_be_bytes());
                f.extend_from_slice(&[salt, self.proto, salt, !salt]);
                f.extend_from_slice(&self.saddr[..4]);
                f.extend_from_slice(&self.daddr[..4]);
            }
            f.extend_from_slice(&self.sport.to_be_bytes());
            f.extend_from_slice(&self.dport.to_be_bytes());
            f.extend_from_slice(&[0, 16, salt, salt]);
            f.extend_from_slice(&[salt; 8]);
            f
        }

        pub(crate) fn frame(&self) -> Vec<u8> {
            self.frame_with(0, 0)
        }
    }

    /// splitmix64: a deterministic generator for test flows.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }

    fn in_range(p: u16) -> bool {
        (SRC_PORT_MIN..=SRC_PORT_MAX).contains(&p)
    }

    #[test]
    fn stable_within_a_flow() {
        let mut flows = [
            Flow::udp4([10, 0, 0, 1], [10, 0, 0, 2], 40000, 53),
            Flow::udp4([192, 0, 2, 1], [198, 51, 100, 7], 1234, 80),
        ];
        flows[1].proto = IPPROTO_TCP;
        let mut tagged = flows[0].clone();
        tagged.vlan = Some(42);
        let mut v6 = flows[1].clone();
        v6.v6 = true;
        v6.saddr = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        v6.daddr = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        for flow in flows.iter().chain([&tagged, &v6]) {
            let want = source_port(&flow.frame());
            assert!(in_range(want));
            for salt in 0..=255 {
                assert_eq!(source_port(&flow.frame_with(salt, 0)), want);
            }
            // A frame truncated after the L4 ports hashes the same.
            let hdrs = flow.frame().len() - 12;
            assert_eq!(source_port(&flow.frame()[..hdrs]), want);
        }
    }

    #[test]
    fn every_field_of_the_tuple_counts() {
        let base = Flow::udp4([10, 0, 0, 1], [10, 0, 0, 2], 40000, 4789);
        let p = source_port(&base.frame());
        let mut variants: Vec<Flow> = Vec::new();
        let mut f = base.clone();
        f.dst[5] ^= 1;
        variants.push(f);
        let mut f = base.clone();
        f.src[0] ^= 0x80;
        variants.push(f);
        let mut f = base.clone();
        f.saddr[3] = 9;
        variants.push(f);
        let mut f = base.clone();
        f.daddr[0] = 11;
        variants.push(f);
        let mut f = base.clone();
        f.proto = IPPROTO_TCP;
        variants.push(f);
        let mut f = base.clone();
        f.sport += 1;
        variants.push(f);
        let mut f = base.clone();
        f.dport += 1;
        variants.push(f);
        for (i, f) in variants.iter().enumerate() {
            assert_ne!(
                flow_hash(&f.frame()),
                flow_hash(&base.frame()),
                "variant {i}"
            );
        }
        // And the 14 bits kept still tell them apart.
        let mut distinct: HashSet<u16> = variants.iter().map(|f| source_port(&f.frame())).collect();
        distinct.insert(p);
        assert_eq!(distinct.len(), variants.len() + 1);
    }

    #[test]
    fn spread_over_random_flows() {
        let mut rng = Rng(1);
        let mut ports = HashSet::new();
        for _ in 0..1000 {
            let r = rng.next();
            let a = rng.next().to_be_bytes();
            let mut f = Flow::udp4(
                [a[0], a[1], a[2], a[3]],
                [a[4], a[5], a[6], a[7]],
                r as u16,
                (r >> 16) as u16,
            );
            if r & (1 << 40) != 0 {
                f.proto = IPPROTO_TCP;
            }
            let p = source_port(&f.frame());
            assert!(in_range(p));
            ports.insert(p);
        }
        // A uniform choice among 16384 ports gives ~970 distinct.
        assert!(ports.len() > 900, "{} distinct ports", ports.len());
    }

    #[test]
    fn spread_over_similar_flows() {
        // Flows that differ only in the client port, as one host's
        // connections to one server do.
        let mut ports = HashSet::new();
        for sport in 32768..33768 {
            let f = Flow::udp4([10, 0, 0, 1], [10, 0, 0, 2], sport, 443);
            ports.insert(source_port(&f.frame()));
        }
        assert!(ports.len() > 900, "{} distinct ports", ports.len());
        // Flows that differ only in the low byte of the IPv6 source.
        let mut ports = HashSet::new();
        for i in 0..1000u32 {
            let mut f = Flow::udp4([0; 4], [0; 4], 5000, 5000);
            f.v6 = true;
            f.saddr = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            f.saddr[12..].copy_from_slice(&i.to_be_bytes());
            f.daddr = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
            ports.insert(source_port(&f.frame()));
        }
        assert!(ports.len() > 900, "{} distinct ports", ports.len());
        // Flows that differ only in the source MAC (non-IP traffic).
        let mut ports = HashSet::new();
        for i in 0..1000u16 {
            let mut frame = std::vec![0u8; 60];
            frame[..6].copy_from_slice(&MAC_B);
            frame[6..12].copy_from_slice(&MAC_A);
            frame[10..12].copy_from_slice(&i.to_be_bytes());
            frame[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
            ports.insert(source_port(&frame));
        }
        assert!(ports.len() > 900, "{} distinct ports", ports.len());
    }

    #[test]
    fn vlan_tag_is_looked_through() {
        let mut a = Flow::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, 2000);
        a.vlan = Some(7);
        let mut b = a.clone();
        b.sport = 1001;
        assert_ne!(flow_hash(&a.frame()), flow_hash(&b.frame()));
    }

    #[test]
    fn ipv4_fragments_ignore_ports() {
        // The first fragment (MF set) and a later one (offset, no L4
        // header: garbage where the ports would be) of one datagram.
        let mut first = Flow::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, 2000);
        let mut later = first.clone();
        later.sport = 0xdead;
        later.dport = 0xbeef;
        assert_eq!(
            source_port(&first.frame_with(1, 0x2000)),
            source_port(&later.frame_with(2, 0x00b9))
        );
        // Unfragmented, the ports count.
        first.sport = 1;
        assert_ne!(flow_hash(&first.frame()), flow_hash(&later.frame()));
    }

    #[test]
    fn non_l4_protocols_ignore_port_bytes() {
        let mut a = Flow::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
        a.proto = 1; // ICMP: the "ports" are type/code/checksum.
        let mut b = a.clone();
        b.sport = 0x0800;
        b.dport = 0x1234;
        assert_eq!(flow_hash(&a.frame()), flow_hash(&b.frame()));
    }

    #[test]
    fn short_and_garbage_frames() {
        let mut frame = Flow::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2).frame();
        for len in 0..=frame.len() {
            assert!(in_range(source_port(&frame[..len])));
        }
        // Bad IP version, bad IHL, IHL past the end.
        frame[14] = 0x55;
        let _ = source_port(&frame);
        frame[14] = 0x41;
        let _ = source_port(&frame);
        frame[14] = 0x4f;
        assert!(in_range(source_port(&frame)));
        // Prefixes of different lengths of an all-zero frame differ.
        assert_ne!(flow_hash(&[0; 3]), flow_hash(&[0; 4]));
        assert_eq!(source_port(&[]), source_port(&[]));
    }

    proptest! {
        #[test]
        fn port_always_in_range(frame in proptest::collection::vec(any::<u8>(), 0..128)) {
            let p = source_port(&frame);
            prop_assert!(in_range(p));
            prop_assert_eq!(p, source_port(&frame));
        }

        #[test]
        fn tagged_ip_garbage_never_panics(
            tagged in any::<bool>(),
            v6 in any::<bool>(),
            rest in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut frame = std::vec![0u8; 12];
            if tagged {
                frame.extend_from_slice(&[0x81, 0, 0, 5]);
            }
            let et = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
            frame.extend_from_slice(&et.to_be_bytes());
            frame.extend_from_slice(&rest);
            prop_assert!(in_range(source_port(&frame)));
        }
    }
}
