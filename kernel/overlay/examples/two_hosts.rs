//! Two overlay drivers in one process, joined by the real VXLAN plugin,
//! with a dynamic target answered the way varpd answers it.
//!
//! What runs for real: the driver core (devices, properties, the target
//! cache, the lookup queue and control handle, the ioctl ABI) and the
//! VXLAN plugin registered through its C ABI. What stands in: the
//! platform (frames are byte buffers, "sockets" hand datagrams straight
//! to the other driver) and varpd (this program answers the lookup).

use std::net::Ipv4Addr;

use overlay::abi::common::*;
use overlay::abi::targ::*;
use overlay::abi::{EtherAddr, In6Addr};
use overlay::dev::TxScratch;
use overlay::testing::{MemFrame, MemPlatform};
use overlay::{Cred, OpenFlags, Overlay};
use zerocopy::FromZeros;

fn main() {
    assert_eq!(overlay_encap_vxlan::overlay_vxlan_init(), 0);
    let vm_a = EtherAddr([2, 8, 0x20, 0, 0, 0xa]);
    let vm_b = EtherAddr([2, 8, 0x20, 0, 0, 0xb]);
    let (ul_a, ul_b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));

    let mut hosts = Vec::new();
    for (name, ul) in [("host-a", ul_a), ("host-b", ul_b)] {
        let ov = Overlay::new(MemPlatform::default());
        let varpd = ov
            .open(
                OpenFlags {
                    read: true,
                    write: true,
                    excl: true,
                },
                Cred::ROOT,
            )
            .unwrap();
        let dev = ov
            .create(1, 23, "vxlan")
            .expect("create-overlay -e vxlan -v 23");
        let ip = dev.resolve_prop(-1, "vxlan/listen_ip").unwrap();
        ov.setprop(&dev, ip, &In6Addr::from(ul).0).unwrap();
        let mut a = OverlayTargAssociate::new_zeroed();
        a.ota_linkid = 1;
        a.ota_mode = OVERLAY_TARGET_DYNAMIC;
        a.ota_id = 1;
        a.ota_provides = OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT;
        ov.associate(&a).unwrap();
        ov.activate(1).unwrap();
        ov.start(&dev).unwrap();
        println!(
            "{name}: overlay0 linkid 1, vxlan vnetid 23, listening on {ul}:4789, dynamic target"
        );
        hosts.push((ov, varpd));
    }

    // VM A on host A sends a frame to VM B: the cache misses.
    let (ov_a, varpd_a) = &hosts[0];
    let dev_a = ov_a.device(1).unwrap();
    let mut frame = vec![0u8; 98];
    frame[..6].copy_from_slice(&vm_b.0);
    frame[6..12].copy_from_slice(&vm_a.0);
    frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    frame[14..]
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = i as u8);
    let mut scratch = TxScratch::default();
    ov_a.tx(&dev_a, [MemFrame::new(&frame)], &mut scratch);
    println!("host-a: tx {vm_a} -> {vm_b}: cache miss, frame queued, lookup posted");

    // varpd's lookup thread takes the request and answers it.
    let req = varpd_a.lookup(1_000_000_000).expect("a lookup request");
    println!(
        "host-a: OVERLAY_TARG_LOOKUP -> reqid {} dst {} sap {:#06x} pktsize {}",
        req.otl_reqid, req.otl_dstaddr, req.otl_sap, req.otl_pktsize
    );
    varpd_a
        .respond(
            req.otl_reqid,
            &OverlayTargetPoint::new(EtherAddr::ZERO, ul_b.into(), 4789),
        )
        .unwrap();
    println!("host-a: OVERLAY_TARG_RESPOND {vm_b} is at {ul_b}:4789; queued frame sent");

    // The datagram crosses to host B and is decapsulated.
    let (dest, wire) = ov_a.platform().sockets.lock()[0].sent.lock().remove(0);
    let hdr: Vec<String> = wire.bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!(
        "wire:   udp {ul_a}:{} -> {}:{} vxlan [{}] + {} byte inner frame",
        dest.src_port,
        dest.ip,
        dest.port,
        hdr.join(" "),
        wire.bytes().len() - 8
    );
    let (ov_b, _) = &hosts[1];
    ov_b.muxes()[0].rx(ov_b.platform(), wire);
    let dev_b = ov_b.device(1).unwrap();
    let got = dev_b
        .link()
        .delivered
        .lock()
        .pop()
        .expect("delivered at host-b");
    assert_eq!(got.bytes(), &frame[..]);
    println!(
        "host-b: rx vni 23 -> overlay0 -> delivered {} bytes, identical to what VM A sent",
        got.bytes().len()
    );

    // Now a hit: no lookup.
    ov_a.tx(&dev_a, [MemFrame::new(&frame)], &mut scratch);
    let s = &dev_a.stats;
    println!(
        "host-a counters: tx {} frames / {} bytes, misses {}, lookups {}, drops {}",
        s.tx_frames.load(std::sync::atomic::Ordering::Relaxed),
        s.tx_bytes.load(std::sync::atomic::Ordering::Relaxed),
        s.misses.load(std::sync::atomic::Ordering::Relaxed),
        s.lookups.load(std::sync::atomic::Ordering::Relaxed),
        s.tx_drop_entry.load(std::sync::atomic::Ordering::Relaxed),
    );
}
