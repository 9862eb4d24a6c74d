//! Integration tests of the journal: appends, readers, recovery, checkpoints and retention.
#![allow(missing_docs)]

mod append_read;
mod recovery;
mod retention;

use std::path::Path;
use std::time::Duration;

use opentrail_journal::{Journal, JournalConfig, SyncMode};

pub fn small_segments() -> JournalConfig {
    JournalConfig {
        segment_bytes: 4096,
        min_retention: Duration::ZERO,
        ..JournalConfig::default()
    }
}

pub fn open(dir: &Path, config: JournalConfig) -> Journal {
    Journal::open(dir, config).expect("open journal").0
}

pub fn entry(i: u64) -> Vec<u8> {
    format!(
        "{{\"n\":{i},\"pad\":\"{}\"}}",
        "x".repeat((i % 97) as usize)
    )
    .into_bytes()
}

pub fn read_all(j: &Journal) -> Vec<(u64, Vec<u8>)> {
    let mut r = j.reader(1);
    let mut out = Vec::new();
    loop {
        let batch = r.read_batch(1000).expect("read");
        if batch.is_empty() {
            return out;
        }
        out.extend(batch.into_iter().map(|e| (e.lsn, e.data)));
    }
}

pub fn periodic() -> SyncMode {
    SyncMode::Periodic(Duration::from_millis(20))
}
