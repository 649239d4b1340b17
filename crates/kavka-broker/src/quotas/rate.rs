//! Kafka's sampled rate (`Rate` over a `WindowedSum`) and the throttle time it
//! implies (`QuotaUtils.throttleTime`), as plain arithmetic on explicit times.

use crate::config::QuotaWindow;

/// One sample: the sum recorded while it was current.
#[derive(Debug, Clone, Copy)]
struct Sample {
    value: f64,
    start_ms: u64,
    last_event_ms: u64,
}

impl Sample {
    fn new(now_ms: u64) -> Self {
        Self {
            value: 0.0,
            start_ms: now_ms,
            last_event_ms: now_ms,
        }
    }
}

/// A rate measured over `samples` windows of `window_seconds`, the way Kafka's
/// metrics measure a quota: the sum of the live samples divided by the time
/// they span, counted as at least `samples - 1` whole windows (so one burst
/// just after start does not look like an enormous rate).
#[derive(Debug, Clone)]
pub(crate) struct SampledRate {
    window: QuotaWindow,
    /// Up to `samples + 1` entries: one extra for the sample overlapping the
    /// window's start, as Kafka keeps.
    samples: Vec<Sample>,
    current: usize,
}

impl SampledRate {
    pub(crate) fn new(window: QuotaWindow) -> Self {
        Self {
            window,
            samples: Vec::new(),
            current: 0,
        }
    }

    fn window_ms(&self) -> u64 {
        u64::from(self.window.window_seconds) * 1000
    }

    /// Adds `value` (bytes, or a negative amount to take a recording back).
    pub(crate) fn record(&mut self, value: f64, now_ms: u64) {
        if self.samples.is_empty() {
            self.samples.push(Sample::new(now_ms));
            self.current = 0;
        }
        let window_ms = self.window_ms();
        if now_ms.saturating_sub(self.samples[self.current].start_ms) >= window_ms {
            self.advance(now_ms);
        }
        let sample = &mut self.samples[self.current];
        sample.value += value;
        sample.last_event_ms = now_ms;
    }

    fn advance(&mut self, now_ms: u64) {
        let max = self.window.samples as usize + 1;
        self.current = (self.current + 1) % max;
        if self.current >= self.samples.len() {
            self.samples.push(Sample::new(now_ms));
        } else {
            self.samples[self.current] = Sample::new(now_ms);
        }
    }

    /// Resets samples with no event within the whole monitored window.
    fn purge(&mut self, now_ms: u64) {
        let expire = u64::from(self.window.samples) * self.window_ms();
        for s in &mut self.samples {
            if now_ms.saturating_sub(s.last_event_ms) >= expire {
                *s = Sample::new(now_ms);
            }
        }
    }

    /// The time the rate is taken over, in ms (Kafka's `Rate.windowSize`).
    pub(crate) fn window_size_ms(&mut self, now_ms: u64) -> u64 {
        self.purge(now_ms);
        let oldest = self
            .samples
            .iter()
            .map(|s| s.start_ms)
            .min()
            .unwrap_or(now_ms);
        let mut elapsed = now_ms.saturating_sub(oldest);
        let window_ms = self.window_ms();
        let full = elapsed / window_ms;
        let min_full = u64::from(self.window.samples.saturating_sub(1));
        if full < min_full {
            elapsed += (min_full - full) * window_ms;
        }
        elapsed.max(1)
    }

    /// The rate per second now.
    pub(crate) fn measure(&mut self, now_ms: u64) -> f64 {
        self.purge(now_ms);
        let sum: f64 = self.samples.iter().map(|s| s.value).sum();
        sum / (self.window_size_ms(now_ms) as f64 / 1000.0)
    }

    /// Records `value` and returns how long the client must wait, in ms, for
    /// the rate to come back to `limit` if it recorded nothing more (0 when
    /// within the limit).
    pub(crate) fn record_and_throttle(&mut self, value: f64, limit: f64, now_ms: u64) -> u64 {
        self.record(value, now_ms);
        let observed = self.measure(now_ms);
        if observed <= limit {
            return 0;
        }
        throttle_time_ms(observed, limit, self.window_size_ms(now_ms))
    }
}

/// Kafka's throttle time: to bring an observed rate O down to the quota T over
/// a window W, wait X with O·W / (W + X) = T, so X = (O − T) / T · W.
pub(crate) fn throttle_time_ms(observed: f64, limit: f64, window_ms: u64) -> u64 {
    if limit <= 0.0 || observed <= limit {
        return 0;
    }
    let ms = ((observed - limit) / limit * window_ms as f64).round();
    if ms.is_finite() && ms > 0.0 {
        ms.min(u64::MAX as f64) as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: QuotaWindow = QuotaWindow {
        samples: 11,
        window_seconds: 1,
    };

    #[test]
    fn throttle_time_is_kafkas_formula() {
        // 2000 B/s observed against 1000 B/s over 10 s: wait another 10 s.
        assert_eq!(throttle_time_ms(2000.0, 1000.0, 10_000), 10_000);
        assert_eq!(throttle_time_ms(1100.0, 1000.0, 10_000), 1000);
        assert_eq!(throttle_time_ms(900.0, 1000.0, 10_000), 0);
    }

    #[test]
    fn a_first_burst_counts_over_ten_windows() {
        let mut r = SampledRate::new(WINDOW);
        // 10 000 bytes at once: the window counts as (11 - 1) seconds.
        assert_eq!(r.window_size_ms(0), 10_000);
        r.record(10_000.0, 0);
        assert_eq!(r.measure(0), 1000.0);
        // Below a 1000 B/s quota nothing is throttled ...
        let mut r = SampledRate::new(WINDOW);
        assert_eq!(r.record_and_throttle(10_000.0, 1000.0, 0), 0);
        // ... and 2000 more bytes are 20% over: 2 s of throttle.
        assert_eq!(r.record_and_throttle(2_000.0, 1000.0, 0), 2000);
    }

    #[test]
    fn a_steady_rate_at_the_quota_is_not_throttled() {
        let mut r = SampledRate::new(WINDOW);
        let mut throttled = 0;
        for second in 0..30u64 {
            for tenth in 0..10u64 {
                throttled += r.record_and_throttle(90.0, 1000.0, second * 1000 + tenth * 100);
            }
        }
        assert_eq!(throttled, 0);
        let rate = r.measure(30_000);
        assert!((800.0..=1000.0).contains(&rate), "{rate}");
    }

    #[test]
    fn old_samples_expire_and_unrecording_takes_a_value_back() {
        let mut r = SampledRate::new(WINDOW);
        r.record(50_000.0, 0);
        assert!(r.measure(1_000) > 1000.0);
        // After the whole monitored window (11 s) without events, nothing is left.
        assert_eq!(r.measure(12_000), 0.0);
        r.record(5_000.0, 12_000);
        r.record(-5_000.0, 12_000);
        assert_eq!(r.measure(12_000), 0.0);
    }
}
