//! Digest chains of a trail with log file validation on: which delivered log files the next
//! digest of each account and region lists, when a digest is due, and writing it exactly once.
//!
//! A chain starts when the trail is logging with validation on (its first digest names no
//! previous one), gets a digest every `digest_interval` on the grid anchored at its start
//! (empty ones too), and ends with a final digest when logging stops, validation is turned off
//! or the trail is deleted. A log file joins its chain in the same state write that records
//! the file as delivered, so a digest never lists a file that is not durably stored. A digest
//! being written is recorded first (its end time and key fingerprint) and rewritten the same
//! after a crash, so the chain never breaks silently.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use opentrail_integrity::{ChainLink, DigestInput, DigestLogFile, DigestPlace, build_digest};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::{TrailConfig, TrailStatus};
use crate::delivery::{DeliveryState, Inner, put_until_stored, save_state};

/// The open digest window of one account and region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Chain {
    account: String,
    region: String,
    /// Start of the window (epoch seconds): the end of the previous digest.
    start: i64,
    /// Log files delivered in the window.
    files: Vec<DigestLogFile>,
    /// The last digest written; `None` until the chain's first digest.
    previous: Option<ChainLink>,
}

/// A digest being written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PendingDigest {
    account: String,
    region: String,
    end: i64,
    fingerprint: String,
    /// The chain ends with this digest.
    last: bool,
}

/// A trail's digest chains, kept in its delivery state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DigestState {
    chains: Vec<Chain>,
    pending: Option<PendingDigest>,
}

impl DigestState {
    fn chain(&mut self, account: &str, region: &str, start: i64) -> &mut Chain {
        let i = match self
            .chains
            .iter()
            .position(|c| c.account == account && c.region == region)
        {
            Some(i) => i,
            None => {
                self.chains.push(Chain {
                    account: account.to_owned(),
                    region: region.to_owned(),
                    start,
                    files: Vec::new(),
                    previous: None,
                });
                self.chains.len() - 1
            }
        };
        &mut self.chains[i]
    }

    /// Records a log file delivered at `delivered_at` for the next digest of its chain.
    pub(crate) fn add_file(
        &mut self,
        account: &str,
        region: &str,
        file: DigestLogFile,
        delivered_at: i64,
    ) {
        self.chain(account, region, delivered_at).files.push(file);
    }

    /// The digests due at `now`: (chain index, end, whether the chain ends). Starts the home
    /// chain when the trail is `active` (logging with validation on) and has none.
    fn due(
        &mut self,
        cfg: &TrailConfig,
        active: bool,
        ending: bool,
        interval: i64,
        now: i64,
    ) -> Vec<(usize, i64, bool)> {
        if active && !ending {
            self.chain(&cfg.account, &cfg.home_region, now);
        }
        self.chains
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                if !active || ending {
                    // A final digest ends after its window started, so its key never
                    // collides with the previous digest's.
                    Some((i, now.max(c.start + 1), true))
                } else if now >= c.start + interval {
                    // Missed periods (the server was down) fold into one digest that still
                    // ends on the grid.
                    Some((i, c.start + interval * ((now - c.start) / interval), false))
                } else {
                    None
                }
            })
            .collect()
    }

    /// Whether anything may be due: a cheap check for every turn of the delivery loop.
    pub(crate) fn needs_attention(
        &self,
        cfg: &TrailConfig,
        active: bool,
        interval: i64,
        now: i64,
    ) -> bool {
        self.pending.is_some()
            || (!active && !self.chains.is_empty())
            || (active
                && (self.chains.is_empty()
                    || self.chains.iter().any(|c| now >= c.start + interval)
                    || !self
                        .chains
                        .iter()
                        .any(|c| c.account == cfg.account && c.region == cfg.home_region)))
    }
}

fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// Writes the digests due now (or, with `ending`, the final digest of every chain: the trail
/// is being deleted). False when the task must stop (state unwritable, shutting down).
pub(crate) async fn write_due(
    inner: &Inner,
    cfg: &TrailConfig,
    st: &mut DeliveryState,
    status: &Mutex<TrailStatus>,
    stop: &mut watch::Receiver<bool>,
    ending: bool,
) -> bool {
    let interval = inner.settings.digest_interval.as_secs().max(1) as i64;
    let now = Utc::now().timestamp();
    let active = st.logging && cfg.log_file_validation;
    if !ending && !st.digests.needs_attention(cfg, active, interval, now) {
        return true;
    }
    if let Some(p) = st.digests.pending.clone()
        && !write_one(inner, cfg, st, status, stop, p).await
    {
        return false;
    }
    let due = st.digests.due(cfg, active, ending, interval, now);
    if due.is_empty() {
        // A new chain was started: record its start.
        return persist(inner, cfg, st);
    }
    let mut plans = Vec::new();
    for (i, end, last) in due {
        let c = &st.digests.chains[i];
        let keys = inner.keys.clone();
        let region = c.region.clone();
        // Making the region's first key generates an RSA key: off the async threads.
        let key = tokio::task::spawn_blocking(move || keys.signing_key(&region, end)).await;
        let fingerprint = match key {
            Ok(Ok(k)) => k.public.fingerprint,
            Ok(Err(e)) => {
                tracing::error!(trail = %cfg.arn, error = %e, "no digest signing key; digests wait");
                return true;
            }
            Err(e) => {
                tracing::error!(trail = %cfg.arn, error = %e, "digest signing key task failed");
                return true;
            }
        };
        plans.push(PendingDigest {
            account: c.account.clone(),
            region: c.region.clone(),
            end,
            fingerprint,
            last,
        });
    }
    for p in plans {
        if !write_one(inner, cfg, st, status, stop, p).await {
            return false;
        }
    }
    true
}

fn persist(inner: &Inner, cfg: &TrailConfig, st: &DeliveryState) -> bool {
    match save_state(&inner.state_dir, &cfg.id, st) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(trail = %cfg.arn, error = %e, "cannot record the trail's digest state");
            false
        }
    }
}

/// Records `p` as pending, writes the digest, then closes its window.
async fn write_one(
    inner: &Inner,
    cfg: &TrailConfig,
    st: &mut DeliveryState,
    status: &Mutex<TrailStatus>,
    stop: &mut watch::Receiver<bool>,
    p: PendingDigest,
) -> bool {
    let Some(ci) = st
        .digests
        .chains
        .iter()
        .position(|c| c.account == p.account && c.region == p.region)
    else {
        st.digests.pending = None;
        return persist(inner, cfg, st);
    };
    st.digests.pending = Some(p.clone());
    if !persist(inner, cfg, st) {
        return false;
    }
    let chain = st.digests.chains[ci].clone();
    let org_id = cfg
        .is_organization
        .then(|| inner.organization.as_ref().map(|o| o.id.clone()))
        .flatten();
    let (keys, bucket, prefix, name, home) = (
        inner.keys.clone(),
        cfg.s3_bucket.clone(),
        cfg.s3_key_prefix.clone(),
        cfg.name.clone(),
        cfg.home_region.clone(),
    );
    let built = tokio::task::spawn_blocking(move || {
        let key = keys.signing_key_by_fingerprint(&chain.region, &p.fingerprint)?;
        build_digest(
            &DigestInput {
                place: DigestPlace {
                    prefix: prefix.as_deref(),
                    org_id: org_id.as_deref(),
                    account: &chain.account,
                    region: &chain.region,
                    trail_name: &name,
                    home_region: &home,
                },
                bucket: &bucket,
                start: time(chain.start),
                end: time(p.end),
                files: &chain.files,
                previous: chain.previous.as_ref(),
            },
            &key,
        )
        .map(|d| (d, p))
    })
    .await;
    let (digest, p) = match built {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            tracing::error!(trail = %cfg.arn, error = %e, "cannot build a digest; it will be retried");
            return true;
        }
        Err(e) => {
            tracing::error!(trail = %cfg.arn, error = %e, "digest task failed");
            return true;
        }
    };
    if !put_until_stored(
        inner,
        cfg,
        st,
        status,
        stop,
        &digest.key,
        bytes::Bytes::from(digest.gzip.clone()),
        "application/json",
        &digest.metadata(),
    )
    .await
    {
        return false;
    }
    metrics::counter!("opentrail_trail_digests_delivered_total").increment(1);
    tracing::debug!(trail = %cfg.arn, key = %digest.key, files = st.digests.chains[ci].files.len(), "digest delivered");
    if p.last {
        st.digests.chains.remove(ci);
    } else {
        let c = &mut st.digests.chains[ci];
        c.previous = Some(digest.link);
        c.files.clear();
        c.start = p.end;
    }
    st.digests.pending = None;
    persist(inner, cfg, st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str) -> DigestLogFile {
        DigestLogFile {
            s3_bucket: "logs".into(),
            s3_object: key.into(),
            hash_value: "00".repeat(32),
            hash_algorithm: "SHA-256".into(),
            newest_event_time: "2026-01-01T00:00:00Z".into(),
            oldest_event_time: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn chains_start_with_logging_follow_the_grid_and_end_when_logging_stops() {
        let cfg = TrailConfig::new("t", "audit", "123456789012", "us-east-1", "logs");
        let mut d = DigestState::default();
        assert!(!d.needs_attention(&cfg, false, 60, 0));
        assert!(d.needs_attention(&cfg, true, 60, 1000));
        assert!(
            d.due(&cfg, true, false, 60, 1000).is_empty(),
            "just started"
        );
        assert_eq!(d.chains.len(), 1);
        assert!(!d.needs_attention(&cfg, true, 60, 1059));
        d.add_file("123456789012", "us-east-1", file("a"), 1010);
        d.add_file("123456789012", "eu-west-1", file("b"), 1020);
        assert_eq!(
            d.chains.len(),
            2,
            "a region's chain starts with its first file"
        );
        assert_eq!(d.due(&cfg, true, false, 60, 1060), vec![(0, 1060, false)]);
        // Three periods missed: one digest ending on the grid.
        assert_eq!(
            d.due(&cfg, true, false, 60, 1200),
            vec![(0, 1180, false), (1, 1200, false)]
        );
        // Logging stopped: every chain gets its final digest, never ending at its start.
        assert_eq!(
            d.due(&cfg, false, false, 60, 1000),
            vec![(0, 1001, true), (1, 1021, true)]
        );
        assert_eq!(
            d.due(&cfg, true, true, 60, 1300),
            vec![(0, 1300, true), (1, 1300, true)],
            "deletion ends the chains too"
        );
    }
}
