//! Server configuration: one TOML file, overridden by environment variables, overridden by
//! command-line flags (the `cli` crate applies the last two through [`Overrides`]).
//!
//! Every default works on the embedded default: one process, everything under
//! `./opentrail-data`, listening on loopback.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use opentrail_journal::{JournalConfig, SyncMode};
use serde::{Deserialize, Serialize};

use crate::ServerError;

/// The whole server configuration (`opentrail.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// Directory holding the journal, credentials and every later store.
    pub data_dir: PathBuf,
    /// The AWS account this server is (12 digits).
    pub account_id: String,
    /// Region used when a request does not say one (demo activity, native ingest defaults).
    pub region: String,
    /// IAM users besides the root credentials.
    pub principals: Vec<PrincipalConfig>,
    /// Peers whose `X-Forwarded-For` header is believed (CIDRs, e.g. `10.0.0.0/8`).
    pub trusted_proxies: Vec<IpNet>,
    /// Request authentication.
    pub auth: AuthConfig,
    /// The event journal.
    pub journal: JournalSettings,
    /// The native ingest endpoint.
    pub ingest: IngestConfig,
    /// The built-in demo activity.
    pub demo: DemoConfig,
    /// Event history (LookupEvents).
    pub history: HistorySettings,
    /// Where log files go.
    pub storage: StorageSettings,
    /// Trail delivery.
    pub trails: TrailSettings,
    /// Digest files and their signing keys.
    pub integrity: IntegritySettings,
    /// CloudTrail Lake: event data store tables and queries.
    pub lake: LakeSettings,
    /// Notification topics trails can name in `SnsTopicName`.
    pub sns_topics: Vec<opentrail_trails::SnsTopic>,
    /// The organization this account manages, for organization trails.
    pub organization: Option<opentrail_trails::Organization>,
}

/// Where trails deliver.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// `embedded` (buckets under `<data-dir>/buckets`, served over the S3 API on the same
    /// listener) or `s3` (an S3-compatible service, see `[storage.s3]`).
    pub kind: StorageKind,
    /// Create a trail's bucket on the embedded store when it does not exist (demo use).
    pub auto_create_buckets: bool,
    /// The S3-compatible service when `kind = "s3"`.
    pub s3: Option<opentrail_store::S3Settings>,
}

/// Storage kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// Buckets in the data directory.
    #[default]
    Embedded,
    /// An S3-compatible service.
    S3,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            kind: StorageKind::Embedded,
            auto_create_buckets: false,
            s3: None,
        }
    }
}

/// Trail delivery settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrailSettings {
    /// Deliver a log file at most this many seconds after the first event it holds (AWS:
    /// about 5 minutes). 1 to 3600.
    pub flush_interval_secs: u64,
    /// Deliver once a region's batch holds this many events.
    pub max_events_per_file: usize,
}

impl Default for TrailSettings {
    fn default() -> Self {
        TrailSettings {
            flush_interval_secs: 60,
            max_events_per_file: 50_000,
        }
    }
}

/// Log file integrity validation settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegritySettings {
    /// Seconds between digest files of a trail with validation on (AWS: 3600). Lower it to
    /// see digests sooner; 1 to 86400.
    pub digest_interval_secs: u64,
    /// Seconds a signing key is valid (AWS: 30 days).
    pub key_validity_secs: u64,
    /// Seconds after which a new signing key is made (AWS: about 20 days); less than
    /// `key_validity_secs`, so validity windows overlap.
    pub key_rotation_secs: u64,
    /// File holding the master key (32 bytes as 64 hex digits or base64) that wraps signing
    /// keys at rest. `OPENTRAIL_MASTER_KEY` holds the key itself and wins over the file.
    /// Without either, keys are kept in files only the server's user can read.
    pub master_key_file: Option<PathBuf>,
}

impl Default for IntegritySettings {
    fn default() -> Self {
        IntegritySettings {
            digest_interval_secs: 3600,
            key_validity_secs: 30 * 86_400,
            key_rotation_secs: 20 * 86_400,
            master_key_file: None,
        }
    }
}

/// CloudTrail Lake settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LakeSettings {
    /// Milliseconds within which a matching event is committed to its store's table (10 to
    /// 60000); each commit is a Parquet file, so longer means fewer, larger files.
    pub flush_interval_ms: u64,
    /// Seconds a query may run before it ends as TIMED_OUT (AWS: about an hour).
    pub query_timeout_secs: u64,
    /// Seconds between passes that delete events older than each store's retention period.
    pub retention_check_secs: u64,
    /// Seconds between passes that compact each store's small files.
    pub compaction_check_secs: u64,
}

impl Default for LakeSettings {
    fn default() -> Self {
        LakeSettings {
            flush_interval_ms: 1000,
            query_timeout_secs: 3600,
            retention_check_secs: 3600,
            compaction_check_secs: 600,
        }
    }
}

/// Event history settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistorySettings {
    /// Days of events kept and returned (AWS: 90).
    pub retention_days: u32,
    /// Also index data events (AWS event history holds management events only).
    pub include_data_events: bool,
    /// LookupEvents calls allowed per second per account and region, answering
    /// `ThrottlingException` beyond it (AWS: 2). Off when absent, for speed; set it to test
    /// retry logic.
    pub lookup_rate_limit: Option<f64>,
    /// Flush the in-memory index to a segment at this many events.
    pub memtable_max_events: usize,
}

impl Default for HistorySettings {
    fn default() -> Self {
        HistorySettings {
            retention_days: 90,
            include_data_events: false,
            lookup_rate_limit: None,
            memtable_max_events: 200_000,
        }
    }
}

/// An IAM user that may call the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalConfig {
    /// IAM user name (recorded as `userIdentity.userName`).
    pub user_name: String,
    /// Access key id (20 characters, `AKIA...` by convention).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Owning account; defaults to the server's account.
    #[serde(default)]
    pub account_id: Option<String>,
}

/// Request authentication settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Accept requests signed with any access key, as AWS emulators do, for local SDK tests.
    /// Signatures of known keys are still verified; unknown keys are recorded as presented.
    /// Off by default, and warned about at every start.
    pub accept_any_access_key: bool,
    /// Largest difference between a request's `X-Amz-Date` and the server clock.
    pub max_clock_skew_secs: u64,
}

/// Journal settings (see the journal crate for their meaning).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JournalSettings {
    /// `always` (fsync before answering) or `periodic`.
    pub sync: SyncSetting,
    /// Interval of periodic syncs, in milliseconds.
    pub sync_interval_ms: u64,
    /// Segment file size, in MiB.
    pub segment_mib: u64,
    /// Refuse ingest with `ThrottlingException` while a consumer is this many events behind.
    pub max_consumer_lag: Option<u64>,
    /// Keep journal segments at least this many hours after every consumer has read them.
    pub min_retention_hours: u64,
}

/// When journal appends become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncSetting {
    /// fsync before the API answers (group commit).
    Always,
    /// fsync every `sync_interval_ms`.
    Periodic,
}

/// Native ingest settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest request body accepted (after any gzip decoding), in bytes.
    pub max_body_bytes: usize,
    /// Most records accepted in one request.
    pub max_records: usize,
}

/// The demo workload run by `serve --demo`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Run it.
    pub enabled: bool,
    /// Mean events per day of the simulated account.
    pub events_per_day: f64,
    /// Hours of history generated at the first start.
    pub backfill_hours: u64,
    /// Seed of the generator.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 4599)),
            data_dir: PathBuf::from("opentrail-data"),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            principals: Vec::new(),
            trusted_proxies: Vec::new(),
            auth: AuthConfig::default(),
            journal: JournalSettings::default(),
            ingest: IngestConfig::default(),
            demo: DemoConfig::default(),
            history: HistorySettings::default(),
            storage: StorageSettings::default(),
            trails: TrailSettings::default(),
            integrity: IntegritySettings::default(),
            lake: LakeSettings::default(),
            sns_topics: Vec::new(),
            organization: None,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            accept_any_access_key: false,
            max_clock_skew_secs: 15 * 60,
        }
    }
}

impl Default for JournalSettings {
    fn default() -> Self {
        JournalSettings {
            sync: SyncSetting::Always,
            sync_interval_ms: 100,
            segment_mib: 128,
            max_consumer_lag: None,
            min_retention_hours: 168,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_body_bytes: 32 * 1024 * 1024,
            max_records: 10_000,
        }
    }
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            enabled: false,
            events_per_day: 200_000.0,
            backfill_hours: 24,
            seed: 7,
        }
    }
}

/// Settings given on the command line or in the environment; `None` leaves the file's value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `OPENTRAIL_LISTEN`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir` / `OPENTRAIL_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--account-id` / `OPENTRAIL_ACCOUNT_ID`.
    pub account_id: Option<String>,
    /// `--region` / `OPENTRAIL_REGION`.
    pub region: Option<String>,
    /// `--accept-any-access-key` / `OPENTRAIL_ACCEPT_ANY_ACCESS_KEY`.
    pub accept_any_access_key: Option<bool>,
    /// `--demo`.
    pub demo: Option<bool>,
    /// `--journal-sync` / `OPENTRAIL_JOURNAL_SYNC`.
    pub journal_sync: Option<SyncSetting>,
}

impl Config {
    /// Reads a TOML file; a missing file is an error naming it.
    pub fn from_file(path: &Path) -> Result<Config, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServerError::Config {
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        Config::from_toml(&text).map_err(|e| ServerError::Config {
            message: format!("{}: {e}", path.display()),
        })
    }

    /// Parses TOML text (unknown keys are errors, so typos do not pass silently).
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies environment and command-line values over the file's.
    pub fn apply(&mut self, o: Overrides) {
        if let Some(v) = o.listen {
            self.listen = v;
        }
        if let Some(v) = o.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = o.account_id {
            self.account_id = v;
        }
        if let Some(v) = o.region {
            self.region = v;
        }
        if let Some(v) = o.accept_any_access_key {
            self.auth.accept_any_access_key = v;
        }
        if let Some(v) = o.demo {
            self.demo.enabled = v;
        }
        if let Some(v) = o.journal_sync {
            self.journal.sync = v;
        }
    }

    /// Checks values serde cannot: account id shape, principals, limits.
    pub fn validate(&self) -> Result<(), ServerError> {
        let bad = |m: String| Err(ServerError::Config { message: m });
        let account_ok = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
        if !account_ok(&self.account_id) {
            return bad(format!(
                "account_id {:?} must be 12 digits",
                self.account_id
            ));
        }
        if self.region.is_empty()
            || !self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return bad(format!("region {:?} must look like us-east-1", self.region));
        }
        let mut keys = std::collections::HashSet::new();
        for p in &self.principals {
            if p.access_key_id.len() < 16 || p.secret_access_key.len() < 16 {
                return bad(format!(
                    "principal {:?}: access_key_id and secret_access_key must be at least 16 characters",
                    p.user_name
                ));
            }
            if let Some(a) = &p.account_id
                && !account_ok(a)
            {
                return bad(format!(
                    "principal {:?}: account_id must be 12 digits",
                    p.user_name
                ));
            }
            if !keys.insert(p.access_key_id.as_str()) {
                return bad(format!(
                    "access key {} is configured twice",
                    p.access_key_id
                ));
            }
        }
        if self.ingest.max_records == 0 || self.ingest.max_body_bytes < 1024 {
            return bad("ingest.max_records must be > 0 and ingest.max_body_bytes >= 1024".into());
        }
        if self.history.retention_days == 0 || self.history.memtable_max_events == 0 {
            return bad(
                "history.retention_days and history.memtable_max_events must be > 0".into(),
            );
        }
        if self
            .history
            .lookup_rate_limit
            .is_some_and(|r| !(r.is_finite() && r > 0.0))
        {
            return bad(
                "history.lookup_rate_limit must be a positive number of calls per second".into(),
            );
        }
        if !(1..=3600).contains(&self.trails.flush_interval_secs)
            || self.trails.max_events_per_file == 0
        {
            return bad(
                "trails.flush_interval_secs must be 1 to 3600 and trails.max_events_per_file > 0"
                    .into(),
            );
        }
        let i = &self.integrity;
        if !(1..=86_400).contains(&i.digest_interval_secs)
            || i.key_rotation_secs == 0
            || i.key_rotation_secs >= i.key_validity_secs
        {
            return bad("integrity.digest_interval_secs must be 1 to 86400, and integrity.key_rotation_secs more than 0 and less than integrity.key_validity_secs".into());
        }
        if !(10..=60_000).contains(&self.lake.flush_interval_ms)
            || self.lake.query_timeout_secs == 0
            || self.lake.retention_check_secs == 0
            || self.lake.compaction_check_secs == 0
        {
            return bad("lake.flush_interval_ms must be 10 to 60000, and lake.query_timeout_secs, lake.retention_check_secs and lake.compaction_check_secs more than 0".into());
        }
        if self.storage.kind == StorageKind::S3 && self.storage.s3.is_none() {
            return bad("storage.kind = \"s3\" needs a [storage.s3] section with endpoint, region, access_key_id and secret_access_key".into());
        }
        if let Some(o) = &self.organization {
            let id_ok = o.id.len() >= 12
                && o.id.starts_with("o-")
                && o.id[2..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !id_ok || !account_ok(&o.management_account) {
                return bad("organization.id must look like o-abcdefghij and management_account must be 12 digits".into());
            }
        }
        if self.journal.segment_mib == 0 {
            return bad("journal.segment_mib must be > 0".into());
        }
        Ok(())
    }

    /// The history store's own configuration.
    pub fn history_config(&self) -> opentrail_history::HistoryConfig {
        opentrail_history::HistoryConfig {
            retention_days: self.history.retention_days,
            include_data_events: self.history.include_data_events,
            default_account: self.account_id.clone(),
            memtable_max_events: self.history.memtable_max_events,
            ..opentrail_history::HistoryConfig::default()
        }
    }

    /// How trails batch deliveries.
    pub fn delivery_settings(&self) -> opentrail_trails::DeliverySettings {
        opentrail_trails::DeliverySettings {
            flush_interval: Duration::from_secs(self.trails.flush_interval_secs),
            max_events: self.trails.max_events_per_file,
            digest_interval: Duration::from_secs(self.integrity.digest_interval_secs),
            ..opentrail_trails::DeliverySettings::default()
        }
    }

    /// The journal's own configuration.
    pub fn journal_config(&self) -> JournalConfig {
        JournalConfig {
            segment_bytes: self.journal.segment_mib * 1024 * 1024,
            sync: match self.journal.sync {
                SyncSetting::Always => SyncMode::Always,
                SyncSetting::Periodic => {
                    SyncMode::Periodic(Duration::from_millis(self.journal.sync_interval_ms.max(1)))
                }
            },
            max_consumer_lag: self.journal.max_consumer_lag,
            min_retention: Duration::from_secs(self.journal.min_retention_hours * 3600),
            ..JournalConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_default() {
        let c = Config::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:4599");
        assert_eq!(c.data_dir, PathBuf::from("opentrail-data"));
        assert_eq!(c.account_id, "123456789012");
        c.validate().expect("defaults are valid");
    }

    #[test]
    fn toml_then_overrides_in_order_of_precedence() {
        let mut c = Config::from_toml(
            r#"
            listen = "0.0.0.0:9000"
            account_id = "111122223333"
            trusted_proxies = ["10.0.0.0/8"]
            [[principals]]
            user_name = "alice"
            access_key_id = "AKIAALICEEXAMPLE0001"
            secret_access_key = "alice-secret-000000000000"
            [journal]
            sync = "periodic"
            "#,
        )
        .expect("parses");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.principals[0].user_name, "alice");
        assert_eq!(c.journal.sync, SyncSetting::Periodic);
        c.apply(Overrides {
            account_id: Some("444455556666".into()),
            ..Overrides::default()
        });
        assert_eq!(c.account_id, "444455556666");
        assert_eq!(c.listen.port(), 9000, "a value not overridden stays");
        c.validate().expect("valid");
    }

    #[test]
    fn bad_configuration_is_refused_with_a_reason() {
        assert!(Config::from_toml("listen = 5").is_err());
        let err = Config::from_toml("lisen = \"127.0.0.1:1\"").expect_err("typo");
        assert!(err.contains("lisen"), "{err}");
        let c = Config {
            account_id: "12".into(),
            ..Config::default()
        };
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.principals.push(PrincipalConfig {
            user_name: "x".into(),
            access_key_id: "short".into(),
            secret_access_key: "s".into(),
            account_id: None,
        });
        assert!(c.validate().is_err());
    }
}
