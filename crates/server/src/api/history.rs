//! LookupEvents: event history queries with AWS's full semantics (spec section 6).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use opentrail_history::{Attr, Category, Cursor, History, HistoryError, Page, Query};
use opentrail_protocol::AwsError;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiContext;

/// What the LookupEvents handler needs from the history store (a trait so that handler
/// tests can use an in-memory fake).
pub trait EventHistory: Send + Sync {
    /// One page of results.
    fn lookup(&self, q: &Query, now_ms: i64) -> Result<Page, HistoryError>;
    /// A NextToken for continuing `q` after `cursor`.
    fn seal(&self, q: &Query, cursor: Cursor, now_secs: u64) -> String;
    /// The cursor in a NextToken, if it is genuine and belongs to `q`.
    fn open(&self, q: &Query, token: &str, now_secs: u64) -> Result<Cursor, HistoryError>;
    /// Days of history kept.
    fn retention_days(&self) -> u32;
}

impl EventHistory for History {
    fn lookup(&self, q: &Query, now_ms: i64) -> Result<Page, HistoryError> {
        History::lookup(self, q, now_ms)
    }
    fn seal(&self, q: &Query, cursor: Cursor, now_secs: u64) -> String {
        self.token_key().seal(&q.fingerprint(), cursor, now_secs)
    }
    fn open(&self, q: &Query, token: &str, now_secs: u64) -> Result<Cursor, HistoryError> {
        self.token_key().open(token, &q.fingerprint(), now_secs)
    }
    fn retention_days(&self) -> u32 {
        self.config().retention_days
    }
}

/// AWS's per-account, per-region LookupEvents rate limit, when enabled.
pub struct RateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<(String, String), (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_second` calls (and bursts of as many).
    pub fn new(per_second: f64) -> Self {
        RateLimiter {
            per_second,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn allow(&self, account: &str, region: &str) -> bool {
        let Ok(mut b) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        let burst = self.per_second.max(1.0);
        let entry = b
            .entry((account.to_owned(), region.to_owned()))
            .or_insert((burst, now));
        entry.0 =
            (entry.0 + now.duration_since(entry.1).as_secs_f64() * self.per_second).min(burst);
        entry.1 = now;
        if entry.0 >= 1.0 {
            entry.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupEventsInput {
    #[serde(default)]
    lookup_attributes: Vec<LookupAttribute>,
    #[serde(default)]
    start_time: Option<f64>,
    #[serde(default)]
    end_time: Option<f64>,
    #[serde(default)]
    event_category: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupAttribute {
    attribute_key: String,
    attribute_value: String,
}

fn invalid(code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(code, message)
}

/// A parsed LookupEvents request.
pub struct ParsedLookup {
    /// The query to run (defaults filled in, no cursor yet).
    pub query: Query,
    /// The query as the client wrote it (unset times left open), which NextTokens are bound
    /// to: defaults move with the clock between pages, the client's parameters do not.
    pub as_sent: Query,
    /// The NextToken sent, if any.
    pub next_token: Option<String>,
}

/// Turns a LookupEvents request into a history query (without cursor), checking it exactly as
/// AWS does.
pub fn parse_lookup(
    input: &Value,
    account: &str,
    region: &str,
    retention_days: u32,
    now_ms: i64,
) -> Result<ParsedLookup, AwsError> {
    let input: LookupEventsInput = serde_json::from_value(input.clone()).map_err(|e| {
        invalid(
            "SerializationException",
            format!("LookupEvents request is malformed: {e}"),
        )
    })?;
    const ATTRS: &str = "InvalidLookupAttributesException";
    let category = match input.event_category.as_deref() {
        None => Category::Standard,
        Some("insight") => Category::Insight,
        Some(other) => {
            return Err(invalid(
                "InvalidEventCategoryException",
                format!(
                    "EventCategory {other:?} is not valid; the only supported value is \"insight\"."
                ),
            ));
        }
    };
    if input.lookup_attributes.len() > 1 {
        return Err(invalid(
            ATTRS,
            "You can specify at most one lookup attribute.",
        ));
    }
    let filter = match input.lookup_attributes.into_iter().next() {
        None => None,
        Some(a) => {
            let attr = Attr::from_lookup_key(&a.attribute_key).ok_or_else(|| {
                invalid(
                    ATTRS,
                    format!(
                        "Lookup attribute key {:?} is not valid. Valid keys: EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId.",
                        a.attribute_key
                    ),
                )
            })?;
            let len = a.attribute_value.chars().count();
            if len == 0 || len > 2000 {
                return Err(invalid(
                    ATTRS,
                    "A lookup attribute value must be 1 to 2000 characters long.",
                ));
            }
            if attr == Attr::ReadOnly && !matches!(a.attribute_value.as_str(), "true" | "false") {
                return Err(invalid(
                    ATTRS,
                    "The value of the ReadOnly lookup attribute must be \"true\" or \"false\".",
                ));
            }
            if category == Category::Insight
                && !matches!(attr, Attr::EventId | Attr::EventName | Attr::EventSource)
            {
                return Err(invalid(
                    ATTRS,
                    "For insight events, only the EventId, EventName and EventSource lookup attributes are supported.",
                ));
            }
            Some((attr, a.attribute_value))
        }
    };
    let max = input.max_results.unwrap_or(50);
    if !(1..=50).contains(&max) {
        return Err(invalid(
            "InvalidMaxResultsException",
            format!("MaxResults must be between 1 and 50; got {max}."),
        ));
    }
    let to_ms = |s: f64| (s * 1000.0).floor() as i64;
    let start_ms = input
        .start_time
        .map(to_ms)
        .unwrap_or(now_ms - i64::from(retention_days) * 86_400_000);
    let end_ms = input.end_time.map(to_ms).unwrap_or(now_ms);
    if start_ms > end_ms {
        return Err(invalid(
            "InvalidTimeRangeException",
            "The start time must be earlier than or equal to the end time.",
        ));
    }
    let query = Query {
        account: account.to_owned(),
        region: region.to_owned(),
        category,
        filter,
        start_ms,
        end_ms,
        after: None,
        limit: max as usize,
    };
    let as_sent = Query {
        start_ms: input.start_time.map(to_ms).unwrap_or(i64::MIN),
        end_ms: input.end_time.map(to_ms).unwrap_or(i64::MAX),
        ..query.clone()
    };
    Ok(ParsedLookup {
        query,
        as_sent,
        next_token: input.next_token,
    })
}

/// Handles LookupEvents.
pub async fn lookup_events(ctx: &ApiContext<'_>, input: Value) -> Result<Value, AwsError> {
    let now = chrono::Utc::now();
    let account = ctx
        .caller
        .identity
        .account_id
        .clone()
        .unwrap_or_else(|| ctx.state.config.account_id.clone());
    let region = ctx.caller.region.clone();
    if let Some(limiter) = &ctx.state.lookup_limiter
        && !limiter.allow(&account, &region)
    {
        return Err(AwsError::throttling("Rate exceeded"));
    }
    let history = ctx.state.history.clone();
    let parsed = parse_lookup(
        &input,
        &account,
        &region,
        history.retention_days(),
        now.timestamp_millis(),
    )?;
    let mut q = parsed.query;
    if let Some(t) = parsed.next_token {
        let cursor = history
            .open(&parsed.as_sent, &t, now.timestamp() as u64)
            .map_err(|e| match e {
                HistoryError::InvalidToken(m) => invalid("InvalidNextTokenException", m),
                other => AwsError::internal(other.to_string()),
            })?;
        q.after = Some(cursor);
    }
    let query = q.clone();
    let page = tokio::task::spawn_blocking(move || history.lookup(&query, now.timestamp_millis()))
        .await
        .map_err(|e| AwsError::internal(format!("lookup task failed: {e}")))?
        .map_err(|e| {
            tracing::error!(error = %e, "event history lookup failed");
            AwsError::internal("The event history could not be read; retry later.")
        })?;
    let events: Vec<Value> = page.events.iter().map(|f| event_summary(&f.json)).collect();
    let mut out = Map::new();
    out.insert("Events".into(), Value::Array(events));
    if let Some(c) = page.next {
        out.insert(
            "NextToken".into(),
            Value::String(
                ctx.state
                    .history
                    .seal(&parsed.as_sent, c, now.timestamp() as u64),
            ),
        );
    }
    Ok(Value::Object(out))
}

#[derive(Deserialize, Default)]
struct SummaryView<'a> {
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventName", borrow, default)]
    event_name: Option<Cow<'a, str>>,
    #[serde(rename = "eventSource", borrow, default)]
    event_source: Option<Cow<'a, str>>,
    #[serde(rename = "eventTime", borrow, default)]
    event_time: Option<Cow<'a, str>>,
    #[serde(rename = "readOnly", default)]
    read_only: Option<bool>,
    #[serde(rename = "userIdentity", default)]
    user_identity: Option<opentrail_model::UserIdentity>,
    #[serde(default)]
    resources: Option<Vec<ResourceView<'a>>>,
    #[serde(rename = "insightDetails", borrow, default)]
    insight_details: Option<InsightView<'a>>,
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

/// The LookupEvents `Event` shape of a stored record.
pub fn event_summary(json: &[u8]) -> Value {
    let v: SummaryView<'_> = serde_json::from_slice(json).unwrap_or_default();
    let mut e = Map::new();
    let mut put = |k: &str, val: Option<Value>| {
        if let Some(val) = val {
            e.insert(k.into(), val);
        }
    };
    let insight = v.insight_details.as_ref();
    put("EventId", v.event_id.as_deref().map(Value::from));
    put(
        "EventName",
        insight
            .and_then(|i| i.event_name.as_deref())
            .or(v.event_name.as_deref())
            .map(Value::from),
    );
    put(
        "ReadOnly",
        v.read_only
            .map(|r| Value::from(if r { "true" } else { "false" })),
    );
    let ident = v.user_identity.as_ref();
    put(
        "AccessKeyId",
        ident.and_then(|i| i.access_key_id.clone()).map(Value::from),
    );
    put(
        "EventTime",
        v.event_time
            .as_deref()
            .and_then(|t| opentrail_model::time::parse_event_time(t).ok())
            .map(|t| json!(t.timestamp())),
    );
    put(
        "EventSource",
        insight
            .and_then(|i| i.event_source.as_deref())
            .or(v.event_source.as_deref())
            .map(Value::from),
    );
    put(
        "Username",
        ident.and_then(|i| i.username()).map(Value::from),
    );
    if insight.is_none() {
        let resources: Vec<Value> = v
            .resources
            .iter()
            .flatten()
            .map(|r| {
                let mut m = Map::new();
                if let Some(t) = &r.ty {
                    m.insert("ResourceType".into(), Value::from(t.as_ref()));
                }
                if let Some(a) = &r.arn {
                    m.insert(
                        "ResourceName".into(),
                        Value::from(opentrail_history::extract::resource_name(a)),
                    );
                }
                Value::Object(m)
            })
            .collect();
        e.insert("Resources".into(), Value::Array(resources));
    }
    e.insert(
        "CloudTrailEvent".into(),
        Value::String(String::from_utf8_lossy(json).into_owned()),
    );
    Value::Object(e)
}

/// Shared handle type kept in the server state.
pub type SharedHistory = Arc<dyn EventHistory>;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<Query, AwsError> {
        parse_lookup(&v, "123456789012", "us-east-1", 90, 1_000_000_000_000).map(|p| p.query)
    }

    #[test]
    fn lookup_requests_are_checked_like_aws() {
        let code = |v: Value| parse(v).expect_err("refused").code.to_string();
        assert_eq!(
            code(
                json!({"LookupAttributes": [{"AttributeKey":"EventName","AttributeValue":"a"},{"AttributeKey":"EventName","AttributeValue":"b"}]})
            ),
            "InvalidLookupAttributesException"
        );
        assert_eq!(
            code(json!({"LookupAttributes": [{"AttributeKey":"eventName","AttributeValue":"a"}]})),
            "InvalidLookupAttributesException"
        );
        assert_eq!(
            code(json!({"LookupAttributes": [{"AttributeKey":"EventName","AttributeValue":""}]})),
            "InvalidLookupAttributesException"
        );
        assert_eq!(
            code(
                json!({"LookupAttributes": [{"AttributeKey":"EventName","AttributeValue":"x".repeat(2001)}]})
            ),
            "InvalidLookupAttributesException"
        );
        assert_eq!(
            code(json!({"LookupAttributes": [{"AttributeKey":"ReadOnly","AttributeValue":"yes"}]})),
            "InvalidLookupAttributesException"
        );
        assert_eq!(
            code(
                json!({"EventCategory":"insight","LookupAttributes": [{"AttributeKey":"Username","AttributeValue":"a"}]})
            ),
            "InvalidLookupAttributesException"
        );
        assert_eq!(code(json!({"MaxResults": 0})), "InvalidMaxResultsException");
        assert_eq!(
            code(json!({"MaxResults": 51})),
            "InvalidMaxResultsException"
        );
        assert_eq!(
            code(json!({"StartTime": 20, "EndTime": 10})),
            "InvalidTimeRangeException"
        );
        assert_eq!(
            code(json!({"EventCategory": "Insight"})),
            "InvalidEventCategoryException"
        );
        let q = parse(json!({"StartTime": 10.5, "EndTime": 10.5, "MaxResults": 7,
            "LookupAttributes": [{"AttributeKey":"ReadOnly","AttributeValue":"true"}]}))
        .expect("valid");
        assert_eq!((q.start_ms, q.end_ms, q.limit), (10_500, 10_500, 7));
        assert_eq!(q.filter, Some((Attr::ReadOnly, "true".into())));
        let d = parse(json!({})).expect("defaults");
        assert_eq!(
            (d.limit, d.end_ms, d.start_ms),
            (50, 1_000_000_000_000, 1_000_000_000_000 - 90 * 86_400_000)
        );
    }

    #[test]
    fn summaries_have_the_lookup_events_shape() {
        let rec = json!({"eventVersion":"1.11","eventID":"e1","eventName":"DeleteBucket","eventSource":"s3.amazonaws.com",
            "eventTime":"2026-11-25T10:00:00Z","readOnly":false,
            "userIdentity":{"type":"IAMUser","userName":"bob","accessKeyId":"AKIA1"},
            "resources":[{"ARN":"arn:aws:s3:::logs","type":"AWS::S3::Bucket"}]});
        let text = rec.to_string();
        let s = event_summary(text.as_bytes());
        assert_eq!(s["EventId"], "e1");
        assert_eq!(s["ReadOnly"], "false");
        assert_eq!(s["Username"], "bob");
        assert_eq!(s["AccessKeyId"], "AKIA1");
        assert_eq!(s["EventTime"], 1_795_600_800);
        assert_eq!(
            s["Resources"],
            json!([{"ResourceType":"AWS::S3::Bucket","ResourceName":"logs"}])
        );
        assert_eq!(s["CloudTrailEvent"], Value::String(text));
    }

    #[test]
    fn the_rate_limiter_allows_its_rate() {
        let l = RateLimiter::new(2.0);
        assert!(l.allow("a", "r") && l.allow("a", "r"));
        assert!(!l.allow("a", "r"));
        assert!(l.allow("a", "other-region"), "limits are per region");
    }
}
