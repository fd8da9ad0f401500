//! DTrace SDT probes of the `overlay` module.
//!
//! A probe is a call to an undefined `__dtrace_probe_<name>` symbol; krtld
//! (`sdt_reloc_resolve`) records each call site at load time and patches
//! the CALL into NOPs, and the sdt provider turns them back into traps
//! when the probe is enabled. A double underscore becomes a dash, so
//! `__dtrace_probe_overlay__fremsg` is `sdt:overlay::overlay-fremsg`.
//! Arguments are integers and pointers only: nothing is formatted, so a
//! disabled probe costs a few NOPs. Keep calls out of tail position
//! (kernels without krtld's 2025 tail-call fix cannot patch a JMP):
//! every wrapper below is `#[inline(always)]` and every call site does
//! something after it.
//!
//! Probes, and where the glue fires them:
//!
//! | probe | args | fired |
//! |---|---|---|
//! | `overlay-fremsg` (illumos) | `mblk_t *`, `char *` reason | receive path: a datagram the glue rejects (not `M_PROTO`, no `b_cont`, not `T_UNITDATA_IND`), the `T_UNITDATA_IND` block it frees ("freed a fmp block"), a payload for a closing mux, and any received frame the core drops (decap failed, no matching vid, device stopped) |
//! | `overlay-target-valid-drop` (illumos) | link id, MAC as `u64` | varpd's DROP for an entry already VALID, reported by the core through `Platform::probe` (illumos passed the entry pointer, which the core does not expose) |
//! | `overlay-tx-drop` (new) | `mblk_t *`, `char *` reason | transmit path: any frame the core frees (no target, entry says drop, queue full, encap failure, device stopped), a chain for a device that is gone, frames left after a send failure |
//! | `overlay-tx-send-error` (new) | `mblk_t *`, `int` errno | `ksocket_sendmblk` failed for this frame |
//! | `overlay-targ-lookup` (new) | `uint64_t` linkid, `uint64_t` reqid | `OVERLAY_TARG_LOOKUP` handed a request to varpd |
//! | `overlay-targ-reply` (new) | `uint64_t` reqid, `int` cmd low byte, `int` errno | `OVERLAY_TARG_RESPOND` / `DROP` returned |

use core::ffi::{CStr, c_char, c_int};

use illumos_sys_hdrs::stream::mblk_t;

unsafe extern "C" {
    safe fn __dtrace_probe_overlay__fremsg(mp: usize, reason: *const c_char);
    #[allow(dead_code)]
    safe fn __dtrace_probe_overlay__target__valid__drop(linkid: u64, mac: u64);
    safe fn __dtrace_probe_overlay__tx__drop(mp: usize, reason: *const c_char);
    safe fn __dtrace_probe_overlay__tx__send__error(mp: usize, errno: c_int);
    safe fn __dtrace_probe_overlay__targ__lookup(linkid: u64, reqid: u64);
    safe fn __dtrace_probe_overlay__targ__reply(reqid: u64, cmd: c_int, errno: c_int);
}

/// `overlay-fremsg`: the receive path frees `mp` (the pointer is only
/// reported, never followed by the probe itself).
#[inline(always)]
pub fn fremsg(mp: *const mblk_t, reason: &'static CStr) {
    __dtrace_probe_overlay__fremsg(mp as usize, reason.as_ptr());
}

/// `overlay-tx-drop`: the transmit path frees `mp`.
#[inline(always)]
pub fn tx_drop(mp: *const mblk_t, reason: &'static CStr) {
    __dtrace_probe_overlay__tx__drop(mp as usize, reason.as_ptr());
}

/// `overlay-tx-send-error`.
#[inline(always)]
pub fn tx_send_error(mp: *const mblk_t, errno: c_int) {
    __dtrace_probe_overlay__tx__send__error(mp as usize, errno);
}

/// `overlay-targ-lookup`.
#[inline(always)]
pub fn targ_lookup(linkid: u64, reqid: u64) {
    __dtrace_probe_overlay__targ__lookup(linkid, reqid);
}

/// `overlay-targ-reply`.
#[inline(always)]
pub fn targ_reply(reqid: u64, cmd: u32, errno: c_int) {
    __dtrace_probe_overlay__targ__reply(reqid, (cmd & 0xff) as c_int, errno);
}

/// `overlay-target-valid-drop`: varpd dropped a request for an entry that
/// is already valid.
#[inline(always)]
pub fn target_valid_drop(linkid: u32, mac: [u8; 6]) {
    let m = u64::from_be_bytes([0, 0, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]]);
    __dtrace_probe_overlay__target__valid__drop(u64::from(linkid), m);
}
