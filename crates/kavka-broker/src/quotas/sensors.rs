//! The measured state of each client a quota applies to, keyed as Kafka keys
//! its quota sensors (see [`SensorKey`]), and dropped after an hour without
//! use as Kafka expires inactive sensors, so memory follows active clients.

use std::collections::HashMap;

use kavka_metadata::client_quotas::SensorKey;
use parking_lot::Mutex;

/// Kafka's `InactiveSensorExpirationTimeSeconds`.
const EXPIRE_AFTER_MS: u64 = 3600 * 1000;
/// How often the map is swept for expired entries.
const SWEEP_EVERY_MS: u64 = 60 * 1000;

struct Entry<T> {
    state: T,
    last_used_ms: u64,
}

/// Per-client measured state `T` (a rate or a token bucket).
pub(crate) struct Sensors<T> {
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    entries: HashMap<SensorKey, Entry<T>>,
    last_sweep_ms: u64,
}

impl<T> Sensors<T> {
    pub(crate) fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                last_sweep_ms: 0,
            }),
        }
    }

    /// Runs `f` on the state of `key` (made by `make` if new) at `now_ms`.
    pub(crate) fn with<R>(
        &self,
        key: &SensorKey,
        now_ms: u64,
        make: impl FnOnce() -> T,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let mut inner = self.inner.lock();
        if now_ms.saturating_sub(inner.last_sweep_ms) >= SWEEP_EVERY_MS {
            inner
                .entries
                .retain(|_, e| now_ms.saturating_sub(e.last_used_ms) < EXPIRE_AFTER_MS);
            inner.last_sweep_ms = now_ms;
        }
        let entry = inner.entries.entry(key.clone()).or_insert_with(|| Entry {
            state: make(),
            last_used_ms: now_ms,
        });
        entry.last_used_ms = now_ms;
        f(&mut entry.state)
    }

    /// Clients tracked now.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: &str) -> SensorKey {
        SensorKey {
            user: None,
            client_id: Some(c.to_string()),
        }
    }

    #[test]
    fn entries_expire_after_an_hour_unused() {
        let s: Sensors<u32> = Sensors::new();
        s.with(&key("a"), 0, || 0, |v| *v += 1);
        s.with(&key("b"), 3_000_000, || 0, |v| *v += 1);
        assert_eq!(s.len(), 2);
        // An hour and a minute after "a" was last used, the sweep drops it.
        s.with(&key("b"), 3_660_000, || 0, |v| *v += 1);
        assert_eq!(s.len(), 1);
        assert_eq!(s.with(&key("b"), 3_660_000, || 0, |v| *v), 2);
    }
}
