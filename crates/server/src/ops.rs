//! Operations endpoints: `/health` and `/metrics` (unauthenticated, read-only).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde_json::json;

use crate::state::AppState;

/// `GET /health`: 200 once the journal is recovered and writable, 503 otherwise.
pub async fn health(State(state): State<AppState>) -> Response {
    let shutting_down = state
        .shutting_down
        .load(std::sync::atomic::Ordering::Relaxed);
    let probe = state.journal.oldest_lsn();
    let (status, text) = match (&probe, shutting_down) {
        (Ok(_), false) => (StatusCode::OK, "ok"),
        (Ok(_), true) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        (Err(_), _) => (StatusCode::SERVICE_UNAVAILABLE, "journal unavailable"),
    };
    let body = json!({
        "status": text,
        "journal": {"durableLsn": state.journal.durable_lsn(), "oldestLsn": probe.ok()},
        "version": env!("CARGO_PKG_VERSION"),
    });
    (status, axum::Json(body)).into_response()
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    metrics::gauge!("opentrail_journal_durable_lsn").set(state.journal.durable_lsn() as f64);
    if let Ok(bytes) = state.journal.disk_bytes() {
        metrics::gauge!("opentrail_journal_disk_bytes").set(bytes as f64);
    }
    let mut resp = state.metrics.render().into_response();
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}
