//! varpd lookup benchmark, files plugin with 100k mappings. Reports
//! numbers; passes or fails nothing.
//!
//! 1. In process: a lookup dispatched to the files plugin and answered
//!    (varpd's dispatch, the plugin's map, the reply), against a driver
//!    that only records the answer: latency p50/p99 and lookups per
//!    second.
//! 2. End to end (root): overlayd and varpd in a network namespace, a
//!    VNIC; frames to MACs never seen before are written into the VNIC
//!    and the time until their VXLAN packet reaches a UDP socket at the
//!    destination the map names is measured (first frame to
//!    destination: the miss, the upcall, LOOKUP, the plugin, RESPOND,
//!    encapsulation, the send), then a burst of new destinations for
//!    lookups resolved per second.
//!
//! `cargo bench -p varpd --bench lookup`

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use overlay::abi::common::*;
use overlay::abi::targ::*;
use overlay::abi::{EtherAddr, In6Addr};
use varpd::Errno;
use varpd::driver::Driver;
use zerocopy::FromZeros;

const ENTRIES: u32 = 100_000;

fn dst_mac(k: u32) -> [u8; 6] {
    let b = k.to_be_bytes();
    [0x02, 0x10, b[0], b[1], b[2], b[3]]
}

fn write_map(port: u16) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("varpd-bench-{}.json", std::process::id()));
    let mut s = String::with_capacity(ENTRIES as usize * 64);
    s.push('{');
    for k in 0..ENTRIES {
        let m = dst_mac(k);
        if k > 0 {
            s.push(',');
        }
        s += &format!(
            "\"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\":{{\"ip\":\"127.0.0.1\",\"port\":{port}}}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        );
    }
    s.push('}');
    std::fs::File::create(&p)
        .and_then(|mut f| f.write_all(s.as_bytes()))
        .expect("write map");
    p
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// A driver that counts answers.
#[derive(Default)]
struct Sink {
    answered: std::sync::atomic::AtomicU64,
}

impl Driver for Sink {
    fn info(&self, linkid: u32) -> Result<OverlayTargInfo, Errno> {
        Ok(OverlayTargInfo {
            oti_linkid: linkid,
            oti_needs: OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT,
            oti_flags: 0,
            oti_vnetid: 23,
        })
    }
    fn associate(&self, _: &OverlayTargAssociate) -> Result<(), Errno> {
        Ok(())
    }
    fn disassociate(&self, _: u32) -> Result<(), Errno> {
        Ok(())
    }
    fn degrade(&self, _: u32, _: &str) -> Result<(), Errno> {
        Ok(())
    }
    fn restore(&self, _: u32) -> Result<(), Errno> {
        Ok(())
    }
    fn lookup(&self) -> Result<OverlayTargLookup, Errno> {
        Err(Errno::ETIME)
    }
    fn respond(&self, _: u64, _: &OverlayTargetPoint) -> Result<(), Errno> {
        self.answered
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
    fn drop_req(&self, _: u64) -> Result<(), Errno> {
        Ok(())
    }
    fn pkt(&self, _: u64, _: &mut [u8]) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    fn inject(&self, _: Option<u32>, _: u64, _: &[u8]) -> Result<(), Errno> {
        Ok(())
    }
    fn resend(&self, _: Option<u32>, _: u64, _: &[u8]) -> Result<(), Errno> {
        Ok(())
    }
    fn list(&self) -> Result<Vec<u32>, Errno> {
        Ok(vec![])
    }
    fn cache_get(&self, _: u32, _: EtherAddr) -> Result<OverlayTargCacheEntry, Errno> {
        Err(Errno::ENOENT)
    }
    fn cache_set(&self, _: u32, _: &OverlayTargCacheEntry) -> Result<(), Errno> {
        Ok(())
    }
    fn cache_remove(&self, _: u32, _: EtherAddr) -> Result<(), Errno> {
        Ok(())
    }
    fn cache_flush(&self, _: u32) -> Result<(), Errno> {
        Ok(())
    }
    fn cache_iter(
        &self,
        _: u32,
        _: u64,
        _: u16,
    ) -> Result<(Vec<OverlayTargCacheEntry>, u64), Errno> {
        Ok((vec![], 0))
    }
}

fn cstr(p: &std::path::Path) -> Vec<u8> {
    let mut v = p.to_string_lossy().into_owned().into_bytes();
    v.push(0);
    v
}

fn in_process(map: &std::path::Path) {
    varpd::keep_exports();
    for r in varpd::plugin::load_dir(common::plugin_dir()).expect("plugins") {
        let _ = r;
    }
    let sink = Arc::new(Sink::default());
    let v = varpd::Varpd::new(sink.clone(), None);
    let id = v.create(1, "files").expect("create");
    let (pid, _) = v.propinfo_by_name(id, "files/config").expect("prop");
    v.setprop(id, pid, &cstr(map)).expect("setprop");
    let t = Instant::now();
    v.activate(id).expect("activate");
    println!(
        "in process: map of {ENTRIES} entries loaded in {:?}",
        t.elapsed()
    );
    let n = 400_000u32;
    let mut lat = Vec::with_capacity(n as usize);
    let mut req = OverlayTargLookup::new_zeroed();
    req.otl_varpdid = id;
    req.otl_sap = 0x0800;
    req.otl_hdrsize = 14;
    req.otl_pktsize = 46;
    let t0 = Instant::now();
    for i in 0..n {
        req.otl_reqid = u64::from(i);
        req.otl_dstaddr = EtherAddr(dst_mac(i.wrapping_mul(2_654_435_761) % ENTRIES));
        let t = Instant::now();
        v.dispatch(req);
        lat.push(t.elapsed());
    }
    let total = t0.elapsed();
    assert_eq!(
        sink.answered.load(std::sync::atomic::Ordering::Relaxed),
        u64::from(n)
    );
    println!(
        "in process: {n} lookups, p50 {:?}, p99 {:?}, {:.0} lookups/s (one thread)",
        pct(&mut lat, 0.50),
        pct(&mut lat, 0.99),
        f64::from(n) / total.as_secs_f64()
    );
    let _ = v.destroy(id);
}

// --- end to end --------------------------------------------------------------

fn enter_netns(name: &str) {
    let f = std::fs::File::open(format!("/var/run/netns/{name}")).expect("netns file");
    // SAFETY: setns on this thread with a namespace descriptor.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
}

/// An AF_PACKET socket sending on `ifname`.
struct Packet {
    fd: i32,
    addr: libc::sockaddr_ll,
}

impl Packet {
    fn new(ifname: &str) -> Packet {
        let name = std::ffi::CString::new(ifname).unwrap();
        // SAFETY: plain socket calls; the address is fully initialised.
        unsafe {
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
            assert!(fd >= 0, "AF_PACKET socket");
            let idx = libc::if_nametoindex(name.as_ptr());
            assert!(idx > 0, "no interface {ifname}");
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_ifindex = idx as i32;
            addr.sll_halen = 6;
            Packet { fd, addr }
        }
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: sendto with our socket, buffer and address.
        let r = unsafe {
            libc::sendto(
                self.fd,
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&self.addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(
            r,
            frame.len() as isize,
            "{}",
            std::io::Error::last_os_error()
        );
    }
}

fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[0x45; 46]);
    f
}

fn end_to_end(map: &std::path::Path, sink_port: u16) {
    use overlay_testbed::{Daemon, Netns};
    let ns = Netns::new("bn");
    let d = Daemon::start(&common::overlayd(), &ns);
    let c = d.client();
    let linkid = c.link_create("overlay0", DATALINK_CLASS_OVERLAY).unwrap();
    c.create(linkid, 23, "vxlan").unwrap();
    let pi = c.propinfo_by_name(linkid, "vxlan/listen_ip").unwrap();
    let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    c.setprop(linkid, pi.oipi_id, &In6Addr::from(lo).0).unwrap();
    let dir = overlay_testbed::tmpdir();
    let sock = dir.join("bench.varpd.sock");
    let log = dir.join("bench.varpd.log");
    let mut vp = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.name])
        .arg(common::target_profile_dir().join("varpd"))
        .arg("-i")
        .arg(common::plugin_dir())
        .arg("-d")
        .arg(&sock)
        .env("OVERLAY_CTL", &d.ctl)
        .env("VARPD_RUN_DIR", dir.join("bench.run"))
        .env("VARPD_LOG", "warn")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("varpd");
    let t0 = Instant::now();
    let vc = loop {
        if let Ok(vc) = varpd::client::VarpdClient::connect(&sock) {
            break vc;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "varpd did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let id = vc.create(linkid, "files").unwrap();
    vc.setprop_by_name(id, "files/config", &cstr(map)).unwrap();
    vc.activate(id).unwrap();
    c.activate(linkid).unwrap();
    let src = [0x02, 0x20, 0, 0, 0, 1];
    c.vnic_create("vb0", linkid, Some(src)).unwrap();
    ns.sh(&["ip", "link", "set", "vb0", "up"]);

    let name = ns.name.clone();
    std::thread::spawn(move || {
        enter_netns(&name);
        let udp = std::net::UdpSocket::bind(("127.0.0.1", sink_port)).expect("sink");
        udp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        // Room for the whole burst: datagrams the sink drops while this
        // thread is still sending would count as lookups not resolved.
        let rcvbuf: libc::c_int = 64 << 20;
        // SAFETY: setsockopt on our socket with an int of the size given.
        unsafe {
            libc::setsockopt(
                udp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&rcvbuf as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        let pkt = Packet::new("vb0");
        let mut buf = [0u8; 2048];
        let mut recv_for = |k: u32| -> bool {
            loop {
                match udp.recv(&mut buf) {
                    Ok(n) if n >= 14 && buf[8..14] == dst_mac(k) => return true,
                    Ok(_) => continue,
                    Err(_) => return false,
                }
            }
        };
        // Warm up (the first lookups also page in the map).
        for k in 0..200 {
            pkt.send(&frame(dst_mac(k), src));
            recv_for(k);
        }
        let mut lat = Vec::new();
        let mut lost = 0;
        for k in 200..5200 {
            let t = Instant::now();
            pkt.send(&frame(dst_mac(k), src));
            if recv_for(k) {
                lat.push(t.elapsed());
            } else {
                lost += 1;
            }
        }
        println!(
            "end to end: first frame to destination over {} new MACs: p50 {:?}, p99 {:?} ({lost} lost)",
            lat.len(),
            pct(&mut lat, 0.50),
            pct(&mut lat, 0.99)
        );
        // A burst of new destinations.
        let burst = 20_000u32;
        let base = 10_000;
        let t = Instant::now();
        let mut got = 0u32;
        udp.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        for k in base..base + burst {
            pkt.send(&frame(dst_mac(k), src));
            if k % 64 == 0 {
                std::thread::yield_now();
            }
        }
        let mut last = t.elapsed();
        while let Ok(n) = udp.recv(&mut buf) {
            if n >= 14 {
                got += 1;
                last = t.elapsed();
            }
            if got == burst {
                break;
            }
        }
        println!(
            "end to end: burst of {burst} new MACs: {got} delivered in {last:?}, {:.0} lookups resolved/s",
            f64::from(got) / last.as_secs_f64()
        );
    })
    .join()
    .expect("measurement thread");
    println!("end to end: overlayd counters: {}", d.counters().trim());
    // SAFETY: kill(2) on our child.
    unsafe { libc::kill(vp.id() as i32, libc::SIGTERM) };
    let _ = vp.wait();
    drop(d);
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing
    // useful either; any filter argument other than flags is ignored.
    let sink_port = 47_890;
    let map = write_map(sink_port);
    in_process(&map);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("end to end: SKIPPED (needs root for namespaces and TAP)");
    } else {
        end_to_end(&map, sink_port);
    }
    let _ = std::fs::remove_file(&map);
}
