//! Turning "this actor calls this API at this time" into a complete CloudTrail record: the
//! mix that picks actor and API, the region, the caller's address, client and TLS details,
//! whether and how the call fails, and the record members every event carries.

use opentrail_model::{EVENT_VERSION, Record, TlsDetails};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::catalog::{self, Api, Call, Ctx, ErrorSubject, Service};
use crate::identities::{ActorKind, Organisation};
use crate::ids;
use crate::rhythm::Levels;

/// A weighted choice among `items` with integer weights (so picks are platform-independent).
#[derive(Debug, Clone)]
pub(crate) struct WeightedTable<T> {
    items: Vec<T>,
    cumulative: Vec<u64>,
}

impl<T: Copy> WeightedTable<T> {
    /// The table of the items with positive weight; `None` when there are none.
    pub fn new(entries: impl IntoIterator<Item = (T, u32)>) -> Option<Self> {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0u64;
        for (item, w) in entries {
            if w > 0 {
                total += u64::from(w);
                items.push(item);
                cumulative.push(total);
            }
        }
        (!items.is_empty()).then_some(WeightedTable { items, cumulative })
    }

    /// One item, drawn in proportion to its weight.
    pub fn pick(&self, rng: &mut ChaCha8Rng) -> T {
        let total = self.cumulative.last().copied().unwrap_or(1);
        let r = rng.random_range(0..total);
        let i = self.cumulative.partition_point(|&c| c <= r);
        self.items[i.min(self.items.len() - 1)]
    }

    /// The items and their weights.
    pub fn entries(&self) -> impl Iterator<Item = (T, u64)> + '_ {
        let mut prev = 0;
        self.items.iter().zip(&self.cumulative).map(move |(i, c)| {
            let w = c - prev;
            prev = *c;
            (*i, w)
        })
    }
}

/// Who calls what: the actor tables for each kind of activity and each actor's API table.
#[derive(Debug, Clone)]
pub(crate) struct Mix {
    human: Option<WeightedTable<usize>>,
    auto: Option<WeightedTable<usize>>,
    apis: Vec<Option<WeightedTable<Api>>>,
}

impl Mix {
    /// The mix of `org`, without data events when `data_events` is false.
    pub fn new(org: &Organisation, data_events: bool) -> Self {
        let apis: Vec<Option<WeightedTable<Api>>> = org
            .actors
            .iter()
            .map(|a| {
                WeightedTable::new(
                    catalog::profile_table(a.profile)
                        .iter()
                        .filter(|(api, _)| data_events || !api.info().data)
                        .filter(|(api, _)| catalog::allowed(*api, a))
                        .copied(),
                )
            })
            .collect();
        // An actor whose every call is a disabled data event makes no events at all.
        let usable = |i: usize| apis[i].is_some();
        let human = WeightedTable::new(
            org.actors
                .iter()
                .enumerate()
                .map(|(i, a)| (i, if usable(i) { a.human_weight } else { 0 })),
        );
        let auto = WeightedTable::new(
            org.actors
                .iter()
                .enumerate()
                .map(|(i, a)| (i, if usable(i) { a.auto_weight } else { 0 })),
        );
        Mix { human, auto, apis }
    }

    /// An actor for an event at the given activity levels.
    pub fn pick_actor(&self, rng: &mut ChaCha8Rng, levels: Levels) -> usize {
        let total = levels.human + levels.auto;
        let human = if total > 0.0 {
            rng.random::<f64>() * total < levels.human
        } else {
            rng.random_bool(0.5)
        };
        let (first, second) = if human {
            (&self.human, &self.auto)
        } else {
            (&self.auto, &self.human)
        };
        first
            .as_ref()
            .or(second.as_ref())
            .map_or(0, |t| t.pick(rng))
    }

    /// An API for `actor` (which must have a table: every picked actor has one).
    pub fn pick_api(&self, rng: &mut ChaCha8Rng, actor: usize) -> Api {
        self.apis
            .get(actor)
            .and_then(Option::as_ref)
            .map_or(Api::GetCallerIdentity, |t| t.pick(rng))
    }

    /// Whether `actor` makes `api` in this mix.
    pub fn actor_calls(&self, actor: usize, api: Api) -> bool {
        self.apis
            .get(actor)
            .and_then(Option::as_ref)
            .is_some_and(|t| t.entries().any(|(a, _)| a == api))
    }
}

/// The API of an event: a simulated one, or any other named by an anomaly.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// A simulated API.
    Known(Api),
    /// An API the catalog does not describe.
    Custom {
        /// Its `eventSource`.
        source: &'a str,
        /// Its `eventName`.
        name: &'a str,
    },
}

/// A region index for a caller without a fixed one: the home region most of the time.
pub(crate) fn pick_region(rng: &mut ChaCha8Rng, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let r = rng.random_range(0..100usize);
    if r < 70 { 0 } else { 1 + (r - 70) % (n - 1) }
}

/// Share of console calls whose source AWS records as "AWS Internal", in percent.
const CONSOLE_INTERNAL_PERCENT: usize = 8;
/// Size of the XML error document S3 returns.
const S3_ERROR_BYTES: u64 = 243;
/// Share of writes by read-only sessions that are denied, in parts per million.
const READ_ONLY_DENIAL: u32 = 850_000;

/// Builds the record of `actor` calling `target` at `secs`, failing with `forced_error` if set.
pub(crate) fn assemble(
    rng: &mut ChaCha8Rng,
    org: &Organisation,
    actor_idx: usize,
    target: Target<'_>,
    secs: i64,
    forced_error: Option<&str>,
) -> Record {
    let actor = &org.actors[actor_idx];
    let (service, source, name, read_only, data, action, cli, errors) = match target {
        Target::Known(api) => {
            let i = api.info();
            (
                Some(i.service),
                i.service.event_source(),
                i.name,
                i.read_only,
                i.data,
                i.action,
                i.cli,
                i.errors,
            )
        }
        Target::Custom { source, name } => {
            let read_only = ["Describe", "List", "Get", "Head", "Lookup"]
                .iter()
                .any(|p| name.starts_with(p));
            (
                Service::from_event_source(source),
                source,
                name,
                read_only,
                false,
                name,
                "",
                &[][..],
            )
        }
    };
    let region = actor
        .region
        .unwrap_or_else(|| pick_region(rng, org.regions.len()));
    let mut call = match target {
        Target::Known(api) => {
            let mut ctx = Ctx {
                rng: &mut *rng,
                org,
                actor,
                region,
                secs,
                forced_error,
            };
            catalog::build(api, &mut ctx)
        }
        Target::Custom { .. } => Call::default(),
    };
    let global = service.is_some_and(Service::global);
    let region_name: &str = match call.region {
        Some(r) if !global || service == Some(Service::Sts) => &org.regions[r].name,
        _ if global => "us-east-1",
        _ => &org.regions[region].name,
    };
    let prefix = source.strip_suffix(".amazonaws.com").unwrap_or(source);
    let regional_sts = service == Some(Service::Sts) && call.region.is_some();

    let mut identity = call
        .identity
        .take()
        .unwrap_or_else(|| actor.identity_at(org.seed, secs));
    if let Some(svc) = call.via_service {
        identity.invoked_by = Some(svc.to_owned());
    }

    let source_ip = if let Some(svc) = call.via_service {
        svc.to_owned()
    } else if actor.kind == ActorKind::Service {
        actor.invoked_by.unwrap_or("AWS Internal").to_owned()
    } else if (actor.console
        && !call.not_from_console
        && rng.random_range(0..100usize) < CONSOLE_INTERNAL_PERCENT)
        || actor.ips.is_empty()
    {
        "AWS Internal".to_owned()
    } else {
        actor.ips[rng.random_range(0..actor.ips.len())].clone()
    };
    let user_agent = match (call.via_service, call.user_agent) {
        (Some(svc), _) => svc.to_owned(),
        (None, Some(agent)) => agent.to_owned(),
        (None, None) => actor.agent.user_agent(service, cli),
    };
    let tls_details = match (actor.tls, call.via_service) {
        (Some((version, cipher)), None) => {
            let host = call.host.take().unwrap_or_else(|| match service {
                Some(s) => s.host((!global || regional_sts).then_some(region_name)),
                None => format!("{prefix}.{region_name}.amazonaws.com"),
            });
            Some(TlsDetails {
                tls_version: Some(version.into()),
                cipher_suite: Some(cipher.into()),
                client_provided_host_header: Some(host),
                ..Default::default()
            })
        }
        _ => None,
    };

    // Failure: forced by an anomaly, decided by the builder, a denied write, or the API's own
    // error profile. AWS services acting for themselves are not made to fail.
    let mut error_code: Option<String> = None;
    let mut error_message: Option<String> = None;
    let mut keep_response = false;
    let code: Option<String> = if let Some(f) = call.failure.take() {
        error_code = f.code;
        error_message = Some(f.message);
        keep_response = true;
        None
    } else if let Some(code) = forced_error {
        Some(code.to_owned())
    } else if actor.kind == ActorKind::Service {
        None
    } else if actor.deny_writes && !read_only && rng.random_range(0..1_000_000) < READ_ONLY_DENIAL {
        Some(catalog::access_denied_code(service).to_owned())
    } else if errors.is_empty() {
        None
    } else {
        let r = rng.random_range(0..1_000_000u32);
        let mut acc = 0;
        errors
            .iter()
            .find(|(_, ppm)| {
                acc += ppm;
                r < acc
            })
            .map(|(c, _)| (*c).to_owned())
    };
    if let Some(code) = code {
        let subject = ErrorSubject {
            service,
            prefix,
            action,
            caller_arn: &actor.arn,
            target_arn: &call.target_arn,
            target_name: &call.target_name,
        };
        error_message = Some(catalog::error_message(&code, &subject, rng));
        error_code = Some(code);
    }
    let failed = error_code.is_some() || error_message.is_some();
    let response = if failed && !keep_response {
        // A refused S3 request moves no object data, only the error document.
        if let Some(Value::Object(extra)) = &mut call.additional
            && extra.contains_key("bytesTransferredOut")
        {
            extra.insert("bytesTransferredIn".into(), 0.into());
            extra.insert("bytesTransferredOut".into(), S3_ERROR_BYTES.into());
            extra.remove("SSEApplied");
        }
        Value::Null
    } else {
        std::mem::take(&mut call.response)
    };

    let request_id = (!call.no_request_id).then(|| match service {
        Some(Service::S3) => ids::upper_alphanumeric(rng, 16),
        Some(Service::DynamoDb) => ids::upper_alphanumeric(rng, 52),
        _ => ids::guid(rng),
    });
    let event_id = ids::guid(rng);
    // A call from another account is delivered to both; the copies share an id.
    let shared_event_id = (actor.kind == ActorKind::AwsAccount).then(|| ids::guid(rng));
    Record {
        event_version: Some(EVENT_VERSION.into()),
        user_identity: Some(identity),
        event_time: Some(crate::timefmt::iso(secs)),
        event_source: Some(source.into()),
        event_name: Some(name.into()),
        aws_region: Some(region_name.into()),
        source_ip_address: Some(source_ip),
        user_agent: Some(user_agent),
        error_code,
        error_message,
        request_parameters: Some(call.params),
        response_elements: Some(response),
        additional_event_data: call.additional,
        request_id,
        event_id: Some(event_id),
        read_only: Some(read_only),
        resources: call.resources,
        event_type: Some(call.event_type.unwrap_or("AwsApiCall").into()),
        management_event: Some(!data),
        recipient_account_id: Some(org.account.clone()),
        shared_event_id,
        event_category: Some(if data { "Data" } else { "Management" }.into()),
        session_credential_from_console: (actor.console && !call.not_from_console)
            .then(|| "true".to_owned()),
        tls_details,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn weighted_tables_follow_their_weights() {
        let t = WeightedTable::new([('a', 1), ('b', 0), ('c', 3)]).expect("non-empty");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            match t.pick(&mut rng) {
                'a' => counts[0] += 1,
                'b' => counts[1] += 1,
                _ => counts[2] += 1,
            }
        }
        assert_eq!(counts[1], 0);
        let ratio = f64::from(counts[2]) / f64::from(counts[0]);
        assert!((ratio - 3.0).abs() < 0.2, "{ratio}");
        assert!(WeightedTable::new([('x', 0)]).is_none());
        assert_eq!(t.entries().collect::<Vec<_>>(), [('a', 1), ('c', 3)]);
    }

    #[test]
    fn the_home_region_gets_most_traffic() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            counts[pick_region(&mut rng, 3)] += 1;
        }
        assert!(
            counts[0] > 6_500 && counts[1] > 1_200 && counts[2] > 1_200,
            "{counts:?}"
        );
        assert_eq!(pick_region(&mut rng, 1), 0);
    }
}
