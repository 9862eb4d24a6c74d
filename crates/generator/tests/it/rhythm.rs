//! The daily rhythm: busy working hours, quiet nights and weekends, the configured volume,
//! and time-ordered events inside the requested window.

use chrono::{Datelike, Timelike};
use opentrail_generator::Generator;
use opentrail_model::time::parse_event_time;

use crate::{config, monday, week};

#[test]
fn working_hours_are_busier_than_nights_and_weekends() {
    let records = week(config(21, 2_000.0));
    let mut afternoon = 0;
    let mut night = 0;
    let mut by_day = [0usize; 7];
    for r in &records {
        let t = parse_event_time(r.event_time.as_deref().expect("time")).expect("valid");
        let day = t.weekday().num_days_from_monday() as usize;
        by_day[day] += 1;
        if day < 5 {
            match t.hour() {
                14 | 15 => afternoon += 1,
                2 | 3 => night += 1,
                _ => {}
            }
        }
    }
    assert!(
        afternoon > 2 * night,
        "14-16h {afternoon} vs 02-04h {night}"
    );
    assert!(
        by_day[5] < by_day[1] * 3 / 4 && by_day[6] < by_day[2] * 3 / 4,
        "{by_day:?}"
    );
    // A week averages the configured daily volume.
    let per_day = records.len() as f64 / 7.0;
    assert!((per_day - 2_000.0).abs() < 100.0, "{per_day}");
}

#[test]
fn rate_at_follows_the_rhythm() {
    let g = Generator::new(config(0, 86_400.0));
    let t = |h: i64| monday() + chrono::Duration::hours(h);
    assert!(g.rate_at(t(15)) > 2.5 * g.rate_at(t(3)));
    assert!(g.rate_at(t(15)) > 2.0 * g.rate_at(t(5 * 24 + 15)));
    // 86 400 events a day is one per second on average over a week.
    let mean: f64 = (0..7 * 24 * 4)
        .map(|q| g.rate_at(monday() + chrono::Duration::minutes(15 * q + 7)))
        .sum::<f64>()
        / f64::from(7 * 24 * 4);
    assert!((mean - 1.0).abs() < 0.01, "{mean}");
    assert_eq!(Generator::new(config(0, 0.0)).rate_at(t(15)), 0.0);
}

#[test]
fn events_are_time_ordered_inside_the_window() {
    let start = monday() + chrono::Duration::seconds(13 * 3600 + 17);
    let end = start + chrono::Duration::seconds(5_431);
    let mut g = Generator::new(config(9, 20_000.0));
    let times: Vec<_> = g
        .events_between(start, end)
        .map(|r| parse_event_time(r.event_time.as_deref().expect("time")).expect("valid"))
        .collect();
    assert!(times.len() > 1_000, "{}", times.len());
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "not time-ordered");
    assert!(times.iter().all(|t| *t >= start && *t < end));
    assert_eq!(g.events_between(end, start).count(), 0);
    assert_eq!(g.events_between(start, start).count(), 0);
}

#[test]
fn event_at_uses_the_exact_second() {
    let mut g = Generator::new(config(9, 1_000.0));
    let t = monday() + chrono::Duration::milliseconds(3_723_900);
    let r = g.event_at(t);
    assert_eq!(r.event_time.as_deref(), Some("2026-01-05T01:02:03Z"));
}
