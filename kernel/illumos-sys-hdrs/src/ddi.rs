//! The DDI/DKI driver interfaces: `sys/devops.h` (`dev_ops`, `cb_ops`),
//! `sys/dditypes.h`, `sys/ddi.h`, `sys/sunddi.h`, `sys/conf.h`, `sys/stat.h`
//! (`S_IFCHR`), `sys/open.h` (`OTYP_*`), `sys/file.h` (`F*` open and ioctl
//! flags), `sys/model.h`, `sys/ddifm.h` (FMA), `sys/ddipropdefs.h`,
//! `sys/mkdev.h` (dev_t packing) and `sys/id_space.h`.

use core::ffi::CStr;

use crate::cred::cred_t;
use crate::stream::streamtab;
use crate::types::{
    c_char, c_int, c_short, c_uint, c_void, caddr_t, daddr_t, dev_t, id_t, intptr_t, major_t,
    minor_t, off_t, offset_t, size_t, uint_t,
};

/// `dev_info_t`: a node of the device tree. Opaque.
#[repr(C)]
pub struct dev_info_t {
    _p: [u8; 0],
}

/// `struct bus_ops`: only nexus drivers fill it in. Opaque.
#[repr(C)]
pub struct bus_ops {
    _p: [u8; 0],
}

/// `struct buf`: block I/O request. Opaque.
#[repr(C)]
pub struct buf {
    _p: [u8; 0],
}

/// `struct uio`: a scatter/gather I/O request. Opaque.
#[repr(C)]
pub struct uio {
    _p: [u8; 0],
}

/// `struct as`: an address space. Opaque.
#[repr(C)]
pub struct r#as {
    _p: [u8; 0],
}

/// `struct pollhead`. Opaque.
#[repr(C)]
pub struct pollhead {
    _p: [u8; 0],
}

/// `struct aio_req`. Opaque.
#[repr(C)]
pub struct aio_req {
    _p: [u8; 0],
}

/// `id_space_t`: an identifier allocator (`sys/id_space.h`). Opaque.
#[repr(C)]
pub struct id_space_t {
    _p: [u8; 0],
}

/// `typedef void *devmap_cookie_t;`
pub type devmap_cookie_t = *mut c_void;

/// `typedef struct __ddi_iblock_cookie *ddi_iblock_cookie_t;`
#[repr(C)]
pub struct __ddi_iblock_cookie {
    _p: [u8; 0],
}
pub type ddi_iblock_cookie_t = *mut __ddi_iblock_cookie;

// DDI return values (sys/sunddi.h).
pub const DDI_SUCCESS: c_int = 0;
pub const DDI_FAILURE: c_int = -1;

/// `(dev_t)-1`: "no device" for property lookups.
pub const DDI_DEV_T_NONE: dev_t = !0;
/// `(dev_t)-2`: "any device" for property lookups.
pub const DDI_DEV_T_ANY: dev_t = !1;

/// Node type for pseudo devices (`#define DDI_PSEUDO "ddi_pseudo"`).
pub const DDI_PSEUDO: &CStr = c"ddi_pseudo";

/// `S_IFCHR` (`sys/stat.h`): character special file, for
/// `ddi_create_minor_node`.
pub const S_IFCHR: c_int = 0x2000;

// sys/conf.h: cb_flag bits.
/// Driver is "new style" (all drivers are today).
pub const D_NEW: c_int = 0x00;
/// Driver is MT-safe.
pub const D_MP: c_int = 0x20;

// sys/devops.h revisions.
pub const DEVO_REV: c_int = 4;
pub const CB_REV: c_int = 1;

// sys/open.h: open types passed to open(9E)/close(9E).
pub const OTYP_BLK: c_int = 0;
pub const OTYP_MNT: c_int = 1;
pub const OTYP_CHR: c_int = 2;
pub const OTYP_SWP: c_int = 3;
pub const OTYP_LYR: c_int = 4;

// sys/file.h: open(9E) flags and the ioctl(9E) mode word.
pub const FREAD: c_int = 0x01;
pub const FWRITE: c_int = 0x02;
pub const FNDELAY: c_int = 0x04;
pub const FNONBLOCK: c_int = 0x80;
pub const FEXCL: c_int = 0x0400;
pub const FOFFMAX: c_int = 0x2000;
/// ioctl argument addresses are kernel addresses (pass the mode through to
/// `ddi_copyin`/`ddi_copyout`).
pub const FKIOCTL: c_int = 0x8000_0000_u32 as c_int;
/// The open(9E) comes from another part of the kernel.
pub const FKLYR: c_int = 0x4000_0000;

// sys/model.h: the data model bits of the ioctl(9E) mode word.
pub const DATAMODEL_MASK: c_int = 0x0FF0_0000;
pub const DATAMODEL_ILP32: c_int = 0x0010_0000;
pub const DATAMODEL_LP64: c_int = 0x0020_0000;
pub const DATAMODEL_NATIVE: c_int = DATAMODEL_LP64;
pub const FMODELS: c_int = DATAMODEL_MASK;

/// `ddi_info_cmd_t`: what getinfo(9E) is asked for.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ddi_info_cmd_t(pub c_int);

impl ddi_info_cmd_t {
    pub const DDI_INFO_DEVT2DEVINFO: Self = Self(0);
    pub const DDI_INFO_DEVT2INSTANCE: Self = Self(1);
}

/// `ddi_attach_cmd_t`
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ddi_attach_cmd_t(pub c_int);

impl ddi_attach_cmd_t {
    pub const DDI_ATTACH: Self = Self(0);
    pub const DDI_RESUME: Self = Self(1);
    pub const DDI_PM_RESUME: Self = Self(2);
}

/// `ddi_detach_cmd_t`
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ddi_detach_cmd_t(pub c_int);

impl ddi_detach_cmd_t {
    pub const DDI_DETACH: Self = Self(0);
    pub const DDI_SUSPEND: Self = Self(1);
    pub const DDI_PM_SUSPEND: Self = Self(2);
    pub const DDI_HOTPLUG_DETACH: Self = Self(3);
}

/// `ddi_reset_cmd_t`
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ddi_reset_cmd_t(pub c_int);

impl ddi_reset_cmd_t {
    pub const DDI_RESET_FORCE: Self = Self(0);
}

/// `ddi_prop_op_t` (`sys/ddipropdefs.h`)
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ddi_prop_op_t(pub c_int);

impl ddi_prop_op_t {
    pub const PROP_LEN: Self = Self(0);
    pub const PROP_LEN_AND_VAL_BUF: Self = Self(1);
    pub const PROP_LEN_AND_VAL_ALLOC: Self = Self(2);
    pub const PROP_EXISTS: Self = Self(3);
}

// sys/ddifm.h: fault-management capabilities for ddi_fm_init().
pub const DDI_FM_NOT_CAPABLE: c_int = 0x0000_0000;
pub const DDI_FM_EREPORT_CAPABLE: c_int = 0x0000_0001;
pub const DDI_FM_ACCCHK_CAPABLE: c_int = 0x0000_0002;
pub const DDI_FM_DMACHK_CAPABLE: c_int = 0x0000_0004;
pub const DDI_FM_ERRCB_CAPABLE: c_int = 0x0000_0008;

/// `ddi_fault_impact_t` (`sys/sunddi.h`), for `ddi_fm_service_impact`.
/// The values are ordered but deliberately not consecutive.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ddi_fault_impact_t(pub c_int);

impl ddi_fault_impact_t {
    pub const DDI_SERVICE_LOST: Self = Self(-32);
    pub const DDI_SERVICE_DEGRADED: Self = Self(-16);
    pub const DDI_SERVICE_UNAFFECTED: Self = Self(0);
    pub const DDI_SERVICE_RESTORED: Self = Self(16);
}

pub const DDI_SERVICE_LOST: ddi_fault_impact_t = ddi_fault_impact_t::DDI_SERVICE_LOST;
pub const DDI_SERVICE_DEGRADED: ddi_fault_impact_t = ddi_fault_impact_t::DDI_SERVICE_DEGRADED;
pub const DDI_SERVICE_UNAFFECTED: ddi_fault_impact_t = ddi_fault_impact_t::DDI_SERVICE_UNAFFECTED;
pub const DDI_SERVICE_RESTORED: ddi_fault_impact_t = ddi_fault_impact_t::DDI_SERVICE_RESTORED;

/// `struct cb_ops`: character/block entry points of a leaf driver
/// (`sys/devops.h`). Field order and types are the C ones.
#[repr(C)]
pub struct cb_ops {
    pub cb_open: Option<
        unsafe extern "C" fn(
            devp: *mut dev_t,
            flag: c_int,
            otyp: c_int,
            credp: *mut cred_t,
        ) -> c_int,
    >,
    pub cb_close: Option<
        unsafe extern "C" fn(dev: dev_t, flag: c_int, otyp: c_int, credp: *mut cred_t) -> c_int,
    >,
    pub cb_strategy: Option<unsafe extern "C" fn(bp: *mut buf) -> c_int>,
    pub cb_print: Option<unsafe extern "C" fn(dev: dev_t, str: *mut c_char) -> c_int>,
    pub cb_dump: Option<
        unsafe extern "C" fn(dev: dev_t, addr: caddr_t, blkno: daddr_t, nblk: c_int) -> c_int,
    >,
    pub cb_read:
        Option<unsafe extern "C" fn(dev: dev_t, uiop: *mut uio, credp: *mut cred_t) -> c_int>,
    pub cb_write:
        Option<unsafe extern "C" fn(dev: dev_t, uiop: *mut uio, credp: *mut cred_t) -> c_int>,
    pub cb_ioctl: Option<
        unsafe extern "C" fn(
            dev: dev_t,
            cmd: c_int,
            arg: intptr_t,
            mode: c_int,
            credp: *mut cred_t,
            rvalp: *mut c_int,
        ) -> c_int,
    >,
    pub cb_devmap: Option<
        unsafe extern "C" fn(
            dev: dev_t,
            dhp: devmap_cookie_t,
            off: offset_t,
            len: size_t,
            maplen: *mut size_t,
            model: uint_t,
        ) -> c_int,
    >,
    pub cb_mmap: Option<unsafe extern "C" fn(dev: dev_t, off: off_t, prot: c_int) -> c_int>,
    pub cb_segmap: Option<
        unsafe extern "C" fn(
            dev: dev_t,
            off: off_t,
            asp: *mut r#as,
            addrp: *mut caddr_t,
            len: off_t,
            prot: c_uint,
            maxprot: c_uint,
            flags: c_uint,
            credp: *mut cred_t,
        ) -> c_int,
    >,
    pub cb_chpoll: Option<
        unsafe extern "C" fn(
            dev: dev_t,
            events: c_short,
            anyyet: c_int,
            reventsp: *mut c_short,
            phpp: *mut *mut pollhead,
        ) -> c_int,
    >,
    pub cb_prop_op: Option<
        unsafe extern "C" fn(
            dev: dev_t,
            dip: *mut dev_info_t,
            prop_op: ddi_prop_op_t,
            mod_flags: c_int,
            name: *mut c_char,
            valuep: caddr_t,
            length: *mut c_int,
        ) -> c_int,
    >,
    /// STREAMS information; `mac_init_ops` fills this in for GLDv3 drivers.
    pub cb_str: *mut streamtab,
    /// `D_*` flags (`sys/conf.h`).
    pub cb_flag: c_int,
    /// `CB_REV`
    pub cb_rev: c_int,
    pub cb_aread:
        Option<unsafe extern "C" fn(dev: dev_t, aio: *mut aio_req, credp: *mut cred_t) -> c_int>,
    pub cb_awrite:
        Option<unsafe extern "C" fn(dev: dev_t, aio: *mut aio_req, credp: *mut cred_t) -> c_int>,
}

/// `struct dev_ops`: the driver's entry points (`sys/devops.h`).
#[repr(C)]
pub struct dev_ops {
    /// `DEVO_REV`
    pub devo_rev: c_int,
    pub devo_refcnt: c_int,
    pub devo_getinfo: Option<
        unsafe extern "C" fn(
            dip: *mut dev_info_t,
            infocmd: ddi_info_cmd_t,
            arg: *mut c_void,
            result: *mut *mut c_void,
        ) -> c_int,
    >,
    pub devo_identify: Option<unsafe extern "C" fn(dip: *mut dev_info_t) -> c_int>,
    pub devo_probe: Option<unsafe extern "C" fn(dip: *mut dev_info_t) -> c_int>,
    pub devo_attach:
        Option<unsafe extern "C" fn(dip: *mut dev_info_t, cmd: ddi_attach_cmd_t) -> c_int>,
    pub devo_detach:
        Option<unsafe extern "C" fn(dip: *mut dev_info_t, cmd: ddi_detach_cmd_t) -> c_int>,
    pub devo_reset:
        Option<unsafe extern "C" fn(dip: *mut dev_info_t, cmd: ddi_reset_cmd_t) -> c_int>,
    pub devo_cb_ops: *mut cb_ops,
    pub devo_bus_ops: *mut bus_ops,
    pub devo_power:
        Option<unsafe extern "C" fn(dip: *mut dev_info_t, component: c_int, level: c_int) -> c_int>,
    pub devo_quiesce: Option<unsafe extern "C" fn(dip: *mut dev_info_t) -> c_int>,
}

// SAFETY: the driver tables are written only by the driver before
// `mod_install` (and by `mac_init_ops`, which the driver calls from
// `_init`), and afterwards read by the kernel. Sharing references across
// threads is how the kernel uses them; the raw pointers inside point at
// other static tables.
unsafe impl Sync for cb_ops {}
// SAFETY: as for `cb_ops` above.
unsafe impl Sync for dev_ops {}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<cb_ops>() == 136);
    assert!(offset_of!(cb_ops, cb_prop_op) == 96);
    assert!(offset_of!(cb_ops, cb_str) == 104);
    assert!(offset_of!(cb_ops, cb_flag) == 112);
    assert!(offset_of!(cb_ops, cb_rev) == 116);
    assert!(offset_of!(cb_ops, cb_aread) == 120);
    assert!(size_of::<dev_ops>() == 88);
    assert!(offset_of!(dev_ops, devo_getinfo) == 8);
    assert!(offset_of!(dev_ops, devo_cb_ops) == 56);
    assert!(offset_of!(dev_ops, devo_quiesce) == 80);
};

/// `makedevice(9F)`: pack a major and minor number (LP64: `L_BITSMINOR` is
/// 32). The kernel exports a function of the same name; this is the same
/// computation, inline.
#[inline]
pub const fn makedevice(major: major_t, minor: minor_t) -> dev_t {
    ((major as dev_t) << 32) | (minor as dev_t)
}

/// `getmajor(9F)`: the major number of a `dev_t` (LP64: `L_MAXMAJ` is
/// `0xffffffff`).
#[inline]
pub const fn getmajor(dev: dev_t) -> major_t {
    (dev >> 32) as major_t
}

/// `getminor(9F)`: the minor number of a `dev_t` (LP64: `L_MAXMIN` is
/// `0xffffffff`).
#[inline]
pub const fn getminor(dev: dev_t) -> minor_t {
    (dev & 0xffff_ffff) as minor_t
}

unsafe extern "C" {
    pub fn ddi_create_minor_node(
        dip: *mut dev_info_t,
        name: *const c_char,
        spec_type: c_int,
        minor_num: minor_t,
        node_type: *const c_char,
        flag: c_int,
    ) -> c_int;
    /// `name == NULL` removes all minor nodes of `dip`.
    pub fn ddi_remove_minor_node(dip: *mut dev_info_t, name: *const c_char);
    pub fn ddi_get_instance(dip: *mut dev_info_t) -> c_int;
    pub fn ddi_report_dev(dip: *mut dev_info_t);
    pub fn ddi_get_driver_private(dip: *mut dev_info_t) -> *mut c_void;
    pub fn ddi_set_driver_private(dip: *mut dev_info_t, data: *mut c_void);

    /// Copy from the ioctl argument (user or, with `FKIOCTL`, kernel
    /// address) into the kernel. Returns 0 or -1 (callers return `EFAULT`).
    pub fn ddi_copyin(
        buf: *const c_void,
        driverbuf: *mut c_void,
        cn: size_t,
        flags: c_int,
    ) -> c_int;
    /// Copy from the kernel to the ioctl argument. Returns 0 or -1.
    pub fn ddi_copyout(
        driverbuf: *const c_void,
        buf: *mut c_void,
        cn: size_t,
        flags: c_int,
    ) -> c_int;

    // sys/ddifm.h
    pub fn ddi_fm_init(dip: *mut dev_info_t, fmcap: *mut c_int, ibcp: *mut ddi_iblock_cookie_t);
    pub fn ddi_fm_fini(dip: *mut dev_info_t);
    pub fn ddi_fm_service_impact(dip: *mut dev_info_t, svc_impact: ddi_fault_impact_t);

    // Soft state (sys/sunddi.h)
    pub fn ddi_soft_state_init(state_p: *mut *mut c_void, size: size_t, n_items: size_t) -> c_int;
    pub fn ddi_soft_state_fini(state_p: *mut *mut c_void);
    pub fn ddi_soft_state_zalloc(state: *mut c_void, item: c_int) -> c_int;
    pub fn ddi_soft_state_free(state: *mut c_void, item: c_int);
    pub fn ddi_get_soft_state(state: *mut c_void, item: c_int) -> *mut c_void;

    /// The generic prop_op(9E): fill `cb_prop_op` with it.
    pub fn ddi_prop_op(
        dev: dev_t,
        dip: *mut dev_info_t,
        prop_op: ddi_prop_op_t,
        mod_flags: c_int,
        name: *mut c_char,
        valuep: caddr_t,
        lengthp: *mut c_int,
    ) -> c_int;

    /// quiesce(9E) for drivers with no hardware to quiesce.
    pub fn ddi_quiesce_not_needed(dip: *mut dev_info_t) -> c_int;
    /// quiesce(9E) for drivers that cannot be quiesced (the overlay C
    /// driver's choice; it blocks fast reboot).
    pub fn ddi_quiesce_not_supported(dip: *mut dev_info_t) -> c_int;

    /// chpoll(9E) for drivers that do not support polling.
    pub fn nochpoll(
        dev: dev_t,
        events: c_short,
        anyyet: c_int,
        reventsp: *mut c_short,
        phpp: *mut *mut pollhead,
    ) -> c_int;

    // sys/id_space.h
    pub fn id_space_create(name: *const c_char, low: id_t, high: id_t) -> *mut id_space_t;
    pub fn id_space_destroy(isp: *mut id_space_t);
    /// Sleeps until an id is free.
    pub fn id_alloc(isp: *mut id_space_t) -> id_t;
    /// Returns -1 if the space is exhausted.
    pub fn id_alloc_nosleep(isp: *mut id_space_t) -> id_t;
    pub fn id_free(isp: *mut id_space_t, id: id_t);
}

// `nodev` and `nulldev` (`sys/ddi.h`) are `int nodev(void)` and
// `int nulldev(void)`: C drivers drop them into entry-point slots of any
// signature, and the extra arguments are ignored (amd64 passes them in
// registers). Rust function-pointer types are exact, so each slot gets its
// own declaration of the same symbol with that slot's signature. Nothing
// in Rust calls them; they exist to be stored in `cb_ops`/`dev_ops`.
//
// `nodev` returns ENXIO; `nulldev` returns 0.
#[allow(clashing_extern_declarations)]
unsafe extern "C" {
    /// `int nodev(void);`
    pub fn nodev() -> c_int;
    /// `int nulldev(void);`
    pub fn nulldev() -> c_int;

    #[link_name = "nulldev"]
    pub fn nulldev_open(devp: *mut dev_t, flag: c_int, otyp: c_int, credp: *mut cred_t) -> c_int;
    #[link_name = "nulldev"]
    pub fn nulldev_close(dev: dev_t, flag: c_int, otyp: c_int, credp: *mut cred_t) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_strategy(bp: *mut buf) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_print(dev: dev_t, str: *mut c_char) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_dump(dev: dev_t, addr: caddr_t, blkno: daddr_t, nblk: c_int) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_read(dev: dev_t, uiop: *mut uio, credp: *mut cred_t) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_write(dev: dev_t, uiop: *mut uio, credp: *mut cred_t) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_ioctl(
        dev: dev_t,
        cmd: c_int,
        arg: intptr_t,
        mode: c_int,
        credp: *mut cred_t,
        rvalp: *mut c_int,
    ) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_devmap(
        dev: dev_t,
        dhp: devmap_cookie_t,
        off: offset_t,
        len: size_t,
        maplen: *mut size_t,
        model: uint_t,
    ) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_mmap(dev: dev_t, off: off_t, prot: c_int) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_segmap(
        dev: dev_t,
        off: off_t,
        asp: *mut r#as,
        addrp: *mut caddr_t,
        len: off_t,
        prot: c_uint,
        maxprot: c_uint,
        flags: c_uint,
        credp: *mut cred_t,
    ) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_aread(dev: dev_t, aio: *mut aio_req, credp: *mut cred_t) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_awrite(dev: dev_t, aio: *mut aio_req, credp: *mut cred_t) -> c_int;

    #[link_name = "nulldev"]
    pub fn nulldev_identify(dip: *mut dev_info_t) -> c_int;
    #[link_name = "nulldev"]
    pub fn nulldev_probe(dip: *mut dev_info_t) -> c_int;
    #[link_name = "nulldev"]
    pub fn nulldev_reset(dip: *mut dev_info_t, cmd: ddi_reset_cmd_t) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_reset(dip: *mut dev_info_t, cmd: ddi_reset_cmd_t) -> c_int;
    #[link_name = "nodev"]
    pub fn nodev_power(dip: *mut dev_info_t, component: c_int, level: c_int) -> c_int;
}
