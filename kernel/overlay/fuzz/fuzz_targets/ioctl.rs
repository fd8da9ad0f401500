//! Fuzzes the ioctl argument decoding: arbitrary command selectors,
//! credentials and argument bytes against one long-lived driver, so that
//! inputs build on the devices and targets earlier inputs created. The
//! driver must answer every input with a result, never a panic.

#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        let _ = overlay_encap_vxlan::overlay_vxlan_init();
    });
    overlay::testing::fuzz::ioctl_one(data);
});
