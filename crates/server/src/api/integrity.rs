//! ListPublicKeys: the public halves of the digest signing keys of the caller's region (the
//! region of the request's credential scope, as digests are signed per region).

use opentrail_protocol::AwsError;
use serde::Deserialize;
use serde_json::Value;

use super::ApiContext;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Input {
    #[serde(default)]
    start_time: Option<f64>,
    #[serde(default)]
    end_time: Option<f64>,
    #[serde(default)]
    next_token: Option<String>,
}

/// ListPublicKeys.
pub async fn list_public_keys(ctx: &ApiContext<'_>, input: Value) -> Result<Value, AwsError> {
    let input: Input = serde_json::from_value(input).map_err(|e| {
        AwsError::new(
            "SerializationException",
            format!("The request could not be read: {e}"),
        )
    })?;
    if input.next_token.as_deref().is_some_and(|t| !t.is_empty()) {
        // Every key of a range fits one answer, so no token is ever handed out.
        return Err(AwsError::new(
            "InvalidTokenException",
            "The NextToken is not valid: ListPublicKeys returns every key in one response and issues no NextToken.",
        ));
    }
    let now = chrono::Utc::now().timestamp();
    let start = input.start_time.map_or(now, |t| t.floor() as i64);
    let end = input.end_time.map_or(now, |t| t.floor() as i64);
    if start > end {
        return Err(AwsError::new(
            "InvalidTimeRangeException",
            "The StartTime must be before the EndTime.",
        ));
    }
    let keys = ctx.state.keys.clone();
    let region = ctx.caller.region.clone();
    let listed = tokio::task::spawn_blocking(move || keys.public_keys(&region, start, end, now))
        .await
        .map_err(|e| AwsError::internal(format!("listing public keys failed: {e}")))?
        .map_err(|e| {
            tracing::error!(error = %e, "listing public keys failed");
            AwsError::internal(format!("The signing keys could not be read: {e}"))
        })?;
    Ok(opentrail_integrity::keys::public_key_list_json(&listed))
}
