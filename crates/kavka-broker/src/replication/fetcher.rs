//! Replica fetchers: one task per leader this broker follows partitions of. Each
//! round it asks every partition's follower state what to do, sends one Fetch
//! (the highest version from v13 to v17 the leader has, as its ApiVersions said on
//! connect; from v15 with this broker's id and epoch in `replica_state`; the current
//! leader epoch and the last fetched epoch per partition) or a ListOffsets for partitions
//! resetting after OFFSET_OUT_OF_RANGE, and hands the answers back to the
//! partitions, which append with `append_as_follower` and truncate as their
//! follower state decides (diverging epochs, KIP-320). Errors from the leader back
//! off `replica.fetch.backoff.ms`; a lost connection is re-made after the same.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ReplicaState};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kavka_replica::{EpochEndOffset, FollowerAction};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::client::{ClientError, LeaderConnection};
use crate::partition::{LeaderAnswer, Partition};
use crate::state::{now_ms, BrokerState};

/// The Fetch versions the fetcher speaks, the highest the leader also has is
/// used: from v13 (topics by id; diverging epochs and the last fetched epoch,
/// KIP-320, came in v12) to v17. From v15 the replica id and broker epoch travel
/// in `replica_state` (KIP-903); below, the id alone in `replica_id`, and the
/// leader cannot tell the controller this broker's epoch.
const FETCH_VERSIONS: std::ops::RangeInclusive<i16> = 13..=17;
/// From v15, `replica_state` carries the replica id and its broker epoch.
const FETCH_REPLICA_STATE_VERSION: i16 = 15;
/// ListOffsets as a follower resetting after OFFSET_OUT_OF_RANGE: from v4 (the
/// current leader epoch) to v7.
const LIST_OFFSETS_VERSIONS: std::ops::RangeInclusive<i16> = 4..=7;
/// Kafka's `replica.socket.timeout.ms` default: how long a call may take beyond
/// the fetch's own wait.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(30);

/// A leader as the fetcher reaches it.
type LeaderKey = (i32, String, u16);

/// The replica fetch settings (Kafka's names).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchSettings {
    pub(crate) max_bytes: i32,
    pub(crate) wait_max_ms: i32,
    pub(crate) min_bytes: i32,
    pub(crate) backoff: Duration,
}

impl FetchSettings {
    pub(crate) fn from_state(state: &BrokerState) -> FetchSettings {
        let c = &state.config.cluster;
        // Kafka allows 0; a floor of 1 ms keeps a failing leader from spinning us.
        let backoff_ms = u64::try_from(c.replica_fetch_backoff_ms)
            .unwrap_or(0)
            .max(1);
        FetchSettings {
            max_bytes: c.replica_fetch_max_bytes.max(1),
            wait_max_ms: c.replica_fetch_wait_max_ms.max(0),
            min_bytes: c.replica_fetch_min_bytes.max(0),
            backoff: Duration::from_millis(backoff_ms),
        }
    }
}

/// Keeps one fetcher task per followed leader until `stop`.
pub(crate) async fn run_fetchers(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let mut tasks: HashMap<LeaderKey, JoinHandle<()>> = HashMap::new();
    loop {
        let signals = state.replicas.signals();
        let notified = signals.roles_changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let wanted: HashSet<LeaderKey> = state
            .replicas
            .all()
            .iter()
            .filter_map(|p| p.follower_view())
            .filter_map(|v| v.leader_endpoint.map(|(h, port)| (v.leader_id, h, port)))
            .collect();
        tasks.retain(|_, t| !t.is_finished());
        for key in wanted {
            if let std::collections::hash_map::Entry::Vacant(slot) = tasks.entry(key) {
                let key = slot.key().clone();
                tracing::info!(leader = key.0, host = %key.1, port = key.2, "starting replica fetcher");
                slot.insert(tokio::spawn(run_fetcher(state.clone(), key, stop.clone())));
            }
        }
        // Rescanned when roles change, or when a fetcher ended while partitions
        // still follow its leader (a race with a role change), checked each
        // second; not every second regardless (a scan of every partition).
        let stopped = loop {
            tokio::select! {
                _ = &mut notified => break false,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if tasks.values().any(JoinHandle::is_finished) {
                        break false;
                    }
                }
                _ = stop.changed() => break true,
            }
        };
        if stopped {
            break;
        }
    }
    for (_, task) in tasks {
        let _ = task.await;
    }
}

/// One partition's part of a fetch round.
struct Planned {
    partition: Arc<Partition>,
    fetch_offset: i64,
    leader_epoch: i32,
}

/// Fetches from one leader for every partition that follows it, until none does.
async fn run_fetcher(state: Arc<BrokerState>, key: LeaderKey, mut stop: watch::Receiver<bool>) {
    let settings = FetchSettings::from_state(&state);
    let node = state.config.node_id;
    let (leader, host, port) = key.clone();
    let mut connection: Option<LeaderConnection> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let followed: Vec<Arc<Partition>> = state
            .replicas
            .all()
            .into_iter()
            .filter(|p| {
                p.follower_view().is_some_and(|v| {
                    v.leader_id == leader
                        && v.leader_endpoint.as_ref() == Some(&(host.clone(), port))
                })
            })
            .collect();
        if followed.is_empty() {
            tracing::info!(
                leader,
                "no partition follows this leader any more; fetcher stops"
            );
            return;
        }
        let mut fetches = Vec::new();
        let mut resets = Vec::new();
        for p in followed {
            match p.follower_next() {
                Ok(Some((
                    FollowerAction::Fetch {
                        fetch_offset,
                        last_fetched_epoch,
                        current_leader_epoch,
                    },
                    log_start,
                ))) => fetches.push((
                    Planned {
                        partition: p,
                        fetch_offset,
                        leader_epoch: current_leader_epoch,
                    },
                    last_fetched_epoch,
                    log_start,
                )),
                Ok(Some((
                    FollowerAction::ListLeaderOffsets {
                        current_leader_epoch,
                    },
                    _,
                ))) => resets.push(Planned {
                    partition: p,
                    fetch_offset: -1,
                    leader_epoch: current_leader_epoch,
                }),
                // OffsetForLeaderEpoch is only asked in that truncation mode, which
                // the broker does not use; fenced partitions wait for metadata.
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "follower step failed")
                }
            }
        }
        if fetches.is_empty() && resets.is_empty() {
            let notified = state.replicas.signals().roles_changed.notified();
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(settings.backoff) => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        let conn = match connection.as_mut() {
            Some(c) => c,
            None => {
                let max_response = usize::try_from(settings.max_bytes)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(fetches.len().max(1))
                    .saturating_add(1 << 20);
                match LeaderConnection::connect(
                    &host,
                    port,
                    node,
                    SOCKET_TIMEOUT,
                    max_response,
                    state.config.inter_broker_tls.as_ref(),
                )
                .await
                {
                    Ok(c) => connection.insert(c),
                    Err(e) => {
                        tracing::debug!(leader, error = %e, "cannot reach the leader");
                        if sleep_or_stop(settings.backoff, &mut stop).await {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        let mut backoff = false;
        let outcome = async {
            if !resets.is_empty() {
                reset_out_of_range(conn, node, &resets).await?;
            }
            if !fetches.is_empty() {
                backoff = fetch_round(conn, &state, &settings, fetches).await?;
            }
            Ok::<(), ClientError>(())
        }
        .await;
        if let Err(e) = outcome {
            tracing::debug!(leader, error = %e, "fetch from leader failed; reconnecting");
            connection = None;
            backoff = true;
        }
        if backoff && sleep_or_stop(settings.backoff, &mut stop).await {
            return;
        }
    }
}

/// Sleeps, or returns true at once when the broker stops.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.changed() => true,
    }
}

/// One Fetch for all partitions ready to fetch; returns true to back off.
async fn fetch_round(
    conn: &mut LeaderConnection,
    state: &BrokerState,
    settings: &FetchSettings,
    fetches: Vec<(Planned, Option<i32>, i64)>,
) -> Result<bool, ClientError> {
    let mut by_topic: Vec<FetchTopic> = Vec::new();
    for (planned, last_fetched_epoch, log_start) in &fetches {
        let p = &planned.partition;
        let partition = FetchPartition::default()
            .with_partition(p.index)
            .with_current_leader_epoch(planned.leader_epoch)
            .with_fetch_offset(planned.fetch_offset)
            .with_last_fetched_epoch(last_fetched_epoch.unwrap_or(-1))
            .with_log_start_offset(*log_start)
            .with_partition_max_bytes(settings.max_bytes);
        match by_topic.iter_mut().find(|t| t.topic_id == p.topic_id) {
            Some(t) => t.partitions.push(partition),
            None => by_topic.push(
                FetchTopic::default()
                    .with_topic_id(p.topic_id)
                    .with_partitions(vec![partition]),
            ),
        }
    }
    let version = conn.version_for(ApiKey::Fetch, FETCH_VERSIONS)?;
    let request = fetch_request(
        version,
        state.config.node_id,
        state.replicas.local_broker_epoch(),
        settings,
        by_topic,
    );
    let timeout = SOCKET_TIMEOUT + Duration::from_millis(settings.wait_max_ms.max(0) as u64);
    let response = conn.call(&request, version, timeout).await?;
    if response.error_code != 0 {
        tracing::debug!(code = response.error_code, "leader refused the fetch");
        return Ok(true);
    }
    let mut answers = HashMap::new();
    for topic in response.responses {
        for data in topic.partitions {
            let diverging = (data.diverging_epoch.epoch >= 0
                || data.diverging_epoch.end_offset >= 0)
                .then_some(EpochEndOffset {
                    epoch: data.diverging_epoch.epoch,
                    end_offset: data.diverging_epoch.end_offset,
                });
            answers.insert(
                (topic.topic_id, data.partition_index),
                LeaderAnswer {
                    error_code: data.error_code,
                    high_watermark: data.high_watermark,
                    log_start_offset: data.log_start_offset,
                    diverging,
                    records: data.records.map(whole_batches),
                },
            );
        }
    }
    let now = now_ms();
    // As on the leader: a follower append to a `flush.messages` topic may fsync,
    // which must not hold up the connections sharing this async worker.
    let forced_flush = fetches
        .iter()
        .any(|(planned, _, _)| planned.partition.settings().flushes_on_append);
    if !forced_flush {
        return Ok(apply_answers(fetches, answers, now));
    }
    match tokio::task::spawn_blocking(move || apply_answers(fetches, answers, now)).await {
        Ok(backoff) => Ok(backoff),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The runtime is shutting down.
        Err(_) => Ok(true),
    }
}

/// Hands each partition the leader's answer for it (appending, truncating);
/// returns true to back off.
fn apply_answers(
    fetches: Vec<(Planned, Option<i32>, i64)>,
    mut answers: HashMap<(uuid::Uuid, i32), LeaderAnswer>,
    now: i64,
) -> bool {
    let mut backoff = false;
    for (planned, _, _) in fetches {
        let p = &planned.partition;
        let Some(answer) = answers.remove(&(p.topic_id, p.index)) else {
            // The leader left it out (its response was full): next round.
            continue;
        };
        match p.on_leader_answer(planned.fetch_offset, planned.leader_epoch, answer, now) {
            Ok(b) => backoff |= b,
            Err(e) => {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "applying the leader's answer failed");
                backoff = true;
            }
        }
    }
    backoff
}

/// A replica's Fetch at `version`: who is fetching goes in `replica_state` from
/// v15 (with the broker epoch, KIP-903), in `replica_id` before.
fn fetch_request(
    version: i16,
    replica_id: i32,
    broker_epoch: i64,
    settings: &FetchSettings,
    topics: Vec<FetchTopic>,
) -> FetchRequest {
    let request = if version >= FETCH_REPLICA_STATE_VERSION {
        FetchRequest::default().with_replica_state(
            ReplicaState::default()
                .with_replica_id(BrokerId(replica_id))
                .with_replica_epoch(broker_epoch),
        )
    } else {
        FetchRequest::default().with_replica_id(BrokerId(replica_id))
    };
    request
        .with_max_wait_ms(settings.wait_max_ms)
        .with_min_bytes(settings.min_bytes)
        .with_max_bytes(settings.max_bytes)
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics)
}

/// Asks the leader for its log start and end (ListOffsets earliest and latest as a
/// replica) for partitions that fetched out of range.
async fn reset_out_of_range(
    conn: &mut LeaderConnection,
    node: i32,
    resets: &[Planned],
) -> Result<(), ClientError> {
    let version = conn.version_for(ApiKey::ListOffsets, LIST_OFFSETS_VERSIONS)?;
    let mut bounds: [HashMap<(String, i32), i64>; 2] = [HashMap::new(), HashMap::new()];
    for (i, timestamp) in [-2i64, -1].into_iter().enumerate() {
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        for planned in resets {
            let p = &planned.partition;
            let part = ListOffsetsPartition::default()
                .with_partition_index(p.index)
                .with_current_leader_epoch(planned.leader_epoch)
                .with_timestamp(timestamp);
            match topics.iter_mut().find(|t| t.name.0.as_str() == p.topic) {
                Some(t) => t.partitions.push(part),
                None => topics.push(
                    ListOffsetsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(p.topic.clone())))
                        .with_partitions(vec![part]),
                ),
            }
        }
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(node))
            .with_topics(topics);
        let response = conn.call(&request, version, SOCKET_TIMEOUT).await?;
        for topic in response.topics {
            for part in topic.partitions.into_iter().filter(|p| p.error_code == 0) {
                bounds[i].insert(
                    (topic.name.0.to_string(), part.partition_index),
                    part.offset,
                );
            }
        }
    }
    for planned in resets {
        let p = &planned.partition;
        let key = (p.topic.clone(), p.index);
        if let (Some(&start), Some(&end)) = (bounds[0].get(&key), bounds[1].get(&key)) {
            if let Err(e) = p.on_leader_offsets(planned.leader_epoch, start, end) {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "reset after out of range failed");
            }
        }
    }
    Ok(())
}

/// The whole batches at the front of `records`: a leader may cut the last one short
/// at its size limit, and the follower appends only whole ones.
pub(crate) fn whole_batches(records: Bytes) -> Bytes {
    const LENGTH_END: usize = 12;
    let mut pos = 0usize;
    while let Some(length) = records.get(pos + 8..pos + LENGTH_END) {
        let mut len = [0u8; 4];
        len.copy_from_slice(length);
        let Ok(len) = usize::try_from(i32::from_be_bytes(len)) else {
            break;
        };
        let end = pos + LENGTH_END + len;
        if end > records.len() {
            break;
        }
        pos = end;
    }
    records.slice(..pos)
}

#[cfg(test)]
mod tests {
    use kafka_protocol::protocol::{Decodable, Encodable};

    use super::*;

    #[test]
    fn the_replica_travels_where_the_fetch_version_has_it() {
        let settings = FetchSettings {
            max_bytes: 1 << 20,
            wait_max_ms: 500,
            min_bytes: 1,
            backoff: Duration::from_millis(1_000),
        };
        let topics = || {
            vec![FetchTopic::default()
                .with_topic_id(uuid::Uuid::new_v4())
                .with_partitions(vec![FetchPartition::default().with_current_leader_epoch(3)])]
        };
        for version in FETCH_VERSIONS {
            let request = fetch_request(version, 2, 40, &settings, topics());
            let mut buf = bytes::BytesMut::new();
            request
                .encode(&mut buf, version)
                .unwrap_or_else(|e| panic!("v{version}: {e}"));
            let decoded = FetchRequest::decode(&mut buf.freeze(), version).unwrap();
            if version >= 15 {
                assert_eq!(decoded.replica_state.replica_id, 2);
                assert_eq!(decoded.replica_state.replica_epoch, 40);
            } else {
                assert_eq!(decoded.replica_id, 2, "v{version}");
            }
            assert_eq!(decoded.topics[0].partitions[0].current_leader_epoch, 3);
        }
    }

    #[test]
    fn a_cut_last_batch_is_left_for_the_next_fetch() {
        let mut one = vec![0u8; 8];
        one.extend_from_slice(&4i32.to_be_bytes());
        one.extend_from_slice(&[1, 2, 3, 4]);
        let mut two = one.clone();
        two.extend_from_slice(&one);
        assert_eq!(whole_batches(Bytes::from(two.clone())).len(), 32);
        assert_eq!(whole_batches(Bytes::from(two[..30].to_vec())).len(), 16);
        assert_eq!(whole_batches(Bytes::from(two[..5].to_vec())).len(), 0);
        let mut negative = vec![0u8; 8];
        negative.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(whole_batches(Bytes::from(negative)).len(), 0);
    }
}
