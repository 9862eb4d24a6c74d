//! The lake end to end in-process: journal entries through a consumer into a Delta table,
//! then CloudTrail Lake SQL over it, answers checked against a count over the same events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use opentrail_generator::{Generator, WorkloadConfig};
use opentrail_journal::{Journal, JournalConfig};
use opentrail_model::selectors::{AdvancedEventSelector, AdvancedFieldSelector};
use serde_json::Value;

use crate::query::{Queries, QueryStatus, QueryableStore, describe, results_page};
use crate::tables::TableKind;
use crate::writer::{Lake, StoreSpec, WriterSettings};

const STORE: &str = "5e2676f8-9fce-46ef-8142-3e36a94e6691";
const ACCOUNT: &str = "123456789012";

fn management_only() -> Vec<AdvancedEventSelector> {
    vec![AdvancedEventSelector {
        name: Some("mgmt".into()),
        field_selectors: vec![AdvancedFieldSelector {
            field: "eventCategory".into(),
            equals: Some(vec!["Management".into()]),
            ..AdvancedFieldSelector::default()
        }],
    }]
}

fn spec(ingesting: bool) -> StoreSpec {
    StoreSpec {
        id: STORE.into(),
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
        multi_region: true,
        selectors: management_only(),
        ingesting,
        kind: TableKind::Events,
        channels: Vec::new(),
    }
}

fn events(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut g = Generator::new(WorkloadConfig {
        seed,
        account_id: ACCOUNT.into(),
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        events_per_day: 50_000.0,
        anomalies: Vec::new(),
        include_data_events: true,
    });
    let start = Utc
        .with_ymd_and_hms(2026, 11, 20, 0, 0, 0)
        .single()
        .expect("time");
    (0..n)
        .map(|i| {
            let r = g.event_at(start + chrono::Duration::seconds(i as i64 * 7));
            serde_json::to_vec(&r).expect("json")
        })
        .collect()
}

async fn run(queries: &Arc<Queries>, sql: &str) -> Vec<Vec<String>> {
    run_on(queries, TableKind::Events, sql).await
}

async fn run_on(queries: &Arc<Queries>, kind: TableKind, sql: &str) -> Vec<Vec<String>> {
    let stores = [QueryableStore {
        id: STORE.into(),
        arn: format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:eventdatastore/{STORE}"),
        active: true,
        kind,
    }];
    let id = queries
        .start(ACCOUNT, "us-east-1", sql, &stores, None)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    for _ in 0..600 {
        let q = queries.get(ACCOUNT, &id).expect("query");
        match q.status {
            QueryStatus::Finished => return q.rows,
            QueryStatus::Queued | QueryStatus::Running => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("{sql}: {other:?} {:?}", q.error),
        }
    }
    panic!("{sql}: did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_to_table_to_sql_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, _) =
        Journal::open(dir.path().join("journal"), JournalConfig::default()).expect("journal");
    let settings = WriterSettings {
        flush_interval: Duration::from_millis(200),
        max_rows: 700,
    };
    let lake = Lake::new(dir.path().join("lake"), journal.clone(), settings.clone());
    lake.sync(vec![spec(true)]);
    // Let the consumer start at the journal's end: a new store takes events from now on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = events(9, 3_000);
    let appended = journal.append(all.clone()).await.expect("append");
    let last = appended.first_lsn + u64::from(appended.count) - 1;
    assert!(
        lake.wait_for(STORE, last, Duration::from_secs(60)).await,
        "consumed"
    );

    let parsed: Vec<Value> = all
        .iter()
        .map(|b| serde_json::from_slice(b).expect("json"))
        .collect();
    let mgmt: Vec<&Value> = parsed
        .iter()
        .filter(|v| v["eventCategory"] == "Management")
        .collect();
    assert!(
        mgmt.len() > 100 && mgmt.len() < parsed.len(),
        "a mix of categories"
    );

    let queries = Queries::open(
        Arc::clone(&lake),
        dir.path().join("queries"),
        Duration::from_secs(60),
        None,
    )
    .expect("queries");
    let rows = run(&queries, &format!("SELECT count(*) AS n FROM {STORE}")).await;
    assert_eq!(rows, vec![vec![mgmt.len().to_string()]]);

    // Top event names, case-insensitive identifiers, struct access, Trino functions.
    let rows = run(
        &queries,
        &format!(
            "SELECT eventName, COUNT(*) AS c FROM {STORE} WHERE useridentity.type = 'IAMUser' \
             AND eventTime >= '2026-11-20 00:00:00' GROUP BY eventname ORDER BY c DESC, eventname LIMIT 5"
        ),
    )
    .await;
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for v in &mgmt {
        if v["userIdentity"]["type"] == "IAMUser" {
            *counts
                .entry(v["eventName"].as_str().expect("name").to_owned())
                .or_default() += 1;
        }
    }
    let mut expected: Vec<(String, usize)> = counts.into_iter().collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    expected.truncate(5);
    let expected: Vec<Vec<String>> = expected
        .into_iter()
        .map(|(n, c)| vec![n, c.to_string()])
        .collect();
    assert_eq!(rows, expected);

    let first = mgmt[0];
    let rows = run(
        &queries,
        &format!(
            "SELECT eventid, eventtime, json_extract_scalar(eventjson, '$.userIdentity.arn') \
             FROM {STORE} WHERE eventid = '{}'",
            first["eventID"].as_str().expect("id")
        ),
    )
    .await;
    let time = first["eventTime"]
        .as_str()
        .expect("time")
        .replace('T', " ")
        .replace('Z', ".000");
    assert_eq!(
        rows,
        vec![vec![
            first["eventID"].as_str().expect("id").to_owned(),
            time,
            first["userIdentity"]["arn"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ]]
    );

    trino_functions_over_the_table(&queries, &mgmt).await;

    // `eventjson` is the record as it was recorded, byte for byte (stored shredded).
    let original = all
        .iter()
        .find(|b| serde_json::from_slice::<Value>(b).expect("json")["eventID"] == first["eventID"])
        .expect("sent");
    let rows = run(
        &queries,
        &format!(
            "SELECT eventjson FROM {STORE} WHERE eventid = '{}'",
            first["eventID"].as_str().expect("id")
        ),
    )
    .await;
    assert_eq!(
        rows,
        vec![vec![String::from_utf8(original.clone()).expect("utf8")]]
    );
    // ... every one of them, the nested shredded members included.
    let by_id: HashMap<&str, &Vec<u8>> = all
        .iter()
        .zip(&parsed)
        .filter_map(|(b, v)| Some((v["eventID"].as_str()?, b)))
        .collect();
    let rows = run(&queries, &format!("SELECT eventid, eventjson FROM {STORE}")).await;
    assert_eq!(rows.len(), mgmt.len());
    let (mut keys, mut s3_ids) = (0, 0);
    for row in &rows {
        let original = std::str::from_utf8(by_id[row[0].as_str()]).expect("utf8");
        assert_eq!(row[1], original);
        keys += usize::from(original.contains("\"accessKeyId\":\"A"));
        s3_ids += usize::from(original.contains("\"x-amz-id-2\":\""));
    }
    assert!(
        keys > 100 && s3_ids > 10,
        "{keys} access keys, {s3_ids} S3 ids"
    );

    // Statistics are measured; pages of results.
    let id = queries
        .start(
            ACCOUNT,
            "us-east-1",
            &format!("SELECT eventid FROM {STORE} WHERE readonly = true ORDER BY eventid"),
            &[QueryableStore {
                id: STORE.into(),
                arn: String::new(),
                active: true,
                kind: TableKind::Events,
            }],
            None,
        )
        .await
        .expect("start");
    let q = loop {
        let q = queries.get(ACCOUNT, &id).expect("q");
        if q.status == QueryStatus::Finished {
            break q;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let read_only = mgmt.iter().filter(|v| v["readOnly"] == true).count();
    let d = describe(&q);
    assert_eq!(d["QueryStatistics"]["EventsScanned"], mgmt.len() as u64);
    assert_eq!(d["QueryStatistics"]["EventsMatched"], read_only as u64);
    assert!(
        d["QueryStatistics"]["BytesScanned"]
            .as_u64()
            .expect("bytes")
            > 0
    );
    let page = results_page(&q, 100, None).expect("page");
    assert_eq!(page["QueryStatistics"]["TotalResultsCount"], read_only);
    assert_eq!(
        page["QueryResultRows"].as_array().expect("rows").len(),
        100.min(read_only)
    );
    let token = page["NextToken"].as_str().expect("token");
    let page2 = results_page(&q, 100, Some(token)).expect("page 2");
    assert_ne!(page["QueryResultRows"][0], page2["QueryResultRows"][0]);

    // A restart resumes from the table's own record of the journal: nothing twice.
    lake.shutdown().await;
    let lake = Lake::new(dir.path().join("lake"), journal.clone(), settings);
    lake.sync(vec![spec(true)]);
    let more = events(10, 200);
    let appended = journal.append(more.clone()).await.expect("append");
    let last = appended.first_lsn + u64::from(appended.count) - 1;
    assert!(lake.wait_for(STORE, last, Duration::from_secs(60)).await);
    let queries = Queries::open(
        Arc::clone(&lake),
        dir.path().join("queries"),
        Duration::from_secs(60),
        None,
    )
    .expect("queries");
    let rows = run(
        &queries,
        &format!("SELECT count(*), count(DISTINCT eventid) FROM {STORE}"),
    )
    .await;
    let more_mgmt = more
        .iter()
        .filter(|b| {
            serde_json::from_slice::<Value>(b).expect("json")["eventCategory"] == "Management"
        })
        .count();
    assert_eq!(
        rows[0][0],
        (mgmt.len() + more_mgmt).to_string(),
        "every event once"
    );
    assert_eq!(rows[0][0], rows[0][1], "no event twice");

    // Compaction folds the small commits' files into one per day and keeps every row once;
    // the consumer carries on after it from the same journal position.
    let mut trickled = 0;
    for seed in 20..26 {
        let some = events(seed, 60);
        trickled += some
            .iter()
            .filter(|b| {
                serde_json::from_slice::<Value>(b).expect("json")["eventCategory"] == "Management"
            })
            .count();
        let appended = journal.append(some).await.expect("append");
        let last = appended.first_lsn + u64::from(appended.count) - 1;
        assert!(lake.wait_for(STORE, last, Duration::from_secs(60)).await);
    }
    let rows = run(
        &queries,
        &format!("SELECT count(*), count(DISTINCT eventid) FROM {STORE}"),
    )
    .await;
    let files = |t: &deltalake::DeltaTable| t.get_file_uris().expect("files").count();
    let before = files(&lake.open_table(STORE).await.expect("open").expect("table"));
    let compacted = lake.compact(STORE).await.expect("compact");
    let after = files(&lake.open_table(STORE).await.expect("open").expect("table"));
    assert!(before > 3, "{before} files: small commits");
    assert_eq!(compacted.files_removed as usize, before, "{compacted:?}");
    assert!(
        after < before && after as u64 == compacted.files_added,
        "{after} files"
    );
    let counted = run(
        &queries,
        &format!("SELECT count(*), count(DISTINCT eventid) FROM {STORE}"),
    )
    .await;
    assert_eq!(counted, rows, "the same rows after compaction");
    let last_batch = events(11, 100);
    let appended = journal.append(last_batch.clone()).await.expect("append");
    let last = appended.first_lsn + u64::from(appended.count) - 1;
    assert!(lake.wait_for(STORE, last, Duration::from_secs(60)).await);
    let last_mgmt = last_batch
        .iter()
        .filter(|b| {
            serde_json::from_slice::<Value>(b).expect("json")["eventCategory"] == "Management"
        })
        .count();
    let counted = run(
        &queries,
        &format!("SELECT count(*), count(DISTINCT eventid) FROM {STORE}"),
    )
    .await;
    let total = (mgmt.len() + more_mgmt + trickled + last_mgmt).to_string();
    assert_eq!(counted, vec![vec![total.clone(), total]]);
    lake.shutdown().await;
}

/// The Trino functions users write, over the table's own column types (maps of strings,
/// arrays of structs, UTC timestamps), answers checked against the events.
async fn trino_functions_over_the_table(queries: &Arc<Queries>, mgmt: &[&Value]) {
    let count = |f: &dyn Fn(&Value) -> bool| mgmt.iter().filter(|v| f(v)).count().to_string();

    // element_at on a map column: the value, NULL when the key is missing.
    let rows = run(
        queries,
        &format!(
            "SELECT count(element_at(additionaleventdata, 'SignatureVersion')), \
             count(*) FILTER (WHERE element_at(additionaleventdata, 'SignatureVersion') = 'SigV4'), \
             count(*) FILTER (WHERE contains(map_keys(additionaleventdata), 'SignatureVersion')) \
             FROM {STORE}"
        ),
    )
    .await;
    let signed = count(&|v| v["additionalEventData"]["SignatureVersion"].is_string());
    let sigv4 = count(&|v| v["additionalEventData"]["SignatureVersion"] == "SigV4");
    assert_ne!(
        sigv4, "0",
        "some management events carry S3's additional data"
    );
    assert_eq!(rows, vec![vec![signed.clone(), sigv4, signed]]);

    // date_add in WHERE on eventtime: from a fixed time, and the usual window ending now.
    let rows = run(
        queries,
        &format!(
            "SELECT count(*) FROM {STORE} \
             WHERE eventtime >= date_add('hour', -2, TIMESTAMP '2026-11-20 05:00:00')"
        ),
    )
    .await;
    let since_three = count(&|v| v["eventTime"].as_str() >= Some("2026-11-20T03:00:00Z"));
    assert_ne!(since_three, "0");
    assert_ne!(since_three, mgmt.len().to_string());
    assert_eq!(rows, vec![vec![since_three]]);
    let now = Utc::now();
    let rows = run(
        queries,
        &format!(
            "SELECT count(*) FILTER (WHERE eventtime > date_add('day', -7, now())), \
             count(*) FILTER (WHERE eventtime < date_add('day', 1, now())) FROM {STORE}"
        ),
    )
    .await;
    let time = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v["eventTime"].as_str().unwrap_or_default())
            .expect("eventTime")
    };
    let week = count(&|v| time(v) > now - chrono::Duration::days(7));
    let before_tomorrow = count(&|v| time(v) < now + chrono::Duration::days(1));
    assert_eq!(rows, vec![vec![week, before_tomorrow]]);

    // cardinality of the array of structs, and its last element.
    let rows = run(
        queries,
        &format!(
            "SELECT sum(cardinality(resources)), count(cardinality(resources)), \
             count(*) FILTER (WHERE element_at(resources, -1)['type'] = 'AWS::S3::Bucket') \
             FROM {STORE}"
        ),
    )
    .await;
    let resources = |v: &Value| v["resources"].as_array().cloned();
    let total: usize = mgmt
        .iter()
        .filter_map(|v| resources(v))
        .map(|r| r.len())
        .sum();
    assert!(total > 0, "some events name resources");
    let with = count(&|v| resources(v).is_some());
    let last_bucket = count(&|v| {
        resources(v)
            .and_then(|r| r.last().cloned())
            .is_some_and(|r| r["type"] == "AWS::S3::Bucket")
    });
    assert_eq!(rows, vec![vec![total.to_string(), with, last_bucket]]);

    // contains on an array: Trino's way to write IN over a list.
    let (a, b) = (
        mgmt[0]["eventName"].as_str().expect("name"),
        mgmt[mgmt.len() / 2]["eventName"].as_str().expect("name"),
    );
    let rows = run(
        queries,
        &format!("SELECT count(*) FROM {STORE} WHERE contains(ARRAY['{a}', '{b}'], eventname)"),
    )
    .await;
    assert_eq!(
        rows,
        vec![vec![count(&|v| v["eventName"] == a || v["eventName"] == b)]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_that_are_not_queries_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, _) =
        Journal::open(dir.path().join("journal"), JournalConfig::default()).expect("journal");
    let lake = Lake::new(dir.path().join("lake"), journal, WriterSettings::default());
    let queries = Queries::open(
        lake,
        dir.path().join("queries"),
        Duration::from_secs(60),
        None,
    )
    .expect("queries");
    let stores = [QueryableStore {
        id: STORE.into(),
        arn: String::new(),
        active: true,
        kind: TableKind::Events,
    }];
    for (sql, code) in [
        (
            format!("DELETE FROM {STORE}"),
            "InvalidQueryStatementException",
        ),
        (
            format!("SELECT nosuchcolumn FROM {STORE}"),
            "InvalidQueryStatementException",
        ),
        ("SELECT 1".to_owned(), "InvalidQueryStatementException"),
        (
            format!("SELECT date_add('days', -7, eventtime) FROM {STORE}"),
            "InvalidQueryStatementException",
        ),
        (
            format!("SELECT element_at(eventname, 1) FROM {STORE}"),
            "InvalidQueryStatementException",
        ),
        (
            "SELECT * FROM 00000000-0000-0000-0000-000000000000".to_owned(),
            "EventDataStoreNotFoundException",
        ),
    ] {
        let e = queries
            .start(ACCOUNT, "us-east-1", &sql, &stores, None)
            .await
            .expect_err(&sql);
        assert_eq!(e.code(), code, "{sql}: {e}");
    }
    // An empty store answers with no rows.
    let id = queries
        .start(
            ACCOUNT,
            "us-east-1",
            &format!("SELECT * FROM {STORE}"),
            &stores,
            None,
        )
        .await
        .expect("start");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let q = queries.get(ACCOUNT, &id).expect("q");
    assert_eq!(q.status, QueryStatus::Finished, "{:?}", q.error);
    assert!(q.rows.is_empty());
    assert!(!q.columns.iter().any(|c| c == "eventday"));
}

fn integration_record(uid: &str, channel: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "eventVersion": "1.0", "eventCategory": "ActivityAuditLog", "eventType": "ActivityLog",
        "eventID": format!("id-{uid}"), "eventTime": "2026-11-25T10:00:00Z", "awsRegion": "us-east-1",
        "recipientAccountId": ACCOUNT,
        "metadata": {"ingestionTime": "2026-11-25T10:00:01Z", "channelARN": channel},
        "eventData": {"version": "1", "userIdentity": {"type": "U", "principalId": "p"},
            "eventSource": "app.example.com", "eventName": "Login", "eventTime": "2026-11-25T10:00:00Z",
            "UID": uid, "recipientAccountId": ACCOUNT}
    }))
    .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integration_stores_keep_what_their_channels_deliver_from_the_sync_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, _) =
        Journal::open(dir.path().join("journal"), JournalConfig::default()).expect("journal");
    let settings = WriterSettings {
        flush_interval: Duration::from_millis(100),
        max_rows: 1000,
    };
    let lake = Lake::new(dir.path().join("lake"), journal.clone(), settings);
    let mine = format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:channel/mine");
    let theirs = format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:channel/theirs");
    journal
        .append(vec![integration_record("before", &mine)])
        .await
        .expect("append");
    let stale = lake.snapshot();
    let activity = StoreSpec {
        selectors: serde_json::from_value(
            serde_json::json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["ActivityAuditLog"]}]}]),
        )
        .expect("selectors"),
        kind: TableKind::Activity,
        channels: vec![mine.clone()],
        ..spec(true)
    };
    // No pause: the store's start is pinned by the sync itself, so what is appended right
    // after is kept however late the consumer task first runs.
    lake.sync(vec![activity]);
    assert!(
        !lake.sync_snapshot(stale, Vec::new(), true),
        "a read older than the one applied changes nothing (and purges nothing)"
    );
    let mut batch = vec![
        integration_record("u1", &mine),
        integration_record("u2", &theirs),
        integration_record("u3", &mine),
    ];
    batch.extend(events(4, 50));
    let appended = journal.append(batch).await.expect("append");
    let last = appended.first_lsn + u64::from(appended.count) - 1;
    assert!(
        lake.wait_for(STORE, last, Duration::from_secs(60)).await,
        "consumed"
    );
    let queries = Queries::open(
        Arc::clone(&lake),
        dir.path().join("queries"),
        Duration::from_secs(60),
        None,
    )
    .expect("queries");
    let rows = run_on(
        &queries,
        TableKind::Activity,
        &format!(
            "SELECT eventdata.uid, metadata.channelarn, eventcategory FROM {STORE} ORDER BY 1"
        ),
    )
    .await;
    let want = |u: &str| vec![u.to_owned(), mine.clone(), "ActivityAuditLog".to_owned()];
    assert_eq!(rows, vec![want("u1"), want("u3")]);
}
