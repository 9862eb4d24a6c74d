//! Key material at rest: the master key that seals it, a KMS-style registry of symmetric keys
//! (served over the KMS API and named by trails' `KmsKeyId`), and the envelope encryption that
//! protects stored log files and digests with them.

#![forbid(unsafe_code)]

pub mod envelope;
mod error;
pub mod master;
pub mod registry;

pub use envelope::{Envelope, open_object, seal_object};
pub use error::KmsError;
pub use master::MasterKey;
pub use registry::{Alias, KeyMetadata, Registry};
