use std::sync::Arc;
use std::time::{Duration, Instant};

use opentrail_history::{History, spawn_consumer};
use opentrail_journal::{Journal, JournalConfig};

use crate::{entries, query, small_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_indexes_appended_events_within_a_second_and_checkpoints() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (journal, _) =
        Journal::open(tmp.path().join("journal"), JournalConfig::default()).expect("journal");
    let (h, _) = History::open(tmp.path().join("history"), small_config()).expect("history");
    let h = Arc::new(h);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let thread = spawn_consumer(h.clone(), journal.clone(), stop_rx).expect("spawn");
    let all = entries(2000);
    for chunk in all.chunks(100) {
        journal
            .append(chunk.iter().map(|e| e.data.clone()).collect())
            .await
            .expect("append");
    }
    let target = crate::brute(&all, &query("us-east-1", None));
    let started = Instant::now();
    loop {
        let got = crate::paginate(&h, query("us-east-1", None), 50);
        if got.len() == target.len() {
            crate::same(&got, &target, "consumer");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "indexed {} of {}",
            got.len(),
            target.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    stop_tx.send(true).expect("stop");
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .expect("join")
        .expect("thread");
    // Stopping flushed everything and saved the checkpoint.
    assert_eq!(journal.checkpoint("history").expect("ckpt"), Some(2000));
    assert_eq!(h.flushed_lsn(), 2000);
}
