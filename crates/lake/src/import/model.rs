//! What an import is, in the API's terms: its status, source, statistics and failure
//! entries, the record kept in the catalog, how each operation renders it, and the
//! parameters of StartImport and ListImports.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::LakeError;

/// An import's status, with AWS's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportStatus {
    /// Listing the source.
    Initializing,
    /// Importing files.
    InProgress,
    /// Ended with failures (see ListImportFailures); StartImport with its id retries.
    Failed,
    /// Stopped by StopImport; StartImport with its id resumes.
    Stopped,
    /// Ended without failures.
    Completed,
}

impl ImportStatus {
    /// AWS's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Initializing => "INITIALIZING",
            ImportStatus::InProgress => "IN_PROGRESS",
            ImportStatus::Failed => "FAILED",
            ImportStatus::Stopped => "STOPPED",
            ImportStatus::Completed => "COMPLETED",
        }
    }

    /// Parses AWS's name.
    pub fn parse(s: &str) -> Option<ImportStatus> {
        [
            ImportStatus::Initializing,
            ImportStatus::InProgress,
            ImportStatus::Failed,
            ImportStatus::Stopped,
            ImportStatus::Completed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Whether a runner works on it.
    pub fn ongoing(self) -> bool {
        matches!(self, ImportStatus::Initializing | ImportStatus::InProgress)
    }
}

/// `S3ImportSource`, in the API's member names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3ImportSource {
    /// `S3LocationUri`: `s3://bucket/prefix`, or (opentrail) `file:///folder` or `/folder`.
    pub s3_location_uri: String,
    /// `S3BucketRegion`.
    pub s3_bucket_region: String,
    /// `S3BucketAccessRoleArn` (kept and shown; opentrail reads with its own access).
    pub s3_bucket_access_role_arn: String,
}

/// `ImportSource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSource {
    /// `S3`.
    #[serde(rename = "S3")]
    pub s3: S3ImportSource,
}

/// `ImportStatistics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportStatistics {
    /// Folders holding log files in the time range.
    pub prefixes_found: u64,
    /// Folders all of whose files are done.
    pub prefixes_completed: u64,
    /// Log files imported (failed ones are not counted).
    pub files_completed: u64,
    /// Events written to the store (duplicates and events outside the range are not).
    pub events_completed: u64,
    /// Failure entries (ListImportFailures).
    pub failed_entries: u64,
}

/// One `ImportFailureListItem`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportFailure {
    /// The file (`s3://bucket/key`, or its path).
    pub location: String,
    /// `ErrorType`.
    pub error_type: String,
    /// `ErrorMessage`.
    pub error_message: String,
    /// `LastUpdatedTime`.
    pub last_updated: DateTime<Utc>,
}

/// One import, as kept in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Import {
    /// The import id (a UUID).
    pub id: String,
    /// Owning account.
    pub account: String,
    /// Region it was started in.
    pub region: String,
    /// The destination store's ARN.
    pub destination: String,
    /// The destination store's id (its table).
    pub store_id: String,
    /// Where the log files are.
    pub source: ImportSource,
    /// Events before this are left out.
    pub start_event_time: Option<DateTime<Utc>>,
    /// Events after this are left out.
    pub end_event_time: Option<DateTime<Utc>>,
    /// Where it is.
    pub status: ImportStatus,
    /// CreatedTimestamp.
    pub created: DateTime<Utc>,
    /// UpdatedTimestamp.
    pub updated: DateTime<Utc>,
    /// Which run of it this is: a retry after FAILED starts a new one over a fresh listing.
    pub attempt: u32,
    /// Files of the listing (in order) whose events are all in the table or not for it.
    pub files_done: u64,
    /// Statistics as of `files_done`.
    pub stats: ImportStatistics,
    /// Failure entries, oldest first.
    pub failures: Vec<ImportFailure>,
}

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// Which operation's answer an import is rendered for: the members differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportShape {
    /// StartImport (no statistics).
    Start,
    /// GetImport and StopImport (with `ImportStatistics`).
    Full,
}

impl Import {
    /// The import as `shape`'s operation answers it.
    pub fn to_api(&self, shape: ImportShape) -> Value {
        let mut out = json!({
            "ImportId": self.id,
            "Destinations": [self.destination],
            "ImportSource": self.source,
            "ImportStatus": self.status.as_str(),
            "CreatedTimestamp": epoch(self.created),
            "UpdatedTimestamp": epoch(self.updated),
        });
        if let Some(t) = self.start_event_time {
            out["StartEventTime"] = json!(epoch(t));
        }
        if let Some(t) = self.end_event_time {
            out["EndEventTime"] = json!(epoch(t));
        }
        if shape == ImportShape::Full {
            out["ImportStatistics"] = json!(self.stats);
        }
        out
    }

    /// The ListImports entry.
    pub fn to_list_item(&self) -> Value {
        json!({
            "ImportId": self.id,
            "ImportStatus": self.status.as_str(),
            "Destinations": [self.destination],
            "CreatedTimestamp": epoch(self.created),
            "UpdatedTimestamp": epoch(self.updated),
        })
    }

    pub(crate) fn arn(&self) -> String {
        import_arn(&self.region, &self.account, &self.id)
    }

    /// Whether `t` is inside the import's event time range.
    pub fn in_range(&self, t: DateTime<Utc>) -> bool {
        self.start_event_time.is_none_or(|s| t >= s) && self.end_event_time.is_none_or(|e| t <= e)
    }
}

pub(crate) fn from_epoch(secs: f64) -> Result<DateTime<Utc>, LakeError> {
    DateTime::from_timestamp_micros((secs * 1e6).round() as i64)
        .filter(|_| secs.is_finite())
        .ok_or_else(|| LakeError::InvalidParameter(format!("{secs} is not a valid timestamp.")))
}

pub(crate) fn import_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:cloudtrail:{region}:{account}:import/{id}")
}

/// StartImport's parameters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartImport {
    /// `Destinations`: exactly one event data store ARN (new imports).
    #[serde(default)]
    pub destinations: Option<Vec<String>>,
    /// `ImportSource` (new imports).
    #[serde(default)]
    pub import_source: Option<ImportSource>,
    /// `StartEventTime`, in epoch seconds as JSON 1.1 sends timestamps.
    #[serde(default)]
    pub start_event_time: Option<f64>,
    /// `EndEventTime`, in epoch seconds.
    #[serde(default)]
    pub end_event_time: Option<f64>,
    /// `ImportId`: resume a stopped import or retry a failed one.
    #[serde(default)]
    pub import_id: Option<String>,
}

/// ListImports' filters and page.
#[derive(Debug, Clone, Default)]
pub struct ListImports {
    /// `MaxResults` (1..=1000).
    pub max_results: Option<i64>,
    /// `Destination`: a store ARN.
    pub destination: Option<String>,
    /// `ImportStatus`.
    pub import_status: Option<String>,
    /// `NextToken`.
    pub next_token: Option<String>,
}
