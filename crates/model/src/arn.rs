//! Amazon Resource Names: parsing and the ARNs opentrail builds.

use std::fmt;

use crate::ModelError;

/// A parsed ARN: `arn:{partition}:{service}:{region}:{account}:{resource}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub partition: String,
    /// `cloudtrail`, `iam`, `s3`, ...
    pub service: String,
    /// Empty for global resources.
    pub region: String,
    /// Empty for S3 buckets.
    pub account: String,
    /// Everything after the fifth colon (may itself contain colons).
    pub resource: String,
}

impl Arn {
    /// Parses `s`, requiring the six colon-separated parts and a non-empty resource.
    pub fn parse(s: &str) -> Result<Arn, ModelError> {
        let bad = |reason| ModelError::InvalidArn {
            value: s.to_owned(),
            reason,
        };
        let mut parts = s.splitn(6, ':');
        if parts.next() != Some("arn") {
            return Err(bad("must start with \"arn:\""));
        }
        let mut next = |what| parts.next().ok_or_else(|| bad(what));
        let partition = next("missing partition")?.to_owned();
        let service = next("missing service")?.to_owned();
        let region = next("missing region")?.to_owned();
        let account = next("missing account")?.to_owned();
        let resource = next("missing resource")?.to_owned();
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return Err(bad("partition, service and resource must not be empty"));
        }
        Ok(Arn {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// `arn:aws:iam::{account}:root`.
pub fn root(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// `arn:aws:iam::{account}:user/{name}`.
pub fn iam_user(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user/{name}")
}

/// `arn:aws:cloudtrail:{region}:{account}:trail/{name}`.
pub fn trail(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:cloudtrail:{region}:{account}:trail/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_arns() {
        let a = Arn::parse("arn:aws:cloudtrail:us-east-1:123456789012:trail/t").expect("ok");
        assert_eq!(a.service, "cloudtrail");
        assert_eq!(a.resource, "trail/t");
        assert_eq!(
            a.to_string(),
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/t"
        );
        let s3 = Arn::parse("arn:aws:s3:::bucket/key:with:colons").expect("ok");
        assert_eq!(s3.account, "");
        assert_eq!(s3.resource, "bucket/key:with:colons");
    }

    #[test]
    fn rejects_non_arns() {
        for s in [
            "",
            "arn",
            "arn:aws",
            "urn:aws:s3:::b",
            "arn:aws:s3:::",
            "arn::s3:::b",
        ] {
            assert!(Arn::parse(s).is_err(), "{s}");
        }
    }
}
