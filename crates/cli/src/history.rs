//! `opentrail history`: event history from the command line (export of any filter).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use http_body_util::BodyExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::client::{SignedClient, Target};

#[derive(Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    what: HistoryCommand,
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Export every event of a filter (all pages) as the console's CSV or as CloudTrail JSON.
    Export(ExportArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// The columns of the AWS console's event history download.
    Csv,
    /// A CloudTrail document: {"Records":[...]}.
    Json,
}

#[derive(Args)]
struct ExportArgs {
    /// Server endpoint.
    #[arg(long, default_value = "http://127.0.0.1:4599")]
    endpoint: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
    /// One lookup attribute, e.g. EventName=ConsoleLogin (keys as in LookupEvents).
    #[arg(long)]
    lookup_attribute: Option<String>,
    /// Oldest event time (RFC 3339) [default: 90 days ago].
    #[arg(long)]
    start_time: Option<DateTime<Utc>>,
    /// Newest event time (RFC 3339) [default: now].
    #[arg(long)]
    end_time: Option<DateTime<Utc>>,
    /// Export insight events instead of management events.
    #[arg(long)]
    insight: bool,
    /// Write to this file [default: standard output].
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key_id: String,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
    /// Region whose history to export.
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    region: String,
}

pub async fn run(args: HistoryArgs) -> anyhow::Result<()> {
    match args.what {
        HistoryCommand::Export(a) => export(a).await,
    }
}

fn enc(s: &str) -> String {
    opentrail_protocol::sigv4::uri_encode(s, true)
}

async fn export(a: ExportArgs) -> anyhow::Result<()> {
    let mut query = vec![format!(
        "format={}",
        match a.format {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    )];
    if let Some(attr) = &a.lookup_attribute {
        let Some((k, v)) = attr.split_once('=') else {
            bail!("--lookup-attribute {attr:?}: expected KEY=VALUE, e.g. EventName=ConsoleLogin");
        };
        query.push(format!("attribute={}", enc(k)));
        query.push(format!("value={}", enc(v)));
    }
    if let Some(t) = a.start_time {
        query.push(format!("start={}", t.timestamp()));
    }
    if let Some(t) = a.end_time {
        query.push(format!("end={}", t.timestamp()));
    }
    if a.insight {
        query.push("category=insight".into());
    }
    let client = SignedClient::new(Target {
        endpoint: a.endpoint.clone(),
        access_key_id: a.access_key_id.clone(),
        secret_access_key: a.secret_access_key.clone(),
        region: a.region.clone(),
    })?;
    let resp = client
        .get("/_opentrail/history/export", &query.join("&"))
        .await?;
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let bytes = body.collect().await?.to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        bail!(
            "{} ({status}): {}",
            v["__type"].as_str().unwrap_or("error"),
            v["Message"].as_str().unwrap_or_default()
        );
    }
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    // Drawn on stderr only when it is a terminal.
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {pos} events exported ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut lines = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.context("reading the export")?;
        if let Some(data) = frame.data_ref() {
            lines += data.iter().filter(|b| **b == b'\n').count() as u64;
            bar.set_position(lines.saturating_sub(1));
            out.write_all(data)?;
        }
    }
    out.flush()?;
    bar.finish_and_clear();
    let events = match a.format {
        Format::Csv => lines.saturating_sub(1),
        Format::Json => lines.saturating_sub(2),
    };
    if a.output.is_some() {
        eprintln!("exported {events} events");
    }
    Ok(())
}
