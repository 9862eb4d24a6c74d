//! The store: a memtable of recent events, immutable index segments, and compressed record
//! files, tied together by the manifest.

pub(crate) mod keys;
pub(crate) mod manifest;
pub(crate) mod memtable;
pub(crate) mod records;
pub(crate) mod segment;

use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use opentrail_journal::Entry;

use self::keys::{event_id_hash, posting_key};
use self::manifest::{Manifest, RecordFileEntry, SegmentEntry};
use self::memtable::Memtable;
use self::records::{RecordReader, RecordWriter};
use self::segment::{RowMeta, Segment, write_segment};
use crate::extract::{Attr, extract};
use crate::query::{Cursor, Found, Page, Query};
use crate::token::TokenKey;
use crate::{Category, HistoryError};

/// Settings of the history store.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    /// Events older than this many days are not returned and their space is reclaimed.
    pub retention_days: u32,
    /// Index data events too (AWS event history holds management events only).
    pub include_data_events: bool,
    /// Account of records that name none.
    pub default_account: String,
    /// Flush the memtable at this many events...
    pub memtable_max_events: usize,
    /// ...or this many bytes...
    pub memtable_max_bytes: usize,
    /// ...or this age.
    pub memtable_max_age: Duration,
    /// zstd level of record chunks.
    pub compression_level: i32,
    /// Uncompressed size of a record chunk.
    pub chunk_bytes: usize,
    /// Memory for decompressed chunks.
    pub cache_bytes: usize,
    /// Start a new record file past this size.
    pub record_file_bytes: u64,
    /// Segments at least this large are not merged further (bounds compaction memory).
    pub max_compaction_rows: u64,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            retention_days: 90,
            include_data_events: false,
            default_account: "123456789012".into(),
            memtable_max_events: 200_000,
            memtable_max_bytes: 128 * 1024 * 1024,
            memtable_max_age: Duration::from_secs(300),
            compression_level: 1,
            chunk_bytes: 64 * 1024,
            cache_bytes: 64 * 1024 * 1024,
            record_file_bytes: 512 * 1024 * 1024,
            max_compaction_rows: 4_000_000,
        }
    }
}

/// What opening the store found.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// Segments loaded.
    pub segments: usize,
    /// The journal position to resume from.
    pub resume_lsn: u64,
    /// The store was missing or damaged and starts again from the journal.
    pub rebuilding: Option<String>,
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct HistoryStats {
    /// Events in segments.
    pub segment_events: u64,
    /// Events in memory, not yet flushed.
    pub memtable_events: u64,
    /// Index segments.
    pub segments: u64,
    /// Bytes of segments and record files on disk.
    pub disk_bytes: u64,
    /// Last journal position applied.
    pub applied_lsn: u64,
    /// Last journal position flushed to segments.
    pub flushed_lsn: u64,
}

struct State {
    mem: Memtable,
    frozen: Option<Arc<Memtable>>,
    segments: Vec<Arc<Segment>>,
}

struct Maint {
    manifest: Manifest,
    writer: RecordWriter,
}

/// The event history store.
pub struct History {
    dir: PathBuf,
    config: HistoryConfig,
    state: RwLock<State>,
    maint: Mutex<Maint>,
    records: RecordReader,
    token: TokenKey,
    applied: AtomicU64,
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("segment-{id:012}.hidx"))
}

/// The (time, lsn) just before `k` in newest-first order.
fn pred(k: (i64, u64)) -> (i64, u64) {
    if k.1 > 0 {
        (k.0, k.1 - 1)
    } else {
        (k.0 - 1, u64::MAX)
    }
}

fn lock_err() -> HistoryError {
    HistoryError::corrupt("history", "a thread panicked while holding the store lock")
}

impl History {
    /// Opens the store in `dir`, rebuilding it from scratch (from the journal) when it is
    /// missing or damaged.
    pub fn open(
        dir: impl Into<PathBuf>,
        config: HistoryConfig,
    ) -> Result<(History, OpenReport), HistoryError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| HistoryError::io(&dir, e))?;
        let token = TokenKey::load_or_create(&dir.join("token.key"))?;
        let mut report = OpenReport::default();
        let loaded = Manifest::load(&dir).and_then(|m| match m {
            Some(m) => Self::open_parts(&dir, &config, m).map(Some),
            None => Ok(None),
        });
        let (manifest, segments, writer) = match loaded {
            Ok(Some(parts)) => parts,
            Ok(None) => Self::fresh(&dir, &config)?,
            Err(e) => {
                tracing::warn!(error = %e, "event history store is damaged; rebuilding it from the journal");
                report.rebuilding = Some(e.to_string());
                Self::wipe(&dir)?;
                Self::fresh(&dir, &config)?
            }
        };
        report.segments = segments.len();
        report.resume_lsn = manifest.last_lsn + 1;
        let history = History {
            records: RecordReader::new(dir.clone(), config.cache_bytes),
            state: RwLock::new(State {
                mem: Memtable::new(manifest.last_lsn),
                frozen: None,
                segments,
            }),
            applied: AtomicU64::new(manifest.last_lsn),
            maint: Mutex::new(Maint { manifest, writer }),
            dir,
            config,
            token,
        };
        Ok((history, report))
    }

    fn fresh(
        dir: &Path,
        config: &HistoryConfig,
    ) -> Result<(Manifest, Vec<Arc<Segment>>, RecordWriter), HistoryError> {
        let manifest = Manifest {
            version: 1,
            last_lsn: 0,
            next_segment: 1,
            segments: Vec::new(),
            record_files: vec![RecordFileEntry {
                id: 1,
                len: 0,
                min_time: i64::MAX,
                max_time: i64::MIN,
            }],
        };
        let writer = RecordWriter::open(dir, 1, 0, config.compression_level, config.chunk_bytes)?;
        manifest.store(dir)?;
        Ok((manifest, Vec::new(), writer))
    }

    fn open_parts(
        dir: &Path,
        config: &HistoryConfig,
        manifest: Manifest,
    ) -> Result<(Manifest, Vec<Arc<Segment>>, RecordWriter), HistoryError> {
        let mut segments = Vec::new();
        for s in &manifest.segments {
            let seg = Segment::open(s.id, segment_path(dir, s.id))?;
            if seg.stats != s.stats {
                return Err(HistoryError::corrupt(
                    seg.path(),
                    "segment does not match the manifest",
                ));
            }
            segments.push(Arc::new(seg));
        }
        for f in &manifest.record_files {
            let path = records::record_path(dir, f.id);
            let len = std::fs::metadata(&path)
                .map_err(|e| HistoryError::io(&path, e))?
                .len();
            if len < f.len {
                return Err(HistoryError::corrupt(
                    path,
                    "record file shorter than the manifest says",
                ));
            }
        }
        let current = manifest
            .record_files
            .last()
            .ok_or_else(|| HistoryError::corrupt(dir.join(manifest::FILE), "no record file"))?;
        let writer = RecordWriter::open(
            dir,
            current.id,
            current.len,
            config.compression_level,
            config.chunk_bytes,
        )?;
        // Files a crash left behind: temporary files and segments the manifest never adopted.
        let live: HashSet<PathBuf> = manifest
            .segments
            .iter()
            .map(|s| segment_path(dir, s.id))
            .collect();
        for e in std::fs::read_dir(dir)
            .map_err(|e| HistoryError::io(dir, e))?
            .flatten()
        {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") || (name.starts_with("segment-") && !live.contains(&p)) {
                let _ = std::fs::remove_file(&p);
            }
        }
        Ok((manifest, segments, writer))
    }

    fn wipe(dir: &Path) -> Result<(), HistoryError> {
        for e in std::fs::read_dir(dir)
            .map_err(|e| HistoryError::io(dir, e))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if name != "token.key" {
                std::fs::remove_file(e.path()).map_err(|err| HistoryError::io(e.path(), err))?;
            }
        }
        Ok(())
    }

    /// The store's settings.
    pub fn config(&self) -> &HistoryConfig {
        &self.config
    }

    /// The key that seals NextTokens.
    pub fn token_key(&self) -> &TokenKey {
        &self.token
    }

    /// The next journal position to apply.
    pub fn resume_lsn(&self) -> u64 {
        self.applied.load(Ordering::Acquire) + 1
    }

    /// The last journal position that reached a segment (safe to checkpoint).
    pub fn flushed_lsn(&self) -> u64 {
        self.maint.lock().map(|m| m.manifest.last_lsn).unwrap_or(0)
    }

    /// Indexes journal entries (in LSN order, starting at [`History::resume_lsn`]). They are
    /// visible to lookups when this returns.
    pub fn apply(&self, entries: &[Entry]) -> Result<(), HistoryError> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        // Parsing dominates indexing; it runs on all cores, the inserts after it on one.
        let threads = if entries.len() >= 512 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4)
        } else {
            1
        };
        let parsed = records::parallel_map(entries, threads, |e| {
            extract(
                &e.data,
                &self.config.default_account,
                self.config.include_data_events,
            )
        });
        let mut st = self.state.write().map_err(|_| lock_err())?;
        for (e, x) in entries.iter().zip(parsed) {
            if let Some(x) = x {
                st.mem.insert(e.lsn, &e.data, &x);
            }
        }
        st.mem.last_lsn = last.lsn;
        drop(st);
        self.applied.store(last.lsn, Ordering::Release);
        metrics::gauge!("opentrail_history_applied_lsn").set(last.lsn as f64);
        Ok(())
    }

    /// Skips to just before `lsn` (the journal no longer has what came before).
    pub fn skip_to(&self, lsn: u64) -> Result<(), HistoryError> {
        let mut st = self.state.write().map_err(|_| lock_err())?;
        st.mem.last_lsn = st.mem.last_lsn.max(lsn.saturating_sub(1));
        self.applied.store(st.mem.last_lsn, Ordering::Release);
        Ok(())
    }

    /// Whether the memtable is due for a flush.
    pub fn should_flush(&self) -> bool {
        self.state.read().is_ok_and(|st| {
            let m = &st.mem;
            m.rows.len() >= self.config.memtable_max_events
                || m.bytes >= self.config.memtable_max_bytes
                || (!m.rows.is_empty() && m.created.elapsed() >= self.config.memtable_max_age)
        })
    }

    /// Writes the memtable out as a segment. Returns the number of events flushed.
    pub fn flush(&self) -> Result<usize, HistoryError> {
        let mut maint = self.maint.lock().map_err(|_| lock_err())?;
        let frozen = {
            let mut st = self.state.write().map_err(|_| lock_err())?;
            if st.mem.last_lsn == maint.manifest.last_lsn && st.mem.rows.is_empty() {
                return Ok(0);
            }
            let fresh = Memtable::new(st.mem.last_lsn);
            let old = Arc::new(std::mem::replace(&mut st.mem, fresh));
            st.frozen = Some(old.clone());
            old
        };
        let started = Instant::now();
        let n = frozen.rows.len();
        if n > 0 {
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_unstable_by(|a, b| {
                let (ra, rb) = (&frozen.rows[*a as usize], &frozen.rows[*b as usize]);
                (rb.time_ms, rb.lsn).cmp(&(ra.time_ms, ra.lsn))
            });
            if maint.writer.len >= self.config.record_file_bytes {
                let id = maint.writer.file_id + 1;
                maint.writer = RecordWriter::open(
                    &self.dir,
                    id,
                    0,
                    self.config.compression_level,
                    self.config.chunk_bytes,
                )?;
                maint.manifest.record_files.push(RecordFileEntry {
                    id,
                    len: 0,
                    min_time: i64::MAX,
                    max_time: i64::MIN,
                });
            }
            let locs = maint
                .writer
                .write_all(order.iter().map(|i| frozen.json(&frozen.rows[*i as usize])))?;
            let mut rank = vec![0u32; n];
            let mut rows = Vec::with_capacity(n);
            for (new, (old, loc)) in order.iter().zip(locs).enumerate() {
                rank[*old as usize] = new as u32;
                let r = &frozen.rows[*old as usize];
                rows.push(RowMeta {
                    time_ms: r.time_ms,
                    lsn: r.lsn,
                    loc,
                });
            }
            let mut postings: Vec<(Vec<u8>, Vec<u32>)> = frozen
                .postings
                .iter()
                .map(|(k, list)| {
                    let mut l: Vec<u32> = list.iter().map(|r| rank[*r as usize]).collect();
                    l.sort_unstable();
                    (k.clone(), l)
                })
                .collect();
            postings.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let mut event_ids: Vec<(u64, u32)> = frozen
                .event_ids
                .iter()
                .flat_map(|(h, l)| l.iter().map(|r| (*h, rank[*r as usize])))
                .collect();
            event_ids.sort_unstable();
            let id = maint.manifest.next_segment;
            let stats = write_segment(&segment_path(&self.dir, id), &rows, &postings, &event_ids)?;
            maint.manifest.next_segment += 1;
            maint.manifest.segments.push(SegmentEntry { id, stats });
            let len = maint.writer.len;
            if let Some(f) = maint.manifest.record_files.last_mut() {
                f.len = len;
                f.min_time = f.min_time.min(stats.min_time);
                f.max_time = f.max_time.max(stats.max_time);
            }
            maint.manifest.last_lsn = frozen.last_lsn;
            maint.manifest.store(&self.dir)?;
            let seg = Arc::new(Segment::open(id, segment_path(&self.dir, id))?);
            let mut st = self.state.write().map_err(|_| lock_err())?;
            st.segments.push(seg);
            st.frozen = None;
        } else {
            maint.manifest.last_lsn = frozen.last_lsn;
            maint.manifest.store(&self.dir)?;
            self.state.write().map_err(|_| lock_err())?.frozen = None;
        }
        metrics::histogram!("opentrail_history_flush_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("opentrail_history_events_flushed_total").increment(n as u64);
        tracing::debug!(
            events = n,
            took_ms = started.elapsed().as_millis() as u64,
            "history memtable flushed"
        );
        Ok(n)
    }

    /// Merges segments of similar size (size-tiered: four or more segments within a factor of
    /// four of each other). Returns the number of segments merged away.
    pub fn compact(&self) -> Result<usize, HistoryError> {
        let mut merged = 0;
        loop {
            let pick = {
                let maint = self.maint.lock().map_err(|_| lock_err())?;
                pick_tier(&maint.manifest.segments, self.config.max_compaction_rows)
            };
            let Some(ids) = pick else { return Ok(merged) };
            merged += ids.len() - 1;
            self.merge(&ids, self.cutoff_ms(chrono::Utc::now().timestamp_millis()))?;
        }
    }

    fn cutoff_ms(&self, now_ms: i64) -> i64 {
        now_ms - i64::from(self.config.retention_days) * 86_400_000
    }

    /// Merges the segments `ids` into one, dropping rows older than `cutoff_ms`.
    fn merge(&self, ids: &[u64], cutoff_ms: i64) -> Result<(), HistoryError> {
        let started = Instant::now();
        let inputs: Vec<Arc<Segment>> = {
            let st = self.state.read().map_err(|_| lock_err())?;
            st.segments
                .iter()
                .filter(|s| ids.contains(&s.id))
                .cloned()
                .collect()
        };
        let mut all_rows = Vec::with_capacity(inputs.len());
        for s in &inputs {
            all_rows.push(s.rows(0, s.n as usize)?);
        }
        // K-way merge, newest first; `maps[i][r]` is row r of input i in the output.
        let mut maps: Vec<Vec<u32>> = all_rows.iter().map(|r| vec![u32::MAX; r.len()]).collect();
        let mut heap = BinaryHeap::new();
        for (i, rows) in all_rows.iter().enumerate() {
            if let Some(r) = rows.first() {
                heap.push(((r.time_ms, r.lsn), i, 0usize));
            }
        }
        let mut out = Vec::new();
        while let Some((_, i, j)) = heap.pop() {
            let r = all_rows[i][j];
            if r.time_ms >= cutoff_ms {
                maps[i][j] = out.len() as u32;
                out.push(r);
            }
            if let Some(n) = all_rows[i].get(j + 1) {
                heap.push(((n.time_ms, n.lsn), i, j + 1));
            }
        }
        drop(all_rows);
        let mut postings: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        let mut event_ids = Vec::new();
        for (i, s) in inputs.iter().enumerate() {
            for (k, list) in s.all_postings()? {
                let mapped = list
                    .iter()
                    .map(|r| maps[i][*r as usize])
                    .filter(|r| *r != u32::MAX);
                postings.entry(k).or_default().extend(mapped);
            }
            for (h, r) in s.all_event_ids()? {
                let m = maps[i][r as usize];
                if m != u32::MAX {
                    event_ids.push((h, m));
                }
            }
        }
        let postings: Vec<(Vec<u8>, Vec<u32>)> = postings
            .into_iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(k, mut l)| {
                l.sort_unstable();
                (k, l)
            })
            .collect();
        event_ids.sort_unstable();
        let mut maint = self.maint.lock().map_err(|_| lock_err())?;
        let new_seg = if out.is_empty() {
            None
        } else {
            let id = maint.manifest.next_segment;
            maint.manifest.next_segment += 1;
            let stats = write_segment(&segment_path(&self.dir, id), &out, &postings, &event_ids)?;
            Some((id, stats))
        };
        maint.manifest.segments.retain(|s| !ids.contains(&s.id));
        if let Some((id, stats)) = new_seg {
            maint.manifest.segments.push(SegmentEntry { id, stats });
        }
        maint.manifest.store(&self.dir)?;
        let opened = match new_seg {
            Some((id, _)) => Some(Arc::new(Segment::open(id, segment_path(&self.dir, id))?)),
            None => None,
        };
        {
            let mut st = self.state.write().map_err(|_| lock_err())?;
            st.segments.retain(|s| !ids.contains(&s.id));
            st.segments.extend(opened);
        }
        drop(maint);
        for id in ids {
            let _ = std::fs::remove_file(segment_path(&self.dir, *id));
        }
        metrics::histogram!("opentrail_history_compaction_seconds")
            .record(started.elapsed().as_secs_f64());
        tracing::debug!(
            inputs = ids.len(),
            rows = out.len(),
            took_ms = started.elapsed().as_millis() as u64,
            "history segments merged"
        );
        Ok(())
    }

    /// Reclaims the space of events past the retention window: whole segments and record
    /// files whose newest event expired are deleted; segments where over 30% of rows expired
    /// are rewritten without them. Returns the number of segments removed or rewritten.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize, HistoryError> {
        let cutoff = self.cutoff_ms(now_ms);
        let (expired, rewrite, dead_files) = {
            let maint = self.maint.lock().map_err(|_| lock_err())?;
            let st = self.state.read().map_err(|_| lock_err())?;
            let expired: Vec<u64> = maint
                .manifest
                .segments
                .iter()
                .filter(|s| s.stats.max_time < cutoff)
                .map(|s| s.id)
                .collect();
            let mut rewrite = Vec::new();
            for s in st
                .segments
                .iter()
                .filter(|s| s.stats.min_time < cutoff && s.stats.max_time >= cutoff)
            {
                let kept = s.first_at_or_after(cutoff - 1, u64::MAX)?;
                if (s.n - kept) * 10 > s.n * 3 {
                    rewrite.push(s.id);
                }
            }
            let current = maint.writer.file_id;
            let dead: Vec<u32> = maint
                .manifest
                .record_files
                .iter()
                .filter(|f| f.id != current && f.max_time < cutoff)
                .map(|f| f.id)
                .collect();
            (expired, rewrite, dead)
        };
        if !expired.is_empty() {
            self.merge(&expired, i64::MAX)?;
        }
        for id in &rewrite {
            self.merge(&[*id], cutoff)?;
        }
        if !dead_files.is_empty() {
            let mut maint = self.maint.lock().map_err(|_| lock_err())?;
            maint
                .manifest
                .record_files
                .retain(|f| !dead_files.contains(&f.id));
            maint.manifest.store(&self.dir)?;
            for id in &dead_files {
                self.records.forget(*id);
                let _ = std::fs::remove_file(records::record_path(&self.dir, *id));
            }
        }
        let n = expired.len() + rewrite.len();
        if n > 0 || !dead_files.is_empty() {
            tracing::info!(
                segments = n,
                record_files = dead_files.len(),
                "event history retention reclaimed expired events"
            );
        }
        Ok(n)
    }

    /// Looks events up, newest first.
    pub fn lookup(&self, q: &Query, now_ms: i64) -> Result<Page, HistoryError> {
        let start = q.start_ms.max(self.cutoff_ms(now_ms));
        if start > q.end_ms || q.limit == 0 {
            return Ok(Page::default());
        }
        let mut upper = (q.end_ms, u64::MAX);
        if let Some(c) = q.after {
            upper = upper.min(pred((c.time_ms, c.lsn)));
        }
        let lower = (start, 0u64);
        let want = q.limit + 1;
        let (key, ev_hash) = match &q.filter {
            Some((Attr::EventId, id)) => (
                Vec::new(),
                Some(event_id_hash(&q.account, &q.region, q.category, id)),
            ),
            Some((a, v)) => (posting_key(&q.account, &q.region, q.category, *a, v), None),
            None => (
                posting_key(&q.account, &q.region, q.category, Attr::All, ""),
                None,
            ),
        };
        enum Src {
            Mem(Vec<u8>),
            Seg(RowMeta),
        }
        let mut cands: Vec<((i64, u64), Src)> = Vec::new();
        let mut segments = {
            let st = self.state.read().map_err(|_| lock_err())?;
            for m in std::iter::once(&st.mem).chain(st.frozen.as_deref()) {
                for r in m.select(&key, ev_hash, lower, upper, want) {
                    let row = &m.rows[r as usize];
                    cands.push(((row.time_ms, row.lsn), Src::Mem(m.json(row).to_vec())));
                }
            }
            st.segments.clone()
        };
        segments.sort_by_key(|s| std::cmp::Reverse(s.stats.max_time));
        let settle = |c: &mut Vec<((i64, u64), Src)>| {
            c.sort_by_key(|x| std::cmp::Reverse(x.0));
            c.truncate(want);
        };
        settle(&mut cands);
        for seg in segments {
            if seg.stats.max_time < lower.0 || seg.stats.min_time > upper.0 {
                continue;
            }
            if cands.len() >= want && cands.last().is_some_and(|w| w.0.0 > seg.stats.max_time) {
                break;
            }
            for r in select_segment(&seg, &key, ev_hash, lower, upper, want)? {
                cands.push(((r.time_ms, r.lsn), Src::Seg(r)));
            }
            settle(&mut cands);
        }
        let mut events = Vec::with_capacity(cands.len().min(q.limit));
        let mut more = false;
        for (k, src) in cands {
            let json = match src {
                Src::Mem(j) => j,
                Src::Seg(r) => self.records.read(&r.loc)?,
            };
            if let (Some(h), Some((_, id))) = (ev_hash, &q.filter)
                && !same_event(
                    &json,
                    &q.account,
                    &q.region,
                    q.category,
                    id,
                    h,
                    &self.config,
                )
            {
                continue;
            }
            if events.len() == q.limit {
                more = true;
                break;
            }
            events.push(Found {
                cursor: Cursor {
                    time_ms: k.0,
                    lsn: k.1,
                },
                json,
            });
        }
        let next = if more {
            events.last().map(|e| e.cursor)
        } else {
            None
        };
        Ok(Page { events, next })
    }

    /// Counters for metrics.
    pub fn stats(&self) -> HistoryStats {
        let mut s = HistoryStats {
            applied_lsn: self.applied.load(Ordering::Acquire),
            ..HistoryStats::default()
        };
        if let Ok(st) = self.state.read() {
            s.memtable_events =
                (st.mem.rows.len() + st.frozen.as_ref().map(|f| f.rows.len()).unwrap_or(0)) as u64;
            s.segments = st.segments.len() as u64;
            s.segment_events = st.segments.iter().map(|x| x.n).sum();
        }
        if let Ok(m) = self.maint.lock() {
            s.flushed_lsn = m.manifest.last_lsn;
        }
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            s.disk_bytes = rd
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum();
        }
        s
    }
}

/// Confirms an event-id match (hashes can collide).
fn same_event(
    json: &[u8],
    account: &str,
    region: &str,
    category: Category,
    id: &str,
    hash: u64,
    config: &HistoryConfig,
) -> bool {
    extract(json, &config.default_account, config.include_data_events).is_some_and(|x| {
        x.account == account
            && x.region == region
            && x.category == category
            && x.event_id.as_deref() == Some(id)
            && event_id_hash(account, region, category, id) == hash
    })
}

/// Up to `limit` rows of `seg` for the key (or event-id hash), with (time, lsn) in
/// [lower, upper], newest first.
fn select_segment(
    seg: &Segment,
    key: &[u8],
    ev_hash: Option<u64>,
    lower: (i64, u64),
    upper: (i64, u64),
    limit: usize,
) -> Result<Vec<RowMeta>, HistoryError> {
    let lo = seg.first_at_or_after(upper.0, upper.1)?;
    let hi = seg.first_at_or_after(pred(lower).0, pred(lower).1)?;
    if lo >= hi {
        return Ok(Vec::new());
    }
    if let Some(h) = ev_hash {
        let mut rows: Vec<u64> = seg
            .event_id_rows(h)?
            .into_iter()
            .filter(|r| (lo..hi).contains(r))
            .collect();
        rows.sort_unstable();
        rows.truncate(limit);
        return rows.into_iter().map(|r| seg.row(r)).collect();
    }
    let Some((start, count)) = seg.posting(key) else {
        return Ok(Vec::new());
    };
    let i = seg.posting_lower_bound(start, count, lo)?;
    let n = ((u64::from(count) - i) as usize).min(limit);
    let mut out = Vec::with_capacity(n);
    for r in seg.posting_entries(start, i, n)? {
        if u64::from(r) >= hi {
            break;
        }
        out.push(seg.row(u64::from(r))?);
    }
    Ok(out)
}

/// Picks segments to merge: the smallest size tier holding four or more segments.
fn pick_tier(segments: &[SegmentEntry], max_rows: u64) -> Option<Vec<u64>> {
    let mut tiers: BTreeMap<u32, Vec<&SegmentEntry>> = BTreeMap::new();
    for s in segments.iter().filter(|s| s.stats.rows < max_rows) {
        let tier = (s.stats.rows.max(1) as f64).log(4.0).floor() as u32;
        tiers.entry(tier).or_default().push(s);
    }
    tiers.into_values().find(|t| t.len() >= 4).map(|mut t| {
        t.sort_by_key(|s| s.stats.min_lsn);
        t.into_iter().take(8).map(|s| s.id).collect()
    })
}
