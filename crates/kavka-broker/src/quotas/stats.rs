//! Counts of throttled requests per quota type, as atomics a metrics exporter
//! can read without locking.

use std::sync::atomic::{AtomicU64, Ordering};

/// Throttling seen by this broker since it started.
#[derive(Debug, Default)]
pub struct QuotaStats {
    /// Produce requests over their `producer_byte_rate`.
    pub produce_throttled_total: AtomicU64,
    /// Fetch requests over their `consumer_byte_rate` (answered empty).
    pub fetch_throttled_total: AtomicU64,
    /// CreateTopics, CreatePartitions and DeleteTopics over their
    /// `controller_mutation_rate` (refused or throttled).
    pub controller_mutation_throttled_total: AtomicU64,
    /// Milliseconds of throttle time given, per quota type.
    pub produce_throttle_ms_total: AtomicU64,
    pub fetch_throttle_ms_total: AtomicU64,
    pub controller_mutation_throttle_ms_total: AtomicU64,
    /// Clients (sensors) currently tracked, all quota types together.
    pub tracked_clients: AtomicU64,
}

impl QuotaStats {
    pub(crate) fn count(total: &AtomicU64, ms_total: &AtomicU64, throttle_ms: u64) {
        total.fetch_add(1, Ordering::Relaxed);
        ms_total.fetch_add(throttle_ms, Ordering::Relaxed);
    }
}
