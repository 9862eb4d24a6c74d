//! The journal: opentrail's one source of truth for accepted events.
//!
//! Events are appended in blocks to segment files; every block carries a CRC-32C over its
//! content and is written whole by a single writer thread that merges concurrent appends into
//! one write and one `fdatasync` (group commit). An append returns only once its block is
//! durable (or, in periodic mode, written), so an acknowledged event survives `kill -9` and
//! power loss. On open, a torn tail left by a crash is cut off; nothing acknowledged is in it.
//!
//! Consumers (history, trails, lake, insights) read with their own [`Reader`] and keep a
//! durable checkpoint here; a segment is deleted only once every consumer is past it.

mod checkpoint;
mod error;
mod format;
mod journal;
mod reader;
mod segment;
mod stats;
mod writer;

pub use error::JournalError;
pub use journal::{Appended, Journal, JournalConfig, RecoveryReport, RetentionReport, SyncMode};
pub use reader::{Entry, Reader};
pub use stats::{FSYNC_BUCKETS_MICROS, StatsSnapshot};

/// A log sequence number: the position of one entry. The first entry ever written is 1.
pub type Lsn = u64;
