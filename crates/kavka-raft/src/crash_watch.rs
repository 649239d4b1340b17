//! A new leader as soon as the followers may elect one when the old leader's process
//! is gone.
//!
//! A follower grants no vote while its leader's lease runs (openraft sets it to
//! the longest election timeout, our `controller.quorum.fetch.timeout.ms`), and
//! starts an election of its own only a random election timeout after the lease:
//! three to four seconds of no controller after a kill -9. That wait is for a
//! leader that may only be slow or cut off. A leader whose listener refuses
//! connections is neither: the kernel answers for a process that no longer
//! exists. So a follower that has heard nothing for a few heartbeats probes the
//! leader's address, and if it is refused, starts the election the moment the
//! lease has run out on every follower. Followers go one after another by id, so
//! two candidates do not split the vote; if the first cannot win (a shorter log),
//! the next one tries. A paused or partitioned leader still accepts connections
//! and is left to openraft's own timers, as Kafka leaves it to its fetch timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::{BasicNode, RaftMetrics, ServerState};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::types::{NodeId, Raft};

/// Added to the lease before electing, so every follower's lease (refreshed by the
/// same heartbeat within a few milliseconds) has run out too.
const LEASE_MARGIN: Duration = Duration::from_millis(60);
/// Between one follower's election and the next one's.
const STAGGER: Duration = Duration::from_millis(250);
/// How often the watch looks, and the upper bound of one probe.
const TICK: Duration = Duration::from_millis(100);
const PROBE_TIMEOUT: Duration = Duration::from_millis(200);

/// When this node last received AppendEntries (from whichever leader sent it).
#[derive(Debug, Default)]
pub(crate) struct LeaderContact {
    last: Mutex<Option<Instant>>,
}

impl LeaderContact {
    pub(crate) fn heard(&self) {
        *self.last.lock() = Some(Instant::now());
    }

    fn last(&self) -> Option<Instant> {
        *self.last.lock()
    }
}

/// What the watch knows at one moment of one silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Silence {
    /// Since the last AppendEntries.
    pub(crate) silent: Duration,
    /// The leader's address refused a connection during this silence.
    pub(crate) leader_gone: bool,
    /// This node's place among the voters other than the leader, by id.
    pub(crate) rank: usize,
}

/// The followers' timers, as configured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timers {
    pub(crate) heartbeat: Duration,
    pub(crate) lease: Duration,
}

/// Worth probing: a few heartbeats missed.
pub(crate) fn should_probe(silent: Duration, timers: Timers) -> bool {
    silent >= timers.heartbeat * 3
}

/// Elect now: the leader is gone and every follower's lease has run out, and it
/// is this node's turn.
pub(crate) fn should_elect(s: Silence, timers: Timers) -> bool {
    let turn = STAGGER * u32::try_from(s.rank).unwrap_or(u32::MAX / 1024);
    s.leader_gone && s.silent >= timers.lease + LEASE_MARGIN + turn
}

/// Watches the leader while this node is a voting follower; see the module
/// documentation.
pub(crate) async fn watch(
    raft: Raft,
    me: NodeId,
    contact: Arc<LeaderContact>,
    timers: Timers,
    mut stop: watch::Receiver<bool>,
) {
    let mut metrics = raft.metrics();
    // (last contact, rank) of the silence already acted on, so one silence gets
    // one probe verdict and one election.
    let mut gone: Option<Instant> = None;
    let mut elected_for: Option<Instant> = None;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
            }
        }
        let Some(last) = contact.last() else {
            continue;
        };
        let Some((leader_addr, rank)) = followed_leader(&metrics.borrow_and_update(), me) else {
            gone = None;
            continue;
        };
        let silent = last.elapsed();
        if !should_probe(silent, timers) {
            gone = None;
            continue;
        }
        if gone != Some(last) && refuses_connections(&leader_addr).await {
            tracing::info!(leader = %leader_addr, silent_ms = silent.as_millis() as u64,
                "metadata quorum leader's listener refuses connections; electing once its lease ends");
            gone = Some(last);
        }
        let silence = Silence {
            silent: last.elapsed(),
            leader_gone: gone == Some(last),
            rank,
        };
        if elected_for != Some(last) && should_elect(silence, timers) {
            elected_for = Some(last);
            tracing::info!(
                silent_ms = silence.silent.as_millis() as u64,
                "metadata quorum leader gone and its lease over; standing for election"
            );
            if let Err(e) = raft.trigger().elect().await {
                tracing::warn!(error = %e, "cannot start a metadata quorum election");
            }
        }
    }
}

/// The leader's address and this node's rank, when this node is a voting
/// follower of a known leader.
fn followed_leader(m: &RaftMetrics<NodeId, BasicNode>, me: NodeId) -> Option<(String, usize)> {
    if m.state != ServerState::Follower {
        return None;
    }
    let leader = m.current_leader.filter(|&l| l != me)?;
    let membership = m.membership_config.membership();
    let mut others: Vec<NodeId> = membership.voter_ids().filter(|&v| v != leader).collect();
    others.sort_unstable();
    let rank = others.iter().position(|&v| v == me)?;
    let addr = membership.get_node(&leader)?.addr.clone();
    Some((addr, rank))
}

async fn refuses_connections(addr: &str) -> bool {
    let probe = tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(addr)).await;
    matches!(&probe, Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMERS: Timers = Timers {
        heartbeat: Duration::from_millis(500),
        lease: Duration::from_millis(2000),
    };

    fn silence(ms: u64, gone: bool, rank: usize) -> Silence {
        Silence {
            silent: Duration::from_millis(ms),
            leader_gone: gone,
            rank,
        }
    }

    #[test]
    fn a_follower_probes_after_three_missed_heartbeats() {
        assert!(!should_probe(Duration::from_millis(1400), TIMERS));
        assert!(should_probe(Duration::from_millis(1500), TIMERS));
    }

    #[test]
    fn no_election_before_the_lease_ends_on_every_follower() {
        assert!(!should_elect(silence(2000, true, 0), TIMERS));
        assert!(should_elect(silence(2060, true, 0), TIMERS));
    }

    #[test]
    fn a_leader_that_still_accepts_connections_is_left_to_the_timers() {
        assert!(!should_elect(silence(10_000, false, 0), TIMERS));
    }

    #[test]
    fn followers_take_turns_by_rank() {
        assert!(!should_elect(silence(2100, true, 1), TIMERS));
        assert!(should_elect(silence(2310, true, 1), TIMERS));
    }
}
