//! End to end: three hosts (network namespaces on one underlay bridge),
//! overlayd and varpd on each, the files plugin in dynamic mode. IPv4
//! and IPv6 ping between every pair with ARP and NDP answered by varpd's
//! proxies (the plugin drops every broadcast, so nothing else could
//! answer them), a broadcast DHCP request redirected to the host named
//! in the map, and varpd killed with SIGKILL during a TCP transfer: the
//! transfer completes, the restarted varpd has its instance back without
//! a manual step, and a destination never seen before resolves.
//!
//! Needs root, like the overlayd end-to-end tests; it fails, never
//! skips, when it cannot build its hosts.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use overlay::abi::In6Addr;
use overlay::abi::common::DATALINK_CLASS_OVERLAY;
use overlay_testbed::{self as testbed, Daemon, Netns, mac, ping, require_root, sh, tcp_transfer};
use varpd::client::VarpdClient;

const N: usize = 3;

struct Varpd {
    child: Option<Child>,
    ns: String,
    sock: PathBuf,
    run: PathBuf,
    log: PathBuf,
    ctl: PathBuf,
}

impl Varpd {
    fn start(ns: &Netns, d: &Daemon, tag: &str) -> Varpd {
        let dir = testbed::tmpdir();
        let mut v = Varpd {
            child: None,
            ns: ns.name.clone(),
            sock: dir.join(format!("{tag}.varpd.sock")),
            run: dir.join(format!("{tag}.varpd.run")),
            log: dir.join(format!("{tag}.varpd.log")),
            ctl: d.ctl.clone(),
        };
        v.spawn();
        v
    }

    fn spawn(&mut self) {
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(env!("CARGO_BIN_EXE_varpd"))
            .arg("-i")
            .arg(common::plugin_dir())
            .arg("-d")
            .arg(&self.sock)
            .env("OVERLAY_CTL", &self.ctl)
            .env("VARPD_RUN_DIR", &self.run)
            .env("VARPD_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .expect("spawn varpd");
        self.child = Some(child);
        let t0 = Instant::now();
        while VarpdClient::connect(&self.sock).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "varpd did not come up:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn client(&self) -> VarpdClient {
        VarpdClient::connect(&self.sock).expect("connect to varpd")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for varpd to exit by itself.
    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let t0 = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            if t0.elapsed() > within {
                let _ = c.kill();
                panic!("varpd did not exit:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&mut self, sig: i32) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        // SAFETY: kill(2) on our child (`ip netns exec` execs varpd).
        unsafe { libc::kill(c.id() as i32, sig) };
        let t0 = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            if t0.elapsed() > Duration::from_secs(10) {
                let _ = c.kill();
                panic!("varpd did not exit on signal {sig}:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Varpd {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.signal(libc::SIGTERM);
        }
    }
}

fn v4(i: usize) -> String {
    format!("198.51.100.{i}")
}

fn v6(i: usize) -> String {
    format!("fd00:23::{i}")
}

fn underlay(i: usize) -> String {
    format!("192.0.2.{i}")
}

fn map_json() -> String {
    let mut s = String::from("{\n");
    for i in 1..=N {
        let m = mac(i as u8);
        // Each host in a different MAC notation.
        let key = match i {
            1 => format!(
                "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            2 => format!(
                "{:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            _ => format!(
                "{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
        };
        let dhcp = if i == 1 {
            let t = mac(3);
            format!(
                ", \"dhcp-proxy\": \"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\"",
                t[0], t[1], t[2], t[3], t[4], t[5]
            )
        } else {
            String::new()
        };
        s += &format!(
            "  \"{key}\": {{ \"ip\": \"{}\", \"port\": 4789, \"arp\": \"{}\", \"ndp\": \"{}\"{dhcp} }}{}\n",
            underlay(i),
            v4(i),
            v6(i),
            if i == N { "" } else { "," }
        );
    }
    s + "}\n"
}

struct Host {
    ns: Netns,
    d: Daemon,
    v: Varpd,
    linkid: u32,
}

fn host(i: usize, sw: &Netns, map: &Path) -> Host {
    let ns = Netns::new(&format!("h{i}"));
    // A veth from the host to the underlay bridge.
    let (a, b) = (format!("{}u{i}", sw.name), format!("{}p{i}", sw.name));
    sh(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b]);
    sh(&["ip", "link", "set", &a, "netns", &ns.name]);
    sh(&["ip", "link", "set", &b, "netns", &sw.name]);
    sh(&["ip", "-n", &ns.name, "link", "set", &a, "name", "ul0"]);
    let addr = format!("{}/24", underlay(i));
    sh(&[
        "ip", "-n", &ns.name, "addr", "add", &addr, "dev", "ul0", "nodad",
    ]);
    sh(&["ip", "-n", &ns.name, "link", "set", "ul0", "up"]);
    sh(&["ip", "-n", &sw.name, "link", "set", &b, "master", "br0"]);
    sh(&["ip", "-n", &sw.name, "link", "set", &b, "up"]);

    let d = Daemon::start(&common::overlayd(), &ns);
    let c = d.client();
    let linkid = c
        .link_create("overlay0", DATALINK_CLASS_OVERLAY)
        .expect("link");
    c.create(linkid, 23, "vxlan").expect("create");
    let pi = c
        .propinfo_by_name(linkid, "vxlan/listen_ip")
        .expect("propinfo");
    let ul: std::net::IpAddr = underlay(i).parse().unwrap();
    c.setprop(linkid, pi.oipi_id, &In6Addr::from(ul).0)
        .expect("listen_ip");

    // What `dladm create-overlay -s files -p files/config=...` does.
    let v = Varpd::start(&ns, &d, &format!("h{i}"));
    let vc = v.client();
    let id = vc.create(linkid, "files").expect("varpd create");
    let mut path = map.to_string_lossy().into_owned().into_bytes();
    path.push(0);
    vc.setprop_by_name(id, "files/config", &path)
        .expect("files/config");
    vc.activate(id).expect("varpd activate");
    c.activate(linkid).expect("activate");

    let h = Host { ns, d, v, linkid };
    h.d.client()
        .vnic_create("vnic0", linkid, Some(mac(i as u8)))
        .expect("vnic");
    h.ns.sh(&[
        "ip",
        "addr",
        "add",
        &format!("{}/24", v4(i)),
        "dev",
        "vnic0",
    ]);
    h.ns.sh(&[
        "ip",
        "-6",
        "addr",
        "add",
        &format!("{}/64", v6(i)),
        "dev",
        "vnic0",
        "nodad",
    ]);
    h.ns.sh(&["ip", "link", "set", "vnic0", "up"]);
    h
}

fn ping_ok(from: &Host, dst: &str, all: &[&Host]) {
    let ds: Vec<&Daemon> = all.iter().map(|h| &h.d).collect();
    if !from
        .ns
        .try_sh(&["ping", "-c", "2", "-i", "0.2", "-W", "2", dst])
    {
        let logs: Vec<String> = all.iter().map(|h| h.v.log_text()).collect();
        eprintln!("varpd logs:\n{}", logs.join("\n----\n"));
    }
    ping(&from.ns, dst, &ds);
}

const DHCP_SEND: &str = r#"
import socket, struct, sys
src = bytes.fromhex(sys.argv[2].replace(':', ''))
bootp = bytearray(240); bootp[0] = 1; bootp[1] = 1; bootp[2] = 6
bootp[28:34] = src; bootp[236:240] = bytes([99, 130, 83, 99])
payload = bytes(bootp) + bytes([53, 1, 1, 255])
udp = struct.pack('!HHHH', 68, 67, 8 + len(payload), 0) + payload
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 bytes(4), bytes([255] * 4))
frame = b'\xff' * 6 + src + b'\x08\x00' + ip + udp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for _ in range(5):
    s.send(frame)
"#;

const DHCP_RECV: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((sys.argv[1], 0)); s.settimeout(0.5)
want = bytes.fromhex(sys.argv[2].replace(':', ''))
end = time.time() + 8
print('ready', flush=True)
while time.time() < end:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    if f[0:6] == want and len(f) > 37 and f[23] == 17 and f[36:38] == b'\x00\x43':
        print('redirected'); sys.exit(0)
sys.exit(1)
"#;

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn three_hosts_files_plugin_proxies_and_restart() {
    require_root();
    let sw = Netns::new("sw");
    sh(&["ip", "-n", &sw.name, "link", "add", "br0", "type", "bridge"]);
    sh(&["ip", "-n", &sw.name, "link", "set", "br0", "up"]);
    let map = testbed::tmpdir().join("overlay-files.json");
    std::fs::write(&map, map_json()).unwrap();
    let mut hosts: Vec<Host> = (1..=N).map(|i| host(i, &sw, &map)).collect();

    // 1. h1 ↔ h2 over IPv4 (ARP by proxy).
    {
        let all: Vec<&Host> = hosts.iter().collect();
        ping_ok(&hosts[0], &v4(2), &all);
    }

    // 2. SIGKILL varpd on h1 and h2 during a transfer h1 → h2; restart.
    let (from, to) = (hosts[0].ns.name.clone(), hosts[1].ns.name.clone());
    let t = std::thread::spawn(move || {
        let f = Netns { name: from };
        let t = Netns { name: to };
        tcp_transfer(&f, &t, "198.51.100.2", 40);
        // Not ours to delete.
        std::mem::forget(f);
        std::mem::forget(t);
    });
    std::thread::sleep(Duration::from_millis(700));
    for h in hosts.iter_mut().take(2) {
        let st = h.v.signal(libc::SIGKILL);
        assert!(!st.success());
    }
    std::thread::sleep(Duration::from_millis(300));
    for h in hosts.iter_mut().take(2) {
        h.v.spawn();
    }
    t.join().expect("the TCP transfer survives varpd's death");
    for h in &hosts[..2] {
        let id = h.v.client().lookup(h.linkid).expect("instance restored");
        assert!(id > 0);
        assert!(h.v.log_text().contains("instance restored"));
    }

    // 3. Every pair, IPv4 and IPv6 (NDP by proxy); h1 → h3 never
    //    happened before the restart.
    {
        let all: Vec<&Host> = hosts.iter().collect();
        for (a, from) in hosts.iter().enumerate() {
            for b in (1..=N).filter(|&b| b != a + 1) {
                ping_ok(from, &v4(b), &all);
                ping_ok(from, &v6(b), &all);
            }
        }
    }

    // 4. DHCP: h1's broadcast request is redirected to h3.
    let mut rx = Command::new("ip")
        .args([
            "netns",
            "exec",
            &hosts[2].ns.name,
            "python3",
            "-c",
            DHCP_RECV,
            "vnic0",
        ])
        .arg(mac_text(mac(3)))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let mut line = String::new();
        let out = rx.stdout.as_mut().unwrap();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
    }
    hosts[0]
        .ns
        .sh(&["python3", "-c", DHCP_SEND, "vnic0", &mac_text(mac(1))]);
    let st = rx.wait().unwrap();
    assert!(
        st.success(),
        "the DHCP request was not redirected to h3:\n{}",
        hosts[0].v.log_text()
    );

    // 5. overlayd gone: varpd exits with SMF_EXIT_ERR_FATAL (95).
    let mut h3 = hosts.pop().unwrap();
    h3.d.stop();
    let st = h3.v.wait_exit(Duration::from_secs(5));
    assert_eq!(st.code(), Some(95), "{}", h3.v.log_text());

    // 6. SIGTERM: exit 0 (SMF_EXIT_OK), control socket removed.
    for h in &mut hosts {
        let st = h.v.signal(libc::SIGTERM);
        assert_eq!(st.code(), Some(0), "{}", h.v.log_text());
        assert!(!h.v.sock.exists());
    }
}
