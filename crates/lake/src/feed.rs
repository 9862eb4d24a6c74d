//! Keeps the lake's consumers in step with the catalog: a consumer per store that exists,
//! told whether its store ingests now and which channels deliver to it; the table and
//! journal checkpoint of a store that is gone for good (deleted and past its 7-day restore
//! window) are removed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::LakeError;
use crate::channels::{Channel, Channels};
use crate::stores::{EventDataStore, EventDataStores};
use crate::tables::TableKind;
use crate::writer::{Lake, StoreSpec};

/// How often the catalog is read for changes.
const POLL: Duration = Duration::from_millis(500);

/// The consumer spec of a store, given every channel. A store pending deletion keeps a
/// consumer that takes nothing, so that after RestoreEventDataStore it continues from then,
/// not from where it was deleted; its table stays for the restore.
pub fn spec_of(store: &EventDataStore, channels: &[Channel]) -> StoreSpec {
    StoreSpec {
        id: store.id.clone(),
        account: store.account.clone(),
        region: store.region.clone(),
        multi_region: store.multi_region_enabled,
        selectors: store.advanced_event_selectors.clone(),
        ingesting: store.is_ingesting(),
        kind: TableKind::of(&store.advanced_event_selectors),
        channels: channels
            .iter()
            .filter(|c| c.store_arns().any(|a| a == store.arn))
            .map(|c| c.arn.clone())
            .collect(),
    }
}

/// Syncs once with what a catalog read under `snapshot` (see [`Lake::snapshot`]) found:
/// consumers for `stores`, and removal of what no store owns any more. Nothing happens when
/// a later read was applied meanwhile.
pub fn sync_once(lake: &Arc<Lake>, snapshot: u64, stores: &[EventDataStore], channels: &[Channel]) {
    lake.sync_snapshot(
        snapshot,
        stores.iter().map(|s| spec_of(s, channels)).collect(),
        true,
    );
}

/// Hands the consumers the catalog as it is now, without waiting for the next poll. Called
/// before a store or channel change is answered, so events the caller sends next are judged
/// by it (and a new store takes them).
pub fn refresh(
    lake: &Arc<Lake>,
    stores: &EventDataStores,
    channels: &Channels,
) -> Result<(), LakeError> {
    let snapshot = lake.snapshot();
    let all = stores.list_all()?;
    let channels = channels.list_all()?;
    lake.sync_snapshot(
        snapshot,
        all.iter().map(|s| spec_of(s, &channels)).collect(),
        false,
    );
    Ok(())
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
    channels: Arc<Channels>,
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
            let snapshot = lake.snapshot();
            let listed = {
                let stores = Arc::clone(&stores);
                let channels = Arc::clone(&channels);
                tokio::task::spawn_blocking(move || {
                    Ok::<_, LakeError>((stores.list_all()?, channels.list_all()?))
                })
                .await
            };
            match listed {
                Ok(Ok((all, channels))) => {
                    sync_once(&lake, snapshot, &all, &channels);
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
