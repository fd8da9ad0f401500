//! The safe Rust SDK for search plugins.
//!
//! A plugin is a type implementing [`Plugin`]; [`varpd_plugin!`] exports
//! it. The macro emits `varpd_plugin_init` (and `varpd_plugin_reload`),
//! which varpd finds with `dlsym` after `dlopen`; it registers a static
//! ops vector whose trampolines turn the C calls into trait calls. The
//! plugin's state is a `Box<T>` behind the C `void *`, created by
//! [`Plugin::create`]/[`Plugin::restore`] and dropped by `vpo_destroy`.
//!
//! The library functions of the header are resolved at run time with
//! `dlsym(RTLD_DEFAULT)` rather than linked, so a plugin crate has no
//! undefined symbols (its unit tests link and run without varpd); outside
//! varpd they are absent and every call is a logged no-op.
//!
//! [`varpd_plugin!`]: crate::varpd_plugin

use core::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

pub use overlay::Errno;
use overlay::abi::common::{OVERLAY_TARGET_DYNAMIC, OVERLAY_TARGET_POINT};
pub use overlay::abi::targ::{OverlayTargLookup as Lookup, OverlayTargetPoint as Point};
pub use overlay::abi::{EtherAddr, In6Addr};

use crate::errno;
use crate::sys::{self, fns};

/// How the plugin answers: one fixed destination, or per-MAC lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `OVERLAY_TARGET_POINT`: [`Plugin::default_point`].
    Point,
    /// `OVERLAY_TARGET_DYNAMIC`: [`Plugin::lookup`].
    Dynamic,
}

/// A search plugin. Calls for one instance may come in parallel from
/// several threads, hence `&self` and `Sync`: keep mutable state behind
/// locks. `lookup`, `default_point`, `arp`, `dhcp` and `save` come only
/// between `start` and `stop`.
pub trait Plugin: Sized + Send + Sync + 'static {
    /// The name users give `dladm create-overlay -s`.
    const NAME: &'static CStr;
    const MODE: Mode;
    /// Whether [`Plugin::arp`] is implemented (it is then in the ops).
    const HAS_ARP: bool = false;
    /// Whether [`Plugin::dhcp`] is implemented.
    const HAS_DHCP: bool = false;

    /// `vpo_create`: a new instance for a device needing `dest`
    /// (`OVERLAY_PLUGIN_D_*`); unsupported destinations are `ENOTSUP`.
    fn create(provider: Provider, dest: u32) -> Result<Self, Errno>;
    /// `vpo_start`: check the required properties (`EAGAIN`) and start.
    fn start(&self) -> Result<(), Errno>;
    /// `vpo_stop`.
    fn stop(&self) {}
    /// `vpo_default` (point plugins): the destination, or `None` to drop.
    fn default_point(&self) -> Option<Point> {
        None
    }
    /// `vpo_lookup` (dynamic plugins): answer `q`, now or later, from any
    /// thread. A query dropped unanswered is answered DROP.
    fn lookup(&self, q: Query) {
        drop(q)
    }
    /// `vpo_nprops`.
    fn nprops(&self) -> u32;
    /// `vpo_propinfo`: describe property `index` (0-based).
    fn propinfo(&self, index: u32, info: &mut PropInfo) -> Result<(), Errno>;
    /// `vpo_getprop`: write the value into `buf`, return its length (0 if
    /// unset); a `buf` too small is `EOVERFLOW`.
    fn getprop(&self, name: &str, buf: &mut [u8]) -> Result<usize, Errno>;
    /// `vpo_setprop`.
    fn setprop(&self, name: &str, value: &[u8]) -> Result<(), Errno>;
    /// `vpo_save`: the state [`Plugin::restore`] needs.
    fn save(&self, nv: &mut NvList) -> Result<(), Errno>;
    /// `vpo_restore`: create an instance from what `save` wrote.
    fn restore(nv: &NvList, provider: Provider, dest: u32) -> Result<Self, Errno>;
    /// `vpo_arp`: the MAC owning `target` (IPv4 for ARP, IPv6 for NDP).
    fn arp(&self, q: ArpQuery, target: IpAddr) {
        let _ = target;
        drop(q)
    }
    /// `vpo_dhcp`: where to redirect the broadcast DHCP request `req`.
    fn dhcp(&self, q: DhcpQuery, req: &Lookup) {
        let _ = req;
        drop(q)
    }
    /// Called on SIGHUP (`varpd_plugin_reload`): re-read configuration.
    fn reload_all() {}
}

// --- the library, resolved at run time ---------------------------------

struct Lib {
    plugin_alloc: Option<fns::plugin_alloc>,
    plugin_free: Option<fns::plugin_free>,
    plugin_register: Option<fns::plugin_register>,
    plugin_vnetid: Option<fns::plugin_vnetid>,
    query_reply: Option<fns::query_reply>,
    proxy_arp: Option<fns::proxy>,
    proxy_ndp: Option<fns::proxy>,
    proxy_dhcp: Option<fns::proxy>,
    arp_reply: Option<fns::arp_reply>,
    dhcp_reply: Option<fns::dhcp_reply>,
    prop_set_name: Option<fns::prop_set_name>,
    prop_set_prot: Option<fns::prop_set_u32>,
    prop_set_type: Option<fns::prop_set_u32>,
    prop_set_default: Option<fns::prop_set_default>,
    prop_set_nodefault: Option<fns::prop_set_nodefault>,
    prop_set_range_uint32: Option<fns::prop_set_range_uint32>,
    prop_set_range_str: Option<fns::prop_set_name>,
    inject_varp: Option<fns::inject_varp>,
    inject_arp: Option<fns::inject_arp>,
    fma_degrade: Option<fns::fma_degrade>,
    fma_restore: Option<fns::fma_restore>,
    nv_add_string: Option<fns::nv_add_str>,
    nv_add_uint64: Option<fns::nv_add_u64>,
    nv_lookup_string: Option<fns::nv_lookup_str>,
    nv_lookup_uint64: Option<fns::nv_lookup_u64>,
}

macro_rules! sym {
    ($t:ty, $name:literal) => {{
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name; the
        // result is either null or the function the header declares under
        // this name, whose type the field spells.
        unsafe {
            let p = libc::dlsym(libc::RTLD_DEFAULT, concat!($name, "\0").as_ptr().cast());
            if p.is_null() {
                None
            } else {
                Some(core::mem::transmute::<*mut c_void, $t>(p))
            }
        }
    }};
}

fn lib() -> &'static Lib {
    static LIB: OnceLock<Lib> = OnceLock::new();
    LIB.get_or_init(|| Lib {
        plugin_alloc: sym!(fns::plugin_alloc, "libvarpd_plugin_alloc"),
        plugin_free: sym!(fns::plugin_free, "libvarpd_plugin_free"),
        plugin_register: sym!(fns::plugin_register, "libvarpd_plugin_register"),
        plugin_vnetid: sym!(fns::plugin_vnetid, "libvarpd_plugin_vnetid"),
        query_reply: sym!(fns::query_reply, "libvarpd_plugin_query_reply"),
        proxy_arp: sym!(fns::proxy, "libvarpd_plugin_proxy_arp"),
        proxy_ndp: sym!(fns::proxy, "libvarpd_plugin_proxy_ndp"),
        proxy_dhcp: sym!(fns::proxy, "libvarpd_plugin_proxy_dhcp"),
        arp_reply: sym!(fns::arp_reply, "libvarpd_plugin_arp_reply"),
        dhcp_reply: sym!(fns::dhcp_reply, "libvarpd_plugin_dhcp_reply"),
        prop_set_name: sym!(fns::prop_set_name, "libvarpd_prop_set_name"),
        prop_set_prot: sym!(fns::prop_set_u32, "libvarpd_prop_set_prot"),
        prop_set_type: sym!(fns::prop_set_u32, "libvarpd_prop_set_type"),
        prop_set_default: sym!(fns::prop_set_default, "libvarpd_prop_set_default"),
        prop_set_nodefault: sym!(fns::prop_set_nodefault, "libvarpd_prop_set_nodefault"),
        prop_set_range_uint32: sym!(fns::prop_set_range_uint32, "libvarpd_prop_set_range_uint32"),
        prop_set_range_str: sym!(fns::prop_set_name, "libvarpd_prop_set_range_str"),
        inject_varp: sym!(fns::inject_varp, "libvarpd_inject_varp"),
        inject_arp: sym!(fns::inject_arp, "libvarpd_inject_arp"),
        fma_degrade: sym!(fns::fma_degrade, "libvarpd_fma_degrade"),
        fma_restore: sym!(fns::fma_restore, "libvarpd_fma_restore"),
        nv_add_string: sym!(fns::nv_add_str, "nvlist_add_string"),
        nv_add_uint64: sym!(fns::nv_add_u64, "nvlist_add_uint64"),
        nv_lookup_string: sym!(fns::nv_lookup_str, "nvlist_lookup_string"),
        nv_lookup_uint64: sym!(fns::nv_lookup_u64, "nvlist_lookup_uint64"),
    })
}

fn missing(what: &str) {
    eprintln!("libvarpd-abi: {what} is not available (not running inside varpd)");
}

/// Registers `T` (what [`varpd_plugin!`](crate::varpd_plugin)'s
/// `varpd_plugin_init` does).
pub fn register<T: Plugin>(ops: &'static sys::varpd_plugin_ops_t) {
    let l = lib();
    let (Some(alloc), Some(reg), Some(free)) = (l.plugin_alloc, l.plugin_register, l.plugin_free)
    else {
        missing("libvarpd_plugin_register");
        return;
    };
    let mut err: c_int = 0;
    // SAFETY: the library function of the header, called as documented.
    let r = unsafe { alloc(sys::VARPD_CURRENT_VERSION, &mut err) };
    if r.is_null() {
        eprintln!("libvarpd-abi: libvarpd_plugin_alloc failed: {err}");
        return;
    }
    // SAFETY: `r` is the registration just allocated, ours until freed;
    // the name and ops are 'static as the ABI requires.
    unsafe {
        (*r).vpr_mode = match T::MODE {
            Mode::Point => OVERLAY_TARGET_POINT,
            Mode::Dynamic => OVERLAY_TARGET_DYNAMIC,
        };
        (*r).vpr_name = T::NAME.as_ptr();
        (*r).vpr_ops = ops;
        let rc = reg(r);
        if rc != 0 {
            eprintln!(
                "libvarpd-abi: registering plugin {:?} failed: {}",
                T::NAME,
                errno::from_host(rc)
            );
        }
        free(r);
    }
}

// --- handles -------------------------------------------------------------

/// The varpd instance a plugin instance serves (`varpd_provider_handle_t`).
/// Valid from `create`/`restore` until the instance is dropped.
#[derive(Clone, Copy, Debug)]
pub struct Provider(*mut sys::varpd_provider_handle_t);

// SAFETY: the library functions taking the handle are thread-safe.
unsafe impl Send for Provider {}
// SAFETY: as above.
unsafe impl Sync for Provider {}

impl Provider {
    /// The overlay's virtual network id.
    pub fn vnetid(&self) -> u64 {
        match lib().plugin_vnetid {
            // SAFETY: a live provider handle.
            Some(f) => unsafe { f(self.0) },
            None => 0,
        }
    }

    /// `libvarpd_inject_varp`: sets (`Some`) or removes (`None`) the
    /// kernel's cache entry for `mac`.
    pub fn inject_varp(&self, mac: EtherAddr, dest: Option<&Point>) {
        if let Some(f) = lib().inject_varp {
            let p = dest.map_or(core::ptr::null(), |d| d as *const Point);
            // SAFETY: a live handle, a 6-byte MAC, a point or null.
            unsafe { f(self.0, mac.0.as_ptr(), p) }
        }
    }

    /// `libvarpd_inject_arp`: a gratuitous ARP for `ip` at `src`, sent up
    /// to `dst`.
    pub fn inject_arp(&self, vlan: u16, src: EtherAddr, ip: Ipv4Addr, dst: EtherAddr) {
        if let Some(f) = lib().inject_arp {
            let a = libc::in_addr {
                s_addr: u32::from_ne_bytes(ip.octets()),
            };
            // SAFETY: a live handle and valid pointers for the call.
            unsafe { f(self.0, vlan, src.0.as_ptr(), &a, dst.0.as_ptr()) }
        }
    }

    /// `libvarpd_fma_degrade`: marks the overlay degraded with `msg`.
    pub fn degrade(&self, msg: &str) {
        if let Some(f) = lib().fma_degrade {
            let m = CString::new(msg.replace('\0', " ")).unwrap_or_default();
            // SAFETY: a live handle and a C string.
            unsafe { f(self.0, m.as_ptr()) }
        }
    }

    /// `libvarpd_fma_restore`.
    pub fn restore(&self) {
        if let Some(f) = lib().fma_restore {
            // SAFETY: a live handle.
            unsafe { f(self.0) }
        }
    }
}

/// A destination question (`varpd_query_handle_t`): answer it with
/// [`reply`](Query::reply), [`drop_frame`](Query::drop_frame) or a proxy.
/// Dropping it unanswered answers DROP.
#[derive(Debug)]
pub struct Query {
    h: *mut sys::varpd_query_handle_t,
    req: *const Lookup,
    out: *mut Point,
    provider: Provider,
}

// SAFETY: a query may be answered from any thread (the ABI allows it);
// the request and answer slots live in varpd's query until the reply.
unsafe impl Send for Query {}

impl Query {
    /// The request.
    pub fn request(&self) -> &Lookup {
        // SAFETY: varpd keeps the request alive until the reply.
        unsafe { &*self.req }
    }

    fn finish(mut self, action: c_int) {
        let h = core::mem::replace(&mut self.h, core::ptr::null_mut());
        if let Some(f) = lib().query_reply {
            // SAFETY: the live handle, consumed here exactly once.
            unsafe { f(h, action) }
        }
    }

    /// Answers with `dest`; the queued frames go there.
    pub fn reply(self, dest: Point) {
        // SAFETY: the answer slot varpd passed with this query.
        unsafe { self.out.write(dest) };
        self.finish(sys::VARPD_LOOKUP_OK)
    }

    /// No destination: the frame is dropped.
    pub fn drop_frame(self) {
        self.finish(sys::VARPD_LOOKUP_DROP)
    }

    fn proxy(mut self, f: Option<fns::proxy>) {
        let h = core::mem::replace(&mut self.h, core::ptr::null_mut());
        match f {
            // SAFETY: live handles; the helper consumes the query.
            Some(f) => unsafe { f(self.provider.0, h, self.req) },
            None => missing("proxy helper"),
        }
    }

    /// `libvarpd_plugin_proxy_arp`: answer an ARP request via [`Plugin::arp`].
    pub fn proxy_arp(self) {
        self.proxy(lib().proxy_arp)
    }

    /// `libvarpd_plugin_proxy_ndp`: answer a neighbour solicitation.
    pub fn proxy_ndp(self) {
        self.proxy(lib().proxy_ndp)
    }

    /// `libvarpd_plugin_proxy_dhcp`: redirect a DHCP request via
    /// [`Plugin::dhcp`].
    pub fn proxy_dhcp(self) {
        self.proxy(lib().proxy_dhcp)
    }
}

impl Drop for Query {
    fn drop(&mut self) {
        if !self.h.is_null()
            && let Some(f) = lib().query_reply
        {
            // SAFETY: the live handle, not yet answered.
            unsafe { f(self.h, sys::VARPD_LOOKUP_DROP) }
        }
    }
}

/// Which reply a [`MacQuery`] is answered with.
pub trait MacReply {
    type Handle;
    fn reply_fn() -> Option<unsafe extern "C" fn(*mut Self::Handle, c_int)>;
}

/// ARP and NDP questions (`libvarpd_plugin_arp_reply`).
#[derive(Debug)]
pub enum Arp {}

impl MacReply for Arp {
    type Handle = sys::varpd_arp_handle_t;
    fn reply_fn() -> Option<unsafe extern "C" fn(*mut Self::Handle, c_int)> {
        lib().arp_reply
    }
}

/// DHCP redirect questions (`libvarpd_plugin_dhcp_reply`).
#[derive(Debug)]
pub enum Dhcp {}

impl MacReply for Dhcp {
    type Handle = sys::varpd_dhcp_handle_t;
    fn reply_fn() -> Option<unsafe extern "C" fn(*mut Self::Handle, c_int)> {
        lib().dhcp_reply
    }
}

/// A question answered with a MAC address: who owns an address (ARP,
/// NDP), or where a DHCP request should go. [`reply`](MacQuery::reply)
/// or drop it; one dropped unanswered answers DROP.
#[derive(Debug)]
pub struct MacQuery<K: MacReply> {
    h: *mut K::Handle,
    out: *mut u8,
}

/// An ARP or NDP question.
pub type ArpQuery = MacQuery<Arp>;
/// A DHCP redirect question.
pub type DhcpQuery = MacQuery<Dhcp>;

// SAFETY: as `Query`.
unsafe impl<K: MacReply> Send for MacQuery<K> {}

impl<K: MacReply> MacQuery<K> {
    fn finish(mut self, action: c_int) {
        let h = core::mem::replace(&mut self.h, core::ptr::null_mut());
        if let Some(f) = K::reply_fn() {
            // SAFETY: the live handle, consumed once.
            unsafe { f(h, action) }
        }
    }

    /// The answer is `mac`.
    pub fn reply(self, mac: EtherAddr) {
        // SAFETY: varpd's 6-byte answer slot.
        unsafe { core::ptr::copy_nonoverlapping(mac.0.as_ptr(), self.out, 6) };
        self.finish(sys::VARPD_LOOKUP_OK)
    }

    /// No answer: drop the frame.
    pub fn drop_frame(self) {
        self.finish(sys::VARPD_LOOKUP_DROP)
    }
}

impl<K: MacReply> Drop for MacQuery<K> {
    fn drop(&mut self) {
        if !self.h.is_null()
            && let Some(f) = K::reply_fn()
        {
            // SAFETY: the live handle, not yet answered.
            unsafe { f(self.h, sys::VARPD_LOOKUP_DROP) }
        }
    }
}

/// A property description being filled (`varpd_prop_handle_t`).
#[derive(Debug)]
pub struct PropInfo(*mut sys::varpd_prop_handle_t);

impl PropInfo {
    pub fn set_name(&mut self, name: &str) {
        if let (Some(f), Ok(n)) = (lib().prop_set_name, CString::new(name)) {
            // SAFETY: the live handle and a C string.
            unsafe { f(self.0, n.as_ptr()) }
        }
    }
    /// `OVERLAY_PROP_PERM_*`.
    pub fn set_prot(&mut self, prot: u32) {
        if let Some(f) = lib().prop_set_prot {
            // SAFETY: the live handle.
            unsafe { f(self.0, prot) }
        }
    }
    /// `OVERLAY_PROP_T_*`.
    pub fn set_type(&mut self, ty: u32) {
        if let Some(f) = lib().prop_set_type {
            // SAFETY: the live handle.
            unsafe { f(self.0, ty) }
        }
    }
    pub fn set_default(&mut self, value: &[u8]) -> Result<(), Errno> {
        match lib().prop_set_default {
            // SAFETY: the live handle; varpd only reads `value`.
            Some(f) => errno::result(unsafe {
                f(self.0, value.as_ptr() as *mut c_void, value.len() as isize)
            }),
            None => Ok(()),
        }
    }
    pub fn set_nodefault(&mut self) {
        if let Some(f) = lib().prop_set_nodefault {
            // SAFETY: the live handle.
            unsafe { f(self.0) }
        }
    }
    pub fn set_range_uint32(&mut self, min: u32, max: u32) {
        if let Some(f) = lib().prop_set_range_uint32 {
            // SAFETY: the live handle.
            unsafe { f(self.0, min, max) }
        }
    }
    pub fn set_range_str(&mut self, s: &str) {
        if let (Some(f), Ok(n)) = (lib().prop_set_range_str, CString::new(s)) {
            // SAFETY: the live handle and a C string.
            unsafe { f(self.0, n.as_ptr()) }
        }
    }
}

/// The `nvlist_t` of `vpo_save`/`vpo_restore` (the string and uint64
/// members; other types are reachable from C).
#[derive(Debug)]
pub struct NvList(*mut sys::nvlist_t);

impl NvList {
    pub fn add_str(&mut self, name: &str, value: &str) -> Result<(), Errno> {
        let (Ok(n), Ok(v)) = (CString::new(name), CString::new(value)) else {
            return Err(Errno::EINVAL);
        };
        match lib().nv_add_string {
            // SAFETY: a live list and C strings.
            Some(f) => errno::result(unsafe { f(self.0, n.as_ptr(), v.as_ptr()) }),
            None => Err(Errno::ENOTSUP),
        }
    }
    pub fn add_u64(&mut self, name: &str, value: u64) -> Result<(), Errno> {
        let Ok(n) = CString::new(name) else {
            return Err(Errno::EINVAL);
        };
        match lib().nv_add_uint64 {
            // SAFETY: a live list and a C string.
            Some(f) => errno::result(unsafe { f(self.0, n.as_ptr(), value) }),
            None => Err(Errno::ENOTSUP),
        }
    }
    /// A string member; `ENOENT` if absent, `EINVAL` if not a string.
    pub fn str(&self, name: &str) -> Result<String, Errno> {
        let Ok(n) = CString::new(name) else {
            return Err(Errno::EINVAL);
        };
        let f = lib().nv_lookup_string.ok_or(Errno::ENOTSUP)?;
        let mut p: *mut c_char = core::ptr::null_mut();
        // SAFETY: a live list; the string returned lives as long as it.
        errno::result(unsafe { f(self.0, n.as_ptr(), &mut p) })?;
        if p.is_null() {
            return Err(Errno::EINVAL);
        }
        // SAFETY: a NUL-terminated string owned by the list.
        Ok(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
    pub fn u64(&self, name: &str) -> Result<u64, Errno> {
        let Ok(n) = CString::new(name) else {
            return Err(Errno::EINVAL);
        };
        let f = lib().nv_lookup_uint64.ok_or(Errno::ENOTSUP)?;
        let mut v = 0u64;
        // SAFETY: a live list and an out slot.
        errno::result(unsafe { f(self.0, n.as_ptr(), &mut v) })?;
        Ok(v)
    }
}

// --- the ops vector ---------------------------------------------------------

/// The ops vector for `T` (used by [`varpd_plugin!`](crate::varpd_plugin)).
pub const fn ops<T: Plugin>() -> sys::varpd_plugin_ops_t {
    sys::varpd_plugin_ops_t {
        vpo_callbacks: 0,
        vpo_create: Some(t_create::<T>),
        vpo_start: Some(t_start::<T>),
        vpo_stop: Some(t_stop::<T>),
        vpo_destroy: Some(t_destroy::<T>),
        vpo_default: match T::MODE {
            Mode::Point => Some(t_default::<T>),
            Mode::Dynamic => None,
        },
        vpo_lookup: match T::MODE {
            Mode::Point => None,
            Mode::Dynamic => Some(t_lookup::<T>),
        },
        vpo_nprops: Some(t_nprops::<T>),
        vpo_propinfo: Some(t_propinfo::<T>),
        vpo_getprop: Some(t_getprop::<T>),
        vpo_setprop: Some(t_setprop::<T>),
        vpo_save: Some(t_save::<T>),
        vpo_restore: Some(t_restore::<T>),
        vpo_arp: if T::HAS_ARP { Some(t_arp::<T>) } else { None },
        vpo_dhcp: if T::HAS_DHCP { Some(t_dhcp::<T>) } else { None },
    }
}

/// What the SDK keeps behind varpd's private pointer: the plugin and the
/// provider it serves, so that a panic can degrade the overlay it broke.
struct Instance<T> {
    provider: Provider,
    plugin: T,
}

/// The text of a panic payload (`panic!` gives `&str` or `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Runs `f` (the plugin's `op` before there is an instance), turning a
/// panic into `fallback`: a plugin bug must not unwind into C. The panic
/// hook has already written the message to stderr, varpd's log.
fn guard<R>(fallback: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Runs `op` of the instance behind `arg`, turning a panic into
/// `fallback` and degrading the overlay with a message that names the
/// plugin and the operation (`show-overlay -f` shows it).
///
/// # Safety
/// `arg` is a private pointer this module made in `create`/`restore`.
unsafe fn with_instance<T: Plugin, R>(
    arg: *mut c_void,
    op: &str,
    fallback: R,
    f: impl FnOnce(&T) -> R,
) -> R {
    // SAFETY: as the function's contract.
    let inst = unsafe { &*(arg as *const Instance<T>) };
    match catch_unwind(AssertUnwindSafe(|| f(&inst.plugin))) {
        Ok(r) => r,
        Err(payload) => {
            let msg = format!(
                "search plugin {} failed: panic in {op}: {}",
                T::NAME.to_string_lossy(),
                panic_message(payload.as_ref())
            );
            // The degrade call itself is C and cannot unwind.
            inst.provider.degrade(&msg);
            fallback
        }
    }
}

fn code(r: Result<(), Errno>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => errno::to_host(e),
    }
}

/// Boxes a new instance into varpd's out slot.
///
/// # Safety
/// `out` is varpd's writable slot.
unsafe fn emplace<T: Plugin>(out: *mut *mut c_void, provider: Provider, plugin: T) -> c_int {
    let inst = Box::new(Instance { provider, plugin });
    // SAFETY: as the function's contract.
    unsafe { *out = Box::into_raw(inst).cast() };
    0
}

unsafe extern "C" fn t_create<T: Plugin>(
    hdl: *mut sys::varpd_provider_handle_t,
    out: *mut *mut c_void,
    dest: u32,
) -> c_int {
    guard(libc::EIO, || match T::create(Provider(hdl), dest) {
        // SAFETY: varpd's out slot for the private pointer.
        Ok(t) => unsafe { emplace(out, Provider(hdl), t) },
        Err(e) => errno::to_host(e),
    })
}

unsafe extern "C" fn t_start<T: Plugin>(arg: *mut c_void) -> c_int {
    // SAFETY: varpd passes back the private pointer of `create`; so do
    // all the trampolines below.
    unsafe { with_instance::<T, _>(arg, "start", libc::EIO, |p| code(p.start())) }
}

unsafe extern "C" fn t_stop<T: Plugin>(arg: *mut c_void) {
    // SAFETY: as `t_start`.
    unsafe { with_instance::<T, _>(arg, "stop", (), |p| p.stop()) }
}

unsafe extern "C" fn t_destroy<T: Plugin>(arg: *mut c_void) {
    if !arg.is_null() {
        // SAFETY: the Box made by `create`/`restore`, destroyed once.
        let inst = unsafe { Box::from_raw(arg as *mut Instance<T>) };
        guard((), move || drop(inst))
    }
}

unsafe extern "C" fn t_default<T: Plugin>(arg: *mut c_void, out: *mut Point) -> c_int {
    // SAFETY: as `t_start`.
    unsafe {
        with_instance::<T, _>(arg, "default", sys::VARPD_LOOKUP_DROP, |p| {
            match p.default_point() {
                Some(d) => {
                    // SAFETY: varpd's out slot.
                    out.write(d);
                    sys::VARPD_LOOKUP_OK
                }
                None => sys::VARPD_LOOKUP_DROP,
            }
        })
    }
}

unsafe extern "C" fn t_lookup<T: Plugin>(
    arg: *mut c_void,
    q: *mut sys::varpd_query_handle_t,
    req: *const Lookup,
    out: *mut Point,
) {
    // The provider is not passed to lookup; the proxies take it from
    // the query's instance, which varpd resolves from the handle itself.
    let query = Query {
        h: q,
        req,
        out,
        provider: Provider(core::ptr::null_mut()),
    };
    // A panic drops the query, which answers DROP.
    // SAFETY: as `t_start`.
    unsafe { with_instance::<T, _>(arg, "lookup", (), move |p| p.lookup(query)) }
}

unsafe extern "C" fn t_nprops<T: Plugin>(arg: *mut c_void, out: *mut c_uint) -> c_int {
    // SAFETY: as `t_start`.
    unsafe {
        with_instance::<T, _>(arg, "nprops", libc::EIO, |p| {
            // SAFETY: varpd's slot.
            *out = p.nprops();
            0
        })
    }
}

unsafe extern "C" fn t_propinfo<T: Plugin>(
    arg: *mut c_void,
    idx: c_uint,
    ph: *mut sys::varpd_prop_handle_t,
) -> c_int {
    let mut info = PropInfo(ph);
    // SAFETY: as `t_start`.
    unsafe {
        with_instance::<T, _>(arg, "propinfo", libc::EIO, |p| {
            code(p.propinfo(idx, &mut info))
        })
    }
}

unsafe extern "C" fn t_getprop<T: Plugin>(
    arg: *mut c_void,
    name: *const c_char,
    buf: *mut c_void,
    size: *mut u32,
) -> c_int {
    if name.is_null() || buf.is_null() || size.is_null() {
        return libc::EINVAL;
    }
    // SAFETY: varpd passes a C string, a buffer of `*size` bytes and
    // the size slot.
    let (name, buf) = unsafe {
        (
            CStr::from_ptr(name).to_string_lossy(),
            core::slice::from_raw_parts_mut(buf.cast::<u8>(), *size as usize),
        )
    };
    // SAFETY: as `t_start`.
    unsafe {
        with_instance::<T, _>(arg, "getprop", libc::EIO, |p| match p.getprop(&name, buf) {
            Ok(n) => {
                // SAFETY: the size slot.
                *size = n.min(buf.len()) as u32;
                0
            }
            Err(e) => errno::to_host(e),
        })
    }
}

unsafe extern "C" fn t_setprop<T: Plugin>(
    arg: *mut c_void,
    name: *const c_char,
    buf: *const c_void,
    size: u32,
) -> c_int {
    if name.is_null() || (buf.is_null() && size != 0) {
        return libc::EINVAL;
    }
    // SAFETY: a C string and `size` readable bytes.
    let (name, val) = unsafe {
        (
            CStr::from_ptr(name).to_string_lossy(),
            if size == 0 {
                &[][..]
            } else {
                core::slice::from_raw_parts(buf.cast::<u8>(), size as usize)
            },
        )
    };
    // SAFETY: as `t_start`.
    unsafe { with_instance::<T, _>(arg, "setprop", libc::EIO, |p| code(p.setprop(&name, val))) }
}

unsafe extern "C" fn t_save<T: Plugin>(arg: *mut c_void, nvl: *mut sys::nvlist_t) -> c_int {
    let mut nv = NvList(nvl);
    // SAFETY: as `t_start`.
    unsafe { with_instance::<T, _>(arg, "save", libc::EIO, |p| code(p.save(&mut nv))) }
}

unsafe extern "C" fn t_restore<T: Plugin>(
    nvl: *mut sys::nvlist_t,
    hdl: *mut sys::varpd_provider_handle_t,
    dest: u32,
    out: *mut *mut c_void,
) -> c_int {
    let nv = NvList(nvl);
    guard(libc::EIO, || match T::restore(&nv, Provider(hdl), dest) {
        // SAFETY: varpd's out slot.
        Ok(t) => unsafe { emplace(out, Provider(hdl), t) },
        Err(e) => errno::to_host(e),
    })
}

/// The IP address of a `sockaddr_in` or `sockaddr_in6`.
///
/// # Safety
/// `sa` is null or points to a socket address of its family's size.
pub unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: the caller's contract; the family selects the size read.
    unsafe {
        match i32::from((*sa).sa_family) {
            libc::AF_INET => {
                let s = &*(sa as *const libc::sockaddr_in);
                Some(IpAddr::V4(Ipv4Addr::from(s.sin_addr.s_addr.to_ne_bytes())))
            }
            libc::AF_INET6 => {
                let s = &*(sa as *const libc::sockaddr_in6);
                Some(IpAddr::V6(Ipv6Addr::from(s.sin6_addr.s6_addr)))
            }
            _ => None,
        }
    }
}

unsafe extern "C" fn t_arp<T: Plugin>(
    arg: *mut c_void,
    h: *mut sys::varpd_arp_handle_t,
    qtype: c_int,
    sa: *const libc::sockaddr,
    out: *mut u8,
) {
    let q = ArpQuery { h, out };
    // SAFETY: varpd passes a socket address of its family.
    let ip = unsafe { sockaddr_ip(sa) };
    // SAFETY: as `t_start`.
    unsafe {
        with_instance::<T, _>(arg, "arp", (), move |p| match ip {
            Some(ip) if qtype == sys::VARPD_QTYPE_ETHERNET => p.arp(q, ip),
            _ => q.drop_frame(),
        })
    }
}

unsafe extern "C" fn t_dhcp<T: Plugin>(
    arg: *mut c_void,
    h: *mut sys::varpd_dhcp_handle_t,
    qtype: c_int,
    req: *const Lookup,
    out: *mut u8,
) {
    let q = DhcpQuery { h, out };
    if qtype != sys::VARPD_QTYPE_ETHERNET || req.is_null() {
        return q.drop_frame();
    }
    // SAFETY: as `t_start`; varpd's request lives for the call.
    unsafe { with_instance::<T, _>(arg, "dhcp", (), move |p| p.dhcp(q, &*req)) }
}

/// Exports a [`Plugin`]: `varpd_plugin!(MyPlugin);` at the crate root of
/// a `cdylib`.
#[macro_export]
macro_rules! varpd_plugin {
    ($t:ty) => {
        static __VARPD_PLUGIN_OPS: $crate::sys::varpd_plugin_ops_t = $crate::sdk::ops::<$t>();

        // A plugin built with `panic = "abort"` would take varpd down
        // with it on its first panic; the SDK's promise (a panic is
        // caught, reported and the overlay degraded) needs unwinding.
        // (Fuzz builds abort by design and do not load into varpd.)
        // (`fuzzing` is cargo-fuzz's cfg, unknown to the plugin's crate.)
        #[allow(unexpected_cfgs)]
        const _: () = {
            #[cfg(all(panic = "abort", not(fuzzing)))]
            compile_error!(
                "a varpd plugin must be built with panic = \"unwind\" (the default): \
                 with panic = \"abort\" a panic in the plugin kills varpd and every \
                 overlay it serves"
            );
        };

        /// Registers the plugin; varpd calls it once after `dlopen`.
        #[unsafe(no_mangle)]
        pub extern "C" fn varpd_plugin_init() {
            $crate::sdk::register::<$t>(&__VARPD_PLUGIN_OPS);
        }

        /// Re-reads configuration; varpd calls it on SIGHUP.
        #[unsafe(no_mangle)]
        pub extern "C" fn varpd_plugin_reload() {
            let _ = ::std::panic::catch_unwind(<$t as $crate::sdk::Plugin>::reload_all);
        }
    };
}
