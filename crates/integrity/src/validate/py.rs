//! The pieces of Python, dateutil and `re` behaviour that decide what `validate-logs` prints:
//! how dates parse and display, how JSON values look when formatted into a message, and the
//! `TypeError` texts Python raises when a digest holds the wrong kind of value.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde_json::Value;

/// The CLI's display format (`DISPLAY_DATE_FORMAT`): local fields and a literal `Z`, whatever
/// the offset.
pub(crate) fn display(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A datetime as `dateutil.parser.parse` returns it: wall-clock fields and, when the text
/// named a zone, its offset (naive otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PyDate {
    /// The wall-clock fields.
    pub local: NaiveDateTime,
    /// The offset, when the text carried one.
    pub offset: Option<FixedOffset>,
}

impl PyDate {
    /// `normalize_date`: the CLI *replaces* the zone with UTC rather than converting, so
    /// `15:00+02:00` becomes `15:00Z`.
    pub fn normalized(&self) -> DateTime<Utc> {
        Utc.from_utc_datetime(&self.local)
    }

    /// The aware datetime, or `None` for a naive one.
    pub fn aware(&self) -> Option<DateTime<FixedOffset>> {
        self.offset
            .and_then(|o| o.from_local_datetime(&self.local).single())
    }
}

/// `parse_date`: the ISO 8601 forms dateutil reads (basic or extended, `T` or space, optional
/// seconds and fraction, `Z`/`UTC`/`GMT`/`±HH[:MM]`). Fails with the CLI's own message.
pub(crate) fn parse_date(text: &str) -> Result<PyDate, String> {
    parse_iso(text.trim()).ok_or_else(|| format!("Unable to parse date value: {text}"))
}

/// `parse_date` applied to a JSON value: dateutil refuses anything but a string with a
/// `TypeError` that `parse_date` does not rewrite.
pub(crate) fn parse_date_value(v: &Value) -> Result<PyDate, String> {
    match v {
        Value::String(s) => parse_date(s),
        other => Err(format!(
            "Parser must be a string or character stream, not {}",
            type_name(other)
        )),
    }
}

fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[n..]))
}

fn parse_iso(s: &str) -> Option<PyDate> {
    let (year, rest) = digits(s, 4)?;
    let (month, day, rest) = if let Some(r) = rest.strip_prefix('-') {
        let (m, r) = digits(r, 2)?;
        let (d, r) = digits(r.strip_prefix('-')?, 2)?;
        (m, d, r)
    } else {
        let (m, r) = digits(rest, 2)?;
        let (d, r) = digits(r, 2)?;
        (m, d, r)
    };
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let (time, rest) = match rest.strip_prefix(['T', 't', ' ']) {
        None => (NaiveTime::MIN, rest),
        Some(r) => parse_time(r)?,
    };
    let offset = parse_zone(rest.trim_start())?;
    Some(PyDate {
        local: date.and_time(time),
        offset,
    })
}

fn parse_time(s: &str) -> Option<(NaiveTime, &str)> {
    let (h, r) = digits(s, 2)?;
    let extended = r.starts_with(':');
    let r = if extended { &r[1..] } else { r };
    let (m, mut r) = digits(r, 2)?;
    let mut sec = 0;
    let mut micros = 0;
    let sec_part = if extended {
        r.strip_prefix(':')
    } else {
        Some(r)
    };
    if let Some(after) = sec_part
        && let Some((s2, r2)) = digits(after, 2)
    {
        sec = s2;
        r = r2;
        if let Some(frac) = r.strip_prefix(['.', ',']) {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            // dateutil keeps microseconds and drops further digits.
            let kept: String = frac[..n.min(6)].chars().collect();
            micros = format!("{kept:0<6}").parse().ok()?;
            r = &frac[n..];
        }
    }
    Some((NaiveTime::from_hms_micro_opt(h, m, sec, micros)?, r))
}

fn parse_zone(s: &str) -> Option<Option<FixedOffset>> {
    match s {
        "" => return Some(None),
        "Z" | "z" | "UTC" | "GMT" => return FixedOffset::east_opt(0).map(Some),
        _ => {}
    }
    let sign = match s.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let r = &s[1..];
    let (h, r) = digits(r, 2)?;
    let m = match r {
        "" => 0,
        _ => {
            let r = r.strip_prefix(':').unwrap_or(r);
            let (m, rest) = digits(r, 2)?;
            if !rest.is_empty() {
                return None;
            }
            m
        }
    };
    FixedOffset::east_opt(sign * (h as i32 * 3600 + m as i32 * 60)).map(Some)
}

/// Python's name for the type `json.loads` gives a value.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Python truthiness.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `str(value)`, as an f-string formats it.
pub(crate) fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

fn repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => float_repr(f),
            _ => n.to_string(),
        },
        Value::String(s) => str_repr(s),
        Value::Array(a) => format!("[{}]", a.iter().map(repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", str_repr(k), repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `repr(float)`: shortest round-trip digits, positional between 1e-4 and 1e16.
fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let a = f.abs();
    if a == 0.0 || (1e-4..1e16).contains(&a) {
        let s = f.to_string();
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    }
}

/// The `TypeError` of `value['key']` on something that is not a dict.
pub(crate) fn subscript_error(v: &Value) -> String {
    match v {
        Value::String(_) => "string indices must be integers, not 'str'".into(),
        Value::Array(_) => "list indices must be integers or slices, not str".into(),
        other => format!("'{}' object is not subscriptable", type_name(other)),
    }
}

/// The `TypeError` of `value['key'] = x` on something that is not a dict.
pub(crate) fn item_assignment_error(v: &Value) -> String {
    match v {
        Value::Array(_) => "list indices must be integers or slices, not str".into(),
        other => format!(
            "'{}' object does not support item assignment",
            type_name(other)
        ),
    }
}

/// `s[-a:-b]` on a Python string: counts characters, not bytes, and clamps at the start.
pub(crate) fn slice_from_end(s: &str, from: usize, to: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let start = n.saturating_sub(from);
    let end = n.saturating_sub(to);
    if start >= end {
        return String::new();
    }
    chars[start..end].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn utc(s: &str) -> String {
        display(parse_date(s).expect("parses").normalized().naive_utc())
    }

    #[test]
    fn dates_parse_like_dateutil_and_normalize_by_replacing_the_zone() {
        assert_eq!(utc("20150817T150131Z"), "2015-08-17T15:01:31Z");
        assert_eq!(utc("2015-08-17T14:01:31Z"), "2015-08-17T14:01:31Z");
        assert_eq!(utc("2015-08-17T14:01:31.999+02:00"), "2015-08-17T14:01:31Z");
        assert_eq!(utc("2015-08-17 14:01"), "2015-08-17T14:01:00Z");
        assert_eq!(utc("2015-08-17"), "2015-08-17T00:00:00Z");
        let off = parse_date("2015-08-17T14:01:31+0200").expect("parses");
        assert_eq!(
            off.aware().expect("aware").naive_utc().to_string(),
            "2015-08-17 12:01:31"
        );
        assert!(
            parse_date("2015-08-17T14:01:31")
                .expect("naive")
                .aware()
                .is_none()
        );
        assert_eq!(
            parse_date("garbage!"),
            Err("Unable to parse date value: garbage!".into())
        );
        assert_eq!(
            parse_date_value(&json!(5)),
            Err("Parser must be a string or character stream, not int".into())
        );
    }

    #[test]
    fn values_format_like_python_str() {
        assert_eq!(
            str_of(&json!({"a": [1, "x", null, true, 1.0, 1e20, 1.5e-7, "it's"]})),
            r#"{'a': [1, 'x', None, True, 1.0, 1e+20, 1.5e-07, "it's"]}"#
        );
        assert_eq!(str_of(&json!("plain")), "plain");
        assert_eq!(
            subscript_error(&json!("s")),
            "string indices must be integers, not 'str'"
        );
        assert_eq!(
            subscript_error(&json!(null)),
            "'NoneType' object is not subscriptable"
        );
        assert_eq!(
            item_assignment_error(&json!(1.5)),
            "'float' object does not support item assignment"
        );
        assert_eq!(slice_from_end("abcdef", 4, 2), "cd");
        assert_eq!(slice_from_end("ab", 24, 8), "");
        assert_eq!(
            slice_from_end("é_20150817T150131Z.json.gz", 24, 8),
            "20150817T150131Z"
        );
    }
}
