//! The memtable: events indexed since the last flush, in memory and queryable at once.
//!
//! It is rebuilt from the journal after a restart (the manifest records the last LSN that
//! reached a segment), so it needs no log of its own.

use rustc_hash::FxHashMap;
use std::time::Instant;

use super::keys::{event_id_hash, write_posting_key};
use crate::extract::Extracted;

/// One event in the memtable; its record is a slice of the arena.
pub(crate) struct MemRow {
    pub time_ms: i64,
    pub lsn: u64,
    block: u32,
    offset: u32,
    len: u32,
}

/// Records live in a few large blocks rather than one allocation each: a memtable holds up
/// to hundreds of thousands of records, and allocating and freeing each one separately cost
/// more than parsing them.
const BLOCK: usize = 4 * 1024 * 1024;

pub(crate) struct Memtable {
    pub rows: Vec<MemRow>,
    pub postings: FxHashMap<Vec<u8>, Vec<u32>>,
    pub event_ids: FxHashMap<u64, Vec<u32>>,
    key_buf: Vec<u8>,
    pub bytes: usize,
    pub created: Instant,
    arena: Vec<Vec<u8>>,
    /// Highest LSN processed into this memtable (kept even for events history skips).
    pub last_lsn: u64,
}

impl Memtable {
    pub(crate) fn new(last_lsn: u64) -> Self {
        Memtable {
            rows: Vec::new(),
            postings: FxHashMap::default(),
            event_ids: FxHashMap::default(),
            key_buf: Vec::with_capacity(256),
            bytes: 0,
            created: Instant::now(),
            arena: Vec::new(),
            last_lsn,
        }
    }

    /// The record of row `r`.
    pub(crate) fn json(&self, r: &MemRow) -> &[u8] {
        &self.arena[r.block as usize][r.offset as usize..(r.offset + r.len) as usize]
    }

    pub(crate) fn insert(&mut self, lsn: u64, json: &[u8], x: &Extracted<'_>) {
        let row = self.rows.len() as u32;
        for (attr, value) in &x.values {
            write_posting_key(
                &mut self.key_buf,
                &x.account,
                &x.region,
                x.category,
                *attr,
                value,
            );
            // Look up by the borrowed key first: most keys repeat, so most inserts allocate nothing.
            match self.postings.get_mut(self.key_buf.as_slice()) {
                Some(list) => list.push(row),
                None => {
                    self.postings.insert(self.key_buf.clone(), vec![row]);
                }
            }
        }
        if let Some(id) = &x.event_id {
            self.event_ids
                .entry(event_id_hash(&x.account, &x.region, x.category, id))
                .or_default()
                .push(row);
        }
        self.bytes += json.len() + 64 * x.values.len();
        let fits = self
            .arena
            .last()
            .is_some_and(|b| b.len() + json.len() <= b.capacity());
        if !fits {
            self.arena.push(Vec::with_capacity(BLOCK.max(json.len())));
        }
        let block = self.arena.len() - 1;
        let buf = &mut self.arena[block];
        let offset = buf.len();
        buf.extend_from_slice(json);
        self.rows.push(MemRow {
            time_ms: x.time_ms,
            lsn,
            block: block as u32,
            offset: offset as u32,
            len: json.len() as u32,
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
