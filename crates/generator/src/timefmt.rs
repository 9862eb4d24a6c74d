//! Dates in the several forms AWS writes inside records: ISO 8601 in `eventTime` and session
//! attributes, Java's medium date form in IAM/STS/KMS `responseElements`
//! (`"Nov 24, 2025, 3:04:05 PM"`), Lambda's `lastModified` with milliseconds and offset.

use chrono::{DateTime, Datelike, Timelike, Utc};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// `2025-11-24T15:04:05Z`.
pub(crate) fn iso(secs: i64) -> String {
    opentrail_model::time::format_event_time(at(secs))
}

/// `Nov 24, 2025, 3:04:05 PM`, as IAM, STS and KMS write dates in `responseElements`.
pub(crate) fn java_medium(secs: i64) -> String {
    let t = at(secs);
    let (pm, hour) = t.hour12();
    format!(
        "{} {}, {}, {}:{:02}:{:02} {}",
        MONTHS[t.month0() as usize],
        t.day(),
        t.year(),
        hour,
        t.minute(),
        t.second(),
        if pm { "PM" } else { "AM" }
    )
}

/// `2025-11-24T15:04:05.123+0000`, Lambda's `lastModified`.
pub(crate) fn lambda_modified(secs: i64, millis: u32) -> String {
    let t = at(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        millis % 1000
    )
}

/// `(year, month, day, hour, minute)` of an instant, for object keys and file names.
pub(crate) fn parts(secs: i64) -> (i32, u32, u32, u32, u32) {
    let t = at(secs);
    (t.year(), t.month(), t.day(), t.hour(), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_aws() {
        let secs = 1_764_000_245; // 2025-11-24T16:04:05Z
        assert_eq!(iso(secs), "2025-11-24T16:04:05Z");
        assert_eq!(java_medium(secs), "Nov 24, 2025, 4:04:05 PM");
        assert_eq!(java_medium(secs - 16 * 3600), "Nov 24, 2025, 12:04:05 AM");
        assert_eq!(lambda_modified(secs, 7), "2025-11-24T16:04:05.007+0000");
        assert_eq!(parts(secs), (2025, 11, 24, 16, 4));
    }
}
