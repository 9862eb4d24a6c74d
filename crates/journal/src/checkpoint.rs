//! Durable consumer checkpoints: "this consumer has finished every entry up to LSN n".
//!
//! Each checkpoint is a tiny file replaced atomically (write, fsync, rename, fsync the
//! directory), so after a crash a consumer finds either its old or its new position, never a
//! torn one, and resumes from there. A consumer that writes idempotent output may therefore
//! repeat work after a crash but never skip any.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;

use crate::segment::sync_dir;
use crate::{JournalError, Lsn};

const SUFFIX: &str = ".ckpt";

pub(crate) struct Checkpoints {
    dir: PathBuf,
}

impl Checkpoints {
    pub(crate) fn open(dir: PathBuf) -> Result<Self, JournalError> {
        fs::create_dir_all(&dir).map_err(|e| JournalError::io(&dir, e))?;
        Ok(Checkpoints { dir })
    }

    pub(crate) fn validate_name(name: &str) -> Result<(), JournalError> {
        let ok = !name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !name.starts_with('.');
        if ok {
            Ok(())
        } else {
            Err(JournalError::Invalid(format!(
                "consumer name {name:?} must be 1-128 characters of [A-Za-z0-9._-], not starting with '.'"
            )))
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}{SUFFIX}"))
    }

    pub(crate) fn load(&self, name: &str) -> Result<Option<Lsn>, JournalError> {
        Self::validate_name(name)?;
        let path = self.path(name);
        match fs::read(&path) {
            Ok(bytes) => decode(&bytes)
                .map(Some)
                .ok_or_else(|| JournalError::Corrupt {
                    path,
                    offset: 0,
                    reason: "checkpoint file damaged".into(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(JournalError::io(path, e)),
        }
    }

    pub(crate) fn store(&self, name: &str, lsn: Lsn) -> Result<(), JournalError> {
        Self::validate_name(name)?;
        let path = self.path(name);
        let tmp = self.dir.join(format!("{name}{SUFFIX}.tmp"));
        let mut f = fs::File::create(&tmp).map_err(|e| JournalError::io(&tmp, e))?;
        f.write_all(&encode(lsn))
            .and_then(|_| f.sync_all())
            .map_err(|e| JournalError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| JournalError::io(&path, e))?;
        sync_dir(&self.dir)
    }

    pub(crate) fn remove(&self, name: &str) -> Result<(), JournalError> {
        Self::validate_name(name)?;
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(JournalError::io(path, e)),
        }
    }

    pub(crate) fn all(&self) -> Result<BTreeMap<String, Lsn>, JournalError> {
        let mut out = BTreeMap::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| JournalError::io(&self.dir, e))? {
            let entry = entry.map_err(|e| JournalError::io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
                continue;
            };
            if let Some(lsn) = self.load(name)? {
                out.insert(name.to_owned(), lsn);
            }
        }
        Ok(out)
    }

    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

fn encode(lsn: Lsn) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..8].copy_from_slice(&lsn.to_le_bytes());
    let crc = crc32c::crc32c(&out[..8]);
    out[8..].copy_from_slice(&crc.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<Lsn> {
    if bytes.len() != 12 {
        return None;
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[8..]);
    if crc32c::crc32c(&bytes[..8]) != u32::from_le_bytes(crc) {
        return None;
    }
    let mut lsn = [0u8; 8];
    lsn.copy_from_slice(&bytes[..8]);
    Some(u64::from_le_bytes(lsn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_loads_and_detects_damage() {
        let tmp = tempfile::tempdir().expect("tmp");
        let c = Checkpoints::open(tmp.path().join("ck")).expect("open");
        assert_eq!(c.load("history").expect("load"), None);
        c.store("history", 41).expect("store");
        c.store("history", 42).expect("store");
        c.store("trails.t1", 7).expect("store");
        assert_eq!(c.load("history").expect("load"), Some(42));
        assert_eq!(c.all().expect("all").len(), 2);
        fs::write(c.dir().join("history.ckpt"), [1, 2, 3]).expect("write");
        assert!(matches!(
            c.load("history"),
            Err(JournalError::Corrupt { .. })
        ));
        c.remove("trails.t1").expect("remove");
        assert_eq!(c.load("trails.t1").expect("load"), None);
        assert!(c.store("../escape", 1).is_err());
        assert!(c.store("", 1).is_err());
    }
}
