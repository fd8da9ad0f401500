//! The per-device plugin instance (illumos `vxlan_t`): the listen
//! address and port, and the operations that read or change them.
//!
//! ## Why atomics and no lock
//!
//! illumos guarded `vxlan_t` with a kmutex. The accesses are few and
//! ordered by the driver anyway:
//!
//! * `setprop` and `getprop` run under the MAC perimeter (or, on other
//!   hosts, the device lock): never two at once;
//! * `socket` runs when the device's mux is opened, in `mc_start`, which
//!   requires the device to be ACTIVATED, and an activated device
//!   refuses `setprop`; the activation that happens-after the last
//!   `setprop` also happens-before the `socket`;
//! * `encap`/`decap` never read the instance (the VNI comes in the
//!   encap info, and decap has no instance at all).
//!
//! So no reader ever runs alongside a writer. The fields are still
//! atomics, not plain integers behind a pointer, so that the plugin has
//! no data race in Rust's memory model whatever a host does, the
//! instance is `Sync` without a lock to create, destroy or block on
//! (encap/decap may run in interrupt context), and a reader on another
//! CPU that sees `has_addr` set (Acquire) sees the address words stored
//! before it was set (Release). The one thing a contract-breaking host
//! could observe is a `socket` that overlaps a second `setprop` of the
//! address and mixes words of the two; the driver never does that.

use core::ffi::c_int;
use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, Ordering};

use overlay::Errno;
use overlay::abi::addr::In6Addr;
use overlay::plugin::abi::{
    AF_INET6, IPPROTO_UDP, SOCK_DGRAM, UDP_HASH_VXLAN, UDP_SRCPORT_HASH, overlay_sockopt_t,
    sockaddr_in6_t,
};

use crate::prop::{self, VxlanProp};
use crate::wire::IPPORT_VXLAN;

/// The mux socket a vxlan device needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketParams {
    /// Always `AF_INET6` (IPv4 listen addresses are IPv4-mapped).
    pub domain: c_int,
    /// Always `SOCK_DGRAM`.
    pub ty: c_int,
    /// Always 0 (the default protocol: UDP), as illumos passes it.
    pub protocol: c_int,
    /// `[listen_ip]:listen_port`, port in network byte order.
    pub addr: sockaddr_in6_t,
}

/// `sizeof (struct sockaddr_in6)`.
pub const SOCKADDR_IN6_LEN: u32 = core::mem::size_of::<sockaddr_in6_t>() as u32;

/// The option illumos sets on a vxlan mux socket when `vxlan_fanout` is
/// on: UDP source-port hashing of the inner flow.
pub const FANOUT_SOCKOPT: overlay_sockopt_t = overlay_sockopt_t {
    oso_level: IPPROTO_UDP,
    oso_name: UDP_SRCPORT_HASH,
    oso_value: UDP_HASH_VXLAN,
};

static FANOUT_SOCKOPTS: [overlay_sockopt_t; 1] = [FANOUT_SOCKOPT];

/// The options for a new mux socket: [`FANOUT_SOCKOPT`] if `fanout`,
/// else none.
pub fn sockopts(fanout: bool) -> &'static [overlay_sockopt_t] {
    if fanout { &FANOUT_SOCKOPTS } else { &[] }
}

/// One vxlan plugin instance, serving one overlay device.
#[derive(Debug)]
pub struct Vxlan {
    /// The listen address, as the four 32-bit words of an `in6_addr`
    /// in memory order. Meaningful once `has_addr` is set.
    addr: [AtomicU32; 4],
    /// illumos `vxl_hladdr`: whether `vxlan/listen_ip` was set.
    has_addr: AtomicBool,
    /// illumos `vxl_lport`, host order.
    port: AtomicU16,
}

impl Default for Vxlan {
    fn default() -> Self {
        Self::new()
    }
}

impl Vxlan {
    /// A fresh instance: no listen address, port 4789.
    pub const fn new() -> Vxlan {
        Vxlan {
            addr: [
                AtomicU32::new(0),
                AtomicU32::new(0),
                AtomicU32::new(0),
                AtomicU32::new(0),
            ],
            has_addr: AtomicBool::new(false),
            port: AtomicU16::new(IPPORT_VXLAN),
        }
    }

    /// `vxlan/listen_ip`, if set.
    pub fn listen_ip(&self) -> Option<In6Addr> {
        if !self.has_addr.load(Ordering::Acquire) {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (chunk, word) in bytes.chunks_exact_mut(4).zip(&self.addr) {
            chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
        }
        Some(In6Addr(bytes))
    }

    /// `vxlan/listen_port`.
    pub fn listen_port(&self) -> u16 {
        self.port.load(Ordering::Relaxed)
    }

    fn store_listen_ip(&self, addr: In6Addr) {
        for (chunk, word) in addr.0.chunks_exact(4).zip(&self.addr) {
            let w = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            word.store(w, Ordering::Relaxed);
        }
        self.has_addr.store(true, Ordering::Release);
    }

    /// `ovpo_getprop`: writes the value into `buf` and returns its
    /// length (0: unset). A buffer shorter than the property's full
    /// size (16 or 8 bytes) is `EOVERFLOW`, even when the value is
    /// unset.
    pub fn getprop(&self, prop: VxlanProp, buf: &mut [u8]) -> Result<usize, Errno> {
        let Some(out) = buf.get_mut(..prop.get_len()) else {
            return Err(Errno::EOVERFLOW);
        };
        match prop {
            VxlanProp::ListenIp => match self.listen_ip() {
                None => Ok(0),
                Some(addr) => {
                    out.copy_from_slice(&addr.0);
                    Ok(prop::IP_VALUE_LEN)
                }
            },
            VxlanProp::ListenPort => {
                out.copy_from_slice(&u64::from(self.listen_port()).to_ne_bytes());
                Ok(prop::UINT_VALUE_LEN)
            }
        }
    }

    /// `ovpo_setprop`: validates and stores a value (see
    /// [`prop::validate_listen_ip`], [`prop::validate_listen_port`]).
    pub fn setprop(&self, prop: VxlanProp, val: &[u8]) -> Result<(), Errno> {
        match prop {
            VxlanProp::ListenIp => self.store_listen_ip(prop::validate_listen_ip(val)?),
            VxlanProp::ListenPort => {
                let port = prop::validate_listen_port(val)?;
                self.port.store(port, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// `ovpo_socket`: an `AF_INET6` datagram socket bound to
    /// `[listen_ip]:listen_port`; `EINVAL` while listen_ip is unset.
    pub fn socket(&self) -> Result<SocketParams, Errno> {
        let addr = self.listen_ip().ok_or(Errno::EINVAL)?;
        Ok(SocketParams {
            domain: AF_INET6,
            ty: SOCK_DGRAM,
            protocol: 0,
            addr: sockaddr_in6_t {
                sin6_family: AF_INET6 as u16,
                sin6_port: self.listen_port().to_be(),
                sin6_addr: addr,
                ..sockaddr_in6_t::default()
            },
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::prop::test::v6;

    #[test]
    fn defaults() {
        let v = Vxlan::new();
        assert_eq!(v.listen_ip(), None);
        assert_eq!(v.listen_port(), 4789);
        assert_eq!(v.socket(), Err(Errno::EINVAL));
        let mut buf = [0xaau8; 16];
        assert_eq!(v.getprop(VxlanProp::ListenIp, &mut buf), Ok(0));
        assert_eq!(v.getprop(VxlanProp::ListenPort, &mut buf), Ok(8));
        assert_eq!(buf[..8], 4789u64.to_ne_bytes());
    }

    #[test]
    fn get_set_roundtrip_and_overflow() {
        let v = Vxlan::default();
        let ip = v6("2001:db8::42");
        v.setprop(VxlanProp::ListenIp, &ip).unwrap();
        v.setprop(VxlanProp::ListenPort, &8472u64.to_ne_bytes())
            .unwrap();
        let mut buf = [0u8; 32];
        assert_eq!(v.getprop(VxlanProp::ListenIp, &mut buf), Ok(16));
        assert_eq!(buf[..16], ip);
        assert_eq!(v.getprop(VxlanProp::ListenPort, &mut buf), Ok(8));
        assert_eq!(buf[..8], 8472u64.to_ne_bytes());
        assert_eq!(
            v.getprop(VxlanProp::ListenIp, &mut buf[..15]),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(
            v.getprop(VxlanProp::ListenPort, &mut buf[..7]),
            Err(Errno::EOVERFLOW)
        );
        // Overflow is checked before "unset".
        let fresh = Vxlan::new();
        assert_eq!(
            fresh.getprop(VxlanProp::ListenIp, &mut []),
            Err(Errno::EOVERFLOW)
        );
    }

    #[test]
    fn rejected_set_keeps_old_value() {
        let v = Vxlan::new();
        let ip = v6("fd00::1");
        v.setprop(VxlanProp::ListenIp, &ip).unwrap();
        assert_eq!(
            v.setprop(VxlanProp::ListenIp, &v6("ff02::1")),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            v.setprop(VxlanProp::ListenPort, &0u64.to_ne_bytes()),
            Err(Errno::EINVAL)
        );
        assert_eq!(v.listen_ip(), Some(In6Addr(ip)));
        assert_eq!(v.listen_port(), 4789);
    }

    #[test]
    fn socket_params() {
        let v = Vxlan::new();
        let ip = v6("::ffff:192.0.2.10");
        v.setprop(VxlanProp::ListenIp, &ip).unwrap();
        let s = v.socket().unwrap();
        assert_eq!((s.domain, s.ty, s.protocol), (26, 1, 0));
        assert_eq!(s.addr.sin6_family, 26);
        assert_eq!(s.addr.sin6_port.to_ne_bytes(), [0x12, 0xb5]);
        assert_eq!(s.addr.sin6_addr, In6Addr(ip));
        assert_eq!((s.addr.sin6_flowinfo, s.addr.sin6_scope_id), (0, 0));
        assert_eq!(SOCKADDR_IN6_LEN, 32);
        v.setprop(VxlanProp::ListenPort, &1u64.to_ne_bytes())
            .unwrap();
        assert_eq!(v.socket().unwrap().addr.sin6_port.to_ne_bytes(), [0, 1]);
    }

    #[test]
    fn fanout_sockopts() {
        assert_eq!(sockopts(false), &[]);
        assert_eq!(
            sockopts(true),
            &[overlay_sockopt_t {
                oso_level: 17,
                oso_name: 0x104,
                oso_value: 1
            }]
        );
    }
}
