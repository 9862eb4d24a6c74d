//! Reading the journal in LSN order, up to what is durable, across segment files.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::PathBuf;

use tokio::sync::watch;

use crate::format::{
    BLOCK_HEADER_LEN, SEGMENT_HEADER_LEN, decode_entries, parse_block_header, parse_segment_header,
};
use crate::segment::{SegmentInfo, list_segments, read_full};
use crate::{JournalError, Lsn};

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its position.
    pub lsn: Lsn,
    /// When its block was appended (microseconds since the Unix epoch).
    pub timestamp_us: u64,
    /// The bytes appended.
    pub data: Vec<u8>,
}

struct Cursor {
    seg: SegmentInfo,
    file: BufReader<File>,
    offset: u64,
    /// LSN of the block that starts at `offset`.
    block_lsn: Lsn,
}

/// Reads entries in order from a position. Only durable entries are ever returned, so a
/// consumer never acts on an entry that a crash could still take back.
pub struct Reader {
    dir: PathBuf,
    next: Lsn,
    durable: watch::Receiver<Lsn>,
    cursor: Option<Cursor>,
    pending: VecDeque<Entry>,
}

impl Reader {
    pub(crate) fn new(dir: PathBuf, from: Lsn, durable: watch::Receiver<Lsn>) -> Self {
        Reader {
            dir,
            next: from,
            durable,
            cursor: None,
            pending: VecDeque::new(),
        }
    }

    /// The LSN the next returned entry will have.
    pub fn position(&self) -> Lsn {
        self.next
    }

    /// The highest durable LSN as of now.
    pub fn durable_lsn(&self) -> Lsn {
        *self.durable.borrow()
    }

    /// Up to `max` durable entries from the current position; empty when caught up.
    pub fn read_batch(&mut self, max: usize) -> Result<Vec<Entry>, JournalError> {
        let durable = self.durable_lsn();
        let mut out = Vec::new();
        while out.len() < max {
            if let Some(e) = self.pending.pop_front() {
                self.next = e.lsn + 1;
                out.push(e);
                continue;
            }
            if self.next > durable {
                break;
            }
            self.read_block()?;
        }
        Ok(out)
    }

    /// Waits until an entry at the current position is durable. Returns an error only when
    /// the journal has shut down.
    pub async fn wait(&mut self) -> Result<(), JournalError> {
        let next = self.next;
        self.durable
            .wait_for(|d| *d >= next)
            .await
            .map(|_| ())
            .map_err(|_| JournalError::Closed)
    }

    /// Reads the block at the cursor into `pending` (skipping entries before `next`).
    fn read_block(&mut self) -> Result<(), JournalError> {
        if self.cursor.as_ref().is_none_or(|c| c.block_lsn > self.next) {
            self.cursor = Some(self.open_at(self.next)?);
        }
        let Some(c) = self.cursor.as_mut() else {
            return Ok(());
        };
        let mut h = [0u8; BLOCK_HEADER_LEN];
        let io = |e| JournalError::io(&c.seg.path, e);
        if !read_full(&mut c.file, &mut h).map_err(io)? {
            // End of this segment: the next one starts where this one ended.
            let base = c.block_lsn;
            let seg = list_segments(&self.dir)?
                .into_iter()
                .find(|s| s.base == base)
                .ok_or_else(|| JournalError::Corrupt {
                    path: self.dir.join(format!("{base:020}.seg")),
                    offset: 0,
                    reason: format!("segment starting at LSN {base} is missing"),
                })?;
            self.cursor = Some(open_segment(seg)?);
            return Ok(());
        }
        let corrupt = |c: &Cursor, reason: &str| JournalError::Corrupt {
            path: c.seg.path.clone(),
            offset: c.offset,
            reason: reason.to_owned(),
        };
        let bh = parse_block_header(&h).ok_or_else(|| corrupt(c, "bad block header"))?;
        if bh.first_lsn != c.block_lsn {
            return Err(corrupt(c, "block LSN out of sequence"));
        }
        let mut block = vec![0u8; bh.total_len];
        block[..BLOCK_HEADER_LEN].copy_from_slice(&h);
        if !read_full(&mut c.file, &mut block[BLOCK_HEADER_LEN..]).map_err(io)? {
            return Err(corrupt(c, "block cut short"));
        }
        let entries = decode_entries(&bh, &block).map_err(|r| corrupt(c, r))?;
        for (i, data) in entries.into_iter().enumerate() {
            let lsn = bh.first_lsn + i as u64;
            if lsn >= self.next {
                self.pending.push_back(Entry {
                    lsn,
                    timestamp_us: bh.timestamp_us,
                    data: data.to_vec(),
                });
            }
        }
        c.offset += bh.total_len as u64;
        c.block_lsn = bh.end_lsn();
        Ok(())
    }

    /// A cursor at the start of the block holding `lsn`.
    fn open_at(&self, lsn: Lsn) -> Result<Cursor, JournalError> {
        let segments = list_segments(&self.dir)?;
        let oldest = segments.first().map(|s| s.base).unwrap_or(1);
        let seg =
            segments
                .into_iter()
                .rev()
                .find(|s| s.base <= lsn)
                .ok_or(JournalError::Truncated {
                    requested: lsn,
                    oldest,
                })?;
        let mut c = open_segment(seg)?;
        // Skip whole blocks by their headers until the one containing `lsn`.
        loop {
            let mut h = [0u8; BLOCK_HEADER_LEN];
            let at = c.offset;
            if !read_full(&mut c.file, &mut h).map_err(|e| JournalError::io(&c.seg.path, e))? {
                // `lsn` is durable, so it lies in a later segment starting exactly here.
                c.file
                    .seek(std::io::SeekFrom::Start(at))
                    .map_err(|e| JournalError::io(&c.seg.path, e))?;
                return Ok(c);
            }
            let bh = parse_block_header(&h).ok_or_else(|| JournalError::Corrupt {
                path: c.seg.path.clone(),
                offset: at,
                reason: "bad block header".into(),
            })?;
            if bh.end_lsn() > lsn {
                c.file
                    .seek_relative(-(BLOCK_HEADER_LEN as i64))
                    .map_err(|e| JournalError::io(&c.seg.path, e))?;
                return Ok(c);
            }
            c.file
                .seek_relative((bh.total_len - BLOCK_HEADER_LEN) as i64)
                .map_err(|e| JournalError::io(&c.seg.path, e))?;
            c.offset += bh.total_len as u64;
            c.block_lsn = bh.end_lsn();
        }
    }
}

fn open_segment(seg: SegmentInfo) -> Result<Cursor, JournalError> {
    let file = File::open(&seg.path).map_err(|e| JournalError::io(&seg.path, e))?;
    let mut file = BufReader::with_capacity(1 << 20, file);
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    let ok = read_full(&mut file, &mut h).map_err(|e| JournalError::io(&seg.path, e))?
        && parse_segment_header(&h) == Some(seg.base);
    if !ok {
        return Err(JournalError::Corrupt {
            path: seg.path.clone(),
            offset: 0,
            reason: "bad segment header".into(),
        });
    }
    Ok(Cursor {
        block_lsn: seg.base,
        seg,
        file,
        offset: SEGMENT_HEADER_LEN as u64,
    })
}
