//! Anomalies layered on normal traffic: bursts of one API and storms of one error, each from
//! one identity, each with its own rng stream so that adding an anomaly never changes the
//! normal events around it.

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::catalog::Api;
use opentrail_model::Record;

use crate::event::{self, Mix, Target};
use crate::identities::{ActorKind, Organisation};

/// Unusual activity to add to a workload (what CloudTrail Insights should notice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Anomaly {
    /// One API called far above its normal rate, e.g. 300/min of ec2 TerminateInstances by one
    /// identity.
    Burst {
        /// When the burst starts.
        start: DateTime<Utc>,
        /// How long it lasts (serialised as whole seconds).
        #[serde(with = "duration_secs")]
        duration: chrono::Duration,
        /// The API's service, e.g. `ec2.amazonaws.com`.
        event_source: String,
        /// The API, e.g. `TerminateInstances`.
        event_name: String,
        /// Mean calls per minute during the burst (on top of normal traffic).
        per_minute: f64,
    },
    /// A storm of failed calls with one error code, e.g. AccessDenied on s3 GetObject.
    ///
    /// Failed console sign-ins carry no `errorCode` in AWS, only `errorMessage`: a storm on
    /// `signin.amazonaws.com` `ConsoleLogin` makes `"Failed authentication"` sign-ins (a
    /// password-guessing attack) whatever the code says.
    ErrorStorm {
        /// When the storm starts.
        start: DateTime<Utc>,
        /// How long it lasts (serialised as whole seconds).
        #[serde(with = "duration_secs")]
        duration: chrono::Duration,
        /// The API's service, e.g. `s3.amazonaws.com`.
        event_source: String,
        /// The API, e.g. `GetObject`.
        event_name: String,
        /// The `errorCode` every call of the storm fails with.
        error_code: String,
        /// Mean failed calls per minute during the storm.
        per_minute: f64,
    },
}

impl Anomaly {
    /// When it starts.
    pub fn start(&self) -> DateTime<Utc> {
        match self {
            Anomaly::Burst { start, .. } | Anomaly::ErrorStorm { start, .. } => *start,
        }
    }

    /// When it ends (exclusive).
    pub fn end(&self) -> DateTime<Utc> {
        match self {
            Anomaly::Burst {
                start, duration, ..
            }
            | Anomaly::ErrorStorm {
                start, duration, ..
            } => start.checked_add_signed(*duration).unwrap_or(*start),
        }
    }

    /// The API's `eventSource`.
    pub fn event_source(&self) -> &str {
        match self {
            Anomaly::Burst { event_source, .. } | Anomaly::ErrorStorm { event_source, .. } => {
                event_source
            }
        }
    }

    /// The API's `eventName`.
    pub fn event_name(&self) -> &str {
        match self {
            Anomaly::Burst { event_name, .. } | Anomaly::ErrorStorm { event_name, .. } => {
                event_name
            }
        }
    }

    /// Mean events per minute while active.
    pub fn per_minute(&self) -> f64 {
        match self {
            Anomaly::Burst { per_minute, .. } | Anomaly::ErrorStorm { per_minute, .. } => {
                *per_minute
            }
        }
    }

    /// The error code of an error storm.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Anomaly::Burst { .. } => None,
            Anomaly::ErrorStorm { error_code, .. } => Some(error_code),
        }
    }
}

/// An anomaly ready to generate: its API, its identity and its own rng.
#[derive(Debug, Clone)]
pub(crate) struct ActiveAnomaly {
    /// The configuration.
    pub spec: Anomaly,
    /// The simulated API, when the catalog knows it.
    pub api: Option<Api>,
    /// The one actor making all of its calls.
    pub actor: usize,
    /// Its rng, for arrivals and content alike.
    pub rng: ChaCha8Rng,
}

impl ActiveAnomaly {
    /// Prepares anomaly number `index` of a workload seeded with `seed`.
    pub fn new(spec: Anomaly, index: usize, seed: u64, org: &Organisation, mix: &Mix) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Streams 0-15 belong to the generator itself.
        rng.set_stream(16 + index as u64);
        let api = Api::find(spec.event_source(), spec.event_name());
        let burst = matches!(spec, Anomaly::Burst { .. });
        let eligible = |i: usize| {
            let a = &org.actors[i];
            // Services never fail on their own, and a burst is activity that succeeds.
            a.kind != ActorKind::Service
                && !(burst && a.deny_writes)
                && a.kind != ActorKind::SamlUser
        };
        let mut candidates: Vec<usize> = match api {
            Some(api) => (0..org.actors.len())
                .filter(|&i| eligible(i) && mix.actor_calls(i, api))
                .collect(),
            None => Vec::new(),
        };
        if candidates.is_empty() {
            candidates = (0..org.actors.len())
                .filter(|&i| {
                    eligible(i)
                        && org.actors[i].human_weight > 0
                        && matches!(
                            org.actors[i].kind,
                            ActorKind::IamUserKey | ActorKind::RoleSession
                        )
                })
                .collect();
        }
        let actor = if candidates.is_empty() {
            0
        } else {
            candidates[rng.random_range(0..candidates.len())]
        };
        ActiveAnomaly {
            spec,
            api,
            actor,
            rng,
        }
    }

    /// One event of the anomaly at `secs`.
    pub fn generate(&mut self, org: &Organisation, secs: i64) -> Record {
        let target = match self.api {
            Some(api) => Target::Known(api),
            None => Target::Custom {
                source: self.spec.event_source(),
                name: self.spec.event_name(),
            },
        };
        event::assemble(
            &mut self.rng,
            org,
            self.actor,
            target,
            secs,
            self.spec.error_code(),
        )
    }

    /// Mean events per second while active (0 for nonsensical rates).
    pub fn rate(&self) -> f64 {
        let r = self.spec.per_minute() / 60.0;
        if r.is_finite() && r > 0.0 { r } else { 0.0 }
    }
}

/// Serialises a `chrono::Duration` as whole seconds.
mod duration_secs {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &chrono::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<chrono::Duration, D::Error> {
        let secs = i64::deserialize(d)?;
        chrono::Duration::try_seconds(secs)
            .ok_or_else(|| serde::de::Error::custom("duration out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomalies_round_trip_through_serde() {
        let a = Anomaly::ErrorStorm {
            start: DateTime::from_timestamp(1_767_600_000, 0).expect("time"),
            duration: chrono::Duration::minutes(10),
            event_source: "s3.amazonaws.com".into(),
            event_name: "GetObject".into(),
            error_code: "AccessDenied".into(),
            per_minute: 120.0,
        };
        let v = serde_json::to_value(&a).expect("json");
        assert_eq!(v["kind"], "error_storm");
        assert_eq!(v["duration"], 600);
        let back: Anomaly = serde_json::from_value(v).expect("parse");
        assert_eq!(back, a);
        assert_eq!(back.end() - back.start(), chrono::Duration::minutes(10));
        assert_eq!(back.error_code(), Some("AccessDenied"));
    }
}
