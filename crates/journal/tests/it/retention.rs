use std::time::Duration;

use opentrail_journal::{JournalConfig, JournalError};

use crate::{entry, open, small_segments};

#[tokio::test]
async fn retention_keeps_what_any_consumer_has_not_finished() {
    let tmp = tempfile::tempdir().expect("tmp");
    let j = open(tmp.path(), small_segments());
    for i in 0..200 {
        j.append(vec![entry(i)]).await.expect("append");
    }
    j.save_checkpoint("history", 200).expect("ckpt");
    j.save_checkpoint("trail-a", 0).expect("ckpt");
    let report = j.enforce_retention().expect("retention");
    assert_eq!(report.segments_deleted, 0, "trail-a has read nothing yet");
    assert_eq!(report.oldest_lsn, 1);

    j.save_checkpoint("trail-a", 120).expect("ckpt");
    let before = j.disk_bytes().expect("bytes");
    let report = j.enforce_retention().expect("retention");
    assert!(report.segments_deleted > 0);
    assert!(
        report.oldest_lsn <= 121,
        "entry 121 must still be stored: {report:?}"
    );
    assert!(j.disk_bytes().expect("bytes") < before);
    // Reading from a kept position works; from a deleted one says so.
    let mut r = j.reader(121);
    assert_eq!(r.read_batch(1).expect("read")[0].lsn, 121);
    match j.reader(1).read_batch(1) {
        Err(JournalError::Truncated {
            requested: 1,
            oldest,
        }) => assert_eq!(oldest, report.oldest_lsn),
        other => panic!("expected Truncated, got {other:?}"),
    }
    j.remove_checkpoint("trail-a").expect("remove");
    assert_eq!(j.checkpoints().expect("all").len(), 1);
}

#[tokio::test]
async fn retention_respects_the_minimum_age() {
    let tmp = tempfile::tempdir().expect("tmp");
    let j = open(
        tmp.path(),
        JournalConfig {
            min_retention: Duration::from_secs(3600),
            ..small_segments()
        },
    );
    for i in 0..100 {
        j.append(vec![entry(i)]).await.expect("append");
    }
    j.save_checkpoint("history", 100).expect("ckpt");
    assert_eq!(
        j.enforce_retention().expect("retention").segments_deleted,
        0
    );
}
