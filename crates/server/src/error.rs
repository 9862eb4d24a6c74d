//! The server crate's error type.

use thiserror::Error;

/// Failures that stop the server from starting or running.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error("configuration error: {message}")]
    Config {
        /// What is wrong and where.
        message: String,
    },
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] opentrail_journal::JournalError),
    /// The event history store failed.
    #[error(transparent)]
    History(#[from] opentrail_history::HistoryError),
}

impl ServerError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ServerError::Io {
            context: context.into(),
            source,
        }
    }
}
