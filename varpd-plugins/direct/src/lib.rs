//! # direct: the point-mode search plugin
//!
//! Every frame of the overlay goes to one destination, set with the
//! properties `direct/dest_ip` and (when the encapsulation needs a port)
//! `direct/dest_port`. As illumos' `libvarpd_direct.c`, with one quirk
//! fixed: `start` requires the port when the destination includes a port
//! (illumos tested the IP bit twice).

use std::net::Ipv6Addr;
use std::sync::Mutex;

use libvarpd_abi::sdk::{Errno, In6Addr, Mode, NvList, Plugin, Point, PropInfo, Provider};
use libvarpd_abi::varpd_plugin;
use overlay_abi::*;

mod overlay_abi {
    pub const OVERLAY_PLUGIN_D_IP: u32 = 0x2;
    pub const OVERLAY_PLUGIN_D_PORT: u32 = 0x4;
    pub const OVERLAY_PLUGIN_D_MASK: u32 = 0x7;
    pub const OVERLAY_PROP_T_UINT: u32 = 2;
    pub const OVERLAY_PROP_T_IP: u32 = 3;
    pub const OVERLAY_PROP_PERM_RRW: u32 = 0x7;
}

pub const PROP_IP: &str = "direct/dest_ip";
pub const PROP_PORT: &str = "direct/dest_port";

#[derive(Debug, Default, Clone, Copy)]
struct Dest {
    ip: Option<In6Addr>,
    port: Option<u16>,
}

/// One instance: the destination and which parts of it the overlay needs.
#[derive(Debug)]
pub struct Direct {
    dest_kind: u32,
    dest: Mutex<Dest>,
}

impl Direct {
    fn new(dest: u32) -> Result<Direct, Errno> {
        // A non-empty subset of IP|PORT.
        if dest == 0 || dest & !(OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT) != 0 {
            return Err(Errno::ENOTSUP);
        }
        let _ = OVERLAY_PLUGIN_D_MASK;
        Ok(Direct {
            dest_kind: dest,
            dest: Mutex::new(Dest::default()),
        })
    }

    fn get(&self) -> Dest {
        *self.dest.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with<R>(&self, f: impl FnOnce(&mut Dest) -> R) -> R {
        f(&mut self.dest.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn set_ip(&self, v: &[u8]) -> Result<(), Errno> {
        let b: [u8; 16] = v
            .get(..16)
            .and_then(|s| s.try_into().ok())
            .ok_or(Errno::EOVERFLOW)?;
        let ip = In6Addr(b);
        if ip.is_v4compat() || ip.is_6to4() {
            return Err(Errno::EINVAL);
        }
        self.with(|d| d.ip = Some(ip));
        Ok(())
    }

    fn set_port(&self, v: &[u8]) -> Result<(), Errno> {
        let b: [u8; 8] = v
            .get(..8)
            .and_then(|s| s.try_into().ok())
            .ok_or(Errno::EOVERFLOW)?;
        let p = u64::from_ne_bytes(b);
        if p == 0 || p > 65535 {
            return Err(Errno::EINVAL);
        }
        self.with(|d| d.port = Some(p as u16));
        Ok(())
    }
}

impl Plugin for Direct {
    const NAME: &'static std::ffi::CStr = c"direct";
    const MODE: Mode = Mode::Point;

    fn create(_provider: Provider, dest: u32) -> Result<Self, Errno> {
        Direct::new(dest)
    }

    fn start(&self) -> Result<(), Errno> {
        let d = self.get();
        if self.dest_kind & OVERLAY_PLUGIN_D_IP != 0 && d.ip.is_none() {
            return Err(Errno::EAGAIN);
        }
        if self.dest_kind & OVERLAY_PLUGIN_D_PORT != 0 && d.port.is_none() {
            return Err(Errno::EAGAIN);
        }
        Ok(())
    }

    fn default_point(&self) -> Option<Point> {
        let d = self.get();
        Some(Point::new(
            Default::default(),
            d.ip.unwrap_or(In6Addr::UNSPECIFIED),
            d.port.unwrap_or(0),
        ))
    }

    fn nprops(&self) -> u32 {
        self.dest_kind.count_ones()
    }

    fn propinfo(&self, index: u32, info: &mut PropInfo) -> Result<(), Errno> {
        match index {
            0 => {
                info.set_name(PROP_IP);
                info.set_prot(OVERLAY_PROP_PERM_RRW);
                info.set_type(OVERLAY_PROP_T_IP);
                info.set_nodefault();
            }
            1 if self.dest_kind & OVERLAY_PLUGIN_D_PORT != 0 => {
                info.set_name(PROP_PORT);
                info.set_prot(OVERLAY_PROP_PERM_RRW);
                info.set_type(OVERLAY_PROP_T_UINT);
                info.set_nodefault();
                info.set_range_uint32(1, 65535);
            }
            _ => return Err(Errno::EINVAL),
        }
        Ok(())
    }

    fn getprop(&self, name: &str, buf: &mut [u8]) -> Result<usize, Errno> {
        let d = self.get();
        match name {
            PROP_IP => {
                if buf.len() < 16 {
                    return Err(Errno::EOVERFLOW);
                }
                Ok(d.ip.map_or(0, |ip| {
                    buf[..16].copy_from_slice(&ip.0);
                    16
                }))
            }
            PROP_PORT if self.dest_kind & OVERLAY_PLUGIN_D_PORT != 0 => {
                if buf.len() < 8 {
                    return Err(Errno::EOVERFLOW);
                }
                Ok(d.port.map_or(0, |p| {
                    buf[..8].copy_from_slice(&u64::from(p).to_ne_bytes());
                    8
                }))
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn setprop(&self, name: &str, value: &[u8]) -> Result<(), Errno> {
        match name {
            PROP_IP => self.set_ip(value),
            PROP_PORT if self.dest_kind & OVERLAY_PLUGIN_D_PORT != 0 => self.set_port(value),
            _ => Err(Errno::EINVAL),
        }
    }

    fn save(&self, nv: &mut NvList) -> Result<(), Errno> {
        let d = self.get();
        if let Some(p) = d.port {
            nv.add_u64(PROP_PORT, u64::from(p))?;
        }
        if let Some(ip) = d.ip {
            nv.add_str(PROP_IP, &ip.to_ipv6().to_string())?;
        }
        Ok(())
    }

    fn restore(nv: &NvList, _provider: Provider, dest: u32) -> Result<Self, Errno> {
        let d = Direct::new(dest).map_err(|_| Errno::EINVAL)?;
        match nv.u64(PROP_PORT) {
            Ok(p) if (1..=65535).contains(&p) => d.with(|x| x.port = Some(p as u16)),
            Ok(_) => return Err(Errno::EINVAL),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        match nv.str(PROP_IP) {
            Ok(s) => {
                let ip: Ipv6Addr = s.parse().map_err(|_| Errno::EINVAL)?;
                d.with(|x| x.ip = Some(In6Addr::from(ip)));
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        Ok(d)
    }
}

varpd_plugin!(Direct);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn props_and_start() {
        assert_eq!(Direct::new(0).unwrap_err(), Errno::ENOTSUP);
        assert_eq!(Direct::new(1).unwrap_err(), Errno::ENOTSUP);
        let d = Direct::new(OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT).unwrap();
        assert_eq!(d.nprops(), 2);
        assert_eq!(d.start(), Err(Errno::EAGAIN));
        let ip = In6Addr::from("192.0.2.9".parse::<std::net::IpAddr>().unwrap());
        d.setprop(PROP_IP, &ip.0).unwrap();
        assert_eq!(d.start(), Err(Errno::EAGAIN), "port required");
        assert_eq!(d.setprop(PROP_PORT, &[0; 4]), Err(Errno::EOVERFLOW));
        assert_eq!(
            d.setprop(PROP_PORT, &0u64.to_ne_bytes()),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            d.setprop(PROP_PORT, &65536u64.to_ne_bytes()),
            Err(Errno::EINVAL)
        );
        d.setprop(PROP_PORT, &4789u64.to_ne_bytes()).unwrap();
        d.start().unwrap();
        let p = d.default_point().unwrap();
        assert_eq!((p.otp_ip, p.otp_port), (ip, 4789));
        let mut buf = [0u8; 8];
        assert_eq!(d.getprop(PROP_IP, &mut buf), Err(Errno::EOVERFLOW));
        assert_eq!(d.getprop(PROP_PORT, &mut buf), Ok(8));
        assert_eq!(u64::from_ne_bytes(buf), 4789);
        assert_eq!(d.getprop("direct/nope", &mut buf), Err(Errno::EINVAL));
        // v4-compatible and 6to4 are refused.
        let mut v4c = [0u8; 16];
        v4c[15] = 5;
        v4c[12] = 1;
        assert_eq!(d.setprop(PROP_IP, &v4c), Err(Errno::EINVAL));
    }
}
