//! Client quotas, broker side (KIP-13, KIP-55, KIP-219, KIP-599): the produce
//! and fetch byte rates and the controller mutation rate, measured per client
//! as Kafka measures them and turned into throttle times. Quota values come
//! from the metadata image (`kavka_metadata::client_quotas`), so a change made
//! on any broker applies everywhere once its record is applied.
//!
//! The connection (`connection.rs`) calls [`throttle::before_handling`] and
//! [`throttle::after_handling`] around each request; the admin handlers take a
//! [`MutationQuota`] per request. A throttled client gets its answer at once
//! with `throttle_time_ms` set, and its connection is not read for that long
//! (Kafka's channel muting).

mod rate;
mod sensors;
mod stats;
pub(crate) mod throttle;
mod token_bucket;

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Instant;

use kavka_metadata::client_quotas::{
    ClientQuotas, CONSUMER_BYTE_RATE, CONTROLLER_MUTATION_RATE, PRODUCER_BYTE_RATE,
};
use kavka_metadata::MetadataError;

use crate::config::QuotaSettings;
use crate::security::Session;
use rate::SampledRate;
use sensors::Sensors;
pub use stats::QuotaStats;
use token_bucket::TokenBucket;

/// The broker's quota state: one set of sensors per quota type.
pub struct ClientQuotaManagers {
    settings: QuotaSettings,
    produce: Sensors<SampledRate>,
    fetch: Sensors<SampledRate>,
    mutation: Sensors<TokenBucket>,
    /// Counts for metrics.
    pub stats: QuotaStats,
    epoch: Instant,
}

impl std::fmt::Debug for ClientQuotaManagers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientQuotaManagers")
            .field("settings", &self.settings)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl ClientQuotaManagers {
    pub fn new(settings: QuotaSettings) -> Self {
        Self {
            settings,
            produce: Sensors::new(),
            fetch: Sensors::new(),
            mutation: Sensors::new(),
            stats: QuotaStats::default(),
            epoch: Instant::now(),
        }
    }

    /// Monotonic milliseconds; rates never see the wall clock jump.
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn update_tracked(&self) {
        let n = self.produce.len() + self.fetch.len() + self.mutation.len();
        self.stats
            .tracked_clients
            .store(n as u64, Ordering::Relaxed);
    }

    /// Records `bytes` produced; the throttle time in ms (0: within quota).
    pub(crate) fn record_produce(
        &self,
        quotas: &ClientQuotas,
        session: &Session,
        client_id: &str,
        bytes: usize,
    ) -> u64 {
        let Some(q) = quotas.applied(&session.principal.name, client_id, PRODUCER_BYTE_RATE) else {
            return 0;
        };
        let window = self.settings.client;
        let now = self.now_ms();
        let ms = self.produce.with(
            &q.sensor,
            now,
            || SampledRate::new(window),
            |r| r.record_and_throttle(bytes as f64, q.limit, now),
        );
        self.update_tracked();
        if ms > 0 {
            QuotaStats::count(
                &self.stats.produce_throttled_total,
                &self.stats.produce_throttle_ms_total,
                ms,
            );
        }
        ms
    }

    /// The most a consumer fetch may return: what the quota allows over the
    /// window less one sample (Kafka's `getMaxValueInQuotaWindow`), so one
    /// response can never be throttled on its own.
    pub(crate) fn fetch_max_bytes(
        &self,
        quotas: &ClientQuotas,
        session: &Session,
        client_id: &str,
    ) -> Option<i32> {
        let q = quotas.applied(&session.principal.name, client_id, CONSUMER_BYTE_RATE)?;
        let w = self.settings.client;
        let max = q.limit * f64::from(w.samples.saturating_sub(1)) * f64::from(w.window_seconds);
        Some(max.clamp(0.0, f64::from(i32::MAX)) as i32)
    }

    /// Records `bytes` fetched; the throttle time in ms. A throttled fetch is
    /// answered empty, so its bytes are taken back off the rate, as Kafka does.
    pub(crate) fn record_fetch(
        &self,
        quotas: &ClientQuotas,
        session: &Session,
        client_id: &str,
        bytes: usize,
    ) -> u64 {
        let Some(q) = quotas.applied(&session.principal.name, client_id, CONSUMER_BYTE_RATE) else {
            return 0;
        };
        let window = self.settings.client;
        let now = self.now_ms();
        let ms = self.fetch.with(
            &q.sensor,
            now,
            || SampledRate::new(window),
            |r| {
                let ms = r.record_and_throttle(bytes as f64, q.limit, now);
                if ms > 0 {
                    r.record(-(bytes as f64), now);
                }
                ms
            },
        );
        self.update_tracked();
        if ms > 0 {
            QuotaStats::count(
                &self.stats.fetch_throttled_total,
                &self.stats.fetch_throttle_ms_total,
                ms,
            );
        }
        ms
    }

    /// The controller mutation quota of one request: strict (refuses) from
    /// `strict_since` on, permissive (only throttles) before, as Kafka's
    /// `newQuotaFor`.
    pub(crate) fn mutation_quota<'a>(
        &'a self,
        quotas: &ClientQuotas,
        session: &Session,
        client_id: &str,
        version: i16,
        strict_since: i16,
    ) -> MutationQuota<'a> {
        let applied = quotas.applied(&session.principal.name, client_id, CONTROLLER_MUTATION_RATE);
        MutationQuota {
            managers: self,
            applied: applied.map(|a| (a.sensor, a.limit)),
            strict: version >= strict_since,
            throttle: Mutex::new(None),
        }
    }
}

/// One request's view of its client's controller mutation quota.
pub(crate) struct MutationQuota<'a> {
    managers: &'a ClientQuotaManagers,
    applied: Option<(kavka_metadata::client_quotas::SensorKey, f64)>,
    strict: bool,
    /// The last throttle time and when it was decided.
    throttle: Mutex<Option<(u64, u64)>>,
}

impl MutationQuota<'_> {
    /// Takes `partitions` mutations; a strict quota already exhausted refuses
    /// with THROTTLING_QUOTA_EXCEEDED.
    pub(crate) fn admit(&self, partitions: usize) -> Result<(), MetadataError> {
        let Some((sensor, rate)) = &self.applied else {
            return Ok(());
        };
        let m = self.managers;
        let window = m.settings.controller_mutation;
        let now = m.now_ms();
        let strict = self.strict;
        let outcome = m.mutation.with(
            sensor,
            now,
            || TokenBucket::new(window),
            |b| {
                if strict {
                    b.try_take(partitions as f64, *rate, now).err().unwrap_or(0)
                } else {
                    b.take(partitions as f64, *rate, now)
                }
            },
        );
        m.update_tracked();
        if outcome > 0 {
            if let Ok(mut t) = self.throttle.lock() {
                *t = Some((outcome, now));
            }
            QuotaStats::count(
                &m.stats.controller_mutation_throttled_total,
                &m.stats.controller_mutation_throttle_ms_total,
                outcome,
            );
            if strict {
                return Err(MetadataError::ThrottlingQuotaExceeded(
                    "The throttling quota has been exceeded.".into(),
                ));
            }
        }
        Ok(())
    }

    /// The throttle time to answer with: the last one decided, less the time
    /// since (Kafka's `AbstractControllerMutationQuota.throttleTime`).
    pub(crate) fn throttle_time_ms(&self) -> i32 {
        let Ok(t) = self.throttle.lock() else {
            return 0;
        };
        match *t {
            Some((ms, at)) => {
                let left = ms.saturating_sub(self.managers.now_ms().saturating_sub(at));
                i32::try_from(left).unwrap_or(i32::MAX)
            }
            None => 0,
        }
    }
}
