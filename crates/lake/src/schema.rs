//! The event data store table: CloudTrail Lake's columns (lowercase record fields, nested
//! structs and arrays kept nested, maps of strings where AWS has them, the whole record as
//! `eventjson`) and the conversion of a CloudTrail record into one row.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::json::ReaderBuilder;
use serde_json::{Map, Value};

use crate::LakeError;

/// The partition column: the event's UTC day (`YYYY-MM-DD`). It is not one of CloudTrail
/// Lake's columns, so queries see the table through a projection without it.
pub const PARTITION_COLUMN: &str = "eventday";

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn structure(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}

/// `map<string,string>` with Delta Lake's entry names, so Delta readers (Spark, DuckDB,
/// delta-rs) see a plain map.
fn string_map(name: &str) -> Field {
    let entries = Field::new(
        "key_value",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, true),
        ])),
        false,
    );
    Field::new(name, DataType::Map(Arc::new(entries), false), true)
}

fn session_issuer() -> Field {
    structure(
        "sessionissuer",
        vec![
            utf8("type"),
            utf8("principalid"),
            utf8("arn"),
            utf8("accountid"),
            utf8("username"),
        ],
    )
}

fn user_identity() -> Field {
    structure(
        "useridentity",
        vec![
            utf8("type"),
            utf8("principalid"),
            utf8("arn"),
            utf8("accountid"),
            utf8("accesskeyid"),
            utf8("username"),
            structure(
                "sessioncontext",
                vec![
                    structure(
                        "attributes",
                        vec![utf8("creationdate"), utf8("mfaauthenticated")],
                    ),
                    session_issuer(),
                    structure(
                        "webidfederationdata",
                        vec![utf8("federatedprovider"), string_map("attributes")],
                    ),
                    utf8("sourceidentity"),
                    utf8("ec2roledelivery"),
                    utf8("ec2issuedinvpc"),
                ],
            ),
            utf8("invokedby"),
            utf8("identityprovider"),
            utf8("credentialid"),
            structure("onbehalfof", vec![utf8("userid"), utf8("identitystorearn")]),
        ],
    )
}

/// The table's schema: CloudTrail Lake's columns in its order, then the partition column.
pub fn table_schema() -> SchemaRef {
    TABLE_SCHEMA.clone()
}

static TABLE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let resource = Field::new(
        "item",
        DataType::Struct(Fields::from(vec![
            utf8("accountid"),
            utf8("type"),
            utf8("arn"),
            utf8("arnprefix"),
        ])),
        true,
    );
    Arc::new(Schema::new(vec![
        utf8("eventversion"),
        user_identity(),
        Field::new(
            "eventtime",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        utf8("eventsource"),
        utf8("eventname"),
        utf8("awsregion"),
        utf8("sourceipaddress"),
        utf8("useragent"),
        utf8("errorcode"),
        utf8("errormessage"),
        string_map("requestparameters"),
        string_map("responseelements"),
        string_map("additionaleventdata"),
        utf8("requestid"),
        utf8("eventid"),
        Field::new("readonly", DataType::Boolean, true),
        Field::new("resources", DataType::List(Arc::new(resource)), true),
        utf8("eventtype"),
        utf8("apiversion"),
        Field::new("managementevent", DataType::Boolean, true),
        utf8("recipientaccountid"),
        utf8("sharedeventid"),
        utf8("annotation"),
        utf8("vpcendpointid"),
        string_map("serviceeventdetails"),
        structure(
            "addendum",
            vec![
                utf8("reason"),
                utf8("updatedfields"),
                utf8("originalrequestid"),
                utf8("originaleventid"),
            ],
        ),
        utf8("edgedevicedetails"),
        utf8("insightdetails"),
        utf8("eventcategory"),
        structure(
            "tlsdetails",
            vec![
                utf8("tlsversion"),
                utf8("ciphersuite"),
                utf8("clientprovidedhostheader"),
            ],
        ),
        utf8("sessioncredentialfromconsole"),
        utf8("eventjson"),
        utf8("eventjsonchecksum"),
        utf8(PARTITION_COLUMN),
    ]))
});

/// Shapes `value` to `data_type` the way CloudTrail Lake presents record members: struct
/// members matched case-insensitively, maps and text columns holding nested values as JSON
/// text, booleans from `true`/`"true"`. What cannot take the shape becomes null rather than
/// failing the whole batch.
fn conform(value: &Value, data_type: &DataType) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    match data_type {
        DataType::Utf8 => match value {
            Value::String(s) => Value::String(s.clone()),
            other => Value::String(other.to_string()),
        },
        DataType::Boolean => match value {
            Value::Bool(b) => Value::Bool(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => Value::Null,
        },
        DataType::Timestamp(..) => match value {
            Value::String(s) => Value::String(s.clone()),
            _ => Value::Null,
        },
        DataType::Struct(fields) => match value {
            Value::Object(members) => {
                let mut out = Map::new();
                for field in fields {
                    if let Some(v) = member(members, field.name()) {
                        out.insert(field.name().clone(), conform(v, field.data_type()));
                    }
                }
                Value::Object(out)
            }
            _ => Value::Null,
        },
        DataType::Map(..) => match value {
            Value::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| {
                        let text = match v {
                            Value::Null => Value::Null,
                            Value::String(s) => Value::String(s.clone()),
                            other => Value::String(other.to_string()),
                        };
                        (k.clone(), text)
                    })
                    .collect(),
            ),
            _ => Value::Null,
        },
        DataType::List(item) => match value {
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| conform(v, item.data_type())).collect())
            }
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

/// The member named `lower` in any letter case (`eventTime` for `eventtime`).
fn member<'a>(members: &'a Map<String, Value>, lower: &str) -> Option<&'a Value> {
    members
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(lower))
        .map(|(_, v)| v)
}

/// One row for `record` (a CloudTrail record as JSON text): every column, `eventjson` the
/// record as it was received, `eventday` from `eventTime`. `None` for text that is not a
/// JSON object with an `eventTime`.
pub fn row(record: &[u8]) -> Option<Value> {
    let Value::Object(members) = serde_json::from_slice::<Value>(record).ok()? else {
        return None;
    };
    let time = member(&members, "eventtime")?.as_str()?.to_owned();
    let day = time.get(..10)?.to_owned();
    let mut out = Map::new();
    for field in table_schema().fields() {
        let name = field.name().as_str();
        match name {
            "eventjson" => {
                out.insert(
                    name.to_owned(),
                    Value::String(String::from_utf8_lossy(record).into_owned()),
                );
            }
            PARTITION_COLUMN => {
                out.insert(name.to_owned(), Value::String(day.clone()));
            }
            _ => {
                if let Some(v) = member(&members, name) {
                    out.insert(name.to_owned(), conform(v, field.data_type()));
                }
            }
        }
    }
    Some(Value::Object(out))
}

/// Rows made by [`row`] as one Arrow batch of [`table_schema`].
pub fn batch(rows: &[Value]) -> Result<RecordBatch, LakeError> {
    let mut decoder = ReaderBuilder::new(table_schema())
        .with_batch_size(rows.len().max(1))
        .build_decoder()
        .map_err(|e| LakeError::Internal(format!("building the row decoder: {e}")))?;
    decoder
        .serialize(rows)
        .map_err(|e| LakeError::Internal(format!("converting records to rows: {e}")))?;
    Ok(decoder
        .flush()
        .map_err(|e| LakeError::Internal(format!("converting records to rows: {e}")))?
        .unwrap_or_else(|| RecordBatch::new_empty(table_schema())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};

    const RECORD: &str = r#"{"eventVersion":"1.11","userIdentity":{"type":"AssumedRole","principalId":"AROA:alice","arn":"arn:aws:sts::123456789012:assumed-role/Admin/alice","accountId":"123456789012","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::123456789012:role/Admin","userName":"Admin"},"attributes":{"creationDate":"2026-11-25T10:00:00Z","mfaAuthenticated":"true"}}},"eventTime":"2026-11-25T10:15:30Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2","requestParameters":{"bucketName":"b","key":"k","tagging":{"a":1}},"responseElements":null,"requestID":"R1","eventID":"E1","readOnly":false,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"},{"accountId":"123456789012","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"123456789012","eventCategory":"Data","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"b.s3.amazonaws.com"},"somethingNew":{"x":1}}"#;

    #[test]
    fn a_record_becomes_one_row_with_nested_columns() {
        let r = row(RECORD.as_bytes()).expect("row");
        let b = batch(&[r]).expect("batch");
        assert_eq!(b.num_rows(), 1);
        let col = |n: &str| b.column_by_name(n).expect("column").clone();
        assert_eq!(col("eventname").as_string::<i32>().value(0), "PutObject");
        assert_eq!(col("eventday").as_string::<i32>().value(0), "2026-11-25");
        assert_eq!(col("eventjson").as_string::<i32>().value(0), RECORD);
        assert!(!col("readonly").as_boolean().value(0));
        let ui = col("useridentity");
        let ui = ui.as_struct();
        let arn = ui.column_by_name("arn").expect("arn");
        assert_eq!(
            arn.as_string::<i32>().value(0),
            "arn:aws:sts::123456789012:assumed-role/Admin/alice"
        );
        let issuer = ui
            .column_by_name("sessioncontext")
            .expect("sessioncontext")
            .as_struct()
            .column_by_name("sessionissuer")
            .expect("issuer")
            .as_struct()
            .column_by_name("username")
            .expect("username")
            .as_string::<i32>()
            .value(0)
            .to_owned();
        assert_eq!(issuer, "Admin");
        let resources = col("resources");
        assert_eq!(resources.as_list::<i32>().value(0).len(), 2);
        let params = col("requestparameters");
        let params = params.as_map();
        let keys = params.keys().as_string::<i32>();
        let values = params.values().as_string::<i32>();
        let pairs: Vec<(String, String)> = (0..keys.len())
            .map(|i| (keys.value(i).to_owned(), values.value(i).to_owned()))
            .collect();
        assert!(
            pairs.contains(&("tagging".into(), r#"{"a":1}"#.into())),
            "{pairs:?}"
        );
        assert!(col("responseelements").is_null(0));
        let ts = col("eventtime");
        let ts = ts.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(ts.value(0), 1_795_601_730_000_000);
    }

    #[test]
    fn odd_shapes_become_nulls_not_failures() {
        let odd = r#"{"eventTime":"2026-11-25T00:00:00Z","readOnly":"maybe","useridentity":"x","resources":{"no":"list"},"requestParameters":[1],"eventName":7}"#;
        let b = batch(&[row(odd.as_bytes()).expect("row")]).expect("batch");
        assert!(b.column_by_name("readonly").expect("c").is_null(0));
        assert!(b.column_by_name("useridentity").expect("c").is_null(0));
        assert!(b.column_by_name("resources").expect("c").is_null(0));
        assert!(b.column_by_name("requestparameters").expect("c").is_null(0));
        assert_eq!(
            b.column_by_name("eventname")
                .expect("c")
                .as_string::<i32>()
                .value(0),
            "7"
        );
        assert!(row(b"[1,2]").is_none());
        assert!(row(br#"{"eventName":"NoTime"}"#).is_none());
    }
}
