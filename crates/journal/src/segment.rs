//! Segment files: naming, listing, and the scan that finds where valid data ends.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

use crate::format::{
    BLOCK_HEADER_LEN, SEGMENT_HEADER_LEN, decode_entries, parse_block_header, parse_segment_header,
};
use crate::{JournalError, Lsn};

const SUFFIX: &str = ".seg";

/// A segment file and the first LSN it holds.
#[derive(Debug, Clone)]
pub(crate) struct SegmentInfo {
    pub base: Lsn,
    pub path: PathBuf,
}

pub(crate) fn segment_path(dir: &Path, base: Lsn) -> PathBuf {
    dir.join(format!("{base:020}{SUFFIX}"))
}

/// Every segment in `dir`, oldest first.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<SegmentInfo>, JournalError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| JournalError::io(dir, e))? {
        let entry = entry.map_err(|e| JournalError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(SUFFIX) else {
            continue;
        };
        if let Ok(base) = stem.parse::<Lsn>() {
            out.push(SegmentInfo {
                base,
                path: entry.path(),
            });
        }
    }
    out.sort_by_key(|s| s.base);
    Ok(out)
}

/// Where the valid prefix of a segment ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanResult {
    /// Bytes of valid header and blocks.
    pub valid_len: u64,
    /// The LSN the next block must start at.
    pub end_lsn: Lsn,
    /// Bytes after the valid prefix (a torn tail).
    pub torn_bytes: u64,
    /// Whether the segment header itself is missing or damaged.
    pub bad_header: bool,
}

/// Reads a whole segment, checking every block's checksum and that LSNs follow on.
pub(crate) fn scan(seg: &SegmentInfo) -> Result<ScanResult, JournalError> {
    let file = File::open(&seg.path).map_err(|e| JournalError::io(&seg.path, e))?;
    let file_len = file
        .metadata()
        .map_err(|e| JournalError::io(&seg.path, e))?
        .len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    let header_ok = read_full(&mut r, &mut header).map_err(|e| JournalError::io(&seg.path, e))?
        && parse_segment_header(&header) == Some(seg.base);
    if !header_ok {
        return Ok(ScanResult {
            valid_len: 0,
            end_lsn: seg.base,
            torn_bytes: file_len,
            bad_header: true,
        });
    }
    let mut valid_len = SEGMENT_HEADER_LEN as u64;
    let mut end_lsn = seg.base;
    let mut block = Vec::new();
    loop {
        let mut h = [0u8; BLOCK_HEADER_LEN];
        if !read_full(&mut r, &mut h).map_err(|e| JournalError::io(&seg.path, e))? {
            break;
        }
        let Some(bh) = parse_block_header(&h) else {
            break;
        };
        if bh.first_lsn != end_lsn {
            break;
        }
        block.clear();
        block.extend_from_slice(&h);
        block.resize(bh.total_len, 0);
        if !read_full(&mut r, &mut block[BLOCK_HEADER_LEN..])
            .map_err(|e| JournalError::io(&seg.path, e))?
        {
            break;
        }
        if decode_entries(&bh, &block).is_err() {
            break;
        }
        valid_len += bh.total_len as u64;
        end_lsn = bh.end_lsn();
    }
    Ok(ScanResult {
        valid_len,
        end_lsn,
        torn_bytes: file_len - valid_len,
        bad_header: false,
    })
}

/// Fills `buf` completely; `Ok(false)` when the file ends first (a clean or torn end).
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Makes a directory's entries (new or renamed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io(dir, e))
}

/// Creates a new, empty segment starting at `base` and makes its name durable.
pub(crate) fn create_segment(dir: &Path, base: Lsn) -> Result<(File, SegmentInfo), JournalError> {
    use std::io::Write;
    let path = segment_path(dir, base);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .read(true)
        .open(&path)
        .map_err(|e| JournalError::io(&path, e))?;
    file.write_all(&crate::format::segment_header(base))
        .and_then(|_| file.sync_all())
        .map_err(|e| JournalError::io(&path, e))?;
    sync_dir(dir)?;
    Ok((file, SegmentInfo { base, path }))
}
