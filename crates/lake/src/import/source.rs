//! Where an import reads trail log files from: an S3 location (a bucket of the embedded store
//! or of the configured S3-compatible storage) or, as an opentrail extension, a local folder.
//! Lists the log files in key order (skipping digests, other services' folders and non-log
//! objects), reads one file's bytes, and turns them into the raw records of its
//! `{"Records":[...]}` document.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use flate2::read::MultiGzDecoder;
use opentrail_store::ObjectStorage;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::LakeError;

/// A parsed `S3LocationUri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `s3://bucket/prefix`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix (may be empty).
        prefix: String,
    },
    /// `file:///abs/path` or `/abs/path`: a folder on the server's file system.
    Local(PathBuf),
}

impl Location {
    /// Parses `S3LocationUri`: `s3://bucket[/prefix]`, `file:///absolute/folder` or an
    /// absolute folder path.
    pub fn parse(uri: &str) -> Result<Location, LakeError> {
        let bad = |why: &str| {
            LakeError::InvalidImportSource(format!(
                "S3LocationUri {uri:?} is not valid: {why}. Use s3://<bucket>/<prefix>, or (opentrail) file:///<absolute folder> or an absolute folder path on the server."
            ))
        };
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if let Some(why) = opentrail_store::bucket_name_problem(bucket) {
                return Err(bad(&format!("the bucket name {bucket:?} {why}")));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        let path = match uri.strip_prefix("file://") {
            Some(p) => {
                let url = url::Url::parse(uri).map_err(|_| bad("it is not a file URL"))?;
                if !p.starts_with('/') {
                    return Err(bad("a file URL needs an absolute path (file:///...)"));
                }
                url.to_file_path()
                    .map_err(|()| bad("it is not a local absolute path"))?
            }
            None if uri.starts_with('/') => PathBuf::from(uri),
            None => return Err(bad("the scheme must be s3:// or file://")),
        };
        if path
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(bad("the path must not contain .."));
        }
        Ok(Location::Local(path))
    }
}

/// One log file to import.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct SourceFile {
    /// Its key (S3) or path relative to the folder (local), `/`-separated.
    pub key: String,
    /// When the trail delivered it, from its name (`..._20261120T1005Z_...`), if it says.
    #[serde(default)]
    pub delivered: Option<DateTime<Utc>>,
}

impl SourceFile {
    /// The folder it is in: the "prefix" of ImportStatistics (a day folder for trail
    /// layouts).
    pub fn prefix(&self) -> &str {
        self.key.rsplit_once('/').map_or("", |(p, _)| p)
    }
}

/// An opened source: the location and how to reach it.
#[derive(Clone)]
pub enum Source {
    /// A bucket of an object store.
    S3 {
        /// The store holding the bucket.
        storage: Arc<dyn ObjectStorage>,
        /// The bucket.
        bucket: String,
        /// The prefix to list under.
        prefix: String,
    },
    /// A folder.
    Local(PathBuf),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::S3 { bucket, prefix, .. } => write!(f, "s3://{bucket}/{prefix}"),
            Source::Local(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Whether `key` is a trail log file an import takes: `.json.gz` or `.json`, not in a folder
/// of another service (`AWSLogs/<account>/<service>/...` with a service other than
/// `CloudTrail`, e.g. `CloudTrail-Digest`, `CloudTrail-Insight`), not a digest.
pub fn is_log_file(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    if !(name.ends_with(".json.gz") || name.ends_with(".json")) || name.contains("Digest") {
        return false;
    }
    let parts: Vec<&str> = key.split('/').collect();
    match parts.iter().position(|p| *p == "AWSLogs") {
        // AWSLogs/<account>/<service>/... or AWSLogs/<org>/<account>/<service>/...
        Some(i) => {
            let folders = &parts[i + 1..parts.len() - 1];
            folders.contains(&"CloudTrail") && !folders.iter().any(|p| p.starts_with("CloudTrail-"))
        }
        None => true,
    }
}

/// The delivery time in a trail log file name
/// (`<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz`).
pub fn delivery_time(key: &str) -> Option<DateTime<Utc>> {
    let name = key.rsplit('/').next()?;
    name.split('_').find_map(|part| {
        (part.len() == 14 && part.ends_with('Z') && part.as_bytes().get(8) == Some(&b'T'))
            .then(|| NaiveDateTime::parse_from_str(part, "%Y%m%dT%H%MZ").ok())
            .flatten()
            .map(|t| t.and_utc())
    })
}

fn unreadable(key: &str, e: impl std::fmt::Display) -> LakeError {
    LakeError::InvalidImportSource(format!("cannot read {key}: {e}"))
}

impl Source {
    /// Every log file of the source, in key order.
    pub async fn list(&self) -> Result<Vec<SourceFile>, LakeError> {
        let keys: Vec<String> = match self {
            Source::S3 {
                storage,
                bucket,
                prefix,
            } => storage
                .list(bucket, prefix)
                .await
                .map_err(|e| {
                    LakeError::InvalidImportSource(format!(
                        "cannot list s3://{bucket}/{prefix}: {e}"
                    ))
                })?
                .into_iter()
                .map(|o| o.key)
                .collect(),
            Source::Local(root) => {
                let root = root.clone();
                tokio::task::spawn_blocking(move || walk(&root))
                    .await
                    .map_err(|e| LakeError::Internal(format!("listing panicked: {e}")))??
            }
        };
        let mut files: Vec<SourceFile> = keys
            .into_iter()
            .filter(|k| is_log_file(k))
            .map(|key| SourceFile {
                delivered: delivery_time(&key),
                key,
            })
            .collect();
        files.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(files)
    }

    /// The bytes of `key`. Blocking: called from the import's worker threads, with `rt` to
    /// reach async object stores.
    pub fn read(&self, key: &str, rt: &tokio::runtime::Handle) -> Result<Vec<u8>, LakeError> {
        match self {
            Source::S3 {
                storage, bucket, ..
            } => match rt.block_on(storage.get(bucket, key)) {
                Ok(Some(o)) => Ok(o.body.to_vec()),
                Ok(None) => Err(unreadable(key, "the object no longer exists")),
                Err(e) => Err(unreadable(key, e)),
            },
            Source::Local(root) => std::fs::read(root.join(key)).map_err(|e| unreadable(key, e)),
        }
    }
}

/// Files under `root`, as `/`-separated paths relative to it.
fn walk(root: &Path) -> Result<Vec<String>, LakeError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            LakeError::InvalidImportSource(format!("cannot list {}: {e}", dir.display()))
        })?;
        for e in entries.flatten() {
            let path = e.path();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && let Ok(rel) = path.strip_prefix(root)
            {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    Ok(out)
}

/// Why one file could not be imported: `ErrorType` and `ErrorMessage` of its failure entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// `ErrorType`.
    pub kind: &'static str,
    /// `ErrorMessage`.
    pub message: String,
}

#[derive(Deserialize)]
struct Document<'a> {
    #[serde(borrow, rename = "Records")]
    records: Vec<&'a RawValue>,
}

/// The JSON text of a log file: gunzipped when it is gzip (whatever its name says), as is
/// when it is a plain `.json` file.
pub fn decode(key: &str, bytes: Vec<u8>) -> Result<Vec<u8>, FileError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len().saturating_mul(8));
        MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| FileError {
                kind: "InvalidGzip",
                message: format!("{key} is not a readable gzip file: {e}"),
            })?;
        return Ok(out);
    }
    if key.ends_with(".gz") {
        return Err(FileError {
            kind: "InvalidGzip",
            message: format!("{key} is named .gz but is not gzip-compressed"),
        });
    }
    Ok(bytes)
}

/// The raw records of a trail log file's JSON text, borrowed from it.
pub fn records<'a>(key: &str, json: &'a [u8]) -> Result<Vec<&'a RawValue>, FileError> {
    serde_json::from_slice::<Document<'a>>(json)
        .map(|d| d.records)
        .map_err(|e| FileError {
            kind: "InvalidJson",
            message: format!("{key} is not a CloudTrail log file ({{\"Records\":[...]}}): {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_or_say_what_is_wrong() {
        assert_eq!(
            Location::parse("s3://my-logs/AWSLogs/1/").expect("s3"),
            Location::S3 {
                bucket: "my-logs".into(),
                prefix: "AWSLogs/1/".into()
            }
        );
        assert_eq!(
            Location::parse("s3://my-logs").expect("s3"),
            Location::S3 {
                bucket: "my-logs".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            Location::parse("file:///data/logs%20x").expect("file"),
            Location::Local("/data/logs x".into())
        );
        assert_eq!(
            Location::parse("/data/logs").expect("path"),
            Location::Local("/data/logs".into())
        );
        for bad in [
            "s3://",
            "s3://Bad_Bucket/x",
            "http://x/y",
            "relative/dir",
            "file://host/x",
            "/a/../b",
        ] {
            let e = Location::parse(bad).expect_err(bad);
            assert_eq!(e.code(), "InvalidImportSourceException", "{bad}");
        }
    }

    #[test]
    fn only_trail_log_files_are_taken() {
        for yes in [
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/123456789012_CloudTrail_us-east-1_20261120T0005Z_abc.json.gz",
            "AWSLogs/o-abc/123456789012/CloudTrail/eu-west-1/2026/11/20/x.json.gz",
            "exported/records.json",
        ] {
            assert!(is_log_file(yes), "{yes}");
        }
        for no in [
            "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/20/123456789012_CloudTrail-Digest_us-east-1_t_20261120T0005Z.json.gz",
            "AWSLogs/123456789012/CloudTrail-Insight/us-east-1/2026/11/20/x.json.gz",
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/notes.txt",
            "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/20/x.json.gz",
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/x.json.gz.tmp",
        ] {
            assert!(!is_log_file(no), "{no}");
        }
    }

    #[test]
    fn delivery_times_come_from_file_names() {
        let t = delivery_time("a/123456789012_CloudTrail_us-east-1_20261120T1005Z_Xyz01.json.gz")
            .expect("time");
        assert_eq!(t.to_rfc3339(), "2026-11-20T10:05:00+00:00");
        assert_eq!(delivery_time("a/records.json"), None);
    }

    #[test]
    fn files_decode_as_gzip_or_plain_json_and_name_their_failure() {
        use std::io::Write;
        let doc = br#"{"Records":[{"eventID":"a"},{"eventID":"b"}]}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(doc).expect("gz");
        let gz = gz.finish().expect("gz");
        let json = decode("x.json.gz", gz.clone()).expect("gunzip");
        assert_eq!(records("x", &json).expect("records").len(), 2);
        assert_eq!(decode("x.json", doc.to_vec()).expect("plain"), doc);
        assert_eq!(
            decode("x.json.gz", doc.to_vec())
                .expect_err("not gzip")
                .kind,
            "InvalidGzip"
        );
        assert_eq!(
            decode("x.json.gz", gz[..gz.len() / 2].to_vec())
                .expect_err("torn")
                .kind,
            "InvalidGzip"
        );
        assert_eq!(
            records("x", b"{\"Records\":{}}").expect_err("bad").kind,
            "InvalidJson"
        );
        assert_eq!(records("x", b"[1]").expect_err("bad").kind, "InvalidJson");
    }
}
