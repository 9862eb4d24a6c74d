//! The AWS APIs of the listener: CloudTrail's JSON 1.1 control plane, the parts of KMS and
//! Organizations opentrail serves, and CloudTrail Data's REST-JSON PutAuditEvents
//! ([`audit_events`]). Each request is authenticated, its `X-Amz-Target`
//! operation routed and checked against the service model, the handler run, the call
//! recorded (as AWS CloudTrail records calls to these services) and answered.
//!
//! Handlers live in one module per API group; [`routes`] names the group of each of the 60
//! CloudTrail operations, so an operation this server version does not implement yet still
//! gets a clear AWS-shaped answer naming it.

pub mod audit_events;
pub mod history;
mod integrity;
mod kms;
mod lake_channels;
mod lake_import;
mod lake_query;
mod lake_stores;
mod organizations;
mod routes;
mod trails;

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use opentrail_protocol::awsjson::{self, codes};
use opentrail_protocol::{AwsError, model, sigv4};
use serde_json::Value;
use tracing::Instrument;

use crate::audit::CallRecord;
use crate::auth::{self, Caller};
use crate::request::{RequestMeta, aws_error_response, json_response};
use crate::state::AppState;
use crate::telemetry;

/// Largest control-plane request body (the biggest legitimate one, PutEventSelectors with 500
/// values, is far smaller).
const MAX_API_BODY: usize = 4 * 1024 * 1024;

/// A JSON 1.1 service of the listener, told apart by the service its SigV4 scope names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    CloudTrail,
    Kms,
    Organizations,
}

impl Service {
    fn from_scope(service: Option<&str>) -> Service {
        match service {
            Some("kms") => Service::Kms,
            Some("organizations") => Service::Organizations,
            _ => Service::CloudTrail,
        }
    }

    fn model(self) -> &'static model::ServiceModel {
        match self {
            Service::CloudTrail => model::cloudtrail(),
            Service::Kms => model::kms(),
            Service::Organizations => model::organizations(),
        }
    }

    /// The SigV4 service name its requests are signed for.
    fn signing_name(self) -> &'static str {
        match self {
            Service::CloudTrail => "cloudtrail",
            Service::Kms => "kms",
            Service::Organizations => "organizations",
        }
    }

    /// `eventSource` of its calls' records.
    fn event_source(self) -> &'static str {
        match self {
            Service::CloudTrail => crate::audit::CLOUDTRAIL_SOURCE,
            Service::Kms => "kms.amazonaws.com",
            Service::Organizations => "organizations.amazonaws.com",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Service::CloudTrail => "CloudTrail",
            Service::Kms => "KMS (the subset opentrail serves)",
            Service::Organizations => "Organizations (the subset opentrail serves)",
        }
    }
}

/// Everything a handler needs about the call it serves.
pub struct ApiContext<'a> {
    /// Shared server state.
    pub state: &'a AppState,
    /// The authenticated caller.
    pub caller: &'a Caller,
    /// The request's metadata.
    pub meta: &'a RequestMeta,
}

/// Handles one control-plane request, whatever its path or method.
pub async fn handle(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let scope = crate::s3::scope_service(&parts);
    match scope.as_deref() {
        Some("s3") => {
            return crate::s3::handle(&state.s3, http::Request::from_parts(parts, body)).await;
        }
        Some(audit_events::SERVICE) => {
            return audit_events::handle(&state, peer, parts, body).await;
        }
        _ => {}
    }
    let service = Service::from_scope(scope.as_deref());
    let meta = RequestMeta::new(&parts, peer, &state.config.trusted_proxies);
    let span = tracing::info_span!("api", request_id = %meta.request_id, operation = tracing::field::Empty);
    async move {
        let started = Instant::now();
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let outcome = process(&state, service, &parts, body, &meta, target.as_deref()).await;
        tracing::Span::current().record("operation", outcome.operation.as_str());
        let error = outcome.result.as_ref().err();
        let record = CallRecord {
            meta: &meta,
            identity: outcome.identity.clone(),
            region: outcome.region.clone(),
            account_id: state.config.account_id.clone(),
            event_source: service.event_source(),
            event_name: outcome.operation.clone(),
            read_only: model::is_read_only(&outcome.operation),
            management: true,
            request_parameters: outcome.request_parameters.clone(),
            response_elements: match &outcome.result {
                Ok(v) => service.model().response_elements(&outcome.operation, v),
                Err(_) => Value::Null,
            },
            error: error.map(|e| (e.code.to_string(), e.message.clone())),
        }
        .to_record();
        if let Err(e) = state.journal.append(vec![record.to_json_vec()]).await {
            // The call itself stands; losing its own audit record is reported, not hidden.
            tracing::error!(error = %e, "could not record the call in the journal");
            telemetry::audit_failed();
        }
        telemetry::request(
            &outcome.operation,
            error.map(|e| e.code.as_ref()).unwrap_or("OK"),
            started.elapsed(),
        );
        match outcome.result {
            Ok(v) => {
                tracing::debug!("ok");
                json_response(&meta.request_id, serde_json::to_vec(&v).unwrap_or_default())
            }
            Err(e) => {
                tracing::info!(code = %e.code, message = %e.message, "refused");
                aws_error_response(&meta.request_id, &e)
            }
        }
    }
    .instrument(span)
    .await
}

/// What one request came to, for the response and the audit record.
struct Outcome {
    operation: String,
    identity: opentrail_model::UserIdentity,
    region: String,
    request_parameters: Value,
    result: Result<Value, AwsError>,
}

async fn process(
    state: &AppState,
    service: Service,
    parts: &http::request::Parts,
    body: Body,
    meta: &RequestMeta,
    target: Option<&str>,
) -> Outcome {
    let ct = service.model();
    let prefix = ct.metadata.target_prefix.as_deref().unwrap_or_default();
    let parsed_op = awsjson::operation_from_target(target, prefix);
    // The event name of a call that cannot be routed is what the client asked for, bounded.
    let operation = match &parsed_op {
        Ok(op) if ct.operation(op).is_some() => (*op).to_owned(),
        Ok(op) => op.chars().take(128).collect(),
        Err(_) => "UnknownOperation".to_owned(),
    };
    let mut outcome = Outcome {
        operation,
        identity: opentrail_model::UserIdentity::unknown(None),
        region: state.config.region.clone(),
        request_parameters: Value::Null,
        result: Ok(Value::Null),
    };
    if state
        .shutting_down
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        outcome.result = Err(AwsError::new(
            codes::SERVICE_UNAVAILABLE,
            "The server is shutting down; retry shortly.",
        )
        .with_status(503));
        return outcome;
    }
    let body = match to_bytes(body, MAX_API_BODY).await {
        Ok(b) => b,
        Err(_) => {
            outcome.result = Err(AwsError::new(
                codes::SERIALIZATION,
                format!("The request body is larger than {MAX_API_BODY} bytes"),
            ));
            return outcome;
        }
    };
    let payload = sigv4::sha256_hex(&body);
    let caller = match auth::authenticate(state, parts, &payload, service.signing_name()) {
        Ok(c) => c,
        Err(refusal) => {
            outcome.identity = refusal.identity;
            if let Some(r) = refusal.region {
                outcome.region = r;
            }
            outcome.result = Err(refusal.error);
            return outcome;
        }
    };
    outcome.identity = caller.identity.clone();
    outcome.region = caller.region.clone();
    let op = match parsed_op {
        Ok(op) if ct.operation(op).is_some() => op,
        Ok(op) => {
            outcome.result = Err(AwsError::new(
                codes::UNKNOWN_OPERATION,
                format!(
                    "Unknown operation {op}: {} has no such operation",
                    service.label()
                ),
            ));
            return outcome;
        }
        Err(e) => {
            outcome.result = Err(e);
            return outcome;
        }
    };
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                outcome.result = Err(AwsError::new(
                    codes::SERIALIZATION,
                    format!("The request body is not valid JSON: {e}"),
                ));
                return outcome;
            }
        }
    };
    outcome.request_parameters = ct.request_parameters(op, &input);
    if let Err(e) = ct.check_input(op, &input) {
        outcome.result = Err(e);
        return outcome;
    }
    let ctx = ApiContext {
        state,
        caller: &caller,
        meta,
    };
    outcome.result = match service {
        Service::CloudTrail => routes::dispatch(&ctx, op, input).await,
        Service::Organizations => organizations::dispatch(&ctx, op),
        Service::Kms => kms::dispatch(&ctx, op, input).await,
    };
    outcome
}
