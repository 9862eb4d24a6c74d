//! Imports end to end in-process: AWS log files in a folder and in an embedded bucket,
//! imported into a store's Delta table and checked against a brute-force reading of the same
//! files; duplicates, time ranges, failures, resumption after a partial commit, and the API's
//! refusals.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use opentrail_catalog::Catalog;
use opentrail_generator::{Generator, LogFileOptions, WorkloadConfig, write_log_files};
use opentrail_journal::{Journal, JournalConfig};
use opentrail_store::{LocalStore, ObjectStorage};
use serde_json::Value;

use super::*;
use crate::stores::{CreateEventDataStore, EventDataStores};
use crate::writer::{Lake, WriterSettings};

const ACCT: &str = "123456789012";
const REGION: &str = "us-east-1";
const ROLE: &str = "arn:aws:iam::123456789012:role/import";

struct Fixture {
    dir: tempfile::TempDir,
    imports: Arc<Imports>,
    stores: Arc<EventDataStores>,
    lake: Arc<Lake>,
    local: Arc<LocalStore>,
    catalog: Arc<Catalog>,
}

fn fixture(commit_rows: usize) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Arc::new(Catalog::open(&dir.path().join("catalog.db")).expect("catalog"));
    let kms =
        Arc::new(opentrail_kms::Registry::open(dir.path().join("kms"), None, ACCT).expect("kms"));
    let stores = Arc::new(EventDataStores::new(catalog.clone(), kms, None));
    let (journal, _) =
        Journal::open(dir.path().join("journal"), JournalConfig::default()).expect("journal");
    let lake = Lake::new(
        dir.path().join("tables"),
        journal,
        WriterSettings::default(),
    );
    let local = Arc::new(LocalStore::open(dir.path().join("buckets")).expect("buckets"));
    let storages: Vec<Arc<dyn ObjectStorage>> = vec![Arc::new(local.clone())];
    let imports = Imports::new(
        catalog.clone(),
        stores.clone(),
        lake.clone(),
        dir.path().join("imports"),
        storages,
        ImportSettings {
            commit_rows,
            workers: 2,
        },
    );
    Fixture {
        dir,
        imports,
        stores,
        lake,
        local,
        catalog,
    }
}

impl Fixture {
    fn store(&self, name: &str, req: CreateEventDataStore) -> EventDataStore {
        self.stores
            .create(
                ACCT,
                REGION,
                CreateEventDataStore {
                    name: name.into(),
                    ..req
                },
            )
            .expect("store")
            .0
    }

    fn request(&self, store: &EventDataStore, uri: &str) -> StartImport {
        StartImport {
            destinations: Some(vec![store.arn.clone()]),
            import_source: Some(ImportSource {
                s3: S3ImportSource {
                    s3_location_uri: uri.into(),
                    s3_bucket_region: REGION.into(),
                    s3_bucket_access_role_arn: ROLE.into(),
                },
            }),
            ..StartImport::default()
        }
    }

    async fn run(&self, req: StartImport) -> Import {
        let imp = self.imports.start(ACCT, REGION, req).await.expect("start");
        self.imports.wait(&imp.id).await;
        self.imports.get(ACCT, REGION, &imp.id).expect("get")
    }

    /// The event ids in the store's table, in any order, duplicates kept.
    async fn ids(&self, store: &EventDataStore) -> Vec<String> {
        let Some(table) = self.lake.open_table(&store.id).await.expect("open") else {
            return Vec::new();
        };
        let ctx = SessionContext::new();
        table
            .update_datafusion_session(&ctx.state())
            .expect("session");
        ctx.register_table("t", table.table_provider().await.expect("provider"))
            .expect("register");
        let batches = ctx
            .sql("SELECT eventid FROM t")
            .await
            .expect("sql")
            .collect()
            .await
            .expect("collect");
        batches
            .iter()
            .flat_map(|b| {
                cast(b.column(0), &DataType::Utf8)
                    .expect("text")
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.expect("id").to_owned())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// `n` generated events over about `n * 7` seconds from 2026-11-20, written as AWS log files
/// (at most `per_file` per file) under `dir`; returns the records.
fn log_files(dir: &Path, seed: u64, n: usize, per_file: usize) -> Vec<Value> {
    let mut g = Generator::new(WorkloadConfig {
        seed,
        account_id: ACCT.into(),
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        events_per_day: 50_000.0,
        anomalies: Vec::new(),
        include_data_events: true,
    });
    let start = Utc
        .with_ymd_and_hms(2026, 11, 20, 20, 0, 0)
        .single()
        .expect("time");
    let records: Vec<_> = (0..n)
        .map(|i| g.event_at(start + chrono::Duration::seconds(i as i64 * 7)))
        .collect();
    let values = records
        .iter()
        .map(|r| serde_json::to_value(r).expect("json"))
        .collect();
    write_log_files(
        dir,
        records,
        &LogFileOptions {
            seed,
            max_records_per_file: per_file,
            ..LogFileOptions::default()
        },
    )
    .expect("write");
    values
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(body).expect("gz");
    gz.finish().expect("gz")
}

fn day_folder(root: &Path) -> std::path::PathBuf {
    root.join("AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20")
}

fn no_duplicates(ids: &[String]) -> HashSet<&str> {
    let set: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(set.len(), ids.len(), "duplicate event ids in the table");
    set
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_is_imported_once_with_failures_listed_and_a_reimport_adds_nothing() {
    let f = fixture(700);
    let store = f.store("imported", CreateEventDataStore::default());
    let src = f.dir.path().join("logs");
    let events = log_files(&src, 3, 4_000, 150);
    let day = day_folder(&src);
    std::fs::create_dir_all(&day).expect("dir");
    // A copy of an event in a second file: imported once.
    let dup = serde_json::json!({ "Records": [events[10], events[11]] });
    std::fs::write(
        day.join("123456789012_CloudTrail_us-east-1_20261120T2359Z_dup.json"),
        serde_json::to_vec(&dup).expect("json"),
    )
    .expect("dup");
    // Not for the import: a digest, another service, a note.
    std::fs::create_dir_all(src.join("AWSLogs/123456789012/CloudTrail-Digest/us-east-1"))
        .expect("dir");
    std::fs::write(
        src.join("AWSLogs/123456789012/CloudTrail-Digest/us-east-1/d.json.gz"),
        gzip(b"{\"Records\":[{\"eventTime\":\"2026-11-20T00:00:00Z\",\"eventID\":\"digest\"}]}"),
    )
    .expect("digest");
    std::fs::write(day.join("README.txt"), b"not a log").expect("note");
    // Failures: torn gzip, not gzip, not a log document, one record without eventTime.
    let good = std::fs::read_dir(&day)
        .expect("ls")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".json.gz"))
        .expect("a log file");
    let bytes = std::fs::read(&good).expect("read");
    std::fs::write(day.join("zz_torn.json.gz"), &bytes[..bytes.len() / 2]).expect("torn");
    std::fs::write(day.join("zz_plain.json.gz"), b"{\"Records\":[]}").expect("plain");
    std::fs::write(day.join("zz_array.json"), b"[1,2,3]").expect("array");
    let odd = serde_json::json!({"Records": [events[20], {"eventName": "NoTime"}]});
    std::fs::write(
        day.join("zz_odd.json.gz"),
        gzip(&serde_json::to_vec(&odd).expect("json")),
    )
    .expect("odd");

    let uri = format!("file://{}", src.display());
    let imp = f.run(f.request(&store, &uri)).await;
    assert_eq!(imp.status, ImportStatus::Failed, "{:?}", imp.failures);
    let ids = f.ids(&store).await;
    let set = no_duplicates(&ids);
    let expected: HashSet<&str> = events
        .iter()
        .map(|e| e["eventID"].as_str().expect("id"))
        .collect();
    assert_eq!(set, expected);
    assert_eq!(imp.stats.events_completed, events.len() as u64);
    let kinds: Vec<(&str, &str)> = imp
        .failures
        .iter()
        .map(|x| {
            (
                x.location.rsplit('/').next().unwrap_or_default(),
                x.error_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("zz_array.json", "InvalidJson"),
            ("zz_odd.json.gz", "InvalidRecords"),
            ("zz_plain.json.gz", "InvalidGzip"),
            ("zz_torn.json.gz", "InvalidGzip"),
        ]
    );
    assert!(
        imp.failures[0].location.starts_with(&uri),
        "{:?}",
        imp.failures[0]
    );
    assert_eq!(imp.stats.failed_entries, 4);
    let log_files = std::fs::read_dir(&day).expect("ls").count() - 1; // README
    let days: HashSet<String> = events
        .iter()
        .map(|e| {
            let t = e["eventTime"].as_str().expect("time");
            format!("{}{}", &t[..10], e["awsRegion"])
        })
        .collect();
    assert!(imp.stats.prefixes_found >= days.len() as u64);
    assert_eq!(imp.stats.prefixes_completed, imp.stats.prefixes_found);
    assert!(imp.stats.files_completed > log_files as u64);

    let (page, token) = f
        .imports
        .failures(ACCT, REGION, &imp.id, Some(3), None)
        .expect("page");
    assert_eq!(page.len(), 3);
    let (rest, none) = f
        .imports
        .failures(ACCT, REGION, &imp.id, Some(3), token.as_deref())
        .expect("page 2");
    assert_eq!((rest.len(), none), (1, None));

    // The same files again: nothing new, nothing doubled.
    for name in [
        "zz_torn.json.gz",
        "zz_plain.json.gz",
        "zz_array.json",
        "zz_odd.json.gz",
    ] {
        std::fs::remove_file(day.join(name)).expect("rm");
    }
    let again = f.run(f.request(&store, src.to_str().expect("utf8"))).await;
    assert_eq!(
        again.status,
        ImportStatus::Completed,
        "{:?}",
        again.failures
    );
    assert_eq!(again.stats.events_completed, 0);
    assert_eq!(f.ids(&store).await.len(), events.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_location_with_a_time_range_imports_exactly_the_range() {
    let f = fixture(50_000);
    let store = f.store("ranged", CreateEventDataStore::default());
    let src = f.dir.path().join("staging");
    let events = log_files(&src, 5, 3_000, 200);
    f.local.create_bucket("trail-logs", REGION).expect("bucket");
    let mut stack = vec![src.clone()];
    let mut all_files = 0u64;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("ls").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let key = format!(
                    "exported/{}",
                    p.strip_prefix(&src).expect("rel").to_string_lossy()
                );
                let body = std::fs::read(&p).expect("read");
                all_files += 1;
                f.local
                    .put_object("trail-logs", &key, &body, None, &Default::default(), None)
                    .expect("put");
            }
        }
    }
    let (from, to) = (
        Utc.with_ymd_and_hms(2026, 11, 20, 21, 30, 0)
            .single()
            .expect("t"),
        Utc.with_ymd_and_hms(2026, 11, 21, 0, 15, 0)
            .single()
            .expect("t"),
    );
    let mut req = f.request(&store, "s3://trail-logs/exported/");
    req.start_event_time = Some(from.timestamp() as f64);
    req.end_event_time = Some(to.timestamp() as f64);
    let imp = f.run(req).await;
    assert_eq!(imp.status, ImportStatus::Completed, "{:?}", imp.failures);
    let expected: HashSet<&str> = events
        .iter()
        .filter(|e| {
            let t = chrono::DateTime::parse_from_rfc3339(e["eventTime"].as_str().expect("t"))
                .expect("time");
            t >= from && t <= to
        })
        .map(|e| e["eventID"].as_str().expect("id"))
        .collect();
    assert!(expected.len() > 500 && expected.len() < events.len());
    let ids = f.ids(&store).await;
    assert_eq!(no_duplicates(&ids), expected);
    assert_eq!(imp.stats.events_completed, expected.len() as u64);
    // Files delivered before the range (90 minutes of it, two regions, 5-minute files) are
    // not even read.
    assert!(
        imp.stats.files_completed <= all_files - 34,
        "{} of {all_files}",
        imp.stats.files_completed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_resumes_after_the_last_commit_the_table_holds() {
    let f = fixture(400);
    let store = f.store("resumed", CreateEventDataStore::default());
    let src = f.dir.path().join("logs");
    // The first files are imported and committed; then the run "crashes" before the catalog
    // hears of it (its record is put back to the start), and more files have arrived.
    let first = log_files(&src.join("a"), 7, 2_000, 100);
    let imp = f.run(f.request(&store, src.to_str().expect("utf8"))).await;
    assert_eq!(imp.status, ImportStatus::Completed);
    let later = log_files(&src.join("b"), 8, 1_500, 100);
    std::fs::remove_file(
        f.dir
            .path()
            .join("imports")
            .join(format!("{}-0.json", imp.id)),
    )
    .expect("listing");
    f.catalog
        .transaction(|tx| {
            let mut rewound = imp.clone();
            rewound.status = ImportStatus::InProgress;
            rewound.files_done = 0;
            rewound.stats = ImportStatistics::default();
            Imports::put(tx, &rewound)
        })
        .expect("rewind");
    assert_eq!(f.imports.resume_all().expect("resume"), 1);
    f.imports.wait(&imp.id).await;
    let done = f.imports.get(ACCT, REGION, &imp.id).expect("get");
    assert_eq!(done.status, ImportStatus::Completed, "{:?}", done.failures);
    let ids = f.ids(&store).await;
    assert_eq!(ids.len(), first.len() + later.len());
    no_duplicates(&ids);
    // Statistics came back from the commit note, then grew by the new files only.
    assert_eq!(done.stats.events_completed, ids.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_then_start_with_the_id_resumes_without_gaps_or_duplicates() {
    let f = fixture(300);
    let store = f.store("stopped", CreateEventDataStore::default());
    let src = f.dir.path().join("logs");
    let events = log_files(&src, 11, 12_000, 50);
    let imp = f
        .imports
        .start(ACCT, REGION, f.request(&store, src.to_str().expect("utf8")))
        .await
        .expect("start");
    // Stop after the first commit shows.
    for _ in 0..2_000 {
        let cur = f.imports.get(ACCT, REGION, &imp.id).expect("get");
        if cur.files_done > 0 || !cur.status.ongoing() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let stopped = f.imports.stop(ACCT, REGION, &imp.id).expect("stop");
    assert_eq!(stopped.status, ImportStatus::Stopped);
    f.imports.wait(&imp.id).await;
    let partial = f.ids(&store).await.len();
    assert!(partial < events.len(), "stopped before the end");
    assert_eq!(
        f.imports.stop(ACCT, REGION, &imp.id).expect("again").status,
        ImportStatus::Stopped
    );
    let resumed = f
        .run(StartImport {
            import_id: Some(imp.id.clone()),
            ..StartImport::default()
        })
        .await;
    assert_eq!(resumed.status, ImportStatus::Completed);
    let ids = f.ids(&store).await;
    assert_eq!(ids.len(), events.len());
    no_duplicates(&ids);
    assert_eq!(resumed.stats.events_completed, events.len() as u64);
    let e = f
        .imports
        .stop(ACCT, REGION, &imp.id)
        .expect_err("completed");
    assert_eq!(e.code(), "InvalidParameterException");
    let e = f
        .imports
        .start(
            ACCT,
            REGION,
            StartImport {
                import_id: Some(imp.id.clone()),
                ..StartImport::default()
            },
        )
        .await
        .expect_err("completed");
    assert_eq!(e.code(), "InvalidParameterException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_exception_aws_names() {
    let f = fixture(1_000);
    let store = f.store("dest", CreateEventDataStore::default());
    let src = f.dir.path().join("logs");
    log_files(&src, 1, 50, 50);
    let folder = src.to_str().expect("utf8").to_owned();
    let code = |r: Result<Import, LakeError>| r.expect_err("refused").code();

    let mut r = f.request(&store, &folder);
    r.destinations = None;
    assert_eq!(
        code(f.imports.start(ACCT, REGION, r).await),
        "InvalidParameterException"
    );
    let mut r = f.request(&store, &folder);
    r.destinations = Some(vec![store.arn.clone(), store.arn.clone()]);
    assert_eq!(
        code(f.imports.start(ACCT, REGION, r).await),
        "InvalidParameterException"
    );
    let mut r = f.request(&store, &folder);
    r.destinations = Some(vec![store.id.clone()]);
    assert_eq!(
        code(f.imports.start(ACCT, REGION, r).await),
        "EventDataStoreARNInvalidException"
    );
    let mut r = f.request(&store, &folder);
    r.destinations = Some(vec!["arn:aws:s3:::bucket".into()]);
    assert_eq!(
        code(f.imports.start(ACCT, REGION, r).await),
        "EventDataStoreARNInvalidException"
    );
    let mut r = f.request(&store, &folder);
    r.destinations = Some(vec![store.arn.replace(&store.id[..8], "00000000")]);
    assert_eq!(
        code(f.imports.start(ACCT, REGION, r).await),
        "EventDataStoreNotFoundException"
    );
    let mut r = f.request(&store, &folder);
    r.import_source = None;
    assert_eq!(
        code(f.imports.start(ACCT, REGION, r).await),
        "InvalidParameterException"
    );
    let mut r = f.request(&store, &folder);
    r.import_source
        .as_mut()
        .expect("src")
        .s3
        .s3_bucket_access_role_arn = "admin".into();
    assert_eq!(
        code(f.imports.start(ACCT, REGION, r).await),
        "InvalidParameterException"
    );
    let mut r = f.request(&store, &folder);
    r.start_event_time = Some(2_000_000_000.0);
    r.end_event_time = Some(1_000_000_000.0);
    assert_eq!(
        code(f.imports.start(ACCT, REGION, r).await),
        "InvalidParameterException"
    );
    for bad in [
        "s3://no-such-bucket/x",
        "s3://Bad_Name",
        "ftp://x/y",
        "relative/folder",
        "/no/such/folder",
    ] {
        let r = f.request(&store, bad);
        assert_eq!(
            code(f.imports.start(ACCT, REGION, r).await),
            "InvalidImportSourceException",
            "{bad}"
        );
    }
    f.local
        .create_bucket("eu-logs", "eu-west-1")
        .expect("bucket");
    let r = f.request(&store, "s3://eu-logs/");
    assert_eq!(
        code(f.imports.start(ACCT, REGION, r).await),
        "InvalidImportSourceException"
    );

    let insights = f.store(
        "insights",
        CreateEventDataStore {
            advanced_event_selectors: Some(
                serde_json::from_value(serde_json::json!([{"FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Insight"]}]}]))
                .expect("selectors"),
            ),
            ..CreateEventDataStore::default()
        },
    );
    let r = f.request(&insights, &folder);
    assert_eq!(
        code(f.imports.start(ACCT, REGION, r).await),
        "InvalidEventDataStoreCategoryException"
    );
    let doomed = f.store(
        "doomed",
        CreateEventDataStore {
            termination_protection_enabled: Some(false),
            ..CreateEventDataStore::default()
        },
    );
    f.stores.delete(ACCT, REGION, &doomed.arn).expect("delete");
    let r = f.request(&doomed, &folder);
    assert_eq!(
        code(f.imports.start(ACCT, REGION, r).await),
        "InactiveEventDataStoreException"
    );

    // One import at a time per account.
    let big = f.dir.path().join("big");
    log_files(&big, 2, 20_000, 20);
    let running = f
        .imports
        .start(ACCT, REGION, f.request(&store, big.to_str().expect("utf8")))
        .await
        .expect("start");
    assert_eq!(
        code(
            f.imports
                .start(ACCT, REGION, f.request(&store, &folder))
                .await
        ),
        "AccountHasOngoingImportException"
    );
    assert!(f.imports.has_ongoing_import(&store.id).expect("ongoing"));
    f.imports.stop(ACCT, REGION, &running.id).expect("stop");
    f.imports.wait(&running.id).await;

    let unknown = "0b7a1f0e-3f6d-4d53-9a57-0123456789ab";
    assert_eq!(
        f.imports
            .get(ACCT, REGION, unknown)
            .expect_err("none")
            .code(),
        "ImportNotFoundException"
    );
    assert_eq!(
        f.imports.get(ACCT, REGION, "nope").expect_err("bad").code(),
        "InvalidParameterException"
    );
    assert_eq!(
        f.imports
            .stop(ACCT, REGION, unknown)
            .expect_err("none")
            .code(),
        "ImportNotFoundException"
    );
    assert_eq!(
        code(
            f.imports
                .start(
                    ACCT,
                    REGION,
                    StartImport {
                        import_id: Some(unknown.into()),
                        ..StartImport::default()
                    }
                )
                .await
        ),
        "ImportNotFoundException"
    );
    assert_eq!(
        f.imports
            .failures(ACCT, REGION, unknown, None, None)
            .expect_err("none")
            .code(),
        "InvalidParameterException"
    );
    // Another region sees none of them.
    assert_eq!(
        f.imports
            .get(ACCT, "eu-west-1", &running.id)
            .expect_err("region")
            .code(),
        "ImportNotFoundException"
    );

    // ListImports: filters, pages, refusals.
    let (all, _) = f
        .imports
        .list(ACCT, REGION, &ListImports::default())
        .expect("list");
    assert_eq!(all.len(), 1);
    let list = |l: ListImports| f.imports.list(ACCT, REGION, &l);
    let stopped = list(ListImports {
        import_status: Some("STOPPED".into()),
        destination: Some(store.arn.clone()),
        ..ListImports::default()
    })
    .expect("filtered");
    assert_eq!(stopped.0.len(), 1);
    let none = list(ListImports {
        import_status: Some("COMPLETED".into()),
        ..ListImports::default()
    })
    .expect("filtered");
    assert!(none.0.is_empty());
    for (l, want) in [
        (
            ListImports {
                import_status: Some("DONE".into()),
                ..ListImports::default()
            },
            "InvalidParameterException",
        ),
        (
            ListImports {
                max_results: Some(0),
                ..ListImports::default()
            },
            "InvalidParameterException",
        ),
        (
            ListImports {
                destination: Some("not-an-arn".into()),
                ..ListImports::default()
            },
            "EventDataStoreARNInvalidException",
        ),
        (
            ListImports {
                next_token: Some("garbage".into()),
                ..ListImports::default()
            },
            "InvalidNextTokenException",
        ),
    ] {
        assert_eq!(list(l).expect_err("refused").code(), want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_carry_their_filters() {
    let f = fixture(1_000);
    let store = f.store("paged", CreateEventDataStore::default());
    let src = f.dir.path().join("logs");
    log_files(&src, 1, 30, 10);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            f.run(f.request(&store, src.to_str().expect("utf8")))
                .await
                .id,
        );
    }
    let (p1, t1) = f
        .imports
        .list(
            ACCT,
            REGION,
            &ListImports {
                max_results: Some(2),
                ..ListImports::default()
            },
        )
        .expect("p1");
    assert_eq!(p1.len(), 2);
    let t1 = t1.expect("token");
    let (p2, t2) = f
        .imports
        .list(
            ACCT,
            REGION,
            &ListImports {
                max_results: Some(2),
                next_token: Some(t1.clone()),
                ..ListImports::default()
            },
        )
        .expect("p2");
    assert_eq!((p2.len(), t2), (1, None));
    let mut seen: Vec<String> = p1.iter().chain(&p2).map(|i| i.id.clone()).collect();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    let e = f
        .imports
        .list(
            ACCT,
            REGION,
            &ListImports {
                max_results: Some(2),
                next_token: Some(t1),
                import_status: Some("COMPLETED".into()),
                ..ListImports::default()
            },
        )
        .expect_err("other filters");
    assert_eq!(e.code(), "InvalidNextTokenException");
}
