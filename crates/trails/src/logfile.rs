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
    let raw_len = 13 + records.iter().map(|r| r.len() + 1).sum::<usize>();
    let mut raw = Vec::with_capacity(raw_len);
    raw.extend_from_slice(b"{\"Records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            raw.push(b',');
        }
        raw.extend_from_slice(r);
    }
    raw.extend_from_slice(b"]}");
    let mut enc = GzEncoder::new(Vec::with_capacity(raw.len() / 6), Compression::new(level));
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(&raw);
    let gzip = enc.finish().unwrap_or_default();
    let digest = aws_sha256(&raw);
    LogFile {
        gzip,
        sha256: digest,
        raw_len: raw.len(),
    }
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
