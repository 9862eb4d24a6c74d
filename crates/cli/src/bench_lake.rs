//! `opentrail bench lake`: N generated events written into one event data store's Delta table
//! by the lake's journal consumer (the server's path), the write rate and the table's bytes per
//! event beside the same events as AWS-format gzip JSON log files, then typical CloudTrail Lake
//! queries through the query service (StartQuery until FINISHED), several runs each. It leaves
//! the table, the log files and the queries with opentrail's answers in the working directory
//! for the DuckDB anchor (`benches/lake_duckdb.py`) to run the same queries over the same bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, TimeDelta, Utc};
use opentrail_generator::{Generator, LogFileOptions, WorkloadConfig, write_log_files};
use opentrail_journal::{Journal, JournalConfig};
use opentrail_lake::query::{Queries, QueryRecord, QueryStatus, QueryableStore};
use opentrail_lake::schema;
use opentrail_lake::tables::TableKind;
use opentrail_lake::writer::{Lake, StoreSpec, WriterSettings};
use opentrail_model::selectors::{AdvancedEventSelector, AdvancedFieldSelector};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
/// The event data store's id (the UUID ending its ARN), as a statement names it.
const STORE: &str = "8c0e3b1a-5d2f-4e6a-9b7c-1f2e3d4c5b6a";
/// Events the row-conversion breakdown is timed over.
const BREAKDOWN_EVENTS: usize = 100_000;

/// The queries: a name, then the statement as a CloudTrail Lake user writes it. `{eds}` is
/// the store's id; `{key}`, `{role}`, `{bucket}`, `{event_id}`, `{week_start}`, `{day_start}`,
/// `{day_end}` are filled in from the data (see [`params`]). `benches/lake_duckdb.py` holds
/// the same queries for DuckDB under the same names.
pub const QUERIES: &[(&str, &str)] = &[
    (
        "top_apis",
        "SELECT eventsource, eventname, COUNT(*) AS calls FROM {eds} \
         GROUP BY eventsource, eventname ORDER BY calls DESC, eventsource, eventname LIMIT 10",
    ),
    (
        "errors_by_user",
        "SELECT useridentity.arn AS principal, COUNT(*) AS errors FROM {eds} \
         WHERE errorcode IS NOT NULL GROUP BY useridentity.arn \
         ORDER BY errors DESC, principal NULLS LAST LIMIT 10",
    ),
    (
        "top_error_codes",
        "SELECT errorcode, eventsource, COUNT(*) AS errors FROM {eds} WHERE errorcode IS NOT NULL \
         GROUP BY errorcode, eventsource ORDER BY errors DESC, errorcode, eventsource LIMIT 20",
    ),
    (
        "access_key_activity",
        "SELECT eventsource, eventname, sourceipaddress, COUNT(*) AS calls, MIN(eventtime) AS first_seen, \
         MAX(eventtime) AS last_seen FROM {eds} \
         WHERE useridentity.accesskeyid = '{key}' AND eventtime >= '{week_start}' \
         GROUP BY eventsource, eventname, sourceipaddress \
         ORDER BY calls DESC, eventsource, eventname, sourceipaddress LIMIT 50",
    ),
    (
        "console_logins_without_mfa",
        "SELECT useridentity.arn AS principal, sourceipaddress, COUNT(*) AS logins FROM {eds} \
         WHERE eventname = 'ConsoleLogin' AND additionaleventdata['MFAUsed'] = 'No' \
         AND responseelements['ConsoleLogin'] = 'Success' \
         GROUP BY useridentity.arn, sourceipaddress \
         ORDER BY logins DESC, principal NULLS LAST, sourceipaddress LIMIT 20",
    ),
    (
        "role_writes_without_mfa",
        "SELECT useridentity.sessioncontext.sessionissuer.username AS role, eventname, COUNT(*) AS calls \
         FROM {eds} WHERE useridentity.type = 'AssumedRole' \
         AND useridentity.sessioncontext.attributes.mfaauthenticated = 'false' \
         AND readonly = false AND managementevent = true \
         GROUP BY useridentity.sessioncontext.sessionissuer.username, eventname \
         ORDER BY calls DESC, role NULLS LAST, eventname LIMIT 20",
    ),
    (
        "failed_console_logins",
        "SELECT sourceipaddress, useridentity.username AS username, COUNT(*) AS failures FROM {eds} \
         WHERE eventname = 'ConsoleLogin' AND errormessage = 'Failed authentication' \
         GROUP BY sourceipaddress, useridentity.username \
         ORDER BY failures DESC, sourceipaddress, username NULLS LAST LIMIT 20",
    ),
    (
        "ip_range",
        "SELECT sourceipaddress, useridentity.arn AS principal, COUNT(*) AS calls FROM {eds} \
         WHERE sourceipaddress LIKE '198.51.100.%' GROUP BY sourceipaddress, useridentity.arn \
         ORDER BY calls DESC, sourceipaddress, principal NULLS LAST LIMIT 20",
    ),
    (
        "resources_of_role",
        "SELECT r['type'] AS resource_type, r['arn'] AS resource_arn, COUNT(*) AS calls \
         FROM (SELECT unnest(resources) AS r FROM {eds} \
         WHERE useridentity.sessioncontext.sessionissuer.arn = '{role}') AS touched \
         GROUP BY r['type'], r['arn'] \
         ORDER BY calls DESC, resource_type NULLS LAST, resource_arn NULLS LAST LIMIT 20",
    ),
    (
        "hourly_counts",
        "SELECT date_trunc('hour', eventtime) AS hour, COUNT(*) AS events, COUNT(errorcode) AS errors \
         FROM {eds} WHERE eventtime >= '{day_start}' AND eventtime < '{day_end}' \
         GROUP BY date_trunc('hour', eventtime) ORDER BY hour",
    ),
    (
        "distinct_users_per_source",
        "SELECT eventsource, COUNT(DISTINCT useridentity.arn) AS principals, COUNT(*) AS events \
         FROM {eds} GROUP BY eventsource ORDER BY principals DESC, eventsource",
    ),
    (
        "bucket_activity",
        "SELECT eventname, useridentity.arn AS principal, COUNT(*) AS calls FROM {eds} \
         WHERE eventsource = 's3.amazonaws.com' AND requestparameters['bucketName'] = '{bucket}' \
         GROUP BY eventname, useridentity.arn ORDER BY calls DESC, eventname, principal NULLS LAST LIMIT 20",
    ),
    (
        "root_activity",
        "SELECT eventname, sourceipaddress, COUNT(*) AS calls FROM {eds} \
         WHERE useridentity.type = 'Root' GROUP BY eventname, sourceipaddress \
         ORDER BY calls DESC, eventname, sourceipaddress",
    ),
    (
        "event_by_id",
        "SELECT eventtime, eventsource, eventname, useridentity.arn AS principal, sourceipaddress \
         FROM {eds} WHERE eventid = '{event_id}'",
    ),
];

/// What `bench lake` is told.
pub struct Options {
    /// Working directory (created; must not exist).
    pub dir: PathBuf,
    /// Events to generate.
    pub events: usize,
    /// Runs of each query.
    pub runs: usize,
    /// Events appended to the journal before each consumer pass.
    pub chunk: usize,
}

/// The store's selectors: every management and data event.
fn spec(ingesting: bool) -> StoreSpec {
    StoreSpec {
        id: STORE.into(),
        account: ACCOUNT.into(),
        region: REGION.into(),
        multi_region: true,
        selectors: vec![AdvancedEventSelector {
            name: Some("all events".into()),
            field_selectors: vec![AdvancedFieldSelector {
                field: "eventCategory".into(),
                equals: Some(vec!["Management".into(), "Data".into()]),
                ..AdvancedFieldSelector::default()
            }],
        }],
        ingesting,
        kind: TableKind::Events,
        channels: Vec::new(),
    }
}

fn workload(events: usize) -> WorkloadConfig {
    WorkloadConfig {
        seed: 91,
        events_per_day: events as f64 / 30.0 * 1.05,
        ..WorkloadConfig::default()
    }
}

/// Bytes and count of the files under `dir` whose name ends with `suffix`.
fn files_under(dir: &Path, suffix: &str) -> anyhow::Result<(u64, u64)> {
    let (mut bytes, mut count) = (0, 0);
    if !dir.exists() {
        return Ok((0, 0));
    }
    for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let e = e?;
        let meta = e.metadata()?;
        if meta.is_dir() {
            let (b, c) = files_under(&e.path(), suffix)?;
            bytes += b;
            count += c;
        } else if e.file_name().to_string_lossy().ends_with(suffix) {
            bytes += meta.len();
            count += 1;
        }
    }
    Ok((bytes, count))
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

fn geomean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    (v.iter().map(|x| x.max(1e-9).ln()).sum::<f64>() / v.len() as f64).exp()
}

/// Runs `sql` through StartQuery and waits for it to end; returns the record and the time
/// from StartQuery to FINISHED as the caller sees it.
async fn run_query(queries: &Arc<Queries>, sql: &str) -> anyhow::Result<(QueryRecord, Duration)> {
    let stores = [QueryableStore {
        id: STORE.into(),
        arn: format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:eventdatastore/{STORE}"),
        active: true,
        kind: TableKind::Events,
    }];
    let t = Instant::now();
    let id = queries
        .start(ACCOUNT, REGION, sql, &stores, None)
        .await
        .with_context(|| format!("StartQuery {sql}"))?;
    loop {
        let q = queries.get(ACCOUNT, &id)?;
        match q.status {
            QueryStatus::Queued | QueryStatus::Running => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            QueryStatus::Finished => return Ok((q, t.elapsed())),
            other => bail!("query {sql} ended {}: {:?}", other.as_str(), q.error),
        }
    }
}

/// The first column of the first row of `sql`'s answer.
async fn first_value(queries: &Arc<Queries>, sql: &str) -> anyhow::Result<String> {
    let (q, _) = run_query(queries, &sql.replace("{eds}", STORE)).await?;
    q.rows
        .first()
        .and_then(|r| r.first())
        .cloned()
        .with_context(|| format!("no answer to {sql}"))
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The values the queries look for, chosen from the data: the busiest long-term access key,
/// the busiest role, the busiest bucket, the event in the middle of the stream, the last week
/// and the busiest day of the period.
async fn params(
    queries: &Arc<Queries>,
    event_id: &str,
    end: DateTime<Utc>,
) -> anyhow::Result<serde_json::Map<String, Value>> {
    let key = first_value(
        queries,
        "SELECT useridentity.accesskeyid, COUNT(*) AS c FROM {eds} WHERE useridentity.accesskeyid LIKE 'AKIA%' \
         GROUP BY useridentity.accesskeyid ORDER BY c DESC, useridentity.accesskeyid LIMIT 1",
    )
    .await?;
    let role = first_value(
        queries,
        "SELECT useridentity.sessioncontext.sessionissuer.arn AS role, COUNT(*) AS c FROM {eds} \
         WHERE useridentity.type = 'AssumedRole' AND resources IS NOT NULL \
         GROUP BY useridentity.sessioncontext.sessionissuer.arn ORDER BY c DESC, role LIMIT 1",
    )
    .await?;
    let bucket = first_value(
        queries,
        "SELECT requestparameters['bucketName'] AS b, COUNT(*) AS c FROM {eds} \
         WHERE eventsource = 's3.amazonaws.com' AND requestparameters['bucketName'] IS NOT NULL \
         GROUP BY requestparameters['bucketName'] ORDER BY c DESC, b LIMIT 1",
    )
    .await?;
    let day = first_value(
        queries,
        "SELECT date_trunc('day', eventtime) AS d, COUNT(*) AS c FROM {eds} \
         GROUP BY date_trunc('day', eventtime) ORDER BY c DESC, d LIMIT 1",
    )
    .await?;
    let day_start = day.get(..10).unwrap_or_default().to_owned() + " 00:00:00";
    let day_end = chrono::NaiveDate::parse_from_str(&day_start[..10], "%Y-%m-%d")
        .with_context(|| format!("the busiest day {day:?}"))?
        .succ_opt()
        .context("day after")?
        .format("%Y-%m-%d 00:00:00")
        .to_string();
    let mut p = serde_json::Map::new();
    p.insert("key".into(), key.into());
    p.insert("role".into(), role.into());
    p.insert("bucket".into(), bucket.into());
    p.insert("event_id".into(), event_id.into());
    p.insert(
        "week_start".into(),
        fmt_time(end - TimeDelta::days(7)).into(),
    );
    p.insert("day_start".into(), day_start.into());
    p.insert("day_end".into(), day_end.into());
    Ok(p)
}

fn fill(template: &str, params: &serde_json::Map<String, Value>) -> String {
    let mut sql = template.replace("{eds}", STORE);
    for (k, v) in params {
        sql = sql.replace(&format!("{{{k}}}"), v.as_str().unwrap_or_default());
    }
    sql
}

/// Times the two CPU steps of the consumer's row building on one core: record JSON to a row
/// (`schema::row`) and rows to an Arrow batch (`schema::batch`).
fn breakdown(records: &[Vec<u8>]) -> anyhow::Result<(f64, f64)> {
    let t = Instant::now();
    let rows: Vec<schema::Row> = records.iter().filter_map(|r| schema::row(r)).collect();
    let row_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut n = 0;
    for part in rows.chunks(BREAKDOWN_EVENTS) {
        n += schema::batch(part)?.num_rows();
    }
    let batch_secs = t.elapsed().as_secs_f64();
    if n != records.len() {
        bail!(
            "{} of {} records made no row",
            records.len() - n,
            records.len()
        );
    }
    let per = |s: f64| s * 1e6 / records.len().max(1) as f64;
    Ok((per(row_secs), per(batch_secs)))
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    if o.dir.exists() {
        bail!("{} exists; give a fresh directory", o.dir.display());
    }
    std::fs::create_dir_all(&o.dir)?;
    let dir = std::fs::canonicalize(&o.dir)?;
    let now = Utc::now();
    let (start, end) = (now - TimeDelta::days(31), now - TimeDelta::days(1));

    // The journal keeps nothing the lake has taken (retention runs after each pass), so the
    // disk holds one chunk of journal at a time.
    let (journal, _) = Journal::open(
        dir.join("journal"),
        JournalConfig {
            min_retention: Duration::ZERO,
            ..JournalConfig::default()
        },
    )?;
    let lake = Lake::new(dir.join("lake"), journal.clone(), WriterSettings::default());
    // A new store takes events from the journal's end on: start its consumer once on the
    // empty journal so that it records its position there.
    lake.sync(vec![spec(true)]);
    if !lake.wait_for(STORE, 0, Duration::from_secs(60)).await {
        bail!("the lake consumer did not start");
    }
    lake.shutdown().await;

    // Write: generate a chunk and append it to the journal (not timed), then run the store's
    // consumer until it has committed the chunk (timed), then let the journal drop it.
    let mut generator = Generator::new(workload(o.events));
    let mut events = generator.events_between(start, end).take(o.events);
    let (mut written, mut json_bytes) = (0usize, 0u64);
    let mut write_time = Duration::ZERO;
    let mut middle_event = String::new();
    let mut breakdown_us = None;
    let mut passes = 0;
    loop {
        let mut chunk = Vec::with_capacity(o.chunk.min(o.events));
        for rec in events.by_ref().take(o.chunk.max(1)) {
            if written + chunk.len() == o.events / 2 {
                middle_event = rec.event_id.clone().unwrap_or_default();
            }
            chunk.push(rec.to_json_vec());
        }
        if chunk.is_empty() {
            break;
        }
        if breakdown_us.is_none() {
            breakdown_us = Some(breakdown(&chunk[..chunk.len().min(BREAKDOWN_EVENTS)])?);
        }
        let n = chunk.len();
        json_bytes += chunk.iter().map(|r| r.len() as u64).sum::<u64>();
        let mut last = 0;
        let mut entries = chunk.into_iter().peekable();
        while entries.peek().is_some() {
            let a = journal
                .append(entries.by_ref().take(1000).collect())
                .await?;
            last = a.first_lsn + u64::from(a.count) - 1;
        }
        let t = Instant::now();
        lake.sync(vec![spec(true)]);
        if !lake.wait_for(STORE, last, Duration::from_secs(3600)).await {
            bail!("the lake consumer did not reach journal position {last} within an hour");
        }
        write_time += t.elapsed();
        lake.shutdown().await;
        journal.enforce_retention()?;
        written += n;
        passes += 1;
        eprintln!(
            "lake: {written} events committed ({:.0} events/s)",
            written as f64 / write_time.as_secs_f64()
        );
    }
    drop(events);
    let journal_stats = journal.stats();
    journal.shutdown().await;
    std::fs::remove_dir_all(dir.join("journal"))?;

    let table_dir = lake.table_dir(STORE);
    let (all_parquet_bytes, all_parquet_files) = files_under(&table_dir, ".parquet")?;
    let (log_bytes, commits) = files_under(&table_dir.join("_delta_log"), ".json")?;
    // Delta checkpoints are Parquet files too, inside the log.
    let (checkpoint_bytes, checkpoints) = files_under(&table_dir.join("_delta_log"), ".parquet")?;
    let (parquet_bytes, parquet_files) = (
        all_parquet_bytes - checkpoint_bytes,
        all_parquet_files - checkpoints,
    );
    let lake_bytes = all_parquet_bytes + log_bytes;

    // The same events (same seed and period) as AWS log files: one gzip file of
    // {"Records":[...]} per account, region and five minutes, at most 1,000 records each.
    let logs_dir = dir.join("logs");
    let t = Instant::now();
    let mut again = Generator::new(workload(o.events));
    let summary = write_log_files(
        &logs_dir,
        again.events_between(start, end).take(o.events),
        &LogFileOptions {
            seed: 7,
            ..LogFileOptions::default()
        },
    )?;
    let logs_secs = t.elapsed().as_secs_f64();
    let (gzip_bytes, gzip_files) = files_under(&logs_dir, ".json.gz")?;
    if summary.records as usize != written {
        bail!(
            "the log files hold {} events, the table {written}",
            summary.records
        );
    }
    let per_event = |b: u64| b as f64 / written.max(1) as f64;
    let (row_us, batch_us) = breakdown_us.unwrap_or_default();
    println!(
        "{}",
        json!({
            "bench": "lake_write", "events": written, "path": "journal -> lake consumer -> Delta commit",
            "consumer_passes": passes, "seconds": write_time.as_secs_f64(),
            "events_per_sec": written as f64 / write_time.as_secs_f64(),
            "journal_bytes": journal_stats.bytes, "json_bytes": json_bytes,
            "json_bytes_per_event": per_event(json_bytes),
            "row_us_per_event_one_core": row_us, "batch_us_per_event_one_core": batch_us,
            "delta_commits": commits, "parquet_files": parquet_files,
            "rows_per_file": written as f64 / parquet_files.max(1) as f64,
            "parquet_bytes": parquet_bytes, "delta_log_bytes": log_bytes + checkpoint_bytes,
            "lake_bytes": lake_bytes, "lake_bytes_per_event": per_event(lake_bytes),
            "gzip_json_files": gzip_files, "gzip_json_bytes": gzip_bytes,
            "gzip_json_bytes_per_event": per_event(gzip_bytes),
            "lake_over_gzip_json": lake_bytes as f64 / gzip_bytes.max(1) as f64,
            "log_files_write_seconds": logs_secs,
            "table_dir": table_dir, "logs_dir": logs_dir,
        })
    );

    // Queries, through StartQuery and polling until FINISHED, round-robin over the queries
    // for each run so that a noisy moment does not fall on one query's runs only.
    let queries = Queries::open(
        Arc::clone(&lake),
        dir.join("queries"),
        Duration::from_secs(3600),
        None,
    )?;
    let p = params(&queries, &middle_event, end).await?;
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); QUERIES.len()];
    let mut exec: Vec<Vec<f64>> = vec![Vec::new(); QUERIES.len()];
    let mut answers: Vec<Option<QueryRecord>> = vec![None; QUERIES.len()];
    for run in 0..o.runs.max(1) {
        for (i, (name, template)) in QUERIES.iter().enumerate() {
            let (q, took) = run_query(&queries, &fill(template, &p)).await?;
            times[i].push(took.as_secs_f64() * 1000.0);
            exec[i].push(q.stats.execution_ms as f64);
            if let Some(first) = &answers[i]
                && (first.rows != q.rows || first.columns != q.columns)
            {
                bail!("{name}: run {run} answered differently from run 0");
            }
            answers[i] = Some(q);
        }
        eprintln!("lake: query run {} of {} done", run + 1, o.runs.max(1));
    }
    let mut exported = Vec::new();
    let mut medians = Vec::new();
    for (i, (name, template)) in QUERIES.iter().enumerate() {
        let q = answers[i].take().context("a query without an answer")?;
        let m = median(&times[i]);
        medians.push(m);
        println!(
            "{}",
            json!({
                "bench": "lake_query", "engine": "opentrail", "query": name, "runs": times[i].len(),
                "median_ms": m, "times_ms": times[i], "execution_median_ms": median(&exec[i]),
                "rows": q.rows.len(), "events_scanned": q.stats.events_scanned,
                "events_matched": q.stats.events_matched, "bytes_scanned": q.stats.bytes_scanned,
            })
        );
        exported.push(json!({
            "query": name, "statement": fill(template, &p), "columns": q.columns, "rows": q.rows,
        }));
    }
    println!(
        "{}",
        json!({
            "bench": "lake_queries", "engine": "opentrail", "queries": QUERIES.len(),
            "runs": o.runs.max(1), "geomean_ms": geomean(&medians),
        })
    );
    std::fs::write(
        dir.join("queries.json"),
        serde_json::to_vec_pretty(&json!({
            "store": STORE, "params": p, "table_dir": table_dir, "logs_dir": logs_dir,
            "events": written, "queries": exported,
        }))?,
    )
    .context("writing queries.json")?;
    Ok(())
}
