//! The driver: every device, every mux, the lookup queue and the
//! control handles (`overlay.c` and `overlay_target.c`).

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::abi::common::*;
use crate::abi::targ::*;
use crate::abi::{EtherAddr, In6Addr};
use crate::dev::{Device, TxScratch, flags};
use crate::errno::Errno;
use crate::ether;
use crate::mux::Mux;
use crate::platform::{Event, Frame, Platform, Probe};
use crate::plugin::registry;
use crate::target::{Dest, Lookup, Taken, Target};

/// How long `OVERLAY_TARG_LOOKUP` waits for work (illumos: one second of
/// lbolt).
pub const LOOKUP_TIMEOUT_NS: u64 = 1_000_000_000;

pub use crate::abi::targ::INJECT_MAX;

/// The caller's credentials, as the host established them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cred {
    /// Holds `sys_dl_config` (`secpolicy_dl_config`).
    pub dl_config: bool,
    /// Runs in the global zone.
    pub global_zone: bool,
}

impl Cred {
    pub const ROOT: Cred = Cred {
        dl_config: true,
        global_zone: true,
    };
}

/// How `/dev/overlay` was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFlags {
    pub read: bool,
    pub write: bool,
    pub excl: bool,
}

impl OpenFlags {
    /// `O_RDWR | O_EXCL`: how varpd opens it.
    pub const RDWR_EXCL: OpenFlags = OpenFlags {
        read: true,
        write: true,
        excl: true,
    };
    /// `O_RDONLY`.
    pub const RDONLY: OpenFlags = OpenFlags {
        read: true,
        write: false,
        excl: false,
    };
}

/// Entries posted for lookup: the device and the destination MAC.
type Posted<P> = VecDeque<(Weak<Device<P>>, EtherAddr)>;

/// The global queue of entries awaiting varpd.
///
/// Wakeups are targeted, because on a host with few CPUs every needless
/// one costs the lookup it competes with: a post wakes **one** thread
/// waiting in `OVERLAY_TARG_LOOKUP` (`cv_signal`), and a thread that
/// takes an entry and sees more queued wakes the next one, so a burst
/// still spreads over every waiting thread. Completed requests signal a
/// separate event that only `OVERLAY_IOC_DELETE` waits on, instead of
/// waking every idle lookup thread to find nothing.
pub struct LookupQueue<P: Platform> {
    queue: lock_api::Mutex<P::RawMutex, Posted<P>>,
    /// Signalled (one waiter) when the queue grows.
    event: P::Event,
    /// Signalled when a request completes or a handle closes.
    done: P::Event,
}

impl<P: Platform> core::fmt::Debug for LookupQueue<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LookupQueue")
            .field("len", &self.queue.lock().len())
            .finish()
    }
}

impl<P: Platform> LookupQueue<P> {
    fn new() -> Self {
        LookupQueue {
            queue: lock_api::Mutex::new(VecDeque::new()),
            event: P::Event::new(),
            done: P::Event::new(),
        }
    }

    pub(crate) fn post(&self, dev: &Weak<Device<P>>, macs: impl IntoIterator<Item = EtherAddr>) {
        {
            let mut q = self.queue.lock();
            for mac in macs {
                q.push_back((dev.clone(), mac));
            }
        }
        self.event.notify_one();
    }

    /// Queues one entry for lookup without waking anyone (see
    /// [`LookupQueue::notify`]); fails only when memory cannot be had.
    pub(crate) fn try_push(&self, dev: &Weak<Device<P>>, mac: EtherAddr) -> Result<(), ()> {
        let mut q = self.queue.lock();
        q.try_reserve(1).map_err(|_| ())?;
        q.push_back((dev.clone(), mac));
        Ok(())
    }

    /// Wakes a lookup thread after [`LookupQueue::try_push`] (it wakes
    /// the next if more is queued).
    pub(crate) fn notify(&self) {
        self.event.notify_one();
    }

    fn pop(&self) -> Option<(Weak<Device<P>>, EtherAddr)> {
        self.queue.lock().pop_front()
    }

    /// Entries waiting for a lookup thread.
    pub fn len(&self) -> usize {
        self.queue.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A request handed to varpd and not answered yet.
struct Outstanding<P: Platform> {
    reqid: u64,
    dev: Arc<Device<P>>,
    mac: EtherAddr,
}

#[derive(Debug, Default)]
struct Opens {
    excl: bool,
    open: u32,
    next_minor: u32,
}

/// The driver instance.
pub struct Overlay<P: Platform> {
    platform: P,
    devices: lock_api::RwLock<P::RawRwLock, BTreeMap<u32, Arc<Device<P>>>>,
    muxes: lock_api::Mutex<P::RawMutex, Vec<Arc<Mux<P>>>>,
    lookups: Arc<LookupQueue<P>>,
    opens: lock_api::Mutex<P::RawMutex, Opens>,
    ndegraded: lock_api::Mutex<P::RawMutex, u32>,
    next_reqid: AtomicU64,
}

impl<P: Platform> core::fmt::Debug for Overlay<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Overlay")
            .field("devices", &self.devices.read().len())
            .field("lookups", &self.lookups)
            .finish_non_exhaustive()
    }
}

impl<P: Platform> Overlay<P> {
    pub fn new(platform: P) -> Arc<Self> {
        Arc::new(Overlay {
            platform,
            devices: lock_api::RwLock::new(BTreeMap::new()),
            muxes: lock_api::Mutex::new(Vec::new()),
            lookups: Arc::new(LookupQueue::new()),
            opens: lock_api::Mutex::new(Opens {
                next_minor: 1,
                ..Default::default()
            }),
            ndegraded: lock_api::Mutex::new(0),
            next_reqid: AtomicU64::new(1),
        })
    }

    pub fn platform(&self) -> &P {
        &self.platform
    }

    pub fn device(&self, linkid: u32) -> Option<Arc<Device<P>>> {
        self.devices.read().get(&linkid).cloned()
    }

    fn dev(&self, linkid: u32) -> Result<Arc<Device<P>>, Errno> {
        self.device(linkid).ok_or(Errno::ENOENT)
    }

    /// Every device, in link id order.
    pub fn devices(&self) -> Vec<Arc<Device<P>>> {
        self.devices.read().values().cloned().collect()
    }

    /// Every open mux.
    pub fn muxes(&self) -> Vec<Arc<Mux<P>>> {
        self.muxes.lock().clone()
    }

    pub fn lookup_queue(&self) -> &LookupQueue<P> {
        &self.lookups
    }

    fn vnetid_taken(&self, plugin: &str, vnetid: u64, except: u32) -> bool {
        self.devices.read().values().any(|d| {
            d.linkid() != except && d.vnetid() == vnetid && d.plugin().plugin().name() == plugin
        })
    }

    // ---------------------------------------------------------------
    // /dev/dld: device life cycle
    // ---------------------------------------------------------------

    /// `OVERLAY_IOC_CREATE`.
    pub fn create(&self, linkid: u32, vnetid: u64, encap: &str) -> Result<Arc<Device<P>>, Errno> {
        if encap.is_empty() || encap.contains('/') {
            return Err(Errno::EINVAL);
        }
        // illumos would modload("overlay", encap) once here; on the Linux
        // host every plugin is registered at start-up.
        let plugin = registry::lookup(encap).ok_or(Errno::ENOENT)?;
        if vnetid > plugin.max_id() {
            return Err(Errno::EINVAL);
        }
        let instance = plugin
            .instantiate(linkid as usize)
            .map_err(|_| Errno::EINVAL)?;
        {
            let devs = self.devices.read();
            if devs.contains_key(&linkid) || self.vnetid_taken(encap, vnetid, linkid) {
                return Err(Errno::EEXIST);
            }
        }
        let margin = if plugin.flags() & crate::plugin::abi::OVEP_F_VLAN_TAG != 0 {
            4
        } else {
            0
        };
        let link = self.platform.link_create(linkid, margin, OVERLAY_MTU_DEF)?;
        let dev = Device::new(
            linkid,
            vnetid,
            instance,
            link,
            self.lookups.clone(),
            self.platform.random_seed(),
        );
        let mut devs = self.devices.write();
        // Checked again: the lock was dropped around link_create.
        if devs.contains_key(&linkid)
            || devs
                .values()
                .any(|d| d.vnetid() == vnetid && d.plugin().plugin().name() == encap)
        {
            return Err(Errno::EEXIST);
        }
        devs.insert(linkid, dev.clone());
        Ok(dev)
    }

    /// `OVERLAY_IOC_DELETE`: refused while started (`EBUSY`); waits for
    /// lookups varpd holds for the device.
    pub fn delete(&self, linkid: u32) -> Result<(), Errno> {
        let dev = self.dev(linkid)?;
        if dev.flags() & flags::IN_MUX != 0 {
            return Err(Errno::EBUSY);
        }
        self.platform.link_disable(&dev.link)?;
        dev.set_flags(flags::MDDROP);
        self.devices.write().remove(&linkid);
        loop {
            let seen = self.lookups.done.generation();
            if dev.outstanding.load(Relaxed) == 0 {
                break;
            }
            self.lookups.done.wait_changed(seen, LOOKUP_TIMEOUT_NS);
        }
        if dev.flags() & flags::DEGRADED != 0 {
            self.degraded_count(-1);
        }
        let mut tx = dev.tx.write();
        if let Some(Target::Dynamic(cache)) = tx.target.as_mut() {
            cache.drain_waiting().for_each(drop);
        }
        tx.target = None;
        Ok(())
    }

    /// `OVERLAY_IOC_ACTIVATE`. On failure, the name of the unset required
    /// property, if that was the cause.
    pub fn activate(&self, linkid: u32) -> Result<(), (Errno, Option<String>)> {
        let dev = self.dev(linkid).map_err(|e| (e, None))?;
        let _ctl = dev.ctl.lock();
        if dev.flags() & flags::ACTIVATED != 0 {
            return Err((Errno::EEXIST, None));
        }
        dev.check_required().map_err(|(e, n)| (e, Some(n)))?;
        if dev.flags() & flags::VARPD == 0 {
            return Err((Errno::ENXIO, None));
        }
        dev.set_flags(flags::ACTIVATED);
        self.platform.link_up(&dev.link);
        Ok(())
    }

    /// `OVERLAY_IOC_STATUS`: the degraded flag and message.
    pub fn status(&self, linkid: u32) -> Result<(bool, [u8; OVERLAY_STATUS_BUFLEN]), Errno> {
        let dev = self.dev(linkid)?;
        let ctl = dev.ctl.lock();
        Ok((dev.flags() & flags::DEGRADED != 0, ctl.status_msg))
    }

    /// `OVERLAY_IOC_SETPROP` for a resolved id.
    pub fn setprop(&self, dev: &Device<P>, id: i32, value: &[u8]) -> Result<(), Errno> {
        let plugin = dev.plugin().plugin().name();
        dev.setprop(&self.platform, id, value, |v| {
            self.vnetid_taken(plugin, v, dev.linkid())
        })
    }

    // ---------------------------------------------------------------
    // MAC entry points: start and stop
    // ---------------------------------------------------------------

    /// `mc_start`: the first MAC client appeared. The device joins (or
    /// opens) the mux for its plugin's socket.
    pub fn start(&self, dev: &Arc<Device<P>>) -> Result<(), Errno> {
        if dev.flags() & flags::ACTIVATED == 0 {
            return Err(Errno::EAGAIN);
        }
        if dev.flags() & flags::IN_MUX != 0 {
            return Ok(());
        }
        let params = dev.plugin().socket_params()?;
        let plugin = dev.plugin().plugin();
        let mut muxes = self.muxes.lock();
        let mux = match muxes.iter().find(|m| *m.params() == params) {
            Some(m) if !Arc::ptr_eq(m.plugin(), plugin) => return Err(Errno::EEXIST),
            Some(m) => m.clone(),
            None => {
                let mut err = None;
                let mux = Arc::new_cyclic(|weak| {
                    let mut mux =
                        Mux::new(params.clone(), plugin.clone(), self.platform.random_seed());
                    match self.platform.socket_open(&params, weak.clone()) {
                        Ok(s) => mux.socket = Some(s),
                        Err(e) => err = Some(e),
                    }
                    mux
                });
                if let Some(e) = err {
                    return Err(e);
                }
                muxes.push(mux.clone());
                mux
            }
        };
        mux.add(dev.vnetid(), dev.clone())?;
        dev.tx.write().mux = Some(mux);
        dev.set_flags(flags::IN_MUX);
        Ok(())
    }

    /// `mc_stop`: the last MAC client left. The mux closes with its last
    /// device.
    pub fn stop(&self, dev: &Arc<Device<P>>) {
        let Some(mux) = dev.tx.write().mux.take() else {
            return;
        };
        dev.clear_flags(flags::IN_MUX);
        let mut muxes = self.muxes.lock();
        if mux.remove(dev.vnetid()) && mux.is_empty() {
            muxes.retain(|m| !Arc::ptr_eq(m, &mux));
        }
    }

    /// The transmit entry point (`mc_tx`).
    pub fn tx(
        &self,
        dev: &Device<P>,
        frames: impl IntoIterator<Item = P::Frame>,
        scratch: &mut TxScratch<P>,
    ) {
        dev.tx(&self.platform, frames, scratch);
    }

    // ---------------------------------------------------------------
    // /dev/overlay
    // ---------------------------------------------------------------

    /// Opens a control handle with the illumos open rules: `EPERM`
    /// without `sys_dl_config` or outside the global zone; `EINVAL` for
    /// neither read nor write, or write without `O_EXCL`; `EEXIST` for a
    /// second exclusive opener.
    pub fn open(self: &Arc<Self>, how: OpenFlags, cred: Cred) -> Result<CtlHandle<P>, Errno> {
        if !cred.dl_config || !cred.global_zone {
            return Err(Errno::EPERM);
        }
        if !how.read && !how.write {
            return Err(Errno::EINVAL);
        }
        if how.write && !how.excl {
            return Err(Errno::EINVAL);
        }
        let mut opens = self.opens.lock();
        if how.excl {
            if opens.excl {
                return Err(Errno::EEXIST);
            }
            opens.excl = true;
        }
        opens.open += 1;
        let minor = opens.next_minor;
        opens.next_minor = if minor == i32::MAX as u32 {
            1
        } else {
            minor + 1
        };
        Ok(CtlHandle {
            overlay: self.clone(),
            minor,
            how,
            outstanding: lock_api::Mutex::new(Vec::new()),
            closing: core::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Devices that exist (detach is refused while any do).
    pub fn device_count(&self) -> usize {
        self.devices.read().len()
    }

    /// Handles open on `/dev/overlay` (detach is refused while any).
    pub fn open_count(&self) -> u32 {
        self.opens.lock().open
    }

    /// `OVERLAY_TARG_INFO`.
    pub fn targ_info(&self, linkid: u32) -> Result<OverlayTargInfo, Errno> {
        let dev = self.dev(linkid)?;
        let f = dev.flags();
        let mut oti_flags = 0;
        if f & flags::ACTIVATED != 0 {
            oti_flags |= OVERLAY_TARG_INFO_F_ACTIVE;
        }
        if f & flags::DEGRADED != 0 {
            oti_flags |= OVERLAY_TARG_INFO_F_DEGRADED;
        }
        Ok(OverlayTargInfo {
            oti_linkid: linkid,
            oti_needs: dev.plugin().plugin().dest(),
            oti_flags,
            oti_vnetid: dev.vnetid(),
        })
    }

    /// `OVERLAY_TARG_ASSOCIATE`.
    pub fn associate(&self, a: &OverlayTargAssociate) -> Result<(), Errno> {
        let dev = self.dev(a.ota_linkid)?;
        if a.ota_id == 0 {
            return Err(Errno::EINVAL);
        }
        let dest = dev.plugin().plugin().dest();
        if a.ota_provides != dest {
            return Err(Errno::EINVAL);
        }
        let target = match a.ota_mode {
            OVERLAY_TARGET_POINT => {
                let p = &a.ota_point;
                if dest & OVERLAY_PLUGIN_D_IP != 0
                    && (p.otp_ip.is_unspecified()
                        || p.otp_ip.is_v4compat()
                        || p.otp_ip.is_v4mapped_any())
                {
                    return Err(Errno::EINVAL);
                }
                if dest & OVERLAY_PLUGIN_D_PORT != 0 && p.otp_port == 0 {
                    return Err(Errno::EINVAL);
                }
                Target::Point(Dest::new(p.otp_mac, p.otp_ip, p.otp_port))
            }
            OVERLAY_TARGET_DYNAMIC => Target::Dynamic(dev.new_cache()),
            _ => return Err(Errno::EINVAL),
        };
        let mut ctl = dev.ctl.lock();
        if dev.flags() & flags::VARPD != 0 {
            return Err(Errno::EEXIST);
        }
        // illumos left the old target in place on DISASSOCIATE and leaked
        // it when a new one was associated; here it is replaced, and its
        // waiting frames are freed when it drops (after the lock).
        let old = dev.tx.write().target.replace(target);
        ctl.varpd_id = a.ota_id;
        dev.set_flags(flags::VARPD);
        drop(ctl);
        drop(old);
        Ok(())
    }

    /// `OVERLAY_TARG_DISASSOCIATE`: the device forgets its varpd
    /// instance. The target stays in use, so cached destinations keep
    /// working until an instance associates again.
    pub fn disassociate(&self, linkid: u32) -> Result<(), Errno> {
        let dev = self.dev(linkid)?;
        let _ctl = dev.ctl.lock();
        dev.clear_flags(flags::VARPD);
        Ok(())
    }

    fn degraded_count(&self, delta: i32) {
        let mut n = self.ndegraded.lock();
        let before = *n;
        *n = n.saturating_add_signed(delta);
        if before == 0 && *n == 1 {
            self.platform.fma_service(true);
        } else if before == 1 && *n == 0 {
            self.platform.fma_service(false);
        }
    }

    /// `OVERLAY_TARG_DEGRADE`: the message is always replaced.
    pub fn degrade(&self, linkid: u32, msg: &[u8; OVERLAY_STATUS_BUFLEN]) -> Result<(), Errno> {
        let dev = self.dev(linkid)?;
        let mut ctl = dev.ctl.lock();
        ctl.status_msg = *msg;
        // Always NUL-terminated, whatever varpd sent.
        ctl.status_msg[OVERLAY_STATUS_BUFLEN - 1] = 0;
        if dev.flags() & flags::DEGRADED == 0 {
            dev.set_flags(flags::DEGRADED);
            self.degraded_count(1);
        }
        Ok(())
    }

    /// `OVERLAY_TARG_RESTORE`.
    pub fn restore(&self, linkid: u32) -> Result<(), Errno> {
        let dev = self.dev(linkid)?;
        let mut ctl = dev.ctl.lock();
        ctl.status_msg = [0; OVERLAY_STATUS_BUFLEN];
        if dev.flags() & flags::DEGRADED != 0 {
            dev.clear_flags(flags::DEGRADED);
            self.degraded_count(-1);
        }
        Ok(())
    }

    /// `OVERLAY_TARG_LIST`: every link id.
    pub fn list(&self) -> Vec<u32> {
        self.devices.read().keys().copied().collect()
    }

    fn associated(&self, linkid: u32) -> Result<Arc<Device<P>>, Errno> {
        let dev = self.dev(linkid)?;
        if dev.flags() & flags::VARPD == 0 {
            return Err(Errno::ENXIO);
        }
        Ok(dev)
    }

    /// `OVERLAY_TARG_CACHE_GET`.
    pub fn cache_get(&self, linkid: u32, mac: EtherAddr) -> Result<OverlayTargCacheEntry, Errno> {
        let dev = self.associated(linkid)?;
        let tx = dev.tx.read();
        let (flags, d) = match tx.target.as_ref() {
            Some(Target::Point(d)) => (0, *d),
            Some(Target::Dynamic(c)) => match c.get_entry(&mac) {
                Some((f, _)) if f & OVERLAY_ENTRY_F_DROP != 0 => {
                    (OVERLAY_TARGET_CACHE_DROP, Dest::default())
                }
                Some((_, d)) => (0, d),
                None => return Err(Errno::ENOENT),
            },
            None => return Err(Errno::ENXIO),
        };
        Ok(OverlayTargCacheEntry {
            otce_mac: mac,
            otce_flags: flags,
            otce_dest: OverlayTargetPoint::new(d.mac, d.ip(), d.port),
        })
    }

    /// `OVERLAY_TARG_CACHE_SET`.
    pub fn cache_set(&self, linkid: u32, e: &OverlayTargCacheEntry) -> Result<(), Errno> {
        if e.otce_flags & !OVERLAY_TARGET_CACHE_DROP != 0 {
            return Err(Errno::EINVAL);
        }
        let dev = self.associated(linkid)?;
        let dest = Dest::new(
            e.otce_dest.otp_mac,
            e.otce_dest.otp_ip,
            e.otce_dest.otp_port,
        );
        let released = {
            let mut tx = dev.tx.write();
            let Some(Target::Dynamic(cache)) = tx.target.as_mut() else {
                return Err(Errno::ENOTSUP);
            };
            if e.otce_flags & OVERLAY_TARGET_CACHE_DROP != 0 {
                cache.set_drop(e.otce_mac);
                return Ok(());
            }
            cache.set_dest(e.otce_mac, dest)
        };
        if !released.is_empty() {
            dev.send_released(&self.platform, &dest, released);
        }
        Ok(())
    }

    /// `OVERLAY_TARG_CACHE_REMOVE`.
    pub fn cache_remove(&self, linkid: u32, mac: EtherAddr) -> Result<(), Errno> {
        let dev = self.associated(linkid)?;
        let mut tx = dev.tx.write();
        let Some(Target::Dynamic(cache)) = tx.target.as_mut() else {
            return Err(Errno::ENOTSUP);
        };
        if cache.remove(&mac) {
            Ok(())
        } else {
            Err(Errno::ENOENT)
        }
    }

    /// `OVERLAY_TARG_CACHE_FLUSH`.
    pub fn cache_flush(&self, linkid: u32) -> Result<(), Errno> {
        let dev = self.associated(linkid)?;
        if let Some(Target::Dynamic(cache)) = dev.tx.write().target.as_mut() {
            cache.flush();
        }
        Ok(())
    }

    /// `OVERLAY_TARG_CACHE_ITER`: up to `count` entries from the marker.
    /// Returns the entries and the new marker.
    pub fn cache_iter(
        &self,
        linkid: u32,
        marker: IterMarker,
        count: u16,
    ) -> Result<(Vec<OverlayTargCacheEntry>, IterMarker), Errno> {
        if count == 0 {
            return Err(Errno::EINVAL);
        }
        if count > OVERLAY_TARGET_ITER_MAX {
            return Err(Errno::E2BIG);
        }
        let dev = self.associated(linkid)?;
        if marker.is_done() {
            return Ok((Vec::new(), marker));
        }
        let tx = dev.tx.read();
        let done = IterMarker {
            mac: [0; 6],
            done: 1,
        };
        match tx.target.as_ref() {
            // One entry for the whole point target, then done. (illumos
            // fell through into the dynamic walk here.)
            Some(Target::Point(d)) => Ok((
                alloc::vec![OverlayTargCacheEntry {
                    otce_mac: EtherAddr::ZERO,
                    otce_flags: 0,
                    otce_dest: OverlayTargetPoint::new(d.mac, d.ip(), d.port),
                }],
                done,
            )),
            Some(Target::Dynamic(cache)) => {
                let mut out = Vec::with_capacity(count as usize);
                let next = cache.iter_from(EtherAddr(marker.mac), count as usize, |mac, f, d| {
                    out.push(OverlayTargCacheEntry {
                        otce_mac: mac,
                        otce_flags: if f & OVERLAY_ENTRY_F_DROP != 0 {
                            OVERLAY_TARGET_CACHE_DROP
                        } else {
                            0
                        },
                        otce_dest: if f & OVERLAY_ENTRY_F_DROP != 0 {
                            OverlayTargetPoint::new(EtherAddr::ZERO, In6Addr::UNSPECIFIED, 0)
                        } else {
                            OverlayTargetPoint::new(d.mac, d.ip(), d.port)
                        },
                    })
                });
                let marker = match next {
                    Some(mac) => IterMarker {
                        mac: mac.0,
                        done: 0,
                    },
                    None => done,
                };
                Ok((out, marker))
            }
            None => Err(Errno::ENXIO),
        }
    }
}

/// One open of `/dev/overlay` (a clone minor). Closing it (dropping)
/// returns its unanswered lookups to the queue.
pub struct CtlHandle<P: Platform> {
    overlay: Arc<Overlay<P>>,
    minor: u32,
    how: OpenFlags,
    outstanding: lock_api::Mutex<P::RawMutex, Vec<Outstanding<P>>>,
    /// Set by [`CtlHandle::cancel_lookups`]: the handle is closing.
    closing: core::sync::atomic::AtomicBool,
}

impl<P: Platform> core::fmt::Debug for CtlHandle<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CtlHandle")
            .field("minor", &self.minor)
            .field("how", &self.how)
            .field("outstanding", &self.outstanding.lock().len())
            .finish()
    }
}

impl<P: Platform> Drop for CtlHandle<P> {
    fn drop(&mut self) {
        let reqs = core::mem::take(&mut *self.outstanding.lock());
        let lookups = &self.overlay.lookups;
        {
            let mut q = lookups.queue.lock();
            // In front: they were taken first.
            for r in reqs.into_iter().rev() {
                q.push_front((Arc::downgrade(&r.dev), r.mac));
                r.dev.outstanding.fetch_sub(1, Relaxed);
            }
        }
        // Possibly many entries: wake every lookup thread.
        lookups.event.notify_all();
        lookups.done.notify_all();
        self.overlay.platform.lookups_posted();
        let mut opens = self.overlay.opens.lock();
        opens.open -= 1;
        if self.how.excl {
            opens.excl = false;
        }
    }
}

/// A lookup request handed to varpd.
pub type LookupRequest = OverlayTargLookup;

impl<P: Platform> CtlHandle<P> {
    pub fn minor(&self) -> u32 {
        self.minor
    }

    pub fn flags(&self) -> OpenFlags {
        self.how
    }

    pub fn overlay(&self) -> &Arc<Overlay<P>> {
        &self.overlay
    }

    /// Requests this handle holds.
    pub fn outstanding(&self) -> usize {
        self.outstanding.lock().len()
    }

    /// `OVERLAY_TARG_LOOKUP`: waits up to `timeout_ns` for an entry that
    /// needs an answer (`ETIME` then) and describes its first waiting
    /// frame. `EINTR` once [`CtlHandle::cancel_lookups`] was called.
    ///
    /// A post wakes one waiting thread; whoever leaves here while entries
    /// are still queued (having taken one, or giving up) wakes the next,
    /// so that no entry waits for a thread that is not coming.
    pub fn lookup(&self, timeout_ns: u64) -> Result<LookupRequest, Errno> {
        let ov = &self.overlay;
        let q = &ov.lookups;
        let start = ov.platform.now_ns();
        let r = loop {
            // The generation first: a cancel that comes after this moves
            // it, so the wait below cannot miss it.
            let seen = q.event.generation();
            if self.closing.load(core::sync::atomic::Ordering::Acquire) {
                break Err(Errno::EINTR);
            }
            let mut taken = None;
            while let Some((weak, mac)) = q.pop() {
                taken = self.take(weak, mac);
                if taken.is_some() {
                    break;
                }
            }
            if let Some(req) = taken {
                break Ok(req);
            }
            let waited = ov.platform.now_ns().saturating_sub(start);
            if waited >= timeout_ns {
                break Err(Errno::ETIME);
            }
            q.event.wait_changed(seen, timeout_ns - waited);
        };
        if !q.is_empty() {
            q.event.notify_one();
        }
        r
    }

    /// `OVERLAY_TARG_LOOKUP` without waiting: an entry if one is queued,
    /// else `ETIME` at once. A host serving commands from one reader
    /// answers a LOOKUP this way when it can, without handing it to a
    /// thread that may block.
    pub fn try_lookup(&self) -> Result<LookupRequest, Errno> {
        self.lookup(0)
    }

    /// The handle is being closed: every `OVERLAY_TARG_LOOKUP` waiting
    /// on it, and every later one, fails with `EINTR`, so that the host
    /// can drop the handle (returning its requests to the queue) without
    /// waiting out the lookups' timeouts. (On illumos a descriptor is
    /// never closed under a running ioctl, so this is for hosts whose
    /// handle outlives its connection, like overlayd's.)
    pub fn cancel_lookups(&self) {
        self.closing
            .store(true, core::sync::atomic::Ordering::Release);
        self.overlay.lookups.event.notify_all();
    }

    /// Turns a queued entry into an outstanding request, if it still
    /// needs one.
    fn take(&self, weak: Weak<Device<P>>, mac: EtherAddr) -> Option<LookupRequest> {
        let ov = &self.overlay;
        let dev = weak.upgrade()?;
        if dev.flags() & flags::MDDROP != 0 {
            return None;
        }
        let mut tx = dev.tx.write();
        let Some(Target::Dynamic(cache)) = tx.target.as_mut() else {
            return None;
        };
        let info = loop {
            match cache.take_for_lookup(&mac) {
                Taken::Ask => {}
                Taken::Skip => return None,
                Taken::Answered(verdict, frames) => {
                    // Answered while it waited in the queue.
                    drop(tx);
                    if let Lookup::Send(d) = verdict {
                        dev.send_released(&ov.platform, &d, frames);
                    }
                    return None;
                }
            }
            let head = cache.head_frame(&mac)?;
            match ether::header_info(head.head()) {
                Some(h) => break (h, head.len()),
                None => {
                    // Unparseable head frame: free it and look again.
                    cache.pop_head(&mac);
                    dev.stats.tx_drop_bad_header.fetch_add(1, Relaxed);
                }
            }
        };
        drop(tx);
        let (h, len) = info;
        let reqid = ov.next_reqid.fetch_add(1, Relaxed);
        let varpd_id = dev.ctl.lock().varpd_id;
        dev.outstanding.fetch_add(1, Relaxed);
        dev.stats.lookups.fetch_add(1, Relaxed);
        let req = OverlayTargLookup {
            otl_dlid: dev.linkid() as u64,
            otl_reqid: reqid,
            otl_varpdid: varpd_id,
            otl_vnetid: dev.vnetid(),
            otl_hdrsize: h.hdr_size as u64,
            otl_pktsize: (len - h.hdr_size) as u64,
            otl_srcaddr: h.src,
            otl_dstaddr: h.dst,
            otl_dsttype: h.dst.addr_type(),
            otl_sap: h.sap as u32,
            otl_vlan: h.vlan as i32,
        };
        self.outstanding
            .lock()
            .push(Outstanding { reqid, dev, mac });
        Some(req)
    }

    fn complete(&self, reqid: u64) -> Result<Outstanding<P>, Errno> {
        let mut out = self.outstanding.lock();
        let i = out
            .iter()
            .position(|r| r.reqid == reqid)
            .ok_or(Errno::EINVAL)?;
        // In order: a closed handle requeues what is left as it was taken.
        Ok(out.remove(i))
    }

    fn finished(&self, r: &Outstanding<P>) {
        r.dev.outstanding.fetch_sub(1, Relaxed);
        self.overlay.lookups.done.notify_all();
    }

    /// `OVERLAY_TARG_RESPOND`: the entry becomes valid and its waiting
    /// frames are sent.
    pub fn respond(&self, reqid: u64, answer: &OverlayTargetPoint) -> Result<(), Errno> {
        let r = self.complete(reqid)?;
        let dest = Dest::new(answer.otp_mac, answer.otp_ip, answer.otp_port);
        let released = match r.dev.tx.write().target.as_mut() {
            Some(Target::Dynamic(cache)) => cache.respond(&r.mac, dest),
            _ => VecDeque::new(),
        };
        if !released.is_empty() {
            r.dev.send_released(&self.overlay.platform, &dest, released);
        }
        self.finished(&r);
        Ok(())
    }

    /// `OVERLAY_TARG_DROP`: the head frame is freed; the entry is asked
    /// about again if more frames wait.
    pub fn drop_request(&self, reqid: u64) -> Result<(), Errno> {
        let r = self.complete(reqid)?;
        let (head, remain) = match r.dev.tx.write().target.as_mut() {
            Some(Target::Dynamic(cache)) => {
                let (head, remain, was_valid) = cache.drop_reply(&r.mac);
                if was_valid {
                    let probe = Probe::TargetValidDrop {
                        linkid: r.dev.linkid(),
                        mac: r.mac,
                    };
                    self.overlay.platform.probe(probe);
                }
                (head, remain)
            }
            _ => (None, false),
        };
        if head.is_some() {
            r.dev.stats.tx_drop_entry.fetch_add(1, Relaxed);
        }
        drop(head);
        if remain {
            self.overlay.lookups.post(&Arc::downgrade(&r.dev), [r.mac]);
            self.overlay.platform.lookups_posted();
        }
        self.finished(&r);
        Ok(())
    }

    fn with_request<T>(
        &self,
        reqid: u64,
        f: impl FnOnce(&Outstanding<P>) -> T,
    ) -> Result<T, Errno> {
        let out = self.outstanding.lock();
        let r = out.iter().find(|r| r.reqid == reqid).ok_or(Errno::EINVAL)?;
        Ok(f(r))
    }

    /// `OVERLAY_TARG_PKT`: copies the head waiting frame of a request into
    /// `buf`; returns the bytes copied.
    pub fn pkt(&self, reqid: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        self.with_request(reqid, |r| {
            let tx = r.dev.tx.read();
            match tx.target.as_ref() {
                Some(Target::Dynamic(c)) => c
                    .head_frame(&r.mac)
                    .map(|f| f.copy_to(buf))
                    .ok_or(Errno::EINVAL),
                _ => Err(Errno::EINVAL),
            }
        })?
    }

    /// The device an `INJECT` or `RESEND` names: by link id, or (link id
    /// `u64::MAX`) by one of this handle's requests.
    fn pkt_device(&self, linkid: u64, reqid: u64) -> Result<Arc<Device<P>>, Errno> {
        if linkid != u64::MAX {
            let linkid = u32::try_from(linkid).map_err(|_| Errno::ENOENT)?;
            return self.overlay.dev(linkid);
        }
        self.with_request(reqid, |r| r.dev.clone())
            .map_err(|_| Errno::ENOENT)
    }

    /// `OVERLAY_TARG_INJECT`: delivers a frame up into the overlay, as if
    /// received (proxy ARP and NDP answers).
    pub fn inject(&self, linkid: u64, reqid: u64, frame: &[u8]) -> Result<(), Errno> {
        if frame.len() > INJECT_MAX {
            return Err(Errno::EINVAL);
        }
        let dev = self.pkt_device(linkid, reqid)?;
        let f = self
            .overlay
            .platform
            .frame_alloc(frame)
            .map_err(|_| Errno::ENOMEM)?;
        dev.deliver(&self.overlay.platform, f);
        Ok(())
    }

    /// `OVERLAY_TARG_RESEND`: sends a frame out through the overlay's
    /// transmit path (a DHCP broadcast rewritten to unicast).
    pub fn resend(&self, linkid: u64, reqid: u64, frame: &[u8]) -> Result<(), Errno> {
        if frame.len() > INJECT_MAX {
            return Err(Errno::EINVAL);
        }
        let dev = self.pkt_device(linkid, reqid)?;
        let f = self
            .overlay
            .platform
            .frame_alloc(frame)
            .map_err(|_| Errno::ENOMEM)?;
        let mut scratch = TxScratch::default();
        dev.tx(&self.overlay.platform, [f], &mut scratch);
        Ok(())
    }
}
