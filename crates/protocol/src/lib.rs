//! AWS wire protocols as opentrail speaks them: the JSON 1.1 protocol of the CloudTrail API
//! (targets, error bodies), the service models that name every operation and member, and
//! Signature Version 4 verification.
//!
//! Nothing here knows about a web framework; the server hands in `http` types and bytes.

pub mod awsjson;
mod error;
pub mod model;
pub mod sigv4;

pub use awsjson::AwsError;
pub use error::ProtocolError;
