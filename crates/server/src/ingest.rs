//! The native ingest endpoint: `POST /_opentrail/ingest`, full CloudTrail records from a
//! service that produces its own audit events.
//!
//! The body is either the log-file shape `{"Records":[...]}` (`Content-Type:
//! application/json`) or NDJSON, one record per line (`application/x-ndjson`), optionally
//! `Content-Encoding: gzip`, signed with SigV4 for the service name `opentrail`. Each record
//! is accepted or refused on its own; the accepted ones and the call's own audit record are
//! appended to the journal as one block, so a crash keeps all of them or none, and the answer
//! comes only once they are durable.

use std::io::Read;
use std::net::SocketAddr;
use std::time::Instant;

use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use http::StatusCode;
use opentrail_journal::JournalError;
use opentrail_model::validate_incoming;
use opentrail_protocol::awsjson::codes;
use opentrail_protocol::{AwsError, sigv4};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tracing::Instrument;

use crate::audit::CallRecord;
use crate::auth;
use crate::request::{RequestMeta, aws_error_response, plain_json_response};
use crate::state::AppState;
use crate::telemetry;

/// The SigV4 service name of opentrail's native endpoints.
pub const SERVICE: &str = "opentrail";

/// The `eventName` recorded for an ingest call.
pub const EVENT_NAME: &str = "IngestRecords";

/// One accepted record.
#[derive(Debug, Serialize)]
pub struct Accepted {
    /// Position of the record in the request (0-based).
    pub index: usize,
    /// Its `eventID` (assigned when the record had none).
    #[serde(rename = "eventID")]
    pub event_id: String,
}

/// One refused record.
#[derive(Debug, Serialize)]
pub struct Refused {
    /// Position of the record in the request (0-based).
    pub index: usize,
    /// `InvalidData`, `FieldNotFound` or `FieldTooLong`.
    #[serde(rename = "errorCode")]
    pub error_code: &'static str,
    /// What to fix.
    #[serde(rename = "errorMessage")]
    pub error_message: String,
}

/// The answer to an ingest request.
#[derive(Debug, Serialize)]
pub struct IngestResponse {
    /// Records stored.
    pub successful: Vec<Accepted>,
    /// Records refused.
    pub failed: Vec<Refused>,
}

#[derive(Deserialize)]
struct LogFile<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// Handles `POST /_opentrail/ingest`.
pub async fn ingest(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let meta = RequestMeta::new(&parts, peer, &state.config.trusted_proxies);
    let span = tracing::info_span!("ingest", request_id = %meta.request_id);
    async move {
        let started = Instant::now();
        let limit = state.config.ingest.max_body_bytes;
        let mut call = CallRecord::native(&meta, &state.config, EVENT_NAME, false);
        let result = async {
            let body = to_bytes(body, limit).await.map_err(|_| {
                AwsError::new(codes::VALIDATION, format!("The request body is larger than {limit} bytes; split the batch"))
                    .with_status(413)
            })?;
            let caller = auth::authenticate(&state, &parts, &sigv4::sha256_hex(&body), SERVICE)
                .map_err(|r| {
                    call.identity = r.identity.clone();
                    if let Some(region) = &r.region {
                        call.region = region.clone();
                    }
                    r.error
                })?;
            call.identity = caller.identity.clone();
            call.region = caller.region.clone();
            let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
            let content_type = header("content-type").to_owned();
            let encoding = header("content-encoding").to_owned();
            let body = decode(&body, &encoding, limit)?;
            let ndjson = is_ndjson(&content_type);
            let texts = split_records(&body, ndjson, state.config.ingest.max_records)?;
            call.request_parameters = json!({
                "records": texts.len(),
                "contentType": if ndjson { "application/x-ndjson" } else { "application/json" },
                "contentEncoding": if encoding.is_empty() { Value::Null } else { Value::from(encoding.clone()) },
            });
            let mut response = IngestResponse { successful: Vec::new(), failed: Vec::new() };
            let mut entries = Vec::with_capacity(texts.len() + 1);
            for (index, text) in texts.into_iter().enumerate() {
                match text.and_then(|t| validate_incoming(t).map_err(|e| (e.code.as_str(), e.message))) {
                    Ok(valid) => {
                        entries.push(valid.to_bytes());
                        response.successful.push(Accepted { index, event_id: valid.event_id().to_owned() });
                    }
                    Err((error_code, error_message)) => {
                        response.failed.push(Refused { index, error_code, error_message });
                    }
                }
            }
            Ok::<_, AwsError>((entries, response))
        }
        .await;

        let (status, body, error_type, accepted, refused) = match result {
            Ok((mut entries, response)) => {
                call.response_elements = json!({"accepted": response.successful.len(), "failed": response.failed.len()});
                entries.push(call.to_record().to_json_vec());
                match state.journal.append(entries).await {
                    Ok(_) => (
                        StatusCode::OK,
                        serde_json::to_vec(&response).unwrap_or_default(),
                        None,
                        response.successful.len(),
                        response.failed.len(),
                    ),
                    Err(e) => {
                        let err = journal_error(&e);
                        return finish(&state, &meta, err, started);
                    }
                }
            }
            Err(err) => {
                call.error = Some((err.code.to_string(), err.message.clone()));
                if let Err(e) = state.journal.append(vec![call.to_record().to_json_vec()]).await {
                    tracing::error!(error = %e, "could not record the refused ingest call");
                    telemetry::audit_failed();
                }
                return finish(&state, &meta, err, started);
            }
        };
        telemetry::ingested(accepted as u64, refused as u64);
        telemetry::request(EVENT_NAME, "OK", started.elapsed());
        tracing::debug!(accepted, refused, "ingested");
        plain_json_response(status, &meta.request_id, body, error_type)
    }
    .instrument(span)
    .await
}

fn finish(state: &AppState, meta: &RequestMeta, err: AwsError, started: Instant) -> Response {
    let _ = state;
    telemetry::request(EVENT_NAME, &err.code, started.elapsed());
    tracing::info!(code = %err.code, message = %err.message, "ingest refused");
    aws_error_response(&meta.request_id, &err)
}

/// The AWS error for a journal failure: back-pressure is retryable throttling.
pub fn journal_error(e: &JournalError) -> AwsError {
    match e {
        JournalError::Backpressure { .. } => AwsError::throttling(format!("Rate exceeded: {e}")),
        JournalError::Invalid(m) => AwsError::new(codes::VALIDATION, m.clone()),
        other => {
            tracing::error!(error = %other, "journal append failed");
            AwsError::new(
                codes::SERVICE_UNAVAILABLE,
                "The event journal cannot accept writes right now; retry later.",
            )
            .with_status(503)
        }
    }
}

fn is_ndjson(content_type: &str) -> bool {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    matches!(
        ct,
        "application/x-ndjson"
            | "application/jsonl"
            | "application/jsonlines"
            | "application/json-seq"
    )
}

fn decode(body: &[u8], encoding: &str, limit: usize) -> Result<Vec<u8>, AwsError> {
    match encoding.trim() {
        "" | "identity" => Ok(body.to_vec()),
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(body.len() * 8);
            flate2::read::MultiGzDecoder::new(body)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| {
                    AwsError::new(
                        codes::SERIALIZATION,
                        format!("The gzip body could not be decoded: {e}"),
                    )
                })?;
            if out.len() > limit {
                return Err(AwsError::new(
                    codes::VALIDATION,
                    format!("The decoded body is larger than {limit} bytes; split the batch"),
                )
                .with_status(413));
            }
            Ok(out)
        }
        other => Err(AwsError::new(
            codes::VALIDATION,
            format!("Content-Encoding {other:?} is not supported; send identity or gzip"),
        )
        .with_status(415)),
    }
}

type RecordText<'a> = Result<&'a str, (&'static str, String)>;

/// Splits a body into record texts. A malformed NDJSON line refuses only that record; a
/// malformed `{"Records":[...]}` document refuses the request (records cannot be told apart).
fn split_records(body: &[u8], ndjson: bool, max: usize) -> Result<Vec<RecordText<'_>>, AwsError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| AwsError::new(codes::SERIALIZATION, format!("The body is not UTF-8: {e}")))?;
    let out: Vec<RecordText<'_>> = if ndjson {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| match serde_json::from_str::<&RawValue>(line) {
                Ok(_) => Ok(line),
                Err(e) => Err(("InvalidData", format!("line is not valid JSON: {e}"))),
            })
            .collect()
    } else {
        let file: LogFile<'_> = serde_json::from_str(text).map_err(|e| {
            AwsError::new(
                codes::SERIALIZATION,
                format!("The body must be {{\"Records\":[...]}} (or NDJSON with Content-Type application/x-ndjson): {e}"),
            )
        })?;
        file.records.into_iter().map(|r| Ok(r.get())).collect()
    };
    if out.is_empty() {
        return Err(AwsError::new(
            codes::VALIDATION,
            "The request holds no records",
        ));
    }
    if out.len() > max {
        return Err(AwsError::new(
            codes::VALIDATION,
            format!(
                "The request holds {} records; the limit is {max} per request",
                out.len()
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_file_and_ndjson_bodies_split_into_records() {
        let doc = br#"{"Records":[{"a":1}, {"b":[2]}]}"#;
        let recs = split_records(doc, false, 10).expect("ok");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].as_ref().ok().copied(), Some(r#"{"b":[2]}"#));
        let nd = b"{\"a\":1}\n\nnot json\n{\"c\":3}\n";
        let recs = split_records(nd, true, 10).expect("ok");
        assert_eq!(recs.len(), 3);
        assert!(recs[1].is_err());
        assert_eq!(
            split_records(b"{\"Records\":[]}", false, 10)
                .expect_err("empty")
                .code,
            codes::VALIDATION
        );
        assert_eq!(
            split_records(b"[{}]", false, 10).expect_err("shape").code,
            codes::SERIALIZATION
        );
        assert_eq!(
            split_records(doc, false, 1).expect_err("too many").code,
            codes::VALIDATION
        );
    }

    #[test]
    fn gzip_bodies_decode_within_the_limit() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&[b'x'; 5000]).expect("write");
        let gz = enc.finish().expect("finish");
        assert_eq!(decode(&gz, "gzip", 10_000).expect("ok").len(), 5000);
        assert_eq!(decode(&gz, "gzip", 4000).expect_err("bomb").status, 413);
        assert_eq!(
            decode(b"not gzip", "gzip", 100).expect_err("bad").code,
            codes::SERIALIZATION
        );
        assert_eq!(decode(b"x", "br", 100).expect_err("enc").status, 415);
    }
}
