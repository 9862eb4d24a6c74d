//! Not a check: prints the mix of a 100k-event sample and the generation rate
//! (`cargo test -p opentrail-generator -- --ignored --nocapture`).

use std::collections::BTreeMap;
use std::time::Instant;

use opentrail_generator::Generator;

use crate::{config, monday};

#[test]
#[ignore = "prints figures; run by hand"]
fn print_mix_and_rate() {
    let mut generator = Generator::new(config(42, 100_000.0 / 7.0));
    let start = monday();
    let began = Instant::now();
    let records: Vec<_> = generator
        .events_between(start, start + chrono::Duration::days(7))
        .collect();
    let took = began.elapsed();
    let n = records.len() as f64;
    println!(
        "{} records in {:?}: {:.0} records/s",
        records.len(),
        took,
        n / took.as_secs_f64()
    );
    let by = |name: &str, key: &dyn Fn(&opentrail_model::Record) -> String| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for r in &records {
            *counts.entry(key(r)).or_default() += 1;
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        println!("\n{name}:");
        for (k, c) in v.iter().take(80) {
            println!("  {:>6.2}%  {c:>7}  {k}", *c as f64 * 100.0 / n);
        }
    };
    by("identity type", &|r| {
        r.user_identity
            .as_ref()
            .and_then(|u| u.identity_type.clone())
            .unwrap_or_default()
    });
    by("event source", &|r| {
        r.event_source.clone().unwrap_or_default()
    });
    by("category", &|r| {
        r.event_category.clone().unwrap_or_default()
    });
    by("region", &|r| r.aws_region.clone().unwrap_or_default());
    by("readOnly (management)", &|r| {
        if r.event_category.as_deref() == Some("Management") {
            format!("{:?}", r.read_only)
        } else {
            "(data)".into()
        }
    });
    by("error code", &|r| {
        r.error_code
            .clone()
            .or(r.error_message.as_ref().map(|_| "(message only)".into()))
            .unwrap_or_else(|| "-".into())
    });
    by("event", &|r| {
        format!(
            "{} {}",
            r.event_source.as_deref().unwrap_or(""),
            r.event_name.as_deref().unwrap_or("")
        )
    });
    by("user", &|r| {
        r.user_identity
            .as_ref()
            .and_then(|u| u.username())
            .unwrap_or_default()
    });
    let shown = std::env::var("SHOW").unwrap_or_default();
    for name in shown.split(',').filter(|s| !s.is_empty()) {
        let (name, nth) = name.split_once('#').unwrap_or((name, "0"));
        let nth: usize = nth.parse().unwrap_or(0);
        if let Some(r) = records
            .iter()
            .filter(|r| {
                r.event_name.as_deref() == Some(name) || r.error_code.as_deref() == Some(name)
            })
            .nth(nth)
        {
            println!("\n{}", serde_json::to_string(r).expect("json"));
        }
    }
}
