//! Date and time patterns: MySQL's (Trino's `date_format`) and Joda-Time's (Trino's
//! `format_datetime`), each parsed once into pieces, then rendered for every value.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDateTime, Timelike};

/// One piece of a pattern. Widths are minimum widths, zero-padded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    Era,
    Century(usize),
    Year(usize),
    TwoDigitYear,
    WeekYear(usize),
    TwoDigitWeekYear,
    Month(usize),
    MonthShort,
    MonthLong,
    Day(usize),
    DayOfYear(usize),
    Week(usize),
    Weekday(usize),
    WeekdayShort,
    WeekdayLong,
    AmPm,
    Hour(usize),
    /// 1 to 12.
    ClockHour12(usize),
    /// 0 to 11.
    Hour12(usize),
    /// 1 to 24.
    ClockHour24(usize),
    Minute(usize),
    Second(usize),
    /// The first n digits of the fraction of the second.
    Fraction(usize),
    /// MySQL's `%f`: milliseconds as six digits (`123000`), as Trino prints it.
    MillisAsMicros,
    /// `+0000`, or `+00:00` with the colon.
    Offset {
        colon: bool,
    },
    Zone,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// MySQL's specifiers as Trino reads them (`%Y-%m-%d %H:%i:%s`). Like Trino, `%D %U %u %V
/// %w %X` are refused and `%x` for any other `x` is `x`.
pub(crate) fn mysql(pattern: &str) -> Result<Vec<Piece>, String> {
    use Piece::*;
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            text.push('%');
            break;
        };
        let piece = match spec {
            'a' => WeekdayShort,
            'b' => MonthShort,
            'c' => Month(1),
            'd' => Day(2),
            'e' => Day(1),
            'f' => MillisAsMicros,
            'H' => Hour(2),
            'h' | 'I' => ClockHour12(2),
            'i' => Minute(2),
            'j' => DayOfYear(3),
            'k' => Hour(1),
            'l' => ClockHour12(1),
            'M' => MonthLong,
            'm' => Month(2),
            'p' => AmPm,
            'r' => {
                flush(&mut out, &mut text);
                out.extend([
                    ClockHour12(2),
                    Text(":".into()),
                    Minute(2),
                    Text(":".into()),
                    Second(2),
                    Text(" ".into()),
                    AmPm,
                ]);
                continue;
            }
            'S' | 's' => Second(2),
            'T' => {
                flush(&mut out, &mut text);
                out.extend([
                    Hour(2),
                    Text(":".into()),
                    Minute(2),
                    Text(":".into()),
                    Second(2),
                ]);
                continue;
            }
            'v' => Week(2),
            'W' => WeekdayLong,
            'x' => WeekYear(4),
            'Y' => Year(4),
            'y' => TwoDigitYear,
            'D' | 'U' | 'u' | 'V' | 'w' | 'X' => {
                return Err(format!(
                    "%{spec} is not supported in date format strings (as in Trino); see the date_format specifiers in the README"
                ));
            }
            other => {
                text.push(other);
                continue;
            }
        };
        flush(&mut out, &mut text);
        out.push(piece);
    }
    flush(&mut out, &mut text);
    Ok(out)
}

/// Joda-Time's pattern letters (`yyyy-MM-dd'T'HH:mm:ss.SSSZZ`), as Trino's
/// `format_datetime` reads them.
pub(crate) fn joda(pattern: &str) -> Result<Vec<Piece>, String> {
    use Piece::*;
    let mut out = Vec::new();
    let mut text = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // '' is a quote; 'text' is text, '' inside it a quote.
            if chars.get(i + 1) == Some(&'\'') {
                text.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated quote in {pattern:?}")),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        text.push(*ch);
                        i += 1;
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            text.push(c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        i += n;
        let piece = match c {
            'G' => Era,
            'C' => Century(n),
            'y' | 'Y' | 'u' if n == 2 => TwoDigitYear,
            'y' | 'Y' | 'u' => Year(n),
            'x' if n == 2 => TwoDigitWeekYear,
            'x' => WeekYear(n),
            'w' => Week(n),
            'e' => Weekday(n),
            'E' if n >= 4 => WeekdayLong,
            'E' => WeekdayShort,
            'D' => DayOfYear(n),
            'M' if n >= 4 => MonthLong,
            'M' if n == 3 => MonthShort,
            'M' => Month(n),
            'd' => Day(n),
            'a' => AmPm,
            'K' => Hour12(n),
            'h' => ClockHour12(n),
            'H' => Hour(n),
            'k' => ClockHour24(n),
            'm' => Minute(n),
            's' => Second(n),
            'S' => Fraction(n),
            'z' => Zone,
            'Z' if n == 1 => Offset { colon: false },
            'Z' if n == 2 => Offset { colon: true },
            'Z' => Zone,
            other => {
                return Err(format!(
                    "Illegal pattern component: {} (in {pattern:?}); quote text with '...'",
                    other.to_string().repeat(n)
                ));
            }
        };
        flush(&mut out, &mut text);
        out.push(piece);
    }
    flush(&mut out, &mut text);
    Ok(out)
}

fn flush(out: &mut Vec<Piece>, text: &mut String) {
    if !text.is_empty() {
        out.push(Piece::Text(std::mem::take(text)));
    }
}

/// `t` (wall time in its zone, `offset` seconds east of UTC, zone named `zone`) rendered
/// with `pieces`.
pub(crate) fn render(pieces: &[Piece], t: &NaiveDateTime, offset: i32, zone: &str) -> String {
    use Piece::*;
    let mut s = String::new();
    let nanos = t.nanosecond().min(999_999_999);
    let hour = t.hour();
    for p in pieces {
        // Writing to a String cannot fail.
        let _ = match p {
            Text(x) => write!(s, "{x}"),
            Era => write!(s, "{}", if t.year() > 0 { "AD" } else { "BC" }),
            Century(w) => write!(s, "{:0w$}", t.year().div_euclid(100)),
            Year(w) => write!(s, "{:0w$}", t.year()),
            TwoDigitYear => write!(s, "{:02}", t.year().rem_euclid(100)),
            WeekYear(w) => write!(s, "{:0w$}", t.iso_week().year()),
            TwoDigitWeekYear => write!(s, "{:02}", t.iso_week().year().rem_euclid(100)),
            Month(w) => write!(s, "{:0w$}", t.month()),
            MonthShort => write!(s, "{}", &MONTHS[t.month0() as usize][..3]),
            MonthLong => write!(s, "{}", MONTHS[t.month0() as usize]),
            Day(w) => write!(s, "{:0w$}", t.day()),
            DayOfYear(w) => write!(s, "{:0w$}", t.ordinal()),
            Week(w) => write!(s, "{:0w$}", t.iso_week().week()),
            Weekday(w) => write!(s, "{:0w$}", t.weekday().number_from_monday()),
            WeekdayShort => write!(
                s,
                "{}",
                &WEEKDAYS[t.weekday().num_days_from_monday() as usize][..3]
            ),
            WeekdayLong => write!(
                s,
                "{}",
                WEEKDAYS[t.weekday().num_days_from_monday() as usize]
            ),
            AmPm => write!(s, "{}", if hour < 12 { "AM" } else { "PM" }),
            Hour(w) => write!(s, "{hour:0w$}"),
            ClockHour12(w) => write!(
                s,
                "{:0w$}",
                if hour.is_multiple_of(12) {
                    12
                } else {
                    hour % 12
                }
            ),
            Hour12(w) => write!(s, "{:0w$}", hour % 12),
            ClockHour24(w) => write!(s, "{:0w$}", if hour == 0 { 24 } else { hour }),
            Minute(w) => write!(s, "{:0w$}", t.minute()),
            Second(w) => write!(s, "{:0w$}", t.second()),
            Fraction(n) => {
                let digits = format!("{nanos:09}");
                if *n <= 9 {
                    write!(s, "{}", &digits[..*n])
                } else {
                    write!(s, "{digits}{}", "0".repeat(n - 9))
                }
            }
            MillisAsMicros => write!(s, "{:06}", nanos / 1_000_000 * 1000),
            Offset { colon } => {
                let sign = if offset < 0 { '-' } else { '+' };
                let (h, m) = (offset.abs() / 3600, offset.abs() % 3600 / 60);
                if *colon {
                    write!(s, "{sign}{h:02}:{m:02}")
                } else {
                    write!(s, "{sign}{h:02}{m:02}")
                }
            }
            Zone => write!(s, "{zone}"),
        };
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").expect("time")
    }

    #[test]
    fn mysql_specifiers_as_trino_prints_them() {
        let t = at("2024-03-05 07:08:09.123456");
        let cases = [
            ("%Y-%m-%d %H:%i:%s", "2024-03-05 07:08:09"),
            ("%y %c %e %k %l", "24 3 5 7 7"),
            ("%a %b %W %M", "Tue Mar Tuesday March"),
            ("%j %f %p %h %I", "065 123000 AM 07 07"),
            ("%r|%T", "07:08:09 AM|07:08:09"),
            ("%x-%v", "2024-10"),
            ("100%% %q", "100% q"),
            ("trailing %", "trailing %"),
        ];
        for (pattern, expected) in cases {
            let pieces = mysql(pattern).expect(pattern);
            assert_eq!(render(&pieces, &t, 0, "UTC"), expected, "{pattern}");
        }
        let pm = at("2024-03-05 00:30:00");
        assert_eq!(
            render(&mysql("%h %l %p").expect("p"), &pm, 0, "UTC"),
            "12 12 AM"
        );
        for bad in ["%D", "%U", "%u", "%V", "%w", "%X"] {
            let e = mysql(bad).expect_err(bad);
            assert!(e.contains("not supported"), "{e}");
        }
    }

    #[test]
    fn joda_letters_as_trino_prints_them() {
        let t = at("2024-03-05 17:08:09.123456");
        let cases = [
            ("yyyy-MM-dd'T'HH:mm:ss.SSS", "2024-03-05T17:08:09.123"),
            ("yy M d H m s S", "24 3 5 17 8 9 1"),
            ("EEE EEEE MMM MMMM", "Tue Tuesday Mar March"),
            ("h:mm a K k", "5:08 PM 5 17"),
            ("D e w xxxx G C", "65 2 10 2024 AD 20"),
            ("Z|ZZ|ZZZ|z", "+0530|+05:30|Asia/Kolkata|Asia/Kolkata"),
            ("'it''s' ''", "it's '"),
            ("SSSSSSSSSSS", "12345600000"),
        ];
        for (pattern, expected) in cases {
            let pieces = joda(pattern).expect(pattern);
            assert_eq!(
                render(&pieces, &t, 19800, "Asia/Kolkata"),
                expected,
                "{pattern}"
            );
        }
        assert_eq!(
            render(&joda("Z").expect("z"), &t, -3600, "x"),
            "-0100",
            "west of UTC"
        );
        let e = joda("yyyy-MM-dd T").expect_err("T");
        assert!(e.contains("Illegal pattern component: T"), "{e}");
        assert!(joda("'open").is_err());
    }
}
