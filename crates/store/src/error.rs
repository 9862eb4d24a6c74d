//! The store crate's error type.

use thiserror::Error;

/// Storage failures.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The bucket does not exist.
    #[error("bucket {0} does not exist")]
    NoSuchBucket(String),
    /// A key the store cannot hold (for the embedded store: `..` segments, a trailing `/`).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// Why.
        reason: &'static str,
    },
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The object's KMS key refused (disabled, missing) or its envelope is damaged; `code`
    /// is the KMS exception name.
    #[error("{message}")]
    Encryption {
        /// KMS exception name, e.g. `DisabledException`.
        code: &'static str,
        /// What happened.
        message: String,
    },
    /// The remote store failed or could not be reached.
    #[error("object store error: {0}")]
    Remote(String),
}

impl From<opentrail_kms::KmsError> for StoreError {
    fn from(e: opentrail_kms::KmsError) -> Self {
        StoreError::Encryption {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl StoreError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}
