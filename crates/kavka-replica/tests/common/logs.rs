//! A toy log for truncation scenarios: the epoch of the record at each offset, and the
//! leader-epoch cache Kafka would keep for it.
#![allow(dead_code, unreachable_pub)]

use kavka_replica::*;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToyLog {
    /// records[offset] = the leader epoch that wrote it.
    pub records: Vec<i32>,
    pub cache: Vec<EpochEntry>,
}

impl ToyLog {
    /// A log from runs of (epoch, count).
    pub fn of(runs: &[(i32, usize)]) -> ToyLog {
        let mut log = ToyLog::default();
        for &(epoch, n) in runs {
            for _ in 0..n {
                log.append(epoch);
            }
        }
        log
    }

    pub fn log_end(&self) -> i64 {
        self.records.len() as i64
    }

    pub fn append(&mut self, epoch: i32) {
        self.assign_epoch(epoch);
        self.records.push(epoch);
    }

    /// What a new leader does: record its epoch as starting at its log end.
    pub fn assign_epoch(&mut self, epoch: i32) {
        let leo = self.log_end();
        match self.cache.last() {
            Some(last) if last.epoch >= epoch => {}
            Some(last) if last.start_offset == leo => {
                // An epoch that wrote nothing is replaced, as Kafka's cache does.
                self.cache.pop();
                self.cache.push(EpochEntry {
                    epoch,
                    start_offset: leo,
                });
            }
            _ => self.cache.push(EpochEntry {
                epoch,
                start_offset: leo,
            }),
        }
    }

    pub fn truncate(&mut self, t: Truncate) {
        match t {
            Truncate::To(offset) => {
                let offset = offset.max(0) as usize;
                self.records.truncate(offset);
                self.cache.retain(|e| (e.start_offset as usize) < offset);
            }
            Truncate::FullyAndStartAt(_) => {
                self.records.clear();
                self.cache.clear();
            }
        }
    }

    pub fn is_prefix_of(&self, other: &ToyLog) -> bool {
        other.records.starts_with(&self.records)
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.cache.last().map(|e| e.epoch)
    }
}

/// Follow `leader` with OffsetForLeaderEpoch until the follower fetches; returns the
/// truncation offsets applied, in order.
pub fn truncate_by_offset_for_leader_epoch(
    follower: &mut ToyLog,
    follower_hw: i64,
    leader: &ToyLog,
    leader_epoch: i32,
) -> Vec<i64> {
    let mut state = FollowerState::new(
        FollowerInit {
            leader_id: 1,
            leader_epoch,
            partition_epoch: 0,
            log_end_offset: follower.log_end(),
            high_watermark: follower_hw,
        },
        TruncationMode::OffsetForLeaderEpoch,
        follower.cache.as_slice(),
    );
    let mut cuts = Vec::new();
    for _ in 0..100 {
        match state.next_action(follower.cache.as_slice()) {
            FollowerAction::OffsetForLeaderEpoch {
                leader_epoch: asked,
                ..
            } => {
                let answer = leader.cache.end_offset_for(asked, leader.log_end());
                let step = state.on_offset_for_leader_epoch(
                    leader_epoch,
                    Ok(answer),
                    follower.cache.as_slice(),
                    follower.log_end(),
                );
                if let Some(t) = step.truncate {
                    if let Truncate::To(o) = t {
                        cuts.push(o);
                    }
                    follower.truncate(t);
                }
            }
            FollowerAction::Truncate(t) => {
                if let Truncate::To(o) = t {
                    cuts.push(o);
                }
                follower.truncate(t);
            }
            FollowerAction::Fetch { fetch_offset, .. } => {
                assert_eq!(fetch_offset, follower.log_end(), "fetches from its log end");
                return cuts;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("no convergence");
}

/// Follow `leader` with Fetch v12+ (`diverging_epoch`) until a fetch is served; returns
/// the truncation offsets applied, in order.
pub fn truncate_by_diverging_epoch(
    follower: &mut ToyLog,
    follower_hw: i64,
    leader: &ToyLog,
    leader_epoch: i32,
) -> Vec<i64> {
    let mut state = FollowerState::new(
        FollowerInit {
            leader_id: 1,
            leader_epoch,
            partition_epoch: 0,
            log_end_offset: follower.log_end(),
            high_watermark: follower_hw,
        },
        TruncationMode::OnFetch,
        follower.cache.as_slice(),
    );
    let mut cuts = Vec::new();
    for _ in 0..100 {
        match state.next_action(follower.cache.as_slice()) {
            FollowerAction::Fetch {
                fetch_offset,
                last_fetched_epoch,
                ..
            } => {
                let diverging = match last_fetched_epoch {
                    Some(e) => {
                        diverging_epoch(leader.cache.as_slice(), leader.log_end(), fetch_offset, e)
                            .expect("leader knows an end for the epoch")
                    }
                    None => None,
                };
                match diverging {
                    Some(d) => {
                        let step = state.on_fetch_response(
                            fetch_offset,
                            leader_epoch,
                            FetchAnswer::Diverging(d),
                            follower.cache.as_slice(),
                            follower.log_end(),
                        );
                        if let Some(t) = step.truncate {
                            if let Truncate::To(o) = t {
                                cuts.push(o);
                            }
                            follower.truncate(t);
                        }
                    }
                    None => {
                        assert!(fetch_offset <= leader.log_end());
                        return cuts;
                    }
                }
            }
            FollowerAction::Truncate(t) => {
                if let Truncate::To(o) = t {
                    cuts.push(o);
                }
                follower.truncate(t);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("no convergence");
}
