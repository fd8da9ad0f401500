//! What libdladm (`libdloverlay.c`, and dlmgmtd's link names) does for
//! dladm: the overlay operations in the illumos order, over the driver
//! client and varpd's client protocol.
//!
//! Creating an overlay touches three parties (the link name, the
//! driver's device, varpd's instance), and any step can fail; a failure
//! undoes every earlier step ([`Dladm::overlay_delete`] tolerates the
//! parts that were never made), so a failed `create-overlay` leaves
//! nothing behind. Failures come back as a [`Status`] plus an error list
//! of the details, as libdladm reports them.
//!
//! Quirks of libdloverlay fixed here, each marked where it is:
//! `dladm_overlay_setprop` returned the ioctl's -1 instead of a status;
//! the "unset required propert" typo; `cache_set` reported success for a
//! value with a missing `,` or `:`; the varpd instance was destroyed
//! twice after a failed device activation; and show-overlay silently
//! lost varpd's properties when varpd could not be asked.

use std::path::PathBuf;

use overlay::abi::common::*;
use overlay::abi::dld::OverlayIocPropinfo;
use overlay::abi::targ::OverlayTargCacheEntry;
use overlay::abi::{EtherAddr, In6Addr};
use overlay_client::proto::{DATALINK_CLASS_VNIC, HostLink, HostVnic};
use overlay_client::{Client, ClientError, Errno};
use varpd::client::VarpdClient;
use varpd::core::CacheEntry;

use crate::status::Status;
use crate::values;

/// `DLADM_OVERLAY_F_DEFAULT`: ORed into a point's flags for the single
/// destination of a POINT-mode overlay.
pub const DLADM_OVERLAY_F_DEFAULT: u16 = 0xf000;

/// varpd's control path: `$VARPD_RUN_DIR/varpd.door`, else
/// `/var/run/varpd/varpd.door` (libdladm's fixed path).
pub fn varpd_door_path() -> PathBuf {
    std::env::var_os("VARPD_RUN_DIR")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/run/varpd"))
        .join("varpd.door")
}

/// A failure with libdladm's error list.
#[derive(Debug)]
pub struct Failure {
    pub status: Status,
    pub errs: Vec<String>,
}

impl Failure {
    fn new(status: Status) -> Failure {
        Failure {
            status,
            errs: Vec::new(),
        }
    }
}

impl From<Status> for Failure {
    fn from(s: Status) -> Failure {
        Failure::new(s)
    }
}

/// `strerror` of a client failure: the errno's text, or the transport's.
pub fn strerror(e: &ClientError) -> String {
    match e {
        ClientError::Errno(e) => e.message().to_owned(),
        ClientError::Io(e) => e.to_string(),
    }
}

fn st(e: ClientError) -> Status {
    Status::from_client(&e)
}

/// One property row of show-overlay: the driver's or varpd's.
#[derive(Clone, Debug)]
pub struct PropRow {
    pub name: String,
    pub ptype: u32,
    pub prot: u32,
    pub default: Vec<u8>,
    /// A `mac_propval_range_t`.
    pub poss: Vec<u8>,
    pub value: Vec<u8>,
}

/// A datalink as dlmgmtd knows it.
#[derive(Clone, Debug)]
pub struct Link {
    pub id: u32,
    pub class: u32,
    pub name: String,
}

impl From<&HostLink> for Link {
    fn from(l: &HostLink) -> Link {
        let end = l.hl_name.iter().position(|&c| c == 0).unwrap_or(32);
        Link {
            id: l.hl_linkid,
            class: l.hl_class,
            name: String::from_utf8_lossy(&l.hl_name[..end]).into_owned(),
        }
    }
}

/// The handle: the driver (`/dev/dld`, or overlayd's socket).
#[derive(Debug)]
pub struct Dladm {
    drv: Client,
}

impl Dladm {
    /// `dladm_open`.
    pub fn open() -> Result<Dladm, String> {
        Client::open_dld()
            .map(|drv| Dladm { drv })
            .map_err(|e| strerror(&e))
    }

    /// A connection to varpd (`libvarpd_c_create`).
    pub fn varpd(&self) -> Result<VarpdClient, ClientError> {
        VarpdClient::connect(varpd_door_path())
    }

    /// A connection to varpd, starting it first if need be, as libdladm
    /// enables `svc:/network/varpd:default` before creating an overlay
    /// (and waits up to 15 s for it). Off illumos the service manager is
    /// not ours to drive: varpd must be running.
    pub fn varpd_enabled(&self) -> Result<VarpdClient, ClientError> {
        match self.varpd() {
            Ok(v) => Ok(v),
            #[cfg(target_os = "illumos")]
            Err(_) => {
                let _ = std::process::Command::new("/usr/sbin/svcadm")
                    .args(["enable", "-s", "svc:/network/varpd:default"])
                    .status();
                let t0 = std::time::Instant::now();
                loop {
                    match self.varpd() {
                        Ok(v) => return Ok(v),
                        Err(e) if t0.elapsed() >= std::time::Duration::from_secs(15) => {
                            return Err(e);
                        }
                        Err(_) => std::thread::sleep(std::time::Duration::from_secs(1)),
                    }
                }
            }
            #[cfg(not(target_os = "illumos"))]
            Err(e) => Err(e),
        }
    }

    /// `dladm_name2info`: id and class.
    pub fn name2info(&self, name: &str) -> Result<Link, Status> {
        let (id, class) = self.drv.link_lookup(name).map_err(st)?;
        Ok(Link {
            id,
            class,
            name: name.to_owned(),
        })
    }

    /// Every link, in link id order (`dladm_walk_datalink_id`).
    pub fn links(&self) -> Result<Vec<Link>, Status> {
        let mut v: Vec<Link> = self
            .drv
            .link_list()
            .map_err(st)?
            .iter()
            .map(Link::from)
            .collect();
        v.sort_by_key(|l| l.id);
        Ok(v)
    }

    pub fn vnics(&self) -> Result<Vec<HostVnic>, Status> {
        let mut v = self.drv.vnic_list().map_err(st)?;
        v.sort_by_key(|h| h.hv_linkid);
        Ok(v)
    }

    /// Whether the overlay's link is up (activated): its `link_state`
    /// counter, as the MAC kstat of that name.
    pub fn overlay_active(&self, linkid: u32) -> bool {
        self.drv
            .stats(linkid)
            .is_ok_and(|s| s.iter().any(|(n, v)| n == "link_state" && *v == 1))
    }

    /// `dladm_overlay_setprop`: a driver property by name.
    fn set_kernel_prop(&self, linkid: u32, name: &str, val: &str) -> Result<(), Status> {
        if name.len() >= OVERLAY_PROP_NAMELEN {
            return Err(Status::BadArg);
        }
        let info = self.drv.propinfo_by_name(linkid, name).map_err(st)?;
        let bytes = values::parse_prop(info.oipi_type, val)?;
        // Quirk fixed: illumos returned the ioctl's return value here.
        self.drv.setprop(linkid, info.oipi_id, &bytes).map_err(st)
    }

    /// `dladm_overlay_varpd_setprop`: a varpd instance property by name.
    fn set_varpd_prop(vch: &VarpdClient, id: u64, name: &str, val: &str) -> Result<(), Status> {
        let info = vch.propinfo_by_name(id, name).map_err(st)?;
        let bytes = values::parse_prop(info.ptype, val)?;
        vch.setprop(id, info.id, &bytes).map_err(st)
    }

    /// `dladm_overlay_create`, in the illumos order: link id, device,
    /// driver properties, varpd instance, its properties, its
    /// activation, the device's activation. Returns the link id.
    pub fn overlay_create(
        &self,
        name: &str,
        encap: &str,
        search: &str,
        vid: u64,
        props: &[(String, String)],
    ) -> Result<u32, Failure> {
        // libdladm enables varpd first.
        let vch = self.varpd_enabled().map_err(|e| Failure {
            status: st(e_clone(&e)),
            errs: vec![format!(
                "failed to create libvarpd handle: {}",
                strerror(&e)
            )],
        })?;
        let linkid = self
            .drv
            .link_create(name, DATALINK_CLASS_OVERLAY)
            .map_err(|e| Failure::new(st(e)))?;
        if let Err(e) = self.drv.create(linkid, vid, encap) {
            let _ = self.drv.link_delete(linkid);
            return Err(Failure::new(st(e)));
        }
        let is_search = |n: &str| {
            n.strip_prefix(search)
                .is_some_and(|rest| rest.starts_with('/'))
        };
        let mut fail = Failure::new(Status::Ok);
        for (n, v) in props.iter().filter(|(n, _)| !is_search(n)) {
            if let Err(s) = self.set_kernel_prop(linkid, n, v) {
                fail.errs.push(format!("failed to set property {n}"));
                fail.status = s;
                let _ = self.overlay_delete(linkid);
                return Err(fail);
            }
        }
        let id = match vch.create(linkid, search) {
            Ok(id) => id,
            Err(e) => {
                fail.errs
                    .push(format!("failed to create varpd instance: {}", strerror(&e)));
                fail.status = st(e);
                let _ = self.overlay_delete(linkid);
                return Err(fail);
            }
        };
        for (n, v) in props.iter().filter(|(n, _)| is_search(n)) {
            if let Err(s) = Self::set_varpd_prop(&vch, id, n, v) {
                fail.errs.push(format!("failed to set varpd prop: {n}"));
                fail.status = s;
                let _ = vch.destroy(id);
                let _ = self.overlay_delete(linkid);
                return Err(fail);
            }
        }
        if let Err(e) = vch.activate(id) {
            fail.errs.push(format!(
                "failed to activate varpd instance: {}",
                strerror(&e)
            ));
            fail.status = st(e);
            if let Ok(rows) = Self::varpd_props(&vch, id) {
                unset_required(&rows, &mut fail.errs);
            }
            let _ = vch.destroy(id);
            let _ = self.overlay_delete(linkid);
            return Err(fail);
        }
        if let Err(e) = self.drv.activate(linkid) {
            fail.errs
                .push(format!("failed to activate device: {}", strerror(&e)));
            fail.status = st(e);
            let mut rows = Vec::new();
            let _ = self.kernel_props(linkid, &mut rows, &mut Vec::new());
            unset_required(&rows, &mut fail.errs);
            // Quirk fixed: illumos destroyed the instance twice here.
            let _ = vch.destroy(id);
            let _ = self.overlay_delete(linkid);
            return Err(fail);
        }
        Ok(linkid)
    }

    /// `dladm_overlay_delete`: the device (already gone is fine), the
    /// varpd instance if there is one, and the link id. Cleans up as much
    /// as exists, so it also undoes a half-made overlay.
    pub fn overlay_delete(&self, linkid: u32) -> Result<(), Status> {
        match self.drv.delete(linkid) {
            Ok(()) => {}
            Err(e) if e.errno() == Some(Errno::ENOENT) => {}
            Err(e) => return Err(st(e)),
        }
        // With varpd not running, the device is gone all the same, and the
        // instance it saved for the link is discarded when varpd starts
        // (its restore drops instances whose link no longer exists); so,
        // unlike illumos, that is not a failure of the delete.
        let mut result = Ok(());
        if let Ok(vch) = self.varpd() {
            match vch.lookup(linkid) {
                Ok(id) => result = vch.destroy(id).map_err(st),
                Err(e) if e.errno() == Some(Errno::ENOENT) => {}
                Err(e) => result = Err(st(e)),
            }
        }
        let _ = self.drv.link_delete(linkid);
        result
    }

    /// The driver's properties of an overlay, with their values, in id
    /// order; a property whose value cannot be read is left out (as
    /// show-overlay leaves it out). Returns varpd's instance id if the
    /// overlay has one.
    pub fn kernel_props(
        &self,
        linkid: u32,
        rows: &mut Vec<PropRow>,
        errs: &mut Vec<String>,
    ) -> Result<Option<u64>, Status> {
        let n = self.drv.nprops(linkid).map_err(st)?;
        let mut varpd_id = None;
        for i in 0..n {
            let info: OverlayIocPropinfo = match self.drv.propinfo_by_id(linkid, i) {
                Ok(p) => p,
                Err(e) => {
                    errs.push(format!(
                        "failed to get propinfo for property {i}: {}",
                        strerror(&e)
                    ));
                    return Err(st(e));
                }
            };
            let Ok(value) = self.drv.getprop(linkid, i) else {
                continue;
            };
            let name = c_text(&info.oipi_name);
            if name == "varpd/id" && value.len() == 8 {
                let mut b = [0u8; 8];
                b.copy_from_slice(&value);
                varpd_id = Some(u64::from_ne_bytes(b));
            }
            rows.push(PropRow {
                name,
                ptype: info.oipi_type,
                prot: info.oipi_prot,
                default: info.oipi_default
                    [..(info.oipi_defsize as usize).min(OVERLAY_PROP_SIZEMAX)]
                    .to_vec(),
                poss: info.oipi_poss[..(info.oipi_posssize as usize).min(OVERLAY_PROP_SIZEMAX)]
                    .to_vec(),
                value,
            });
        }
        Ok(varpd_id)
    }

    /// varpd's properties of an instance (`search` first, then the
    /// plugin's), with their values.
    pub fn varpd_props(vch: &VarpdClient, id: u64) -> Result<Vec<PropRow>, Status> {
        let n = vch.nprops(id).map_err(st)?;
        let mut rows = Vec::new();
        for i in 0..n {
            let p = vch.propinfo(id, i).map_err(st)?;
            let Ok(value) = vch.getprop(id, i) else {
                continue;
            };
            rows.push(PropRow {
                name: p.name,
                ptype: p.ptype,
                prot: p.prot,
                default: p.default,
                poss: p.poss,
                value,
            });
        }
        Ok(rows)
    }

    /// `dladm_overlay_walk_prop`: the driver's then varpd's properties.
    /// Quirk fixed: when varpd could not be asked, illumos showed the
    /// driver's half without a word; here the error list says so.
    pub fn overlay_props(&self, linkid: u32, errs: &mut Vec<String>) -> Vec<PropRow> {
        let mut rows = Vec::new();
        let Ok(Some(id)) = self.kernel_props(linkid, &mut rows, errs) else {
            return rows;
        };
        match self
            .varpd()
            .map_err(st)
            .and_then(|v| Self::varpd_props(&v, id))
        {
            Ok(r) => rows.extend(r),
            Err(s) => errs.push(format!("failed to get varpd instance {id} properties: {s}")),
        }
        rows
    }

    /// `dladm_overlay_status`: degraded, and why.
    pub fn overlay_status(&self, linkid: u32) -> Result<(bool, String), Status> {
        self.drv.status(linkid).map_err(st)
    }

    /// The instance serving `linkid`, with its destination flags and mode.
    fn instance(&self, linkid: u32) -> Result<(VarpdClient, u64, u32, u32), Status> {
        let vch = self.varpd().map_err(st)?;
        let id = vch.lookup(linkid).map_err(st)?;
        let (dest, mode) = vch.target_mode(id).map_err(st)?;
        Ok((vch, id, dest, mode))
    }

    /// `dladm_overlay_walk_cache`: the target table, as (key, point)
    /// pairs, with the destination flags.
    pub fn overlay_cache(&self, linkid: u32) -> Result<(u32, Vec<(EtherAddr, Point)>), Status> {
        let (vch, id, dest, mode) = self.instance(linkid)?;
        let ents: Vec<OverlayTargCacheEntry> = vch.cache_walk(id).map_err(st)?;
        let points = ents
            .into_iter()
            .map(|e| {
                let mut flags = e.otce_flags;
                if mode == OVERLAY_TARGET_POINT {
                    flags |= DLADM_OVERLAY_F_DEFAULT;
                }
                (
                    e.otce_mac,
                    Point {
                        dest,
                        mac: e.otce_dest.otp_mac.0,
                        flags,
                        ip: e.otce_dest.otp_ip.0,
                        port: e.otce_dest.otp_port,
                    },
                )
            })
            .collect();
        Ok((dest, points))
    }

    pub fn cache_flush(&self, linkid: u32) -> Result<(), Status> {
        let (vch, id, _, _) = self.instance(linkid)?;
        vch.cache_flush(id).map_err(st)
    }

    pub fn cache_delete(&self, linkid: u32, key: [u8; 6]) -> Result<(), Status> {
        let (vch, id, _, _) = self.instance(linkid)?;
        vch.cache_delete(id, EtherAddr(key)).map_err(st)
    }

    /// `dladm_overlay_cache_set`: `val` is `drop` or the destination in
    /// the instance's form (`[mac][,ip][:port]`).
    pub fn cache_set(&self, linkid: u32, key: [u8; 6], val: &str) -> Result<(), Status> {
        let (vch, id, dest, _) = self.instance(linkid)?;
        let e = parse_destination(dest, val)?;
        vch.cache_set(id, EtherAddr(key), &e).map_err(st)
    }

    // Host (Linux) link and VNIC commands.

    pub fn vnic_create(
        &self,
        name: &str,
        over: u32,
        mac: Option<[u8; 6]>,
    ) -> Result<HostVnic, ClientError> {
        self.drv.vnic_create(name, over, mac)
    }

    pub fn vnic_delete(&self, linkid: u32) -> Result<(), Status> {
        self.drv.vnic_delete(linkid).map_err(st)
    }

    /// The overlay's MTU property, as a number.
    pub fn overlay_mtu(&self, linkid: u32) -> Option<u64> {
        let v = self.drv.getprop_by_name(linkid, "mtu").ok()?;
        values::prop_text(OVERLAY_PROP_T_UINT, &v)
            .ok()?
            .parse()
            .ok()
    }
}

/// Whether `class` is a VNIC's.
pub fn is_vnic(class: u32) -> bool {
    class == DATALINK_CLASS_VNIC
}

/// `ClientError` is not `Clone`; a copy good enough for a status.
fn e_clone(e: &ClientError) -> ClientError {
    match e {
        ClientError::Errno(n) => ClientError::Errno(*n),
        ClientError::Io(io) => ClientError::Io(std::io::Error::new(io.kind(), io.to_string())),
    }
}

/// "unset required property" for each required property without a value.
fn unset_required(rows: &[PropRow], errs: &mut Vec<String>) {
    for r in rows {
        if r.prot & OVERLAY_PROP_PERM_REQ != 0 && r.value.is_empty() {
            // Quirk fixed: illumos said "propert".
            errs.push(format!("unset required property: {}", r.name));
        }
    }
}

/// `dladm_overlay_point_t`.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub dest: u32,
    pub mac: [u8; 6],
    pub flags: u16,
    pub ip: [u8; 16],
    pub port: u16,
}

impl Point {
    /// The DESTINATION column: `[mac][,ip][:port]` by the destination
    /// flags (the port after `,` when there is a MAC but no IP).
    pub fn destination(&self) -> String {
        let mut s = String::new();
        if self.dest & OVERLAY_PLUGIN_D_ETHERNET != 0 {
            s += &values::ether_ntoa(&self.mac);
        }
        if self.dest & OVERLAY_PLUGIN_D_IP != 0 {
            if self.dest & OVERLAY_PLUGIN_D_ETHERNET != 0 {
                s.push(',');
            }
            s += &values::ip_text(&self.ip);
        }
        if self.dest & OVERLAY_PLUGIN_D_PORT != 0 {
            if self.dest & OVERLAY_PLUGIN_D_IP != 0 {
                s.push(':');
            } else if self.dest & OVERLAY_PLUGIN_D_ETHERNET != 0 {
                s.push(',');
            }
            s += &self.port.to_string();
        }
        s
    }
}

/// The `modify-overlay -s` value grammar for an instance whose
/// destinations carry `dest` (`OVERLAY_PLUGIN_D_*`): `drop`
/// (any case), or `[mac][,ip][:port]`.
///
/// Quirks fixed: illumos took the port from after the *first* `:`, so an
/// IPv6 destination could not have one; here it follows the last `:`
/// (the port is required whenever the form has one), and `[addr]:port`
/// is accepted too. A missing `,` or `:` was a success that set
/// nothing; it is `EINVAL` here.
pub fn parse_destination(dest: u32, val: &str) -> Result<CacheEntry, Status> {
    let mut e = CacheEntry {
        mac: EtherAddr::ZERO,
        flags: 0,
        ip: In6Addr([0; 16]),
        port: 0,
    };
    if val.eq_ignore_ascii_case("drop") {
        e.flags = overlay::abi::targ::OVERLAY_TARGET_CACHE_DROP;
        return Ok(e);
    }
    let has_mac = dest & OVERLAY_PLUGIN_D_ETHERNET != 0;
    let has_ip = dest & OVERLAY_PLUGIN_D_IP != 0;
    let has_port = dest & OVERLAY_PLUGIN_D_PORT != 0;
    let mut rest = val;
    if has_mac {
        let (m, r) = match rest.split_once(',') {
            Some((m, r)) => (m, Some(r)),
            None => (rest, None),
        };
        e.mac = EtherAddr(values::ether_aton(m).ok_or(Status::BadArg)?);
        rest = match r {
            Some(r) => r,
            None if has_ip || has_port => return Err(Status::BadArg),
            None => "",
        };
    }
    if has_ip {
        let (ip, port) = if !has_port {
            (rest, "")
        } else if let Some(bracketed) = rest.strip_prefix('[') {
            bracketed.split_once("]:").ok_or(Status::BadArg)?
        } else {
            // The port is required, so it is what follows the last ':'.
            rest.rsplit_once(':').ok_or(Status::BadArg)?
        };
        e.ip = In6Addr(values::parse_ip(ip).ok_or(Status::BadArg)?);
        rest = port;
    }
    if has_port {
        let p: u32 = rest.parse().map_err(|_| Status::BadArg)?;
        if p == 0 || p > u32::from(u16::MAX) {
            return Err(Status::BadArg);
        }
        e.port = p as u16;
    } else if !rest.is_empty() && !has_ip {
        return Err(Status::BadArg);
    }
    Ok(e)
}

fn c_text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP_PORT: u32 = OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT;

    #[test]
    fn destinations_parse_by_the_instance_form() {
        let e = parse_destination(IP_PORT, "192.0.2.7:4789").unwrap();
        assert_eq!(values::ip_text(&e.ip.0), "192.0.2.7");
        assert_eq!(e.port, 4789);
        let e = parse_destination(IP_PORT, "DROP").unwrap();
        assert_eq!(e.flags, overlay::abi::targ::OVERLAY_TARGET_CACHE_DROP);
        let all = OVERLAY_PLUGIN_D_ETHERNET | IP_PORT;
        let e = parse_destination(all, "2:8:20:0:0:1,10.0.0.1:99").unwrap();
        assert_eq!(e.mac.0, [2, 8, 0x20, 0, 0, 1]);
        assert_eq!(e.port, 99);
        let e = parse_destination(IP_PORT, "fd00::5:4789").unwrap();
        assert_eq!(
            (values::ip_text(&e.ip.0).as_str(), e.port),
            ("fd00::5", 4789)
        );
        let e = parse_destination(IP_PORT, "[fd00::5]:4789").unwrap();
        assert_eq!(
            (values::ip_text(&e.ip.0).as_str(), e.port),
            ("fd00::5", 4789)
        );
        assert!(parse_destination(IP_PORT, "[fd00::5]4789").is_err());
        let e = parse_destination(OVERLAY_PLUGIN_D_IP, "fd00::5").unwrap();
        assert_eq!(values::ip_text(&e.ip.0), "fd00::5");
        for bad in [
            "192.0.2.7",
            "192.0.2.7:0",
            "192.0.2.7:65536",
            "192.0.2.7:x",
            "host:1",
            "",
        ] {
            assert_eq!(
                parse_destination(IP_PORT, bad).unwrap_err(),
                Status::BadArg,
                "{bad}"
            );
        }
        assert!(parse_destination(all, "2:8:20:0:0:1").is_err());
        assert!(parse_destination(OVERLAY_PLUGIN_D_ETHERNET, "2:8:20:0:0:1,x").is_err());
    }

    #[test]
    fn destination_column_follows_the_flags() {
        let mut p = Point {
            dest: IP_PORT,
            mac: [2, 8, 0x20, 0, 0, 1],
            flags: 0,
            ip: values::parse_ip("192.0.2.1").unwrap(),
            port: 4789,
        };
        assert_eq!(p.destination(), "192.0.2.1:4789");
        p.dest = OVERLAY_PLUGIN_D_ETHERNET | OVERLAY_PLUGIN_D_PORT;
        assert_eq!(p.destination(), "2:8:20:0:0:1,4789");
        p.dest |= OVERLAY_PLUGIN_D_IP;
        assert_eq!(p.destination(), "2:8:20:0:0:1,192.0.2.1:4789");
    }
}
