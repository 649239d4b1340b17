//! `log.cleaner.io.max.bytes.per.second`: the cleaner sleeps when it has read and
//! written faster than that, so compaction leaves disk bandwidth to produce and fetch.

use std::time::{Duration, Instant};

/// Sleeps to keep the bytes charged under a rate, measured over short windows.
#[derive(Debug)]
pub struct Throttler {
    bytes_per_second: f64,
    window_start: Instant,
    window_bytes: f64,
}

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
    pub fn charge(&mut self, bytes: usize) {
        if !self.bytes_per_second.is_finite() || self.bytes_per_second <= 0.0 {
            return;
        }
        self.window_bytes += bytes as f64;
        let elapsed = self.window_start.elapsed();
        let allowed = Duration::from_secs_f64(self.window_bytes / self.bytes_per_second);
        if allowed > elapsed {
            std::thread::sleep(allowed - elapsed);
        }
        if self.window_start.elapsed() >= WINDOW {
            self.window_start = Instant::now();
            self.window_bytes = 0.0;
        }
    }
}
