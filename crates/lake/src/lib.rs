//! CloudTrail Lake: event data stores as Delta Lake tables of Parquet files, fed from the
//! journal, queried with CloudTrail Lake SQL on Apache DataFusion.

pub mod error;
pub mod feed;
pub mod functions;
pub mod import;
pub mod query;
pub mod schema;
pub mod stores;
pub mod writer;

#[cfg(test)]
mod tests;

pub use error::LakeError;
