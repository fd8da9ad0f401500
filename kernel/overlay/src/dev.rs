//! Overlay devices (`overlay.c`): state, properties, and the transmit
//! path.
//!
//! A device is created with a link id, an encapsulation plugin and a
//! virtual network id. Until it is *activated* its properties may change;
//! activation requires every required plugin property and an association
//! with varpd, and freezes them. It is *started* when its first MAC client
//! appears: it then joins the mux for its plugin's socket and can send
//! and receive.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::abi::EtherAddr;
use crate::abi::common::*;
use crate::driver::LookupQueue;
use crate::errno::Errno;
use crate::ether;
use crate::mux::Mux;
use crate::platform::{Frame, Platform, UnderlayDest};
use crate::plugin::abi::OVEP_HDR_MAX;
use crate::plugin::{PluginInstance, registry};
use crate::prop::PropInfo;
use crate::target::{Cache, DropReason, Enqueued, Lookup, Target};

/// Device flags (`overlay_dev_flag_t`).
pub mod flags {
    pub const ACTIVATED: u32 = 0x01;
    pub const IN_MUX: u32 = 0x02;
    pub const DEGRADED: u32 = 0x08;
    /// Drop everything (set while the device is being torn down).
    pub const MDDROP: u32 = 0x10;
    /// Associated with a varpd instance.
    pub const VARPD: u32 = 0x20;
}

/// Generic property ids.
pub const PROP_MTU: i32 = 0;
pub const PROP_VNETID: i32 = 1;
pub const PROP_ENCAP: i32 = 2;
pub const PROP_VARPD_ID: i32 = 3;
/// Number of generic properties; plugin properties follow.
pub const NGENERIC: i32 = 4;
const GENERIC_NAMES: [&str; 4] = ["mtu", "vnetid", "encap", "varpd/id"];

/// Counters of one device. Each is a plain count since creation.
#[derive(Debug, Default)]
pub struct DevStats {
    pub tx_frames: AtomicU64,
    pub tx_bytes: AtomicU64,
    pub rx_frames: AtomicU64,
    pub rx_bytes: AtomicU64,
    /// Frames sent while the device was not started, or torn down.
    pub tx_drop_stopped: AtomicU64,
    /// No target: the device is not associated with varpd.
    pub tx_drop_no_target: AtomicU64,
    /// The frame is too short for an Ethernet header.
    pub tx_drop_bad_header: AtomicU64,
    /// The cache entry says drop, or varpd answered drop.
    pub tx_drop_entry: AtomicU64,
    /// The entry's queue was full (128 KiB) while awaiting varpd.
    pub tx_drop_queue_full: AtomicU64,
    /// Memory for a new cache entry or a waiting frame could not be had
    /// without sleeping.
    pub tx_drop_nomem: AtomicU64,
    /// The plugin could not encapsulate, the header did not fit, or the
    /// send batch could not grow.
    pub tx_drop_encap: AtomicU64,
    /// The plugin's destination type is not IP and port.
    pub tx_drop_dest_type: AtomicU64,
    /// Frames received for a stopped device.
    pub rx_drop_stopped: AtomicU64,
    /// Cache misses (frames that had to wait for varpd).
    pub misses: AtomicU64,
    /// Lookups handed to varpd.
    pub lookups: AtomicU64,
}

/// What the transmit path of a device needs, behind one lock.
#[derive(Debug)]
pub(crate) struct TxState<P: Platform> {
    pub(crate) mux: Option<Arc<Mux<P>>>,
    pub(crate) target: Option<Target<P::Frame>>,
}

/// Control state, serialised like the illumos MAC perimeter.
#[derive(Debug)]
pub(crate) struct CtlState {
    pub(crate) mtu: u32,
    pub(crate) varpd_id: u64,
    pub(crate) status_msg: [u8; OVERLAY_STATUS_BUFLEN],
}

/// Reusable buffers for a thread that transmits, so that the hit path
/// does not allocate.
#[derive(Debug)]
pub struct TxScratch<P: Platform> {
    pub(crate) batch: Vec<(UnderlayDest, P::Frame)>,
    misses: Vec<(EtherAddr, P::Frame)>,
}

impl<P: Platform> Default for TxScratch<P> {
    fn default() -> Self {
        // Nothing allocated up front: the buffers grow, fallibly, with
        // use (a kernel host may have no memory to give without sleeping).
        TxScratch {
            batch: Vec::new(),
            misses: Vec::new(),
        }
    }
}

/// One overlay device.
pub struct Device<P: Platform> {
    linkid: u32,
    vnetid: AtomicU64,
    flags: AtomicU32,
    plugin: PluginInstance,
    pub(crate) link: P::Link,
    pub(crate) tx: lock_api::RwLock<P::RawRwLock, TxState<P>>,
    pub(crate) ctl: lock_api::Mutex<P::RawMutex, CtlState>,
    /// Lookups handed to varpd and not yet answered.
    pub(crate) outstanding: AtomicU32,
    lookups: Arc<LookupQueue<P>>,
    seed: u64,
    self_ref: Weak<Device<P>>,
    pub stats: DevStats,
}

impl<P: Platform> core::fmt::Debug for Device<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Device")
            .field("linkid", &self.linkid)
            .field("vnetid", &self.vnetid())
            .field("flags", &self.flags())
            .field("plugin", &self.plugin.plugin().name())
            .finish_non_exhaustive()
    }
}

impl<P: Platform> Device<P> {
    pub(crate) fn new(
        linkid: u32,
        vnetid: u64,
        plugin: PluginInstance,
        link: P::Link,
        lookups: Arc<LookupQueue<P>>,
        seed: u64,
    ) -> Arc<Self> {
        Arc::new_cyclic(|self_ref| Device {
            linkid,
            vnetid: AtomicU64::new(vnetid),
            flags: AtomicU32::new(0),
            plugin,
            link,
            tx: lock_api::RwLock::new(TxState {
                mux: None,
                target: None,
            }),
            ctl: lock_api::Mutex::new(CtlState {
                mtu: OVERLAY_MTU_DEF,
                varpd_id: 0,
                status_msg: [0; OVERLAY_STATUS_BUFLEN],
            }),
            outstanding: AtomicU32::new(0),
            lookups,
            seed,
            self_ref: self_ref.clone(),
            stats: DevStats::default(),
        })
    }

    pub fn linkid(&self) -> u32 {
        self.linkid
    }

    pub fn vnetid(&self) -> u64 {
        self.vnetid.load(Relaxed)
    }

    pub fn flags(&self) -> u32 {
        self.flags.load(Relaxed)
    }

    pub(crate) fn set_flags(&self, f: u32) {
        self.flags.fetch_or(f, Relaxed);
    }

    pub(crate) fn clear_flags(&self, f: u32) {
        self.flags.fetch_and(!f, Relaxed);
    }

    pub fn plugin(&self) -> &PluginInstance {
        &self.plugin
    }

    pub fn link(&self) -> &P::Link {
        &self.link
    }

    pub fn mtu(&self) -> u32 {
        self.ctl.lock().mtu
    }

    /// The mux the device is in, while started.
    pub fn mux(&self) -> Option<Arc<Mux<P>>> {
        self.tx.read().mux.clone()
    }

    /// Whether a target exists and in which mode.
    pub fn target_mode(&self) -> u32 {
        match self.tx.read().target {
            None => OVERLAY_TARGET_NONE,
            Some(Target::Point(_)) => OVERLAY_TARGET_POINT,
            Some(Target::Dynamic(_)) => OVERLAY_TARGET_DYNAMIC,
        }
    }

    pub(crate) fn new_cache(&self) -> Cache<P::Frame> {
        Cache::new(self.seed)
    }

    // ---------------------------------------------------------------
    // Data path
    // ---------------------------------------------------------------

    /// Delivers a received inner frame up to the device's MAC clients
    /// (the path of `OVERLAY_TARG_INJECT`).
    pub fn deliver(&self, platform: &P, frame: P::Frame) {
        let len = frame.len() as u64;
        if self.deliver_chain(platform, core::iter::once(frame)) {
            self.count_rx(1, len, 0);
        } else {
            self.count_rx(0, 0, 1);
        }
    }

    /// Delivers a chain of frames up unless the device is stopped (then
    /// they are freed); the caller counts. Returns whether it delivered.
    #[inline]
    pub(crate) fn deliver_chain(
        &self,
        platform: &P,
        chain: impl Iterator<Item = P::Frame>,
    ) -> bool {
        if self.flags() & (flags::MDDROP | flags::IN_MUX) != flags::IN_MUX {
            chain.for_each(drop);
            return false;
        }
        platform.deliver_batch(&self.link, chain);
        true
    }

    pub(crate) fn count_rx(&self, frames: u64, bytes: u64, dropped: u64) {
        if frames != 0 {
            self.stats.rx_frames.fetch_add(frames, Relaxed);
            self.stats.rx_bytes.fetch_add(bytes, Relaxed);
        }
        if dropped != 0 {
            self.stats.rx_drop_stopped.fetch_add(dropped, Relaxed);
        }
    }

    /// Encapsulates one frame for `dest` into the batch.
    #[inline]
    fn encap_into(
        &self,
        vnetid: u64,
        dest: &crate::target::Dest,
        mut frame: P::Frame,
        batch: &mut Vec<(UnderlayDest, P::Frame)>,
    ) -> bool {
        let mut hdr = [0u8; OVEP_HDR_MAX];
        let Ok((n, src_port)) = self.plugin.encap(vnetid, frame.head(), &mut hdr) else {
            return false;
        };
        if frame.prepend(&hdr[..n]).is_err() {
            return false;
        }
        if batch.try_reserve(1).is_err() {
            return false;
        }
        batch.push((
            UnderlayDest {
                ip: dest.ip(),
                port: dest.port,
                src_port,
            },
            frame,
        ));
        true
    }

    /// The transmit path (`overlay_m_tx`): each frame is looked up in the
    /// target, encapsulated and sent; a frame whose destination is not
    /// known yet waits on its cache entry while varpd is asked. Never
    /// blocks and, once the scratch buffers have grown, never allocates
    /// on a cache hit.
    pub fn tx(
        &self,
        platform: &P,
        frames: impl IntoIterator<Item = P::Frame>,
        scratch: &mut TxScratch<P>,
    ) {
        let vnetid = self.vnetid();
        let dest_ok = self.plugin.plugin().dest() == (OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT);
        let (mut sent, mut bytes, mut dropped_entry, mut encap_fail, mut bad) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        let mux;
        {
            let st = self.tx.read();
            let Some(m) = st
                .mux
                .as_ref()
                .filter(|_| self.flags() & flags::MDDROP == 0)
            else {
                let n = frames.into_iter().count() as u64;
                self.stats.tx_drop_stopped.fetch_add(n, Relaxed);
                return;
            };
            mux = m.clone();
            let Some(target) = st.target.as_ref() else {
                let n = frames.into_iter().count() as u64;
                self.stats.tx_drop_no_target.fetch_add(n, Relaxed);
                return;
            };
            if !dest_ok {
                let n = frames.into_iter().count() as u64;
                self.stats.tx_drop_dest_type.fetch_add(n, Relaxed);
                return;
            }
            for frame in frames {
                let Some(dst) = ether::dst_mac(frame.head()) else {
                    bad += 1;
                    continue;
                };
                let len = frame.len() as u64;
                let dest = match target {
                    Target::Point(d) => *d,
                    Target::Dynamic(cache) => match cache.lookup(&dst) {
                        Lookup::Send(d) => d,
                        Lookup::Drop => {
                            dropped_entry += 1;
                            continue;
                        }
                        Lookup::Miss => {
                            if scratch.misses.try_reserve(1).is_err() {
                                self.stats.tx_drop_nomem.fetch_add(1, Relaxed);
                                continue;
                            }
                            scratch.misses.push((dst, frame));
                            continue;
                        }
                    },
                };
                if self.encap_into(vnetid, &dest, frame, &mut scratch.batch) {
                    sent += 1;
                    bytes += len;
                } else {
                    encap_fail += 1;
                }
            }
        }
        let mut posted = false;
        if !scratch.misses.is_empty() {
            posted = self.tx_slow(
                vnetid,
                scratch,
                &mut sent,
                &mut bytes,
                &mut dropped_entry,
                &mut encap_fail,
            );
        }
        if let Some(sock) = mux.socket() {
            platform.socket_send(sock, &mut scratch.batch);
        }
        scratch.batch.clear();
        if posted {
            // After the hits went out: a host answering LOOKUPs here
            // (overlayd) does not delay them.
            platform.lookups_posted();
        }
        let s = &self.stats;
        if sent != 0 {
            s.tx_frames.fetch_add(sent, Relaxed);
            s.tx_bytes.fetch_add(bytes, Relaxed);
        }
        if dropped_entry != 0 {
            s.tx_drop_entry.fetch_add(dropped_entry, Relaxed);
        }
        if encap_fail != 0 {
            s.tx_drop_encap.fetch_add(encap_fail, Relaxed);
        }
        if bad != 0 {
            s.tx_drop_bad_header.fetch_add(bad, Relaxed);
        }
    }

    /// The miss path: queue frames on their entries under the write lock,
    /// then post newly pending entries for lookup. Returns whether any
    /// was posted.
    #[cold]
    fn tx_slow(
        &self,
        vnetid: u64,
        scratch: &mut TxScratch<P>,
        sent: &mut u64,
        bytes: &mut u64,
        dropped_entry: &mut u64,
        encap_fail: &mut u64,
    ) -> bool {
        let (mut full, mut nomem, mut misses, mut posted) = (0, 0, 0, false);
        {
            let mut st = self.tx.write();
            let Some(Target::Dynamic(cache)) = st.target.as_mut() else {
                // Re-associated meanwhile: count the frames as unsent.
                let n = scratch.misses.drain(..).count() as u64;
                self.stats.tx_drop_no_target.fetch_add(n, Relaxed);
                return false;
            };
            for (dst, frame) in scratch.misses.drain(..) {
                let len = frame.len();
                match cache.enqueue(dst, frame, len) {
                    Enqueued::Queued { post } => {
                        misses += 1;
                        // Posted under the target lock, so that an entry
                        // whose post fails is never left pending with no
                        // lookup coming: it is unmarked, and the next
                        // frame posts again.
                        if post {
                            if self.lookups.try_push(&self.self_ref, dst).is_ok() {
                                posted = true;
                            } else {
                                cache.unpend(&dst);
                            }
                        }
                    }
                    Enqueued::Send(dest, frame) => {
                        if self.encap_into(vnetid, &dest, frame, &mut scratch.batch) {
                            *sent += 1;
                            *bytes += len as u64;
                        } else {
                            *encap_fail += 1;
                        }
                    }
                    Enqueued::Dropped(_, DropReason::EntryDrop) => *dropped_entry += 1,
                    Enqueued::Dropped(_, DropReason::QueueFull) => full += 1,
                    Enqueued::Dropped(_, DropReason::NoMemory) => nomem += 1,
                }
            }
        }
        if posted {
            self.lookups.notify();
        }
        self.stats.misses.fetch_add(misses, Relaxed);
        if full != 0 {
            self.stats.tx_drop_queue_full.fetch_add(full, Relaxed);
        }
        if nomem != 0 {
            self.stats.tx_drop_nomem.fetch_add(nomem, Relaxed);
        }
        posted
    }

    /// Encapsulates and sends frames released from a cache entry (after a
    /// `RESPOND` or `CACHE_SET`), outside any target lock.
    pub(crate) fn send_released(
        &self,
        platform: &P,
        dest: &crate::target::Dest,
        frames: impl IntoIterator<Item = (P::Frame, usize)>,
    ) {
        let Some(mux) = self.mux() else {
            let n = frames.into_iter().count() as u64;
            self.stats.tx_drop_stopped.fetch_add(n, Relaxed);
            return;
        };
        let vnetid = self.vnetid();
        let mut batch = Vec::new();
        let (mut sent, mut bytes, mut fail) = (0, 0, 0);
        for (f, len) in frames {
            if self.encap_into(vnetid, dest, f, &mut batch) {
                sent += 1;
                bytes += len as u64;
            } else {
                fail += 1;
            }
        }
        if let Some(sock) = mux.socket() {
            platform.socket_send(sock, &mut batch);
        }
        self.stats.tx_frames.fetch_add(sent, Relaxed);
        self.stats.tx_bytes.fetch_add(bytes, Relaxed);
        self.stats.tx_drop_encap.fetch_add(fail, Relaxed);
    }

    // ---------------------------------------------------------------
    // Properties
    // ---------------------------------------------------------------

    /// `OVERLAY_IOC_NPROPS`.
    pub fn nprops(&self) -> i32 {
        NGENERIC + self.plugin.plugin().props().len() as i32
    }

    /// Resolves a property id (`-1`: by name, generic names first, then
    /// the plugin's). illumos never found plugin properties by name in
    /// GETPROP/SETPROP (a malformed loop); here every path resolves both.
    pub fn resolve_prop(&self, id: i32, name: &str) -> Result<i32, Errno> {
        match id {
            -1 => {
                if let Some(i) = GENERIC_NAMES.iter().position(|n| *n == name) {
                    return Ok(i as i32);
                }
                self.plugin
                    .plugin()
                    .props()
                    .iter()
                    .position(|n| n == name)
                    .map(|i| NGENERIC + i as i32)
                    .ok_or(Errno::ENOENT)
            }
            // illumos bound-checked plugin ids with `>` instead of `>=`.
            id if id < -1 || id >= self.nprops() => Err(Errno::EINVAL),
            id => Ok(id),
        }
    }

    /// The name of a resolved property id.
    pub fn prop_name(&self, id: i32) -> &str {
        if id < NGENERIC {
            GENERIC_NAMES[id as usize]
        } else {
            &self.plugin.plugin().props()[(id - NGENERIC) as usize]
        }
    }

    /// `OVERLAY_IOC_PROPINFO` for a resolved id.
    pub fn propinfo(&self, id: i32) -> Result<PropInfo, Errno> {
        let name = self.prop_name(id);
        let mut p = match id {
            PROP_MTU => {
                let mut p = PropInfo::new(name, OVERLAY_PROP_T_UINT, OVERLAY_PROP_PERM_RW);
                p.set_default(&OVERLAY_MTU_DEF.to_ne_bytes())?;
                p.add_range_uint32(OVERLAY_MTU_MIN, OVERLAY_MTU_MAX);
                p
            }
            PROP_VNETID => PropInfo::new(name, OVERLAY_PROP_T_UINT, OVERLAY_PROP_PERM_RW),
            PROP_ENCAP => {
                let mut p = PropInfo::new(name, OVERLAY_PROP_T_STRING, OVERLAY_PROP_PERM_READ);
                for n in registry::names() {
                    p.add_range_str(n.as_bytes());
                }
                p
            }
            PROP_VARPD_ID => PropInfo::new(name, OVERLAY_PROP_T_UINT, OVERLAY_PROP_PERM_READ),
            _ => self.plugin.plugin().propinfo(name)?,
        };
        p.set_name(name.as_bytes());
        Ok(p)
    }

    /// `OVERLAY_IOC_GETPROP` for a resolved id; returns the value length
    /// (0: unset).
    pub fn getprop(&self, id: i32, buf: &mut [u8; OVERLAY_PROP_SIZEMAX]) -> Result<usize, Errno> {
        let ctl = self.ctl.lock();
        let put = |buf: &mut [u8; OVERLAY_PROP_SIZEMAX], v: &[u8]| {
            buf[..v.len()].copy_from_slice(v);
            v.len()
        };
        Ok(match id {
            PROP_MTU => put(buf, &ctl.mtu.to_ne_bytes()),
            PROP_VNETID => put(buf, &self.vnetid().to_ne_bytes()),
            PROP_ENCAP => {
                let n = self.plugin.plugin().name().as_bytes();
                let len = put(buf, n);
                buf[len] = 0;
                len + 1
            }
            PROP_VARPD_ID => {
                if self.flags() & flags::VARPD != 0 {
                    put(buf, &ctl.varpd_id.to_ne_bytes())
                } else {
                    0
                }
            }
            _ => self.plugin.getprop(self.prop_name(id), buf)?,
        })
    }

    /// `OVERLAY_IOC_SETPROP` for a resolved id. `vnetid_taken` says
    /// whether another device of the same plugin uses a virtual network
    /// id.
    pub(crate) fn setprop(
        &self,
        platform: &P,
        id: i32,
        value: &[u8],
        vnetid_taken: impl Fn(u64) -> bool,
    ) -> Result<(), Errno> {
        let mut ctl = self.ctl.lock();
        if self.flags() & flags::ACTIVATED != 0 {
            return Err(Errno::ENOTSUP);
        }
        match id {
            PROP_MTU => {
                let mtu = match value.len() {
                    4 => u32::from_ne_bytes(value.try_into().map_err(|_| Errno::EINVAL)?) as u64,
                    8 => u64::from_ne_bytes(value.try_into().map_err(|_| Errno::EINVAL)?),
                    _ => return Err(Errno::EINVAL),
                };
                if !(OVERLAY_MTU_MIN as u64..=OVERLAY_MTU_MAX as u64).contains(&mtu) {
                    return Err(Errno::EINVAL);
                }
                platform.link_set_mtu(&self.link, mtu as u32)?;
                ctl.mtu = mtu as u32;
                Ok(())
            }
            PROP_VNETID => {
                let v: [u8; 8] = value.try_into().map_err(|_| Errno::EINVAL)?;
                let v = u64::from_ne_bytes(v);
                // illumos rejected the largest id here (`>=`) although
                // create accepts it; both accept it now.
                if v > self.plugin.plugin().max_id() {
                    return Err(Errno::EINVAL);
                }
                // illumos did not check that the new id is free, which
                // would make two devices share one (vnetid, plugin).
                if v != self.vnetid() && vnetid_taken(v) {
                    return Err(Errno::EEXIST);
                }
                self.vnetid.store(v, Relaxed);
                Ok(())
            }
            PROP_ENCAP | PROP_VARPD_ID => Err(Errno::EPERM),
            _ => self.plugin.setprop(self.prop_name(id), value),
        }
    }

    /// Checks the required plugin properties before activation.
    pub(crate) fn check_required(&self) -> Result<(), (Errno, alloc::string::String)> {
        for name in self.plugin.plugin().props() {
            let info = self
                .plugin
                .plugin()
                .propinfo(name)
                .map_err(|e| (e, name.clone()))?;
            if info.prot & OVERLAY_PROP_PERM_REQ == 0 {
                continue;
            }
            let mut buf = [0u8; OVERLAY_PROP_SIZEMAX];
            let n = self
                .plugin
                .getprop(name, &mut buf)
                .map_err(|e| (e, name.clone()))?;
            if n == 0 {
                return Err((Errno::EINVAL, name.clone()));
            }
        }
        Ok(())
    }
}
