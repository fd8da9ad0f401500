//! Constants shared by both ioctl families (`sys/overlay_common.h`), plus
//! the few datalink and MAC definitions the overlay ABI borrows from
//! `sys/dls_mgmt.h`, `sys/param.h` and `sys/mac.h`.
//!
//! The C enums are plain `u32` constants here: they travel in `uint_t`
//! fields of the ioctl structs, where any value can arrive and must be
//! validated, not trusted to be a known variant.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::errno::Errno;

// `overlay_target_mode_t`.

/// No target yet (before ASSOCIATE).
pub const OVERLAY_TARGET_NONE: u32 = 0;
/// Every frame goes to one fixed destination.
pub const OVERLAY_TARGET_POINT: u32 = 1;
/// Destinations are looked up per MAC through varpd.
pub const OVERLAY_TARGET_DYNAMIC: u32 = 2;

/// `overlay_target_mode_t`, for code that has validated the raw value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum TargetMode {
    None = OVERLAY_TARGET_NONE,
    Point = OVERLAY_TARGET_POINT,
    Dynamic = OVERLAY_TARGET_DYNAMIC,
}

impl TargetMode {
    /// The mode of a raw `ota_mode`, or `None` for an unknown value.
    pub const fn from_u32(v: u32) -> Option<TargetMode> {
        match v {
            OVERLAY_TARGET_NONE => Some(TargetMode::None),
            OVERLAY_TARGET_POINT => Some(TargetMode::Point),
            OVERLAY_TARGET_DYNAMIC => Some(TargetMode::Dynamic),
            _ => None,
        }
    }

    pub const fn as_u32(self) -> u32 {
        self as u32
    }
}

// `overlay_plugin_dest_t`: what a plugin needs to address a peer.

pub const OVERLAY_PLUGIN_D_INVALID: u32 = 0x0;
pub const OVERLAY_PLUGIN_D_ETHERNET: u32 = 0x1;
pub const OVERLAY_PLUGIN_D_IP: u32 = 0x2;
pub const OVERLAY_PLUGIN_D_PORT: u32 = 0x4;
pub const OVERLAY_PLUGIN_D_MASK: u32 = 0x7;

// `overlay_prop_type_t`.

/// Signed integer, 1, 2, 4 or 8 bytes.
pub const OVERLAY_PROP_T_INT: u32 = 1;
/// Unsigned integer, 1, 2, 4 or 8 bytes.
pub const OVERLAY_PROP_T_UINT: u32 = 2;
/// A `struct in6_addr` (IPv4 held IPv4-mapped).
pub const OVERLAY_PROP_T_IP: u32 = 3;
/// A NUL-terminated string of at most `OVERLAY_PROP_SIZEMAX` bytes.
pub const OVERLAY_PROP_T_STRING: u32 = 4;

// `overlay_prop_prot_t`.

/// Must be set before the device can be activated.
pub const OVERLAY_PROP_PERM_REQ: u32 = 0x1;
pub const OVERLAY_PROP_PERM_READ: u32 = 0x2;
pub const OVERLAY_PROP_PERM_WRITE: u32 = 0x4;
pub const OVERLAY_PROP_PERM_RW: u32 = 0x6;
pub const OVERLAY_PROP_PERM_RRW: u32 = 0x7;
pub const OVERLAY_PROP_PERM_MASK: u32 = 0x7;

/// `OVERLAY_PROP_NAMELEN`: property name buffers, NUL included.
pub const OVERLAY_PROP_NAMELEN: usize = 64;
/// `OVERLAY_PROP_SIZEMAX`: property value and range buffers.
pub const OVERLAY_PROP_SIZEMAX: usize = 256;
/// `OVERLAY_STATUS_BUFLEN`: degrade message buffers, NUL included.
pub const OVERLAY_STATUS_BUFLEN: usize = 256;

/// `MAXLINKNAMELEN` (`sys/param.h`); also bounds encapsulation names.
pub const MAXLINKNAMELEN: usize = 32;

/// `DATALINK_CLASS_OVERLAY` (`sys/dls_mgmt.h`).
pub const DATALINK_CLASS_OVERLAY: u32 = 0x200;
/// `DATALINK_INVALID_LINKID` (`sys/dls_mgmt.h`).
pub const DATALINK_INVALID_LINKID: u32 = 0;

/// Smallest MTU the `mtu` property accepts.
pub const OVERLAY_MTU_MIN: u32 = 576;
/// MTU of a new device: leaves room for ~50 bytes of encapsulation on a
/// 1500-byte underlay.
pub const OVERLAY_MTU_DEF: u32 = 1400;
/// Largest MTU the `mtu` property accepts (the man page's 9000 is wrong).
pub const OVERLAY_MTU_MAX: u32 = 8900;

// `overlay_status_t`, reported by `OVERLAY_IOC_STATUS`.

pub const OVERLAY_I_OK: u32 = 0x00;
pub const OVERLAY_I_DEGRADED: u32 = 0x01;

// `mac_propval_type_t` (`sys/mac.h`).

pub const MAC_PROPVAL_UINT8: u32 = 0;
pub const MAC_PROPVAL_UINT32: u32 = 1;
pub const MAC_PROPVAL_STR: u32 = 2;

/// The fixed head of a `mac_propval_range_t`, the layout of `oipi_poss`.
///
/// The union that follows at [`MAC_PROPVAL_RANGE_UNION_OFFSET`] holds
/// either `mpr_count` pairs `{ uint32_t mpur_min; uint32_t mpur_max; }`
/// (`MAC_PROPVAL_UINT32`) or one `{ uint32_t mpur_nextbyte; char
/// mpur_data[]; }` whose data is `mpr_count` NUL-terminated strings
/// (`MAC_PROPVAL_STR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct MacPropvalRangeHdr {
    pub mpr_count: u32,
    pub mpr_type: u32,
}

const _: () = assert!(core::mem::size_of::<MacPropvalRangeHdr>() == 8);
const _: () = assert!(core::mem::offset_of!(MacPropvalRangeHdr, mpr_count) == 0);
const _: () = assert!(core::mem::offset_of!(MacPropvalRangeHdr, mpr_type) == 4);

/// Where the range union starts within a `mac_propval_range_t`.
pub const MAC_PROPVAL_RANGE_UNION_OFFSET: usize = 8;
/// Where string data starts in a string range (after `mpur_nextbyte`).
pub const MAC_PROPVAL_STR_DATA_OFFSET: usize = MAC_PROPVAL_RANGE_UNION_OFFSET + 4;
/// `sizeof (mac_propval_range_t)`: the header plus a one-element union
/// (8 bytes either way). `oipi_posssize` starts here and grows by 8 per
/// uint32 range or by `strlen + 1` per string; readers go by `mpr_count`.
pub const MAC_PROPVAL_RANGE_SIZE: usize = 16;

/// The text of a fixed-size C `char` array: the bytes before the first
/// NUL.
///
/// Input from user land must be NUL-terminated within its array and, as
/// the driver only ever names things in UTF-8, valid UTF-8; anything else
/// is `EINVAL`, as the kernel answers for a bad encapsulation name.
pub fn cstr_field(bytes: &[u8]) -> Result<&str, Errno> {
    let nul = bytes.iter().position(|&b| b == 0).ok_or(Errno::EINVAL)?;
    core::str::from_utf8(&bytes[..nul]).map_err(|_| Errno::EINVAL)
}

/// Stores `s` in a fixed-size C `char` array, NUL-terminated and
/// zero-filled (so no stale bytes leak to user land).
///
/// A string that does not fit with its NUL is `EOVERFLOW`; one with an
/// embedded NUL could not be read back and is `EINVAL`. `dst` is left
/// untouched on error.
pub fn set_cstr_field(dst: &mut [u8], s: &str) -> Result<(), Errno> {
    let src = s.as_bytes();
    if src.contains(&0) {
        return Err(Errno::EINVAL);
    }
    if src.len() >= dst.len() {
        return Err(Errno::EOVERFLOW);
    }
    dst.fill(0);
    dst[..src.len()].copy_from_slice(src);
    Ok(())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn target_mode() {
        for m in [TargetMode::None, TargetMode::Point, TargetMode::Dynamic] {
            assert_eq!(TargetMode::from_u32(m.as_u32()), Some(m));
        }
        assert_eq!(TargetMode::from_u32(3), None);
        assert_eq!(TargetMode::Dynamic as u32, OVERLAY_TARGET_DYNAMIC);
    }

    #[test]
    fn cstr_read() {
        assert_eq!(cstr_field(b"vxlan\0\0\0"), Ok("vxlan"));
        assert_eq!(cstr_field(b"\0junk"), Ok(""));
        assert_eq!(cstr_field(b"a\0b\0"), Ok("a"));
        // No NUL within the array.
        assert_eq!(cstr_field(b"vxlan"), Err(Errno::EINVAL));
        assert_eq!(cstr_field(b""), Err(Errno::EINVAL));
        // Not UTF-8 before the NUL; junk after it does not matter.
        assert_eq!(cstr_field(b"\xff\xfe\0"), Err(Errno::EINVAL));
        assert_eq!(cstr_field(b"ok\0\xff"), Ok("ok"));
    }

    #[test]
    fn cstr_write() {
        let mut buf = [0xaau8; 8];
        set_cstr_field(&mut buf, "vxlan").unwrap();
        assert_eq!(&buf, b"vxlan\0\0\0");
        set_cstr_field(&mut buf, "1234567").unwrap();
        assert_eq!(cstr_field(&buf), Ok("1234567"));
        set_cstr_field(&mut buf, "").unwrap();
        assert_eq!(buf, [0; 8]);

        let mut buf = [0xaau8; 8];
        assert_eq!(set_cstr_field(&mut buf, "12345678"), Err(Errno::EOVERFLOW));
        assert_eq!(set_cstr_field(&mut buf, "a\0b"), Err(Errno::EINVAL));
        assert_eq!(set_cstr_field(&mut [], ""), Err(Errno::EOVERFLOW));
        assert_eq!(buf, [0xaa; 8], "untouched on error");
    }

    #[test]
    fn range_header() {
        let mut poss = [0u8; OVERLAY_PROP_SIZEMAX];
        let hdr = MacPropvalRangeHdr {
            mpr_count: 2,
            mpr_type: MAC_PROPVAL_UINT32,
        };
        poss[..8].copy_from_slice(hdr.as_bytes());
        let (back, _) = MacPropvalRangeHdr::read_from_prefix(&poss).unwrap();
        assert_eq!(back, hdr);
        assert_eq!(&poss[4..8], &MAC_PROPVAL_UINT32.to_ne_bytes());
    }
}
