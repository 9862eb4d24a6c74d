//! Authenticating a request: SigV4 verification against the configured principals.
//!
//! The outcome is either a [`Caller`] or a [`Refusal`]; both carry the identity and region
//! that the request's audit record shows, because refused calls are recorded too.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use opentrail_model::UserIdentity;
use opentrail_protocol::AwsError;
use opentrail_protocol::awsjson::codes;
use opentrail_protocol::sigv4::{self, Authorization, RequestParts, SigV4Error, UriEncoding};

use crate::credentials::Principal;
use crate::state::AppState;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The principal, when the key is known (`None` only with `accept_any_access_key`).
    pub principal: Option<Arc<Principal>>,
    /// The identity recorded for the call.
    pub identity: UserIdentity,
    /// The key the request was signed with.
    pub access_key_id: String,
    /// Region from the credential scope.
    pub region: String,
}

/// A refused request and what its audit record shows.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The error returned to the client.
    pub error: AwsError,
    /// Who the request claimed to be.
    pub identity: UserIdentity,
    /// Region from the credential scope, when it could be read.
    pub region: Option<String>,
}

/// Verifies the request's SigV4 signature for `service` (the credential-scope service name).
pub fn authenticate(
    state: &AppState,
    parts: &http::request::Parts,
    payload_sha256: &str,
    service: &str,
) -> Result<Caller, Box<Refusal>> {
    let auth = sigv4::parse_authorization(&parts.headers).map_err(|e| {
        Box::new(Refusal {
            error: e.to_aws(),
            identity: UserIdentity::unknown(None),
            region: None,
        })
    })?;
    let refuse = |error: AwsError, identity: UserIdentity| {
        Box::new(Refusal {
            error,
            identity,
            region: Some(auth.region.clone()),
        })
    };
    let claimed = |auth: &Authorization| {
        let mut id = UserIdentity::unknown(Some(&auth.access_key_id));
        if let Some(p) = state.credentials.get(&auth.access_key_id) {
            id.account_id = Some(p.account_id.clone());
        }
        id
    };
    if auth.service != service {
        return Err(refuse(
            SigV4Error::Invalid(format!(
                "Credential should be scoped to correct service: '{service}'."
            ))
            .to_aws(),
            claimed(&auth),
        ));
    }
    let region_ok = auth
        .region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(refuse(
            SigV4Error::Invalid(format!(
                "Credential should be scoped to a valid region, not '{}'.",
                auth.region
            ))
            .to_aws(),
            claimed(&auth),
        ));
    }
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        payload_sha256,
    };
    let now = Utc::now();
    let skew = TimeDelta::seconds(state.config.auth.max_clock_skew_secs as i64);
    let invalid_token = || {
        AwsError::new(
            codes::UNRECOGNIZED_CLIENT,
            "The security token included in the request is invalid.",
        )
    };
    match state.credentials.get(&auth.access_key_id) {
        Some(principal) => {
            sigv4::verify(
                &req,
                &auth,
                principal.secret(),
                now,
                skew,
                UriEncoding::Double,
            )
            .map_err(|e| refuse(e.to_aws(), claimed(&auth)))?;
            // Long-term keys carry no session token; one sent with them was not issued here.
            if parts.headers.contains_key("x-amz-security-token") {
                return Err(refuse(invalid_token(), claimed(&auth)));
            }
            Ok(Caller {
                identity: principal.identity(),
                principal: Some(principal.clone()),
                access_key_id: auth.access_key_id.clone(),
                region: auth.region.clone(),
            })
        }
        None if state.config.auth.accept_any_access_key => {
            sigv4::check_request_time(&req, &auth, now, skew)
                .map_err(|e| refuse(e.to_aws(), claimed(&auth)))?;
            let mut identity = UserIdentity::unknown(Some(&auth.access_key_id));
            identity.account_id = Some(state.config.account_id.clone());
            Ok(Caller {
                principal: None,
                identity,
                access_key_id: auth.access_key_id.clone(),
                region: auth.region.clone(),
            })
        }
        None => Err(refuse(invalid_token(), claimed(&auth))),
    }
}
