//! Event times: CloudTrail writes `YYYY-MM-DDTHH:MM:SSZ`, UTC, whole seconds.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};

use crate::ModelError;

/// Formats an instant as a record's `eventTime` (fractions dropped).
pub fn format_event_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses a record's `eventTime`, accepting only the exact AWS form.
pub fn parse_event_time(s: &str) -> Result<DateTime<Utc>, ModelError> {
    let bad = || ModelError::InvalidTime {
        value: s.to_owned(),
    };
    let b = s.as_bytes();
    let shape_ok = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(bad());
    }
    let naive = NaiveDateTime::parse_from_str(&s[..19], "%Y-%m-%dT%H:%M:%S").map_err(|_| bad())?;
    Ok(Utc.from_utc_datetime(&naive))
}

/// Formats epoch milliseconds as an event time.
pub fn format_epoch_millis(ms: i64) -> String {
    format_event_time(DateTime::from_timestamp_millis(ms).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_aws_times() {
        let t = parse_event_time("2026-02-28T23:59:07Z").expect("valid");
        assert_eq!(format_event_time(t), "2026-02-28T23:59:07Z");
        assert_eq!(format_epoch_millis(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn rejects_other_shapes() {
        for s in [
            "2026-02-28T23:59:07",
            "2026-02-28 23:59:07Z",
            "2026-02-28T23:59:07.123Z",
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-02-28T24:00:00Z",
            "yesterday",
            "",
        ] {
            assert!(parse_event_time(s).is_err(), "{s}");
        }
    }
}
