//! `opentrail validate-logs`: the checks of `aws cloudtrail validate-logs` with the same
//! arguments, output and exit codes, against a running server, directly on a data directory
//! (no server needed), or on any S3 location with an exported public key list.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use async_trait::async_trait;
use clap::Args;
use opentrail_integrity::keys::{parse_public_key_list, read_public_keys};
use opentrail_integrity::validate::{
    self, PublicKeySource, StaticKeys, ValidateRequest, check_trail_arn, parse_cli_time,
    parse_trail_arn,
};
use opentrail_integrity::{PublicKey, validate_logs};
use opentrail_store::{LocalStore, ObjectStorage, S3Settings, S3Store};
use serde_json::{Value, json};

use crate::client::{SignedClient, Target};

const CLOUDTRAIL_TARGET: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101";

/// Arguments: the aws CLI's, plus where to read from.
#[derive(Args, Debug)]
#[command(after_help = "Sources (pick one):
  --endpoint-url URL   a running opentrail: DescribeTrails and ListPublicKeys from it, objects
                       through its S3 API (or --s3-endpoint-url for an external store)
  --data-dir DIR       an opentrail data directory, read directly (server stopped or not);
                       encrypted objects need the master key if one was configured
  --s3-endpoint-url URL --s3-bucket B --public-keys FILE
                       any S3-compatible location, with keys exported by
                       `aws cloudtrail list-public-keys > FILE`

Exit codes: 0 all valid, 1 something invalid, 255 validation could not run.")]
pub struct ValidateLogsArgs {
    /// ARN of the trail to validate.
    #[arg(long)]
    trail_arn: String,
    /// Validate from this time (UTC; ISO 8601, as the aws CLI reads it).
    #[arg(long)]
    start_time: String,
    /// Validate until this time [default: now].
    #[arg(long)]
    end_time: Option<String>,
    /// Bucket holding the digests [default: the trail's bucket].
    #[arg(long)]
    s3_bucket: Option<String>,
    /// Key prefix of the digests [default: the trail's prefix].
    #[arg(long)]
    s3_prefix: Option<String>,
    /// Account whose logs to validate (required for organization trails).
    #[arg(long)]
    account_id: Option<String>,
    /// Region whose logs to validate [default: the trail's home region].
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
    /// Print every valid digest and log file too.
    #[arg(long)]
    verbose: bool,
    /// Also report log files that no digest lists but whose name time lies inside a digest's
    /// period: files added to the bucket, which the aws CLI does not notice. Assumes no other
    /// trail delivers to the same bucket and prefix.
    #[arg(long)]
    check_unlisted: bool,
    /// A running opentrail (or any CloudTrail-compatible endpoint).
    #[arg(long, conflicts_with = "data_dir")]
    endpoint_url: Option<String>,
    /// An opentrail data directory to read directly.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where the objects are, when not on the server's own S3 API.
    #[arg(long, env = "AWS_ENDPOINT_URL_S3")]
    s3_endpoint_url: Option<String>,
    /// A public key list (`aws cloudtrail list-public-keys` output, or ListPublicKeys JSON).
    #[arg(long)]
    public_keys: Option<PathBuf>,
    /// Master key file of the data directory, for encrypted objects (or OPENTRAIL_MASTER_KEY).
    #[arg(long)]
    master_key_file: Option<PathBuf>,
    /// Access key id [default: AWS_ACCESS_KEY_ID, then the shared credentials file].
    #[arg(long)]
    access_key_id: Option<String>,
    /// Secret access key [default: AWS_SECRET_ACCESS_KEY, then the shared credentials file].
    #[arg(long)]
    secret_access_key: Option<String>,
}

/// Keys as the server's ListPublicKeys answers them.
struct ServerKeys {
    client: SignedClient,
}

#[async_trait]
impl PublicKeySource for ServerKeys {
    async fn list_public_keys(&self, start: i64, end: i64) -> Result<Vec<PublicKey>, String> {
        let answer = self
            .client
            .json_call(
                "cloudtrail",
                &format!("{CLOUDTRAIL_TARGET}.ListPublicKeys"),
                &json!({"StartTime": start, "EndTime": end}),
            )
            .await
            .map_err(|e| format!("{e:#}"))?
            .map_err(|(code, msg)| {
                format!(
                    "An error occurred ({code}) when calling the ListPublicKeys operation: {msg}"
                )
            })?;
        parse_public_key_list(answer.to_string().as_bytes())
    }
}

/// Access keys: flags, then the environment, then the shared credentials file's profile.
fn credentials(a: &ValidateLogsArgs) -> anyhow::Result<(String, String)> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let (Some(k), Some(s)) = (
        a.access_key_id.clone().or_else(|| env("AWS_ACCESS_KEY_ID")),
        a.secret_access_key
            .clone()
            .or_else(|| env("AWS_SECRET_ACCESS_KEY")),
    ) {
        return Ok((k, s));
    }
    let path = env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws/credentials")))
        .context("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")?;
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("no credentials: reading {}", path.display()))?;
    opentrail_server::credentials::profile_keys(&text, &profile).with_context(|| {
        format!(
            "no credentials: {} has no complete [{profile}] profile",
            path.display()
        )
    })
}

/// The trail's bucket, prefix and organization, as the CLI finds them.
struct TrailFacts {
    bucket: String,
    prefix: Option<String>,
    org_id: Option<String>,
}

fn org_missing_account() -> anyhow::Error {
    anyhow::anyhow!("Missing required parameter for organization trail: '--account-id'")
}

async fn facts_from_server(
    client: &SignedClient,
    a: &ValidateLogsArgs,
) -> anyhow::Result<TrailFacts> {
    let described = client
        .json_call(
            "cloudtrail",
            &format!("{CLOUDTRAIL_TARGET}.DescribeTrails"),
            &json!({}),
        )
        .await?
        .map_err(|(code, msg)| {
            anyhow::anyhow!(
                "An error occurred ({code}) when calling the DescribeTrails operation: {msg}"
            )
        })?;
    let trail = described["trailList"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["TrailARN"].as_str() == Some(a.trail_arn.as_str()))
        .with_context(|| format!("A trail could not be found for {}", a.trail_arn))?;
    let org_id = if trail["IsOrganizationTrail"].as_bool() == Some(true) {
        if a.account_id.is_none() {
            return Err(org_missing_account());
        }
        let org = client
            .json_call(
                "organizations",
                "AWSOrganizationsV20161128.DescribeOrganization",
                &json!({}),
            )
            .await?
            .map_err(|(code, msg)| {
                anyhow::anyhow!(
                    "An error occurred ({code}) when calling the DescribeOrganization operation: {msg}"
                )
            })?;
        org["Organization"]["Id"].as_str().map(str::to_owned)
    } else {
        None
    };
    Ok(TrailFacts {
        bucket: trail["S3BucketName"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        prefix: trail["S3KeyPrefix"].as_str().map(str::to_owned),
        org_id,
    })
}

/// The trail as the data directory's catalog holds it; an organization trail's id is read
/// from its bucket's layout (`AWSLogs/o-.../`), as the configuration may not be at hand.
async fn facts_from_data_dir(
    dir: &std::path::Path,
    store: &dyn ObjectStorage,
    a: &ValidateLogsArgs,
) -> anyhow::Result<TrailFacts> {
    let catalog = opentrail_catalog::Catalog::open(&dir.join("catalog.db"))
        .with_context(|| format!("opening the catalog of {}", dir.display()))?;
    let trails: Vec<Value> = catalog.read(|tx| tx.list_all("trail"))?;
    let trail = trails
        .iter()
        .find(|t| t["arn"].as_str() == Some(a.trail_arn.as_str()))
        .with_context(|| format!("A trail could not be found for {}", a.trail_arn))?;
    let bucket = trail["s3_bucket"].as_str().unwrap_or_default().to_owned();
    let prefix = trail["s3_key_prefix"].as_str().map(str::to_owned);
    let org_id = if trail["is_organization"].as_bool() == Some(true) {
        if a.account_id.is_none() {
            return Err(org_missing_account());
        }
        let base = match prefix.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => format!("{}/AWSLogs/o-", p.trim_end_matches('/')),
            None => "AWSLogs/o-".into(),
        };
        let listed = store.list(&bucket, &base).await?;
        listed
            .first()
            .and_then(|o| o.key[base.len() - 2..].split('/').next().map(str::to_owned))
    } else {
        None
    };
    Ok(TrailFacts {
        bucket,
        prefix,
        org_id,
    })
}

fn s3_store(endpoint: &str, region: &str, key: &str, secret: &str) -> S3Store {
    S3Store::new(S3Settings {
        endpoint: Some(endpoint.to_owned()),
        region: region.to_owned(),
        access_key_id: key.to_owned(),
        secret_access_key: secret.to_owned(),
        path_style: true,
    })
}

fn master_key(a: &ValidateLogsArgs) -> anyhow::Result<Option<opentrail_kms::MasterKey>> {
    if let Ok(k) = std::env::var("OPENTRAIL_MASTER_KEY") {
        return Ok(Some(opentrail_kms::MasterKey::parse(&k)?));
    }
    match &a.master_key_file {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Ok(Some(opentrail_kms::MasterKey::parse(&text)?))
        }
        None => Ok(None),
    }
}

/// Runs the validation; the process exit code (0, 1, or 255 when it could not run).
pub async fn run(a: ValidateLogsArgs) -> u8 {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    match run_inner(&a, &mut stdout.lock(), &mut stderr.lock()).await {
        Ok(code) => code,
        Err(e) => {
            let _ = stdout.lock().flush();
            let _ = write!(stderr.lock(), "\n{e:#}\n");
            255
        }
    }
}

async fn run_inner(
    a: &ValidateLogsArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    // The CLI checks its arguments before touching any service.
    let start = parse_cli_time(&a.start_time).map_err(anyhow::Error::msg)?;
    let end = match &a.end_time {
        Some(t) => parse_cli_time(t).map_err(anyhow::Error::msg)?,
        None => chrono::Utc::now(),
    };
    validate::check_time_range(start, end).map_err(anyhow::Error::msg)?;
    check_trail_arn(&a.trail_arn).map_err(anyhow::Error::msg)?;
    let arn = parse_trail_arn(&a.trail_arn).map_err(anyhow::Error::msg)?;
    let region = a.region.clone().unwrap_or_else(|| arn.home_region.clone());

    let (storage, facts, keys): (Arc<dyn ObjectStorage>, TrailFacts, Box<dyn PublicKeySource>) =
        match (&a.endpoint_url, &a.data_dir) {
            (Some(endpoint), _) => {
                let (key, secret) = credentials(a)?;
                let client = SignedClient::new(Target {
                    endpoint: endpoint.clone(),
                    access_key_id: key.clone(),
                    secret_access_key: secret.clone(),
                    region: region.clone(),
                })?;
                let facts = match &a.s3_bucket {
                    Some(b) => TrailFacts {
                        bucket: b.clone(),
                        prefix: a.s3_prefix.clone(),
                        org_id: None,
                    },
                    None => facts_from_server(&client, a).await?,
                };
                let s3 = a.s3_endpoint_url.as_deref().unwrap_or(endpoint);
                let keys: Box<dyn PublicKeySource> = match &a.public_keys {
                    Some(p) => Box::new(keys_from_file(p)?),
                    None => Box::new(ServerKeys { client }),
                };
                (Arc::new(s3_store(s3, &region, &key, &secret)), facts, keys)
            }
            (None, Some(dir)) => {
                let mut local = LocalStore::open(dir.join("buckets"))
                    .with_context(|| format!("opening the store of {}", dir.display()))?;
                if dir.join("kms/keys.json").exists() {
                    let account = &arn.account_id;
                    let kms =
                        opentrail_kms::Registry::open(dir.join("kms"), master_key(a)?, account)
                            .context("opening the data directory's KMS keys (encrypted objects)")?;
                    local = local.with_kms(Arc::new(kms));
                }
                let local: Arc<dyn ObjectStorage> = Arc::new(Arc::new(local));
                let facts = match &a.s3_bucket {
                    Some(b) => TrailFacts {
                        bucket: b.clone(),
                        prefix: a.s3_prefix.clone(),
                        org_id: None,
                    },
                    None => facts_from_data_dir(dir, local.as_ref(), a).await?,
                };
                let keys = match &a.public_keys {
                    Some(p) => keys_from_file(p)?,
                    None => StaticKeys(read_public_keys(&dir.join("signing-keys"), &region)?),
                };
                (local, facts, Box::new(keys))
            }
            (None, None) => {
                let (Some(s3), Some(bucket), Some(p)) =
                    (&a.s3_endpoint_url, &a.s3_bucket, &a.public_keys)
                else {
                    bail!(
                        "say where to validate: --endpoint-url (a running server), --data-dir (a data directory), or --s3-endpoint-url with --s3-bucket and --public-keys"
                    );
                };
                let (key, secret) = credentials(a)?;
                (
                    Arc::new(s3_store(s3, &region, &key, &secret)),
                    TrailFacts {
                        bucket: bucket.clone(),
                        prefix: a.s3_prefix.clone(),
                        org_id: None,
                    },
                    Box::new(keys_from_file(p)?),
                )
            }
        };
    let req = ValidateRequest {
        trail_arn: a.trail_arn.clone(),
        start,
        end,
        bucket: facts.bucket,
        prefix: a.s3_prefix.clone().or(facts.prefix),
        account_id: a.account_id.clone().unwrap_or_default(),
        org_id: facts.org_id,
        source_region: region,
        verbose: a.verbose,
        check_unlisted: a.check_unlisted,
    };
    let code = validate_logs(&req, storage.as_ref(), keys.as_ref(), out, err)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(u8::try_from(code).unwrap_or(255))
}

fn keys_from_file(path: &std::path::Path) -> anyhow::Result<StaticKeys> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let keys =
        parse_public_key_list(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(StaticKeys(keys))
}
