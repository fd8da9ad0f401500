//! What dlmgmtd and dld do on illumos, for the Linux host: link ids for
//! names, and VNICs on overlays.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::thread::JoinHandle;

use overlay::abi::EtherAddr;
use overlay::abi::common::DATALINK_CLASS_OVERLAY;
use overlay::abi::ctl::{DATALINK_CLASS_VNIC, HostLink, HostVnic};
use overlay::{Errno, Overlay};
use parking_lot::Mutex;

use crate::platform::LinuxPlatform;
use crate::switch::{Port, VSwitch, port_reader};
use crate::tap::Tap;

/// `MAXLINKNAMELEN`.
const MAXLINKNAMELEN: usize = 32;

/// dladm's link-name rule: 1 to 31 characters from letters, digits, `_`
/// and `.`, starting with a letter and ending with a digit.
pub fn valid_linkname(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() < MAXLINKNAMELEN
        && b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_digit()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
}

struct Vnic {
    port: Arc<Port>,
    switch: Arc<VSwitch>,
    overlay: u32,
    /// `HV_F_MAC` if the address was given (dladm's `fixed`), else 0
    /// (`random`).
    flags: u16,
    reader: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Links {
    by_id: BTreeMap<u32, (u32, String)>,
    next: u32,
}

/// The host: the driver, the link table and the VNICs.
pub struct Host {
    pub overlay: Arc<Overlay<LinuxPlatform>>,
    links: Mutex<Links>,
    vnics: Mutex<BTreeMap<u32, Vnic>>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("links", &self.links.lock().by_id.len())
            .finish_non_exhaustive()
    }
}

fn name_of(field: &[u8]) -> Result<&str, Errno> {
    overlay::abi::common::cstr_field(field)
}

impl Host {
    pub fn new(platform: LinuxPlatform) -> Host {
        Host {
            overlay: Overlay::new(platform),
            links: Mutex::new(Links {
                next: 1,
                ..Default::default()
            }),
            vnics: Mutex::new(BTreeMap::new()),
        }
    }

    /// `OVERLAY_HOST_LINK_CREATE`: a link id for a new name.
    pub fn link_create(&self, name: &str, class: u32) -> Result<u32, Errno> {
        if !valid_linkname(name) {
            return Err(Errno::EINVAL);
        }
        let mut links = self.links.lock();
        if links.by_id.values().any(|(_, n)| n == name) {
            return Err(Errno::EEXIST);
        }
        let mut id = links.next;
        while links.by_id.contains_key(&id) || id == 0 {
            id = id.wrapping_add(1);
        }
        links.next = id.wrapping_add(1);
        links.by_id.insert(id, (class, name.to_owned()));
        Ok(id)
    }

    /// `OVERLAY_HOST_LINK_DELETE`: refused (`EBUSY`) while an overlay or
    /// VNIC still uses the id.
    pub fn link_delete(&self, linkid: u32) -> Result<(), Errno> {
        if self.overlay.device(linkid).is_some() || self.vnics.lock().contains_key(&linkid) {
            return Err(Errno::EBUSY);
        }
        self.links
            .lock()
            .by_id
            .remove(&linkid)
            .map(drop)
            .ok_or(Errno::ENOENT)
    }

    pub fn link_lookup(&self, name: &str) -> Result<(u32, u32), Errno> {
        let links = self.links.lock();
        links
            .by_id
            .iter()
            .find(|(_, (_, n))| n == name)
            .map(|(id, (c, _))| (*id, *c))
            .ok_or(Errno::ENOENT)
    }

    pub fn link_list(&self) -> Vec<HostLink> {
        self.links
            .lock()
            .by_id
            .iter()
            .map(|(id, (class, name))| {
                let mut l = HostLink {
                    hl_linkid: *id,
                    hl_class: *class,
                    ..Default::default()
                };
                l.hl_name[..name.len()].copy_from_slice(name.as_bytes());
                l
            })
            .collect()
    }

    fn link_name(&self, linkid: u32) -> Option<String> {
        self.links.lock().by_id.get(&linkid).map(|(_, n)| n.clone())
    }

    /// `OVERLAY_HOST_VNIC_CREATE`: a TAP device on an overlay's switch.
    /// The overlay starts with its first VNIC (`mc_start`), and that is
    /// where a bad underlay address surfaces, as on illumos.
    pub fn vnic_create(&self, req: &HostVnic) -> Result<HostVnic, Errno> {
        let name = name_of(&req.hv_name)?.to_owned();
        if name.len() >= crate::tap::IFNAMSIZ {
            return Err(Errno::EINVAL);
        }
        let dev = self.overlay.device(req.hv_overlay).ok_or(Errno::ENOENT)?;
        let mac = if req.hv_flags & overlay::abi::ctl::HV_F_MAC != 0 {
            let m = EtherAddr(req.hv_mac);
            if m.is_multicast() || m == EtherAddr::ZERO {
                return Err(Errno::EINVAL);
            }
            m
        } else {
            random_mac(self.overlay.platform())
        };
        let linkid = self.link_create(&name, DATALINK_CLASS_VNIC)?;
        let switch = dev.link().clone();
        switch.attach_device(&dev);
        let undo = |e: Errno| {
            let _ = self.links.lock().by_id.remove(&linkid);
            e
        };
        let tap =
            Tap::create(&name, mac.0, dev.mtu()).map_err(|e| undo(crate::errno::from_io(&e)))?;
        let port = Arc::new(Port::new(linkid, mac, tap));
        let first = !switch.has_ports();
        if first {
            // mc_start: fails with EAGAIN before activation, or with the
            // socket's error (e.g. EADDRNOTAVAIL for a listen_ip not on
            // this host).
            self.overlay.start(&dev).map_err(undo)?;
        }
        switch.add(port.clone());
        let reader = {
            let (platform, switch, port) = (
                self.overlay.platform().clone(),
                switch.clone(),
                port.clone(),
            );
            std::thread::Builder::new()
                .name(format!("vnic {name}"))
                .spawn(move || port_reader(platform, switch, port))
                .map_err(|_| Errno::ENOMEM)?
        };
        let out = HostVnic {
            hv_linkid: linkid,
            hv_overlay: req.hv_overlay,
            hv_mac: mac.0,
            hv_flags: req.hv_flags,
            hv_ifindex: port.tap.ifindex(),
            hv_name: req.hv_name,
        };
        self.vnics.lock().insert(
            linkid,
            Vnic {
                port,
                switch,
                overlay: req.hv_overlay,
                flags: req.hv_flags & overlay::abi::ctl::HV_F_MAC,
                reader: Some(reader),
            },
        );
        tracing::info!(vnic = %name, %mac, overlay = req.hv_overlay, "VNIC created");
        Ok(out)
    }

    /// `OVERLAY_HOST_VNIC_DELETE`. The overlay stops with its last VNIC.
    pub fn vnic_delete(&self, linkid: u32) -> Result<(), Errno> {
        let mut v = self.vnics.lock().remove(&linkid).ok_or(Errno::ENOENT)?;
        v.port.stop();
        if let Some(t) = v.reader.take() {
            let _ = t.join();
        }
        if v.switch.remove(linkid)
            && let Some(dev) = self.overlay.device(v.overlay)
        {
            self.overlay.stop(&dev);
        }
        self.links.lock().by_id.remove(&linkid);
        Ok(())
    }

    pub fn vnic_list(&self) -> Vec<HostVnic> {
        self.vnics
            .lock()
            .iter()
            .map(|(id, v)| {
                let mut h = HostVnic {
                    hv_linkid: *id,
                    hv_overlay: v.overlay,
                    hv_mac: v.port.mac.0,
                    hv_flags: v.flags,
                    hv_ifindex: v.port.tap.ifindex(),
                    ..Default::default()
                };
                let name = v.port.tap.name().as_bytes();
                h.hv_name[..name.len()].copy_from_slice(name);
                h
            })
            .collect()
    }

    /// `OVERLAY_HOST_STATS`: the counters of an overlay (its device, its
    /// switch and its underlay socket) or of a VNIC.
    pub fn stats(&self, linkid: u32) -> Result<Vec<(&'static str, u64)>, Errno> {
        if let Some(v) = self.vnics.lock().get(&linkid) {
            let s = &v.port.stats;
            return Ok(vec![
                ("out_frames", s.out_frames.load(Relaxed)),
                ("out_bytes", s.out_bytes.load(Relaxed)),
                ("in_frames", s.in_frames.load(Relaxed)),
                ("in_bytes", s.in_bytes.load(Relaxed)),
                ("in_drops", s.in_drops.load(Relaxed)),
                ("out_runts", s.out_runts.load(Relaxed)),
                ("out_malformed", s.out_malformed.load(Relaxed)),
            ]);
        }
        let dev = self.overlay.device(linkid).ok_or(Errno::ENOENT)?;
        let s = &dev.stats;
        // `link_state` as the MAC kstat has it: 1 once the device is
        // activated (its link goes up in OVERLAY_IOC_ACTIVATE), else 0.
        let up = dev.flags() & overlay::dev::flags::ACTIVATED != 0;
        let mut out = vec![
            ("link_state", u64::from(up)),
            ("tx_frames", s.tx_frames.load(Relaxed)),
            ("tx_bytes", s.tx_bytes.load(Relaxed)),
            ("rx_frames", s.rx_frames.load(Relaxed)),
            ("rx_bytes", s.rx_bytes.load(Relaxed)),
            ("tx_drop_stopped", s.tx_drop_stopped.load(Relaxed)),
            ("tx_drop_no_target", s.tx_drop_no_target.load(Relaxed)),
            ("tx_drop_bad_header", s.tx_drop_bad_header.load(Relaxed)),
            ("tx_drop_entry", s.tx_drop_entry.load(Relaxed)),
            ("tx_drop_queue_full", s.tx_drop_queue_full.load(Relaxed)),
            ("tx_drop_encap", s.tx_drop_encap.load(Relaxed)),
            ("tx_drop_dest_type", s.tx_drop_dest_type.load(Relaxed)),
            ("rx_drop_stopped", s.rx_drop_stopped.load(Relaxed)),
            ("misses", s.misses.load(Relaxed)),
            ("lookups", s.lookups.load(Relaxed)),
            ("rx_no_vnic", dev.link().stats.rx_no_port.load(Relaxed)),
            ("local_frames", dev.link().stats.local_frames.load(Relaxed)),
        ];
        if let Some(mux) = dev.mux() {
            let m = &mux.stats;
            out.push(("underlay_rx_datagrams", m.rx_frames.load(Relaxed)));
            out.push(("underlay_rx_decap_failed", m.rx_decap_failed.load(Relaxed)));
            out.push((
                "underlay_rx_unknown_vnetid",
                m.rx_unknown_vnetid.load(Relaxed),
            ));
            if let Some(sock) = mux.socket() {
                let k = &sock.stats;
                out.push(("underlay_tx_datagrams", k.tx_datagrams.load(Relaxed)));
                out.push(("underlay_tx_errors", k.tx_errors.load(Relaxed)));
                out.push((
                    "underlay_tx_family_mismatch",
                    k.tx_family_mismatch.load(Relaxed),
                ));
                out.push(("underlay_rx_errors", k.rx_errors.load(Relaxed)));
            }
        }
        Ok(out)
    }

    /// Tears everything down: VNICs (their TAP devices vanish), then
    /// overlays. Used at shutdown; a restart finds nothing stale.
    pub fn shutdown(&self) {
        let ids: Vec<u32> = self.vnics.lock().keys().copied().collect();
        for id in ids {
            let _ = self.vnic_delete(id);
        }
        for dev in self.overlay.devices() {
            self.overlay.stop(&dev);
            if let Err(e) = self.overlay.delete(dev.linkid()) {
                tracing::warn!(linkid = dev.linkid(), error = %e, "overlay delete at shutdown");
            }
        }
        self.links.lock().by_id.clear();
    }

    /// Whether a link id names an overlay, for class checks.
    pub fn is_overlay(&self, linkid: u32) -> bool {
        self.links
            .lock()
            .by_id
            .get(&linkid)
            .is_some_and(|(c, _)| *c == DATALINK_CLASS_OVERLAY)
    }

    /// The name of a link, for logs.
    pub fn name(&self, linkid: u32) -> String {
        self.link_name(linkid)
            .unwrap_or_else(|| format!("link{linkid}"))
    }
}

/// A random locally administered unicast MAC, as dladm's `random` MAC
/// type gives.
fn random_mac(platform: &LinuxPlatform) -> EtherAddr {
    use overlay::platform::Platform;
    let b = platform.random_seed().to_ne_bytes();
    EtherAddr([(b[0] & 0xfe) | 0x02, b[1], b[2], b[3], b[4], b[5]])
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn linknames() {
        for ok in ["overlay0", "vnic12", "o.v_1"] {
            assert!(valid_linkname(ok), "{ok}");
        }
        for bad in [
            "",
            "0overlay",
            "overlay",
            "over-lay0",
            "a2345678901234567890123456789012",
        ] {
            assert!(!valid_linkname(bad), "{bad}");
        }
    }
}
