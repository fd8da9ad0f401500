//! Underlay socket multiplexing (`overlay_mux.c`).
//!
//! A mux is one bound underlay socket shared by every started device with
//! the same socket parameters (domain, type, protocol, address, port).
//! Devices are found in it by virtual network id. A mux belongs to one
//! plugin: a device of another plugin asking for the same address gets
//! `EEXIST`. It is opened when its first device starts and closed when
//! the last one stops (the socket closes when the `Mux` is dropped).

use alloc::sync::Arc;

use arrayvec::ArrayVec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use foldhash::fast::FixedState;
use hashbrown::HashMap;

use crate::dev::Device;
use crate::platform::{Frame, Platform, SocketParams};
use crate::plugin::Plugin;

/// Receive-side drops that happen before a device is known.
#[derive(Debug, Default)]
pub struct MuxStats {
    pub rx_frames: AtomicU64,
    /// The plugin refused the header (runt, flag missing, garbage).
    pub rx_decap_failed: AtomicU64,
    /// No device with that virtual network id.
    pub rx_unknown_vnetid: AtomicU64,
}

/// The devices of a mux, by virtual network id.
type DeviceTable<P> = HashMap<u64, Arc<Device<P>>, FixedState>;

/// One shared underlay socket.
pub struct Mux<P: Platform> {
    params: SocketParams,
    plugin: Arc<Plugin>,
    pub(crate) socket: Option<P::Socket>,
    devices: lock_api::RwLock<P::RawRwLock, DeviceTable<P>>,
    pub stats: MuxStats,
}

impl<P: Platform> core::fmt::Debug for Mux<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mux")
            .field("params", &self.params)
            .field("plugin", &self.plugin.name())
            .finish_non_exhaustive()
    }
}

impl<P: Platform> Mux<P> {
    pub(crate) fn new(params: SocketParams, plugin: Arc<Plugin>, seed: u64) -> Self {
        Mux {
            params,
            plugin,
            socket: None,
            devices: lock_api::RwLock::new(HashMap::with_hasher(FixedState::with_seed(seed))),
            stats: MuxStats::default(),
        }
    }

    pub fn params(&self) -> &SocketParams {
        &self.params
    }

    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// The bound socket (absent only while the mux is being opened).
    pub fn socket(&self) -> Option<&P::Socket> {
        self.socket.as_ref()
    }

    pub(crate) fn add(&self, vnetid: u64, dev: Arc<Device<P>>) -> Result<(), crate::Errno> {
        let mut devs = self.devices.write();
        if devs.contains_key(&vnetid) {
            return Err(crate::Errno::EEXIST);
        }
        devs.insert(vnetid, dev);
        Ok(())
    }

    /// Removes a device; returns true if the mux is now empty.
    pub(crate) fn remove(&self, vnetid: u64) -> bool {
        let mut devs = self.devices.write();
        devs.remove(&vnetid);
        devs.is_empty()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.devices.read().is_empty()
    }

    /// Finds the device for a virtual network id.
    #[inline]
    pub fn device(&self, vnetid: u64) -> Option<Arc<Device<P>>> {
        self.devices.read().get(&vnetid).cloned()
    }

    /// The receive path for one datagram (UDP payload): see
    /// [`Mux::rx_batch`].
    #[inline]
    pub fn rx(&self, platform: &P, frame: P::Frame) {
        self.rx_batch(platform, core::iter::once(frame));
    }

    /// The receive path for a batch of datagrams (UDP payloads): each is
    /// decapsulated, its device found by virtual network id, and the
    /// inner frame delivered up. Malformed or unknown input is dropped and
    /// counted. The device table is read-locked once per batch, and
    /// counters are updated once per run of frames for one device, so a
    /// frame costs no shared-memory write of the driver's own.
    ///
    /// Frames are delivered with the table's read lock held; only device
    /// start and stop write it, and delivery never starts or stops one.
    pub fn rx_batch(&self, platform: &P, frames: impl IntoIterator<Item = P::Frame>) {
        let devs = self.devices.read();
        let (mut n, mut bad, mut unknown) = (0u64, 0u64, 0u64);
        // The current run: its device and its frames, delivered together.
        // The chain lives on the stack, so this path never allocates (on
        // illumos it runs in the ksocket receive callback).
        let mut run: Option<(u64, &Arc<Device<P>>)> = None;
        let mut chain: ArrayVec<P::Frame, RX_CHAIN> = ArrayVec::new();
        for mut frame in frames {
            n += 1;
            let Ok((vnetid, hdr)) = self.plugin.decap(frame.head()) else {
                bad += 1;
                continue;
            };
            if frame.strip(hdr).is_err() {
                bad += 1;
                continue;
            }
            let dev = match run {
                Some((id, dev)) if id == vnetid => dev,
                _ => {
                    let Some(dev) = devs.get(&vnetid) else {
                        unknown += 1;
                        continue;
                    };
                    if let Some((_, done)) = run.replace((vnetid, dev)) {
                        deliver(platform, done, &mut chain);
                    }
                    dev
                }
            };
            if chain.is_full() {
                deliver(platform, dev, &mut chain);
            }
            chain.push(frame);
        }
        if let Some((_, dev)) = run {
            deliver(platform, dev, &mut chain);
        }
        drop(devs);
        self.stats.rx_frames.fetch_add(n, Relaxed);
        if bad != 0 {
            self.stats.rx_decap_failed.fetch_add(bad, Relaxed);
        }
        if unknown != 0 {
            self.stats.rx_unknown_vnetid.fetch_add(unknown, Relaxed);
        }
    }
}

/// Frames delivered to a device in one chain at most: as many as one UDP
/// GSO/GRO super-datagram carries (Linux's `UDP_MAX_SEGMENTS`), so that
/// the segments of one TCP super-frame reach the link together and can be
/// coalesced there again. A caller that hands [`Mux::rx_batch`] whole
/// super-datagrams, at most this many frames at a time, never has one
/// cut in two.
pub const RX_CHAIN: usize = 64;

/// Delivers (and counts) a chain of frames for one device, emptying it.
fn deliver<P: Platform, const N: usize>(
    platform: &P,
    dev: &Device<P>,
    chain: &mut ArrayVec<P::Frame, N>,
) {
    let frames = chain.len() as u64;
    let bytes = chain.iter().map(|f| f.len() as u64).sum();
    if dev.deliver_chain(platform, chain.drain(..)) {
        dev.count_rx(frames, bytes, 0);
    } else {
        dev.count_rx(0, 0, frames);
    }
}
