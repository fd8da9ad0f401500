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
    /// RESPOND without waiting for the driver's reply where the
    /// transport can (overlayd's socket): the lookup thread goes on to
    /// its next LOOKUP at once. A refusal is logged when it comes in
    /// ([`posted_refused`]); only a transport failure is returned here.
    fn respond_posted(&self, reqid: u64, answer: &OverlayTargetPoint) -> Result<(), Errno> {
        self.respond(reqid, answer)
    }
    /// DROP, as [`Driver::respond_posted`].
    fn drop_posted(&self, reqid: u64) -> Result<(), Errno> {
        self.drop_req(reqid)
    }
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

/// How a lookup answer the driver refused is reported, whether the
/// refusal came back at once or later (posted).
pub fn reply_refused(reqid: u64, e: Errno) {
    // EINVAL: the request is gone (its handle closed, the entry answered
    // meanwhile); nothing to do.
    if e != Errno::EINVAL {
        tracing::warn!(reqid, "reply to the driver failed: {e}");
    }
}

/// LOOKUPs kept in flight ahead of the lookup threads on the socket
/// transport ([`tune`]). Each costs overlayd an entry in its list of
/// parked LOOKUPs; in a burst of misses each round trip then brings up
/// to this many answers.
pub const LOOKUP_PREFETCH: usize = 16;

/// Sets up the driver connection for varpd's lookup threads: refused
/// posted answers are logged, and (on the socket) [`LOOKUP_PREFETCH`]
/// LOOKUPs (`VARPD_LOOKUP_PREFETCH` overrides) are kept in flight
/// beyond the waiting threads' own, so that in a burst of misses a
/// lookup thread coming back finds an answer waiting rather than
/// sleeping for one (see `overlay_client`'s socket transport).
pub fn tune(c: &Client) {
    c.on_posted_error(posted_refused);
    let prefetch = std::env::var("VARPD_LOOKUP_PREFETCH")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(LOOKUP_PREFETCH);
    c.set_lookup_prefetch(prefetch);
}

/// The posted-error handler: see [`reply_refused`].
pub fn posted_refused(p: overlay_client::PostedError) {
    match p.error {
        ClientError::Errno(errno) => reply_refused(p.reqid, errno),
        ClientError::Io(io) => tracing::error!("overlay driver transport: {io}"),
    }
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
    fn respond_posted(&self, reqid: u64, answer: &OverlayTargetPoint) -> Result<(), Errno> {
        Client::respond_posted(self, reqid, answer).map_err(e)
    }
    fn drop_posted(&self, reqid: u64) -> Result<(), Errno> {
        Client::drop_posted(self, reqid).map_err(e)
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
