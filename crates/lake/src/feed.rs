//! Keeps the lake's consumers in step with the catalog: a consumer per store that exists,
//! told whether its store ingests now; the table and journal checkpoint of a store that is
//! gone for good (deleted and past its 7-day restore window) are removed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::stores::{EventDataStore, EventDataStores};
use crate::writer::{Lake, StoreSpec};

/// How often the catalog is read for changes.
const POLL: Duration = Duration::from_millis(500);

/// The consumer spec of a store. A store pending deletion keeps a consumer that takes
/// nothing, so that after RestoreEventDataStore it continues from then, not from where it was
/// deleted; its table stays for the restore.
pub fn spec_of(store: &EventDataStore) -> StoreSpec {
    StoreSpec {
        id: store.id.clone(),
        account: store.account.clone(),
        region: store.region.clone(),
        multi_region: store.multi_region_enabled,
        selectors: store.advanced_event_selectors.clone(),
        ingesting: store.is_ingesting(),
    }
}

/// Syncs once: consumers for `stores`, and removal of what no store owns any more.
pub fn sync_once(lake: &Arc<Lake>, stores: &[EventDataStore]) {
    lake.sync(stores.iter().map(spec_of).collect());
    let known: HashSet<String> = stores.iter().map(|s| s.id.clone()).collect();
    lake.purge_unknown(&known);
}

/// Deletes what each store keeps beyond its retention period.
async fn enforce_retention(lake: &Lake, stores: &[EventDataStore]) {
    for s in stores {
        match lake.enforce_retention(&s.id, s.retention_period).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(store = %s.id, rows = n, days = s.retention_period, "removed events past the store's retention period")
            }
            Err(e) => {
                tracing::warn!(store = %s.id, error = %e, "retention could not be enforced; will retry")
            }
        }
    }
}

/// Compacts each store's small files.
async fn compact(lake: &Lake, stores: &[EventDataStore]) {
    for s in stores {
        match lake.compact(&s.id).await {
            Ok(c) if c.files_removed > 0 || c.files_deleted > 0 => {
                tracing::info!(store = %s.id, replaced = c.files_removed, written = c.files_added, deleted = c.files_deleted, "compacted the store's small files")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(store = %s.id, error = %e, "compaction failed; will retry")
            }
        }
    }
}

/// How often the feed maintains the tables.
#[derive(Debug, Clone, Copy)]
pub struct Maintenance {
    /// Retention is enforced this often.
    pub retention_every: Duration,
    /// Small files are compacted this often.
    pub compact_every: Duration,
}

/// Runs [`sync_once`] now and then every half second, and the tables' maintenance
/// (retention, compaction) at its intervals, until `stop` turns true.
pub fn spawn(
    lake: Arc<Lake>,
    stores: Arc<EventDataStores>,
    mut stop: watch::Receiver<bool>,
    maintenance: Maintenance,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Maintenance {
            retention_every,
            compact_every,
        } = maintenance;
        let mut last_retention: Option<std::time::Instant> = None;
        // The first compaction waits one interval: a server starting need not rewrite files
        // before it serves.
        let mut last_compaction = std::time::Instant::now();
        loop {
            let listed = {
                let stores = Arc::clone(&stores);
                tokio::task::spawn_blocking(move || stores.list_all()).await
            };
            match listed {
                Ok(Ok(all)) => {
                    sync_once(&lake, &all);
                    if last_retention.is_none_or(|t| t.elapsed() >= retention_every) {
                        last_retention = Some(std::time::Instant::now());
                        enforce_retention(&lake, &all).await;
                    }
                    if last_compaction.elapsed() >= compact_every {
                        last_compaction = std::time::Instant::now();
                        compact(&lake, &all).await;
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "the lake cannot read the event data stores")
                }
                Err(e) => tracing::error!(error = %e, "the lake's catalog read failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                lake.shutdown().await;
                return;
            }
        }
    })
}
