//! Throughput of one rig, three ways: two network namespaces joined by a
//! veth pair, and iperf3 TCP (one stream) between them over
//!
//! 1. the veth alone (the ceiling),
//! 2. the Linux kernel's vxlan driver on both sides (the yardstick),
//! 3. overlayd on both sides (us),
//!
//! with the same inner MTU (1400, the overlay default) for both tunnels.
//! Prints the three rates and the ratio of ours to the kernel's.
//!
//! Usage: `vtep-bench [seconds]` as root (see `tools/bench-throughput`).
//! `VTEP_BENCH_ONLY=ours`, `VTEP_BENCH_STATS=1` and `VTEP_BENCH_CC=<name>`
//! are described in the README.

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::Duration;

use overlay_testbed::*;

fn iperf(client: &Netns, server: &Netns, addr: &str, secs: u32) -> f64 {
    let mut srv = Command::new("ip")
        .args([
            "netns",
            "exec",
            &server.name,
            "iperf3",
            "-s",
            "-1",
            "-B",
            addr,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 (apt-get install iperf3)");
    std::thread::sleep(Duration::from_millis(500));
    let secs = secs.to_string();
    let mut args = vec!["iperf3", "-c", addr, "-t", &secs, "-J"];
    // `VTEP_BENCH_CC=cubic` (say): the sender's TCP congestion control,
    // else the system's default.
    let cc = std::env::var("VTEP_BENCH_CC").ok();
    if let Some(cc) = &cc {
        args.extend(["-C", cc]);
    }
    let json = client.sh(&args);
    let _ = srv.wait();
    let at = json
        .find("\"sum_received\"")
        .expect("iperf3 JSON has sum_received");
    let rest = &json[at..];
    let k = rest.find("\"bits_per_second\"").expect("bits_per_second");
    let num: String = rest[k + 17..]
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == '+')
        .collect();
    num.parse::<f64>().expect("a rate") / 1e9
}

fn kernel_vxlan(ns: &Netns, local: &str, remote: &str, inner: &str) {
    ns.sh(&[
        "ip", "link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789", "local", local,
        "remote", remote,
    ]);
    ns.sh(&["ip", "link", "set", "vx0", "mtu", "1400", "up"]);
    ns.sh(&["ip", "addr", "add", inner, "dev", "vx0"]);
}

fn main() {
    require_root();
    let secs: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let exe = std::env::current_exe().expect("own path");
    let overlayd = exe.with_file_name("overlayd");
    assert!(
        overlayd.exists(),
        "{} is missing: build the overlay-linux package",
        overlayd.display()
    );

    // `VTEP_BENCH_ONLY=ours` runs only overlayd (for profiling it).
    if std::env::var("VTEP_BENCH_ONLY").as_deref() == Ok("ours") {
        let ours = run_ours(&overlayd, secs);
        println!("overlayd:            {ours:6.2} Gbit/s");
        return;
    }

    let veth = {
        let (a, b) = (Netns::new("va"), Netns::new("vb"));
        link(&a, &b, "192.0.2.1/24", "192.0.2.2/24");
        iperf(&a, &b, "192.0.2.2", secs)
    };
    println!("veth alone:          {veth:6.2} Gbit/s");

    let kernel = {
        let (a, b) = (Netns::new("ka"), Netns::new("kb"));
        link(&a, &b, "192.0.2.1/24", "192.0.2.2/24");
        kernel_vxlan(&a, "192.0.2.1", "192.0.2.2", "198.51.100.1/24");
        kernel_vxlan(&b, "192.0.2.2", "192.0.2.1", "198.51.100.2/24");
        iperf(&a, &b, "198.51.100.2", secs)
    };
    println!("Linux kernel vxlan:  {kernel:6.2} Gbit/s");

    let ours = run_ours(&overlayd, secs);
    println!("overlayd:            {ours:6.2} Gbit/s");
    println!("ours / kernel vxlan: {:6.2}", ours / kernel);
}

/// Two namespaces, overlayd on each, one VNIC each side, iperf3 across.
fn run_ours(overlayd: &std::path::Path, secs: u32) -> f64 {
    let ip = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    let (a, b) = (Netns::new("oa"), Netns::new("ob"));
    link(&a, &b, "192.0.2.1/24", "192.0.2.2/24");
    let (da, db) = (Daemon::start(overlayd, &a), Daemon::start(overlayd, &b));
    let bcast = [0xff; 6];
    let ova = setup_overlay(
        &da,
        42,
        ip(192, 0, 2, 1),
        &[(mac(2), ip(192, 0, 2, 2)), (bcast, ip(192, 0, 2, 2))],
    );
    let ovb = setup_overlay(
        &db,
        42,
        ip(192, 0, 2, 2),
        &[(mac(1), ip(192, 0, 2, 1)), (bcast, ip(192, 0, 2, 1))],
    );
    vnic(&a, &da, &ova, "vnic0", mac(1), "198.51.100.1/24");
    vnic(&b, &db, &ovb, "vnic0", mac(2), "198.51.100.2/24");
    ping(&a, "198.51.100.2", &[&da, &db]);
    let gbps = iperf(&a, &b, "198.51.100.2", secs);
    // `VTEP_BENCH_STATS=1`: where packets were dropped on the way.
    if std::env::var_os("VTEP_BENCH_STATS").is_some() {
        for (name, ns) in [("sender", &a), ("receiver", &b)] {
            println!("-- {name}: drops");
            println!("{}", ns.sh(&["ip", "-s", "link", "show", "vnic0"]));
            let snmp = ns.sh(&["nstat", "-az"]);
            for l in snmp.lines().filter(|l| {
                (l.contains("Err") || l.contains("Drop") || l.contains("Retrans"))
                    && l.split_whitespace().nth(1).is_none_or(|v| v != "0")
            }) {
                println!("{l}");
            }
        }
        println!("{}", da.counters());
        println!("{}", db.counters());
    }
    gbps
}
