//! Gzip reading with the exact semantics of the two zlib calls `validate-logs` makes:
//! `zlib.decompress(body, MAX_WBITS | 16)` for digests and a streaming `decompressobj` for log
//! files. Both stop at the end of the first gzip member; they differ in what a truncated
//! stream and bytes after the member mean.

use aws_lc_rs::digest::{Context, SHA256};
use flate2::{Decompress, FlushDecompress, Status};

/// Feeds `body` through one gzip member, handing each inflated piece to `sink`. Returns how
/// many input bytes the member used and whether it ended, or `Err` when zlib reports an error.
fn inflate(body: &[u8], mut sink: impl FnMut(&[u8])) -> Result<(usize, bool), ()> {
    let mut d = Decompress::new_gzip(15);
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0;
    loop {
        let (in0, out0) = (d.total_in(), d.total_out());
        let status = d
            .decompress(&body[pos..], &mut buf, FlushDecompress::Sync)
            .map_err(|_| ())?;
        let used = (d.total_in() - in0) as usize;
        let made = (d.total_out() - out0) as usize;
        pos += used;
        sink(&buf[..made]);
        match status {
            Status::StreamEnd => return Ok((pos, true)),
            // zlib's Z_BUF_ERROR: no progress possible, which CPython does not treat as an error.
            Status::Ok | Status::BufError if used == 0 && made == 0 => return Ok((pos, false)),
            Status::Ok | Status::BufError => {}
        }
    }
}

/// `zlib.decompress(body, MAX_WBITS | 16)`: the first member's bytes. A stream that does not
/// reach its end is an error; bytes after the member are ignored.
pub(crate) fn gunzip_digest(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() * 4);
    match inflate(body, |piece| out.extend_from_slice(piece)) {
        Ok((_, true)) => Some(out),
        _ => None,
    }
}

/// What reading a log file the CLI's way found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogRead {
    /// zlib raised: `INVALID: invalid format`.
    Corrupt,
    /// Bytes followed the first member (`unused_data`).
    Trailing,
    /// Hex SHA-256 of what inflated. A truncated stream is not an error here: it hashes
    /// what could be inflated, as `decompressobj` + `flush()` do.
    Hash(String),
}

/// The CLI's `_download_log` reading: streaming inflate and SHA-256 of the output.
pub(crate) fn hash_log(body: &[u8]) -> LogRead {
    let mut ctx = Context::new(&SHA256);
    if body.is_empty() {
        return LogRead::Hash(hex::encode(ctx.finish()));
    }
    match inflate(body, |piece| ctx.update(piece)) {
        Err(()) => LogRead::Corrupt,
        Ok((used, true)) if used < body.len() => LogRead::Trailing,
        Ok(_) => LogRead::Hash(hex::encode(ctx.finish())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256_hex;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    #[test]
    fn digests_need_a_whole_member_and_ignore_what_follows() {
        let data = b"{\"a\":1}".repeat(20_000);
        let z = gz(&data);
        assert_eq!(gunzip_digest(&z).as_deref(), Some(&data[..]));
        let mut trailing = z.clone();
        trailing.extend_from_slice(b"garbage");
        assert_eq!(gunzip_digest(&trailing).as_deref(), Some(&data[..]));
        assert_eq!(gunzip_digest(&z[..z.len() - 3]), None);
        assert_eq!(gunzip_digest(b""), None);
        assert_eq!(gunzip_digest(b"not gzip"), None);
    }

    #[test]
    fn logs_distinguish_corrupt_trailing_and_truncated() {
        let data = b"{\"Records\":[]}".repeat(10_000);
        let z = gz(&data);
        assert_eq!(hash_log(&z), LogRead::Hash(sha256_hex(&data)));
        let mut two = z.clone();
        two.extend_from_slice(&gz(b"second member"));
        assert_eq!(hash_log(&two), LogRead::Trailing);
        assert_eq!(hash_log(b"not gzip"), LogRead::Corrupt);
        assert_eq!(hash_log(b""), LogRead::Hash(sha256_hex(b"")));
        // Losing only the trailer still inflates everything, as CPython's flush() does.
        assert_eq!(
            hash_log(&z[..z.len() - 3]),
            LogRead::Hash(sha256_hex(&data))
        );
        let cut = hash_log(&z[..z.len() / 2]);
        assert!(matches!(cut, LogRead::Hash(h) if h != sha256_hex(&data)));
        let mut bad_crc = z.clone();
        let n = bad_crc.len();
        bad_crc[n - 6] ^= 0xff;
        assert_eq!(hash_log(&bad_crc), LogRead::Corrupt);
    }
}
