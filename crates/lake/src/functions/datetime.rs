//! Trino's date and time arithmetic (`date_add`, `date_diff`) and fields (`year(ts)`,
//! `day_of_week(ts)`...), and the clock that reads timestamp and date columns for them and for
//! the conversions. Timestamps keep their time unit and zone; calendar units (day and longer)
//! count on the wall clock of the timestamp's zone, shorter ones on the instant, as Trino
//! (Joda-Time) does.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{
    DateTime, Datelike, Months, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc,
};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Builder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_datafusion_err, exec_err, plan_err};

use super::{Function, arity, integer, is_text, literal_text, text};

pub(crate) fn functions() -> Vec<Function> {
    vec![
        Function::new("date_add", coerce_date_add, returns_date_add, date_add),
        Function::new("date_diff", coerce_date_diff, returns_date_diff, date_diff),
        Function::new("year", coerce_field::<YEAR>, returns_int, field::<YEAR>),
        Function::new(
            "quarter",
            coerce_field::<QUARTER>,
            returns_int,
            field::<QUARTER>,
        ),
        Function::new("month", coerce_field::<MONTH>, returns_int, field::<MONTH>),
        Function::new("week", coerce_field::<WEEK>, returns_int, field::<WEEK>)
            .alias(&["week_of_year"]),
        Function::new("day", coerce_field::<DAY>, returns_int, field::<DAY>)
            .alias(&["day_of_month"]),
        Function::new(
            "day_of_week",
            coerce_field::<DAY_OF_WEEK>,
            returns_int,
            field::<DAY_OF_WEEK>,
        )
        .alias(&["dow"]),
        Function::new(
            "day_of_year",
            coerce_field::<DAY_OF_YEAR>,
            returns_int,
            field::<DAY_OF_YEAR>,
        )
        .alias(&["doy"]),
        Function::new(
            "year_of_week",
            coerce_field::<YEAR_OF_WEEK>,
            returns_int,
            field::<YEAR_OF_WEEK>,
        )
        .alias(&["yow"]),
        Function::new("hour", coerce_field::<HOUR>, returns_int, field::<HOUR>),
        Function::new(
            "minute",
            coerce_field::<MINUTE>,
            returns_int,
            field::<MINUTE>,
        ),
        Function::new(
            "second",
            coerce_field::<SECOND>,
            returns_int,
            field::<SECOND>,
        ),
        Function::new(
            "millisecond",
            coerce_field::<MILLISECOND>,
            returns_int,
            field::<MILLISECOND>,
        ),
    ]
}

fn returns_int(_: &[DataType], _: &[Option<&ScalarValue>]) -> Result<DataType> {
    Ok(DataType::Int64)
}

/// A unit of `date_add` and `date_diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Unit {
    /// Trino's unit names, in any case; dates take only day and longer.
    fn parse(name: &str, date: bool) -> Result<Unit, String> {
        let unit = match name.to_ascii_lowercase().as_str() {
            "millisecond" => Unit::Millisecond,
            "second" => Unit::Second,
            "minute" => Unit::Minute,
            "hour" => Unit::Hour,
            "day" => Unit::Day,
            "week" => Unit::Week,
            "month" => Unit::Month,
            "quarter" => Unit::Quarter,
            "year" => Unit::Year,
            _ if date => {
                return Err(format!(
                    "'{name}' is not a valid DATE field: use one of day, week, month, quarter, year"
                ));
            }
            _ => {
                return Err(format!(
                    "'{name}' is not a valid Timestamp field: use one of millisecond, second, minute, hour, day, week, month, quarter, year"
                ));
            }
        };
        if date && unit.millis().is_some_and(|ms| ms < 86_400_000) {
            return Err(format!(
                "'{name}' is not a valid DATE field: use one of day, week, month, quarter, year"
            ));
        }
        Ok(unit)
    }

    /// The unit's length, when it has a fixed one.
    fn millis(self) -> Option<i64> {
        match self {
            Unit::Millisecond => Some(1),
            Unit::Second => Some(1_000),
            Unit::Minute => Some(60_000),
            Unit::Hour => Some(3_600_000),
            Unit::Day => Some(86_400_000),
            Unit::Week => Some(7 * 86_400_000),
            Unit::Month | Unit::Quarter | Unit::Year => None,
        }
    }

    /// Months in a calendar unit.
    fn months(self) -> i64 {
        match self {
            Unit::Quarter => 3,
            Unit::Year => 12,
            _ => 1,
        }
    }

    /// True for the units counted on the wall clock of the zone rather than on the instant.
    fn calendar(self) -> bool {
        self.millis().is_none_or(|ms| ms >= 86_400_000)
    }
}

/// The unit of the previous row: a column's unit is nearly always one literal, so it is
/// parsed once rather than for every row.
#[derive(Default)]
struct LastUnit<'a>(Option<(&'a str, Unit)>);

impl<'a> LastUnit<'a> {
    fn read(&mut self, name: &'a str, date: bool, function: &str) -> Result<Unit> {
        match self.0 {
            Some((last, unit)) if last == name => Ok(unit),
            _ => {
                let unit = Unit::parse(name, date)
                    .map_err(|why| exec_datafusion_err!("{function}: {why}"))?;
                self.0 = Some((name, unit));
                Ok(unit)
            }
        }
    }
}

/// How a column's values are instants and wall times: dates (days since the epoch) or
/// timestamps of a unit, in a zone or none (read as UTC).
pub(super) struct Clock {
    unit: Option<TimeUnit>,
    tz: Option<Tz>,
    /// The zone's name as the type gives it (`UTC` when it has none).
    pub(super) zone: String,
}

impl Clock {
    pub(super) fn of(t: &DataType) -> Result<Clock> {
        match t {
            DataType::Date32 => Ok(Clock {
                unit: None,
                tz: None,
                zone: "UTC".into(),
            }),
            DataType::Timestamp(unit, tz) => Ok(Clock {
                unit: Some(*unit),
                tz: tz.as_deref().map(Tz::from_str).transpose()?,
                zone: tz.as_deref().unwrap_or("UTC").to_owned(),
            }),
            other => exec_err!("expected a timestamp or a date, not {other}"),
        }
    }

    /// The clock of `arg` (a timestamp or date column) and each of its values as an instant:
    /// `None` where it is null or out of chrono's range.
    pub(super) fn instants(arg: &ArrayRef) -> Result<(Clock, Vec<Option<DateTime<Utc>>>)> {
        let clock = Clock::of(arg.data_type())?;
        let values = cast(arg, &DataType::Int64)?;
        let values = values.as_primitive::<Int64Type>();
        let instants = values
            .iter()
            .map(|v| v.and_then(|v| clock.instant(v)))
            .collect();
        Ok((clock, instants))
    }

    pub(super) fn is_date(&self) -> bool {
        self.unit.is_none()
    }

    pub(super) fn instant(&self, v: i64) -> Option<DateTime<Utc>> {
        match self.unit {
            None => DateTime::from_timestamp(v.checked_mul(86_400)?, 0),
            Some(TimeUnit::Second) => DateTime::from_timestamp(v, 0),
            Some(TimeUnit::Millisecond) => DateTime::from_timestamp_millis(v),
            Some(TimeUnit::Microsecond) => DateTime::from_timestamp_micros(v),
            Some(TimeUnit::Nanosecond) => Some(DateTime::from_timestamp_nanos(v)),
        }
    }

    fn value(&self, t: DateTime<Utc>) -> Option<i64> {
        match self.unit {
            None => Some(t.timestamp().div_euclid(86_400)),
            Some(TimeUnit::Second) => Some(t.timestamp()),
            Some(TimeUnit::Millisecond) => Some(t.timestamp_millis()),
            Some(TimeUnit::Microsecond) => Some(t.timestamp_micros()),
            Some(TimeUnit::Nanosecond) => t.timestamp_nanos_opt(),
        }
    }

    /// The wall time in the zone, and the zone's offset then (seconds east of UTC).
    pub(super) fn local(&self, t: DateTime<Utc>) -> (NaiveDateTime, i32) {
        match &self.tz {
            Some(tz) => {
                let l = t.with_timezone(tz);
                (l.naive_local(), l.offset().fix().local_minus_utc())
            }
            None => (t.naive_utc(), 0),
        }
    }

    fn instant_of_local(&self, l: NaiveDateTime) -> Option<DateTime<Utc>> {
        match &self.tz {
            // A wall time in a daylight-saving gap does not exist: Joda moves past the gap.
            Some(tz) => tz
                .from_local_datetime(&l)
                .earliest()
                .or_else(|| {
                    tz.from_local_datetime(&(l + TimeDelta::hours(1)))
                        .earliest()
                })
                .map(|t| t.with_timezone(&Utc)),
            None => Some(l.and_utc()),
        }
    }

    fn add(&self, v: i64, unit: Unit, n: i64) -> Option<i64> {
        let t = self.instant(v)?;
        let t = if unit.calendar() {
            let (local, _) = self.local(t);
            let local = match unit.millis() {
                Some(ms) => local
                    .checked_add_signed(TimeDelta::try_days(n.checked_mul(ms / 86_400_000)?)?)?,
                None => add_months(local, n.checked_mul(unit.months())?)?,
            };
            self.instant_of_local(local)?
        } else {
            t.checked_add_signed(TimeDelta::try_milliseconds(n.checked_mul(unit.millis()?)?)?)?
        };
        self.value(t)
    }

    fn diff(&self, a: i64, b: i64, unit: Unit) -> Option<i64> {
        let (ta, tb) = (self.instant(a)?, self.instant(b)?);
        if !unit.calendar() {
            return Some((tb - ta).num_milliseconds() / unit.millis()?);
        }
        let ((la, _), (lb, _)) = (self.local(ta), self.local(tb));
        match unit.millis() {
            Some(ms) => Some((lb - la).num_milliseconds() / ms),
            None => Some(months_between(la, lb) / unit.months()),
        }
    }
}

fn add_months(t: NaiveDateTime, months: i64) -> Option<NaiveDateTime> {
    let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    if months >= 0 {
        t.checked_add_months(m)
    } else {
        t.checked_sub_months(m)
    }
}

/// Whole months from `from` to `to`, as Joda-Time counts them: a month is complete when the
/// day and time of month are reached, and reaching the last day of a shorter month counts
/// (January 31 to February 29 is one month).
fn months_between(from: NaiveDateTime, to: NaiveDateTime) -> i64 {
    if to < from {
        return -months_between(to, from);
    }
    let mut months =
        i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month());
    let last_day = last_day_of_month(to.year(), to.month());
    let from_day = if to.day() == last_day && from.day() > last_day {
        last_day
    } else {
        from.day()
    };
    if (to.day(), to.time()) < (from_day, from.time()) {
        months -= 1;
    }
    months
}

fn last_day_of_month(year: i32, month: u32) -> u32 {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

/// A timestamp or date argument: timestamps and dates as they are (`Date64` as a date),
/// NULL as a timestamp; text is refused with what to write instead.
pub(super) fn time(t: &DataType, what: &str) -> Result<DataType, String> {
    match t {
        DataType::Timestamp(..) | DataType::Date32 => Ok(t.clone()),
        DataType::Date64 => Ok(DataType::Date32),
        DataType::Null => Ok(DataType::Timestamp(TimeUnit::Millisecond, None)),
        t if is_text(t) => Err(format!(
            "{what} must be a timestamp or a date, not text: write TIMESTAMP '2024-01-01 00:00:00' or from_iso8601_timestamp('2024-01-01T00:00:00Z')"
        )),
        other => Err(format!("{what} must be a timestamp or a date, not {other}")),
    }
}

fn coerce_date_add(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[3], "(unit, value, timestamp)")?;
    Ok(vec![
        text(&types[0], "the unit")?,
        integer(&types[1], "the value")?,
        time(&types[2], "the third argument")?,
    ])
}

fn returns_date_add(types: &[DataType], literals: &[Option<&ScalarValue>]) -> Result<DataType> {
    check_unit(literals, types.get(2) == Some(&DataType::Date32))?;
    Ok(types[2].clone())
}

fn check_unit(literals: &[Option<&ScalarValue>], date: bool) -> Result<()> {
    match literal_text(literals, 0).map(|u| Unit::parse(u, date)) {
        Some(Err(why)) => plan_err!("{why}"),
        _ => Ok(()),
    }
}

fn date_add(args: &[ArrayRef], returns: &DataType) -> Result<ArrayRef> {
    let clock = Clock::of(args[2].data_type())?;
    let units = args[0].as_string::<i32>();
    let mut units_seen = LastUnit::default();
    let amounts = args[1].as_primitive::<Int64Type>();
    let times = cast(&args[2], &DataType::Int64)?;
    let times = times.as_primitive::<Int64Type>();
    let mut out = Int64Builder::with_capacity(times.len());
    for i in 0..times.len() {
        if units.is_null(i) || amounts.is_null(i) || times.is_null(i) {
            out.append_null();
            continue;
        }
        let unit = units_seen.read(units.value(i), clock.is_date(), "date_add")?;
        let v = clock
            .add(times.value(i), unit, amounts.value(i))
            .ok_or_else(|| {
                exec_datafusion_err!(
                    "date_add: adding {} {:?} units goes out of the range of timestamps",
                    amounts.value(i),
                    unit
                )
            })?;
        out.append_value(v);
    }
    Ok(cast(&(Arc::new(out.finish()) as ArrayRef), returns)?)
}

/// The common type of `date_diff`'s two times: dates if both are, else timestamps of the
/// finer unit, in the first zone given.
fn common_time(a: &DataType, b: &DataType) -> Result<DataType, String> {
    let (a, b) = (
        time(a, "the second argument")?,
        time(b, "the third argument")?,
    );
    if a == DataType::Date32 && b == DataType::Date32 {
        return Ok(a);
    }
    let (unit_a, tz_a) = match &a {
        DataType::Timestamp(u, tz) => (Some(*u), tz.clone()),
        _ => (None, None),
    };
    let (unit_b, tz_b) = match &b {
        DataType::Timestamp(u, tz) => (Some(*u), tz.clone()),
        _ => (None, None),
    };
    let rank = |u: Option<TimeUnit>| match u {
        None | Some(TimeUnit::Second) => 0,
        Some(TimeUnit::Millisecond) => 1,
        Some(TimeUnit::Microsecond) => 2,
        Some(TimeUnit::Nanosecond) => 3,
    };
    let unit = if rank(unit_a) >= rank(unit_b) {
        unit_a
    } else {
        unit_b
    };
    Ok(DataType::Timestamp(
        unit.unwrap_or(TimeUnit::Millisecond),
        tz_a.or(tz_b),
    ))
}

fn coerce_date_diff(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[3], "(unit, timestamp1, timestamp2)")?;
    let common = common_time(&types[1], &types[2])?;
    Ok(vec![text(&types[0], "the unit")?, common.clone(), common])
}

fn returns_date_diff(types: &[DataType], literals: &[Option<&ScalarValue>]) -> Result<DataType> {
    check_unit(literals, types.get(1) == Some(&DataType::Date32))?;
    Ok(DataType::Int64)
}

fn date_diff(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let clock = Clock::of(args[1].data_type())?;
    let units = args[0].as_string::<i32>();
    let mut units_seen = LastUnit::default();
    let a = cast(&args[1], &DataType::Int64)?;
    let b = cast(&args[2], &DataType::Int64)?;
    let (a, b) = (a.as_primitive::<Int64Type>(), b.as_primitive::<Int64Type>());
    let mut out = Int64Builder::with_capacity(a.len());
    for i in 0..a.len() {
        if units.is_null(i) || a.is_null(i) || b.is_null(i) {
            out.append_null();
            continue;
        }
        let unit = units_seen.read(units.value(i), clock.is_date(), "date_diff")?;
        out.append_option(clock.diff(a.value(i), b.value(i), unit));
    }
    Ok(Arc::new(out.finish()))
}

const YEAR: u8 = 0;
const QUARTER: u8 = 1;
const MONTH: u8 = 2;
const WEEK: u8 = 3;
const DAY: u8 = 4;
const DAY_OF_WEEK: u8 = 5;
const DAY_OF_YEAR: u8 = 6;
const YEAR_OF_WEEK: u8 = 7;
const HOUR: u8 = 8;
const MINUTE: u8 = 9;
const SECOND: u8 = 10;
const MILLISECOND: u8 = 11;

fn coerce_field<const F: u8>(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[1], "(timestamp)")?;
    let t = time(&types[0], "the argument")?;
    if F >= HOUR && t == DataType::Date32 {
        return Err("takes a timestamp, not a date: a date has no time of day".into());
    }
    Ok(vec![t])
}

/// Field `F` of each time, read on the wall clock of its zone (ISO weeks, Monday = 1).
fn field<const F: u8>(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (clock, instants) = Clock::instants(&args[0])?;
    let mut out = Int64Builder::with_capacity(instants.len());
    for t in instants {
        let Some(t) = t else {
            out.append_null();
            continue;
        };
        let (l, _) = clock.local(t);
        let v = match F {
            YEAR => l.year().into(),
            QUARTER => (l.month0() / 3 + 1).into(),
            MONTH => l.month().into(),
            WEEK => l.iso_week().week().into(),
            DAY => l.day().into(),
            DAY_OF_WEEK => l.weekday().number_from_monday().into(),
            DAY_OF_YEAR => l.ordinal().into(),
            YEAR_OF_WEEK => l.iso_week().year().into(),
            HOUR => chrono::Timelike::hour(&l).into(),
            MINUTE => chrono::Timelike::minute(&l).into(),
            SECOND => chrono::Timelike::second(&l).into(),
            _ => (chrono::Timelike::nanosecond(&l) / 1_000_000).into(),
        };
        out.append_value(v);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("time")
    }

    #[test]
    fn months_are_counted_as_joda_counts_them() {
        let cases = [
            ("2024-01-31 00:00:00", "2024-02-29 00:00:00", 1),
            ("2024-01-31 00:00:00", "2024-02-28 00:00:00", 0),
            ("2024-01-15 10:00:00", "2024-02-15 09:59:59", 0),
            ("2024-01-15 10:00:00", "2024-02-15 10:00:00", 1),
            ("2020-02-29 00:00:00", "2021-02-28 00:00:00", 12),
            ("2024-03-31 00:00:00", "2024-02-29 00:00:00", -1),
            ("2024-05-01 00:00:00", "2023-05-02 00:00:00", -11),
        ];
        for (a, b, months) in cases {
            assert_eq!(months_between(at(a), at(b)), months, "{a} -> {b}");
        }
    }

    #[test]
    fn units_are_trinos() {
        assert_eq!(Unit::parse("DAY", false), Ok(Unit::Day));
        assert_eq!(Unit::parse("Quarter", true), Ok(Unit::Quarter));
        let e = Unit::parse("days", false).expect_err("plural");
        assert!(
            e.starts_with("'days' is not a valid Timestamp field"),
            "{e}"
        );
        let e = Unit::parse("hour", true).expect_err("hour of a date");
        assert!(e.starts_with("'hour' is not a valid DATE field"), "{e}");
    }
}
