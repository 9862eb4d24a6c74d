//! Anomalies appear at their configured rate inside their window, from one identity, and not
//! outside it.

use std::collections::BTreeMap;

use chrono::Duration;
use opentrail_generator::{Anomaly, Generator, WorkloadConfig};
use opentrail_model::{Record, time::parse_event_time, validate_incoming};

use crate::{config, monday};

fn generate(anomaly: Anomaly, hours: i64) -> Vec<Record> {
    let start = monday() + Duration::hours(13);
    let mut g = Generator::new(WorkloadConfig {
        anomalies: vec![anomaly],
        ..config(5, 30_000.0)
    });
    g.events_between(start, start + Duration::hours(hours))
        .collect()
}

fn inside(r: &Record, from: chrono::DateTime<chrono::Utc>, minutes: i64) -> bool {
    let t = parse_event_time(r.event_time.as_deref().expect("time")).expect("valid");
    t >= from && t < from + Duration::minutes(minutes)
}

#[test]
fn a_burst_calls_its_api_at_the_configured_rate_from_one_identity() {
    let from = monday() + Duration::hours(13) + Duration::minutes(40);
    let records = generate(
        Anomaly::Burst {
            start: from,
            duration: Duration::minutes(10),
            event_source: "ec2.amazonaws.com".into(),
            event_name: "TerminateInstances".into(),
            per_minute: 300.0,
        },
        2,
    );
    let terminate = |r: &&Record| r.event_name.as_deref() == Some("TerminateInstances");
    let during: Vec<&Record> = records
        .iter()
        .filter(terminate)
        .filter(|r| inside(r, from, 10))
        .collect();
    let outside = records.iter().filter(terminate).count() - during.len();
    assert!(
        (2_400..=3_600).contains(&during.len()),
        "{} in the window",
        during.len()
    );
    // Outside the window only normal traffic terminates instances, far below the burst rate.
    let outside_per_minute = outside as f64 / 110.0;
    assert!(outside_per_minute < 3.0, "{outside} outside the window");
    let mut by_caller: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &during {
        let arn = r
            .user_identity
            .as_ref()
            .and_then(|u| u.arn.as_deref())
            .unwrap_or_default();
        *by_caller.entry(arn).or_default() += 1;
    }
    let top = by_caller.values().max().copied().unwrap_or(0);
    assert!(top * 100 >= during.len() * 98, "{by_caller:?}");
}

#[test]
fn an_error_storm_fails_with_its_code() {
    let from = monday() + Duration::hours(14);
    let records = generate(
        Anomaly::ErrorStorm {
            start: from,
            duration: Duration::minutes(5),
            event_source: "s3.amazonaws.com".into(),
            event_name: "GetObject".into(),
            error_code: "AccessDenied".into(),
            per_minute: 200.0,
        },
        2,
    );
    let denied = |r: &&Record| {
        r.event_name.as_deref() == Some("GetObject")
            && r.error_code.as_deref() == Some("AccessDenied")
    };
    let during = records
        .iter()
        .filter(denied)
        .filter(|r| inside(r, from, 5))
        .count();
    let outside = records.iter().filter(denied).count() - during;
    assert!((800..=1_200).contains(&during), "{during} in the window");
    assert!(
        (outside as f64 / 115.0) < 2.0,
        "{outside} outside the window"
    );
    let storm = records
        .iter()
        .filter(denied)
        .find(|r| inside(r, from, 5))
        .expect("storm event");
    assert!(
        storm
            .response_elements
            .as_ref()
            .is_some_and(|v| v.is_null())
    );
    assert!(
        storm
            .error_message
            .as_deref()
            .is_some_and(|m| m.contains("is not authorized to perform: s3:GetObject"))
    );
}

#[test]
fn anomalies_on_unknown_apis_and_partial_windows_still_work() {
    let start = monday() + Duration::hours(13);
    // Starts before the generated window and ends inside it.
    let anomaly = Anomaly::Burst {
        start: start - Duration::minutes(30),
        duration: Duration::minutes(40),
        event_source: "secretsmanager.amazonaws.com".into(),
        event_name: "GetSecretValue".into(),
        per_minute: 120.0,
    };
    let records = generate(anomaly, 1);
    let hits: Vec<&Record> = records
        .iter()
        .filter(|r| r.event_name.as_deref() == Some("GetSecretValue"))
        .collect();
    assert!((960..=1_440).contains(&hits.len()), "{}", hits.len());
    assert!(hits.iter().all(|r| inside(r, start, 10)));
    for r in hits.iter().take(50) {
        let json = String::from_utf8(r.to_json_vec()).expect("utf8");
        validate_incoming(&json).expect("valid");
        assert_eq!(r.read_only, Some(true));
        assert_eq!(
            r.event_source.as_deref(),
            Some("secretsmanager.amazonaws.com")
        );
    }
    // Rates that make no sense produce nothing rather than failing.
    let mut g = Generator::new(WorkloadConfig {
        anomalies: vec![Anomaly::Burst {
            start,
            duration: Duration::minutes(10),
            event_source: "ec2.amazonaws.com".into(),
            event_name: "RunInstances".into(),
            per_minute: f64::NAN,
        }],
        ..config(5, 0.0)
    });
    assert_eq!(
        g.events_between(start, start + Duration::hours(1)).count(),
        0
    );
}

#[test]
fn a_sign_in_storm_is_a_run_of_failed_console_logins() {
    let from = monday() + Duration::hours(13) + Duration::minutes(10);
    let records = generate(
        Anomaly::ErrorStorm {
            start: from,
            duration: Duration::minutes(5),
            event_source: "signin.amazonaws.com".into(),
            event_name: "ConsoleLogin".into(),
            error_code: "FailedAuthentication".into(),
            per_minute: 60.0,
        },
        1,
    );
    let failures: Vec<&Record> = records
        .iter()
        .filter(|r| r.event_name.as_deref() == Some("ConsoleLogin") && inside(r, from, 5))
        .filter(|r| r.error_message.as_deref() == Some("Failed authentication"))
        .collect();
    assert!((240..=360).contains(&failures.len()), "{}", failures.len());
    assert!(failures.iter().all(|r| r.error_code.is_none()));
    assert!(failures.iter().all(|r| {
        r.response_elements
            .as_ref()
            .is_some_and(|v| v["ConsoleLogin"] == "Failure")
    }));
}
