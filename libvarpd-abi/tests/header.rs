//! The C header and the Rust mirror agree: a C program compiled against
//! `include/libvarpd_provider.h` prints sizes and offsets, which must be
//! the Rust ones. Needs `cc` (it is on every build machine); its absence
//! fails the test.

use std::mem::{offset_of, size_of};
use std::process::Command;

use libvarpd_abi::sys::*;

const PROBE: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include "libvarpd_provider.h"
int main(void) {
    printf("ops %zu\n", sizeof (varpd_plugin_ops_t));
    printf("ops.create %zu\n", offsetof(varpd_plugin_ops_t, vpo_create));
    printf("ops.default %zu\n", offsetof(varpd_plugin_ops_t, vpo_default));
    printf("ops.lookup %zu\n", offsetof(varpd_plugin_ops_t, vpo_lookup));
    printf("ops.save %zu\n", offsetof(varpd_plugin_ops_t, vpo_save));
    printf("ops.arp %zu\n", offsetof(varpd_plugin_ops_t, vpo_arp));
    printf("ops.dhcp %zu\n", offsetof(varpd_plugin_ops_t, vpo_dhcp));
    printf("reg %zu\n", sizeof (varpd_plugin_register_t));
    printf("reg.name %zu\n", offsetof(varpd_plugin_register_t, vpr_name));
    printf("reg.ops %zu\n", offsetof(varpd_plugin_register_t, vpr_ops));
    printf("point %zu\n", sizeof (overlay_target_point_t));
    printf("point.ip %zu\n", offsetof(overlay_target_point_t, otp_ip));
    printf("point.port %zu\n", offsetof(overlay_target_point_t, otp_port));
    printf("lookup %zu\n", sizeof (overlay_targ_lookup_t));
    printf("lookup.srcaddr %zu\n", offsetof(overlay_targ_lookup_t, otl_srcaddr));
    printf("lookup.sap %zu\n", offsetof(overlay_targ_lookup_t, otl_sap));
    printf("lookup.vlan %zu\n", offsetof(overlay_targ_lookup_t, otl_vlan));
    printf("ok %d %d %d\n", VARPD_LOOKUP_OK, VARPD_LOOKUP_DROP, VARPD_CURRENT_VERSION);
    printf("iter %zu %zu %zu\n", sizeof (overlay_targ_cache_iter_t),
        offsetof(overlay_targ_cache_iter_t, otci_ents),
        sizeof (overlay_targ_cache_entry_t));
    printf("bool %zu %d %d %d\n", sizeof (boolean_t), B_TRUE, B_FALSE, ETHERADDRL);
    printf("types %d %d %d\n", DATA_TYPE_NVLIST, DATA_TYPE_BOOLEAN_VALUE, DATA_TYPE_UINT8);
    return (0);
}
"#;

#[test]
fn c_header_matches_the_rust_mirror() {
    let dir = std::env::temp_dir().join(format!("libvarpd-abi-hdr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("probe.c");
    let bin = dir.join("probe");
    std::fs::write(&src, PROBE).unwrap();
    let inc = concat!(env!("CARGO_MANIFEST_DIR"), "/include");
    let out = Command::new("cc")
        .args(["-std=c99", "-Wall", "-Werror", "-I", inc, "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("running cc (a C compiler is required)");
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&bin).output().unwrap();
    let text = String::from_utf8(run.stdout).unwrap();
    let want = format!(
        "ops {}\nops.create {}\nops.default {}\nops.lookup {}\nops.save {}\nops.arp {}\nops.dhcp {}\n\
         reg {}\nreg.name {}\nreg.ops {}\npoint {}\npoint.ip {}\npoint.port {}\n\
         lookup {}\nlookup.srcaddr {}\nlookup.sap {}\nlookup.vlan {}\nok 0 -1 1\n\
         iter 24 24 36\nbool 4 1 0 6\ntypes 19 21 23\n",
        size_of::<varpd_plugin_ops_t>(),
        offset_of!(varpd_plugin_ops_t, vpo_create),
        offset_of!(varpd_plugin_ops_t, vpo_default),
        offset_of!(varpd_plugin_ops_t, vpo_lookup),
        offset_of!(varpd_plugin_ops_t, vpo_save),
        offset_of!(varpd_plugin_ops_t, vpo_arp),
        offset_of!(varpd_plugin_ops_t, vpo_dhcp),
        size_of::<varpd_plugin_register_t>(),
        offset_of!(varpd_plugin_register_t, vpr_name),
        offset_of!(varpd_plugin_register_t, vpr_ops),
        size_of::<overlay_target_point_t>(),
        offset_of!(overlay_target_point_t, otp_ip),
        offset_of!(overlay_target_point_t, otp_port),
        size_of::<overlay_targ_lookup_t>(),
        offset_of!(overlay_targ_lookup_t, otl_srcaddr),
        offset_of!(overlay_targ_lookup_t, otl_sap),
        offset_of!(overlay_targ_lookup_t, otl_vlan),
    );
    assert_eq!(text, want);
    let _ = std::fs::remove_dir_all(&dir);
}
