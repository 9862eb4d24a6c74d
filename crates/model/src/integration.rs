//! Integration events (CloudTrail Lake's `PutAuditEvents`): the checks one `eventData`
//! payload must pass, with the per-event failure codes PutAuditEvents answers, and the record
//! CloudTrail stores for an accepted one — the caller's `eventData` untouched, wrapped in what
//! CloudTrail adds (`eventCategory` `ActivityAuditLog`, `eventType` `ActivityLog`, `eventID`,
//! `eventTime`, `awsRegion`, `recipientAccountId`, `metadata{ingestionTime, channelARN}`).

use std::net::IpAddr;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::incoming::{IncomingError, IncomingErrorCode};
use crate::record::{EventCategory, EventType};

/// The `eventVersion` CloudTrail gives integration records. AWS documents the member but not
/// its value; this is the version of the integration schema opentrail writes.
pub const INTEGRATION_EVENT_VERSION: &str = "1.0";

const KB: usize = 1024;

/// The string members of `eventData` with their largest length (characters) and whether they
/// are required, as the CloudTrail Lake integration schema lists them.
const STRINGS: [(&str, usize, bool); 8] = [
    ("version", 256, true),
    ("userAgent", 1024, false),
    ("eventSource", 1024, true),
    ("eventName", 1024, true),
    ("UID", 1024, true),
    ("errorCode", 256, false),
    ("errorMessage", 256, false),
    ("recipientAccountId", 1024, true),
];

/// The object members of `eventData` and their largest size as JSON text (bytes).
const OBJECTS: [(&str, usize); 3] = [
    ("requestParameters", 100 * KB),
    ("responseElements", 100 * KB),
    ("additionalEventData", 28 * KB),
];

/// An `eventData` payload that passed [`validate_event_data`].
#[derive(Debug)]
pub struct ValidEventData<'a> {
    raw: &'a RawValue,
    /// `eventData.eventTime`, which becomes the record's `eventTime`.
    pub event_time: DateTime<Utc>,
}

/// Where and when an accepted integration event arrived: what CloudTrail adds to it.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    /// The `eventID` CloudTrail assigns.
    pub event_id: &'a str,
    /// The region the PutAuditEvents call was made in (`awsRegion`).
    pub region: &'a str,
    /// The channel owner (`recipientAccountId`).
    pub account: &'a str,
    /// The channel's ARN (`metadata.channelARN`).
    pub channel_arn: &'a str,
    /// When CloudTrail received it (`metadata.ingestionTime`).
    pub ingestion_time: DateTime<Utc>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(rename = "ingestionTime")]
    ingestion_time: String,
    #[serde(rename = "channelARN")]
    channel_arn: &'a str,
}

#[derive(Serialize)]
struct IntegrationRecord<'a> {
    #[serde(rename = "eventVersion")]
    event_version: &'a str,
    #[serde(rename = "eventCategory")]
    event_category: &'a str,
    #[serde(rename = "eventType")]
    event_type: &'a str,
    #[serde(rename = "eventID")]
    event_id: &'a str,
    #[serde(rename = "eventTime")]
    event_time: String,
    #[serde(rename = "awsRegion")]
    aws_region: &'a str,
    #[serde(rename = "recipientAccountId")]
    recipient_account_id: &'a str,
    metadata: Metadata<'a>,
    #[serde(rename = "eventData")]
    event_data: &'a RawValue,
}

impl ValidEventData<'_> {
    /// The record CloudTrail stores for this event: the caller's `eventData` as sent (so
    /// `eventjson` shows exactly what arrived) inside CloudTrail's own members.
    pub fn to_record(&self, at: &Arrival<'_>) -> Vec<u8> {
        let record = IntegrationRecord {
            event_version: INTEGRATION_EVENT_VERSION,
            event_category: EventCategory::ActivityAuditLog.as_str(),
            event_type: EventType::ActivityLog.as_str(),
            event_id: at.event_id,
            event_time: crate::time::format_event_time(self.event_time),
            aws_region: at.region,
            recipient_account_id: at.account,
            metadata: Metadata {
                ingestion_time: crate::time::format_event_time(at.ingestion_time),
                channel_arn: at.channel_arn,
            },
            event_data: self.raw,
        };
        // A tree of strings and already-valid JSON text always serialises.
        serde_json::to_vec(&record).unwrap_or_default()
    }
}

fn fail(code: IncomingErrorCode, message: impl Into<String>) -> IncomingError {
    IncomingError {
        code,
        message: message.into(),
    }
}

/// Parses `eventData.eventTime`: `yyyy-MM-ddTHH:mm:ss` in UTC, with an optional `Z` and
/// optional fractions of a second.
pub fn parse_integration_time(s: &str) -> Option<DateTime<Utc>> {
    let body = s.strip_suffix('Z').unwrap_or(s);
    // `%.f` also accepts no fraction; the shape check keeps out offsets and dates alone.
    if body.len() < 19 || body.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    Some(Utc.from_utc_datetime(&naive))
}

/// Checks one audit event's `eventData` (the JSON text the caller sent) against the CloudTrail
/// Lake integration schema, for a channel owned by `owner_account`.
///
/// `FieldNotFound`: a required member is missing, null or empty. `FieldTooLong`: a member is
/// over its limit. `InvalidData`: not a JSON object, a member of the wrong type, a bad time or
/// IP address. `InvalidRecipient`: `recipientAccountId` is not the channel owner.
pub fn validate_event_data<'a>(
    raw: &'a str,
    owner_account: &str,
) -> Result<ValidEventData<'a>, IncomingError> {
    use IncomingErrorCode::*;
    let raw_value: &RawValue = serde_json::from_str(raw)
        .map_err(|e| fail(InvalidData, format!("eventData is not valid JSON: {e}")))?;
    let Value::Object(data) = serde_json::from_str::<Value>(raw_value.get())
        .map_err(|e| fail(InvalidData, format!("eventData is not valid JSON: {e}")))?
    else {
        return Err(fail(InvalidData, "eventData must be a JSON object"));
    };
    let present = |name: &str| data.get(name).filter(|v| !v.is_null());
    let string =
        |obj: &Map<String, Value>, path: &str, name: &str, max: usize, required: bool| match obj
            .get(name)
            .filter(|v| !v.is_null())
        {
            None if required => Err(fail(FieldNotFound, format!("eventData.{path} is required"))),
            None => Ok(None),
            Some(Value::String(s)) if required && s.is_empty() => Err(fail(
                FieldNotFound,
                format!("eventData.{path} must not be empty"),
            )),
            Some(Value::String(s)) if s.chars().count() > max => Err(fail(
                FieldTooLong,
                format!("eventData.{path} is longer than {max} characters"),
            )),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(fail(
                InvalidData,
                format!("eventData.{path} must be a string"),
            )),
        };
    for (name, max, required) in STRINGS {
        string(&data, name, name, max, required)?;
    }
    match present("userIdentity") {
        None => return Err(fail(FieldNotFound, "eventData.userIdentity is required")),
        Some(Value::Object(identity)) => {
            string(identity, "userIdentity.type", "type", 128, true)?;
            string(
                identity,
                "userIdentity.principalId",
                "principalId",
                1024,
                true,
            )?;
            match identity.get("details") {
                None | Some(Value::Null | Value::Object(_)) => {}
                Some(_) => {
                    return Err(fail(
                        InvalidData,
                        "eventData.userIdentity.details must be a JSON object",
                    ));
                }
            }
        }
        Some(_) => {
            return Err(fail(
                InvalidData,
                "eventData.userIdentity must be a JSON object",
            ));
        }
    }
    for (name, max) in OBJECTS {
        match present(name) {
            None => {}
            Some(v @ Value::Object(_)) => {
                let size = v.to_string().len();
                if size > max {
                    return Err(fail(
                        FieldTooLong,
                        format!(
                            "eventData.{name} is {size} bytes; the limit is {} KB",
                            max / KB
                        ),
                    ));
                }
            }
            Some(_) => {
                return Err(fail(
                    InvalidData,
                    format!("eventData.{name} must be a JSON object"),
                ));
            }
        }
    }
    let time = string(&data, "eventTime", "eventTime", 1024, true)?.unwrap_or_default();
    let event_time = parse_integration_time(&time).ok_or_else(|| {
        fail(
            InvalidData,
            format!(
                "eventData.eventTime {time:?} is not a time in the form yyyy-MM-ddTHH:mm:ss (UTC)"
            ),
        )
    })?;
    if let Some(ip) = string(&data, "sourceIPAddress", "sourceIPAddress", 1024, false)?
        && ip.parse::<IpAddr>().is_err()
    {
        return Err(fail(
            InvalidData,
            format!("eventData.sourceIPAddress {ip:?} is not an IPv4 or IPv6 address"),
        ));
    }
    let recipient = string(
        &data,
        "recipientAccountId",
        "recipientAccountId",
        1024,
        true,
    )?
    .unwrap_or_default();
    if recipient != owner_account {
        return Err(fail(
            InvalidRecipient,
            format!(
                "eventData.recipientAccountId {recipient} is not the channel owner's account {owner_account}"
            ),
        ));
    }
    Ok(ValidEventData {
        raw: raw_value,
        event_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OWNER: &str = "123456789012";

    fn event() -> Value {
        json!({
            "version": "1.0",
            "userIdentity": {"type": "CustomUser", "principalId": "alice", "details": {"team": "ops"}},
            "userAgent": "billing-app/2.1",
            "eventSource": "billing.example.com",
            "eventName": "ChargeCard",
            "eventTime": "2026-11-25T10:15:30Z",
            "UID": "evt-0001",
            "requestParameters": {"amount": 12, "currency": "EUR"},
            "responseElements": {"ok": true},
            "sourceIPAddress": "203.0.113.7",
            "recipientAccountId": OWNER,
            "additionalEventData": {"region": "eu"}
        })
    }

    fn check(v: &Value) -> Result<(), (IncomingErrorCode, String)> {
        let text = v.to_string();
        validate_event_data(&text, OWNER)
            .map(|_| ())
            .map_err(|e| (e.code, e.message))
    }

    fn code_of(v: Value) -> IncomingErrorCode {
        check(&v).expect_err("refused").0
    }

    fn with(mut v: Value, path: &[&str], new: Value) -> Value {
        let mut at = &mut v;
        for p in &path[..path.len() - 1] {
            at = &mut at[*p];
        }
        let last = path[path.len() - 1];
        match new {
            Value::Null => {
                at.as_object_mut().expect("object").remove(last);
            }
            other => at[last] = other,
        }
        v
    }

    #[test]
    fn a_complete_event_becomes_an_activity_record() {
        let text = event().to_string();
        let valid = validate_event_data(&text, OWNER).expect("valid");
        let at = Arrival {
            event_id: "0b6e5b5c-5f0e-4d3a-9c51-1a2b3c4d5e6f",
            region: "eu-west-1",
            account: OWNER,
            channel_arn: "arn:aws:cloudtrail:eu-west-1:123456789012:channel/c1",
            ingestion_time: Utc
                .with_ymd_and_hms(2026, 11, 25, 11, 0, 0)
                .single()
                .expect("t"),
        };
        let rec: Value = serde_json::from_slice(&valid.to_record(&at)).expect("json");
        assert_eq!(rec["eventCategory"], "ActivityAuditLog");
        assert_eq!(rec["eventType"], "ActivityLog");
        assert_eq!(rec["eventVersion"], INTEGRATION_EVENT_VERSION);
        assert_eq!(rec["eventID"], at.event_id);
        assert_eq!(rec["eventTime"], "2026-11-25T10:15:30Z");
        assert_eq!(rec["awsRegion"], "eu-west-1");
        assert_eq!(rec["recipientAccountId"], OWNER);
        assert_eq!(
            rec["metadata"],
            json!({"ingestionTime": "2026-11-25T11:00:00Z", "channelARN": at.channel_arn})
        );
        assert_eq!(rec["eventData"], event(), "eventData is kept as sent");
        // Nothing that event history or trails look for at the top level.
        for absent in [
            "eventSource",
            "eventName",
            "userIdentity",
            "managementEvent",
        ] {
            assert!(rec.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn optional_members_may_be_absent_or_null() {
        let mut v = event();
        for name in [
            "userAgent",
            "requestParameters",
            "responseElements",
            "sourceIPAddress",
            "additionalEventData",
        ] {
            v = with(v, &[name], Value::Null);
        }
        v["errorCode"] = Value::Null;
        v["userIdentity"]["details"] = Value::Null;
        check(&v).expect("valid without optional members");
        check(&with(event(), &["sourceIPAddress"], json!("2001:db8::1"))).expect("IPv6");
        check(&with(event(), &["eventTime"], json!("2026-11-25T10:15:30"))).expect("no Z");
        check(&with(
            event(),
            &["eventTime"],
            json!("2026-11-25T10:15:30.250Z"),
        ))
        .expect("fraction");
    }

    #[test]
    fn missing_required_members_are_field_not_found() {
        for path in [
            &["version"][..],
            &["userIdentity"],
            &["userIdentity", "type"],
            &["userIdentity", "principalId"],
            &["eventSource"],
            &["eventName"],
            &["eventTime"],
            &["UID"],
            &["recipientAccountId"],
        ] {
            assert_eq!(
                code_of(with(event(), path, Value::Null)),
                IncomingErrorCode::FieldNotFound,
                "{path:?}"
            );
        }
        assert_eq!(
            code_of(with(event(), &["eventName"], json!(""))),
            IncomingErrorCode::FieldNotFound
        );
        let (_, msg) = check(&with(event(), &["UID"], Value::Null)).expect_err("refused");
        assert!(msg.contains("eventData.UID"), "{msg}");
    }

    #[test]
    fn members_over_their_limits_are_field_too_long() {
        let long = |n: usize| json!("x".repeat(n));
        for (path, max) in [
            (&["version"][..], 256),
            (&["eventName"], 1024),
            (&["eventSource"], 1024),
            (&["UID"], 1024),
            (&["userAgent"], 1024),
            (&["errorCode"], 256),
            (&["errorMessage"], 256),
            (&["userIdentity", "type"], 128),
            (&["userIdentity", "principalId"], 1024),
        ] {
            check(&with(event(), path, long(max))).expect("at the limit");
            assert_eq!(
                code_of(with(event(), path, long(max + 1))),
                IncomingErrorCode::FieldTooLong,
                "{path:?}"
            );
        }
        let big = |n: usize| json!({"k": "v".repeat(n)});
        assert_eq!(
            code_of(with(event(), &["requestParameters"], big(100 * KB))),
            IncomingErrorCode::FieldTooLong
        );
        check(&with(event(), &["requestParameters"], big(99 * KB))).expect("under 100 KB");
        assert_eq!(
            code_of(with(event(), &["additionalEventData"], big(28 * KB))),
            IncomingErrorCode::FieldTooLong
        );
    }

    #[test]
    fn wrong_shapes_are_invalid_data() {
        for bad in ["not json", "[1,2]", "\"text\"", "{\"version\":"] {
            let e = validate_event_data(bad, OWNER).expect_err("refused");
            assert_eq!(e.code, IncomingErrorCode::InvalidData, "{bad}");
        }
        for (path, value) in [
            (&["eventName"][..], json!(7)),
            (&["userIdentity"], json!("alice")),
            (&["userIdentity", "details"], json!("x")),
            (&["requestParameters"], json!([1])),
            (&["responseElements"], json!("ok")),
            (&["eventTime"], json!("25/11/2026 10:15")),
            (&["eventTime"], json!("2026-11-25")),
            (&["eventTime"], json!("2026-11-25T10:15:30+02:00")),
            (&["eventTime"], json!("2026-13-25T10:15:30Z")),
            (&["sourceIPAddress"], json!("10.0.0.300")),
        ] {
            assert_eq!(
                code_of(with(event(), path, value.clone())),
                IncomingErrorCode::InvalidData,
                "{path:?} = {value}"
            );
        }
    }

    #[test]
    fn the_recipient_must_be_the_channel_owner() {
        let e = validate_event_data(&event().to_string(), "210987654321").expect_err("refused");
        assert_eq!(e.code, IncomingErrorCode::InvalidRecipient);
        assert!(e.message.contains("210987654321"), "{}", e.message);
        assert_eq!(
            code_of(with(
                event(),
                &["recipientAccountId"],
                json!("1234567890123")
            )),
            IncomingErrorCode::InvalidRecipient
        );
    }
}
