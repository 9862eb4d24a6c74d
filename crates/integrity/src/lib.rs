//! Log file integrity: the per-region signing keys behind `ListPublicKeys`, the signed and
//! chained digest files trails deliver beside their logs, and the validator that checks a
//! bucket the way `aws cloudtrail validate-logs` does.

#![forbid(unsafe_code)]

pub mod digest;
mod error;
pub mod keys;
pub mod validate;

pub use digest::{
    ChainLink, DigestDocument, DigestInput, DigestLogFile, DigestPlace, SignedDigest, build_digest,
};
pub use error::IntegrityError;
pub use keys::{KeyStore, MasterKey, PublicKey, RotationPolicy, SigningKey};
pub use validate::{PublicKeySource, StaticKeys, ValidateRequest, validate_logs};
