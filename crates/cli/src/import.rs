//! `opentrail import`: imports existing CloudTrail log files into an event data store of a
//! running server (StartImport), follows it with a progress bar (GetImport), and prints the
//! summary and every failure (ListImportFailures). Exits non-zero unless the import completed.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::client::{SignedClient, Target};

/// Flags of `import`.
#[derive(Args)]
#[command(after_help = "\
Examples:
  opentrail import ./AWSLogs --event-data-store 5e2676f8-9fce-46ef-8142-3e36a94e6691
  opentrail import s3://my-trail-bucket/AWSLogs/123456789012/CloudTrail/ \\
      --event-data-store arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/5e2676f8-... \\
      --start-time 2026-01-01T00:00:00Z --end-time 2026-02-01T00:00:00Z
  opentrail import --import-id 0b7a1f0e-3f6d-4d53-9a57-0123456789ab   # resume a stopped import

The server reads the files: a folder must be on the server's machine, an s3:// location in its
embedded store or its configured S3 storage. Only CloudTrail log files (*.json.gz, *.json under
AWSLogs/<account>/CloudTrail/...) are read; digests and other services' folders are skipped.
Events already in the store (same eventID) are not imported again, so importing the same
files twice adds nothing. Exit status: 0 when the import completed, 1 otherwise.")]
#[command(group(clap::ArgGroup::new("what").required(true).args(["source", "import_id"])))]
pub struct ImportArgs {
    /// The log files: a folder (path or file:///...) or an S3 location (s3://bucket/prefix).
    source: Option<String>,
    /// Destination event data store: its ID or ARN.
    #[arg(long, required_unless_present = "import_id")]
    event_data_store: Option<String>,
    /// Leave out events before this time (RFC 3339, e.g. 2026-01-01T00:00:00Z).
    #[arg(long)]
    start_time: Option<DateTime<Utc>>,
    /// Leave out events after this time (RFC 3339).
    #[arg(long)]
    end_time: Option<DateTime<Utc>>,
    /// Resume a stopped import, or retry a failed one, instead of starting a new one.
    #[arg(long, conflicts_with_all = ["source", "event_data_store", "start_time", "end_time"])]
    import_id: Option<String>,
    /// S3BucketAccessRoleArn to record [default: arn:aws:iam::<account>:role/opentrail-import].
    #[arg(long)]
    role_arn: Option<String>,
    /// Region of the source bucket [default: --region].
    #[arg(long)]
    bucket_region: Option<String>,
    /// Start the import and return at once, without following it.
    #[arg(long)]
    no_wait: bool,
    /// Server endpoint.
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        default_value = "http://127.0.0.1:4599"
    )]
    endpoint: String,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key_id: String,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
    /// Region of the event data store (the region requests are signed for).
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    region: String,
}

struct Api {
    client: SignedClient,
}

impl Api {
    async fn call(&self, operation: &str, input: Value) -> anyhow::Result<Value> {
        let target = format!("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{operation}");
        match self.client.json_call("cloudtrail", &target, &input).await? {
            Ok(v) => Ok(v),
            Err((code, message)) => bail!("{operation} failed: {code}: {message}"),
        }
    }
}

/// A folder argument as the server needs it: absolute.
fn location(source: &str) -> anyhow::Result<String> {
    if source.starts_with("s3://") || source.starts_with("file://") {
        return Ok(source.to_owned());
    }
    let path = std::path::Path::new(source);
    let abs = std::fs::canonicalize(path)
        .with_context(|| format!("{source} is neither an s3:// location nor a folder here"))?;
    Ok(abs.to_string_lossy().into_owned())
}

fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn stat(imp: &Value, name: &str) -> u64 {
    imp["ImportStatistics"][name].as_u64().unwrap_or(0)
}

fn progress_line(imp: &Value) -> String {
    format!(
        "{} folders {}/{}, {} files, {} events, {} failed",
        imp["ImportStatus"].as_str().unwrap_or("?"),
        stat(imp, "PrefixesCompleted"),
        stat(imp, "PrefixesFound"),
        stat(imp, "FilesCompleted"),
        stat(imp, "EventsCompleted"),
        stat(imp, "FailedEntries"),
    )
}

/// Runs `opentrail import`.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let api = Api {
        client: SignedClient::new(Target {
            endpoint: args.endpoint.clone(),
            access_key_id: args.access_key_id.clone(),
            secret_access_key: args.secret_access_key.clone(),
            region: args.region.clone(),
        })?,
    };
    let started = match (&args.import_id, &args.source, &args.event_data_store) {
        (Some(id), _, _) => api.call("StartImport", json!({ "ImportId": id })).await?,
        (None, Some(source), Some(store)) => {
            let arn = if store.starts_with("arn:") {
                store.clone()
            } else {
                api.call("GetEventDataStore", json!({ "EventDataStore": store }))
                    .await?["EventDataStoreArn"]
                    .as_str()
                    .context("GetEventDataStore answered without EventDataStoreArn")?
                    .to_owned()
            };
            let account = arn.split(':').nth(4).unwrap_or("000000000000");
            let mut input = json!({
                "Destinations": [arn],
                "ImportSource": {"S3": {
                    "S3LocationUri": location(source)?,
                    "S3BucketRegion": args.bucket_region.clone().unwrap_or_else(|| args.region.clone()),
                    "S3BucketAccessRoleArn": args.role_arn.clone()
                        .unwrap_or_else(|| format!("arn:aws:iam::{account}:role/opentrail-import")),
                }},
            });
            if let Some(t) = args.start_time {
                input["StartEventTime"] = json!(secs(t));
            }
            if let Some(t) = args.end_time {
                input["EndEventTime"] = json!(secs(t));
            }
            api.call("StartImport", input).await?
        }
        _ => bail!("give the log files and --event-data-store, or --import-id"),
    };
    let id = started["ImportId"]
        .as_str()
        .context("StartImport answered without ImportId")?
        .to_owned();
    eprintln!(
        "import {id}: {} into {}",
        started["ImportSource"]["S3"]["S3LocationUri"]
            .as_str()
            .unwrap_or("?"),
        started["Destinations"][0].as_str().unwrap_or("?")
    );
    if args.no_wait {
        println!("{id}");
        return Ok(());
    }
    let imp = follow(&api, &id).await?;
    summary(&api, &id, &imp).await
}

/// Polls GetImport until the import ends, showing its progress.
async fn follow(api: &Api, id: &str) -> anyhow::Result<Value> {
    let tty = std::io::stderr().is_terminal();
    let bar = if tty {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} folders  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut last = String::new();
    loop {
        let imp = api.call("GetImport", json!({ "ImportId": id })).await?;
        let line = progress_line(&imp);
        bar.set_length(stat(&imp, "PrefixesFound"));
        bar.set_position(stat(&imp, "PrefixesCompleted"));
        bar.set_message(format!(
            "{} events, {} files, {} failed",
            stat(&imp, "EventsCompleted"),
            stat(&imp, "FilesCompleted"),
            stat(&imp, "FailedEntries")
        ));
        if !tty && line != last {
            eprintln!("import {id}: {line}");
            last = line;
        }
        match imp["ImportStatus"].as_str() {
            Some("INITIALIZING" | "IN_PROGRESS") => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            _ => {
                bar.finish_and_clear();
                return Ok(imp);
            }
        }
    }
}

/// Prints the outcome and the failures; an error unless the import completed.
async fn summary(api: &Api, id: &str, imp: &Value) -> anyhow::Result<()> {
    let status = imp["ImportStatus"].as_str().unwrap_or("?");
    println!(
        "import {id} {status}: {} events from {} files in {} folders, {} failed",
        stat(imp, "EventsCompleted"),
        stat(imp, "FilesCompleted"),
        stat(imp, "PrefixesCompleted"),
        stat(imp, "FailedEntries"),
    );
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({ "ImportId": id });
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = api.call("ListImportFailures", input).await?;
        for f in page["Failures"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            println!(
                "  {} {}: {}: {}",
                f["Status"].as_str().unwrap_or("FAILED"),
                f["Location"].as_str().unwrap_or("?"),
                f["ErrorType"].as_str().unwrap_or("?"),
                f["ErrorMessage"].as_str().unwrap_or(""),
            );
        }
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    match status {
        "COMPLETED" => Ok(()),
        "STOPPED" => {
            bail!("import {id} was stopped; resume it with: opentrail import --import-id {id}")
        }
        _ => bail!(
            "import {id} ended {status}; fix the files listed above and retry with: opentrail import --import-id {id}"
        ),
    }
}
