//! Trino's conversions of times to and from text and numbers: ISO 8601 (`to_iso8601`,
//! `from_iso8601_timestamp`, `from_iso8601_date`), Unix time (`from_unixtime`,
//! `to_unixtime`) and patterns (`date_format` with MySQL's specifiers, `format_datetime` with
//! Joda-Time's letters).

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, Int64Builder, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_datafusion_err, exec_err, plan_err};

use super::datetime::{Clock, time};
use super::formats::{self, Piece};
use super::{Function, arity, literal_text, text};

pub(crate) fn functions() -> Vec<Function> {
    vec![
        Function::new("to_iso8601", coerce_to_iso8601, returns_text, to_iso8601),
        Function::new(
            "from_iso8601_timestamp",
            coerce_one_text,
            |_, _| Ok(utc_micros()),
            from_iso8601_timestamp,
        ),
        Function::new(
            "from_iso8601_date",
            coerce_one_text,
            |_, _| Ok(DataType::Date32),
            from_iso8601_date,
        ),
        Function::new(
            "from_unixtime",
            coerce_from_unixtime,
            returns_from_unixtime,
            from_unixtime,
        ),
        Function::new(
            "to_unixtime",
            coerce_to_unixtime,
            |_, _| Ok(DataType::Float64),
            to_unixtime,
        ),
        Function::new(
            "date_format",
            coerce_format,
            returns_format::<MYSQL>,
            format::<MYSQL>,
        ),
        Function::new(
            "format_datetime",
            coerce_format,
            returns_format::<JODA>,
            format::<JODA>,
        ),
    ]
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn returns_text(_: &[DataType], _: &[Option<&ScalarValue>]) -> Result<DataType> {
    Ok(DataType::Utf8)
}

fn coerce_to_iso8601(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[1], "(timestamp)")?;
    Ok(vec![time(&types[0], "the argument")?])
}

/// ISO 8601 text: dates as `2024-01-22`; timestamps with milliseconds (CloudTrail Lake's
/// timestamps are Trino's `timestamp(3)`), then `Z` or the offset when they have a zone.
fn to_iso8601(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let has_zone = matches!(args[0].data_type(), DataType::Timestamp(_, Some(_)));
    let (clock, instants) = Clock::instants(&args[0])?;
    let mut out = StringBuilder::new();
    for t in instants {
        let Some(t) = t else {
            out.append_null();
            continue;
        };
        let (l, offset) = clock.local(t);
        let s = if clock.is_date() {
            l.format("%Y-%m-%d").to_string()
        } else if !has_zone {
            l.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
        } else if offset == 0 {
            format!("{}Z", l.format("%Y-%m-%dT%H:%M:%S%.3f"))
        } else {
            let zoned = chrono::FixedOffset::east_opt(offset)
                .and_then(|o| o.from_local_datetime(&l).single())
                .ok_or_else(|| exec_datafusion_err!("to_iso8601: offset {offset} is invalid"))?;
            zoned.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
        };
        out.append_value(s);
    }
    Ok(Arc::new(out.finish()))
}

fn coerce_one_text(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[1], "(text)")?;
    Ok(vec![text(&types[0], "the argument")?])
}

fn parse_iso8601(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros())
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%#z").map(|t| t.timestamp_micros()))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
                .map(|t| t.and_utc().timestamp_micros())
        })
        .ok()
        .or_else(|| {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
        })
}

/// ISO 8601 text as a UTC timestamp (a time without an offset is UTC, the session zone).
fn from_iso8601_timestamp(args: &[ArrayRef], returns: &DataType) -> Result<ArrayRef> {
    let text = args[0].as_string::<i32>();
    let mut out = Int64Builder::with_capacity(text.len());
    for i in 0..text.len() {
        if text.is_null(i) {
            out.append_null();
            continue;
        }
        let s = text.value(i);
        let v = parse_iso8601(s).ok_or_else(|| {
            exec_datafusion_err!(
                "from_iso8601_timestamp: {s:?} is not an ISO 8601 timestamp such as 2024-01-22T10:15:30Z"
            )
        })?;
        out.append_value(v);
    }
    Ok(cast(&(Arc::new(out.finish()) as ArrayRef), returns)?)
}

fn from_iso8601_date(args: &[ArrayRef], returns: &DataType) -> Result<ArrayRef> {
    let text = args[0].as_string::<i32>();
    let mut out = Int64Builder::with_capacity(text.len());
    let epoch = NaiveDate::default();
    for i in 0..text.len() {
        if text.is_null(i) {
            out.append_null();
            continue;
        }
        let s = text.value(i);
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            exec_datafusion_err!(
                "from_iso8601_date: {s:?} is not an ISO 8601 date such as 2024-01-22"
            )
        })?;
        out.append_value((d - epoch).num_days());
    }
    Ok(cast(&(Arc::new(out.finish()) as ArrayRef), returns)?)
}

fn coerce_from_unixtime(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[1, 2], "(unixtime) or (unixtime, zone)")?;
    let t = &types[0];
    if !(t.is_numeric() || t.is_null()) {
        return Err(format!(
            "the Unix time must be a number of seconds, not {t}"
        ));
    }
    let mut out = vec![DataType::Float64];
    if let Some(zone) = types.get(1) {
        out.push(text(zone, "the zone")?);
    }
    Ok(out)
}

/// Trino's `timestamp(3) with time zone`, in the zone given or UTC.
fn returns_from_unixtime(
    types: &[DataType],
    literals: &[Option<&ScalarValue>],
) -> Result<DataType> {
    let zone = if types.len() == 2 {
        let Some(zone) = literal_text(literals, 1) else {
            return plan_err!(
                "from_unixtime: the zone must be a literal, such as 'America/New_York' or '+02:00'"
            );
        };
        if Tz::from_str(zone).is_err() {
            return plan_err!(
                "from_unixtime: '{zone}' is not a time zone: use a name such as 'America/New_York' or an offset such as '+02:00'"
            );
        }
        zone
    } else {
        "UTC"
    };
    Ok(DataType::Timestamp(
        TimeUnit::Millisecond,
        Some(zone.into()),
    ))
}

fn from_unixtime(args: &[ArrayRef], returns: &DataType) -> Result<ArrayRef> {
    let secs = args[0].as_primitive::<Float64Type>();
    let mut out = Int64Builder::with_capacity(secs.len());
    for i in 0..secs.len() {
        if secs.is_null(i) {
            out.append_null();
            continue;
        }
        let ms = (secs.value(i) * 1000.0).round();
        // Beyond ±2^53 ms (about 285,000 years) a double is no longer a whole millisecond.
        if !ms.is_finite() || ms.abs() > 9_007_199_254_740_992.0 {
            return exec_err!("from_unixtime: {} is not a time", secs.value(i));
        }
        out.append_value(ms as i64);
    }
    Ok(cast(&(Arc::new(out.finish()) as ArrayRef), returns)?)
}

fn coerce_to_unixtime(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[1], "(timestamp)")?;
    Ok(vec![time(&types[0], "the argument")?])
}

/// Seconds since the epoch as a double, with the fraction.
fn to_unixtime(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (_, instants) = Clock::instants(&args[0])?;
    let mut out = Float64Builder::with_capacity(instants.len());
    for t in instants {
        out.append_option(
            t.map(|t| t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9),
        );
    }
    Ok(Arc::new(out.finish()))
}

const MYSQL: bool = false;
const JODA: bool = true;

fn parse_pattern<const JODA: bool>(pattern: &str) -> Result<Vec<Piece>, String> {
    if JODA {
        formats::joda(pattern)
    } else {
        formats::mysql(pattern)
    }
}

fn coerce_format(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[2], "(timestamp, format)")?;
    Ok(vec![
        time(&types[0], "the first argument")?,
        text(&types[1], "the format")?,
    ])
}

fn returns_format<const J: bool>(
    _: &[DataType],
    literals: &[Option<&ScalarValue>],
) -> Result<DataType> {
    if let Some(pattern) = literal_text(literals, 1)
        && let Err(why) = parse_pattern::<J>(pattern)
    {
        return plan_err!("{why}");
    }
    Ok(DataType::Utf8)
}

fn format<const J: bool>(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (clock, instants) = Clock::instants(&args[0])?;
    let patterns = args[1].as_string::<i32>();
    let mut parsed: Option<(String, Vec<Piece>)> = None;
    let mut out = StringBuilder::new();
    for (i, t) in instants.into_iter().enumerate() {
        let (Some(t), false) = (t, patterns.is_null(i)) else {
            out.append_null();
            continue;
        };
        let pattern = patterns.value(i);
        if parsed.as_ref().is_none_or(|(p, _)| p != pattern) {
            let pieces =
                parse_pattern::<J>(pattern).map_err(|why| exec_datafusion_err!("{why}"))?;
            parsed = Some((pattern.to_owned(), pieces));
        }
        let pieces = parsed
            .as_ref()
            .map(|(_, p)| p.as_slice())
            .unwrap_or_default();
        let (l, offset) = clock.local(t);
        out.append_value(formats::render(pieces, &l, offset, &clock.zone));
    }
    Ok(Arc::new(out.finish()))
}
