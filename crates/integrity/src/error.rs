//! The integrity crate's error type.

use thiserror::Error;

/// Failures of signing keys, digests and validation.
#[derive(Debug, Error)]
pub enum IntegrityError {
    /// A key file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A key file is damaged or was written by something else.
    #[error("signing key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The master key is wrong for a wrapped private key, or missing.
    #[error("{0}")]
    MasterKey(String),
    /// The cryptographic library refused an operation.
    #[error("cryptography failed: {0}")]
    Crypto(String),
    /// A time range with its start after its end.
    #[error("the start time {start} is after the end time {end}")]
    TimeRange {
        /// Start (epoch seconds).
        start: i64,
        /// End (epoch seconds).
        end: i64,
    },
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] opentrail_store::StoreError),
}

impl IntegrityError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        IntegrityError::Io {
            context: context.into(),
            source,
        }
    }
}
