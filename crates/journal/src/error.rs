//! The journal's error type.

use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong appending to, reading or maintaining the journal.
#[derive(Debug, Error)]
pub enum JournalError {
    /// A file operation failed.
    #[error("journal I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A block failed its checksum or framing in a segment that is not the tail.
    #[error("journal corrupt in {path} at byte {offset}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the bad block.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// Consumers are too far behind; the caller should retry later.
    #[error("journal consumers are {lag} entries behind (limit {limit}); retry later")]
    Backpressure {
        /// Entries between the slowest consumer and the head.
        lag: u64,
        /// The configured limit.
        limit: u64,
    },
    /// An earlier write or sync failed; the journal refuses appends until restarted.
    #[error(
        "journal stopped after an earlier I/O failure ({0}); restart the server once the disk is healthy"
    )]
    Poisoned(String),
    /// The journal has been shut down.
    #[error("journal is shut down")]
    Closed,
    /// The requested position has already been deleted by retention.
    #[error("journal position {requested} was deleted by retention; the oldest kept is {oldest}")]
    Truncated {
        /// The position asked for.
        requested: u64,
        /// The oldest position still stored.
        oldest: u64,
    },
    /// A request the journal cannot take (empty batch, oversized entry, bad consumer name).
    #[error("invalid journal request: {0}")]
    Invalid(String),
}

impl JournalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        JournalError::Io {
            path: path.into(),
            source,
        }
    }
}
