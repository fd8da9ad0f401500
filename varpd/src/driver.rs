//! The overlay driver as varpd uses it: the `/dev/overlay` target
//! commands. [`overlay_client::Client`] is the real one; tests substitute
//! their own.

use overlay::Errno;
use overlay::abi::EtherAddr;
use overlay::abi::targ::*;
use overlay_client::{Client, ClientError};

/// The target commands, with illumos errnos. A transport failure is
/// `EIO` (logged).
pub trait Driver: Send + Sync {
    fn info(&self, linkid: u32) -> Result<OverlayTargInfo, Errno>;
    fn associate(&self, a: &OverlayTargAssociate) -> Result<(), Errno>;
    fn disassociate(&self, linkid: u32) -> Result<(), Errno>;
    fn degrade(&self, linkid: u32, msg: &str) -> Result<(), Errno>;
    fn restore(&self, linkid: u32) -> Result<(), Errno>;
    fn lookup(&self) -> Result<OverlayTargLookup, Errno>;
    fn respond(&self, reqid: u64, answer: &OverlayTargetPoint) -> Result<(), Errno>;
    fn drop_req(&self, reqid: u64) -> Result<(), Errno>;
    fn pkt(&self, reqid: u64, buf: &mut [u8]) -> Result<usize, Errno>;
    fn inject(&self, linkid: Option<u32>, reqid: u64, frame: &[u8]) -> Result<(), Errno>;
    fn resend(&self, linkid: Option<u32>, reqid: u64, frame: &[u8]) -> Result<(), Errno>;
    fn list(&self) -> Result<Vec<u32>, Errno>;
    fn cache_get(&self, linkid: u32, mac: EtherAddr) -> Result<OverlayTargCacheEntry, Errno>;
    fn cache_set(&self, linkid: u32, e: &OverlayTargCacheEntry) -> Result<(), Errno>;
    fn cache_remove(&self, linkid: u32, mac: EtherAddr) -> Result<(), Errno>;
    fn cache_flush(&self, linkid: u32) -> Result<(), Errno>;
    fn cache_iter(
        &self,
        linkid: u32,
        marker: u64,
        count: u16,
    ) -> Result<(Vec<OverlayTargCacheEntry>, u64), Errno>;
}

fn e(err: ClientError) -> Errno {
    match err {
        ClientError::Errno(e) => e,
        ClientError::Io(io) => {
            tracing::error!("overlay driver transport: {io}");
            Errno::EIO
        }
    }
}

impl Driver for Client {
    fn info(&self, linkid: u32) -> Result<OverlayTargInfo, Errno> {
        Client::info(self, linkid).map_err(e)
    }
    fn associate(&self, a: &OverlayTargAssociate) -> Result<(), Errno> {
        Client::associate(self, a).map_err(e)
    }
    fn disassociate(&self, linkid: u32) -> Result<(), Errno> {
        Client::disassociate(self, linkid).map_err(e)
    }
    fn degrade(&self, linkid: u32, msg: &str) -> Result<(), Errno> {
        Client::degrade(self, linkid, msg).map_err(e)
    }
    fn restore(&self, linkid: u32) -> Result<(), Errno> {
        Client::restore(self, linkid).map_err(e)
    }
    fn lookup(&self) -> Result<OverlayTargLookup, Errno> {
        Client::lookup(self).map_err(e)
    }
    fn respond(&self, reqid: u64, answer: &OverlayTargetPoint) -> Result<(), Errno> {
        Client::respond(self, reqid, answer).map_err(e)
    }
    fn drop_req(&self, reqid: u64) -> Result<(), Errno> {
        Client::drop_req(self, reqid).map_err(e)
    }
    fn pkt(&self, reqid: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        Client::pkt(self, reqid, buf).map_err(e)
    }
    fn inject(&self, linkid: Option<u32>, reqid: u64, frame: &[u8]) -> Result<(), Errno> {
        Client::inject(self, linkid, reqid, frame).map_err(e)
    }
    fn resend(&self, linkid: Option<u32>, reqid: u64, frame: &[u8]) -> Result<(), Errno> {
        Client::resend(self, linkid, reqid, frame).map_err(e)
    }
    fn list(&self) -> Result<Vec<u32>, Errno> {
        Client::list(self).map_err(e)
    }
    fn cache_get(&self, linkid: u32, mac: EtherAddr) -> Result<OverlayTargCacheEntry, Errno> {
        Client::cache_get(self, linkid, mac).map_err(e)
    }
    fn cache_set(&self, linkid: u32, ent: &OverlayTargCacheEntry) -> Result<(), Errno> {
        Client::cache_set(self, linkid, ent).map_err(e)
    }
    fn cache_remove(&self, linkid: u32, mac: EtherAddr) -> Result<(), Errno> {
        Client::cache_remove(self, linkid, mac).map_err(e)
    }
    fn cache_flush(&self, linkid: u32) -> Result<(), Errno> {
        Client::cache_flush(self, linkid).map_err(e)
    }
    fn cache_iter(
        &self,
        linkid: u32,
        marker: u64,
        count: u16,
    ) -> Result<(Vec<OverlayTargCacheEntry>, u64), Errno> {
        Client::cache_iter(self, linkid, marker, count).map_err(e)
    }
}
