//! Datalink services: `sys/dls.h` and `sys/dls_mgmt.h`. A registered MAC
//! becomes a named datalink (visible to `dladm`) once `dls_devnet_create`
//! ties it to the datalink id that userland allocated.

use crate::mac::mac_handle_t;
use crate::types::{boolean_t, c_int, datalink_id_t, zoneid_t};

/// No datalink (`DATALINK_INVALID_LINKID`, `sys/mac.h`).
pub const DATALINK_INVALID_LINKID: datalink_id_t = 0;
/// All datalinks (`DATALINK_ALL_LINKID`).
pub const DATALINK_ALL_LINKID: datalink_id_t = 0;
/// Largest datalink id (`DATALINK_MAX_LINKID`).
pub const DATALINK_MAX_LINKID: datalink_id_t = 0xffff_ffff;

unsafe extern "C" {
    /// `int dls_devnet_create(mac_handle_t, datalink_id_t, zoneid_t);`
    pub fn dls_devnet_create(mh: mac_handle_t, linkid: datalink_id_t, zoneid: zoneid_t) -> c_int;
    /// `int dls_devnet_destroy(mac_handle_t, datalink_id_t *, boolean_t);`
    /// `wait`: wait for outstanding holds to go away. The destroyed link
    /// id is returned through `idp`.
    pub fn dls_devnet_destroy(mh: mac_handle_t, idp: *mut datalink_id_t, wait: boolean_t) -> c_int;
}
