//! Channels: how events from outside AWS reach CloudTrail Lake. A channel (catalog kind
//! `channel`, keyed by ARN) names a source — `Custom` for your own applications, or a
//! partner's source name — and the integration-events (`ActivityAuditLog`) event data stores
//! that keep what arrives through it with PutAuditEvents.
//!
//! The rules are AWS's: 25 channels per account and region, one channel per partner source,
//! unique names, destinations that exist, are active and hold integration events; a store
//! that is a channel's destination cannot be deleted. Every refused request is refused before
//! its one catalog transaction, or inside it, so it leaves the channels as they were.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use opentrail_catalog::{Catalog, Key, Tag, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::LakeError;
use crate::stores::{
    EventDataStore, EventDataStoreStatus, MAX_TAGS, add_tags_within_limit, validate_tags,
};
use crate::tables::{ACTIVITY_CATEGORY, TableKind};

/// The catalog kind of channels.
pub const KIND: &str = "channel";
/// Channels per account and region (AWS's quota; service-linked channels do not count, and
/// opentrail has none).
pub const MAX_CHANNELS: usize = 25;
/// The source of channels for your own (non-partner) events.
pub const CUSTOM_SOURCE: &str = "Custom";
/// The destination type of integration channels: an event data store.
pub const EVENT_DATA_STORE: &str = "EVENT_DATA_STORE";
/// The destination type AWS services give their service-linked channels.
const AWS_SERVICE: &str = "AWS_SERVICE";
/// Destinations per channel.
const MAX_DESTINATIONS: usize = 200;
/// Page size of ListChannels when the caller gives none, and the largest allowed.
const MAX_LIST_RESULTS: usize = 1000;

/// Where a channel's events go: `{"Type": "EVENT_DATA_STORE", "Location": <store ARN>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Destination {
    /// `EVENT_DATA_STORE` (or `AWS_SERVICE`, which only AWS services create).
    #[serde(rename = "Type")]
    pub kind: String,
    /// The event data store's ARN.
    pub location: String,
}

/// One channel, as kept in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// `arn:aws:cloudtrail:<region>:<account>:channel/<id>`.
    pub arn: String,
    /// The UUID ending the ARN.
    pub id: String,
    /// Unique per account and region.
    pub name: String,
    /// Owning account: the only one that may put events into it.
    pub account: String,
    /// The region it was created in.
    pub region: String,
    /// `Custom` or a partner's source name; never changes.
    pub source: String,
    /// The stores that keep its events (ARNs normalised).
    pub destinations: Vec<Destination>,
    /// When it was created (orders ListChannels).
    pub created: DateTime<Utc>,
    /// The last change.
    pub updated: DateTime<Utc>,
}

/// The most recent PutAuditEvents outcomes of a channel (GetChannel's `IngestionStatus`).
/// Kept in memory: it describes what happened since the server started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestionStatus {
    /// When events last went in.
    pub latest_success_time: Option<DateTime<Utc>>,
    /// The `eventID` of the last event that went in.
    pub latest_success_event_id: Option<String>,
    /// The per-event error code of the last refused event.
    pub latest_error_code: Option<String>,
    /// When PutAuditEvents last named the channel.
    pub latest_attempt_time: Option<DateTime<Utc>>,
    /// The `eventID` of the last event of that call that went in.
    pub latest_attempt_event_id: Option<String>,
}

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

impl IngestionStatus {
    fn to_api(&self) -> Value {
        let mut out = Map::new();
        if let Some(t) = self.latest_success_time {
            out.insert("LatestIngestionSuccessTime".into(), json!(epoch(t)));
        }
        if let Some(id) = &self.latest_success_event_id {
            out.insert("LatestIngestionSuccessEventID".into(), json!(id));
        }
        if let Some(c) = &self.latest_error_code {
            out.insert("LatestIngestionErrorCode".into(), json!(c));
        }
        if let Some(t) = self.latest_attempt_time {
            out.insert("LatestIngestionAttemptTime".into(), json!(epoch(t)));
        }
        if let Some(id) = &self.latest_attempt_event_id {
            out.insert("LatestIngestionAttemptEventID".into(), json!(id));
        }
        Value::Object(out)
    }
}

impl Channel {
    /// The ARNs of the event data stores that keep this channel's events.
    pub fn store_arns(&self) -> impl Iterator<Item = &str> {
        self.destinations
            .iter()
            .filter(|d| d.kind == EVENT_DATA_STORE)
            .map(|d| d.location.as_str())
    }

    /// CreateChannel's answer (`Tags` when there are any).
    pub fn to_create_api(&self, tags: &[Tag]) -> Value {
        let mut out = self.to_update_api();
        if !tags.is_empty() {
            out["Tags"] = json!(tags);
        }
        out
    }

    /// UpdateChannel's answer.
    pub fn to_update_api(&self) -> Value {
        json!({
            "ChannelArn": self.arn,
            "Name": self.name,
            "Source": self.source,
            "Destinations": self.destinations,
        })
    }

    /// GetChannel's answer: the channel, what it selects, and its latest ingestion.
    pub fn to_get_api(&self, status: &IngestionStatus) -> Value {
        json!({
            "ChannelArn": self.arn,
            "Name": self.name,
            "Source": self.source,
            // An integration channel carries integration events of its own region.
            "SourceConfig": {
                "ApplyToAllRegions": false,
                "AdvancedEventSelectors": [{
                    "FieldSelectors": [{"Field": "eventCategory", "Equals": [ACTIVITY_CATEGORY]}]
                }],
            },
            "Destinations": self.destinations,
            "IngestionStatus": status.to_api(),
        })
    }

    /// The ListChannels entry.
    pub fn to_list_item(&self) -> Value {
        json!({"ChannelArn": self.arn, "Name": self.name})
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

/// CreateChannel's parameters, in the API's member names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateChannel {
    /// `Name`.
    pub name: String,
    /// `Source`: `Custom` or a partner source name.
    pub source: String,
    /// `Destinations`.
    pub destinations: Vec<Destination>,
    /// `Tags`.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// UpdateChannel's parameters: `Channel` names it; `Name` and `Destinations` change only
/// when given (destinations are replaced as a whole).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateChannel {
    /// `Channel`: ARN or ID.
    pub channel: String,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `Destinations`.
    #[serde(default)]
    pub destinations: Option<Vec<Destination>>,
}

/// One page of ListChannels.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelPage {
    /// The channels of the page, oldest first.
    pub channels: Vec<Channel>,
    /// Where the next page starts, when there is one.
    pub next_token: Option<String>,
}

/// The ARN of channel `id` of `account` in `region`.
pub fn channel_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:cloudtrail:{region}:{account}:channel/{id}")
}

/// Whether `resource` is shaped like a channel ARN (its resource part starts with
/// `channel/`); used to route tag operations.
pub fn is_channel_arn(resource: &str) -> bool {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "cloudtrail"
        && parts[5].starts_with("channel/")
}

/// Channel names: 3 to 128 letters, digits, `.`, `_` and `-`.
pub fn validate_name(name: &str) -> Result<(), LakeError> {
    let n = name.chars().count();
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !(3..=128).contains(&n) || !chars_ok {
        return Err(LakeError::InvalidParameter(format!(
            "Channel name {name:?} is not valid: names are 3 to 128 characters of letters, numbers, periods (.), underscores (_) and hyphens (-)."
        )));
    }
    Ok(())
}

/// A channel's source: `Custom`, or a partner's source name (letters, digits, spaces, `.`,
/// `_` and `-`, starting with a letter or digit). Names starting with `aws` belong to the
/// service-linked channels AWS services create.
pub fn validate_source(source: &str) -> Result<(), LakeError> {
    if source == CUSTOM_SOURCE {
        return Ok(());
    }
    if source.eq_ignore_ascii_case(CUSTOM_SOURCE) {
        return Err(LakeError::InvalidSource(format!(
            "Source {source:?} is not valid: for events from your own applications the source is Custom, with that capitalisation."
        )));
    }
    let n = source.chars().count();
    let chars_ok = source
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'));
    let first_ok = source
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !(1..=256).contains(&n) || !chars_ok || !first_ok {
        return Err(LakeError::InvalidSource(format!(
            "Source {source:?} is not valid: use Custom, or a partner's source name (up to 256 letters, digits, spaces, periods, underscores and hyphens)."
        )));
    }
    if source.to_ascii_lowercase().starts_with("aws") {
        return Err(LakeError::InvalidSource(format!(
            "Source {source:?} is not valid: sources starting with aws are reserved for the service-linked channels of AWS services."
        )));
    }
    Ok(())
}

fn id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The channel ARN `given` (an ARN or its ID suffix) names: `(arn, account, region)` of the
/// ARN, or the caller's for an ID. `ChannelARNInvalidException` when it is neither.
fn parse_channel(
    given: &str,
    account: &str,
    region: &str,
) -> Result<(String, String, String), LakeError> {
    if given.starts_with("arn:") {
        let parts: Vec<&str> = given.splitn(6, ':').collect();
        let id = (parts.len() == 6 && parts[2] == "cloudtrail")
            .then(|| parts[5].strip_prefix("channel/"))
            .flatten();
        return match id {
            Some(id) if id_ok(id) => {
                Ok((given.to_owned(), parts[4].to_owned(), parts[3].to_owned()))
            }
            _ => Err(LakeError::ChannelArnInvalid(format!(
                "{given} is not a valid channel ARN: expected arn:aws:cloudtrail:<region>:<account>:channel/<id>."
            ))),
        };
    }
    if !id_ok(given) {
        return Err(LakeError::ChannelArnInvalid(format!(
            "{given:?} is not a valid channel ARN or ID."
        )));
    }
    Ok((
        channel_arn(region, account, given),
        account.to_owned(),
        region.to_owned(),
    ))
}

fn not_found(given: &str, account: &str, region: &str) -> LakeError {
    LakeError::ChannelNotFound(format!(
        "The channel {given} was not found in account {account}, region {region}."
    ))
}

/// The store ARN a destination `Location` names, checked against AWS's ARN form.
fn store_location(location: &str) -> Result<(String, String, String), LakeError> {
    let parts: Vec<&str> = location.splitn(6, ':').collect();
    let id = (parts.len() == 6 && parts[0] == "arn" && parts[2] == "cloudtrail")
        .then(|| parts[5].strip_prefix("eventdatastore/"))
        .flatten();
    match id {
        Some(id) if id_ok(id) => Ok((
            location.to_owned(),
            parts[4].to_owned(),
            parts[3].to_owned(),
        )),
        _ => Err(LakeError::EventDataStoreArnInvalid(format!(
            "Destination location {location} is not an event data store ARN: expected arn:aws:cloudtrail:<region>:<account>:eventdatastore/<id>."
        ))),
    }
}

/// Checks destinations inside the transaction that stores the channel: each must be an
/// active integration-events store of the caller in this region, named once.
fn check_destinations(
    tx: &Tx<'_>,
    account: &str,
    region: &str,
    destinations: &[Destination],
) -> Result<(), LakeError> {
    if destinations.is_empty() || destinations.len() > MAX_DESTINATIONS {
        return Err(LakeError::InvalidParameter(format!(
            "A channel has 1 to {MAX_DESTINATIONS} destinations; {} were given.",
            destinations.len()
        )));
    }
    let mut seen = BTreeSet::new();
    for d in destinations {
        match d.kind.as_str() {
            EVENT_DATA_STORE => {}
            AWS_SERVICE => {
                return Err(LakeError::InvalidParameter(
                    "Destination type AWS_SERVICE belongs to the service-linked channels AWS services create; an integration channel delivers to EVENT_DATA_STORE destinations.".into(),
                ));
            }
            other => {
                return Err(LakeError::InvalidParameter(format!(
                    "Destination type {other:?} is not valid; use EVENT_DATA_STORE."
                )));
            }
        }
        let (arn, store_account, store_region) = store_location(&d.location)?;
        if !seen.insert(arn.clone()) {
            return Err(LakeError::InvalidParameter(format!(
                "The event data store {arn} is named more than once in Destinations."
            )));
        }
        let store = (store_account == account && store_region == region)
            .then(|| tx.get::<EventDataStore>(&arn))
            .transpose()?
            .flatten()
            .ok_or_else(|| {
                LakeError::EventDataStoreNotFound(format!(
                    "The event data store {arn} was not found in account {account}, region {region}; a channel delivers to stores of its own account and region."
                ))
            })?;
        if store.status == EventDataStoreStatus::PendingDeletion {
            return Err(LakeError::InactiveEventDataStore(format!(
                "The event data store {arn} is pending deletion; restore it or choose another destination."
            )));
        }
        if TableKind::of(&store.advanced_event_selectors) != TableKind::Activity {
            return Err(LakeError::InvalidEventDataStoreCategory(format!(
                "The event data store {arn} does not collect {ACTIVITY_CATEGORY} events; a channel's destinations must be stores whose selectors are eventCategory = {ACTIVITY_CATEGORY}."
            )));
        }
    }
    Ok(())
}

/// The channel of `store`'s account and region that delivers to it, if any (a store with
/// one cannot be deleted).
pub(crate) fn channel_delivering_to(
    tx: &Tx<'_>,
    store: &EventDataStore,
) -> Result<Option<Channel>, LakeError> {
    Ok(tx
        .list::<Channel>(KIND, &store.account, Some(&store.region))?
        .into_iter()
        .find(|c| c.store_arns().any(|a| a == store.arn)))
}

fn encode_token(c: &Channel) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "ch1|{}|{}|{}|{}",
        c.created.timestamp_micros(),
        c.id,
        c.account,
        c.region
    ))
}

fn decode_token(token: &str, account: &str, region: &str) -> Result<(i64, String), LakeError> {
    let bad = || {
        LakeError::InvalidNextToken(
            "The NextToken is not valid: pass the NextToken of the previous ListChannels answer unchanged.".into(),
        )
    };
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    match text.split('|').collect::<Vec<_>>().as_slice() {
        ["ch1", micros, id, acct, reg] if *acct == account && *reg == region => {
            Ok((micros.parse::<i64>().map_err(|_| bad())?, (*id).to_owned()))
        }
        _ => Err(bad()),
    }
}

/// The channel service: the management API's operations over the catalog, and the lookups
/// PutAuditEvents needs.
pub struct Channels {
    catalog: Arc<Catalog>,
    status: Mutex<HashMap<String, IngestionStatus>>,
}

impl Channels {
    /// A service over `catalog` (the one event data stores live in).
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Channels {
            catalog,
            status: Mutex::new(HashMap::new()),
        }
    }

    fn find(
        &self,
        tx: &Tx<'_>,
        account: &str,
        region: &str,
        given: &str,
    ) -> Result<Channel, LakeError> {
        let (arn, a, r) = parse_channel(given, account, region)?;
        if a != account || r != region {
            return Err(not_found(given, account, region));
        }
        tx.get::<Channel>(&arn)?
            .ok_or_else(|| not_found(given, account, region))
    }

    /// CreateChannel. Returns the channel and its tags.
    pub fn create(
        &self,
        account: &str,
        region: &str,
        req: CreateChannel,
    ) -> Result<(Channel, Vec<Tag>), LakeError> {
        validate_name(&req.name)?;
        validate_source(&req.source)?;
        validate_tags(&req.tags)?;
        if req.tags.len() > MAX_TAGS {
            return Err(LakeError::TagsLimitExceeded(format!(
                "A channel can have at most {MAX_TAGS} tags; {} were given.",
                req.tags.len()
            )));
        }
        let now = Utc::now();
        let id = uuid::Uuid::new_v4().to_string();
        let channel = Channel {
            arn: channel_arn(region, account, &id),
            id,
            name: req.name,
            account: account.to_owned(),
            region: region.to_owned(),
            source: req.source,
            destinations: req.destinations,
            created: now,
            updated: now,
        };
        let tags = req.tags;
        self.catalog.transaction(|tx| {
            // Checked inside the write transaction: two concurrent creates cannot both win.
            let existing: Vec<Channel> = tx.list(KIND, account, Some(region))?;
            if existing.iter().any(|c| c.name == channel.name) {
                return Err(LakeError::ChannelAlreadyExists(format!(
                    "A channel named {} already exists in account {account}, region {region}.",
                    channel.name
                )));
            }
            if channel.source != CUSTOM_SOURCE
                && let Some(c) = existing.iter().find(|c| c.source == channel.source)
            {
                return Err(LakeError::ChannelAlreadyExists(format!(
                    "The channel {} already receives events from source {}; a partner source has at most one channel.",
                    c.arn, channel.source
                )));
            }
            if existing.len() >= MAX_CHANNELS {
                return Err(LakeError::ChannelMaxLimitExceeded(format!(
                    "Account {account} already has {MAX_CHANNELS} channels in {region}; delete one first."
                )));
            }
            check_destinations(tx, account, region, &channel.destinations)?;
            tx.put(&channel.key(), &channel)?;
            tx.add_tags(&channel.arn, &tags)?;
            Ok(())
        })?;
        tracing::info!(arn = %channel.arn, name = %channel.name, source = %channel.source, "channel created");
        let tags = self.catalog.read(|tx| tx.tags(&channel.arn))?;
        Ok((channel, tags))
    }

    /// GetChannel: the channel `given` (ARN or ID) names, and its latest ingestion.
    pub fn get(
        &self,
        account: &str,
        region: &str,
        given: &str,
    ) -> Result<(Channel, IngestionStatus), LakeError> {
        let c = self
            .catalog
            .transaction(|tx| self.find(tx, account, region, given))?;
        let status = self
            .status
            .lock()
            .ok()
            .and_then(|s| s.get(&c.arn).cloned())
            .unwrap_or_default();
        Ok((c, status))
    }

    /// ListChannels: the channels of `account` in `region`, oldest first, `max_results`
    /// (1..=1000, default 1000) at a time.
    pub fn list(
        &self,
        account: &str,
        region: &str,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<ChannelPage, LakeError> {
        let limit = match max_results {
            None => MAX_LIST_RESULTS,
            Some(n) if (1..=MAX_LIST_RESULTS as i64).contains(&n) => n as usize,
            Some(n) => {
                return Err(LakeError::InvalidParameter(format!(
                    "MaxResults {n} is not valid: it must be from 1 to {MAX_LIST_RESULTS}."
                )));
            }
        };
        let after = next_token
            .map(|t| decode_token(t, account, region))
            .transpose()?;
        let mut all: Vec<Channel> = self
            .catalog
            .read(|tx| tx.list(KIND, account, Some(region)))?;
        all.sort_by(|a, b| {
            (a.created.timestamp_micros(), &a.id).cmp(&(b.created.timestamp_micros(), &b.id))
        });
        // A position, not an index: channels deleted between pages do not shift later ones.
        if let Some((micros, id)) = &after {
            all.retain(|c| (c.created.timestamp_micros(), &c.id) > (*micros, id));
        }
        let more = all.len() > limit;
        all.truncate(limit);
        let next_token = if more {
            all.last().map(encode_token)
        } else {
            None
        };
        Ok(ChannelPage {
            channels: all,
            next_token,
        })
    }

    /// Every channel of every account and region.
    pub fn list_all(&self) -> Result<Vec<Channel>, LakeError> {
        Ok(self.catalog.read(|tx| tx.list_all(KIND))?)
    }

    /// UpdateChannel: a new name and/or a new set of destinations.
    pub fn update(
        &self,
        account: &str,
        region: &str,
        req: UpdateChannel,
    ) -> Result<Channel, LakeError> {
        if let Some(n) = &req.name {
            validate_name(n)?;
        }
        let c = self.catalog.transaction(|tx| {
            let mut c = self.find(tx, account, region, &req.channel)?;
            if let Some(n) = &req.name
                && *n != c.name
            {
                let taken = tx
                    .list::<Channel>(KIND, account, Some(region))?
                    .iter()
                    .any(|o| o.name == *n && o.arn != c.arn);
                if taken {
                    return Err(LakeError::ChannelAlreadyExists(format!(
                        "A channel named {n} already exists in account {account}, region {region}."
                    )));
                }
                c.name = n.clone();
            }
            if let Some(d) = &req.destinations {
                check_destinations(tx, account, region, d)?;
                c.destinations = d.clone();
            }
            c.updated = Utc::now();
            tx.put(&c.key(), &c)?;
            Ok(c)
        })?;
        tracing::info!(arn = %c.arn, "channel updated");
        Ok(c)
    }

    /// DeleteChannel: the channel and its tags go; what its stores hold stays.
    pub fn delete(&self, account: &str, region: &str, given: &str) -> Result<(), LakeError> {
        let arn = self.catalog.transaction(|tx| {
            let c = self.find(tx, account, region, given)?;
            tx.delete(&c.arn)?;
            Ok::<_, LakeError>(c.arn)
        })?;
        if let Ok(mut s) = self.status.lock() {
            s.remove(&arn);
        }
        tracing::info!(arn = %arn, "channel deleted");
        Ok(())
    }

    /// The channel PutAuditEvents names (`channelArn`: ARN or ID), for a caller of `account`
    /// in `region`: `ChannelARNInvalidException` for what is not a channel ARN,
    /// `ChannelNotFoundException` when there is no such channel here,
    /// `ChannelInsufficientPermission` when it belongs to another account.
    pub fn for_put(&self, account: &str, region: &str, given: &str) -> Result<Channel, LakeError> {
        let (arn, owner, arn_region) = parse_channel(given, account, region)?;
        let found = self.catalog.read(|tx| tx.get::<Channel>(&arn))?;
        match found {
            Some(c) if c.account != account => {
                Err(LakeError::ChannelInsufficientPermission(format!(
                    "The channel {arn} belongs to account {}; only its owner can put events into it.",
                    c.account
                )))
            }
            Some(c) if c.region == region => Ok(c),
            _ if arn_region != region => Err(LakeError::ChannelNotFound(format!(
                "The channel {given} was not found in {region}: send PutAuditEvents to the channel's region ({arn_region})."
            ))),
            _ => Err(not_found(given, &owner, region)),
        }
    }

    /// Records the outcome of one PutAuditEvents call on channel `arn`: the last accepted
    /// event's id (if any) and the last refused event's error code (if any).
    pub fn record_ingestion(
        &self,
        arn: &str,
        at: DateTime<Utc>,
        last_success: Option<&str>,
        last_error: Option<&str>,
    ) {
        let Ok(mut all) = self.status.lock() else {
            return;
        };
        let s = all.entry(arn.to_owned()).or_default();
        s.latest_attempt_time = Some(at);
        s.latest_attempt_event_id = last_success.map(str::to_owned);
        if let Some(id) = last_success {
            s.latest_success_time = Some(at);
            s.latest_success_event_id = Some(id.to_owned());
        }
        if let Some(code) = last_error {
            s.latest_error_code = Some(code.to_owned());
        }
    }

    /// The channel a tag operation names: only its ARN is accepted.
    fn tag_target(
        &self,
        tx: &Tx<'_>,
        account: &str,
        region: &str,
        resource: &str,
    ) -> Result<Channel, LakeError> {
        if !resource.starts_with("arn:") {
            return Err(LakeError::ChannelArnInvalid(format!(
                "{resource} is not an ARN: tag operations take the channel's ARN."
            )));
        }
        self.find(tx, account, region, resource)
    }

    /// AddTags on a channel (existing keys are overwritten; at most 50 tags).
    pub fn add_tags(
        &self,
        account: &str,
        region: &str,
        resource: &str,
        tags: &[Tag],
    ) -> Result<(), LakeError> {
        validate_tags(tags)?;
        self.catalog.transaction(|tx| {
            let c = self.tag_target(tx, account, region, resource)?;
            add_tags_within_limit(tx, &c.arn, tags)
        })
    }

    /// RemoveTags on a channel (a value given must match too).
    pub fn remove_tags(
        &self,
        account: &str,
        region: &str,
        resource: &str,
        tags: &[Tag],
    ) -> Result<(), LakeError> {
        validate_tags(tags)?;
        self.catalog.transaction(|tx| {
            let c = self.tag_target(tx, account, region, resource)?;
            Ok(tx.remove_tags(&c.arn, tags)?)
        })
    }

    /// ListTags of one channel; an unknown channel is `ResourceNotFoundException`, as
    /// ListTags names it.
    pub fn list_tags(
        &self,
        account: &str,
        region: &str,
        resource: &str,
    ) -> Result<Vec<Tag>, LakeError> {
        self.catalog.transaction(|tx| {
            let c = self
                .tag_target(tx, account, region, resource)
                .map_err(|e| match e {
                    LakeError::ChannelNotFound(_) => {
                        LakeError::ResourceNotFound(format!("Resource {resource} does not exist."))
                    }
                    other => other,
                })?;
            Ok(tx.tags(&c.arn)?)
        })
    }
}

#[cfg(test)]
mod tests;
