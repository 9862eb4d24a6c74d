//! The memtable: events indexed since the last flush, in memory and queryable at once.
//!
//! It is rebuilt from the journal after a restart (the manifest records the last LSN that
//! reached a segment), so it needs no log of its own.

use std::collections::HashMap;
use std::time::Instant;

use super::keys::{event_id_hash, posting_key};
use crate::extract::Extracted;

/// One event in the memtable.
pub(crate) struct MemRow {
    pub time_ms: i64,
    pub lsn: u64,
    pub json: Vec<u8>,
}

pub(crate) struct Memtable {
    pub rows: Vec<MemRow>,
    pub postings: HashMap<Vec<u8>, Vec<u32>>,
    pub event_ids: HashMap<u64, Vec<u32>>,
    pub bytes: usize,
    pub created: Instant,
    /// Highest LSN processed into this memtable (kept even for events history skips).
    pub last_lsn: u64,
}

impl Memtable {
    pub(crate) fn new(last_lsn: u64) -> Self {
        Memtable {
            rows: Vec::new(),
            postings: HashMap::new(),
            event_ids: HashMap::new(),
            bytes: 0,
            created: Instant::now(),
            last_lsn,
        }
    }

    pub(crate) fn insert(&mut self, lsn: u64, json: Vec<u8>, x: &Extracted) {
        let row = self.rows.len() as u32;
        for (attr, value) in &x.values {
            let key = posting_key(&x.account, &x.region, x.category, *attr, value);
            self.postings.entry(key).or_default().push(row);
        }
        if let Some(id) = &x.event_id {
            self.event_ids
                .entry(event_id_hash(&x.account, &x.region, x.category, id))
                .or_default()
                .push(row);
        }
        self.bytes += json.len() + 64 * x.values.len();
        self.rows.push(MemRow {
            time_ms: x.time_ms,
            lsn,
            json,
        });
        self.last_lsn = lsn;
    }

    /// Rows of `key` (or of an event-id hash) in (time, lsn) ∈ [lower, upper], newest first,
    /// at most `limit`.
    pub(crate) fn select(
        &self,
        key: &[u8],
        event_id: Option<u64>,
        lower: (i64, u64),
        upper: (i64, u64),
        limit: usize,
    ) -> Vec<u32> {
        let list = match event_id {
            Some(h) => self.event_ids.get(&h),
            None => self.postings.get(key),
        };
        let Some(list) = list else { return Vec::new() };
        let mut hits: Vec<u32> = list
            .iter()
            .copied()
            .filter(|r| {
                let row = &self.rows[*r as usize];
                let k = (row.time_ms, row.lsn);
                k >= lower && k <= upper
            })
            .collect();
        let order = |a: &u32, b: &u32| {
            let (ra, rb) = (&self.rows[*a as usize], &self.rows[*b as usize]);
            (rb.time_ms, rb.lsn).cmp(&(ra.time_ms, ra.lsn))
        };
        if hits.len() > limit {
            hits.select_nth_unstable_by(limit, order);
            hits.truncate(limit);
        }
        hits.sort_unstable_by(order);
        hits
    }
}
