use std::collections::BTreeSet;

use opentrail_journal::{JournalConfig, JournalError};

use crate::{entry, open, periodic, read_all, small_segments};

#[tokio::test]
async fn appends_get_consecutive_lsns_and_read_back_across_segments() {
    let tmp = tempfile::tempdir().expect("tmp");
    let j = open(tmp.path(), small_segments());
    let mut expected = Vec::new();
    let mut next = 1;
    for batch in 0..60u64 {
        let entries: Vec<Vec<u8>> = (0..(batch % 5 + 1))
            .map(|i| entry(batch * 10 + i))
            .collect();
        let a = j.append(entries.clone()).await.expect("append");
        assert_eq!(a.first_lsn, next);
        assert_eq!(a.count as usize, entries.len());
        for e in entries {
            expected.push((next, e));
            next += 1;
        }
    }
    assert_eq!(j.durable_lsn(), next - 1);
    let segments = std::fs::read_dir(tmp.path())
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "seg"))
        })
        .count();
    assert!(segments > 3, "small segments must rotate, found {segments}");
    assert_eq!(read_all(&j), expected);

    // A reader can start anywhere, including in the middle of a block and a later segment.
    for from in [1, 2, 17, 55, next - 1] {
        let mut r = j.reader(from);
        let got = r.read_batch(5).expect("read");
        let want: Vec<_> = expected
            .iter()
            .filter(|(l, _)| *l >= from)
            .take(5)
            .cloned()
            .collect();
        assert_eq!(
            got.into_iter().map(|e| (e.lsn, e.data)).collect::<Vec<_>>(),
            want
        );
    }
    // Reopening continues the sequence.
    j.shutdown().await;
    assert!(matches!(
        j.append(vec![entry(1)]).await,
        Err(JournalError::Closed)
    ));
    let j = open(tmp.path(), small_segments());
    assert_eq!(
        j.append(vec![entry(0)]).await.expect("append").first_lsn,
        next
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_group_committed_without_loss_or_duplication() {
    let tmp = tempfile::tempdir().expect("tmp");
    let j = open(
        tmp.path(),
        JournalConfig {
            segment_bytes: 64 * 1024,
            ..JournalConfig::default()
        },
    );
    let mut tasks = Vec::new();
    for client in 0..16u64 {
        let j = j.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for k in 0..50u64 {
                let payload = format!("c{client}-k{k}").into_bytes();
                let a = j
                    .append(vec![payload.clone(), payload])
                    .await
                    .expect("append");
                got.push(a);
            }
            got
        }));
    }
    let mut lsns = BTreeSet::new();
    for t in tasks {
        for a in t.await.expect("task") {
            assert_eq!(a.count, 2);
            assert!(lsns.insert(a.first_lsn) && lsns.insert(a.first_lsn + 1));
        }
    }
    assert_eq!(lsns.len(), 1600);
    assert_eq!(*lsns.iter().next().expect("first"), 1);
    assert_eq!(*lsns.iter().last().expect("last"), 1600);
    let all = read_all(&j);
    assert_eq!(all.len(), 1600);
    // The two entries of one append are adjacent and identical: blocks are never interleaved.
    for pair in all.chunks(2) {
        assert_eq!(pair[0].1, pair[1].1);
    }
    let stats = j.stats();
    assert_eq!(stats.appends, 800);
    assert!(
        stats.commits < 800,
        "concurrent appends should share commits: {stats:?}"
    );
    assert_eq!(stats.fsyncs, stats.commits);
}

#[tokio::test]
async fn a_reader_waits_for_durable_entries() {
    let tmp = tempfile::tempdir().expect("tmp");
    let j = open(tmp.path(), JournalConfig::default());
    let mut r = j.reader(1);
    assert!(r.read_batch(10).expect("read").is_empty());
    let writer = j.clone();
    let waiter = tokio::spawn(async move {
        r.wait().await.expect("wait");
        r.read_batch(10).expect("read")
    });
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    writer.append(vec![b"late".to_vec()]).await.expect("append");
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
        .await
        .expect("woken")
        .expect("task");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, b"late");
}

#[tokio::test]
async fn periodic_sync_mode_acknowledges_and_becomes_durable() {
    let tmp = tempfile::tempdir().expect("tmp");
    let j = open(
        tmp.path(),
        JournalConfig {
            sync: periodic(),
            ..JournalConfig::default()
        },
    );
    let a = j.append(vec![b"one".to_vec()]).await.expect("append");
    let mut r = j.reader(a.first_lsn);
    tokio::time::timeout(std::time::Duration::from_secs(5), r.wait())
        .await
        .expect("synced within the period")
        .expect("wait");
    assert_eq!(r.read_batch(1).expect("read")[0].data, b"one");
    assert!(j.stats().fsyncs >= 1);
}

#[tokio::test]
async fn refuses_empty_and_oversized_appends() {
    let tmp = tempfile::tempdir().expect("tmp");
    let j = open(tmp.path(), JournalConfig::default());
    assert!(matches!(
        j.append(vec![]).await,
        Err(JournalError::Invalid(_))
    ));
    let huge = vec![0u8; 65 * 1024 * 1024];
    assert!(matches!(
        j.append(vec![huge]).await,
        Err(JournalError::Invalid(_))
    ));
    // The journal is still healthy afterwards.
    assert_eq!(
        j.append(vec![b"ok".to_vec()])
            .await
            .expect("append")
            .first_lsn,
        1
    );
}

#[tokio::test]
async fn back_pressure_refuses_appends_when_a_consumer_lags() {
    let tmp = tempfile::tempdir().expect("tmp");
    let j = open(
        tmp.path(),
        JournalConfig {
            max_consumer_lag: Some(10),
            ..JournalConfig::default()
        },
    );
    j.save_checkpoint("slow", 0).expect("register");
    for i in 0..11 {
        j.append(vec![entry(i)]).await.expect("within limit");
    }
    match j.append(vec![entry(99)]).await {
        Err(JournalError::Backpressure { lag: 11, limit: 10 }) => {}
        other => panic!("expected back-pressure, got {other:?}"),
    }
    j.save_checkpoint("slow", 11).expect("catch up");
    j.append(vec![entry(12)]).await.expect("accepted again");
}
