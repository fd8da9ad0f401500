//! Property descriptions in the shape of `overlay_ioc_propinfo_t`.
//!
//! A property is described by a [`PropInfo`]: name, type, permissions,
//! default value and the advisory set of possible values, encoded as a
//! `mac_propval_range_t` exactly as `OVERLAY_IOC_PROPINFO` returns it.
//! It lives on the ABI side because userland builds and reads the same
//! descriptions (varpd for its plugins' properties, dladm-overlay to show
//! them) without linking the driver engine; the engine's C helpers
//! (`overlay_prop_set_*`, in `crate::prop`) fill one for a plugin.

use crate::abi::common::{
    MAC_PROPVAL_STR, MAC_PROPVAL_UINT32, OVERLAY_PROP_NAMELEN, OVERLAY_PROP_SIZEMAX,
};
use crate::errno::Errno;

/// `sizeof (mac_propval_range_t)` on LP64: count, type, and a one-element
/// union of 8 bytes.
pub const MAC_PROPVAL_RANGE_SIZE: u32 = 16;
/// Offset of the union in `mac_propval_range_t`.
const RANGE_UNION_OFF: usize = 8;
/// Offset of `mpur_data` in the string form of the union.
const RANGE_STR_DATA_OFF: usize = RANGE_UNION_OFF + 4;

/// A property description, in the shape of `overlay_ioc_propinfo_t`.
#[derive(Clone)]
pub struct PropInfo {
    pub name: [u8; OVERLAY_PROP_NAMELEN],
    pub ptype: u32,
    pub prot: u32,
    pub default: [u8; OVERLAY_PROP_SIZEMAX],
    pub defsize: u32,
    pub posssize: u32,
    /// A `mac_propval_range_t`.
    pub poss: [u8; OVERLAY_PROP_SIZEMAX],
}

impl core::fmt::Debug for PropInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PropInfo")
            .field("name", &self.name())
            .field("ptype", &self.ptype)
            .field("prot", &self.prot)
            .field("default", &&self.default[..self.defsize as usize])
            .field("range_count", &self.range_count())
            .finish()
    }
}

impl Default for PropInfo {
    fn default() -> Self {
        PropInfo {
            name: [0; OVERLAY_PROP_NAMELEN],
            ptype: 0,
            prot: 0,
            default: [0; OVERLAY_PROP_SIZEMAX],
            defsize: 0,
            posssize: MAC_PROPVAL_RANGE_SIZE,
            poss: [0; OVERLAY_PROP_SIZEMAX],
        }
    }
}

impl PropInfo {
    pub fn new(name: &str, ptype: u32, prot: u32) -> PropInfo {
        let mut p = PropInfo::default();
        p.set_name(name.as_bytes());
        p.ptype = ptype;
        p.prot = prot;
        p
    }

    /// The name, up to the first NUL.
    pub fn name(&self) -> &str {
        let n = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.name.len());
        core::str::from_utf8(&self.name[..n]).unwrap_or("")
    }

    /// `overlay_prop_set_name`: truncated to fit with its NUL, as
    /// `strlcpy` would.
    pub fn set_name(&mut self, name: &[u8]) {
        let n = name.len().min(OVERLAY_PROP_NAMELEN - 1);
        self.name = [0; OVERLAY_PROP_NAMELEN];
        self.name[..n].copy_from_slice(&name[..n]);
    }

    /// `overlay_prop_set_default`.
    pub fn set_default(&mut self, value: &[u8]) -> Result<(), Errno> {
        if value.len() > OVERLAY_PROP_SIZEMAX {
            return Err(Errno::E2BIG);
        }
        self.default[..value.len()].copy_from_slice(value);
        self.defsize = value.len() as u32;
        Ok(())
    }

    /// `overlay_prop_set_nodefault`.
    pub fn set_nodefault(&mut self) {
        self.default = [0; OVERLAY_PROP_SIZEMAX];
        self.defsize = 0;
    }

    fn range_count(&self) -> u32 {
        u32::from_ne_bytes([self.poss[0], self.poss[1], self.poss[2], self.poss[3]])
    }

    fn range_type(&self) -> u32 {
        u32::from_ne_bytes([self.poss[4], self.poss[5], self.poss[6], self.poss[7]])
    }

    fn set_range_header(&mut self, count: u32, ty: u32) {
        self.poss[0..4].copy_from_slice(&count.to_ne_bytes());
        self.poss[4..8].copy_from_slice(&ty.to_ne_bytes());
    }

    /// `overlay_prop_set_range_uint32`: ignored if the range already holds
    /// strings or the buffer is full, as illumos.
    pub fn add_range_uint32(&mut self, min: u32, max: u32) {
        let count = self.range_count();
        if count != 0 && self.range_type() != MAC_PROPVAL_UINT32 {
            return;
        }
        let off = RANGE_UNION_OFF + count as usize * 8;
        if off + 8 > OVERLAY_PROP_SIZEMAX {
            return;
        }
        self.poss[off..off + 4].copy_from_slice(&min.to_ne_bytes());
        self.poss[off + 4..off + 8].copy_from_slice(&max.to_ne_bytes());
        self.set_range_header(count + 1, MAC_PROPVAL_UINT32);
        self.posssize = (off + 8).max(MAC_PROPVAL_RANGE_SIZE as usize) as u32;
    }

    /// `overlay_prop_set_range_str`: appends one possible value.
    pub fn add_range_str(&mut self, s: &[u8]) {
        let count = self.range_count();
        if count != 0 && self.range_type() != MAC_PROPVAL_STR {
            return;
        }
        let next = if count == 0 {
            0
        } else {
            u32::from_ne_bytes(self.poss[8..12].try_into().unwrap_or([0; 4])) as usize
        };
        let off = RANGE_STR_DATA_OFF + next;
        if off + s.len() + 1 > OVERLAY_PROP_SIZEMAX {
            return;
        }
        self.poss[off..off + s.len()].copy_from_slice(s);
        self.poss[off + s.len()] = 0;
        let next = next + s.len() + 1;
        self.poss[8..12].copy_from_slice(&(next as u32).to_ne_bytes());
        self.set_range_header(count + 1, MAC_PROPVAL_STR);
        self.posssize = (RANGE_STR_DATA_OFF + next) as u32;
    }

    /// The uint32 ranges, for display and tests.
    pub fn uint32_ranges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let n = if self.range_type() == MAC_PROPVAL_UINT32 {
            self.range_count()
        } else {
            0
        };
        (0..n as usize).map(move |i| {
            let off = RANGE_UNION_OFF + i * 8;
            let w = |o: usize| u32::from_ne_bytes(self.poss[o..o + 4].try_into().unwrap_or([0; 4]));
            (w(off), w(off + 4))
        })
    }

    /// The string values, for display and tests.
    pub fn str_values(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let n = if self.range_type() == MAC_PROPVAL_STR {
            self.range_count()
        } else {
            0
        };
        self.poss[RANGE_STR_DATA_OFF..]
            .split(|&b| b == 0)
            .take(n as usize)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::abi::common::{OVERLAY_PROP_PERM_RW, OVERLAY_PROP_T_UINT};

    #[test]
    fn ranges_encode_as_mac_propval_range() {
        let mut p = PropInfo::new("mtu", OVERLAY_PROP_T_UINT, OVERLAY_PROP_PERM_RW);
        p.add_range_uint32(576, 8900);
        assert_eq!(
            p.uint32_ranges().collect::<alloc::vec::Vec<_>>(),
            [(576, 8900)]
        );
        assert_eq!(p.posssize, 16);
        // A string added to a uint32 range is ignored, as illumos.
        p.add_range_str(b"vxlan");
        assert_eq!(p.str_values().count(), 0);

        let mut s = PropInfo::new("encap", 4, 2);
        s.add_range_str(b"vxlan");
        s.add_range_str(b"geneve");
        let v: alloc::vec::Vec<&[u8]> = s.str_values().collect();
        assert_eq!(v, [&b"vxlan"[..], &b"geneve"[..]]);
        assert_eq!(s.posssize as usize, 12 + 6 + 7);
    }
}
