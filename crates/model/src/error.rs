//! The model crate's error type.

use thiserror::Error;

/// Errors raised while interpreting CloudTrail values (times, ARNs).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// An event time that is not `YYYY-MM-DDTHH:MM:SSZ` or not a real instant.
    #[error("invalid event time {value:?}: expected YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)")]
    InvalidTime {
        /// The text that failed to parse.
        value: String,
    },
    /// A string that is not an ARN of the form `arn:partition:service:region:account:resource`.
    #[error("invalid ARN {value:?}: {reason}")]
    InvalidArn {
        /// The text that failed to parse.
        value: String,
        /// What was wrong with it.
        reason: &'static str,
    },
}
