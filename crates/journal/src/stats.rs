//! Counters the journal keeps about itself; also reported through the `metrics` facade, which
//! the server exports on `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (microseconds) of the fsync latency histogram buckets; the last is +Inf.
pub const FSYNC_BUCKETS_MICROS: [u64; 12] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];

#[derive(Default)]
pub(crate) struct Stats {
    pub entries: AtomicU64,
    pub bytes: AtomicU64,
    pub appends: AtomicU64,
    pub commits: AtomicU64,
    pub fsyncs: AtomicU64,
    pub fsync_micros_total: AtomicU64,
    /// One count per bucket of [`FSYNC_BUCKETS_MICROS`] plus the overflow bucket.
    pub fsync_buckets: [AtomicU64; FSYNC_BUCKETS_MICROS.len() + 1],
}

impl Stats {
    pub(crate) fn record_fsync(&self, took: Duration) {
        let micros = took.as_micros().min(u128::from(u64::MAX)) as u64;
        self.fsyncs.fetch_add(1, Relaxed);
        self.fsync_micros_total.fetch_add(micros, Relaxed);
        let i = FSYNC_BUCKETS_MICROS
            .iter()
            .position(|b| micros <= *b)
            .unwrap_or(FSYNC_BUCKETS_MICROS.len());
        self.fsync_buckets[i].fetch_add(1, Relaxed);
        metrics::histogram!("opentrail_journal_fsync_seconds").record(took.as_secs_f64());
    }

    pub(crate) fn record_commit(&self, appends: u64, entries: u64, bytes: u64) {
        self.commits.fetch_add(1, Relaxed);
        self.appends.fetch_add(appends, Relaxed);
        self.entries.fetch_add(entries, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
        metrics::counter!("opentrail_journal_commits_total").increment(1);
        metrics::counter!("opentrail_journal_entries_total").increment(entries);
        metrics::counter!("opentrail_journal_bytes_total").increment(bytes);
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            entries: self.entries.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            appends: self.appends.load(Relaxed),
            commits: self.commits.load(Relaxed),
            fsyncs: self.fsyncs.load(Relaxed),
            fsync_seconds_total: self.fsync_micros_total.load(Relaxed) as f64 / 1e6,
            fsync_buckets: self.fsync_buckets.iter().map(|b| b.load(Relaxed)).collect(),
        }
    }
}

/// A point-in-time copy of the journal's counters.
#[derive(Debug, Clone, Default)]
pub struct StatsSnapshot {
    /// Entries appended since open.
    pub entries: u64,
    /// Bytes written to segments since open (framing included).
    pub bytes: u64,
    /// Append calls since open.
    pub appends: u64,
    /// Group commits (one write each) since open.
    pub commits: u64,
    /// fsync calls since open.
    pub fsyncs: u64,
    /// Time spent in fsync.
    pub fsync_seconds_total: f64,
    /// Non-cumulative counts per bucket of [`FSYNC_BUCKETS_MICROS`], then the overflow bucket.
    pub fsync_buckets: Vec<u64>,
}
