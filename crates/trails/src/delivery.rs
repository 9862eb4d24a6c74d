//! Delivery: one task per trail follows the journal and writes what the trail selects as log
//! files, exactly once across crashes.
//!
//! The task's position, its logging state and any delivery in progress (an *intent*: the
//! journal range, the time and the object keys of the files) are kept in
//! `trails/<trail id>.json`, replaced atomically. A delivery first records its intent, then
//! writes the files, then advances the position. After a crash, a recorded intent is redone:
//! the same journal range is read again and the same files are written under the same keys,
//! so each selected event ends up in exactly one file. Objects are written whole, so a
//! partly written file is never visible. When the store is unreachable the task retries with
//! backoff, shows the error in GetTrailStatus, and loses nothing: the journal keeps the events
//! until the task's checkpoint passes them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentrail_catalog::Catalog;
use opentrail_integrity::{DigestLogFile, KeyStore};
use opentrail_journal::{Entry, Journal};
use opentrail_model::selectors::EventFacts;
use opentrail_store::{Metadata, ObjectStorage};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::TrailError;
use crate::config::{DeliverySettings, Organization, TrailConfig, TrailStatus};
use crate::digests::{self, DigestState};
use crate::logfile::{LogFile, build_log_file_with, log_key, unique_suffix};
use crate::notify::Notifier;

const READ_BATCH: usize = 2048;
/// How often an idle task records that it has passed events it did not select.
const IDLE_CHECKPOINT: Duration = Duration::from_secs(5);

/// Global services log in us-east-1 and reach trails that include global service events.
const GLOBAL_SOURCES: [&str; 7] = [
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "signin.amazonaws.com",
    "cloudfront.amazonaws.com",
    "route53.amazonaws.com",
    "organizations.amazonaws.com",
    "waf.amazonaws.com",
];

/// A delivery being made: recorded before its files are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Intent {
    from: u64,
    to: u64,
    delivered_at: i64,
    files: Vec<IntentFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct IntentFile {
    /// Empty in intents written before organization trails split files by account.
    #[serde(default)]
    account: String,
    region: String,
    key: String,
}

/// What a trail task keeps between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DeliveryState {
    /// Every journal entry up to here is delivered or was not selected.
    lsn: u64,
    /// Whether the trail was logging as of `lsn`.
    pub(crate) logging: bool,
    pending: Option<Intent>,
    status: TrailStatus,
    /// Digest chains (log file validation).
    #[serde(default)]
    pub(crate) digests: DigestState,
}

fn state_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.json"))
}

fn load_state(dir: &Path, id: &str) -> Result<Option<DeliveryState>, TrailError> {
    let path = state_path(dir, id);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| TrailError::State {
                path: path.display().to_string(),
                source: std::io::Error::other(e),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TrailError::State {
            path: path.display().to_string(),
            source: e,
        }),
    }
}

pub(crate) fn save_state(dir: &Path, id: &str, st: &DeliveryState) -> Result<(), TrailError> {
    use std::io::Write;
    let path = state_path(dir, id);
    let tmp = dir.join(format!("{id}.json.tmp"));
    let err = |e| TrailError::State {
        path: path.display().to_string(),
        source: e,
    };
    let body = serde_json::to_vec(st).map_err(|e| err(std::io::Error::other(e)))?;
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(&body).and_then(|_| f.sync_all()).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err)
}

/// The account and region a log file is for: files never mix them (an organization trail
/// writes each member account's events under that account).
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileGroup {
    account: String,
    region: String,
}

/// The records of one future log file, with the span of their event times.
struct GroupBatch {
    group: FileGroup,
    records: Vec<Vec<u8>>,
    oldest: String,
    newest: String,
}

/// Events selected since the last delivery, per account and region.
#[derive(Default)]
struct Batch {
    groups: Vec<GroupBatch>,
    bytes: usize,
    events: usize,
    started: Option<Instant>,
    /// Last journal entry looked at.
    last_lsn: u64,
    /// Logging state after `last_lsn`.
    logging: bool,
    /// A StopLogging or DeleteTrail was seen: deliver now.
    stop_seen: bool,
}

enum Control {
    Start,
    Stop,
}

impl Batch {
    fn new(lsn: u64, logging: bool) -> Batch {
        Batch {
            last_lsn: lsn,
            logging,
            ..Batch::default()
        }
    }

    /// Looks at one journal entry: the trail's own logging calls, then selection.
    fn apply(&mut self, cfg: &TrailConfig, org: Option<&Organization>, e: Entry) {
        self.last_lsn = e.lsn;
        let (slot, control) = {
            let Some(v) = EventFacts::parse(&e.data) else {
                return;
            };
            let time = v.event_time.as_deref().unwrap_or_default();
            let control = control_of(cfg, &v);
            if matches!(control, Some(Control::Start)) {
                self.logging = true;
            }
            let slot =
                (self.logging && in_scope(cfg, org, &v) && cfg.selectors.matches(&v)).then(|| {
                    let region = v.aws_region.as_deref().unwrap_or("unknown");
                    // in_scope admitted only the trail's account or, for organization
                    // trails, a member account.
                    let account = v
                        .recipient_account_id
                        .as_deref()
                        .filter(|_| cfg.is_organization)
                        .unwrap_or(cfg.account.as_str());
                    let i = match self
                        .groups
                        .iter()
                        .position(|g| g.group.region == region && g.group.account == account)
                    {
                        Some(i) => i,
                        None => {
                            self.groups.push(GroupBatch {
                                group: FileGroup {
                                    account: account.to_owned(),
                                    region: region.to_owned(),
                                },
                                records: Vec::new(),
                                oldest: time.to_owned(),
                                newest: time.to_owned(),
                            });
                            self.groups.len() - 1
                        }
                    };
                    let g = &mut self.groups[i];
                    if time < g.oldest.as_str() {
                        g.oldest = time.to_owned();
                    }
                    if time > g.newest.as_str() {
                        g.newest = time.to_owned();
                    }
                    i
                });
            (slot, control)
        };
        if let Some(i) = slot {
            self.bytes += e.data.len();
            self.events += 1;
            self.started.get_or_insert_with(Instant::now);
            // The record moves into the batch: no copy per event.
            self.groups[i].records.push(e.data);
        }
        if matches!(control, Some(Control::Stop)) {
            self.logging = false;
            self.stop_seen = true;
        }
    }

    /// Full by count or size: no further event may join, or files outgrow their limits.
    fn full(&self, s: &DeliverySettings) -> bool {
        self.events >= s.max_events || self.bytes >= s.max_bytes
    }

    fn due(&self, s: &DeliverySettings) -> bool {
        self.stop_seen
            || self.full(s)
            || self
                .started
                .is_some_and(|t| t.elapsed() >= s.flush_interval)
    }

    fn until_due(&self, s: &DeliverySettings) -> Duration {
        match self.started {
            Some(t) => s.flush_interval.saturating_sub(t.elapsed()),
            None => Duration::from_secs(1),
        }
    }
}

/// A successful StartLogging/StopLogging/DeleteTrail call on this trail.
fn control_of(cfg: &TrailConfig, v: &EventFacts<'_>) -> Option<Control> {
    if v.event_source.as_deref() != Some("cloudtrail.amazonaws.com")
        || v.error_code.is_some()
        || v.aws_region.as_deref() != Some(cfg.home_region.as_str())
        || v.recipient_account_id.as_deref() != Some(cfg.account.as_str())
    {
        return None;
    }
    let name = v
        .request_parameters
        .as_ref()
        .and_then(|p| p.name.as_deref())?;
    if name != cfg.name && name != cfg.arn {
        return None;
    }
    match v.event_name.as_deref()? {
        "StartLogging" => Some(Control::Start),
        "StopLogging" | "DeleteTrail" => Some(Control::Stop),
        _ => None,
    }
}

fn in_scope(cfg: &TrailConfig, org: Option<&Organization>, v: &EventFacts<'_>) -> bool {
    let account = v
        .recipient_account_id
        .as_deref()
        .unwrap_or(cfg.account.as_str());
    let account_ok = account == cfg.account
        || (cfg.is_organization
            && org.is_some_and(|o| o.member_accounts.iter().any(|m| m == account)));
    if !account_ok {
        return false;
    }
    let region = v.aws_region.as_deref().unwrap_or_default();
    let global = region == "us-east-1"
        && v.event_source
            .as_deref()
            .is_some_and(|s| GLOBAL_SOURCES.contains(&s));
    if global && !cfg.include_global_service_events {
        return false;
    }
    cfg.is_multi_region || region == cfg.home_region || global
}

struct TaskHandle {
    config: watch::Sender<Option<TrailConfig>>,
    status: Arc<Mutex<TrailStatus>>,
    join: JoinHandle<()>,
}

pub(crate) struct Inner {
    journal: Journal,
    storage: Arc<dyn ObjectStorage>,
    pub(crate) state_dir: PathBuf,
    pub(crate) settings: DeliverySettings,
    notifier: Notifier,
    pub(crate) organization: Option<Organization>,
    pub(crate) keys: Arc<KeyStore>,
    stop: watch::Sender<bool>,
}

/// Runs and tracks the delivery tasks of all trails.
pub struct Delivery {
    inner: Arc<Inner>,
    tasks: Mutex<HashMap<String, TaskHandle>>,
}

impl Delivery {
    /// Delivery writing to `storage`, keeping state under `state_dir`.
    pub fn new(
        journal: Journal,
        storage: Arc<dyn ObjectStorage>,
        state_dir: PathBuf,
        settings: DeliverySettings,
        notifier: Notifier,
        organization: Option<Organization>,
        keys: Arc<KeyStore>,
    ) -> Result<Delivery, TrailError> {
        std::fs::create_dir_all(&state_dir).map_err(|e| TrailError::State {
            path: state_dir.display().to_string(),
            source: e,
        })?;
        let (stop, _) = watch::channel(false);
        Ok(Delivery {
            inner: Arc::new(Inner {
                journal,
                storage,
                state_dir,
                settings,
                notifier,
                organization,
                keys,
                stop,
            }),
            tasks: Mutex::new(HashMap::new()),
        })
    }

    /// The notifier (the API checks topic names against it).
    pub fn notifier(&self) -> &Notifier {
        &self.inner.notifier
    }

    /// The storage log files go to.
    pub fn storage(&self) -> &Arc<dyn ObjectStorage> {
        &self.inner.storage
    }

    /// Starts the tasks of every trail in the catalog.
    pub fn start_all(&self, catalog: &Catalog) -> Result<(), TrailError> {
        let trails: Vec<TrailConfig> = catalog.read(|tx| tx.list_all("trail"))?;
        for t in trails {
            self.upsert(t);
        }
        Ok(())
    }

    /// Starts the task of a new trail, or hands a running task its new configuration.
    pub fn upsert(&self, cfg: TrailConfig) {
        let Ok(mut tasks) = self.tasks.lock() else {
            return;
        };
        if let Some(t) = tasks.get(&cfg.arn)
            && !t.join.is_finished()
        {
            let _ = t.config.send(Some(cfg));
            return;
        }
        let arn = cfg.arn.clone();
        let status = Arc::new(Mutex::new(
            load_state(&self.inner.state_dir, &cfg.id)
                .ok()
                .flatten()
                .map(|s| s.status)
                .unwrap_or_default(),
        ));
        let (tx, rx) = watch::channel(Some(cfg));
        let join = tokio::spawn(run(self.inner.clone(), rx, status.clone()));
        tasks.insert(
            arn,
            TaskHandle {
                config: tx,
                status,
                join,
            },
        );
    }

    /// Stops a deleted trail's task after it delivers what it holds, and forgets its state.
    pub async fn remove(&self, cfg: &TrailConfig) {
        let handle = self.tasks.lock().ok().and_then(|mut t| t.remove(&cfg.arn));
        if let Some(h) = handle {
            let _ = h.config.send(None);
            let _ = h.join.await;
        }
        let _ = std::fs::remove_file(state_path(&self.inner.state_dir, &cfg.id));
        let _ = self.inner.journal.remove_checkpoint(&consumer(&cfg.id));
    }

    /// The trail's delivery status.
    pub fn status(&self, arn: &str) -> TrailStatus {
        self.tasks
            .lock()
            .ok()
            .and_then(|t| {
                t.get(arn)
                    .and_then(|h| h.status.lock().ok().map(|s| s.clone()))
            })
            .unwrap_or_default()
    }

    /// Stops every task; each delivers what it holds first.
    pub async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        let handles: Vec<TaskHandle> = self
            .tasks
            .lock()
            .map(|mut t| t.drain().map(|(_, h)| h).collect())
            .unwrap_or_default();
        for h in handles {
            let _ = h.join.await;
        }
    }
}

fn consumer(id: &str) -> String {
    format!("trail-{id}")
}

async fn run(
    inner: Arc<Inner>,
    mut cfg_rx: watch::Receiver<Option<TrailConfig>>,
    status: Arc<Mutex<TrailStatus>>,
) {
    let Some(mut cfg) = cfg_rx.borrow_and_update().clone() else {
        return;
    };
    let mut stop = inner.stop.subscribe();
    let mut st = match load_state(&inner.state_dir, &cfg.id) {
        Ok(Some(s)) => s,
        Ok(None) => DeliveryState {
            lsn: cfg.created_lsn,
            ..DeliveryState::default()
        },
        Err(e) => {
            tracing::error!(trail = %cfg.arn, error = %e, "trail delivery state unreadable; delivery stopped");
            return;
        }
    };
    if let Err(e) = inner.journal.save_checkpoint(&consumer(&cfg.id), st.lsn) {
        tracing::warn!(trail = %cfg.arn, error = %e, "could not register the trail's journal checkpoint");
    }
    if let Some(intent) = st.pending.clone() {
        tracing::info!(trail = %cfg.arn, from = intent.from, to = intent.to, "redoing a delivery interrupted by a crash");
        let mut batch = Batch::new(st.lsn, st.logging);
        let mut reader = inner.journal.reader(intent.from);
        'redo: while batch.last_lsn < intent.to {
            match reader.read_batch(READ_BATCH) {
                Ok(entries) if !entries.is_empty() => {
                    for e in entries.into_iter().filter(|e| e.lsn <= intent.to) {
                        batch.apply(&cfg, inner.organization.as_ref(), e);
                    }
                }
                Ok(_) => break 'redo,
                Err(e) => {
                    tracing::error!(trail = %cfg.arn, error = %e, "cannot reread the journal to redo a delivery");
                    return;
                }
            }
        }
        let prepared = prepare_async(&inner, batch).await;
        if !finish(
            &inner,
            &cfg,
            &mut st,
            &status,
            prepared,
            Some(intent),
            &mut stop,
        )
        .await
        {
            return;
        }
    }
    let mut batch = Batch::new(st.lsn, st.logging);
    let mut reader = inner.journal.reader(st.lsn + 1);
    let mut last_idle_save = Instant::now();
    // At most one delivery is being prepared (compressed) while the next batch is read.
    let mut inflight: Option<JoinHandle<Prepared>> = None;
    macro_rules! commit_inflight {
        () => {
            if let Some(h) = inflight.take() {
                let Ok(p) = h.await else { return };
                if !finish(&inner, &cfg, &mut st, &status, p, None, &mut stop).await {
                    return;
                }
            }
        };
    }
    macro_rules! deliver_now {
        () => {{
            commit_inflight!();
            let (lsn, logging) = (batch.last_lsn, batch.logging);
            let p = prepare_async(&inner, std::mem::take(&mut batch)).await;
            if !finish(&inner, &cfg, &mut st, &status, p, None, &mut stop).await {
                return;
            }
            batch = Batch::new(lsn, logging);
        }};
    }
    macro_rules! deliver_last {
        ($deleted:expr) => {{
            commit_inflight!();
            let p = prepare_async(&inner, std::mem::take(&mut batch)).await;
            if finish(&inner, &cfg, &mut st, &status, p, None, &mut stop).await && $deleted {
                // A deleted trail's chains end with a final digest; a shutdown keeps them
                // open for the next start.
                digests::write_due(&inner, &cfg, &mut st, &status, &mut stop, true).await;
            }
            return;
        }};
    }
    loop {
        if *stop.borrow() {
            deliver_last!(false);
        }
        // `changed()` in the wait below marks a new value as seen, so the current value is
        // read every time round rather than only when `has_changed` says so.
        let next = cfg_rx.borrow_and_update().clone();
        match next {
            Some(c) => cfg = c,
            None => deliver_last!(true),
        }
        if !digests::write_due(&inner, &cfg, &mut st, &status, &mut stop, false).await {
            return;
        }
        if inflight.as_ref().is_some_and(JoinHandle::is_finished) {
            commit_inflight!();
        }
        let entries = match reader.read_batch(READ_BATCH) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(trail = %cfg.arn, error = %e, "trail delivery cannot read the journal");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let empty = entries.is_empty();
        // Hands a due batch to the compressor and starts the next one.
        macro_rules! hand_off {
            () => {{
                commit_inflight!();
                let (lsn, logging) = (batch.last_lsn, batch.logging);
                let full = std::mem::replace(&mut batch, Batch::new(lsn, logging));
                let (level, threads) = (
                    inner.settings.gzip_level,
                    inner.settings.compression_threads,
                );
                inflight = Some(tokio::task::spawn_blocking(move || {
                    prepare(full, level, threads)
                }));
            }};
        }
        for e in entries {
            batch.apply(&cfg, inner.organization.as_ref(), e);
            if batch.stop_seen {
                // Deliver up to and including the StopLogging call at once.
                deliver_now!();
            } else if batch.full(&inner.settings) {
                // Checked per event: a read brings up to READ_BATCH entries, and files must
                // close at their count and size limits, not a read later.
                hand_off!();
            }
        }
        if batch.due(&inner.settings) {
            hand_off!();
            continue;
        }
        if empty {
            if inflight.is_some() {
                commit_inflight!();
                continue;
            }
            if batch.events == 0
                && batch.last_lsn > st.lsn
                && last_idle_save.elapsed() >= IDLE_CHECKPOINT
            {
                st.lsn = batch.last_lsn;
                st.logging = batch.logging;
                if save_state(&inner.state_dir, &cfg.id, &st).is_ok() {
                    let _ = inner.journal.save_checkpoint(&consumer(&cfg.id), st.lsn);
                }
                last_idle_save = Instant::now();
            }
            let wait = batch.until_due(&inner.settings).min(Duration::from_secs(1));
            tokio::select! {
                _ = tokio::time::timeout(wait, reader.wait()) => {}
                _ = stop.changed() => {}
                _ = cfg_rx.changed() => {}
            }
        }
    }
}

/// One log file built, ready to be written.
struct PreparedFile {
    group: FileGroup,
    file: LogFile,
    events: u64,
    oldest: String,
    newest: String,
}

/// A batch with its files built (compressed), ready to be written.
struct Prepared {
    last_lsn: u64,
    logging: bool,
    events: usize,
    files: Vec<PreparedFile>,
}

/// Builds a batch's files: the CPU part of a delivery, run off the async threads and
/// overlapped with reading the next batch.
fn prepare(batch: Batch, level: u32, threads: usize) -> Prepared {
    let files = batch
        .groups
        .into_iter()
        .map(|g| {
            let refs: Vec<&[u8]> = g.records.iter().map(Vec::as_slice).collect();
            PreparedFile {
                file: build_log_file_with(&refs, level, threads),
                events: g.records.len() as u64,
                group: g.group,
                oldest: g.oldest,
                newest: g.newest,
            }
        })
        .collect();
    Prepared {
        last_lsn: batch.last_lsn,
        logging: batch.logging,
        events: batch.events,
        files,
    }
}

async fn prepare_async(inner: &Inner, batch: Batch) -> Prepared {
    let (level, threads) = (
        inner.settings.gzip_level,
        inner.settings.compression_threads,
    );
    match tokio::task::spawn_blocking(move || prepare(batch, level, threads)).await {
        Ok(p) => p,
        Err(e) => panic!("building log files panicked: {e}"),
    }
}

fn epoch_secs(t: chrono::DateTime<chrono::Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// Delivers `batch` (or redoes `intent`): intent, files, notification, new position. Returns
/// false when the task should stop (shutdown while the store was unreachable).
async fn finish(
    inner: &Inner,
    cfg: &TrailConfig,
    st: &mut DeliveryState,
    status: &Mutex<TrailStatus>,
    batch: Prepared,
    intent: Option<Intent>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    if batch.events == 0 && intent.is_none() {
        if batch.last_lsn > st.lsn {
            st.lsn = batch.last_lsn;
            st.logging = batch.logging;
            if save_state(&inner.state_dir, &cfg.id, st).is_ok() {
                let _ = inner.journal.save_checkpoint(&consumer(&cfg.id), st.lsn);
            }
        }
        return true;
    }
    let now = chrono::Utc::now();
    let org_id = if cfg.is_organization {
        inner.organization.as_ref().map(|o| o.id.as_str())
    } else {
        None
    };
    let intent = match intent {
        Some(i) => i,
        None => Intent {
            from: st.lsn + 1,
            to: batch.last_lsn,
            delivered_at: now.timestamp(),
            files: batch
                .files
                .iter()
                .map(|f| IntentFile {
                    account: f.group.account.clone(),
                    region: f.group.region.clone(),
                    key: log_key(
                        cfg.s3_key_prefix.as_deref(),
                        org_id,
                        &f.group.account,
                        &f.group.region,
                        now,
                        &unique_suffix(),
                    ),
                })
                .collect(),
        },
    };
    st.pending = Some(intent.clone());
    if let Err(e) = save_state(&inner.state_dir, &cfg.id, st) {
        tracing::error!(trail = %cfg.arn, error = %e, "cannot record a delivery intent");
        return false;
    }
    let delivered_at = chrono::DateTime::from_timestamp(intent.delivered_at, 0).unwrap_or(now);
    let mut keys = Vec::new();
    let mut events = 0u64;
    let started = Instant::now();
    for PreparedFile {
        group,
        file,
        events: count,
        oldest,
        newest,
    } in &batch.files
    {
        let planned = intent.files.iter().find(|f| {
            f.region == group.region
                && (f.account == group.account
                    || f.account.is_empty() && group.account == cfg.account)
        });
        let key = match planned {
            Some(f) => f.key.clone(),
            None => log_key(
                cfg.s3_key_prefix.as_deref(),
                org_id,
                &group.account,
                &group.region,
                delivered_at,
                &unique_suffix(),
            ),
        };
        let body = bytes::Bytes::from(file.gzip.clone());
        if !put_until_stored(
            inner,
            cfg,
            st,
            status,
            stop,
            &key,
            body,
            "application/x-gzip",
            &Metadata::new(),
        )
        .await
        {
            return false;
        }
        if cfg.log_file_validation {
            st.digests.add_file(
                &group.account,
                &group.region,
                DigestLogFile {
                    s3_bucket: cfg.s3_bucket.clone(),
                    s3_object: key.clone(),
                    hash_value: file.sha256.clone(),
                    hash_algorithm: opentrail_integrity::digest::HASH_ALGORITHM.into(),
                    newest_event_time: newest.clone(),
                    oldest_event_time: oldest.clone(),
                },
                intent.delivered_at,
            );
        }
        events += count;
        keys.push(key);
        metrics::counter!("opentrail_trail_files_delivered_total").increment(1);
    }
    metrics::counter!("opentrail_trail_events_delivered_total").increment(events);
    metrics::histogram!("opentrail_trail_delivery_seconds").record(started.elapsed().as_secs_f64());
    let done = chrono::Utc::now();
    if let Ok(mut s) = status.lock() {
        s.latest_delivery_time = Some(epoch_secs(done));
        s.latest_delivery_attempt_time = Some(epoch_secs(done));
        s.latest_delivery_attempt_succeeded = Some(true);
        s.latest_delivery_error = None;
        s.files_delivered += keys.len() as u64;
        s.events_delivered += events;
    }
    if let (Some(topic), Some(arn)) = (&cfg.sns_topic_name, &cfg.sns_topic_arn)
        && !keys.is_empty()
    {
        let result = inner
            .notifier
            .publish(topic, arn, &Notifier::message(&cfg.s3_bucket, &keys))
            .await;
        if let Ok(mut s) = status.lock() {
            let at = epoch_secs(chrono::Utc::now());
            s.latest_notification_attempt_time = Some(at);
            s.latest_notification_attempt_succeeded = Some(result.is_ok());
            match result {
                Ok(()) => {
                    s.latest_notification_time = Some(at);
                    s.latest_notification_error = None;
                }
                Err(e) => {
                    tracing::warn!(trail = %cfg.arn, error = %e, "notification failed");
                    s.latest_notification_error = Some(e);
                }
            }
        }
    }
    st.lsn = intent.to;
    st.logging = batch.logging;
    st.pending = None;
    if let Ok(s) = status.lock() {
        st.status = s.clone();
    }
    if let Err(e) = save_state(&inner.state_dir, &cfg.id, st) {
        tracing::error!(trail = %cfg.arn, error = %e, "cannot record a finished delivery");
        return false;
    }
    if let Err(e) = inner.journal.save_checkpoint(&consumer(&cfg.id), st.lsn) {
        tracing::warn!(trail = %cfg.arn, error = %e, "cannot save the trail's journal checkpoint");
    }
    tracing::debug!(trail = %cfg.arn, files = keys.len(), events, "log files delivered");
    true
}

/// Writes one object, retrying with backoff while the store fails and showing the failure in
/// the trail's status. False when the server is shutting down meanwhile.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn put_until_stored(
    inner: &Inner,
    cfg: &TrailConfig,
    st: &mut DeliveryState,
    status: &Mutex<TrailStatus>,
    stop: &mut watch::Receiver<bool>,
    key: &str,
    body: bytes::Bytes,
    content_type: &str,
    metadata: &Metadata,
) -> bool {
    let mut backoff = Duration::from_millis(250);
    loop {
        let attempt = chrono::Utc::now();
        match inner
            .storage
            .put(
                &cfg.s3_bucket,
                key,
                body.clone(),
                content_type,
                metadata,
                cfg.kms_key_id.as_deref(),
            )
            .await
        {
            Ok(()) => return true,
            Err(e) => {
                let msg = e.to_string();
                tracing::warn!(trail = %cfg.arn, key = %key, error = %msg, "delivery to the bucket failed; retrying");
                if let Ok(mut s) = status.lock() {
                    s.latest_delivery_error = Some(msg);
                    s.latest_delivery_attempt_time = Some(epoch_secs(attempt));
                    s.latest_delivery_attempt_succeeded = Some(false);
                    st.status = s.clone();
                }
                let _ = save_state(&inner.state_dir, &cfg.id, st);
                metrics::counter!("opentrail_trail_delivery_failures_total").increment(1);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => {}
                }
                if *stop.borrow() {
                    return false;
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentrail_model::selectors::Selectors;

    pub(crate) fn trail() -> TrailConfig {
        TrailConfig::new("t1", "audit", "123456789012", "us-east-1", "logs")
    }

    fn entry(lsn: u64, v: serde_json::Value) -> Entry {
        Entry {
            lsn,
            timestamp_us: 0,
            data: v.to_string().into_bytes(),
        }
    }

    fn call(name: &str, param: &str, region: &str, error: bool) -> serde_json::Value {
        let mut v = serde_json::json!({"eventSource":"cloudtrail.amazonaws.com","eventName":name,"awsRegion":region,
            "recipientAccountId":"123456789012","eventCategory":"Management","readOnly":false,
            "requestParameters":{"name":param}});
        if error {
            v["errorCode"] = "AccessDenied".into();
        }
        v
    }

    fn mgmt(region: &str, source: &str) -> serde_json::Value {
        serde_json::json!({"eventSource":source,"eventName":"X","awsRegion":region,"recipientAccountId":"123456789012",
            "eventCategory":"Management","readOnly":true})
    }

    #[test]
    fn logging_follows_the_trails_own_successful_calls_in_the_journal() {
        let cfg = trail();
        let mut b = Batch::new(0, false);
        b.apply(&cfg, None, entry(1, mgmt("us-east-1", "ec2.amazonaws.com")));
        assert_eq!(b.events, 0, "not logging yet");
        b.apply(
            &cfg,
            None,
            entry(2, call("StartLogging", "other-trail", "us-east-1", false)),
        );
        b.apply(
            &cfg,
            None,
            entry(3, call("StartLogging", "audit", "us-east-1", true)),
        );
        b.apply(
            &cfg,
            None,
            entry(4, call("StartLogging", "audit", "eu-west-1", false)),
        );
        assert!(
            !b.logging,
            "other trails, failed calls and other regions do not start it"
        );
        b.apply(
            &cfg,
            None,
            entry(5, call("StartLogging", &cfg.arn, "us-east-1", false)),
        );
        assert!(b.logging);
        assert_eq!(
            b.events, 1,
            "the StartLogging call itself is a selected management event"
        );
        b.apply(&cfg, None, entry(6, mgmt("us-east-1", "ec2.amazonaws.com")));
        b.apply(&cfg, None, entry(7, mgmt("eu-west-1", "ec2.amazonaws.com")));
        assert_eq!(b.events, 2, "single-region trails skip other regions");
        b.apply(
            &cfg,
            None,
            entry(8, call("StopLogging", "audit", "us-east-1", false)),
        );
        assert!(!b.logging && b.stop_seen);
        assert_eq!(b.events, 3, "the StopLogging call is delivered too");
        assert_eq!(b.last_lsn, 8);
    }

    #[test]
    fn scope_covers_regions_global_events_and_organizations() {
        let mut cfg = trail();
        cfg.home_region = "eu-west-1".into();
        let v = |r: &str, s: &str, a: &str| {
            serde_json::json!({"awsRegion":r,"eventSource":s,"recipientAccountId":a}).to_string()
        };
        let check = |cfg: &TrailConfig, org: Option<&Organization>, text: &str| {
            let view = EventFacts::parse(text.as_bytes()).expect("view");
            in_scope(cfg, org, &view)
        };
        assert!(check(
            &cfg,
            None,
            &v("eu-west-1", "s3.amazonaws.com", "123456789012")
        ));
        assert!(!check(
            &cfg,
            None,
            &v("us-east-1", "s3.amazonaws.com", "123456789012")
        ));
        assert!(
            check(
                &cfg,
                None,
                &v("us-east-1", "iam.amazonaws.com", "123456789012")
            ),
            "global events reach it"
        );
        cfg.include_global_service_events = false;
        assert!(!check(
            &cfg,
            None,
            &v("us-east-1", "iam.amazonaws.com", "123456789012")
        ));
        cfg.is_multi_region = true;
        cfg.include_global_service_events = true;
        assert!(check(
            &cfg,
            None,
            &v("ap-south-1", "s3.amazonaws.com", "123456789012")
        ));
        assert!(!check(
            &cfg,
            None,
            &v("ap-south-1", "s3.amazonaws.com", "999988887777")
        ));
        let org = Organization {
            id: "o-abcdefghij".into(),
            management_account: "123456789012".into(),
            member_accounts: vec!["999988887777".into()],
        };
        cfg.is_organization = true;
        assert!(check(
            &cfg,
            Some(&org),
            &v("ap-south-1", "s3.amazonaws.com", "999988887777")
        ));
    }

    #[test]
    fn a_batch_is_due_on_count_size_age_or_stop() {
        let cfg = trail();
        let settings = |events, bytes, secs| DeliverySettings {
            max_events: events,
            max_bytes: bytes,
            flush_interval: Duration::from_secs(secs),
            ..DeliverySettings::default()
        };
        let mut b = Batch::new(0, true);
        assert!(
            !b.due(&settings(1, 1, 0)),
            "an empty batch is never due by age"
        );
        b.apply(&cfg, None, entry(1, mgmt("us-east-1", "ec2.amazonaws.com")));
        let size = b.bytes;
        assert!(!b.due(&settings(2, size + 1, 60)));
        assert!(b.due(&settings(1, size + 1, 60)), "event count");
        assert!(b.due(&settings(2, size, 60)), "size");
        assert!(b.due(&settings(2, size + 1, 0)), "age");
        b.apply(
            &cfg,
            None,
            entry(2, call("StopLogging", "audit", "us-east-1", false)),
        );
        assert!(b.due(&settings(100, usize::MAX, 60)), "stop");
    }

    /// An integration record as PutAuditEvents stores it (CloudTrail Lake only).
    fn integration(region: &str) -> serde_json::Value {
        serde_json::json!({"eventVersion":"1.0","eventCategory":"ActivityAuditLog","eventType":"ActivityLog",
            "eventID":"11111111-1111-4111-8111-111111111111","eventTime":"2026-11-25T10:00:00Z","awsRegion":region,
            "recipientAccountId":"123456789012",
            "metadata":{"ingestionTime":"2026-11-25T10:00:01Z","channelARN":"arn:aws:cloudtrail:us-east-1:123456789012:channel/c"},
            "eventData":{"version":"1","userIdentity":{"type":"U","principalId":"p"},"eventSource":"cloudtrail.amazonaws.com",
                "eventName":"StartLogging","eventTime":"2026-11-25T10:00:00Z","UID":"u","recipientAccountId":"123456789012",
                "requestParameters":{"name":"audit"}}})
    }

    #[test]
    fn integration_events_never_reach_a_trail() {
        let all_management_and_data = Selectors::Advanced(
            serde_json::from_value(serde_json::json!([
                {"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]},
                {"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},
                    {"Field":"resources.type","Equals":["AWS::CloudTrail::Channel"]}]}
            ]))
            .expect("selectors"),
        );
        for selectors in [Selectors::default(), all_management_and_data] {
            let mut cfg = trail();
            cfg.is_multi_region = true;
            cfg.selectors = selectors;
            let mut b = Batch::new(0, true);
            b.apply(&cfg, None, entry(1, integration("us-east-1")));
            b.apply(&cfg, None, entry(2, integration("eu-west-1")));
            assert_eq!(b.events, 0, "{:?}", cfg.selectors);
            // Its eventData may mimic a StartLogging call; the trail's switch ignores it.
            let mut stopped = Batch::new(0, false);
            stopped.apply(&cfg, None, entry(3, integration("us-east-1")));
            assert!(!stopped.logging);
            b.apply(&cfg, None, entry(4, mgmt("us-east-1", "ec2.amazonaws.com")));
            assert_eq!(b.events, 1, "a management event still does");
        }
    }

    #[test]
    fn organization_trails_keep_each_accounts_events_in_its_own_files() {
        let mut cfg = trail();
        cfg.is_multi_region = true;
        cfg.is_organization = true;
        let org = Organization {
            id: "o-abcdefghij".into(),
            management_account: "123456789012".into(),
            member_accounts: vec!["123456789012".into(), "999988887777".into()],
        };
        let mut b = Batch::new(0, true);
        let ev = |lsn, region: &str, account: &str| {
            let mut v = mgmt(region, "ec2.amazonaws.com");
            v["recipientAccountId"] = account.into();
            entry(lsn, v)
        };
        b.apply(&cfg, Some(&org), ev(1, "us-east-1", "123456789012"));
        b.apply(&cfg, Some(&org), ev(2, "us-east-1", "999988887777"));
        b.apply(&cfg, Some(&org), ev(3, "eu-west-1", "999988887777"));
        b.apply(&cfg, Some(&org), ev(4, "us-east-1", "999988887777"));
        b.apply(&cfg, Some(&org), ev(5, "us-east-1", "555555555555"));
        let groups: Vec<(&str, &str, usize)> = b
            .groups
            .iter()
            .map(|g| {
                (
                    g.group.account.as_str(),
                    g.group.region.as_str(),
                    g.records.len(),
                )
            })
            .collect();
        assert_eq!(
            groups,
            [
                ("123456789012", "us-east-1", 1),
                ("999988887777", "us-east-1", 2),
                ("999988887777", "eu-west-1", 1)
            ]
        );
    }
}
