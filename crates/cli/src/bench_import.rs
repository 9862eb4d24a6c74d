//! `opentrail bench import`: the import rate of AWS CloudTrail log files into an event data
//! store (the server's import engine, in-process: listing, reading, gunzip, parsing, dedup
//! and Delta commits), beside an anchor measured in the same run over the same files: GNU
//! `gzip -dc` decompressing them to nowhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{TimeDelta, Utc};
use opentrail_catalog::Catalog;
use opentrail_generator::{Generator, LogFileOptions, WorkloadConfig, write_log_files};
use opentrail_journal::{Journal, JournalConfig};
use opentrail_lake::import::{
    ImportSettings, ImportSource, ImportStatus, Imports, S3ImportSource, StartImport,
};
use opentrail_lake::stores::{CreateEventDataStore, EventDataStores};
use opentrail_lake::writer::{Lake, WriterSettings};
use serde_json::json;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// What to measure.
pub struct Options {
    /// Working directory (created; must not exist).
    pub dir: PathBuf,
    /// Events to generate as log files.
    pub events: usize,
    /// Runs of each measurement.
    pub runs: usize,
    /// Records per log file.
    pub per_file: usize,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Every `.json.gz` file under `dir`, and their total size.
fn log_files(dir: &Path) -> anyhow::Result<(Vec<PathBuf>, u64)> {
    let (mut files, mut bytes) = (Vec::new(), 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let e = e?;
            let meta = e.metadata()?;
            if meta.is_dir() {
                stack.push(e.path());
            } else if e.file_name().to_string_lossy().ends_with(".json.gz") {
                bytes += meta.len();
                files.push(e.path());
            }
        }
    }
    files.sort();
    Ok((files, bytes))
}

/// Seconds GNU gzip takes to decompress `files` (to /dev/null), in batches of arguments.
fn gzip_seconds(files: &[PathBuf]) -> anyhow::Result<f64> {
    let t = Instant::now();
    for chunk in files.chunks(2000) {
        let status = Command::new("gzip")
            .arg("-dc")
            .args(chunk)
            .stdout(Stdio::null())
            .status()
            .context("running gzip -dc (GNU gzip must be installed)")?;
        if !status.success() {
            bail!("gzip -dc failed: {status}");
        }
    }
    Ok(t.elapsed().as_secs_f64())
}

/// One import of `logs` into a fresh store under `work`; its seconds and events.
async fn import_once(work: &Path, logs: &Path) -> anyhow::Result<(f64, u64)> {
    std::fs::create_dir_all(work)?;
    let catalog = Arc::new(Catalog::open(&work.join("catalog.db"))?);
    let kms = Arc::new(opentrail_kms::Registry::open(
        work.join("kms"),
        None,
        ACCOUNT,
    )?);
    let stores = Arc::new(EventDataStores::new(catalog.clone(), kms, None));
    let (journal, _) = Journal::open(work.join("journal"), JournalConfig::default())?;
    let lake = Lake::new(
        work.join("tables"),
        journal.clone(),
        WriterSettings::default(),
    );
    let imports = Imports::new(
        catalog,
        stores.clone(),
        lake,
        work.join("imports"),
        Vec::new(),
        ImportSettings::default(),
    );
    let (store, _) = stores.create(
        ACCOUNT,
        REGION,
        CreateEventDataStore {
            name: "imported".into(),
            start_ingestion: Some(false),
            ..CreateEventDataStore::default()
        },
    )?;
    let t = Instant::now();
    let imp = imports
        .start(
            ACCOUNT,
            REGION,
            StartImport {
                destinations: Some(vec![store.arn]),
                import_source: Some(ImportSource {
                    s3: S3ImportSource {
                        s3_location_uri: logs.to_string_lossy().into_owned(),
                        s3_bucket_region: REGION.into(),
                        s3_bucket_access_role_arn: format!("arn:aws:iam::{ACCOUNT}:role/bench"),
                    },
                }),
                ..StartImport::default()
            },
        )
        .await?;
    imports.wait(&imp.id).await;
    let secs = t.elapsed().as_secs_f64();
    let done = imports.get(ACCOUNT, REGION, &imp.id)?;
    if done.status != ImportStatus::Completed {
        bail!("the import ended {:?}: {:?}", done.status, done.failures);
    }
    journal.shutdown().await;
    Ok((secs, done.stats.events_completed))
}

/// Runs the benchmark, printing one JSON object per line.
pub async fn run(o: Options) -> anyhow::Result<()> {
    if o.dir.exists() {
        bail!("{} exists; give a fresh directory", o.dir.display());
    }
    std::fs::create_dir_all(&o.dir)?;
    let dir = std::fs::canonicalize(&o.dir)?;
    let logs = dir.join("logs");
    let end = Utc::now() - TimeDelta::days(1);
    let mut generator = Generator::new(WorkloadConfig {
        seed: 17,
        events_per_day: o.events as f64 / 7.0 * 1.05,
        ..WorkloadConfig::default()
    });
    let summary = write_log_files(
        &logs,
        generator
            .events_between(end - TimeDelta::days(7), end)
            .take(o.events),
        &LogFileOptions {
            seed: 17,
            max_records_per_file: o.per_file,
            ..LogFileOptions::default()
        },
    )?;
    let (files, gz_bytes) = log_files(&logs)?;
    let events = summary.records;
    eprintln!(
        "import bench: {events} events in {} files ({:.1} MB gzip)",
        files.len(),
        gz_bytes as f64 / 1e6
    );
    let (mut ours, mut gzip) = (Vec::new(), Vec::new());
    for run in 0..o.runs.max(1) {
        let (secs, imported) = import_once(&dir.join(format!("run-{run}")), &logs).await?;
        if imported != events {
            bail!("run {run} imported {imported} events of {events}");
        }
        std::fs::remove_dir_all(dir.join(format!("run-{run}")))?;
        let g = gzip_seconds(&files)?;
        eprintln!(
            "run {run}: import {:.2} s ({:.0} events/s), gzip -dc {g:.2} s ({:.0} events/s)",
            secs,
            events as f64 / secs,
            events as f64 / g
        );
        ours.push(secs);
        gzip.push(g);
    }
    let (o_med, g_med) = (median(&ours), median(&gzip));
    println!(
        "{}",
        json!({
            "bench": "import",
            "events": events,
            "files": files.len(),
            "gzip_bytes": gz_bytes,
            "runs": ours.len(),
            "import_seconds_median": o_med,
            "import_events_per_sec": events as f64 / o_med,
            "import_mb_per_sec_gzip": gz_bytes as f64 / 1e6 / o_med,
            "gzip_dc_seconds_median": g_med,
            "gzip_dc_events_per_sec": events as f64 / g_med,
            "import_over_gzip_dc": g_med / o_med,
            "workers": ImportSettings::default().workers,
        })
    );
    Ok(())
}
