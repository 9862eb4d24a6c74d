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

/// A `KmsKeyId` as CloudTrail takes it (key ARN, alias ARN, key id or alias name) in its full
/// ARN form, or `None` when it is none of those.
pub fn key_id_to_arn(id: &str, region: &str, account: &str) -> Option<String> {
    if id.starts_with("arn:") {
        let parts: Vec<&str> = id.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[2] == "kms"
            && (parts[5].starts_with("key/") || parts[5].starts_with("alias/"));
        return ok.then(|| id.to_owned());
    }
    if let Some(alias) = id.strip_prefix("alias/") {
        let ok = !alias.is_empty()
            && alias.len() <= 256
            && !alias.starts_with("aws")
            && alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c));
        return ok.then(|| format!("arn:aws:kms:{region}:{account}:{id}"));
    }
    (id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        .then(|| format!("arn:aws:kms:{region}:{account}:key/{id}"))
}
