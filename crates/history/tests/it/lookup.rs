use std::collections::BTreeSet;

use opentrail_history::extract::extract;
use opentrail_history::{Attr, Category, History, Query};

use crate::{ACCOUNT, OTHER, apply_all, brute, entries, now_ms, paginate, query, small_config};

/// Values of every attribute that occur in the data, for the given region.
fn sample_values(entries: &[opentrail_journal::Entry], region: &str) -> Vec<(Attr, String)> {
    let mut seen = BTreeSet::new();
    for e in entries {
        if let Some(x) = extract(&e.data, ACCOUNT, false)
            && x.region == region
            && x.account == ACCOUNT
        {
            for (a, v) in x.values {
                if a != Attr::All {
                    seen.insert((a, v.into_owned()));
                }
            }
            if let Some(id) = x.event_id
                && seen.len() % 7 == 0
            {
                seen.insert((Attr::EventId, id.into_owned()));
            }
        }
    }
    // Keep it quick: a spread of values of every attribute.
    let mut out = Vec::new();
    for a in Attr::LOOKUP_KEYS.map(|(_, a)| a) {
        out.extend(
            seen.iter()
                .filter(|(x, _)| *x == a)
                .step_by(3)
                .take(6)
                .cloned(),
        );
    }
    out
}

#[test]
fn every_lookup_matches_a_brute_force_filter_page_by_page() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (h, _) = History::open(tmp.path(), small_config()).expect("open");
    let all = entries(6000);
    apply_all(&h, &all[..5000]);
    // The rest stays in the memtable: results must merge memtable and segments.
    h.apply(&all[5000..]).expect("apply");
    let stats = h.stats();
    assert!(stats.segments >= 2, "{stats:?}");
    assert!(stats.memtable_events > 0);

    let pre: Vec<_> = all
        .iter()
        .map(|e| (extract(&e.data, ACCOUNT, false), e.lsn))
        .collect();
    let mut checked = 0;
    for region in ["us-east-1", "eu-west-1"] {
        let mut queries = vec![query(region, None)];
        for (a, v) in sample_values(&all, region) {
            queries.push(query(region, Some((a, &v))));
        }
        for mut q in queries {
            let expected = crate::brute_pre(&pre, &q);
            crate::same(&paginate(&h, q.clone(), 7), &expected, &format!("{q:?}"));
            // A time window in the middle, bounds inclusive.
            if expected.len() > 4 {
                q.end_ms = expected[1].0;
                q.start_ms = expected[expected.len() - 2].0;
                crate::same(
                    &paginate(&h, q.clone(), 50),
                    &crate::brute_pre(&pre, &q),
                    &format!("{q:?}"),
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} queries");
    // The other account's events are invisible to this account and visible to its own.
    let mut other = query("us-east-1", None);
    other.account = OTHER.into();
    let theirs = paginate(&h, other.clone(), 50);
    assert!(!theirs.is_empty());
    crate::same(&theirs, &brute(&all, &other), "other account");
    let ours: BTreeSet<_> = paginate(&h, query("us-east-1", None), 50)
        .into_iter()
        .collect();
    assert!(theirs.iter().all(|t| !ours.contains(t)));
}

#[test]
fn a_restart_resumes_from_the_last_flush_and_a_damaged_store_rebuilds() {
    let tmp = tempfile::tempdir().expect("tmp");
    let all = entries(3000);
    let expected = brute(&all, &query("us-east-1", None));
    {
        let (h, _) = History::open(tmp.path(), small_config()).expect("open");
        apply_all(&h, &all[..2500]);
        // Unflushed events are lost with the process but not with the journal.
    }
    let (h, report) = History::open(tmp.path(), small_config()).expect("reopen");
    let resume = report.resume_lsn;
    assert!(resume > 1 && resume <= 2501, "{report:?}");
    assert_eq!(h.resume_lsn(), resume);
    h.apply(&all[(resume - 1) as usize..]).expect("replay");
    crate::same(
        &paginate(&h, query("us-east-1", None), 50),
        &expected,
        "after restart",
    );
    drop(h);

    std::fs::write(tmp.path().join("MANIFEST.json"), b"{ damaged").expect("damage");
    let (h, report) = History::open(tmp.path(), small_config()).expect("rebuild");
    assert!(report.rebuilding.is_some());
    assert_eq!(report.resume_lsn, 1);
    apply_all(&h, &all);
    crate::same(
        &paginate(&h, query("us-east-1", None), 50),
        &expected,
        "after rebuild",
    );
    // A segment file that went missing is damage too.
    h.flush().expect("flush");
    drop(h);
    let seg = std::fs::read_dir(tmp.path())
        .expect("dir")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("segment-"))
        .expect("a segment");
    std::fs::remove_file(seg.path()).expect("remove");
    let (_, report) = History::open(tmp.path(), small_config()).expect("rebuild");
    assert!(report.rebuilding.is_some());
}

#[test]
fn retention_hides_then_reclaims_expired_events() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = opentrail_history::HistoryConfig {
        retention_days: 10,
        ..small_config()
    };
    let (h, _) = History::open(tmp.path(), cfg).expect("open");
    let all = entries(3000);
    apply_all(&h, &all);
    h.flush().expect("flush");
    let q = query("us-east-1", None);
    let everything = brute(&all, &q);
    // Days after the simulated day, every event (including late old ones) is within 10 days.
    let now = crate::now_ms();
    let visible = {
        let mut q = q.clone();
        let mut out = Vec::new();
        loop {
            let p = h.lookup(&q, now).expect("lookup");
            out.extend(p.events.iter().map(|e| (e.cursor.time_ms, e.cursor.lsn)));
            match p.next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        out
    };
    crate::same(&visible, &everything, "all within 10 days");
    // Twenty days later nothing remains.
    let later = now + 20 * 86_400_000;
    assert!(h.lookup(&q, later).expect("lookup").events.is_empty());
    let before = h.stats();
    let removed = h.enforce_retention(later).expect("retention");
    assert!(removed > 0);
    let after = h.stats();
    assert_eq!(after.segment_events, 0, "{after:?}");
    assert!(after.disk_bytes < before.disk_bytes);
    // Partly expired: a cutoff inside the data keeps exactly the newer events.
    let (h2, _) = History::open(
        tmp.path().join("b"),
        opentrail_history::HistoryConfig {
            retention_days: 10,
            ..small_config()
        },
    )
    .expect("open");
    apply_all(&h2, &all);
    h2.flush().expect("flush");
    let cut_at = everything[everything.len() / 2].0;
    let at = cut_at + 10 * 86_400_000;
    h2.enforce_retention(at).expect("retention");
    let kept = {
        let mut q = q.clone();
        q.limit = 50;
        let mut out = Vec::new();
        loop {
            let p = h2.lookup(&q, at).expect("lookup");
            out.extend(p.events.iter().map(|e| (e.cursor.time_ms, e.cursor.lsn)));
            match p.next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        out
    };
    let expect: Vec<_> = everything
        .iter()
        .copied()
        .filter(|(t, _)| *t >= cut_at)
        .collect();
    crate::same(&kept, &expect, "partly expired");
}

#[test]
fn insight_lookups_only_see_insight_events() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (h, _) = History::open(tmp.path(), small_config()).expect("open");
    let mut all = entries(500);
    let insight = serde_json::json!({"eventVersion":"1.07","eventTime":opentrail_model::time::format_event_time(crate::simulated_day() + chrono::TimeDelta::minutes(601)),"awsRegion":"us-east-1",
        "eventID":"ins-1","eventType":"AwsCloudTrailInsight","eventCategory":"Insight","recipientAccountId":ACCOUNT,
        "insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances"}});
    all.push(opentrail_journal::Entry {
        lsn: 501,
        timestamp_us: 0,
        data: insight.to_string().into_bytes(),
    });
    apply_all(&h, &all);
    let mut q = query("us-east-1", Some((Attr::EventName, "RunInstances")));
    let normal = paginate(&h, q.clone(), 50);
    assert!(normal.iter().all(|(_, lsn)| *lsn != 501));
    q.category = Category::Insight;
    let insights = paginate(&h, q.clone(), 50);
    assert_eq!(insights.len(), 1);
    assert_eq!(insights[0].1, 501);
    let by_id = Query {
        filter: Some((Attr::EventId, "ins-1".into())),
        ..q
    };
    assert_eq!(paginate(&h, by_id, 5).len(), 1);
    let _ = now_ms();
}
