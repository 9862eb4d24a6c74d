//! Event data stores: their configuration, kept in the catalog (kind `eventdatastore`, keyed
//! by ARN), and the rules of the management API that AWS applies to them — defaults, limits,
//! validation, the status machine (ingestion on and off, deletion with a seven-day window in
//! which the store can be restored) and tags.
//!
//! The lake's writer and query engine read stores through [`EventDataStores::list_all`] and
//! [`EventDataStores::resolve`]; every refused request is refused before its one catalog
//! transaction, so it leaves the stores exactly as they were.

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use opentrail_catalog::{Catalog, Key, Tag, Tx};
use opentrail_model::selectors::{
    self, AdvancedEventSelector, AdvancedFieldSelector, SelectorOwner,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::LakeError;

/// The catalog kind of event data stores.
pub const KIND: &str = "eventdatastore";
/// Event data stores per account and region, in any status (AWS's quota; not adjustable).
pub const MAX_EVENT_DATA_STORES: usize = 10;
/// Tags per resource.
pub const MAX_TAGS: usize = 50;
/// How long a deleted store stays in `PENDING_DELETION`, restorable, before it is gone.
pub const RESTORE_WINDOW_DAYS: i64 = 7;
/// The shortest retention period, in days.
pub const MIN_RETENTION_DAYS: u32 = 7;
/// Page size of ListEventDataStores when the caller gives none, and the largest allowed.
pub const MAX_LIST_RESULTS: usize = 1000;

/// Event categories of CloudTrail's own events; a store may collect any mix of them.
const CLOUDTRAIL_CATEGORIES: [&str; 3] = ["Management", "Data", "NetworkActivity"];
/// Categories whose stores can stop and start ingestion.
const INGESTION_CATEGORIES: [&str; 4] =
    ["Management", "Data", "NetworkActivity", "ConfigurationItem"];

/// An event data store's status, as AWS spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventDataStoreStatus {
    /// `CREATED`: just made, not yet ingesting.
    Created,
    /// `ENABLED`: ingesting events.
    Enabled,
    /// `PENDING_DELETION`: deleted, restorable until the window closes.
    PendingDeletion,
    /// `STARTING_INGESTION`.
    StartingIngestion,
    /// `STOPPING_INGESTION`.
    StoppingIngestion,
    /// `STOPPED_INGESTION`: kept and queryable, ingesting nothing.
    StoppedIngestion,
}

impl EventDataStoreStatus {
    /// The API string, e.g. `PENDING_DELETION`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventDataStoreStatus::Created => "CREATED",
            EventDataStoreStatus::Enabled => "ENABLED",
            EventDataStoreStatus::PendingDeletion => "PENDING_DELETION",
            EventDataStoreStatus::StartingIngestion => "STARTING_INGESTION",
            EventDataStoreStatus::StoppingIngestion => "STOPPING_INGESTION",
            EventDataStoreStatus::StoppedIngestion => "STOPPED_INGESTION",
        }
    }
}

impl std::fmt::Display for EventDataStoreStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a store is billed, which bounds its retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    /// `EXTENDABLE_RETENTION_PRICING` (the default): 7 to 3653 days, 366 unless given.
    #[default]
    ExtendableRetentionPricing,
    /// `FIXED_RETENTION_PRICING`: 7 to 2557 days, 2557 unless given.
    FixedRetentionPricing,
}

impl BillingMode {
    /// The API string.
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::ExtendableRetentionPricing => "EXTENDABLE_RETENTION_PRICING",
            BillingMode::FixedRetentionPricing => "FIXED_RETENTION_PRICING",
        }
    }

    /// Parses the API string.
    pub fn parse(s: &str) -> Result<BillingMode, LakeError> {
        match s {
            "EXTENDABLE_RETENTION_PRICING" => Ok(BillingMode::ExtendableRetentionPricing),
            "FIXED_RETENTION_PRICING" => Ok(BillingMode::FixedRetentionPricing),
            other => Err(LakeError::InvalidParameter(format!(
                "BillingMode {other:?} is not valid; use EXTENDABLE_RETENTION_PRICING or FIXED_RETENTION_PRICING."
            ))),
        }
    }

    /// Retention when none is given, in days.
    pub fn default_retention(self) -> u32 {
        match self {
            BillingMode::ExtendableRetentionPricing => 366,
            BillingMode::FixedRetentionPricing => 2557,
        }
    }

    /// The longest retention, in days.
    pub fn max_retention(self) -> u32 {
        match self {
            BillingMode::ExtendableRetentionPricing => 3653,
            BillingMode::FixedRetentionPricing => 2557,
        }
    }
}

/// One event data store, as kept in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDataStore {
    /// `arn:aws:cloudtrail:<region>:<account>:eventdatastore/<id>`.
    pub arn: String,
    /// The UUID suffix of the ARN; the table name in queries.
    pub id: String,
    /// Unique per account and region among stores in any status.
    pub name: String,
    /// Owning account.
    pub account: String,
    /// The region the store was created in (where its API calls are made).
    pub region: String,
    /// Where the store is in its life.
    pub status: EventDataStoreStatus,
    /// Which events it collects (never empty).
    pub advanced_event_selectors: Vec<AdvancedEventSelector>,
    /// Collects events of every region, not only its own.
    pub multi_region_enabled: bool,
    /// Collects the events of every account of the organization.
    pub organization_enabled: bool,
    /// Days an event is kept, judged by its `eventTime`.
    pub retention_period: u32,
    /// DeleteEventDataStore is refused while this is on.
    pub termination_protection_enabled: bool,
    /// The billing mode.
    pub billing_mode: BillingMode,
    /// Full ARN of the KMS key that encrypts the store, once one is set (it never changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// CreatedTimestamp.
    pub created: DateTime<Utc>,
    /// UpdatedTimestamp: the last change of configuration or status.
    pub updated: DateTime<Utc>,
    /// When DeleteEventDataStore put the store in `PENDING_DELETION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<DateTime<Utc>>,
    /// The status RestoreEventDataStore returns the store to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_before_deletion: Option<EventDataStoreStatus>,
}

/// Which operation's response an [`EventDataStore`] is rendered for: the members differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseShape {
    /// CreateEventDataStore (with `TagsList`).
    Create,
    /// GetEventDataStore (with federation members).
    Get,
    /// UpdateEventDataStore (with federation members).
    Update,
    /// RestoreEventDataStore.
    Restore,
}

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

impl EventDataStore {
    /// Whether the store takes in new events now.
    pub fn is_ingesting(&self) -> bool {
        self.status == EventDataStoreStatus::Enabled
    }

    /// Whether the store collects events recorded in `region`.
    pub fn collects_region(&self, region: &str) -> bool {
        self.multi_region_enabled || self.region == region
    }

    /// The event categories its selectors name (`eventCategory` Equals values).
    pub fn categories(&self) -> BTreeSet<&str> {
        categories(&self.advanced_event_selectors)
    }

    /// The store as the API returns it from `shape`'s operation; `tags` are shown by
    /// CreateEventDataStore only (when there are any).
    pub fn to_api(&self, shape: ResponseShape, tags: &[Tag]) -> Value {
        let mut out = Map::new();
        out.insert("EventDataStoreArn".into(), json!(self.arn));
        out.insert("Name".into(), json!(self.name));
        out.insert("Status".into(), json!(self.status.as_str()));
        out.insert(
            "AdvancedEventSelectors".into(),
            json!(self.advanced_event_selectors),
        );
        out.insert(
            "MultiRegionEnabled".into(),
            json!(self.multi_region_enabled),
        );
        out.insert(
            "OrganizationEnabled".into(),
            json!(self.organization_enabled),
        );
        out.insert("RetentionPeriod".into(), json!(self.retention_period));
        out.insert(
            "TerminationProtectionEnabled".into(),
            json!(self.termination_protection_enabled),
        );
        if shape == ResponseShape::Create && !tags.is_empty() {
            out.insert("TagsList".into(), json!(tags));
        }
        out.insert("CreatedTimestamp".into(), json!(epoch(self.created)));
        out.insert("UpdatedTimestamp".into(), json!(epoch(self.updated)));
        if let Some(k) = &self.kms_key_id {
            out.insert("KmsKeyId".into(), json!(k));
        }
        out.insert("BillingMode".into(), json!(self.billing_mode.as_str()));
        if matches!(shape, ResponseShape::Get | ResponseShape::Update) {
            // Federation (Glue/Athena) is not offered, so it is always off.
            out.insert("FederationStatus".into(), json!("DISABLED"));
        }
        Value::Object(out)
    }

    /// The ListEventDataStores entry: AWS no longer returns the deprecated members.
    pub fn to_list_item(&self) -> Value {
        json!({"EventDataStoreArn": self.arn, "Name": self.name})
    }

    fn key(&self) -> Key<'_> {
        Key {
            kind: KIND,
            arn: &self.arn,
            account: &self.account,
            region: &self.region,
            name: &self.name,
        }
    }
}

/// The organization the server's account manages, for organization event data stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// `o-...`.
    pub id: String,
    /// The management account: the only one that may create organization stores.
    pub management_account: String,
}

/// CreateEventDataStore's parameters, in the API's member names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEventDataStore {
    /// `Name`.
    pub name: String,
    /// `AdvancedEventSelectors` (default: all management events).
    #[serde(default)]
    pub advanced_event_selectors: Option<Vec<AdvancedEventSelector>>,
    /// `MultiRegionEnabled` (default true).
    #[serde(default)]
    pub multi_region_enabled: Option<bool>,
    /// `OrganizationEnabled` (default false).
    #[serde(default)]
    pub organization_enabled: Option<bool>,
    /// `RetentionPeriod` in days (default by billing mode).
    #[serde(default)]
    pub retention_period: Option<i64>,
    /// `TerminationProtectionEnabled` (default true).
    #[serde(default)]
    pub termination_protection_enabled: Option<bool>,
    /// `TagsList`.
    #[serde(default)]
    pub tags_list: Vec<Tag>,
    /// `KmsKeyId`: key id, key ARN, alias name or alias ARN.
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// `StartIngestion` (default true).
    #[serde(default)]
    pub start_ingestion: Option<bool>,
    /// `BillingMode` (default `EXTENDABLE_RETENTION_PRICING`).
    #[serde(default)]
    pub billing_mode: Option<String>,
}

/// UpdateEventDataStore's parameters: `EventDataStore` names the store, everything else
/// changes only when given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateEventDataStore {
    /// `EventDataStore`: ARN or ID.
    pub event_data_store: String,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `AdvancedEventSelectors`.
    #[serde(default)]
    pub advanced_event_selectors: Option<Vec<AdvancedEventSelector>>,
    /// `MultiRegionEnabled`.
    #[serde(default)]
    pub multi_region_enabled: Option<bool>,
    /// `OrganizationEnabled`.
    #[serde(default)]
    pub organization_enabled: Option<bool>,
    /// `RetentionPeriod`.
    #[serde(default)]
    pub retention_period: Option<i64>,
    /// `TerminationProtectionEnabled`.
    #[serde(default)]
    pub termination_protection_enabled: Option<bool>,
    /// `KmsKeyId`: may be set once, never changed or removed.
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// `BillingMode`: FIXED may become EXTENDABLE, not the reverse.
    #[serde(default)]
    pub billing_mode: Option<String>,
}

/// One page of ListEventDataStores.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDataStorePage {
    /// The stores of the page, oldest first.
    pub stores: Vec<EventDataStore>,
    /// Where the next page starts, when there is one.
    pub next_token: Option<String>,
}

/// The source of "now", replaceable so tests can move past the restore window.
type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The event data store service: the management API's operations over the catalog.
pub struct EventDataStores {
    catalog: Arc<Catalog>,
    kms: Arc<opentrail_kms::Registry>,
    organization: Option<Organization>,
    clock: Clock,
}

/// What a new store collects unless told otherwise: all management events.
pub fn default_selectors() -> Vec<AdvancedEventSelector> {
    vec![AdvancedEventSelector {
        name: Some("Default management events".into()),
        field_selectors: vec![AdvancedFieldSelector {
            field: "eventCategory".into(),
            equals: Some(vec!["Management".into()]),
            ..Default::default()
        }],
    }]
}

/// The ARN of the store `id` of `account` in `region`.
pub fn event_data_store_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:cloudtrail:{region}:{account}:eventdatastore/{id}")
}

/// Whether `resource` is shaped like an event data store ARN (its resource part starts with
/// `eventdatastore/`); used to route tag operations.
pub fn is_event_data_store_arn(resource: &str) -> bool {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "cloudtrail"
        && parts[5].starts_with("eventdatastore/")
}

fn categories(sel: &[AdvancedEventSelector]) -> BTreeSet<&str> {
    sel.iter()
        .flat_map(|s| &s.field_selectors)
        .filter(|f| f.field == "eventCategory")
        .flat_map(|f| f.equals.iter().flatten())
        .map(String::as_str)
        .collect()
}

/// What kind of events a store holds: CloudTrail events (any mix of management, data and
/// network activity) or exactly one other category. AWS never turns one kind into another.
fn store_kind(sel: &[AdvancedEventSelector]) -> String {
    let cats = categories(sel);
    if cats.iter().all(|c| CLOUDTRAIL_CATEGORIES.contains(c)) {
        "CloudTrail events".into()
    } else {
        cats.into_iter().collect::<Vec<_>>().join(", ")
    }
}

fn can_toggle_ingestion(sel: &[AdvancedEventSelector]) -> bool {
    categories(sel)
        .iter()
        .all(|c| INGESTION_CATEGORIES.contains(c))
}

/// Checks a store's advanced selectors: the shared rules for event data stores, and that a
/// store collects CloudTrail events or one other category, not a mix.
pub fn validate_selectors(sel: &[AdvancedEventSelector]) -> Result<(), LakeError> {
    selectors::validate_advanced(sel, SelectorOwner::EventDataStore)
        .map_err(|e| LakeError::InvalidEventSelectors(e.0))?;
    let cats = categories(sel);
    let other: Vec<&str> = cats
        .iter()
        .copied()
        .filter(|c| !CLOUDTRAIL_CATEGORIES.contains(c))
        .collect();
    if !other.is_empty() && cats.len() > 1 {
        return Err(LakeError::InvalidEventSelectors(format!(
            "An event data store collects either CloudTrail events (Management, Data, NetworkActivity) or one of {}; these selectors mix {}.",
            other.join(", "),
            cats.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

/// Event data store names: 3 to 128 letters, digits, `.`, `_` and `-`.
pub fn validate_name(name: &str) -> Result<(), LakeError> {
    let n = name.chars().count();
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !(3..=128).contains(&n) || !chars_ok {
        return Err(LakeError::InvalidParameter(format!(
            "Event data store name {name:?} is not valid: names are 3 to 128 characters of letters, numbers, periods (.), underscores (_) and hyphens (-)."
        )));
    }
    Ok(())
}

fn validate_retention(days: i64, mode: BillingMode) -> Result<u32, LakeError> {
    let max = mode.max_retention();
    if days < i64::from(MIN_RETENTION_DAYS) || days > i64::from(max) {
        return Err(LakeError::InvalidParameter(format!(
            "RetentionPeriod {days} is not valid: with BillingMode {} an event data store keeps events from {MIN_RETENTION_DAYS} to {max} days.",
            mode.as_str()
        )));
    }
    Ok(days as u32)
}

/// Checks tags against AWS's rules (the same as for trails).
pub fn validate_tags(tags: &[Tag]) -> Result<(), LakeError> {
    opentrail_catalog::check_tags(tags).map_err(LakeError::InvalidTagParameter)
}

/// `KmsKeyId` in its full ARN form: a key ARN, alias ARN, key id or alias name.
fn kms_key_arn(id: &str, region: &str, account: &str) -> Result<String, LakeError> {
    opentrail_kms::key_id_to_arn(id, region, account).ok_or_else(|| {
        LakeError::InvalidKmsKeyId(format!(
            "KMS key {id:?} is not a valid key ARN, alias ARN, key id or alias name."
        ))
    })
}

fn not_found(given: &str, account: &str, region: &str) -> LakeError {
    LakeError::EventDataStoreNotFound(format!(
        "The event data store {given} was not found in account {account}, region {region}."
    ))
}

/// The ARN `given` (an ARN or the ID suffix of one) names, as seen from `account` and
/// `region`; `None` when it names a store that cannot be the caller's.
fn identifier_arn(given: &str, account: &str, region: &str) -> Result<Option<String>, LakeError> {
    let id_ok = |id: &str| {
        !id.is_empty()
            && id.len() <= 128
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    if given.starts_with("arn:") {
        let parts: Vec<&str> = given.splitn(6, ':').collect();
        let id = (parts.len() == 6 && parts[2] == "cloudtrail")
            .then(|| parts[5].strip_prefix("eventdatastore/"))
            .flatten();
        match id {
            Some(id) if id_ok(id) => {}
            _ => {
                return Err(LakeError::EventDataStoreArnInvalid(format!(
                    "{given} is not a valid event data store ARN: expected arn:aws:cloudtrail:<region>:<account>:eventdatastore/<id>."
                )));
            }
        }
        if parts[3] != region || parts[4] != account {
            return Ok(None);
        }
        return Ok(Some(given.to_owned()));
    }
    if !id_ok(given) {
        return Err(LakeError::EventDataStoreArnInvalid(format!(
            "{given:?} is not a valid event data store ARN or ID."
        )));
    }
    Ok(Some(event_data_store_arn(region, account, given)))
}

fn encode_token(s: &EventDataStore) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "eds1|{}|{}|{}|{}",
        s.created.timestamp_micros(),
        s.id,
        s.account,
        s.region
    ))
}

/// The position (creation time, id) a NextToken of `account` and `region` stands for.
fn decode_token(token: &str, account: &str, region: &str) -> Result<(i64, String), LakeError> {
    let bad = || {
        LakeError::InvalidNextToken(
            "The NextToken is not valid: pass the NextToken of the previous ListEventDataStores answer unchanged.".into(),
        )
    };
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let parts: Vec<&str> = text.split('|').collect();
    match parts.as_slice() {
        ["eds1", micros, id, acct, reg] if *acct == account && *reg == region => {
            let micros = micros.parse::<i64>().map_err(|_| bad())?;
            Ok((micros, (*id).to_owned()))
        }
        _ => Err(bad()),
    }
}

impl EventDataStores {
    /// A service over `catalog`, checking KMS keys in `kms`; `organization` is the one the
    /// server's account manages, if any.
    pub fn new(
        catalog: Arc<Catalog>,
        kms: Arc<opentrail_kms::Registry>,
        organization: Option<Organization>,
    ) -> Self {
        EventDataStores {
            catalog,
            kms,
            organization,
            clock: Arc::new(Utc::now),
        }
    }

    /// The same service reading the time from `clock` (tests move it past the restore
    /// window).
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Drops stores whose restore window has closed. Runs inside every transaction that
    /// reads stores, so an expired store is gone for every caller at the same moment without
    /// a background task.
    fn purge_expired(&self, tx: &Tx<'_>) -> Result<(), LakeError> {
        let cutoff = self.now() - Duration::days(RESTORE_WINDOW_DAYS);
        for s in tx.list_all::<EventDataStore>(KIND)? {
            if s.status == EventDataStoreStatus::PendingDeletion
                && s.deleted.is_some_and(|d| d <= cutoff)
            {
                tracing::info!(arn = %s.arn, "event data store purged after its restore window");
                tx.delete(&s.arn)?;
            }
        }
        Ok(())
    }

    fn find(
        &self,
        tx: &Tx<'_>,
        account: &str,
        region: &str,
        given: &str,
    ) -> Result<EventDataStore, LakeError> {
        let arn = identifier_arn(given, account, region)?
            .ok_or_else(|| not_found(given, account, region))?;
        tx.get::<EventDataStore>(&arn)?
            .filter(|s| s.account == account && s.region == region)
            .ok_or_else(|| not_found(given, account, region))
    }

    /// Runs `f` on the store `given` names in one catalog transaction (after purging),
    /// storing what it returns.
    fn modify(
        &self,
        account: &str,
        region: &str,
        given: &str,
        f: impl FnOnce(&Tx<'_>, &mut EventDataStore) -> Result<(), LakeError>,
    ) -> Result<EventDataStore, LakeError> {
        self.catalog.transaction(|tx| {
            self.purge_expired(tx)?;
            let mut s = self.find(tx, account, region, given)?;
            f(tx, &mut s)?;
            s.updated = self.now();
            tx.put(&s.key(), &s)?;
            Ok(s)
        })
    }

    fn check_organization(&self, account: &str) -> Result<(), LakeError> {
        match &self.organization {
            None => Err(LakeError::OrganizationsNotInUse(
                "This account is not part of an organization: declare one under [organization] in the configuration to create organization event data stores.".into(),
            )),
            Some(o) if o.management_account != account => {
                Err(LakeError::NotOrganizationMasterAccount(format!(
                    "The account {account} is not the management account of the organization {}; only the management account can create or update organization event data stores.",
                    o.id
                )))
            }
            Some(_) => Ok(()),
        }
    }

    /// The full ARN of the enabled registry key `id` names.
    fn usable_kms_key(&self, id: &str, region: &str, account: &str) -> Result<String, LakeError> {
        let arn = kms_key_arn(id, region, account)?;
        match self.kms.describe(region, &arn) {
            Ok(m) if m.enabled => Ok(m.arn),
            Ok(m) => Err(LakeError::Kms(format!(
                "KMS key {} is disabled; enable it (aws kms enable-key) or name another key.",
                m.arn
            ))),
            Err(opentrail_kms::KmsError::NotFound(_)) => Err(LakeError::KmsKeyNotFound(format!(
                "KMS key {arn} does not exist in {region}; create it with aws kms create-key."
            ))),
            Err(opentrail_kms::KmsError::InvalidArn(m)) => Err(LakeError::InvalidKmsKeyId(m)),
            Err(e) => Err(LakeError::Kms(format!("KMS key {arn}: {e}"))),
        }
    }

    /// CreateEventDataStore. The store is `ENABLED`, or `STOPPED_INGESTION` when
    /// `StartIngestion` is false. Returns the store and its tags.
    pub fn create(
        &self,
        account: &str,
        region: &str,
        req: CreateEventDataStore,
    ) -> Result<(EventDataStore, Vec<Tag>), LakeError> {
        validate_name(&req.name)?;
        validate_tags(&req.tags_list)?;
        if req.tags_list.len() > MAX_TAGS {
            return Err(LakeError::InvalidTagParameter(format!(
                "An event data store can have at most {MAX_TAGS} tags; {} were given.",
                req.tags_list.len()
            )));
        }
        let billing_mode = req
            .billing_mode
            .as_deref()
            .map(BillingMode::parse)
            .transpose()?
            .unwrap_or_default();
        let retention_period = match req.retention_period {
            Some(d) => validate_retention(d, billing_mode)?,
            None => billing_mode.default_retention(),
        };
        let advanced_event_selectors = match req.advanced_event_selectors {
            Some(sel) => {
                validate_selectors(&sel)?;
                sel
            }
            None => default_selectors(),
        };
        let start = req.start_ingestion.unwrap_or(true);
        if !start && !can_toggle_ingestion(&advanced_event_selectors) {
            return Err(LakeError::InvalidParameter(format!(
                "StartIngestion can only be false for event data stores of Management, Data, NetworkActivity or ConfigurationItem events, not {}.",
                store_kind(&advanced_event_selectors)
            )));
        }
        let organization_enabled = req.organization_enabled.unwrap_or(false);
        if organization_enabled {
            self.check_organization(account)?;
        }
        let kms_key_id = req
            .kms_key_id
            .as_deref()
            .map(|k| self.usable_kms_key(k, region, account))
            .transpose()?;
        let now = self.now();
        let id = uuid::Uuid::new_v4().to_string();
        let store = EventDataStore {
            arn: event_data_store_arn(region, account, &id),
            id,
            name: req.name,
            account: account.to_owned(),
            region: region.to_owned(),
            status: if start {
                EventDataStoreStatus::Enabled
            } else {
                EventDataStoreStatus::StoppedIngestion
            },
            advanced_event_selectors,
            multi_region_enabled: req.multi_region_enabled.unwrap_or(true),
            organization_enabled,
            retention_period,
            termination_protection_enabled: req.termination_protection_enabled.unwrap_or(true),
            billing_mode,
            kms_key_id,
            created: now,
            updated: now,
            deleted: None,
            status_before_deletion: None,
        };
        let tags = req.tags_list;
        self.catalog.transaction(|tx| {
            self.purge_expired(tx)?;
            // Checked inside the write transaction: two concurrent creates cannot both win.
            let existing: Vec<EventDataStore> = tx.list(KIND, account, Some(region))?;
            if existing.iter().any(|s| s.name == store.name) {
                return Err(LakeError::EventDataStoreAlreadyExists(format!(
                    "An event data store named {} already exists in account {account}, region {region}.",
                    store.name
                )));
            }
            if existing.len() >= MAX_EVENT_DATA_STORES {
                return Err(LakeError::EventDataStoreMaxLimitExceeded(format!(
                    "Account {account} already has {MAX_EVENT_DATA_STORES} event data stores in {region} (stores pending deletion count too); delete one first."
                )));
            }
            tx.put(&store.key(), &store)?;
            tx.add_tags(&store.arn, &tags)?;
            Ok(())
        })?;
        tracing::info!(arn = %store.arn, name = %store.name, "event data store created");
        let tags = self.catalog.read(|tx| tx.tags(&store.arn))?;
        Ok((store, tags))
    }

    /// The store `arn_or_id` (its ARN or the ID suffix of it) names in `account` and
    /// `region`, in any status including `PENDING_DELETION`; `EventDataStoreNotFoundException`
    /// when there is none (or its restore window has closed).
    pub fn resolve(
        &self,
        account: &str,
        region: &str,
        arn_or_id: &str,
    ) -> Result<EventDataStore, LakeError> {
        self.catalog.transaction(|tx| {
            self.purge_expired(tx)?;
            self.find(tx, account, region, arn_or_id)
        })
    }

    /// GetEventDataStore.
    pub fn get(
        &self,
        account: &str,
        region: &str,
        arn_or_id: &str,
    ) -> Result<EventDataStore, LakeError> {
        self.resolve(account, region, arn_or_id)
    }

    /// Every store of every account and region, in any status, ordered by account, region
    /// and name. A store missing from one call to the next was purged.
    pub fn list_all(&self) -> Result<Vec<EventDataStore>, LakeError> {
        self.catalog.transaction(|tx| {
            self.purge_expired(tx)?;
            Ok(tx.list_all(KIND)?)
        })
    }

    /// ListEventDataStores: the stores of `account` in `region` (pending deletion ones
    /// too), oldest first, `max_results` (1..=1000, default 1000) at a time.
    pub fn list(
        &self,
        account: &str,
        region: &str,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<EventDataStorePage, LakeError> {
        let limit = match max_results {
            None => MAX_LIST_RESULTS,
            Some(n) if (1..=MAX_LIST_RESULTS as i64).contains(&n) => n as usize,
            Some(n) => {
                return Err(LakeError::InvalidMaxResults(format!(
                    "MaxResults {n} is not valid: it must be from 1 to {MAX_LIST_RESULTS}."
                )));
            }
        };
        let after = next_token
            .map(|t| decode_token(t, account, region))
            .transpose()?;
        let mut all: Vec<EventDataStore> = self.catalog.transaction(|tx| {
            self.purge_expired(tx)?;
            Ok::<_, LakeError>(tx.list(KIND, account, Some(region))?)
        })?;
        all.sort_by(|a, b| {
            (a.created.timestamp_micros(), &a.id).cmp(&(b.created.timestamp_micros(), &b.id))
        });
        // A position, not an index: stores deleted between pages do not shift later ones.
        if let Some((micros, id)) = &after {
            all.retain(|s| (s.created.timestamp_micros(), &s.id) > (*micros, id));
        }
        let more = all.len() > limit;
        all.truncate(limit);
        let next_token = if more {
            all.last().map(encode_token)
        } else {
            None
        };
        Ok(EventDataStorePage {
            stores: all,
            next_token,
        })
    }

    /// UpdateEventDataStore: changes only what is given.
    pub fn update(
        &self,
        account: &str,
        region: &str,
        req: UpdateEventDataStore,
    ) -> Result<EventDataStore, LakeError> {
        let nothing = req.name.is_none()
            && req.advanced_event_selectors.is_none()
            && req.multi_region_enabled.is_none()
            && req.organization_enabled.is_none()
            && req.retention_period.is_none()
            && req.termination_protection_enabled.is_none()
            && req.kms_key_id.is_none()
            && req.billing_mode.is_none();
        if nothing {
            return Err(LakeError::InvalidParameter(
                "UpdateEventDataStore needs at least one setting to change besides EventDataStore."
                    .into(),
            ));
        }
        if let Some(n) = &req.name {
            validate_name(n)?;
        }
        if let Some(sel) = &req.advanced_event_selectors {
            validate_selectors(sel)?;
        }
        let billing_mode = req
            .billing_mode
            .as_deref()
            .map(BillingMode::parse)
            .transpose()?;
        if req.organization_enabled == Some(true) {
            self.check_organization(account)?;
        }
        let kms_key_id = req
            .kms_key_id
            .as_deref()
            .map(|k| self.usable_kms_key(k, region, account))
            .transpose()?;
        let given = req.event_data_store.clone();
        let s = self.modify(account, region, &given, |tx, s| {
            if s.status == EventDataStoreStatus::PendingDeletion {
                return Err(LakeError::InactiveEventDataStore(format!(
                    "The event data store {} is pending deletion; restore it before updating it.",
                    s.arn
                )));
            }
            if let Some(sel) = &req.advanced_event_selectors {
                let (was, now) = (store_kind(&s.advanced_event_selectors), store_kind(sel));
                if was != now {
                    return Err(LakeError::InvalidEventSelectors(format!(
                        "The event data store collects {was}; its selectors cannot change it to collect {now}."
                    )));
                }
                if s.status == EventDataStoreStatus::StoppedIngestion && !can_toggle_ingestion(sel) {
                    return Err(LakeError::InvalidEventSelectors(
                        "These selectors would make a stopped event data store one that cannot stop ingestion.".into(),
                    ));
                }
            }
            if let Some(mode) = billing_mode {
                if s.billing_mode == BillingMode::ExtendableRetentionPricing
                    && mode == BillingMode::FixedRetentionPricing
                {
                    return Err(LakeError::InvalidParameter(
                        "The billing mode cannot change from EXTENDABLE_RETENTION_PRICING to FIXED_RETENTION_PRICING.".into(),
                    ));
                }
                s.billing_mode = mode;
            }
            if let Some(d) = req.retention_period {
                s.retention_period = validate_retention(d, s.billing_mode)?;
            }
            if let Some(k) = kms_key_id {
                match &s.kms_key_id {
                    Some(old) if *old != k => {
                        return Err(LakeError::InvalidParameter(format!(
                            "The event data store is encrypted with KMS key {old}; the key of an event data store cannot be changed or removed."
                        )));
                    }
                    _ => s.kms_key_id = Some(k),
                }
            }
            if let Some(n) = &req.name
                && *n != s.name
            {
                let taken = tx
                    .list::<EventDataStore>(KIND, account, Some(region))?
                    .iter()
                    .any(|o| o.name == *n && o.arn != s.arn);
                if taken {
                    return Err(LakeError::EventDataStoreAlreadyExists(format!(
                        "An event data store named {n} already exists in account {account}, region {region}."
                    )));
                }
                s.name = n.clone();
            }
            if let Some(sel) = &req.advanced_event_selectors {
                s.advanced_event_selectors = sel.clone();
            }
            if let Some(v) = req.multi_region_enabled {
                s.multi_region_enabled = v;
            }
            if let Some(v) = req.organization_enabled {
                s.organization_enabled = v;
            }
            if let Some(v) = req.termination_protection_enabled {
                s.termination_protection_enabled = v;
            }
            Ok(())
        })?;
        tracing::info!(arn = %s.arn, "event data store updated");
        Ok(s)
    }

    /// DeleteEventDataStore: the store goes to `PENDING_DELETION` and can be restored for
    /// seven days; then it is gone. A store a channel delivers to cannot be deleted.
    pub fn delete(&self, account: &str, region: &str, arn_or_id: &str) -> Result<(), LakeError> {
        let now = self.now();
        let s = self.modify(account, region, arn_or_id, |tx, s| {
            if s.status == EventDataStoreStatus::PendingDeletion {
                return Err(LakeError::InactiveEventDataStore(format!(
                    "The event data store {} is already pending deletion.",
                    s.arn
                )));
            }
            if s.termination_protection_enabled {
                return Err(LakeError::EventDataStoreTerminationProtected(format!(
                    "The event data store {} cannot be deleted because termination protection is enabled; turn it off with UpdateEventDataStore first.",
                    s.arn
                )));
            }
            if let Some(c) = crate::channels::channel_delivering_to(tx, s)? {
                return Err(LakeError::ChannelExistsForEds(format!(
                    "The event data store {} cannot be deleted while the channel {} delivers to it; delete the channel or change its destinations first.",
                    s.arn, c.arn
                )));
            }
            s.status_before_deletion = Some(s.status);
            s.status = EventDataStoreStatus::PendingDeletion;
            s.deleted = Some(now);
            Ok(())
        })?;
        tracing::info!(arn = %s.arn, "event data store pending deletion");
        Ok(())
    }

    /// RestoreEventDataStore: a store pending deletion returns to the status it had.
    pub fn restore(
        &self,
        account: &str,
        region: &str,
        arn_or_id: &str,
    ) -> Result<EventDataStore, LakeError> {
        let s = self.modify(account, region, arn_or_id, |tx, s| {
            if s.status != EventDataStoreStatus::PendingDeletion {
                return Err(LakeError::InvalidEventDataStoreStatus(format!(
                    "The event data store {} has status {}; only a store in PENDING_DELETION can be restored.",
                    s.arn, s.status
                )));
            }
            let others = tx
                .list::<EventDataStore>(KIND, account, Some(region))?
                .iter()
                .filter(|o| o.arn != s.arn)
                .count();
            if others >= MAX_EVENT_DATA_STORES {
                return Err(LakeError::EventDataStoreMaxLimitExceeded(format!(
                    "Account {account} already has {MAX_EVENT_DATA_STORES} event data stores in {region}."
                )));
            }
            s.status = s
                .status_before_deletion
                .take()
                .unwrap_or(EventDataStoreStatus::Enabled);
            s.deleted = None;
            Ok(())
        })?;
        tracing::info!(arn = %s.arn, "event data store restored");
        Ok(s)
    }

    /// StartEventDataStoreIngestion (`start`) or StopEventDataStoreIngestion.
    pub fn set_ingestion(
        &self,
        account: &str,
        region: &str,
        arn_or_id: &str,
        start: bool,
    ) -> Result<EventDataStore, LakeError> {
        let (from, to, op) = if start {
            (
                EventDataStoreStatus::StoppedIngestion,
                EventDataStoreStatus::Enabled,
                "StartEventDataStoreIngestion",
            )
        } else {
            (
                EventDataStoreStatus::Enabled,
                EventDataStoreStatus::StoppedIngestion,
                "StopEventDataStoreIngestion",
            )
        };
        let s = self.modify(account, region, arn_or_id, |_, s| {
            if !can_toggle_ingestion(&s.advanced_event_selectors) {
                return Err(LakeError::InvalidEventDataStoreCategory(format!(
                    "{op} works on event data stores of Management, Data, NetworkActivity or ConfigurationItem events; {} collects {}.",
                    s.arn,
                    store_kind(&s.advanced_event_selectors)
                )));
            }
            if s.status != from {
                return Err(LakeError::InvalidEventDataStoreStatus(format!(
                    "The event data store {} has status {}; {op} needs {from}.",
                    s.arn, s.status
                )));
            }
            s.status = to;
            Ok(())
        })?;
        tracing::info!(arn = %s.arn, status = %s.status, "event data store ingestion changed");
        Ok(s)
    }

    /// StartEventDataStoreIngestion.
    pub fn start_ingestion(
        &self,
        account: &str,
        region: &str,
        arn_or_id: &str,
    ) -> Result<EventDataStore, LakeError> {
        self.set_ingestion(account, region, arn_or_id, true)
    }

    /// StopEventDataStoreIngestion.
    pub fn stop_ingestion(
        &self,
        account: &str,
        region: &str,
        arn_or_id: &str,
    ) -> Result<EventDataStore, LakeError> {
        self.set_ingestion(account, region, arn_or_id, false)
    }

    /// The active store a tag operation names by ARN.
    fn tag_target(
        &self,
        tx: &Tx<'_>,
        account: &str,
        region: &str,
        resource: &str,
    ) -> Result<EventDataStore, LakeError> {
        if !resource.starts_with("arn:") {
            return Err(LakeError::EventDataStoreArnInvalid(format!(
                "{resource} is not an ARN: tag operations take the event data store's ARN."
            )));
        }
        self.purge_expired(tx)?;
        let s = self.find(tx, account, region, resource)?;
        if s.status == EventDataStoreStatus::PendingDeletion {
            return Err(LakeError::InactiveEventDataStore(format!(
                "The event data store {} is pending deletion.",
                s.arn
            )));
        }
        Ok(s)
    }

    /// AddTags on a store (existing keys are overwritten; at most 50 tags per store).
    pub fn add_tags(
        &self,
        account: &str,
        region: &str,
        resource: &str,
        tags: &[Tag],
    ) -> Result<(), LakeError> {
        validate_tags(tags)?;
        self.catalog.transaction(|tx| {
            let s = self.tag_target(tx, account, region, resource)?;
            add_tags_within_limit(tx, &s.arn, tags)
        })
    }

    /// RemoveTags on a store (a value given must match too).
    pub fn remove_tags(
        &self,
        account: &str,
        region: &str,
        resource: &str,
        tags: &[Tag],
    ) -> Result<(), LakeError> {
        validate_tags(tags)?;
        self.catalog.transaction(|tx| {
            let s = self.tag_target(tx, account, region, resource)?;
            Ok(tx.remove_tags(&s.arn, tags)?)
        })
    }

    /// ListTags of one store, by key.
    pub fn list_tags(
        &self,
        account: &str,
        region: &str,
        resource: &str,
    ) -> Result<Vec<Tag>, LakeError> {
        self.catalog.transaction(|tx| {
            let s = self.tag_target(tx, account, region, resource)?;
            Ok(tx.tags(&s.arn)?)
        })
    }
}

#[cfg(test)]
mod tests;

/// Adds `tags` to the resource `arn` (a key given again takes the new value), refusing a change
/// that would leave it more than [`MAX_TAGS`] tags. Stores and channels share the rule.
pub(crate) fn add_tags_within_limit(tx: &Tx<'_>, arn: &str, tags: &[Tag]) -> Result<(), LakeError> {
    let mut keys: Vec<String> = tx.tags(arn)?.into_iter().map(|t| t.key).collect();
    keys.extend(tags.iter().map(|t| t.key.clone()));
    keys.sort();
    keys.dedup();
    if keys.len() > MAX_TAGS {
        return Err(LakeError::TagsLimitExceeded(format!(
            "A resource can have at most {MAX_TAGS} tags; this change would give it {}.",
            keys.len()
        )));
    }
    Ok(tx.add_tags(arn, tags)?)
}
