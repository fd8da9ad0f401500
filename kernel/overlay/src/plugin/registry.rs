//! The encapsulation plugin registry (`overlay_plugin.c`).
//!
//! Plugins register through the C functions exported here, with the
//! validation and errnos of illumos. The registry keeps its own copy of
//! everything in the registration (name, property names, ops vector), so a
//! plugin may free its registration at once, as illumos plugins do. Each
//! device holds an `Arc<Plugin>`; a plugin that is held cannot be
//! unregistered (`EBUSY`), which is what keeps a module from unloading
//! under its devices.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::{CStr, c_char, c_int, c_uint, c_void};
use core::ptr;

use spin::Mutex;

use super::abi::*;
use crate::abi::common::{OVERLAY_PLUGIN_D_MASK, OVERLAY_PROP_NAMELEN};
use crate::errno::Errno;
use crate::platform::SocketParams;
use crate::prop::PropInfo;

/// A registered encapsulation plugin.
pub struct Plugin {
    name: String,
    ops: overlay_plugin_ops_t,
    props: Vec<String>,
    id_size: u32,
    flags: u32,
    dest: u32,
}

impl core::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("props", &self.props)
            .field("id_size", &self.id_size)
            .field("flags", &self.flags)
            .field("dest", &self.dest)
            .finish()
    }
}

// Registered plugins. Touched only when devices are created and when
// modules load or unload; never on the data path.
static PLUGINS: Mutex<Vec<Arc<Plugin>>> = Mutex::new(Vec::new());

/// Finds a registered plugin by name, taking a hold on it.
pub fn lookup(name: &str) -> Option<Arc<Plugin>> {
    PLUGINS.lock().iter().find(|p| p.name == name).cloned()
}

/// The names of all registered plugins, in registration order (the
/// possible values of the `encap` property).
pub fn names() -> Vec<String> {
    PLUGINS.lock().iter().map(|p| p.name.clone()).collect()
}

/// Registers a plugin described by `reg`.
///
/// # Safety
/// Every pointer in `reg` must be NULL or valid: `ovep_name` and each
/// property name NUL-terminated, `ovep_props` NULL-terminated, `ovep_ops`
/// pointing to an ops vector.
pub unsafe fn register(reg: &overlay_plugin_register_t) -> Result<(), Errno> {
    if reg.ovep_version != OVEP_VERSION_ONE {
        return Err(Errno::EINVAL);
    }
    if reg.ovep_name.is_null() || reg.ovep_ops.is_null() {
        return Err(Errno::EINVAL);
    }
    if reg.ovep_flags & !OVEP_F_VLAN_TAG != 0 {
        return Err(Errno::EINVAL);
    }
    if reg.ovep_id_size < 1 {
        return Err(Errno::EINVAL);
    }
    if reg.ovep_id_size > 8 {
        return Err(Errno::ENOTSUP);
    }
    if reg.ovep_dest == 0 || reg.ovep_dest & !OVERLAY_PLUGIN_D_MASK != 0 {
        return Err(Errno::EINVAL);
    }
    // SAFETY: checked non-NULL; the caller promises a valid ops vector.
    let ops = unsafe { *reg.ovep_ops };
    if ops.ovpo_callbacks != 0 {
        return Err(Errno::EINVAL);
    }
    if ops.ovpo_init.is_none()
        || ops.ovpo_fini.is_none()
        || ops.ovpo_encap.is_none()
        || ops.ovpo_decap.is_none()
        || ops.ovpo_socket.is_none()
        || ops.ovpo_getprop.is_none()
        || ops.ovpo_setprop.is_none()
        || ops.ovpo_propinfo.is_none()
    {
        return Err(Errno::EINVAL);
    }
    let mut props = Vec::new();
    if !reg.ovep_props.is_null() {
        for i in 0.. {
            // SAFETY: the caller promises a NULL-terminated array.
            let p = unsafe { *reg.ovep_props.add(i) };
            if p.is_null() {
                break;
            }
            // SAFETY: each entry is a NUL-terminated string.
            let name = unsafe { CStr::from_ptr(p) };
            if name.to_bytes().len() >= OVERLAY_PROP_NAMELEN {
                return Err(Errno::EINVAL);
            }
            props.push(name.to_str().map_err(|_| Errno::EINVAL)?.to_owned());
        }
    }
    // SAFETY: checked non-NULL; NUL-terminated per the contract.
    let name = unsafe { CStr::from_ptr(reg.ovep_name) }
        .to_str()
        .map_err(|_| Errno::EINVAL)?
        .to_owned();

    let mut plugins = PLUGINS.lock();
    if plugins.iter().any(|p| p.name == name) {
        return Err(Errno::EEXIST);
    }
    plugins.push(Arc::new(Plugin {
        name,
        ops,
        props,
        id_size: reg.ovep_id_size,
        flags: reg.ovep_flags,
        dest: reg.ovep_dest,
    }));
    Ok(())
}

/// Unregisters a plugin: `ENOENT` if unknown, `EBUSY` while any device
/// (or mux) holds it.
pub fn unregister(name: &str) -> Result<(), Errno> {
    let mut plugins = PLUGINS.lock();
    let i = plugins
        .iter()
        .position(|p| p.name == name)
        .ok_or(Errno::ENOENT)?;
    if Arc::strong_count(&plugins[i]) > 1 {
        return Err(Errno::EBUSY);
    }
    plugins.remove(i);
    Ok(())
}

/// `overlay_plugin_alloc`: a zeroed registration with the version set, or
/// NULL for an unknown version.
#[unsafe(no_mangle)]
pub extern "C" fn overlay_plugin_alloc(version: c_uint) -> *mut overlay_plugin_register_t {
    if version != OVEP_VERSION_ONE {
        return ptr::null_mut();
    }
    Box::into_raw(Box::new(overlay_plugin_register_t {
        ovep_version: version,
        ovep_name: ptr::null(),
        ovep_ops: ptr::null(),
        ovep_props: ptr::null(),
        ovep_id_size: 0,
        ovep_flags: 0,
        ovep_dest: 0,
    }))
}

/// `overlay_plugin_free`.
///
/// # Safety
/// `reg` must come from `overlay_plugin_alloc` and not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn overlay_plugin_free(reg: *mut overlay_plugin_register_t) {
    if !reg.is_null() {
        // SAFETY: allocated by overlay_plugin_alloc as a Box.
        drop(unsafe { Box::from_raw(reg) });
    }
}

/// `overlay_plugin_register`.
///
/// # Safety
/// As [`register`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn overlay_plugin_register(reg: *const overlay_plugin_register_t) -> c_int {
    // SAFETY: the caller passes a valid registration (or NULL, rejected).
    match unsafe { reg.as_ref() } {
        // SAFETY: as above.
        Some(reg) => Errno::code(unsafe { register(reg) }),
        None => Errno::EINVAL.0,
    }
}

/// `overlay_plugin_unregister`.
///
/// # Safety
/// `name` must be a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn overlay_plugin_unregister(name: *const c_char) -> c_int {
    if name.is_null() {
        return Errno::EINVAL.0;
    }
    // SAFETY: NUL-terminated per the contract.
    match unsafe { CStr::from_ptr(name) }.to_str() {
        Ok(name) => Errno::code(unregister(name)),
        Err(_) => Errno::ENOENT.0,
    }
}

/// A NUL-terminated copy of a property name, for calling into a plugin.
fn c_name(name: &str) -> Result<[u8; OVERLAY_PROP_NAMELEN], Errno> {
    let mut buf = [0u8; OVERLAY_PROP_NAMELEN];
    if name.len() >= OVERLAY_PROP_NAMELEN || name.as_bytes().contains(&0) {
        return Err(Errno::EINVAL);
    }
    buf[..name.len()].copy_from_slice(name.as_bytes());
    Ok(buf)
}

impl Plugin {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Property names, in declared order (device property ids 4..).
    pub fn props(&self) -> &[String] {
        &self.props
    }

    pub fn id_size(&self) -> u32 {
        self.id_size
    }

    /// Largest valid virtual network id: `2^(8 * id_size) - 1`.
    pub fn max_id(&self) -> u64 {
        if self.id_size >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * self.id_size)) - 1
        }
    }

    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// `OVERLAY_PLUGIN_D_*` bits.
    pub fn dest(&self) -> u32 {
        self.dest
    }

    /// Creates an instance for one device (`ovpo_init`). `handle` is an
    /// opaque token naming the device to the plugin, passed through as the
    /// `overlay_handle_t *`; nobody dereferences it.
    pub fn instantiate(self: &Arc<Self>, handle: usize) -> Result<PluginInstance, Errno> {
        let handle = handle as *mut overlay_handle_t;
        let init = self.ops.ovpo_init.ok_or(Errno::EINVAL)?;
        let mut arg: *mut c_void = ptr::null_mut();
        // SAFETY: the registry checked the op; `arg` is a valid out pointer.
        Errno::result(unsafe { init(handle, &mut arg) })?;
        Ok(PluginInstance {
            plugin: self.clone(),
            arg,
        })
    }

    /// Validates and strips nothing: reads the id and header size of an
    /// encapsulated datagram (`ovpo_decap`, called without an instance as
    /// in illumos, since the device is found from its result).
    #[inline]
    pub fn decap(&self, data: &[u8]) -> Result<(u64, usize), Errno> {
        let mut info = ovep_encap_info_t::default();
        // SAFETY: the op was checked at registration; `data` is readable
        // for its length and `info` is a valid out pointer.
        let rc = unsafe {
            (self.ops.ovpo_decap.unwrap_unchecked())(
                ptr::null_mut(),
                data.as_ptr(),
                data.len(),
                &mut info,
            )
        };
        Errno::result(rc)?;
        if info.ovdi_hdr_size > data.len() {
            return Err(Errno::EINVAL);
        }
        Ok((info.ovdi_id, info.ovdi_hdr_size))
    }

    /// Describes property `name` (`ovpo_propinfo`).
    pub fn propinfo(&self, name: &str) -> Result<PropInfo, Errno> {
        let cname = c_name(name)?;
        let mut info = PropInfo::default();
        info.set_name(name.as_bytes());
        let f = self.ops.ovpo_propinfo.ok_or(Errno::EINVAL)?;
        // SAFETY: NUL-terminated name; the handle is a live PropInfo that
        // the helpers in `prop` interpret.
        Errno::result(unsafe { f(cname.as_ptr().cast(), (&mut info as *mut PropInfo).cast()) })?;
        Ok(info)
    }
}

/// One plugin instance (a device's `ovpo_init` result). Dropping it calls
/// `ovpo_fini`.
pub struct PluginInstance {
    plugin: Arc<Plugin>,
    arg: *mut c_void,
}

// SAFETY: the plugin contract makes instances independent and lets encap,
// decap and socket run concurrently; getprop/setprop are serialised by the
// device's property lock (the MAC perimeter on illumos).
unsafe impl Send for PluginInstance {}
// SAFETY: as above.
unsafe impl Sync for PluginInstance {}

impl core::fmt::Debug for PluginInstance {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PluginInstance")
            .field("plugin", &self.plugin.name)
            .finish()
    }
}

impl Drop for PluginInstance {
    fn drop(&mut self) {
        if let Some(fini) = self.plugin.ops.ovpo_fini {
            // SAFETY: `arg` came from this plugin's init and is finished
            // exactly once.
            unsafe { fini(self.arg) };
        }
    }
}

impl PluginInstance {
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// Writes the header for a frame of virtual network `id` into `hdr`.
    /// Returns the header length and the flow's source port. (The
    /// instance is passed as the plugin's own data; illumos passed the MAC
    /// handle by mistake, which vxlan happened to ignore.)
    #[inline]
    pub fn encap(
        &self,
        id: u64,
        frame: &[u8],
        hdr: &mut [u8; OVEP_HDR_MAX],
    ) -> Result<(usize, u16), Errno> {
        let mut info = ovep_encap_info_t {
            ovdi_id: id,
            ..Default::default()
        };
        // SAFETY: the op was checked at registration; the frame and header
        // buffers are valid for the lengths given.
        let rc = unsafe {
            (self.plugin.ops.ovpo_encap.unwrap_unchecked())(
                self.arg,
                frame.as_ptr(),
                frame.len(),
                &mut info,
                hdr.as_mut_ptr(),
                hdr.len(),
            )
        };
        Errno::result(rc)?;
        if info.ovdi_hdr_size > OVEP_HDR_MAX {
            return Err(Errno::EINVAL);
        }
        Ok((info.ovdi_hdr_size, info.ovdi_src_port))
    }

    /// The mux socket this instance needs (`ovpo_socket`, `ovpo_sockopt`).
    pub fn socket_params(&self) -> Result<SocketParams, Errno> {
        let (mut domain, mut ty, mut proto) = (0, 0, 0);
        let mut sa = sockaddr_in6_t::default();
        let mut len = core::mem::size_of::<sockaddr_in6_t>() as u32;
        let f = self.plugin.ops.ovpo_socket.ok_or(Errno::EINVAL)?;
        // SAFETY: all out pointers are valid locals.
        Errno::result(unsafe {
            f(
                self.arg,
                &mut domain,
                &mut ty,
                &mut proto,
                &mut sa,
                &mut len,
            )
        })?;
        let mut sockopts = Vec::new();
        if let Some(f) = self.plugin.ops.ovpo_sockopt {
            let mut opts = [overlay_sockopt_t::default(); OVERLAY_SOCKOPT_MAX];
            let mut n = opts.len() as c_uint;
            // SAFETY: `opts` holds `n` entries.
            Errno::result(unsafe { f(self.arg, opts.as_mut_ptr(), &mut n) })?;
            sockopts.extend_from_slice(&opts[..(n as usize).min(opts.len())]);
        }
        Ok(SocketParams {
            domain,
            sock_type: ty,
            protocol: proto,
            addr: sa.sin6_addr,
            port: u16::from_be(sa.sin6_port),
            sockopts,
        })
    }

    /// Reads a plugin property into `buf`; returns its length (0: unset).
    pub fn getprop(&self, name: &str, buf: &mut [u8]) -> Result<usize, Errno> {
        let cname = c_name(name)?;
        let mut size = buf.len() as u32;
        let f = self.plugin.ops.ovpo_getprop.ok_or(Errno::EINVAL)?;
        // SAFETY: NUL-terminated name; `buf` is writable for `size` bytes.
        Errno::result(unsafe {
            f(
                self.arg,
                cname.as_ptr().cast(),
                buf.as_mut_ptr().cast(),
                &mut size,
            )
        })?;
        Ok((size as usize).min(buf.len()))
    }

    /// Sets a plugin property.
    pub fn setprop(&self, name: &str, value: &[u8]) -> Result<(), Errno> {
        let cname = c_name(name)?;
        let f = self.plugin.ops.ovpo_setprop.ok_or(Errno::EINVAL)?;
        // SAFETY: NUL-terminated name; `value` is readable for its length.
        Errno::result(unsafe {
            f(
                self.arg,
                cname.as_ptr().cast(),
                value.as_ptr().cast(),
                value.len() as u32,
            )
        })
    }
}
