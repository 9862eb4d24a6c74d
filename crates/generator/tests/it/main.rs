//! Integration tests of the generator: determinism, validity, the mix, the rhythm,
//! anomalies and the log-file layout.

mod anomalies;
mod determinism;
mod logfiles;
mod mix;
mod report;
mod rhythm;
mod validity;

use chrono::{DateTime, Utc};
use opentrail_generator::{Generator, WorkloadConfig};
use opentrail_model::Record;

/// Monday 2026-01-05 00:00:00 UTC.
pub fn monday() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_571_200, 0).expect("valid time")
}

/// A config with the given seed and daily volume, other settings default.
pub fn config(seed: u64, events_per_day: f64) -> WorkloadConfig {
    WorkloadConfig {
        seed,
        events_per_day,
        ..WorkloadConfig::default()
    }
}

/// Every event of one simulated week starting on Monday.
pub fn week(config: WorkloadConfig) -> Vec<Record> {
    let start = monday();
    Generator::new(config)
        .events_between(start, start + chrono::Duration::days(7))
        .collect()
}

/// 100k records: two workloads (seeds 2026 and 2027) of 50k over a week each, generated on
/// two threads and shared by the tests that inspect a large sample.
pub fn large_sample() -> &'static [Vec<Record>; 2] {
    static SAMPLE: std::sync::LazyLock<[Vec<Record>; 2]> = std::sync::LazyLock::new(|| {
        std::thread::scope(|s| {
            let other = s.spawn(|| week(config(2027, 50_000.0 / 7.0)));
            let first = week(config(2026, 50_000.0 / 7.0));
            [first, other.join().expect("generator thread")]
        })
    });
    &SAMPLE
}

/// A record's JSON as a `serde_json::Value`.
pub fn value(r: &Record) -> serde_json::Value {
    serde_json::from_slice(&r.to_json_vec()).expect("record JSON")
}
