//! Index segments: immutable files of rows sorted newest first, posting lists per lookup key,
//! and an event-id table.
//!
//! ```text
//! "OTHI" | version u32
//! rows      n × (time_ms i64, lsn u64, file u32, chunk u64, offset u32, len u32)   36 bytes
//! postings  u32 row numbers, one ascending list per key (ascending row = older)
//! keys      (len u16, key bytes, first posting u64, count u32) sorted by key
//! event ids (hash u64, row u32) sorted
//! footer    12 × u64 | crc32c u32 | "OTHF"
//! ```
//! Rows are ordered by (time desc, lsn desc), the order LookupEvents returns, so a time range
//! is a contiguous run of rows and a key's matches in that range are a contiguous run of its
//! posting list: both are found by binary search, and a page costs O(log n + page size).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::records::Locator;
use crate::HistoryError;

const MAGIC: &[u8; 4] = b"OTHI";
const FOOTER_MAGIC: &[u8; 4] = b"OTHF";
const VERSION: u32 = 1;
const ROW: u64 = 36;
const FOOTER: u64 = 12 * 8 + 8;

/// One indexed event: when, which journal entry, and where its record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowMeta {
    /// `eventTime` in ms.
    pub time_ms: i64,
    /// Journal position.
    pub lsn: u64,
    /// Where the record is stored.
    pub loc: Locator,
}

/// One posting list: a key and its ascending row numbers.
pub type Posting = (Vec<u8>, Vec<u32>);

/// A segment's summary, kept in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SegmentStats {
    /// Rows.
    pub rows: u64,
    /// Oldest event time.
    pub min_time: i64,
    /// Newest event time.
    pub max_time: i64,
    /// Lowest LSN.
    pub min_lsn: u64,
    /// Highest LSN.
    pub max_lsn: u64,
}

/// Writes a segment: `rows` in order, `postings` as (key, ascending row numbers) sorted by
/// key, `event_ids` as (hash, row) sorted. Written to a temporary name, synced, renamed.
pub(crate) fn write_segment(
    path: &Path,
    rows: &[RowMeta],
    postings: &[(Vec<u8>, Vec<u32>)],
    event_ids: &[(u64, u32)],
) -> Result<SegmentStats, HistoryError> {
    let tmp = path.with_extension("tmp");
    let io = |e| HistoryError::io(&tmp, e);
    let file = File::create(&tmp).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let put = |w: &mut BufWriter<File>, b: &[u8]| -> Result<(), HistoryError> {
        w.write_all(b).map_err(|e| HistoryError::io(&tmp, e))
    };
    put(&mut w, MAGIC)?;
    put(&mut w, &VERSION.to_le_bytes())?;
    let rows_off = 8u64;
    let mut stats = SegmentStats {
        rows: rows.len() as u64,
        min_time: i64::MAX,
        max_time: i64::MIN,
        min_lsn: u64::MAX,
        max_lsn: 0,
    };
    for r in rows {
        let mut b = [0u8; ROW as usize];
        b[0..8].copy_from_slice(&r.time_ms.to_le_bytes());
        b[8..16].copy_from_slice(&r.lsn.to_le_bytes());
        b[16..20].copy_from_slice(&r.loc.file.to_le_bytes());
        b[20..28].copy_from_slice(&r.loc.chunk.to_le_bytes());
        b[28..32].copy_from_slice(&r.loc.offset.to_le_bytes());
        b[32..36].copy_from_slice(&r.loc.len.to_le_bytes());
        put(&mut w, &b)?;
        stats.min_time = stats.min_time.min(r.time_ms);
        stats.max_time = stats.max_time.max(r.time_ms);
        stats.min_lsn = stats.min_lsn.min(r.lsn);
        stats.max_lsn = stats.max_lsn.max(r.lsn);
    }
    let post_off = rows_off + rows.len() as u64 * ROW;
    let mut total = 0u64;
    for (_, list) in postings {
        for r in list {
            put(&mut w, &r.to_le_bytes())?;
        }
    }
    let keys_off = post_off + 4 * postings.iter().map(|(_, l)| l.len() as u64).sum::<u64>();
    for (key, list) in postings {
        put(&mut w, &(key.len() as u16).to_le_bytes())?;
        put(&mut w, key)?;
        put(&mut w, &total.to_le_bytes())?;
        put(&mut w, &(list.len() as u32).to_le_bytes())?;
        total += list.len() as u64;
    }
    let keys_len: u64 = postings.iter().map(|(k, _)| 2 + k.len() as u64 + 12).sum();
    let ev_off = keys_off + keys_len;
    for (h, r) in event_ids {
        put(&mut w, &h.to_le_bytes())?;
        put(&mut w, &r.to_le_bytes())?;
    }
    let fields = [
        rows_off,
        rows.len() as u64,
        post_off,
        total,
        keys_off,
        keys_len,
        ev_off,
        event_ids.len() as u64,
        stats.min_time as u64,
        stats.max_time as u64,
        stats.min_lsn,
        stats.max_lsn,
    ];
    let mut footer = Vec::with_capacity(FOOTER as usize);
    for f in fields {
        footer.extend_from_slice(&f.to_le_bytes());
    }
    let crc = crc32(&footer);
    footer.extend_from_slice(&crc.to_le_bytes());
    footer.extend_from_slice(FOOTER_MAGIC);
    put(&mut w, &footer)?;
    let file = w
        .into_inner()
        .map_err(|e| HistoryError::io(&tmp, e.into_error()))?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|e| HistoryError::io(path, e))?;
    Ok(stats)
}

fn crc32(b: &[u8]) -> u32 {
    // A cheap check that the footer is not torn; data integrity comes from fsync + rename.
    b.iter().fold(0x811c_9dc5u32, |h, x| {
        (h ^ u32::from(*x)).wrapping_mul(0x0100_0193)
    })
}

/// An open segment. Keys and counts are in memory; rows, postings and event ids are read on
/// demand with positional reads (the page cache keeps hot parts).
pub struct Segment {
    /// Manifest id.
    pub id: u64,
    path: PathBuf,
    file: File,
    rows_off: u64,
    /// Row count.
    pub n: u64,
    post_off: u64,
    keys: Vec<(Vec<u8>, u64, u32)>,
    ev_off: u64,
    ev_count: u64,
    /// Summary.
    pub stats: SegmentStats,
}

impl Segment {
    /// Opens and checks a segment file.
    pub fn open(id: u64, path: PathBuf) -> Result<Segment, HistoryError> {
        let file = File::open(&path).map_err(|e| HistoryError::io(&path, e))?;
        let len = file
            .metadata()
            .map_err(|e| HistoryError::io(&path, e))?
            .len();
        if len < 8 + FOOTER {
            return Err(HistoryError::corrupt(&path, "segment too short"));
        }
        let mut footer = vec![0u8; FOOTER as usize];
        file.read_exact_at(&mut footer, len - FOOTER)
            .map_err(|e| HistoryError::io(&path, e))?;
        if &footer[100..104] != FOOTER_MAGIC
            || crc32(&footer[..96]).to_le_bytes() != footer[96..100]
        {
            return Err(HistoryError::corrupt(&path, "segment footer damaged"));
        }
        let f =
            |i: usize| u64::from_le_bytes(footer[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        let (rows_off, n, post_off, _total, keys_off, keys_len, ev_off, ev_count) =
            (f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7));
        let stats = SegmentStats {
            rows: n,
            min_time: f(8) as i64,
            max_time: f(9) as i64,
            min_lsn: f(10),
            max_lsn: f(11),
        };
        let mut kb = vec![0u8; keys_len as usize];
        file.read_exact_at(&mut kb, keys_off)
            .map_err(|e| HistoryError::io(&path, e))?;
        let mut keys = Vec::new();
        let mut p = 0usize;
        while p < kb.len() {
            let bad = || HistoryError::corrupt(&path, "key table damaged");
            let kl = u16::from_le_bytes(
                kb.get(p..p + 2)
                    .ok_or_else(bad)?
                    .try_into()
                    .map_err(|_| bad())?,
            ) as usize;
            p += 2;
            let key = kb.get(p..p + kl).ok_or_else(bad)?.to_vec();
            p += kl;
            let start = u64::from_le_bytes(
                kb.get(p..p + 8)
                    .ok_or_else(bad)?
                    .try_into()
                    .map_err(|_| bad())?,
            );
            let count = u32::from_le_bytes(
                kb.get(p + 8..p + 12)
                    .ok_or_else(bad)?
                    .try_into()
                    .map_err(|_| bad())?,
            );
            p += 12;
            keys.push((key, start, count));
        }
        Ok(Segment {
            id,
            path,
            file,
            rows_off,
            n,
            post_off,
            keys,
            ev_off,
            ev_count,
            stats,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, e: std::io::Error) -> HistoryError {
        HistoryError::io(&self.path, e)
    }

    /// Reads rows `from..from + count`.
    pub fn rows(&self, from: u64, count: usize) -> Result<Vec<RowMeta>, HistoryError> {
        let count = count.min(self.n.saturating_sub(from) as usize);
        let mut b = vec![0u8; count * ROW as usize];
        self.file
            .read_exact_at(&mut b, self.rows_off + from * ROW)
            .map_err(|e| self.io(e))?;
        Ok(b.chunks_exact(ROW as usize).map(decode_row).collect())
    }

    /// Row `i`.
    pub fn row(&self, i: u64) -> Result<RowMeta, HistoryError> {
        let mut b = [0u8; ROW as usize];
        self.file
            .read_exact_at(&mut b, self.rows_off + i * ROW)
            .map_err(|e| self.io(e))?;
        Ok(decode_row(&b))
    }

    /// The first row that does not come before `(time_ms, lsn)` in newest-first order, i.e.
    /// the first with `(time, lsn) <= (time_ms, lsn)`.
    pub fn first_at_or_after(&self, time_ms: i64, lsn: u64) -> Result<u64, HistoryError> {
        let (mut lo, mut hi) = (0u64, self.n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let r = self.row(mid)?;
            if (r.time_ms, r.lsn) > (time_ms, lsn) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The posting list of `key` as (first entry index, count), if the key occurs.
    pub fn posting(&self, key: &[u8]) -> Option<(u64, u32)> {
        self.keys
            .binary_search_by(|(k, _, _)| k.as_slice().cmp(key))
            .ok()
            .map(|i| (self.keys[i].1, self.keys[i].2))
    }

    /// Posting entries `from..from + count` of the list starting at `start`.
    pub fn posting_entries(
        &self,
        start: u64,
        from: u64,
        count: usize,
    ) -> Result<Vec<u32>, HistoryError> {
        let mut b = vec![0u8; count * 4];
        self.file
            .read_exact_at(&mut b, self.post_off + (start + from) * 4)
            .map_err(|e| self.io(e))?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Index in the posting list (`start`, `count`) of the first entry `>= row`.
    pub fn posting_lower_bound(
        &self,
        start: u64,
        count: u32,
        row: u64,
    ) -> Result<u64, HistoryError> {
        let (mut lo, mut hi) = (0u64, u64::from(count));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let v = self.posting_entries(start, mid, 1)?[0];
            if u64::from(v) < row {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Rows whose event-id hash is `hash`.
    pub fn event_id_rows(&self, hash: u64) -> Result<Vec<u64>, HistoryError> {
        let read = |i: u64| -> Result<(u64, u32), HistoryError> {
            let mut b = [0u8; 12];
            self.file
                .read_exact_at(&mut b, self.ev_off + i * 12)
                .map_err(|e| self.io(e))?;
            Ok((
                u64::from_le_bytes(b[0..8].try_into().unwrap_or_default()),
                u32::from_le_bytes(b[8..12].try_into().unwrap_or_default()),
            ))
        };
        let (mut lo, mut hi) = (0u64, self.ev_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if read(mid)?.0 < hash {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut out = Vec::new();
        while lo < self.ev_count {
            let (h, r) = read(lo)?;
            if h != hash {
                break;
            }
            out.push(u64::from(r));
            lo += 1;
        }
        Ok(out)
    }

    /// Every (key, posting list) of the segment, for compaction.
    pub fn all_postings(&self) -> Result<Vec<Posting>, HistoryError> {
        let mut out = Vec::with_capacity(self.keys.len());
        for (k, start, count) in &self.keys {
            out.push((k.clone(), self.posting_entries(*start, 0, *count as usize)?));
        }
        Ok(out)
    }

    /// Every (hash, row) of the event-id table, for compaction.
    pub fn all_event_ids(&self) -> Result<Vec<(u64, u32)>, HistoryError> {
        let mut b = vec![0u8; self.ev_count as usize * 12];
        self.file
            .read_exact_at(&mut b, self.ev_off)
            .map_err(|e| self.io(e))?;
        Ok(b.chunks_exact(12)
            .map(|c| {
                (
                    u64::from_le_bytes(c[0..8].try_into().unwrap_or_default()),
                    u32::from_le_bytes(c[8..12].try_into().unwrap_or_default()),
                )
            })
            .collect())
    }
}

fn decode_row(b: &[u8]) -> RowMeta {
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default());
    RowMeta {
        time_ms: u64_at(0) as i64,
        lsn: u64_at(8),
        loc: Locator {
            file: u32_at(16),
            chunk: u64_at(20),
            offset: u32_at(28),
            len: u32_at(32),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: i64, lsn: u64) -> RowMeta {
        RowMeta {
            time_ms: t,
            lsn,
            loc: Locator {
                file: 1,
                chunk: lsn * 10,
                offset: 3,
                len: 4,
            },
        }
    }

    #[test]
    fn segments_round_trip_and_search() {
        let tmp = tempfile::tempdir().expect("tmp");
        let rows = vec![
            row(500, 9),
            row(500, 7),
            row(400, 8),
            row(300, 2),
            row(100, 1),
        ];
        let postings = vec![(b"a".to_vec(), vec![0, 2, 4]), (b"b".to_vec(), vec![1, 3])];
        let evs = vec![(5u64, 3u32), (9, 0), (9, 4)];
        let path = tmp.path().join("s.hidx");
        let stats = write_segment(&path, &rows, &postings, &evs).expect("write");
        assert_eq!(
            (
                stats.rows,
                stats.min_time,
                stats.max_time,
                stats.min_lsn,
                stats.max_lsn
            ),
            (5, 100, 500, 1, 9)
        );
        let s = Segment::open(1, path).expect("open");
        assert_eq!(s.rows(0, 10).expect("rows"), rows);
        assert_eq!(s.first_at_or_after(500, 8).expect("search"), 1);
        assert_eq!(s.first_at_or_after(450, u64::MAX).expect("search"), 2);
        assert_eq!(s.first_at_or_after(0, 0).expect("search"), 5);
        let (start, count) = s.posting(b"a").expect("key");
        assert_eq!(
            s.posting_entries(start, 0, count as usize)
                .expect("entries"),
            vec![0, 2, 4]
        );
        assert_eq!(s.posting_lower_bound(start, count, 1).expect("lb"), 1);
        assert!(s.posting(b"c").is_none());
        assert_eq!(s.event_id_rows(9).expect("ev"), vec![0, 4]);
        assert!(s.event_id_rows(6).expect("ev").is_empty());
        assert_eq!(s.all_postings().expect("all"), postings);
        assert_eq!(s.all_event_ids().expect("all"), evs);
    }

    #[test]
    fn a_damaged_footer_is_detected() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("s.hidx");
        write_segment(&path, &[row(1, 1)], &[], &[]).expect("write");
        let mut b = std::fs::read(&path).expect("read");
        let n = b.len();
        b[n - 20] ^= 1;
        std::fs::write(&path, b).expect("write");
        assert!(matches!(
            Segment::open(1, path),
            Err(HistoryError::Corrupt { .. })
        ));
    }
}
