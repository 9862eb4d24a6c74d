//! Imports of existing trail log files into an event data store (StartImport, GetImport,
//! ListImports, StopImport, ListImportFailures): AWS's rules for them, their records in the
//! catalog (kind `import`), and the runners that do the work ([`engine`]), one per running
//! import, resumed after a restart.
//!
//! Imported events go straight into the destination store's Delta table: not through the
//! journal, the event history or trails, as in AWS, where copied trail events land only in
//! the event data store.

pub mod engine;
mod model;
pub mod source;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::Utc;
use opentrail_catalog::{Catalog, Key, Tx};
use opentrail_store::ObjectStorage;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::LakeError;
use crate::stores::{EventDataStore, EventDataStoreStatus, EventDataStores};
use crate::writer::Lake;
pub use model::*;
use source::{Location, Source};

/// The catalog kind of imports.
pub const KIND: &str = "import";
/// Page size of ListImports and ListImportFailures when the caller gives none, and the most.
pub const MAX_RESULTS: usize = 1000;
/// Event categories an import destination may collect: CloudTrail events.
const TRAIL_CATEGORIES: [&str; 3] = ["Management", "Data", "NetworkActivity"];

/// How imports work; the defaults suit a server.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// Rows per Delta commit (each commit also records the progress).
    pub commit_rows: usize,
    /// Threads reading and parsing files.
    pub workers: usize,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            commit_rows: 50_000,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

struct Runner {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

/// The import service.
pub struct Imports {
    catalog: Arc<Catalog>,
    stores: Arc<EventDataStores>,
    lake: Arc<Lake>,
    dir: PathBuf,
    storages: Vec<Arc<dyn ObjectStorage>>,
    settings: ImportSettings,
    runners: Mutex<HashMap<String, Runner>>,
}

fn invalid(message: impl Into<String>) -> LakeError {
    LakeError::InvalidParameter(message.into())
}

fn check_import_id(id: &str) -> Result<(), LakeError> {
    if id.len() != 36 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(invalid(format!(
            "ImportId {id:?} is not valid: it is the 36-character id StartImport returned."
        )));
    }
    Ok(())
}

fn not_found(id: &str) -> LakeError {
    LakeError::ImportNotFound(format!(
        "There is no import {id} in this account and region; ListImports shows the imports."
    ))
}

fn page_size(n: Option<i64>) -> Result<usize, LakeError> {
    match n {
        None => Ok(MAX_RESULTS),
        Some(n) if (1..=MAX_RESULTS as i64).contains(&n) => Ok(n as usize),
        Some(n) => Err(invalid(format!(
            "MaxResults {n} is not valid: it must be from 1 to {MAX_RESULTS}."
        ))),
    }
}

/// A page token: the offset and a digest of what it pages through, so a token is refused
/// with other parameters.
fn encode_token(scope: &str, offset: usize) -> String {
    B64.encode(format!("imp1|{offset}|{scope}"))
}

fn decode_token(token: &str, scope: &str) -> Result<usize, LakeError> {
    let bad = || {
        LakeError::InvalidNextToken(
            "The NextToken is not valid: pass the NextToken of the previous answer unchanged, with the same parameters.".into(),
        )
    };
    let text = B64
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let mut parts = text.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("imp1"), Some(n), Some(s)) if s == scope => n.parse().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

impl Imports {
    /// The service: imports kept in `catalog`, destination stores resolved through `stores`
    /// and written in `lake`, listings under `dir`, `s3://` buckets looked up in `storages`
    /// in order (the embedded store, then the configured S3-compatible one).
    pub fn new(
        catalog: Arc<Catalog>,
        stores: Arc<EventDataStores>,
        lake: Arc<Lake>,
        dir: PathBuf,
        storages: Vec<Arc<dyn ObjectStorage>>,
        settings: ImportSettings,
    ) -> Arc<Imports> {
        Arc::new(Imports {
            catalog,
            stores,
            lake,
            dir,
            storages,
            settings,
            runners: Mutex::new(HashMap::new()),
        })
    }

    fn find(
        &self,
        tx: &Tx<'_>,
        account: &str,
        region: &str,
        id: &str,
    ) -> Result<Import, LakeError> {
        tx.get::<Import>(&import_arn(region, account, id))?
            .ok_or_else(|| not_found(id))
    }

    fn put(tx: &Tx<'_>, imp: &Import) -> Result<(), LakeError> {
        let arn = imp.arn();
        tx.put(
            &Key {
                kind: KIND,
                arn: &arn,
                account: &imp.account,
                region: &imp.region,
                name: &imp.id,
            },
            imp,
        )?;
        Ok(())
    }

    /// Changes import `id` (found by its catalog key) in one transaction.
    pub(crate) fn update(
        &self,
        imp: &Import,
        f: impl FnOnce(&mut Import),
    ) -> Result<Import, LakeError> {
        self.catalog.transaction(|tx| {
            let mut cur = self.find(tx, &imp.account, &imp.region, &imp.id)?;
            f(&mut cur);
            cur.updated = Utc::now();
            Self::put(tx, &cur)?;
            Ok(cur)
        })
    }

    /// The source a location names, checked to exist.
    async fn open_source(&self, uri: &str, bucket_region: &str) -> Result<Source, LakeError> {
        match Location::parse(uri)? {
            Location::Local(path) => {
                let p = path.clone();
                let is_dir = tokio::task::spawn_blocking(move || p.is_dir())
                    .await
                    .unwrap_or(false);
                if !is_dir {
                    return Err(LakeError::InvalidImportSource(format!(
                        "{} is not a folder the server can read.",
                        path.display()
                    )));
                }
                Ok(Source::Local(path))
            }
            Location::S3 { bucket, prefix } => {
                for storage in &self.storages {
                    let info = match storage.bucket(&bucket).await {
                        Ok(Some(info)) => info,
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::warn!(store = %storage.describe(), error = %e, "bucket lookup failed");
                            continue;
                        }
                    };
                    let region = if info.region.is_empty() {
                        "us-east-1"
                    } else {
                        info.region.as_str()
                    };
                    if !bucket_region.is_empty() && region != bucket_region {
                        return Err(LakeError::InvalidImportSource(format!(
                            "The bucket {bucket} is in {region}, not in S3BucketRegion {bucket_region}."
                        )));
                    }
                    return Ok(Source::S3 {
                        storage: Arc::clone(storage),
                        bucket,
                        prefix,
                    });
                }
                Err(LakeError::InvalidImportSource(format!(
                    "The bucket {bucket} does not exist or cannot be reached: create it in the embedded store or in the configured S3 storage, or check S3LocationUri."
                )))
            }
        }
    }

    /// The store `arn` names, checked to take imports.
    fn destination(
        &self,
        account: &str,
        region: &str,
        arn: &str,
    ) -> Result<EventDataStore, LakeError> {
        if !arn.starts_with("arn:") {
            return Err(LakeError::EventDataStoreArnInvalid(format!(
                "{arn} is not an event data store ARN: Destinations takes ARNs (arn:aws:cloudtrail:<region>:<account>:eventdatastore/<id>)."
            )));
        }
        let store = self.stores.resolve(account, region, arn)?;
        match store.status {
            EventDataStoreStatus::Enabled | EventDataStoreStatus::StoppedIngestion => {}
            EventDataStoreStatus::PendingDeletion => {
                return Err(LakeError::InactiveEventDataStore(format!(
                    "The event data store {arn} is pending deletion; restore it (RestoreEventDataStore) before importing into it."
                )));
            }
            other => {
                return Err(LakeError::InvalidEventDataStoreStatus(format!(
                    "The event data store {arn} has status {other}; imports need ENABLED or STOPPED_INGESTION."
                )));
            }
        }
        let cats = store.categories();
        if cats.is_empty() || !cats.iter().all(|c| TRAIL_CATEGORIES.contains(c)) {
            return Err(LakeError::InvalidEventDataStoreCategory(format!(
                "The event data store {arn} collects {}; trail events can only be imported into a store of CloudTrail events (Management, Data, NetworkActivity).",
                cats.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(store)
    }

    /// StartImport: a new import (`Destinations`, `ImportSource`), or with `ImportId` the
    /// resumption of a stopped import or retry of a failed one.
    pub async fn start(
        self: &Arc<Self>,
        account: &str,
        region: &str,
        req: StartImport,
    ) -> Result<Import, LakeError> {
        if let Some(id) = &req.import_id {
            return self.retry(account, region, id).await;
        }
        let destinations = req.destinations.ok_or_else(|| {
            invalid(
                "Destinations is required to start a new import (or pass ImportId to resume one).",
            )
        })?;
        let [destination] = destinations.as_slice() else {
            return Err(invalid(format!(
                "Destinations must name exactly one event data store; {} were given.",
                destinations.len()
            )));
        };
        let source = req.import_source.ok_or_else(|| {
            invalid(
                "ImportSource is required to start a new import (or pass ImportId to resume one).",
            )
        })?;
        let start_event_time = req.start_event_time.map(from_epoch).transpose()?;
        let end_event_time = req.end_event_time.map(from_epoch).transpose()?;
        if let (Some(s), Some(e)) = (start_event_time, end_event_time)
            && s > e
        {
            return Err(invalid("StartEventTime must not be after EndEventTime."));
        }
        let role = &source.s3.s3_bucket_access_role_arn;
        if !(role.starts_with("arn:") && role.contains(":iam::") && role.contains(":role/")) {
            return Err(invalid(format!(
                "S3BucketAccessRoleArn {role:?} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)."
            )));
        }
        let store = self.destination(account, region, destination)?;
        self.open_source(&source.s3.s3_location_uri, &source.s3.s3_bucket_region)
            .await?;
        let now = Utc::now();
        let imp = Import {
            id: uuid::Uuid::new_v4().to_string(),
            account: account.to_owned(),
            region: region.to_owned(),
            destination: store.arn.clone(),
            store_id: store.id.clone(),
            source,
            start_event_time,
            end_event_time,
            status: ImportStatus::Initializing,
            created: now,
            updated: now,
            attempt: 0,
            files_done: 0,
            stats: ImportStatistics::default(),
            failures: Vec::new(),
        };
        self.catalog.transaction(|tx| {
            self.check_no_ongoing(tx, account, None)?;
            Self::put(tx, &imp)
        })?;
        tracing::info!(import = %imp.id, store = %store.id, source = %imp.source.s3.s3_location_uri, "import started");
        self.spawn(&imp);
        Ok(imp)
    }

    fn check_no_ongoing(
        &self,
        tx: &Tx<'_>,
        account: &str,
        except: Option<&str>,
    ) -> Result<(), LakeError> {
        let ongoing = tx
            .list::<Import>(KIND, account, None)?
            .into_iter()
            .find(|i| i.status.ongoing() && Some(i.id.as_str()) != except);
        match ongoing {
            Some(i) => Err(LakeError::AccountHasOngoingImport(format!(
                "The import {} is {}; an account runs one import at a time. Wait for it or stop it (StopImport).",
                i.id,
                i.status.as_str()
            ))),
            None => Ok(()),
        }
    }

    async fn retry(
        self: &Arc<Self>,
        account: &str,
        region: &str,
        id: &str,
    ) -> Result<Import, LakeError> {
        check_import_id(id)?;
        let current = self
            .catalog
            .read(|tx| tx.get::<Import>(&import_arn(region, account, id)))?
            .ok_or_else(|| not_found(id))?;
        match current.status {
            // Asking again for a running import is answered with it (a client's retry).
            s if s.ongoing() => return Ok(current),
            ImportStatus::Completed => {
                return Err(invalid(format!(
                    "The import {id} has completed; there is nothing to resume. Start a new import to import again."
                )));
            }
            _ => {}
        }
        self.destination(account, region, &current.destination)?;
        self.open_source(
            &current.source.s3.s3_location_uri,
            &current.source.s3.s3_bucket_region,
        )
        .await?;
        let imp = self.catalog.transaction(|tx| {
            self.check_no_ongoing(tx, account, Some(id))?;
            let mut imp = self.find(tx, account, region, id)?;
            if imp.status == ImportStatus::Failed {
                // A new run over a fresh listing: what was imported before is found in the
                // table and skipped, what failed is tried again.
                imp.attempt += 1;
                imp.files_done = 0;
                imp.failures.clear();
                imp.stats.prefixes_completed = 0;
                imp.stats.files_completed = 0;
                imp.stats.failed_entries = 0;
                imp.status = ImportStatus::Initializing;
            } else {
                imp.status = ImportStatus::InProgress;
            }
            imp.updated = Utc::now();
            Self::put(tx, &imp)?;
            Ok::<_, LakeError>(imp)
        })?;
        tracing::info!(import = %imp.id, attempt = imp.attempt, "import resumed");
        self.spawn(&imp);
        Ok(imp)
    }

    /// GetImport.
    pub fn get(&self, account: &str, region: &str, id: &str) -> Result<Import, LakeError> {
        check_import_id(id)?;
        self.catalog
            .read(|tx| tx.get::<Import>(&import_arn(region, account, id)))?
            .ok_or_else(|| not_found(id))
    }

    /// ListImports: the account's imports in the region, newest first, filtered.
    pub fn list(
        &self,
        account: &str,
        region: &str,
        req: &ListImports,
    ) -> Result<(Vec<Import>, Option<String>), LakeError> {
        let max = page_size(req.max_results)?;
        let status = match req.import_status.as_deref() {
            None => None,
            Some(s) => Some(ImportStatus::parse(s).ok_or_else(|| {
                invalid(format!(
                    "ImportStatus {s:?} is not valid; use INITIALIZING, IN_PROGRESS, FAILED, STOPPED or COMPLETED."
                ))
            })?),
        };
        let destination = match req.destination.as_deref() {
            None => None,
            Some(d) => {
                if !d.starts_with("arn:") || !d.contains(":eventdatastore/") {
                    return Err(LakeError::EventDataStoreArnInvalid(format!(
                        "Destination {d} is not an event data store ARN (arn:aws:cloudtrail:<region>:<account>:eventdatastore/<id>)."
                    )));
                }
                Some(d)
            }
        };
        let scope = format!(
            "{account}|{region}|{}|{}",
            destination.unwrap_or(""),
            status.map_or("", ImportStatus::as_str)
        );
        let offset = match &req.next_token {
            Some(t) => decode_token(t, &scope)?,
            None => 0,
        };
        let mut all: Vec<Import> = self
            .catalog
            .read(|tx| tx.list::<Import>(KIND, account, Some(region)))?
            .into_iter()
            .filter(|i| status.is_none_or(|s| i.status == s))
            .filter(|i| destination.is_none_or(|d| i.destination == d))
            .collect();
        all.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        let end = (offset + max).min(all.len());
        let page = all.get(offset.min(end)..end).unwrap_or_default().to_vec();
        let token = (end < all.len()).then(|| encode_token(&scope, end));
        Ok((page, token))
    }

    /// StopImport: the import stops after what it is doing (nothing half-written stays);
    /// StartImport with its id resumes it where it stopped.
    pub fn stop(&self, account: &str, region: &str, id: &str) -> Result<Import, LakeError> {
        check_import_id(id)?;
        let imp = self.catalog.transaction(|tx| {
            let mut imp = self.find(tx, account, region, id)?;
            match imp.status {
                s if s.ongoing() => {
                    imp.status = ImportStatus::Stopped;
                    imp.updated = Utc::now();
                    Self::put(tx, &imp)?;
                }
                ImportStatus::Stopped => {}
                other => {
                    return Err(invalid(format!(
                        "The import {id} has already ended with status {}; there is nothing to stop.",
                        other.as_str()
                    )));
                }
            }
            Ok::<_, LakeError>(imp)
        })?;
        if let Ok(runners) = self.runners.lock()
            && let Some(r) = runners.get(id)
        {
            let _ = r.stop.send(true);
        }
        tracing::info!(import = %id, "import stopped");
        Ok(imp)
    }

    /// ListImportFailures: a page of the import's failure entries, oldest first.
    pub fn failures(
        &self,
        account: &str,
        region: &str,
        id: &str,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<(Vec<ImportFailure>, Option<String>), LakeError> {
        check_import_id(id)?;
        let max = page_size(max_results)?;
        // The model lists no ImportNotFoundException for this operation.
        let imp = self.get(account, region, id).map_err(|e| match e {
            LakeError::ImportNotFound(m) => LakeError::InvalidParameter(m),
            other => other,
        })?;
        let scope = format!("{account}|{region}|{id}|failures");
        let offset = match next_token {
            Some(t) => decode_token(t, &scope)?,
            None => 0,
        };
        let end = (offset + max).min(imp.failures.len());
        let page = imp
            .failures
            .get(offset.min(end)..end)
            .unwrap_or_default()
            .to_vec();
        let token = (end < imp.failures.len()).then(|| encode_token(&scope, end));
        Ok((page, token))
    }

    /// Whether `store_id` is the destination of an import that is running.
    pub fn has_ongoing_import(&self, store_id: &str) -> Result<bool, LakeError> {
        Ok(self
            .catalog
            .read(|tx| tx.list_all::<Import>(KIND))?
            .iter()
            .any(|i| i.store_id == store_id && i.status.ongoing()))
    }

    /// Starts runners for the imports that were running when the server stopped.
    pub fn resume_all(self: &Arc<Self>) -> Result<usize, LakeError> {
        let ongoing: Vec<Import> = self
            .catalog
            .read(|tx| tx.list_all::<Import>(KIND))?
            .into_iter()
            .filter(|i| i.status.ongoing())
            .collect();
        for imp in &ongoing {
            tracing::info!(import = %imp.id, "resuming an import after a restart");
            self.spawn(imp);
        }
        Ok(ongoing.len())
    }

    fn spawn(self: &Arc<Self>, imp: &Import) {
        let Ok(mut runners) = self.runners.lock() else {
            return;
        };
        runners.retain(|_, r| !r.handle.is_finished());
        // A run told to stop may still be finishing its commit: the new one starts after it,
        // so two runs never write the same import at once.
        let previous = runners.remove(&imp.id).map(|r| {
            let _ = r.stop.send(true);
            r.handle
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let this = Arc::clone(self);
        let id = imp.id.clone();
        let imp = imp.clone();
        let handle = tokio::spawn(async move {
            if let Some(p) = previous {
                let _ = p.await;
            }
            engine::run(this, imp, stop_rx).await;
        });
        runners.insert(
            id,
            Runner {
                stop: stop_tx,
                handle,
            },
        );
    }

    /// Stops every runner without changing the imports' status, so they resume on the next
    /// start.
    pub async fn shutdown(&self) {
        let handles: Vec<JoinHandle<()>> = match self.runners.lock() {
            Ok(mut r) => r
                .drain()
                .map(|(_, r)| {
                    let _ = r.stop.send(true);
                    r.handle
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        for h in handles {
            let _ = h.await;
        }
    }

    /// Waits until import `id`'s runner has ended (tests, the benchmark).
    pub async fn wait(&self, id: &str) {
        loop {
            let running = self
                .runners
                .lock()
                .ok()
                .and_then(|r| r.get(id).map(|r| !r.handle.is_finished()))
                .unwrap_or(false);
            if !running {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests;
