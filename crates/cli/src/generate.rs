//! `opentrail generate`: realistic CloudTrail activity to AWS-style log files, NDJSON, or a
//! running server at a steady rate.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, TimeDelta, Utc};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use opentrail_generator::{
    Anomaly, Generator, LogFileOptions, WorkloadConfig, write_log_files, write_ndjson,
};
use opentrail_model::Record;

use crate::client::{SignedClient, Target};

/// Flags of `generate`. Give `--out` to write files, or `--endpoint` to send to a server.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("sink").required(true).args(["out", "endpoint"])))]
pub struct GenerateArgs {
    /// Write files into this directory (`-` with `--format ndjson` writes to stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// File format for `--out`: AWS log files (`AWSLogs/...json.gz`) or one NDJSON file.
    #[arg(long, value_enum, default_value = "logs")]
    format: Format,
    /// Send to this server's native ingest endpoint instead, e.g. http://127.0.0.1:4599.
    #[arg(long)]
    endpoint: Option<String>,

    /// Seed: the same seed and options give the same events.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Account id of the simulated account.
    #[arg(long, default_value = "123456789012")]
    account_id: String,
    /// Regions, comma-separated; the first gets most traffic.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "us-east-1,us-west-2,eu-west-1"
    )]
    regions: Vec<String>,
    /// Mean events per simulated day (files), following a daily rhythm.
    #[arg(long, default_value_t = 50_000.0)]
    events_per_day: f64,
    /// Leave out data events (S3 objects, Lambda invokes, DynamoDB items).
    #[arg(long)]
    no_data_events: bool,

    /// Files: hours of activity ending at --end.
    #[arg(long, default_value_t = 24)]
    hours: u64,
    /// Files: end of the simulated period (RFC 3339) [default: now].
    #[arg(long)]
    end: Option<DateTime<Utc>>,
    /// Files: inject a burst `SOURCE:NAME:PER_MINUTE` (20 minutes, in the middle of the period).
    #[arg(long)]
    burst: Vec<String>,
    /// Files: inject an error storm `SOURCE:NAME:ERROR_CODE:PER_MINUTE` (15 minutes, at two thirds).
    #[arg(long)]
    error_storm: Vec<String>,
    /// Files: most records per log file.
    #[arg(long, default_value_t = 1000)]
    max_records_per_file: usize,

    /// Server: events per second to send (timestamped as sent).
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Server: stop after this many events [default: run until Ctrl-C].
    #[arg(long)]
    count: Option<u64>,
    /// Server: records per request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Server: access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key_id: Option<String>,
    /// Server: secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: Option<String>,
    /// Server: region to sign requests for.
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    region: String,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    /// AWS CloudTrail log files.
    Logs,
    /// One compact JSON record per line.
    Ndjson,
}

fn parse_anomalies(
    args: &GenerateArgs,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> anyhow::Result<Vec<Anomaly>> {
    let span = end - start;
    let mut out = Vec::new();
    for b in &args.burst {
        let p: Vec<&str> = b.split(':').collect();
        let [source, name, rate] = p[..] else {
            bail!(
                "--burst {b:?}: expected SOURCE:NAME:PER_MINUTE, e.g. ec2.amazonaws.com:TerminateInstances:120"
            );
        };
        out.push(Anomaly::Burst {
            start: start + span / 2,
            duration: TimeDelta::minutes(20),
            event_source: source.into(),
            event_name: name.into(),
            per_minute: rate
                .parse()
                .with_context(|| format!("--burst {b:?}: bad rate"))?,
        });
    }
    for s in &args.error_storm {
        let p: Vec<&str> = s.split(':').collect();
        let [source, name, code, rate] = p[..] else {
            bail!(
                "--error-storm {s:?}: expected SOURCE:NAME:ERROR_CODE:PER_MINUTE, e.g. s3.amazonaws.com:GetObject:AccessDenied:200"
            );
        };
        out.push(Anomaly::ErrorStorm {
            start: start + span * 2 / 3,
            duration: TimeDelta::minutes(15),
            event_source: source.into(),
            event_name: name.into(),
            error_code: code.into(),
            per_minute: rate
                .parse()
                .with_context(|| format!("--error-storm {s:?}: bad rate"))?,
        });
    }
    Ok(out)
}

pub async fn run(args: GenerateArgs) -> anyhow::Result<()> {
    if args.regions.is_empty() {
        bail!("--regions needs at least one region");
    }
    let end = args.end.unwrap_or_else(Utc::now);
    let start = end - TimeDelta::hours(args.hours as i64);
    let config = WorkloadConfig {
        seed: args.seed,
        account_id: args.account_id.clone(),
        regions: args.regions.clone(),
        events_per_day: args.events_per_day,
        anomalies: parse_anomalies(&args, start, end)?,
        include_data_events: !args.no_data_events,
    };
    match (&args.out, &args.endpoint) {
        (Some(out), None) => {
            let (out, format, max) = (out.clone(), args.format, args.max_records_per_file);
            tokio::task::spawn_blocking(move || to_files(config, start, end, &out, format, max))
                .await?
        }
        (None, Some(endpoint)) => to_server(&args, config, endpoint).await,
        _ => bail!("give exactly one of --out and --endpoint"),
    }
}

/// A progress bar over simulated time (the event count is not known in advance).
fn time_progress(start: DateTime<Utc>, end: DateTime<Utc>, to_stdout: bool) -> ProgressBar {
    let bar = if to_stdout {
        ProgressBar::hidden()
    } else {
        ProgressBar::new((end - start).num_seconds().max(1) as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} simulated {msg} ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn to_files(
    config: WorkloadConfig,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    out: &PathBuf,
    format: Format,
    max_records_per_file: usize,
) -> anyhow::Result<()> {
    let to_stdout = out.as_os_str() == "-";
    let seed = config.seed;
    let account = config.account_id.clone();
    let mut generator = Generator::new(config);
    let bar = time_progress(start, end, to_stdout);
    let mut count = 0u64;
    let records = generator.events_between(start, end).inspect(|r: &Record| {
        count += 1;
        if count.is_multiple_of(1000)
            && let Some(t) = r
                .event_time
                .as_deref()
                .and_then(|t| opentrail_model::time::parse_event_time(t).ok())
        {
            bar.set_position((t - start).num_seconds().max(0) as u64);
            bar.set_message(format!("{} events", count));
        }
    });
    let started = Instant::now();
    let written = match (format, to_stdout) {
        (Format::Ndjson, true) => write_ndjson(std::io::stdout().lock(), records)?,
        (Format::Ndjson, false) => {
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
            let path = out.join("events.ndjson");
            let file = std::fs::File::create(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            write_ndjson(file, records)?
        }
        (Format::Logs, true) => bail!("log files need a directory: --out DIR"),
        (Format::Logs, false) => {
            let options = LogFileOptions {
                seed,
                max_records_per_file,
                default_account_id: Some(account),
                ..LogFileOptions::default()
            };
            let summary = write_log_files(out, records, &options)?;
            eprintln!(
                "wrote {} log files under {}",
                summary.files,
                out.join("AWSLogs").display()
            );
            summary.records
        }
    };
    bar.finish_and_clear();
    if !to_stdout {
        eprintln!(
            "generated {written} events from {} to {} in {:.1}s",
            opentrail_model::time::format_event_time(start),
            opentrail_model::time::format_event_time(end),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

async fn to_server(
    args: &GenerateArgs,
    config: WorkloadConfig,
    endpoint: &str,
) -> anyhow::Result<()> {
    let (Some(key), Some(secret)) = (args.access_key_id.clone(), args.secret_access_key.clone())
    else {
        bail!(
            "sending needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the server prints them at start)"
        );
    };
    if !args.rate.is_finite() || args.rate <= 0.0 {
        bail!("--rate must be positive");
    }
    let client = SignedClient::new(Target {
        endpoint: endpoint.to_owned(),
        access_key_id: key,
        secret_access_key: secret,
        region: args.region.clone(),
    })?;
    let mut generator = Generator::new(config);
    let bar = match args.count {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos} events sent ({per_sec}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let (mut sent, mut refused) = (0u64, 0u64);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if args.count.is_some_and(|n| sent + refused >= n) {
            break;
        }
        let due = (started.elapsed().as_secs_f64() * args.rate) as u64;
        let mut n = due.saturating_sub(sent + refused).min(args.batch as u64);
        if let Some(max) = args.count {
            n = n.min(max - sent - refused);
        }
        if n == 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(10)) => continue,
                _ = &mut ctrl_c => break,
            }
        }
        let now = Utc::now();
        let mut body = Vec::new();
        for _ in 0..n {
            serde_json::to_writer(&mut body, &generator.event_at(now))?;
            body.push(b'\n');
        }
        let outcome = client.ingest_ndjson(body).await?;
        sent += outcome.accepted as u64;
        refused += outcome.refused as u64;
        if let Some(e) = outcome.first_error {
            bar.set_message(format!("refused: {e}"));
        }
        bar.set_position(sent + refused);
    }
    bar.finish_and_clear();
    eprintln!(
        "sent {sent} events ({refused} refused) to {endpoint} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
