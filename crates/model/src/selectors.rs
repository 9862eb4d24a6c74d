//! Event selectors (basic and advanced) and the one evaluator that decides whether an event
//! is selected: used by trails and by the lake's event data stores alike.
//!
//! Basic selectors: an event matches when any selector matches; a management event matches a
//! selector that includes management events with an agreeing read/write type and no excluded
//! source; a data event matches when a data resource of its type has a value that prefixes
//! the resource's ARN. Advanced selectors: a selector matches when all its field selectors do
//! (AND across fields; within one field, every operator given must hold; a positive operator
//! holds when any of its values matches, a negative one when none does), and an event matches
//! when any selector does.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// `ReadWriteType` of a basic selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ReadWriteType {
    /// Read-only events.
    ReadOnly,
    /// Write events.
    WriteOnly,
    /// Both.
    #[default]
    All,
}

fn yes() -> bool {
    true
}

/// A basic event selector (`EventSelector`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventSelector {
    /// Which events by read/write type.
    #[serde(default)]
    pub read_write_type: ReadWriteType,
    /// Whether management events are logged.
    #[serde(default = "yes")]
    pub include_management_events: bool,
    /// Data event resources.
    #[serde(default)]
    pub data_resources: Vec<DataResource>,
    /// Management event sources to leave out (`kms.amazonaws.com`, `rdsdata.amazonaws.com`).
    #[serde(default)]
    pub exclude_management_event_sources: Vec<String>,
}

/// A `DataResource` of a basic selector: a resource type and ARN prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataResource {
    /// `AWS::S3::Object`, `AWS::Lambda::Function`, `AWS::DynamoDB::Table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// ARN prefixes.
    #[serde(default)]
    pub values: Vec<String>,
}

/// An advanced event selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdvancedEventSelector {
    /// Optional descriptive name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Conditions, all of which must hold.
    pub field_selectors: Vec<AdvancedFieldSelector>,
}

/// One condition on one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AdvancedFieldSelector {
    /// The field, e.g. `eventCategory`, `resources.type`.
    pub field: String,
    /// The field equals one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Vec<String>>,
    /// The field starts with one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_with: Option<Vec<String>>,
    /// The field ends with one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_with: Option<Vec<String>>,
    /// The field equals none of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_equals: Option<Vec<String>>,
    /// The field starts with none of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_starts_with: Option<Vec<String>>,
    /// The field ends with none of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_ends_with: Option<Vec<String>>,
}

/// A trail's or event data store's selectors: basic or advanced, never both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Selectors {
    /// Basic `EventSelectors`.
    Basic(Vec<EventSelector>),
    /// `AdvancedEventSelectors`.
    Advanced(Vec<AdvancedEventSelector>),
}

impl Default for Selectors {
    /// What a new trail logs: all management events, no data events.
    fn default() -> Self {
        Selectors::Basic(vec![EventSelector {
            read_write_type: ReadWriteType::All,
            include_management_events: true,
            data_resources: Vec::new(),
            exclude_management_event_sources: Vec::new(),
        }])
    }
}

/// The facts of an event that selectors look at, borrowed from the record.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventFacts<'a> {
    /// `eventCategory` (absent on old records: then `managementEvent` decides).
    #[serde(rename = "eventCategory", borrow, default)]
    pub event_category: Option<Cow<'a, str>>,
    /// `managementEvent`.
    #[serde(rename = "managementEvent", default)]
    pub management_event: Option<bool>,
    /// `readOnly`.
    #[serde(rename = "readOnly", default)]
    pub read_only: Option<bool>,
    /// `eventSource`.
    #[serde(rename = "eventSource", borrow, default)]
    pub event_source: Option<Cow<'a, str>>,
    /// `eventName`.
    #[serde(rename = "eventName", borrow, default)]
    pub event_name: Option<Cow<'a, str>>,
    /// `eventType`.
    #[serde(rename = "eventType", borrow, default)]
    pub event_type: Option<Cow<'a, str>>,
    /// `errorCode`.
    #[serde(rename = "errorCode", borrow, default)]
    pub error_code: Option<Cow<'a, str>>,
    /// `vpcEndpointId`.
    #[serde(rename = "vpcEndpointId", borrow, default)]
    pub vpc_endpoint_id: Option<Cow<'a, str>>,
    /// `sessionCredentialFromConsole`.
    #[serde(rename = "sessionCredentialFromConsole", borrow, default)]
    pub session_credential_from_console: Option<Cow<'a, str>>,
    /// `resources`.
    #[serde(borrow, default)]
    pub resources: Option<Vec<ResourceFacts<'a>>>,
    /// `userIdentity.arn`.
    #[serde(rename = "userIdentity", borrow, default)]
    pub user_identity: Option<IdentityFacts<'a>>,
    /// `awsRegion` (read with the selector facts so that delivery parses a record once).
    #[serde(rename = "awsRegion", borrow, default)]
    pub aws_region: Option<Cow<'a, str>>,
    /// `recipientAccountId`.
    #[serde(rename = "recipientAccountId", borrow, default)]
    pub recipient_account_id: Option<Cow<'a, str>>,
    /// `eventTime` (digests list the oldest and newest event time of each log file).
    #[serde(rename = "eventTime", borrow, default)]
    pub event_time: Option<Cow<'a, str>>,
    /// `requestParameters.name`, by which a trail recognises its own StartLogging calls.
    #[serde(rename = "requestParameters", borrow, default)]
    pub request_parameters: Option<RequestFacts<'a>>,
}

/// The `name` request parameter of [`EventFacts`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestFacts<'a> {
    /// `requestParameters.name`.
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
}

/// One resource of [`EventFacts`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResourceFacts<'a> {
    /// `type`.
    #[serde(rename = "type", borrow, default)]
    pub r#type: Option<Cow<'a, str>>,
    /// `ARN`.
    #[serde(rename = "ARN", borrow, default)]
    pub arn: Option<Cow<'a, str>>,
}

/// The identity facts of [`EventFacts`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdentityFacts<'a> {
    /// `userIdentity.arn`.
    #[serde(borrow, default)]
    pub arn: Option<Cow<'a, str>>,
}

impl<'a> EventFacts<'a> {
    /// Reads the facts from a record's JSON; an unreadable record has no facts.
    pub fn parse(json: &'a [u8]) -> Option<EventFacts<'a>> {
        serde_json::from_slice(json).ok()
    }

    /// The event's category, defaulting as CloudTrail does for records that predate it.
    pub fn category(&self) -> &str {
        match self.event_category.as_deref() {
            Some(c) => c,
            None if self.event_type.as_deref() == Some("AwsCloudTrailInsight") => "Insight",
            None if self.management_event == Some(false) => "Data",
            None => "Management",
        }
    }

    fn read_only_str(&self) -> Option<&'static str> {
        self.read_only.map(|r| if r { "true" } else { "false" })
    }

    /// Every value the event has for an advanced-selector field.
    fn field(&self, field: &str) -> Vec<&str> {
        fn one(v: Option<&str>) -> Vec<&str> {
            v.into_iter().collect()
        }
        match field {
            "eventCategory" => vec![self.category()],
            "eventSource" => one(self.event_source.as_deref()),
            "eventName" => one(self.event_name.as_deref()),
            "eventType" => one(self.event_type.as_deref()),
            "readOnly" => one(self.read_only_str()),
            "errorCode" => one(self.error_code.as_deref()),
            "vpcEndpointId" => one(self.vpc_endpoint_id.as_deref()),
            "sessionCredentialFromConsole" => one(self.session_credential_from_console.as_deref()),
            "userIdentity.arn" => one(self.user_identity.as_ref().and_then(|i| i.arn.as_deref())),
            "resources.type" => self
                .resources
                .iter()
                .flatten()
                .filter_map(|r| r.r#type.as_deref())
                .collect(),
            "resources.ARN" => self
                .resources
                .iter()
                .flatten()
                .filter_map(|r| r.arn.as_deref())
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl ReadWriteType {
    fn admits(self, read_only: Option<bool>) -> bool {
        match self {
            ReadWriteType::All => true,
            ReadWriteType::ReadOnly => read_only == Some(true),
            ReadWriteType::WriteOnly => read_only == Some(false),
        }
    }
}

impl EventSelector {
    /// Whether this selector selects the event.
    pub fn matches(&self, ev: &EventFacts<'_>) -> bool {
        if !self.read_write_type.admits(ev.read_only) {
            return false;
        }
        match ev.category() {
            "Management" => {
                self.include_management_events
                    && !ev.event_source.as_deref().is_some_and(|s| {
                        self.exclude_management_event_sources.iter().any(|x| x == s)
                    })
            }
            "Data" => self.data_resources.iter().any(|d| {
                ev.resources.iter().flatten().any(|r| {
                    r.r#type
                        .as_deref()
                        .is_some_and(|t| Some(t) == d.r#type.as_deref())
                        && r.arn
                            .as_deref()
                            .is_some_and(|arn| d.values.iter().any(|v| arn.starts_with(v.as_str())))
                })
            }),
            _ => false,
        }
    }

    /// The advanced selectors equivalent to this basic selector (as the console converts them).
    pub fn to_advanced(&self) -> Vec<AdvancedEventSelector> {
        let rw = match self.read_write_type {
            ReadWriteType::All => None,
            ReadWriteType::ReadOnly => Some("true"),
            ReadWriteType::WriteOnly => Some("false"),
        };
        let field = |f: &str| AdvancedFieldSelector {
            field: f.into(),
            ..Default::default()
        };
        let eq = |f: &str, v: &[&str]| AdvancedFieldSelector {
            equals: Some(v.iter().map(|s| s.to_string()).collect()),
            ..field(f)
        };
        let mut out = Vec::new();
        if self.include_management_events {
            let mut fs = vec![eq("eventCategory", &["Management"])];
            if let Some(r) = rw {
                fs.push(eq("readOnly", &[r]));
            }
            if !self.exclude_management_event_sources.is_empty() {
                fs.push(AdvancedFieldSelector {
                    not_equals: Some(self.exclude_management_event_sources.clone()),
                    ..field("eventSource")
                });
            }
            out.push(AdvancedEventSelector {
                name: Some("Management events".into()),
                field_selectors: fs,
            });
        }
        for d in &self.data_resources {
            let Some(t) = &d.r#type else { continue };
            let mut fs = vec![eq("eventCategory", &["Data"]), eq("resources.type", &[t])];
            fs.push(AdvancedFieldSelector {
                starts_with: Some(d.values.clone()),
                ..field("resources.ARN")
            });
            if let Some(r) = rw {
                fs.push(eq("readOnly", &[r]));
            }
            out.push(AdvancedEventSelector {
                name: Some(format!("{t} data events")),
                field_selectors: fs,
            });
        }
        out
    }
}

impl AdvancedFieldSelector {
    /// Whether the event satisfies every operator of this condition.
    pub fn matches(&self, ev: &EventFacts<'_>) -> bool {
        self.matches_values(&ev.field(&self.field))
    }

    fn is_resource_field(&self) -> bool {
        self.field.starts_with("resources.")
    }

    /// Whether a field with these values satisfies every operator.
    fn matches_values(&self, values: &[&str]) -> bool {
        let any = |list: &Option<Vec<String>>, test: &dyn Fn(&str, &str) -> bool| {
            list.as_ref()
                .is_none_or(|l| values.iter().any(|v| l.iter().any(|x| test(v, x))))
        };
        let none = |list: &Option<Vec<String>>, test: &dyn Fn(&str, &str) -> bool| {
            list.as_ref()
                .is_none_or(|l| !values.iter().any(|v| l.iter().any(|x| test(v, x))))
        };
        any(&self.equals, &|v, x| v == x)
            && any(&self.starts_with, &|v, x| v.starts_with(x))
            && any(&self.ends_with, &|v, x| v.ends_with(x))
            && none(&self.not_equals, &|v, x| v == x)
            && none(&self.not_starts_with, &|v, x| v.starts_with(x))
            && none(&self.not_ends_with, &|v, x| v.ends_with(x))
    }

    /// Every operator's values, in a fixed order (for counting and validation).
    pub fn operators(&self) -> [(&'static str, Option<&Vec<String>>); 6] {
        [
            ("Equals", self.equals.as_ref()),
            ("StartsWith", self.starts_with.as_ref()),
            ("EndsWith", self.ends_with.as_ref()),
            ("NotEquals", self.not_equals.as_ref()),
            ("NotStartsWith", self.not_starts_with.as_ref()),
            ("NotEndsWith", self.not_ends_with.as_ref()),
        ]
    }
}

impl AdvancedEventSelector {
    /// Whether every condition holds. Conditions on `resources.*` fields must all hold for the
    /// same resource, as a basic selector's data resource (type and ARN) does.
    pub fn matches(&self, ev: &EventFacts<'_>) -> bool {
        let others_hold = self
            .field_selectors
            .iter()
            .filter(|f| !f.is_resource_field())
            .all(|f| f.matches(ev));
        if !others_hold {
            return false;
        }
        let resource_conditions: Vec<&AdvancedFieldSelector> = self
            .field_selectors
            .iter()
            .filter(|f| f.is_resource_field())
            .collect();
        if resource_conditions.is_empty() {
            return true;
        }
        let resources = ev.resources.as_deref().unwrap_or_default();
        if resources.is_empty() {
            // No resource: each condition judged on an absent value (negative ones hold).
            return resource_conditions.iter().all(|f| f.matches_values(&[]));
        }
        resources.iter().any(|r| {
            resource_conditions.iter().all(|f| {
                let v = match f.field.as_str() {
                    "resources.type" => r.r#type.as_deref(),
                    _ => r.arn.as_deref(),
                };
                f.matches_values(&v.into_iter().collect::<Vec<_>>())
            })
        })
    }
}

impl Selectors {
    /// Whether the event is selected.
    pub fn matches(&self, ev: &EventFacts<'_>) -> bool {
        match self {
            Selectors::Basic(s) => s.iter().any(|x| x.matches(ev)),
            Selectors::Advanced(s) => s.iter().any(|x| x.matches(ev)),
        }
    }

    /// Whether these are the defaults of a new trail (`HasCustomEventSelectors` is false).
    pub fn is_default(&self) -> bool {
        *self == Selectors::default()
    }

    /// Whether the selectors can select write (or read) management events, for insights.
    pub fn selects_management(&self, read_only: bool) -> bool {
        let ev = EventFacts {
            event_category: Some("Management".into()),
            read_only: Some(read_only),
            ..EventFacts::default()
        };
        match self {
            Selectors::Basic(s) => s
                .iter()
                .any(|x| x.include_management_events && x.read_write_type.admits(Some(read_only))),
            Selectors::Advanced(_) => self.matches(&ev),
        }
    }
}

/// Who the selectors belong to: trails and event data stores accept different fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectorOwner {
    /// A trail.
    Trail,
    /// A CloudTrail Lake event data store.
    EventDataStore,
}

/// A selector that is not valid, with a message naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError(pub String);

const BASIC_TYPES: [&str; 3] = [
    "AWS::S3::Object",
    "AWS::Lambda::Function",
    "AWS::DynamoDB::Table",
];
const EXCLUDABLE: [&str; 2] = ["kms.amazonaws.com", "rdsdata.amazonaws.com"];

/// Checks basic selectors (trails only): at most 5, at most 250 data resource values, known
/// types with ARN-shaped values, excludable sources only.
pub fn validate_basic(selectors: &[EventSelector]) -> Result<(), SelectorError> {
    let bad = |m: String| Err(SelectorError(m));
    if selectors.is_empty() || selectors.len() > 5 {
        return bad(format!(
            "You can specify from 1 to 5 event selectors; {} were given.",
            selectors.len()
        ));
    }
    let mut values = 0;
    for (i, s) in selectors.iter().enumerate() {
        for src in &s.exclude_management_event_sources {
            if !EXCLUDABLE.contains(&src.as_str()) {
                return bad(format!(
                    "Event selector {}: ExcludeManagementEventSources may only contain kms.amazonaws.com and rdsdata.amazonaws.com, not {src:?}.",
                    i + 1
                ));
            }
        }
        for d in &s.data_resources {
            let Some(t) = d.r#type.as_deref() else {
                return bad(format!(
                    "Event selector {}: a DataResource needs a Type.",
                    i + 1
                ));
            };
            let prefix = match t {
                "AWS::S3::Object" => "arn:aws:s3",
                "AWS::Lambda::Function" => "arn:aws:lambda",
                "AWS::DynamoDB::Table" => "arn:aws:dynamodb",
                other => {
                    return bad(format!(
                        "Event selector {}: DataResource type {other:?} is not supported by basic event selectors; use {} or advanced event selectors.",
                        i + 1,
                        BASIC_TYPES.join(", ")
                    ));
                }
            };
            if d.values.is_empty() {
                return bad(format!(
                    "Event selector {}: DataResource {t} needs at least one value.",
                    i + 1
                ));
            }
            for v in &d.values {
                if !v.starts_with(prefix) {
                    return bad(format!(
                        "Value {v} for DataResources.Values is invalid: {t} values must start with {prefix}."
                    ));
                }
            }
            values += d.values.len();
        }
    }
    if values > 250 {
        return bad(format!(
            "A trail can have at most 250 data resource values across its event selectors; {values} were given."
        ));
    }
    Ok(())
}

/// Checks advanced selectors for a trail or an event data store.
pub fn validate_advanced(
    selectors: &[AdvancedEventSelector],
    owner: SelectorOwner,
) -> Result<(), SelectorError> {
    let bad = |m: String| Err(SelectorError(m));
    let max = if owner == SelectorOwner::Trail {
        500
    } else {
        5
    };
    if selectors.is_empty() || selectors.len() > max {
        return bad(format!(
            "You can specify from 1 to {max} advanced event selectors; {} were given.",
            selectors.len()
        ));
    }
    let trail = owner == SelectorOwner::Trail;
    let categories: &[&str] = if trail {
        &["Management", "Data", "NetworkActivity"]
    } else {
        &[
            "Management",
            "Data",
            "NetworkActivity",
            "Insight",
            "ConfigurationItem",
            "Evidence",
            "ActivityAuditLog",
        ]
    };
    let mut total = 0usize;
    for (i, s) in selectors.iter().enumerate() {
        let n = i + 1;
        if let Some(name) = &s.name
            && name.chars().count() > 1000
        {
            return bad(format!(
                "Advanced event selector {n}: Name is longer than 1000 characters."
            ));
        }
        if s.field_selectors.is_empty() {
            return bad(format!(
                "Advanced event selector {n} has no field selectors."
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &s.field_selectors {
            if !seen.insert(f.field.as_str()) {
                return bad(format!(
                    "Advanced event selector {n}: field {} appears more than once.",
                    f.field
                ));
            }
            let known = [
                "eventCategory",
                "eventSource",
                "eventName",
                "eventType",
                "readOnly",
                "resources.type",
                "resources.ARN",
                "userIdentity.arn",
                "errorCode",
                "vpcEndpointId",
                "sessionCredentialFromConsole",
            ];
            if !known.contains(&f.field.as_str()) {
                return bad(format!(
                    "Advanced event selector {n}: field {:?} is not a valid field. Valid fields: {}.",
                    f.field,
                    known.join(", ")
                ));
            }
            let ops: Vec<_> = f
                .operators()
                .into_iter()
                .filter_map(|(op, v)| v.map(|v| (op, v)))
                .collect();
            if ops.is_empty() {
                return bad(format!(
                    "Advanced event selector {n}: field {} has no operator.",
                    f.field
                ));
            }
            for (op, values) in &ops {
                if values.is_empty() {
                    return bad(format!(
                        "Advanced event selector {n}: {op} of field {} needs at least one value.",
                        f.field
                    ));
                }
                if let Some(v) = values
                    .iter()
                    .find(|v| v.is_empty() || v.chars().count() > 2048)
                {
                    return bad(format!(
                        "Advanced event selector {n}: value {v:?} of field {} must be 1 to 2048 characters.",
                        f.field
                    ));
                }
                total += values.len();
            }
            let equals_only = matches!(
                f.field.as_str(),
                "eventCategory" | "resources.type" | "readOnly"
            );
            if equals_only && (ops.len() != 1 || ops[0].0 != "Equals") {
                return bad(format!(
                    "Advanced event selector {n}: field {} supports only the Equals operator.",
                    f.field
                ));
            }
            if f.field == "readOnly"
                && f.equals
                    .as_ref()
                    .is_some_and(|v| v.iter().any(|x| x != "true" && x != "false"))
            {
                return bad(format!(
                    "Advanced event selector {n}: readOnly can only equal \"true\" or \"false\"."
                ));
            }
        }
        let cats: Vec<&str> = s
            .field_selectors
            .iter()
            .find(|f| f.field == "eventCategory")
            .and_then(|f| f.equals.as_ref())
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default();
        if cats.is_empty() {
            return bad(format!(
                "Advanced event selector {n} must have an eventCategory field selector with Equals."
            ));
        }
        if let Some(c) = cats.iter().find(|c| !categories.contains(c)) {
            return bad(format!(
                "Advanced event selector {n}: eventCategory {c:?} is not valid here; use {}.",
                categories.join(", ")
            ));
        }
        let types = s
            .field_selectors
            .iter()
            .find(|f| f.field == "resources.type");
        if cats.contains(&"Data") {
            match types.and_then(|t| t.equals.as_ref()) {
                Some(v) if v.len() == 1 => {}
                _ => {
                    return bad(format!(
                        "Advanced event selector {n}: data event selectors need a resources.type field selector with exactly one Equals value."
                    ));
                }
            }
        }
        if trail && cats == ["Management"] {
            for f in &s.field_selectors {
                if !matches!(
                    f.field.as_str(),
                    "eventCategory" | "readOnly" | "eventSource"
                ) {
                    return bad(format!(
                        "Advanced event selector {n}: field {} cannot select management events on a trail.",
                        f.field
                    ));
                }
                if f.field == "eventSource"
                    && (f.not_equals.is_none()
                        || f.operators().iter().filter(|(_, v)| v.is_some()).count() != 1
                        || f.not_equals
                            .iter()
                            .flatten()
                            .any(|v| !EXCLUDABLE.contains(&v.as_str())))
                {
                    return bad(format!(
                        "Advanced event selector {n}: for management events on a trail, eventSource can only be NotEquals kms.amazonaws.com or rdsdata.amazonaws.com."
                    ));
                }
            }
        }
    }
    if total > 500 {
        return bad(format!(
            "Advanced event selectors can have at most 500 values in all conditions; {total} were given."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
