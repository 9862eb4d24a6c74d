//! Checks a record sent by a client before it is accepted, without building a full [`Record`].
//!
//! This is the hot path of ingest: [`RecordView`] borrows the few members that decide
//! acceptance and indexing, and the record's bytes are stored as received (plus an `eventID`
//! when the sender did not give one), so nothing the sender wrote is lost or reordered.
//!
//! [`Record`]: crate::Record

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::record::{EventCategory, EventType};

/// Largest record accepted, in bytes of JSON (AWS's limit since eventVersion 1.05).
pub const MAX_RECORD_BYTES: usize = 256 * 1024;

/// Longest `eventSource` / `eventName` accepted.
const MAX_NAME_CHARS: usize = 1024;

/// The members of a record that ingest and the indexes read, borrowed from the JSON text.
#[derive(Debug, Deserialize)]
pub struct RecordView<'a> {
    /// `eventVersion`.
    #[serde(rename = "eventVersion", borrow, default)]
    pub event_version: Option<Cow<'a, str>>,
    /// `eventTime`.
    #[serde(rename = "eventTime", borrow, default)]
    pub event_time: Option<Cow<'a, str>>,
    /// `eventSource`.
    #[serde(rename = "eventSource", borrow, default)]
    pub event_source: Option<Cow<'a, str>>,
    /// `eventName`.
    #[serde(rename = "eventName", borrow, default)]
    pub event_name: Option<Cow<'a, str>>,
    /// `awsRegion`.
    #[serde(rename = "awsRegion", borrow, default)]
    pub aws_region: Option<Cow<'a, str>>,
    /// `eventID`.
    #[serde(rename = "eventID", borrow, default)]
    pub event_id: Option<Cow<'a, str>>,
    /// `eventType`.
    #[serde(rename = "eventType", borrow, default)]
    pub event_type: Option<Cow<'a, str>>,
    /// `eventCategory`.
    #[serde(rename = "eventCategory", borrow, default)]
    pub event_category: Option<Cow<'a, str>>,
    /// `recipientAccountId`.
    #[serde(rename = "recipientAccountId", borrow, default)]
    pub recipient_account_id: Option<Cow<'a, str>>,
    /// `readOnly`.
    #[serde(rename = "readOnly", default)]
    pub read_only: Option<bool>,
    /// `managementEvent`.
    #[serde(rename = "managementEvent", default)]
    pub management_event: Option<bool>,
    /// `userIdentity`, unparsed.
    #[serde(rename = "userIdentity", borrow, default)]
    pub user_identity: Option<&'a RawValue>,
}

/// Why a record was refused; the codes are those PutAuditEvents uses for per-event failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingErrorCode {
    /// Not a JSON object, a member of the wrong type, an unknown enum value, a bad time.
    InvalidData,
    /// A required member is missing or `null`.
    FieldNotFound,
    /// The record or one of its members is over its size limit.
    FieldTooLong,
    /// PutAuditEvents: `eventDataChecksum` is not the SHA-256 of `eventData`.
    InvalidChecksum,
    /// PutAuditEvents: `recipientAccountId` is not the channel owner's account.
    InvalidRecipient,
}

impl IncomingErrorCode {
    /// The code as sent to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            IncomingErrorCode::InvalidData => "InvalidData",
            IncomingErrorCode::FieldNotFound => "FieldNotFound",
            IncomingErrorCode::FieldTooLong => "FieldTooLong",
            IncomingErrorCode::InvalidChecksum => "InvalidChecksum",
            IncomingErrorCode::InvalidRecipient => "InvalidRecipient",
        }
    }
}

/// A refused record: a code and a message that tells the sender what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingError {
    /// The machine-readable reason.
    pub code: IncomingErrorCode,
    /// What was wrong, naming the member.
    pub message: String,
}

impl IncomingError {
    fn new(code: IncomingErrorCode, message: impl Into<String>) -> Self {
        IncomingError {
            code,
            message: message.into(),
        }
    }
}

/// A record that passed [`validate_incoming`], ready to be stored.
#[derive(Debug)]
pub struct ValidRecord<'a> {
    raw: &'a str,
    /// The decisive members, borrowed from the record.
    pub view: RecordView<'a>,
    /// The `eventID` opentrail assigned, when the sender gave none.
    pub assigned_event_id: Option<String>,
}

impl ValidRecord<'_> {
    /// The record's `eventID`: the sender's, or the one assigned.
    pub fn event_id(&self) -> &str {
        self.assigned_event_id
            .as_deref()
            .or(self.view.event_id.as_deref())
            .unwrap_or_default()
    }

    /// The bytes to store: the record as sent, with an assigned `eventID` spliced in first.
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.assigned_event_id {
            None => self.raw.as_bytes().to_vec(),
            Some(id) => {
                // `raw` starts with `{` and holds at least one member (validation needs several).
                let rest = &self.raw[1..];
                let mut out = Vec::with_capacity(self.raw.len() + id.len() + 16);
                out.extend_from_slice(b"{\"eventID\":\"");
                out.extend_from_slice(id.as_bytes());
                out.extend_from_slice(b"\",");
                out.extend_from_slice(rest.trim_start().as_bytes());
                out
            }
        }
    }
}

/// Checks one record (the JSON text of an object) for ingest.
///
/// Required: `eventVersion`, `eventTime` in AWS form, `awsRegion`; and except for insight
/// events `eventSource`, `eventName` and a `userIdentity` object with a `type`. `eventType` and
/// `eventCategory` must be known values when present. An absent `eventID` is assigned.
pub fn validate_incoming(raw: &str) -> Result<ValidRecord<'_>, IncomingError> {
    use IncomingErrorCode::*;
    let raw = raw.trim();
    if raw.len() > MAX_RECORD_BYTES {
        return Err(IncomingError::new(
            FieldTooLong,
            format!(
                "record is {} bytes; the limit is {MAX_RECORD_BYTES} bytes",
                raw.len()
            ),
        ));
    }
    if !raw.starts_with('{') {
        return Err(IncomingError::new(
            InvalidData,
            "record must be a JSON object",
        ));
    }
    let view: RecordView<'_> = serde_json::from_str(raw)
        .map_err(|e| IncomingError::new(InvalidData, format!("record is not valid: {e}")))?;

    let required = |v: &Option<Cow<'_, str>>, name: &str| -> Result<(), IncomingError> {
        match v.as_deref() {
            Some(s) if !s.is_empty() => Ok(()),
            _ => Err(IncomingError::new(
                FieldNotFound,
                format!("required member {name} is missing or empty"),
            )),
        }
    };
    required(&view.event_version, "eventVersion")?;
    required(&view.event_time, "eventTime")?;
    required(&view.aws_region, "awsRegion")?;
    let time = view.event_time.as_deref().unwrap_or_default();
    crate::time::parse_event_time(time)
        .map_err(|e| IncomingError::new(InvalidData, e.to_string()))?;

    if let Some(t) = view.event_type.as_deref()
        && EventType::parse(t).is_none()
    {
        return Err(IncomingError::new(
            InvalidData,
            format!("eventType {t:?} is not a CloudTrail event type"),
        ));
    }
    if let Some(c) = view.event_category.as_deref()
        && EventCategory::parse(c).is_none()
    {
        return Err(IncomingError::new(
            InvalidData,
            format!("eventCategory {c:?} is not a CloudTrail event category"),
        ));
    }
    let insight = view.event_type.as_deref() == Some(EventType::AwsCloudTrailInsight.as_str());
    if !insight {
        required(&view.event_source, "eventSource")?;
        required(&view.event_name, "eventName")?;
        check_identity(view.user_identity)?;
    }
    for (name, v) in [
        ("eventSource", &view.event_source),
        ("eventName", &view.event_name),
    ] {
        if v.as_deref()
            .is_some_and(|s| s.chars().count() > MAX_NAME_CHARS)
        {
            return Err(IncomingError::new(
                FieldTooLong,
                format!("{name} is longer than {MAX_NAME_CHARS} characters"),
            ));
        }
    }
    let assigned_event_id = match view.event_id.as_deref() {
        None => Some(crate::ids::new_guid()),
        Some("") => return Err(IncomingError::new(InvalidData, "eventID must not be empty")),
        Some(id) if id.len() > 256 => {
            return Err(IncomingError::new(
                FieldTooLong,
                "eventID is longer than 256 characters",
            ));
        }
        Some(_) => None,
    };
    Ok(ValidRecord {
        raw,
        view,
        assigned_event_id,
    })
}

fn check_identity(raw: Option<&RawValue>) -> Result<(), IncomingError> {
    #[derive(Deserialize)]
    struct IdentityType<'a> {
        #[serde(rename = "type", borrow, default)]
        ty: Option<Cow<'a, str>>,
    }
    let Some(raw) = raw else {
        return Err(IncomingError::new(
            IncomingErrorCode::FieldNotFound,
            "required member userIdentity is missing",
        ));
    };
    let parsed: IdentityType<'_> = serde_json::from_str(raw.get()).map_err(|_| {
        IncomingError::new(
            IncomingErrorCode::InvalidData,
            "userIdentity must be an object with a string member type",
        )
    })?;
    match parsed.ty.as_deref() {
        Some(t) if !t.is_empty() => Ok(()),
        _ => Err(IncomingError::new(
            IncomingErrorCode::FieldNotFound,
            "required member userIdentity.type is missing or empty",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn good() -> Value {
        json!({"eventVersion":"1.11","userIdentity":{"type":"IAMUser","userName":"a"},
            "eventTime":"2026-11-25T10:00:00Z","eventSource":"s3.amazonaws.com",
            "eventName":"ListBuckets","awsRegion":"us-east-1","eventID":"abc"})
    }

    fn check(v: &Value) -> Result<String, IncomingError> {
        let text = v.to_string();
        validate_incoming(&text).map(|r| String::from_utf8(r.to_bytes()).expect("utf8"))
    }

    #[test]
    fn accepts_a_complete_record_unchanged() {
        let text = good().to_string();
        let ok = validate_incoming(&text).expect("valid");
        assert_eq!(ok.event_id(), "abc");
        assert_eq!(ok.to_bytes(), text.as_bytes());
    }

    #[test]
    fn assigns_an_event_id_when_missing() {
        let mut v = good();
        v.as_object_mut().expect("obj").remove("eventID");
        let out: Value = serde_json::from_str(&check(&v).expect("valid")).expect("json");
        let id = out["eventID"].as_str().expect("assigned");
        assert_eq!(id.len(), 36);
        let mut without = out.clone();
        without.as_object_mut().expect("obj").remove("eventID");
        assert_eq!(without, v);
    }

    #[test]
    fn refuses_each_kind_of_bad_record() {
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Mutation, IncomingErrorCode, &str)> = vec![
            (
                Box::new(|v| {
                    v.as_object_mut().map(|o| o.remove("eventTime"));
                }),
                IncomingErrorCode::FieldNotFound,
                "eventTime",
            ),
            (
                Box::new(|v| v["eventTime"] = json!("2026-11-25 10:00:00")),
                IncomingErrorCode::InvalidData,
                "event time",
            ),
            (
                Box::new(|v| v["eventTime"] = json!(1700000000)),
                IncomingErrorCode::InvalidData,
                "invalid type",
            ),
            (
                Box::new(|v| {
                    v.as_object_mut().map(|o| o.remove("eventName"));
                }),
                IncomingErrorCode::FieldNotFound,
                "eventName",
            ),
            (
                Box::new(|v| v["awsRegion"] = json!("")),
                IncomingErrorCode::FieldNotFound,
                "awsRegion",
            ),
            (
                Box::new(|v| v["userIdentity"] = json!("root")),
                IncomingErrorCode::InvalidData,
                "userIdentity",
            ),
            (
                Box::new(|v| v["userIdentity"] = json!({})),
                IncomingErrorCode::FieldNotFound,
                "userIdentity.type",
            ),
            (
                Box::new(|v| v["eventCategory"] = json!("Mgmt")),
                IncomingErrorCode::InvalidData,
                "eventCategory",
            ),
            (
                Box::new(|v| v["eventType"] = json!("ApiCall")),
                IncomingErrorCode::InvalidData,
                "eventType",
            ),
            (
                Box::new(|v| v["readOnly"] = json!("yes")),
                IncomingErrorCode::InvalidData,
                "invalid type",
            ),
            (
                Box::new(|v| v["eventName"] = json!("x".repeat(1025))),
                IncomingErrorCode::FieldTooLong,
                "eventName",
            ),
            (
                Box::new(|v| v["requestParameters"] = json!({"big": "y".repeat(MAX_RECORD_BYTES)})),
                IncomingErrorCode::FieldTooLong,
                "limit",
            ),
        ];
        for (i, (mutate, code, needle)) in cases.into_iter().enumerate() {
            let mut v = good();
            mutate(&mut v);
            let err = check(&v).expect_err(&format!("case {i} must be refused"));
            assert_eq!(err.code, code, "case {i}: {}", err.message);
            assert!(err.message.contains(needle), "case {i}: {}", err.message);
        }
        assert_eq!(
            validate_incoming("[1]").expect_err("array").code,
            IncomingErrorCode::InvalidData
        );
        assert_eq!(
            validate_incoming("{\"a\":").expect_err("torn").code,
            IncomingErrorCode::InvalidData
        );
    }

    #[test]
    fn duplicate_members_are_refused() {
        let text = r#"{"eventVersion":"1.11","eventTime":"2026-11-25T10:00:00Z","eventTime":"2026-11-25T10:00:01Z"}"#;
        assert_eq!(
            validate_incoming(text).expect_err("dup").code,
            IncomingErrorCode::InvalidData
        );
    }

    #[test]
    fn insight_events_need_no_identity() {
        let v = json!({"eventVersion":"1.07","eventTime":"2026-11-25T10:01:00Z","awsRegion":"us-east-1",
            "eventType":"AwsCloudTrailInsight","eventCategory":"Insight","insightDetails":{"state":"Start"}});
        assert!(check(&v).is_ok());
    }
}
