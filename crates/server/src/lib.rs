//! The opentrail server: configuration, the HTTP listener, authentication, the CloudTrail API
//! handlers, native ingest, self-auditing and the operations endpoints.
//!
//! This crate is where every stage is wired together; the stages themselves (journal, and
//! later history, trails, lake, insights) know nothing of HTTP.

pub mod api;
pub mod audit;
pub mod auth;
pub mod config;
pub mod credentials;
mod demo;
mod error;
mod history_export;
pub mod ingest;
mod journal_api;
mod ops;
pub mod request;
mod s3;
pub mod state;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::routing::{get, post};
use opentrail_journal::{Journal, RecoveryReport};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::{Config, Overrides};
pub use credentials::{CredentialStore, RootSource};
pub use error::ServerError;
pub use state::AppState;

/// A server that has recovered its journal and bound its listener, ready to run.
pub struct Server {
    state: AppState,
    listener: TcpListener,
    recovery: RecoveryReport,
}

impl Server {
    /// Validates the configuration, opens (and recovers) the journal, loads credentials and
    /// binds the listener. Nothing is served until [`Server::run`].
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            ServerError::io(
                format!("creating data dir {}", config.data_dir.display()),
                e,
            )
        })?;
        let metrics = telemetry::prometheus();
        let credentials = CredentialStore::load(&config)?;
        let journal_dir = config.data_dir.join("journal");
        let journal_config = config.journal_config();
        let (journal, recovery) =
            tokio::task::spawn_blocking(move || Journal::open(journal_dir, journal_config))
                .await
                .map_err(|e| ServerError::Config {
                    message: format!("journal recovery panicked: {e}"),
                })??;
        if recovery.truncated_bytes > 0 {
            tracing::warn!(
                bytes = recovery.truncated_bytes,
                "journal: cut a torn tail left by a crash"
            );
        }
        tracing::info!(
            next_lsn = recovery.next_lsn,
            segments = recovery.segments,
            took_ms = recovery.took.as_millis() as u64,
            "journal recovered"
        );
        let history_dir = config.data_dir.join("history");
        let history_config = config.history_config();
        let (history, opened) = tokio::task::spawn_blocking(move || {
            opentrail_history::History::open(history_dir, history_config)
        })
        .await
        .map_err(|e| ServerError::Config {
            message: format!("opening event history panicked: {e}"),
        })??;
        if let Some(why) = &opened.rebuilding {
            tracing::warn!(reason = %why, "event history is rebuilding from the journal");
        }
        tracing::info!(
            segments = opened.segments,
            resume_lsn = opened.resume_lsn,
            "event history opened"
        );
        let history = Arc::new(history);
        let master = master_key(&config)?;
        let keys = Arc::new(open_signing_keys(&config, master.clone())?);
        let kms = Arc::new(
            opentrail_kms::Registry::open(config.data_dir.join("kms"), master, &config.account_id)
                .map_err(|e| ServerError::Config {
                    message: format!("opening the KMS key registry: {e}"),
                })?,
        );
        let local_store = Arc::new(
            opentrail_store::LocalStore::open(config.data_dir.join("buckets"))
                .map_err(|e| ServerError::Config {
                    message: format!("opening the embedded object store: {e}"),
                })?
                .with_kms(kms.clone()),
        );
        let storage: Arc<dyn opentrail_store::ObjectStorage> = match config.storage.kind {
            config::StorageKind::Embedded => Arc::new(local_store.clone()),
            config::StorageKind::S3 => {
                let settings = config
                    .storage
                    .s3
                    .clone()
                    .ok_or_else(|| ServerError::Config {
                        message: "[storage.s3] is missing".into(),
                    })?;
                Arc::new(opentrail_store::S3Store::new(settings))
            }
        };
        tracing::info!(storage = %storage.describe(), "log files go to this store");
        // Imports find s3:// buckets in the embedded store first, then in the configured one.
        let mut import_storages: Vec<Arc<dyn opentrail_store::ObjectStorage>> =
            vec![Arc::new(local_store.clone())];
        if config.storage.kind == config::StorageKind::S3 {
            import_storages.push(storage.clone());
        }
        let catalog = Arc::new(
            opentrail_catalog::Catalog::open(&config.data_dir.join("catalog.db")).map_err(|e| {
                ServerError::Config {
                    message: format!("opening the catalog: {e}"),
                }
            })?,
        );
        let notifier = opentrail_trails::Notifier::new(&config.sns_topics).map_err(|e| {
            ServerError::Config {
                message: format!("{e}; fix the [[sns_topics]] section"),
            }
        })?;
        let delivery = Arc::new(
            opentrail_trails::Delivery::new(
                journal.clone(),
                storage.clone(),
                config.data_dir.join("trails"),
                config.delivery_settings(),
                notifier,
                config.organization.clone(),
                keys.clone(),
            )
            .map_err(|e| ServerError::Config {
                message: format!("starting trail delivery: {e}"),
            })?,
        );
        let trails = Arc::new(opentrail_trails::TrailService::new(
            catalog.clone(),
            delivery.clone(),
            journal.clone(),
            config.organization.clone(),
            kms.clone(),
        ));
        let event_data_stores = Arc::new(opentrail_lake::stores::EventDataStores::new(
            catalog.clone(),
            kms.clone(),
            config
                .organization
                .as_ref()
                .map(|o| opentrail_lake::stores::Organization {
                    id: o.id.clone(),
                    management_account: o.management_account.clone(),
                }),
        ));
        let channels = Arc::new(opentrail_lake::channels::Channels::new(catalog.clone()));
        let lake = opentrail_lake::writer::Lake::new(
            config.data_dir.join("lake").join("tables"),
            journal.clone(),
            opentrail_lake::writer::WriterSettings {
                flush_interval: std::time::Duration::from_millis(config.lake.flush_interval_ms),
                ..opentrail_lake::writer::WriterSettings::default()
            },
        );
        let imports = opentrail_lake::import::Imports::new(
            catalog.clone(),
            event_data_stores.clone(),
            lake.clone(),
            config.data_dir.join("lake").join("imports"),
            import_storages,
            opentrail_lake::import::ImportSettings::default(),
        );
        let queries = opentrail_lake::query::Queries::open(
            lake.clone(),
            config.data_dir.join("lake").join("queries"),
            std::time::Duration::from_secs(config.lake.query_timeout_secs),
            Some(opentrail_lake::results::ResultDelivery::new(
                storage.clone(),
                keys.clone(),
            )),
        )
        .map_err(|e| ServerError::Config {
            message: format!("opening the lake's query results: {e}"),
        })?;
        let credentials = Arc::new(credentials);
        let s3 = Arc::new(s3::service(local_store.clone(), credentials.clone()));
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| ServerError::io(format!("listening on {}", config.listen), e))?;
        if config.auth.accept_any_access_key {
            tracing::warn!(
                "auth.accept_any_access_key is ON: requests signed with unknown access keys are accepted unverified. Use only for local SDK testing."
            );
        }
        let lookup_limiter = config
            .history
            .lookup_rate_limit
            .map(|r| Arc::new(api::history::RateLimiter::new(r)));
        let state = AppState {
            history: history.clone(),
            history_store: history,
            lookup_limiter,
            config: Arc::new(config),
            journal,
            credentials,
            trails,
            event_data_stores,
            channels,
            lake,
            imports,
            queries,
            keys,
            kms,
            local_store,
            s3,
            metrics,
            shutting_down: Arc::new(AtomicBool::new(false)),
        };
        Ok(Server {
            state,
            listener,
            recovery,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener
            .local_addr()
            .map_err(|e| ServerError::io("reading the listener address", e))
    }

    /// The shared state (configuration, journal, credentials).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// What journal recovery found.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The HTTP routes.
    pub fn router(state: AppState) -> Router {
        Router::new()
            .route("/health", get(ops::health))
            .route("/metrics", get(ops::metrics))
            .route("/_opentrail/ingest", post(ingest::ingest))
            .route("/_opentrail/journal", get(journal_api::read))
            .route("/_opentrail/history/export", get(history_export::export))
            .fallback(api::handle)
            .with_state(state)
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish,
    /// and flushes the journal.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let state = self.state.clone();
        let (stop_tx, stop_rx) = watch::channel(false);
        state
            .trails
            .delivery()
            .start_all(state.trails.catalog())
            .map_err(|e| ServerError::Config {
                message: format!("starting trail delivery: {e}"),
            })?;
        let demo = state
            .config
            .demo
            .enabled
            .then(|| demo::spawn(state.clone(), stop_rx.clone()));
        let retention = spawn_retention(state.clone(), stop_rx.clone());
        match state.imports.resume_all() {
            Ok(0) => {}
            Ok(n) => tracing::info!(imports = n, "resumed running imports"),
            Err(e) => tracing::error!(error = %e, "cannot resume running imports"),
        }
        let lake = opentrail_lake::feed::spawn(
            state.lake.clone(),
            state.event_data_stores.clone(),
            state.channels.clone(),
            stop_rx.clone(),
            opentrail_lake::feed::Maintenance {
                retention_every: std::time::Duration::from_secs(
                    state.config.lake.retention_check_secs,
                ),
                compact_every: std::time::Duration::from_secs(
                    state.config.lake.compaction_check_secs,
                ),
            },
        );
        let history = opentrail_history::spawn_consumer(
            state.history_store.clone(),
            state.journal.clone(),
            stop_rx,
        )
        .map_err(|e| ServerError::io("starting the history consumer", e))?;
        let flag = state.shutting_down.clone();
        let app = Self::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                flag.store(true, Ordering::Relaxed);
                tracing::info!("shutting down: finishing in-flight requests");
            })
            .await;
        let _ = stop_tx.send(true);
        if let Some(d) = demo {
            let _ = d.await;
        }
        let _ = retention.await;
        // The lake's consumers commit what they hold before the journal closes; imports stop
        // after their last commit and resume on the next start.
        let _ = lake.await;
        state.imports.shutdown().await;
        let _ = tokio::task::spawn_blocking(move || history.join()).await;
        state.trails.delivery().shutdown().await;
        state.journal.shutdown().await;
        tracing::info!(
            durable_lsn = state.journal.durable_lsn(),
            "journal flushed; stopped"
        );
        served.map_err(|e| ServerError::io("serving HTTP", e))
    }
}

/// Runs journal retention every few minutes.
fn spawn_retention(
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(300)) => {}
                _ = stop.changed() => return,
            }
            let journal = state.journal.clone();
            match tokio::task::spawn_blocking(move || journal.enforce_retention()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "journal retention failed"),
                Err(e) => tracing::warn!(error = %e, "journal retention panicked"),
            }
        }
    })
}

/// The master key that seals signing keys and KMS key material at rest, if configured.
fn master_key(config: &Config) -> Result<Option<opentrail_kms::MasterKey>, ServerError> {
    let bad = |message: String| ServerError::Config { message };
    match (
        std::env::var("OPENTRAIL_MASTER_KEY").ok(),
        &config.integrity.master_key_file,
    ) {
        (Some(k), _) => opentrail_kms::MasterKey::parse(&k)
            .map(Some)
            .map_err(|e| bad(format!("OPENTRAIL_MASTER_KEY: {e}"))),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| opentrail_kms::MasterKey::parse(&t).map_err(|e| e.to_string()))
            .map(Some)
            .map_err(|e| bad(format!("integrity.master_key_file {}: {e}", path.display()))),
        (None, None) => Ok(None),
    }
}

/// The digest signing keys under `<data-dir>/signing-keys`.
fn open_signing_keys(
    config: &Config,
    master: Option<opentrail_kms::MasterKey>,
) -> Result<opentrail_integrity::KeyStore, ServerError> {
    let bad = |message: String| ServerError::Config { message };
    let policy = opentrail_integrity::RotationPolicy {
        validity_secs: config.integrity.key_validity_secs as i64,
        rotate_after_secs: config.integrity.key_rotation_secs as i64,
    };
    opentrail_integrity::KeyStore::open(config.data_dir.join("signing-keys"), master, policy)
        .map_err(|e| bad(format!("opening the signing keys: {e}")))
}
