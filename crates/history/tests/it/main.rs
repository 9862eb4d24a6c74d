//! Integration tests of the history store: lookups against a brute-force filter of the same
//! events, through memtable, segments, compaction, restarts, retention and rebuilds.
#![allow(missing_docs)]

mod consumer;
mod lookup;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use opentrail_generator::{Generator, WorkloadConfig};
use opentrail_history::extract::extract;
use opentrail_history::{Attr, Category, Cursor, History, HistoryConfig, Query};
use opentrail_journal::Entry;

pub const ACCOUNT: &str = "123456789012";
pub const OTHER: &str = "999988887777";

pub fn small_config() -> HistoryConfig {
    HistoryConfig {
        memtable_max_events: 400,
        memtable_max_age: Duration::from_secs(3600),
        chunk_bytes: 8 * 1024,
        retention_days: 36500,
        ..HistoryConfig::default()
    }
}

/// Generated events as journal entries: a day of activity, plus some from another account
/// and some with event times out of order (as ingested old events are).
pub fn entries(n: usize) -> Vec<Entry> {
    let mut g = Generator::new(WorkloadConfig {
        seed: 5,
        events_per_day: n as f64 * 1.1,
        ..WorkloadConfig::default()
    });
    let start = simulated_day();
    let mut out = Vec::new();
    for (i, rec) in g
        .events_between(start, start + chrono::TimeDelta::days(1))
        .take(n)
        .enumerate()
    {
        let mut v = serde_json::to_value(&rec).expect("json");
        if i % 11 == 0 {
            v["recipientAccountId"] = OTHER.into();
        }
        if i % 17 == 0 {
            // An old event arriving late.
            let t = start - chrono::TimeDelta::hours((i % 40) as i64 + 1);
            v["eventTime"] = opentrail_model::time::format_event_time(t).into();
        }
        if i % 23 == 0 {
            // Same second as its neighbour: order falls back to the journal position.
            v["eventTime"] = out
                .last()
                .map(|e: &Entry| {
                    let p: serde_json::Value = serde_json::from_slice(&e.data).expect("json");
                    p["eventTime"].clone()
                })
                .unwrap_or(v["eventTime"].clone());
        }
        out.push(Entry {
            lsn: i as u64 + 1,
            timestamp_us: 0,
            data: serde_json::to_vec(&v).expect("json"),
        });
    }
    out
}

pub fn apply_all(h: &History, entries: &[Entry]) {
    for chunk in entries.chunks(97) {
        h.apply(chunk).expect("apply");
        if h.should_flush() {
            h.flush().expect("flush");
            h.compact().expect("compact");
        }
    }
}

/// The brute-force answer: every matching event, newest first.
pub fn brute(entries: &[Entry], q: &Query) -> Vec<(i64, u64)> {
    let pre: Vec<_> = entries
        .iter()
        .map(|e| (extract(&e.data, ACCOUNT, false), e.lsn))
        .collect();
    brute_pre(&pre, q)
}

/// [`brute`] over events extracted once.
pub fn brute_pre(
    pre: &[(Option<opentrail_history::extract::Extracted>, u64)],
    q: &Query,
) -> Vec<(i64, u64)> {
    let mut out: Vec<(i64, u64)> = pre
        .iter()
        .filter_map(|(x, lsn)| {
            let x = x.as_ref()?;
            let ok = x.account == q.account
                && x.region == q.region
                && x.category == q.category
                && x.time_ms >= q.start_ms
                && x.time_ms <= q.end_ms
                && match &q.filter {
                    None => true,
                    Some((Attr::EventId, v)) => x.event_id.as_deref() == Some(v.as_str()),
                    Some((a, v)) => x.values.iter().any(|(xa, xv)| xa == a && xv == v),
                };
            ok.then_some((x.time_ms, *lsn))
        })
        .collect();
    out.sort_by(|a, b| b.cmp(a));
    out
}

/// Asserts two result lists are equal without printing thousands of entries.
#[track_caller]
pub fn same(got: &[(i64, u64)], want: &[(i64, u64)], what: &str) {
    if got != want {
        let i = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "{what}: got {} results, want {}; first difference at {i}: got {:?}, want {:?}",
            got.len(),
            want.len(),
            got.get(i),
            want.get(i)
        );
    }
}

/// Every page of `q` with page size `limit`, as (time, lsn), checking page sizes.
pub fn paginate(h: &History, mut q: Query, limit: usize) -> Vec<(i64, u64)> {
    q.limit = limit;
    q.after = None;
    let mut out = Vec::new();
    loop {
        let page = h.lookup(&q, now_ms()).expect("lookup");
        assert!(page.events.len() <= limit);
        out.extend(page.events.iter().map(|e| (e.cursor.time_ms, e.cursor.lsn)));
        match page.next {
            Some(c) => {
                assert_eq!(page.events.len(), limit, "a page before the last is full");
                q.after = Some(c);
            }
            None => return out,
        }
    }
}

/// The day [`entries`] simulates: the last Friday before today (a working day, so the
/// generator's daily rhythm gives the counts tests ask for), recent enough that retention
/// measured against the wall clock (compaction drops expired rows) keeps every event.
pub fn simulated_day() -> chrono::DateTime<Utc> {
    use chrono::Datelike;
    let today = Utc::now().date_naive();
    let back = match (today.weekday().num_days_from_monday() + 7 - 4) % 7 {
        0 => 7,
        n => n,
    };
    let day = today - chrono::TimeDelta::days(i64::from(back));
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
}

/// "Now" for lookups: the end of the fifth day after [`simulated_day`].
pub fn now_ms() -> i64 {
    (simulated_day() + chrono::TimeDelta::days(5)).timestamp_millis()
}

pub fn query(region: &str, filter: Option<(Attr, &str)>) -> Query {
    Query {
        account: ACCOUNT.into(),
        region: region.into(),
        category: Category::Standard,
        filter: filter.map(|(a, v)| (a, v.to_owned())),
        start_ms: 0,
        end_ms: i64::MAX,
        after: None::<Cursor>,
        limit: 50,
    }
}
