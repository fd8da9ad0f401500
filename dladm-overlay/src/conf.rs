//! The persistent configuration: what dlmgmtd keeps in
//! `/etc/dladm/datalink.conf` for overlays on illumos (name, vnetid,
//! encap, search, and each `-p` property as given), and on Linux the
//! VNICs too. `up-overlay` and `up-vnic` bring them back at boot.
//!
//! The file is TOML (`$DLADM_OVERLAY_CONF`, else
//! `/etc/dladm/overlay.conf`), versioned, written whole to a temporary
//! file that is synced and renamed over the old one, so a crash leaves
//! the old file or the new one, never a mix. Changes are made under an
//! exclusive `flock` on a lock file beside it, so two dladm commands
//! cannot lose each other's changes.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The format this code writes and reads.
pub const VERSION: u32 = 1;

/// The default location.
pub const CONF_PATH: &str = "/etc/dladm/overlay.conf";
/// Environment variable overriding [`CONF_PATH`].
pub const CONF_ENV: &str = "DLADM_OVERLAY_CONF";

/// Where the configuration lives.
pub fn conf_path() -> PathBuf {
    std::env::var_os(CONF_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CONF_PATH))
}

/// One persistent overlay, as `create-overlay` was given it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayConf {
    pub name: String,
    pub vnetid: u64,
    pub encap: String,
    pub search: String,
    /// `-p` properties in the order given: `[name, value]`.
    #[serde(default)]
    pub props: Vec<(String, String)>,
}

/// One persistent VNIC (Linux).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VnicConf {
    pub name: String,
    pub over: String,
    /// The address given with `-m`; none for a random one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conf {
    pub version: u32,
    #[serde(default, rename = "overlay")]
    pub overlays: Vec<OverlayConf>,
    #[serde(default, rename = "vnic")]
    pub vnics: Vec<VnicConf>,
}

/// The configuration, locked for change until dropped.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    _lock: File,
    pub conf: Conf,
}

impl Store {
    /// Locks and reads the configuration at `path` (an absent file is an
    /// empty configuration).
    pub fn open(path: &Path) -> Result<Store, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let lock_path = with_suffix(path, ".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o644)
            .open(&lock_path)
            .map_err(|e| format!("{}: {e}", lock_path.display()))?;
        // SAFETY: flock on a descriptor we own; released when it closes.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("{}: {e}", lock_path.display()));
        }
        let conf = read(path)?;
        Ok(Store {
            path: path.to_path_buf(),
            _lock: lock,
            conf,
        })
    }

    /// Writes the configuration back, atomically.
    pub fn save(&self) -> Result<(), String> {
        let mut conf = self.conf.clone();
        conf.version = VERSION;
        let text = toml::to_string(&conf).map_err(|e| e.to_string())?;
        let tmp = with_suffix(&self.path, ".new");
        let err = |e: std::io::Error| format!("{}: {e}", tmp.display());
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(err)?;
        f.write_all(HEADER.as_bytes()).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        fs::rename(&tmp, &self.path).map_err(|e| format!("{}: {e}", self.path.display()))
    }

    pub fn overlay(&self, name: &str) -> Option<&OverlayConf> {
        self.conf.overlays.iter().find(|o| o.name == name)
    }

    pub fn vnic(&self, name: &str) -> Option<&VnicConf> {
        self.conf.vnics.iter().find(|v| v.name == name)
    }

    /// Removes the overlay or VNIC called `name`; whether there was one.
    pub fn forget(&mut self, name: &str) -> bool {
        let n = self.conf.overlays.len() + self.conf.vnics.len();
        self.conf.overlays.retain(|o| o.name != name);
        self.conf.vnics.retain(|v| v.name != name);
        n != self.conf.overlays.len() + self.conf.vnics.len()
    }

    /// Whether `name` is taken by a persistent overlay or VNIC.
    pub fn has_link(&self, name: &str) -> bool {
        self.overlay(name).is_some() || self.vnic(name).is_some()
    }
}

const HEADER: &str = "# Persistent overlay datalinks, kept by dladm-overlay(8).\n\
                      # Change them with dladm-overlay, not by hand.\n";

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Reads a configuration; a file that is absent is empty, one that does
/// not parse or is of another version is an error naming the problem.
pub fn read(path: &Path) -> Result<Conf, String> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Conf {
                version: VERSION,
                ..Conf::default()
            });
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let conf: Conf = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if conf.version != VERSION {
        return Err(format!(
            "{}: version {} is not supported (this dladm-overlay reads version {VERSION})",
            path.display(),
            conf.version
        ));
    }
    Ok(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dladm-conf-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d.join("overlay.conf")
    }

    #[test]
    fn saves_and_reads_back() {
        let p = tmp("rt");
        let mut s = Store::open(&p).unwrap();
        assert_eq!(s.conf.overlays.len(), 0);
        s.conf.overlays.push(OverlayConf {
            name: "overlay0".into(),
            vnetid: 42,
            encap: "vxlan".into(),
            search: "files".into(),
            props: vec![("vxlan/listen_ip".into(), "192.0.2.1".into())],
        });
        s.conf.vnics.push(VnicConf {
            name: "vnic0".into(),
            over: "overlay0".into(),
            mac: Some("2:8:20:0:0:1".into()),
        });
        s.save().unwrap();
        drop(s);
        let c = read(&p).unwrap();
        assert_eq!(c.overlays[0].props[0].1, "192.0.2.1");
        assert_eq!(c.vnics[0].mac.as_deref(), Some("2:8:20:0:0:1"));
        assert!(fs::read_to_string(&p).unwrap().starts_with("# Persistent"));
    }

    #[test]
    fn a_bad_file_is_an_error_not_an_empty_config() {
        let p = tmp("bad");
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "version = 1\n[[overlay]]\nname = 3\n").unwrap();
        let e = read(&p).unwrap_err();
        assert!(e.contains("overlay.conf"), "{e}");
        fs::write(&p, "version = 7\n").unwrap();
        assert!(read(&p).unwrap_err().contains("version 7"));
    }
}
