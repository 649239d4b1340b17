//! Kafka's `RequestMetrics`: how many requests of each API and version were
//! answered, and how long each took (`TotalTimeMs`). Counting is one relaxed
//! atomic add per cell into fixed arrays indexed by API key and version: no
//! lock, no allocation, no map lookup on the request path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;

/// Highest API key with a slot of its own (the protocol's keys end below it).
const MAX_API_KEY: usize = 95;
/// Slot of Fetch requests from followers; Fetch from consumers keeps key 1's.
const FETCH_FOLLOWER_SLOT: usize = MAX_API_KEY + 1;
const SLOTS: usize = FETCH_FOLLOWER_SLOT + 1;
/// Versions counted apart; a higher one (none exists yet) counts as the last.
const VERSIONS: usize = 32;

/// Upper bounds of the `TotalTimeMs` histogram's buckets, in milliseconds.
pub(crate) const BUCKETS_MS: [f64; 16] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10_000.0,
    30_000.0, 60_000.0,
];

/// Which Kafka request metric a request counts under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestMetric {
    slot: usize,
    version: usize,
}

impl RequestMetric {
    /// `api_key` at `version`; a Fetch from a follower counts as Kafka's
    /// `FetchFollower`, from a consumer as `FetchConsumer`.
    pub(crate) fn of(api_key: ApiKey, version: i16, from_follower: bool) -> Self {
        let key = usize::try_from(api_key as i16)
            .unwrap_or(0)
            .min(MAX_API_KEY);
        let slot = if api_key == ApiKey::Fetch && from_follower {
            FETCH_FOLLOWER_SLOT
        } else {
            key
        };
        Self {
            slot,
            version: usize::try_from(version).unwrap_or(0).min(VERSIONS - 1),
        }
    }
}

/// Counts and latencies of answered requests, per API.
#[derive(Debug)]
pub struct RequestMetrics {
    /// `[slot * VERSIONS + version]`
    requests: Box<[AtomicU64]>,
    /// Per slot: `BUCKETS_MS.len()` cumulative-at-read buckets (stored
    /// non-cumulative), then the sum in microseconds.
    times: Box<[AtomicU64]>,
}

const TIME_CELLS: usize = BUCKETS_MS.len() + 2; // buckets, +Inf, sum

impl Default for RequestMetrics {
    fn default() -> Self {
        Self {
            requests: (0..SLOTS * VERSIONS).map(|_| AtomicU64::new(0)).collect(),
            times: (0..SLOTS * TIME_CELLS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// One API's figures at scrape time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RequestSnapshot {
    /// Kafka's request name (`Produce`, `FetchConsumer`, ...).
    pub(crate) name: String,
    /// `(version, requests)` for every version seen.
    pub(crate) by_version: Vec<(usize, u64)>,
    /// Cumulative counts per bucket of [`BUCKETS_MS`], then the total count.
    pub(crate) cumulative: Vec<u64>,
    pub(crate) sum_ms: f64,
}

impl RequestMetrics {
    /// Counts one answered request that took `elapsed`.
    pub(crate) fn record(&self, kind: RequestMetric, elapsed: Duration) {
        if let Some(cell) = self.requests.get(kind.slot * VERSIONS + kind.version) {
            cell.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let ms = micros as f64 / 1000.0;
        let bucket = BUCKETS_MS
            .iter()
            .position(|&bound| ms <= bound)
            .unwrap_or(BUCKETS_MS.len());
        let base = kind.slot * TIME_CELLS;
        if let Some(cell) = self.times.get(base + bucket) {
            cell.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(cell) = self.times.get(base + TIME_CELLS - 1) {
            cell.fetch_add(micros, Ordering::Relaxed);
        }
    }

    /// Every API with at least one request, by slot order.
    pub(crate) fn snapshot(&self) -> Vec<RequestSnapshot> {
        (0..SLOTS)
            .filter_map(|slot| {
                let by_version: Vec<(usize, u64)> = (0..VERSIONS)
                    .map(|v| {
                        (
                            v,
                            self.requests[slot * VERSIONS + v].load(Ordering::Relaxed),
                        )
                    })
                    .filter(|&(_, n)| n > 0)
                    .collect();
                if by_version.is_empty() {
                    return None;
                }
                let base = slot * TIME_CELLS;
                let mut running = 0;
                let cumulative = (0..=BUCKETS_MS.len())
                    .map(|b| {
                        running += self.times[base + b].load(Ordering::Relaxed);
                        running
                    })
                    .collect();
                let sum_ms =
                    self.times[base + TIME_CELLS - 1].load(Ordering::Relaxed) as f64 / 1000.0;
                Some(RequestSnapshot {
                    name: slot_name(slot)?,
                    by_version,
                    cumulative,
                    sum_ms,
                })
            })
            .collect()
    }
}

/// Kafka's name for a request metric: the API's name, with Fetch split by sender.
fn slot_name(slot: usize) -> Option<String> {
    if slot == FETCH_FOLLOWER_SLOT {
        return Some("FetchFollower".into());
    }
    let key = ApiKey::try_from(i16::try_from(slot).ok()?).ok()?;
    Some(match key {
        ApiKey::Fetch => "FetchConsumer".into(),
        other => format!("{other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_version_and_buckets_cumulate() {
        let m = RequestMetrics::default();
        let produce = RequestMetric::of(ApiKey::Produce, 9, false);
        m.record(produce, Duration::from_micros(300));
        m.record(produce, Duration::from_millis(7));
        m.record(
            RequestMetric::of(ApiKey::Produce, 11, false),
            Duration::from_secs(100),
        );
        m.record(
            RequestMetric::of(ApiKey::Fetch, 16, true),
            Duration::from_millis(1),
        );
        m.record(
            RequestMetric::of(ApiKey::Fetch, 16, false),
            Duration::from_millis(1),
        );
        let s = m.snapshot();
        let names: Vec<_> = s.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Produce", "FetchConsumer", "FetchFollower"]);
        let p = &s[0];
        assert_eq!(p.by_version, [(9, 2), (11, 1)]);
        assert_eq!(p.cumulative[0], 1); // <= 0.5 ms
        assert_eq!(p.cumulative[4], 2); // <= 10 ms
        assert_eq!(p.cumulative[BUCKETS_MS.len() - 1], 2); // <= 60 s
        assert_eq!(*p.cumulative.last().unwrap(), 3); // +Inf
        assert!((p.sum_ms - 100_007.3).abs() < 1e-6, "{}", p.sum_ms);
    }
}
