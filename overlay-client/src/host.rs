//! The host commands (`OVERLAY_HOST_*`): what dlmgmtd and dld provide on
//! illumos, which overlayd provides on Linux. `ENOTSUP` on illumos.

use overlay::abi::common::set_cstr_field;
use zerocopy::{FromZeros, IntoBytes};

use crate::error::ClientError;
use crate::proto::*;
use crate::{Client, c_text, decode_entries};

impl Client {
    /// Allocates a link id for `name` with class `class`
    /// (`DATALINK_CLASS_*`), as `dladm_create_datalink_id` does.
    pub fn link_create(&self, name: &str, class: u32) -> Result<u32, ClientError> {
        let mut l = HostLink::new_zeroed();
        l.hl_class = class;
        set_cstr_field(&mut l.hl_name, name)?;
        self.call(OVERLAY_HOST_LINK_CREATE, &mut l)?;
        Ok(l.hl_linkid)
    }

    /// Frees a link id.
    pub fn link_delete(&self, linkid: u32) -> Result<(), ClientError> {
        let mut l = HostLink::new_zeroed();
        l.hl_linkid = linkid;
        self.call(OVERLAY_HOST_LINK_DELETE, &mut l)
    }

    /// The link id and class of `name`, as `dladm_name2info` finds them.
    pub fn link_lookup(&self, name: &str) -> Result<(u32, u32), ClientError> {
        let mut l = HostLink::new_zeroed();
        set_cstr_field(&mut l.hl_name, name)?;
        self.call(OVERLAY_HOST_LINK_LOOKUP, &mut l)?;
        Ok((l.hl_linkid, l.hl_class))
    }

    /// Every link.
    pub fn link_list(&self) -> Result<Vec<HostLink>, ClientError> {
        self.host_list(OVERLAY_HOST_LINK_LIST, 0)
    }

    /// Creates a VNIC called `name` (also its TAP device's name) on the
    /// overlay `overlay_linkid`, with `mac` or a random locally
    /// administered address.
    pub fn vnic_create(
        &self,
        name: &str,
        overlay_linkid: u32,
        mac: Option<[u8; 6]>,
    ) -> Result<HostVnic, ClientError> {
        let mut v = HostVnic::new_zeroed();
        v.hv_overlay = overlay_linkid;
        if let Some(mac) = mac {
            v.hv_mac = mac;
            v.hv_flags = HV_F_MAC;
        }
        set_cstr_field(&mut v.hv_name, name)?;
        self.call(OVERLAY_HOST_VNIC_CREATE, &mut v)?;
        Ok(v)
    }

    /// Deletes a VNIC (and its link id).
    pub fn vnic_delete(&self, linkid: u32) -> Result<(), ClientError> {
        let mut v = HostVnic::new_zeroed();
        v.hv_linkid = linkid;
        self.call(OVERLAY_HOST_VNIC_DELETE, &mut v)
    }

    /// Every VNIC.
    pub fn vnic_list(&self) -> Result<Vec<HostVnic>, ClientError> {
        self.host_list(OVERLAY_HOST_VNIC_LIST, 0)
    }

    /// The counters of an overlay or a VNIC, by name.
    pub fn stats(&self, linkid: u32) -> Result<Vec<(String, u64)>, ClientError> {
        let stats: Vec<HostStat> = self.host_list(OVERLAY_HOST_STATS, linkid)?;
        Ok(stats
            .into_iter()
            .map(|s| (c_text(&s.hs_name), s.hs_value))
            .collect())
    }

    fn host_list<T: zerocopy::FromBytes>(
        &self,
        cmd: u32,
        linkid: u32,
    ) -> Result<Vec<T>, ClientError> {
        let hdr = HostListHdr {
            hlh_count: 0,
            hlh_linkid: linkid,
        };
        let (buf, n) = self.list_raw(cmd, hdr.as_bytes(), size_of::<T>())?;
        Ok(decode_entries(&buf, size_of::<HostListHdr>(), n))
    }
}
