//! Writing records out: as AWS CloudTrail log files in the exact S3 layout a trail delivers
//! (one gzip file per account, region and five-minute delivery window), or as NDJSON.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use opentrail_model::Record;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::GeneratorError;
use crate::ids;

/// CloudTrail delivers about every five minutes.
const WINDOW_SECS: i64 = 300;

/// How [`write_log_files`] lays files out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogFileOptions {
    /// Seed of the random-looking unique part of file names, so output is reproducible.
    pub seed: u64,
    /// Most records in one file; a busier window is split into several files. Default 1000.
    pub max_records_per_file: usize,
    /// Trail key prefix placed before `AWSLogs/` (joined with `/`); empty for none.
    pub prefix: String,
    /// Account folder for records without `recipientAccountId`; without it such records are
    /// an error.
    pub default_account_id: Option<String>,
}

impl Default for LogFileOptions {
    fn default() -> Self {
        LogFileOptions {
            seed: 0,
            max_records_per_file: 1000,
            prefix: String::new(),
            default_account_id: None,
        }
    }
}

/// What [`write_log_files`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Number of files written.
    pub files: u64,
    /// Number of records written.
    pub records: u64,
    /// The object key of every file (relative to the output directory, `/`-separated), in the
    /// order written.
    pub keys: Vec<String>,
}

/// Records of one account, region and delivery window, serialised and comma-separated.
#[derive(Default)]
struct Batch {
    json: Vec<u8>,
    count: usize,
}

/// `(delivery time, account, region)`: time first, so that closing old windows walks the map
/// in order.
type BatchKey = (i64, String, String);

struct Writer<'a> {
    dir: &'a Path,
    options: &'a LogFileOptions,
    rng: ChaCha8Rng,
    created_dirs: BTreeSet<PathBuf>,
    summary: WriteSummary,
}

impl Writer<'_> {
    fn flush(&mut self, key: &BatchKey, batch: Batch) -> Result<(), GeneratorError> {
        if batch.count == 0 {
            return Ok(());
        }
        let (delivery, account, region) = key;
        let (y, mo, d, h, mi) = crate::timefmt::parts(*delivery);
        let unique = ids::alphanumeric(&mut self.rng, 16);
        let prefix = self.options.prefix.trim_matches('/');
        let folder = format!("AWSLogs/{account}/CloudTrail/{region}/{y:04}/{mo:02}/{d:02}");
        let folder = if prefix.is_empty() {
            folder
        } else {
            format!("{prefix}/{folder}")
        };
        let name = format!(
            "{account}_CloudTrail_{region}_{y:04}{mo:02}{d:02}T{h:02}{mi:02}Z_{unique}.json.gz"
        );
        let dir_path = self.dir.join(&folder);
        if !self.created_dirs.contains(&dir_path) {
            fs::create_dir_all(&dir_path).map_err(|source| GeneratorError::Io {
                path: dir_path.clone(),
                source,
            })?;
            self.created_dirs.insert(dir_path.clone());
        }
        let path = dir_path.join(&name);
        let io = |source| GeneratorError::Io {
            path: path.clone(),
            source,
        };
        let file = File::create(&path).map_err(io)?;
        // The gzip header carries no name or time, so identical input gives identical bytes.
        let mut gz = GzEncoder::new(BufWriter::new(file), Compression::default());
        gz.write_all(b"{\"Records\":[").map_err(io)?;
        gz.write_all(&batch.json).map_err(io)?;
        gz.write_all(b"]}").map_err(io)?;
        let mut out = gz.finish().map_err(io)?;
        out.flush().map_err(io)?;
        self.summary.files += 1;
        self.summary.records += batch.count as u64;
        self.summary.keys.push(format!("{folder}/{name}"));
        Ok(())
    }
}

/// A path component taken from a record: non-empty and unable to escape its folder.
fn usable(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

/// Writes records as AWS CloudTrail log files under `dir`, exactly the AWS layout:
/// `AWSLogs/{acct}/CloudTrail/{region}/{YYYY}/{MM}/{DD}/{acct}_CloudTrail_{region}_{YYYYMMDDTHHmmZ}_{16 alphanumeric chars}.json.gz`.
///
/// Each file is a single-member gzip of `{"Records":[...]}` holding the records of one
/// account and region whose `eventTime` falls in one five-minute window; the time in the name
/// (and the date folders) is the end of that window, when CloudTrail would deliver it. A
/// window with more than `max_records_per_file` records is split. The unique part of each
/// name comes from an rng seeded with `options.seed`, so the same records and options give
/// the same files. Directories are created as needed.
///
/// Memory stays bounded when records arrive in time order (as from
/// [`crate::Generator::events_between`]): a window's files are written as soon as a record of
/// a later window arrives. Records out of order still land in the right folders, possibly in
/// extra files for their window.
pub fn write_log_files(
    dir: &Path,
    records: impl IntoIterator<Item = Record>,
    options: &LogFileOptions,
) -> Result<WriteSummary, GeneratorError> {
    let max_per_file = options.max_records_per_file.max(1);
    let mut writer = Writer {
        dir,
        options,
        rng: ChaCha8Rng::seed_from_u64(options.seed),
        created_dirs: BTreeSet::new(),
        summary: WriteSummary::default(),
    };
    let mut open: BTreeMap<BatchKey, Batch> = BTreeMap::new();
    let mut latest_delivery = i64::MIN;
    for record in records {
        let missing = |member| GeneratorError::MissingMember {
            member,
            event_id: record.event_id.clone(),
        };
        let secs = record
            .event_time
            .as_deref()
            .and_then(|t| opentrail_model::time::parse_event_time(t).ok())
            .ok_or_else(|| missing("eventTime"))?
            .timestamp();
        let region = record
            .aws_region
            .clone()
            .filter(|r| usable(r))
            .ok_or_else(|| missing("awsRegion"))?;
        let account = record
            .recipient_account_id
            .clone()
            .or_else(|| options.default_account_id.clone())
            .filter(|a| usable(a))
            .ok_or_else(|| missing("recipientAccountId"))?;
        let delivery = (secs.div_euclid(WINDOW_SECS) + 1) * WINDOW_SECS;
        if delivery > latest_delivery {
            // Every window before this one is complete: deliver it.
            let done: Vec<BatchKey> = open
                .range(..(delivery, String::new(), String::new()))
                .map(|(k, _)| k.clone())
                .collect();
            for key in done {
                if let Some(batch) = open.remove(&key) {
                    writer.flush(&key, batch)?;
                }
            }
            latest_delivery = delivery;
        }
        let key = (delivery, account, region);
        let batch = open.entry(key.clone()).or_default();
        if batch.count > 0 {
            batch.json.push(b',');
        }
        serde_json::to_writer(&mut batch.json, &record)?;
        batch.count += 1;
        if batch.count >= max_per_file
            && let Some(full) = open.remove(&key)
        {
            writer.flush(&key, full)?;
        }
    }
    for (key, batch) in std::mem::take(&mut open) {
        writer.flush(&key, batch)?;
    }
    Ok(writer.summary)
}

/// Writes records as NDJSON (one compact JSON record per line) to any writer; returns the
/// number of records written.
pub fn write_ndjson<W: Write>(
    w: W,
    records: impl IntoIterator<Item = Record>,
) -> Result<u64, GeneratorError> {
    let mut w = BufWriter::new(w);
    let mut n = 0;
    for record in records {
        serde_json::to_writer(&mut w, &record)?;
        w.write_all(b"\n")?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time: &str, region: &str) -> Record {
        Record {
            event_version: Some("1.11".into()),
            event_time: Some(time.into()),
            aws_region: Some(region.into()),
            recipient_account_id: Some("123456789012".into()),
            event_id: Some(format!("{time}-{region}")),
            ..Default::default()
        }
    }

    #[test]
    fn names_carry_the_end_of_the_window() {
        let dir = tempfile::tempdir().expect("tempdir");
        let summary = write_log_files(
            dir.path(),
            [
                record("2026-03-01T23:57:10Z", "us-east-1"),
                record("2026-03-02T00:00:00Z", "us-east-1"),
            ],
            &LogFileOptions::default(),
        )
        .expect("write");
        assert_eq!(summary.files, 2);
        assert!(summary.keys[0].starts_with(
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/03/02/123456789012_CloudTrail_us-east-1_20260302T0000Z_"
        ));
        assert!(summary.keys[1].contains("_20260302T0005Z_"));
    }

    #[test]
    fn records_without_layout_members_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = record("2026-03-01T23:57:10Z", "us-east-1");
        r.aws_region = Some("../etc".into());
        let err = write_log_files(dir.path(), [r], &LogFileOptions::default()).expect_err("bad");
        assert!(err.to_string().contains("awsRegion"), "{err}");
        let mut r = record("2026-03-01T23:57:10Z", "us-east-1");
        r.recipient_account_id = None;
        assert!(write_log_files(dir.path(), [r.clone()], &LogFileOptions::default()).is_err());
        let opts = LogFileOptions {
            default_account_id: Some("999999999999".into()),
            prefix: "/trail-prefix/".into(),
            ..Default::default()
        };
        let s = write_log_files(dir.path(), [r], &opts).expect("default account");
        assert!(s.keys[0].starts_with("trail-prefix/AWSLogs/999999999999/CloudTrail/"));
    }

    #[test]
    fn ndjson_writes_one_line_per_record() {
        let mut out = Vec::new();
        let n = write_ndjson(
            &mut out,
            vec![record("2026-03-01T23:57:10Z", "us-east-1"); 3],
        )
        .expect("ndjson");
        assert_eq!(n, 3);
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with('\n'));
    }
}
