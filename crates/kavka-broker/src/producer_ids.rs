//! Producer ids for idempotent producers, unique across the cluster (KIP-730).
//! The active controller hands this broker blocks of ids and records each one in
//! the metadata log, so no two brokers and no restart ever hand out the same id.
//! The next block is asked for once 90% of the current one is used, as Kafka's
//! `RPCProducerIdManager` does, so InitProducerId rarely waits for one.
//!
//! Before the controller allocated ids each broker reserved blocks in its own
//! `producer-id-block` file. That file is still read (strictly: a damaged one
//! stops the start) and its bound goes with every request, so the controller
//! never gives this broker an id its earlier runs may have handed out.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kavka_metadata::cluster::ProducerIdBlock;
use kavka_storage::durable::{self, StateFileError};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::state::{now_ms, BrokerState};

/// The file in which brokers before KIP-730 reserved their blocks: the first
/// producer id not yet handed out by any earlier run.
pub(crate) const PRODUCER_ID_BLOCK_FILE: &str = "producer-id-block";

/// After a failed request for a block, how long before the next one.
const RETRY_BACKOFF_MS: i64 = 1_000;

/// How long InitProducerId waits for a block in flight before answering with a
/// retriable error.
const WAIT_FOR_BLOCK: Duration = Duration::from_secs(1);

/// Hands out this broker's producer ids from blocks the controller allocated.
#[derive(Debug, Clone)]
pub struct ProducerIdManager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The bound of a pre-KIP-730 `producer-id-block` file, if one exists.
    legacy_reserved: Option<i64>,
    blocks: Mutex<Blocks>,
    /// Woken when a request for a block ends, answered or not.
    settled: Notify,
}

impl ProducerIdManager {
    /// Reads the legacy `producer-id-block` file of `dir`, if any. A file that
    /// exists but does not hold a non-negative id is an error: without its bound
    /// this broker could hand out ids that producers already hold.
    pub fn open(dir: &Path) -> Result<Self, StateFileError> {
        let path = dir.join(PRODUCER_ID_BLOCK_FILE);
        let legacy_reserved = match durable::read_optional(&path)? {
            None => None,
            Some(text) => Some(
                text.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|&n| n >= 0)
                    .ok_or_else(|| {
                        StateFileError::corrupt(
                            &path,
                            format!("expected a producer id, found {text:?}"),
                        )
                    })?,
            ),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                legacy_reserved,
                blocks: Mutex::new(Blocks::default()),
                settled: Notify::new(),
            }),
        })
    }

    /// The next unused producer id, or None while no block is available (the
    /// controller is unreachable or a block is still on its way): the client
    /// gets a retriable error then.
    pub(crate) async fn next(&self, state: &BrokerState) -> Option<i64> {
        let deadline = tokio::time::Instant::now() + WAIT_FOR_BLOCK;
        loop {
            // Registered before looking, so an answer in between is not missed.
            let settled = self.inner.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            let take = self.inner.blocks.lock().take(now_ms());
            if take.fetch {
                self.fetch(state);
            }
            if take.id.is_some() {
                return take.id;
            }
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                return None;
            }
        }
    }

    /// Asks for the first block now (at start), so the first InitProducerId
    /// need not wait.
    pub(crate) fn prefetch(&self, state: &BrokerState) {
        if self.inner.blocks.lock().start_fetch(now_ms()) {
            self.fetch(state);
        }
    }

    /// Requests a block from the active controller in the background.
    fn fetch(&self, state: &BrokerState) {
        let inner = self.inner.clone();
        let controller = state.controller.clone();
        let broker_id = state.config.node_id;
        let broker_epoch = state.broker_epoch();
        tokio::spawn(async move {
            let answer = controller
                .allocate_producer_ids(broker_id, broker_epoch, inner.legacy_reserved)
                .await;
            match answer {
                Ok(block) => {
                    tracing::debug!(
                        first = block.first_id,
                        size = block.size,
                        "producer id block allocated"
                    );
                    inner.blocks.lock().on_block(block);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no producer id block from the controller; retrying");
                    inner.blocks.lock().on_fetch_failed(now_ms());
                }
            }
            inner.settled.notify_waiters();
        });
    }
}

/// What [`Blocks::take`] decided: an id if one was left, and whether the caller
/// should request the next block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Take {
    id: Option<i64>,
    fetch: bool,
}

/// The ids of the blocks in hand: the current block's unused ones and the next
/// block, if it came already. Pure bookkeeping, with time as an argument.
#[derive(Debug, Default)]
struct Blocks {
    /// The next id of the current block and the block's end.
    current: Option<(i64, i64)>,
    /// Where the current block starts, for the 90% mark.
    current_first: i64,
    prefetched: Option<ProducerIdBlock>,
    fetching: bool,
    /// No new request before this time (after a failed one).
    retry_at_ms: i64,
}

impl Blocks {
    fn take(&mut self, now_ms: i64) -> Take {
        if self.current.is_none_or(|(next, end)| next >= end) {
            self.current = None;
            if let Some(block) = self.prefetched.take() {
                self.current = Some((block.first_id, block.end()));
                self.current_first = block.first_id;
            }
        }
        let id = match &mut self.current {
            Some((next, _)) => {
                let id = *next;
                *next += 1;
                Some(id)
            }
            None => None,
        };
        let fetch = self.runs_low() && self.start_fetch(now_ms);
        Take { id, fetch }
    }

    /// Whether the next block should be asked for: none is in hand or on its way,
    /// and the current one is gone or 90% used.
    fn runs_low(&self) -> bool {
        match self.current {
            None => true,
            Some((next, end)) => {
                let size = end - self.current_first;
                (next - self.current_first) * 10 >= size * 9
            }
        }
    }

    /// Marks a request as on its way, unless one is already or a failed one is
    /// too recent.
    fn start_fetch(&mut self, now_ms: i64) -> bool {
        if self.fetching || self.prefetched.is_some() || now_ms < self.retry_at_ms {
            return false;
        }
        self.fetching = true;
        true
    }

    fn on_block(&mut self, block: ProducerIdBlock) {
        self.fetching = false;
        self.retry_at_ms = 0;
        if self.current.is_none_or(|(next, end)| next >= end) {
            self.current = Some((block.first_id, block.end()));
            self.current_first = block.first_id;
        } else {
            self.prefetched = Some(block);
        }
    }

    fn on_fetch_failed(&mut self, now_ms: i64) {
        self.fetching = false;
        self.retry_at_ms = now_ms + RETRY_BACKOFF_MS;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(first_id: i64, size: i64) -> ProducerIdBlock {
        ProducerIdBlock { first_id, size }
    }

    #[test]
    fn no_id_before_the_first_block_and_one_request_at_a_time() {
        let mut b = Blocks::default();
        assert_eq!(
            b.take(0),
            Take {
                id: None,
                fetch: true
            }
        );
        assert_eq!(
            b.take(0),
            Take {
                id: None,
                fetch: false
            }
        );
        b.on_block(block(3000, 10));
        assert_eq!(b.take(0).id, Some(3000));
        assert_eq!(b.take(0).id, Some(3001));
    }

    #[test]
    fn next_block_is_asked_for_at_ninety_percent_and_used_after_the_current() {
        let mut b = Blocks::default();
        b.start_fetch(0);
        b.on_block(block(0, 10));
        for expected in 0..8 {
            assert_eq!(
                b.take(0),
                Take {
                    id: Some(expected),
                    fetch: false
                }
            );
        }
        // Taking id 8 leaves 9 of 10 used: time for the next block.
        assert_eq!(
            b.take(0),
            Take {
                id: Some(8),
                fetch: true
            }
        );
        b.on_block(block(5000, 10));
        assert_eq!(b.take(0).id, Some(9));
        assert_eq!(b.take(0).id, Some(5000));
        assert_eq!(b.take(0).id, Some(5001));
    }

    #[test]
    fn a_failed_request_is_retried_after_the_backoff() {
        let mut b = Blocks::default();
        assert!(b.take(0).fetch);
        b.on_fetch_failed(100);
        assert!(!b.take(100 + RETRY_BACKOFF_MS - 1).fetch);
        assert!(b.take(100 + RETRY_BACKOFF_MS).fetch);
    }

    #[test]
    fn ids_never_repeat_across_blocks() {
        let mut b = Blocks::default();
        let mut seen = std::collections::BTreeSet::new();
        let mut next_first = 0;
        for _ in 0..100 {
            let take = b.take(0);
            if let Some(id) = take.id {
                assert!(seen.insert(id), "id {id} handed out twice");
            }
            if take.fetch {
                b.on_block(block(next_first, 7));
                next_first += 7;
            }
        }
        assert!(seen.len() >= 95);
    }

    #[test]
    fn legacy_block_file_is_read_and_corrupt_one_refused_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ProducerIdManager::open(dir.path())
                .unwrap()
                .inner
                .legacy_reserved,
            None
        );
        std::fs::write(dir.path().join(PRODUCER_ID_BLOCK_FILE), "4000\n").unwrap();
        assert_eq!(
            ProducerIdManager::open(dir.path())
                .unwrap()
                .inner
                .legacy_reserved,
            Some(4000)
        );
        for garbage in ["", "12x", "-5", "\u{0}\u{0}"] {
            std::fs::write(dir.path().join(PRODUCER_ID_BLOCK_FILE), garbage).unwrap();
            let err = ProducerIdManager::open(dir.path()).unwrap_err();
            assert!(err.to_string().contains(PRODUCER_ID_BLOCK_FILE), "{err}");
        }
    }
}
