//! The `/dev/dld` commands, as libdladm's `dladm_overlay_*` issue them.

use overlay::Errno;
use overlay::abi::common::{OVERLAY_I_DEGRADED, OVERLAY_PROP_SIZEMAX, set_cstr_field};
use overlay::abi::dld::*;
use zerocopy::FromZeros;

use crate::error::ClientError;
use crate::{Client, c_text};

impl Client {
    /// `OVERLAY_IOC_CREATE`: a new overlay device on `linkid` (allocated
    /// by dlmgmtd, or [`Client::link_create`]) encapsulating with the
    /// plugin `encap`.
    pub fn create(&self, linkid: u32, vnetid: u64, encap: &str) -> Result<(), ClientError> {
        let mut c = OverlayIocCreate::new_zeroed();
        c.oic_linkid = linkid;
        c.oic_vnetid = vnetid;
        set_cstr_field(&mut c.oic_encap, encap)?;
        self.call(OVERLAY_IOC_CREATE, &mut c)
    }

    /// `OVERLAY_IOC_DELETE`.
    pub fn delete(&self, linkid: u32) -> Result<(), ClientError> {
        let mut d = OverlayIocDelete { oid_linkid: linkid };
        self.call(OVERLAY_IOC_DELETE, &mut d)
    }

    /// `OVERLAY_IOC_ACTIVATE`: the device starts; its properties freeze.
    pub fn activate(&self, linkid: u32) -> Result<(), ClientError> {
        let mut a = OverlayIocActivate { oia_linkid: linkid };
        self.call(OVERLAY_IOC_ACTIVATE, &mut a)
    }

    /// `OVERLAY_IOC_STATUS`: whether varpd has degraded the device, and
    /// its message (empty when not degraded).
    pub fn status(&self, linkid: u32) -> Result<(bool, String), ClientError> {
        let mut s = OverlayIocStatus::new_zeroed();
        s.ois_linkid = linkid;
        self.call(OVERLAY_IOC_STATUS, &mut s)?;
        let degraded = s.ois_status == OVERLAY_I_DEGRADED;
        let msg = if degraded {
            c_text(&s.ois_message)
        } else {
            String::new()
        };
        Ok((degraded, msg))
    }

    /// `OVERLAY_IOC_NPROPS`: how many properties (generic and plugin);
    /// their ids are `0..n`.
    pub fn nprops(&self, linkid: u32) -> Result<i32, ClientError> {
        let mut n = OverlayIocNprops {
            oipn_linkid: linkid,
            oipn_nprops: 0,
        };
        self.call(OVERLAY_IOC_NPROPS, &mut n)?;
        Ok(n.oipn_nprops)
    }

    /// `OVERLAY_IOC_PROPINFO` by id.
    pub fn propinfo_by_id(&self, linkid: u32, id: i32) -> Result<OverlayIocPropinfo, ClientError> {
        let mut p = OverlayIocPropinfo::new_zeroed();
        p.oipi_linkid = linkid;
        p.oipi_id = id;
        self.call(OVERLAY_IOC_PROPINFO, &mut p)?;
        Ok(p)
    }

    /// `OVERLAY_IOC_PROPINFO` by name (`oipi_id` -1); the reply carries
    /// the id.
    pub fn propinfo_by_name(
        &self,
        linkid: u32,
        name: &str,
    ) -> Result<OverlayIocPropinfo, ClientError> {
        let mut p = OverlayIocPropinfo::new_zeroed();
        p.oipi_linkid = linkid;
        p.oipi_id = -1;
        set_cstr_field(&mut p.oipi_name, name)?;
        self.call(OVERLAY_IOC_PROPINFO, &mut p)?;
        Ok(p)
    }

    /// `OVERLAY_IOC_GETPROP` by id: the value's bytes (empty if unset).
    pub fn getprop(&self, linkid: u32, id: i32) -> Result<Vec<u8>, ClientError> {
        let mut p = OverlayIocProp::new_zeroed();
        p.oip_linkid = linkid;
        p.oip_id = id;
        self.getprop_raw(p)
    }

    /// `OVERLAY_IOC_GETPROP` by name.
    pub fn getprop_by_name(&self, linkid: u32, name: &str) -> Result<Vec<u8>, ClientError> {
        let mut p = OverlayIocProp::new_zeroed();
        p.oip_linkid = linkid;
        p.oip_id = -1;
        set_cstr_field(&mut p.oip_name, name)?;
        self.getprop_raw(p)
    }

    fn getprop_raw(&self, mut p: OverlayIocProp) -> Result<Vec<u8>, ClientError> {
        self.call(OVERLAY_IOC_GETPROP, &mut p)?;
        let n = p.oip_size as usize;
        if n > OVERLAY_PROP_SIZEMAX {
            return Err(ClientError::bad_reply(format!(
                "property value of {n} bytes exceeds OVERLAY_PROP_SIZEMAX"
            )));
        }
        Ok(p.oip_value[..n].to_vec())
    }

    /// `OVERLAY_IOC_SETPROP` by id. A value longer than
    /// `OVERLAY_PROP_SIZEMAX` is `EINVAL`, as the driver says.
    pub fn setprop(&self, linkid: u32, id: i32, value: &[u8]) -> Result<(), ClientError> {
        let mut p = OverlayIocProp::new_zeroed();
        p.oip_linkid = linkid;
        p.oip_id = id;
        self.setprop_raw(p, value)
    }

    /// `OVERLAY_IOC_SETPROP` by name.
    pub fn setprop_by_name(
        &self,
        linkid: u32,
        name: &str,
        value: &[u8],
    ) -> Result<(), ClientError> {
        let mut p = OverlayIocProp::new_zeroed();
        p.oip_linkid = linkid;
        p.oip_id = -1;
        set_cstr_field(&mut p.oip_name, name)?;
        self.setprop_raw(p, value)
    }

    fn setprop_raw(&self, mut p: OverlayIocProp, value: &[u8]) -> Result<(), ClientError> {
        if value.len() > OVERLAY_PROP_SIZEMAX {
            return Err(Errno::EINVAL.into());
        }
        p.oip_value[..value.len()].copy_from_slice(value);
        p.oip_size = value.len() as u32;
        self.call(OVERLAY_IOC_SETPROP, &mut p)
    }
}
