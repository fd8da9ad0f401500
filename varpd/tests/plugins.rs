//! varpd in process with a fake driver: plugin loading (Rust, C, a
//! broken file), instances and properties, lookups answered by the
//! direct, files and C plugins, the proxy ARP/NDP/DHCP frames against
//! frames built by hand, persistence and restore, and every client
//! command over the socket with good and bad arguments.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};

use overlay::abi::common::*;
use overlay::abi::targ::*;
use overlay::abi::{EtherAddr, In6Addr};
use overlay_client::ClientError;
use varpd::core::CacheEntry;
use varpd::driver::Driver;
use varpd::persist::Persist;
use varpd::{Errno, Varpd, plugin};
use zerocopy::FromZeros;

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Respond(u64, OverlayTargetPoint),
    Drop(u64),
    Inject(Option<u32>, u64, Vec<u8>),
    Resend(Option<u32>, u64, Vec<u8>),
    Degrade(u32, String),
    Restore(u32),
}

#[derive(Default)]
struct Fake {
    links: Mutex<HashMap<u32, OverlayTargInfo>>,
    assoc: Mutex<HashMap<u32, OverlayTargAssociate>>,
    frames: Mutex<HashMap<u64, Vec<u8>>>,
    cache: Mutex<BTreeMap<(u32, [u8; 6]), OverlayTargCacheEntry>>,
    ev: Mutex<Vec<Ev>>,
}

impl Fake {
    fn new(links: &[u32]) -> Arc<Fake> {
        let f = Fake::default();
        for &l in links {
            f.links.lock().unwrap().insert(
                l,
                OverlayTargInfo {
                    oti_linkid: l,
                    oti_needs: OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT,
                    oti_flags: 0,
                    oti_vnetid: 23,
                },
            );
        }
        Arc::new(f)
    }
    fn take(&self) -> Vec<Ev> {
        std::mem::take(&mut *self.ev.lock().unwrap())
    }
    fn push(&self, e: Ev) {
        self.ev.lock().unwrap().push(e)
    }
}

impl Driver for Fake {
    fn info(&self, linkid: u32) -> Result<OverlayTargInfo, Errno> {
        self.links
            .lock()
            .unwrap()
            .get(&linkid)
            .copied()
            .ok_or(Errno::ENOENT)
    }
    fn associate(&self, a: &OverlayTargAssociate) -> Result<(), Errno> {
        let mut m = self.assoc.lock().unwrap();
        if m.contains_key(&a.ota_linkid) {
            return Err(Errno::EEXIST);
        }
        m.insert(a.ota_linkid, *a);
        if let Some(i) = self.links.lock().unwrap().get_mut(&a.ota_linkid) {
            i.oti_flags |= OVERLAY_TARG_INFO_F_ACTIVE;
        }
        Ok(())
    }
    fn disassociate(&self, linkid: u32) -> Result<(), Errno> {
        self.assoc.lock().unwrap().remove(&linkid);
        if let Some(i) = self.links.lock().unwrap().get_mut(&linkid) {
            i.oti_flags &= !OVERLAY_TARG_INFO_F_ACTIVE;
        }
        Ok(())
    }
    fn degrade(&self, linkid: u32, msg: &str) -> Result<(), Errno> {
        self.push(Ev::Degrade(linkid, msg.into()));
        Ok(())
    }
    fn restore(&self, linkid: u32) -> Result<(), Errno> {
        self.push(Ev::Restore(linkid));
        Ok(())
    }
    fn lookup(&self) -> Result<OverlayTargLookup, Errno> {
        std::thread::sleep(std::time::Duration::from_millis(10));
        Err(Errno::ETIME)
    }
    fn respond(&self, reqid: u64, p: &OverlayTargetPoint) -> Result<(), Errno> {
        self.push(Ev::Respond(reqid, *p));
        Ok(())
    }
    fn drop_req(&self, reqid: u64) -> Result<(), Errno> {
        self.push(Ev::Drop(reqid));
        Ok(())
    }
    fn pkt(&self, reqid: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let f = self.frames.lock().unwrap();
        let f = f.get(&reqid).ok_or(Errno::EINVAL)?;
        let n = f.len().min(buf.len());
        buf[..n].copy_from_slice(&f[..n]);
        Ok(n)
    }
    fn inject(&self, l: Option<u32>, reqid: u64, frame: &[u8]) -> Result<(), Errno> {
        self.push(Ev::Inject(l, reqid, frame.to_vec()));
        Ok(())
    }
    fn resend(&self, l: Option<u32>, reqid: u64, frame: &[u8]) -> Result<(), Errno> {
        self.push(Ev::Resend(l, reqid, frame.to_vec()));
        Ok(())
    }
    fn list(&self) -> Result<Vec<u32>, Errno> {
        let mut v: Vec<u32> = self.links.lock().unwrap().keys().copied().collect();
        v.sort();
        Ok(v)
    }
    fn cache_get(&self, linkid: u32, mac: EtherAddr) -> Result<OverlayTargCacheEntry, Errno> {
        self.cache
            .lock()
            .unwrap()
            .get(&(linkid, mac.0))
            .copied()
            .ok_or(Errno::ENOENT)
    }
    fn cache_set(&self, linkid: u32, e: &OverlayTargCacheEntry) -> Result<(), Errno> {
        self.cache
            .lock()
            .unwrap()
            .insert((linkid, e.otce_mac.0), *e);
        Ok(())
    }
    fn cache_remove(&self, linkid: u32, mac: EtherAddr) -> Result<(), Errno> {
        self.cache
            .lock()
            .unwrap()
            .remove(&(linkid, mac.0))
            .map(drop)
            .ok_or(Errno::ENOENT)
    }
    fn cache_flush(&self, linkid: u32) -> Result<(), Errno> {
        self.cache.lock().unwrap().retain(|k, _| k.0 != linkid);
        Ok(())
    }
    fn cache_iter(
        &self,
        linkid: u32,
        marker: u64,
        count: u16,
    ) -> Result<(Vec<OverlayTargCacheEntry>, u64), Errno> {
        let m = IterMarker::from_u64(marker);
        let c = self.cache.lock().unwrap();
        let all: Vec<_> = c
            .iter()
            .filter(|(k, _)| k.0 == linkid && k.1 >= m.mac)
            .map(|(_, v)| *v)
            .collect();
        let n = all.len().min(usize::from(count));
        let next = match all.get(n) {
            Some(e) => IterMarker {
                mac: e.otce_mac.0,
                done: 0,
            },
            None => IterMarker {
                mac: [0; 6],
                done: 1,
            },
        };
        Ok((all[..n].to_vec(), next.to_u64()))
    }
}

fn load() -> &'static Vec<plugin::LoadReport> {
    static R: OnceLock<Vec<plugin::LoadReport>> = OnceLock::new();
    R.get_or_init(|| {
        varpd::keep_exports();
        plugin::load_dir(common::plugin_dir()).expect("plugin dir")
    })
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("varpd-t-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ip(s: &str) -> In6Addr {
    In6Addr::from(s.parse::<IpAddr>().unwrap())
}

fn u64v(v: u64) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

#[test]
fn loading_rust_c_and_broken_plugins() {
    let r = load();
    let by = |n: &str| {
        r.iter()
            .find(|x| x.path.file_name().unwrap().to_string_lossy() == n)
            .unwrap_or_else(|| panic!("{n} not tried: {r:?}"))
    };
    assert_eq!(
        by("libvarpd_direct.so").result,
        Ok(vec!["direct".to_string()])
    );
    assert_eq!(
        by("libvarpd_files.so").result,
        Ok(vec!["files".to_string()])
    );
    assert_eq!(
        by("libvarpd_ctest.so").result,
        Ok(vec!["ctest".to_string()])
    );
    assert_eq!(
        by("libvarpd_itest.so").result,
        Ok(vec!["itest".to_string()])
    );
    let broken = by("libvarpd_broken.so").result.as_ref().unwrap_err();
    assert!(broken.contains("dlopen failed"), "{broken}");
    let empty = by("libvarpd_empty.so").result.as_ref().unwrap_err();
    assert!(
        empty.contains("registered no plugin") && empty.contains("#pragma init"),
        "{empty}"
    );
    assert!(!r.iter().any(|x| x.path.ends_with("README")));
    let names = plugin::names();
    for n in ["direct", "files", "ctest"] {
        assert!(names.contains(&n.to_string()), "{names:?}");
    }
    assert!(plugin::load_dir(std::path::Path::new("/nonexistent/varpd")).is_err());
    // Loading again changes nothing (no duplicate registrations).
    let again = plugin::load_dir(common::plugin_dir()).unwrap();
    assert!(
        again
            .iter()
            .all(|x| x.result.as_ref().map_or(true, |v| v.is_empty()))
    );
}

#[test]
fn direct_point_mode() {
    load();
    let f = Fake::new(&[10]);
    let v = Varpd::new(f.clone(), None);
    assert_eq!(v.create(10, "nope"), Err(Errno::ENOENT));
    assert_eq!(v.create(99, "direct"), Err(Errno::ENOENT));
    let id = v.create(10, "direct").unwrap();
    // The illumos quirk (abort) fixed: a second instance is EEXIST.
    assert_eq!(v.create(10, "direct"), Err(Errno::EEXIST));
    assert_eq!(v.nprops(id), Ok(3));
    let (pid, pi) = v.propinfo_by_name(id, "direct/dest_port").unwrap();
    assert_eq!(
        (pid, pi.ptype, pi.prot),
        (2, OVERLAY_PROP_T_UINT, OVERLAY_PROP_PERM_RRW)
    );
    assert_eq!(pi.uint32_ranges().collect::<Vec<_>>(), vec![(1, 65535)]);
    assert_eq!(v.activate(id), Err(Errno::EAGAIN));
    v.setprop(id, 1, &ip("192.0.2.9").0).unwrap();
    // A plugin's getprop error is returned (illumos swallowed it).
    assert_eq!(v.getprop(id, 2), Ok(vec![]));
    assert_eq!(v.setprop(id, 2, &u64v(0)), Err(Errno::EINVAL));
    v.setprop(id, 2, &u64v(4789)).unwrap();
    assert_eq!(v.getprop(id, 2), Ok(u64v(4789)));
    assert_eq!(v.setprop(id, 0, b"files\0"), Err(Errno::EPERM));
    assert_eq!(v.getprop(id, 0), Ok(b"direct\0".to_vec()));
    assert_eq!(v.propinfo(id, 3).unwrap_err(), Errno::EINVAL);
    v.activate(id).unwrap();
    assert_eq!(v.activate(id), Err(Errno::EEXIST));
    let a = f.assoc.lock().unwrap()[&10];
    assert_eq!((a.ota_mode, a.ota_id), (OVERLAY_TARGET_POINT, id));
    assert_eq!(
        (a.ota_point.otp_ip, a.ota_point.otp_port),
        (ip("192.0.2.9"), 4789)
    );
    v.destroy(id).unwrap();
    assert!(f.assoc.lock().unwrap().is_empty(), "destroy disassociates");
    assert_eq!(v.destroy(id), Err(Errno::ENOENT));
}

// --- hand-built frames ---------------------------------------------------------

const A: [u8; 6] = [0xde, 0xad, 0xbe, 0xef, 0, 2];
const B: [u8; 6] = [0xde, 0xad, 0xbe, 0xef, 0, 1];
const C: [u8; 6] = [0xde, 0xad, 0xbe, 0xef, 0, 0];

const MAP: &str = r#"{
    "de:ad:be:ef:00:00": { "arp": "10.55.55.2", "ndp": "fe80::3", "ip": "10.88.88.69", "port": 4789 },
    "de:ad:be:ef:0:1":   { "arp": "10.55.55.3", "ndp": "fe80::4", "ip": "10.88.88.70", "port": 4789,
                           "dhcp-proxy": "de:ad:be:ef:00:00" },
    "DE-AD-BE-EF-00-02": { "arp": "10.55.55.4", "ndp": "fe80::5", "ip": "2001:db8::71", "port": 4790 }
}"#;

fn arp_request() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&A);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&A);
    f.extend_from_slice(&[10, 55, 55, 4]);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&[10, 55, 55, 3]);
    f
}

fn arp_reply_expected() -> Vec<u8> {
    let mut f = A.to_vec();
    f.extend_from_slice(&B);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&B);
    f.extend_from_slice(&[10, 55, 55, 3]);
    f.extend_from_slice(&A);
    f.extend_from_slice(&[10, 55, 55, 4]);
    f
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

/// RFC 1071 over the pseudo-header and message, written out again here.
fn cksum6(src: [u8; 16], dst: [u8; 16], msg: &[u8]) -> [u8; 2] {
    let mut data = Vec::new();
    data.extend_from_slice(&src);
    data.extend_from_slice(&dst);
    data.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, 58]);
    data.extend_from_slice(msg);
    if data.len() % 2 == 1 {
        data.push(0);
    }
    let mut s: u64 = data
        .chunks(2)
        .map(|c| u64::from(c[0]) << 8 | u64::from(c[1]))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    (!(s as u16)).to_be_bytes()
}

fn ns_request() -> Vec<u8> {
    let mut f = vec![0x33, 0x33, 0xff, 0, 0, 4];
    f.extend_from_slice(&A);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 32, 58, 255]);
    f.extend_from_slice(&v6("fe80::5"));
    f.extend_from_slice(&v6("ff02::1:ff00:4"));
    let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&v6("fe80::4"));
    icmp.extend_from_slice(&[1, 1]);
    icmp.extend_from_slice(&A);
    let ck = cksum6(v6("fe80::5"), v6("ff02::1:ff00:4"), &icmp);
    icmp[2..4].copy_from_slice(&ck);
    f.extend_from_slice(&icmp);
    f
}

fn na_expected() -> Vec<u8> {
    let mut f = A.to_vec();
    f.extend_from_slice(&B);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 32, 58, 255]);
    f.extend_from_slice(&v6("fe80::4"));
    f.extend_from_slice(&v6("fe80::5"));
    let mut icmp = vec![136, 0, 0, 0, 0x60, 0, 0, 0];
    icmp.extend_from_slice(&v6("fe80::4"));
    icmp.extend_from_slice(&[2, 1]);
    icmp.extend_from_slice(&B);
    let ck = cksum6(v6("fe80::4"), v6("fe80::5"), &icmp);
    icmp[2..4].copy_from_slice(&ck);
    f.extend_from_slice(&icmp);
    f
}

fn dhcp_discover(src: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    let bootp_len = 240 + 4;
    let udp_len = 8 + bootp_len;
    let ip_len = 20 + udp_len;
    f.extend_from_slice(&[
        0x45,
        0,
        (ip_len >> 8) as u8,
        ip_len as u8,
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&[0, 0, 0, 0, 255, 255, 255, 255]);
    f.extend_from_slice(&[0, 68, 0, 67, (udp_len >> 8) as u8, udp_len as u8, 0, 0]);
    let mut bootp = vec![0u8; 240];
    bootp[0] = 1;
    bootp[1] = 1;
    bootp[2] = 6;
    bootp[28..34].copy_from_slice(&src);
    bootp[236..240].copy_from_slice(&[99, 130, 83, 99]);
    f.extend_from_slice(&bootp);
    f.extend_from_slice(&[53, 1, 1, 255]);
    f
}

fn req(id: u64, reqid: u64, frame: &[u8], f: &Fake, sap: u32) -> OverlayTargLookup {
    f.frames.lock().unwrap().insert(reqid, frame.to_vec());
    let mut l = OverlayTargLookup::new_zeroed();
    l.otl_dlid = 20;
    l.otl_reqid = reqid;
    l.otl_varpdid = id;
    l.otl_vnetid = 23;
    l.otl_hdrsize = 14;
    l.otl_pktsize = frame.len() as u64 - 14;
    l.otl_dstaddr = EtherAddr(frame[0..6].try_into().unwrap());
    l.otl_srcaddr = EtherAddr(frame[6..12].try_into().unwrap());
    l.otl_dsttype = l.otl_dstaddr.addr_type();
    l.otl_sap = sap;
    l
}

fn unicast(dst: [u8; 6]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&A);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[0x45; 46]);
    f
}

#[test]
fn files_lookups_and_proxies() {
    load();
    let d = tmp("files");
    let map = d.join("map.json");
    std::fs::write(&map, MAP).unwrap();
    let f = Fake::new(&[20]);
    let v = Varpd::new(f.clone(), None);
    let id = v.create(20, "files").unwrap();
    assert_eq!(v.activate(id), Err(Errno::EAGAIN), "no files/config");
    let (pid, _) = v.propinfo_by_name(id, "files/config").unwrap();
    let mut path = map.to_string_lossy().into_owned().into_bytes();
    path.push(0);
    v.setprop(id, pid, &path).unwrap();
    assert_eq!(v.getprop(id, pid).unwrap(), path);
    v.activate(id).unwrap();
    let assoc = f.assoc.lock().unwrap()[&20];
    assert_eq!(assoc.ota_mode, OVERLAY_TARGET_DYNAMIC);

    // Unicast: known, known in another notation, unknown.
    v.dispatch(req(id, 1, &unicast(B), &f, 0x800));
    v.dispatch(req(id, 2, &unicast(A), &f, 0x800));
    v.dispatch(req(id, 3, &unicast([2, 0, 0, 0, 0, 9]), &f, 0x800));
    // A request for an unknown instance is dropped.
    v.dispatch(req(id + 1000, 4, &unicast(B), &f, 0x800));
    assert_eq!(
        f.take(),
        vec![
            Ev::Respond(
                1,
                OverlayTargetPoint::new(EtherAddr::ZERO, ip("10.88.88.70"), 4789)
            ),
            Ev::Respond(
                2,
                OverlayTargetPoint::new(EtherAddr::ZERO, ip("2001:db8::71"), 4790)
            ),
            Ev::Drop(3),
            Ev::Drop(4),
        ]
    );

    // Proxy ARP: the reply goes up, the request is dropped.
    v.dispatch(req(id, 10, &arp_request(), &f, 0x806));
    assert_eq!(
        f.take(),
        vec![Ev::Inject(None, 10, arp_reply_expected()), Ev::Drop(10)]
    );
    // Unknown target, gratuitous, and a reply are dropped with no answer.
    let mut unknown = arp_request();
    unknown[38..42].copy_from_slice(&[10, 55, 55, 99]);
    let mut grat = arp_request();
    grat[38..42].copy_from_slice(&[10, 55, 55, 4]);
    let mut reply = arp_request();
    reply[21] = 2;
    for (i, fr) in [unknown, grat, reply].iter().enumerate() {
        v.dispatch(req(id, 11 + i as u64, fr, &f, 0x806));
    }
    assert_eq!(f.take(), vec![Ev::Drop(11), Ev::Drop(12), Ev::Drop(13)]);
    // A frame too short for ARP.
    v.dispatch(req(id, 14, &arp_request()[..30], &f, 0x806));
    assert_eq!(f.take(), vec![Ev::Drop(14)]);

    // Proxy NDP.
    v.dispatch(req(id, 20, &ns_request(), &f, 0x86dd));
    assert_eq!(
        f.take(),
        vec![Ev::Inject(None, 20, na_expected()), Ev::Drop(20)]
    );
    // Code ≠ 0 is refused (the illumos quirk accepted it).
    let mut bad = ns_request();
    bad[55] = 1;
    v.dispatch(req(id, 21, &bad, &f, 0x86dd));
    // No source link-layer option.
    let mut noopt = ns_request();
    noopt.truncate(noopt.len() - 8);
    noopt[19] = 24;
    v.dispatch(req(id, 22, &noopt, &f, 0x86dd));
    assert_eq!(f.take(), vec![Ev::Drop(21), Ev::Drop(22)]);

    // Proxy DHCP: B has a dhcp-proxy (C); A has none.
    let disc = dhcp_discover(B);
    v.dispatch(req(id, 30, &disc, &f, 0x800));
    let mut want = disc.clone();
    want[..6].copy_from_slice(&C);
    assert_eq!(f.take(), vec![Ev::Resend(None, 30, want), Ev::Drop(30)]);
    v.dispatch(req(id, 31, &dhcp_discover(A), &f, 0x800));
    // Not UDP (the illumos quirk accepted IPv4 of any protocol).
    let mut tcp = dhcp_discover(B);
    tcp[23] = 6;
    v.dispatch(req(id, 32, &tcp, &f, 0x800));
    assert_eq!(f.take(), vec![Ev::Drop(31), Ev::Drop(32)]);

    // A bad file is refused, the overlay degraded, the old map kept;
    // a good one is taken and the overlay restored (SIGHUP path).
    std::fs::write(&map, "{ \"de:ad:be:ef:00:01\": { \"ip\": \"10.0.0.1\" } }").unwrap();
    plugin::reload_all();
    let ev = f.take();
    assert!(
        matches!(&ev[..], [Ev::Degrade(20, m)] if m.contains("\"port\" is missing")),
        "{ev:?}"
    );
    v.dispatch(req(id, 40, &unicast(B), &f, 0x800));
    assert_eq!(
        f.take(),
        vec![Ev::Respond(
            40,
            OverlayTargetPoint::new(EtherAddr::ZERO, ip("10.88.88.70"), 4789)
        )]
    );
    std::fs::write(
        &map,
        r#"{"de:ad:be:ef:00:01": {"ip": "192.0.2.1", "port": 1}}"#,
    )
    .unwrap();
    plugin::reload_all();
    assert_eq!(f.take(), vec![Ev::Restore(20)]);
    v.dispatch(req(id, 41, &unicast(B), &f, 0x800));
    assert_eq!(
        f.take(),
        vec![Ev::Respond(
            41,
            OverlayTargetPoint::new(EtherAddr::ZERO, ip("192.0.2.1"), 1)
        )]
    );
    // A change of the file is noticed without SIGHUP.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(
        &map,
        r#"{"de:ad:be:ef:00:01": {"ip": "192.0.2.2", "port": 2}}"#,
    )
    .unwrap();
    let t0 = std::time::Instant::now();
    loop {
        v.dispatch(req(id, 42, &unicast(B), &f, 0x800));
        let ev = f.take();
        if ev
            == vec![Ev::Respond(
                42,
                OverlayTargetPoint::new(EtherAddr::ZERO, ip("192.0.2.2"), 2),
            )]
        {
            break;
        }
        assert!(
            t0.elapsed().as_secs() < 5,
            "file change not noticed: {ev:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    v.destroy(id).unwrap();
}

#[test]
fn c_plugin_lookups_persistence_and_restore() {
    load();
    let d = tmp("persist");
    let f = Fake::new(&[30, 31]);
    let v = Varpd::new(f.clone(), Some(Persist::new(&d).unwrap()));
    let id = v.create(30, "ctest").unwrap();
    let (pid, pi) = v.propinfo_by_name(id, "ctest/port").unwrap();
    assert_eq!(&pi.default[..pi.defsize as usize], &4789u32.to_ne_bytes());
    assert_eq!(v.getprop(id, pid), Ok(vec![]));
    // EOVERFLOW from the C plugin is the host's; varpd speaks illumos.
    assert_eq!(v.setprop(id, pid, &[1, 2]), Err(Errno::EOVERFLOW));
    v.setprop(id, pid, &u64v(5555)).unwrap();
    v.activate(id).unwrap();
    assert!(d.join(format!("{id}.varpd")).exists());
    // The plugin's start injected a cache entry and a gratuitous ARP.
    let e = f.cache.lock().unwrap()[&(30, [2, 0, 0, 0, 0, 0x55])];
    assert_eq!(
        (e.otce_flags, e.otce_dest.otp_ip, e.otce_dest.otp_port),
        (0, ip("192.0.2.55"), 4789)
    );
    let mut garp = vec![0xff; 6];
    garp.extend_from_slice(&[2, 0, 0, 0, 0, 0x77, 0x81, 0x00, 0x00, 0x07, 0x08, 0x06]);
    garp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 0x77, 10, 9, 9, 9]);
    garp.extend_from_slice(&[0xff; 6]);
    garp.extend_from_slice(&[10, 9, 9, 9]);
    assert_eq!(f.take(), vec![Ev::Inject(Some(30), 0, garp)]);
    v.dispatch(req(id, 1, &unicast(B), &f, 0x800));
    v.dispatch(req(id, 2, &arp_request(), &f, 0x806));
    let mut reply = arp_reply_expected();
    let mac77 = [2, 0, 0, 0, 0, 0x77];
    reply[6..12].copy_from_slice(&mac77);
    reply[22..28].copy_from_slice(&mac77);
    assert_eq!(
        f.take(),
        vec![
            Ev::Respond(
                1,
                OverlayTargetPoint::new(EtherAddr::ZERO, ip("192.0.2.77"), 5555)
            ),
            Ev::Inject(None, 2, reply),
            Ev::Drop(2),
        ]
    );

    // A second, never activated instance is not saved.
    let id2 = v.create(31, "ctest").unwrap();
    assert!(!d.join(format!("{id2}.varpd")).exists());

    // "Restart": a new varpd on the same directory and driver restores
    // the activated instance under the same id and re-associates it;
    // the link without an instance is degraded.
    drop(v);
    let v2 = Varpd::new(f.clone(), Some(Persist::new(&d).unwrap()));
    v2.restore_all();
    assert_eq!(v2.lookup_link(30), Ok(id));
    assert_eq!(v2.getprop(id, pid), Ok(u64v(5555)));
    assert_eq!(f.assoc.lock().unwrap()[&30].ota_id, id);
    let ev = f.take();
    assert!(
        ev.contains(&Ev::Degrade(31, "no varpd instance exists".into())),
        "{ev:?}"
    );
    assert!(
        !ev.iter().any(|e| matches!(e, Ev::Degrade(30, _))),
        "{ev:?}"
    );
    v2.dispatch(req(id, 3, &unicast(B), &f, 0x800));
    assert_eq!(
        f.take(),
        vec![Ev::Respond(
            3,
            OverlayTargetPoint::new(EtherAddr::ZERO, ip("192.0.2.77"), 5555)
        )]
    );
    // A saved instance whose link is gone is discarded.
    f.links.lock().unwrap().remove(&30);
    let v3 = Varpd::new(f.clone(), Some(Persist::new(&d).unwrap()));
    v3.restore_all();
    assert_eq!(v3.lookup_link(30), Err(Errno::ENOENT));
    assert!(!d.join(format!("{id}.varpd")).exists());
}

fn errno(r: Result<impl std::fmt::Debug, ClientError>) -> Errno {
    match r {
        Err(ClientError::Errno(e)) => e,
        other => panic!("expected an errno, got {other:?}"),
    }
}

#[test]
fn client_protocol_every_command() {
    use varpd::client::VarpdClient;
    use varpd::proto::*;
    load();
    let d = tmp("proto");
    let f = Fake::new(&[40, 41]);
    let v = Varpd::new(f.clone(), None);
    let sock = d.join("varpd.door");
    let server = varpd::server::Server::bind(&sock).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (v2, stop2) = (v.clone(), stop.clone());
    let t = std::thread::spawn(move || server.serve(&v2, &stop2));
    let c = VarpdClient::connect(&sock).unwrap();

    // CREATE
    assert_eq!(errno(c.create(40, "nope")), Errno::ENOENT);
    assert_eq!(errno(c.create(77, "direct")), Errno::ENOENT);
    let id = c.create(40, "direct").unwrap();
    assert_eq!(errno(c.create(40, "files")), Errno::EEXIST);
    // LOOKUP, TARGET_MODE
    assert_eq!(c.lookup(40).unwrap(), id);
    assert_eq!(errno(c.lookup(41)), Errno::ENOENT);
    assert_eq!(
        c.target_mode(id).unwrap(),
        (
            OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT,
            OVERLAY_TARGET_POINT
        )
    );
    assert_eq!(errno(c.target_mode(id + 100)), Errno::ENOENT);
    // NPROPS, PROPINFO
    assert_eq!(c.nprops(id).unwrap(), 3);
    assert_eq!(errno(c.nprops(0)), Errno::ENOENT);
    let s = c.propinfo(id, 0).unwrap();
    assert_eq!(
        (s.name.as_str(), s.ptype, s.prot),
        ("search", OVERLAY_PROP_T_STRING, OVERLAY_PROP_PERM_READ)
    );
    let pi = c.propinfo_by_name(id, "direct/dest_ip").unwrap();
    assert_eq!((pi.id, pi.ptype), (1, OVERLAY_PROP_T_IP));
    assert_eq!(errno(c.propinfo_by_name(id, "direct/nope")), Errno::ENOENT);
    assert_eq!(errno(c.propinfo(id, 9)), Errno::EINVAL);
    // SETPROP, GETPROP
    assert_eq!(errno(c.setprop(id, 0, b"files\0")), Errno::EPERM);
    assert_eq!(errno(c.setprop(id, 1, &[])), Errno::EINVAL);
    assert_eq!(errno(c.setprop(id, 1, &[0; 257])), Errno::EOVERFLOW);
    assert_eq!(errno(c.setprop(id, 1, &[1; 4])), Errno::EOVERFLOW);
    c.setprop(id, 1, &ip("192.0.2.5").0).unwrap();
    c.setprop_by_name(id, "direct/dest_port", &u64v(4789))
        .unwrap();
    assert_eq!(c.getprop(id, 1).unwrap(), ip("192.0.2.5").0.to_vec());
    assert_eq!(c.getprop(id, 0).unwrap(), b"direct\0".to_vec());
    assert_eq!(errno(c.getprop(id, 7)), Errno::EINVAL);
    // ACTIVATE
    c.activate(id).unwrap();
    assert_eq!(errno(c.activate(id)), Errno::EEXIST);
    assert_eq!(errno(c.activate(id + 100)), Errno::ENOENT);
    // Cache commands (point mode in the fake behaves as a store).
    let key = EtherAddr([2, 0, 0, 0, 0, 1]);
    let e = CacheEntry {
        mac: EtherAddr([2, 0, 0, 0, 0, 2]),
        flags: 0,
        ip: ip("192.0.2.8"),
        port: 4789,
    };
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        c.cache_set(id, key, &e).unwrap();
        assert_eq!(c.cache_get(id, key).unwrap(), e);
        for i in 3..8u8 {
            c.cache_set(id, EtherAddr([2, 0, 0, 0, 0, i]), &e).unwrap();
        }
        assert_eq!(c.cache_walk(id).unwrap().len(), 6);
        let (ents, m) = c.cache_walk_raw(id, 0, 4).unwrap();
        assert_eq!(ents.len(), 4);
        let (ents2, _) = c.cache_walk_raw(id, m, 4).unwrap();
        assert_eq!(ents2.len(), 2);
        assert_eq!(errno(c.cache_walk_raw(id, 0, 201)), Errno::E2BIG);
        c.cache_delete(id, key).unwrap();
        assert_eq!(errno(c.cache_get(id, key)), Errno::ENOENT);
        assert_eq!(errno(c.cache_delete(id, key)), Errno::ENOENT);
        c.cache_flush(id).unwrap();
        assert!(c.cache_walk(id).unwrap().is_empty());
    } else {
        assert_eq!(errno(c.cache_set(id, key, &e)), Errno::EPERM);
        assert_eq!(errno(c.cache_flush(id)), Errno::EPERM);
        assert_eq!(errno(c.cache_delete(id, key)), Errno::EPERM);
    }
    assert_eq!(errno(c.cache_get(id + 100, key)), Errno::ENOENT);
    // Raw malformed requests: unknown command, short request.
    let mut bad = request(VARPD_CLIENT_MAX);
    let r = c.call_raw(&bad).unwrap();
    assert_eq!(errno_of(&r), Errno::EINVAL.0 as u32);
    bad[..4].copy_from_slice(&0u32.to_ne_bytes());
    assert_eq!(errno_of(&c.call_raw(&bad).unwrap()), Errno::EINVAL.0 as u32);
    let r = c.call_raw(&[1, 2, 3]).unwrap();
    assert_eq!(
        (r.len(), errno_of(&r)),
        (ERESP_SIZE, Errno::EINVAL.0 as u32)
    );
    // DESTROY
    c.destroy(id).unwrap();
    assert_eq!(errno(c.destroy(id)), Errno::ENOENT);
    assert_eq!(errno(c.lookup(40)), Errno::ENOENT);

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    t.join().unwrap();
    assert!(!sock.exists());
}

#[test]
fn usdt_probes_are_in_the_binary() {
    let out = std::process::Command::new("readelf")
        .args(["-n", env!("CARGO_BIN_EXE_varpd")])
        .output()
        .expect("readelf (binutils) is required");
    let text = String::from_utf8_lossy(&out.stdout);
    for p in ["lookup-start", "lookup-done"] {
        assert!(
            text.contains("Provider: varpd") && text.contains(&format!("Name: {p}")),
            "probe varpd:::{p} missing:\n{text}"
        );
    }
}

/// A plugin written as illumos plugins are (B_TRUE, ETHERADDRL, bcopy,
/// nvlist_parse_json, nvlist iteration in save and restore, every
/// property helper), built with -Wall -Werror against our header alone:
/// it registers, answers lookups, and survives a save/restore cycle.
#[test]
fn illumos_style_c_plugin() {
    load();
    let d = tmp("itest");
    let f = Fake::new(&[40]);
    let v = Varpd::new(f.clone(), Some(Persist::new(&d).unwrap()));
    let id = v.create(40, "itest").unwrap();
    assert_eq!(v.activate(id), Err(Errno::EAGAIN), "no map yet");

    let (port_id, port) = v.propinfo_by_name(id, "itest/port").unwrap();
    assert_eq!(
        &port.default[..port.defsize as usize],
        &4789u64.to_ne_bytes()
    );
    let (pol_id, pol) = v.propinfo_by_name(id, "itest/policy").unwrap();
    assert_eq!(&pol.default[..pol.defsize as usize], b"drop\0");
    // A mac_propval_range_t of two strings (MAC_PROPVAL_STR = 2).
    let word = |i: usize| u32::from_ne_bytes(pol.poss[i..i + 4].try_into().unwrap());
    assert_eq!((word(0), word(4)), (2, 2), "{pol:?}");
    assert_eq!(v.setprop(id, port_id, &u64v(0)), Err(Errno::EINVAL));
    v.setprop(id, port_id, &u64v(6000)).unwrap();
    v.setprop(id, pol_id, b"answer\0").unwrap();

    let (map_id, _) = v.propinfo_by_name(id, "itest/map").unwrap();
    // The MAC is written with leading zeros; the plugin normalises it.
    let map = b"{\"de:ad:be:ef:00:01\": {\"ip\": \"::ffff:192.0.2.1\"}}\0";
    v.setprop(id, map_id, map).unwrap();
    v.activate(id).unwrap();

    v.dispatch(req(id, 1, &unicast(B), &f, 0x800));
    v.dispatch(req(id, 2, &unicast(C), &f, 0x800));
    let sink = OverlayTargetPoint::new(EtherAddr::ZERO, ip("192.0.2.99"), 4789);
    assert_eq!(
        f.take(),
        vec![
            Ev::Respond(
                1,
                OverlayTargetPoint::new(EtherAddr::ZERO, ip("192.0.2.1"), 6000)
            ),
            Ev::Respond(2, sink),
        ]
    );

    // Restart: restore walks the saved pairs, nested list included.
    drop(v);
    let v2 = Varpd::new(f.clone(), Some(Persist::new(&d).unwrap()));
    v2.restore_all();
    assert_eq!(v2.lookup_link(40), Ok(id));
    assert_eq!(v2.getprop(id, port_id), Ok(u64v(6000)));
    assert_eq!(v2.getprop(id, pol_id), Ok(b"answer\0".to_vec()));
    assert_eq!(v2.getprop(id, map_id), Ok(map.to_vec()));
    v2.dispatch(req(id, 3, &unicast(B), &f, 0x800));
    let ev = f.take();
    assert!(
        ev.contains(&Ev::Respond(
            3,
            OverlayTargetPoint::new(EtherAddr::ZERO, ip("192.0.2.1"), 6000)
        )),
        "{ev:?}"
    );
}

/// A Rust plugin built as users install it (release profile) panics in
/// setprop, start and lookup: each panic is caught by the SDK, the call
/// fails (EIO, or DROP for the lookup), the overlay is degraded with a
/// message naming the plugin and the operation, and varpd goes on
/// serving the plugin's other instances.
#[test]
fn a_panicking_release_plugin_degrades_only_its_overlay() {
    varpd::keep_exports();
    let dir = common::release_panic_plugin_dir();
    let r = plugin::load_dir(&dir).unwrap();
    assert_eq!(r[0].result, Ok(vec!["panicky".to_string()]), "{r:?}");
    let f = Fake::new(&[60, 61, 62, 63]);
    let v = Varpd::new(f.clone(), None);
    let healthy = v.create(60, "panicky").unwrap();
    v.activate(healthy).unwrap();
    let (at, _) = v.propinfo_by_name(healthy, "panicky/at").unwrap();
    let degraded = |link: u32, op: &str| {
        Ev::Degrade(
            link,
            format!("search plugin panicky failed: panic in {op}: told to panic in {op}"),
        )
    };

    let in_setprop = v.create(61, "panicky").unwrap();
    assert_eq!(v.setprop(in_setprop, at, b"setprop\0"), Err(Errno::EIO));
    assert_eq!(f.take(), vec![degraded(61, "setprop")]);

    let in_start = v.create(62, "panicky").unwrap();
    v.setprop(in_start, at, b"start\0").unwrap();
    assert_eq!(v.activate(in_start), Err(Errno::EIO));
    assert_eq!(f.take(), vec![degraded(62, "start")]);

    let in_lookup = v.create(63, "panicky").unwrap();
    v.setprop(in_lookup, at, b"lookup\0").unwrap();
    v.activate(in_lookup).unwrap();
    v.dispatch(req(in_lookup, 1, &unicast(B), &f, 0x800));
    assert_eq!(f.take(), vec![Ev::Drop(1), degraded(63, "lookup")]);

    // The others, and this one again, are still served.
    v.dispatch(req(healthy, 2, &unicast(B), &f, 0x800));
    let answer = OverlayTargetPoint::new(EtherAddr::ZERO, ip("192.0.2.7"), 4789);
    assert_eq!(f.take(), vec![Ev::Respond(2, answer)]);
    v.dispatch(req(in_lookup, 3, &unicast(B), &f, 0x800));
    assert_eq!(f.take(), vec![Ev::Drop(3), degraded(63, "lookup")]);
}
