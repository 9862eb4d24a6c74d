//! The mix of a workload: reads dominate, a few percent of calls fail, every service and
//! identity type takes part, data events follow the configuration, the home region is busiest.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use opentrail_generator::WorkloadConfig;
use opentrail_model::Record;

use crate::{config, large_sample, week};

/// 20k events: the first 20k of the shared large sample (Monday to Wednesday of a
/// 50k-events-a-week workload), or a week of about 20k without data events.
fn sample(include_data_events: bool) -> &'static [Record] {
    static WITHOUT: LazyLock<Vec<Record>> = LazyLock::new(|| {
        week(WorkloadConfig {
            include_data_events: false,
            ..config(2026, 20_000.0 / 7.0)
        })
    });
    if include_data_events {
        &large_sample()[0][..20_000]
    } else {
        &WITHOUT
    }
}

fn share(records: &[Record], pred: impl Fn(&Record) -> bool) -> f64 {
    records.iter().filter(|r| pred(r)).count() as f64 / records.len() as f64
}

#[test]
fn reads_dominate_and_a_few_percent_fail() {
    let records = sample(true);
    assert_eq!(records.len(), 20_000);
    let management: Vec<Record> = records
        .iter()
        .filter(|r| r.event_category.as_deref() == Some("Management"))
        .cloned()
        .collect();
    let read_only = share(&management, |r| r.read_only == Some(true));
    assert!(
        (0.70..0.85).contains(&read_only),
        "read-only share of management {read_only}"
    );
    let errors = share(records, |r| r.error_code.is_some());
    assert!((0.01..0.08).contains(&errors), "error share {errors}");
}

#[test]
fn every_service_and_identity_type_appears() {
    let records = sample(true);
    let mut sources: BTreeMap<&str, usize> = BTreeMap::new();
    let mut types: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        *sources
            .entry(r.event_source.as_deref().unwrap_or_default())
            .or_default() += 1;
        let ty = r
            .user_identity
            .as_ref()
            .and_then(|u| u.identity_type.as_deref());
        *types.entry(ty.unwrap_or_default()).or_default() += 1;
    }
    for s in [
        "s3", "ec2", "iam", "sts", "kms", "lambda", "dynamodb", "signin",
    ] {
        assert!(
            sources.contains_key(format!("{s}.amazonaws.com").as_str()),
            "{s} missing: {sources:?}"
        );
    }
    for t in [
        "IAMUser",
        "AssumedRole",
        "Root",
        "AWSService",
        "SAMLUser",
        "AWSAccount",
    ] {
        assert!(types.contains_key(t), "{t} missing: {types:?}");
    }
    // Root is rare; sessions and users carry the bulk.
    assert!(types["Root"] * 500 < records.len());
    assert!(types["AssumedRole"] > types["AWSService"]);
}

#[test]
fn data_events_follow_the_configuration() {
    let with = sample(true);
    let data = share(with, |r| r.event_category.as_deref() == Some("Data"));
    assert!((0.2..0.6).contains(&data), "data share {data}");
    assert!(
        with.iter()
            .all(|r| (r.event_category.as_deref() == Some("Data"))
                == (r.management_event == Some(false)))
    );

    let without = sample(false);
    assert!(
        without
            .iter()
            .all(|r| r.event_category.as_deref() == Some("Management"))
    );
    assert!(without.iter().all(|r| r.management_event == Some(true)));
    // The configured volume is kept; management events fill it.
    assert!(
        (19_000..21_000).contains(&without.len()),
        "{}",
        without.len()
    );
    for name in ["GetObject", "PutObject", "Invoke", "GetItem", "Query"] {
        assert!(
            !without
                .iter()
                .any(|r| r.event_name.as_deref() == Some(name)),
            "{name}"
        );
    }
}

#[test]
fn the_home_region_is_busiest_and_global_services_use_us_east_1() {
    let records = sample(true);
    let home = share(records, |r| r.aws_region.as_deref() == Some("us-east-1"));
    let west = share(records, |r| r.aws_region.as_deref() == Some("us-west-2"));
    let eu = share(records, |r| r.aws_region.as_deref() == Some("eu-west-1"));
    assert!(home > 0.6 && west > 0.05 && eu > 0.05, "{home} {west} {eu}");
    assert!(
        records
            .iter()
            .filter(|r| matches!(
                r.event_source.as_deref(),
                Some("iam.amazonaws.com" | "signin.amazonaws.com")
            ))
            .all(|r| r.aws_region.as_deref() == Some("us-east-1"))
    );
}

#[test]
fn custom_regions_and_account_are_used() {
    let records = week(WorkloadConfig {
        account_id: "210987654321".into(),
        regions: vec!["ap-southeast-2".into()],
        ..config(1, 2_000.0)
    });
    assert!(
        records
            .iter()
            .all(|r| r.recipient_account_id.as_deref() == Some("210987654321"))
    );
    assert!(records.iter().all(|r| matches!(
        r.aws_region.as_deref(),
        Some("ap-southeast-2" | "us-east-1")
    )));
    assert!(
        records
            .iter()
            .any(|r| r.aws_region.as_deref() == Some("ap-southeast-2"))
    );
}
