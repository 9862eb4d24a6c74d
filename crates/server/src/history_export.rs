//! `GET /_opentrail/history/export`: every event of an event-history filter, streamed as the
//! AWS console's CSV download or as a CloudTrail JSON document (`{"Records":[...]}`).
//!
//! Query parameters mirror LookupEvents: `format` (`csv` or `json`), `attribute` and `value`
//! (one lookup attribute), `start` and `end` (epoch seconds, inclusive), `category`
//! (`insight`) and `region` (default: the request's signing region). Invalid filters get the
//! same errors as LookupEvents. Signed like the other native endpoints (service `opentrail`).

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use opentrail_protocol::awsjson::codes;
use opentrail_protocol::{AwsError, sigv4};
use serde_json::{Value, json};
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

use crate::api::history::{event_summary, parse_lookup};
use crate::audit::CallRecord;
use crate::auth;
use crate::request::{RequestMeta, aws_error_response};
use crate::state::AppState;
use crate::telemetry;

const EVENT_NAME: &str = "ExportEventHistory";
const PAGE: usize = 1000;

/// The columns of the AWS console's event history CSV download.
pub const CSV_HEADER: [&str; 11] = [
    "Event ID",
    "Event time",
    "User name",
    "Event name",
    "Resource type",
    "Resource name",
    "AWS access key",
    "AWS region",
    "Error code",
    "Source IP address",
    "Resources",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

struct Params {
    format: Format,
    region: Option<String>,
    lookup: Value,
}

fn parse_params(query: Option<&str>) -> Result<Params, AwsError> {
    let mut format = Format::Csv;
    let (mut region, mut attribute, mut value) = (None, None, None);
    let mut lookup = serde_json::Map::new();
    for pair in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        let num = |name: &str| {
            v.parse::<f64>().map_err(|_| {
                AwsError::new(
                    codes::VALIDATION,
                    format!("{name} must be a time in epoch seconds, got {v:?}"),
                )
            })
        };
        match k {
            "format" => {
                format = match v.as_str() {
                    "csv" => Format::Csv,
                    "json" => Format::Json,
                    other => {
                        return Err(AwsError::new(
                            codes::VALIDATION,
                            format!("format must be csv or json, got {other:?}"),
                        ));
                    }
                }
            }
            "region" => region = Some(v),
            "attribute" => attribute = Some(v),
            "value" => value = Some(v),
            "start" => {
                lookup.insert("StartTime".into(), json!(num("start")?));
            }
            "end" => {
                lookup.insert("EndTime".into(), json!(num("end")?));
            }
            "category" => {
                lookup.insert("EventCategory".into(), Value::String(v));
            }
            other => {
                return Err(AwsError::new(
                    codes::VALIDATION,
                    format!(
                        "Unknown query parameter {other:?}; use format, attribute, value, start, end, category, region"
                    ),
                ));
            }
        }
    }
    match (attribute, value) {
        (Some(a), Some(v)) => {
            lookup.insert(
                "LookupAttributes".into(),
                json!([{"AttributeKey": a, "AttributeValue": v}]),
            );
        }
        (None, None) => {}
        _ => {
            return Err(AwsError::new(
                codes::VALIDATION,
                "attribute and value go together",
            ));
        }
    }
    Ok(Params {
        format,
        region,
        lookup: Value::Object(lookup),
    })
}

fn percent_decode(s: &str) -> String {
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&s.replace('+', " ")).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One CSV row for a stored record.
pub fn csv_row(json: &[u8]) -> Vec<String> {
    let s = event_summary(json);
    let full: Value = serde_json::from_slice(json).unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_default();
    let resources = s["Resources"].as_array().cloned().unwrap_or_default();
    let join = |k: &str| {
        resources
            .iter()
            .filter_map(|r| r[k].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        text(&s["EventId"]),
        text(&full["eventTime"]),
        text(&s["Username"]),
        text(&s["EventName"]),
        join("ResourceType"),
        join("ResourceName"),
        text(&s["AccessKeyId"]),
        text(&full["awsRegion"]),
        text(&full["errorCode"]),
        text(&full["sourceIPAddress"]),
        if resources.is_empty() {
            String::new()
        } else {
            Value::Array(resources).to_string()
        },
    ]
}

fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

/// Handles `GET /_opentrail/history/export`.
pub async fn export(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let meta = RequestMeta::new(&parts, peer, &state.config.trusted_proxies);
    let span = tracing::info_span!("history_export", request_id = %meta.request_id);
    async move {
        let started = Instant::now();
        let mut call = CallRecord::native(&meta, &state.config, EVENT_NAME, true);
        let prepared = async {
            let body = to_bytes(body, 64 * 1024)
                .await
                .map_err(|_| AwsError::new(codes::VALIDATION, "An export takes no body"))?;
            let caller = auth::authenticate(&state, &parts, &sigv4::sha256_hex(&body), crate::ingest::SERVICE).map_err(|r| {
                call.identity = r.identity.clone();
                r.error
            })?;
            call.identity = caller.identity.clone();
            call.region = caller.region.clone();
            let params = parse_params(parts.uri.query())?;
            let account = caller.identity.account_id.clone().unwrap_or_else(|| state.config.account_id.clone());
            let region = params.region.clone().unwrap_or_else(|| caller.region.clone());
            call.request_parameters = json!({"region": region, "format": if params.format == Format::Csv {"csv"} else {"json"}, "filter": params.lookup});
            let now = chrono::Utc::now().timestamp_millis();
            let mut q = parse_lookup(&params.lookup, &account, &region, state.history.retention_days(), now)?.query;
            q.limit = PAGE;
            Ok::<_, AwsError>((q, params.format, now))
        }
        .await;
        if let Err(e) = &prepared {
            call.error = Some((e.code.to_string(), e.message.clone()));
        }
        if let Err(e) = state.journal.append(vec![call.to_record().to_json_vec()]).await {
            tracing::error!(error = %e, "could not record the export");
            telemetry::audit_failed();
        }
        let (mut q, format, now) = match prepared {
            Ok(p) => p,
            Err(e) => {
                telemetry::request(EVENT_NAME, &e.code, started.elapsed());
                return aws_error_response(&meta.request_id, &e);
            }
        };
        telemetry::request(EVENT_NAME, "OK", started.elapsed());
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
        let history = state.history.clone();
        tokio::task::spawn_blocking(move || {
            let head = match format {
                Format::Csv => csv_line(&CSV_HEADER.map(str::to_owned)),
                Format::Json => b"{\"Records\":[\n".to_vec(),
            };
            if tx.blocking_send(Ok(Bytes::from(head))).is_err() {
                return;
            }
            let mut first = true;
            loop {
                let page = match history.lookup(&q, now) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(error = %e, "export stopped: the history could not be read");
                        let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                        return;
                    }
                };
                let mut chunk = Vec::with_capacity(page.events.len() * 1500);
                for f in &page.events {
                    match format {
                        Format::Csv => chunk.extend(csv_line(&csv_row(&f.json))),
                        Format::Json => {
                            if !first {
                                chunk.extend_from_slice(b",\n");
                            }
                            chunk.extend_from_slice(&f.json);
                        }
                    }
                    first = false;
                }
                if !chunk.is_empty() && tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                    return;
                }
                match page.next {
                    Some(c) => q.after = Some(c),
                    None => break,
                }
            }
            if format == Format::Json {
                let tail: &'static [u8] = if first { b"]}\n" } else { b"\n]}\n" };
                let _ = tx.blocking_send(Ok(Bytes::from_static(tail)));
            }
        });
        let mut resp = Response::new(Body::from_stream(ReceiverStream::new(rx)));
        *resp.status_mut() = StatusCode::OK;
        let h = resp.headers_mut();
        let (ctype, ext) = match format {
            Format::Csv => ("text/csv; charset=utf-8", "csv"),
            Format::Json => ("application/json", "json"),
        };
        h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"event_history.{ext}\"")) {
            h.insert(http::header::CONTENT_DISPOSITION, v);
        }
        if let Ok(v) = HeaderValue::from_str(&meta.request_id) {
            h.insert("x-amzn-requestid", v);
        }
        resp
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_parameters_map_onto_lookup_events() {
        let p = parse_params(Some("format=json&attribute=EventName&value=Run%20Instances&start=10&end=20.5&category=insight&region=eu-west-1"))
            .expect("valid");
        assert!(p.format == Format::Json);
        assert_eq!(p.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            p.lookup,
            json!({"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Run Instances"}],
                   "StartTime":10.0,"EndTime":20.5,"EventCategory":"insight"})
        );
        for bad in [
            "format=xml",
            "attribute=EventName",
            "start=yesterday",
            "colour=red",
        ] {
            assert!(parse_params(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn csv_rows_follow_the_console_columns_and_quote_safely() {
        let rec = json!({"eventID":"e1","eventTime":"2026-11-25T10:00:00Z","eventName":"PutObject","awsRegion":"eu-west-1",
            "sourceIPAddress":"203.0.113.1","errorCode":"AccessDenied",
            "userIdentity":{"type":"IAMUser","userName":"ann, the \"admin\"","accessKeyId":"AKIA1"},
            "resources":[{"ARN":"arn:aws:s3:::b1","type":"AWS::S3::Bucket"},{"ARN":"arn:aws:s3:::b1/k","type":"AWS::S3::Object"}]});
        let row = csv_row(rec.to_string().as_bytes());
        assert_eq!(row.len(), CSV_HEADER.len());
        assert_eq!(
            &row[..4],
            [
                "e1",
                "2026-11-25T10:00:00Z",
                "ann, the \"admin\"",
                "PutObject"
            ]
        );
        assert_eq!(row[4], "AWS::S3::Bucket, AWS::S3::Object");
        assert_eq!(row[5], "b1, b1/k");
        assert_eq!(
            &row[6..10],
            ["AKIA1", "eu-west-1", "AccessDenied", "203.0.113.1"]
        );
        let line = String::from_utf8(csv_line(&row)).expect("utf8");
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        let back: Vec<String> = r
            .records()
            .next()
            .expect("row")
            .expect("csv")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(back, row);
    }
}
