//! `GET /_opentrail/journal`: reads accepted events back from the journal, in order.
//!
//! Query parameters: `from` (first LSN, default 1), `limit` (1..=10000, default 1000) and
//! `wait_ms` (long-poll up to this long, at most 20 s, when nothing is available yet). Signed
//! like ingest (service `opentrail`); only the account's root user may read. This is how tests
//! and operators see exactly what was recorded, and the basis of a live tail.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use http::StatusCode;
use opentrail_journal::JournalError;
use opentrail_protocol::awsjson::codes;
use opentrail_protocol::{AwsError, sigv4};
use serde::Serialize;
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::audit::CallRecord;
use crate::auth;
use crate::request::{RequestMeta, aws_error_response, plain_json_response};
use crate::state::AppState;
use crate::telemetry;

const EVENT_NAME: &str = "ReadJournal";
const MAX_LIMIT: usize = 10_000;
const MAX_WAIT: Duration = Duration::from_secs(20);

#[derive(Serialize)]
struct JournalEntry {
    lsn: u64,
    #[serde(rename = "appendedAt")]
    appended_at_us: u64,
    record: Box<RawValue>,
}

#[derive(Serialize)]
struct JournalPage {
    entries: Vec<JournalEntry>,
    #[serde(rename = "nextLsn")]
    next_lsn: u64,
    #[serde(rename = "durableLsn")]
    durable_lsn: u64,
}

struct Params {
    from: u64,
    limit: usize,
    wait: Duration,
}

fn parse_params(query: Option<&str>) -> Result<Params, AwsError> {
    let mut p = Params {
        from: 1,
        limit: 1000,
        wait: Duration::ZERO,
    };
    for pair in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let num = |name: &str| {
            v.parse::<u64>().map_err(|_| {
                AwsError::new(
                    codes::VALIDATION,
                    format!("Query parameter {name} must be a non-negative integer, got {v:?}"),
                )
            })
        };
        match k {
            "from" => p.from = num("from")?.max(1),
            "limit" => {
                let l = num("limit")?;
                if l == 0 || l > MAX_LIMIT as u64 {
                    return Err(AwsError::new(
                        codes::VALIDATION,
                        format!("limit must be between 1 and {MAX_LIMIT}"),
                    ));
                }
                p.limit = l as usize;
            }
            "wait_ms" => p.wait = Duration::from_millis(num("wait_ms")?).min(MAX_WAIT),
            other => {
                return Err(AwsError::new(
                    codes::VALIDATION,
                    format!("Unknown query parameter {other:?}; use from, limit and wait_ms"),
                ));
            }
        }
    }
    Ok(p)
}

/// Handles `GET /_opentrail/journal`.
pub async fn read(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let meta = RequestMeta::new(&parts, peer, &state.config.trusted_proxies);
    let span = tracing::info_span!("journal_read", request_id = %meta.request_id);
    async move {
        let started = Instant::now();
        let mut call = CallRecord::native(&meta, &state.config, EVENT_NAME, true);
        let result = async {
            let body = to_bytes(body, 64 * 1024)
                .await
                .map_err(|_| AwsError::new(codes::VALIDATION, "A journal read takes no body"))?;
            let caller = auth::authenticate(
                &state,
                &parts,
                &sigv4::sha256_hex(&body),
                crate::ingest::SERVICE,
            )
            .map_err(|r| {
                call.identity = r.identity.clone();
                r.error
            })?;
            call.identity = caller.identity.clone();
            call.region = caller.region.clone();
            let is_root = caller
                .principal
                .as_ref()
                .is_some_and(|p| p.user_name.is_none());
            if !is_root {
                return Err(AwsError::new(
                    codes::ACCESS_DENIED,
                    "Only the account's root credentials may read the journal.",
                ));
            }
            let params = parse_params(parts.uri.query())?;
            call.request_parameters =
                serde_json::json!({"from": params.from, "limit": params.limit});
            let mut reader = state.journal.reader(params.from);
            if !params.wait.is_zero() && reader.durable_lsn() < params.from {
                let _ = tokio::time::timeout(params.wait, reader.wait()).await;
            }
            let entries = reader.read_batch(params.limit).map_err(|e| match e {
                JournalError::Truncated { .. } => AwsError::new(codes::VALIDATION, e.to_string()),
                other => AwsError::internal(format!("reading the journal failed: {other}")),
            })?;
            let page = JournalPage {
                next_lsn: entries.last().map(|e| e.lsn + 1).unwrap_or(params.from),
                durable_lsn: reader.durable_lsn(),
                entries: entries
                    .into_iter()
                    .filter_map(|e| {
                        let text = String::from_utf8(e.data).ok()?;
                        let record = RawValue::from_string(text).ok()?;
                        Some(JournalEntry {
                            lsn: e.lsn,
                            appended_at_us: e.timestamp_us,
                            record,
                        })
                    })
                    .collect(),
            };
            Ok::<_, AwsError>(page)
        }
        .await;
        match &result {
            Ok(page) => call.response_elements = serde_json::json!({"entries": page.entries.len()}),
            Err(e) => call.error = Some((e.code.to_string(), e.message.clone())),
        }
        if let Err(e) = state
            .journal
            .append(vec![call.to_record().to_json_vec()])
            .await
        {
            tracing::error!(error = %e, "could not record the journal read");
            telemetry::audit_failed();
        }
        match result {
            Ok(page) => {
                telemetry::request(EVENT_NAME, "OK", started.elapsed());
                plain_json_response(
                    StatusCode::OK,
                    &meta.request_id,
                    serde_json::to_vec(&page).unwrap_or_default(),
                    None,
                )
            }
            Err(e) => {
                telemetry::request(EVENT_NAME, &e.code, started.elapsed());
                aws_error_response(&meta.request_id, &e)
            }
        }
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_checked() {
        let p = parse_params(Some("from=5&limit=20&wait_ms=999999")).expect("ok");
        assert_eq!((p.from, p.limit, p.wait), (5, 20, MAX_WAIT));
        assert_eq!(parse_params(None).expect("ok").from, 1);
        for bad in ["limit=0", "limit=10001", "from=-1", "from=x", "color=red"] {
            assert_eq!(
                parse_params(Some(bad)).err().map(|e| e.code),
                Some(codes::VALIDATION.into()),
                "{bad}"
            );
        }
    }
}
