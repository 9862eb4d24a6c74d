//! What is stored about a trail, and the settings delivery runs with.

use std::time::Duration;

use opentrail_model::selectors::Selectors;
use serde::{Deserialize, Serialize};

/// A trail as stored in the catalog (kind `trail`, keyed by its ARN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrailConfig {
    /// A stable id for its delivery state (the name can be reused after a delete).
    pub id: String,
    /// Trail name.
    pub name: String,
    /// Owning account.
    pub account: String,
    /// Region it was created in.
    pub home_region: String,
    /// `arn:aws:cloudtrail:{home}:{account}:trail/{name}`.
    pub arn: String,
    /// Destination bucket.
    pub s3_bucket: String,
    /// Key prefix (without trailing `/`).
    pub s3_key_prefix: Option<String>,
    /// Notification topic name.
    pub sns_topic_name: Option<String>,
    /// Notification topic ARN.
    pub sns_topic_arn: Option<String>,
    /// Whether global service events (IAM, STS, sign-in...) are included.
    pub include_global_service_events: bool,
    /// Whether it logs every region.
    pub is_multi_region: bool,
    /// Whether digests are delivered.
    pub log_file_validation: bool,
    /// CloudWatch Logs group (stored; opentrail does not deliver there).
    pub cloudwatch_logs_log_group_arn: Option<String>,
    /// CloudWatch Logs role.
    pub cloudwatch_logs_role_arn: Option<String>,
    /// KMS key ARN.
    pub kms_key_id: Option<String>,
    /// Whether it logs the whole organization.
    pub is_organization: bool,
    /// `RecursiveLogging`.
    pub recursive_logging: bool,
    /// Event selectors.
    pub selectors: Selectors,
    /// Insight selectors, when set.
    pub insight_selectors: Option<Vec<InsightSelector>>,
    /// Whether it is logging (mirrors the journal; the API reads it here).
    pub logging: bool,
    /// Last StartLogging, epoch seconds.
    pub start_logging_time: Option<f64>,
    /// Last StopLogging, epoch seconds.
    pub stop_logging_time: Option<f64>,
    /// Journal position when it was created: its delivery starts after it.
    pub created_lsn: u64,
}

impl TrailConfig {
    /// A new trail with AWS's defaults: single-region, global service events included,
    /// management events of both kinds selected, not logging.
    pub fn new(id: &str, name: &str, account: &str, region: &str, bucket: &str) -> TrailConfig {
        TrailConfig {
            id: id.to_owned(),
            name: name.to_owned(),
            account: account.to_owned(),
            home_region: region.to_owned(),
            arn: opentrail_model::arn::trail(region, account, name),
            s3_bucket: bucket.to_owned(),
            s3_key_prefix: None,
            sns_topic_name: None,
            sns_topic_arn: None,
            include_global_service_events: true,
            is_multi_region: false,
            log_file_validation: false,
            cloudwatch_logs_log_group_arn: None,
            cloudwatch_logs_role_arn: None,
            kms_key_id: None,
            is_organization: false,
            recursive_logging: true,
            selectors: Selectors::default(),
            insight_selectors: None,
            logging: false,
            start_logging_time: None,
            stop_logging_time: None,
            created_lsn: 0,
        }
    }

    /// The `Trail` shape of GetTrail / DescribeTrails.
    pub fn to_api(&self) -> serde_json::Value {
        let mut t = serde_json::Map::new();
        let mut put = |k: &str, v: serde_json::Value| {
            if !v.is_null() {
                t.insert(k.into(), v);
            }
        };
        use serde_json::json;
        put("Name", json!(self.name));
        put("S3BucketName", json!(self.s3_bucket));
        put("S3KeyPrefix", json!(self.s3_key_prefix));
        put("SnsTopicName", json!(self.sns_topic_name));
        put("SnsTopicARN", json!(self.sns_topic_arn));
        put(
            "IncludeGlobalServiceEvents",
            json!(self.include_global_service_events),
        );
        put("IsMultiRegionTrail", json!(self.is_multi_region));
        put("HomeRegion", json!(self.home_region));
        put("TrailARN", json!(self.arn));
        put("LogFileValidationEnabled", json!(self.log_file_validation));
        put(
            "CloudWatchLogsLogGroupArn",
            json!(self.cloudwatch_logs_log_group_arn),
        );
        put(
            "CloudWatchLogsRoleArn",
            json!(self.cloudwatch_logs_role_arn),
        );
        put("KmsKeyId", json!(self.kms_key_id));
        put(
            "HasCustomEventSelectors",
            json!(!self.selectors.is_default()),
        );
        put(
            "HasInsightSelectors",
            json!(
                self.insight_selectors
                    .as_ref()
                    .is_some_and(|s| !s.is_empty())
            ),
        );
        put("IsOrganizationTrail", json!(self.is_organization));
        serde_json::Value::Object(t)
    }

    /// The flat shape CreateTrail and UpdateTrail return (no HomeRegion, no Has*).
    pub fn to_write_response(&self) -> serde_json::Value {
        let mut v = self.to_api();
        if let Some(m) = v.as_object_mut() {
            m.remove("HomeRegion");
            m.remove("HasCustomEventSelectors");
            m.remove("HasInsightSelectors");
        }
        v
    }
}

/// An insight selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InsightSelector {
    /// `ApiCallRateInsight` or `ApiErrorRateInsight` (absent is invalid, as in AWS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insight_type: Option<String>,
    /// `Management` and/or `Data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_categories: Option<Vec<String>>,
}

/// Delivery outcomes shown by GetTrailStatus (kept with the delivery state).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrailStatus {
    /// Last successful log delivery, epoch seconds.
    pub latest_delivery_time: Option<f64>,
    /// Last delivery error (cleared by a success).
    pub latest_delivery_error: Option<String>,
    /// Last delivery attempt, epoch seconds.
    pub latest_delivery_attempt_time: Option<f64>,
    /// Whether the last attempt succeeded.
    pub latest_delivery_attempt_succeeded: Option<bool>,
    /// Last successful notification, epoch seconds.
    pub latest_notification_time: Option<f64>,
    /// Last notification error.
    pub latest_notification_error: Option<String>,
    /// Last notification attempt, epoch seconds.
    pub latest_notification_attempt_time: Option<f64>,
    /// Whether the last notification attempt succeeded.
    pub latest_notification_attempt_succeeded: Option<bool>,
    /// Last digest delivery, epoch seconds.
    pub latest_digest_delivery_time: Option<f64>,
    /// Last digest delivery error.
    pub latest_digest_delivery_error: Option<String>,
    /// Files delivered since creation.
    pub files_delivered: u64,
    /// Events delivered since creation.
    pub events_delivered: u64,
}

/// A notification topic declared in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnsTopic {
    /// Topic name (`SnsTopicName` refers to it by name or ARN).
    pub name: String,
    /// HTTP(S) endpoints that receive each notification (POST, SNS envelope).
    #[serde(default)]
    pub subscribers: Vec<String>,
    /// PEM file of certificate authorities trusted for `https` subscribers besides the
    /// system's (a private CA or a self-signed endpoint).
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

/// The organization, when the account manages one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// `o-` followed by 10-32 lower-case letters or digits.
    pub id: String,
    /// The management account.
    pub management_account: String,
    /// Member accounts (the management account is a member too).
    #[serde(default)]
    pub member_accounts: Vec<String>,
}

/// CloudTrail's limit on a compressed log file.
pub const MAX_LOG_FILE_BYTES: usize = 50_000_000;

/// Default batch size in JSON bytes: a batch is closed at the first record that reaches it,
/// so a file holds at most this plus one record (256 KiB), and deflate never grows its input
/// by more than 0.1% plus the gzip framing (tested in `logfile`), which stays under
/// [`MAX_LOG_FILE_BYTES`].
pub const DEFAULT_MAX_BATCH_BYTES: usize = 45 * 1024 * 1024;

/// How delivery batches events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Deliver at most this long after the first event of a batch.
    pub flush_interval: Duration,
    /// Deliver once a region's batch holds this many events...
    pub max_events: usize,
    /// ...or this many bytes of JSON. The default keeps every file under CloudTrail's 50 MB
    /// compressed even for incompressible records: see [`MAX_LOG_FILE_BYTES`].
    pub max_bytes: usize,
    /// gzip level of log files.
    pub gzip_level: u32,
    /// Cores a large log file is compressed on (still one gzip member).
    pub compression_threads: usize,
    /// How often a digest file is written per account and region while a trail logs with
    /// validation on (AWS: one hour).
    pub digest_interval: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            flush_interval: Duration::from_secs(60),
            max_events: 50_000,
            max_bytes: DEFAULT_MAX_BATCH_BYTES,
            gzip_level: 6,
            compression_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4),
            digest_interval: Duration::from_secs(3600),
        }
    }
}
