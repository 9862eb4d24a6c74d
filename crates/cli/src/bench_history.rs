//! `opentrail bench history`: builds an event history of N generated events, then measures
//! LookupEvents latency per lookup attribute (first page and a deep page), the index build
//! rate and the disk bytes per event. With `--export` it also writes the same events with
//! their indexed columns as NDJSON, and the query set with opentrail's answers, for the DuckDB
//! anchor (`benches/history_duckdb.py`) to replay.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{TimeDelta, Utc};
use opentrail_generator::{Generator, WorkloadConfig};
use opentrail_history::extract::{Extracted, extract};
use opentrail_history::{Attr, Category, Cursor, History, HistoryConfig, Query};
use opentrail_journal::Entry;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// Reservoir samples of (value, cursor) per attribute over the home region's events.
struct Samples {
    rng: rand_chacha::ChaCha8Rng,
    seen: HashMap<Attr, u64>,
    picked: HashMap<Attr, Vec<(String, Cursor)>>,
    cap: usize,
}

impl Samples {
    fn offer(&mut self, attr: Attr, value: &str, cursor: Cursor) {
        let n = self.seen.entry(attr).or_default();
        *n += 1;
        let list = self.picked.entry(attr).or_default();
        if list.len() < self.cap {
            list.push((value.to_owned(), cursor));
        } else {
            let j = self.rng.random_range(0..*n);
            if (j as usize) < self.cap {
                list[j as usize] = (value.to_owned(), cursor);
            }
        }
    }
}

fn columns(lsn: u64, x: &Extracted, json: &[u8]) -> Value {
    let vals = |a: Attr| -> Vec<&str> {
        x.values
            .iter()
            .filter(|(k, _)| *k == a)
            .map(|(_, v)| v.as_ref())
            .collect()
    };
    let one = |a: Attr| {
        vals(a)
            .first()
            .map(|s| Value::from(*s))
            .unwrap_or(Value::Null)
    };
    json!({
        "lsn": lsn, "time_ms": x.time_ms, "account": x.account, "region": x.region,
        "category": x.category as u8, "event_id": x.event_id, "event_name": one(Attr::EventName),
        "read_only": one(Attr::ReadOnly), "username": one(Attr::Username),
        "resource_types": vals(Attr::ResourceType), "resource_names": vals(Attr::ResourceName),
        "event_source": one(Attr::EventSource), "access_key": one(Attr::AccessKeyId),
        "json": String::from_utf8_lossy(json),
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

pub fn run(
    dir: PathBuf,
    events: u64,
    export: Option<PathBuf>,
    queries: usize,
    config: HistoryConfig,
) -> anyhow::Result<()> {
    if dir.exists() {
        bail!("{} exists; give a fresh directory", dir.display());
    }
    let (history, _) = History::open(&dir, config)?;
    let now = Utc::now();
    let (start, end) = (now - TimeDelta::days(31), now - TimeDelta::days(1));
    let workload = WorkloadConfig {
        seed: 77,
        events_per_day: events as f64 / 30.0 * 1.05,
        ..WorkloadConfig::default()
    };
    let mut generator = Generator::new(workload.clone());
    let mut samples = Samples {
        rng: rand_chacha::ChaCha8Rng::seed_from_u64(9),
        seen: HashMap::new(),
        picked: HashMap::new(),
        cap: queries,
    };
    let mut index_time = Duration::ZERO;
    let (mut apply_time, mut flush_time, mut compact_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut lsn = 0u64;
    let mut bytes = 0u64;
    let started = Instant::now();
    let mut iter = generator
        .events_between(start, end)
        .take(events as usize)
        .peekable();
    // Events are generated 200,000 at a time, then indexed as a consumer would receive them
    // (batches of 4,096), so that only indexing is timed and generation does not share its caches.
    while iter.peek().is_some() {
        let mut pending = Vec::with_capacity(200_000);
        for rec in iter.by_ref().take(200_000) {
            lsn += 1;
            let data = rec.to_json_vec();
            bytes += data.len() as u64;
            if let Some(x) = extract(&data, ACCOUNT, false)
                && x.region == REGION
                && x.category == Category::Standard
            {
                let c = Cursor {
                    time_ms: x.time_ms,
                    lsn,
                };
                samples.offer(Attr::All, "", c);
                for (a, v) in &x.values {
                    if *a != Attr::All {
                        samples.offer(*a, v, c);
                    }
                }
                if let Some(id) = &x.event_id {
                    samples.offer(Attr::EventId, id, c);
                }
            }
            pending.push(Entry {
                lsn,
                timestamp_us: 0,
                data,
            });
        }
        for batch in pending.chunks(4096) {
            let t = Instant::now();
            history.apply(batch)?;
            apply_time += t.elapsed();
            if history.should_flush() {
                let f = Instant::now();
                history.flush()?;
                flush_time += f.elapsed();
                let c = Instant::now();
                history.compact()?;
                compact_time += c.elapsed();
            }
            index_time += t.elapsed();
        }
        if lsn % 1_000_000 < 200_000 {
            eprintln!(
                "indexed {lsn} events ({:.0} events/s indexing)",
                lsn as f64 / index_time.as_secs_f64()
            );
        }
    }
    let t = Instant::now();
    history.flush()?;
    history.compact()?;
    index_time += t.elapsed();
    let stats = history.stats();
    let wall = started.elapsed();

    // Lookups: every class, first page (newest 50) and a deep page (from a sampled position).
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut results = serde_json::Map::new();
    let mut replay = Vec::new();
    let now_ms = Utc::now().timestamp_millis();
    let classes: Vec<(&str, Attr)> = std::iter::once(("TimeRange", Attr::All))
        .chain(Attr::LOOKUP_KEYS.iter().map(|(k, a)| (*k, *a)))
        .collect();
    for (name, attr) in classes {
        let picks = samples.picked.get(&attr).cloned().unwrap_or_default();
        let all_cursors = samples.picked.get(&Attr::All).cloned().unwrap_or_default();
        let (mut first, mut deep, mut returned) = (Vec::new(), Vec::new(), 0usize);
        for (value, cursor) in &picks {
            let mut q = Query {
                account: ACCOUNT.into(),
                region: REGION.into(),
                category: Category::Standard,
                filter: (attr != Attr::All).then(|| (attr, value.clone())),
                start_ms: now_ms - 90 * 86_400_000,
                end_ms: now_ms,
                after: None,
                limit: 50,
            };
            let t = Instant::now();
            let page = history.lookup(&q, now_ms)?;
            first.push(t.elapsed());
            returned += page.events.len();
            replay.push(json!({"class": name, "page": "first", "attr": attr as u8, "value": value, "start_ms": q.start_ms,
                "end_ms": q.end_ms, "after": null, "lsns": page.events.iter().map(|e| e.cursor.lsn).collect::<Vec<_>>()}));
            // A deep page starts at a sampled event of this query (for time-range queries, at a
            // random event anywhere): what a NextToken far into the results holds.
            let deep_at = if attr == Attr::All {
                all_cursors
                    .get(rng.random_range(0..all_cursors.len().max(1)))
                    .map(|c| c.1)
                    .unwrap_or(*cursor)
            } else {
                *cursor
            };
            q.after = Some(deep_at);
            let t = Instant::now();
            let page = history.lookup(&q, now_ms)?;
            deep.push(t.elapsed());
            replay.push(json!({"class": name, "page": "deep", "attr": attr as u8, "value": value, "start_ms": q.start_ms,
                "end_ms": q.end_ms, "after": {"time_ms": deep_at.time_ms, "lsn": deep_at.lsn},
                "lsns": page.events.iter().map(|e| e.cursor.lsn).collect::<Vec<_>>()}));
        }
        first.sort();
        deep.sort();
        results.insert(name.into(), json!({
            "queries": picks.len(), "mean_first_page_events": returned as f64 / picks.len().max(1) as f64,
            "first_p50_ms": percentile(&first, 0.5), "first_p99_ms": percentile(&first, 0.99),
            "deep_p50_ms": percentile(&deep, 0.5), "deep_p99_ms": percentile(&deep, 0.99),
        }));
    }
    if let Some(dir) = &export {
        // The same events again (same seed and period), written after the measurements so that
        // writing gigabytes of NDJSON does not disturb them.
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("queries.json"), serde_json::to_vec(&replay)?)
            .context("writing queries")?;
        let mut w = std::io::BufWriter::with_capacity(
            1 << 22,
            std::fs::File::create(dir.join("events.ndjson"))?,
        );
        let mut again = Generator::new(workload);
        for (i, rec) in again
            .events_between(start, end)
            .take(events as usize)
            .enumerate()
        {
            let data = rec.to_json_vec();
            if let Some(x) = extract(&data, ACCOUNT, false) {
                serde_json::to_writer(&mut w, &columns(i as u64 + 1, &x, &data))?;
                w.write_all(b"\n")?;
            }
        }
        w.flush()?;
    }
    println!(
        "{}",
        json!({
            "bench": "history", "events": lsn, "json_bytes": bytes, "indexed_events": stats.segment_events,
            "index_seconds": index_time.as_secs_f64(), "index_events_per_sec": lsn as f64 / index_time.as_secs_f64(),
            "apply_seconds": apply_time.as_secs_f64(), "flush_seconds": flush_time.as_secs_f64(), "compact_seconds": compact_time.as_secs_f64(),
            "wall_seconds_with_generation": wall.as_secs_f64(), "segments": stats.segments,
            "disk_bytes": stats.disk_bytes, "disk_bytes_per_event": stats.disk_bytes as f64 / lsn as f64,
            "disk_bytes_per_indexed_event": stats.disk_bytes as f64 / stats.segment_events.max(1) as f64,
            "lookups": results,
        })
    );
    Ok(())
}
