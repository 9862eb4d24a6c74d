//! The work of one import. The source is listed once per run (the listing is kept beside the
//! catalog, so a resumed run walks the same files in the same order); worker threads read,
//! gunzip and parse files ahead, several at a time; one committer takes their rows in
//! listing order, drops events the table already holds or the import already took (by
//! `eventID`), and appends them to the store's Delta table in large commits.
//!
//! Each commit carries the import's progress (run and number of files done) as the Delta
//! application transaction `opentrail-import-<id>`, and its statistics and new failure
//! entries in the commit's metadata, in the same atomic log entry as the rows. After a crash,
//! StopImport or a restart, the run resumes after the last file the table accounts for: no
//! event is written twice and none is skipped.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, TimestampMicrosecondType};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::source::{FileError, Source, SourceFile, decode, records};
use super::{Import, ImportFailure, ImportStatistics, ImportStatus, Imports};
use crate::LakeError;
use crate::schema::{self, PARTITION_COLUMN};
use crate::writer::{commit_batches, open_table, table_error, transaction_version};

/// Files parsed ahead of the committer, at most.
const AHEAD: usize = 64;
/// A run with pending rows commits at least this often, so progress shows on slow sources.
const MAX_COMMIT_DELAY: Duration = Duration::from_secs(15);
/// Progress without rows to commit (all duplicates, failures) is saved this often.
const SAVE_EVERY: Duration = Duration::from_secs(2);
/// The key of the import's entry in a commit's metadata.
const COMMIT_INFO_KEY: &str = "opentrail.import";
/// Files delivered this long after EndEventTime may still hold events before it.
const LATE_DELIVERY: chrono::Duration = chrono::Duration::days(1);

/// The Delta application id under which an import's commits record its progress.
pub fn app_id(import_id: &str) -> String {
    format!("opentrail-import-{import_id}")
}

/// The application transaction version of `files` done in run `attempt`.
fn encode_version(attempt: u32, files: u64) -> i64 {
    (i64::from(attempt) << 40) | (files as i64 & ((1 << 40) - 1))
}

fn decode_version(v: i64) -> (u32, u64) {
    ((v >> 40) as u32, (v & ((1 << 40) - 1)) as u64)
}

/// What a commit says about the import, in its `commitInfo`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CommitNote {
    id: String,
    attempt: u32,
    files: u64,
    stats: ImportStatistics,
    failures: Vec<ImportFailure>,
}

/// A parsed file: its rows in the import's time range.
struct Parsed {
    batch: Option<RecordBatch>,
    /// Records that are not CloudTrail records (no `eventTime`).
    invalid: usize,
}

/// What the worker threads share.
struct Work {
    source: Source,
    files: Arc<Vec<SourceFile>>,
    /// The next file a worker takes.
    next: AtomicUsize,
    /// The file the committer waits for: workers stay within [`AHEAD`] of it.
    wanted: AtomicUsize,
    stop: AtomicBool,
    window: (Option<i64>, Option<i64>),
    rt: tokio::runtime::Handle,
}

type FileResult = (usize, Result<Parsed, FileError>);

fn worker(work: Arc<Work>, tx: mpsc::Sender<FileResult>) {
    loop {
        if work.stop.load(Ordering::Relaxed) {
            return;
        }
        let i = work.next.fetch_add(1, Ordering::Relaxed);
        let Some(file) = work.files.get(i) else {
            return;
        };
        while i >= work.wanted.load(Ordering::Relaxed) + AHEAD {
            if work.stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let result = work
            .source
            .read(&file.key, &work.rt)
            .map_err(|e| FileError {
                kind: "UnreadableFile",
                message: e.to_string(),
            })
            .and_then(|bytes| parse(&file.key, bytes, work.window));
        if tx.blocking_send((i, result)).is_err() {
            return;
        }
    }
}

/// The rows of one file whose `eventTime` is in `window` (epoch microseconds, inclusive).
fn parse(
    key: &str,
    bytes: Vec<u8>,
    window: (Option<i64>, Option<i64>),
) -> Result<Parsed, FileError> {
    let json = decode(key, bytes)?;
    let raw = records(key, &json)?;
    let mut rows = Vec::with_capacity(raw.len());
    let mut invalid = 0;
    for r in raw {
        match schema::row(r.get().as_bytes()) {
            Some(row) => rows.push(row),
            None => invalid += 1,
        }
    }
    if rows.is_empty() {
        return Ok(Parsed {
            batch: None,
            invalid,
        });
    }
    // Clustered as the journal consumers write (`tables::clustered`), within the file.
    rows.sort_by(|a, b| a.cluster_key().cmp(&b.cluster_key()));
    let bad_rows = |e: &dyn std::fmt::Display| FileError {
        kind: "InvalidRecords",
        message: format!("{key}: its records cannot be stored: {e}"),
    };
    let batch = schema::batch(&rows).map_err(|e| bad_rows(&e))?;
    let batch = match window {
        (None, None) => batch,
        (start, end) => {
            let times = batch
                .column_by_name("eventtime")
                .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
                .ok_or_else(|| bad_rows(&"no eventtime column"))?;
            let keep: BooleanArray = times
                .iter()
                .map(|t| {
                    Some(t.is_some_and(|t| {
                        start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e)
                    }))
                })
                .collect();
            filter_record_batch(&batch, &keep).map_err(|e| bad_rows(&e))?
        }
    };
    Ok(Parsed {
        batch: (batch.num_rows() > 0).then_some(batch),
        invalid,
    })
}

/// Event ids seen: those of the destination table (loaded per day partition, on first
/// need) and those this run took.
#[derive(Default)]
struct Seen {
    days: HashSet<String>,
    uuids: HashSet<u128>,
    others: HashSet<Box<str>>,
}

impl Seen {
    /// Records `id`; whether it was new.
    fn insert(&mut self, id: &str) -> bool {
        match uuid::Uuid::try_parse(id) {
            Ok(u) => self.uuids.insert(u.as_u128()),
            Err(_) => self.others.insert(id.into()),
        }
    }
}

fn string_column(batch: &RecordBatch, name: &str) -> Result<Arc<dyn Array>, LakeError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| LakeError::Internal(format!("the rows have no {name} column")))?;
    cast(col, &DataType::Utf8).map_err(table_error)
}

/// Day partitions (`YYYY-MM-DD`) that can be named in SQL as they are.
fn plain_day(d: &str) -> bool {
    d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// Loads into `seen` the event ids the table holds on `days`.
async fn load_days(
    table: &mut DeltaTable,
    days: &[String],
    seen: &mut Seen,
) -> Result<(), LakeError> {
    table.update_state().await.map_err(table_error)?;
    let ctx = SessionContext::new();
    table
        .update_datafusion_session(&ctx.state())
        .map_err(table_error)?;
    let provider = table.table_provider().await.map_err(table_error)?;
    ctx.register_table("t", provider).map_err(table_error)?;
    let list: Vec<String> = days.iter().map(|d| format!("'{d}'")).collect();
    let batches = ctx
        .sql(&format!(
            "SELECT eventid FROM t WHERE {PARTITION_COLUMN} IN ({}) AND eventid IS NOT NULL",
            list.join(", ")
        ))
        .await
        .map_err(table_error)?
        .collect()
        .await
        .map_err(table_error)?;
    for b in &batches {
        let ids = string_column(b, "eventid")?;
        for id in ids.as_string::<i32>().iter().flatten() {
            seen.insert(id);
        }
    }
    Ok(())
}

/// The rows of `batch` whose event ids are new, after loading the ids of any day partition
/// not loaded yet.
async fn dedup(
    batch: RecordBatch,
    table: &mut Option<DeltaTable>,
    dir: &Path,
    seen: &mut Seen,
) -> Result<RecordBatch, LakeError> {
    let days = string_column(&batch, PARTITION_COLUMN)?;
    let mut new_days: Vec<String> = days
        .as_string::<i32>()
        .iter()
        .flatten()
        .filter(|d| !seen.days.contains(*d))
        .map(str::to_owned)
        .collect();
    new_days.sort();
    new_days.dedup();
    if !new_days.is_empty() {
        if table.is_none() {
            *table = open_table(dir).await?;
        }
        let named: Vec<String> = new_days.iter().filter(|d| plain_day(d)).cloned().collect();
        if let Some(t) = table.as_mut()
            && !named.is_empty()
        {
            load_days(t, &named, seen).await?;
        }
        seen.days.extend(new_days);
    }
    let ids = string_column(&batch, "eventid")?;
    let keep: BooleanArray = ids
        .as_string::<i32>()
        .iter()
        .map(|id| Some(id.is_none_or(|id| seen.insert(id))))
        .collect();
    filter_record_batch(&batch, &keep).map_err(table_error)
}

/// Whether a file delivered at `delivered` can hold events of the import's range (AWS too
/// matches the range against the dates in prefixes and file names).
fn may_hold_range(imp: &Import, delivered: Option<DateTime<Utc>>) -> bool {
    let Some(d) = delivered else {
        return true;
    };
    // Names carry the minute of delivery; events are never after their delivery.
    imp.start_event_time
        .is_none_or(|s| d + chrono::Duration::minutes(1) > s)
        && imp.end_event_time.is_none_or(|e| d <= e + LATE_DELIVERY)
}

/// The run's listing: read back when this run listed before, else listed and kept.
async fn listing(
    imports: &Imports,
    imp: &Import,
    source: &Source,
) -> Result<Vec<SourceFile>, LakeError> {
    let path = imports.dir.join(format!("{}-{}.json", imp.id, imp.attempt));
    if let Ok(bytes) = tokio::fs::read(&path).await
        && let Ok(files) = serde_json::from_slice::<Vec<SourceFile>>(&bytes)
    {
        return Ok(files);
    }
    let files: Vec<SourceFile> = source
        .list()
        .await?
        .into_iter()
        .filter(|f| may_hold_range(imp, f.delivered))
        .collect();
    let body = serde_json::to_vec(&files).map_err(table_error)?;
    let dir = imports.dir.clone();
    tokio::task::spawn_blocking(move || write_atomically(&dir, &path, &body))
        .await
        .map_err(table_error)??;
    Ok(files)
}

fn write_atomically(dir: &Path, path: &Path, body: &[u8]) -> Result<(), LakeError> {
    use std::io::Write;
    let io = |e: std::io::Error| LakeError::Internal(format!("writing {}: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(body).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)
}

/// For each folder, the number of listed files up to and including its last one.
fn prefix_ends(files: &[SourceFile]) -> Vec<u64> {
    let mut ends = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if files.get(i + 1).is_none_or(|n| n.prefix() != f.prefix()) {
            ends.push(i as u64 + 1);
        }
    }
    ends
}

/// Runs import `imp` until it is done, stopped or the server stops.
pub(super) async fn run(imports: Arc<Imports>, imp: Import, stop: watch::Receiver<bool>) {
    let id = imp.id.clone();
    if let Err(e) = run_inner(&imports, imp.clone(), stop).await {
        tracing::error!(import = %id, error = %e, "import failed");
        let _ = imports.update(&imp, |cur| {
            if cur.status.ongoing() {
                cur.status = ImportStatus::Failed;
                cur.failures.push(ImportFailure {
                    location: cur.source.s3.s3_location_uri.clone(),
                    error_type: e.code().trim_end_matches("Exception").to_owned(),
                    error_message: e.to_string(),
                    last_updated: Utc::now(),
                });
                cur.stats.failed_entries = cur.failures.len() as u64;
            }
        });
    }
}

/// The location of `key` as failure entries show it.
fn location(imp: &Import, key: &str) -> String {
    let base = imp.source.s3.s3_location_uri.trim_end_matches('/');
    match base.strip_prefix("s3://") {
        Some(rest) => {
            let bucket = rest.split('/').next().unwrap_or(rest);
            format!("s3://{bucket}/{key}")
        }
        None => format!("{base}/{key}"),
    }
}

async fn run_inner(
    imports: &Arc<Imports>,
    imp: Import,
    mut stop: watch::Receiver<bool>,
) -> Result<(), LakeError> {
    let source = imports
        .open_source(
            &imp.source.s3.s3_location_uri,
            &imp.source.s3.s3_bucket_region,
        )
        .await?;
    let files = Arc::new(listing(imports, &imp, &source).await?);
    let ends = prefix_ends(&files);
    let dir = imports.lake.table_dir(&imp.store_id);
    let mut table = open_table(&dir).await?;
    let mut imp = imports.update(&imp, |cur| {
        if cur.status == ImportStatus::Initializing {
            cur.status = ImportStatus::InProgress;
        }
        cur.stats.prefixes_found = ends.len() as u64;
    })?;
    if !imp.status.ongoing() || *stop.borrow() {
        return Ok(());
    }
    // A commit whose catalog update a crash prevented: the table is the truth.
    if let Some(t) = &table
        && let Some(v) = transaction_version(t, &app_id(&imp.id)).await?
        && let (attempt, done) = decode_version(v)
        && attempt == imp.attempt
        && done > imp.files_done
    {
        let note = commit_note(t, &imp.id, attempt, done).await?;
        imp = imports.update(&imp, |cur| {
            cur.files_done = done;
            if let Some(n) = note {
                cur.stats = n.stats;
                cur.failures.extend(n.failures);
            }
        })?;
    }
    let start = usize::try_from(imp.files_done).map_err(table_error)?;
    let micros = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros());
    let work = Arc::new(Work {
        source,
        files: Arc::clone(&files),
        next: AtomicUsize::new(start),
        wanted: AtomicUsize::new(start),
        stop: AtomicBool::new(false),
        window: (micros(imp.start_event_time), micros(imp.end_event_time)),
        rt: tokio::runtime::Handle::current(),
    });
    let (tx, mut rx) = mpsc::channel::<FileResult>(AHEAD);
    let mut threads = Vec::new();
    for _ in 0..imports.settings.workers.max(1) {
        let (w, tx) = (Arc::clone(&work), tx.clone());
        threads.push(std::thread::spawn(move || worker(w, tx)));
    }
    drop(tx);
    let result = commit_loop(
        imports,
        &mut imp,
        &mut table,
        &dir,
        &files,
        &ends,
        &mut rx,
        &work.wanted,
        &mut stop,
    )
    .await;
    work.stop.store(true, Ordering::Relaxed);
    rx.close();
    while rx.recv().await.is_some() {}
    for t in threads {
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
    let finished = result?;
    if finished {
        let failed = !imp.failures.is_empty();
        let done = imports.update(&imp, |cur| {
            if cur.status == ImportStatus::InProgress {
                cur.status = if failed {
                    ImportStatus::Failed
                } else {
                    ImportStatus::Completed
                };
            }
        })?;
        tracing::info!(import = %done.id, status = done.status.as_str(), events = done.stats.events_completed, files = done.stats.files_completed, failures = done.stats.failed_entries, "import ended");
    }
    Ok(())
}

/// The note of the commit that recorded `files` for run `attempt` of import `id`.
async fn commit_note(
    table: &DeltaTable,
    id: &str,
    attempt: u32,
    files: u64,
) -> Result<Option<CommitNote>, LakeError> {
    let infos: Vec<_> = table
        .history(Some(1000))
        .try_collect()
        .await
        .map_err(table_error)?;
    Ok(infos.into_iter().find_map(|info| {
        let note: CommitNote =
            serde_json::from_value(info.info.get(COMMIT_INFO_KEY)?.clone()).ok()?;
        (note.id == id && note.attempt == attempt && note.files == files).then_some(note)
    }))
}

/// The progress a committer holds and has not saved yet.
struct Pending {
    batches: Vec<RecordBatch>,
    rows: usize,
    failures: Vec<ImportFailure>,
    since: Option<Instant>,
}

/// Takes the workers' files in order and commits them; `Ok(true)` when every file is done,
/// `Ok(false)` when stopped first.
#[allow(clippy::too_many_arguments)]
async fn commit_loop(
    imports: &Imports,
    imp: &mut Import,
    table: &mut Option<DeltaTable>,
    dir: &Path,
    files: &[SourceFile],
    ends: &[u64],
    rx: &mut mpsc::Receiver<FileResult>,
    wanted: &AtomicUsize,
    stop: &mut watch::Receiver<bool>,
) -> Result<bool, LakeError> {
    let mut seen = Seen::default();
    let mut early: BTreeMap<usize, Result<Parsed, FileError>> = BTreeMap::new();
    let mut next = usize::try_from(imp.files_done).map_err(table_error)?;
    let mut stats = imp.stats.clone();
    let mut pending = Pending {
        batches: Vec::new(),
        rows: 0,
        failures: Vec::new(),
        since: None,
    };
    let mut saved = (next, Instant::now());
    loop {
        if next >= files.len() {
            break;
        }
        let got = tokio::select! {
            r = rx.recv() => r,
            _ = stop.changed() => None,
        };
        if *stop.borrow() {
            return Ok(false);
        }
        let Some((i, result)) = got else {
            return Err(LakeError::Internal(
                "the import's readers stopped before the last file".into(),
            ));
        };
        early.insert(i, result);
        while let Some(result) = early.remove(&next) {
            let key = &files[next].key;
            let now = Utc::now();
            match result {
                Ok(parsed) => {
                    stats.files_completed += 1;
                    if parsed.invalid > 0 {
                        pending.failures.push(ImportFailure {
                            location: location(imp, key),
                            error_type: "InvalidRecords".into(),
                            error_message: format!(
                                "{} records of {key} are not CloudTrail records (no eventTime) and were skipped; the others were imported.",
                                parsed.invalid
                            ),
                            last_updated: now,
                        });
                    }
                    if let Some(batch) = parsed.batch {
                        let batch = dedup(batch, table, dir, &mut seen).await?;
                        if batch.num_rows() > 0 {
                            pending.rows += batch.num_rows();
                            stats.events_completed += batch.num_rows() as u64;
                            pending.batches.push(batch);
                            pending.since.get_or_insert_with(Instant::now);
                        }
                    }
                }
                Err(e) => pending.failures.push(ImportFailure {
                    location: location(imp, key),
                    error_type: e.kind.into(),
                    error_message: e.message,
                    last_updated: now,
                }),
            }
            next += 1;
            stats.failed_entries = (imp.failures.len() + pending.failures.len()) as u64;
            stats.prefixes_completed = ends.partition_point(|&e| e <= next as u64) as u64;
            wanted.store(next, Ordering::Relaxed);
            let due = pending.rows >= imports.settings.commit_rows
                || pending
                    .since
                    .is_some_and(|t| t.elapsed() >= MAX_COMMIT_DELAY)
                || (next == files.len() && pending.rows > 0);
            if due {
                commit(imports, imp, table, dir, next, &stats, &mut pending).await?;
                saved = (next, Instant::now());
            } else if pending.rows == 0
                && next > saved.0
                && (saved.1.elapsed() >= SAVE_EVERY || next == files.len())
            {
                save(imports, imp, next, &stats, &mut pending)?;
                saved = (next, Instant::now());
            }
        }
    }
    if pending.rows > 0 {
        commit(imports, imp, table, dir, next, &stats, &mut pending).await?;
    } else if next as u64 > imp.files_done || !pending.failures.is_empty() {
        save(imports, imp, next, &stats, &mut pending)?;
    }
    Ok(true)
}

/// Saves progress that wrote no rows in the catalog.
fn save(
    imports: &Imports,
    imp: &mut Import,
    files: usize,
    stats: &ImportStatistics,
    pending: &mut Pending,
) -> Result<(), LakeError> {
    let failures = std::mem::take(&mut pending.failures);
    *imp = imports.update(imp, |cur| {
        cur.files_done = files as u64;
        cur.stats = stats.clone();
        cur.failures.extend(failures);
    })?;
    Ok(())
}

/// Appends the pending rows with the progress they complete, then mirrors it in the catalog.
async fn commit(
    imports: &Imports,
    imp: &mut Import,
    table: &mut Option<DeltaTable>,
    dir: &Path,
    files: usize,
    stats: &ImportStatistics,
    pending: &mut Pending,
) -> Result<(), LakeError> {
    let note = CommitNote {
        id: imp.id.clone(),
        attempt: imp.attempt,
        files: files as u64,
        stats: stats.clone(),
        failures: pending.failures.clone(),
    };
    let version = encode_version(imp.attempt, files as u64);
    let mut backoff = Duration::from_millis(200);
    let mut tries = 0;
    loop {
        let txn = Transaction::new(app_id(&imp.id), version);
        let metadata = vec![(COMMIT_INFO_KEY.to_owned(), json!(note))];
        match commit_batches(table.take(), dir, pending.batches.clone(), txn, metadata).await {
            Ok(t) => {
                *table = Some(t);
                break;
            }
            Err(e) if tries < 5 => {
                tries += 1;
                tracing::warn!(import = %imp.id, error = %e, "import commit failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                *table = open_table(dir).await?;
            }
            Err(e) => return Err(e),
        }
    }
    tracing::debug!(import = %imp.id, rows = pending.rows, files, "import committed");
    pending.batches.clear();
    pending.rows = 0;
    pending.since = None;
    save(imports, imp, files, stats, pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_carry_the_run_and_the_files_done() {
        for (a, f) in [(0, 0), (0, 12_345), (3, 1 << 39), (7, 1)] {
            assert_eq!(decode_version(encode_version(a, f)), (a, f));
        }
        assert!(encode_version(1, 0) > encode_version(0, 1 << 39));
    }

    #[test]
    fn prefixes_end_where_their_folder_changes() {
        let f = |k: &str| SourceFile {
            key: k.into(),
            delivered: None,
        };
        let files = [f("a/1"), f("a/2"), f("b/1"), f("c/1"), f("c/2")];
        assert_eq!(prefix_ends(&files), vec![2, 3, 5]);
    }
}
