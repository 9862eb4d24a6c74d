//! The protocol crate's error type.

use thiserror::Error;

/// Failures of the protocol helpers themselves (not AWS errors to send to a client: those are
/// [`crate::AwsError`] values).
#[derive(Debug, Error)]
pub enum ProtocolError {
    /// An embedded service model failed to parse (a build defect, caught by tests).
    #[error("embedded service model {name} is invalid: {reason}")]
    Model {
        /// Which model.
        name: &'static str,
        /// The parse error.
        reason: String,
    },
}
