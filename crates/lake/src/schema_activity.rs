//! The table of an integration-events event data store (category `ActivityAuditLog`):
//! CloudTrail Lake's integration columns — what CloudTrail adds to each event at the top,
//! the caller's `eventdata` as a struct, the whole record as `eventjson` — and the conversion
//! of an integration record (see `opentrail_model::integration`) into one row.
//!
//! Names are lowercase, as in CloudTrail Lake, so `eventdata.eventname` and
//! `metadata.channelarn` work in queries. The caller's free-form objects
//! (`requestparameters`, `responseelements`, `additionaleventdata`,
//! `useridentity.details`) are kept as JSON text, readable with `json_extract_scalar`.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::json::ReaderBuilder;
use serde_json::{Map, Value};

use crate::LakeError;
use crate::schema::PARTITION_COLUMN;

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn structure(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}

static TABLE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        utf8("eventversion"),
        utf8("eventcategory"),
        utf8("eventtype"),
        utf8("eventid"),
        Field::new(
            "eventtime",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        utf8("awsregion"),
        utf8("recipientaccountid"),
        structure(
            "addendum",
            vec![
                utf8("reason"),
                utf8("updatedfields"),
                utf8("originaluid"),
                utf8("originaleventid"),
            ],
        ),
        structure("metadata", vec![utf8("ingestiontime"), utf8("channelarn")]),
        structure(
            "eventdata",
            vec![
                utf8("version"),
                structure(
                    "useridentity",
                    vec![utf8("type"), utf8("principalid"), utf8("details")],
                ),
                utf8("useragent"),
                utf8("eventsource"),
                utf8("eventname"),
                utf8("eventtime"),
                utf8("uid"),
                utf8("requestparameters"),
                utf8("responseelements"),
                utf8("errorcode"),
                utf8("errormessage"),
                utf8("sourceipaddress"),
                utf8("recipientaccountid"),
                utf8("additionaleventdata"),
            ],
        ),
        utf8("eventjson"),
        utf8(PARTITION_COLUMN),
    ]))
});

/// The integration table's schema: CloudTrail Lake's columns, then the partition column.
pub fn table_schema() -> SchemaRef {
    TABLE_SCHEMA.clone()
}

/// Shapes `value` to `data_type`: struct members matched in any letter case, text columns
/// holding objects as JSON text. What cannot take the shape becomes null.
fn shape(value: &Value, data_type: &DataType) -> Value {
    match (data_type, value) {
        (_, Value::Null) => Value::Null,
        (DataType::Utf8, Value::String(s)) => Value::String(s.clone()),
        (DataType::Utf8, other) => Value::String(other.to_string()),
        (DataType::Timestamp(..), Value::String(s)) => Value::String(s.clone()),
        (DataType::Struct(fields), Value::Object(members)) => {
            let mut out = Map::new();
            for field in fields {
                if let Some(v) = member(members, field.name()) {
                    out.insert(field.name().clone(), shape(v, field.data_type()));
                }
            }
            Value::Object(out)
        }
        _ => Value::Null,
    }
}

fn member<'a>(members: &'a Map<String, Value>, lower: &str) -> Option<&'a Value> {
    members
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(lower))
        .map(|(_, v)| v)
}

/// One row for an integration record (its JSON text): every column, `eventjson` the record
/// as stored, `eventday` from `eventTime`. `None` for text that is not a JSON object with an
/// `eventTime`.
pub fn row(record: &[u8]) -> Option<Value> {
    let Value::Object(members) = serde_json::from_slice::<Value>(record).ok()? else {
        return None;
    };
    let day = member(&members, "eventtime")?
        .as_str()?
        .get(..10)?
        .to_owned();
    let mut out = Map::new();
    for field in table_schema().fields() {
        let name = field.name().as_str();
        let value = match name {
            "eventjson" => Value::String(String::from_utf8_lossy(record).into_owned()),
            PARTITION_COLUMN => Value::String(day.clone()),
            _ => match member(&members, name) {
                Some(v) => shape(v, field.data_type()),
                None => continue,
            },
        };
        out.insert(name.to_owned(), value);
    }
    Some(Value::Object(out))
}

/// Rows made by [`row`] as one Arrow batch of [`table_schema`].
pub fn batch(rows: &[Value]) -> Result<RecordBatch, LakeError> {
    let mut decoder = ReaderBuilder::new(table_schema())
        .with_batch_size(rows.len().max(1))
        .build_decoder()
        .map_err(|e| LakeError::Internal(format!("building the integration row decoder: {e}")))?;
    decoder
        .serialize(rows)
        .map_err(|e| LakeError::Internal(format!("converting integration records to rows: {e}")))?;
    Ok(decoder
        .flush()
        .map_err(|e| LakeError::Internal(format!("converting integration records to rows: {e}")))?
        .unwrap_or_else(|| RecordBatch::new_empty(table_schema())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::TimestampMicrosecondType;

    const RECORD: &str = r#"{"eventVersion":"1.0","eventCategory":"ActivityAuditLog","eventType":"ActivityLog","eventID":"e-1","eventTime":"2026-11-25T10:15:30Z","awsRegion":"us-east-1","recipientAccountId":"123456789012","metadata":{"ingestionTime":"2026-11-25T10:16:00Z","channelARN":"arn:aws:cloudtrail:us-east-1:123456789012:channel/c1"},"eventData":{"version":"2","userIdentity":{"type":"CustomUser","principalId":"alice","details":{"team":"ops"}},"eventSource":"billing.example.com","eventName":"ChargeCard","eventTime":"2026-11-25T10:15:30Z","UID":"u-1","requestParameters":{"amount":12},"recipientAccountId":"123456789012","additionalEventData":{"k":"v"}}}"#;

    #[test]
    fn an_integration_record_becomes_one_row() {
        let b = batch(&[row(RECORD.as_bytes()).expect("row")]).expect("batch");
        assert_eq!(b.num_rows(), 1);
        let col = |n: &str| b.column_by_name(n).expect("column").clone();
        let text = |a: &dyn Array| a.as_string::<i32>().value(0).to_owned();
        assert_eq!(text(col("eventcategory").as_ref()), "ActivityAuditLog");
        assert_eq!(text(col("eventday").as_ref()), "2026-11-25");
        assert_eq!(text(col("eventjson").as_ref()), RECORD);
        let t = col("eventtime");
        assert_eq!(
            t.as_primitive::<TimestampMicrosecondType>().value(0),
            1_795_601_730_000_000
        );
        let meta = col("metadata");
        let meta = meta.as_struct();
        assert_eq!(
            text(meta.column_by_name("channelarn").expect("c").as_ref()),
            "arn:aws:cloudtrail:us-east-1:123456789012:channel/c1"
        );
        assert_eq!(
            text(meta.column_by_name("ingestiontime").expect("c").as_ref()),
            "2026-11-25T10:16:00Z"
        );
        let data = col("eventdata");
        let data = data.as_struct();
        let field = |n: &str| text(data.column_by_name(n).expect("field").as_ref());
        assert_eq!(field("eventname"), "ChargeCard");
        assert_eq!(field("uid"), "u-1");
        assert_eq!(field("requestparameters"), r#"{"amount":12}"#);
        assert_eq!(field("additionaleventdata"), r#"{"k":"v"}"#);
        assert!(
            data.column_by_name("responseelements")
                .expect("c")
                .is_null(0)
        );
        let who = data
            .column_by_name("useridentity")
            .expect("c")
            .as_struct()
            .clone();
        assert_eq!(
            text(who.column_by_name("principalid").expect("c").as_ref()),
            "alice"
        );
        assert_eq!(
            text(who.column_by_name("details").expect("c").as_ref()),
            r#"{"team":"ops"}"#
        );
        assert!(col("addendum").is_null(0));
    }

    #[test]
    fn odd_shapes_become_nulls_and_timeless_text_no_row() {
        let odd = r#"{"eventTime":"2026-11-25T00:00:00Z","metadata":"x","eventData":{"userIdentity":[1],"eventName":7}}"#;
        let b = batch(&[row(odd.as_bytes()).expect("row")]).expect("batch");
        assert!(b.column_by_name("metadata").expect("c").is_null(0));
        let data = b
            .column_by_name("eventdata")
            .expect("c")
            .as_struct()
            .clone();
        assert!(data.column_by_name("useridentity").expect("c").is_null(0));
        assert_eq!(
            data.column_by_name("eventname")
                .expect("c")
                .as_string::<i32>()
                .value(0),
            "7"
        );
        assert!(row(b"[1]").is_none());
        assert!(row(br#"{"eventData":{}}"#).is_none());
    }
}
