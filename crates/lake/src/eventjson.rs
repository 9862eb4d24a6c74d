//! `eventjson` stored shredded: the record's text with the values of a few members (at the
//! top level, or in objects that have columns) blanked (`"eventID":""`) where their column
//! gives back the exact text, and put back by queries. The blanked members are the
//! high-entropy ones (random ids, times, addresses, session keys), which no compressor shares
//! between the column and the record text: stored once, `eventjson` takes 16 of the table's
//! 95 bytes per event (105 of 214 before shredding; BENCHMARKS.md). What is stored is still
//! valid JSON, so other engines read it as JSON, with those values in their columns.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use serde_json::value::RawValue;

/// Members blanked in the stored text: the member's path in the record (a top-level member,
/// or a member of a top-level object), and the SQL expression over the table that gives its
/// value back (all text but `eventtime`). The order is the argument order of
/// [`assemble_udf`]. The nested ones are the random values of the objects that have columns
/// of their own: session access keys and principals, and S3's `x-amz-id-2` request id.
pub const SHREDDED: [(&[&str], &str); 9] = [
    (&["eventID"], "\"eventid\""),
    (&["requestID"], "\"requestid\""),
    (&["sharedEventID"], "\"sharedeventid\""),
    (&["eventTime"], "\"eventtime\""),
    (&["sourceIPAddress"], "\"sourceipaddress\""),
    (&["userAgent"], "\"useragent\""),
    (
        &["userIdentity", "principalId"],
        "\"useridentity\"['principalid']",
    ),
    (
        &["userIdentity", "accessKeyId"],
        "\"useridentity\"['accesskeyid']",
    ),
    (
        &["additionalEventData", "x-amz-id-2"],
        "\"additionaleventdata\"['x-amz-id-2']",
    ),
];

/// Index in [`SHREDDED`] of `eventTime`, the one that is not text.
const EVENT_TIME: usize = 3;

/// The name queries call the reassembly by.
pub const ASSEMBLE: &str = "opentrail_eventjson";

const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";
const BLANK: &str = "\"\"";

type Members<'a> = HashMap<Cow<'a, str>, &'a RawValue>;

/// Byte ranges of the values of `SHREDDED` members in `text`, with the member's index; `None`
/// when `text` is not a JSON object. A member is left alone when its object holds its name in
/// more than one spelling (columns match names in any case) or in another spelling.
fn spans(text: &str) -> Option<Vec<(usize, std::ops::Range<usize>)>> {
    let top: Members<'_> = serde_json::from_str(text).ok()?;
    let mut objects: HashMap<&str, Option<Members<'_>>> = HashMap::new();
    let mut out = Vec::new();
    for (i, (path, _)) in SHREDDED.iter().enumerate() {
        let raw = match path {
            [name] => only_spelling(&top, name),
            [parent, name] => only_spelling(&top, parent).and_then(|p| {
                objects
                    .entry(parent)
                    .or_insert_with(|| serde_json::from_str(p.get()).ok())
                    .as_ref()
                    .and_then(|members| only_spelling(members, name))
            }),
            _ => None,
        };
        let Some(raw) = raw.map(RawValue::get) else {
            continue;
        };
        let start = raw.as_ptr() as usize - text.as_ptr() as usize;
        out.push((i, start..start + raw.len()));
    }
    out.sort_by_key(|(_, r)| r.start);
    Some(out)
}

/// The value of `name` in `members` when that is its only spelling there.
fn only_spelling<'a>(members: &Members<'a>, name: &str) -> Option<&'a RawValue> {
    let mut spellings = members.keys().filter(|k| k.eq_ignore_ascii_case(name));
    match (spellings.next(), spellings.next()) {
        (Some(first), None) if first == name => Some(members[first]),
        _ => None,
    }
}

fn time_text(micros: i64) -> Option<String> {
    if micros % 1_000_000 != 0 {
        return None;
    }
    DateTime::<Utc>::from_timestamp_micros(micros).map(|t| t.format(TIME_FORMAT).to_string())
}

/// Whether the column value rebuilt from `raw` (a member's JSON text) writes back as `raw`.
fn round_trips(index: usize, raw: &str) -> bool {
    let Ok(value) = serde_json::from_str::<String>(raw) else {
        return false;
    };
    if value.is_empty() {
        return false;
    }
    if index == EVENT_TIME {
        return chrono::DateTime::parse_from_rfc3339(&value)
            .ok()
            .and_then(|t| time_text(t.timestamp_micros()))
            .is_some_and(|t| t == value);
    }
    serde_json::to_string(&value).is_ok_and(|t| t == raw)
}

/// The text to store for a record: its shredded members' values blanked where they round
/// trip, everything else byte for byte.
pub fn shred(record: &str) -> String {
    let Some(spans) = spans(record) else {
        return record.to_owned();
    };
    let mut out = String::with_capacity(record.len());
    let mut at = 0;
    for (i, range) in spans {
        if round_trips(i, &record[range.clone()]) {
            out.push_str(&record[at..range.start]);
            out.push_str(BLANK);
            at = range.end;
        }
    }
    out.push_str(&record[at..]);
    out
}

/// The record's text again: `stored` with each blanked member's value taken from its column
/// (`values[i]` for `SHREDDED[i]`, already as text).
pub fn assemble(stored: &str, values: &[Option<Cow<'_, str>>]) -> String {
    let Some(spans) = spans(stored) else {
        return stored.to_owned();
    };
    let mut out = String::with_capacity(stored.len() + 96);
    let mut at = 0;
    for (i, range) in spans {
        if &stored[range.clone()] != BLANK {
            continue;
        }
        let Some(Some(v)) = values.get(i) else {
            continue;
        };
        let Ok(text) = serde_json::to_string(v.as_ref()) else {
            continue;
        };
        out.push_str(&stored[at..range.start]);
        out.push_str(&text);
        at = range.end;
    }
    out.push_str(&stored[at..]);
    out
}

/// `opentrail_eventjson(eventjson, <the SHREDDED expressions>)`: the view's `eventjson`
/// column.
pub fn assemble_udf() -> ScalarUDF {
    let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let inputs = std::iter::once(DataType::Utf8)
        .chain((0..SHREDDED.len()).map(|i| {
            if i == EVENT_TIME {
                time.clone()
            } else {
                DataType::Utf8
            }
        }))
        .collect();
    create_udf(
        ASSEMBLE,
        inputs,
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(assemble_batch),
    )
}

fn assemble_batch(args: &[ColumnarValue]) -> Result<ColumnarValue, DataFusionError> {
    let rows = args
        .iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1);
    let arrays: Vec<ArrayRef> = args
        .iter()
        .map(|a| a.clone().into_array(rows))
        .collect::<Result<_, _>>()?;
    let stored = arrays[0].as_string::<i32>();
    let mut out = StringBuilder::with_capacity(rows, rows * 1024);
    for row in 0..rows {
        if stored.is_null(row) {
            out.append_null();
            continue;
        }
        let values: Vec<Option<Cow<'_, str>>> = arrays[1..]
            .iter()
            .map(|a| {
                if a.is_null(row) {
                    return None;
                }
                match a.data_type() {
                    DataType::Utf8 => Some(Cow::Borrowed(a.as_string::<i32>().value(row))),
                    DataType::Timestamp(..) => {
                        time_text(a.as_primitive::<TimestampMicrosecondType>().value(row))
                            .map(Cow::Owned)
                    }
                    _ => None,
                }
            })
            .collect();
        out.append_value(assemble(stored.value(row), &values));
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values_of(record: &str) -> Vec<Option<Cow<'static, str>>> {
        let v: serde_json::Value = serde_json::from_str(record).expect("json");
        SHREDDED
            .iter()
            .map(|(path, _)| {
                path.iter()
                    .try_fold(&v, |v, m| v.get(*m))
                    .and_then(|x| x.as_str())
                    .map(|s| Cow::Owned(s.to_owned()))
            })
            .collect()
    }

    #[test]
    fn records_come_back_byte_for_byte() {
        for record in [
            r#"{"eventVersion":"1.11","eventTime":"2026-11-25T10:15:30Z","eventID":"0b0f6c1e-1f0e-4c4b-9a39-6f0b1f7f5a11","requestID":"R-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2 \"quoted\" é","userIdentity":{"eventID":"nested stays"}}"#,
            // Escapes written another way than serde_json writes them stay in the text.
            r#"{"eventTime":"2026-11-25T10:15:30Z","eventID":"a\/b","userAgent":"\u00e9"}"#,
            // Fractional seconds, empty and non-string values are not shredded.
            r#"{"eventTime":"2026-11-25T10:15:30.123Z","eventID":"","requestID":7,"sharedEventID":null}"#,
            // Two spellings of one member: nothing of it is shredded.
            r#"{"eventTime":"2026-11-25T10:15:30Z","eventID":"a","EventId":"b"}"#,
            // Members of objects, and objects that are not.
            r#"{"userIdentity":{"type":"AssumedRole","principalId":"AROAX:s","accessKeyId":"ASIA1","arn":"a"},"additionalEventData":{"x-amz-id-2":"Zm9v/YmFy+=","bytesTransferredIn":0}}"#,
            r#"{"userIdentity":"not an object","additionalEventData":{"X-Amz-Id-2":"k","x-amz-id-2":"j"}}"#,
            r#"{"userIdentity":{"accessKeyId":7,"principalid":"lower"},"additionalEventData":null}"#,
        ] {
            let stored = shred(record);
            assert_eq!(assemble(&stored, &values_of(record)), record, "{stored}");
        }
        let stored = shred(
            r#"{"eventTime":"2026-11-25T10:15:30Z","eventID":"id-1","userIdentity":{"eventID":"x"}}"#,
        );
        assert_eq!(
            stored,
            r#"{"eventTime":"","eventID":"","userIdentity":{"eventID":"x"}}"#
        );
        let stored = shred(
            r#"{"userIdentity":{"principalId":"P","accessKeyId":"K","arn":"A"},"additionalEventData":{"x-amz-id-2":"I","n":1}}"#,
        );
        assert_eq!(
            stored,
            r#"{"userIdentity":{"principalId":"","accessKeyId":"","arn":"A"},"additionalEventData":{"x-amz-id-2":"","n":1}}"#
        );
        let stored = shred(r#"{"eventID":"a\/b","userAgent":"\u00e9"}"#);
        assert_eq!(stored, r#"{"eventID":"a\/b","userAgent":"\u00e9"}"#);
        assert_eq!(shred("not json"), "not json");
    }
}
