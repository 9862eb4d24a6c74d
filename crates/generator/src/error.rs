//! The generator crate's error type.

use std::path::PathBuf;

use thiserror::Error;

/// Errors raised while writing generated records.
///
/// Generating records cannot fail; only writing them out can.
#[derive(Debug, Error)]
pub enum GeneratorError {
    /// A file or directory could not be created or written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// A stream writer failed (for [`crate::write_ndjson`], whose target has no path).
    #[error("cannot write records: {0}")]
    Write(#[from] std::io::Error),
    /// A record could not be serialised.
    #[error("cannot serialise a record: {0}")]
    Json(#[from] serde_json::Error),
    /// A record lacks a member the AWS log-file layout is keyed on.
    #[error("record {event_id:?} has no usable {member}, which the log-file layout needs")]
    MissingMember {
        /// `eventTime`, `awsRegion` or `recipientAccountId`.
        member: &'static str,
        /// The record's `eventID`, when it has one.
        event_id: Option<String>,
    },
}
