//! Kafka's connection quotas on the client listener: `max.connections`
//! (broker-wide; the acceptor waits for a slot, as Kafka's
//! `ConnectionQuotas.waitForConnectionSlot` does), `max.connections.per.ip` and
//! its overrides (a connection over the limit is closed right after accept, with
//! Kafka's log line), and the counts a metrics endpoint reads.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::ConnectionSettings;

/// Counters of one listener, readable at any time without a lock.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections admitted since start.
    pub accepted_total: AtomicU64,
    /// Connections closed right after accept: their address was at its limit.
    pub rejected_per_ip_total: AtomicU64,
    /// Times the acceptor had to wait because `max.connections` were open.
    pub accept_blocked_total: AtomicU64,
    /// Connections closed after `connections.max.idle.ms` without traffic.
    pub closed_idle_total: AtomicU64,
}

/// A point-in-time copy of [`ConnectionStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCounts {
    pub open: u64,
    pub accepted_total: u64,
    pub rejected_per_ip_total: u64,
    pub accept_blocked_total: u64,
    pub closed_idle_total: u64,
}

impl ConnectionStats {
    /// The counters as they are now.
    pub fn snapshot(&self) -> ConnectionCounts {
        ConnectionCounts {
            open: self.open.load(Ordering::Relaxed),
            accepted_total: self.accepted_total.load(Ordering::Relaxed),
            rejected_per_ip_total: self.rejected_per_ip_total.load(Ordering::Relaxed),
            accept_blocked_total: self.accept_blocked_total.load(Ordering::Relaxed),
            closed_idle_total: self.closed_idle_total.load(Ordering::Relaxed),
        }
    }
}

/// An address already holds as many connections as it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Too many connections from {ip} (maximum = {max})")]
pub struct TooManyConnections {
    pub ip: IpAddr,
    pub max: usize,
}

/// The connection counts of one listener and the limits they are held to.
#[derive(Debug)]
pub struct ConnectionQuotas {
    /// The listener's name, as a metric label.
    pub listener: String,
    settings: ConnectionSettings,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    slot_freed: Notify,
    pub stats: ConnectionStats,
}

impl ConnectionQuotas {
    pub fn new(listener: impl Into<String>, settings: ConnectionSettings) -> Arc<Self> {
        Arc::new(Self {
            listener: listener.into(),
            settings,
            per_ip: Mutex::new(HashMap::new()),
            slot_freed: Notify::new(),
            stats: ConnectionStats::default(),
        })
    }

    /// Whether one more connection fits under `max.connections`.
    pub fn slot_available(&self) -> bool {
        self.stats.open.load(Ordering::Acquire) < self.settings.max_connections as u64
    }

    /// Returns once a connection may be accepted under `max.connections`. The
    /// acceptor stops meanwhile, so further clients wait in the kernel's accept
    /// queue: blocked, not refused, as with Kafka.
    pub async fn wait_for_slot(&self) {
        if self.slot_available() {
            return;
        }
        self.stats
            .accept_blocked_total
            .fetch_add(1, Ordering::Relaxed);
        // Notify keeps a permit when a slot frees between the check and the
        // wait, so no wake-up is lost.
        while !self.slot_available() {
            self.slot_freed.notified().await;
        }
    }

    /// Counts a new connection from `ip`, or refuses it when the address is at
    /// its limit. The slot is given back when the returned guard drops.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, TooManyConnections> {
        let max = self.settings.max_for(ip);
        {
            let mut per_ip = self.per_ip.lock();
            let count = per_ip.entry(ip).or_insert(0);
            if *count >= max {
                if *count == 0 {
                    per_ip.remove(&ip);
                }
                self.stats
                    .rejected_per_ip_total
                    .fetch_add(1, Ordering::Relaxed);
                return Err(TooManyConnections { ip, max });
            }
            *count += 1;
        }
        self.stats.open.fetch_add(1, Ordering::AcqRel);
        self.stats.accepted_total.fetch_add(1, Ordering::Relaxed);
        Ok(ConnectionSlot {
            quotas: self.clone(),
            ip,
        })
    }

    /// Open connections from `ip`.
    pub fn count_for(&self, ip: IpAddr) -> usize {
        self.per_ip.lock().get(&ip).copied().unwrap_or(0)
    }

    fn release(&self, ip: IpAddr) {
        {
            let mut per_ip = self.per_ip.lock();
            if let Some(count) = per_ip.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
        self.stats.open.fetch_sub(1, Ordering::AcqRel);
        self.slot_freed.notify_one();
    }
}

/// One admitted connection; dropping it frees its slot.
#[derive(Debug)]
pub struct ConnectionSlot {
    quotas: Arc<ConnectionQuotas>,
    ip: IpAddr,
}

impl ConnectionSlot {
    /// The quotas this slot counts against.
    pub fn quotas(&self) -> &ConnectionQuotas {
        &self.quotas
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.quotas.release(self.ip);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn settings(max: usize, per_ip: usize, overrides: &[(&str, usize)]) -> ConnectionSettings {
        ConnectionSettings {
            max_connections: max,
            max_connections_per_ip: per_ip,
            per_ip_overrides: overrides
                .iter()
                .map(|(ip, n)| (ip.parse().unwrap(), *n))
                .collect(),
            queued_max_requests: 500,
            queued_max_request_bytes: None,
            connections_max_idle_ms: 600_000,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_at_its_limit_is_refused_until_one_closes() {
        let q = ConnectionQuotas::new("PLAINTEXT", settings(100, 2, &[]));
        let a = q.admit(ip("10.0.0.1")).unwrap();
        let _b = q.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(
            q.admit(ip("10.0.0.1")).unwrap_err(),
            TooManyConnections {
                ip: ip("10.0.0.1"),
                max: 2
            }
        );
        // Another address has its own count.
        let _c = q.admit(ip("10.0.0.2")).unwrap();
        drop(a);
        assert!(q.admit(ip("10.0.0.1")).is_ok());
        let counts = q.stats.snapshot();
        assert_eq!(counts.rejected_per_ip_total, 1);
        assert_eq!(counts.accepted_total, 4);
    }

    #[test]
    fn overrides_raise_or_lower_one_address() {
        let q = ConnectionQuotas::new(
            "PLAINTEXT",
            settings(100, 1, &[("10.0.0.9", 3), ("10.0.0.8", 0)]),
        );
        let _held: Vec<_> = (0..3).map(|_| q.admit(ip("10.0.0.9")).unwrap()).collect();
        assert!(q.admit(ip("10.0.0.9")).is_err());
        assert!(q.admit(ip("10.0.0.8")).is_err());
        assert_eq!(q.count_for(ip("10.0.0.8")), 0);
    }

    #[test]
    fn open_counts_follow_the_slots() {
        let q = ConnectionQuotas::new("PLAINTEXT", settings(2, 10, &[]));
        let a = q.admit(ip("10.0.0.1")).unwrap();
        let b = q.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(q.stats.snapshot().open, 2);
        assert!(!q.slot_available());
        drop(a);
        drop(b);
        assert_eq!(q.stats.snapshot().open, 0);
        assert_eq!(q.count_for(ip("10.0.0.1")), 0);
    }

    #[tokio::test]
    async fn the_acceptor_waits_until_a_connection_closes() {
        let q = ConnectionQuotas::new("PLAINTEXT", settings(1, 10, &[]));
        let held = q.admit(ip("10.0.0.1")).unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(50), q.wait_for_slot()).await;
        assert!(waiting.is_err(), "accepted past max.connections");
        assert_eq!(q.stats.snapshot().accept_blocked_total, 1);
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.wait_for_slot().await });
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("a freed slot wakes the acceptor")
            .unwrap();
    }
}
