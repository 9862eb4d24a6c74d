//! The on-disk framing of segments and blocks.
//!
//! ```text
//! segment  = header block*
//! header   = magic "OTJS" | version u32 | base_lsn u64                 (16 bytes)
//! block    = magic "OTJB" | total_len u32 | crc32c u32 | first_lsn u64
//!            | count u32 | timestamp_us u64 | (len u32 | bytes){count}
//! ```
//! All integers are little-endian. The CRC covers every byte of the block after the CRC
//! field, so a torn or partly overwritten block never passes as valid.

use crate::Lsn;

pub(crate) const SEGMENT_MAGIC: u32 = u32::from_le_bytes(*b"OTJS");
pub(crate) const SEGMENT_VERSION: u32 = 1;
pub(crate) const SEGMENT_HEADER_LEN: usize = 16;
pub(crate) const BLOCK_MAGIC: u32 = u32::from_le_bytes(*b"OTJB");
pub(crate) const BLOCK_HEADER_LEN: usize = 32;
/// Largest block: keeps a single append bounded and the length field far from overflow.
pub(crate) const MAX_BLOCK_LEN: usize = 64 * 1024 * 1024;

pub(crate) fn segment_header(base: Lsn) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[0..4].copy_from_slice(&SEGMENT_MAGIC.to_le_bytes());
    h[4..8].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h[8..16].copy_from_slice(&base.to_le_bytes());
    h
}

/// Parses a segment header, returning its base LSN.
pub(crate) fn parse_segment_header(h: &[u8]) -> Option<Lsn> {
    if h.len() < SEGMENT_HEADER_LEN
        || u32_at(h, 0) != SEGMENT_MAGIC
        || u32_at(h, 4) != SEGMENT_VERSION
    {
        return None;
    }
    Some(u64_at(h, 8))
}

/// Bytes a block holding `entries` occupies.
pub(crate) fn block_len<T: AsRef<[u8]>>(entries: &[T]) -> usize {
    BLOCK_HEADER_LEN + entries.iter().map(|e| 4 + e.as_ref().len()).sum::<usize>()
}

/// Appends one encoded block to `out`.
pub(crate) fn encode_block<T: AsRef<[u8]>>(
    out: &mut Vec<u8>,
    first_lsn: Lsn,
    timestamp_us: u64,
    entries: &[T],
) {
    let start = out.len();
    let total = block_len(entries);
    out.reserve(total);
    out.extend_from_slice(&BLOCK_MAGIC.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&first_lsn.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&timestamp_us.to_le_bytes());
    for e in entries {
        let e = e.as_ref();
        out.extend_from_slice(&(e.len() as u32).to_le_bytes());
        out.extend_from_slice(e);
    }
    let crc = crc32c::crc32c(&out[start + 12..]);
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
}

/// The fixed part of a block, read before its body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockHeader {
    pub total_len: usize,
    pub crc: u32,
    pub first_lsn: Lsn,
    pub count: u32,
    pub timestamp_us: u64,
}

impl BlockHeader {
    pub(crate) fn end_lsn(&self) -> Lsn {
        self.first_lsn + u64::from(self.count)
    }
}

/// Parses a block header; `None` when the bytes are not the start of a plausible block.
pub(crate) fn parse_block_header(h: &[u8]) -> Option<BlockHeader> {
    if h.len() < BLOCK_HEADER_LEN || u32_at(h, 0) != BLOCK_MAGIC {
        return None;
    }
    let total_len = u32_at(h, 4) as usize;
    if !(BLOCK_HEADER_LEN..=MAX_BLOCK_LEN).contains(&total_len) {
        return None;
    }
    Some(BlockHeader {
        total_len,
        crc: u32_at(h, 8),
        first_lsn: u64_at(h, 12),
        count: u32_at(h, 20),
        timestamp_us: u64_at(h, 24),
    })
}

/// Checks a whole block (header and body) against its CRC and splits out its entries.
pub(crate) fn decode_entries<'a>(
    header: &BlockHeader,
    block: &'a [u8],
) -> Result<Vec<&'a [u8]>, &'static str> {
    if block.len() != header.total_len {
        return Err("block shorter than its length field");
    }
    if crc32c::crc32c(&block[12..]) != header.crc {
        return Err("block checksum mismatch");
    }
    let mut entries = Vec::with_capacity(header.count as usize);
    let mut pos = BLOCK_HEADER_LEN;
    for _ in 0..header.count {
        if pos + 4 > block.len() {
            return Err("entry length past block end");
        }
        let len = u32_at(block, pos) as usize;
        pos += 4;
        if pos + len > block.len() {
            return Err("entry past block end");
        }
        entries.push(&block[pos..pos + len]);
        pos += len;
    }
    if pos != block.len() {
        return Err("trailing bytes in block");
    }
    Ok(entries)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_and_detect_damage() {
        let entries: Vec<&[u8]> = vec![b"alpha", b"", b"gamma gamma"];
        let mut buf = Vec::new();
        encode_block(&mut buf, 42, 7, &entries);
        assert_eq!(buf.len(), block_len(&entries));
        let h = parse_block_header(&buf).expect("header");
        assert_eq!((h.first_lsn, h.count, h.timestamp_us), (42, 3, 7));
        assert_eq!(decode_entries(&h, &buf).expect("valid"), entries);
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            let ok = parse_block_header(&bad).is_some_and(|h2| decode_entries(&h2, &bad).is_ok());
            assert!(!ok, "flipping byte {i} went unnoticed");
        }
    }

    #[test]
    fn segment_headers_round_trip() {
        assert_eq!(parse_segment_header(&segment_header(99)), Some(99));
        assert_eq!(parse_segment_header(&[0u8; 16]), None);
    }
}
