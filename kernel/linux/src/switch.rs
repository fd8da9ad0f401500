//! The virtual switch of one overlay device: its VNICs and the way
//! frames move between them and the overlay.
//!
//! On illumos, MAC switches frames among the VNICs of an overlay and
//! hands the overlay what is not for a local VNIC. Here the switch does
//! it: a frame from a VNIC goes to the VNIC that has its destination MAC
//! if one is local; broadcast and multicast go to every other local VNIC
//! and to the overlay; unicast to a MAC not on this host goes to the
//! overlay (whose target decides where). A frame from the overlay goes to
//! the VNIC with its destination MAC, or to every VNIC if it is
//! broadcast or multicast.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};

use overlay::abi::EtherAddr;
use overlay::buf::PktBuf;
use overlay::dev::{Device, TxScratch};
use overlay::platform::Frame;
use parking_lot::RwLock;

use crate::platform::LinuxPlatform;
use crate::tap::{Tap, poll_readable};

/// Counters of one VNIC, from the VNIC's point of view.
#[derive(Debug, Default)]
pub struct PortStats {
    /// Frames the VNIC sent (read from its TAP).
    pub out_frames: AtomicU64,
    pub out_bytes: AtomicU64,
    /// Frames delivered to the VNIC (written to its TAP).
    pub in_frames: AtomicU64,
    pub in_bytes: AtomicU64,
    /// Frames that could not be written to the TAP.
    pub in_drops: AtomicU64,
    /// Frames read that were too short for an Ethernet header.
    pub out_runts: AtomicU64,
    /// Frames read whose offload request could not be carried out.
    pub out_malformed: AtomicU64,
}

/// One VNIC attached to a switch.
#[derive(Debug)]
pub struct Port {
    pub linkid: u32,
    pub mac: EtherAddr,
    pub tap: Tap,
    pub stats: PortStats,
    stop: AtomicBool,
}

impl Port {
    pub fn new(linkid: u32, mac: EtherAddr, tap: Tap) -> Port {
        Port {
            linkid,
            mac,
            tap,
            stats: PortStats::default(),
            stop: AtomicBool::new(false),
        }
    }

    fn write(&self, frame: &[u8]) {
        self.write_vnet(&[0; crate::offload::VNET_HDR_LEN], frame, 1);
    }

    /// Writes a frame behind a given `virtio_net_hdr`; `count` is how
    /// many frames it stands for (a coalesced super-frame stands for
    /// several), for the counters.
    fn write_vnet(&self, hdr: &[u8], frame: &[u8], count: u64) {
        self.write_parts(&[hdr, frame], count);
    }

    /// Writes one frame given as parts (`virtio_net_hdr` first), which
    /// stands for `count` frames in the counters.
    fn write_parts(&self, parts: &[&[u8]], count: u64) {
        match self.tap.write_parts(parts) {
            Ok(n) => {
                self.stats.in_frames.fetch_add(count, Relaxed);
                let hdr = parts.first().map_or(0, |h| h.len());
                self.stats
                    .in_bytes
                    .fetch_add(n.saturating_sub(hdr) as u64, Relaxed);
            }
            Err(e) => {
                if self.stats.in_drops.fetch_add(count, Relaxed) == 0 {
                    tracing::warn!(vnic = self.tap.name(), error = %e, "cannot write to the VNIC");
                }
            }
        }
    }

    /// Asks the port's reader to stop.
    pub fn stop(&self) {
        self.stop.store(true, Relaxed);
    }
}

thread_local! {
    /// Where a receiving thread builds coalesced frames, kept between
    /// batches so that it is allocated once.
    static GRO_SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Counters of the switch itself.
#[derive(Debug, Default)]
pub struct SwitchStats {
    /// Frames from the overlay for a MAC no local VNIC has.
    pub rx_no_port: AtomicU64,
    /// Frames switched between local VNICs without the overlay.
    pub local_frames: AtomicU64,
}

/// The switch of one overlay device (the device's `Platform::Link`).
#[derive(Debug)]
pub struct VSwitch {
    pub linkid: u32,
    mtu: AtomicU32,
    ports: RwLock<Vec<Arc<Port>>>,
    dev: OnceLock<Weak<Device<LinuxPlatform>>>,
    pub stats: SwitchStats,
}

fn dst_of(frame: &[u8]) -> Option<EtherAddr> {
    frame
        .get(..6)
        .map(|d| EtherAddr([d[0], d[1], d[2], d[3], d[4], d[5]]))
}

impl VSwitch {
    pub fn new(linkid: u32, mtu: u32) -> VSwitch {
        VSwitch {
            linkid,
            mtu: AtomicU32::new(mtu),
            ports: RwLock::new(Vec::new()),
            dev: OnceLock::new(),
            stats: SwitchStats::default(),
        }
    }

    /// Tells the switch which device it serves (known only once the
    /// device exists, after its link).
    pub fn attach_device(&self, dev: &Arc<Device<LinuxPlatform>>) {
        let _ = self.dev.set(Arc::downgrade(dev));
    }

    pub fn mtu(&self) -> u32 {
        self.mtu.load(Relaxed)
    }

    pub fn set_mtu(&self, mtu: u32) {
        self.mtu.store(mtu, Relaxed);
        for p in self.ports.read().iter() {
            if let Err(e) = p.tap.set_mtu(mtu) {
                tracing::warn!(vnic = p.tap.name(), error = %e, "cannot set VNIC MTU");
            }
        }
    }

    pub fn ports(&self) -> Vec<Arc<Port>> {
        self.ports.read().clone()
    }

    pub fn has_ports(&self) -> bool {
        !self.ports.read().is_empty()
    }

    pub fn add(&self, port: Arc<Port>) {
        self.ports.write().push(port);
    }

    /// Removes a port; returns whether it was the last.
    pub fn remove(&self, linkid: u32) -> bool {
        let mut ports = self.ports.write();
        ports.retain(|p| p.linkid != linkid);
        ports.is_empty()
    }

    /// A frame from the overlay, up to the VNICs.
    pub fn deliver_up(&self, frame: PktBuf) {
        self.deliver_up_batch(&mut vec![frame]);
    }

    /// Frames from the overlay, up to the VNICs: each to the VNIC with
    /// its destination MAC, or to every VNIC if broadcast or multicast.
    /// Consecutive frames for one VNIC are written together, TCP
    /// segments of a flow coalesced ([`crate::gro`]). The vector is
    /// drained.
    pub fn deliver_up_batch(&self, frames: &mut Vec<PktBuf>) {
        let ports = self.ports.read();
        let mut run: Vec<&[u8]> = Vec::with_capacity(frames.len());
        let mut run_port: Option<&Arc<Port>> = None;
        let mut scratch = GRO_SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        let flush = |port: Option<&Arc<Port>>, run: &mut Vec<&[u8]>, scratch: &mut Vec<u8>| {
            if let Some(p) = port {
                crate::gro::coalesce(run, scratch, |parts, n| p.write_parts(parts, n));
            }
            run.clear();
        };
        for f in frames.iter() {
            let bytes = f.head();
            let Some(dst) = dst_of(bytes) else { continue };
            if dst.is_multicast() {
                flush(run_port.take(), &mut run, &mut scratch);
                for p in ports.iter() {
                    p.write(bytes);
                }
                continue;
            }
            let Some(p) = ports.iter().find(|p| p.mac == dst) else {
                self.stats.rx_no_port.fetch_add(1, Relaxed);
                continue;
            };
            if !run_port.is_some_and(|r| Arc::ptr_eq(r, p)) {
                flush(run_port.take(), &mut run, &mut scratch);
                run_port = Some(p);
            }
            run.push(bytes);
        }
        flush(run_port, &mut run, &mut scratch);
        drop(run);
        crate::pool::recycle(frames.drain(..));
        GRO_SCRATCH.with(|s| *s.borrow_mut() = scratch);
    }

    /// Frames a VNIC sent: switched locally, or handed to the overlay.
    pub fn from_port(
        &self,
        platform: &LinuxPlatform,
        src: &Port,
        frames: &mut Vec<PktBuf>,
        scratch: &mut TxScratch<LinuxPlatform>,
    ) {
        let mut to_overlay = Vec::with_capacity(frames.len());
        {
            let ports = self.ports.read();
            for f in frames.drain(..) {
                let Some(dst) = dst_of(f.head()).filter(|_| f.len() >= 14) else {
                    src.stats.out_runts.fetch_add(1, Relaxed);
                    continue;
                };
                src.stats.out_frames.fetch_add(1, Relaxed);
                src.stats.out_bytes.fetch_add(f.len() as u64, Relaxed);
                if dst.is_multicast() {
                    for p in ports.iter().filter(|p| p.linkid != src.linkid) {
                        p.write(f.head());
                    }
                    to_overlay.push(f);
                } else if let Some(p) = ports
                    .iter()
                    .find(|p| p.mac == dst && p.linkid != src.linkid)
                {
                    self.stats.local_frames.fetch_add(1, Relaxed);
                    match f
                        .tso
                        .and_then(|t| crate::offload::vnet_hdr_for(f.head(), &t))
                    {
                        // A super-frame goes to the other VNIC whole.
                        Some(h) => p.write_vnet(&h, f.head(), 1),
                        None => p.write(f.head()),
                    }
                } else {
                    to_overlay.push(f);
                }
            }
        }
        if to_overlay.is_empty() {
            return;
        }
        if let Some(dev) = self.dev.get().and_then(Weak::upgrade) {
            dev.tx(platform, to_overlay, scratch);
        }
    }
}

/// Reads from a TAP per wakeup.
const READ_BATCH: usize = 64;
/// Frames up to this size are copied out of the read buffer; larger ones
/// keep it.
const COPY_MAX: usize = 2048;
/// Headroom in front of every frame read: room for the plugin's header.
const HEADROOM: usize = 64;
/// The largest read: a TCP super-frame and its virtio header.
const READ_MAX: usize = crate::offload::VNET_HDR_LEN + 65535 + 18;

/// The reader of one VNIC: reads frames from its TAP in batches, turns
/// super-frames into segments, and switches them, until the port is
/// stopped.
pub fn port_reader(platform: LinuxPlatform, switch: Arc<VSwitch>, port: Arc<Port>) {
    let mut frames = Vec::with_capacity(READ_BATCH);
    let mut scratch = TxScratch::default();
    // Frames are read straight into a frame buffer: a large one (a TCP
    // super-frame) is handed on as it is and a new buffer taken; a small
    // one is copied out and the buffer read into again.
    let mut big = crate::pool::big(HEADROOM, READ_MAX);
    let fd = port.tap.fd();
    // After a batch that filled up, more is surely queued: read again
    // without asking poll(2) first.
    let mut more = false;
    while !port.stop.load(Relaxed) {
        if !more {
            match poll_readable(fd, 200) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!(vnic = port.tap.name(), error = %e, "poll failed");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    continue;
                }
            }
        }
        more = true;
        for _ in 0..READ_BATCH {
            big.clear(HEADROOM);
            // SAFETY: read_raw writes at most READ_MAX bytes at the
            // pointer fill_raw gives it and reports how many.
            let n = match unsafe { big.fill_raw(READ_MAX, |p, cap| port.tap.read_raw(p, cap)) } {
                Ok(0) | Err(_) => {
                    more = false;
                    break;
                }
                Ok(n) => n,
            };
            let f = if n > COPY_MAX {
                std::mem::replace(&mut big, crate::pool::big(HEADROOM, READ_MAX))
            } else {
                PktBuf::new(big.bytes())
            };
            if crate::offload::from_vnic_buf(f, &mut frames).is_err() {
                port.stats.out_malformed.fetch_add(1, Relaxed);
            }
        }
        if !frames.is_empty() {
            tracing::trace!(vnic = port.tap.name(), frames = frames.len(), "read");
            switch.from_port(&platform, &port, &mut frames, &mut scratch);
        }
    }
}
