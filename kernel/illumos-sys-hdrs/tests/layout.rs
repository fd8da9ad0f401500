//! Host-side checks of the amd64 layouts and constants.
//!
//! The crate already asserts these at compile time; repeating them here
//! gives a test failure that names the struct and field, and checks the
//! few helper functions that re-implement C macros.

use std::mem::{align_of, offset_of, size_of};

use illumos_sys_hdrs::ddi::*;
use illumos_sys_hdrs::dld::*;
use illumos_sys_hdrs::mac::*;
use illumos_sys_hdrs::modctl::*;
use illumos_sys_hdrs::socket::*;
use illumos_sys_hdrs::stream::*;
use illumos_sys_hdrs::sync::*;
use illumos_sys_hdrs::tihdr::*;
use illumos_sys_hdrs::types::*;

#[test]
fn scalar_types_are_lp64() {
    assert_eq!(size_of::<boolean_t>(), 4);
    assert_eq!(size_of::<dev_t>(), 8);
    assert_eq!(size_of::<minor_t>(), 4);
    assert_eq!(size_of::<major_t>(), 4);
    assert_eq!(size_of::<clock_t>(), 8);
    assert_eq!(size_of::<hrtime_t>(), 8);
    assert_eq!(size_of::<id_t>(), 4);
    assert_eq!(size_of::<zoneid_t>(), 4);
    assert_eq!(size_of::<datalink_id_t>(), 4);
    assert_eq!(size_of::<socklen_t>(), 4);
    assert_eq!(size_of::<t_scalar_t>(), 4);
}

#[test]
fn lock_storage() {
    assert_eq!((size_of::<kmutex_t>(), align_of::<kmutex_t>()), (8, 8));
    assert_eq!((size_of::<krwlock_t>(), align_of::<krwlock_t>()), (8, 8));
    assert_eq!((size_of::<kcondvar_t>(), align_of::<kcondvar_t>()), (2, 2));
}

#[test]
fn streams_layouts() {
    assert_eq!(size_of::<mblk_t>(), 64);
    assert_eq!(offset_of!(mblk_t, b_next), 0);
    assert_eq!(offset_of!(mblk_t, b_prev), 8);
    assert_eq!(offset_of!(mblk_t, b_cont), 16);
    assert_eq!(offset_of!(mblk_t, b_rptr), 24);
    assert_eq!(offset_of!(mblk_t, b_wptr), 32);
    assert_eq!(offset_of!(mblk_t, b_datap), 40);
    assert_eq!(offset_of!(mblk_t, b_band), 48);
    assert_eq!(offset_of!(mblk_t, b_tag), 49);
    assert_eq!(offset_of!(mblk_t, b_flag), 50);
    assert_eq!(offset_of!(mblk_t, b_queue), 56);

    assert_eq!(size_of::<dblk_t>(), 112);
    assert_eq!(offset_of!(dblk_t, db_frtnp), 0);
    assert_eq!(offset_of!(dblk_t, db_base), 8);
    assert_eq!(offset_of!(dblk_t, db_lim), 16);
    assert_eq!(offset_of!(dblk_t, db_ref), 24);
    assert_eq!(offset_of!(dblk_t, db_type), 25);
    assert_eq!(offset_of!(dblk_t, db_flags), 26);
    assert_eq!(offset_of!(dblk_t, db_struioflag), 27);
    assert_eq!(offset_of!(dblk_t, db_cpid), 28);
    assert_eq!(offset_of!(dblk_t, db_cache), 32);
    assert_eq!(offset_of!(dblk_t, db_mblk), 40);
    assert_eq!(offset_of!(dblk_t, db_free), 48);
    assert_eq!(offset_of!(dblk_t, db_lastfree), 56);
    assert_eq!(offset_of!(dblk_t, db_cksumstart), 64);
    assert_eq!(offset_of!(dblk_t, db_cksumend), 72);
    assert_eq!(offset_of!(dblk_t, db_cksumstuff), 80);
    assert_eq!(offset_of!(dblk_t, db_struioun), 88);
    assert_eq!(offset_of!(dblk_t, db_fthdr), 96);
    assert_eq!(offset_of!(dblk_t, db_credp), 104);
    // DB_CKSUMFLAGS is db_struioun.cksum.flags: 4 bytes into the union.
    assert_eq!(offset_of!(datab_cksum, flags), 4);
    assert_eq!(offset_of!(datab_cksum, pad), 6);

    assert_eq!(size_of::<T_unitdata_ind>(), 20);
    assert_eq!(offset_of!(T_unitdata_ind, SRC_offset), 8);
    assert_eq!(offset_of!(T_unitdata_ind, OPT_offset), 16);
}

#[test]
fn streams_accessors() {
    let mut data = [0u8; 64];
    let base = data.as_mut_ptr();
    let mut db = dblk_t {
        db_frtnp: std::ptr::null_mut(),
        db_base: base,
        // SAFETY: 64 is the length of `data`.
        db_lim: unsafe { base.add(64) },
        db_ref: 1,
        db_type: M_PROTO,
        db_flags: 0,
        db_struioflag: 0,
        db_cpid: 0,
        db_cache: std::ptr::null_mut(),
        db_mblk: std::ptr::null_mut(),
        db_free: None,
        db_lastfree: None,
        db_cksumstart: 0,
        db_cksumend: 0,
        db_cksumstuff: 0,
        db_struioun: datab_struioun {
            enforce_alignment: 0,
        },
        db_fthdr: std::ptr::null_mut(),
        db_credp: std::ptr::null_mut(),
    };
    let mut mb = mblk_t {
        b_next: std::ptr::null_mut(),
        b_prev: std::ptr::null_mut(),
        b_cont: std::ptr::null_mut(),
        // SAFETY: offsets within `data`.
        b_rptr: unsafe { base.add(10) },
        // SAFETY: offsets within `data`.
        b_wptr: unsafe { base.add(30) },
        b_datap: &mut db,
        b_band: 0,
        b_tag: 0,
        b_flag: 0,
        b_queue: std::ptr::null_mut(),
    };
    let mp: *mut mblk_t = &mut mb;
    // SAFETY: `mp` and its data block are valid locals.
    unsafe {
        assert_eq!(DB_TYPE(mp), M_PROTO);
        assert_eq!(DB_REF(mp), 1);
        assert_eq!(MBLKL(mp), 20);
        assert_eq!(MBLKSIZE(mp), 64);
        assert_eq!(MBLKHEAD(mp), 10);
        assert_eq!(MBLKTAIL(mp), 34);
        DB_CKSUMFLAGS_SET(mp, 0x1234);
        assert_eq!(DB_CKSUMFLAGS(mp), 0x1234);
        assert_eq!(db.db_struioun.data[4..6], 0x1234u16.to_ne_bytes());
    }
}

#[test]
fn driver_tables() {
    assert_eq!(size_of::<cb_ops>(), 136);
    assert_eq!(offset_of!(cb_ops, cb_ioctl), 56);
    assert_eq!(offset_of!(cb_ops, cb_chpoll), 88);
    assert_eq!(offset_of!(cb_ops, cb_prop_op), 96);
    assert_eq!(offset_of!(cb_ops, cb_str), 104);
    assert_eq!(offset_of!(cb_ops, cb_flag), 112);
    assert_eq!(offset_of!(cb_ops, cb_rev), 116);
    assert_eq!(offset_of!(cb_ops, cb_aread), 120);
    assert_eq!(offset_of!(cb_ops, cb_awrite), 128);

    assert_eq!(size_of::<dev_ops>(), 88);
    assert_eq!(offset_of!(dev_ops, devo_refcnt), 4);
    assert_eq!(offset_of!(dev_ops, devo_getinfo), 8);
    assert_eq!(offset_of!(dev_ops, devo_attach), 32);
    assert_eq!(offset_of!(dev_ops, devo_detach), 40);
    assert_eq!(offset_of!(dev_ops, devo_cb_ops), 56);
    assert_eq!(offset_of!(dev_ops, devo_bus_ops), 64);
    assert_eq!(offset_of!(dev_ops, devo_power), 72);
    assert_eq!(offset_of!(dev_ops, devo_quiesce), 80);

    assert_eq!(size_of::<mod_ops>(), 24);
    assert_eq!(size_of::<modldrv>(), 24);
    assert_eq!(size_of::<modlmisc>(), 16);
    assert_eq!(size_of::<modlinkage>(), 64);
    assert_eq!(offset_of!(modlinkage, ml_linkage), 8);
    assert_eq!(size_of::<streamtab>(), 32);
}

#[test]
fn mac_layouts() {
    assert_eq!(size_of::<mac_register_t>(), 112);
    assert_eq!(offset_of!(mac_register_t, m_version), 0);
    assert_eq!(offset_of!(mac_register_t, m_type_ident), 8);
    assert_eq!(offset_of!(mac_register_t, m_driver), 16);
    assert_eq!(offset_of!(mac_register_t, m_dip), 24);
    assert_eq!(offset_of!(mac_register_t, m_instance), 32);
    assert_eq!(offset_of!(mac_register_t, m_src_addr), 40);
    assert_eq!(offset_of!(mac_register_t, m_dst_addr), 48);
    assert_eq!(offset_of!(mac_register_t, m_callbacks), 56);
    assert_eq!(offset_of!(mac_register_t, m_min_sdu), 64);
    assert_eq!(offset_of!(mac_register_t, m_max_sdu), 68);
    assert_eq!(offset_of!(mac_register_t, m_pdata), 72);
    assert_eq!(offset_of!(mac_register_t, m_pdata_size), 80);
    assert_eq!(offset_of!(mac_register_t, m_priv_props), 88);
    assert_eq!(offset_of!(mac_register_t, m_margin), 96);
    assert_eq!(offset_of!(mac_register_t, m_v12n), 100);
    assert_eq!(offset_of!(mac_register_t, m_multicast_sdu), 104);

    assert_eq!(size_of::<mac_callbacks_t>(), 128);
    let slots = [
        offset_of!(mac_callbacks_t, mc_getstat),
        offset_of!(mac_callbacks_t, mc_start),
        offset_of!(mac_callbacks_t, mc_stop),
        offset_of!(mac_callbacks_t, mc_setpromisc),
        offset_of!(mac_callbacks_t, mc_multicst),
        offset_of!(mac_callbacks_t, mc_unicst),
        offset_of!(mac_callbacks_t, mc_tx),
        offset_of!(mac_callbacks_t, mc_reserved),
        offset_of!(mac_callbacks_t, mc_ioctl),
        offset_of!(mac_callbacks_t, mc_getcapab),
        offset_of!(mac_callbacks_t, mc_open),
        offset_of!(mac_callbacks_t, mc_close),
        offset_of!(mac_callbacks_t, mc_setprop),
        offset_of!(mac_callbacks_t, mc_getprop),
        offset_of!(mac_callbacks_t, mc_propinfo),
    ];
    for (i, off) in slots.iter().enumerate() {
        assert_eq!(*off, 8 + 8 * i, "mac_callbacks_t slot {i}");
    }

    assert_eq!(size_of::<mac_header_info_t>(), 56);
    assert_eq!(offset_of!(mac_header_info_t, mhi_daddr), 16);
    assert_eq!(offset_of!(mac_header_info_t, mhi_dsttype), 40);
    assert_eq!(offset_of!(mac_header_info_t, mhi_tci), 44);
    assert_eq!(offset_of!(mac_header_info_t, mhi_istagged), 48);
    assert_eq!(offset_of!(mac_header_info_t, mhi_ispvid), 52);
    assert_eq!(size_of::<mac_propval_range_t>(), 16);

    assert_eq!(MC_PROPERTIES, 0x20 | 0x40 | 0x80);
    assert_eq!(MAC_PROP_MTU.0, 6);
    assert_eq!(MAC_PLUGIN_IDENT_ETHER.to_bytes(), b"mac_ether");
}

#[test]
fn dld_layouts_and_numbers() {
    assert_eq!(size_of::<dld_ioc_info_t>(), 32);
    assert_eq!(offset_of!(dld_ioc_info_t, di_flags), 4);
    assert_eq!(offset_of!(dld_ioc_info_t, di_argsize), 8);
    assert_eq!(offset_of!(dld_ioc_info_t, di_func), 16);
    assert_eq!(offset_of!(dld_ioc_info_t, di_priv_func), 24);
    assert_eq!(DLD_IOC_CMD(OVERLAY_IOC, 1), 0x2005_0001);
    assert_eq!(DLD_IOC_MODID(0x2005_0001), OVERLAY_IOC);
    assert_eq!(DLDCOPYINOUT, 3);
}

#[test]
fn socket_layouts() {
    assert_eq!(size_of::<sockaddr>(), 16);
    assert_eq!(size_of::<sockaddr_in>(), 16);
    assert_eq!((size_of::<in6_addr>(), align_of::<in6_addr>()), (16, 4));
    assert_eq!(size_of::<sockaddr_in6>(), 32);
    assert_eq!(offset_of!(sockaddr_in6, sin6_port), 2);
    assert_eq!(offset_of!(sockaddr_in6, sin6_flowinfo), 4);
    assert_eq!(offset_of!(sockaddr_in6, sin6_addr), 8);
    assert_eq!(offset_of!(sockaddr_in6, sin6_scope_id), 24);
    assert_eq!(offset_of!(sockaddr_in6, __sin6_src_id), 28);
    assert_eq!(
        (
            size_of::<sockaddr_storage>(),
            align_of::<sockaddr_storage>()
        ),
        (256, 8)
    );
    assert_eq!(size_of::<msghdr>(), 48);
    assert_eq!(offset_of!(msghdr, msg_iovlen), 24);
    assert_eq!(offset_of!(msghdr, msg_flags), 44);
    assert_eq!(AF_INET6, 26);
    assert_eq!(SOCK_DGRAM, 1);
}

#[test]
fn dev_t_packing() {
    let dev = makedevice(0x1234, 0xdead_beef);
    assert_eq!(dev, 0x0000_1234_dead_beef);
    assert_eq!(getmajor(dev), 0x1234);
    assert_eq!(getminor(dev), 0xdead_beef);
    assert_eq!(DDI_DEV_T_NONE, u64::MAX);
    assert_eq!(DDI_DEV_T_ANY, u64::MAX - 1);
    assert_eq!(DDI_PSEUDO.to_bytes(), b"ddi_pseudo");
    assert_eq!(FKIOCTL as u32, 0x8000_0000);
}

#[test]
fn boolean_t_truthiness() {
    assert!(B_TRUE.is_true());
    assert!(!B_FALSE.is_true());
    assert!(boolean_t(7).is_true());
    assert_eq!(boolean_t::from(true), B_TRUE);
}
