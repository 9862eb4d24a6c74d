//! The AWS JSON 1.1 protocol: `X-Amz-Target` dispatch and error bodies.
//!
//! Errors carry the exact exception shape name in `__type` (so SDKs raise the modelled
//! exception class) and in the `X-Amzn-ErrorType` header, with the message in `Message`.

use std::borrow::Cow;
use std::fmt;

/// Content type of JSON 1.1 requests and responses.
pub const CONTENT_TYPE_JSON_1_1: &str = "application/x-amz-json-1.1";

/// The `X-Amz-Target` prefix of CloudTrail operations.
pub const CLOUDTRAIL_TARGET_PREFIX: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101";

/// Exception names used across services (CloudTrail's own are in its model).
pub mod codes {
    /// The `X-Amz-Target` names no operation of the service.
    pub const UNKNOWN_OPERATION: &str = "UnknownOperationException";
    /// The body is not valid JSON or a member has the wrong JSON type.
    pub const SERIALIZATION: &str = "SerializationException";
    /// A modelled constraint (required member) is violated.
    pub const VALIDATION: &str = "ValidationException";
    /// No `Authorization` header or presigned query.
    pub const MISSING_AUTHENTICATION_TOKEN: &str = "MissingAuthenticationTokenException";
    /// The `Authorization` header is malformed or lacks a part.
    pub const INCOMPLETE_SIGNATURE: &str = "IncompleteSignatureException";
    /// The signature does not verify, is expired, or has a wrong scope.
    pub const INVALID_SIGNATURE: &str = "InvalidSignatureException";
    /// The access key is not known.
    pub const UNRECOGNIZED_CLIENT: &str = "UnrecognizedClientException";
    /// The caller may not perform the action.
    pub const ACCESS_DENIED: &str = "AccessDeniedException";
    /// Too many requests.
    pub const THROTTLING: &str = "ThrottlingException";
    /// The operation is not (yet) supported by this server.
    pub const UNSUPPORTED_OPERATION: &str = "UnsupportedOperationException";
    /// An unexpected server-side failure.
    pub const INTERNAL_FAILURE: &str = "InternalFailure";
    /// The server cannot take the request right now.
    pub const SERVICE_UNAVAILABLE: &str = "ServiceUnavailable";
}

/// An error to return to an AWS client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The exception shape name, e.g. `TrailNotFoundException`.
    pub code: Cow<'static, str>,
    /// A message that tells the caller what to do.
    pub message: String,
    /// HTTP status (400 for client faults unless AWS uses another).
    pub status: u16,
}

impl AwsError {
    /// A client fault (HTTP 400).
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        AwsError {
            code: code.into(),
            message: message.into(),
            status: 400,
        }
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// `InternalFailure`, HTTP 500.
    pub fn internal(message: impl Into<String>) -> Self {
        AwsError::new(codes::INTERNAL_FAILURE, message).with_status(500)
    }

    /// `ThrottlingException`, which SDKs retry with backoff.
    pub fn throttling(message: impl Into<String>) -> Self {
        AwsError::new(codes::THROTTLING, message)
    }

    /// The JSON 1.1 body: `{"__type":"…","Message":"…"}`.
    pub fn json_body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"__type": self.code, "Message": self.message}))
            .unwrap_or_default()
    }

    /// The REST-JSON body used by the `cloudtrail-data` service: `{"message":"…"}`; the code
    /// travels in `X-Amzn-ErrorType`.
    pub fn rest_json_body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"message": self.message})).unwrap_or_default()
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AwsError {}

/// The operation named by an `X-Amz-Target` header for the service with `prefix`.
///
/// A missing header, another service's prefix or an empty name is `UnknownOperationException`
/// (whether the name is one of the service's operations is the caller's check).
pub fn operation_from_target<'a>(
    target: Option<&'a str>,
    prefix: &str,
) -> Result<&'a str, AwsError> {
    let unknown = || AwsError::new(codes::UNKNOWN_OPERATION, "");
    let target = target.ok_or_else(|| {
        AwsError::new(
            codes::UNKNOWN_OPERATION,
            format!("Missing X-Amz-Target header; CloudTrail operations are sent as {prefix}.<Operation>"),
        )
    })?;
    let (p, op) = target.rsplit_once('.').ok_or_else(unknown)?;
    if p != prefix || op.is_empty() {
        return Err(AwsError::new(
            codes::UNKNOWN_OPERATION,
            format!("Unknown operation {target:?}"),
        ));
    }
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_have_the_aws_shape() {
        let e = AwsError::new("TrailNotFoundException", "Unknown trail: x");
        let v: serde_json::Value = serde_json::from_slice(&e.json_body()).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"__type":"TrailNotFoundException","Message":"Unknown trail: x"})
        );
        assert_eq!(e.status, 400);
        assert_eq!(AwsError::internal("x").status, 500);
        let r: serde_json::Value = serde_json::from_slice(&e.rest_json_body()).expect("json");
        assert_eq!(r, serde_json::json!({"message":"Unknown trail: x"}));
    }

    #[test]
    fn targets_are_split_by_service_prefix() {
        let p = CLOUDTRAIL_TARGET_PREFIX;
        assert_eq!(
            operation_from_target(Some(&format!("{p}.LookupEvents")), p).expect("ok"),
            "LookupEvents"
        );
        for bad in [
            None,
            Some("LookupEvents"),
            Some("com.amazonaws.other.X"),
            Some(&format!("{p}.")[..]),
        ] {
            let err = operation_from_target(bad, p).expect_err("refused");
            assert_eq!(err.code, codes::UNKNOWN_OPERATION);
        }
    }
}
