//! Same configuration and seed, same bytes; a different seed, different events; anomalies
//! never disturb the normal traffic around them.

use opentrail_generator::{Anomaly, Generator};

use crate::{config, monday};

fn serialized(seed: u64, anomalies: Vec<Anomaly>) -> Vec<Vec<u8>> {
    let mut cfg = config(seed, 10_000.0);
    cfg.anomalies = anomalies;
    let start = monday() + chrono::Duration::hours(13);
    Generator::new(cfg)
        .events_between(start, start + chrono::Duration::hours(2))
        .map(|r| r.to_json_vec())
        .collect()
}

#[test]
fn the_same_seed_gives_byte_identical_output() {
    let a = serialized(11, Vec::new());
    let b = serialized(11, Vec::new());
    assert!(a.len() > 500, "{} events", a.len());
    assert_eq!(a, b);

    let t = monday() + chrono::Duration::minutes(601);
    let mut g1 = Generator::new(config(5, 1000.0));
    let mut g2 = Generator::new(config(5, 1000.0));
    for i in 0..200 {
        let at = t + chrono::Duration::seconds(i * 7);
        assert_eq!(g1.event_at(at).to_json_vec(), g2.event_at(at).to_json_vec());
    }
}

#[test]
fn a_different_seed_gives_different_events() {
    let a = serialized(11, Vec::new());
    let b = serialized(12, Vec::new());
    assert_ne!(a, b);
    // Not just different arrivals: the identities and ids differ too.
    let ids = |v: &[Vec<u8>]| -> std::collections::BTreeSet<String> {
        v.iter()
            .filter_map(|r| serde_json::from_slice::<serde_json::Value>(r).ok())
            .filter_map(|r| r["userIdentity"]["principalId"].as_str().map(str::to_owned))
            // Root's principal id is the account id, the same under every seed.
            .filter(|p| p.starts_with("AIDA") || p.starts_with("AROA"))
            .collect()
    };
    assert!(ids(&a).is_disjoint(&ids(&b)));
}

#[test]
fn anomalies_leave_normal_traffic_untouched() {
    let start = monday() + chrono::Duration::hours(14);
    let burst = Anomaly::Burst {
        start: start + chrono::Duration::minutes(30),
        duration: chrono::Duration::minutes(10),
        event_source: "ec2.amazonaws.com".into(),
        event_name: "TerminateInstances".into(),
        per_minute: 50.0,
    };
    let plain = serialized(3, Vec::new());
    let with = serialized(3, vec![burst]);
    assert!(with.len() > plain.len() + 400);
    // The plain events are exactly the with-anomaly events minus the anomaly's, in order.
    let mut rest = with.iter();
    for event in &plain {
        assert!(
            rest.any(|e| e == event),
            "normal event missing or reordered"
        );
    }
}
