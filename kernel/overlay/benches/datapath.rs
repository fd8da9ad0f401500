//! Packet-path benchmarks: the transmit hit path (lookup + encap), the
//! receive path (decap + demux), dynamic lookup at 1k, 100k and 1M
//! entries, and memory per cache entry.
//!
//! Run: `cargo bench -p overlay --bench datapath`. Memory per entry is
//! printed first, measured with a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use overlay::abi::common::*;
use overlay::abi::targ::*;
use overlay::abi::{EtherAddr, In6Addr};
use overlay::dev::TxScratch;
use overlay::target::{Cache, Dest};
use overlay::testing::{MemFrame, MemPlatform};
use overlay::{Cred, OpenFlags, Overlay};
use zerocopy::FromZeros;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n, Relaxed);
        LIVE.fetch_sub(l.size(), Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Pseudo-random unicast MACs (xorshift), distinct with overwhelming
/// probability.
fn macs(n: usize) -> Vec<EtherAddr> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_be_bytes();
            EtherAddr([b[2] & 0xfe | 0x02, b[3], b[4], b[5], b[6], b[7]])
        })
        .collect()
}

fn filled(n: usize) -> (Cache<MemFrame>, Vec<EtherAddr>) {
    let keys = macs(n);
    let mut c = Cache::new(42);
    for (i, m) in keys.iter().enumerate() {
        c.set_dest(
            *m,
            Dest::new(
                EtherAddr::ZERO,
                In6Addr::from(Ipv4Addr::from(i as u32)),
                4789,
            ),
        );
    }
    (c, keys)
}

fn memory_per_entry() {
    for n in [1_000usize, 100_000, 1_000_000] {
        let keys = macs(n);
        let before = LIVE.load(Relaxed);
        let mut c: Cache<MemFrame> = Cache::new(42);
        for m in &keys {
            c.set_dest(*m, Dest::default());
        }
        let bytes = LIVE.load(Relaxed) - before;
        println!(
            "memory per cache entry at {n:>7} entries: {:.1} bytes",
            bytes as f64 / n as f64
        );
        drop(c);
    }
}

struct Rig {
    ov: Arc<Overlay<MemPlatform>>,
    _h: overlay::CtlHandle<MemPlatform>,
}

fn rig(mode: u32) -> Rig {
    assert_eq!(overlay_encap_vxlan::overlay_vxlan_init(), 0);
    let ov = Overlay::new(MemPlatform::default());
    let h = ov.open(OpenFlags::RDWR_EXCL, Cred::ROOT).unwrap();
    let dev = ov.create(1, 4242, "vxlan").unwrap();
    ov.setprop(&dev, 4, &In6Addr::from(Ipv4Addr::new(192, 0, 2, 1)).0)
        .unwrap();
    let mut a = OverlayTargAssociate::new_zeroed();
    a.ota_linkid = 1;
    a.ota_mode = mode;
    a.ota_id = 1;
    a.ota_provides = OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT;
    a.ota_point =
        OverlayTargetPoint::new(EtherAddr::ZERO, Ipv4Addr::new(192, 0, 2, 2).into(), 4789);
    ov.associate(&a).unwrap();
    ov.activate(1).unwrap();
    ov.start(&dev).unwrap();
    Rig { ov, _h: h }
}

fn frame(dst: EtherAddr, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[23] = 17;
    f
}

const BATCH: usize = 32;

fn bench(c: &mut Criterion) {
    memory_per_entry();

    let r = rig(OVERLAY_TARGET_DYNAMIC);
    let dev = r.ov.device(1).unwrap();
    let dsts = macs(1024);
    for (i, m) in dsts.iter().enumerate() {
        let e = OverlayTargCacheEntry {
            otce_mac: *m,
            otce_flags: 0,
            otce_dest: OverlayTargetPoint::new(
                EtherAddr::ZERO,
                Ipv4Addr::from(0xc000_0200 + i as u32).into(),
                4789,
            ),
        };
        r.ov.cache_set(1, &e).unwrap();
    }
    let sock = r.ov.platform().sockets.lock()[0].clone();
    let mux = r.ov.muxes()[0].clone();

    let mut g = c.benchmark_group("tx_hit");
    g.throughput(Throughput::Elements(BATCH as u64));
    for len in [64usize, 1500] {
        let mut scratch = TxScratch::default();
        g.bench_function(format!("{len}B"), |b| {
            b.iter_batched(
                || {
                    sock.sent.lock().clear();
                    (0..BATCH)
                        .map(|i| MemFrame::new(&frame(dsts[i * 31 % dsts.len()], len)))
                        .collect::<Vec<_>>()
                },
                |frames| r.ov.tx(&dev, frames, &mut scratch),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    // Encapsulated datagrams for the receive path.
    let mut wires = Vec::new();
    for len in [64usize, 1500] {
        sock.sent.lock().clear();
        r.ov.tx(
            &dev,
            [MemFrame::new(&frame(dsts[0], len))],
            &mut TxScratch::default(),
        );
        wires.push((len, sock.sent.lock().pop().unwrap().1.bytes().to_vec()));
    }
    let mut g = c.benchmark_group("rx");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (len, wire) in &wires {
        g.bench_function(format!("{len}B"), |b| {
            b.iter_batched(
                || {
                    dev.link().delivered.lock().clear();
                    (0..BATCH).map(|_| MemFrame::new(wire)).collect::<Vec<_>>()
                },
                |frames| mux.rx_batch(r.ov.platform(), frames),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

    // Lookup cost against table size, two ways: probing every key in
    // a scattered order (the working set is the whole table, so at 1M
    // entries each probe is a cache and TLB miss: memory latency, not
    // the table, is measured), and probing a fixed hot set of 1024 keys
    // (what a host with a thousand active peers sees, whatever the table
    // size: the table's own cost).
    let mut g = c.benchmark_group("dynamic_lookup_hot1024");
    for n in [1_000usize, 100_000, 1_000_000] {
        let (cache, keys) = filled(n);
        let hot: Vec<EtherAddr> = (0..1024).map(|i| keys[(i * 7919) % keys.len()]).collect();
        let mut i = 0;
        g.bench_function(format!("{n}"), |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                black_box(cache.lookup(black_box(&hot[i])))
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("dynamic_lookup_all");
    for n in [1_000usize, 100_000, 1_000_000] {
        let (cache, keys) = filled(n);
        // Probe in an order unrelated to insertion, over every key.
        let probe: Vec<EtherAddr> = (0..keys.len())
            .map(|i| keys[(i * 7919) % keys.len()])
            .collect();
        let mut i = 0;
        g.bench_function(format!("{n}"), |b| {
            b.iter(|| {
                i = if i + 1 == probe.len() { 0 } else { i + 1 };
                black_box(cache.lookup(black_box(&probe[i])))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
