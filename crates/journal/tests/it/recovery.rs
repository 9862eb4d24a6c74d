use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use opentrail_journal::{Journal, JournalConfig};
use proptest::prelude::*;

use crate::{entry, open, read_all};

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

fn write_batches(dir: &Path, batches: &[usize]) -> Vec<(u64, Vec<u8>)> {
    let j = open(dir, JournalConfig::default());
    let mut written = Vec::new();
    let mut n = 0u64;
    for size in batches {
        let entries: Vec<Vec<u8>> = (0..*size)
            .map(|_| {
                n += 1;
                entry(n)
            })
            .collect();
        let a = j.append_blocking(entries.clone()).expect("append");
        for (i, e) in entries.into_iter().enumerate() {
            written.push((a.first_lsn + i as u64, e));
        }
    }
    written
}

#[test]
fn a_torn_tail_is_cut_and_everything_before_it_survives() {
    let tmp = tempfile::tempdir().expect("tmp");
    let written = write_batches(tmp.path(), &[3, 1, 4]);
    let seg = segment_files(tmp.path()).pop().expect("segment");
    // Simulate a crash in the middle of writing a further block.
    let mut f = OpenOptions::new().append(true).open(&seg).expect("open");
    f.write_all(b"OTJB\x40\x00\x00\x00garbage that is not a whole block")
        .expect("write");
    drop(f);
    let (j, report) = Journal::open(tmp.path(), JournalConfig::default()).expect("reopen");
    assert!(report.truncated_bytes > 0);
    assert_eq!(report.next_lsn, 9);
    assert_eq!(read_all(&j), written);
    assert_eq!(
        j.append_blocking(vec![b"after".to_vec()])
            .expect("append")
            .first_lsn,
        9
    );
}

#[test]
fn a_torn_segment_header_is_recreated() {
    let tmp = tempfile::tempdir().expect("tmp");
    let written = write_batches(tmp.path(), &[2]);
    // A crash right after creating the next segment file, before its header was written.
    std::fs::write(tmp.path().join(format!("{:020}.seg", 3)), b"OT").expect("write");
    let (j, report) = Journal::open(tmp.path(), JournalConfig::default()).expect("reopen");
    assert_eq!(report.next_lsn, 3);
    assert_eq!(read_all(&j), written);
    j.append_blocking(vec![b"x".to_vec()]).expect("append");
    assert_eq!(read_all(&j).len(), 3);
}

#[test]
fn damage_in_the_tail_segment_cuts_back_to_the_last_whole_block() {
    let tmp = tempfile::tempdir().expect("tmp");
    write_batches(tmp.path(), &[2, 2, 2]);
    let seg = segment_files(tmp.path()).pop().expect("segment");
    let mut bytes = std::fs::read(&seg).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&seg, bytes).expect("write");
    let (j, report) = Journal::open(tmp.path(), JournalConfig::default()).expect("reopen");
    assert!(report.truncated_bytes > 0);
    let all = read_all(&j);
    assert_eq!(all.len() as u64, report.next_lsn - 1);
    assert!(all.len() < 6 && all.len().is_multiple_of(2));
    for (i, (lsn, _)) in all.iter().enumerate() {
        assert_eq!(*lsn, i as u64 + 1);
    }
}

#[test]
fn damage_in_a_sealed_segment_is_reported_by_readers_not_skipped() {
    let tmp = tempfile::tempdir().expect("tmp");
    {
        let j = open(tmp.path(), crate::small_segments());
        for i in 0..100 {
            j.append_blocking(vec![entry(i)]).expect("append");
        }
    }
    let first = segment_files(tmp.path()).remove(0);
    let mut bytes = std::fs::read(&first).expect("read");
    let at = bytes.len() - 10;
    bytes[at] ^= 0xff;
    std::fs::write(&first, bytes).expect("write");
    let j = open(tmp.path(), crate::small_segments());
    let mut r = j.reader(1);
    let err = loop {
        match r.read_batch(10) {
            Ok(b) if b.is_empty() => panic!("damage went unnoticed"),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, opentrail_journal::JournalError::Corrupt { .. }),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Whatever prefix of the file survives a crash, recovery keeps exactly the whole blocks
    /// in it: every append is present entirely or not at all.
    #[test]
    fn any_crash_point_recovers_whole_appends(
        batches in proptest::collection::vec(1usize..6, 1..12),
        cut_permille in 0u64..1000,
    ) {
        let tmp = tempfile::tempdir().expect("tmp");
        let written = write_batches(tmp.path(), &batches);
        let seg = segment_files(tmp.path()).pop().expect("segment");
        let len = std::fs::metadata(&seg).expect("meta").len();
        let cut = len * cut_permille / 1000;
        OpenOptions::new().write(true).open(&seg).expect("open").set_len(cut).expect("cut");

        let (j, _) = Journal::open(tmp.path(), JournalConfig::default()).expect("reopen");
        let recovered = read_all(&j);
        prop_assert!(recovered.len() <= written.len());
        prop_assert_eq!(&recovered[..], &written[..recovered.len()]);
        // Recovered entries end on an append boundary.
        let mut boundary = 0;
        let mut boundaries = vec![0];
        for b in &batches { boundary += b; boundaries.push(boundary); }
        prop_assert!(boundaries.contains(&recovered.len()));
        // And the journal accepts appends right after them.
        let a = j.append_blocking(vec![b"next".to_vec()]).expect("append");
        prop_assert_eq!(a.first_lsn, recovered.len() as u64 + 1);
    }
}
