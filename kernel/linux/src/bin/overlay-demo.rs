//! The main job: a working overlay across network namespaces, on the
//! built-in defaults.
//!
//! Two hosts (network namespaces joined by a veth "underlay"), an
//! `overlayd` on each, an overlay `overlay0` (VXLAN, vnetid 23, listening
//! on the host's underlay address, port 4789 by default) with a VNIC on
//! each side, and pings across. Until varpd exists the destinations are
//! static target-cache entries, set through the same ioctl varpd uses
//! (`OVERLAY_TARG_CACHE_SET`). Everything is torn down at the end.

use std::net::IpAddr;

use overlay_linux::testbed::*;

fn main() {
    require_root();
    let overlayd = std::env::current_exe()
        .expect("own path")
        .with_file_name("overlayd");
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let bcast = [0xff; 6];

    println!("== two hosts: namespaces joined by a veth underlay 192.0.2.0/24");
    let (a, b) = (Netns::new("demoa"), Netns::new("demob"));
    link(&a, &b, "192.0.2.1/24", "192.0.2.2/24");
    let (da, db) = (Daemon::start(&overlayd, &a), Daemon::start(&overlayd, &b));
    println!(
        "   overlayd on {} (ctl {}) and {} (ctl {})",
        a.name,
        da.ctl.display(),
        b.name,
        db.ctl.display()
    );

    println!("== overlay0: vxlan, vnetid 23, vxlan/listen_ip = the host's underlay address");
    let ova = setup_overlay(
        &da,
        23,
        ip("192.0.2.1"),
        &[(mac(2), ip("192.0.2.2")), (bcast, ip("192.0.2.2"))],
    );
    let ovb = setup_overlay(
        &db,
        23,
        ip("192.0.2.2"),
        &[(mac(1), ip("192.0.2.1")), (bcast, ip("192.0.2.1"))],
    );
    for (d, ov, name) in [(&da, &ova, "host a"), (&db, &ovb, "host b")] {
        let c = d.client();
        let mut props = Vec::new();
        for id in 0..c.nprops(ov.linkid).unwrap() {
            let pi = c.propinfo_by_id(ov.linkid, id).unwrap();
            let v = c.getprop(ov.linkid, id).unwrap();
            let n = overlay::abi::common::cstr_field(&pi.oipi_name)
                .unwrap_or("?")
                .to_owned();
            props.push(format!("{n}={}", show(pi.oipi_type, &v)));
        }
        println!("   {name}: {}", props.join(" "));
    }

    println!("== VNICs: vnic0 198.51.100.1 on host a, vnic0 198.51.100.2 on host b");
    vnic(&a, &da, &ova, "vnic0", mac(1), "198.51.100.1/24");
    vnic(&b, &db, &ovb, "vnic0", mac(2), "198.51.100.2/24");

    println!("== ping across the overlay");
    print!(
        "{}",
        a.sh(&["ping", "-c", "3", "-i", "0.2", "198.51.100.2"])
    );
    print!(
        "{}",
        b.sh(&["ping", "-c", "3", "-i", "0.2", "198.51.100.1"])
    );

    println!("== counters of overlay0 on host a");
    for (k, v) in da.client().stats(ova.linkid).unwrap() {
        if v != 0 {
            println!("   {k:28} {v}");
        }
    }
    println!("== cleaning up");
}

/// A property value as dladm shows it.
fn show(ptype: u32, v: &[u8]) -> String {
    use overlay::abi::common::*;
    if v.is_empty() {
        return "--".into();
    }
    match ptype {
        OVERLAY_PROP_T_UINT | OVERLAY_PROP_T_INT => match v.len() {
            1 => v[0].to_string(),
            2 => u16::from_ne_bytes([v[0], v[1]]).to_string(),
            4 => u32::from_ne_bytes(v.try_into().unwrap()).to_string(),
            8 => u64::from_ne_bytes(v.try_into().unwrap()).to_string(),
            _ => "?".into(),
        },
        OVERLAY_PROP_T_IP if v.len() == 16 => {
            overlay::abi::In6Addr(v.try_into().unwrap()).to_string()
        }
        OVERLAY_PROP_T_STRING => {
            String::from_utf8_lossy(v.split(|&c| c == 0).next().unwrap_or(&[])).into_owned()
        }
        _ => "?".into(),
    }
}
