//! Object storage for what opentrail delivers (log files, digests, query results).
//!
//! [`ObjectStorage`] is what the stages write through. [`LocalStore`] is the embedded default:
//! buckets as directories under the data directory, objects written atomically (temporary
//! file, fsync, rename) with their metadata kept beside them; [`s3api`] serves it over the S3
//! API with the `s3s` crate, so the aws CLI, boto3 and `validate-logs` read it like S3.
//! [`S3Store`] writes to any S3-compatible service (AWS S3, MinIO, Ceph, Garage) through the
//! `object_store` crate.

mod error;
mod local;
pub mod policy;
mod remote;
pub mod s3api;

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;

pub use error::StoreError;
pub use local::LocalStore;
pub use remote::{S3Settings, S3Store};

/// User metadata of an object (`x-amz-meta-<key>`), keys lower-case.
pub type Metadata = BTreeMap<String, String>;

/// A bucket as CloudTrail's checks see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketInfo {
    /// The bucket's region (`""` means us-east-1, as S3 reports it).
    pub region: String,
    /// The bucket policy, when one is set and readable.
    pub policy: Option<String>,
}

/// An object read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its bytes (decrypted when the store encrypted them).
    pub body: Bytes,
    /// Its user metadata.
    pub metadata: Metadata,
    /// Content type, if set.
    pub content_type: Option<String>,
    /// ARN of the KMS key it is encrypted with at rest (SSE-KMS), if any.
    pub kms_key: Option<String>,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where stages write objects.
#[async_trait]
pub trait ObjectStorage: Send + Sync {
    /// The bucket, if it exists and can be reached.
    async fn bucket(&self, bucket: &str) -> Result<Option<BucketInfo>, StoreError>;
    /// Writes an object whole: it is never visible partly written. With `kms_key` (a KMS key
    /// ARN) it is encrypted at rest with that key: SSE-KMS.
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        metadata: &Metadata,
        kms_key: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Reads an object.
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Object>, StoreError>;
    /// Keys under `prefix`, in key order.
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError>;
    /// Deletes an object (no error if it does not exist).
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError>;
    /// A short description for logs and errors (`local`, `s3 http://...`).
    fn describe(&self) -> String;
}

/// S3 bucket naming rules (3-63 characters of lower-case letters, digits, dots and hyphens;
/// labels start and end with a letter or digit; not an IP address). `None` when valid,
/// otherwise what is wrong.
pub fn bucket_name_problem(name: &str) -> Option<&'static str> {
    if name.len() < 3 || name.len() > 63 {
        return Some("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Some("may contain only lower-case letters, digits, dots and hyphens");
    }
    if name.split('.').any(|l| {
        l.is_empty()
            || !l.as_bytes()[0].is_ascii_alphanumeric()
            || !l.as_bytes()[l.len() - 1].is_ascii_alphanumeric()
    }) {
        return Some(
            "labels must start and end with a letter or digit (no \"..\", \"-.\" or \".-\")",
        );
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("must not look like an IP address");
    }
    if name.starts_with("xn--") || name.ends_with("-s3alias") {
        return Some("uses a reserved prefix or suffix");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket.logs", "a1b2", "x".repeat(63).as_str()] {
            assert_eq!(bucket_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "ab",
            "Upper",
            "under_score",
            "-start",
            "end-",
            "a..b",
            "a-.b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "x".repeat(64).as_str(),
        ] {
            assert!(bucket_name_problem(bad).is_some(), "{bad}");
        }
    }
}
