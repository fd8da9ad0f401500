//! Instances, properties and lookups (`libvarpd.c`, `libvarpd_overlay.c`,
//! `libvarpd_prop.c`).
//!
//! Quirks of illumos fixed here: a second instance for a link is
//! `EEXIST` (illumos aborted); a plugin's getprop error is returned
//! (illumos returned 0); destroying a never-activated instance destroys
//! the plugin's state, and destroying an activated one disassociates the
//! link (illumos did neither).

use std::collections::HashMap;
use std::ffi::{CString, c_uint, c_void};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

use libvarpd_abi::errno::result as host_result;
use libvarpd_abi::sys::{self, varpd_provider_handle_t};
use overlay::Errno;
use overlay::abi::common::*;
use overlay::abi::prop::PropInfo;
use overlay::abi::targ::*;
use overlay::abi::{EtherAddr, In6Addr};
use zerocopy::FromZeros;

use crate::driver::Driver;
use crate::nvlist::NvList;
use crate::persist::{Persist, Record};
use crate::plugin::{self, PluginEntry};

/// Instance ids: 1 to `INT32_MAX`, as illumos' id space.
const ID_MAX: u64 = i32::MAX as u64;

/// One varpd instance: a plugin instance serving one overlay link. Its
/// address is the plugin's `varpd_provider_handle_t`.
pub struct Instance {
    pub id: u64,
    pub linkid: u32,
    pub vnetid: u64,
    /// `OVERLAY_PLUGIN_D_*` the kernel needs.
    pub dest: u32,
    pub plugin: Arc<PluginEntry>,
    pub(crate) private: AtomicPtr<c_void>,
    pub(crate) activated: AtomicBool,
    pub(crate) driver: Arc<dyn Driver>,
    /// Held shared around calls into the plugin, exclusively by destroy:
    /// the plugin's state is not freed under a running op.
    pub(crate) ops: RwLock<()>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("id", &self.id)
            .field("linkid", &self.linkid)
            .field("plugin", &self.plugin.name)
            .finish_non_exhaustive()
    }
}

impl Instance {
    pub(crate) fn handle(self: &Arc<Self>) -> *mut varpd_provider_handle_t {
        Arc::as_ptr(self) as *mut varpd_provider_handle_t
    }

    fn private(&self) -> *mut c_void {
        self.private.load(Ordering::Acquire)
    }

    /// Keeps the plugin's state alive while an op runs.
    fn hold(&self) -> RwLockReadGuard<'_, ()> {
        self.ops.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn is_activated(&self) -> bool {
        self.activated.load(Ordering::Acquire)
    }
}

#[derive(Default, Debug)]
struct Tables {
    by_id: HashMap<u64, Arc<Instance>>,
    by_link: HashMap<u32, u64>,
    next: u64,
}

/// The daemon's state (`varpd_impl_t`).
pub struct Varpd {
    /// The driver. Shared by every thread: the lookup threads and the
    /// client commands issue their calls concurrently, as on one illumos
    /// descriptor (the socket transport is multiplexed).
    pub driver: Arc<dyn Driver>,
    tables: Mutex<Tables>,
    persist: Option<Persist>,
}

impl std::fmt::Debug for Varpd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Varpd").finish_non_exhaustive()
    }
}

/// A cache entry as the client protocol carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    /// The destination's MAC (not the key).
    pub mac: EtherAddr,
    pub flags: u16,
    pub ip: In6Addr,
    pub port: u16,
}

impl Varpd {
    pub fn new(driver: Arc<dyn Driver>, persist: Option<Persist>) -> Arc<Varpd> {
        Arc::new(Varpd {
            driver,
            tables: Mutex::new(Tables {
                next: 1,
                ..Tables::default()
            }),
            persist,
        })
    }

    fn t(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn instance(&self, id: u64) -> Result<Arc<Instance>, Errno> {
        self.t().by_id.get(&id).cloned().ok_or(Errno::ENOENT)
    }

    /// Every instance, by id.
    pub fn instances(&self) -> Vec<Arc<Instance>> {
        let mut v: Vec<_> = self.t().by_id.values().cloned().collect();
        v.sort_by_key(|i| i.id);
        v
    }

    /// Reserves an id (`want`, or the next free one) and the link.
    fn reserve(&self, linkid: u32, want: Option<u64>) -> Result<u64, Errno> {
        let mut t = self.t();
        if t.by_link.contains_key(&linkid) {
            return Err(Errno::EEXIST);
        }
        let id = match want {
            Some(id) if (1..=ID_MAX).contains(&id) && !t.by_id.contains_key(&id) => id,
            Some(_) => return Err(Errno::EEXIST),
            None => {
                let mut id = t.next;
                let mut tries = 0;
                while t.by_id.contains_key(&id) {
                    id = if id >= ID_MAX { 1 } else { id + 1 };
                    tries += 1;
                    if tries > ID_MAX {
                        return Err(Errno::ENOSPC);
                    }
                }
                t.next = if id >= ID_MAX { 1 } else { id + 1 };
                id
            }
        };
        // A placeholder keeps the link while the plugin creates.
        t.by_link.insert(linkid, id);
        Ok(id)
    }

    fn unreserve(&self, linkid: u32) {
        self.t().by_link.remove(&linkid);
    }

    fn new_instance(
        &self,
        id: u64,
        linkid: u32,
        plugin: &Arc<PluginEntry>,
    ) -> Result<Arc<Instance>, Errno> {
        let info = self.driver.info(linkid)?;
        Ok(Arc::new(Instance {
            id,
            linkid,
            vnetid: info.oti_vnetid,
            dest: info.oti_needs,
            plugin: plugin.clone(),
            private: AtomicPtr::new(std::ptr::null_mut()),
            activated: AtomicBool::new(false),
            driver: self.driver.clone(),
            ops: RwLock::new(()),
        }))
    }

    /// CREATE: a new instance of `plugin` for `linkid`.
    pub fn create(&self, linkid: u32, plugin_name: &str) -> Result<u64, Errno> {
        let plugin = plugin::find(plugin_name).ok_or(Errno::ENOENT)?;
        let id = self.reserve(linkid, None)?;
        let r = (|| {
            let inst = self.new_instance(id, linkid, &plugin)?;
            let mut private = std::ptr::null_mut();
            let create = plugin.ops.0.vpo_create.ok_or(Errno::EINVAL)?;
            // SAFETY: the plugin's create op with our live handle and an
            // out slot.
            host_result(unsafe { create(inst.handle(), &mut private, inst.dest) })?;
            inst.private.store(private, Ordering::Release);
            Ok(inst)
        })();
        match r {
            Ok(inst) => {
                self.t().by_id.insert(id, inst);
                tracing::info!(id, linkid, plugin = plugin_name, "instance created");
                Ok(id)
            }
            Err(e) => {
                self.unreserve(linkid);
                Err(e)
            }
        }
    }

    /// ACTIVATE: starts the plugin, persists, associates the link.
    pub fn activate(&self, id: u64) -> Result<(), Errno> {
        let inst = self.instance(id)?;
        if inst
            .activated
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Errno::EEXIST);
        }
        let r = self.start_and_associate(&inst, true);
        if r.is_err() {
            inst.activated.store(false, Ordering::Release);
        }
        r
    }

    fn start_and_associate(&self, inst: &Arc<Instance>, persist: bool) -> Result<(), Errno> {
        let ops = inst.plugin.ops.0;
        let start = ops.vpo_start.ok_or(Errno::EINVAL)?;
        // SAFETY: the plugin's op on its own private state.
        host_result(unsafe { start(inst.private()) })?;
        let stop = || {
            if let Some(stop) = ops.vpo_stop {
                // SAFETY: as above.
                unsafe { stop(inst.private()) }
            }
        };
        if persist && let Err(e) = self.save(inst) {
            stop();
            return Err(e);
        }
        let mut a = OverlayTargAssociate::new_zeroed();
        a.ota_linkid = inst.linkid;
        a.ota_mode = inst.plugin.mode;
        a.ota_id = inst.id;
        a.ota_provides = inst.dest;
        if inst.plugin.mode == OVERLAY_TARGET_POINT {
            let mut p = OverlayTargetPoint::new_zeroed();
            let def = ops.vpo_default.ok_or(Errno::EINVAL)?;
            // SAFETY: as above, with an out slot.
            if unsafe { def(inst.private(), &mut p) } != sys::VARPD_LOOKUP_OK {
                stop();
                self.unsave(inst);
                return Err(Errno::EINVAL);
            }
            a.ota_point = p;
        }
        let info = self.driver.info(inst.linkid)?;
        if !persist && info.oti_flags & OVERLAY_TARG_INFO_F_ACTIVE != 0 {
            // Restoring: left associated by the varpd that is gone.
            let _ = self.driver.disassociate(inst.linkid);
        }
        if let Err(e) = self.driver.associate(&a) {
            stop();
            self.unsave(inst);
            return Err(e);
        }
        if info.oti_flags & OVERLAY_TARG_INFO_F_DEGRADED != 0 {
            let _ = self.driver.restore(inst.linkid);
        }
        tracing::info!(id = inst.id, linkid = inst.linkid, "instance activated");
        Ok(())
    }

    /// DESTROY.
    pub fn destroy(&self, id: u64) -> Result<(), Errno> {
        let inst = {
            let mut t = self.t();
            let inst = t.by_id.remove(&id).ok_or(Errno::ENOENT)?;
            t.by_link.remove(&inst.linkid);
            inst
        };
        let ops = inst.plugin.ops.0;
        let _excl = inst.ops.write().unwrap_or_else(PoisonError::into_inner);
        if inst.activated.swap(false, Ordering::AcqRel) {
            self.unsave(&inst);
            let _ = self.driver.disassociate(inst.linkid);
            if let Some(stop) = ops.vpo_stop {
                // SAFETY: the plugin's op on its private state.
                unsafe { stop(inst.private()) }
            }
        }
        let p = inst.private.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if let Some(d) = ops.vpo_destroy
            && !p.is_null()
        {
            // SAFETY: destroys the private state once (swapped out above).
            unsafe { d(p) }
        }
        tracing::info!(id, linkid = inst.linkid, "instance destroyed");
        Ok(())
    }

    /// LOOKUP (client command): the instance serving `linkid`.
    pub fn lookup_link(&self, linkid: u32) -> Result<u64, Errno> {
        let t = self.t();
        let id = *t.by_link.get(&linkid).ok_or(Errno::ENOENT)?;
        if t.by_id.contains_key(&id) {
            Ok(id)
        } else {
            Err(Errno::ENOENT)
        }
    }

    /// TARGET_MODE: (dest, mode).
    pub fn target_mode(&self, id: u64) -> Result<(u32, u32), Errno> {
        let i = self.instance(id)?;
        Ok((i.dest, i.plugin.mode))
    }

    // --- properties -------------------------------------------------------

    /// NPROPS: the plugin's and `search`.
    pub fn nprops(&self, id: u64) -> Result<u32, Errno> {
        let i = self.instance(id)?;
        let f = i.plugin.ops.0.vpo_nprops.ok_or(Errno::EINVAL)?;
        let _h = i.hold();
        let mut n: c_uint = 0;
        // SAFETY: the plugin's op with an out slot.
        host_result(unsafe { f(i.private(), &mut n) })?;
        Ok(n.saturating_add(1))
    }

    /// PROPINFO by id (0 is `search`).
    pub fn propinfo(&self, id: u64, propid: u32) -> Result<PropInfo, Errno> {
        let i = self.instance(id)?;
        if propid == 0 {
            let mut p = PropInfo::new("search", OVERLAY_PROP_T_STRING, OVERLAY_PROP_PERM_READ);
            for n in plugin::names() {
                p.add_range_str(n.as_bytes());
            }
            return Ok(p);
        }
        if propid >= self.nprops(id)? {
            return Err(Errno::EINVAL);
        }
        let f = i.plugin.ops.0.vpo_propinfo.ok_or(Errno::EINVAL)?;
        let _h = i.hold();
        let mut p = PropInfo::default();
        // SAFETY: the plugin fills the PropInfo through the
        // libvarpd_prop_set_* functions, whose handle it is.
        host_result(unsafe { f(i.private(), propid - 1, (&mut p as *mut PropInfo).cast()) })?;
        Ok(p)
    }

    /// PROPINFO by name: (propid, info).
    pub fn propinfo_by_name(&self, id: u64, name: &str) -> Result<(u32, PropInfo), Errno> {
        let n = self.nprops(id)?;
        for pid in 0..n {
            let p = self.propinfo(id, pid)?;
            if p.name() == name {
                return Ok((pid, p));
            }
        }
        Err(Errno::ENOENT)
    }

    /// GETPROP: the value (empty if unset).
    pub fn getprop(&self, id: u64, propid: u32) -> Result<Vec<u8>, Errno> {
        let i = self.instance(id)?;
        let info = self.propinfo(id, propid)?;
        if propid == 0 {
            let mut v = i.plugin.name.as_bytes().to_vec();
            v.push(0);
            return Ok(v);
        }
        let f = i.plugin.ops.0.vpo_getprop.ok_or(Errno::EINVAL)?;
        let name = CString::new(info.name()).map_err(|_| Errno::EINVAL)?;
        let mut buf = [0u8; OVERLAY_PROP_SIZEMAX];
        let mut size = buf.len() as u32;
        let _h = i.hold();
        // SAFETY: the plugin's op with a buffer of `size` bytes.
        host_result(unsafe {
            f(
                i.private(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                &mut size,
            )
        })?;
        Ok(buf[..(size as usize).min(buf.len())].to_vec())
    }

    /// SETPROP.
    pub fn setprop(&self, id: u64, propid: u32, value: &[u8]) -> Result<(), Errno> {
        let i = self.instance(id)?;
        if propid == 0 {
            return Err(Errno::EPERM);
        }
        if value.is_empty() {
            return Err(Errno::EINVAL);
        }
        if value.len() > OVERLAY_PROP_SIZEMAX {
            return Err(Errno::EOVERFLOW);
        }
        let info = self.propinfo(id, propid)?;
        let f = i.plugin.ops.0.vpo_setprop.ok_or(Errno::EINVAL)?;
        let name = CString::new(info.name()).map_err(|_| Errno::EINVAL)?;
        let h = i.hold();
        // SAFETY: the plugin's op with `len` readable bytes.
        host_result(unsafe {
            f(
                i.private(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len() as u32,
            )
        })?;
        drop(h);
        // An activated instance's saved state follows its properties.
        if i.is_activated() {
            self.save(&i)?;
        }
        Ok(())
    }

    // --- the target cache -------------------------------------------------

    pub fn cache_flush(&self, id: u64) -> Result<(), Errno> {
        let i = self.instance(id)?;
        self.driver.cache_flush(i.linkid)
    }

    pub fn cache_delete(&self, id: u64, key: EtherAddr) -> Result<(), Errno> {
        let i = self.instance(id)?;
        self.driver.cache_remove(i.linkid, key)
    }

    pub fn cache_get(&self, id: u64, key: EtherAddr) -> Result<CacheEntry, Errno> {
        let i = self.instance(id)?;
        let e = self.driver.cache_get(i.linkid, key)?;
        Ok(CacheEntry {
            mac: e.otce_dest.otp_mac,
            flags: e.otce_flags,
            ip: e.otce_dest.otp_ip,
            port: e.otce_dest.otp_port,
        })
    }

    pub fn cache_set(&self, id: u64, key: EtherAddr, e: &CacheEntry) -> Result<(), Errno> {
        let i = self.instance(id)?;
        let ent = OverlayTargCacheEntry {
            otce_mac: key,
            otce_flags: e.flags,
            otce_dest: OverlayTargetPoint::new(e.mac, e.ip, e.port),
        };
        self.driver.cache_set(i.linkid, &ent)
    }

    /// WALK: up to `count` kernel entries from `marker`.
    pub fn cache_walk(
        &self,
        id: u64,
        marker: u64,
        count: u16,
    ) -> Result<(Vec<OverlayTargCacheEntry>, u64), Errno> {
        let i = self.instance(id)?;
        if IterMarker::from_u64(marker).is_done() {
            return Ok((Vec::new(), marker));
        }
        self.driver.cache_iter(i.linkid, marker, count)
    }

    // --- lookups ----------------------------------------------------------

    /// Answers one kernel question (a lookup thread's body).
    pub fn dispatch(&self, req: OverlayTargLookup) {
        let inst = self.t().by_id.get(&req.otl_varpdid).cloned();
        let Some(inst) = inst.filter(|i| i.is_activated()) else {
            let _ = self.driver.drop_req(req.otl_reqid);
            return;
        };
        let Some(lookup) = inst.plugin.ops.0.vpo_lookup else {
            let _ = self.driver.drop_req(req.otl_reqid);
            return;
        };
        let hold = inst.clone();
        let _h = hold.hold();
        let private = inst.private();
        let q = crate::capi::QueryBox::new(req, inst);
        let q = Box::into_raw(q);
        // SAFETY: the query box lives until the plugin replies through
        // libvarpd_plugin_query_reply (or a proxy), which frees it; the
        // request and answer slots are inside it.
        unsafe {
            lookup(
                private,
                q.cast(),
                &(*q).req,
                std::ptr::addr_of_mut!((*q).point),
            )
        }
    }

    // --- persistence --------------------------------------------------------

    fn save(&self, inst: &Arc<Instance>) -> Result<(), Errno> {
        let Some(p) = &self.persist else {
            return Ok(());
        };
        let mut nvl = NvList::default();
        let f = inst.plugin.ops.0.vpo_save.ok_or(Errno::EINVAL)?;
        {
            let _h = inst.hold();
            // SAFETY: the plugin fills our list through the nvlist_* exports.
            host_result(unsafe { f(inst.private(), (&mut nvl as *mut NvList).cast()) })?;
        }
        let rec = Record {
            id: inst.id,
            linkid: inst.linkid,
            dest: inst.dest,
            mode: inst.plugin.mode,
            plugin: inst.plugin.name.clone(),
            private: nvl,
        };
        p.write(&rec).map_err(|e| {
            tracing::error!(id = inst.id, "persisting instance: {e}");
            Errno::EIO
        })
    }

    fn unsave(&self, inst: &Instance) {
        if let Some(p) = &self.persist {
            p.remove(inst.id);
        }
    }

    /// Restores every saved instance (at start), then degrades every
    /// overlay left without one.
    pub fn restore_all(&self) {
        if let Some(p) = &self.persist {
            for (path, rec) in p.read_all() {
                let id = rec.id;
                match self.restore_one(rec) {
                    Ok(()) => tracing::info!(id, "instance restored"),
                    Err(e) => {
                        tracing::warn!(
                            id,
                            "cannot restore instance ({e}); removing {}",
                            path.display()
                        );
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
        }
        self.degrade_orphans();
    }

    fn restore_one(&self, rec: Record) -> Result<(), Errno> {
        let plugin = plugin::find(&rec.plugin).ok_or(Errno::ENOENT)?;
        if plugin.mode != rec.mode {
            return Err(Errno::EINVAL);
        }
        let id = self.reserve(rec.linkid, Some(rec.id))?;
        let r = (|| {
            let inst = self.new_instance(id, rec.linkid, &plugin)?;
            if inst.dest != rec.dest {
                return Err(Errno::EINVAL);
            }
            let f = plugin.ops.0.vpo_restore.ok_or(Errno::EINVAL)?;
            let mut nvl = rec.private;
            let mut private = std::ptr::null_mut();
            // SAFETY: the plugin reads our list and fills the out slot.
            host_result(unsafe {
                f(
                    (&mut nvl as *mut NvList).cast(),
                    inst.handle(),
                    inst.dest,
                    &mut private,
                )
            })?;
            inst.private.store(private, Ordering::Release);
            inst.activated.store(true, Ordering::Release);
            if let Err(e) = self.start_and_associate(&inst, false) {
                if let Some(d) = plugin.ops.0.vpo_destroy {
                    // SAFETY: destroys the state restore made, once.
                    unsafe { d(private) }
                }
                return Err(e);
            }
            Ok(inst)
        })();
        match r {
            Ok(inst) => {
                let mut t = self.t();
                t.by_id.insert(id, inst);
                t.next = t.next.max(id + 1);
                Ok(())
            }
            Err(e) => {
                self.unreserve(rec.linkid);
                Err(e)
            }
        }
    }

    /// Degrades every overlay without an instance.
    pub fn degrade_orphans(&self) {
        let Ok(links) = self.driver.list() else {
            return;
        };
        for l in links {
            if self.lookup_link(l).is_err() {
                let _ = self.driver.degrade(l, "no varpd instance exists");
            }
        }
    }
}
