//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use kavka_replica::*;

/// Leader 1 of `replicas`, with `isr`, epoch 5, partition epoch 10, broker epochs 100+id.
pub fn init(replicas: &[i32], isr: &[i32], log_end: i64, hw: i64, min_isr: usize) -> LeaderInit {
    LeaderInit {
        local_broker_id: 1,
        local_broker_epoch: 101,
        leader_epoch: 5,
        partition_epoch: 10,
        replicas: replicas.to_vec(),
        isr: isr.to_vec(),
        log_end_offset: log_end,
        high_watermark: hw,
        config: ReplicaConfig {
            replica_lag_time_max_ms: 30_000,
            min_insync_replicas: min_isr,
        },
        brokers: replicas
            .iter()
            .map(|&r| (r, BrokerStatus::alive(100 + i64::from(r))))
            .collect::<BTreeMap<_, _>>(),
    }
}

pub fn leader(replicas: &[i32], isr: &[i32], log_end: i64, hw: i64, min_isr: usize) -> LeaderState {
    LeaderState::new(init(replicas, isr, log_end, hw, min_isr), 0).0
}

/// The leader's epoch cache in the helpers: everything written in epoch 5 from 0.
pub fn epochs() -> Vec<EpochEntry> {
    vec![EpochEntry {
        epoch: 5,
        start_offset: 0,
    }]
}

pub fn fetch(replica_id: i32, fetch_offset: i64) -> FollowerFetch {
    FollowerFetch {
        replica_id,
        fetch_offset,
        last_fetched_epoch: None,
        current_leader_epoch: Some(5),
        broker_epoch: 100 + i64::from(replica_id),
    }
}

/// A follower fetch that must be served (not diverging, no error).
pub fn fetch_ok(l: &mut LeaderState, replica_id: i32, offset: i64, now_ms: i64) -> Effects {
    match l.on_follower_fetch(fetch(replica_id, offset), epochs().as_slice(), now_ms) {
        Ok(FollowerFetchOutcome::Read(effects)) => effects,
        other => panic!("fetch {replica_id}@{offset} at {now_ms}: {other:?}"),
    }
}

pub fn commit(
    l: &mut LeaderState,
    req: &AlterPartitionRequest,
    now_ms: i64,
) -> (AlterPartitionOutcome, Effects) {
    let committed = CommittedIsr {
        isr: req.new_isr.iter().map(|m| m.broker_id).collect(),
        leader_epoch: req.leader_epoch,
        partition_epoch: req.partition_epoch + 1,
    };
    l.on_alter_partition_response(req.id, Ok(committed), now_ms)
}

pub fn isr_of(l: &LeaderState) -> Vec<i32> {
    l.isr().iter().copied().collect()
}

pub fn ids(req: &AlterPartitionRequest) -> Vec<i32> {
    req.new_isr.iter().map(|m| m.broker_id).collect()
}
