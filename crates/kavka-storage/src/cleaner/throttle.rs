//! `log.cleaner.io.max.bytes.per.second`: the cleaner sleeps when it has read and
//! written faster than that, so compaction leaves disk bandwidth to produce and fetch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Sleeps to keep the bytes charged under a rate, measured over short windows.
#[derive(Debug)]
pub struct Throttler {
    bytes_per_second: f64,
    window_start: Instant,
    window_bytes: f64,
}

/// Longest single sleep, so a stop request is seen quickly.
const SLEEP_SLICE: Duration = Duration::from_millis(50);

/// How long a measuring window lasts before it starts over.
const WINDOW: Duration = Duration::from_millis(300);

impl Throttler {
    /// A throttler allowing `bytes_per_second` (infinite or huge: never sleeps).
    pub fn new(bytes_per_second: f64) -> Self {
        Self {
            bytes_per_second,
            window_start: Instant::now(),
            window_bytes: 0.0,
        }
    }

    /// Accounts for `bytes` of I/O, sleeping if the window is ahead of the rate.
    /// The sleep ends early once `stop` is set, so a slow rate never holds up a
    /// shutdown.
    pub fn charge(&mut self, bytes: usize, stop: &AtomicBool) {
        if !self.bytes_per_second.is_finite() || self.bytes_per_second <= 0.0 {
            return;
        }
        self.window_bytes += bytes as f64;
        let elapsed = self.window_start.elapsed();
        let allowed = Duration::from_secs_f64(self.window_bytes / self.bytes_per_second);
        let wake_at = Instant::now() + allowed.saturating_sub(elapsed);
        while !stop.load(Ordering::Relaxed) {
            let left = wake_at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(SLEEP_SLICE));
        }
        if self.window_start.elapsed() >= WINDOW {
            self.window_start = Instant::now();
            self.window_bytes = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_cuts_a_long_throttle_sleep_short() {
        let stop = AtomicBool::new(true);
        let mut t = Throttler::new(1.0);
        let start = Instant::now();
        // A megabyte at one byte per second would sleep for days.
        t.charge(1 << 20, &stop);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn unlimited_rate_never_sleeps() {
        let stop = AtomicBool::new(false);
        let mut t = Throttler::new(f64::MAX);
        let start = Instant::now();
        t.charge(usize::MAX, &stop);
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
