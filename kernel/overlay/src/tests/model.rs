//! A reference-model property test of the target cache, the lookup
//! queue and the control handles.
//!
//! Random sequences of transmits, lookups, responds, drops, packet
//! fetches, cache sets, removes, flushes, gets, iterations and handle
//! closes run against the driver and against a model written as plainly
//! as possible from the illumos semantics; every observable result (ioctl
//! results, lookup requests, copied frames, frames sent and where,
//! iteration output) must agree.

extern crate std;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;
use zerocopy::{FromZeros, IntoBytes};

use super::*;
use crate::target::ENTRY_QUEUE_MAX;

const MACS: usize = 4;
const LENS: [usize; 4] = [60, 1000, 9000, 40000];

fn mac_of(i: usize) -> [u8; 6] {
    [2, 0, 0, 0, 0, 0x10 + i as u8]
}

#[derive(Clone, Debug)]
enum Op {
    Tx { mac: usize, len: usize },
    Lookup { ro: bool },
    Respond { pick: usize, dest: u8 },
    Drop { pick: usize },
    Pkt { pick: usize },
    SetDest { mac: usize, dest: u8 },
    SetDrop { mac: usize },
    Remove { mac: usize },
    Flush,
    Get { mac: usize },
    Iter { page: u16 },
    Close { ro: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..MACS, 0..LENS.len()).prop_map(|(mac, l)| Op::Tx { mac, len: LENS[l] }),
        4 => any::<bool>().prop_map(|ro| Op::Lookup { ro }),
        3 => (0..4usize, 1..4u8).prop_map(|(pick, dest)| Op::Respond { pick, dest }),
        2 => (0..4usize).prop_map(|pick| Op::Drop { pick }),
        1 => (0..4usize).prop_map(|pick| Op::Pkt { pick }),
        2 => (0..MACS, 1..4u8).prop_map(|(mac, dest)| Op::SetDest { mac, dest }),
        1 => (0..MACS).prop_map(|mac| Op::SetDrop { mac }),
        1 => (0..MACS).prop_map(|mac| Op::Remove { mac }),
        1 => Just(Op::Flush),
        1 => (0..MACS).prop_map(|mac| Op::Get { mac }),
        1 => (1..4u16).prop_map(|page| Op::Iter { page }),
        1 => any::<bool>().prop_map(|ro| Op::Close { ro }),
    ]
}

#[derive(Clone, Debug, Default)]
struct MEntry {
    valid: Option<u8>,
    drop: bool,
    pending: bool,
    /// (frame id, length)
    queue: VecDeque<(u32, usize)>,
}

#[derive(Debug, Default)]
struct Model {
    entries: BTreeMap<[u8; 6], MEntry>,
    lookupq: VecDeque<[u8; 6]>,
    /// Outstanding (reqid, mac) per handle: [rw, ro].
    out: [Vec<(u64, [u8; 6])>; 2],
    /// (frame id, destination) in send order.
    sent: Vec<(u32, u8)>,
}

impl Model {
    fn send_all(&mut self, mac: [u8; 6], dest: u8) {
        let q = core::mem::take(&mut self.entries.get_mut(&mac).unwrap().queue);
        self.sent.extend(q.into_iter().map(|(id, _)| (id, dest)));
    }

    fn tx(&mut self, mac: [u8; 6], id: u32, len: usize) {
        let e = self.entries.entry(mac).or_default();
        if e.drop {
            return;
        }
        if let Some(d) = e.valid {
            self.sent.push((id, d));
            return;
        }
        let queued: usize = e.queue.iter().map(|(_, l)| l).sum();
        if queued + len > ENTRY_QUEUE_MAX {
            return;
        }
        e.queue.push_back((id, len));
        if !e.pending {
            e.pending = true;
            self.lookupq.push_back(mac);
        }
    }

    /// The entry a LOOKUP hands out, if any.
    fn lookup(&mut self) -> Option<[u8; 6]> {
        while let Some(mac) = self.lookupq.pop_front() {
            let e = self.entries.get_mut(&mac).unwrap();
            if e.drop {
                e.pending = false;
                e.queue.clear();
                continue;
            }
            if let Some(d) = e.valid {
                e.pending = false;
                self.send_all(mac, d);
                continue;
            }
            if e.queue.is_empty() {
                e.pending = false;
                continue;
            }
            return Some(mac);
        }
        None
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let ov = ov();
    let mut h = rw(&ov);
    // Every case has its own driver instance.
    let linkid = 1000;
    running(&ov, &h, linkid, linkid as u64);
    let mut ro = Some(ov.open(OpenFlags::RDONLY, ROOT).unwrap());
    let dev = ov.device(linkid).unwrap();
    let sock = ov.platform().sockets.lock()[0].clone();
    let mut scratch = crate::dev::TxScratch::default();
    let mut m = Model::default();
    let mut next_id = 0u32;
    let dest_ip = |d: u8| point(d).otp_ip;

    for op in ops {
        match op {
            Op::Tx { mac, len } => {
                next_id += 1;
                let mut f = frame(mac_of(mac), len);
                let mut bytes = f.bytes().to_vec();
                bytes[14..18].copy_from_slice(&next_id.to_be_bytes());
                f = MemFrame::new(&bytes);
                ov.tx(&dev, [f], &mut scratch);
                m.tx(mac_of(mac), next_id, len);
            }
            Op::Lookup { ro: use_ro } => {
                let handle = if use_ro { ro.as_ref().unwrap() } else { &h };
                let got = handle.lookup(0);
                match m.lookup() {
                    Some(mac) => {
                        let req =
                            got.map_err(|e| TestCaseError::fail(alloc::format!("lookup: {e:?}")))?;
                        prop_assert_eq!(req.otl_dstaddr.0, mac);
                        let (_, len) = m.entries[&mac].queue[0];
                        prop_assert_eq!(req.otl_pktsize as usize, len - 14);
                        m.out[use_ro as usize].push((req.otl_reqid, mac));
                    }
                    None => prop_assert_eq!(got.map(|r| r.otl_dstaddr), Err(Errno::ETIME)),
                }
            }
            Op::Respond { pick, dest } => {
                let mut r = OverlayTargResp::new_zeroed();
                r.otr_answer = point(dest);
                if m.out[0].is_empty() {
                    r.otr_reqid = u64::MAX;
                    prop_assert_eq!(targ(&h, OVERLAY_TARG_RESPOND, &mut r), Err(Errno::EINVAL));
                    continue;
                }
                let (reqid, mac) = m.out[0].remove(pick % m.out[0].len());
                r.otr_reqid = reqid;
                prop_assert_eq!(targ(&h, OVERLAY_TARG_RESPOND, &mut r), Ok(()));
                let e = m.entries.get_mut(&mac).unwrap();
                e.valid = Some(dest);
                e.pending = false;
                m.send_all(mac, dest);
            }
            Op::Drop { pick } => {
                let mut r = OverlayTargResp::new_zeroed();
                if m.out[0].is_empty() {
                    r.otr_reqid = 0;
                    prop_assert_eq!(targ(&h, OVERLAY_TARG_DROP, &mut r), Err(Errno::EINVAL));
                    continue;
                }
                let (reqid, mac) = m.out[0].remove(pick % m.out[0].len());
                r.otr_reqid = reqid;
                prop_assert_eq!(targ(&h, OVERLAY_TARG_DROP, &mut r), Ok(()));
                let e = m.entries.get_mut(&mac).unwrap();
                e.queue.pop_front();
                if e.queue.is_empty() {
                    e.pending = false;
                } else {
                    m.lookupq.push_back(mac);
                }
            }
            Op::Pkt { pick } => {
                let Some(&(reqid, mac)) = m.out[0].get(pick % m.out[0].len().max(1)) else {
                    prop_assert_eq!(h.pkt(7, &mut [0; 64]), Err(Errno::EINVAL));
                    continue;
                };
                let mut buf = [0u8; 64];
                let got = h.pkt(reqid, &mut buf);
                match m.entries[&mac].queue.front() {
                    Some(&(id, len)) => {
                        prop_assert_eq!(got, Ok(len.min(64)));
                        prop_assert_eq!(&buf[14..18], &id.to_be_bytes());
                    }
                    None => prop_assert_eq!(got, Err(Errno::EINVAL)),
                }
            }
            Op::SetDest { mac, dest } => {
                let mut c = crate::ioctl::cache_arg(
                    linkid,
                    EtherAddr(mac_of(mac)),
                    OverlayTargCacheEntry::new_zeroed(),
                );
                c.otc_entry.otce_dest = point(dest);
                prop_assert_eq!(targ(&h, OVERLAY_TARG_CACHE_SET, &mut c), Ok(()));
                let e = m.entries.entry(mac_of(mac)).or_default();
                e.valid = Some(dest);
                e.drop = false;
                m.send_all(mac_of(mac), dest);
            }
            Op::SetDrop { mac } => {
                let mut c = crate::ioctl::cache_arg(
                    linkid,
                    EtherAddr(mac_of(mac)),
                    OverlayTargCacheEntry::new_zeroed(),
                );
                c.otc_entry.otce_flags = OVERLAY_TARGET_CACHE_DROP;
                prop_assert_eq!(targ(&h, OVERLAY_TARG_CACHE_SET, &mut c), Ok(()));
                m.entries.entry(mac_of(mac)).or_default().drop = true;
            }
            Op::Remove { mac } => {
                let mut c = crate::ioctl::cache_arg(
                    linkid,
                    EtherAddr(mac_of(mac)),
                    OverlayTargCacheEntry::new_zeroed(),
                );
                let got = targ(&h, OVERLAY_TARG_CACHE_REMOVE, &mut c);
                match m.entries.get_mut(&mac_of(mac)) {
                    Some(e) => {
                        prop_assert_eq!(got, Ok(()));
                        e.valid = None;
                        e.drop = false;
                    }
                    None => prop_assert_eq!(got, Err(Errno::ENOENT)),
                }
            }
            Op::Flush => {
                let mut c = crate::ioctl::cache_arg(
                    linkid,
                    EtherAddr::ZERO,
                    OverlayTargCacheEntry::new_zeroed(),
                );
                prop_assert_eq!(targ(&h, OVERLAY_TARG_CACHE_FLUSH, &mut c), Ok(()));
                for e in m.entries.values_mut() {
                    e.valid = None;
                    e.drop = false;
                }
            }
            Op::Get { mac } => {
                let mut c = crate::ioctl::cache_arg(
                    linkid,
                    EtherAddr(mac_of(mac)),
                    OverlayTargCacheEntry::new_zeroed(),
                );
                let got = targ(&h, OVERLAY_TARG_CACHE_GET, &mut c)
                    .map(|()| (c.otc_entry.otce_flags, c.otc_entry.otce_dest.otp_ip));
                let want = match m.entries.get(&mac_of(mac)) {
                    Some(e) if e.drop => Ok((OVERLAY_TARGET_CACHE_DROP, In6Addr::UNSPECIFIED)),
                    Some(MEntry { valid: Some(d), .. }) => Ok((0, dest_ip(*d))),
                    _ => Err(Errno::ENOENT),
                };
                prop_assert_eq!(got, want);
            }
            Op::Iter { page } => {
                let mut marker = 0u64;
                let mut seen = Vec::new();
                loop {
                    let mut hdr = OverlayTargCacheIterHdr::new_zeroed();
                    hdr.otci_linkid = linkid;
                    hdr.otci_marker = marker;
                    hdr.otci_count = page;
                    let mut v = hdr.as_bytes().to_vec();
                    v.resize(otci_copy_size(page), 0);
                    targ_ioctl(&h, OVERLAY_TARG_CACHE_ITER, ROOT, &mut v, TargData::None).unwrap();
                    let hdr = OverlayTargCacheIterHdr::read_from_prefix(&v).unwrap().0;
                    prop_assert!(hdr.otci_count <= page);
                    for i in 0..hdr.otci_count as usize {
                        let off = OTCI_ENTS_OFFSET + i * 36;
                        let e = OverlayTargCacheEntry::read_from_prefix(&v[off..])
                            .unwrap()
                            .0;
                        seen.push((e.otce_mac.0, e.otce_flags));
                    }
                    marker = hdr.otci_marker;
                    if IterMarker::from_u64(marker).is_done() {
                        break;
                    }
                }
                let want: Vec<_> = m
                    .entries
                    .iter()
                    .filter(|(_, e)| e.drop || e.valid.is_some())
                    .map(|(mac, e)| (*mac, if e.drop { OVERLAY_TARGET_CACHE_DROP } else { 0 }))
                    .collect();
                prop_assert_eq!(seen, want);
            }
            Op::Close { ro: close_ro } => {
                let which = close_ro as usize;
                if close_ro {
                    drop(ro.take());
                    ro = Some(ov.open(OpenFlags::RDONLY, ROOT).unwrap());
                } else {
                    drop(core::mem::replace(
                        &mut h,
                        ov.open(OpenFlags::RDONLY, ROOT).unwrap(),
                    ));
                    h = rw(&ov);
                }
                let outs = core::mem::take(&mut m.out[which]);
                for (_, mac) in outs.into_iter().rev() {
                    m.lookupq.push_front(mac);
                }
            }
        }
        // Everything sent so far, in order and to the right place.
        let sent: Vec<(u32, u8)> = sock
            .sent
            .lock()
            .iter()
            .map(|(d, f)| {
                let b = f.bytes();
                let id = u32::from_be_bytes([b[22], b[23], b[24], b[25]]);
                (id, d.ip.0[15])
            })
            .collect();
        prop_assert_eq!(&sent, &m.sent);
        prop_assert_eq!(ov.lookup_queue().len(), m.lookupq.len());
    }
    // Teardown with requests outstanding: closing returns them.
    drop(h);
    drop(ro);
    ov.stop(&dev);
    ov.delete(linkid).unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn target_cache_matches_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}
