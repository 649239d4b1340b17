//! The group service on a real broker state whose `__consumer_offsets` roles come
//! from hand-made images: ownership follows leadership, and group writes are
//! answered only once the follower has the records.

use std::sync::Arc;
use std::time::Duration;

use kavka_group::{CommitPartition, Effects, GroupResponse, JoinGroupRequest, JoinProtocol};
use kavka_metadata::{ConfigResource, MetadataImage, MetadataRecord};
use kavka_replica::{FollowerFetch, FollowerFetchOutcome};
use uuid::Uuid;

use super::{CoordinatorError, OFFSETS_TOPIC};
use crate::config::BrokerConfig;
use crate::server::Broker;
use crate::state::{now_ms, BrokerState};

fn config(dir: &std::path::Path) -> BrokerConfig {
    BrokerConfig::load(
        None,
        &[
            format!("log.dirs={}", dir.display()),
            "node.id=1".to_string(),
            "listeners=PLAINTEXT://127.0.0.1:0".to_string(),
            // Tests run side by side: none takes the default HTTP port.
            "http.listeners=".to_string(),
            // One partition: every group lives in partition 0.
            "offsets.topic.num.partitions=1".to_string(),
            "offsets.commit.timeout.ms=300".to_string(),
        ],
        std::iter::empty(),
    )
    .unwrap()
}

/// Brokers 1 and 2 share `__consumer_offsets-0`, led by `leader` in `epoch`.
/// Padded with `pad` records so it is newer than what the broker applied before.
fn image(topic_id: Uuid, leader: i32, epoch: i32, pad: usize) -> MetadataImage {
    let mut image = MetadataImage::default();
    for i in 0..pad {
        image
            .apply(&MetadataRecord::Config {
                resource: kavka_metadata::ConfigResource::Broker(None),
                name: "padding".into(),
                value: Some(i.to_string()),
            })
            .unwrap();
    }
    for id in [1, 2] {
        image
            .apply(&MetadataRecord::RegisterBroker {
                broker_id: id,
                host: "127.0.0.1".into(),
                port: 1,
                rack: None,
                incarnation_id: None,
                broker_epoch: 0,
                fenced: false,
            })
            .unwrap();
    }
    image
        .apply(&MetadataRecord::Topic {
            name: OFFSETS_TOPIC.into(),
            topic_id,
        })
        .unwrap();
    image
        .apply(&MetadataRecord::Partition {
            topic_id,
            partition: 0,
            replicas: vec![1, 2],
            isr: vec![1, 2],
            leader,
            leader_epoch: epoch,
            partition_epoch: epoch,
            adding_replicas: vec![],
            removing_replicas: vec![],
        })
        .unwrap();
    image
}

fn apply(state: &BrokerState, image: &MetadataImage) {
    state.replicas.reconcile(image, &state.config).unwrap();
    state.load_led_groups();
}

/// Broker 2 fetching from `offset`, as its fetcher would.
fn follower_fetch(state: &BrokerState, offset: i64) {
    let p = state.replicas.get(OFFSETS_TOPIC, 0).unwrap();
    let fetch = FollowerFetch {
        replica_id: 2,
        fetch_offset: offset,
        last_fetched_epoch: None,
        current_leader_epoch: Some(p.leader_epoch()),
        broker_epoch: 0,
    };
    match p.on_follower_fetch(fetch, now_ms()) {
        Ok(FollowerFetchOutcome::Read(_)) => {}
        other => panic!("fetch @{offset}: {other:?}"),
    }
}

async fn commit(state: &BrokerState, offset: i64) -> Result<(), CoordinatorError> {
    let req = kavka_group::OffsetCommitRequest {
        group_id: "g".into(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        offsets: vec![CommitPartition {
            topic: "t".into(),
            partition: 0,
            offset,
            leader_epoch: -1,
            metadata: None,
        }],
    };
    state
        .groups
        .direct(state, &["g"], |c, now| {
            let (_, records) = c.commit_offsets(req, now);
            (
                (),
                Effects {
                    completions: vec![],
                    records,
                },
            )
        })
        .await
}

fn committed(state: &BrokerState) -> Result<Option<i64>, CoordinatorError> {
    state.groups.read(|owned| {
        owned.check("g")?;
        let asked = [("t".to_string(), vec![0])];
        let fetched = owned
            .coordinator()
            .fetch_offsets("g", Some(&asked))
            .expect("fetch");
        Ok(fetched.first().map(|o| o.offset).filter(|&o| o >= 0))
    })
}

async fn broker(dir: &std::path::Path) -> Arc<BrokerState> {
    Broker::start(config(dir)).await.unwrap().state()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_served_only_while_their_partition_is_led_here() {
    let dir = tempfile::tempdir().unwrap();
    let state = broker(dir.path()).await;
    let topic_id = Uuid::new_v4();
    apply(&state, &image(topic_id, 1, 0, 50));

    // Replicated as soon as broker 2 fetches past it.
    let s = state.clone();
    let first = tokio::spawn(async move { commit(&s, 5).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!first.is_finished(), "answered before it was replicated");
    follower_fetch(&state, 1);
    assert!(first.await.unwrap().is_ok());
    assert_eq!(committed(&state).unwrap(), Some(5));

    // Broker 2 leads: the group leaves memory and is refused here.
    apply(&state, &image(topic_id, 2, 1, 60));
    assert!(matches!(
        committed(&state),
        Err(CoordinatorError::NotCoordinator)
    ));
    assert!(matches!(
        commit(&state, 9).await,
        Err(CoordinatorError::NotCoordinator)
    ));

    // Leading again, a new epoch: the group comes back from the log.
    apply(&state, &image(topic_id, 1, 2, 70));
    assert_eq!(committed(&state).unwrap(), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_being_loaded_answers_load_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let state = broker(dir.path()).await;
    let image = image(Uuid::new_v4(), 1, 0, 50);
    state.replicas.reconcile(&image, &state.config).unwrap();
    let jobs = state.groups.follow_leadership(&state);
    assert_eq!(jobs.len(), 1);
    assert!(matches!(
        commit(&state, 1).await,
        Err(CoordinatorError::LoadInProgress)
    ));
    assert!(
        state.groups.read(|owned| owned.loading()),
        "ListGroups waits too"
    );
    for job in jobs {
        state.groups.load(&state, job);
    }
    assert_eq!(committed(&state).unwrap(), None);
    assert!(!state.groups.read(|owned| owned.loading()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_not_replicated_in_time_is_coordinator_not_available_and_stays() {
    let dir = tempfile::tempdir().unwrap();
    let state = broker(dir.path()).await;
    apply(&state, &image(Uuid::new_v4(), 1, 0, 50));
    let err = commit(&state, 7).await.expect_err("broker 2 never fetched");
    assert_eq!(
        err.code(),
        15,
        "COORDINATOR_NOT_AVAILABLE, as Kafka maps a timeout"
    );
    // As in Kafka, the record is in the leader's log and is not reverted: it is
    // committed once broker 2 catches up, or unloaded if leadership moves.
    assert_eq!(committed(&state).unwrap(), Some(7));
    follower_fetch(&state, 1);
    let p = state.replicas.get(OFFSETS_TOPIC, 0).unwrap();
    assert_eq!(p.high_watermark(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_waiting_when_leadership_moves_is_answered_not_coordinator() {
    let dir = tempfile::tempdir().unwrap();
    let state = broker(dir.path()).await;
    let topic_id = Uuid::new_v4();
    apply(&state, &image(topic_id, 1, 0, 50));
    let join = |member: &str| JoinGroupRequest {
        group_id: "g".into(),
        member_id: member.into(),
        group_instance_id: None,
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        protocol_type: "consumer".into(),
        protocols: vec![JoinProtocol {
            name: "range".into(),
            metadata: vec![],
        }],
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        api_version: 9,
        reason: None,
    };
    // The first join is answered MEMBER_ID_REQUIRED once the new group's record
    // is replicated.
    let s = state.clone();
    let first = tokio::spawn(async move {
        s.groups
            .deferred(&s, "g", |c, id, now| c.join_group(id, join(""), now))
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    follower_fetch(&state, 1);
    let member = match first.await.unwrap() {
        Ok(GroupResponse::Join(r)) => r.member_id,
        other => panic!("{other:?}"),
    };
    // The second waits out the initial rebalance delay (3 s by default).
    let s = state.clone();
    let waiting = tokio::spawn(async move {
        s.groups
            .deferred(&s, "g", |c, id, now| c.join_group(id, join(&member), now))
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished());
    apply(&state, &image(topic_id, 2, 1, 60));
    let answer = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("answered at the unload")
        .unwrap();
    assert!(
        matches!(&answer, Ok(GroupResponse::Join(r)) if r.error == Some(kavka_group::GroupError::NotCoordinator)),
        "{answer:?}"
    );
}

/// Found by `kafka-topics --describe --topic __consumer_offsets` on a 3-node
/// cluster: Kafka 4.4 lists `compression.type=producer` among the topic's configs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_offsets_is_created_with_kafkas_topic_configs() {
    let dir = tempfile::tempdir().unwrap();
    let state = broker(dir.path()).await;
    state.groups.ensure_topic(&state).await.unwrap();
    let image = state.metadata.image();
    let configs = image
        .configs(&ConfigResource::Topic(OFFSETS_TOPIC.to_string()))
        .cloned()
        .unwrap_or_default();
    let configs: Vec<(&str, &str)> = configs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        configs,
        [
            ("cleanup.policy", "compact"),
            ("compression.type", "producer"),
            ("segment.bytes", "104857600"),
        ]
    );
}
