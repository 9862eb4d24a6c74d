//! Log file names and bytes, exactly as AWS CloudTrail writes them.

use std::io::Write;

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::Rng;

/// The object key of a log file (spec 4.1):
/// `[prefix/]AWSLogs/[o-id/]{account}/CloudTrail/{region}/{YYYY}/{MM}/{DD}/{account}_CloudTrail_{region}_{YYYYMMDDTHHmmZ}_{unique}.json.gz`,
/// dated by the delivery minute.
pub fn log_key(
    prefix: Option<&str>,
    org_id: Option<&str>,
    account: &str,
    region: &str,
    delivered: DateTime<Utc>,
    unique: &str,
) -> String {
    let mut k = String::new();
    if let Some(p) = prefix.filter(|p| !p.is_empty()) {
        k.push_str(p.trim_end_matches('/'));
        k.push('/');
    }
    k.push_str("AWSLogs/");
    if let Some(o) = org_id {
        k.push_str(o);
        k.push('/');
    }
    k.push_str(&format!(
        "{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{}_{unique}.json.gz",
        delivered.format("%Y/%m/%d"),
        delivered.format("%Y%m%dT%H%MZ")
    ));
    k
}

/// The 16-character random part of a log file name.
pub fn unique_suffix() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A log file's bytes: `{"Records":[...]}` with the records as stored, gzip-compressed as a
/// single member (deterministic: the same records give the same bytes).
pub struct LogFile {
    /// The gzip bytes to store.
    pub gzip: Vec<u8>,
    /// Hex SHA-256 of the uncompressed JSON (what a digest lists).
    pub sha256: String,
    /// Size of the uncompressed JSON.
    pub raw_len: usize,
}

/// Builds a log file from records' JSON.
pub fn build_log_file(records: &[&[u8]], level: u32) -> LogFile {
    build_log_file_with(records, level, 1)
}

/// The uncompressed content of a log file: `{"Records":[...]}` around the records' JSON.
pub fn records_document<R: AsRef<[u8]>>(records: &[R]) -> Vec<u8> {
    let raw_len = 13 + records.iter().map(|r| r.as_ref().len() + 1).sum::<usize>();
    let mut raw = Vec::with_capacity(raw_len);
    raw.extend_from_slice(b"{\"Records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            raw.push(b',');
        }
        raw.extend_from_slice(r.as_ref());
    }
    raw.extend_from_slice(b"]}");
    raw
}

/// [`build_log_file`] compressing on up to `threads` cores.
pub fn build_log_file_with(records: &[&[u8]], level: u32, threads: usize) -> LogFile {
    let raw = records_document(records);
    let gzip = if threads > 1 && raw.len() >= 2 * PARALLEL_CHUNK {
        parallel_gzip(&raw, level, threads)
    } else {
        let mut enc = GzEncoder::new(Vec::with_capacity(raw.len() / 6), Compression::new(level));
        // Writing to a Vec cannot fail.
        let _ = enc.write_all(&raw);
        enc.finish().unwrap_or_default()
    };
    let digest = aws_sha256(&raw);
    LogFile {
        gzip,
        sha256: digest,
        raw_len: raw.len(),
    }
}

/// Input per parallel compression job.
const PARALLEL_CHUNK: usize = 1 << 20;
const WINDOW: usize = 32 * 1024;

/// One gzip member compressed on several cores, as pigz does: each chunk is a raw deflate
/// stream primed with the previous 32 KiB as its dictionary and ended with a sync flush (the
/// last with the final block), so the concatenation is one continuous deflate stream. AWS log
/// files must be a single member; this keeps that while using every core.
fn parallel_gzip(raw: &[u8], level: u32, threads: usize) -> Vec<u8> {
    use flate2::{Compress, FlushCompress};
    let chunks: Vec<(usize, usize)> = (0..raw.len())
        .step_by(PARALLEL_CHUNK)
        .map(|s| (s, (s + PARALLEL_CHUNK).min(raw.len())))
        .collect();
    let last = chunks.len() - 1;
    let compress = |i: usize| -> Vec<u8> {
        let (start, end) = chunks[i];
        let mut c = Compress::new(Compression::new(level), false);
        if start > 0 {
            let _ = c.set_dictionary(&raw[start.saturating_sub(WINDOW)..start]);
        }
        let flush = if i == last {
            FlushCompress::Finish
        } else {
            FlushCompress::Sync
        };
        let input = &raw[start..end];
        let mut out = Vec::with_capacity(input.len() / 4 + 1024);
        loop {
            let consumed = c.total_in() as usize;
            if out.capacity() - out.len() < 4096 {
                out.reserve(out.capacity().max(64 * 1024));
            }
            let status = c.compress_vec(&input[consumed..], &mut out, flush);
            let done_input = c.total_in() as usize == input.len();
            match status {
                Ok(flate2::Status::StreamEnd) => break,
                Ok(_)
                    if done_input && flush == FlushCompress::Sync && out.capacity() > out.len() =>
                {
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        out
    };
    let per = chunks.len().div_ceil(threads.max(1));
    let parts: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..chunks.len())
            .collect::<Vec<_>>()
            .chunks(per)
            .map(|ids| {
                let ids = ids.to_vec();
                let compress = &compress;
                s.spawn(move || ids.into_iter().map(compress).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut crc = flate2::Crc::new();
    crc.update(raw);
    let mut gz = Vec::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + 18);
    gz.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    for p in &parts {
        gz.extend_from_slice(p);
    }
    gz.extend_from_slice(&crc.sum().to_le_bytes());
    gz.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    gz
}

fn aws_sha256(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let d = sha256(b);
    let mut s = String::with_capacity(64);
    for x in d {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn sha256(b: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::io::Read;

    #[test]
    fn keys_have_the_aws_layout() {
        let t = Utc
            .with_ymd_and_hms(2015, 8, 1, 2, 10, 59)
            .single()
            .expect("time");
        assert_eq!(
            log_key(
                None,
                None,
                "111122223333",
                "us-east-2",
                t,
                "Mu0KsOhtH1ar15ZZ"
            ),
            "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz"
        );
        assert_eq!(
            log_key(
                Some("team/"),
                Some("o-exampleorgid"),
                "1",
                "eu-west-1",
                t,
                "U"
            ),
            "team/AWSLogs/o-exampleorgid/1/CloudTrail/eu-west-1/2015/08/01/1_CloudTrail_eu-west-1_20150801T0210Z_U.json.gz"
        );
        let u = unique_suffix();
        assert_eq!(u.len(), 16);
        assert!(u.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn incompressible_batches_stay_under_the_log_file_limit() {
        use crate::config::{DEFAULT_MAX_BATCH_BYTES, MAX_LOG_FILE_BYTES};
        use opentrail_model::incoming::MAX_RECORD_BYTES;
        // Random bytes are the worst case for deflate; measure the growth of this encoder on
        // both its serial and parallel paths and apply it to the largest possible batch.
        let mut rng = rand::rng();
        let noise: Vec<u8> = (0..3 * PARALLEL_CHUNK).map(|_| rng.random()).collect();
        for threads in [1, 2] {
            let file = build_log_file_with(&[noise.as_slice()], 6, threads);
            let growth = file.gzip.len() as f64 / file.raw_len as f64;
            assert!(growth < 1.001, "{threads} threads: grew by {growth}");
            let worst = (DEFAULT_MAX_BATCH_BYTES + MAX_RECORD_BYTES) as f64 * 1.001 + 1024.0;
            assert!(worst < MAX_LOG_FILE_BYTES as f64, "{worst}");
        }
    }

    #[test]
    fn parallel_compression_gives_one_member_with_the_same_content() {
        let rec = br#"{"eventID":"abcdefgh","eventName":"PutObject","requestParameters":{"bucketName":"logs"}}"#.to_vec();
        let many: Vec<Vec<u8>> = (0..60_000)
            .map(|i| {
                let mut r = rec.clone();
                r.extend_from_slice(format!("{i}").as_bytes());
                r
            })
            .collect();
        let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        let one = build_log_file(&refs, 6);
        let par = build_log_file_with(&refs, 6, 3);
        assert!(par.raw_len > 4 * PARALLEL_CHUNK, "several chunks");
        assert_eq!(par.sha256, one.sha256);
        let mut d = flate2::read::GzDecoder::new(&par.gzip[..]);
        let mut out = Vec::new();
        d.read_to_end(&mut out).expect("gunzip");
        assert_eq!(out.len(), par.raw_len);
        let mut rest = Vec::new();
        d.into_inner().read_to_end(&mut rest).expect("rest");
        assert!(rest.is_empty(), "a single member");
        let mut m = flate2::read::MultiGzDecoder::new(&par.gzip[..]);
        let mut again = Vec::new();
        m.read_to_end(&mut again).expect("gunzip");
        assert_eq!(again, out);
        assert!(
            par.gzip.len() < one.gzip.len() * 11 / 10,
            "dictionaries keep the ratio"
        );
    }

    #[test]
    fn files_are_single_member_gzip_of_the_records() {
        let recs: Vec<&[u8]> = vec![br#"{"eventID":"a"}"#, br#"{"eventID":"b"}"#];
        let f = build_log_file(&recs, 6);
        let mut d = flate2::read::GzDecoder::new(&f.gzip[..]);
        let mut out = String::new();
        d.read_to_string(&mut out).expect("gunzip");
        assert_eq!(out, r#"{"Records":[{"eventID":"a"},{"eventID":"b"}]}"#);
        assert_eq!(f.raw_len, out.len());
        assert_eq!(f.sha256.len(), 64);
        assert_eq!(build_log_file(&recs, 6).gzip, f.gzip, "deterministic");
        let mut rest = Vec::new();
        d.into_inner().read_to_end(&mut rest).expect("rest");
        assert!(rest.is_empty(), "one member, nothing after it");
    }
}
