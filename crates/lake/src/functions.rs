//! Trino functions that CloudTrail Lake users write and DataFusion lacks, as DataFusion UDFs:
//! `json_extract_scalar(json, '$.path')` and `from_iso8601_timestamp(text)`.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use serde_json::Value;

/// Registers the functions with `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(create_udf(
        "json_extract_scalar",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(json_extract_scalar),
    ));
    ctx.register_udf(create_udf(
        "from_iso8601_timestamp",
        vec![DataType::Utf8],
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Volatility::Immutable,
        Arc::new(from_iso8601_timestamp),
    ));
}

fn arrays(args: &[ColumnarValue]) -> Result<(Vec<ArrayRef>, bool), DataFusionError> {
    let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = args
        .iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1);
    let out = args
        .iter()
        .map(|a| a.clone().into_array(rows))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((out, scalar))
}

fn finish(array: ArrayRef, scalar: bool) -> Result<ColumnarValue, DataFusionError> {
    if scalar {
        Ok(ColumnarValue::Scalar(
            datafusion::scalar::ScalarValue::try_from_array(&array, 0)?,
        ))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

/// Trino's JSONPath subset: `$`, `.name`, `["name"]`, `[index]`.
fn extract<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut cur = value;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            cur = cur.get(&r[..end])?;
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let key = r[..end].trim();
            cur = match key.parse::<usize>() {
                Ok(i) => cur.get(i)?,
                Err(_) => cur.get(key.trim_matches(|c| c == '"' || c == '\''))?,
            };
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(cur)
}

fn json_extract_scalar(args: &[ColumnarValue]) -> Result<ColumnarValue, DataFusionError> {
    let (arrays, scalar) = arrays(args)?;
    let (json, path) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
    let mut out = StringBuilder::new();
    for i in 0..json.len() {
        let found = (!json.is_null(i) && !path.is_null(i))
            .then(|| serde_json::from_str::<Value>(json.value(i)).ok())
            .flatten()
            .and_then(|v| {
                extract(&v, path.value(i)).and_then(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    // Trino returns NULL for arrays, objects and null.
                    _ => None,
                })
            });
        out.append_option(found);
    }
    finish(Arc::new(out.finish()), scalar)
}

fn from_iso8601_timestamp(args: &[ColumnarValue]) -> Result<ColumnarValue, DataFusionError> {
    let (arrays, scalar) = arrays(args)?;
    let text = arrays[0].as_string::<i32>();
    let mut out = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    for i in 0..text.len() {
        if text.is_null(i) {
            out.append_null();
            continue;
        }
        let s = text.value(i);
        let parsed = chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_micros())
            .or_else(|_| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .map(|t| t.and_utc().timestamp_micros())
            })
            .or_else(|_| {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| {
                    d.and_hms_opt(0, 0, 0)
                        .map(|t| t.and_utc().timestamp_micros())
                        .unwrap_or_default()
                })
            })
            .map_err(|_| {
                DataFusionError::Execution(format!(
                    "from_iso8601_timestamp: {s:?} is not an ISO 8601 timestamp"
                ))
            })?;
        out.append_value(parsed);
    }
    finish(Arc::new(out.finish()), scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_as_trino_reads_them() {
        let v: Value =
            serde_json::from_str(r#"{"a":{"b":[1,{"c":"x"}]},"k y":true}"#).expect("json");
        assert_eq!(extract(&v, "$.a.b[1].c"), Some(&Value::String("x".into())));
        assert_eq!(extract(&v, "$[\"k y\"]"), Some(&Value::Bool(true)));
        assert_eq!(extract(&v, "$.a.b[0]"), Some(&serde_json::json!(1)));
        assert_eq!(extract(&v, "$.missing"), None);
        assert_eq!(extract(&v, "a.b"), None);
    }
}
