//! Event history: the last 90 days of management events of every account and region,
//! indexed for LookupEvents by each of its eight lookup attributes and by time.
//!
//! The store is a small log-structured index built for this one query shape. Incoming events
//! go to an in-memory memtable (visible at once); flushes write their records once, zstd
//! compressed, to record files, and an immutable index segment whose rows are sorted newest
//! first with one posting list per (account, region, category, attribute, value). A lookup is
//! a binary search in each segment's posting list plus a merge, so its cost does not grow with
//! the number of events; compaction merges only index segments, never records. The journal is
//! the source of truth: the memtable is rebuilt from it after a restart, and the whole store
//! is rebuilt from it when damaged.

mod consumer;
mod error;
pub mod extract;
mod query;
mod store;
pub mod token;

pub use consumer::{CONSUMER, spawn_consumer};
pub use error::HistoryError;
pub use extract::{Attr, Category};
pub use query::{Cursor, Found, Page, Query};
pub use store::{History, HistoryConfig, HistoryStats, OpenReport};
