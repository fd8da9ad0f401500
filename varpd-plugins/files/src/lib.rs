//! # files: the overlay_files(5) search plugin
//!
//! Dynamic mode: each destination MAC is looked up in a JSON map (see
//! [`map`]) named by the property `files/config`; ARP requests, IPv6
//! neighbour solicitations and broadcast DHCP requests are answered by
//! varpd's proxies with the map's `arp`, `ndp` and `dhcp-proxy` members.
//!
//! The map is re-read when the file changes (checked twice a second by a
//! watcher thread while the instance runs) and on SIGHUP
//! (`varpd_plugin_reload`). A file that does not parse is refused with
//! the problem and its place in varpd's log, the overlay is degraded with
//! the same message, and the previous map stays in force; the next good
//! read restores the overlay. (illumos read the file once, at start.)
//!
//! Lookup order is illumos': ARP → proxy ARP; IPv6 to 33:33:… → proxy
//! NDP; IPv4 broadcast → proxy DHCP when the *source* has a
//! `dhcp-proxy`, else drop; otherwise the destination MAC's entry.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

use libvarpd_abi::sdk::{
    ArpQuery, DhcpQuery, Errno, EtherAddr, Lookup, Mode, NvList, Plugin, Point, PropInfo, Provider,
    Query,
};
use libvarpd_abi::varpd_plugin;

pub mod map;

pub use map::{Map, MapError, parse};

pub const PROP_CONFIG: &str = "files/config";
const D_IP: u32 = 0x2;
const D_PORT: u32 = 0x4;
const PROP_T_STRING: u32 = 4;
const PERM_RRW: u32 = 0x7;
const ETHERTYPE_ARP: u32 = 0x0806;
const ETHERTYPE_IP: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
/// How often the watcher looks at the file.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// What identifies one version of the file.
type Stamp = (u64, u64, Option<SystemTime>, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.modified().ok(), m.len()))
}

/// Reads and parses the file.
pub fn load(path: &Path) -> Result<Map, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

struct State {
    provider: Provider,
    config: Mutex<Option<PathBuf>>,
    map: RwLock<Arc<Map>>,
    stamp: Mutex<Option<Stamp>>,
    running: AtomicBool,
    degraded: AtomicBool,
}

impl State {
    fn config(&self) -> Option<PathBuf> {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn map(&self) -> Arc<Map> {
        self.map.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-reads the file if `force` or it changed; keeps the old map on
    /// error.
    fn reload(&self, force: bool) {
        let Some(path) = self.config() else { return };
        let now = stamp(&path);
        {
            let mut s = self.stamp.lock().unwrap_or_else(|e| e.into_inner());
            if !force && *s == now {
                return;
            }
            *s = now;
        }
        match load(&path) {
            Ok(m) => {
                let n = m.by_mac.len();
                *self.map.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(m);
                eprintln!("files: loaded {} ({n} entries)", path.display());
                if self.degraded.swap(false, Ordering::Relaxed) {
                    self.provider.restore();
                }
            }
            Err(e) => {
                eprintln!("files: refused {e}; the previous map stays in force");
                self.degraded.store(true, Ordering::Relaxed);
                self.provider
                    .degrade(&format!("files: bad config (previous map in force): {e}"));
            }
        }
    }
}

/// Every running instance, for SIGHUP.
static LIVE: Mutex<Vec<Weak<State>>> = Mutex::new(Vec::new());

/// A `files` instance.
pub struct Files(Arc<State>);

impl Files {
    fn new(provider: Provider, dest: u32) -> Result<Files, Errno> {
        if dest == 0 || dest & !(D_IP | D_PORT) != 0 {
            return Err(Errno::ENOTSUP);
        }
        Ok(Files(Arc::new(State {
            provider,

            config: Mutex::new(None),
            map: RwLock::new(Arc::new(Map::default())),
            stamp: Mutex::new(None),
            running: AtomicBool::new(false),
            degraded: AtomicBool::new(false),
        })))
    }

    /// The destination for `mac`, if the map has one.
    pub fn resolve(&self, mac: EtherAddr) -> Option<Point> {
        let m = self.0.map();
        let e = m.by_mac.get(&mac)?;
        Some(Point::new(EtherAddr::ZERO, e.ip, e.port))
    }
}

impl Plugin for Files {
    const NAME: &'static std::ffi::CStr = c"files";
    const MODE: Mode = Mode::Dynamic;
    const HAS_ARP: bool = true;
    const HAS_DHCP: bool = true;

    fn create(provider: Provider, dest: u32) -> Result<Self, Errno> {
        Files::new(provider, dest)
    }

    fn start(&self) -> Result<(), Errno> {
        let path = self.0.config().ok_or(Errno::EAGAIN)?;
        let m = load(&path).map_err(|e| {
            eprintln!("files: cannot start: {e}");
            Errno::EINVAL
        })?;
        *self.0.stamp.lock().unwrap_or_else(|e| e.into_inner()) = stamp(&path);
        *self.0.map.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(m);
        self.0.running.store(true, Ordering::Relaxed);
        let weak = Arc::downgrade(&self.0);
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(weak.clone());
        let spawned = std::thread::Builder::new()
            .name("files-watch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(WATCH_EVERY);
                    let Some(s) = weak.upgrade() else { return };
                    if !s.running.load(Ordering::Relaxed) {
                        return;
                    }
                    s.reload(false);
                }
            });
        if let Err(e) = spawned {
            eprintln!("files: no watcher thread ({e}); reload with SIGHUP");
        }
        Ok(())
    }

    fn stop(&self) {
        self.0.running.store(false, Ordering::Relaxed);
        *self.0.map.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Map::default());
    }

    fn lookup(&self, q: Query) {
        let req = *q.request();
        if req.otl_sap == ETHERTYPE_ARP {
            return q.proxy_arp();
        }
        if req.otl_sap == ETHERTYPE_IPV6 && req.otl_dstaddr.0[..2] == [0x33, 0x33] {
            return q.proxy_ndp();
        }
        if req.otl_sap == ETHERTYPE_IP && req.otl_dstaddr.is_broadcast() {
            let m = self.0.map();
            return match m.by_mac.get(&req.otl_srcaddr) {
                Some(e) if e.dhcp_proxy.is_some() => q.proxy_dhcp(),
                _ => q.drop_frame(),
            };
        }
        match self.resolve(req.otl_dstaddr) {
            Some(p) => q.reply(p),
            None => q.drop_frame(),
        }
    }

    fn arp(&self, q: ArpQuery, target: IpAddr) {
        let m = self.0.map();
        let mac = match target {
            IpAddr::V4(a) => m.by_v4.get(&a),
            IpAddr::V6(a) => m.by_v6.get(&a),
        };
        match mac {
            Some(mac) => q.reply(*mac),
            None => q.drop_frame(),
        }
    }

    fn dhcp(&self, q: DhcpQuery, req: &Lookup) {
        let m = self.0.map();
        match m.by_mac.get(&req.otl_srcaddr).and_then(|e| e.dhcp_proxy) {
            Some(mac) => q.reply(mac),
            None => q.drop_frame(),
        }
    }

    fn nprops(&self) -> u32 {
        1
    }

    fn propinfo(&self, index: u32, info: &mut PropInfo) -> Result<(), Errno> {
        if index != 0 {
            return Err(Errno::EINVAL);
        }
        info.set_name(PROP_CONFIG);
        info.set_prot(PERM_RRW);
        info.set_type(PROP_T_STRING);
        info.set_nodefault();
        Ok(())
    }

    fn getprop(&self, name: &str, buf: &mut [u8]) -> Result<usize, Errno> {
        if name != PROP_CONFIG {
            return Err(Errno::EINVAL);
        }
        let Some(p) = self.0.config() else {
            return Ok(0);
        };
        let s = p.to_string_lossy();
        let n = s.len() + 1;
        if buf.len() < n {
            return Err(Errno::EOVERFLOW);
        }
        buf[..s.len()].copy_from_slice(s.as_bytes());
        buf[s.len()] = 0;
        Ok(n)
    }

    fn setprop(&self, name: &str, value: &[u8]) -> Result<(), Errno> {
        if name != PROP_CONFIG {
            return Err(Errno::EINVAL);
        }
        let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
        let s = std::str::from_utf8(&value[..end]).map_err(|_| Errno::EINVAL)?;
        if s.is_empty() {
            return Err(Errno::EINVAL);
        }
        *self.0.config.lock().unwrap_or_else(|e| e.into_inner()) = Some(PathBuf::from(s));
        Ok(())
    }

    fn save(&self, nv: &mut NvList) -> Result<(), Errno> {
        if let Some(p) = self.0.config() {
            nv.add_str(PROP_CONFIG, &p.to_string_lossy())?;
        }
        // Kept for illumos compatibility; never incremented there either.
        nv.add_u64("files/vaf_nmisses", 0)?;
        nv.add_u64("files/vaf_narp", 0)?;
        Ok(())
    }

    fn restore(nv: &NvList, provider: Provider, dest: u32) -> Result<Self, Errno> {
        let f = Files::new(provider, dest).map_err(|_| Errno::EINVAL)?;
        // The counters are optional (illumos required them, so an instance
        // saved without a path could not be restored).
        match nv.str(PROP_CONFIG) {
            Ok(p) => *f.0.config.lock().unwrap_or_else(|e| e.into_inner()) = Some(p.into()),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        Ok(f)
    }

    fn reload_all() {
        let live: Vec<Arc<State>> = {
            let mut l = LIVE.lock().unwrap_or_else(|e| e.into_inner());
            l.retain(|w| w.strong_count() > 0);
            l.iter().filter_map(Weak::upgrade).collect()
        };
        for s in live {
            if s.running.load(Ordering::Relaxed) {
                s.reload(true);
            }
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Relaxed);
    }
}

varpd_plugin!(Files);
