//! The history crate's error type.

use std::path::PathBuf;

use thiserror::Error;

/// Failures of the event history store.
#[derive(Debug, Error)]
pub enum HistoryError {
    /// A file operation failed.
    #[error("history I/O error on {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file of the store is damaged; the index can be rebuilt from the journal.
    #[error("history store damaged ({path}): {reason}")]
    Corrupt {
        /// The file involved.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Reading the journal failed.
    #[error(transparent)]
    Journal(#[from] opentrail_journal::JournalError),
    /// A pagination token that is forged, damaged, expired or from other parameters.
    #[error("{0}")]
    InvalidToken(&'static str),
}

impl HistoryError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HistoryError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        HistoryError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
