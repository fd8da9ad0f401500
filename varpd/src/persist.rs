//! Persistence of activated instances (`libvarpd_persist.c`), in a
//! format of our own.
//!
//! One file per activated instance, `<id>.varpd` (decimal), mode 0600,
//! in the run directory (`/var/run/varpd`: it survives a varpd restart,
//! not a reboot). Written to a temporary file, synced and renamed over,
//! so a reader sees the old or the new record, never a torn one.
//!
//! Layout (little-endian): magic `VRPD`, version `u32` (1), payload
//! length `u32`, CRC-32 (IEEE) of the payload `u32`, then the payload:
//! id `u64`, link id `u32`, dest `u32`, mode `u32`, plugin name (`u32`
//! length + bytes), and the plugin's saved list (see
//! [`NvList::encode`]). illumos wrote an XDR nvlist under an MD5; the
//! magic differs so neither reads the other's files by mistake.

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::nvlist::{NvList, Reader};

pub const MAGIC: &[u8; 4] = b"VRPD";
pub const VERSION: u32 = 1;
const HDR: usize = 16;
/// Refuse absurd files before reading them.
const MAX_FILE: u64 = 1 << 20;

/// One saved instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub id: u64,
    pub linkid: u32,
    pub dest: u32,
    pub mode: u32,
    pub plugin: String,
    pub private: NvList,
}

/// CRC-32 (IEEE 802.3, reflected, as zlib).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&self.id.to_le_bytes());
        p.extend_from_slice(&self.linkid.to_le_bytes());
        p.extend_from_slice(&self.dest.to_le_bytes());
        p.extend_from_slice(&self.mode.to_le_bytes());
        p.extend_from_slice(&(self.plugin.len() as u32).to_le_bytes());
        p.extend_from_slice(self.plugin.as_bytes());
        self.private.encode(&mut p);
        let mut out = Vec::with_capacity(HDR + p.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32(&p).to_le_bytes());
        out.extend_from_slice(&p);
        out
    }

    pub fn decode(b: &[u8]) -> Result<Record, String> {
        if b.len() < HDR {
            return Err("shorter than the header".into());
        }
        if &b[..4] != MAGIC {
            return Err("bad magic".into());
        }
        let w = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        if w(4) != VERSION {
            return Err(format!("unknown version {}", w(4)));
        }
        let len = w(8) as usize;
        let p = &b[HDR..];
        if p.len() != len {
            return Err(format!("payload is {} bytes, header says {len}", p.len()));
        }
        if crc32(p) != w(12) {
            return Err("checksum mismatch".into());
        }
        let mut r = Reader(p);
        let bad = || "malformed payload".to_string();
        let id = r.u64().ok_or_else(bad)?;
        let linkid = r.u32().ok_or_else(bad)?;
        let dest = r.u32().ok_or_else(bad)?;
        let mode = r.u32().ok_or_else(bad)?;
        let plugin = String::from_utf8(r.bytes().ok_or_else(bad)?.to_vec()).map_err(|_| bad())?;
        let private = NvList::decode(&mut r).ok_or_else(bad)?;
        if !r.0.is_empty() {
            return Err("trailing bytes".into());
        }
        Ok(Record {
            id,
            linkid,
            dest,
            mode,
            plugin,
            private,
        })
    }
}

/// The persistence directory.
#[derive(Debug, Clone)]
pub struct Persist {
    pub dir: PathBuf,
}

impl Persist {
    /// Uses (creating, mode 0700) `dir`.
    pub fn new(dir: &Path) -> io::Result<Persist> {
        use std::os::unix::fs::DirBuilderExt;
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        Ok(Persist {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id}.varpd"))
    }

    /// Writes `rec` atomically.
    pub fn write(&self, rec: &Record) -> io::Result<()> {
        let data = rec.encode();
        let tmp = self.dir.join(format!(".{}.varpd.tmp", rec.id));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, self.path(rec.id))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Removes instance `id`'s file (absent is fine).
    pub fn remove(&self, id: u64) {
        match std::fs::remove_file(self.path(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(id, "removing the saved instance: {e}"),
        }
    }

    /// Every readable record; unreadable files are reported and removed.
    pub fn read_all(&self) -> Vec<(PathBuf, Record)> {
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return out;
        };
        for ent in rd.flatten() {
            let name = ent.file_name();
            let name = name.to_string_lossy();
            let Some(stem) = name.strip_suffix(".varpd") else {
                continue;
            };
            if stem.is_empty() || !stem.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let path = ent.path();
            let ok_file = ent
                .metadata()
                .map(|m| m.is_file() && m.len() <= MAX_FILE)
                .unwrap_or(false);
            let r = if ok_file {
                std::fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| Record::decode(&b))
                    .and_then(|r| {
                        if stem.parse::<u64>().ok() == Some(r.id) {
                            Ok(r)
                        } else {
                            Err("file name and id differ".into())
                        }
                    })
            } else {
                Err("not a regular file of sensible size".into())
            };
            match r {
                Ok(r) => out.push((path, r)),
                Err(e) => {
                    tracing::warn!("discarding {}: {e}", path.display());
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        out.sort_by_key(|(_, r)| r.id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nvlist::Value;

    fn rec() -> Record {
        let mut nv = NvList::default();
        nv.add("files/config", Value::Str(c"/etc/x.json".into()));
        nv.add("n", Value::U64(7));
        nv.add("b", Value::Bytes(vec![1, 2, 3]));
        Record {
            id: 12,
            linkid: 3,
            dest: 6,
            mode: 2,
            plugin: "files".into(),
            private: nv,
        }
    }

    #[test]
    fn round_trip_and_corruption() {
        let r = rec();
        let b = r.encode();
        assert_eq!(Record::decode(&b).unwrap(), r);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x40;
            assert!(Record::decode(&c).is_err(), "flip at {i} accepted");
        }
        for n in 0..b.len() {
            assert!(Record::decode(&b[..n]).is_err());
        }
    }

    #[test]
    fn files() {
        let d = std::env::temp_dir().join(format!("varpd-persist-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let p = Persist::new(&d).unwrap();
        p.write(&rec()).unwrap();
        std::fs::write(d.join("99.varpd"), b"garbage").unwrap();
        std::fs::write(d.join("notes.txt"), b"ignored").unwrap();
        let all = p.read_all();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].1, rec());
        assert!(!d.join("99.varpd").exists(), "a bad file is removed");
        assert!(d.join("notes.txt").exists());
        p.remove(12);
        p.remove(12);
        assert!(p.read_all().is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }
}
