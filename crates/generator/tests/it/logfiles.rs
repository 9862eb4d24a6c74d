//! Log files are laid out exactly as a trail delivers them, hold every record once, and are
//! reproducible; NDJSON has one line per record.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;
use opentrail_generator::{Generator, LogFileOptions, write_log_files, write_ndjson};
use opentrail_model::{Record, time::parse_event_time};
use serde_json::Value;

use crate::{config, monday};

/// About 600 events around midnight, across the three regions.
fn records() -> Vec<Record> {
    static RECORDS: std::sync::LazyLock<Vec<Record>> = std::sync::LazyLock::new(|| {
        let start = monday() + chrono::Duration::hours(23) + chrono::Duration::minutes(30);
        Generator::new(config(31, 20_000.0))
            .events_between(start, start + chrono::Duration::hours(1))
            .collect()
    });
    RECORDS.clone()
}

fn files(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).expect("relative");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Checks a key against the AWS layout; returns its region and delivery time.
fn parse_key(key: &str) -> (String, chrono::DateTime<chrono::Utc>) {
    let parts: Vec<&str> = key.split('/').collect();
    assert_eq!(parts.len(), 8, "{key}");
    assert_eq!(
        &parts[..3],
        ["AWSLogs", "123456789012", "CloudTrail"],
        "{key}"
    );
    let region = parts[3];
    assert!(
        ["us-east-1", "us-west-2", "eu-west-1"].contains(&region),
        "{key}"
    );
    let digits = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
    assert!(
        digits(parts[4], 4) && digits(parts[5], 2) && digits(parts[6], 2),
        "{key}"
    );
    let name = parts[7];
    let prefix = format!("123456789012_CloudTrail_{region}_");
    let rest = name.strip_prefix(&prefix).expect("name prefix");
    let (stamp, rest) = rest.split_at(14);
    let unique = rest
        .strip_prefix('_')
        .and_then(|r| r.strip_suffix(".json.gz"))
        .expect("suffix");
    assert!(
        unique.len() == 16 && unique.chars().all(|c| c.is_ascii_alphanumeric()),
        "{name}"
    );
    assert!(
        digits(&stamp[..8], 8)
            && &stamp[8..9] == "T"
            && digits(&stamp[9..13], 4)
            && &stamp[13..] == "Z",
        "{name}"
    );
    assert_eq!(
        &stamp[..8],
        format!("{}{}{}", parts[4], parts[5], parts[6]),
        "date folders match the name"
    );
    let iso = format!(
        "{}-{}-{}T{}:{}:00Z",
        &stamp[..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13]
    );
    (region.to_owned(), parse_event_time(&iso).expect("stamp"))
}

#[test]
fn files_follow_the_aws_layout_and_hold_every_record_once() {
    let input = records();
    let dir = tempfile::tempdir().expect("tempdir");
    let summary =
        write_log_files(dir.path(), input.clone(), &LogFileOptions::default()).expect("write");
    let on_disk = files(dir.path());
    assert_eq!(summary.files as usize, on_disk.len());
    assert_eq!(summary.records as usize, input.len());
    assert_eq!(
        summary.keys.iter().cloned().collect::<BTreeSet<_>>(),
        on_disk.iter().cloned().collect()
    );

    let mut seen = BTreeSet::new();
    let mut regions = BTreeSet::new();
    for key in &on_disk {
        let (region, delivery) = parse_key(key);
        assert_eq!(
            delivery.timestamp() % 300,
            0,
            "delivery on a five-minute boundary"
        );
        regions.insert(region.clone());
        let bytes = std::fs::read(dir.path().join(key)).expect("read");
        // Exactly one gzip member: the decoder stops after it and nothing is left over.
        let mut decoder = GzDecoder::new(&bytes[..]);
        let mut text = String::new();
        decoder.read_to_string(&mut text).expect("gunzip");
        assert!(decoder.into_inner().is_empty(), "{key} has trailing data");
        let doc: Value = serde_json::from_str(&text).expect("json");
        let list = doc["Records"].as_array().expect("Records array");
        assert_eq!(doc.as_object().map(|o| o.len()), Some(1));
        assert!(!list.is_empty());
        for r in list {
            assert_eq!(
                r["awsRegion"],
                region.as_str(),
                "records sit in their region's folder"
            );
            let t = parse_event_time(r["eventTime"].as_str().expect("time")).expect("valid");
            assert!(
                t < delivery && t >= delivery - chrono::Duration::minutes(5),
                "{t} in {key}"
            );
            assert!(
                seen.insert(r["eventID"].as_str().expect("id").to_owned()),
                "duplicate record"
            );
        }
    }
    let expected: BTreeSet<String> = input.iter().filter_map(|r| r.event_id.clone()).collect();
    assert_eq!(seen, expected);
    assert_eq!(regions.len(), 3, "one folder per region");
    // The window ending at midnight is filed under the next day.
    assert!(
        on_disk
            .iter()
            .any(|k| k.contains("/2026/01/06/") && k.contains("_20260106T0000Z_"))
    );
}

#[test]
fn busy_windows_split_and_output_is_reproducible() {
    let input = records();
    let options = LogFileOptions {
        seed: 9,
        max_records_per_file: 25,
        ..LogFileOptions::default()
    };
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let sa = write_log_files(a.path(), input.clone(), &options).expect("write");
    let sb = write_log_files(b.path(), input.clone(), &options).expect("write");
    assert_eq!(sa, sb);
    for key in &sa.keys {
        let bytes = std::fs::read(a.path().join(key)).expect("read");
        assert_eq!(
            bytes,
            std::fs::read(b.path().join(key)).expect("read"),
            "{key}"
        );
        let mut text = String::new();
        GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .expect("gunzip");
        let doc: Value = serde_json::from_str(&text).expect("json");
        assert!(doc["Records"].as_array().is_some_and(|l| l.len() <= 25));
    }
    let unsplit = write_log_files(
        tempfile::tempdir().expect("tempdir").path(),
        input,
        &LogFileOptions::default(),
    )
    .expect("write");
    assert!(sa.files > unsplit.files);
    let other_seed = LogFileOptions {
        seed: 10,
        ..options
    };
    let sc = write_log_files(
        tempfile::tempdir().expect("tempdir").path(),
        records(),
        &other_seed,
    )
    .expect("write");
    assert_ne!(sa.keys, sc.keys, "the unique part comes from the seed");
}

#[test]
fn ndjson_has_one_record_per_line() {
    let input = records();
    let mut out = Vec::new();
    let n = write_ndjson(&mut out, input.clone()).expect("write");
    assert_eq!(n as usize, input.len());
    let text = String::from_utf8(out).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), input.len());
    for (line, record) in lines.iter().zip(&input) {
        let parsed: Record = serde_json::from_str(line).expect("record");
        assert_eq!(&parsed, record);
    }
}
