//! Driver tests over the in-memory platform, with a small plugin that
//! registers through the C ABI like any other.

extern crate std;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::{CStr, c_char, c_int, c_void};
use core::sync::atomic::{AtomicU16, Ordering::Relaxed};
use std::sync::Once;

use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::abi::common::*;
use crate::abi::dld::*;
use crate::abi::targ::*;
use crate::abi::{EtherAddr, In6Addr};
use crate::driver::{Cred, OpenFlags, Overlay};
use crate::errno::Errno;
use crate::ioctl::{TargData, dld_ioctl, targ_ioctl};
use crate::platform::Frame;
use crate::plugin::abi::*;
use crate::plugin::registry;
use crate::prop::PropInfo;
use crate::testing::{MemFrame, MemPlatform};

// --- the test plugin: "tplug", 3-byte ids, one required property ------

struct TInst {
    port: AtomicU16,
}

unsafe extern "C" fn t_init(_h: *mut overlay_handle_t, out: *mut *mut c_void) -> c_int {
    let b = alloc::boxed::Box::new(TInst {
        port: AtomicU16::new(0),
    });
    // SAFETY: `out` is a valid out pointer per the ops contract.
    unsafe { *out = alloc::boxed::Box::into_raw(b).cast() };
    0
}
unsafe extern "C" fn t_fini(arg: *mut c_void) {
    // SAFETY: `arg` came from t_init.
    drop(unsafe { alloc::boxed::Box::from_raw(arg.cast::<TInst>()) });
}
unsafe extern "C" fn t_encap(
    _arg: *mut c_void,
    _f: *const u8,
    _n: usize,
    info: *mut ovep_encap_info_t,
    hdr: *mut u8,
    cap: usize,
) -> c_int {
    if cap < 8 {
        return Errno::EINVAL.0;
    }
    // SAFETY: per the ops contract `info` is valid and `hdr` holds `cap`.
    unsafe {
        let id = (*info).ovdi_id as u32;
        let h = core::slice::from_raw_parts_mut(hdr, 8);
        h[..4].copy_from_slice(&0x0800_0000u32.to_be_bytes());
        h[4..].copy_from_slice(&(id << 8).to_be_bytes());
        (*info).ovdi_hdr_size = 8;
        (*info).ovdi_src_port = 50000;
    }
    0
}
unsafe extern "C" fn t_decap(
    _arg: *mut c_void,
    d: *const u8,
    n: usize,
    info: *mut ovep_encap_info_t,
) -> c_int {
    if n < 8 {
        return Errno::EINVAL.0;
    }
    // SAFETY: `d` holds `n` bytes; `info` is valid.
    unsafe {
        let h = core::slice::from_raw_parts(d, 8);
        if h[0] & 0x08 == 0 {
            return Errno::EINVAL.0;
        }
        (*info).ovdi_id = (u32::from_be_bytes([h[4], h[5], h[6], h[7]]) >> 8) as u64;
        (*info).ovdi_hdr_size = 8;
    }
    0
}
unsafe extern "C" fn t_socket(
    arg: *mut c_void,
    dom: *mut c_int,
    ty: *mut c_int,
    proto: *mut c_int,
    sa: *mut sockaddr_in6_t,
    len: *mut u32,
) -> c_int {
    // SAFETY: out pointers valid per contract; arg from t_init.
    unsafe {
        let port = (*arg.cast::<TInst>()).port.load(Relaxed);
        if port == 0 {
            return Errno::EINVAL.0;
        }
        *dom = AF_INET6;
        *ty = SOCK_DGRAM;
        *proto = 0;
        (*sa).sin6_family = AF_INET6 as u16;
        (*sa).sin6_port = port.to_be();
        (*sa).sin6_addr = In6Addr::from(core::net::Ipv6Addr::LOCALHOST);
        *len = 32;
    }
    0
}
unsafe extern "C" fn t_getprop(
    arg: *mut c_void,
    name: *const c_char,
    buf: *mut c_void,
    size: *mut u32,
) -> c_int {
    // SAFETY: per contract.
    unsafe {
        if CStr::from_ptr(name).to_bytes() != b"tplug/port" {
            return Errno::EINVAL.0;
        }
        if *size < 8 {
            return Errno::EOVERFLOW.0;
        }
        let port = (*arg.cast::<TInst>()).port.load(Relaxed);
        if port == 0 {
            *size = 0;
        } else {
            core::ptr::copy_nonoverlapping((port as u64).to_ne_bytes().as_ptr(), buf.cast(), 8);
            *size = 8;
        }
    }
    0
}
unsafe extern "C" fn t_setprop(
    arg: *mut c_void,
    name: *const c_char,
    buf: *const c_void,
    size: u32,
) -> c_int {
    // SAFETY: per contract.
    unsafe {
        if CStr::from_ptr(name).to_bytes() != b"tplug/port" {
            return Errno::EINVAL.0;
        }
        if size != 8 {
            return Errno::EINVAL.0;
        }
        let mut v = [0u8; 8];
        core::ptr::copy_nonoverlapping(buf.cast::<u8>(), v.as_mut_ptr(), 8);
        let v = u64::from_ne_bytes(v);
        if v == 0 || v > 65535 {
            return Errno::EINVAL.0;
        }
        (*arg.cast::<TInst>()).port.store(v as u16, Relaxed);
    }
    0
}
unsafe extern "C" fn t_propinfo(name: *const c_char, hdl: *mut overlay_prop_handle_t) -> c_int {
    // SAFETY: per contract.
    unsafe {
        if CStr::from_ptr(name).to_bytes() != b"tplug/port" {
            return Errno::EINVAL.0;
        }
        crate::prop::overlay_prop_set_type(hdl, OVERLAY_PROP_T_UINT);
        crate::prop::overlay_prop_set_prot(hdl, OVERLAY_PROP_PERM_RRW);
        crate::prop::overlay_prop_set_range_uint32(hdl, 1, 65535);
    }
    0
}

static T_OPS: overlay_plugin_ops_t = overlay_plugin_ops_t {
    ovpo_callbacks: 0,
    ovpo_init: Some(t_init),
    ovpo_fini: Some(t_fini),
    ovpo_encap: Some(t_encap),
    ovpo_decap: Some(t_decap),
    ovpo_socket: Some(t_socket),
    ovpo_sockopt: None,
    ovpo_getprop: Some(t_getprop),
    ovpo_setprop: Some(t_setprop),
    ovpo_propinfo: Some(t_propinfo),
};

struct Props([*const c_char; 2]);
// SAFETY: pointers to static C strings.
unsafe impl Sync for Props {}
static T_PROPS: Props = Props([c"tplug/port".as_ptr(), core::ptr::null()]);

fn reg(name: &'static CStr) -> overlay_plugin_register_t {
    overlay_plugin_register_t {
        ovep_version: OVEP_VERSION,
        ovep_name: name.as_ptr(),
        ovep_ops: &T_OPS,
        ovep_props: T_PROPS.0.as_ptr(),
        ovep_id_size: 3,
        ovep_flags: OVEP_F_VLAN_TAG,
        ovep_dest: OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT,
    }
}

fn register_tplug() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let r = reg(c"tplug");
        // SAFETY: `r` points to static data.
        assert_eq!(unsafe { overlay_plugin_register(&r) }, 0);
    });
}

// SAFETY (for the extern calls above): the driver's own definitions.
use crate::plugin::registry::{overlay_plugin_register, overlay_plugin_unregister};

// --- helpers ----------------------------------------------------------

const ROOT: Cred = Cred::ROOT;
const USER: Cred = Cred {
    dl_config: false,
    global_zone: true,
};

fn ov() -> Arc<Overlay<MemPlatform>> {
    register_tplug();
    Overlay::new(MemPlatform::default())
}

fn create(ov: &Overlay<MemPlatform>, linkid: u32, vnetid: u64, encap: &str) -> Result<(), Errno> {
    let mut c = OverlayIocCreate::new_zeroed();
    c.oic_linkid = linkid;
    c.oic_vnetid = vnetid;
    set_cstr_field(&mut c.oic_encap, encap).unwrap();
    dld_ioctl(ov, OVERLAY_IOC_CREATE, ROOT, c.as_mut_bytes())
}

fn setprop(
    ov: &Overlay<MemPlatform>,
    linkid: u32,
    id: i32,
    name: &str,
    v: &[u8],
) -> Result<(), Errno> {
    let mut p = OverlayIocProp::new_zeroed();
    p.oip_linkid = linkid;
    p.oip_id = id;
    set_cstr_field(&mut p.oip_name, name).unwrap();
    p.oip_value[..v.len()].copy_from_slice(v);
    p.oip_size = v.len() as u32;
    dld_ioctl(ov, OVERLAY_IOC_SETPROP, ROOT, p.as_mut_bytes())
}

fn getprop(ov: &Overlay<MemPlatform>, linkid: u32, id: i32, name: &str) -> Result<Vec<u8>, Errno> {
    let mut p = OverlayIocProp::new_zeroed();
    p.oip_linkid = linkid;
    p.oip_id = id;
    set_cstr_field(&mut p.oip_name, name).unwrap();
    dld_ioctl(ov, OVERLAY_IOC_GETPROP, ROOT, p.as_mut_bytes())?;
    Ok(p.oip_value[..p.oip_size as usize].to_vec())
}

fn targ<T: IntoBytes + FromBytes + zerocopy::Immutable>(
    h: &crate::CtlHandle<MemPlatform>,
    cmd: u32,
    arg: &mut T,
) -> Result<(), Errno> {
    let mut v = arg.as_bytes().to_vec();
    targ_ioctl(h, cmd, ROOT, &mut v, TargData::None)?;
    *arg = T::read_from_prefix(&v).unwrap().0;
    Ok(())
}

fn associate(
    h: &crate::CtlHandle<MemPlatform>,
    linkid: u32,
    mode: u32,
    point: OverlayTargetPoint,
) -> Result<(), Errno> {
    let mut a = OverlayTargAssociate::new_zeroed();
    a.ota_linkid = linkid;
    a.ota_mode = mode;
    a.ota_id = 7;
    a.ota_provides = OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT;
    a.ota_point = point;
    targ(h, OVERLAY_TARG_ASSOCIATE, &mut a)
}

fn rw(ov: &Arc<Overlay<MemPlatform>>) -> crate::CtlHandle<MemPlatform> {
    ov.open(OpenFlags::RDWR_EXCL, ROOT).unwrap()
}

fn frame(dst: [u8; 6], len: usize) -> MemFrame {
    let mut f = alloc::vec![0u8; len];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xaa]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    MemFrame::new(&f)
}

fn point(last: u8) -> OverlayTargetPoint {
    OverlayTargetPoint::new(
        EtherAddr::ZERO,
        In6Addr::from(core::net::Ipv4Addr::new(192, 0, 2, last)),
        4789,
    )
}

/// A created, associated (dynamic), activated and started device.
fn running(
    ov: &Arc<Overlay<MemPlatform>>,
    h: &crate::CtlHandle<MemPlatform>,
    linkid: u32,
    vnetid: u64,
) {
    create(ov, linkid, vnetid, "tplug").unwrap();
    setprop(ov, linkid, -1, "tplug/port", &4789u64.to_ne_bytes()).unwrap();
    associate(h, linkid, OVERLAY_TARGET_DYNAMIC, point(0)).unwrap();
    dld_ioctl(
        ov,
        OVERLAY_IOC_ACTIVATE,
        ROOT,
        OverlayIocActivate { oia_linkid: linkid }.as_mut_bytes(),
    )
    .unwrap();
    let dev = ov.device(linkid).unwrap();
    ov.start(&dev).unwrap();
}

// --- tests ------------------------------------------------------------

#[test]
fn registry_validation() {
    let ok = reg(c"tv-ok");
    let mut r = reg(c"tv-ok");
    r.ovep_version = 2;
    // SAFETY: all registrations point to static data.
    unsafe {
        assert_eq!(overlay_plugin_register(&r), Errno::EINVAL.0);
        let mut r = reg(c"tv-ok");
        r.ovep_id_size = 0;
        assert_eq!(overlay_plugin_register(&r), Errno::EINVAL.0);
        r.ovep_id_size = 9;
        assert_eq!(overlay_plugin_register(&r), Errno::ENOTSUP.0);
        let mut r = reg(c"tv-ok");
        r.ovep_flags = 2;
        assert_eq!(overlay_plugin_register(&r), Errno::EINVAL.0);
        let mut r = reg(c"tv-ok");
        r.ovep_dest = 0x8;
        assert_eq!(overlay_plugin_register(&r), Errno::EINVAL.0);
        let mut r = reg(c"tv-ok");
        r.ovep_ops = core::ptr::null();
        assert_eq!(overlay_plugin_register(&r), Errno::EINVAL.0);
        assert_eq!(overlay_plugin_register(&ok), 0);
        assert_eq!(overlay_plugin_register(&ok), Errno::EEXIST.0);
        assert_eq!(
            overlay_plugin_unregister(c"tv-none".as_ptr()),
            Errno::ENOENT.0
        );
        let held = registry::lookup("tv-ok").unwrap();
        assert_eq!(overlay_plugin_unregister(c"tv-ok".as_ptr()), Errno::EBUSY.0);
        drop(held);
        assert_eq!(overlay_plugin_unregister(c"tv-ok".as_ptr()), 0);
        assert!(registry::lookup("tv-ok").is_none());
        let p = crate::plugin::registry::overlay_plugin_alloc(2);
        assert!(p.is_null());
        let p = crate::plugin::registry::overlay_plugin_alloc(1);
        assert_eq!((*p).ovep_version, 1);
        crate::plugin::registry::overlay_plugin_free(p);
    }
}

#[test]
fn create_errors() {
    let ov = ov();
    assert_eq!(create(&ov, 1, 1, ""), Err(Errno::EINVAL));
    assert_eq!(create(&ov, 1, 1, "a/b"), Err(Errno::EINVAL));
    assert_eq!(create(&ov, 1, 1, "nosuch"), Err(Errno::ENOENT));
    assert_eq!(create(&ov, 1, 1 << 24, "tplug"), Err(Errno::EINVAL));
    create(&ov, 1, (1 << 24) - 1, "tplug").unwrap();
    assert_eq!(create(&ov, 1, 5, "tplug"), Err(Errno::EEXIST));
    assert_eq!(create(&ov, 2, (1 << 24) - 1, "tplug"), Err(Errno::EEXIST));
    // No NUL in the name field: EINVAL.
    let mut c = OverlayIocCreate::new_zeroed();
    c.oic_linkid = 3;
    c.oic_encap = [b'x'; 32];
    assert_eq!(
        dld_ioctl(&ov, OVERLAY_IOC_CREATE, ROOT, c.as_mut_bytes()),
        Err(Errno::EINVAL)
    );
    // Privilege, unknown command, short argument.
    assert_eq!(
        dld_ioctl(&ov, OVERLAY_IOC_CREATE, USER, c.as_mut_bytes()),
        Err(Errno::EPERM)
    );
    assert_eq!(
        dld_ioctl(&ov, 0x2005_0009, ROOT, c.as_mut_bytes()),
        Err(Errno::ENOTTY)
    );
    assert_eq!(
        dld_ioctl(&ov, OVERLAY_IOC_CREATE, ROOT, &mut [0u8; 8]),
        Err(Errno::EFAULT)
    );
    // STATUS needs no privilege.
    let mut s = OverlayIocStatus::new_zeroed();
    s.ois_linkid = 1;
    dld_ioctl(&ov, OVERLAY_IOC_STATUS, USER, s.as_mut_bytes()).unwrap();
    assert_eq!(s.ois_status, OVERLAY_I_OK);
}

#[test]
fn properties() {
    let ov = ov();
    create(&ov, 10, 100, "tplug").unwrap();
    let mut n = OverlayIocNprops {
        oipn_linkid: 10,
        oipn_nprops: 0,
    };
    dld_ioctl(&ov, OVERLAY_IOC_NPROPS, ROOT, n.as_mut_bytes()).unwrap();
    assert_eq!(n.oipn_nprops, 5);

    // PROPINFO by id and by name, plugin property by name too.
    let mut pi = OverlayIocPropinfo::new_zeroed();
    pi.oipi_linkid = 10;
    pi.oipi_id = 0;
    dld_ioctl(&ov, OVERLAY_IOC_PROPINFO, ROOT, pi.as_mut_bytes()).unwrap();
    assert_eq!(cstr_field(&pi.oipi_name).unwrap(), "mtu");
    assert_eq!(pi.oipi_defsize, 4);
    pi.oipi_id = -1;
    set_cstr_field(&mut pi.oipi_name, "tplug/port").unwrap();
    dld_ioctl(&ov, OVERLAY_IOC_PROPINFO, ROOT, pi.as_mut_bytes()).unwrap();
    assert_eq!((pi.oipi_id, pi.oipi_prot), (4, OVERLAY_PROP_PERM_RRW));
    pi.oipi_id = 5;
    assert_eq!(
        dld_ioctl(&ov, OVERLAY_IOC_PROPINFO, ROOT, pi.as_mut_bytes()),
        Err(Errno::EINVAL)
    );
    pi.oipi_id = -2;
    assert_eq!(
        dld_ioctl(&ov, OVERLAY_IOC_PROPINFO, ROOT, pi.as_mut_bytes()),
        Err(Errno::EINVAL)
    );
    pi.oipi_id = -1;
    set_cstr_field(&mut pi.oipi_name, "nosuch").unwrap();
    assert_eq!(
        dld_ioctl(&ov, OVERLAY_IOC_PROPINFO, ROOT, pi.as_mut_bytes()),
        Err(Errno::ENOENT)
    );
    // encap's possible values list the registered plugins.
    let mut pi = OverlayIocPropinfo::new_zeroed();
    pi.oipi_linkid = 10;
    pi.oipi_id = 2;
    dld_ioctl(&ov, OVERLAY_IOC_PROPINFO, ROOT, pi.as_mut_bytes()).unwrap();
    let info = PropInfo {
        poss: pi.oipi_poss,
        ..Default::default()
    };
    assert!(info.str_values().any(|v| v == b"tplug"));

    // GETPROP: generic values and sizes.
    assert_eq!(getprop(&ov, 10, 0, "").unwrap(), 1400u32.to_ne_bytes());
    assert_eq!(getprop(&ov, 10, 1, "").unwrap(), 100u64.to_ne_bytes());
    assert_eq!(getprop(&ov, 10, 2, "").unwrap(), b"tplug\0");
    assert_eq!(getprop(&ov, 10, 3, "").unwrap(), b"");
    assert_eq!(getprop(&ov, 10, -1, "tplug/port").unwrap(), b"");
    assert_eq!(getprop(&ov, 10, 5, ""), Err(Errno::EINVAL));
    assert_eq!(getprop(&ov, 11, 0, ""), Err(Errno::ENOENT));

    // SETPROP rules.
    assert_eq!(
        setprop(&ov, 10, 0, "", &100u64.to_ne_bytes()),
        Err(Errno::EINVAL)
    );
    setprop(&ov, 10, 0, "", &9000u64.to_ne_bytes()).unwrap_err();
    setprop(&ov, 10, -1, "mtu", &8900u64.to_ne_bytes()).unwrap();
    assert_eq!(getprop(&ov, 10, 0, "").unwrap(), 8900u32.to_ne_bytes());
    assert_eq!(
        setprop(&ov, 10, 1, "", &5u32.to_ne_bytes()),
        Err(Errno::EINVAL)
    );
    setprop(&ov, 10, 1, "", &((1u64 << 24) - 1).to_ne_bytes()).unwrap();
    assert_eq!(
        setprop(&ov, 10, 1, "", &(1u64 << 24).to_ne_bytes()),
        Err(Errno::EINVAL)
    );
    assert_eq!(setprop(&ov, 10, 2, "", b"x\0"), Err(Errno::EPERM));
    assert_eq!(
        setprop(&ov, 10, 3, "", &1u64.to_ne_bytes()),
        Err(Errno::EPERM)
    );
    assert_eq!(
        setprop(&ov, 10, -1, "tplug/port", &0u64.to_ne_bytes()),
        Err(Errno::EINVAL)
    );
    setprop(&ov, 10, -1, "tplug/port", &4789u64.to_ne_bytes()).unwrap();
    assert_eq!(getprop(&ov, 10, 4, "").unwrap(), 4789u64.to_ne_bytes());
    let mut p = OverlayIocProp::new_zeroed();
    p.oip_linkid = 10;
    p.oip_size = 257;
    assert_eq!(
        dld_ioctl(&ov, OVERLAY_IOC_SETPROP, ROOT, p.as_mut_bytes()),
        Err(Errno::EINVAL)
    );
    // A vnetid another device of the plugin uses.
    create(&ov, 12, 200, "tplug").unwrap();
    assert_eq!(
        setprop(&ov, 12, 1, "", &((1u64 << 24) - 1).to_ne_bytes()),
        Err(Errno::EEXIST)
    );
}

#[test]
fn activate_rules() {
    let ov = ov();
    let h = rw(&ov);
    let act = |l| {
        dld_ioctl(
            &ov,
            OVERLAY_IOC_ACTIVATE,
            ROOT,
            OverlayIocActivate { oia_linkid: l }.as_mut_bytes(),
        )
    };
    assert_eq!(act(20), Err(Errno::ENOENT));
    create(&ov, 20, 1, "tplug").unwrap();
    // Required plugin property unset.
    assert_eq!(
        ov.activate(20).unwrap_err(),
        (Errno::EINVAL, Some("tplug/port".into()))
    );
    setprop(&ov, 20, 4, "", &4789u64.to_ne_bytes()).unwrap();
    // Not associated.
    assert_eq!(act(20), Err(Errno::ENXIO));
    associate(&h, 20, OVERLAY_TARGET_POINT, point(1)).unwrap();
    let dev = ov.device(20).unwrap();
    assert_eq!(ov.start(&dev), Err(Errno::EAGAIN));
    act(20).unwrap();
    assert!(dev.link().up.load(Relaxed));
    assert_eq!(act(20), Err(Errno::EEXIST));
    // Immutable now.
    assert_eq!(
        setprop(&ov, 20, 0, "", &1500u64.to_ne_bytes()),
        Err(Errno::ENOTSUP)
    );
    // Started: cannot delete.
    ov.start(&dev).unwrap();
    let del = |l| {
        dld_ioctl(
            &ov,
            OVERLAY_IOC_DELETE,
            ROOT,
            OverlayIocDelete { oid_linkid: l }.as_mut_bytes(),
        )
    };
    assert_eq!(del(20), Err(Errno::EBUSY));
    ov.stop(&dev);
    dev.link().busy.store(true, Relaxed);
    assert_eq!(del(20), Err(Errno::EBUSY));
    dev.link().busy.store(false, Relaxed);
    del(20).unwrap();
    assert_eq!(del(20), Err(Errno::ENOENT));
}

#[test]
fn open_rules() {
    let ov = ov();
    let o = |read, write, excl, cred| ov.open(OpenFlags { read, write, excl }, cred).map(drop);
    assert_eq!(o(true, true, true, USER), Err(Errno::EPERM));
    assert_eq!(
        o(
            true,
            true,
            true,
            Cred {
                dl_config: true,
                global_zone: false
            }
        ),
        Err(Errno::EPERM)
    );
    assert_eq!(o(false, false, false, ROOT), Err(Errno::EINVAL));
    assert_eq!(o(true, true, false, ROOT), Err(Errno::EINVAL));
    let h = rw(&ov);
    assert_eq!(o(true, true, true, ROOT), Err(Errno::EEXIST));
    let r = ov.open(OpenFlags::RDONLY, ROOT).unwrap();
    // Write-class command on a read-only handle.
    let mut id = OverlayTargId { otid_linkid: 1 };
    assert_eq!(targ(&r, OVERLAY_TARG_RESTORE, &mut id), Err(Errno::EBADF));
    assert_eq!(
        targ(&r, OVERLAY_TARG_IOCTL | 0x99, &mut id),
        Err(Errno::ENOTTY)
    );
    let mut v = id.as_bytes().to_vec();
    assert_eq!(
        targ_ioctl(&r, OVERLAY_TARG_INFO, USER, &mut v, TargData::None),
        Err(Errno::EPERM)
    );
    assert_eq!(ov.open_count(), 2);
    drop(h);
    o(true, true, true, ROOT).unwrap();
}

#[test]
fn associate_rules() {
    let ov = ov();
    let h = rw(&ov);
    create(&ov, 30, 1, "tplug").unwrap();
    assert_eq!(
        associate(&h, 31, OVERLAY_TARGET_POINT, point(1)),
        Err(Errno::ENOENT)
    );
    let mut a = OverlayTargAssociate::new_zeroed();
    a.ota_linkid = 30;
    a.ota_mode = OVERLAY_TARGET_POINT;
    a.ota_provides = 6;
    a.ota_point = point(1);
    assert_eq!(targ(&h, OVERLAY_TARG_ASSOCIATE, &mut a), Err(Errno::EINVAL)); // id 0
    a.ota_id = 1;
    a.ota_provides = 2;
    assert_eq!(targ(&h, OVERLAY_TARG_ASSOCIATE, &mut a), Err(Errno::EINVAL));
    a.ota_provides = 6;
    a.ota_mode = 3;
    assert_eq!(targ(&h, OVERLAY_TARG_ASSOCIATE, &mut a), Err(Errno::EINVAL));
    for bad in [
        OverlayTargetPoint::new(EtherAddr::ZERO, In6Addr::UNSPECIFIED, 1),
        OverlayTargetPoint::new(
            EtherAddr::ZERO,
            In6Addr::from(core::net::Ipv4Addr::UNSPECIFIED),
            1,
        ),
        OverlayTargetPoint::new(
            EtherAddr::ZERO,
            In6Addr([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1]),
            1,
        ),
        OverlayTargetPoint::new(EtherAddr::ZERO, point(1).otp_ip, 0),
    ] {
        assert_eq!(
            associate(&h, 30, OVERLAY_TARGET_POINT, bad),
            Err(Errno::EINVAL)
        );
    }
    associate(&h, 30, OVERLAY_TARGET_POINT, point(1)).unwrap();
    assert_eq!(
        associate(&h, 30, OVERLAY_TARGET_DYNAMIC, point(1)),
        Err(Errno::EEXIST)
    );
    assert_eq!(getprop(&ov, 30, 3, "").unwrap(), 7u64.to_ne_bytes());
    let mut id = OverlayTargId { otid_linkid: 30 };
    let mut info = OverlayTargInfo::new_zeroed();
    info.oti_linkid = 30;
    targ(&h, OVERLAY_TARG_INFO, &mut info).unwrap();
    assert_eq!((info.oti_needs, info.oti_vnetid, info.oti_flags), (6, 1, 0));
    targ(&h, OVERLAY_TARG_DISASSOCIATE, &mut id).unwrap();
    assert_eq!(getprop(&ov, 30, 3, "").unwrap(), b"");
    // Re-association replaces the target (illumos leaked the old one).
    associate(&h, 30, OVERLAY_TARGET_DYNAMIC, point(1)).unwrap();
    assert_eq!(ov.device(30).unwrap().target_mode(), OVERLAY_TARGET_DYNAMIC);
}

#[test]
fn degrade_restore_and_fma() {
    let ov = ov();
    let h = rw(&ov);
    create(&ov, 40, 1, "tplug").unwrap();
    create(&ov, 41, 2, "tplug").unwrap();
    let mut d = OverlayTargDegrade::new_zeroed();
    d.otd_linkid = 40;
    d.otd_buf[..5].copy_from_slice(b"first");
    targ(&h, OVERLAY_TARG_DEGRADE, &mut d).unwrap();
    assert!(ov.platform().fma_degraded.load(Relaxed));
    d.otd_buf[..6].copy_from_slice(b"second");
    targ(&h, OVERLAY_TARG_DEGRADE, &mut d).unwrap();
    d.otd_linkid = 41;
    targ(&h, OVERLAY_TARG_DEGRADE, &mut d).unwrap();
    let mut s = OverlayIocStatus::new_zeroed();
    s.ois_linkid = 40;
    dld_ioctl(&ov, OVERLAY_IOC_STATUS, ROOT, s.as_mut_bytes()).unwrap();
    assert_eq!(s.ois_status, OVERLAY_I_DEGRADED);
    assert_eq!(cstr_field(&s.ois_message).unwrap(), "second");
    targ(
        &h,
        OVERLAY_TARG_RESTORE,
        &mut OverlayTargId { otid_linkid: 40 },
    )
    .unwrap();
    assert!(ov.platform().fma_degraded.load(Relaxed));
    targ(
        &h,
        OVERLAY_TARG_RESTORE,
        &mut OverlayTargId { otid_linkid: 41 },
    )
    .unwrap();
    assert!(!ov.platform().fma_degraded.load(Relaxed));
    dld_ioctl(&ov, OVERLAY_IOC_STATUS, ROOT, s.as_mut_bytes()).unwrap();
    assert_eq!((s.ois_status, s.ois_message[0]), (OVERLAY_I_OK, 0));
    assert_eq!(
        targ(
            &h,
            OVERLAY_TARG_RESTORE,
            &mut OverlayTargId { otid_linkid: 99 }
        ),
        Err(Errno::ENOENT)
    );
}

#[test]
fn lookup_respond_drop_pkt_inject_resend() {
    let ov = ov();
    let h = rw(&ov);
    running(&ov, &h, 50, 5000);
    let dev = ov.device(50).unwrap();
    let mut scratch = crate::dev::TxScratch::default();
    let dst = [2, 0, 0, 0, 0, 1];
    ov.tx(&dev, [frame(dst, 100), frame(dst, 200)], &mut scratch);
    assert_eq!(dev.stats.misses.load(Relaxed), 2);
    let req = h.lookup(1_000_000).unwrap();
    assert_eq!(
        (req.otl_dlid, req.otl_varpdid, req.otl_vnetid),
        (50, 7, 5000)
    );
    assert_eq!(
        (req.otl_hdrsize, req.otl_pktsize, req.otl_sap),
        (14, 86, 0x0800)
    );
    assert_eq!(req.otl_dstaddr, EtherAddr(dst));
    // Nothing else pending: ETIME.
    assert_eq!(h.lookup(1_000_000), Err(Errno::ETIME));

    // PKT copies the head frame.
    let mut p = OverlayTargPkt::new_zeroed();
    p.otp_reqid = req.otl_reqid;
    p.otp_size = 64;
    let mut buf = [0u8; 64];
    let mut v = p.as_bytes().to_vec();
    targ_ioctl(&h, OVERLAY_TARG_PKT, ROOT, &mut v, TargData::Out(&mut buf)).unwrap();
    assert_eq!(OverlayTargPkt::read_from_prefix(&v).unwrap().0.otp_size, 64);
    assert_eq!(&buf[..6], &dst);
    p.otp_reqid = 12345;
    let mut v = p.as_bytes().to_vec();
    assert_eq!(
        targ_ioctl(&h, OVERLAY_TARG_PKT, ROOT, &mut v, TargData::Out(&mut buf)),
        Err(Errno::EINVAL)
    );

    // INJECT by request delivers up; size limit.
    p.otp_reqid = req.otl_reqid;
    p.otp_linkid = u64::MAX;
    p.otp_size = 60;
    let arp = frame([0xff; 6], 60);
    let mut v = p.as_bytes().to_vec();
    targ_ioctl(
        &h,
        OVERLAY_TARG_INJECT,
        ROOT,
        &mut v,
        TargData::In(arp.bytes()),
    )
    .unwrap();
    assert_eq!(dev.link().delivered.lock().len(), 1);
    p.otp_size = 1519;
    let mut v = p.as_bytes().to_vec();
    assert_eq!(
        targ_ioctl(
            &h,
            OVERLAY_TARG_INJECT,
            ROOT,
            &mut v,
            TargData::In(&[0; 1519])
        ),
        Err(Errno::EINVAL)
    );
    p.otp_size = 60;
    p.otp_reqid = 999;
    let mut v = p.as_bytes().to_vec();
    assert_eq!(
        targ_ioctl(
            &h,
            OVERLAY_TARG_INJECT,
            ROOT,
            &mut v,
            TargData::In(arp.bytes())
        ),
        Err(Errno::ENOENT)
    );
    p.otp_linkid = 77;
    let mut v = p.as_bytes().to_vec();
    assert_eq!(
        targ_ioctl(
            &h,
            OVERLAY_TARG_RESEND,
            ROOT,
            &mut v,
            TargData::In(arp.bytes())
        ),
        Err(Errno::ENOENT)
    );

    // DROP frees the head; the entry is posted again for the second.
    let mut r = OverlayTargResp::new_zeroed();
    r.otr_reqid = req.otl_reqid;
    targ(&h, OVERLAY_TARG_DROP, &mut r).unwrap();
    assert_eq!(targ(&h, OVERLAY_TARG_DROP, &mut r), Err(Errno::EINVAL));
    let req2 = h.lookup(1_000_000).unwrap();
    assert_ne!(req2.otl_reqid, req.otl_reqid);
    assert_eq!(req2.otl_pktsize, 186);
    // RESPOND sends it.
    r.otr_reqid = req2.otl_reqid;
    r.otr_answer = point(9);
    targ(&h, OVERLAY_TARG_RESPOND, &mut r).unwrap();
    let sock = &ov.platform().sockets.lock()[0];
    {
        let sent = sock.sent.lock();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0.ip, point(9).otp_ip);
        assert_eq!(sent[0].0.port, 4789);
        assert_eq!(sent[0].1.len(), 208);
        assert_eq!(&sent[0].1.bytes()[..8], &[8, 0, 0, 0, 0, 0x13, 0x88, 0]);
    }
    // Now a hit.
    ov.tx(&dev, [frame(dst, 60)], &mut scratch);
    assert_eq!(sock.sent.lock().len(), 2);
    assert_eq!(dev.stats.tx_frames.load(Relaxed), 2);
    // RESEND goes through the transmit path.
    p.otp_linkid = 50;
    p.otp_size = 60;
    let f = frame(dst, 60);
    let mut v = p.as_bytes().to_vec();
    targ_ioctl(
        &h,
        OVERLAY_TARG_RESEND,
        ROOT,
        &mut v,
        TargData::In(f.bytes()),
    )
    .unwrap();
    assert_eq!(sock.sent.lock().len(), 3);
}

#[test]
fn closing_a_handle_requeues_its_requests() {
    let ov = ov();
    let h = rw(&ov);
    running(&ov, &h, 60, 6000);
    let dev = ov.device(60).unwrap();
    ov.tx(
        &dev,
        [frame([2, 0, 0, 0, 0, 1], 60)],
        &mut Default::default(),
    );
    let req = h.lookup(1_000_000).unwrap();
    assert_eq!(h.outstanding(), 1);
    drop(h);
    let h2 = rw(&ov);
    let again = h2.lookup(1_000_000).unwrap();
    assert_eq!(again.otl_dstaddr, req.otl_dstaddr);
    // The old request id is not valid on the new handle.
    let mut r = OverlayTargResp::new_zeroed();
    r.otr_reqid = req.otl_reqid;
    assert_eq!(targ(&h2, OVERLAY_TARG_RESPOND, &mut r), Err(Errno::EINVAL));
}

#[test]
fn cancel_lookups_ends_waiting_lookups() {
    let ov = ov();
    let h = rw(&ov);
    running(&ov, &h, 61, 6100);
    let t0 = std::time::Instant::now();
    std::thread::scope(|sc| {
        let waiter = sc.spawn(|| h.lookup(10_000_000_000));
        std::thread::sleep(std::time::Duration::from_millis(50));
        h.cancel_lookups();
        assert_eq!(waiter.join().unwrap(), Err(Errno::EINTR));
    });
    assert!(t0.elapsed() < std::time::Duration::from_secs(5));
    // And every later one, even with work queued (it stays queued for
    // the next handle).
    let dev = ov.device(61).unwrap();
    ov.tx(
        &dev,
        [frame([2, 0, 0, 0, 0, 1], 60)],
        &mut Default::default(),
    );
    assert_eq!(h.lookup(1_000_000), Err(Errno::EINTR));
    drop(h);
    let h2 = rw(&ov);
    assert!(h2.try_lookup().is_ok());
    assert_eq!(h2.try_lookup(), Err(Errno::ETIME));
}

#[test]
fn a_burst_wakes_every_waiting_lookup_thread() {
    // A post wakes one waiter; that one must wake the next while work is
    // left, or the others would sleep out their timeout.
    const N: usize = 4;
    let ov = ov();
    let h = rw(&ov);
    running(&ov, &h, 62, 6200);
    let dev = ov.device(62).unwrap();
    let t0 = std::time::Instant::now();
    std::thread::scope(|sc| {
        let waiters: Vec<_> = (0..N)
            .map(|_| sc.spawn(|| h.lookup(20_000_000_000)))
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let frames: Vec<_> = (0..N as u8)
            .map(|i| frame([2, 0, 0, 0, 1, i], 60))
            .collect();
        ov.tx(&dev, frames, &mut Default::default());
        let mut got: Vec<_> = waiters
            .into_iter()
            .map(|w| w.join().unwrap().unwrap().otl_dstaddr.0[5])
            .collect();
        got.sort();
        assert_eq!(got, (0..N as u8).collect::<Vec<_>>());
    });
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(h.outstanding(), N);
}

#[test]
fn delete_waits_for_outstanding_lookups() {
    let ov = ov();
    let h = rw(&ov);
    running(&ov, &h, 70, 7000);
    let dev = ov.device(70).unwrap();
    ov.tx(
        &dev,
        [frame([2, 0, 0, 0, 0, 1], 60)],
        &mut Default::default(),
    );
    let req = h.lookup(1_000_000).unwrap();
    ov.stop(&dev);
    let ov2 = ov.clone();
    let t = std::thread::spawn(move || ov2.delete(70));
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!t.is_finished());
    let mut r = OverlayTargResp::new_zeroed();
    r.otr_reqid = req.otl_reqid;
    targ(&h, OVERLAY_TARG_DROP, &mut r).unwrap();
    assert_eq!(t.join().unwrap(), Ok(()));
}

#[test]
fn cache_ioctls() {
    let ov = ov();
    let h = rw(&ov);
    create(&ov, 80, 1, "tplug").unwrap();
    let mk = |mac: [u8; 6], flags: u16, last: u8| {
        crate::ioctl::cache_arg(
            80,
            EtherAddr(mac),
            OverlayTargCacheEntry {
                otce_mac: EtherAddr(mac),
                otce_flags: flags,
                otce_dest: point(last),
            },
        )
    };
    assert_eq!(
        targ(
            &h,
            OVERLAY_TARG_CACHE_GET,
            &mut mk([2, 0, 0, 0, 0, 1], 0, 0)
        ),
        Err(Errno::ENXIO)
    );
    associate(&h, 80, OVERLAY_TARGET_DYNAMIC, point(0)).unwrap();
    assert_eq!(
        targ(
            &h,
            OVERLAY_TARG_CACHE_GET,
            &mut mk([2, 0, 0, 0, 0, 1], 0, 0)
        ),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        targ(
            &h,
            OVERLAY_TARG_CACHE_SET,
            &mut mk([2, 0, 0, 0, 0, 1], 2, 0)
        ),
        Err(Errno::EINVAL)
    );
    for i in 1..=5u8 {
        targ(
            &h,
            OVERLAY_TARG_CACHE_SET,
            &mut mk([2, 0, 0, 0, 0, i], 0, i),
        )
        .unwrap();
    }
    targ(
        &h,
        OVERLAY_TARG_CACHE_SET,
        &mut mk([2, 0, 0, 0, 0, 3], OVERLAY_TARGET_CACHE_DROP, 0),
    )
    .unwrap();
    let mut g = mk([2, 0, 0, 0, 0, 2], 0, 0);
    targ(&h, OVERLAY_TARG_CACHE_GET, &mut g).unwrap();
    assert_eq!(g.otc_entry.otce_dest, point(2));
    let mut g = mk([2, 0, 0, 0, 0, 3], 0, 0);
    targ(&h, OVERLAY_TARG_CACHE_GET, &mut g).unwrap();
    assert_eq!(g.otc_entry.otce_flags, OVERLAY_TARGET_CACHE_DROP);
    targ(
        &h,
        OVERLAY_TARG_CACHE_REMOVE,
        &mut mk([2, 0, 0, 0, 0, 4], 0, 0),
    )
    .unwrap();
    assert_eq!(
        targ(
            &h,
            OVERLAY_TARG_CACHE_REMOVE,
            &mut mk([2, 0, 0, 0, 0, 9], 0, 0)
        ),
        Err(Errno::ENOENT)
    );

    // ITER in pages of two: 1, 2 | 3, 5 | done.
    let iter = |marker: u64, count: u16| {
        let mut hdr = OverlayTargCacheIterHdr::new_zeroed();
        hdr.otci_linkid = 80;
        hdr.otci_marker = marker;
        hdr.otci_count = count;
        let mut v = hdr.as_bytes().to_vec();
        v.resize(otci_copy_size(count), 0);
        targ_ioctl(&h, OVERLAY_TARG_CACHE_ITER, ROOT, &mut v, TargData::None).map(|()| {
            let hdr = OverlayTargCacheIterHdr::read_from_prefix(&v).unwrap().0;
            let ents: Vec<u8> = (0..hdr.otci_count as usize)
                .map(|i| {
                    let off = OTCI_ENTS_OFFSET + i * 36;
                    OverlayTargCacheEntry::read_from_prefix(&v[off..])
                        .unwrap()
                        .0
                        .otce_mac
                        .0[5]
                })
                .collect();
            (hdr.otci_marker, ents)
        })
    };
    assert_eq!(iter(0, 0), Err(Errno::EINVAL));
    assert_eq!(iter(0, 501), Err(Errno::E2BIG));
    let (m, e) = iter(0, 2).unwrap();
    assert_eq!(e, [1, 2]);
    let (m, e) = iter(m, 2).unwrap();
    assert_eq!(e, [3, 5]);
    let (m, e) = iter(m, 2).unwrap();
    assert_eq!(e, Vec::<u8>::new());
    assert!(IterMarker::from_u64(m).is_done());
    assert_eq!(iter(m, 2).unwrap().1.len(), 0);

    targ(&h, OVERLAY_TARG_CACHE_FLUSH, &mut mk([0; 6], 0, 0)).unwrap();
    assert_eq!(iter(0, 10).unwrap().1.len(), 0);

    // LIST.
    let mut v = OverlayTargListHdr { otl_nents: 0 }.as_bytes().to_vec();
    targ_ioctl(&h, OVERLAY_TARG_LIST, ROOT, &mut v, TargData::None).unwrap();
    assert_eq!(v, 1u32.to_ne_bytes());
    let mut v = OverlayTargListHdr { otl_nents: 4 }.as_bytes().to_vec();
    v.resize(20, 0);
    targ_ioctl(&h, OVERLAY_TARG_LIST, ROOT, &mut v, TargData::None).unwrap();
    assert_eq!(v, [1u32.to_ne_bytes(), 80u32.to_ne_bytes()].concat());
    let mut v = OverlayTargListHdr {
        otl_nents: u32::MAX,
    }
    .as_bytes()
    .to_vec();
    assert_eq!(
        targ_ioctl(&h, OVERLAY_TARG_LIST, ROOT, &mut v, TargData::None),
        Err(Errno::EINVAL)
    );

    // Point targets: CACHE_SET is not supported, ITER yields one entry.
    create(&ov, 81, 2, "tplug").unwrap();
    associate(&h, 81, OVERLAY_TARGET_POINT, point(8)).unwrap();
    let mut c = mk([2, 0, 0, 0, 0, 1], 0, 1);
    c.otc_linkid = 81;
    assert_eq!(
        targ(&h, OVERLAY_TARG_CACHE_SET, &mut c),
        Err(Errno::ENOTSUP)
    );
    targ(&h, OVERLAY_TARG_CACHE_GET, &mut c).unwrap();
    assert_eq!(c.otc_entry.otce_dest, point(8));
}

#[test]
fn rx_path_demuxes_and_counts_drops() {
    let ov = ov();
    let h = rw(&ov);
    running(&ov, &h, 90, 9000);
    running(&ov, &h, 91, 9001);
    assert_eq!(ov.muxes().len(), 1, "one socket shared by both devices");
    let mux = ov.muxes()[0].clone();
    let mut good = alloc::vec![8u8, 0, 0, 0];
    good.extend_from_slice(&(9001u32 << 8).to_be_bytes());
    good.extend_from_slice(frame([2, 0, 0, 0, 0, 1], 60).bytes());
    mux.rx(ov.platform(), MemFrame::new(&good));
    assert_eq!(ov.device(91).unwrap().link().delivered.lock()[0].len(), 60);
    mux.rx(ov.platform(), MemFrame::new(&good[..7]));
    let mut noi = good.clone();
    noi[0] = 0;
    mux.rx(ov.platform(), MemFrame::new(&noi));
    let mut unknown = good.clone();
    unknown[4..8].copy_from_slice(&(1234u32 << 8).to_be_bytes());
    mux.rx(ov.platform(), MemFrame::new(&unknown));
    assert_eq!(mux.stats.rx_decap_failed.load(Relaxed), 2);
    assert_eq!(mux.stats.rx_unknown_vnetid.load(Relaxed), 1);
    // Stopping both closes the mux.
    ov.stop(&ov.device(90).unwrap());
    assert_eq!(ov.muxes().len(), 1);
    ov.stop(&ov.device(91).unwrap());
    assert_eq!(ov.muxes().len(), 0);
}

#[test]
fn drop_for_a_valid_entry_fires_the_probe() {
    let ov = ov();
    let h = rw(&ov);
    running(&ov, &h, 95, 9500);
    let dev = ov.device(95).unwrap();
    let dst = [2, 0, 0, 0, 0, 7];
    ov.tx(&dev, [frame(dst, 60)], &mut Default::default());
    let req = h.lookup(1_000_000).unwrap();
    // Answered by a cache set while varpd still holds the request.
    let mut c = crate::ioctl::cache_arg(95, EtherAddr(dst), OverlayTargCacheEntry::new_zeroed());
    c.otc_entry.otce_dest = point(3);
    targ(&h, OVERLAY_TARG_CACHE_SET, &mut c).unwrap();
    let mut r = OverlayTargResp::new_zeroed();
    r.otr_reqid = req.otl_reqid;
    targ(&h, OVERLAY_TARG_DROP, &mut r).unwrap();
    assert_eq!(
        *ov.platform().probes.lock(),
        [crate::platform::Probe::TargetValidDrop {
            linkid: 95,
            mac: EtherAddr(dst)
        }]
    );
}

mod model;
