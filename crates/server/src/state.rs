//! The state every request handler shares.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use opentrail_journal::Journal;

use crate::config::Config;
use crate::credentials::CredentialStore;

/// Shared, cheaply cloned server state.
#[derive(Clone)]
pub struct AppState {
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// The event journal.
    pub journal: Journal,
    /// Principals by access key.
    pub credentials: Arc<CredentialStore>,
    /// Prometheus rendering of the `metrics` facade.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Set once shutdown began: new requests get `ServiceUnavailable`.
    pub shutting_down: Arc<AtomicBool>,
    /// The event history (LookupEvents).
    pub history: crate::api::history::SharedHistory,
    /// The concrete history store, for maintenance and metrics.
    pub history_store: Arc<opentrail_history::History>,
    /// AWS's LookupEvents rate limit, when enabled.
    pub lookup_limiter: Option<Arc<crate::api::history::RateLimiter>>,
    /// Trails and their delivery.
    pub trails: Arc<opentrail_trails::TrailService>,
    /// CloudTrail Lake event data stores (their configuration and management API).
    pub event_data_stores: Arc<opentrail_lake::stores::EventDataStores>,
    /// CloudTrail Lake channels (integrations) and their latest ingestion.
    pub channels: Arc<opentrail_lake::channels::Channels>,
    /// The event data stores' tables and their journal consumers.
    pub lake: Arc<opentrail_lake::writer::Lake>,
    /// Imports of trail log files into event data stores.
    pub imports: Arc<opentrail_lake::import::Imports>,
    /// CloudTrail Lake queries and their results.
    pub queries: Arc<opentrail_lake::query::Queries>,
    /// Digest signing keys (ListPublicKeys).
    pub keys: Arc<opentrail_integrity::KeyStore>,
    /// The KMS-style key registry (the KMS API, trail encryption).
    pub kms: Arc<opentrail_kms::Registry>,
    /// The embedded object store (also when trails deliver elsewhere).
    pub local_store: Arc<opentrail_store::LocalStore>,
    /// The S3 API over the embedded store.
    pub s3: Arc<s3s::service::S3Service>,
}
