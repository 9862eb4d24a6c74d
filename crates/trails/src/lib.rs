//! Trails: configuration (validated exactly as AWS does) and delivery of what they select as
//! AWS CloudTrail log files to S3-compatible storage, with SNS-style notifications.
//!
//! A trail's configuration lives in the catalog. Whether it is logging is read from the
//! journal itself, from the records of its own successful StartLogging and StopLogging calls,
//! so that delivery after a crash makes exactly the decisions it made before. Each trail has
//! a delivery task that follows the journal from its checkpoint, batches the selected events
//! per region, and writes each batch as one gzip file whose name and content are recorded
//! (as an intent) before it is written: a restart rewrites the same file with the same bytes,
//! never a second copy, and never skips one.

mod config;
mod delivery;
mod digests;
mod error;
mod logfile;
mod notify;
mod service;
mod validate;

pub use config::{
    DEFAULT_MAX_BATCH_BYTES, DeliverySettings, InsightSelector, MAX_LOG_FILE_BYTES, Organization,
    SnsTopic, TrailConfig, TrailStatus,
};
pub use delivery::Delivery;
pub use error::TrailError;
pub use logfile::{
    LogFile, build_log_file, build_log_file_with, log_key, records_document, unique_suffix,
};
pub use notify::Notifier;
pub use opentrail_store::policy::bucket_policy_allows_cloudtrail;
pub use service::{CreateTrail, TrailService, UpdateTrail, validate_tags};
pub use validate::{validate_kms_key_id, validate_prefix, validate_trail_name};
