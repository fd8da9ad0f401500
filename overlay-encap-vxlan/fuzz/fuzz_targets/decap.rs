//! Fuzzes what the plugin does with bytes from the network: the decap
//! op (the `extern "C"` function the driver calls through the ops
//! vector) and the safe `decap`, which must agree, and the source-port
//! flow hash over the inner frame (and over the raw input), which must
//! stay in range. Neither may panic on any input.
//!
//! The op is called directly rather than through `VXLAN_OPS`: the ops
//! vector also holds `propinfo`, which calls the driver's
//! `overlay_prop_set_*` helpers, and this binary has no driver.

#![no_main]

use core::ptr;

use libfuzzer_sys::fuzz_target;
use overlay::plugin::abi::ovep_encap_info_t;
use overlay_encap_vxlan::flow::{SRC_PORT_MIN, source_port};
use overlay_encap_vxlan::ops::vxlan_o_decap;
use overlay_encap_vxlan::{Errno, VXLAN_HDR_LEN, decap, encap};

fuzz_target!(|data: &[u8]| {
    let mut info = ovep_encap_info_t::default();
    // SAFETY: `data` is valid for its length and `info` is writable;
    // decap takes no instance.
    let rc = unsafe { vxlan_o_decap(ptr::null_mut(), data.as_ptr(), data.len(), &mut info) };

    match decap(data) {
        Ok(repr) => {
            assert_eq!(rc, 0);
            assert!(data.len() >= VXLAN_HDR_LEN && data[0] & 0x08 != 0);
            assert_eq!(info.ovdi_id, u64::from(repr.vni));
            assert_eq!(info.ovdi_hdr_size, VXLAN_HDR_LEN);
            assert!(repr.vni < 1 << 24);

            // Re-encapsulate the inner frame: same VNI back, port in
            // range and stable.
            let inner = &data[info.ovdi_hdr_size..];
            let mut hdr = [0u8; VXLAN_HDR_LEN];
            let e = encap(info.ovdi_id, inner, &mut hdr).expect("encap");
            assert_eq!(decap(&hdr), Ok(repr));
            assert!(e.src_port == 0 || e.src_port >= SRC_PORT_MIN);
            assert!(source_port(inner) >= SRC_PORT_MIN);
            assert_eq!(source_port(inner), source_port(inner));
        }
        Err(e) => {
            assert_eq!(e, Errno::EINVAL);
            assert_eq!(rc, Errno::EINVAL.0);
            assert_eq!(info, ovep_encap_info_t::default());
        }
    }

    assert!(source_port(data) >= SRC_PORT_MIN);
});
