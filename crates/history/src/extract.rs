//! What the history index takes from a record: whether it belongs in event history at all,
//! its partition (account and region), time, and the values of the eight lookup attributes.

use std::borrow::Cow;

use serde::Deserialize;

/// The lookup attributes of LookupEvents, plus `All` (the time-ordered list of a partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Attr {
    /// Every event of the partition and category.
    All = 0,
    /// `eventID` (kept in its own table, not a posting list).
    EventId = 1,
    /// `eventName`.
    EventName = 2,
    /// `readOnly` as `"true"` / `"false"`.
    ReadOnly = 3,
    /// The user name derived from `userIdentity`.
    Username = 4,
    /// `resources[].type`.
    ResourceType = 5,
    /// `resources[].ARN`, and the resource name within it.
    ResourceName = 6,
    /// `eventSource`.
    EventSource = 7,
    /// `userIdentity.accessKeyId`.
    AccessKeyId = 8,
}

impl Attr {
    /// The AWS `AttributeKey` names, in the order of the enum (without `All`).
    pub const LOOKUP_KEYS: [(&'static str, Attr); 8] = [
        ("EventId", Attr::EventId),
        ("EventName", Attr::EventName),
        ("ReadOnly", Attr::ReadOnly),
        ("Username", Attr::Username),
        ("ResourceType", Attr::ResourceType),
        ("ResourceName", Attr::ResourceName),
        ("EventSource", Attr::EventSource),
        ("AccessKeyId", Attr::AccessKeyId),
    ];

    /// Parses an AWS `AttributeKey` (case-sensitive, as AWS is).
    pub fn from_lookup_key(key: &str) -> Option<Attr> {
        Self::LOOKUP_KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, a)| *a)
    }
}

/// Event history keeps management events; insight events are looked up separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Category {
    /// Management events (and data events when configured).
    Standard = 0,
    /// `AwsCloudTrailInsight` events (`EventCategory=insight`).
    Insight = 1,
}

/// One record as the index sees it; strings borrow from the record's JSON where they can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted<'a> {
    /// Owning account.
    pub account: Cow<'a, str>,
    /// `awsRegion`.
    pub region: Cow<'a, str>,
    /// Which list it belongs to.
    pub category: Category,
    /// `eventTime` in milliseconds since the epoch.
    pub time_ms: i64,
    /// `eventID`, if any.
    pub event_id: Option<Cow<'a, str>>,
    /// Attribute values to index (`All` included once).
    pub values: Vec<(Attr, Cow<'a, str>)>,
}

impl Extracted<'_> {
    /// Whether the record has `value` for `attr`.
    pub fn has(&self, attr: Attr, value: &str) -> bool {
        self.values.iter().any(|(a, v)| *a == attr && v == value)
    }
}

#[derive(Deserialize)]
struct View<'a> {
    #[serde(rename = "eventTime", borrow, default)]
    event_time: Option<Cow<'a, str>>,
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventName", borrow, default)]
    event_name: Option<Cow<'a, str>>,
    #[serde(rename = "eventSource", borrow, default)]
    event_source: Option<Cow<'a, str>>,
    #[serde(rename = "awsRegion", borrow, default)]
    aws_region: Option<Cow<'a, str>>,
    #[serde(rename = "recipientAccountId", borrow, default)]
    recipient_account_id: Option<Cow<'a, str>>,
    #[serde(rename = "readOnly", default)]
    read_only: Option<bool>,
    #[serde(rename = "eventCategory", borrow, default)]
    event_category: Option<Cow<'a, str>>,
    #[serde(rename = "eventType", borrow, default)]
    event_type: Option<Cow<'a, str>>,
    #[serde(rename = "managementEvent", default)]
    management_event: Option<bool>,
    #[serde(rename = "userIdentity", borrow, default)]
    user_identity: Option<IdentityView<'a>>,
    #[serde(borrow, default)]
    resources: Option<Vec<ResourceView<'a>>>,
    #[serde(rename = "insightDetails", borrow, default)]
    insight_details: Option<InsightView<'a>>,
}

#[derive(Deserialize)]
struct IdentityView<'a> {
    #[serde(rename = "type", borrow, default)]
    ty: Option<Cow<'a, str>>,
    #[serde(rename = "userName", borrow, default)]
    user_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arn: Option<Cow<'a, str>>,
    #[serde(rename = "accessKeyId", borrow, default)]
    access_key_id: Option<Cow<'a, str>>,
    #[serde(rename = "invokedBy", borrow, default)]
    invoked_by: Option<Cow<'a, str>>,
    #[serde(rename = "accountId", borrow, default)]
    account_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ResourceView<'a> {
    #[serde(rename = "ARN", borrow, default)]
    arn: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default)]
    ty: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct InsightView<'a> {
    #[serde(rename = "eventName", borrow, default)]
    event_name: Option<Cow<'a, str>>,
    #[serde(rename = "eventSource", borrow, default)]
    event_source: Option<Cow<'a, str>>,
}

/// The short name event history shows for a resource ARN: the bucket (or `bucket/key`) of
/// an S3 ARN, otherwise the id after the resource type (`instance/i-0abc` → `i-0abc`,
/// `function:name` → `name`).
pub fn resource_name(arn: &str) -> &str {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some(service), Some(_), Some(_), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return arn;
    };
    if service == "s3" || resource.is_empty() {
        return resource;
    }
    match resource.find(['/', ':']) {
        Some(i) if i + 1 < resource.len() => &resource[i + 1..],
        _ => resource,
    }
}

/// The short name of a resource ARN that may be borrowed or owned.
fn short_name<'a>(arn: &Cow<'a, str>) -> Option<Cow<'a, str>> {
    match arn {
        Cow::Borrowed(a) => {
            let s = resource_name(a);
            (s.len() != a.len()).then_some(Cow::Borrowed(s))
        }
        Cow::Owned(a) => {
            let s = resource_name(a);
            (s.len() != a.len()).then(|| Cow::Owned(s.to_owned()))
        }
    }
}

/// Reads a record for the index. `None` when it does not belong in event history (data,
/// network-activity and Lake-only events unless `include_data_events`, or an unreadable time).
pub fn extract<'a>(
    json: &'a [u8],
    default_account: &'a str,
    include_data_events: bool,
) -> Option<Extracted<'a>> {
    let v: View<'a> = serde_json::from_slice(json).ok()?;
    let insight = v.event_type.as_deref() == Some("AwsCloudTrailInsight")
        || v.event_category.as_deref() == Some("Insight");
    let category = if insight {
        Category::Insight
    } else {
        match v.event_category.as_deref() {
            Some("Management") => Category::Standard,
            Some("Data") if include_data_events => Category::Standard,
            None if v.management_event != Some(false) || include_data_events => Category::Standard,
            _ => return None,
        }
    };
    let time = opentrail_model::time::parse_event_time(v.event_time.as_deref()?).ok()?;
    let View {
        event_id,
        event_name,
        event_source,
        aws_region,
        recipient_account_id,
        read_only,
        user_identity,
        resources,
        insight_details,
        ..
    } = v;
    let account = recipient_account_id
        .or_else(|| user_identity.as_ref().and_then(|i| i.account_id.clone()))
        .unwrap_or(Cow::Borrowed(default_account));
    let region = aws_region.unwrap_or(Cow::Borrowed(""));
    let mut values: Vec<(Attr, Cow<'a, str>)> = Vec::with_capacity(12);
    values.push((Attr::All, Cow::Borrowed("")));
    let mut push = |a: Attr, s: Option<Cow<'a, str>>| {
        if let Some(s) = s.filter(|s| !s.is_empty()) {
            values.push((a, s));
        }
    };
    let (name, source) = match (insight_details, insight) {
        (Some(d), true) => (d.event_name.or(event_name), d.event_source.or(event_source)),
        _ => (event_name, event_source),
    };
    push(Attr::EventName, name);
    push(Attr::EventSource, source);
    if !insight {
        push(
            Attr::ReadOnly,
            read_only.map(|r| Cow::Borrowed(if r { "true" } else { "false" })),
        );
        if let Some(i) = user_identity {
            let user = i.ty.as_deref().and_then(|t| {
                opentrail_model::username_of(
                    t,
                    i.user_name.as_deref(),
                    i.arn.as_deref(),
                    i.invoked_by.as_deref(),
                )
            });
            push(Attr::Username, user.map(Cow::Owned));
            push(Attr::AccessKeyId, i.access_key_id);
        }
        for r in resources.into_iter().flatten() {
            push(Attr::ResourceType, r.ty);
            if let Some(arn) = r.arn {
                push(Attr::ResourceName, short_name(&arn));
                push(Attr::ResourceName, Some(arn));
            }
        }
    }
    values.sort_unstable();
    values.dedup();
    Some(Extracted {
        account,
        region,
        category,
        time_ms: time.timestamp_millis(),
        event_id,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn management_events_are_extracted_with_every_attribute() {
        let rec = json!({"eventVersion":"1.09","eventTime":"2026-11-25T10:00:00Z","eventID":"e1",
            "eventName":"RunInstances","eventSource":"ec2.amazonaws.com","awsRegion":"eu-west-1",
            "recipientAccountId":"111122223333","readOnly":false,"eventCategory":"Management",
            "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Dev/jane","accessKeyId":"ASIA1"},
            "resources":[{"ARN":"arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc","type":"AWS::EC2::Instance"},
                         {"ARN":"arn:aws:ec2:eu-west-1:111122223333:instance/i-0def","type":"AWS::EC2::Instance"}]});
        let text = rec.to_string();
        let x = extract(text.as_bytes(), "999999999999", false).expect("in history");
        assert_eq!(
            (x.account.as_ref(), x.region.as_ref(), x.category),
            ("111122223333", "eu-west-1", Category::Standard)
        );
        assert_eq!(x.time_ms, 1_795_600_800_000);
        assert_eq!(x.event_id.as_deref(), Some("e1"));
        let has = |a, v: &str| x.has(a, v);
        assert!(has(Attr::All, ""));
        assert!(
            has(Attr::EventName, "RunInstances") && has(Attr::EventSource, "ec2.amazonaws.com")
        );
        assert!(
            has(Attr::ReadOnly, "false")
                && has(Attr::Username, "jane")
                && has(Attr::AccessKeyId, "ASIA1")
        );
        assert!(has(Attr::ResourceType, "AWS::EC2::Instance"));
        assert!(has(Attr::ResourceName, "i-0abc") && has(Attr::ResourceName, "i-0def"));
        assert!(has(
            Attr::ResourceName,
            "arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc"
        ));
        assert_eq!(
            x.values
                .iter()
                .filter(|(a, _)| *a == Attr::ResourceType)
                .count(),
            1,
            "deduplicated"
        );
    }

    #[test]
    fn integration_events_never_enter_event_history() {
        let rec = json!({"eventVersion":"1.0","eventCategory":"ActivityAuditLog","eventType":"ActivityLog",
            "eventID":"11111111-1111-4111-8111-111111111111","eventTime":"2026-11-25T10:00:00Z",
            "awsRegion":"us-east-1","recipientAccountId":"123456789012",
            "metadata":{"ingestionTime":"2026-11-25T10:00:01Z","channelARN":"arn:aws:cloudtrail:us-east-1:123456789012:channel/c"},
            "eventData":{"version":"1","userIdentity":{"type":"U","principalId":"p"},"eventSource":"app.example.com",
                "eventName":"Login","eventTime":"2026-11-25T10:00:00Z","UID":"u","recipientAccountId":"123456789012"}})
        .to_string();
        assert!(extract(rec.as_bytes(), "123456789012", false).is_none());
        assert!(
            extract(rec.as_bytes(), "123456789012", true).is_none(),
            "not even with data events in history"
        );
    }

    #[test]
    fn data_and_lake_only_events_stay_out_unless_configured() {
        let data = json!({"eventTime":"2026-11-25T10:00:00Z","eventCategory":"Data","eventName":"GetObject"}).to_string();
        assert!(extract(data.as_bytes(), "1", false).is_none());
        assert!(extract(data.as_bytes(), "1", true).is_some());
        let net = json!({"eventTime":"2026-11-25T10:00:00Z","eventCategory":"NetworkActivity"})
            .to_string();
        assert!(extract(net.as_bytes(), "1", true).is_none());
        let old = json!({"eventTime":"2014-01-14T16:23:49Z","eventName":"CreateDBSnapshot","awsRegion":"us-west-2"}).to_string();
        let x = extract(old.as_bytes(), "123456789012", false)
            .expect("pre-1.06 records are management");
        assert_eq!(x.account, "123456789012");
        assert!(
            extract(
                br#"{"eventTime":"yesterday","eventCategory":"Management"}"#,
                "1",
                false
            )
            .is_none()
        );
        assert!(extract(b"not json", "1", false).is_none());
    }

    #[test]
    fn insight_events_index_the_api_they_describe() {
        let rec = json!({"eventVersion":"1.07","eventTime":"2026-11-25T10:01:00Z","awsRegion":"us-east-1",
            "eventID":"i1","eventType":"AwsCloudTrailInsight","eventCategory":"Insight","recipientAccountId":"1",
            "insightDetails":{"state":"Start","eventSource":"ssm.amazonaws.com","eventName":"UpdateInstanceInformation"}});
        let text = rec.to_string();
        let x = extract(text.as_bytes(), "1", false).expect("insight");
        assert_eq!(x.category, Category::Insight);
        assert!(
            x.values
                .contains(&(Attr::EventName, "UpdateInstanceInformation".into()))
        );
        assert!(
            x.values
                .contains(&(Attr::EventSource, "ssm.amazonaws.com".into()))
        );
    }

    #[test]
    fn resource_names_follow_the_arn_shape() {
        assert_eq!(resource_name("arn:aws:s3:::bucket"), "bucket");
        assert_eq!(
            resource_name("arn:aws:s3:::bucket/a/b.txt"),
            "bucket/a/b.txt"
        );
        assert_eq!(
            resource_name("arn:aws:iam::1:role/path/Admin"),
            "path/Admin"
        );
        assert_eq!(
            resource_name("arn:aws:lambda:us-east-1:1:function:fn"),
            "fn"
        );
        assert_eq!(
            resource_name("arn:aws:dynamodb:us-east-1:1:table/Orders"),
            "Orders"
        );
        assert_eq!(resource_name("not an arn"), "not an arn");
        assert_eq!(Attr::from_lookup_key("EventName"), Some(Attr::EventName));
        assert_eq!(Attr::from_lookup_key("eventname"), None);
    }
}
