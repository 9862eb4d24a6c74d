//! `validate_logs` against real buckets: digest chains made with `build_digest`, signed by
//! rotating `KeyStore` keys, over gzip log files in the embedded store, then tampered with.
//! Every expected output is written from the CLI's format strings in `validation.py`.
//!
//! With `OPENTRAIL_VALIDATE_ORACLE=<python with awscli>` (e.g. the workspace's
//! `.venv/bin/python`), each scenario also runs through the real CLI code (`cli_oracle.py`)
//! against a snapshot of the same buckets, and the CLI must print the expected output too.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::TimeZone;
use flate2::Compression;
use flate2::write::GzEncoder;
use opentrail_store::{LocalStore, Metadata};

use super::*;
use crate::digest::{
    ChainLink, DigestDocument, DigestInput, DigestLogFile, HASH_ALGORITHM, SIGNATURE_ALGORITHM,
    SignedDigest, build_digest, digest_time, string_to_sign,
};
use crate::keys::{KeyStore, RotationPolicy, SigningKey, public_key_list_json};

const ARN: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/audit";
const ACCOUNT: &str = "123456789012";
const HOME: &str = "us-east-1";
const SRC: &str = "eu-west-1";
const TRAIL: &str = "audit";
const BUCKET: &str = "trail-logs";
const OLD_BUCKET: &str = "old-trail-logs";

fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2015, 8, 17, h, m, s)
        .single()
        .expect("time")
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// One digest of a chain to build.
struct Spec {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    logs: usize,
    new_chain: bool,
    bucket: &'static str,
}

/// A digest as stored.
struct Built {
    bucket: String,
    key: String,
    files: Vec<DigestLogFile>,
    previous: Option<ChainLink>,
    signed: SignedDigest,
    fingerprint: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Built {
    fn logs(&self) -> Vec<&str> {
        self.files.iter().map(|f| f.s3_object.as_str()).collect()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<LocalStore>,
    keys: KeyStore,
    prefix: Option<&'static str>,
    org: Option<&'static str>,
    buckets: Vec<&'static str>,
    digests: Vec<Built>,
}

/// Hourly digests D1..D6 ending at 15:01:31..20:01:31 with 2, 0, 1, 2, 0, 1 log files.
/// Keys last 3 hours and rotate after 2, so D1-D2 are signed by one key, D3-D4 by a
/// second and D5-D6 by a third.
fn main_chain(bucket_of: impl Fn(u32) -> &'static str) -> Vec<Spec> {
    let logs = [2, 0, 1, 2, 0, 1];
    (1..=6)
        .map(|i| Spec {
            start: t(13 + i, 1, 31),
            end: t(14 + i, 1, 31),
            logs: logs[i as usize - 1],
            new_chain: i == 1,
            bucket: bucket_of(i),
        })
        .collect()
}

impl Fixture {
    async fn new(prefix: Option<&'static str>, org: Option<&'static str>, specs: &[Spec]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(LocalStore::open(dir.path().join("store")).expect("store"));
        let keys = KeyStore::open(
            dir.path().join("keys"),
            None,
            RotationPolicy {
                validity_secs: 3 * 3600,
                rotate_after_secs: 2 * 3600,
            },
        )
        .expect("keys");
        let mut fx = Fixture {
            _dir: dir,
            store,
            keys,
            prefix,
            org,
            buckets: Vec::new(),
            digests: Vec::new(),
        };
        fx.chain(specs).await;
        fx
    }

    async fn main() -> Self {
        Fixture::new(Some("team"), None, &main_chain(|_| BUCKET)).await
    }

    fn d(&self, i: usize) -> &Built {
        &self.digests[i - 1]
    }

    fn place(&self) -> DigestPlace<'static> {
        DigestPlace {
            prefix: self.prefix,
            org_id: self.org,
            account: ACCOUNT,
            region: SRC,
            trail_name: TRAIL,
            home_region: HOME,
        }
    }

    fn bucket(&mut self, bucket: &'static str) {
        if !self.buckets.contains(&bucket) {
            self.store.create_bucket(bucket, "").expect("bucket");
            self.buckets.push(bucket);
        }
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>, meta: &Metadata) {
        self.store
            .put(
                bucket,
                key,
                bytes::Bytes::from(body),
                "application/octet-stream",
                meta,
                None,
            )
            .await
            .expect("put");
    }

    async fn get(&self, bucket: &str, key: &str) -> Object {
        self.store
            .get(bucket, key)
            .await
            .expect("get")
            .expect("exists")
    }

    async fn delete(&self, bucket: &str, key: &str) {
        self.store.delete(bucket, key).await.expect("delete");
    }

    async fn put_log(&self, bucket: &str, at: DateTime<Utc>, n: usize) -> DigestLogFile {
        let mut key = String::new();
        if let Some(p) = self.prefix {
            key.push_str(p);
            key.push('/');
        }
        key.push_str("AWSLogs/");
        if let Some(o) = self.org {
            key.push_str(o);
            key.push('/');
        }
        key.push_str(&format!(
            "{ACCOUNT}/CloudTrail/{SRC}/{}/{ACCOUNT}_CloudTrail_{SRC}_{}_{n:04}.json.gz",
            at.format("%Y/%m/%d"),
            at.format("%Y%m%dT%H%MZ")
        ));
        let json = format!(
            r#"{{"Records":[{{"eventVersion":"1.08","eventTime":"{}","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"{SRC}","recipientAccountId":"{ACCOUNT}","requestParameters":{{"n":{n}}}}}]}}"#,
            digest_time(at)
        );
        self.put(bucket, &key, gz(json.as_bytes()), &Metadata::new())
            .await;
        DigestLogFile {
            s3_bucket: bucket.to_owned(),
            s3_object: key,
            hash_value: sha256_hex(json.as_bytes()),
            hash_algorithm: HASH_ALGORITHM.into(),
            newest_event_time: digest_time(at),
            oldest_event_time: digest_time(at),
        }
    }

    async fn chain(&mut self, specs: &[Spec]) {
        let mut prev: Option<ChainLink> = None;
        for s in specs {
            self.bucket(s.bucket);
            let mut files = Vec::new();
            for n in 0..s.logs {
                let at = s.start + Duration::minutes(20 + 10 * n as i64);
                let serial = self.digests.len() * 10 + n;
                files.push(self.put_log(s.bucket, at, serial).await);
            }
            let key = self
                .keys
                .signing_key(SRC, s.end.timestamp())
                .expect("signing key");
            let previous = if s.new_chain { None } else { prev.clone() };
            let signed = self.sign(s.bucket, s.start, s.end, &files, previous.as_ref(), &key);
            self.put(
                s.bucket,
                &signed.key,
                signed.gzip.clone(),
                &signed.metadata(),
            )
            .await;
            prev = Some(signed.link.clone());
            self.digests.push(Built {
                bucket: s.bucket.to_owned(),
                key: signed.key.clone(),
                files,
                previous,
                fingerprint: key.public.fingerprint.clone(),
                signed,
                start: s.start,
                end: s.end,
            });
        }
    }

    fn sign(
        &self,
        bucket: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        files: &[DigestLogFile],
        previous: Option<&ChainLink>,
        key: &SigningKey,
    ) -> SignedDigest {
        build_digest(
            &DigestInput {
                place: self.place(),
                bucket,
                start,
                end,
                files,
                previous,
            },
            key,
        )
        .expect("digest")
    }

    /// Stores digest `i` again, built from the same input but signed by `key`.
    async fn resign(&self, i: usize, key: &SigningKey) {
        let d = self.d(i);
        let signed = self.sign(
            &d.bucket,
            d.start,
            d.end,
            &d.files,
            d.previous.as_ref(),
            key,
        );
        assert_eq!(signed.key, d.key);
        self.put(
            &d.bucket,
            &signed.key,
            signed.gzip.clone(),
            &signed.metadata(),
        )
        .await;
    }

    /// A backfill digest (which `build_digest` does not make): same document, `_backfill`
    /// key, and the generation timestamp in its metadata unless `generated` is `None`.
    async fn backfill(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        files: &[DigestLogFile],
        key: &SigningKey,
        generated: Option<&str>,
    ) -> String {
        let object = self.place().key(end, true);
        let doc = DigestDocument {
            aws_account_id: ACCOUNT.into(),
            digest_start_time: digest_time(start),
            digest_end_time: digest_time(end),
            digest_s3_bucket: BUCKET.into(),
            digest_s3_object: object.clone(),
            digest_public_key_fingerprint: key.public.fingerprint.clone(),
            digest_signature_algorithm: SIGNATURE_ALGORITHM.into(),
            newest_event_time: files.first().map(|f| f.newest_event_time.clone()),
            oldest_event_time: files.first().map(|f| f.oldest_event_time.clone()),
            previous_digest_s3_bucket: None,
            previous_digest_s3_object: None,
            previous_digest_hash_value: None,
            previous_digest_hash_algorithm: None,
            previous_digest_signature: None,
            log_files: files.to_vec(),
        };
        let json = serde_json::to_vec(&doc).expect("json");
        let to_sign = string_to_sign(&doc, &sha256_hex(&json));
        let signature = hex::encode(key.sign(to_sign.as_bytes()).expect("sign"));
        let mut meta = Metadata::new();
        meta.insert("signature".into(), signature);
        meta.insert("signature-algorithm".into(), SIGNATURE_ALGORITHM.into());
        if let Some(g) = generated {
            meta.insert("backfill-generation-timestamp".into(), g.into());
        }
        self.put(BUCKET, &object, gz(&json), &meta).await;
        object
    }

    fn public_keys(&self) -> StaticKeys {
        StaticKeys(self.keys.all_public_keys(SRC).expect("public keys"))
    }

    fn request(&self, start: DateTime<Utc>, end: DateTime<Utc>, verbose: bool) -> ValidateRequest {
        ValidateRequest {
            trail_arn: ARN.into(),
            start,
            end,
            bucket: BUCKET.into(),
            prefix: self.prefix.map(str::to_owned),
            account_id: ACCOUNT.into(),
            org_id: self.org.map(str::to_owned),
            source_region: SRC.into(),
            verbose,
            check_unlisted: false,
        }
    }

    /// Runs the validation and checks stdout, stderr and the outcome; then, with the
    /// oracle configured, checks that the aws CLI's own code prints the same.
    async fn check(
        &self,
        req: &ValidateRequest,
        keys: &StaticKeys,
        want_out: &str,
        want_err: &str,
        want: Result<i32, &str>,
    ) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let got = validate_logs(req, &self.store, keys, &mut out, &mut err).await;
        let out = String::from_utf8(out).expect("utf-8");
        let err = String::from_utf8(err).expect("utf-8");
        assert_eq!(out, want_out, "stdout");
        assert_eq!(err, want_err, "stderr");
        assert_eq!(got, want.map_err(str::to_owned), "outcome");
        if let Ok(python) = std::env::var("OPENTRAIL_VALIDATE_ORACLE") {
            let (cli_out, cli_err, cli_rc) = self.run_cli(&python, req, keys).await;
            let (fatal, rc) = match want {
                Ok(rc) => (String::new(), rc),
                Err(e) => (format!("\n{e}\n"), 255),
            };
            assert_eq!(cli_out, want_out, "the aws CLI's stdout");
            assert_eq!(
                cli_err,
                format!("{want_err}{fatal}"),
                "the aws CLI's stderr"
            );
            assert_eq!(cli_rc, rc, "the aws CLI's exit code");
        }
    }

    async fn run_cli(
        &self,
        python: &str,
        req: &ValidateRequest,
        keys: &StaticKeys,
    ) -> (String, String, i32) {
        let mut buckets = serde_json::Map::new();
        for b in &self.buckets {
            let mut objects = serde_json::Map::new();
            for info in self.store.list(b, "").await.expect("list") {
                let o = self.get(b, &info.key).await;
                objects.insert(
                    info.key,
                    serde_json::json!({"body": B64.encode(&o.body), "metadata": o.metadata}),
                );
            }
            buckets.insert((*b).to_owned(), Value::Object(objects));
        }
        let scenario = serde_json::json!({
            "buckets": buckets,
            "keys": public_key_list_json(&keys.0)["PublicKeyList"],
            "request": {
                "trail_arn": req.trail_arn,
                "start": digest_time(req.start),
                "end": digest_time(req.end),
                "bucket": req.bucket,
                "prefix": req.prefix,
                "account_id": req.account_id,
                "org_id": req.org_id,
                "source_region": req.source_region,
                "verbose": req.verbose,
            },
        });
        let path = self._dir.path().join("scenario.json");
        std::fs::write(&path, scenario.to_string()).expect("scenario");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/validate/cli_oracle.py");
        let run = std::process::Command::new(python)
            .arg(script)
            .arg(&path)
            .output()
            .expect("runs python");
        assert!(
            run.status.success(),
            "oracle failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let v: Value = serde_json::from_slice(&run.stdout).expect("oracle JSON");
        (
            v["stdout"].as_str().expect("stdout").to_owned(),
            v["stderr"].as_str().expect("stderr").to_owned(),
            v["rc"].as_i64().expect("rc") as i32,
        )
    }
}

// The CLI's lines (validation.py), one helper per format string.

fn head(start: &str, end: &str) -> String {
    format!("Validating log files for trail {ARN} between {start} and {end}\n\n")
}

fn digest_valid(bucket: &str, key: &str) -> String {
    format!("Digest file\ts3://{bucket}/{key}\tvalid\n")
}

fn backfill_valid(bucket: &str, key: &str) -> String {
    format!("(backfill) Digest file\ts3://{bucket}/{key}\tvalid\n")
}

fn log_valid(bucket: &str, key: &str) -> String {
    format!("Log file\ts3://{bucket}/{key}\tvalid\n")
}

fn digest_invalid(bucket: &str, key: &str, why: &str) -> String {
    format!("Digest file\ts3://{bucket}/{key}\tINVALID: {why}")
}

fn log_invalid(bucket: &str, key: &str, why: &str) -> String {
    format!("Log file\ts3://{bucket}/{key}\tINVALID: {why}")
}

/// `_write_status(message, is_error=True)` right after a verbose line.
fn err_after_verbose(message: &str) -> String {
    format!("\n{message}\n\n")
}

/// `_write_status(message, is_error=True)` after another error, or before any output.
fn err_after_err(message: &str) -> String {
    format!("{message}\n\n")
}

impl Fixture {
    /// Validates the main chain's whole range (verbose) and expects every digest and log
    /// file valid.
    async fn check_all_six_valid(&self) {
        let keys = self.public_keys();
        let req = self.request(t(14, 0, 0), t(20, 30, 0), true);
        let out = self.full_range(
            &[6, 5, 4, 3, 2, 1],
            "6/6 digest files valid\n6/6 log files valid",
        );
        self.check(&req, &keys, &out, "", Ok(0)).await;
    }

    /// The verbose stdout of a run over the main chain's whole range in which digests
    /// `valid` (newest first) and their log files are valid, ending with `tally`.
    fn full_range(&self, valid: &[usize], tally: &str) -> String {
        let body: String = valid.iter().map(|&i| self.all_valid(i)).collect();
        format!(
            "{}{body}\nResults requested for 2015-08-17T14:00:00Z to 2015-08-17T20:30:00Z\n\
             Results found for 2015-08-17T14:01:31Z to 2015-08-17T20:01:31Z:\n\n{tally}\n",
            head(FULL_HEAD.0, FULL_HEAD.1)
        )
    }

    /// The verbose lines of a valid digest `i` and all its (valid) log files.
    fn all_valid(&self, i: usize) -> String {
        let d = self.d(i);
        let mut s = digest_valid(&d.bucket, &d.key);
        for l in d.logs() {
            s.push_str(&log_valid(&d.bucket, l));
        }
        s
    }
}

const FULL_HEAD: (&str, &str) = ("2015-08-17T14:00:00Z", "2015-08-17T20:30:00Z");

#[tokio::test]
async fn a_valid_chain_signed_by_rotating_keys_validates() {
    let fx = Fixture::main().await;
    let fps: HashSet<&str> = fx.digests.iter().map(|d| d.fingerprint.as_str()).collect();
    assert_eq!(fps.len(), 3, "three keys sign the chain");
    let keys = fx.public_keys();
    let mut req = fx.request(t(14, 0, 0), t(20, 30, 0), true);
    let full = head(FULL_HEAD.0, FULL_HEAD.1);
    let body: String = (1..=6).rev().map(|i| fx.all_valid(i)).collect();
    let summary = "Results requested for 2015-08-17T14:00:00Z to 2015-08-17T20:30:00Z\n\
                   Results found for 2015-08-17T14:01:31Z to 2015-08-17T20:01:31Z:\n\
                   \n6/6 digest files valid\
                   \n6/6 log files valid\n";
    fx.check(&req, &keys, &format!("{full}{body}\n{summary}"), "", Ok(0))
        .await;
    req.verbose = false;
    fx.check(&req, &keys, &format!("{full}{summary}"), "", Ok(0))
        .await;

    // Start and end equal is a valid (empty-ish) range; its found range is clipped to it.
    let req = fx.request(t(17, 30, 0), t(17, 30, 0), false);
    fx.check(
        &req,
        &keys,
        &format!(
            "{}Results requested for 2015-08-17T17:30:00Z to 2015-08-17T17:30:00Z\n\
             Results found for 2015-08-17T17:30:00Z to 2015-08-17T17:30:00Z:\n\
             \n1/1 digest files valid\
             \n2/2 log files valid\n",
            head("2015-08-17T17:30:00Z", "2015-08-17T17:30:00Z")
        ),
        "",
        Ok(0),
    )
    .await;
}

#[tokio::test]
async fn objects_no_digest_lists_are_not_looked_at() {
    let fx = Fixture::main().await;
    // A log file nobody digested, a stray object among the digests, and a digest of another
    // trail: the CLI only checks files its own digests list.
    fx.put_log(BUCKET, t(17, 45, 0), 777).await;
    let dir = format!("team/AWSLogs/{ACCOUNT}/CloudTrail-Digest/{SRC}/2015/08/17/");
    fx.put(
        BUCKET,
        &format!("{dir}README.txt"),
        b"hello".to_vec(),
        &Metadata::new(),
    )
    .await;
    let other = fx.d(6).key.replace("_audit_", "_other_");
    fx.put(BUCKET, &other, b"not even gzip".to_vec(), &Metadata::new())
        .await;
    fx.check_all_six_valid().await;
}

#[tokio::test]
async fn check_unlisted_reports_files_planted_inside_digest_periods() {
    let fx = Fixture::main().await;
    // Inside digest 4's period (17:01:31-18:01:31): planted. Before the chain (which starts
    // at 14:01:31): not expected to be listed. A stray object in a log folder has no log
    // file name: planted too.
    let planted = fx.put_log(BUCKET, t(17, 45, 0), 777).await.s3_object;
    fx.put_log(BUCKET, t(13, 30, 0), 778).await;
    let stray = format!("team/AWSLogs/{ACCOUNT}/CloudTrail/{SRC}/2015/08/17/notes.txt");
    fx.put(BUCKET, &stray, b"hello".to_vec(), &Metadata::new())
        .await;
    let keys = fx.public_keys();
    let mut req = fx.request(t(14, 0, 0), t(20, 30, 0), false);
    req.check_unlisted = true;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let rc = validate_logs(&req, &fx.store, &keys, &mut out, &mut err).await;
    assert_eq!(rc, Ok(1));
    assert_eq!(
        String::from_utf8(err).expect("utf-8"),
        format!(
            "{}\n\n{}\n\n",
            log_invalid(BUCKET, &planted, "not listed in any digest file"),
            log_invalid(BUCKET, &stray, "not listed in any digest file"),
        )
    );
    let out = String::from_utf8(out).expect("utf-8");
    assert!(
        out.ends_with("\n6/6 digest files valid\n6/8 log files valid, 2/8 log files INVALID\n"),
        "{out}"
    );

    // Without the planted files the check finds nothing.
    fx.delete(BUCKET, &planted).await;
    fx.delete(BUCKET, &stray).await;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let rc = validate_logs(&req, &fx.store, &keys, &mut out, &mut err).await;
    assert_eq!((rc, err.len()), (Ok(0), 0));
}

#[tokio::test]
async fn damaged_log_files_are_reported_each_in_its_own_way() {
    let fx = Fixture::main().await;
    let (d1, d3, d4, d6) = (fx.d(1), fx.d(3), fx.d(4), fx.d(6));
    let l4a = d4.logs()[0];
    fx.put(
        BUCKET,
        l4a,
        gz(br#"{"Records":[{"eventName":"DeleteTrail"}]}"#),
        &Metadata::new(),
    )
    .await;
    let l1b = d1.logs()[1];
    fx.delete(BUCKET, l1b).await;
    let l3a = d3.logs()[0];
    let mut trailing = fx.get(BUCKET, l3a).await.body.to_vec();
    trailing.extend_from_slice(&gz(b"{\"Records\":[]}"));
    fx.put(BUCKET, l3a, trailing, &Metadata::new()).await;
    let l6a = d6.logs()[0];
    fx.put(BUCKET, l6a, b"{\"Records\":[]}".to_vec(), &Metadata::new())
        .await;

    let keys = fx.public_keys();
    let mut req = fx.request(t(14, 0, 0), t(20, 30, 0), true);
    let head = head(FULL_HEAD.0, FULL_HEAD.1);
    let summary = "Results requested for 2015-08-17T14:00:00Z to 2015-08-17T20:30:00Z\n\
                   Results found for 2015-08-17T14:01:31Z to 2015-08-17T20:01:31Z:\n\
                   \n6/6 digest files valid\
                   \n2/6 log files valid, 4/6 log files INVALID\n";
    let out = [
        head.clone(),
        digest_valid(BUCKET, &d6.key),
        digest_valid(BUCKET, &fx.d(5).key),
        digest_valid(BUCKET, &d4.key),
        log_valid(BUCKET, d4.logs()[1]),
        digest_valid(BUCKET, &d3.key),
        digest_valid(BUCKET, &fx.d(2).key),
        digest_valid(BUCKET, &d1.key),
        log_valid(BUCKET, d1.logs()[0]),
        // The last status was an error, so no blank line before the summary.
        summary.to_owned(),
    ]
    .concat();
    let failures = [
        log_invalid(BUCKET, l6a, "invalid format"),
        log_invalid(BUCKET, l4a, "hash value doesn't match"),
        log_invalid(
            BUCKET,
            l3a,
            "unexpected data after end of compressed stream",
        ),
        log_invalid(BUCKET, l1b, "not found"),
    ];
    let err: String = failures.iter().map(|f| err_after_verbose(f)).collect();
    fx.check(&req, &keys, &out, &err, Ok(1)).await;

    req.verbose = false;
    let err: String = failures.iter().map(|f| err_after_err(f)).collect();
    fx.check(&req, &keys, &format!("{head}{summary}"), &err, Ok(1))
        .await;
}

#[tokio::test]
async fn damaged_digests_are_skipped_with_their_logs() {
    let fx = Fixture::main().await;
    let (d2, d4, d5) = (fx.d(2), fx.d(4), fx.d(5));
    // D5 loses its signature metadata.
    let mut meta = d5.signed.metadata();
    meta.remove("signature");
    fx.put(BUCKET, &d5.key, d5.signed.gzip.clone(), &meta).await;
    // D4's content changes (a log file's hash), its signature does not.
    let mut doc: DigestDocument = serde_json::from_slice(&d4.signed.json).expect("doc");
    doc.log_files[0].hash_value = "0".repeat(64);
    let json = serde_json::to_vec(&doc).expect("json");
    fx.put(BUCKET, &d4.key, gz(&json), &d4.signed.metadata())
        .await;
    // D2 is no longer gzip.
    fx.put(
        BUCKET,
        &d2.key,
        d2.signed.json.clone(),
        &d2.signed.metadata(),
    )
    .await;

    let keys = fx.public_keys();
    let req = fx.request(t(14, 0, 0), t(20, 30, 0), true);
    let out = fx.full_range(
        &[6, 3, 1],
        "3/6 digest files valid, 3/6 digest files INVALID\n4/4 log files valid",
    );
    let err = [
        err_after_verbose(&digest_invalid(
            BUCKET,
            &d5.key,
            "signature verification failed",
        )),
        err_after_err(&digest_invalid(
            BUCKET,
            &d4.key,
            "signature verification failed",
        )),
        err_after_verbose(&digest_invalid(BUCKET, &d2.key, "invalid format")),
    ]
    .concat();
    fx.check(&req, &keys, &out, &err, Ok(1)).await;
}

#[tokio::test]
async fn a_deleted_digest_is_missing_but_the_newest_one_is_never_missed() {
    let fx = Fixture::main().await;
    let d4 = fx.d(4);
    fx.delete(BUCKET, &d4.key).await;
    // Nothing names the newest digest, so the CLI cannot notice it is gone.
    fx.delete(BUCKET, &fx.d(6).key).await;
    let keys = fx.public_keys();
    let req = fx.request(t(14, 0, 0), t(20, 30, 0), true);
    let out = [
        head(FULL_HEAD.0, FULL_HEAD.1),
        fx.all_valid(5),
        fx.all_valid(3),
        fx.all_valid(2),
        fx.all_valid(1),
        "\nResults requested for 2015-08-17T14:00:00Z to 2015-08-17T20:30:00Z\n\
         Results found for 2015-08-17T14:01:31Z to 2015-08-17T19:01:31Z:\n\
         \n4/5 digest files valid, 1/5 digest files INVALID\
         \n3/3 log files valid\n"
            .to_owned(),
    ]
    .concat();
    let err = err_after_verbose(&digest_invalid(BUCKET, &d4.key, "not found"));
    fx.check(&req, &keys, &out, &err, Ok(1)).await;
}

#[tokio::test]
async fn digests_signed_by_other_keys_are_invalid() {
    let fx = Fixture::main().await;
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = KeyStore::open(other_dir.path(), None, RotationPolicy::default()).expect("keys");
    let foreign = other.signing_key(SRC, 1).expect("key");
    // D4 signed by a key CloudTrail never published.
    fx.resign(4, &foreign).await;
    // D2 names the right key but is signed by another one.
    let mut forged = foreign.clone();
    let right = fx
        .keys
        .all_public_keys(SRC)
        .expect("keys")
        .into_iter()
        .find(|k| k.fingerprint == fx.d(2).fingerprint)
        .expect("D2's key");
    forged.public = right;
    fx.resign(2, &forged).await;

    let keys = fx.public_keys();
    let req = fx.request(t(14, 0, 0), t(20, 30, 0), true);
    let out = fx.full_range(
        &[6, 5, 3, 1],
        "4/6 digest files valid, 2/6 digest files INVALID\n4/4 log files valid",
    );
    let err = [
        err_after_verbose(&digest_invalid(
            BUCKET,
            &fx.d(4).key,
            &format!(
                "public key not found in region us-east-1 for fingerprint {}",
                foreign.public.fingerprint
            ),
        )),
        err_after_verbose(&digest_invalid(
            BUCKET,
            &fx.d(2).key,
            "signature verification failed",
        )),
    ]
    .concat();
    fx.check(&req, &keys, &out, &err, Ok(1)).await;
}

#[tokio::test]
async fn a_digest_copied_to_another_key_has_moved() {
    let fx = Fixture::main().await;
    let d4 = fx.d(4);
    let copy = fx.place().key(t(20, 11, 31), false);
    let o = fx.get(BUCKET, &d4.key).await;
    fx.put(BUCKET, &copy, o.body.to_vec(), &o.metadata).await;
    let keys = fx.public_keys();
    let req = fx.request(t(14, 0, 0), t(20, 30, 0), true);
    let out = fx.full_range(
        &[6, 5, 4, 3, 2, 1],
        "6/7 digest files valid, 1/7 digest files INVALID\n6/6 log files valid",
    );
    let err = err_after_err(&digest_invalid(
        BUCKET,
        &copy,
        "has been moved from its original location",
    ));
    fx.check(&req, &keys, &out, &err, Ok(1)).await;
}

#[tokio::test]
async fn a_broken_chain_prints_the_gap_and_stays_valid() {
    // Logging stopped after D3 and restarted at 17:31:31: D4 starts a new chain.
    let mut specs = main_chain(|_| BUCKET);
    for (i, s) in specs.iter_mut().enumerate().skip(3) {
        s.start += Duration::minutes(30);
        s.end += Duration::minutes(30);
        s.new_chain = i == 3;
    }
    let fx = Fixture::new(Some("team"), None, &specs).await;
    let keys = fx.public_keys();
    let mut req = fx.request(t(14, 0, 0), t(20, 30, 0), true);
    let head = head(FULL_HEAD.0, FULL_HEAD.1);
    let body: String = (1..=6).rev().map(|i| fx.all_valid(i)).collect();
    // D6 ends at 20:31:31, after the requested end: the found range stops at the request.
    let summary = "Results requested for 2015-08-17T14:00:00Z to 2015-08-17T20:30:00Z\n\
                   Results found for 2015-08-17T14:01:31Z to 2015-08-17T20:30:00Z:\n\
                   \n6/6 digest files valid\
                   \n6/6 log files valid\n";
    let gap = "No log files were delivered by CloudTrail between 2015-08-17T17:01:31Z and 2015-08-17T17:31:31Z";
    fx.check(
        &req,
        &keys,
        &format!("{head}{body}\n{summary}"),
        &err_after_verbose(gap),
        Ok(0),
    )
    .await;
    req.verbose = false;
    fx.check(
        &req,
        &keys,
        &format!("{head}{summary}"),
        &err_after_err(gap),
        Ok(0),
    )
    .await;
}

#[tokio::test]
async fn a_partial_range_walks_back_only_as_far_as_it_needs() {
    let fx = Fixture::main().await;
    let keys = fx.public_keys();
    let req = fx.request(t(16, 30, 0), t(18, 10, 0), true);
    let out = [
        head("2015-08-17T16:30:00Z", "2015-08-17T18:10:00Z"),
        // D5 ends within an hour after the range, so it is listed and walked from.
        fx.all_valid(5),
        fx.all_valid(4),
        fx.all_valid(3),
        "\nResults requested for 2015-08-17T16:30:00Z to 2015-08-17T18:10:00Z\n\
         Results found for 2015-08-17T16:30:00Z to 2015-08-17T18:10:00Z:\n\
         \n3/3 digest files valid\
         \n3/3 log files valid\n"
            .to_owned(),
    ]
    .concat();
    fx.check(&req, &keys, &out, "", Ok(0)).await;
}

#[tokio::test]
async fn ranges_without_digests_or_keys() {
    let fx = Fixture::main().await;
    let keys = fx.public_keys();

    let req = fx.request(t(22, 0, 0), t(23, 0, 0), true);
    fx.check(
        &req,
        &keys,
        &format!(
            "{}Results requested for 2015-08-17T22:00:00Z to 2015-08-17T23:00:00Z\n\
             No digests found\n",
            head("2015-08-17T22:00:00Z", "2015-08-17T23:00:00Z")
        ),
        "",
        Ok(0),
    )
    .await;

    // No key overlaps the day before: fatal, after the first line is out.
    let day_before = Duration::days(1);
    let req = fx.request(t(0, 0, 0) - day_before, t(12, 0, 0) - day_before, false);
    fx.check(
        &req,
        &keys,
        &head("2015-08-16T00:00:00Z", "2015-08-16T12:00:00Z"),
        "",
        Err("No public keys found between 2015-08-16T00:00:00Z and 2015-08-16T14:00:00Z"),
    )
    .await;

    let req = fx.request(t(14, 0, 0), t(20, 30, 0), true);
    fx.check(
        &req,
        &StaticKeys(Vec::new()),
        &head(FULL_HEAD.0, FULL_HEAD.1),
        "",
        Err("No public keys found between 2015-08-17T14:00:00Z and 2015-08-17T22:30:00Z"),
    )
    .await;

    let mut req = fx.request(t(14, 0, 0), t(20, 30, 0), true);
    req.bucket = "no-such-bucket".into();
    fx.check(
        &req,
        &keys,
        &head(FULL_HEAD.0, FULL_HEAD.1),
        "",
        Err("An error occurred (NoSuchBucket) when calling the GetBucketLocation operation: The specified bucket does not exist"),
    )
    .await;
}

#[tokio::test]
async fn only_invalid_digests_in_range() {
    let fx = Fixture::main().await;
    let d6 = fx.d(6);
    let mut doc: DigestDocument = serde_json::from_slice(&d6.signed.json).expect("doc");
    doc.log_files.clear();
    fx.put(
        BUCKET,
        &d6.key,
        gz(&serde_json::to_vec(&doc).expect("json")),
        &d6.signed.metadata(),
    )
    .await;
    let keys = fx.public_keys();
    let req = fx.request(t(19, 30, 0), t(20, 30, 0), true);
    fx.check(
        &req,
        &keys,
        &format!(
            "{}Results requested for 2015-08-17T19:30:00Z to 2015-08-17T20:30:00Z\n\
             No valid digests found in range\n\
             \n0/1 digest files valid, 1/1 digest files INVALID\n",
            head("2015-08-17T19:30:00Z", "2015-08-17T20:30:00Z")
        ),
        &err_after_err(&digest_invalid(
            BUCKET,
            &d6.key,
            "signature verification failed",
        )),
        Ok(1),
    )
    .await;
}

#[tokio::test]
async fn backfill_digests_are_walked_after_the_chain_with_their_own_keys() {
    let fx = Fixture::main().await;
    let key_of = |i: usize| {
        fx.keys
            .signing_key_by_fingerprint(SRC, &fx.d(i).fingerprint)
            .expect("key")
    };
    let (first_key, last_key) = (key_of(1), key_of(6));
    // Generated at 19:15 and 21:10: only the newest key is valid then.
    let late = fx.put_log(BUCKET, t(16, 50, 0), 99).await;
    let bf3 = fx
        .backfill(
            t(16, 1, 31),
            t(17, 1, 31),
            std::slice::from_ref(&late),
            &last_key,
            Some("2015-08-17T19:15:00Z"),
        )
        .await;
    let bf5 = fx
        .backfill(
            t(18, 1, 31),
            t(19, 1, 31),
            &[],
            &last_key,
            Some("2015-08-17T21:10:00Z"),
        )
        .await;
    // No key at all around this generation time.
    let bf2 = fx
        .backfill(
            t(15, 1, 31),
            t(16, 1, 31),
            &[],
            &first_key,
            Some("2015-08-18T06:00:00Z"),
        )
        .await;
    // A backfill digest without its generation timestamp.
    let bf1 = fx
        .backfill(t(14, 1, 31), t(15, 1, 31), &[], &first_key, None)
        .await;

    let keys = fx.public_keys();
    let req = fx.request(t(14, 0, 0), t(20, 30, 0), true);
    let out = [
        head(FULL_HEAD.0, FULL_HEAD.1),
        (1..=6).rev().map(|i| fx.all_valid(i)).collect(),
        backfill_valid(BUCKET, &bf5),
        backfill_valid(BUCKET, &bf3),
        log_valid(BUCKET, &late.s3_object),
        "Results requested for 2015-08-17T14:00:00Z to 2015-08-17T20:30:00Z\n\
         Results found for 2015-08-17T14:01:31Z to 2015-08-17T20:01:31Z:\n\
         \n6/6 digest files valid\
         \n2/4 backfill digest files valid, 2/4 backfill digest files INVALID\
         \n7/7 log files valid\n"
            .to_owned(),
    ]
    .concat();
    let err = [
        err_after_verbose("(backfill) No log files were delivered by CloudTrail between 2015-08-17T17:01:31Z and 2015-08-17T18:01:31Z"),
        err_after_verbose("(backfill) No log files were delivered by CloudTrail between 2015-08-17T16:01:31Z and 2015-08-17T16:01:31Z"),
        err_after_err(&format!(
            "(backfill) {}",
            digest_invalid(
                BUCKET,
                &bf2,
                "No public keys found between 2015-08-18T05:00:00Z and 2015-08-18T07:00:00Z"
            )
        )),
        err_after_err(&format!(
            "(backfill) {}",
            digest_invalid(BUCKET, &bf1, "invalid format")
        )),
    ]
    .concat();
    fx.check(&req, &keys, &out, &err, Ok(1)).await;
}

#[tokio::test]
async fn the_chain_continues_into_the_trails_previous_bucket() {
    let specs = main_chain(|i| if i <= 3 { OLD_BUCKET } else { BUCKET });
    let fx = Fixture::new(Some("team"), None, &specs).await;
    assert!(
        fx.all_valid(1)
            .contains("s3://old-trail-logs/team/AWSLogs/")
    );
    fx.check_all_six_valid().await;
}

#[tokio::test]
async fn organization_trails_are_found_only_with_the_organization_id() {
    let specs: Vec<Spec> = main_chain(|_| BUCKET).into_iter().take(2).collect();
    let fx = Fixture::new(None, Some("o-exampleorgid"), &specs).await;
    assert!(
        fx.d(1)
            .key
            .starts_with("AWSLogs/o-exampleorgid/123456789012/")
    );
    let keys = fx.public_keys();
    let req = fx.request(t(14, 0, 0), t(16, 30, 0), true);
    let out = [
        head("2015-08-17T14:00:00Z", "2015-08-17T16:30:00Z"),
        fx.all_valid(2),
        fx.all_valid(1),
        "\nResults requested for 2015-08-17T14:00:00Z to 2015-08-17T16:30:00Z\n\
         Results found for 2015-08-17T14:01:31Z to 2015-08-17T16:01:31Z:\n\
         \n2/2 digest files valid\
         \n2/2 log files valid\n"
            .to_owned(),
    ]
    .concat();
    fx.check(&req, &keys, &out, "", Ok(0)).await;

    // As with `--s3-bucket`, where the CLI never learns the organization id.
    let mut req = req;
    req.org_id = None;
    fx.check(
        &req,
        &keys,
        &format!(
            "{}Results requested for 2015-08-17T14:00:00Z to 2015-08-17T16:30:00Z\n\
             No digests found\n",
            head("2015-08-17T14:00:00Z", "2015-08-17T16:30:00Z")
        ),
        "",
        Ok(0),
    )
    .await;
}

#[tokio::test]
async fn arguments_are_checked_before_anything_is_read() {
    assert_eq!(check_trail_arn(ARN), Ok(()));
    for bad in [
        "arn:aws:cloudtrail:us-east-1:12345678901:trail/x",
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/",
        "xarn:aws:cloudtrail:us-east-1:123456789012:trail/x",
        "arn::cloudtrail:us-east-1:123456789012:trail/x",
        "arn:aws:cloudtrail::123456789012:trail/x",
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/\nx",
        "arn:aws:cloudtrail:us-east-1:1234567890123:trail/x",
    ] {
        assert_eq!(
            check_trail_arn(bad),
            Err(format!("Invalid trail ARN provided: {bad}"))
        );
    }
    let arn = |home: &str, account: &str, name: &str| TrailArn {
        home_region: home.into(),
        account_id: account.into(),
        trail_name: name.into(),
    };
    assert_eq!(
        parse_trail_arn(ARN),
        Ok(arn("us-east-1", "123456789012", "audit"))
    );
    assert_eq!(
        parse_trail_arn("arn:aws-cn:cloudtrail:cn-north-1:123456789012:trail/a/b"),
        Ok(arn("cn-north-1", "123456789012", "b"))
    );
    // The pattern is only anchored at the start, and the fields are split blindly.
    assert_eq!(
        parse_trail_arn("arn:aws:cloudtrail:us-east-1:123456789012:trail/x and more"),
        Ok(arn("us-east-1", "123456789012", "x and more"))
    );
    assert_eq!(
        parse_trail_arn("arn:aws:cloudtrail:cloudtrail:us-east-1:123456789012:trail/x"),
        Ok(arn("cloudtrail", "us-east-1", "x"))
    );

    let range = "Invalid time range specified: start-time must occur before end-time";
    assert_eq!(
        check_time_range(t(15, 0, 0), t(14, 0, 0)),
        Err(range.into())
    );
    assert_eq!(check_time_range(t(14, 0, 0), t(14, 0, 0)), Ok(()));
    assert_eq!(
        parse_cli_time("2015-08-17T14:00:00+02:00"),
        Ok(t(14, 0, 0)),
        "the CLI replaces the zone"
    );
    assert_eq!(
        parse_cli_time("yesterday"),
        Err("Unable to parse date value: yesterday".into())
    );

    // validate_logs makes the same checks (time first, as the CLI does) and writes nothing.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(LocalStore::open(dir.path()).expect("store"));
    let keys = StaticKeys::default();
    let mut req = ValidateRequest {
        trail_arn: "arn:bad".into(),
        start: t(15, 0, 0),
        end: t(14, 0, 0),
        bucket: BUCKET.into(),
        prefix: None,
        account_id: String::new(),
        org_id: None,
        source_region: String::new(),
        verbose: true,
        check_unlisted: false,
    };
    for want in [range, "Invalid trail ARN provided: arn:bad"] {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let got = validate_logs(&req, &store, &keys, &mut out, &mut err).await;
        assert_eq!(got, Err(want.to_owned()));
        assert!(out.is_empty() && err.is_empty());
        req.end = t(16, 0, 0);
    }
}

#[tokio::test]
async fn static_keys_answer_like_list_public_keys() {
    let key = |from, to| PublicKey {
        fingerprint: format!("{from}-{to}"),
        der: Vec::new(),
        valid_from: from,
        valid_to: to,
    };
    let keys = StaticKeys(vec![key(0, 10), key(10, 20), key(30, 40)]);
    let listed = keys.list_public_keys(10, 25).await.expect("keys");
    let fps: Vec<&str> = listed.iter().map(|k| k.fingerprint.as_str()).collect();
    assert_eq!(fps, ["0-10", "10-20"]);
    assert!(
        keys.list_public_keys(21, 29)
            .await
            .expect("keys")
            .is_empty()
    );
}

#[test]
fn keys_are_read_as_python_rsa_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ks = KeyStore::open(dir.path(), None, RotationPolicy::default()).expect("keys");
    let der = ks.signing_key(SRC, 1).expect("key").public.der;
    assert_eq!(pkcs1_public_key(&der), Some(&der[..]));
    let mut trailing = der.clone();
    trailing.extend_from_slice(b"extra");
    assert_eq!(pkcs1_public_key(&trailing), Some(&der[..]));
    assert_eq!(pkcs1_public_key(&der[..der.len() - 1]), None);
    assert_eq!(pkcs1_public_key(b""), None);
    assert_eq!(unhexlify("0aFf"), Ok(vec![0x0a, 0xff]));
    assert_eq!(unhexlify("abc"), Err("Odd-length string".into()));
    assert_eq!(unhexlify("zz"), Err("Non-hexadecimal digit found".into()));
    assert_eq!(
        unhexlify("é1"),
        Err("string argument should contain only ASCII characters".into())
    );
}

/// A digest document with every member the CLI reads, for tests that then break it.
fn raw_doc(object: &str, start: &str, end: DateTime<Utc>, fingerprint: &str) -> Value {
    serde_json::json!({
        "awsAccountId": ACCOUNT,
        "digestStartTime": start,
        "digestEndTime": digest_time(end),
        "digestS3Bucket": BUCKET,
        "digestS3Object": object,
        "digestPublicKeyFingerprint": fingerprint,
        "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
        "previousDigestS3Bucket": null,
        "previousDigestS3Object": null,
        "previousDigestSignature": null,
        "logFiles": [],
    })
}

impl Fixture {
    /// Stores `doc` at `object`, signed over the CLI's string to sign by `key`.
    async fn put_signed(&self, object: &str, doc: &Value, key: &SigningKey) {
        let json = serde_json::to_vec(doc).expect("json");
        let to_sign = format!(
            "{}\n{BUCKET}/{object}\n{}\n{}",
            doc["digestEndTime"].as_str().expect("end time"),
            sha256_hex(&json),
            doc["previousDigestSignature"].as_str().unwrap_or("null")
        );
        let signature = hex::encode(key.sign(to_sign.as_bytes()).expect("sign"));
        self.put_with_signature(object, &json, &signature).await;
    }

    async fn put_with_signature(&self, object: &str, json: &[u8], signature: &str) {
        let mut meta = Metadata::new();
        meta.insert("signature".into(), signature.into());
        meta.insert("signature-algorithm".into(), SIGNATURE_ALGORITHM.into());
        self.put(BUCKET, object, gz(json), &meta).await;
    }
}

#[tokio::test]
async fn digests_with_unexpected_members_fail_as_the_cli_fails() {
    let fx = Fixture::new(Some("team"), None, &[]).await;
    let mut fx = fx;
    fx.bucket(BUCKET);
    let key = fx
        .keys
        .signing_key(SRC, t(15, 0, 0).timestamp())
        .expect("key");
    let fp = key.public.fingerprint.clone();
    let x = |h, m| fx.place().key(t(h, m, 31), false);
    let (x1, x2, x3, x4, x5, x6, x7) = (
        x(14, 31),
        x(14, 51),
        x(15, 11),
        x(15, 31),
        x(15, 51),
        x(16, 11),
        x(16, 31),
    );
    // Not an object.
    fx.put_with_signature(&x1, br#"["not","a","digest"]"#, "00")
        .await;
    // A required member missing.
    let mut d2 = raw_doc(&x2, "2015-08-17T14:31:31Z", t(14, 51, 31), &fp);
    d2.as_object_mut()
        .expect("object")
        .remove("digestStartTime");
    fx.put_signed(&x2, &d2, &key).await;
    // A fingerprint that is a list, then one that is a number.
    let mut d3 = raw_doc(&x3, "2015-08-17T14:51:31Z", t(15, 11, 31), &fp);
    d3["digestPublicKeyFingerprint"] = serde_json::json!(["a"]);
    fx.put_signed(&x3, &d3, &key).await;
    let mut d4 = raw_doc(&x4, "2015-08-17T15:11:31Z", t(15, 31, 31), &fp);
    d4["digestPublicKeyFingerprint"] = serde_json::json!(5);
    fx.put_signed(&x4, &d4, &key).await;
    // A signature of odd length.
    let d5 = raw_doc(&x5, "2015-08-17T15:31:31Z", t(15, 51, 31), &fp);
    fx.put_with_signature(&x5, &serde_json::to_vec(&d5).expect("json"), "abc")
        .await;
    // Valid, with a start time at +02:00: the walk replaces the zone, the summary
    // compares instants but prints the digest's own fields.
    let d6 = raw_doc(&x6, "2015-08-17T17:51:31+02:00", t(16, 11, 31), &fp);
    fx.put_signed(&x6, &d6, &key).await;
    // Valid, listing log files that are wrong in different ways.
    let good = fx.put_log(BUCKET, t(16, 20, 0), 1).await;
    let no_hash = fx.put_log(BUCKET, t(16, 21, 0), 2).await;
    let upper = fx.put_log(BUCKET, t(16, 22, 0), 3).await;
    let entry = |f: &DigestLogFile| serde_json::to_value(f).expect("entry");
    let mut missing_hash = entry(&no_hash);
    missing_hash
        .as_object_mut()
        .expect("object")
        .remove("hashValue");
    let mut numeric_key = entry(&good);
    numeric_key["s3Object"] = serde_json::json!(5);
    let mut upper_hash = entry(&upper);
    upper_hash["hashValue"] = Value::String(upper.hash_value.to_uppercase());
    let mut d7 = raw_doc(&x7, "2015-08-17T16:11:31Z", t(16, 31, 31), &fp);
    d7["logFiles"] = serde_json::json!([missing_hash, numeric_key, upper_hash, entry(&good)]);
    fx.put_signed(&x7, &d7, &key).await;

    let keys = fx.public_keys();
    let req = fx.request(t(14, 0, 0), t(17, 0, 0), true);
    let out = [
        head("2015-08-17T14:00:00Z", "2015-08-17T17:00:00Z"),
        digest_valid(BUCKET, &x7),
        log_valid(BUCKET, &good.s3_object),
        digest_valid(BUCKET, &x6),
        "Results requested for 2015-08-17T14:00:00Z to 2015-08-17T17:00:00Z\n\
         Results found for 2015-08-17T17:51:31Z to 2015-08-17T16:31:31Z:\n\
         \n2/7 digest files valid, 5/7 digest files INVALID\
         \n1/4 log files valid, 3/4 log files INVALID\n"
            .to_owned(),
    ]
    .concat();
    let err = [
        err_after_verbose(&log_invalid(BUCKET, &no_hash.s3_object, "invalid format")),
        err_after_err(&log_invalid(BUCKET, "5", "invalid format")),
        err_after_err(&log_invalid(
            BUCKET,
            &upper.s3_object,
            "hash value doesn't match",
        )),
        err_after_verbose("No log files were delivered by CloudTrail between 2015-08-17T16:11:31Z and 2015-08-17T16:11:31Z"),
        err_after_verbose("No log files were delivered by CloudTrail between 2015-08-17T15:51:31Z and 2015-08-17T17:51:31Z"),
        err_after_err(&digest_invalid(BUCKET, &x5, "Odd-length string")),
        err_after_err(&digest_invalid(
            BUCKET,
            &x4,
            "public key not found in region us-east-1 for fingerprint 5",
        )),
        err_after_err(&digest_invalid(BUCKET, &x3, "unhashable type: 'list'")),
        err_after_err(&digest_invalid(BUCKET, &x2, "invalid format")),
        err_after_err(&digest_invalid(
            BUCKET,
            &x1,
            "list indices must be integers or slices, not str",
        )),
    ]
    .concat();
    fx.check(&req, &keys, &out, &err, Ok(1)).await;
}

#[tokio::test]
async fn exceptions_the_cli_does_not_catch_end_the_run() {
    // A naive start time cannot be compared with the requested (aware) start.
    let mut fx = Fixture::new(Some("team"), None, &[]).await;
    fx.bucket(BUCKET);
    let key = fx
        .keys
        .signing_key(SRC, t(15, 0, 0).timestamp())
        .expect("key");
    let fp = key.public.fingerprint.clone();
    let x = fx.place().key(t(15, 31, 31), false);
    fx.put_signed(
        &x,
        &raw_doc(&x, "2015-08-17T15:11:31", t(15, 31, 31), &fp),
        &key,
    )
    .await;
    let keys = fx.public_keys();
    let req = fx.request(t(14, 0, 0), t(17, 0, 0), true);
    let head = head("2015-08-17T14:00:00Z", "2015-08-17T17:00:00Z");
    fx.check(
        &req,
        &keys,
        &head,
        "",
        Err("can't compare offset-naive and offset-aware datetimes"),
    )
    .await;

    // No `logFiles` member: counted and printed as valid, then KeyError.
    let mut doc = raw_doc(&x, "2015-08-17T15:11:31Z", t(15, 31, 31), &fp);
    doc.as_object_mut().expect("object").remove("logFiles");
    fx.put_signed(&x, &doc, &key).await;
    fx.check(
        &req,
        &keys,
        &format!("{head}{}", digest_valid(BUCKET, &x)),
        "",
        Err("'logFiles'"),
    )
    .await;

    // The previous digest is gone and its name holds no date: the date is read while
    // handling NoSuchKey, so the ValueError escapes before anything is reported.
    let older = fx.place().key(t(15, 11, 31), false);
    fx.put_signed(
        &older,
        &raw_doc(&older, "2015-08-17T14:51:31Z", t(15, 11, 31), &fp),
        &key,
    )
    .await;
    let gone = format!(
        "team/AWSLogs/{ACCOUNT}/CloudTrail-Digest/{SRC}/2015/08/17/ThisIsNotADate!!.json.gz"
    );
    let mut doc = raw_doc(&x, "2015-08-17T15:11:31Z", t(15, 31, 31), &fp);
    doc["previousDigestS3Bucket"] = BUCKET.into();
    doc["previousDigestS3Object"] = gone.into();
    fx.put_signed(&x, &doc, &key).await;
    fx.check(
        &req,
        &keys,
        &format!("{head}{}", digest_valid(BUCKET, &x)),
        "",
        Err("Unable to parse date value: ThisIsNotADate!!"),
    )
    .await;
}
