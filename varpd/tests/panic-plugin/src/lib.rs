//! `panicky`: a dynamic search plugin that panics where it is told to
//! (property `panicky/at`: `setprop`, `start` or `lookup`) and otherwise
//! answers every lookup with 192.0.2.7:4789. varpd's tests build it with
//! the release profile, the one `tools/install` uses, to show that a
//! plugin panic is caught, reported and degrades only its own overlay.

use std::ffi::CStr;
use std::net::Ipv4Addr;
use std::sync::Mutex;

use libvarpd_abi::sdk::{
    Errno, EtherAddr, In6Addr, Mode, NvList, Plugin, Point, PropInfo, Provider, Query,
};
use libvarpd_abi::varpd_plugin;

const AT: &str = "panicky/at";
/// `OVERLAY_PROP_PERM_RW`, `OVERLAY_PROP_T_STRING`.
const PERM_RW: u32 = 0x6;
const PROP_T_STRING: u32 = 4;

pub struct Panicky {
    at: Mutex<String>,
}

impl Panicky {
    fn at(&self) -> String {
        self.at.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl Plugin for Panicky {
    const NAME: &'static CStr = c"panicky";
    const MODE: Mode = Mode::Dynamic;

    fn create(_: Provider, _: u32) -> Result<Self, Errno> {
        Ok(Panicky {
            at: Mutex::new(String::new()),
        })
    }

    fn start(&self) -> Result<(), Errno> {
        if self.at() == "start" {
            panic!("told to panic in start");
        }
        Ok(())
    }

    fn lookup(&self, q: Query) {
        if self.at() == "lookup" {
            panic!("told to panic in lookup");
        }
        let ip = In6Addr::from(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
        q.reply(Point::new(EtherAddr::ZERO, ip, 4789));
    }

    fn nprops(&self) -> u32 {
        1
    }

    fn propinfo(&self, index: u32, info: &mut PropInfo) -> Result<(), Errno> {
        if index != 0 {
            return Err(Errno::EINVAL);
        }
        info.set_name(AT);
        info.set_prot(PERM_RW);
        info.set_type(PROP_T_STRING);
        info.set_nodefault();
        Ok(())
    }

    fn getprop(&self, name: &str, buf: &mut [u8]) -> Result<usize, Errno> {
        if name != AT {
            return Err(Errno::EINVAL);
        }
        let v = self.at();
        let n = v.len() + 1;
        let out = buf.get_mut(..n).ok_or(Errno::EOVERFLOW)?;
        out[..v.len()].copy_from_slice(v.as_bytes());
        out[v.len()] = 0;
        Ok(n)
    }

    fn setprop(&self, name: &str, value: &[u8]) -> Result<(), Errno> {
        if name != AT {
            return Err(Errno::EINVAL);
        }
        let v = String::from_utf8_lossy(value.split(|&b| b == 0).next().unwrap_or_default());
        if v == "setprop" {
            panic!("told to panic in setprop");
        }
        *self.at.lock().map_err(|_| Errno::EIO)? = v.into_owned();
        Ok(())
    }

    fn save(&self, nv: &mut NvList) -> Result<(), Errno> {
        nv.add_str(AT, &self.at())
    }

    fn restore(nv: &NvList, p: Provider, dest: u32) -> Result<Self, Errno> {
        let me = Self::create(p, dest)?;
        if let Ok(at) = nv.str(AT) {
            *me.at.lock().map_err(|_| Errno::EIO)? = at;
        }
        Ok(me)
    }
}

varpd_plugin!(Panicky);
