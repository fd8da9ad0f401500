//! The driver with the real VXLAN plugin, registered through the C ABI as
//! a separate module would be: encapsulation to decapsulation across two
//! driver instances, over edge virtual network ids and frame sizes.

use std::net::Ipv4Addr;
use std::sync::{Arc, Once};

use overlay::abi::common::*;
use overlay::abi::targ::*;
use overlay::abi::{EtherAddr, In6Addr};
use overlay::dev::TxScratch;
use overlay::platform::Frame;
use overlay::testing::{MemFrame, MemPlatform};
use overlay::{Cred, Errno, OpenFlags, Overlay};
use zerocopy::FromZeros;

fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| assert_eq!(overlay_encap_vxlan::overlay_vxlan_init(), 0));
}

struct Host {
    ov: Arc<Overlay<MemPlatform>>,
    _h: overlay::CtlHandle<MemPlatform>,
}

/// A driver with one running vxlan device in point mode towards `peer`.
fn host(linkid: u32, vnetid: u64, me: Ipv4Addr, peer: Ipv4Addr) -> Host {
    register();
    let ov = Overlay::new(MemPlatform::default());
    let h = ov.open(OpenFlags::RDWR_EXCL, Cred::ROOT).unwrap();
    let dev = ov.create(linkid, vnetid, "vxlan").unwrap();
    let ip = ov
        .device(linkid)
        .unwrap()
        .resolve_prop(-1, "vxlan/listen_ip")
        .unwrap();
    ov.setprop(&dev, ip, &In6Addr::from(me).0).unwrap();
    let mut a = OverlayTargAssociate::new_zeroed();
    a.ota_linkid = linkid;
    a.ota_mode = OVERLAY_TARGET_POINT;
    a.ota_id = 1;
    a.ota_provides = OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT;
    a.ota_point = OverlayTargetPoint::new(EtherAddr::ZERO, peer.into(), 4789);
    ov.associate(&a).unwrap();
    ov.activate(linkid).unwrap();
    ov.start(&dev).unwrap();
    Host { ov, _h: h }
}

fn inner(len: usize, seed: u8) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f
}

#[test]
fn vxlan_round_trip_over_edge_vnis_and_sizes() {
    for vnetid in [0u64, 1, (1 << 24) - 1] {
        let a = host(
            1,
            vnetid,
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 2),
        );
        let b = host(
            1,
            vnetid,
            Ipv4Addr::new(192, 0, 2, 2),
            Ipv4Addr::new(192, 0, 2, 1),
        );
        let dev_a = a.ov.device(1).unwrap();
        let mux_b = b.ov.muxes()[0].clone();
        let params = mux_b.params();
        assert_eq!(
            (params.port, params.addr),
            (4789, In6Addr::from(Ipv4Addr::new(192, 0, 2, 2)))
        );
        for len in [14usize, 60, 64, 1500, 1514, 9000] {
            let frame = inner(len, len as u8);
            a.ov.tx(&dev_a, [MemFrame::new(&frame)], &mut TxScratch::default());
            let (dest, wire) = a.ov.platform().sockets.lock()[0].sent.lock().pop().unwrap();
            assert_eq!(dest.ip, In6Addr::from(Ipv4Addr::new(192, 0, 2, 2)));
            assert_eq!(dest.port, 4789);
            assert!(
                (49152..=65535).contains(&dest.src_port),
                "source port {}",
                dest.src_port
            );
            let vni = (vnetid as u32) << 8;
            assert_eq!(
                &wire.bytes()[..8],
                &[&0x0800_0000u32.to_be_bytes()[..], &vni.to_be_bytes()[..]].concat()
            );
            assert_eq!(&wire.bytes()[8..], &frame[..]);
            mux_b.rx(b.ov.platform(), wire);
            let got =
                b.ov.device(1)
                    .unwrap()
                    .link()
                    .delivered
                    .lock()
                    .pop()
                    .unwrap();
            assert_eq!(got.bytes(), &frame[..], "vnetid {vnetid} len {len}");
        }
    }
}

#[test]
fn vxlan_device_properties_and_activation() {
    register();
    let ov = Overlay::new(MemPlatform::default());
    let dev = ov.create(5, 77, "vxlan").unwrap();
    assert_eq!(dev.nprops(), 6);
    assert_eq!(dev.prop_name(4), "vxlan/listen_ip");
    assert_eq!(dev.prop_name(5), "vxlan/listen_port");
    // listen_ip is required: activation names it.
    assert_eq!(
        ov.activate(5).unwrap_err(),
        (Errno::EINVAL, Some("vxlan/listen_ip".into()))
    );
    let mut buf = [0u8; 256];
    assert_eq!(dev.getprop(5, &mut buf).unwrap(), 8);
    assert_eq!(u64::from_ne_bytes(buf[..8].try_into().unwrap()), 4789);
    let port = dev.propinfo(5).unwrap();
    assert_eq!(
        &port.default[..port.defsize as usize],
        &4789u16.to_ne_bytes()
    );
    assert_eq!(port.uint32_ranges().collect::<Vec<_>>(), [(1, 65535)]);
    assert_eq!(ov.setprop(&dev, 5, &0u64.to_ne_bytes()), Err(Errno::EINVAL));
    assert_eq!(
        ov.setprop(&dev, 4, &In6Addr::from(Ipv4Addr::new(224, 0, 0, 1)).0),
        Err(Errno::EINVAL)
    );
    assert_eq!(ov.create(6, 1 << 24, "vxlan").unwrap_err(), Errno::EINVAL);
    // The plugin cannot go while a device holds it.
    assert_eq!(overlay_encap_vxlan::overlay_vxlan_fini(), Errno::EBUSY.0);
}

#[test]
fn frames_without_headroom_still_encapsulate() {
    let a = host(
        1,
        42,
        Ipv4Addr::new(198, 51, 100, 1),
        Ipv4Addr::new(198, 51, 100, 2),
    );
    let dev = a.ov.device(1).unwrap();
    let mut f = MemFrame::new(&inner(100, 1));
    f.strip(0).unwrap();
    a.ov.tx(&dev, [f], &mut TxScratch::default());
    let (_, wire) = a.ov.platform().sockets.lock()[0].sent.lock().pop().unwrap();
    assert_eq!(wire.len(), 108);
}
