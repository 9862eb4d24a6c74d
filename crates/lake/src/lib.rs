//! CloudTrail Lake: event data stores as Delta Lake tables of Parquet files, fed from the
//! journal, queried with CloudTrail Lake SQL on Apache DataFusion; channels that bring
//! events from outside AWS into integration-events stores.

pub mod channels;
pub mod error;
pub mod eventjson;
pub mod feed;
pub mod functions;
pub mod import;
pub mod query;
pub mod results;
pub mod schema;
pub mod schema_activity;
pub mod stores;
pub mod tables;
pub mod writer;

#[cfg(test)]
mod tests;

pub use error::LakeError;
