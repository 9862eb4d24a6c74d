//! The CloudTrail vocabulary: event records exactly as AWS writes them, the identities inside
//! them, event times, ARNs, the checks an incoming record must pass, and the integration
//! events of CloudTrail Lake channels.
//!
//! Nothing here does I/O; every other opentrail crate builds on these types.

#[macro_use]
mod lenient;
pub mod arn;
mod error;
pub mod identity;
pub mod ids;
pub mod incoming;
pub mod integration;
pub mod record;
pub mod selectors;
pub mod time;

pub use error::ModelError;
pub use identity::{SessionAttributes, SessionContext, SessionIssuer, UserIdentity, username_of};
pub use incoming::{IncomingError, IncomingErrorCode, RecordView, ValidRecord, validate_incoming};
pub use record::{
    Addendum, EVENT_VERSION, EventCategory, EventType, InsightDetails, Record, Resource, TlsDetails,
};
