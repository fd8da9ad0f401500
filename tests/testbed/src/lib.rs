//! Test hosts, for the end-to-end tests and the throughput benchmark:
//! network namespaces joined by veth links, an `overlayd` in each,
//! configured through the client over its control socket. Everything is
//! real: namespaces, veth, TAP, UDP, the Linux kernel's vxlan driver as a
//! peer, tshark to read captures.
//!
//! It needs root (CI runs as root). Whatever cannot be built panics with
//! the reason: a test using it fails loudly; it never passes by skipping.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use overlay::abi::common::{
    DATALINK_CLASS_OVERLAY, OVERLAY_PLUGIN_D_IP, OVERLAY_PLUGIN_D_PORT, OVERLAY_TARGET_DYNAMIC,
};
use overlay::abi::ctl::{FEXCL, FREAD, FWRITE};
use overlay::abi::targ::{OverlayTargAssociate, OverlayTargCacheEntry, OverlayTargetPoint};
use overlay::abi::{EtherAddr, In6Addr};
use overlay_client::Client;
use zerocopy::FromZeros;

/// Runs a command; panics with its output if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command; returns whether it succeeded.
pub fn try_sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the end-to-end tests need root (network namespaces, TAP devices)"
    );
    assert!(
        Path::new("/dev/net/tun").exists(),
        "/dev/net/tun is missing: TAP devices cannot be made here"
    );
}

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        // Short: veth names made from it must fit IFNAMSIZ.
        let name = format!("o{}{tag}", std::process::id() % 100_000);
        let _ = try_sh(&["ip", "netns", "del", &name]);
        sh(&["ip", "netns", "add", &name]);
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Netns { name }
    }

    /// Runs a command inside the namespace; panics if it fails.
    pub fn sh(&self, args: &[&str]) -> String {
        let mut a = vec!["ip", "netns", "exec", &self.name];
        a.extend_from_slice(args);
        sh(&a)
    }

    pub fn try_sh(&self, args: &[&str]) -> bool {
        let mut a = vec!["ip", "netns", "exec", &self.name];
        a.extend_from_slice(args);
        try_sh(&a)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = try_sh(&["ip", "netns", "del", &self.name]);
    }
}

/// Joins two namespaces with a veth pair carrying the underlay addresses.
pub fn link(a: &Netns, b: &Netns, a_addr: &str, b_addr: &str) {
    let (ia, ib) = ("ul0", "ul1");
    // Made in the root namespace, so named uniquely per pair.
    let tmp_a = format!("{}.a", a.name);
    let tmp_b = format!("{}.b", a.name);
    sh(&[
        "ip", "link", "add", &tmp_a, "type", "veth", "peer", "name", &tmp_b,
    ]);
    sh(&["ip", "link", "set", &tmp_a, "netns", &a.name]);
    sh(&["ip", "link", "set", &tmp_b, "netns", &b.name]);
    sh(&["ip", "-n", &a.name, "link", "set", &tmp_a, "name", ia]);
    sh(&["ip", "-n", &b.name, "link", "set", &tmp_b, "name", ib]);
    for (ns, dev, addr) in [(a, ia, a_addr), (b, ib, b_addr)] {
        sh(&[
            "ip", "-n", &ns.name, "addr", "add", addr, "dev", dev, "nodad",
        ]);
        sh(&["ip", "-n", &ns.name, "link", "set", dev, "up"]);
    }
}

/// An `overlayd` running in a namespace, stopped with SIGTERM on drop.
pub struct Daemon {
    child: Option<Child>,
    pub ctl: PathBuf,
    pub log: PathBuf,
}

pub fn tmpdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("overlay-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Daemon {
    /// Starts `overlayd` (the binary at `bin`) in `ns`.
    pub fn start(bin: &Path, ns: &Netns) -> Daemon {
        let dir = tmpdir();
        let ctl = dir.join(format!("{}.ctl", ns.name));
        let log = dir.join(format!("{}.log", ns.name));
        let logf = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(bin)
            .arg("--ctl")
            .arg(&ctl)
            .env(
                "OVERLAYD_LOG",
                std::env::var("OVERLAYD_LOG").unwrap_or_else(|_| "debug".into()),
            )
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .expect("spawn overlayd");
        let d = Daemon {
            child: Some(child),
            ctl,
            log,
        };
        let t0 = Instant::now();
        while Client::connect(&d.ctl).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "overlayd did not come up:\n{}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.ctl).expect("connect to overlayd")
    }

    /// Every link's counters, for failure messages.
    pub fn counters(&self) -> String {
        let c = self.client();
        let mut out = String::new();
        for l in c.link_list().unwrap_or_default() {
            let stats = c.stats(l.hl_linkid).unwrap_or_default();
            let nz: Vec<String> = stats
                .iter()
                .filter(|(_, v)| *v != 0)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out += &format!("link {}: {}\n", l.hl_linkid, nz.join(" "));
        }
        out
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the daemon with SIGTERM; returns its exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        // `ip netns exec` execs the daemon, so the pid is overlayd's.
        // SAFETY: kill(2) on our child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            if t0.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("overlayd did not exit on SIGTERM:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

pub fn mac(last: u8) -> [u8; 6] {
    [0x02, 0x08, 0x20, 0x00, 0x00, last]
}

/// An overlay set up on a daemon: created, its listen address set,
/// associated in dynamic mode with static cache entries, activated.
pub struct Overlay {
    pub linkid: u32,
    /// Kept open: it is the "varpd" of the test; closing it would not
    /// undo anything, but a live handle is what a real host has.
    pub handle: Client,
}

pub fn setup_overlay(
    d: &Daemon,
    vnetid: u64,
    listen: std::net::IpAddr,
    entries: &[([u8; 6], std::net::IpAddr)],
) -> Overlay {
    let c = d.client();
    let linkid = c
        .link_create("overlay0", DATALINK_CLASS_OVERLAY)
        .expect("link id");
    c.create(linkid, vnetid, "vxlan").expect("create");
    let pi = c
        .propinfo_by_name(linkid, "vxlan/listen_ip")
        .expect("propinfo");
    c.setprop(linkid, pi.oipi_id, &In6Addr::from(listen).0)
        .expect("listen_ip");
    let handle =
        Client::connect_overlay(&d.ctl, FREAD | FWRITE | FEXCL).expect("open as /dev/overlay");
    let mut a = OverlayTargAssociate::new_zeroed();
    a.ota_linkid = linkid;
    a.ota_mode = OVERLAY_TARGET_DYNAMIC;
    a.ota_id = 1;
    a.ota_provides = OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT;
    handle.associate(&a).expect("associate");
    for (m, ip) in entries {
        let e = OverlayTargCacheEntry {
            otce_mac: EtherAddr(*m),
            otce_flags: 0,
            otce_dest: OverlayTargetPoint::new(EtherAddr::ZERO, In6Addr::from(*ip), 4789),
        };
        handle.cache_set(linkid, &e).expect("cache set");
    }
    c.activate(linkid).expect("activate");
    Overlay { linkid, handle }
}

/// A VNIC on the overlay with an inner address, up.
pub fn vnic(ns: &Netns, d: &Daemon, ov: &Overlay, name: &str, m: [u8; 6], addr: &str) {
    d.client()
        .vnic_create(name, ov.linkid, Some(m))
        .expect("vnic create");
    ns.sh(&["ip", "addr", "add", addr, "dev", name]);
    ns.sh(&["ip", "link", "set", name, "up"]);
}

/// Pings `dst` from `ns`; panics with the daemons' logs if it fails.
pub fn ping(ns: &Netns, dst: &str, logs: &[&Daemon]) {
    let ok = ns.try_sh(&["ping", "-c", "3", "-i", "0.2", "-W", "2", dst]);
    if !ok {
        if std::env::var_os("E2E_HOLD").is_some() {
            eprintln!("E2E_HOLD: holding namespaces for 60 s");
            std::thread::sleep(Duration::from_secs(60));
        }
        let l: Vec<String> = logs
            .iter()
            .map(|d| format!("{}\n{}", d.log_text(), d.counters()))
            .collect();
        panic!("ping {dst} from {} failed\n{}", ns.name, l.join("\n----\n"));
    }
}

/// Sends `mb` megabytes of deterministic data over TCP from `from` to
/// `to_addr:port` (a listener in `to`), and checks the receiver's SHA-256
/// against the sender's.
pub fn tcp_transfer(from: &Netns, to: &Netns, to_addr: &str, mb: usize) {
    let port = "5001";
    let server = Command::new("ip")
        .args([
            "netns", "exec", &to.name, "python3", "-c", TCP_SINK, to_addr, port,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let sent = from.sh(&["python3", "-c", TCP_SOURCE, to_addr, port, &mb.to_string()]);
    let out = server.wait_with_output().unwrap();
    let got = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sink failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (sent, got) = (sent.trim(), got.trim());
    assert_eq!(
        sent.split_whitespace().next(),
        got.split_whitespace().next(),
        "SHA-256 differs"
    );
    assert_eq!(
        got.split_whitespace().nth(1),
        Some((mb << 20).to_string().as_str()),
        "length differs"
    );
}

const TCP_SINK: &str = r#"
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(60)
c, _ = s.accept(); c.settimeout(60)
h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    h.update(b); n += len(b)
print(h.hexdigest(), n)
"#;

const TCP_SOURCE: &str = r#"
import hashlib, socket, sys
import time
for attempt in range(50):
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
        break
    except ConnectionRefusedError:
        time.sleep(0.1)
h = hashlib.sha256(); block = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
for i in range(int(sys.argv[3])):
    b = block[i % 251:] + block[:i % 251]
    s.sendall(b); h.update(b)
s.shutdown(socket.SHUT_WR); s.recv(1)
print(h.hexdigest(), int(sys.argv[3]) << 20)
"#;
