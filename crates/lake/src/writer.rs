//! The lake consumers: one task per event data store reads the journal from where the store's
//! table says it stopped, keeps the events the store's selectors match while it ingests, and
//! commits them to the store's Delta table. The journal position rides in the same Delta
//! commit (an application transaction), so a crash between writing and recording the
//! position cannot happen: exactly once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::parquet::basic::{Compression, Encoding, ZstdLevel};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::protocol::SaveMode;
use opentrail_journal::Journal;
use opentrail_model::selectors::{AdvancedEventSelector, EventFacts};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use crate::LakeError;
use crate::schema::PARTITION_COLUMN;
use crate::tables::{Pending, TableKind};

/// The Delta application id under which commits record the journal position.
pub const JOURNAL_APP_ID: &str = "opentrail-journal";

/// What a consumer needs to know of its event data store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSpec {
    /// The store's id (the UUID ending its ARN); names its table directory.
    pub id: String,
    /// Owning account: only its events are kept.
    pub account: String,
    /// Home region.
    pub region: String,
    /// Whether events of every region are kept, or only the home region's.
    pub multi_region: bool,
    /// The store's selectors (OR of selectors, AND of fields).
    pub selectors: Vec<AdvancedEventSelector>,
    /// Whether the store ingests now (ENABLED); stopped stores skip what passes meanwhile.
    pub ingesting: bool,
    /// Its table's kind (CloudTrail events or integration events).
    pub kind: TableKind,
    /// For integration stores: the ARNs of the channels that deliver to it. An integration
    /// event is kept only when it came through one of them.
    pub channels: Vec<String>,
}

impl StoreSpec {
    fn keeps(&self, record: &[u8]) -> bool {
        let Some(facts) = EventFacts::parse(record) else {
            return false;
        };
        let account_ok = facts
            .recipient_account_id
            .as_deref()
            .is_none_or(|a| a == self.account);
        let region_ok =
            self.multi_region || facts.aws_region.as_deref() == Some(self.region.as_str());
        let channel_ok = self.kind != TableKind::Activity
            || crate::tables::channel_of(record)
                .is_some_and(|c| self.channels.iter().any(|x| *x == c));
        account_ok && region_ok && channel_ok && self.selectors.iter().any(|s| s.matches(&facts))
    }
}

/// Size compaction aims at for each file.
pub const COMPACT_TARGET_BYTES: u64 = 128 * 1024 * 1024;

/// What a compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Small files replaced.
    pub files_removed: u64,
    /// Files written in their place.
    pub files_added: u64,
    /// Unused files deleted from storage.
    pub files_deleted: u64,
}

/// How consumers batch commits.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// Commit within this long of the first uncommitted event.
    pub flush_interval: Duration,
    /// Commit at this many rows.
    pub max_rows: usize,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            flush_interval: Duration::from_secs(1),
            max_rows: 100_000,
        }
    }
}

struct Consumer {
    spec: watch::Sender<StoreSpec>,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

/// The lake's tables and their consumers.
pub struct Lake {
    dir: PathBuf,
    journal: Journal,
    settings: WriterSettings,
    consumers: Mutex<HashMap<String, Consumer>>,
    /// The tables as queries last saw them, brought up to date per query by reading only the
    /// commits since: opening a table reads its whole log, which grows with every commit.
    table_cache: Mutex<HashMap<String, DeltaTable>>,
    /// Numbers catalog reads ([`Lake::snapshot`]) so that specs from an older read never
    /// replace those from a newer one.
    snapshots: AtomicU64,
    /// The newest snapshot applied; held while specs are applied and tables purged.
    applied: Mutex<u64>,
}

impl Lake {
    /// A lake keeping each store's table under `dir/<store id>/`.
    pub fn new(dir: PathBuf, journal: Journal, settings: WriterSettings) -> Arc<Lake> {
        Arc::new(Lake {
            dir,
            journal,
            settings,
            consumers: Mutex::new(HashMap::new()),
            table_cache: Mutex::new(HashMap::new()),
            snapshots: AtomicU64::new(0),
            applied: Mutex::new(0),
        })
    }

    /// Where a store's table lives.
    pub fn table_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Opens a store's table; `None` before its first commit.
    pub async fn open_table(&self, id: &str) -> Result<Option<DeltaTable>, LakeError> {
        open_table(&self.table_dir(id)).await
    }

    /// Store `id`'s table at its latest version, for a query; `None` before its first commit.
    pub async fn current_table(&self, id: &str) -> Result<Option<DeltaTable>, LakeError> {
        let cached = self
            .table_cache
            .lock()
            .ok()
            .and_then(|t| t.get(id).cloned());
        let table = match cached {
            Some(mut t) => match t.update_incremental(None).await {
                Ok(()) => Some(t),
                Err(e) => {
                    tracing::debug!(store = %id, error = %e, "reopening a table whose snapshot cannot be updated");
                    self.open_table(id).await?
                }
            },
            None => self.open_table(id).await?,
        };
        if let (Some(t), Ok(mut cache)) = (&table, self.table_cache.lock()) {
            cache.insert(id.to_owned(), t.clone());
        }
        Ok(table)
    }

    /// A number for a catalog read about to happen: take it before reading, and hand it to
    /// [`Lake::sync_snapshot`] with the specs read.
    pub fn snapshot(&self) -> u64 {
        self.snapshots.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// [`Lake::sync`] with specs read under `snapshot`, unless specs of a later read were
    /// applied already (a poll that read the catalog before a change must not undo the
    /// refresh made after it). With `purge`, also removes the tables of stores not in
    /// `specs`. Whether the specs were applied.
    pub fn sync_snapshot(
        self: &Arc<Self>,
        snapshot: u64,
        specs: Vec<StoreSpec>,
        purge: bool,
    ) -> bool {
        let Ok(mut applied) = self.applied.lock() else {
            return false;
        };
        if snapshot < *applied {
            return false;
        }
        *applied = snapshot;
        let known: std::collections::HashSet<String> = specs.iter().map(|s| s.id.clone()).collect();
        self.sync_specs(specs);
        if purge {
            self.purge_unknown(&known);
        }
        true
    }

    /// Makes the running consumers those of `specs`: starts new ones, hands changed specs to
    /// running ones, stops the rest (their tables stay).
    pub fn sync(self: &Arc<Self>, specs: Vec<StoreSpec>) {
        let snapshot = self.snapshot();
        self.sync_snapshot(snapshot, specs, false);
    }

    fn sync_specs(self: &Arc<Self>, specs: Vec<StoreSpec>) {
        let Ok(mut consumers) = self.consumers.lock() else {
            return;
        };
        let wanted: HashMap<String, StoreSpec> =
            specs.into_iter().map(|s| (s.id.clone(), s)).collect();
        consumers.retain(|id, c| {
            let keep = wanted.contains_key(id) && !c.handle.is_finished();
            if !keep {
                let _ = c.stop.send(true);
            }
            keep
        });
        for (id, spec) in wanted {
            match consumers.get(&id) {
                Some(c) => {
                    c.spec.send_if_modified(|s| {
                        let changed = *s != spec;
                        *s = spec.clone();
                        changed
                    });
                }
                None => {
                    self.pin_start(&id);
                    let (spec_tx, spec_rx) = watch::channel(spec);
                    let (stop_tx, stop_rx) = watch::channel(false);
                    let lake = Arc::clone(self);
                    let handle = tokio::spawn(async move {
                        lake.consume(spec_rx, stop_rx).await;
                    });
                    consumers.insert(
                        id,
                        Consumer {
                            spec: spec_tx,
                            stop: stop_tx,
                            handle,
                        },
                    );
                }
            }
        }
    }

    /// Records where a store without a table or checkpoint starts (the journal's end now),
    /// so that it takes every event appended after the call that made it known — however
    /// late its consumer task first runs.
    fn pin_start(&self, id: &str) {
        let name = consumer_name(id);
        let fresh = matches!(self.journal.checkpoint(&name), Ok(None))
            && !self.table_dir(id).join("_delta_log").exists();
        if fresh
            && let Err(e) = self
                .journal
                .save_checkpoint(&name, self.journal.durable_lsn())
        {
            tracing::warn!(store = %id, error = %e, "could not record where a new store starts");
        }
    }

    /// Deletes store `id`'s events whose `eventTime` is older than `days` days (retention is
    /// judged by event time, as in AWS). Files wholly older go without rewriting, through the
    /// day partitions; only the boundary day's files are rewritten. Returns the rows removed
    /// (when the table can count them).
    pub async fn enforce_retention(&self, id: &str, days: u32) -> Result<u64, LakeError> {
        let Some(table) = self.open_table(id).await? else {
            return Ok(0);
        };
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
        let predicate = format!(
            "{PARTITION_COLUMN} < '{}' OR eventtime < '{}'",
            cutoff.format("%Y-%m-%d"),
            cutoff.format("%Y-%m-%dT%H:%M:%S%.6fZ")
        );
        let (_, metrics) = table
            .delete()
            .with_predicate(predicate)
            .await
            .map_err(table_error)?;
        Ok(metrics.num_deleted_rows.unwrap_or(0) as u64)
    }

    /// Compacts store `id`'s small files (one per commit: a store fed one event a second makes
    /// 86,400 a day) into files of about [`COMPACT_TARGET_BYTES`] per day partition, then
    /// deletes files the table stopped using over an hour ago (no query still reads them).
    /// Concurrent appends by the consumer do not conflict: both are Delta commits, and
    /// compaction only rewrites files, so the journal position rides along unchanged.
    pub async fn compact(&self, id: &str) -> Result<Compaction, LakeError> {
        let Some(table) = self.open_table(id).await? else {
            return Ok(Compaction::default());
        };
        let target = std::num::NonZeroU64::new(COMPACT_TARGET_BYTES)
            .ok_or_else(|| LakeError::Internal("compaction target must not be 0".into()))?;
        let (table, metrics) = table
            .optimize()
            .with_target_size(target)
            .with_writer_properties(writer_properties()?)
            .await
            .map_err(table_error)?;
        let (_, vacuumed) = table
            .vacuum()
            .with_retention_period(chrono::Duration::hours(1))
            .with_enforce_retention_duration(false)
            .await
            .map_err(table_error)?;
        Ok(Compaction {
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
            files_deleted: vacuumed.files_deleted.len() as u64,
        })
    }

    /// Removes the tables and journal checkpoints of stores not in `known` (deleted for
    /// good), so the journal can reclaim what only they still held.
    pub fn purge_unknown(&self, known: &std::collections::HashSet<String>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(id) = e.file_name().into_string() else {
                continue;
            };
            if known.contains(&id) {
                continue;
            }
            if let Ok(mut c) = self.consumers.lock()
                && let Some(c) = c.remove(&id)
            {
                c.handle.abort();
            }
            if let Ok(mut s) = self.table_cache.lock() {
                s.remove(&id);
            }
            match std::fs::remove_dir_all(e.path()) {
                Ok(()) => {
                    tracing::info!(store = %id, "removed the table of a deleted event data store");
                    let _ = self.journal.remove_checkpoint(&consumer_name(&id));
                }
                Err(err) => {
                    tracing::warn!(store = %id, error = %err, "could not remove a deleted store's table")
                }
            }
        }
    }

    /// Stops every consumer after it commits what it holds.
    pub async fn shutdown(&self) {
        let handles: Vec<JoinHandle<()>> = match self.consumers.lock() {
            Ok(mut c) => c
                .drain()
                .map(|(_, c)| {
                    let _ = c.stop.send(true);
                    c.handle
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        for h in handles {
            let _ = h.await;
        }
    }

    /// Waits until every consumer has committed the journal up to `lsn` (tests, import).
    pub async fn wait_for(&self, id: &str, lsn: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self
                .journal
                .checkpoint(&consumer_name(id))
                .ok()
                .flatten()
                .is_some_and(|c| c >= lsn)
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    async fn consume(
        &self,
        mut spec_rx: watch::Receiver<StoreSpec>,
        mut stop: watch::Receiver<bool>,
    ) {
        let id = spec_rx.borrow().id.clone();
        let name = consumer_name(&id);
        let dir = self.table_dir(&id);
        let mut backoff = Duration::from_millis(200);
        let (mut table, committed) = loop {
            match self.position(&dir, &name).await {
                Ok(p) => break p,
                Err(e) => {
                    tracing::error!(store = %id, error = %e, "lake table cannot be opened; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        };
        let _ = self.journal.save_checkpoint(&name, committed);
        let mut reader = self.journal.reader(committed + 1);
        let mut rows = Pending::new(spec_rx.borrow().kind);
        let mut last_lsn = committed;
        let mut first_row: Option<Instant> = None;
        let mut last_saved = Instant::now();
        loop {
            let stopping = *stop.borrow();
            let entries = if stopping {
                Vec::new()
            } else {
                match reader.read_batch(4096) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::error!(store = %id, error = %e, "lake consumer cannot read the journal");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            };
            // Read after the entries: a spec change made before an entry was appended (a new
            // channel destination, say) is seen by the time that entry is.
            let spec = spec_rx.borrow_and_update().clone();
            let empty = entries.is_empty();
            for e in entries {
                last_lsn = e.lsn;
                if spec.ingesting && spec.keeps(&e.data) && rows.push(&e.data) {
                    first_row.get_or_insert_with(Instant::now);
                }
            }
            let due = !rows.is_empty()
                && (stopping
                    || rows.len() >= self.settings.max_rows
                    || first_row.is_some_and(|t| t.elapsed() >= self.settings.flush_interval));
            if due {
                match commit(table.take(), &dir, &mut rows, last_lsn).await {
                    Ok(t) => {
                        table = Some(t);
                        rows.clear();
                        first_row = None;
                        let _ = self.journal.save_checkpoint(&name, last_lsn);
                        last_saved = Instant::now();
                        backoff = Duration::from_millis(200);
                    }
                    Err(e) => {
                        tracing::error!(store = %id, error = %e, "lake commit failed; retrying");
                        table = open_table(&dir).await.ok().flatten();
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        continue;
                    }
                }
            } else if rows.is_empty()
                && last_lsn > committed
                && last_saved.elapsed() >= Duration::from_secs(1)
            {
                // Nothing pending: everything up to here is in the table or not for it.
                let _ = self.journal.save_checkpoint(&name, last_lsn);
                last_saved = Instant::now();
            }
            if stopping && rows.is_empty() {
                return;
            }
            if empty {
                let wait = match first_row {
                    Some(t) => self.settings.flush_interval.saturating_sub(t.elapsed()),
                    None => Duration::from_secs(1),
                };
                tokio::select! {
                    _ = tokio::time::timeout(wait, reader.wait()) => {}
                    _ = stop.changed() => {}
                    _ = spec_rx.changed() => {}
                }
            }
        }
    }

    /// The table (if any) and the last journal position it accounts for: the later of the
    /// Delta application transaction (what the table holds) and the consumer's checkpoint
    /// (saved only when nothing is pending, so entries up to it are in the table or not for
    /// it, e.g. passed while ingestion was stopped); for a new store, the journal's end: it
    /// takes events from its creation on.
    async fn position(
        &self,
        dir: &Path,
        name: &str,
    ) -> Result<(Option<DeltaTable>, u64), LakeError> {
        let table = open_table(dir).await?;
        let mut committed = None;
        if let Some(t) = &table {
            committed = transaction_version(t, JOURNAL_APP_ID)
                .await?
                .map(|v| u64::try_from(v).unwrap_or(0));
        }
        let checkpoint = self.journal.checkpoint(name).map_err(journal_error)?;
        let from = match (committed, checkpoint) {
            (None, None) => self.journal.durable_lsn(),
            (a, b) => a.unwrap_or(0).max(b.unwrap_or(0)),
        };
        Ok((table, from))
    }
}

/// Parquet settings of the lake's files: zstd throughout; the whole-record `eventjson`
/// column at a higher level and without a dictionary. The random ids have no dictionary
/// either, and their values go with their lengths apart (`DELTA_LENGTH_BYTE_ARRAY`) at zstd
/// level 1: with lengths between the values zstd finds spurious matches in random hex and
/// stores a UUID in ~20.5 bytes, this way in ~18.5 (measured with pyarrow over 50,000 UUIDs;
/// BENCHMARKS.md). DuckDB, pyarrow, Spark and Trino read the encoding.
fn writer_properties() -> Result<WriterProperties, LakeError> {
    let level = |l| {
        ZstdLevel::try_new(l)
            .map(Compression::ZSTD)
            .map_err(table_error)
    };
    let mut props = WriterProperties::builder()
        .set_compression(level(3)?)
        .set_column_dictionary_enabled(ColumnPath::from("eventjson"), false)
        .set_column_compression(ColumnPath::from("eventjson"), level(EVENTJSON_ZSTD_LEVEL)?);
    for id in ["eventid", "requestid", "sharedeventid"] {
        props = props
            .set_column_dictionary_enabled(ColumnPath::from(id), false)
            .set_column_encoding(ColumnPath::from(id), Encoding::DELTA_LENGTH_BYTE_ARRAY)
            .set_column_compression(ColumnPath::from(id), level(1)?);
    }
    Ok(props.build())
}

/// zstd level of `eventjson`, the largest column: above the other columns' 3, spending write
/// time where the bytes are.
const EVENTJSON_ZSTD_LEVEL: i32 = 6;

fn consumer_name(id: &str) -> String {
    format!("lake-{id}")
}

pub(crate) fn table_error(e: impl std::fmt::Display) -> LakeError {
    LakeError::Internal(e.to_string())
}

fn journal_error(e: impl std::fmt::Display) -> LakeError {
    LakeError::Internal(format!("journal: {e}"))
}

fn table_url(dir: &Path) -> Result<Url, LakeError> {
    Url::from_directory_path(dir)
        .map_err(|()| LakeError::Internal(format!("{} is not an absolute path", dir.display())))
}

/// Opens the table in `dir`; `None` when it has no commit yet.
pub async fn open_table(dir: &Path) -> Result<Option<DeltaTable>, LakeError> {
    if !dir.join("_delta_log").exists() {
        return Ok(None);
    }
    let table = DeltaTable::try_from_url(table_url(dir)?)
        .await
        .map_err(table_error)?;
    Ok(table.version().is_some().then_some(table))
}

/// Appends `rows` as one Delta commit that also records `lsn` as the journal position.
async fn commit(
    table: Option<DeltaTable>,
    dir: &Path,
    rows: &mut Pending,
    lsn: u64,
) -> Result<DeltaTable, LakeError> {
    let version = i64::try_from(lsn).map_err(table_error)?;
    commit_batches(
        table,
        dir,
        vec![rows.batch()?],
        Transaction::new(JOURNAL_APP_ID, version),
        Vec::new(),
    )
    .await
}

/// Appends `batches` as one atomic Delta commit (creating the table on its first commit)
/// that also records `txn` (an application transaction: whose progress the rows are, and how
/// far it got) and `metadata` in the commit's `commitInfo`. Either all of it is in the table
/// afterwards or none of it, which is what lets writers resume exactly where they stopped.
pub(crate) async fn commit_batches(
    table: Option<DeltaTable>,
    dir: &Path,
    batches: Vec<RecordBatch>,
    txn: Transaction,
    metadata: Vec<(String, Value)>,
) -> Result<DeltaTable, LakeError> {
    let table = match table {
        Some(t) => t,
        None => {
            std::fs::create_dir_all(dir)
                .map_err(|e| LakeError::Internal(format!("creating {}: {e}", dir.display())))?;
            match open_table(dir).await? {
                Some(t) => t,
                // Not loaded: loading a table without commits fails (and logs an error);
                // the write creates it.
                None => deltalake::DeltaTableBuilder::from_url(table_url(dir)?)
                    .and_then(|b| b.build())
                    .map_err(table_error)?,
            }
        }
    };
    let props = writer_properties()?;
    table
        .write(batches)
        .with_save_mode(SaveMode::Append)
        .with_partition_columns([PARTITION_COLUMN])
        .with_writer_properties(props)
        .with_commit_properties(
            CommitProperties::default()
                .with_application_transaction(txn)
                .with_metadata(metadata),
        )
        .await
        .map_err(table_error)
}

/// The version `table` records for application `app_id` (Delta `txn`), if any.
pub(crate) async fn transaction_version(
    table: &DeltaTable,
    app_id: &str,
) -> Result<Option<i64>, LakeError> {
    table
        .snapshot()
        .map_err(table_error)?
        .transaction_version(table.log_store().as_ref(), app_id)
        .await
        .map_err(table_error)
}
