//! End to end: overlayd in network namespaces, VNICs, ping and TCP
//! across, IPv4 and IPv6 underlays, malformed underlay input, a VNIC
//! moved to another namespace, and the Linux kernel's vxlan driver as
//! the peer, with a capture decoded by tshark.

use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use overlay_testbed::{self as common, *};

fn overlayd() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_overlayd"))
}

const BCAST: [u8; 6] = [0xff; 6];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn two_hosts_ipv4_underlay() {
    require_root();
    let (a, b, c) = (Netns::new("a"), Netns::new("b"), Netns::new("c"));
    link(&a, &b, "192.0.2.1/24", "192.0.2.2/24");
    let (mut da, db) = (Daemon::start(overlayd(), &a), Daemon::start(overlayd(), &b));
    let ova = setup_overlay(
        &da,
        23,
        ip("192.0.2.1"),
        &[(mac(2), ip("192.0.2.2")), (BCAST, ip("192.0.2.2"))],
    );
    let ovb = setup_overlay(
        &db,
        23,
        ip("192.0.2.2"),
        &[
            (mac(1), ip("192.0.2.1")),
            (mac(3), ip("192.0.2.1")),
            (BCAST, ip("192.0.2.1")),
        ],
    );
    vnic(&a, &da, &ova, "vnic0", mac(1), "198.51.100.1/24");
    vnic(&b, &db, &ovb, "vnic0", mac(2), "198.51.100.2/24");

    ping(&a, "198.51.100.2", &[&da, &db]);
    ping(&b, "198.51.100.1", &[&da, &db]);
    tcp_transfer(&a, &b, "198.51.100.2", 100);

    // A VNIC moved into another namespace keeps working.
    da.client()
        .vnic_create("vnic1", ova.linkid, Some(mac(3)))
        .unwrap();
    a.sh(&["ip", "link", "set", "vnic1", "netns", &c.name]);
    c.sh(&["ip", "addr", "add", "198.51.100.3/24", "dev", "vnic1"]);
    c.sh(&["ip", "link", "set", "vnic1", "up"]);
    ping(&c, "198.51.100.2", &[&da, &db]);

    // Malformed underlay input is dropped and counted; forwarding goes on.
    let before = stats(&da, ova.linkid);
    b.sh(&["python3", "-c", GARBAGE, "192.0.2.1", "4789"]);
    std::thread::sleep(Duration::from_millis(300));
    let after = stats(&da, ova.linkid);
    let d = |k: &str| after[k] - before.get(k).copied().unwrap_or(0);
    assert!(d("underlay_rx_decap_failed") >= 3, "{after:?}");
    assert!(d("underlay_rx_unknown_vnetid") >= 1, "{after:?}");
    ping(&a, "198.51.100.2", &[&da, &db]);

    // SIGTERM: clean exit, socket file and TAP devices gone.
    let status = da.stop();
    assert!(
        status.success(),
        "overlayd exit {status}:\n{}",
        da.log_text()
    );
    assert!(!da.ctl.exists(), "control socket left behind");
    assert!(
        !a.try_sh(&["ip", "link", "show", "vnic0"]),
        "TAP left behind"
    );
    assert!(
        !c.try_sh(&["ip", "link", "show", "vnic1"]),
        "moved TAP left behind"
    );
    // A restart finds no stale state.
    let da2 = Daemon::start(overlayd(), &a);
    assert!(da2.client().link_list().unwrap().is_empty());
    drop(ova);
}

#[test]
fn two_hosts_ipv6_underlay() {
    require_root();
    let (a, b) = (Netns::new("x"), Netns::new("y"));
    link(&a, &b, "2001:db8:1::1/64", "2001:db8:1::2/64");
    let (da, db) = (Daemon::start(overlayd(), &a), Daemon::start(overlayd(), &b));
    let ova = setup_overlay(
        &da,
        4242,
        ip("2001:db8:1::1"),
        &[(mac(2), ip("2001:db8:1::2")), (BCAST, ip("2001:db8:1::2"))],
    );
    let ovb = setup_overlay(
        &db,
        4242,
        ip("2001:db8:1::2"),
        &[(mac(1), ip("2001:db8:1::1")), (BCAST, ip("2001:db8:1::1"))],
    );
    vnic(&a, &da, &ova, "vnic0", mac(1), "198.51.100.1/24");
    vnic(&b, &db, &ovb, "vnic0", mac(2), "198.51.100.2/24");
    ping(&a, "198.51.100.2", &[&da, &db]);
    ping(&b, "198.51.100.1", &[&da, &db]);
    tcp_transfer(&b, &a, "198.51.100.1", 20);
}

#[test]
fn interop_with_linux_kernel_vxlan() {
    require_root();
    let (a, b) = (Netns::new("k"), Netns::new("l"));
    link(&a, &b, "192.0.2.1/24", "192.0.2.2/24");
    let da = Daemon::start(overlayd(), &a);
    let ova = setup_overlay(
        &da,
        23,
        ip("192.0.2.1"),
        &[(mac(2), ip("192.0.2.2")), (BCAST, ip("192.0.2.2"))],
    );
    vnic(&a, &da, &ova, "vnic0", mac(1), "198.51.100.1/24");
    // The Linux kernel's own VXLAN on the other side.
    b.sh(&[
        "ip",
        "link",
        "add",
        "vx0",
        "type",
        "vxlan",
        "id",
        "23",
        "dstport",
        "4789",
        "local",
        "192.0.2.2",
        "remote",
        "192.0.2.1",
    ]);
    b.sh(&[
        "ip",
        "link",
        "set",
        "vx0",
        "address",
        "02:08:20:00:00:02",
        "mtu",
        "1400",
    ]);
    // Between namespaces, veth carries the kernel vxlan's frames with
    // the inner TCP checksum still to be filled in (checksum offload),
    // and a NIC is not there to fill it. Have vx0 compute it.
    b.sh(&["ethtool", "-K", "vx0", "tx", "off"]);
    b.sh(&["ip", "addr", "add", "198.51.100.2/24", "dev", "vx0"]);
    b.sh(&["ip", "link", "set", "vx0", "up"]);

    let pcap = tmpdir().join(format!("{}.pcap", a.name));
    let mut cap = Command::new("ip")
        .args([
            "netns",
            "exec",
            &a.name,
            "tshark",
            "-q",
            "-i",
            "ul0",
            "-f",
            "udp port 4789",
            "-a",
            "duration:8",
            "-w",
        ])
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tshark (apt-get install tshark)");
    std::thread::sleep(Duration::from_millis(1500));
    ping(&a, "198.51.100.2", &[&da]);
    ping(&b, "198.51.100.1", &[&da]);
    let _ = cap.wait();

    tcp_transfer(&a, &b, "198.51.100.2", 50);
    tcp_transfer(&b, &a, "198.51.100.1", 50);

    // Our VXLAN, decoded by tshark: VNI 23 and the inner frame.
    let out = common::sh(&[
        "tshark",
        "-r",
        pcap.to_str().unwrap(),
        "-Y",
        "vxlan && icmp",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "vxlan.vni",
        "-e",
        "eth.src",
        "-e",
        "ip.src",
    ]);
    let ours: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("02:08:20:00:00:01"))
        .collect();
    assert!(!ours.is_empty(), "no VXLAN from us in the capture:\n{out}");
    for l in &ours {
        let f: Vec<&str> = l.split('|').collect();
        assert_eq!(f[0], "23", "VNI in {l}");
        assert!(f[2].contains("198.51.100.1"), "inner IP in {l}");
    }
    assert!(
        out.lines().any(|l| l.contains("02:08:20:00:00:02")),
        "no VXLAN from the kernel peer:\n{out}"
    );
}

fn stats(d: &Daemon, linkid: u32) -> std::collections::HashMap<String, u64> {
    d.client().stats(linkid).unwrap().into_iter().collect()
}

/// Datagrams no VTEP should accept: a runt, a header without the I
/// flag, an unknown VNI, and noise.
const GARBAGE: &str = r#"
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d = (sys.argv[1], int(sys.argv[2]))
eth = bytes(6) + bytes([2, 8, 32, 0, 0, 9]) + b'\x08\x00' + bytes(46)
s.sendto(b'\x08\x00\x00', d)
s.sendto(b'\x00\x00\x00\x00\x00\x00\x17\x00' + eth, d)
s.sendto(b'\x08\x00\x00\x00\x00\x00\x63\x00' + eth, d)
s.sendto(bytes([0x77]) * 5, d)
s.sendto(os.urandom(3), d)
"#;
