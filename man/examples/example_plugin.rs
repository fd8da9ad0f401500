//! example_plugin.rs: the "hub" search plugin of libvarpd_provider(3),
//! written with the Rust SDK of libvarpd-abi.
//!
//! Dynamic mode: every unicast frame goes to one underlay address (the
//! properties `hub/ip`, required, and `hub/port`, default 4789);
//! broadcast and multicast frames are dropped, except ARP requests, which
//! are answered by proxy with `hub/gateway-mac` when it is set.
//!
//! Cargo.toml of the plugin crate:
//!
//! ```toml
//! [package]
//! name = "varpd-hub"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//! path = "example_plugin.rs"
//!
//! [dependencies]
//! libvarpd-abi = { path = "/path/to/libvarpd-abi" }
//! ```
//!
//! `cargo build --release` makes `target/release/libvarpd_hub.so`; copy
//! it into a varpd plugin directory.

use std::ffi::CStr;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

use libvarpd_abi::sdk::{
    ArpQuery, Errno, EtherAddr, In6Addr, Mode, NvList, Plugin, Point,
    PropInfo, Provider, Query,
};
use libvarpd_abi::varpd_plugin;

// <sys/overlay_common.h> values the SDK takes as plain integers.
const OVERLAY_PLUGIN_D_IP: u32 = 0x2;
const OVERLAY_PLUGIN_D_PORT: u32 = 0x4;
const OVERLAY_PROP_T_UINT: u32 = 2;
const OVERLAY_PROP_T_IP: u32 = 3;
const OVERLAY_PROP_T_STRING: u32 = 4;
const OVERLAY_PROP_PERM_RW: u32 = 0x6;
const OVERLAY_PROP_PERM_RRW: u32 = 0x7;

const PROP_IP: &str = "hub/ip";
const PROP_PORT: &str = "hub/port";
const PROP_GWMAC: &str = "hub/gateway-mac";
const DEFAULT_PORT: u16 = 4789;
const ETHERTYPE_ARP: u32 = 0x0806;

#[derive(Clone, Copy)]
struct Config {
    ip: Option<In6Addr>,
    port: u16,
    gateway: Option<EtherAddr>,
}

/// One instance: calls may come from several threads at once, so the
/// configuration sits behind a lock.
struct Hub {
    config: Mutex<Config>,
}

impl Hub {
    fn new(dest: u32) -> Result<Hub, Errno> {
        // We answer with an IP address and a port: vxlan's needs.
        if dest != OVERLAY_PLUGIN_D_IP | OVERLAY_PLUGIN_D_PORT {
            return Err(Errno::ENOTSUP);
        }
        Ok(Hub {
            config: Mutex::new(Config {
                ip: None,
                port: DEFAULT_PORT,
                gateway: None,
            }),
        })
    }

    fn config(&self) -> Config {
        *self.config.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut Config)) {
        f(&mut self.config.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn parse_mac(s: &str) -> Option<EtherAddr> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(EtherAddr(mac))
}

fn format_mac(m: EtherAddr) -> String {
    let b = m.0;
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5]
    )
}

impl Plugin for Hub {
    const NAME: &'static CStr = c"hub";
    const MODE: Mode = Mode::Dynamic;
    const HAS_ARP: bool = true;

    fn create(_provider: Provider, dest: u32) -> Result<Self, Errno> {
        Hub::new(dest)
    }

    fn start(&self) -> Result<(), Errno> {
        match self.config().ip {
            Some(_) => Ok(()),
            None => Err(Errno::EAGAIN), // a required property is missing
        }
    }

    fn lookup(&self, q: Query) {
        let req = *q.request();
        if req.otl_sap == ETHERTYPE_ARP {
            // varpd parses the request and calls `arp` below.
            return q.proxy_arp();
        }
        if req.otl_dstaddr.is_multicast() {
            // Broadcast or multicast: nowhere to send it.
            return q.drop_frame();
        }
        let c = self.config();
        match c.ip {
            Some(ip) => q.reply(Point::new(EtherAddr::ZERO, ip, c.port)),
            None => q.drop_frame(),
        }
    }

    fn arp(&self, q: ArpQuery, target: IpAddr) {
        match (target, self.config().gateway) {
            (IpAddr::V4(_), Some(mac)) => q.reply(mac),
            _ => q.drop_frame(),
        }
    }

    fn nprops(&self) -> u32 {
        3
    }

    fn propinfo(
        &self,
        index: u32,
        info: &mut PropInfo,
    ) -> Result<(), Errno> {
        match index {
            0 => {
                info.set_name(PROP_IP);
                info.set_prot(OVERLAY_PROP_PERM_RRW);
                info.set_type(OVERLAY_PROP_T_IP);
                info.set_nodefault();
            }
            1 => {
                info.set_name(PROP_PORT);
                info.set_prot(OVERLAY_PROP_PERM_RW);
                info.set_type(OVERLAY_PROP_T_UINT);
                info.set_default(&DEFAULT_PORT.to_ne_bytes())?;
                info.set_range_uint32(1, 65535);
            }
            2 => {
                info.set_name(PROP_GWMAC);
                info.set_prot(OVERLAY_PROP_PERM_RW);
                info.set_type(OVERLAY_PROP_T_STRING);
                info.set_nodefault();
            }
            _ => return Err(Errno::EINVAL),
        }
        Ok(())
    }

    fn getprop(&self, name: &str, buf: &mut [u8]) -> Result<usize, Errno> {
        let c = self.config();
        let value: Vec<u8> = match name {
            PROP_IP => match c.ip {
                Some(ip) => ip.0.to_vec(),
                None => Vec::new(),
            },
            // UINT values are 8 bytes, native byte order.
            PROP_PORT => u64::from(c.port).to_ne_bytes().to_vec(),
            // STRING values include their terminating NUL.
            PROP_GWMAC => match c.gateway {
                Some(mac) => format!("{}\0", format_mac(mac)).into_bytes(),
                None => Vec::new(),
            },
            _ => return Err(Errno::EINVAL),
        };
        let out = buf.get_mut(..value.len()).ok_or(Errno::EOVERFLOW)?;
        out.copy_from_slice(&value);
        Ok(value.len())
    }

    fn setprop(&self, name: &str, value: &[u8]) -> Result<(), Errno> {
        match name {
            PROP_IP => {
                // IP values are 16 bytes; IPv4 arrives IPv4-mapped.
                let b: [u8; 16] = value
                    .get(..16)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(Errno::EOVERFLOW)?;
                self.update(|c| c.ip = Some(In6Addr(b)));
            }
            PROP_PORT => {
                let b: [u8; 8] = value
                    .get(..8)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(Errno::EOVERFLOW)?;
                let port = u16::try_from(u64::from_ne_bytes(b))
                    .map_err(|_| Errno::EINVAL)?;
                if port == 0 {
                    return Err(Errno::EINVAL);
                }
                self.update(|c| c.port = port);
            }
            PROP_GWMAC => {
                let end = value
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(value.len());
                let s = std::str::from_utf8(&value[..end])
                    .map_err(|_| Errno::EINVAL)?;
                let mac = parse_mac(s).ok_or(Errno::EINVAL)?;
                self.update(|c| c.gateway = Some(mac));
            }
            _ => return Err(Errno::EINVAL),
        }
        Ok(())
    }

    fn save(&self, nv: &mut NvList) -> Result<(), Errno> {
        let c = self.config();
        if let Some(ip) = c.ip {
            nv.add_str(PROP_IP, &ip.to_ipv6().to_string())?;
        }
        nv.add_u64(PROP_PORT, u64::from(c.port))?;
        if let Some(mac) = c.gateway {
            nv.add_str(PROP_GWMAC, &format_mac(mac))?;
        }
        Ok(())
    }

    fn restore(
        nv: &NvList,
        _provider: Provider,
        dest: u32,
    ) -> Result<Self, Errno> {
        let hub = Hub::new(dest)?;
        match nv.str(PROP_IP) {
            Ok(s) => {
                let ip: Ipv6Addr = s.parse().map_err(|_| Errno::EINVAL)?;
                hub.update(|c| c.ip = Some(In6Addr::from(ip)));
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let port = u16::try_from(nv.u64(PROP_PORT)?)
            .map_err(|_| Errno::EINVAL)?;
        hub.update(|c| c.port = port);
        match nv.str(PROP_GWMAC) {
            Ok(s) => {
                let mac = parse_mac(&s).ok_or(Errno::EINVAL)?;
                hub.update(|c| c.gateway = Some(mac));
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        Ok(hub)
    }
}

varpd_plugin!(Hub);
