//! The `overlay_plugin_ops_t` vector and the registration record: the
//! only place where C pointers are turned into Rust values. Every op
//! checks its pointers for NULL (a C caller gets `EINVAL` rather than a
//! crash), then calls the safe code in [`crate::instance`],
//! [`crate::prop`], [`crate::wire`] and [`crate::flow`].

use core::ffi::{CStr, c_char, c_int, c_uint, c_void};
use core::ptr;
use core::sync::atomic::Ordering;

use overlay::Errno;
use overlay::abi::common::{OVERLAY_PLUGIN_D_IP, OVERLAY_PLUGIN_D_PORT};
use overlay::plugin::abi::{
    OVEP_F_VLAN_TAG, OVEP_VERSION, ovep_encap_info_t, overlay_handle_t, overlay_plugin_ops_t,
    overlay_plugin_register_t, overlay_prop_handle_t, overlay_sockopt_t, sockaddr_in6_t,
};

use crate::instance::{self, SOCKADDR_IN6_LEN, Vxlan};
use crate::prop::{self, PropSink, VxlanProp};
use crate::wire::{VXLAN_HDR_LEN, VXLAN_ID_LEN, VxlanHeader, VxlanRepr};
use crate::{VXLAN_FANOUT, flow};

/// The plugin name, `vxlan`.
pub const VXLAN_NAME: &CStr = c"vxlan";

/// `OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT`: a vxlan destination is
/// an IP address and a UDP port.
pub const VXLAN_DEST: c_uint = OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT;

/// The vxlan ops vector, in illumos field order.
pub static VXLAN_OPS: overlay_plugin_ops_t = overlay_plugin_ops_t {
    ovpo_callbacks: 0,
    ovpo_init: Some(vxlan_o_init),
    ovpo_fini: Some(vxlan_o_fini),
    ovpo_encap: Some(vxlan_o_encap),
    ovpo_decap: Some(vxlan_o_decap),
    ovpo_socket: Some(vxlan_o_socket),
    ovpo_sockopt: Some(vxlan_o_sockopt),
    ovpo_getprop: Some(vxlan_o_getprop),
    ovpo_setprop: Some(vxlan_o_setprop),
    ovpo_propinfo: Some(vxlan_o_propinfo),
};

/// The NULL-terminated property name array (`vxlan_props`).
#[repr(transparent)]
struct PropNames([*const c_char; 3]);

// SAFETY: the pointers are to 'static, immutable C string literals and
// the array itself is never written: sharing it between threads is as
// safe as sharing the literals.
unsafe impl Sync for PropNames {}

static VXLAN_PROPS: PropNames = PropNames([
    prop::PROP_LISTEN_IP.as_ptr(),
    prop::PROP_LISTEN_PORT.as_ptr(),
    ptr::null(),
]);

/// Fills a registration record from `overlay_plugin_alloc` as illumos
/// `_init` does (the version is the allocator's). Everything it points
/// to is `'static`: the driver may keep the pointers.
pub fn fill_registration(reg: &mut overlay_plugin_register_t) {
    reg.ovep_name = VXLAN_NAME.as_ptr();
    reg.ovep_ops = &VXLAN_OPS;
    reg.ovep_props = VXLAN_PROPS.0.as_ptr();
    reg.ovep_id_size = VXLAN_ID_LEN as c_uint;
    reg.ovep_flags = OVEP_F_VLAN_TAG;
    reg.ovep_dest = VXLAN_DEST;
}

/// What [`encap`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encap {
    /// Bytes of header written: [`VXLAN_HDR_LEN`].
    pub hdr_size: usize,
    /// The outer UDP source port (`ovdi_src_port`); 0 when
    /// [`VXLAN_FANOUT`] is off (the socket's own port is used).
    pub src_port: u16,
}

/// Writes the VXLAN header for virtual network `id` into `hdr` and
/// derives the outer source port from the inner `frame`. `hdr` shorter
/// than [`VXLAN_HDR_LEN`] is `EINVAL`. Ids above 2^24 - 1 lose their
/// high bits, as in illumos (the driver never passes one: the plugin's
/// id size is 3).
pub fn encap(id: u64, frame: &[u8], hdr: &mut [u8]) -> Result<Encap, Errno> {
    encap_with(id, frame, hdr, VXLAN_FANOUT.load(Ordering::Relaxed))
}

fn encap_with(id: u64, frame: &[u8], hdr: &mut [u8], fanout: bool) -> Result<Encap, Errno> {
    let mut h = VxlanHeader::new_checked(hdr).map_err(|_| Errno::EINVAL)?;
    VxlanRepr { vni: id as u32 }.emit(&mut h);
    let src_port = if fanout { flow::source_port(frame) } else { 0 };
    Ok(Encap {
        hdr_size: VXLAN_HDR_LEN,
        src_port,
    })
}

/// Validates the VXLAN header at the start of `data` (whole, I flag
/// set; reserved bits ignored) and returns it; `EINVAL` otherwise. The
/// header is [`VXLAN_HDR_LEN`] bytes; the inner frame follows.
///
/// ```
/// use overlay_encap_vxlan::{Errno, decap, encap};
///
/// let inner = [0u8; 60];
/// let mut pkt = [0u8; 68];
/// let e = encap(23, &inner, &mut pkt[..8]).unwrap();
/// assert_eq!(e.hdr_size, 8);
/// assert!(e.src_port >= 49152);
/// assert_eq!(decap(&pkt).unwrap().vni, 23);
/// assert_eq!(decap(&pkt[..7]), Err(Errno::EINVAL));
/// ```
pub fn decap(data: &[u8]) -> Result<VxlanRepr, Errno> {
    Ok(VxlanRepr::parse(&VxlanHeader::new_unchecked(data))?)
}

/// Views a C (pointer, length) pair as a slice; NULL is empty.
///
/// # Safety
///
/// Unless NULL, `p` must point to `len` readable bytes that stay valid
/// and unwritten for `'a`.
unsafe fn bytes<'a>(p: *const u8, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: non-null, and the caller vouches for `len` bytes.
        unsafe { core::slice::from_raw_parts(p, len) }
    }
}

/// Views a C mutable (pointer, length) pair as a slice; NULL is empty.
///
/// # Safety
///
/// Unless NULL, `p` must point to `len` writable bytes, not otherwise
/// accessed during `'a`.
unsafe fn bytes_mut<'a>(p: *mut u8, len: usize) -> &'a mut [u8] {
    if p.is_null() || len == 0 {
        &mut []
    } else {
        // SAFETY: non-null, and the caller vouches for `len` exclusive
        // bytes.
        unsafe { core::slice::from_raw_parts_mut(p, len) }
    }
}

/// A property name argument; `None` for NULL.
///
/// # Safety
///
/// Unless NULL, `name` must be a NUL-terminated string valid for `'a`.
unsafe fn prop_name<'a>(name: *const c_char) -> Option<&'a CStr> {
    if name.is_null() {
        None
    } else {
        // SAFETY: non-null and NUL-terminated per the caller.
        Some(unsafe { CStr::from_ptr(name) })
    }
}

/// The instance behind an op's `arg`; `None` for NULL.
///
/// # Safety
///
/// Unless NULL, `arg` must be a pointer `vxlan_o_init` produced and
/// `vxlan_o_fini` has not yet consumed.
unsafe fn instance<'a>(arg: *mut c_void) -> Option<&'a Vxlan> {
    // SAFETY: per the caller, a live `Box<Vxlan>` from `vxlan_o_init`,
    // only ever shared (`Vxlan` is `Sync`: all its fields are atomics).
    unsafe { arg.cast::<Vxlan>().as_ref() }
}

fn code(r: Result<(), Errno>) -> c_int {
    Errno::code(r)
}

/// `ovpo_init`: allocates an instance (illumos `vxlan_o_init`).
///
/// # Safety
///
/// `outp` must be NULL or writable.
pub unsafe extern "C" fn vxlan_o_init(_oh: *mut overlay_handle_t, outp: *mut *mut c_void) -> c_int {
    if outp.is_null() {
        return Errno::EINVAL.0;
    }
    let inst = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(Vxlan::new()));
    // SAFETY: `outp` is non-null and writable per the op contract.
    unsafe { outp.write(inst.cast()) };
    0
}

/// `ovpo_fini`: frees an instance.
///
/// # Safety
///
/// `arg` must be NULL or from `vxlan_o_init`, and not used afterwards.
pub unsafe extern "C" fn vxlan_o_fini(arg: *mut c_void) {
    if !arg.is_null() {
        // SAFETY: `arg` is the `Box<Vxlan>` leaked by `vxlan_o_init`,
        // handed back exactly once.
        drop(unsafe { alloc::boxed::Box::from_raw(arg.cast::<Vxlan>()) });
    }
}

/// `ovpo_encap`: writes the 8-byte header, sets `ovdi_hdr_size` and
/// `ovdi_src_port`. Does not touch the instance.
///
/// # Safety
///
/// `frame` (NULL or `frame_len` bytes), `info` (NULL or a valid
/// `ovep_encap_info_t`) and `hdr` (NULL or `hdr_cap` writable bytes)
/// must be valid for the call.
pub unsafe extern "C" fn vxlan_o_encap(
    _arg: *mut c_void,
    frame: *const u8,
    frame_len: usize,
    info: *mut ovep_encap_info_t,
    hdr: *mut u8,
    hdr_cap: usize,
) -> c_int {
    // SAFETY: NULL or a valid encap info per the op contract.
    let Some(info) = (unsafe { info.as_mut() }) else {
        return Errno::EINVAL.0;
    };
    // SAFETY: NULL or `frame_len` readable bytes per the op contract.
    let frame = unsafe { bytes(frame, frame_len) };
    // SAFETY: NULL or `hdr_cap` writable bytes per the op contract,
    // distinct from `frame` and `info`.
    let hdr = unsafe { bytes_mut(hdr, hdr_cap) };
    match encap(info.ovdi_id, frame, hdr) {
        Ok(e) => {
            info.ovdi_hdr_size = e.hdr_size;
            info.ovdi_src_port = e.src_port;
            0
        }
        Err(e) => e.0,
    }
}

/// `ovpo_decap`: validates the header, sets `ovdi_id` and
/// `ovdi_hdr_size`. `arg` is unused (and NULL from the driver).
///
/// # Safety
///
/// `data` (NULL or `len` bytes) and `info` (NULL or valid) must be
/// valid for the call.
pub unsafe extern "C" fn vxlan_o_decap(
    _arg: *mut c_void,
    data: *const u8,
    len: usize,
    info: *mut ovep_encap_info_t,
) -> c_int {
    // SAFETY: NULL or a valid encap info per the op contract.
    let Some(info) = (unsafe { info.as_mut() }) else {
        return Errno::EINVAL.0;
    };
    // SAFETY: NULL or `len` readable bytes per the op contract.
    let data = unsafe { bytes(data, len) };
    match decap(data) {
        Ok(repr) => {
            info.ovdi_id = u64::from(repr.vni);
            info.ovdi_hdr_size = VXLAN_HDR_LEN;
            0
        }
        Err(e) => e.0,
    }
}

/// `ovpo_socket`: the mux socket parameters.
///
/// # Safety
///
/// `arg` as for every instance op; each out pointer NULL or writable.
pub unsafe extern "C" fn vxlan_o_socket(
    arg: *mut c_void,
    domain: *mut c_int,
    ty: *mut c_int,
    protocol: *mut c_int,
    addr: *mut sockaddr_in6_t,
    addrlen: *mut u32,
) -> c_int {
    // SAFETY: NULL or a live instance per the op contract.
    let Some(inst) = (unsafe { instance(arg) }) else {
        return Errno::EINVAL.0;
    };
    if domain.is_null() || ty.is_null() || protocol.is_null() || addr.is_null() || addrlen.is_null()
    {
        return Errno::EINVAL.0;
    }
    match inst.socket() {
        Ok(s) => {
            // SAFETY: all five are non-null and writable per the op
            // contract; `addr` may be unaligned in a C caller's buffer.
            unsafe {
                domain.write(s.domain);
                ty.write(s.ty);
                protocol.write(s.protocol);
                addr.write_unaligned(s.addr);
                addrlen.write(SOCKADDR_IN6_LEN);
            }
            0
        }
        Err(e) => e.0,
    }
}

/// `ovpo_sockopt`: the options for a new mux socket (`vxlan_fanout`).
/// `*nopts` is the capacity of `opts` in, the count out; too small a
/// capacity is `EOVERFLOW`.
///
/// # Safety
///
/// `nopts` NULL or valid; `opts` NULL or `*nopts` writable entries.
pub unsafe extern "C" fn vxlan_o_sockopt(
    _arg: *mut c_void,
    opts: *mut overlay_sockopt_t,
    nopts: *mut c_uint,
) -> c_int {
    // SAFETY: NULL or valid per the op contract.
    let Some(nopts) = (unsafe { nopts.as_mut() }) else {
        return Errno::EINVAL.0;
    };
    let want = instance::sockopts(VXLAN_FANOUT.load(Ordering::Relaxed));
    let cap = if opts.is_null() { 0 } else { *nopts as usize };
    if want.len() > cap {
        return Errno::EOVERFLOW.0;
    }
    for (i, o) in want.iter().enumerate() {
        // SAFETY: i < cap, and `opts` has `cap` writable entries.
        unsafe { opts.add(i).write_unaligned(*o) };
    }
    *nopts = want.len() as c_uint;
    0
}

/// `ovpo_getprop`.
///
/// # Safety
///
/// `arg` as for every instance op; `name` NULL or a C string; `size`
/// NULL or valid; `buf` NULL or `*size` writable bytes.
pub unsafe extern "C" fn vxlan_o_getprop(
    arg: *mut c_void,
    name: *const c_char,
    buf: *mut c_void,
    size: *mut u32,
) -> c_int {
    // SAFETY: NULL or a live instance per the op contract.
    let Some(inst) = (unsafe { instance(arg) }) else {
        return Errno::EINVAL.0;
    };
    // SAFETY: NULL or a C string per the op contract.
    let Some(name) = (unsafe { prop_name(name) }) else {
        return Errno::EINVAL.0;
    };
    // SAFETY: NULL or valid per the op contract.
    let Some(size) = (unsafe { size.as_mut() }) else {
        return Errno::EINVAL.0;
    };
    let prop = match VxlanProp::from_name(name) {
        Ok(p) => p,
        Err(e) => return e.0,
    };
    // SAFETY: NULL or `*size` writable bytes per the op contract.
    let buf = unsafe { bytes_mut(buf.cast(), *size as usize) };
    match inst.getprop(prop, buf) {
        Ok(n) => {
            *size = n as u32;
            0
        }
        Err(e) => e.0,
    }
}

/// `ovpo_setprop`.
///
/// # Safety
///
/// `arg` as for every instance op; `name` NULL or a C string; `buf`
/// NULL or `size` readable bytes.
pub unsafe extern "C" fn vxlan_o_setprop(
    arg: *mut c_void,
    name: *const c_char,
    buf: *const c_void,
    size: u32,
) -> c_int {
    // SAFETY: NULL or a live instance per the op contract.
    let Some(inst) = (unsafe { instance(arg) }) else {
        return Errno::EINVAL.0;
    };
    // SAFETY: NULL or a C string per the op contract.
    let Some(name) = (unsafe { prop_name(name) }) else {
        return Errno::EINVAL.0;
    };
    // SAFETY: NULL or `size` readable bytes per the op contract.
    let val = unsafe { bytes(buf.cast(), size as usize) };
    code(VxlanProp::from_name(name).and_then(|p| inst.setprop(p, val)))
}

/// `ovpo_propinfo`.
///
/// # Safety
///
/// `name` NULL or a C string; `phdl` a handle from the driver.
pub unsafe extern "C" fn vxlan_o_propinfo(
    name: *const c_char,
    phdl: *mut overlay_prop_handle_t,
) -> c_int {
    // SAFETY: NULL or a C string per the op contract.
    let Some(name) = (unsafe { prop_name(name) }) else {
        return Errno::EINVAL.0;
    };
    if phdl.is_null() {
        return Errno::EINVAL.0;
    }
    match prop::propinfo(name) {
        Ok(spec) => {
            spec.apply(&mut HandleSink(phdl));
            0
        }
        Err(e) => e.0,
    }
}

/// The driver's property handle as a [`PropSink`].
struct HandleSink(*mut overlay_prop_handle_t);

// The driver's helpers. Not in unit tests: the test binary has no
// driver to link against, and the ops vector (which tests call through)
// refers to `vxlan_o_propinfo`, so these calls would be linked in. Tests
// use the impl below instead, which is the only difference.
#[cfg(not(test))]
impl PropSink for HandleSink {
    fn set_name(&mut self, name: &CStr) {
        // SAFETY: a live handle from the driver's propinfo call; the
        // name is a C string (the driver copies it).
        unsafe { overlay::plugin::abi::overlay_prop_set_name(self.0, name.as_ptr()) }
    }
    fn set_prot(&mut self, prot: u32) {
        // SAFETY: a live handle from the driver's propinfo call.
        unsafe { overlay::plugin::abi::overlay_prop_set_prot(self.0, prot) }
    }
    fn set_type(&mut self, ty: u32) {
        // SAFETY: a live handle from the driver's propinfo call.
        unsafe { overlay::plugin::abi::overlay_prop_set_type(self.0, ty) }
    }
    fn set_default(&mut self, def: &[u8]) {
        // The result is ignored as in illumos: our defaults are 2 bytes,
        // far below the 256-byte limit, so this cannot fail.
        // SAFETY: a live handle; `def` is `def.len()` readable bytes
        // (the driver copies them).
        let _ = unsafe {
            overlay::plugin::abi::overlay_prop_set_default(
                self.0,
                def.as_ptr().cast(),
                def.len() as isize,
            )
        };
    }
    fn set_nodefault(&mut self) {
        // SAFETY: a live handle from the driver's propinfo call.
        unsafe { overlay::plugin::abi::overlay_prop_set_nodefault(self.0) }
    }
    fn set_range_uint32(&mut self, min: u32, max: u32) {
        // SAFETY: a live handle from the driver's propinfo call.
        unsafe { overlay::plugin::abi::overlay_prop_set_range_uint32(self.0, min, max) }
    }
}

// In unit tests the "handle" is a `prop::test::Recorder`.
#[cfg(test)]
impl HandleSink {
    fn recorder(&mut self) -> &mut prop::test::Recorder {
        // SAFETY: tests pass a pointer to a live, otherwise unborrowed
        // Recorder as the handle.
        unsafe { &mut *self.0.cast::<prop::test::Recorder>() }
    }
}

#[cfg(test)]
impl PropSink for HandleSink {
    fn set_name(&mut self, name: &CStr) {
        self.recorder().set_name(name)
    }
    fn set_prot(&mut self, prot: u32) {
        self.recorder().set_prot(prot)
    }
    fn set_type(&mut self, ty: u32) {
        self.recorder().set_type(ty)
    }
    fn set_default(&mut self, def: &[u8]) {
        self.recorder().set_default(def)
    }
    fn set_nodefault(&mut self) {
        self.recorder().set_nodefault()
    }
    fn set_range_uint32(&mut self, min: u32, max: u32) {
        self.recorder().set_range_uint32(min, max)
    }
}

/// The driver's registration entry points, so that the `_init`/`_fini`
/// sequences can be tested against a mock.
pub(crate) trait Driver {
    /// `overlay_plugin_alloc`.
    fn alloc(&self, version: c_uint) -> *mut overlay_plugin_register_t;
    /// `overlay_plugin_register`.
    ///
    /// # Safety
    ///
    /// `reg` is from [`alloc`](Self::alloc), filled, not yet freed.
    unsafe fn register(&self, reg: *const overlay_plugin_register_t) -> c_int;
    /// `overlay_plugin_free`.
    ///
    /// # Safety
    ///
    /// `reg` is from [`alloc`](Self::alloc) and not used afterwards.
    unsafe fn free(&self, reg: *mut overlay_plugin_register_t);
    /// `overlay_plugin_unregister`.
    fn unregister(&self, name: &CStr) -> c_int;
}

/// illumos `_init`: alloc → fill → register → `install` (the module
/// system's `mod_install`; nothing on a host without one), undoing the
/// registration if that fails → free. Returns the errno; a failed
/// alloc (unsupported version) is `ENOTSUP`.
pub(crate) fn init_with<D: Driver>(d: &D, install: impl FnOnce() -> c_int) -> c_int {
    let reg = d.alloc(OVEP_VERSION);
    if reg.is_null() {
        return Errno::ENOTSUP.0;
    }
    // SAFETY: a non-null record from overlay_plugin_alloc: initialised
    // (zeroed, version set) and ours alone until we free it.
    fill_registration(unsafe { &mut *reg });
    // SAFETY: filled, from alloc, not yet freed.
    let mut err = unsafe { d.register(reg) };
    if err == 0 {
        err = install();
        if err != 0 {
            let _ = d.unregister(VXLAN_NAME);
        }
    }
    // SAFETY: from alloc; not used after this. The driver copied what
    // it keeps, and the pointers in it are all 'static.
    unsafe { d.free(reg) };
    err
}

/// illumos `_fini`: unregister (propagating `EBUSY` while a device uses
/// vxlan, `ENOENT` if not registered), then `remove` (`mod_remove`).
pub(crate) fn fini_with<D: Driver>(d: &D, remove: impl FnOnce() -> c_int) -> c_int {
    match d.unregister(VXLAN_NAME) {
        0 => remove(),
        err => err,
    }
}

/// The real driver, through its exported C functions.
#[cfg(not(test))]
pub(crate) struct ExternDriver;

#[cfg(not(test))]
impl Driver for ExternDriver {
    fn alloc(&self, version: c_uint) -> *mut overlay_plugin_register_t {
        // SAFETY: takes a plain integer; returns NULL or a record.
        unsafe { overlay::plugin::abi::overlay_plugin_alloc(version) }
    }
    unsafe fn register(&self, reg: *const overlay_plugin_register_t) -> c_int {
        // SAFETY: forwarded from our caller's contract.
        unsafe { overlay::plugin::abi::overlay_plugin_register(reg) }
    }
    unsafe fn free(&self, reg: *mut overlay_plugin_register_t) {
        // SAFETY: forwarded from our caller's contract.
        unsafe { overlay::plugin::abi::overlay_plugin_free(reg) }
    }
    fn unregister(&self, name: &CStr) -> c_int {
        // SAFETY: a valid C string for the duration of the call.
        unsafe { overlay::plugin::abi::overlay_plugin_unregister(name.as_ptr()) }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::flow::test::Flow;
    use crate::prop::test::{Recorder, v6};
    use crate::wire::VXLAN_VNI_MAX;
    use core::cell::RefCell;
    use std::boxed::Box;
    use std::vec::Vec;

    fn info() -> ovep_encap_info_t {
        ovep_encap_info_t::default()
    }

    /// Calls the encap op through the ops vector.
    fn op_encap(id: u64, frame: &[u8], hdr: &mut [u8]) -> (c_int, ovep_encap_info_t) {
        let mut i = ovep_encap_info_t {
            ovdi_id: id,
            ..info()
        };
        let f = VXLAN_OPS.ovpo_encap.unwrap();
        // SAFETY: valid slices and info for the call.
        let rc = unsafe {
            f(
                ptr::null_mut(),
                frame.as_ptr(),
                frame.len(),
                &mut i,
                hdr.as_mut_ptr(),
                hdr.len(),
            )
        };
        (rc, i)
    }

    /// Calls the decap op through the ops vector, with a NULL instance.
    fn op_decap(data: &[u8]) -> (c_int, ovep_encap_info_t) {
        let mut i = info();
        let f = VXLAN_OPS.ovpo_decap.unwrap();
        // SAFETY: valid slice and info for the call.
        let rc = unsafe { f(ptr::null_mut(), data.as_ptr(), data.len(), &mut i) };
        (rc, i)
    }

    /// An instance made and destroyed through the ops vector.
    struct Inst(*mut c_void);

    impl Inst {
        fn new() -> Inst {
            let mut p = ptr::null_mut();
            // SAFETY: `p` is writable.
            let rc = unsafe { VXLAN_OPS.ovpo_init.unwrap()(ptr::null_mut(), &mut p) };
            assert_eq!(rc, 0);
            assert!(!p.is_null());
            Inst(p)
        }

        fn set(&self, name: &CStr, val: &[u8]) -> c_int {
            // SAFETY: live instance, C string, `val` readable.
            unsafe {
                VXLAN_OPS.ovpo_setprop.unwrap()(
                    self.0,
                    name.as_ptr(),
                    val.as_ptr().cast(),
                    val.len() as u32,
                )
            }
        }

        fn get(&self, name: &CStr, cap: usize) -> (c_int, Vec<u8>) {
            let mut buf = std::vec![0xeeu8; cap];
            let mut size = cap as u32;
            // SAFETY: live instance, C string, `buf` has `size` bytes.
            let rc = unsafe {
                VXLAN_OPS.ovpo_getprop.unwrap()(
                    self.0,
                    name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    &mut size,
                )
            };
            if rc == 0 {
                buf.truncate(size as usize);
            }
            (rc, buf)
        }
    }

    impl Drop for Inst {
        fn drop(&mut self) {
            // SAFETY: from init, not used again.
            unsafe { VXLAN_OPS.ovpo_fini.unwrap()(self.0) }
        }
    }

    #[test]
    fn ops_vector_complete() {
        assert_eq!(VXLAN_OPS.ovpo_callbacks, 0);
        assert!(VXLAN_OPS.ovpo_init.is_some());
        assert!(VXLAN_OPS.ovpo_fini.is_some());
        assert!(VXLAN_OPS.ovpo_encap.is_some());
        assert!(VXLAN_OPS.ovpo_decap.is_some());
        assert!(VXLAN_OPS.ovpo_socket.is_some());
        assert!(VXLAN_OPS.ovpo_sockopt.is_some());
        assert!(VXLAN_OPS.ovpo_getprop.is_some());
        assert!(VXLAN_OPS.ovpo_setprop.is_some());
        assert!(VXLAN_OPS.ovpo_propinfo.is_some());
    }

    #[test]
    fn registration_record() {
        let mut reg = blank_record();
        fill_registration(&mut reg);
        assert_eq!(reg.ovep_version, OVEP_VERSION);
        // SAFETY: the name is a static C string.
        assert_eq!(unsafe { CStr::from_ptr(reg.ovep_name) }, c"vxlan");
        assert!(ptr::eq(reg.ovep_ops, &VXLAN_OPS));
        assert_eq!(reg.ovep_id_size, 3);
        assert_eq!(reg.ovep_flags, OVEP_F_VLAN_TAG);
        assert_eq!(reg.ovep_dest, 0x6);
        let mut names = Vec::new();
        for i in 0.. {
            // SAFETY: a NULL-terminated static array.
            let p = unsafe { *reg.ovep_props.add(i) };
            if p.is_null() {
                break;
            }
            // SAFETY: static C strings.
            names.push(unsafe { CStr::from_ptr(p) });
        }
        assert_eq!(names, [c"vxlan/listen_ip", c"vxlan/listen_port"]);
    }

    #[test]
    fn encap_through_ops() {
        let frame = Flow::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2).frame();
        for (id, want) in [
            (0, [0x08, 0, 0, 0, 0, 0, 0, 0]),
            (1, [0x08, 0, 0, 0, 0, 0, 1, 0]),
            (0x12_3456, [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]),
            (
                u64::from(VXLAN_VNI_MAX),
                [0x08, 0, 0, 0, 0xff, 0xff, 0xff, 0],
            ),
        ] {
            let mut hdr = [0xffu8; 16];
            let (rc, i) = op_encap(id, &frame, &mut hdr);
            assert_eq!(rc, 0);
            assert_eq!(hdr[..8], want);
            assert_eq!(hdr[8..], [0xff; 8], "wrote past the header");
            assert_eq!(i.ovdi_hdr_size, 8);
            assert_eq!(i.ovdi_id, id, "encap must not change the id");
            assert_eq!(i.ovdi_src_port, flow::source_port(&frame));
            assert!(i.ovdi_src_port >= 49152);
        }
    }

    #[test]
    fn encap_errors() {
        let frame = [0u8; 60];
        for cap in 0..8 {
            let mut hdr = [0u8; 8];
            let (rc, i) = op_encap(5, &frame, &mut hdr[..cap]);
            assert_eq!(rc, Errno::EINVAL.0, "cap {cap}");
            assert_eq!(i.ovdi_hdr_size, 0);
        }
        let f = VXLAN_OPS.ovpo_encap.unwrap();
        let mut hdr = [0u8; 8];
        // SAFETY: NULL info is checked before anything is touched.
        let rc = unsafe {
            f(
                ptr::null_mut(),
                frame.as_ptr(),
                60,
                ptr::null_mut(),
                hdr.as_mut_ptr(),
                8,
            )
        };
        assert_eq!(rc, Errno::EINVAL.0);
        // A NULL frame is an empty one.
        let mut i = info();
        // SAFETY: valid info and header; NULL frame.
        let rc = unsafe { f(ptr::null_mut(), ptr::null(), 0, &mut i, hdr.as_mut_ptr(), 8) };
        assert_eq!(rc, 0);
        assert_eq!(i.ovdi_src_port, flow::source_port(&[]));
    }

    #[test]
    fn fanout_off_leaves_source_port_to_socket() {
        let mut hdr = [0u8; 8];
        let e = encap_with(9, &[1, 2, 3], &mut hdr, false).unwrap();
        assert_eq!(
            e,
            Encap {
                hdr_size: 8,
                src_port: 0
            }
        );
        let e = encap_with(9, &[1, 2, 3], &mut hdr, true).unwrap();
        assert_eq!(e.src_port, flow::source_port(&[1, 2, 3]));
    }

    #[test]
    fn decap_through_ops() {
        let (rc, i) = op_decap(&[0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0, 0xaa, 0xbb]);
        assert_eq!(rc, 0);
        assert_eq!((i.ovdi_id, i.ovdi_hdr_size), (0x12_3456, 8));
        // Reserved bits ignored.
        let (rc, i) = op_decap(&[0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0xff]);
        assert_eq!((rc, i.ovdi_id), (0, 1));
        // I flag missing.
        let (rc, i) = op_decap(&[0xf7, 0, 0, 0, 0, 0, 1, 0]);
        assert_eq!(rc, Errno::EINVAL.0);
        assert_eq!(i, info(), "info untouched on error");
        // Runts.
        for len in 0..8 {
            let (rc, _) = op_decap(&[0x08, 0, 0, 0, 0, 0, 1, 0][..len]);
            assert_eq!(rc, Errno::EINVAL.0, "len {len}");
        }
        let f = VXLAN_OPS.ovpo_decap.unwrap();
        let mut i = info();
        // SAFETY: NULL data is treated as empty; info is valid.
        let rc = unsafe { f(ptr::null_mut(), ptr::null(), 8, &mut i) };
        assert_eq!(rc, Errno::EINVAL.0);
        let data = [0x08u8, 0, 0, 0, 0, 0, 1, 0];
        // SAFETY: NULL info is checked first.
        let rc = unsafe { f(ptr::null_mut(), data.as_ptr(), 8, ptr::null_mut()) };
        assert_eq!(rc, Errno::EINVAL.0);
    }

    #[test]
    fn encap_decap_roundtrip() {
        let inner = Flow::udp4([10, 1, 1, 1], [10, 2, 2, 2], 7, 8).frame();
        for id in [
            0,
            1,
            2,
            0xff,
            0x100,
            0xffff,
            0x1_0000,
            0x80_0000,
            u64::from(VXLAN_VNI_MAX),
        ] {
            let mut pkt = std::vec![0u8; 8];
            let (rc, _) = op_encap(id, &inner, &mut pkt);
            assert_eq!(rc, 0);
            pkt.extend_from_slice(&inner);
            let (rc, i) = op_decap(&pkt);
            assert_eq!(rc, 0);
            assert_eq!(i.ovdi_id, id);
            assert_eq!(&pkt[i.ovdi_hdr_size..], &inner[..]);
        }
    }

    #[test]
    fn socket_through_ops() {
        let inst = Inst::new();
        let f = VXLAN_OPS.ovpo_socket.unwrap();
        let (mut d, mut t, mut p) = (-1, -1, -1);
        let mut sa = sockaddr_in6_t::default();
        let mut len = 0u32;
        // SAFETY: live instance and writable outputs.
        let mut call = |inst: *mut c_void, sa: &mut sockaddr_in6_t| unsafe {
            f(inst, &mut d, &mut t, &mut p, sa, &mut len)
        };
        assert_eq!(call(inst.0, &mut sa), Errno::EINVAL.0, "no listen_ip");
        assert_eq!(
            call(ptr::null_mut(), &mut sa),
            Errno::EINVAL.0,
            "no instance"
        );
        let ip = v6("2001:db8::7");
        assert_eq!(inst.set(c"vxlan/listen_ip", &ip), 0);
        assert_eq!(inst.set(c"vxlan/listen_port", &4790u64.to_ne_bytes()), 0);
        assert_eq!(call(inst.0, &mut sa), 0);
        assert_eq!((d, t, p, len), (26, 1, 0, 32));
        assert_eq!(sa.sin6_family, 26);
        assert_eq!(sa.sin6_port, 4790u16.to_be());
        assert_eq!(sa.sin6_addr.0, ip);
    }

    #[test]
    fn sockopt_through_ops() {
        let f = VXLAN_OPS.ovpo_sockopt.unwrap();
        let mut opts = [overlay_sockopt_t::default(); 8];
        let mut n: c_uint = 8;
        // SAFETY: 8 writable entries, valid count.
        assert_eq!(unsafe { f(ptr::null_mut(), opts.as_mut_ptr(), &mut n) }, 0);
        // VXLAN_FANOUT is on by default (no test turns it off).
        assert_eq!(n, 1);
        assert_eq!(opts[0], instance::FANOUT_SOCKOPT);
        let mut n: c_uint = 0;
        // SAFETY: zero capacity; nothing is written.
        let rc = unsafe { f(ptr::null_mut(), opts.as_mut_ptr(), &mut n) };
        assert_eq!(rc, Errno::EOVERFLOW.0);
        // SAFETY: NULL count is checked first.
        let rc = unsafe { f(ptr::null_mut(), opts.as_mut_ptr(), ptr::null_mut()) };
        assert_eq!(rc, Errno::EINVAL.0);
    }

    #[test]
    fn props_through_ops() {
        let inst = Inst::new();
        let e = |e: Errno| e.0;
        // listen_ip: unset reads as size 0; short buffers overflow.
        assert_eq!(inst.get(c"vxlan/listen_ip", 16), (0, Vec::new()));
        assert_eq!(inst.get(c"vxlan/listen_ip", 15).0, e(Errno::EOVERFLOW));
        let table: &[(&CStr, Vec<u8>, c_int)] = &[
            (c"vxlan/listen_ip", v6("2001:db8::1").to_vec(), 0),
            (
                c"vxlan/listen_ip",
                v6("::10.1.2.3").to_vec(),
                e(Errno::EINVAL),
            ),
            (c"vxlan/listen_ip", v6("ff05::2").to_vec(), e(Errno::EINVAL)),
            (c"vxlan/listen_ip", v6("2002::1").to_vec(), e(Errno::EINVAL)),
            (
                c"vxlan/listen_ip",
                v6("::ffff:239.1.1.1").to_vec(),
                e(Errno::EINVAL),
            ),
            (
                c"vxlan/listen_ip",
                v6("2001:db8::1")[..15].to_vec(),
                e(Errno::EINVAL),
            ),
            (c"vxlan/listen_ip", std::vec![0; 17], e(Errno::EINVAL)),
            (
                c"vxlan/listen_port",
                0u64.to_ne_bytes().to_vec(),
                e(Errno::EINVAL),
            ),
            (
                c"vxlan/listen_port",
                65536u64.to_ne_bytes().to_vec(),
                e(Errno::EINVAL),
            ),
            (
                c"vxlan/listen_port",
                4789u32.to_ne_bytes().to_vec(),
                e(Errno::EINVAL),
            ),
            (
                c"vxlan/listen_port",
                4789u16.to_ne_bytes().to_vec(),
                e(Errno::EINVAL),
            ),
            (c"vxlan/listen_port", 65535u64.to_ne_bytes().to_vec(), 0),
            (c"vxlan/listen_port", 1u64.to_ne_bytes().to_vec(), 0),
            (c"vxlan/nope", 1u64.to_ne_bytes().to_vec(), e(Errno::EINVAL)),
            (c"mtu", 1400u64.to_ne_bytes().to_vec(), e(Errno::EINVAL)),
        ];
        for (name, val, want) in table {
            assert_eq!(inst.set(name, val), *want, "set {name:?} {val:?}");
        }
        // The last accepted values stand.
        assert_eq!(
            inst.get(c"vxlan/listen_ip", 16),
            (0, v6("2001:db8::1").to_vec())
        );
        assert_eq!(
            inst.get(c"vxlan/listen_ip", 64),
            (0, v6("2001:db8::1").to_vec())
        );
        assert_eq!(
            inst.get(c"vxlan/listen_port", 8),
            (0, 1u64.to_ne_bytes().to_vec())
        );
        assert_eq!(inst.get(c"vxlan/listen_port", 7).0, e(Errno::EOVERFLOW));
        assert_eq!(inst.get(c"vxlan/listen_port", 0).0, e(Errno::EOVERFLOW));
        assert_eq!(inst.get(c"vxlan/other", 64).0, e(Errno::EINVAL));

        // NULL pointers.
        let get = VXLAN_OPS.ovpo_getprop.unwrap();
        let set = VXLAN_OPS.ovpo_setprop.unwrap();
        let mut size = 16u32;
        let mut buf = [0u8; 16];
        // SAFETY: each call has one NULL argument, checked before use.
        unsafe {
            assert_eq!(
                get(inst.0, ptr::null(), buf.as_mut_ptr().cast(), &mut size),
                22
            );
            assert_eq!(
                get(
                    inst.0,
                    c"vxlan/listen_ip".as_ptr(),
                    buf.as_mut_ptr().cast(),
                    ptr::null_mut()
                ),
                22
            );
            assert_eq!(
                get(
                    ptr::null_mut(),
                    c"vxlan/listen_ip".as_ptr(),
                    buf.as_mut_ptr().cast(),
                    &mut size
                ),
                22
            );
            assert_eq!(
                get(
                    inst.0,
                    c"vxlan/listen_ip".as_ptr(),
                    ptr::null_mut(),
                    &mut size
                ),
                79
            );
            assert_eq!(set(inst.0, ptr::null(), buf.as_ptr().cast(), 16), 22);
            assert_eq!(
                set(inst.0, c"vxlan/listen_ip".as_ptr(), ptr::null(), 16),
                22
            );
            assert_eq!(
                set(
                    ptr::null_mut(),
                    c"vxlan/listen_ip".as_ptr(),
                    buf.as_ptr().cast(),
                    16
                ),
                22
            );
        }
    }

    #[test]
    fn props_unaligned_buffers() {
        let inst = Inst::new();
        let mut raw = [0u8; 9];
        raw[1..].copy_from_slice(&4000u64.to_ne_bytes());
        assert_eq!(inst.set(c"vxlan/listen_port", &raw[1..]), 0);
        assert_eq!(inst.get(c"vxlan/listen_port", 8).1, 4000u64.to_ne_bytes());
    }

    #[test]
    fn propinfo_through_ops() {
        let f = VXLAN_OPS.ovpo_propinfo.unwrap();
        let mut r = Recorder::default();
        let h = (&raw mut r).cast::<overlay_prop_handle_t>();
        // SAFETY: in tests the handle is a live Recorder.
        assert_eq!(unsafe { f(c"vxlan/listen_port".as_ptr(), h) }, 0);
        assert_eq!(r.calls.len(), 5);
        assert_eq!(r.calls[0], "name vxlan/listen_port");
        assert_eq!(r.calls[4], "range 1-65535");
        let mut r = Recorder::default();
        let h = (&raw mut r).cast::<overlay_prop_handle_t>();
        // SAFETY: as above.
        assert_eq!(unsafe { f(c"vxlan/listen_ip".as_ptr(), h) }, 0);
        assert_eq!(
            r.calls,
            ["name vxlan/listen_ip", "prot 0x7", "type 3", "nodefault"]
        );
        let mut r = Recorder::default();
        let h = (&raw mut r).cast::<overlay_prop_handle_t>();
        // SAFETY: as above; unknown names never touch the handle.
        assert_eq!(unsafe { f(c"vxlan/listen".as_ptr(), h) }, 22);
        // SAFETY: NULL name / handle are checked first.
        unsafe {
            assert_eq!(f(ptr::null(), h), 22);
            assert_eq!(f(c"vxlan/listen_ip".as_ptr(), ptr::null_mut()), 22);
        }
        assert!(r.calls.is_empty());
    }

    #[test]
    fn init_null_out_and_fini_null() {
        // SAFETY: NULL out pointer is checked; NULL fini is a no-op.
        unsafe {
            assert_eq!(
                VXLAN_OPS.ovpo_init.unwrap()(ptr::null_mut(), ptr::null_mut()),
                22
            );
            VXLAN_OPS.ovpo_fini.unwrap()(ptr::null_mut());
        }
    }

    fn blank_record() -> overlay_plugin_register_t {
        overlay_plugin_register_t {
            ovep_version: OVEP_VERSION,
            ovep_name: ptr::null(),
            ovep_ops: ptr::null(),
            ovep_props: ptr::null(),
            ovep_id_size: 0,
            ovep_flags: 0,
            ovep_dest: 0,
        }
    }

    /// A driver that records calls and returns scripted results.
    #[derive(Default)]
    struct Mock {
        fail_alloc: bool,
        register_rc: c_int,
        unregister_rc: c_int,
        log: RefCell<Vec<&'static str>>,
        seen: RefCell<Option<(c_uint, c_uint, c_uint)>>,
    }

    impl Driver for Mock {
        fn alloc(&self, version: c_uint) -> *mut overlay_plugin_register_t {
            self.log.borrow_mut().push("alloc");
            assert_eq!(version, 1);
            if self.fail_alloc {
                return ptr::null_mut();
            }
            Box::into_raw(Box::new(blank_record()))
        }
        unsafe fn register(&self, reg: *const overlay_plugin_register_t) -> c_int {
            self.log.borrow_mut().push("register");
            // SAFETY: from our alloc.
            let reg = unsafe { &*reg };
            assert!(ptr::eq(reg.ovep_ops, &VXLAN_OPS));
            *self.seen.borrow_mut() = Some((reg.ovep_id_size, reg.ovep_flags, reg.ovep_dest));
            self.register_rc
        }
        unsafe fn free(&self, reg: *mut overlay_plugin_register_t) {
            self.log.borrow_mut().push("free");
            // SAFETY: from our alloc's Box.
            drop(unsafe { Box::from_raw(reg) });
        }
        fn unregister(&self, name: &CStr) -> c_int {
            assert_eq!(name, c"vxlan");
            self.log.borrow_mut().push("unregister");
            self.unregister_rc
        }
    }

    #[test]
    fn init_sequence() {
        let m = Mock::default();
        assert_eq!(init_with(&m, || 0), 0);
        assert_eq!(*m.log.borrow(), ["alloc", "register", "free"]);
        assert_eq!(*m.seen.borrow(), Some((3, 1, 6)));

        let m = Mock {
            register_rc: Errno::EEXIST.0,
            ..Mock::default()
        };
        assert_eq!(
            init_with(&m, || panic!("no install after a failed register")),
            17
        );
        assert_eq!(*m.log.borrow(), ["alloc", "register", "free"]);

        let m = Mock {
            fail_alloc: true,
            ..Mock::default()
        };
        assert_eq!(init_with(&m, || 0), Errno::ENOTSUP.0);
        assert_eq!(*m.log.borrow(), ["alloc"]);

        // A failed mod_install undoes the registration.
        let m = Mock::default();
        assert_eq!(init_with(&m, || Errno::ENOMEM.0), Errno::ENOMEM.0);
        assert_eq!(*m.log.borrow(), ["alloc", "register", "unregister", "free"]);
    }

    #[test]
    fn fini_sequence() {
        let m = Mock::default();
        assert_eq!(fini_with(&m, || 0), 0);
        assert_eq!(*m.log.borrow(), ["unregister"]);
        let m = Mock {
            unregister_rc: Errno::EBUSY.0,
            ..Mock::default()
        };
        assert_eq!(
            fini_with(&m, || panic!("no mod_remove while busy")),
            Errno::EBUSY.0
        );
        let m = Mock::default();
        assert_eq!(fini_with(&m, || Errno::EBUSY.0), Errno::EBUSY.0);
    }
}
