//! The broker-wide bound on requests held in memory: `queued.max.requests`
//! requests read and not yet being handled, and `queued.max.request.bytes` of the
//! frames of requests not yet answered. When either is used up, connections stop
//! reading their sockets until room frees, so a flood of requests turns into TCP backpressure on the
//! clients rather than memory growth or errors.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::ConnectionSettings;

/// Kafka's request queue, as two counting limits.
#[derive(Debug)]
pub struct RequestQueue {
    requests: Semaphore,
    bytes: Option<Semaphore>,
    /// Requests held now (read, handling not yet started).
    pub held: AtomicU64,
    /// Times a connection had to wait for room before reading on.
    pub waits_total: AtomicU64,
}

/// Room for one request's frame bytes, held until it is answered.
#[derive(Debug)]
pub struct BytesPermit<'a>(#[allow(dead_code)] Option<SemaphorePermit<'a>>);

/// One request's place in the queue; its drop frees the place.
#[derive(Debug)]
pub struct RequestPermit<'a> {
    queue: &'a RequestQueue,
    _permit: SemaphorePermit<'a>,
}

impl Drop for RequestPermit<'_> {
    fn drop(&mut self) {
        self.queue.held.fetch_sub(1, Ordering::Relaxed);
    }
}

impl RequestQueue {
    pub fn new(settings: &ConnectionSettings) -> Self {
        Self {
            requests: Semaphore::new(settings.queued_max_requests.min(Semaphore::MAX_PERMITS)),
            bytes: settings
                .queued_max_request_bytes
                .map(|b| Semaphore::new(b.min(Semaphore::MAX_PERMITS))),
            held: AtomicU64::new(0),
            waits_total: AtomicU64::new(0),
        }
    }

    /// Waits for room for a frame of `size` bytes (always granted when
    /// `queued.max.request.bytes` is unlimited).
    pub async fn reserve_bytes(&self, size: usize) -> BytesPermit<'_> {
        let Some(bytes) = &self.bytes else {
            return BytesPermit(None);
        };
        // A frame is at most socket.request.max.bytes, which config checks is
        // no more than the limit, so the wait always ends.
        let size = u32::try_from(size).unwrap_or(u32::MAX);
        let permit = match bytes.try_acquire_many(size) {
            Ok(p) => Some(p),
            Err(_) => {
                self.waits_total.fetch_add(1, Ordering::Relaxed);
                bytes.acquire_many(size).await.ok()
            }
        };
        BytesPermit(permit)
    }

    /// Waits for a free place for one request.
    pub async fn enqueue(&self) -> Option<RequestPermit<'_>> {
        let permit = match self.requests.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                self.waits_total.fetch_add(1, Ordering::Relaxed);
                // Never closed, so this only fails if the queue is dropped.
                self.requests.acquire().await.ok()?
            }
        };
        self.held.fetch_add(1, Ordering::Relaxed);
        Some(RequestPermit {
            queue: self,
            _permit: permit,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn queue(requests: usize, bytes: Option<usize>) -> RequestQueue {
        RequestQueue::new(&ConnectionSettings {
            max_connections: 10,
            max_connections_per_ip: 10,
            per_ip_overrides: Default::default(),
            queued_max_requests: requests,
            queued_max_request_bytes: bytes,
            connections_max_idle_ms: 1000,
        })
    }

    #[tokio::test]
    async fn a_full_queue_holds_the_next_request_until_one_is_answered() {
        let q = queue(2, None);
        let a = q.enqueue().await.unwrap();
        let _b = q.enqueue().await.unwrap();
        assert_eq!(q.held.load(Ordering::Relaxed), 2);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), q.enqueue())
                .await
                .is_err(),
            "a third request was let in"
        );
        drop(a);
        assert!(q.enqueue().await.is_some());
        assert_eq!(q.waits_total.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn queued_bytes_bound_what_is_read() {
        let q = queue(100, Some(1000));
        let big = q.reserve_bytes(800).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(50), q.reserve_bytes(300))
                .await
                .is_err(),
            "bytes over the limit were let in"
        );
        let _small = q.reserve_bytes(200).await;
        drop(big);
        let _ = q.reserve_bytes(300).await;
    }
}
