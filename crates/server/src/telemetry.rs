//! Metrics (through the `metrics` facade, exported in Prometheus text on `/metrics`) and the
//! names they carry.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process and returns its handle.
pub fn prometheus() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("seconds".into()),
                    &[
                        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                        0.25, 0.5, 1.0, 2.5,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a test harness); metrics then go there
            // and this handle renders an empty page rather than failing the server.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Counts one handled request by operation and result code (`OK` or the error code).
pub fn request(operation: &str, code: &str, took: Duration) {
    metrics::counter!("opentrail_requests_total", "operation" => operation.to_owned(), "code" => code.to_owned())
        .increment(1);
    metrics::histogram!("opentrail_request_duration_seconds", "operation" => operation.to_owned())
        .record(took.as_secs_f64());
}

/// Counts records taken or refused by ingest.
pub fn ingested(accepted: u64, refused: u64) {
    metrics::counter!("opentrail_ingest_records_total", "result" => "accepted").increment(accepted);
    metrics::counter!("opentrail_ingest_records_total", "result" => "refused").increment(refused);
}

/// Counts a call whose own audit record could not be written.
pub fn audit_failed() {
    metrics::counter!("opentrail_audit_record_failures_total").increment(1);
}
