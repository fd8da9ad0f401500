//! The `OVERLAY_IOC_*` commands that libdladm issues on `/dev/dld`
//! (`sys/overlay.h`).
//!
//! dld, not the driver, moves these structs across the user boundary: it
//! copies in (and, for some commands, back out) exactly `sizeof` the
//! argument and checks `sys_dl_config` first, according to the flags the
//! driver registered. [`DldIoctl`] carries that registration table.

use core::mem::{offset_of, size_of};

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::common::{
    MAXLINKNAMELEN, OVERLAY_PROP_NAMELEN, OVERLAY_PROP_SIZEMAX, OVERLAY_STATUS_BUFLEN,
};

/// `OVERLAY_IOC`: the overlay module id in `sys/dld_ioc.h`.
pub const OVERLAY_IOC: u32 = 0x2005;

/// `OVERLAYIOC(cmdid)`: GLDv3 ioctls are `(module << 16) | cmd`.
pub const fn overlayioc(cmdid: u32) -> u32 {
    (OVERLAY_IOC << 16) | cmdid
}

pub const OVERLAY_IOC_CREATE: u32 = overlayioc(1);
pub const OVERLAY_IOC_DELETE: u32 = overlayioc(2);
pub const OVERLAY_IOC_PROPINFO: u32 = overlayioc(3);
pub const OVERLAY_IOC_GETPROP: u32 = overlayioc(4);
pub const OVERLAY_IOC_SETPROP: u32 = overlayioc(5);
pub const OVERLAY_IOC_NPROPS: u32 = overlayioc(6);
pub const OVERLAY_IOC_ACTIVATE: u32 = overlayioc(7);
pub const OVERLAY_IOC_STATUS: u32 = overlayioc(8);

const _: () = assert!(OVERLAY_IOC_CREATE == 0x2005_0001);
const _: () = assert!(OVERLAY_IOC_STATUS == 0x2005_0008);

/// `overlay_ioc_create_t`: a new device and the plugin that encapsulates
/// for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayIocCreate {
    pub oic_linkid: u32,
    pub oic_filler: u32,
    pub oic_vnetid: u64,
    /// Encapsulation plugin name, NUL-terminated.
    pub oic_encap: [u8; MAXLINKNAMELEN],
}

const _: () = assert!(size_of::<OverlayIocCreate>() == 48);
const _: () = assert!(offset_of!(OverlayIocCreate, oic_linkid) == 0);
const _: () = assert!(offset_of!(OverlayIocCreate, oic_filler) == 4);
const _: () = assert!(offset_of!(OverlayIocCreate, oic_vnetid) == 8);
const _: () = assert!(offset_of!(OverlayIocCreate, oic_encap) == 16);

/// `overlay_ioc_delete_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayIocDelete {
    pub oid_linkid: u32,
}

const _: () = assert!(size_of::<OverlayIocDelete>() == 4);
const _: () = assert!(offset_of!(OverlayIocDelete, oid_linkid) == 0);

/// `overlay_ioc_activate_t`: after this the device's properties are
/// frozen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayIocActivate {
    pub oia_linkid: u32,
}

const _: () = assert!(size_of::<OverlayIocActivate>() == 4);
const _: () = assert!(offset_of!(OverlayIocActivate, oia_linkid) == 0);

/// `overlay_ioc_nprops_t`: generic plus plugin property count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayIocNprops {
    pub oipn_linkid: u32,
    pub oipn_nprops: i32,
}

const _: () = assert!(size_of::<OverlayIocNprops>() == 8);
const _: () = assert!(offset_of!(OverlayIocNprops, oipn_linkid) == 0);
const _: () = assert!(offset_of!(OverlayIocNprops, oipn_nprops) == 4);

/// `overlay_ioc_propinfo_t`: one property's description, by id or (with
/// `oipi_id == -1`) by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayIocPropinfo {
    pub oipi_linkid: u32,
    pub oipi_id: i32,
    pub oipi_name: [u8; OVERLAY_PROP_NAMELEN],
    /// An `OVERLAY_PROP_T_*` value.
    pub oipi_type: u32,
    /// `OVERLAY_PROP_PERM_*` bits.
    pub oipi_prot: u32,
    pub oipi_default: [u8; OVERLAY_PROP_SIZEMAX],
    pub oipi_defsize: u32,
    pub oipi_posssize: u32,
    /// A `mac_propval_range_t` (see [`super::common::MacPropvalRangeHdr`]).
    pub oipi_poss: [u8; OVERLAY_PROP_SIZEMAX],
}

const _: () = assert!(size_of::<OverlayIocPropinfo>() == 600);
const _: () = assert!(offset_of!(OverlayIocPropinfo, oipi_linkid) == 0);
const _: () = assert!(offset_of!(OverlayIocPropinfo, oipi_id) == 4);
const _: () = assert!(offset_of!(OverlayIocPropinfo, oipi_name) == 8);
const _: () = assert!(offset_of!(OverlayIocPropinfo, oipi_type) == 72);
const _: () = assert!(offset_of!(OverlayIocPropinfo, oipi_prot) == 76);
const _: () = assert!(offset_of!(OverlayIocPropinfo, oipi_default) == 80);
const _: () = assert!(offset_of!(OverlayIocPropinfo, oipi_defsize) == 336);
const _: () = assert!(offset_of!(OverlayIocPropinfo, oipi_posssize) == 340);
const _: () = assert!(offset_of!(OverlayIocPropinfo, oipi_poss) == 344);

/// `overlay_ioc_prop_t`: a property value, for GETPROP and SETPROP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayIocProp {
    pub oip_linkid: u32,
    pub oip_id: i32,
    pub oip_name: [u8; OVERLAY_PROP_NAMELEN],
    pub oip_value: [u8; OVERLAY_PROP_SIZEMAX],
    pub oip_size: u32,
}

const _: () = assert!(size_of::<OverlayIocProp>() == 332);
const _: () = assert!(offset_of!(OverlayIocProp, oip_linkid) == 0);
const _: () = assert!(offset_of!(OverlayIocProp, oip_id) == 4);
const _: () = assert!(offset_of!(OverlayIocProp, oip_name) == 8);
const _: () = assert!(offset_of!(OverlayIocProp, oip_value) == 72);
const _: () = assert!(offset_of!(OverlayIocProp, oip_size) == 328);

/// `overlay_ioc_status_t`: whether varpd has degraded the device, and
/// why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct OverlayIocStatus {
    pub ois_linkid: u32,
    /// `OVERLAY_I_OK` or `OVERLAY_I_DEGRADED`.
    pub ois_status: u32,
    pub ois_message: [u8; OVERLAY_STATUS_BUFLEN],
}

const _: () = assert!(size_of::<OverlayIocStatus>() == 264);
const _: () = assert!(offset_of!(OverlayIocStatus, ois_linkid) == 0);
const _: () = assert!(offset_of!(OverlayIocStatus, ois_status) == 4);
const _: () = assert!(offset_of!(OverlayIocStatus, ois_message) == 8);

/// The `/dev/dld` overlay commands and how dld handles each (the
/// `dld_ioc_info_t` table the driver registers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum DldIoctl {
    Create = OVERLAY_IOC_CREATE,
    Delete = OVERLAY_IOC_DELETE,
    Propinfo = OVERLAY_IOC_PROPINFO,
    Getprop = OVERLAY_IOC_GETPROP,
    Setprop = OVERLAY_IOC_SETPROP,
    Nprops = OVERLAY_IOC_NPROPS,
    Activate = OVERLAY_IOC_ACTIVATE,
    Status = OVERLAY_IOC_STATUS,
}

impl DldIoctl {
    /// Every command, in command-number order.
    pub const ALL: [DldIoctl; 8] = [
        DldIoctl::Create,
        DldIoctl::Delete,
        DldIoctl::Propinfo,
        DldIoctl::Getprop,
        DldIoctl::Setprop,
        DldIoctl::Nprops,
        DldIoctl::Activate,
        DldIoctl::Status,
    ];

    /// The command for an ioctl number; `None` means `ENOTTY`.
    pub const fn from_cmd(cmd: u32) -> Option<DldIoctl> {
        match cmd {
            OVERLAY_IOC_CREATE => Some(DldIoctl::Create),
            OVERLAY_IOC_DELETE => Some(DldIoctl::Delete),
            OVERLAY_IOC_PROPINFO => Some(DldIoctl::Propinfo),
            OVERLAY_IOC_GETPROP => Some(DldIoctl::Getprop),
            OVERLAY_IOC_SETPROP => Some(DldIoctl::Setprop),
            OVERLAY_IOC_NPROPS => Some(DldIoctl::Nprops),
            OVERLAY_IOC_ACTIVATE => Some(DldIoctl::Activate),
            OVERLAY_IOC_STATUS => Some(DldIoctl::Status),
            _ => None,
        }
    }

    pub const fn cmd(self) -> u32 {
        self as u32
    }

    /// The C name, for diagnostics.
    pub const fn name(self) -> &'static str {
        match self {
            DldIoctl::Create => "OVERLAY_IOC_CREATE",
            DldIoctl::Delete => "OVERLAY_IOC_DELETE",
            DldIoctl::Propinfo => "OVERLAY_IOC_PROPINFO",
            DldIoctl::Getprop => "OVERLAY_IOC_GETPROP",
            DldIoctl::Setprop => "OVERLAY_IOC_SETPROP",
            DldIoctl::Nprops => "OVERLAY_IOC_NPROPS",
            DldIoctl::Activate => "OVERLAY_IOC_ACTIVATE",
            DldIoctl::Status => "OVERLAY_IOC_STATUS",
        }
    }

    /// Bytes dld copies in (and out, if [`copy_out`](Self::copy_out)).
    pub const fn arg_size(self) -> usize {
        match self {
            DldIoctl::Create => size_of::<OverlayIocCreate>(),
            DldIoctl::Delete => size_of::<OverlayIocDelete>(),
            DldIoctl::Propinfo => size_of::<OverlayIocPropinfo>(),
            DldIoctl::Getprop | DldIoctl::Setprop => size_of::<OverlayIocProp>(),
            DldIoctl::Nprops => size_of::<OverlayIocNprops>(),
            DldIoctl::Activate => size_of::<OverlayIocActivate>(),
            DldIoctl::Status => size_of::<OverlayIocStatus>(),
        }
    }

    /// Whether the argument goes back to user land on success
    /// (`DLDCOPYINOUT`).
    pub const fn copy_out(self) -> bool {
        matches!(
            self,
            DldIoctl::Propinfo | DldIoctl::Getprop | DldIoctl::Nprops | DldIoctl::Status
        )
    }

    /// Whether dld checks `secpolicy_dl_config` first. STATUS is
    /// unprivileged so that `dladm show-overlay` works for anyone.
    pub const fn needs_dl_config(self) -> bool {
        !matches!(self, DldIoctl::Status)
    }
}

#[cfg(test)]
mod test {
    use zerocopy::FromZeros;

    use super::super::common::{OVERLAY_I_DEGRADED, cstr_field, set_cstr_field};
    use super::*;

    #[test]
    fn commands() {
        for (i, c) in DldIoctl::ALL.iter().enumerate() {
            assert_eq!(c.cmd(), 0x2005_0001 + i as u32);
            assert_eq!(DldIoctl::from_cmd(c.cmd()), Some(*c));
        }
        assert_eq!(DldIoctl::from_cmd(0x2005_0000), None);
        assert_eq!(DldIoctl::from_cmd(0x2005_0009), None);
        assert_eq!(DldIoctl::from_cmd(0x2004_0001), None);
        assert_eq!(DldIoctl::Setprop.arg_size(), 332);
        assert_eq!(DldIoctl::Propinfo.arg_size(), 600);
        assert!(!DldIoctl::Setprop.copy_out());
        assert!(DldIoctl::Getprop.copy_out());
        assert!(!DldIoctl::Status.needs_dl_config());
        assert!(DldIoctl::Create.needs_dl_config());
        assert_eq!(DldIoctl::Activate.name(), "OVERLAY_IOC_ACTIVATE");
    }

    #[test]
    fn create_round_trip() {
        let mut c = OverlayIocCreate::new_zeroed();
        c.oic_linkid = 7;
        c.oic_vnetid = 0x00ab_cdef;
        set_cstr_field(&mut c.oic_encap, "vxlan").unwrap();
        let bytes = c.as_bytes();
        assert_eq!(bytes.len(), 48);
        assert_eq!(&bytes[0..4], &7u32.to_ne_bytes());
        assert_eq!(&bytes[8..16], &0x00ab_cdefu64.to_ne_bytes());
        assert_eq!(&bytes[16..22], b"vxlan\0");
        let back = OverlayIocCreate::read_from_bytes(bytes).unwrap();
        assert_eq!(back, c);
        assert_eq!(cstr_field(&back.oic_encap), Ok("vxlan"));
        assert!(OverlayIocCreate::read_from_bytes(&bytes[..47]).is_err());
    }

    #[test]
    fn propinfo_and_prop() {
        let mut buf = [0u8; 600];
        buf[4..8].copy_from_slice(&(-1i32).to_ne_bytes());
        buf[8..11].copy_from_slice(b"mtu");
        buf[336..340].copy_from_slice(&4u32.to_ne_bytes());
        let pi = OverlayIocPropinfo::read_from_bytes(&buf[..]).unwrap();
        assert_eq!(pi.oipi_id, -1);
        assert_eq!(cstr_field(&pi.oipi_name), Ok("mtu"));
        assert_eq!(pi.oipi_defsize, 4);
        assert_eq!(pi.as_bytes(), &buf[..]);

        let mut p = OverlayIocProp::new_zeroed();
        p.oip_id = 1;
        p.oip_size = 8;
        p.oip_value[..8].copy_from_slice(&42u64.to_ne_bytes());
        let back = OverlayIocProp::read_from_bytes(p.as_bytes()).unwrap();
        assert_eq!(back, p);
        assert_eq!(&p.as_bytes()[328..332], &8u32.to_ne_bytes());
    }

    #[test]
    fn small_structs() {
        let s = OverlayIocStatus {
            ois_linkid: 3,
            ois_status: OVERLAY_I_DEGRADED,
            ois_message: [0; OVERLAY_STATUS_BUFLEN],
        };
        assert_eq!(OverlayIocStatus::read_from_bytes(s.as_bytes()), Ok(s));
        let n = OverlayIocNprops {
            oipn_linkid: 9,
            oipn_nprops: 6,
        };
        assert_eq!(n.as_bytes()[4..8], 6i32.to_ne_bytes());
        let d = OverlayIocDelete::read_from_bytes(&5u32.to_ne_bytes()[..]).unwrap();
        assert_eq!(d.oid_linkid, 5);
        let a = OverlayIocActivate::read_from_bytes(&5u32.to_ne_bytes()[..]).unwrap();
        assert_eq!(a.oia_linkid, 5);
    }
}
