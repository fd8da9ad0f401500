//! The library functions of `libvarpd_provider.h`, exported from the
//! varpd binary for plugins to call (`libvarpd_plugin.c`,
//! `libvarpd_arp.c`, `libvarpd_prop.c`, `libvarpd_util.c`).
//!
//! Handles are addresses of our own objects: the provider handle is an
//! [`Instance`], the query handle a [`QueryBox`], the ARP and DHCP
//! handles a [`ProxyBox`], the property handle an `overlay::abi::prop::PropInfo`.
//! Where illumos aborts the process on a misuse (an unknown reply action,
//! a proxy for a plugin without `vpo_arp`), varpd logs and drops the
//! frame instead: a plugin bug must not take every overlay down.

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use libvarpd_abi::sys::{self, *};
use overlay::Errno;
use overlay::abi::EtherAddr;
use overlay::abi::prop::PropInfo;
use overlay::abi::targ::*;
use zerocopy::FromZeros;

use crate::core::Instance;
use crate::proxy;

/// A query in flight: the request, the plugin's answer slot, and the
/// instance. `#[repr(C)]` so the slots' addresses are stable fields.
#[repr(C)]
#[derive(Debug)]
pub struct QueryBox {
    pub req: OverlayTargLookup,
    pub point: OverlayTargetPoint,
    pub inst: Arc<Instance>,
}

impl QueryBox {
    pub fn new(req: OverlayTargLookup, inst: Arc<Instance>) -> Box<QueryBox> {
        Box::new(QueryBox {
            req,
            point: OverlayTargetPoint::new_zeroed(),
            inst,
        })
    }

    /// Completes the query: RESPOND with the answer, or DROP.
    #[allow(clippy::boxed_local)] // it is a heap handle being retired
    pub fn finish(self: Box<Self>, ok: bool) {
        let d = &self.inst.driver;
        // Posted: nothing here needs the driver's reply but a refusal,
        // which is logged when it comes.
        let r = if ok {
            d.respond_posted(self.req.otl_reqid, &self.point)
        } else {
            d.drop_posted(self.req.otl_reqid)
        };
        if let Err(e) = r {
            crate::driver::reply_refused(self.req.otl_reqid, e);
        }
        crate::probe_lookup_done(self.req.otl_reqid, ok);
        tracing::trace!(reqid = self.req.otl_reqid, ok, "lookup done");
    }
}

/// Which proxy a [`ProxyBox`] serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    Arp,
    Ndp,
    Dhcp,
}

/// A proxy in flight: its query, the frame, and the plugin's MAC slot.
#[repr(C)]
#[derive(Debug)]
pub struct ProxyBox {
    pub mac: [u8; 6],
    pub kind: ProxyKind,
    pub frame: Vec<u8>,
    pub query: Box<QueryBox>,
}

/// # Safety
/// `q` is a query handle varpd gave the plugin, not yet completed.
unsafe fn take_query(q: *mut varpd_query_handle_t) -> Option<Box<QueryBox>> {
    if q.is_null() {
        return None;
    }
    // SAFETY: per the contract, ours from Box::into_raw, consumed once.
    Some(unsafe { Box::from_raw(q.cast::<QueryBox>()) })
}

/// # Safety
/// `h` is a provider handle (a live instance) or null.
unsafe fn instance<'a>(h: *mut varpd_provider_handle_t) -> Option<&'a Instance> {
    // SAFETY: per the contract.
    unsafe { h.cast::<Instance>().as_ref() }
}

// --- registration --------------------------------------------------------------

/// `libvarpd_plugin_alloc`.
///
/// # Safety
/// `err` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_plugin_alloc(
    version: c_uint,
    err: *mut c_int,
) -> *mut varpd_plugin_register_t {
    if version != sys::VARPD_CURRENT_VERSION {
        eprintln!("varpd: unsupported plugin registration version {version}");
        if !err.is_null() {
            // SAFETY: the caller's out slot.
            unsafe { *err = libc::EINVAL };
        }
        return std::ptr::null_mut();
    }
    Box::into_raw(Box::new(varpd_plugin_register_t {
        vpr_version: version,
        vpr_mode: 0,
        vpr_name: std::ptr::null(),
        vpr_ops: std::ptr::null(),
    }))
}

/// `libvarpd_plugin_free`.
///
/// # Safety
/// `reg` is null or from `libvarpd_plugin_alloc`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_plugin_free(reg: *mut varpd_plugin_register_t) {
    if !reg.is_null() {
        // SAFETY: per the contract.
        drop(unsafe { Box::from_raw(reg) });
    }
}

/// `libvarpd_plugin_register`: only during a plugin load.
///
/// # Safety
/// `reg` is null or a filled registration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_plugin_register(reg: *mut varpd_plugin_register_t) -> c_int {
    crate::plugin::register(reg)
}

/// `libvarpd_panic`: logs the message (unformatted) and aborts.
///
/// # Safety
/// `fmt` is null or a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_panic(fmt: *const c_char) -> ! {
    let msg = if fmt.is_null() {
        "(null)".into()
    } else {
        // SAFETY: per the contract.
        unsafe { CStr::from_ptr(fmt) }.to_string_lossy()
    };
    tracing::error!("plugin panic: {msg}");
    eprintln!("varpd: plugin panic: {msg}");
    std::process::abort()
}

/// `libvarpd_plugin_vnetid`.
///
/// # Safety
/// `h` is a provider handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_plugin_vnetid(h: *mut varpd_provider_handle_t) -> u64 {
    // SAFETY: per the contract.
    unsafe { instance(h) }.map_or(0, |i| i.vnetid)
}

// --- replies ---------------------------------------------------------------------

/// `libvarpd_plugin_query_reply`.
///
/// # Safety
/// `q` is a query handle, completed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_plugin_query_reply(q: *mut varpd_query_handle_t, action: c_int) {
    // SAFETY: per the contract.
    let Some(q) = (unsafe { take_query(q) }) else {
        return;
    };
    match action {
        sys::VARPD_LOOKUP_OK => q.finish(true),
        sys::VARPD_LOOKUP_DROP => q.finish(false),
        other => {
            tracing::error!(plugin = %q.inst.plugin.name, "query reply with unknown action {other}; dropping");
            q.finish(false)
        }
    }
}

fn start_proxy(
    q: Box<QueryBox>,
    req: &OverlayTargLookup,
    kind: ProxyKind,
) -> Option<(Box<ProxyBox>, Option<IpAddr>)> {
    let hdr = req.otl_hdrsize as usize;
    let pkt = req.otl_pktsize as usize;
    let total = hdr.checked_add(pkt)?;
    let sap_ok = match kind {
        ProxyKind::Arp => req.otl_sap == 0x0806 && pkt >= 28,
        ProxyKind::Ndp => req.otl_dstaddr.0[..2] == [0x33, 0x33] && pkt >= 64,
        ProxyKind::Dhcp => {
            req.otl_sap == 0x0800
                && req.otl_dstaddr.is_broadcast()
                && pkt >= 20 + 8 + proxy::DHCP_MIN
        }
    };
    if !sap_ok || total > proxy::FRAME_MAX || hdr < 14 {
        q.finish(false);
        return None;
    }
    let mut frame = vec![0u8; proxy::FRAME_MAX];
    let n = match q.inst.driver.pkt(req.otl_reqid, &mut frame) {
        Ok(n) => n,
        Err(_) => {
            q.finish(false);
            return None;
        }
    };
    frame.truncate(n);
    let ok_len = match kind {
        ProxyKind::Dhcp => n == total,
        _ => n >= total,
    };
    let target = match kind {
        _ if !ok_len => None,
        ProxyKind::Arp => proxy::arp_request_target(&frame, hdr).map(IpAddr::V4),
        ProxyKind::Ndp => proxy::ndp_solicit_target(&frame, hdr, pkt).map(IpAddr::V6),
        ProxyKind::Dhcp => {
            proxy::dhcp_is_request(&frame, hdr).then_some(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        }
    };
    let Some(target) = target else {
        q.finish(false);
        return None;
    };
    Some((
        Box::new(ProxyBox {
            mac: [0; 6],
            kind,
            frame,
            query: q,
        }),
        Some(target),
    ))
}

fn sockaddr_of(ip: IpAddr) -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data; all zeroes is valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match ip {
        IpAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for
            // any socket address.
            let s = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in) };
            s.sin_family = libc::AF_INET as libc::sa_family_t;
            s.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
        }
        IpAddr::V6(a) => {
            // SAFETY: as above.
            let s = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6) };
            s.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            s.sin6_addr.s6_addr = a.octets();
        }
    }
    ss
}

/// # Safety
/// The arguments of the `libvarpd_plugin_proxy_*` functions.
unsafe fn proxy_common(
    q: *mut varpd_query_handle_t,
    req: *const OverlayTargLookup,
    kind: ProxyKind,
) {
    // SAFETY: the caller's contract.
    let Some(q) = (unsafe { take_query(q) }) else {
        return;
    };
    // The request is the query's own when the plugin passes it back; a
    // copy of another is fine too.
    // SAFETY: the caller's contract: a live request or null.
    let req = unsafe { req.as_ref() }.copied().unwrap_or(q.req);
    let inst = q.inst.clone();
    let ops = inst.plugin.ops.0;
    let Some((pb, target)) = start_proxy(q, &req, kind) else {
        return;
    };
    let private = inst.private.load(std::sync::atomic::Ordering::Acquire);
    let pb = Box::into_raw(pb);
    match kind {
        ProxyKind::Arp | ProxyKind::Ndp => {
            let Some(arp) = ops.vpo_arp else {
                tracing::error!(plugin = %inst.plugin.name, "proxy ARP/NDP without vpo_arp; dropping");
                // SAFETY: ours, just made.
                unsafe { Box::from_raw(pb) }.query.finish(false);
                return;
            };
            let ss = sockaddr_of(target.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
            // SAFETY: the proxy box lives until libvarpd_plugin_arp_reply;
            // the MAC slot is inside it.
            unsafe {
                arp(
                    private,
                    pb.cast(),
                    sys::VARPD_QTYPE_ETHERNET,
                    (&ss as *const libc::sockaddr_storage).cast(),
                    (*pb).mac.as_mut_ptr(),
                )
            }
        }
        ProxyKind::Dhcp => {
            let Some(dhcp) = ops.vpo_dhcp else {
                tracing::error!(plugin = %inst.plugin.name, "proxy DHCP without vpo_dhcp; dropping");
                // SAFETY: ours, just made.
                unsafe { Box::from_raw(pb) }.query.finish(false);
                return;
            };
            // SAFETY: as above; the request lives in the query.
            unsafe {
                dhcp(
                    private,
                    pb.cast(),
                    sys::VARPD_QTYPE_ETHERNET,
                    &(*pb).query.req,
                    (*pb).mac.as_mut_ptr(),
                )
            }
        }
    }
}

/// `libvarpd_plugin_proxy_arp`.
///
/// # Safety
/// `q` an open query handle; `req` null or a request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_plugin_proxy_arp(
    _h: *mut varpd_provider_handle_t,
    q: *mut varpd_query_handle_t,
    req: *const OverlayTargLookup,
) {
    // SAFETY: the caller's contract.
    unsafe { proxy_common(q, req, ProxyKind::Arp) }
}

/// `libvarpd_plugin_proxy_ndp`.
///
/// # Safety
/// As `libvarpd_plugin_proxy_arp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_plugin_proxy_ndp(
    _h: *mut varpd_provider_handle_t,
    q: *mut varpd_query_handle_t,
    req: *const OverlayTargLookup,
) {
    // SAFETY: the caller's contract.
    unsafe { proxy_common(q, req, ProxyKind::Ndp) }
}

/// `libvarpd_plugin_proxy_dhcp`.
///
/// # Safety
/// As `libvarpd_plugin_proxy_arp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_plugin_proxy_dhcp(
    _h: *mut varpd_provider_handle_t,
    q: *mut varpd_query_handle_t,
    req: *const OverlayTargLookup,
) {
    // SAFETY: the caller's contract.
    unsafe { proxy_common(q, req, ProxyKind::Dhcp) }
}

/// Completes a proxy: the answer frame goes up (ARP, NDP) or out again
/// (DHCP), and the original request is dropped.
#[allow(clippy::boxed_local)] // a heap handle being retired
pub fn finish_proxy(pb: Box<ProxyBox>, ok: bool) {
    let ProxyBox {
        mac,
        kind,
        mut frame,
        query,
    } = *pb;
    if ok {
        let hdr = query.req.otl_hdrsize as usize;
        let reqid = query.req.otl_reqid;
        let d = &query.inst.driver;
        let r = match kind {
            ProxyKind::Arp => proxy::arp_make_reply(&mut frame, hdr, mac)
                .ok_or(Errno::EINVAL)
                .and_then(|()| d.inject(None, reqid, &frame)),
            ProxyKind::Ndp => proxy::ndp_make_advert(&frame, hdr, mac)
                .ok_or(Errno::EINVAL)
                .and_then(|f| d.inject(None, reqid, &f)),
            ProxyKind::Dhcp => {
                frame[..6].copy_from_slice(&mac);
                d.resend(None, reqid, &frame)
            }
        };
        if let Err(e) = r {
            tracing::debug!(reqid, ?kind, "proxy answer not delivered: {e}");
        }
    }
    query.finish(false);
}

/// `libvarpd_plugin_arp_reply`.
///
/// # Safety
/// `h` an ARP handle, completed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_plugin_arp_reply(h: *mut varpd_arp_handle_t, action: c_int) {
    if h.is_null() {
        return;
    }
    // SAFETY: per the contract.
    let pb = unsafe { Box::from_raw(h.cast::<ProxyBox>()) };
    finish_proxy(pb, action == sys::VARPD_LOOKUP_OK)
}

/// `libvarpd_plugin_dhcp_reply`.
///
/// # Safety
/// `h` a DHCP handle, completed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_plugin_dhcp_reply(h: *mut varpd_dhcp_handle_t, action: c_int) {
    if h.is_null() {
        return;
    }
    // SAFETY: per the contract.
    let pb = unsafe { Box::from_raw(h.cast::<ProxyBox>()) };
    finish_proxy(pb, action == sys::VARPD_LOOKUP_OK)
}

// --- properties ---------------------------------------------------------------------

/// # Safety
/// `h` is a property handle or null.
unsafe fn prop<'a>(h: *mut varpd_prop_handle_t) -> Option<&'a mut PropInfo> {
    // SAFETY: per the contract; the handle is the PropInfo varpd passed.
    unsafe { h.cast::<PropInfo>().as_mut() }
}

/// `libvarpd_prop_set_name`.
///
/// # Safety
/// A property handle and a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_prop_set_name(h: *mut varpd_prop_handle_t, name: *const c_char) {
    // SAFETY: the caller's contract.
    if let (Some(p), false) = (unsafe { prop(h) }, name.is_null()) {
        // SAFETY: a C string.
        p.set_name(unsafe { CStr::from_ptr(name) }.to_bytes());
    }
}

/// `libvarpd_prop_set_prot`.
///
/// # Safety
/// A property handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_prop_set_prot(h: *mut varpd_prop_handle_t, prot: c_uint) {
    // SAFETY: the caller's contract.
    if let Some(p) = unsafe { prop(h) } {
        p.prot = prot;
    }
}

/// `libvarpd_prop_set_type`.
///
/// # Safety
/// A property handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_prop_set_type(h: *mut varpd_prop_handle_t, ty: c_uint) {
    // SAFETY: the caller's contract.
    if let Some(p) = unsafe { prop(h) } {
        p.ptype = ty;
    }
}

/// `libvarpd_prop_set_default`: > 256 bytes `E2BIG`, negative
/// `EOVERFLOW`.
///
/// # Safety
/// A property handle and `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_prop_set_default(
    h: *mut varpd_prop_handle_t,
    buf: *mut c_void,
    len: isize,
) -> c_int {
    // SAFETY: the caller's contract.
    let Some(p) = (unsafe { prop(h) }) else {
        return libc::EINVAL;
    };
    if len < 0 {
        return libvarpd_abi::errno::to_host(Errno::EOVERFLOW);
    }
    if len as usize > overlay::abi::common::OVERLAY_PROP_SIZEMAX {
        return libc::E2BIG;
    }
    if buf.is_null() && len != 0 {
        return libc::EINVAL;
    }
    let v = if len == 0 {
        &[][..]
    } else {
        // SAFETY: `len` readable bytes.
        unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), len as usize) }
    };
    match p.set_default(v) {
        Ok(()) => 0,
        Err(e) => libvarpd_abi::errno::to_host(e),
    }
}

/// `libvarpd_prop_set_nodefault`.
///
/// # Safety
/// A property handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_prop_set_nodefault(h: *mut varpd_prop_handle_t) {
    // SAFETY: the caller's contract.
    if let Some(p) = unsafe { prop(h) } {
        p.set_nodefault();
    }
}

/// `libvarpd_prop_set_range_uint32`.
///
/// # Safety
/// A property handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_prop_set_range_uint32(
    h: *mut varpd_prop_handle_t,
    min: u32,
    max: u32,
) {
    // SAFETY: the caller's contract.
    if let Some(p) = unsafe { prop(h) } {
        p.add_range_uint32(min, max);
    }
}

/// `libvarpd_prop_set_range_str`.
///
/// # Safety
/// A property handle and a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_prop_set_range_str(
    h: *mut varpd_prop_handle_t,
    s: *const c_char,
) {
    // SAFETY: the caller's contract.
    if let (Some(p), false) = (unsafe { prop(h) }, s.is_null()) {
        // SAFETY: a C string.
        p.add_range_str(unsafe { CStr::from_ptr(s) }.to_bytes());
    }
}

// --- injection and FMA -----------------------------------------------------------

/// `libvarpd_inject_varp`: sets (point) or removes (null) the cache
/// entry for `mac`.
///
/// # Safety
/// A provider handle, 6 bytes at `mac`, `point` null or a point.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_inject_varp(
    h: *mut varpd_provider_handle_t,
    mac: *const u8,
    point: *const OverlayTargetPoint,
) {
    // SAFETY: the caller's contract.
    let Some(i) = (unsafe { instance(h) }) else {
        return;
    };
    if mac.is_null() {
        return;
    }
    let mut m = [0u8; 6];
    // SAFETY: 6 readable bytes.
    unsafe { std::ptr::copy_nonoverlapping(mac, m.as_mut_ptr(), 6) };
    // SAFETY: null or a point.
    let r = match unsafe { point.as_ref() } {
        None => i.driver.cache_remove(i.linkid, EtherAddr(m)),
        Some(p) => i.driver.cache_set(
            i.linkid,
            &OverlayTargCacheEntry {
                otce_mac: EtherAddr(m),
                otce_flags: 0,
                otce_dest: *p,
            },
        ),
    };
    if let Err(e) = r {
        tracing::debug!(linkid = i.linkid, "inject_varp: {e}");
    }
}

/// `libvarpd_inject_arp`: a gratuitous ARP up the overlay.
///
/// # Safety
/// A provider handle; 6 bytes at `src` and `dst`; `ip` an address.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_inject_arp(
    h: *mut varpd_provider_handle_t,
    vlan: u16,
    src: *const u8,
    ip: *const libc::in_addr,
    dst: *const u8,
) {
    // SAFETY: the caller's contract.
    let Some(i) = (unsafe { instance(h) }) else {
        return;
    };
    if src.is_null() || ip.is_null() || dst.is_null() {
        return;
    }
    let (mut s, mut d) = ([0u8; 6], [0u8; 6]);
    // SAFETY: 6 readable bytes each, and an in_addr.
    let a = unsafe {
        std::ptr::copy_nonoverlapping(src, s.as_mut_ptr(), 6);
        std::ptr::copy_nonoverlapping(dst, d.as_mut_ptr(), 6);
        (*ip).s_addr
    };
    let f = proxy::gratuitous_arp(vlan, s, Ipv4Addr::from(a.to_ne_bytes()), d);
    if let Err(e) = i.driver.inject(Some(i.linkid), 0, &f) {
        tracing::debug!(linkid = i.linkid, "inject_arp: {e}");
    }
}

/// `libvarpd_fma_degrade`.
///
/// # Safety
/// A provider handle and a C string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_fma_degrade(h: *mut varpd_provider_handle_t, msg: *const c_char) {
    // SAFETY: the caller's contract.
    let Some(i) = (unsafe { instance(h) }) else {
        return;
    };
    let m = if msg.is_null() {
        String::new()
    } else {
        // SAFETY: a C string.
        unsafe { CStr::from_ptr(msg) }
            .to_string_lossy()
            .into_owned()
    };
    tracing::warn!(linkid = i.linkid, "degraded: {m}");
    if let Err(e) = i.driver.degrade(i.linkid, &m) {
        tracing::error!(linkid = i.linkid, "degrade: {e}");
    }
}

/// `libvarpd_fma_restore`.
///
/// # Safety
/// A provider handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libvarpd_fma_restore(h: *mut varpd_provider_handle_t) {
    // SAFETY: the caller's contract.
    let Some(i) = (unsafe { instance(h) }) else {
        return;
    };
    tracing::info!(linkid = i.linkid, "restored");
    if let Err(e) = i.driver.restore(i.linkid) {
        tracing::error!(linkid = i.linkid, "restore: {e}");
    }
}

/// Keeps the exports in the binary (see [`crate::keep_exports`]).
pub(crate) fn exports() -> Vec<*const ()> {
    vec![
        libvarpd_plugin_alloc as *const (),
        libvarpd_plugin_free as *const (),
        libvarpd_plugin_register as *const (),
        libvarpd_panic as *const (),
        libvarpd_plugin_vnetid as *const (),
        libvarpd_plugin_query_reply as *const (),
        libvarpd_plugin_proxy_arp as *const (),
        libvarpd_plugin_proxy_ndp as *const (),
        libvarpd_plugin_proxy_dhcp as *const (),
        libvarpd_plugin_arp_reply as *const (),
        libvarpd_plugin_dhcp_reply as *const (),
        libvarpd_prop_set_name as *const (),
        libvarpd_prop_set_prot as *const (),
        libvarpd_prop_set_type as *const (),
        libvarpd_prop_set_default as *const (),
        libvarpd_prop_set_nodefault as *const (),
        libvarpd_prop_set_range_uint32 as *const (),
        libvarpd_prop_set_range_str as *const (),
        libvarpd_inject_varp as *const (),
        libvarpd_inject_arp as *const (),
        libvarpd_fma_degrade as *const (),
        libvarpd_fma_restore as *const (),
    ]
}
