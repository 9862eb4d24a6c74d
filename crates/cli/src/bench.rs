//! `opentrail bench`: the measurements behind BENCHMARKS.md. Each prints one JSON object per
//! line so that `benches/foundation.sh` can put the figures beside their anchors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use opentrail_generator::{Generator, WorkloadConfig};
use serde_json::json;

use crate::client::{SignedClient, Target};

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Native ingest end to end against a running server (NDJSON batches, durable commits).
    Ingest(IngestBench),
    /// Journal appends alone (no HTTP, no parsing), with concurrent writers.
    Journal(JournalBench),
    /// Parse rates of the same records: full serde_json::Value, and ingest validation.
    Parse(ParseBench),
    /// Event history: index build rate, disk use, and LookupEvents latency per attribute.
    History(HistoryBench),
    /// Trail delivery: throughput for one and five trails, latency, gzip beside GNU gzip.
    Trails(TrailsBench),
    /// CloudTrail Lake: write rate into a store's Delta table, bytes per event beside gzip
    /// JSON log files, and typical queries through StartQuery.
    Lake(LakeBench),
    /// Import of AWS log files into an event data store beside GNU `gzip -dc` over the same
    /// files.
    Import(ImportBench),
}

#[derive(Args)]
struct ImportBench {
    /// Working directory (created; must not exist).
    #[arg(long)]
    dir: std::path::PathBuf,
    /// Events to generate as AWS log files.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Runs (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Records per log file.
    #[arg(long, default_value_t = 1000)]
    per_file: usize,
}

#[derive(Args)]
struct LakeBench {
    /// Working directory (created; must not exist). The table, the log files and the
    /// queries with opentrail's answers stay there for `benches/lake_duckdb.py`.
    #[arg(long)]
    dir: std::path::PathBuf,
    /// Events to generate and write into the store.
    #[arg(long, default_value_t = 10_000_000)]
    events: usize,
    /// Runs of each query.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Events appended to the journal before each consumer pass (bounds the journal's disk use).
    #[arg(long, default_value_t = 1_000_000)]
    chunk: usize,
}

#[derive(Args)]
struct TrailsBench {
    /// Working directory (created; must not exist).
    #[arg(long)]
    dir: std::path::PathBuf,
    /// Events in the journal for the throughput runs.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
}

#[derive(Args)]
struct HistoryBench {
    /// Directory for the history store (created; must not exist).
    #[arg(long)]
    dir: std::path::PathBuf,
    /// Events to index.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Also write the same events, with their indexed columns, as NDJSON here (for the DuckDB
    /// anchor), and the query set as JSON next to it.
    #[arg(long)]
    export: Option<std::path::PathBuf>,
    /// Queries per class.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// zstd level of record chunks (default: the store's default).
    #[arg(long)]
    compression_level: Option<i32>,
    /// Uncompressed bytes per record chunk (default: the store's default).
    #[arg(long)]
    chunk_bytes: Option<usize>,
}

#[derive(Args)]
struct IngestBench {
    /// Server endpoint.
    #[arg(long, default_value = "http://127.0.0.1:4599")]
    endpoint: String,
    /// Events to send in total.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Records per request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Fixed offered load in events/s (open loop); omit to send as fast as the server takes.
    #[arg(long)]
    rate: Option<f64>,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key_id: String,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
}

#[derive(Args)]
struct JournalBench {
    /// Directory for the journal (created; must be empty or absent).
    #[arg(long)]
    dir: std::path::PathBuf,
    /// Events to append.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Events per append.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent writers.
    #[arg(long, default_value_t = 8)]
    writers: usize,
}

#[derive(Args)]
struct ParseBench {
    /// Events to parse.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchCommand::Ingest(a) => ingest(a).await,
        BenchCommand::Journal(a) => journal(a).await,
        BenchCommand::Parse(a) => parse(a),
        BenchCommand::Trails(a) => crate::bench_trails::run(a.events, a.dir).await,
        BenchCommand::Import(a) => {
            crate::bench_import::run(crate::bench_import::Options {
                dir: a.dir,
                events: a.events,
                runs: a.runs,
                per_file: a.per_file,
            })
            .await
        }
        BenchCommand::Lake(a) => {
            crate::bench_lake::run(crate::bench_lake::Options {
                dir: a.dir,
                events: a.events,
                runs: a.runs,
                chunk: a.chunk,
            })
            .await
        }
        BenchCommand::History(a) => {
            let mut cfg = opentrail_history::HistoryConfig::default();
            if let Some(l) = a.compression_level {
                cfg.compression_level = l;
            }
            if let Some(c) = a.chunk_bytes {
                cfg.chunk_bytes = c;
            }
            crate::bench_history::run(a.dir, a.events, a.export, a.queries, cfg)
        }
    }
}

/// `n` generated records as compact JSON, from a fixed seed.
fn records(n: usize) -> Vec<Vec<u8>> {
    let mut g = Generator::new(WorkloadConfig {
        seed: 42,
        ..WorkloadConfig::default()
    });
    let start = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    (0..n)
        .map(|i| {
            g.event_at(start + chrono::TimeDelta::milliseconds(i as i64))
                .to_json_vec()
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn ingest(a: IngestBench) -> anyhow::Result<()> {
    let recs = records(a.events);
    let bytes: usize = recs.iter().map(|r| r.len() + 1).sum();
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        recs.chunks(a.batch.max(1))
            .map(|c| {
                let mut b = Vec::with_capacity(c.iter().map(|r| r.len() + 1).sum());
                for r in c {
                    b.extend_from_slice(r);
                    b.push(b'\n');
                }
                b
            })
            .collect(),
    );
    drop(recs);
    let client = SignedClient::new(Target {
        endpoint: a.endpoint.clone(),
        access_key_id: a.access_key_id.clone(),
        secret_access_key: a.secret_access_key.clone(),
        region: "us-east-1".into(),
    })?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let interval = a.rate.map(|r| Duration::from_secs_f64(a.batch as f64 / r));
    let mut tasks = Vec::new();
    for _ in 0..a.clients.max(1) {
        let (client, bodies, next) = (client.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut accepted = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                if let Some(iv) = interval {
                    // Open loop: request i is due at i * interval, whether or not earlier ones finished.
                    let due = started + iv * i as u32;
                    tokio::time::sleep_until(due.into()).await;
                }
                let t = Instant::now();
                let out = client.ingest_ndjson(body.clone()).await?;
                lat.push(t.elapsed());
                accepted += out.accepted;
                if out.refused > 0 {
                    anyhow::bail!("the server refused records: {:?}", out.first_error);
                }
            }
            Ok::<_, anyhow::Error>((lat, accepted))
        }));
    }
    let mut lat = Vec::new();
    let mut accepted = 0;
    for t in tasks {
        let (l, n) = t.await.context("client task")??;
        lat.extend(l);
        accepted += n;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    println!(
        "{}",
        json!({
            "bench": "ingest", "events": accepted, "batch": a.batch, "clients": a.clients,
            "offered_rate": a.rate, "seconds": secs, "events_per_sec": accepted as f64 / secs,
            "mb_per_sec": bytes as f64 / secs / 1e6, "bytes_per_event": bytes as f64 / a.events.max(1) as f64,
            "latency_ms": {"p50": percentile(&lat, 0.5), "p99": percentile(&lat, 0.99), "max": percentile(&lat, 1.0)},
        })
    );
    Ok(())
}

async fn journal(a: JournalBench) -> anyhow::Result<()> {
    let recs = records(a.events);
    let bytes: usize = recs.iter().map(Vec::len).sum();
    let batches: Vec<Vec<Vec<u8>>> = recs
        .chunks(a.batch.max(1))
        .map(<[Vec<u8>]>::to_vec)
        .collect();
    drop(recs);
    let (j, _) =
        opentrail_journal::Journal::open(&a.dir, opentrail_journal::JournalConfig::default())?;
    let queue = Arc::new(std::sync::Mutex::new(batches));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.writers.max(1) {
        let (j, queue) = (j.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let next = queue.lock().map(|mut q| q.pop()).ok().flatten();
                let Some(batch) = next else { break };
                let t = Instant::now();
                j.append(batch).await?;
                lat.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.context("writer task")??);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let stats = j.stats();
    j.shutdown().await;
    println!(
        "{}",
        json!({
            "bench": "journal", "events": a.events, "batch": a.batch, "writers": a.writers, "seconds": secs,
            "events_per_sec": a.events as f64 / secs, "mb_per_sec": bytes as f64 / secs / 1e6,
            "commits": stats.commits, "fsyncs": stats.fsyncs, "appends_per_commit": stats.appends as f64 / stats.commits.max(1) as f64,
            "latency_ms": {"p50": percentile(&lat, 0.5), "p99": percentile(&lat, 0.99)},
        })
    );
    Ok(())
}

fn parse(a: ParseBench) -> anyhow::Result<()> {
    let recs = records(a.events);
    let bytes: usize = recs.iter().map(Vec::len).sum();
    let t = Instant::now();
    let mut n = 0usize;
    for r in &recs {
        let v: serde_json::Value = serde_json::from_slice(r)?;
        n += v.as_object().map(|o| o.len()).unwrap_or(0);
    }
    let value_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for r in &recs {
        let text = std::str::from_utf8(r)?;
        let valid =
            opentrail_model::validate_incoming(text).map_err(|e| anyhow::anyhow!(e.message))?;
        n += valid.to_bytes().len() & 1;
    }
    let validate_secs = t.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "bench": "parse", "events": a.events, "bytes": bytes, "checksum": n,
            "serde_value_mb_per_sec": bytes as f64 / value_secs / 1e6,
            "serde_value_events_per_sec": a.events as f64 / value_secs,
            "ingest_validate_mb_per_sec": bytes as f64 / validate_secs / 1e6,
            "ingest_validate_events_per_sec": a.events as f64 / validate_secs,
        })
    );
    Ok(())
}
