//! The `cloudtrail-data` data plane: `POST /PutAuditEvents?channelArn=…&externalId=…`, REST-JSON
//! signed for the SigV4 service `cloudtrail-data`, as the real SDKs and the aws CLI send it.
//!
//! Whole-request failures (a bad channel, duplicate ids, more than 100 events or 1 MB, ids
//! that break the model's pattern) answer with the status, `X-Amzn-ErrorType` and
//! `{"message": …}`; otherwise every event is accepted or refused on its own
//! (`FieldNotFound`, `FieldTooLong`, `InvalidData`, `InvalidChecksum`, `InvalidRecipient`).
//! The accepted events — as integration records (`eventCategory` `ActivityAuditLog`) — and the
//! call's own audit record are appended to the journal as one block, so after a crash all of
//! them are there or none is, and the answer comes only once they are durable.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use opentrail_lake::channels::Channel;
use opentrail_model::integration::{Arrival, validate_event_data};
use opentrail_model::{IncomingError, IncomingErrorCode, Resource, UserIdentity};
use opentrail_protocol::awsjson::codes;
use opentrail_protocol::{AwsError, sigv4};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::audit::CallRecord;
use crate::auth;
use crate::request::{RequestMeta, plain_json_response};
use crate::state::AppState;
use crate::telemetry;

/// The SigV4 service name of the data plane.
pub const SERVICE: &str = "cloudtrail-data";
/// `eventSource` of its calls' records.
pub const EVENT_SOURCE: &str = "cloudtrail-data.amazonaws.com";
/// Its one operation.
const OPERATION: &str = "PutAuditEvents";
/// Events per request.
const MAX_EVENTS: usize = 100;
/// Bytes per request.
const MAX_BODY: usize = 1024 * 1024;
/// Bytes read before giving up on a body: more than the limit, so that an oversized request
/// is read whole and answered (a client still sending would not see an early answer).
const READ_CAP: usize = 4 * MAX_BODY;
/// The resource type of channels in records' `resources`.
const CHANNEL_TYPE: &str = "AWS::CloudTrail::Channel";

#[derive(Deserialize)]
struct RequestBody {
    #[serde(rename = "auditEvents", default)]
    audit_events: Option<Vec<AuditEvent>>,
}

#[derive(Deserialize)]
struct AuditEvent {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "eventData", default)]
    event_data: Option<String>,
    #[serde(rename = "eventDataChecksum", default)]
    event_data_checksum: Option<String>,
}

#[derive(Debug, Serialize)]
struct Accepted {
    id: String,
    #[serde(rename = "eventID")]
    event_id: String,
}

#[derive(Debug, Serialize)]
struct Refused {
    id: String,
    #[serde(rename = "errorCode")]
    error_code: &'static str,
    #[serde(rename = "errorMessage")]
    error_message: String,
}

#[derive(Debug, Serialize)]
struct PutAuditEventsResponse {
    successful: Vec<Accepted>,
    failed: Vec<Refused>,
}

/// What a request that passed the whole-request checks comes to.
struct Ingested {
    channel: Channel,
    records: Vec<Vec<u8>>,
    response: PutAuditEventsResponse,
}

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(codes::VALIDATION, message)
}

/// The query parameters, percent-decoded (first occurrence wins).
fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, str>> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy())
    })
}

fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.chars().count())
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || "_+=,.@:/-".contains(c))
}

/// Checks the body's shape against the model: 1 to 100 events, each with an `id` of the
/// model's pattern and an `eventData`.
fn parse_body(body: &[u8]) -> Result<Vec<AuditEvent>, AwsError> {
    let parsed: RequestBody = serde_json::from_slice(body).map_err(|e| {
        AwsError::new(
            codes::SERIALIZATION,
            format!("The request body is not a PutAuditEvents document: {e}"),
        )
    })?;
    let events = parsed.audit_events.ok_or_else(|| {
        validation("1 validation error detected: Value null at 'auditEvents' failed to satisfy constraint: Member must not be null")
    })?;
    if events.is_empty() || events.len() > MAX_EVENTS {
        return Err(validation(format!(
            "1 validation error detected: Value at 'auditEvents' failed to satisfy constraint: Member must have length between 1 and {MAX_EVENTS} (it has {})",
            events.len()
        )));
    }
    for (i, e) in events.iter().enumerate() {
        let at = |m: &str| format!("auditEvents.{}.member.{m}", i + 1);
        match e.id.as_deref() {
            None => {
                return Err(validation(format!(
                    "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                    at("id")
                )));
            }
            Some(id) if !valid_id(id) => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{id}' at '{}' failed to satisfy constraint: Member must have length between 1 and 128 and satisfy regular expression pattern: [-_A-Za-z0-9]+",
                    at("id")
                )));
            }
            Some(_) => {}
        }
        if e.event_data.is_none() {
            return Err(validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                at("eventData")
            )));
        }
    }
    Ok(events)
}

/// Whether `checksum` is the base64 SHA-256 of `data`, as `printf %s "$data" | openssl dgst
/// -binary -sha256 | base64` gives it.
fn checksum_matches(data: &str, checksum: &str) -> bool {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data.as_bytes());
    STANDARD
        .decode(checksum.trim())
        .is_ok_and(|given| given == digest.as_ref())
}

/// Judges one event: the integration record to store, or why it is refused.
fn ingest_one(
    e: &AuditEvent,
    channel: &Channel,
    region: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(String, Vec<u8>), IncomingError> {
    let data = e.event_data.as_deref().unwrap_or_default();
    if let Some(sum) = &e.event_data_checksum
        && !checksum_matches(data, sum)
    {
        return Err(IncomingError {
            code: IncomingErrorCode::InvalidChecksum,
            message: "eventDataChecksum is not the base64-encoded SHA-256 of eventData".into(),
        });
    }
    let valid = validate_event_data(data, &channel.account)?;
    let event_id = opentrail_model::ids::new_guid();
    let record = valid.to_record(&Arrival {
        event_id: &event_id,
        region,
        account: &channel.account,
        channel_arn: &channel.arn,
        ingestion_time: now,
    });
    Ok((event_id, record))
}

/// Everything before the journal: authentication, the request's shape, the channel, and the
/// verdict on each event.
async fn put(
    state: &AppState,
    parts: &http::request::Parts,
    body: Body,
    call: &mut CallRecord<'_>,
) -> Result<Ingested, AwsError> {
    let too_large = || {
        validation(format!(
            "The request is larger than {MAX_BODY} bytes: PutAuditEvents takes up to 1 MB (and 100 events) per call"
        ))
    };
    let body = to_bytes(body, READ_CAP).await.map_err(|_| too_large())?;
    let caller = auth::authenticate(state, parts, &sigv4::sha256_hex(&body), SERVICE).map_err(
        |refusal| {
            call.identity = refusal.identity.clone();
            if let Some(r) = &refusal.region {
                call.region = r.clone();
            }
            refusal.error
        },
    )?;
    call.identity = caller.identity.clone();
    call.region = caller.region.clone();
    let account = caller
        .identity
        .account_id
        .clone()
        .unwrap_or_else(|| state.config.account_id.clone());
    call.account_id = account.clone();
    if body.len() > MAX_BODY {
        return Err(too_large());
    }
    if parts.method != http::Method::POST || parts.uri.path() != "/PutAuditEvents" {
        return Err(AwsError::new(
            codes::UNSUPPORTED_OPERATION,
            format!(
                "{} {} is not an operation of CloudTrail Data; it serves POST /PutAuditEvents",
                parts.method,
                parts.uri.path()
            ),
        ));
    }
    let query = parts.uri.query();
    let channel_arn = query_param(query, "channelArn");
    let external_id = query_param(query, "externalId");
    let mut params = serde_json::Map::new();
    if let Some(c) = &channel_arn {
        params.insert("channelArn".into(), json!(c));
    }
    if let Some(x) = &external_id {
        params.insert("externalId".into(), json!(x));
    }
    call.request_parameters = Value::Object(params);
    let channel_arn = channel_arn.filter(|c| !c.is_empty()).ok_or_else(|| {
        validation("1 validation error detected: Value null at 'channelArn' failed to satisfy constraint: Member must not be null")
    })?;
    if let Some(x) = &external_id
        && !valid_external_id(x)
    {
        return Err(validation(format!(
            "1 validation error detected: Value '{x}' at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224 and satisfy regular expression pattern: [\\w+=,.@:\\/-]*"
        )));
    }
    let events = parse_body(&body)?;
    let channel = state
        .channels
        .for_put(&account, &caller.region, &channel_arn)
        .map_err(|e| {
            if e.is_internal() {
                tracing::error!(error = %e, "channel lookup failed");
                return AwsError::internal(format!("The channel could not be read: {e}"));
            }
            AwsError::new(e.data_plane_code(), e.to_string())
        })?;
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = events
        .iter()
        .filter_map(|e| e.id.as_deref())
        .find(|id| !seen.insert(*id))
    {
        return Err(AwsError::new(
            "DuplicatedAuditEventId",
            format!(
                "Two or more audit events have the id {dup}; each event of a request needs its own id"
            ),
        ));
    }
    let now = call.meta.received;
    let mut response = PutAuditEventsResponse {
        successful: Vec::new(),
        failed: Vec::new(),
    };
    let mut records = Vec::with_capacity(events.len() + 1);
    for e in &events {
        let id = e.id.clone().unwrap_or_default();
        match ingest_one(e, &channel, &caller.region, now) {
            Ok((event_id, record)) => {
                records.push(record);
                response.successful.push(Accepted { id, event_id });
            }
            Err(err) => response.failed.push(Refused {
                id,
                error_code: err.code.as_str(),
                error_message: err.message,
            }),
        }
    }
    Ok(Ingested {
        channel,
        records,
        response,
    })
}

fn error_response(request_id: &str, err: &AwsError) -> Response {
    plain_json_response(
        StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST),
        request_id,
        err.rest_json_body(),
        Some(&err.code),
    )
}

/// Serves one data-plane request (any request whose SigV4 scope names `cloudtrail-data`).
pub async fn handle(
    state: &AppState,
    peer: SocketAddr,
    parts: http::request::Parts,
    body: Body,
) -> Response {
    let meta = RequestMeta::new(&parts, peer, &state.config.trusted_proxies);
    let span = tracing::info_span!("put_audit_events", request_id = %meta.request_id);
    async {
        let started = Instant::now();
        let mut call = CallRecord {
            meta: &meta,
            identity: UserIdentity::unknown(None),
            region: state.config.region.clone(),
            account_id: state.config.account_id.clone(),
            event_source: EVENT_SOURCE,
            event_name: OPERATION.into(),
            read_only: false,
            management: false,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            error: None,
        };
        let outcome = if state
            .shutting_down
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            Err(AwsError::new(
                codes::SERVICE_UNAVAILABLE,
                "The server is shutting down; retry shortly.",
            )
            .with_status(503))
        } else {
            put(state, &parts, body, &mut call).await
        };
        let err = match outcome {
            Ok(Ingested {
                channel,
                mut records,
                response,
            }) => {
                let mut record = call.to_record();
                record.resources = Some(vec![Resource {
                    arn: Some(channel.arn.clone()),
                    account_id: Some(channel.account.clone()),
                    resource_type: Some(CHANNEL_TYPE.into()),
                    ..Resource::default()
                }]);
                records.push(record.to_json_vec());
                match state.journal.append(records).await {
                    Ok(_) => {
                        state.channels.record_ingestion(
                            &channel.arn,
                            meta.received,
                            response.successful.last().map(|a| a.event_id.as_str()),
                            response.failed.last().map(|r| r.error_code),
                        );
                        telemetry::ingested(
                            response.successful.len() as u64,
                            response.failed.len() as u64,
                        );
                        telemetry::request(OPERATION, "OK", started.elapsed());
                        tracing::debug!(
                            accepted = response.successful.len(),
                            refused = response.failed.len(),
                            "audit events put"
                        );
                        return plain_json_response(
                            StatusCode::OK,
                            &meta.request_id,
                            serde_json::to_vec(&response).unwrap_or_default(),
                            None,
                        );
                    }
                    // Nothing of the block was stored, not even the call's record.
                    Err(e) => crate::ingest::journal_error(&e),
                }
            }
            Err(err) => {
                call.error = Some((err.code.to_string(), err.message.clone()));
                if let Err(e) = state
                    .journal
                    .append(vec![call.to_record().to_json_vec()])
                    .await
                {
                    tracing::error!(error = %e, "could not record the refused PutAuditEvents call");
                    telemetry::audit_failed();
                }
                err
            }
        };
        telemetry::request(OPERATION, &err.code, started.elapsed());
        tracing::info!(code = %err.code, message = %err.message, "PutAuditEvents refused");
        error_response(&meta.request_id, &err)
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        let q = Some(
            "channelArn=arn%3Aaws%3Acloudtrail%3Aus-east-1%3A1%3Achannel%2Fc&externalId=x%2By",
        );
        assert_eq!(
            query_param(q, "channelArn").as_deref(),
            Some("arn:aws:cloudtrail:us-east-1:1:channel/c")
        );
        assert_eq!(query_param(q, "externalId").as_deref(), Some("x+y"));
        assert_eq!(query_param(q, "other"), None);
        assert_eq!(query_param(None, "channelArn"), None);
    }

    #[test]
    fn ids_and_external_ids_follow_the_model() {
        assert!(valid_id("evt_1-A"));
        assert!(valid_id(&"a".repeat(128)));
        for bad in ["", "has space", "dot.ted", &"a".repeat(129)] {
            assert!(!valid_id(bad), "{bad:?}");
        }
        assert!(valid_external_id("ab"));
        assert!(valid_external_id("acct:123/x=y,z@w.v+u-t_s"));
        for bad in ["a", "has space", "semi;colon", &"a".repeat(1225)] {
            assert!(!valid_external_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_body_must_hold_one_to_a_hundred_identified_events() {
        let ev = |id: &str| json!({"id": id, "eventData": "{}"});
        let body = |v: Value| serde_json::to_vec(&v).expect("json");
        assert_eq!(
            parse_body(&body(json!({"auditEvents": [ev("a"), ev("b")]})))
                .expect("ok")
                .len(),
            2
        );
        let code = |v: Value| parse_body(&body(v)).err().map(|e| e.code);
        assert_eq!(code(json!({})).as_deref(), Some(codes::VALIDATION));
        assert_eq!(
            code(json!({"auditEvents": []})).as_deref(),
            Some(codes::VALIDATION)
        );
        let many: Vec<Value> = (0..101).map(|i| ev(&format!("e{i}"))).collect();
        assert_eq!(
            code(json!({"auditEvents": many})).as_deref(),
            Some(codes::VALIDATION)
        );
        assert_eq!(
            code(json!({"auditEvents": [{"eventData": "{}"}]})).as_deref(),
            Some(codes::VALIDATION)
        );
        assert_eq!(
            code(json!({"auditEvents": [{"id": "a"}]})).as_deref(),
            Some(codes::VALIDATION)
        );
        assert_eq!(
            code(json!({"auditEvents": [ev("bad id")]})).as_deref(),
            Some(codes::VALIDATION)
        );
        assert_eq!(
            parse_body(b"not json").err().map(|e| e.code).as_deref(),
            Some(codes::SERIALIZATION)
        );
        assert_eq!(
            code(json!({"auditEvents": [{"id": "a", "eventData": {"not": "a string"}}]}))
                .as_deref(),
            Some(codes::SERIALIZATION)
        );
    }

    #[test]
    fn checksums_are_base64_sha256_of_the_event_data() {
        // printf %s '{"a":1}' | openssl dgst -binary -sha256 | base64
        let data = r#"{"a":1}"#;
        let sum = "AVq9f1zFei3ZS3WQ8ErYCEJzkF7jPsXOvq5iJ2qX+GI=";
        assert!(checksum_matches(data, sum));
        assert!(!checksum_matches(r#"{"a":2}"#, sum));
        assert!(!checksum_matches(data, "not base64!"));
        assert!(!checksum_matches(data, ""));
    }
}
