//! Opening, recovering, appending to and maintaining a journal directory.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};

use crate::checkpoint::Checkpoints;
use crate::format::SEGMENT_HEADER_LEN;
use crate::reader::Reader;
use crate::segment::{create_segment, list_segments, scan, sync_dir};
use crate::stats::{Stats, StatsSnapshot};
use crate::writer::{Msg, Writer};
use crate::{JournalError, Lsn};

/// When appends become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fsync before an append returns (group commit amortises it). Nothing acknowledged is
    /// ever lost.
    Always,
    /// Appends return once written; fsync runs at this interval. A power loss can lose the
    /// last interval's acknowledged appends (a process crash alone cannot).
    Periodic(Duration),
}

/// Journal settings; the defaults suit the embedded server.
#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// Start a new segment once the current one reaches this size.
    pub segment_bytes: u64,
    /// When appends become durable.
    pub sync: SyncMode,
    /// Most bytes merged into one group commit.
    pub max_batch_bytes: usize,
    /// Appends waiting for the writer before callers wait too.
    pub queue_depth: usize,
    /// Refuse appends while the slowest consumer is this many entries behind (`None`: never).
    pub max_consumer_lag: Option<u64>,
    /// Keep segments at least this long even once every consumer has read them.
    pub min_retention: Duration,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            segment_bytes: 128 * 1024 * 1024,
            sync: SyncMode::Always,
            max_batch_bytes: 8 * 1024 * 1024,
            queue_depth: 4096,
            max_consumer_lag: None,
            min_retention: Duration::from_secs(24 * 3600),
        }
    }
}

/// Where an append's entries landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// LSN of the first entry.
    pub first_lsn: Lsn,
    /// Number of entries; they hold `first_lsn..first_lsn + count`.
    pub count: u32,
}

/// What opening the journal found.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// Segment files present.
    pub segments: usize,
    /// The LSN the next append receives.
    pub next_lsn: Lsn,
    /// Bytes of torn tail removed (never holds an acknowledged append).
    pub truncated_bytes: u64,
    /// Time recovery took.
    pub took: Duration,
}

/// What a retention pass removed.
#[derive(Debug, Clone, Default)]
pub struct RetentionReport {
    /// Segment files deleted.
    pub segments_deleted: usize,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// The oldest LSN still stored.
    pub oldest_lsn: Lsn,
}

pub(crate) struct Shared {
    pub dir: PathBuf,
    pub config: JournalConfig,
    pub durable: watch::Sender<Lsn>,
    pub stats: Stats,
    poisoned: Mutex<Option<String>>,
    checkpoints: Checkpoints,
    /// Lowest checkpoint of any consumer (`u64::MAX` when there are none), for back-pressure.
    min_checkpoint: AtomicU64,
}

impl Shared {
    pub(crate) fn poison(&self, reason: String) {
        if let Ok(mut p) = self.poisoned.lock() {
            p.get_or_insert(reason);
        }
    }

    pub(crate) fn poison_reason(&self) -> Option<String> {
        self.poisoned.lock().ok().and_then(|p| p.clone())
    }
}

/// A handle to an open journal; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Journal {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Msg>,
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir`, cutting off any torn tail.
    pub fn open(
        dir: impl Into<PathBuf>,
        config: JournalConfig,
    ) -> Result<(Journal, RecoveryReport), JournalError> {
        let started = Instant::now();
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| JournalError::io(&dir, e))?;
        let checkpoints = Checkpoints::open(dir.join("checkpoints"))?;
        let mut segments = list_segments(&dir)?;
        let mut truncated_bytes = 0;
        let (file, seg, seg_len, next_lsn) = match segments.pop() {
            None => {
                let (file, seg) = create_segment(&dir, 1)?;
                (file, seg, SEGMENT_HEADER_LEN as u64, 1)
            }
            Some(last) => {
                let found = scan(&last)?;
                if found.bad_header {
                    // Only a crash between creating the file and syncing its header leaves
                    // this; the segment can hold no block, so it is recreated empty.
                    truncated_bytes = found.torn_bytes;
                    tracing::warn!(segment = %last.path.display(), "journal segment header was torn; recreated");
                    let (file, seg) = create_segment(&dir, last.base)?;
                    (file, seg, SEGMENT_HEADER_LEN as u64, last.base)
                } else {
                    let mut file = OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&last.path)
                        .map_err(|e| JournalError::io(&last.path, e))?;
                    if found.torn_bytes > 0 {
                        truncated_bytes = found.torn_bytes;
                        tracing::warn!(
                            segment = %last.path.display(),
                            bytes = found.torn_bytes,
                            "journal tail was torn by a crash; cut off (it held no acknowledged append)"
                        );
                        file.set_len(found.valid_len)
                            .and_then(|_| file.sync_all())
                            .map_err(|e| JournalError::io(&last.path, e))?;
                    }
                    file.seek(SeekFrom::Start(found.valid_len))
                        .map_err(|e| JournalError::io(&last.path, e))?;
                    (file, last, found.valid_len, found.end_lsn)
                }
            }
        };
        let segment_count = list_segments(&dir)?.len();
        let (durable, _) = watch::channel(next_lsn - 1);
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            config: config.clone(),
            durable,
            stats: Stats::default(),
            poisoned: Mutex::new(None),
            checkpoints,
            min_checkpoint: AtomicU64::new(u64::MAX),
        });
        let (tx, rx) = mpsc::channel(config.queue_depth.max(1));
        let writer = Writer {
            shared: shared.clone(),
            rx,
            file,
            seg,
            seg_len,
            next_lsn,
            buf: Vec::with_capacity(1 << 20),
            unsynced: false,
            last_sync: Instant::now(),
        };
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| JournalError::io(&dir, e))?;
        if let SyncMode::Periodic(every) = config.sync {
            let tick = tx.clone();
            std::thread::Builder::new()
                .name("journal-sync".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(every);
                        if tick.blocking_send(Msg::Sync).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| JournalError::io(&dir, e))?;
        }
        let journal = Journal { shared, tx };
        journal.refresh_min_checkpoint()?;
        Ok((
            journal,
            RecoveryReport {
                segments: segment_count,
                next_lsn,
                truncated_bytes,
                took: started.elapsed(),
            },
        ))
    }

    /// Appends `entries` as one block: all of them become durable together or none does.
    ///
    /// Returns once the block is durable (per [`SyncMode`]). Fails fast with
    /// [`JournalError::Backpressure`] when consumers are too far behind.
    pub async fn append(&self, entries: Vec<Vec<u8>>) -> Result<Appended, JournalError> {
        self.check_append(&entries)?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Append { entries, reply })
            .await
            .map_err(|_| JournalError::Closed)?;
        rx.await.map_err(|_| JournalError::Closed)?
    }

    /// [`Journal::append`] for threads outside an async runtime.
    pub fn append_blocking(&self, entries: Vec<Vec<u8>>) -> Result<Appended, JournalError> {
        self.check_append(&entries)?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Msg::Append { entries, reply })
            .map_err(|_| JournalError::Closed)?;
        rx.blocking_recv().map_err(|_| JournalError::Closed)?
    }

    fn check_append(&self, entries: &[Vec<u8>]) -> Result<(), JournalError> {
        if entries.is_empty() {
            return Err(JournalError::Invalid(
                "an append needs at least one entry".into(),
            ));
        }
        if let Some(reason) = self.shared.poison_reason() {
            return Err(JournalError::Poisoned(reason));
        }
        if let Some(limit) = self.shared.config.max_consumer_lag {
            let min = self.shared.min_checkpoint.load(Ordering::Relaxed);
            let lag = self.durable_lsn().saturating_sub(min);
            if min != u64::MAX && lag > limit {
                return Err(JournalError::Backpressure { lag, limit });
            }
        }
        Ok(())
    }

    /// The highest LSN that is durable (0 when the journal is empty).
    pub fn durable_lsn(&self) -> Lsn {
        *self.shared.durable.borrow()
    }

    /// A receiver that changes whenever more entries become durable.
    pub fn subscribe(&self) -> watch::Receiver<Lsn> {
        self.shared.durable.subscribe()
    }

    /// A reader positioned at `from` (the first LSN it will return).
    pub fn reader(&self, from: Lsn) -> Reader {
        Reader::new(self.shared.dir.clone(), from.max(1), self.subscribe())
    }

    /// The oldest LSN still stored.
    pub fn oldest_lsn(&self) -> Result<Lsn, JournalError> {
        Ok(list_segments(&self.shared.dir)?
            .first()
            .map(|s| s.base)
            .unwrap_or(1))
    }

    /// The last LSN `consumer` has durably finished, if it has a checkpoint.
    pub fn checkpoint(&self, consumer: &str) -> Result<Option<Lsn>, JournalError> {
        self.shared.checkpoints.load(consumer)
    }

    /// Records durably that `consumer` has finished every entry up to and including `lsn`.
    /// Creating a checkpoint registers the consumer: retention keeps what it has not read.
    pub fn save_checkpoint(&self, consumer: &str, lsn: Lsn) -> Result<(), JournalError> {
        self.shared.checkpoints.store(consumer, lsn)?;
        self.refresh_min_checkpoint()
    }

    /// Forgets a consumer (for example a deleted trail), so it no longer holds segments.
    pub fn remove_checkpoint(&self, consumer: &str) -> Result<(), JournalError> {
        self.shared.checkpoints.remove(consumer)?;
        self.refresh_min_checkpoint()
    }

    /// Every consumer's checkpoint.
    pub fn checkpoints(&self) -> Result<BTreeMap<String, Lsn>, JournalError> {
        self.shared.checkpoints.all()
    }

    fn refresh_min_checkpoint(&self) -> Result<(), JournalError> {
        let min = self
            .shared
            .checkpoints
            .all()?
            .values()
            .copied()
            .min()
            .unwrap_or(u64::MAX);
        self.shared.min_checkpoint.store(min, Ordering::Relaxed);
        Ok(())
    }

    /// Deletes sealed segments that every consumer has passed and that are older than
    /// `min_retention`. With no consumers registered, age alone decides.
    pub fn enforce_retention(&self) -> Result<RetentionReport, JournalError> {
        let segments = list_segments(&self.shared.dir)?;
        let min_ckpt = self.shared.checkpoints.all()?.values().copied().min();
        let mut report = RetentionReport::default();
        let now = SystemTime::now();
        // The last segment is the one being written; it is never deleted.
        for pair in segments.windows(2) {
            let (seg, next) = (&pair[0], &pair[1]);
            let last_lsn = next.base - 1;
            if min_ckpt.is_some_and(|c| c < last_lsn) {
                break;
            }
            let meta = fs::metadata(&seg.path).map_err(|e| JournalError::io(&seg.path, e))?;
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if age < self.shared.config.min_retention {
                break;
            }
            fs::remove_file(&seg.path).map_err(|e| JournalError::io(&seg.path, e))?;
            report.segments_deleted += 1;
            report.bytes_freed += meta.len();
        }
        if report.segments_deleted > 0 {
            sync_dir(&self.shared.dir)?;
            tracing::info!(
                segments = report.segments_deleted,
                bytes = report.bytes_freed,
                "journal retention removed segments"
            );
        }
        report.oldest_lsn = self.oldest_lsn()?;
        Ok(report)
    }

    /// Counters for metrics.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// Bytes the segment files take on disk.
    pub fn disk_bytes(&self) -> Result<u64, JournalError> {
        let mut total = 0;
        for seg in list_segments(&self.shared.dir)? {
            total += fs::metadata(&seg.path)
                .map_err(|e| JournalError::io(&seg.path, e))?
                .len();
        }
        Ok(total)
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Finishes queued appends, syncs, and stops the writer. Later appends fail with
    /// [`JournalError::Closed`].
    pub async fn shutdown(&self) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Msg::Shutdown(done)).await.is_ok() {
            let _ = rx.await;
        }
    }
}
