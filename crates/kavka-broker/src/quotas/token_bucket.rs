//! Kafka's token bucket for the controller mutation quota (KIP-599): credits
//! refill at the quota's rate up to a burst of `samples × window × rate`; a
//! mutation is refused while the bucket is below zero.

use crate::config::QuotaWindow;

/// Credits (partitions) a client may still mutate.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    window: QuotaWindow,
    tokens: f64,
    /// None until first used: a new bucket starts full, as Kafka's does.
    last_ms: Option<u64>,
}

impl TokenBucket {
    pub(crate) fn new(window: QuotaWindow) -> Self {
        Self {
            window,
            tokens: 0.0,
            last_ms: None,
        }
    }

    fn burst(&self, rate: f64) -> f64 {
        f64::from(self.window.samples) * f64::from(self.window.window_seconds) * rate
    }

    fn refill(&mut self, rate: f64, now_ms: u64) {
        let burst = self.burst(rate);
        self.tokens = match self.last_ms {
            None => burst,
            Some(last) => {
                let elapsed_s = now_ms.saturating_sub(last) as f64 / 1000.0;
                (self.tokens + rate * elapsed_s).min(burst)
            }
        };
        self.last_ms = Some(now_ms);
    }

    /// Strict (KIP-599, newer request versions): refused with the time until
    /// the bucket is back at zero if it is below zero now; otherwise taken,
    /// even if that drives the bucket below zero.
    pub(crate) fn try_take(&mut self, permits: f64, rate: f64, now_ms: u64) -> Result<(), u64> {
        self.refill(rate, now_ms);
        if self.tokens < 0.0 {
            return Err(self.time_to_zero_ms(rate));
        }
        self.tokens = (self.tokens - permits).min(self.burst(rate));
        Ok(())
    }

    /// Permissive (older versions): always taken; the time until the bucket
    /// is back at zero is the throttle time.
    pub(crate) fn take(&mut self, permits: f64, rate: f64, now_ms: u64) -> u64 {
        self.refill(rate, now_ms);
        self.tokens = (self.tokens - permits).min(self.burst(rate));
        if self.tokens < 0.0 {
            self.time_to_zero_ms(rate)
        } else {
            0
        }
    }

    fn time_to_zero_ms(&self, rate: f64) -> u64 {
        let ms = (-self.tokens / rate * 1000.0).round();
        if ms.is_finite() && ms > 0.0 {
            ms as u64
        } else {
            0
        }
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
    fn strict_bucket_refuses_once_below_zero_until_refilled() {
        let mut b = TokenBucket::new(WINDOW);
        // Rate 1/s: a burst of 11 partitions; 20 are taken since the bucket was not below zero.
        assert_eq!(b.try_take(20.0, 1.0, 0), Ok(()));
        // Now at -9: refused for 9 s.
        assert_eq!(b.try_take(1.0, 1.0, 0), Err(9000));
        assert_eq!(b.try_take(1.0, 1.0, 4000), Err(5000));
        assert_eq!(b.try_take(1.0, 1.0, 9000), Ok(()));
    }

    #[test]
    fn permissive_bucket_takes_and_reports_the_wait() {
        let mut b = TokenBucket::new(WINDOW);
        assert_eq!(b.take(10.0, 2.0, 0), 0);
        // burst 22, 10 taken, 14 more: -2 → 1 s at 2/s.
        assert_eq!(b.take(14.0, 2.0, 0), 1000);
    }
}
