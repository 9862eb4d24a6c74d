//! Record files: the events' JSON, zstd-compressed in chunks, in the order they were indexed.
//!
//! Records are compressed once, when the memtable is flushed, and never rewritten: index
//! compaction only merges the (small) index segments that point here. A file grows by whole
//! chunks and its valid length is kept in the manifest, so a crash mid-flush leaves bytes that
//! the next open cuts off.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::HistoryError;

/// Where one record lives: file, chunk (its byte offset in the file), and the record's bytes
/// inside the decompressed chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Locator {
    /// Record file id.
    pub file: u32,
    /// Byte offset of the chunk in the file.
    pub chunk: u64,
    /// Offset of the record in the decompressed chunk.
    pub offset: u32,
    /// Length of the record.
    pub len: u32,
}

pub(crate) fn record_path(dir: &Path, file: u32) -> PathBuf {
    dir.join(format!("records-{file:08}.zrec"))
}

/// Appends records to the current record file in compressed chunks.
pub(crate) struct RecordWriter {
    pub file_id: u32,
    path: PathBuf,
    file: File,
    pub len: u64,
    level: i32,
    chunk_bytes: usize,
    threads: usize,
}

/// Runs `f` over `items` on up to `threads` threads, keeping the order.
pub(crate) fn parallel_map<'a, T: Sync, R: Send>(
    items: &'a [T],
    threads: usize,
    f: impl Fn(&'a T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|part| {
                let f = &f;
                s.spawn(move || part.iter().map(f).collect::<Vec<R>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

impl RecordWriter {
    /// Opens `file_id` for appending at `valid_len` (cutting anything after it).
    pub(crate) fn open(
        dir: &Path,
        file_id: u32,
        valid_len: u64,
        level: i32,
        chunk_bytes: usize,
    ) -> Result<Self, HistoryError> {
        let path = record_path(dir, file_id);
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| HistoryError::io(&path, e))?;
        file.set_len(valid_len)
            .map_err(|e| HistoryError::io(&path, e))?;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4);
        Ok(RecordWriter {
            file_id,
            path,
            file,
            len: valid_len,
            level,
            chunk_bytes,
            threads,
        })
    }

    /// Appends records in order (compressing chunks on all cores), syncs, and returns each
    /// record's locator.
    pub(crate) fn write_all<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<Locator>, HistoryError> {
        // Each chunk: its raw bytes and its records' (offset, length).
        type Chunk = (Vec<u8>, Vec<(u32, u32)>);
        let mut chunks: Vec<Chunk> = Vec::new();
        let (mut buf, mut recs) = (Vec::with_capacity(self.chunk_bytes * 2), Vec::new());
        for r in records {
            recs.push((buf.len() as u32, r.len() as u32));
            buf.extend_from_slice(r);
            if buf.len() >= self.chunk_bytes {
                chunks.push((
                    std::mem::replace(&mut buf, Vec::with_capacity(self.chunk_bytes * 2)),
                    std::mem::take(&mut recs),
                ));
            }
        }
        if !recs.is_empty() {
            chunks.push((buf, recs));
        }
        let level = self.level;
        let compressed = parallel_map(&chunks, self.threads, |(raw, _)| {
            zstd::bulk::compress(raw, level)
        });
        let mut data = Vec::new();
        let mut out = Vec::new();
        for ((raw, recs), c) in chunks.iter().zip(compressed) {
            let c = c.map_err(|e| HistoryError::io(&self.path, e))?;
            let chunk = self.len + data.len() as u64;
            data.extend_from_slice(&(c.len() as u32).to_le_bytes());
            data.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            data.extend_from_slice(&c);
            out.extend(recs.iter().map(|(offset, len)| Locator {
                file: self.file_id,
                chunk,
                offset: *offset,
                len: *len,
            }));
        }
        self.file
            .write_all_at(&data, self.len)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| HistoryError::io(&self.path, e))?;
        self.len += data.len() as u64;
        Ok(out)
    }
}

/// Reads records back, caching open files and recently decompressed chunks.
pub(crate) struct RecordReader {
    dir: PathBuf,
    files: Mutex<HashMap<u32, Arc<File>>>,
    cache: Mutex<ChunkCache>,
}

struct ChunkCache {
    map: HashMap<(u32, u64), Arc<Vec<u8>>>,
    order: VecDeque<(u32, u64)>,
    bytes: usize,
    capacity: usize,
}

impl RecordReader {
    pub(crate) fn new(dir: PathBuf, cache_bytes: usize) -> Self {
        RecordReader {
            dir,
            files: Mutex::new(HashMap::new()),
            cache: Mutex::new(ChunkCache {
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
                capacity: cache_bytes,
            }),
        }
    }

    fn file(&self, id: u32) -> Result<Arc<File>, HistoryError> {
        let mut files = self
            .files
            .lock()
            .map_err(|_| HistoryError::corrupt(&self.dir, "lock poisoned"))?;
        if let Some(f) = files.get(&id) {
            return Ok(f.clone());
        }
        let path = record_path(&self.dir, id);
        let f = Arc::new(File::open(&path).map_err(|e| HistoryError::io(&path, e))?);
        files.insert(id, f.clone());
        Ok(f)
    }

    /// Forgets a deleted file.
    pub(crate) fn forget(&self, id: u32) {
        if let Ok(mut files) = self.files.lock() {
            files.remove(&id);
        }
        if let Ok(mut c) = self.cache.lock() {
            c.map.retain(|k, _| k.0 != id);
            c.order.retain(|k| k.0 != id);
            c.bytes = c.map.values().map(|v| v.len()).sum();
        }
    }

    fn chunk(&self, file: u32, at: u64) -> Result<Arc<Vec<u8>>, HistoryError> {
        if let Ok(c) = self.cache.lock()
            && let Some(v) = c.map.get(&(file, at))
        {
            return Ok(v.clone());
        }
        let f = self.file(file)?;
        let path = || record_path(&self.dir, file);
        let mut head = [0u8; 8];
        f.read_exact_at(&mut head, at)
            .map_err(|e| HistoryError::io(path(), e))?;
        let clen = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let rlen = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let mut compressed = vec![0u8; clen];
        f.read_exact_at(&mut compressed, at + 8)
            .map_err(|e| HistoryError::io(path(), e))?;
        let raw = zstd::bulk::decompress(&compressed, rlen)
            .map_err(|e| HistoryError::corrupt(path(), e.to_string()))?;
        let raw = Arc::new(raw);
        if let Ok(mut c) = self.cache.lock() {
            c.bytes += raw.len();
            c.map.insert((file, at), raw.clone());
            c.order.push_back((file, at));
            while c.bytes > c.capacity {
                let Some(old) = c.order.pop_front() else {
                    break;
                };
                if let Some(v) = c.map.remove(&old) {
                    c.bytes -= v.len();
                }
            }
        }
        Ok(raw)
    }

    /// The record at `loc`.
    pub(crate) fn read(&self, loc: &Locator) -> Result<Vec<u8>, HistoryError> {
        let chunk = self.chunk(loc.file, loc.chunk)?;
        let (start, end) = (loc.offset as usize, loc.offset as usize + loc.len as usize);
        chunk.get(start..end).map(<[u8]>::to_vec).ok_or_else(|| {
            HistoryError::corrupt(record_path(&self.dir, loc.file), "record outside its chunk")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_compressed_chunks() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut w = RecordWriter::open(tmp.path(), 1, 0, 1, 100).expect("open");
        let recs: Vec<Vec<u8>> = (0..50)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i)).into_bytes())
            .collect();
        let locs = w.write_all(recs.iter().map(Vec::as_slice)).expect("write");
        assert_eq!(locs.len(), 50);
        assert!(
            locs.iter()
                .map(|l| l.chunk)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 3
        );
        let more = w.write_all([b"tail".as_slice()]).expect("write");
        let r = RecordReader::new(tmp.path().to_path_buf(), 1 << 20);
        for (rec, loc) in recs.iter().zip(&locs) {
            assert_eq!(&r.read(loc).expect("read"), rec);
        }
        assert_eq!(r.read(&more[0]).expect("read"), b"tail");
        // Reopening at a shorter valid length cuts what came after.
        let valid = more[0].chunk;
        let w2 = RecordWriter::open(tmp.path(), 1, valid, 1, 100).expect("reopen");
        assert_eq!(w2.len, valid);
        assert_eq!(
            std::fs::metadata(record_path(tmp.path(), 1))
                .expect("meta")
                .len(),
            valid
        );
    }
}
