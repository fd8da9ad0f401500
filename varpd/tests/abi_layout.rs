//! Every ABI struct the project shares with illumos, pinned in one table:
//! its size and the offset of each named field, as the illumos headers
//! lay them out on amd64.
//!
//! The numbers come from the headers at illumos-gate commit
//! 61219925bb32ebb8717b9f71c65d328d79f7dcaa (`sys/overlay.h`,
//! `sys/overlay_target.h`, `sys/overlay_common.h`, `libvarpd_provider.h`,
//! `libvarpd_impl.h`), the revision `kernel/overlay/src/abi/mod.rs` names.
//! Each crate also asserts its own layouts at compile time; this table is
//! the one place a reviewer compares against a header, and a drift anywhere
//! fails here with every mismatch listed, not just the first.
//!
//! Padding the Rust structs spell out (`_pad0`, `_align`, ...) is implicit
//! in C and left out; fields C names (`otci_pad2`, `vcna_pad`) are in.

use std::mem::{offset_of, size_of};

use libvarpd_abi::sys;
use overlay::abi::{common, dld, targ};
use varpd::proto;

/// One struct: its name, `sizeof`, and `(field, offsetof)` pairs, each
/// with the value Rust computes beside the value the header gives.
struct Layout {
    name: &'static str,
    size: (usize, usize),
    fields: Vec<(&'static str, usize, usize)>,
}

macro_rules! layouts {
    ($($ty:path = $size:literal { $($field:ident @ $off:literal),* $(,)? }),* $(,)?) => {
        vec![$(Layout {
            name: stringify!($ty),
            size: (size_of::<$ty>(), $size),
            fields: vec![$((stringify!($field), offset_of!($ty, $field), $off)),*],
        }),*]
    };
}

#[test]
fn every_abi_struct_matches_the_illumos_headers() {
    let table = layouts![

        // overlay::abi::targ
        // overlay_target_point_t
        targ::OverlayTargetPoint = 28 {
            otp_mac @ 0,
            otp_ip @ 8,
            otp_port @ 24,
        },
        // overlay_targ_info_t
        targ::OverlayTargInfo = 24 {
            oti_linkid @ 0,
            oti_needs @ 4,
            oti_flags @ 8,
            oti_vnetid @ 16,
        },
        // overlay_targ_associate_t
        targ::OverlayTargAssociate = 48 {
            ota_linkid @ 0,
            ota_mode @ 4,
            ota_id @ 8,
            ota_provides @ 16,
            ota_point @ 20,
        },
        // overlay_targ_degrade_t
        targ::OverlayTargDegrade = 264 {
            otd_linkid @ 0,
            otd_pad @ 4,
            otd_buf @ 8,
        },
        // overlay_targ_id_t
        targ::OverlayTargId = 4 {
            otid_linkid @ 0,
        },
        // overlay_targ_lookup_t
        targ::OverlayTargLookup = 72 {
            otl_dlid @ 0,
            otl_reqid @ 8,
            otl_varpdid @ 16,
            otl_vnetid @ 24,
            otl_hdrsize @ 32,
            otl_pktsize @ 40,
            otl_srcaddr @ 48,
            otl_dstaddr @ 54,
            otl_dsttype @ 60,
            otl_sap @ 64,
            otl_vlan @ 68,
        },
        // overlay_targ_resp_t
        targ::OverlayTargResp = 40 {
            otr_reqid @ 0,
            otr_answer @ 8,
        },
        // overlay_targ_pkt_t
        targ::OverlayTargPkt = 32 {
            otp_linkid @ 0,
            otp_reqid @ 8,
            otp_size @ 16,
            otp_buf @ 24,
        },
        // overlay_targ_list_t
        targ::OverlayTargListHdr = 4 {
            otl_nents @ 0,
        },
        // overlay_targ_cache_entry_t
        targ::OverlayTargCacheEntry = 36 {
            otce_mac @ 0,
            otce_flags @ 6,
            otce_dest @ 8,
        },
        // overlay_targ_cache_t
        targ::OverlayTargCache = 40 {
            otc_linkid @ 0,
            otc_entry @ 4,
        },
        // overlay_targ_cache_iter_t
        targ::OverlayTargCacheIterHdr = 24 {
            otci_linkid @ 0,
            otci_pad @ 4,
            otci_marker @ 8,
            otci_count @ 16,
            otci_pad2 @ 18,
        },

        // overlay::abi::dld
        // overlay_ioc_create_t
        dld::OverlayIocCreate = 48 {
            oic_linkid @ 0,
            oic_filler @ 4,
            oic_vnetid @ 8,
            oic_encap @ 16,
        },
        // overlay_ioc_delete_t
        dld::OverlayIocDelete = 4 {
            oid_linkid @ 0,
        },
        // overlay_ioc_activate_t
        dld::OverlayIocActivate = 4 {
            oia_linkid @ 0,
        },
        // overlay_ioc_nprops_t
        dld::OverlayIocNprops = 8 {
            oipn_linkid @ 0,
            oipn_nprops @ 4,
        },
        // overlay_ioc_propinfo_t
        dld::OverlayIocPropinfo = 600 {
            oipi_linkid @ 0,
            oipi_id @ 4,
            oipi_name @ 8,
            oipi_type @ 72,
            oipi_prot @ 76,
            oipi_default @ 80,
            oipi_defsize @ 336,
            oipi_posssize @ 340,
            oipi_poss @ 344,
        },
        // overlay_ioc_prop_t
        dld::OverlayIocProp = 332 {
            oip_linkid @ 0,
            oip_id @ 4,
            oip_name @ 8,
            oip_value @ 72,
            oip_size @ 328,
        },
        // overlay_ioc_status_t
        dld::OverlayIocStatus = 264 {
            ois_linkid @ 0,
            ois_status @ 4,
            ois_message @ 8,
        },

        // overlay::abi::common
        // mac_propval_range_t (head)
        common::MacPropvalRangeHdr = 8 {
            mpr_count @ 0,
            mpr_type @ 4,
        },

        // varpd::proto
        // varpd_client_create_arg_t
        proto::CreateArg = 80 {
            vcca_linkid @ 0,
            vcca_pad @ 4,
            vcca_id @ 8,
            vcca_plugin @ 16,
        },
        // varpd_client_instance_arg_t
        proto::InstanceArg = 8 {
            vcia_id @ 0,
        },
        // varpd_client_nprops_arg_t
        proto::NpropsArg = 16 {
            vcna_id @ 0,
            vcna_nprops @ 8,
            vcna_pad @ 12,
        },
        // varpd_client_propinfo_arg_t
        proto::PropinfoArg = 608 {
            vcfa_id @ 0,
            vcfa_propid @ 8,
            vcfa_type @ 12,
            vcfa_prot @ 16,
            vcfa_defsize @ 20,
            vcfa_psize @ 24,
            vcfa_pad @ 28,
            vcfa_name @ 32,
            vcfa_default @ 96,
            vcfa_poss @ 352,
        },
        // varpd_client_prop_arg_t
        proto::PropArg = 280 {
            vcpa_id @ 0,
            vcpa_propid @ 8,
            vcpa_buf @ 12,
            vcpa_pad @ 268,
            vcpa_bufsize @ 272,
        },
        // varpd_client_lookup_arg_t
        proto::LookupArg = 16 {
            vcla_linkid @ 0,
            vcla_pad @ 4,
            vcla_id @ 8,
        },
        // varpd_client_target_mode_arg_t
        proto::ModeArg = 16 {
            vtma_id @ 0,
            vtma_dest @ 8,
            vtma_mode @ 12,
        },
        // varpd_client_cache_entry_t
        proto::ClientCacheEntry = 28 {
            vcp_mac @ 0,
            vcp_flags @ 6,
            vcp_ip @ 8,
            vcp_port @ 24,
            vcp_pad @ 26,
        },
        // varpd_client_target_cache_arg_t
        proto::CacheArg = 48 {
            vtca_id @ 0,
            vtca_key @ 8,
            vtca_pad @ 14,
            vtca_entry @ 16,
            vtca_pad2 @ 44,
        },
        // varpd_client_target_walk_arg_t
        proto::WalkArg = 24 {
            vtcw_id @ 0,
            vtcw_marker @ 8,
            vtcw_count @ 16,
        },

        // libvarpd_abi::sys
        // varpd_plugin_ops_t
        sys::varpd_plugin_ops_t = 120 {
            vpo_callbacks @ 0,
            vpo_create @ 8,
            vpo_start @ 16,
            vpo_stop @ 24,
            vpo_destroy @ 32,
            vpo_default @ 40,
            vpo_lookup @ 48,
            vpo_nprops @ 56,
            vpo_propinfo @ 64,
            vpo_getprop @ 72,
            vpo_setprop @ 80,
            vpo_save @ 88,
            vpo_restore @ 96,
            vpo_arp @ 104,
            vpo_dhcp @ 112,
        },
        // varpd_plugin_register_t
        sys::varpd_plugin_register_t = 24 {
            vpr_version @ 0,
            vpr_mode @ 4,
            vpr_name @ 8,
            vpr_ops @ 16,
        },
    ];
    let mut drift = Vec::new();
    for l in &table {
        if l.size.0 != l.size.1 {
            drift.push(format!(
                "sizeof ({}) is {}, illumos: {}",
                l.name, l.size.0, l.size.1
            ));
        }
        for &(f, ours, theirs) in &l.fields {
            if ours != theirs {
                drift.push(format!(
                    "offsetof ({}, {f}) is {ours}, illumos: {theirs}",
                    l.name
                ));
            }
        }
    }
    assert!(
        drift.is_empty(),
        "ABI drift from illumos:\n{}",
        drift.join("\n")
    );
    // Guards the table itself against losing rows.
    assert_eq!(table.len(), 32);
}

/// The cache iterator's entries follow the 24-byte header (they started
/// at 20, inside the header, before illumos added `otci_pad2`).
#[test]
fn cache_iter_entries_start_after_the_header() {
    assert_eq!(targ::OTCI_ENTS_OFFSET, 24);
    assert_eq!(targ::otci_copy_size(2), 24 + 2 * 36);
}

/// The door argument union and the plugin ABI constants.
#[test]
fn door_and_plugin_constants() {
    assert_eq!(proto::ARG_SIZE, 616);
    assert_eq!(proto::UNION_OFF, 8);
    assert_eq!(sys::VARPD_LOOKUP_DROP, -1);
    assert_eq!(common::MAC_PROPVAL_RANGE_UNION_OFFSET, 8);
    assert_eq!(dld::OVERLAY_IOC_CREATE, 0x2005_0001);
    assert_eq!(targ::OVERLAY_TARG_CACHE_ITER, 0x6f76_7434);
}
