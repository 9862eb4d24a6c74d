//! The manifest: which segments and record files make up the store, and the last journal
//! position they cover. Replaced atomically (write, fsync, rename, fsync directory).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::segment::SegmentStats;
use crate::HistoryError;

pub(crate) const FILE: &str = "MANIFEST.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub version: u32,
    /// Every journal entry up to this LSN is reflected in the segments.
    pub last_lsn: u64,
    pub next_segment: u64,
    pub segments: Vec<SegmentEntry>,
    pub record_files: Vec<RecordFileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SegmentEntry {
    pub id: u64,
    pub stats: SegmentStats,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RecordFileEntry {
    pub id: u32,
    /// Valid length; bytes after it are a crashed flush's and are cut on open.
    pub len: u64,
    pub min_time: i64,
    pub max_time: i64,
}

impl Manifest {
    pub(crate) fn load(dir: &Path) -> Result<Option<Manifest>, HistoryError> {
        let path = dir.join(FILE);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| HistoryError::corrupt(&path, e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HistoryError::io(path, e)),
        }
    }

    pub(crate) fn store(&self, dir: &Path) -> Result<(), HistoryError> {
        use std::io::Write;
        let path = dir.join(FILE);
        let tmp = dir.join(format!("{FILE}.tmp"));
        let body = serde_json::to_vec_pretty(self)
            .map_err(|e| HistoryError::corrupt(&path, e.to_string()))?;
        let mut f = std::fs::File::create(&tmp).map_err(|e| HistoryError::io(&tmp, e))?;
        f.write_all(&body)
            .and_then(|_| f.sync_all())
            .map_err(|e| HistoryError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| HistoryError::io(&path, e))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| HistoryError::io(dir, e))
    }
}
