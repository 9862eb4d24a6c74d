//! `serve --demo`: a simulated AWS account's activity fed straight into the journal, so that
//! every stage downstream has realistic, current data to show.
//!
//! On the first start the demo backfills `backfill_hours` of history (with one burst and one
//! error storm in it, for insights to find); afterwards it generates events as time passes, at
//! the daily rhythm of `events_per_day`.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use opentrail_generator::{Anomaly, Generator, WorkloadConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppState;

const BATCH: usize = 1000;
const TICK: Duration = Duration::from_millis(250);

fn workload(state: &AppState, seed: u64, anomalies: Vec<Anomaly>) -> WorkloadConfig {
    let mut regions = vec![state.config.region.clone()];
    for r in ["us-east-1", "us-west-2", "eu-west-1"] {
        if !regions.iter().any(|x| x == r) {
            regions.push(r.to_owned());
        }
    }
    WorkloadConfig {
        seed,
        account_id: state.config.account_id.clone(),
        regions,
        events_per_day: state.config.demo.events_per_day,
        anomalies,
        ..WorkloadConfig::default()
    }
}

/// Starts the demo feed; it stops when `stop` turns true.
pub fn spawn(state: AppState, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = ensure_demo_trail(&state).await {
            tracing::warn!(error = %e, "could not set up the demo trail");
        }
        let marker = state.config.data_dir.join("demo-backfill.done");
        let now = Utc::now();
        if !marker.exists() {
            let backfill_state = state.clone();
            let hours = state.config.demo.backfill_hours;
            let done =
                tokio::task::spawn_blocking(move || backfill(&backfill_state, now, hours)).await;
            match done {
                Ok(Ok(n)) => {
                    tracing::info!(events = n, hours, "demo history backfilled");
                    if let Err(e) = std::fs::write(&marker, now.to_rfc3339()) {
                        tracing::warn!(error = %e, "could not write the demo backfill marker");
                    }
                }
                Ok(Err(e)) => tracing::error!(error = %e, "demo backfill failed"),
                Err(e) => tracing::error!(error = %e, "demo backfill panicked"),
            }
        }
        // Live events: a generator seeded from the start time, so restarts never repeat ids.
        let seed = state.config.demo.seed ^ now.timestamp_nanos_opt().unwrap_or_default() as u64;
        let mut generator = Generator::new(workload(&state, seed, Vec::new()));
        let mut last = Utc::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            let now = Utc::now();
            let events: Vec<Vec<u8>> = generator
                .events_between(last, now)
                .map(|r| r.to_json_vec())
                .collect();
            last = now;
            if events.is_empty() {
                continue;
            }
            if let Err(e) = state.journal.append(events).await {
                tracing::warn!(error = %e, "demo events not recorded");
            }
        }
        tracing::debug!("demo feed stopped");
    })
}

/// The demo's bucket and multi-region trail, created (and started) on the first start as the
/// root user would: through the trail service, with the calls' own audit records, so the
/// trail starts logging exactly as it would after a real StartLogging call.
async fn ensure_demo_trail(state: &AppState) -> Result<(), String> {
    const TRAIL: &str = "demo-trail";
    const BUCKET: &str = "opentrail-demo-logs";
    let (account, region) = (state.config.account_id.clone(), state.config.region.clone());
    if state.trails.get(&account, &region, TRAIL).is_ok() {
        return Ok(());
    }
    if state.config.storage.kind == crate::config::StorageKind::Embedded {
        state
            .local_store
            .create_bucket(BUCKET, "")
            .map_err(|e| e.to_string())?;
    }
    let req = opentrail_trails::CreateTrail {
        name: TRAIL.into(),
        s3_bucket: BUCKET.into(),
        is_multi_region: Some(true),
        ..Default::default()
    };
    state
        .trails
        .create(&account, &region, req)
        .await
        .map_err(|e| e.to_string())?;
    state
        .trails
        .set_logging(&account, &region, TRAIL, true)
        .map_err(|e| e.to_string())?;
    let root = state.credentials.root();
    let meta = crate::request::RequestMeta {
        request_id: opentrail_model::ids::new_guid(),
        received: Utc::now(),
        source_ip: "127.0.0.1".into(),
        user_agent: Some("opentrail-demo".into()),
        host: None,
    };
    let mut records = Vec::new();
    for (op, params) in [
        (
            "CreateTrail",
            serde_json::json!({"name": TRAIL, "s3BucketName": BUCKET, "isMultiRegionTrail": true}),
        ),
        ("StartLogging", serde_json::json!({"name": TRAIL})),
    ] {
        let call = crate::audit::CallRecord {
            meta: &meta,
            identity: root.identity(),
            region: region.clone(),
            account_id: account.clone(),
            event_source: crate::audit::CLOUDTRAIL_SOURCE,
            event_name: op.into(),
            read_only: false,
            management: true,
            request_parameters: params,
            response_elements: serde_json::Value::Null,
            error: None,
        };
        records.push(call.to_record().to_json_vec());
    }
    state
        .journal
        .append(records)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        trail = TRAIL,
        bucket = BUCKET,
        "demo trail created and logging"
    );
    Ok(())
}

fn backfill(
    state: &AppState,
    now: DateTime<Utc>,
    hours: u64,
) -> Result<u64, opentrail_journal::JournalError> {
    let start = now - TimeDelta::hours(hours as i64);
    let anomalies = if hours >= 4 {
        vec![
            Anomaly::Burst {
                start: now - TimeDelta::hours(3),
                duration: TimeDelta::minutes(20),
                event_source: "ec2.amazonaws.com".into(),
                event_name: "TerminateInstances".into(),
                per_minute: 120.0,
            },
            Anomaly::ErrorStorm {
                start: now - TimeDelta::minutes(90),
                duration: TimeDelta::minutes(15),
                event_source: "s3.amazonaws.com".into(),
                event_name: "GetObject".into(),
                error_code: "AccessDenied".into(),
                per_minute: 200.0,
            },
        ]
    } else {
        Vec::new()
    };
    let mut generator = Generator::new(workload(state, state.config.demo.seed, anomalies));
    let mut total = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    for record in generator.events_between(start, now) {
        batch.push(record.to_json_vec());
        if batch.len() == BATCH {
            total += batch.len() as u64;
            state.journal.append_blocking(std::mem::take(&mut batch))?;
        }
    }
    if !batch.is_empty() {
        total += batch.len() as u64;
        state.journal.append_blocking(batch)?;
    }
    Ok(total)
}
