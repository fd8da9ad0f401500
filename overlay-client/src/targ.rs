//! The `/dev/overlay` commands, as libvarpd's `libvarpd_overlay_*` issue
//! them.

use overlay::abi::EtherAddr;
use overlay::abi::targ::*;
use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::error::ClientError;
use crate::{Client, IoData, decode_entries, strlcpy};

/// `otp_linkid` for "the device of the request".
const BY_REQID: u64 = u64::MAX;

impl Client {
    /// `OVERLAY_TARG_INFO`: what varpd needs to serve a device.
    pub fn info(&self, linkid: u32) -> Result<OverlayTargInfo, ClientError> {
        // The argument is an `overlay_targ_id_t` in a buffer the size of
        // the reply; both start with the link id.
        let mut i = OverlayTargInfo::new_zeroed();
        i.oti_linkid = linkid;
        self.call(OVERLAY_TARG_INFO, &mut i)?;
        Ok(i)
    }

    /// `OVERLAY_TARG_ASSOCIATE`: binds a device to this varpd instance.
    pub fn associate(&self, a: &OverlayTargAssociate) -> Result<(), ClientError> {
        let mut a = *a;
        self.call(OVERLAY_TARG_ASSOCIATE, &mut a)
    }

    /// `OVERLAY_TARG_DISASSOCIATE`.
    pub fn disassociate(&self, linkid: u32) -> Result<(), ClientError> {
        let mut id = OverlayTargId {
            otid_linkid: linkid,
        };
        self.call(OVERLAY_TARG_DISASSOCIATE, &mut id)
    }

    /// `OVERLAY_TARG_DEGRADE`: the message is cut to fit, as libvarpd's
    /// `strlcpy` does.
    pub fn degrade(&self, linkid: u32, msg: &str) -> Result<(), ClientError> {
        let mut d = OverlayTargDegrade::new_zeroed();
        d.otd_linkid = linkid;
        strlcpy(&mut d.otd_buf, msg);
        self.call(OVERLAY_TARG_DEGRADE, &mut d)
    }

    /// `OVERLAY_TARG_RESTORE`.
    pub fn restore(&self, linkid: u32) -> Result<(), ClientError> {
        let mut id = OverlayTargId {
            otid_linkid: linkid,
        };
        self.call(OVERLAY_TARG_RESTORE, &mut id)
    }

    /// `OVERLAY_TARG_LOOKUP`: the next destination question, waiting up
    /// to a second for one; none is `Errno(ETIME)`.
    ///
    /// On the socket, concurrent callers share the answers: any caller
    /// may get any request the driver hands out (they are alike until
    /// answered), and with a [prefetch](Client::set_lookup_prefetch) an
    /// answer may already be waiting.
    pub fn lookup(&self) -> Result<OverlayTargLookup, ClientError> {
        match &self.transport {
            crate::Transport::Socket(c) => c.lookup(),
            #[cfg(target_os = "illumos")]
            crate::Transport::Ioctl { .. } => {
                let mut l = OverlayTargLookup::new_zeroed();
                self.call(OVERLAY_TARG_LOOKUP, &mut l)?;
                Ok(l)
            }
        }
    }

    /// `OVERLAY_TARG_RESPOND`: the answer to request `reqid`; its queued
    /// frames go out.
    pub fn respond(&self, reqid: u64, answer: &OverlayTargetPoint) -> Result<(), ClientError> {
        let mut r = OverlayTargResp::new_zeroed();
        r.otr_reqid = reqid;
        r.otr_answer = *answer;
        self.call(OVERLAY_TARG_RESPOND, &mut r)
    }

    /// `OVERLAY_TARG_DROP`: no answer for request `reqid`; its head
    /// frame is dropped.
    pub fn drop_req(&self, reqid: u64) -> Result<(), ClientError> {
        let mut r = OverlayTargResp::new_zeroed();
        r.otr_reqid = reqid;
        self.call(OVERLAY_TARG_DROP, &mut r)
    }

    /// [`Client::respond`] without waiting for the driver's reply (on
    /// the socket); a refusal goes to the
    /// [posted handler](Client::on_posted_error). Only a transport
    /// failure is returned.
    pub fn respond_posted(
        &self,
        reqid: u64,
        answer: &OverlayTargetPoint,
    ) -> Result<(), ClientError> {
        let mut r = OverlayTargResp::new_zeroed();
        r.otr_reqid = reqid;
        r.otr_answer = *answer;
        self.post(OVERLAY_TARG_RESPOND, &mut r, reqid)
    }

    /// [`Client::drop_req`] without waiting for the driver's reply, as
    /// [`Client::respond_posted`].
    pub fn drop_posted(&self, reqid: u64) -> Result<(), ClientError> {
        let mut r = OverlayTargResp::new_zeroed();
        r.otr_reqid = reqid;
        self.post(OVERLAY_TARG_DROP, &mut r, reqid)
    }

    /// `OVERLAY_TARG_PKT`: copies the frame that raised request `reqid`
    /// into `buf` (truncated to fit); returns its length in `buf`.
    pub fn pkt(&self, reqid: u64, buf: &mut [u8]) -> Result<usize, ClientError> {
        let mut p = OverlayTargPkt {
            otp_linkid: BY_REQID,
            otp_reqid: reqid,
            otp_size: buf.len() as u64,
            otp_buf: 0,
        };
        self.ioctl(OVERLAY_TARG_PKT, p.as_mut_bytes(), IoData::Out(buf))
    }

    /// `OVERLAY_TARG_INJECT`: hands `frame` up the device (`linkid`, or
    /// `None` for the device of request `reqid`), as if received.
    pub fn inject(&self, linkid: Option<u32>, reqid: u64, frame: &[u8]) -> Result<(), ClientError> {
        self.frame_in(OVERLAY_TARG_INJECT, linkid, reqid, frame)
    }

    /// `OVERLAY_TARG_RESEND`: sends `frame` out of the device (`linkid`,
    /// or `None` for the device of request `reqid`).
    pub fn resend(&self, linkid: Option<u32>, reqid: u64, frame: &[u8]) -> Result<(), ClientError> {
        self.frame_in(OVERLAY_TARG_RESEND, linkid, reqid, frame)
    }

    fn frame_in(
        &self,
        cmd: u32,
        linkid: Option<u32>,
        reqid: u64,
        frame: &[u8],
    ) -> Result<(), ClientError> {
        let mut p = OverlayTargPkt {
            otp_linkid: linkid.map_or(BY_REQID, u64::from),
            otp_reqid: reqid,
            otp_size: frame.len() as u64,
            otp_buf: 0,
        };
        self.ioctl(cmd, p.as_mut_bytes(), IoData::In(frame))
            .map(drop)
    }

    /// `OVERLAY_TARG_LIST`: the link ids of every overlay device (asked
    /// twice, for the count and then the array, as varpd does).
    pub fn list(&self) -> Result<Vec<u32>, ClientError> {
        let hdr = OverlayTargListHdr { otl_nents: 0 };
        let (buf, n) = self.list_raw(OVERLAY_TARG_LIST, hdr.as_bytes(), 4)?;
        Ok(decode_entries(&buf, OTL_ENTS_OFFSET, n))
    }

    /// `OVERLAY_TARG_CACHE_GET`: the cache entry for `mac`.
    pub fn cache_get(
        &self,
        linkid: u32,
        mac: EtherAddr,
    ) -> Result<OverlayTargCacheEntry, ClientError> {
        let mut c = OverlayTargCache::new_zeroed();
        c.otc_linkid = linkid;
        c.otc_entry.otce_mac = mac;
        self.call(OVERLAY_TARG_CACHE_GET, &mut c)?;
        Ok(c.otc_entry)
    }

    /// `OVERLAY_TARG_CACHE_SET`: installs `entry` (keyed by its
    /// `otce_mac`).
    pub fn cache_set(&self, linkid: u32, entry: &OverlayTargCacheEntry) -> Result<(), ClientError> {
        let mut c = OverlayTargCache {
            otc_linkid: linkid,
            otc_entry: *entry,
        };
        self.call(OVERLAY_TARG_CACHE_SET, &mut c)
    }

    /// `OVERLAY_TARG_CACHE_REMOVE`: forgets the entry for `mac`.
    pub fn cache_remove(&self, linkid: u32, mac: EtherAddr) -> Result<(), ClientError> {
        let mut c = OverlayTargCache::new_zeroed();
        c.otc_linkid = linkid;
        c.otc_entry.otce_mac = mac;
        self.call(OVERLAY_TARG_CACHE_REMOVE, &mut c)
    }

    /// `OVERLAY_TARG_CACHE_FLUSH`: forgets every entry.
    pub fn cache_flush(&self, linkid: u32) -> Result<(), ClientError> {
        let mut c = OverlayTargCache::new_zeroed();
        c.otc_linkid = linkid;
        self.call(OVERLAY_TARG_CACHE_FLUSH, &mut c)
    }

    /// `OVERLAY_TARG_CACHE_ITER`: up to `count` (1 to
    /// `OVERLAY_TARGET_ITER_MAX`) entries from `marker` (0 to start), and
    /// the marker to continue from; iteration is over when
    /// `IterMarker::from_u64(marker).is_done()`.
    pub fn cache_iter(
        &self,
        linkid: u32,
        marker: u64,
        count: u16,
    ) -> Result<(Vec<OverlayTargCacheEntry>, u64), ClientError> {
        let mut h = OverlayTargCacheIterHdr::new_zeroed();
        h.otci_linkid = linkid;
        h.otci_marker = marker;
        h.otci_count = count;
        // The header first: its tail padding overlays the first entry.
        let mut buf = vec![0u8; otci_copy_size(count)];
        buf[..size_of::<OverlayTargCacheIterHdr>()].copy_from_slice(h.as_bytes());
        self.ioctl(OVERLAY_TARG_CACHE_ITER, &mut buf, IoData::None)?;
        let (h, _) = OverlayTargCacheIterHdr::read_from_prefix(&buf)
            .map_err(|_| ClientError::bad_reply("short CACHE_ITER reply"))?;
        if h.otci_count > count {
            return Err(ClientError::bad_reply(format!(
                "CACHE_ITER returned {} entries for room for {count}",
                h.otci_count
            )));
        }
        let ents = decode_entries(&buf, OTCI_ENTS_OFFSET, usize::from(h.otci_count));
        Ok((ents, h.otci_marker))
    }
}
