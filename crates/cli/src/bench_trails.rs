//! `opentrail bench trails`: trail delivery throughput (one trail selecting everything, then
//! five trails with different selectors), delivery latency at a steady rate, and gzip
//! throughput beside GNU gzip on the same bytes.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{TimeDelta, Utc};
use opentrail_catalog::Catalog;
use opentrail_generator::{Generator, WorkloadConfig};
use opentrail_integrity::{KeyStore, RotationPolicy};
use opentrail_journal::{Journal, JournalConfig};
use opentrail_model::selectors::{AdvancedEventSelector, EventSelector};
use opentrail_store::{LocalStore, ObjectStorage};
use opentrail_trails::{CreateTrail, Delivery, DeliverySettings, Notifier, TrailService};
use serde_json::json;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const BUCKET: &str = "bench-logs";

struct Rig {
    journal: Journal,
    service: TrailService,
    store: Arc<LocalStore>,
    catalog: Arc<Catalog>,
    keys: Arc<KeyStore>,
    dir: std::path::PathBuf,
    flush: Duration,
}

fn rig(dir: &Path, flush: Duration) -> anyhow::Result<Rig> {
    let (journal, _) = Journal::open(dir.join("journal"), JournalConfig::default())?;
    let store = Arc::new(LocalStore::open(dir.join("buckets"))?);
    store.create_bucket(BUCKET, "")?;
    let catalog = Arc::new(Catalog::open(&dir.join("catalog.db"))?);
    let keys = Arc::new(KeyStore::open(
        dir.join("signing-keys"),
        None,
        RotationPolicy::default(),
    )?);
    let delivery = Arc::new(delivery(&journal, &store, dir, flush, &keys)?);
    let kms = Arc::new(opentrail_kms::Registry::open(
        dir.join("kms"),
        None,
        ACCOUNT,
    )?);
    let service = TrailService::new(catalog.clone(), delivery, journal.clone(), None, kms);
    Ok(Rig {
        journal,
        service,
        store,
        catalog,
        keys,
        dir: dir.to_path_buf(),
        flush,
    })
}

fn delivery(
    journal: &Journal,
    store: &Arc<LocalStore>,
    dir: &Path,
    flush: Duration,
    keys: &Arc<KeyStore>,
) -> anyhow::Result<Delivery> {
    let settings = DeliverySettings {
        flush_interval: flush,
        ..DeliverySettings::default()
    };
    Ok(Delivery::new(
        journal.clone(),
        Arc::new(store.clone()),
        dir.join("trails"),
        settings,
        Notifier::new(&[])?,
        None,
        keys.clone(),
    )?)
}

/// Fills the journal while delivery is stopped, then starts delivery afresh and returns it:
/// the time to drain the backlog is delivery alone, not delivery racing the appends.
async fn backlog(rig: &Rig, trails: &[&str], records: &[Vec<u8>]) -> anyhow::Result<Delivery> {
    rig.service.delivery().shutdown().await;
    rig.journal
        .append(trails.iter().map(|t| start_logging_record(t)).collect())
        .await?;
    append_all(&rig.journal, records).await?;
    delivery(&rig.journal, &rig.store, &rig.dir, rig.flush, &rig.keys)
}

/// The self-audit record of a successful StartLogging, which is what turns a trail on.
fn start_logging_record(name: &str) -> Vec<u8> {
    json!({"eventVersion":"1.11","eventTime":opentrail_model::time::format_event_time(Utc::now()),
        "eventSource":"cloudtrail.amazonaws.com","eventName":"StartLogging","awsRegion":REGION,
        "userIdentity":{"type":"Root","accountId":ACCOUNT},"requestParameters":{"name":name},
        "eventID":uuid_like(name),"readOnly":false,"eventType":"AwsApiCall","managementEvent":true,
        "recipientAccountId":ACCOUNT,"eventCategory":"Management"})
    .to_string()
    .into_bytes()
}

fn uuid_like(seed: &str) -> String {
    format!(
        "00000000-0000-4000-8000-{:012x}",
        seed.bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
            & 0xffff_ffff_ffff
    )
}

async fn add_trail(
    rig: &Rig,
    name: &str,
    multi: bool,
    basic: Option<serde_json::Value>,
    advanced: Option<serde_json::Value>,
) -> anyhow::Result<String> {
    let t = rig
        .service
        .create(
            ACCOUNT,
            REGION,
            CreateTrail {
                name: name.into(),
                s3_bucket: BUCKET.into(),
                is_multi_region: Some(multi),
                ..CreateTrail::default()
            },
        )
        .await?;
    let basic: Option<Vec<EventSelector>> = basic.map(serde_json::from_value).transpose()?;
    let advanced: Option<Vec<AdvancedEventSelector>> =
        advanced.map(serde_json::from_value).transpose()?;
    if basic.is_some() || advanced.is_some() {
        rig.service
            .put_event_selectors(ACCOUNT, REGION, name, basic, advanced)?;
    }
    rig.service.set_logging(ACCOUNT, REGION, name, true)?;
    Ok(t.arn)
}

fn generated(n: usize) -> Vec<Vec<u8>> {
    let mut g = Generator::new(WorkloadConfig {
        seed: 31,
        ..WorkloadConfig::default()
    });
    let start = Utc::now() - TimeDelta::hours(2);
    (0..n)
        .map(|i| {
            g.event_at(start + TimeDelta::milliseconds(i as i64))
                .to_json_vec()
        })
        .collect()
}

async fn append_all(journal: &Journal, records: &[Vec<u8>]) -> anyhow::Result<()> {
    for chunk in records.chunks(1000) {
        journal.append(chunk.to_vec()).await?;
    }
    Ok(())
}

/// Waits until every trail delivered as many events as it will; returns the seconds taken.
async fn drain(delivery: &Delivery, arns: &[String], started: Instant) -> anyhow::Result<f64> {
    let mut last: Vec<u64> = vec![u64::MAX; arns.len()];
    let mut stable_since = Instant::now();
    let mut done_at = started.elapsed();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now: Vec<u64> = arns
            .iter()
            .map(|a| delivery.status(a).events_delivered)
            .collect();
        if now != last {
            last = now;
            stable_since = Instant::now();
            done_at = started.elapsed();
        } else if stable_since.elapsed() > Duration::from_secs(3) {
            return Ok(done_at.as_secs_f64());
        }
        if started.elapsed() > Duration::from_secs(900) {
            bail!("delivery did not finish within 15 minutes");
        }
    }
}

fn stored_bytes(store: &LocalStore, prefix: &str) -> anyhow::Result<u64> {
    Ok(store
        .list_objects(BUCKET, prefix)?
        .iter()
        .map(|l| l.meta.size)
        .sum())
}

pub async fn run(events: usize, dir: std::path::PathBuf) -> anyhow::Result<()> {
    if dir.exists() {
        bail!("{} exists; give a fresh directory", dir.display());
    }
    let records = generated(events);
    let raw_bytes: u64 = records.iter().map(|r| r.len() as u64).sum();

    // 1. One trail that selects every event (all regions, management and all data events).
    let one = rig(&dir.join("one"), Duration::from_secs(1))?;
    let everything = json!([{"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[
        {"Type":"AWS::S3::Object","Values":["arn:aws:s3"]},{"Type":"AWS::Lambda::Function","Values":["arn:aws:lambda"]},
        {"Type":"AWS::DynamoDB::Table","Values":["arn:aws:dynamodb"]}]}]);
    let arn = add_trail(&one, "everything", true, Some(everything.clone()), None).await?;
    let delivery = backlog(&one, &["everything"], &records).await?;
    let started = Instant::now();
    delivery.start_all(&one.catalog)?;
    let secs = drain(&delivery, std::slice::from_ref(&arn), started).await?;
    let delivered = delivery.status(&arn).events_delivered;
    let files1 = stored_bytes(&one.store, "")?;
    println!(
        "{}",
        json!({"bench":"trails_one","events":events,"delivered":delivered,"seconds":secs,
        "events_per_sec": delivered as f64 / secs, "raw_mb_per_sec": raw_bytes as f64 / secs / 1e6,
        "gzip_bytes": files1, "gzip_bytes_per_event": files1 as f64 / delivered.max(1) as f64})
    );
    delivery.shutdown().await;

    // 2. Five trails with different selectors over the same events.
    let five = rig(&dir.join("five"), Duration::from_secs(1))?;
    let mut arns = Vec::new();
    arns.push(add_trail(&five, "everything", true, Some(everything), None).await?);
    arns.push(add_trail(&five, "management", true, None, None).await?);
    arns.push(
        add_trail(
            &five,
            "writes",
            false,
            Some(json!([{"ReadWriteType":"WriteOnly"}])),
            None,
        )
        .await?,
    );
    arns.push(add_trail(&five, "s3-objects", true, Some(json!([{"IncludeManagementEvents":false,"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}])), None).await?);
    arns.push(add_trail(&five, "dynamodb", true, None, Some(json!([{"Name":"tables","FieldSelectors":[
        {"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::DynamoDB::Table"]},
        {"Field":"eventName","NotEquals":["GetItem"]}]}]))).await?);
    let delivery = backlog(
        &five,
        &[
            "everything",
            "management",
            "writes",
            "s3-objects",
            "dynamodb",
        ],
        &records,
    )
    .await?;
    let started = Instant::now();
    delivery.start_all(&five.catalog)?;
    let secs5 = drain(&delivery, &arns, started).await?;
    let per_trail: Vec<u64> = arns
        .iter()
        .map(|a| delivery.status(a).events_delivered)
        .collect();
    let bytes5 = stored_bytes(&five.store, "")?;
    println!(
        "{}",
        json!({"bench":"trails_five","events":events,"delivered_per_trail":per_trail,"seconds":secs5,
        "events_per_sec": per_trail.iter().sum::<u64>() as f64 / secs5, "gzip_bytes": bytes5,
        "cost_ratio_vs_linear": secs5 / (secs * bytes5 as f64 / files1.max(1) as f64)})
    );
    delivery.shutdown().await;

    // 3. Latency at a steady rate with a 1 s flush interval: appended -> visible in the store.
    let live = rig(&dir.join("live"), Duration::from_secs(1))?;
    let arn = add_trail(&live, "live", true, None, None).await?;
    live.journal
        .append(vec![start_logging_record("live")])
        .await?;
    let appended: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let rate = 2000.0;
    let seconds = 15.0;
    let producer = {
        let (journal, appended) = (live.journal.clone(), appended.clone());
        let mut g = Generator::new(WorkloadConfig {
            seed: 32,
            include_data_events: false,
            ..WorkloadConfig::default()
        });
        tokio::spawn(async move {
            let start = Instant::now();
            let mut sent = 0usize;
            while start.elapsed().as_secs_f64() < seconds {
                let due = (start.elapsed().as_secs_f64() * rate) as usize;
                if due > sent {
                    let batch: Vec<_> = (sent..due).map(|_| g.event_at(Utc::now())).collect();
                    let now = Instant::now();
                    {
                        let mut a = appended.lock().map_err(|_| anyhow::anyhow!("lock"))?;
                        for r in &batch {
                            a.insert(r.event_id.clone().unwrap_or_default(), now);
                        }
                    }
                    journal
                        .append(batch.iter().map(|r| r.to_json_vec()).collect())
                        .await?;
                    sent = due;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok::<usize, anyhow::Error>(sent)
        })
    };
    let mut seen = std::collections::HashSet::new();
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs_f64(seconds + 5.0) {
        for l in live.store.list_objects(BUCKET, "")? {
            if !seen.insert(l.key.clone()) {
                continue;
            }
            let visible = Instant::now();
            let Some(obj) = Arc::new(live.store.clone()).get(BUCKET, &l.key).await? else {
                continue;
            };
            let mut raw = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&obj.body[..]), &mut raw)?;
            let doc: serde_json::Value = serde_json::from_slice(&raw)?;
            let a = appended.lock().map_err(|_| anyhow::anyhow!("lock"))?;
            for r in doc["Records"].as_array().into_iter().flatten() {
                if let Some(t) = r["eventID"].as_str().and_then(|id| a.get(id)) {
                    latencies.push(visible.duration_since(*t));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let sent = producer.await.context("producer")??;
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p).round() as usize)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    println!(
        "{}",
        json!({"bench":"trails_latency","rate":rate,"sent":sent,"measured":latencies.len(),
        "flush_interval_ms":1000,"latency_ms":{"p50":pct(0.5),"p99":pct(0.99),"max":pct(1.0)}})
    );
    live.service.delivery().shutdown().await;
    let _ = arn;

    // 4. The fixed cost every trail pays per journal entry whatever it selects: parsing the
    // selection facts and evaluating selectors (one core).
    let t = Instant::now();
    let mut selected = 0usize;
    for r in &records {
        if opentrail_model::selectors::EventFacts::parse(r).is_some_and(|f| f.category() == "Data")
        {
            selected += 1;
        }
    }
    let scan = t.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"bench":"trails_scan","events":records.len(),"data_events":selected,
        "us_per_event": scan * 1e6 / records.len().max(1) as f64,
        "mb_per_sec": raw_bytes as f64 / scan / 1e6})
    );

    // 5. gzip: the log-file encoder (flate2 with zlib-rs, level 6) on one core, and GNU gzip -6
    // on the same bytes.
    let raw = opentrail_trails::records_document(&records);
    let t = Instant::now();
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let file = opentrail_trails::build_log_file(&refs, 6);
    let ours = t.elapsed().as_secs_f64();
    let path = dir.join("raw.json");
    std::fs::File::create(&path)?.write_all(&raw)?;
    let t = Instant::now();
    let out = std::process::Command::new("gzip")
        .args(["-6", "-c"])
        .arg(&path)
        .output()
        .context("running GNU gzip")?;
    let theirs = t.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"bench":"gzip","bytes":raw.len(),"opentrail_mb_per_sec": raw.len() as f64 / ours / 1e6,
        "opentrail_ratio": raw.len() as f64 / file.gzip.len() as f64, "gnu_gzip_mb_per_sec": raw.len() as f64 / theirs / 1e6,
        "gnu_gzip_ratio": raw.len() as f64 / out.stdout.len().max(1) as f64, "note":"opentrail figure includes SHA-256 of the raw bytes"})
    );
    Ok(())
}
