//! The history consumer: follows the journal from the store's position and keeps the index
//! current, flushing, compacting and enforcing retention as it goes.

use std::sync::Arc;
use std::time::Duration;

use opentrail_journal::{Journal, JournalError};
use tokio::sync::watch;

use crate::History;

/// The consumer's checkpoint name in the journal.
pub const CONSUMER: &str = "history";

const BATCH: usize = 4096;
const RETENTION_EVERY: Duration = Duration::from_secs(600);

/// Runs the consumer on its own thread until `stop` turns true, then flushes.
pub fn spawn_consumer(
    history: Arc<History>,
    journal: Journal,
    stop: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("history".into())
        .spawn(move || run(&history, &journal, stop))
}

fn run(history: &History, journal: &Journal, mut stop: watch::Receiver<bool>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "history consumer could not start");
            return;
        }
    };
    // Registering a checkpoint makes journal retention keep what history has not indexed.
    if journal.checkpoint(CONSUMER).ok().flatten().is_none()
        && let Err(e) = journal.save_checkpoint(CONSUMER, history.flushed_lsn())
    {
        tracing::warn!(error = %e, "could not register the history checkpoint");
    }
    let mut reader = journal.reader(history.resume_lsn());
    let mut last_retention = std::time::Instant::now() - RETENTION_EVERY;
    loop {
        if *stop.borrow() {
            break;
        }
        match reader.read_batch(BATCH) {
            Ok(batch) if !batch.is_empty() => {
                if let Err(e) = history.apply(&batch) {
                    tracing::error!(error = %e, "history could not index events");
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
                if history.should_flush() {
                    maintain(history, journal, &mut last_retention, false);
                }
            }
            Ok(_) => {
                if history.should_flush() || last_retention.elapsed() >= RETENTION_EVERY {
                    maintain(history, journal, &mut last_retention, false);
                }
                rt.block_on(async {
                    tokio::select! {
                        _ = tokio::time::timeout(Duration::from_secs(1), reader.wait()) => {}
                        _ = stop.changed() => {}
                    }
                });
            }
            Err(JournalError::Truncated { oldest, .. }) => {
                tracing::warn!(
                    oldest,
                    "journal no longer holds events history has not indexed; continuing from its oldest"
                );
                if history.skip_to(oldest).is_ok() {
                    reader = journal.reader(oldest);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "history could not read the journal");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    maintain(history, journal, &mut last_retention, true);
}

fn maintain(
    history: &History,
    journal: &Journal,
    last_retention: &mut std::time::Instant,
    stopping: bool,
) {
    match history.flush() {
        Ok(_) => {
            if let Err(e) = journal.save_checkpoint(CONSUMER, history.flushed_lsn()) {
                tracing::warn!(error = %e, "could not save the history checkpoint");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "history flush failed");
            return;
        }
    }
    if stopping {
        return;
    }
    if let Err(e) = history.compact() {
        tracing::error!(error = %e, "history compaction failed");
    }
    if last_retention.elapsed() >= RETENTION_EVERY {
        *last_retention = std::time::Instant::now();
        if let Err(e) = history.enforce_retention(chrono::Utc::now().timestamp_millis()) {
            tracing::error!(error = %e, "history retention failed");
        }
    }
}
