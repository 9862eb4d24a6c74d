//! Realistic, reproducible CloudTrail activity of one AWS account: the data source of
//! opentrail's tests, demo server and benchmarks.
//!
//! A [`Generator`] simulates an organisation (people with IAM users, console and role
//! sessions; Lambda functions and EC2 instances with their roles; AWS services acting in the
//! account; the odd root sign-in) calling S3, EC2, IAM, STS, KMS, Lambda and DynamoDB at a
//! rate that follows working hours, with realistic parameters, responses, resources and
//! errors. Everything is drawn from ChaCha8 streams seeded by [`WorkloadConfig::seed`], so the
//! same configuration gives byte-identical records on every run and machine.
//!
//! [`write_log_files`] lays records out exactly as a trail delivers them to S3;
//! [`write_ndjson`] writes one record per line.

mod agents;
mod anomaly;
mod catalog;
mod error;
mod event;
mod identities;
mod ids;
mod logfiles;
mod rhythm;
mod timefmt;

use chrono::{DateTime, Utc};
use opentrail_model::Record;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use anomaly::Anomaly;
pub use error::GeneratorError;
pub use logfiles::{LogFileOptions, WriteSummary, write_log_files, write_ndjson};

use anomaly::ActiveAnomaly;
use event::{Mix, Target};
use identities::Organisation;
use rhythm::Rhythm;

/// The rng streams of one seed; anomalies use streams from 16 on.
const CONTENT_STREAM: u64 = 0;
const ORGANISATION_STREAM: u64 = 1;
const ARRIVAL_STREAM: u64 = 2;

/// What to simulate. Every field has a default, so a partial TOML/JSON table is enough.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkloadConfig {
    /// Seed of every random choice; the same seed gives the same records.
    pub seed: u64,
    /// The simulated account. Default `123456789012`.
    pub account_id: String,
    /// Regions in use, the home region (most traffic) first. Default us-east-1, us-west-2,
    /// eu-west-1. Global services (IAM, STS, sign-in) record us-east-1 whatever this says.
    pub regions: Vec<String>,
    /// Mean events per day over a week; the daily rhythm spreads them. Default 50 000.
    pub events_per_day: f64,
    /// Unusual activity added on top of the rhythm. Default none.
    pub anomalies: Vec<Anomaly>,
    /// Whether to include data events (S3 object-level, Lambda Invoke, DynamoDB items).
    /// Default true. Without them the same volume is made of management events only.
    pub include_data_events: bool,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            seed: 0,
            account_id: "123456789012".into(),
            regions: vec!["us-east-1".into(), "us-west-2".into(), "eu-west-1".into()],
            events_per_day: 50_000.0,
            anomalies: Vec::new(),
            include_data_events: true,
        }
    }
}

/// Generates the CloudTrail records of the simulated account.
#[derive(Debug, Clone)]
pub struct Generator {
    config: WorkloadConfig,
    org: Organisation,
    mix: Mix,
    rhythm: Rhythm,
    /// Decides the content of normal events.
    rng: ChaCha8Rng,
    /// Decides when normal events happen, separately from their content.
    arrivals: ChaCha8Rng,
    anomalies: Vec<ActiveAnomaly>,
}

fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Seconds since the epoch, with fractions.
fn unix(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9
}

impl Generator {
    /// A generator for `config`: draws the organisation and prepares the anomalies.
    pub fn new(config: WorkloadConfig) -> Self {
        let org = Organisation::build(
            config.seed,
            &config.account_id,
            &config.regions,
            &mut stream(config.seed, ORGANISATION_STREAM),
        );
        let mix = Mix::new(&org, config.include_data_events);
        let anomalies = config
            .anomalies
            .iter()
            .enumerate()
            .map(|(i, a)| ActiveAnomaly::new(a.clone(), i, config.seed, &org, &mix))
            .collect();
        Generator {
            rhythm: Rhythm::new(config.events_per_day),
            rng: stream(config.seed, CONTENT_STREAM),
            arrivals: stream(config.seed, ARRIVAL_STREAM),
            config,
            org,
            mix,
            anomalies,
        }
    }

    /// The configuration this generator was built with.
    pub fn config(&self) -> &WorkloadConfig {
        &self.config
    }

    /// One event at exactly time `t` (`eventTime` = `t` truncated to seconds), chosen by the
    /// generator's rng with the mix appropriate to the time of day. Anomalies are not
    /// consulted.
    pub fn event_at(&mut self, t: DateTime<Utc>) -> Record {
        self.baseline_event(t.timestamp(), unix(t))
    }

    fn baseline_event(&mut self, secs: i64, unix_secs: f64) -> Record {
        let levels = self.rhythm.levels(unix_secs);
        let actor = self.mix.pick_actor(&mut self.rng, levels);
        let api = self.mix.pick_api(&mut self.rng, actor);
        event::assemble(
            &mut self.rng,
            &self.org,
            actor,
            Target::Known(api),
            secs,
            None,
        )
    }

    /// All events of `[start, end)` in time order: timestamps from a Poisson process whose
    /// rate follows the daily rhythm (see [`Generator::rate_at`]) plus the anomalies active
    /// in that window, each at its own rate.
    ///
    /// Successive calls continue the same random streams, so generating a day in one call or
    /// hour by hour gives different (equally valid) events; the same sequence of calls always
    /// gives the same events. `eventTime` is the arrival instant truncated to the second.
    pub fn events_between(
        &mut self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> impl Iterator<Item = Record> + '_ {
        Events::new(self, start, end)
    }

    /// The mean events per second the rhythm expects at `t` (anomalies excluded): used to
    /// pace live sending.
    ///
    /// Human activity follows working hours in UTC (busiest 14:00-16:00, when US mornings
    /// overlap European afternoons) and mostly stops at weekends; automation runs around the
    /// clock. A week averages `events_per_day` per day.
    pub fn rate_at(&self, t: DateTime<Utc>) -> f64 {
        self.rhythm.rate(unix(t))
    }
}

/// The iterator of [`Generator::events_between`]: a merge of the normal arrival process and
/// one arrival process per anomaly.
struct Events<'g> {
    generator: &'g mut Generator,
    start_secs: i64,
    start_frac: f64,
    /// The last whole second inside the window.
    last_sec: i64,
    /// Window length in seconds.
    span: f64,
    next_normal: Option<f64>,
    /// Per anomaly: the next arrival and the end of its activity, as offsets from `start`.
    next_anomaly: Vec<(Option<f64>, f64)>,
}

impl<'g> Events<'g> {
    fn new(generator: &'g mut Generator, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        // Negative windows are empty.
        let span = (end - start).to_std().map_or(0.0, |d| d.as_secs_f64());
        let last = end
            .checked_sub_signed(chrono::Duration::nanoseconds(1))
            .unwrap_or(end);
        let mut events = Events {
            start_secs: start.timestamp(),
            start_frac: f64::from(start.timestamp_subsec_nanos()) / 1e9,
            last_sec: last.timestamp(),
            span,
            next_normal: None,
            next_anomaly: Vec::new(),
            generator,
        };
        events.next_normal = events.normal_after(0.0);
        let offset = |t: DateTime<Utc>| match (t - start).to_std() {
            Ok(d) => d.as_secs_f64(),
            Err(_) => {
                -((start - t)
                    .to_std()
                    .map_or(f64::INFINITY, |d| d.as_secs_f64()))
            }
        };
        for i in 0..events.generator.anomalies.len() {
            let a = &events.generator.anomalies[i];
            let from = offset(a.spec.start()).max(0.0);
            let until = offset(a.spec.end()).min(span);
            let next = if from < until {
                events.anomaly_after(i, from, until)
            } else {
                None
            };
            events.next_anomaly.push((next, until));
        }
        events
    }

    fn abs(&self, offset: f64) -> f64 {
        self.start_secs as f64 + (self.start_frac + offset)
    }

    /// The whole second of an arrival, clamped into the window against rounding.
    fn second_of(&self, offset: f64) -> i64 {
        let s = self.start_secs + (self.start_frac + offset).floor() as i64;
        s.clamp(self.start_secs, self.last_sec.max(self.start_secs))
    }

    /// The next normal arrival after `from`, by thinning a process at the rhythm's peak rate.
    fn normal_after(&mut self, from: f64) -> Option<f64> {
        let max = self.generator.rhythm.max_rate();
        if max <= 0.0 {
            return None;
        }
        let mut t = from;
        loop {
            t += rhythm::exponential(&mut self.generator.arrivals, max);
            if t >= self.span {
                return None;
            }
            let rate = self.generator.rhythm.rate(self.abs(t));
            if rand::Rng::random::<f64>(&mut self.generator.arrivals) * max < rate {
                return Some(t);
            }
        }
    }

    fn anomaly_after(&mut self, i: usize, from: f64, until: f64) -> Option<f64> {
        let a = &mut self.generator.anomalies[i];
        let rate = a.rate();
        if rate <= 0.0 {
            return None;
        }
        let t = from + rhythm::exponential(&mut a.rng, rate);
        (t < until).then_some(t)
    }
}

impl Iterator for Events<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        // The earliest pending arrival; normal traffic wins ties, then anomalies in order.
        let mut best: Option<(f64, Option<usize>)> = self.next_normal.map(|t| (t, None));
        for (i, (next, _)) in self.next_anomaly.iter().enumerate() {
            if let Some(t) = *next
                && best.is_none_or(|(b, _)| t < b)
            {
                best = Some((t, Some(i)));
            }
        }
        let (t, source) = best?;
        let secs = self.second_of(t);
        match source {
            None => {
                let record = self.generator.baseline_event(secs, self.abs(t));
                self.next_normal = self.normal_after(t);
                Some(record)
            }
            Some(i) => {
                let generator = &mut *self.generator;
                let record = generator.anomalies[i].generate(&generator.org, secs);
                let until = self.next_anomaly[i].1;
                self.next_anomaly[i].0 = self.anomaly_after(i, t, until);
                Some(record)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monday() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_571_200, 0).expect("valid")
    }

    #[test]
    fn a_partial_config_takes_the_defaults() {
        let cfg: WorkloadConfig =
            serde_json::from_str(r#"{"seed": 7, "events_per_day": 1000}"#).expect("config");
        assert_eq!(cfg.seed, 7);
        assert_eq!(cfg.account_id, "123456789012");
        assert_eq!(cfg.regions.len(), 3);
        assert!(cfg.include_data_events && cfg.anomalies.is_empty());
        let back: WorkloadConfig =
            serde_json::from_value(serde_json::to_value(&cfg).expect("json")).expect("parse");
        assert_eq!(back, cfg);
    }

    #[test]
    fn degenerate_configs_still_generate() {
        let mut g = Generator::new(WorkloadConfig {
            regions: Vec::new(),
            events_per_day: 0.0,
            ..WorkloadConfig::default()
        });
        let start = monday();
        assert_eq!(
            g.events_between(start, start + chrono::Duration::days(1))
                .count(),
            0
        );
        let r = g.event_at(start);
        assert!(r.aws_region.is_some() && r.event_name.is_some());
        assert_eq!(g.config().events_per_day, 0.0);
    }

    #[test]
    fn event_at_is_reproducible() {
        let mut a = Generator::new(WorkloadConfig::default());
        let mut b = Generator::new(WorkloadConfig::default());
        for i in 0..50 {
            let t = monday() + chrono::Duration::minutes(i * 13);
            assert_eq!(a.event_at(t), b.event_at(t));
        }
    }

    /// Generation throughput (serialisation excluded). Run with
    /// `cargo test -p opentrail-generator --lib -- --ignored --nocapture throughput`.
    #[test]
    #[ignore = "measures; run by hand"]
    fn throughput() {
        let mut g = Generator::new(WorkloadConfig {
            events_per_day: 1_000_000.0,
            ..WorkloadConfig::default()
        });
        let start = monday();
        let began = std::time::Instant::now();
        let mut n = 0u64;
        for r in g.events_between(start, start + chrono::Duration::days(2)) {
            n += u64::from(r.event_id.is_some());
            if n == 1_000_000 {
                break;
            }
        }
        let took = began.elapsed();
        println!(
            "{n} events in {took:?}: {:.0} events/s",
            n as f64 / took.as_secs_f64()
        );
    }
}
