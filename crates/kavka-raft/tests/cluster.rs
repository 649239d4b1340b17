//! Quorums of real nodes over loopback TCP: election, replication, failover,
//! restart from disk, catch-up by snapshot, observers.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{config_record, topic_records, Cluster};
use kavka_metadata::ConfigResource;
use kavka_raft::QuorumError;

const WAIT: Duration = Duration::from_secs(15);

fn config_keys(image: &kavka_metadata::MetadataImage) -> BTreeSet<String> {
    image
        .configs(&ConfigResource::Broker(None))
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voters_elect_a_leader_and_every_image_ends_equal() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.leader(WAIT).await;
    for n in 0..10 {
        cluster.propose(topic_records(&format!("topic-{n}"))).await;
    }
    let last = cluster.propose(vec![config_record("k", "v")]).await;
    cluster.wait_applied(last, WAIT).await;
    let image = cluster.wait_images_equal(WAIT).await;
    assert_eq!(image.image.topics().count(), 10);
    assert_eq!(image.image.next_offset(), 21);

    // Every node agrees on the leader; the leader describes the quorum.
    for node in cluster.nodes.values() {
        assert_eq!(node.wait_for_leader(WAIT).await, Some(leader));
        assert_eq!(node.leader(), Some(leader));
    }
    // Followers acknowledge heartbeats, which records their progress.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = cluster.node(leader).describe();
    assert_eq!(d.leader_id, Some(leader));
    assert!(d.leader_epoch >= 1);
    assert_eq!(d.high_watermark, last + 1);
    assert!(d.observers.is_empty());
    let voters: Vec<u64> = d.voters.iter().map(|v| v.node_id).collect();
    assert_eq!(voters, vec![1, 2, 3]);
    for v in &d.voters {
        assert_eq!(v.log_end_offset, Some(last + 1), "{v:?}");
        assert!(v.last_fetch_timestamp_ms.is_some(), "{v:?}");
        assert!(v.last_caught_up_timestamp_ms.is_some(), "{v:?}");
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposal_to_a_follower_names_the_leader() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.leader(WAIT).await;
    let leader_addr = cluster.addr(leader);
    cluster.propose(vec![config_record("a", "1")]).await;
    let follower = *cluster.nodes.keys().find(|&&id| id != leader).unwrap();
    let err = cluster
        .node(follower)
        .propose(vec![config_record("b", "2")])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        QuorumError::NotLeader {
            leader: Some(leader),
            leader_addr: Some(leader_addr)
        }
    );
    assert_eq!(err.code(), 41);
    assert!(!cluster.node(follower).is_leader());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_leader_is_replaced_and_catches_up_after_restart() {
    let mut cluster = Cluster::start(3).await;
    let old = cluster.leader(WAIT).await;
    for n in 0..5 {
        cluster
            .propose(vec![config_record(&format!("before-{n}"), "x")])
            .await;
    }
    cluster.stop_node(old).await;
    let stopped_at = Instant::now();
    let new = cluster.leader(Duration::from_secs(5)).await;
    let failover = stopped_at.elapsed();
    assert_ne!(new, old);
    assert!(
        failover < Duration::from_secs(5),
        "failover took {failover:?}"
    );

    let mut last = 0;
    for n in 0..5 {
        last = cluster
            .propose(vec![config_record(&format!("after-{n}"), "y")])
            .await;
    }
    cluster.start_node(old).await;
    cluster.wait_applied(last, WAIT).await;
    let image = cluster.wait_images_equal(WAIT).await;
    assert_eq!(config_keys(&image.image).len(), 10);
    assert!(!cluster.node(old).is_leader() || cluster.leader(WAIT).await == old);
    eprintln!("failover took {failover:?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_that_missed_many_entries_catches_up_by_snapshot() {
    let mut cluster = Cluster::new(3);
    cluster.snapshot_every = 20;
    cluster.keep_after_snapshot = 0;
    for id in 1..=3 {
        cluster.start_node(id).await;
    }
    let leader = cluster.leader(WAIT).await;
    cluster.propose(vec![config_record("first", "1")]).await;
    let lagging = *cluster.nodes.keys().find(|&&id| id != leader).unwrap();
    let lagging_end = cluster.node(lagging).metrics().borrow().last_log_index;
    cluster.stop_node(lagging).await;

    let mut last = 0;
    for n in 0..60 {
        last = cluster
            .propose(vec![config_record(&format!("k{n}"), "v")])
            .await;
    }
    let leader = cluster.leader(WAIT).await;
    // Wait for the leader to have purged past everything the lagging node holds,
    // so only a snapshot can bring it back.
    let mut metrics = cluster.node(leader).metrics();
    tokio::time::timeout(
        WAIT,
        metrics.wait_for(|m| m.purged.map(|p| p.index) > lagging_end),
    )
    .await
    .expect("leader purged its log")
    .unwrap();

    let node = cluster.start_node(lagging).await;
    cluster.wait_applied(last, WAIT).await;
    let image = cluster.wait_images_equal(WAIT).await;
    assert_eq!(config_keys(&image.image).len(), 61);
    let m = node.metrics().borrow().clone();
    assert!(
        m.snapshot.map(|s| s.index) > lagging_end,
        "the lagging node holds a snapshot past its old log: {:?}",
        m.snapshot
    );
    assert!(cluster.dir(lagging).join("snapshot.json").exists());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_voters_tolerate_two_down_but_not_three() {
    let mut cluster = Cluster::start(5).await;
    let leader = cluster.leader(WAIT).await;
    cluster.propose(vec![config_record("a", "1")]).await;
    let follower = *cluster.nodes.keys().find(|&&id| id != leader).unwrap();
    cluster.stop_node(leader).await;
    cluster.stop_node(follower).await;
    let last = cluster.propose(vec![config_record("b", "2")]).await;
    cluster.wait_applied(last, WAIT).await;

    let third = *cluster.nodes.keys().next().unwrap();
    cluster.stop_node(third).await;
    let refused = cluster
        .try_propose(vec![config_record("c", "3")], Duration::from_secs(2))
        .await;
    assert!(refused.is_err(), "two of five committed: {refused:?}");

    // One node back makes a majority again.
    cluster.start_node(third).await;
    let last = cluster.propose(vec![config_record("d", "4")]).await;
    cluster.wait_applied(last, WAIT).await;
    let image = cluster.wait_images_equal(WAIT).await;
    let keys = config_keys(&image.image);
    assert!(
        keys.contains("a") && keys.contains("b") && keys.contains("d"),
        "{keys:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_receives_the_image_but_does_not_vote() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.leader(WAIT).await;
    cluster.propose(topic_records("before-learner")).await;

    let learner = cluster.start_node(4).await;
    let addr = cluster.addr(4);
    cluster.node(leader).add_learner(4, addr).await.unwrap();
    let last = cluster.propose(topic_records("after-learner")).await;
    cluster.wait_applied(last, WAIT).await;
    let image = cluster.wait_images_equal(WAIT).await;
    assert_eq!(image.image.topics().count(), 2);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = cluster.node(leader).describe();
    assert_eq!(d.voters.len(), 3);
    assert_eq!(d.observers.len(), 1);
    assert_eq!(d.observers[0].node_id, 4);
    assert_eq!(d.observers[0].log_end_offset, Some(last + 1));
    assert!(d.observers[0].last_fetch_timestamp_ms.is_some());
    // A voter cannot be removed as if it were an observer.
    let voter = *cluster
        .nodes
        .keys()
        .find(|&&id| id != leader && id != 4)
        .unwrap();
    let refused = cluster.node(leader).remove_learner(voter).await;
    assert!(
        matches!(refused, Err(QuorumError::Membership(_))),
        "{refused:?}"
    );

    // With two voters gone the learner cannot make a majority: nothing commits and
    // it never stands for election.
    let down: Vec<u64> = [1, 2, 3].into_iter().filter(|&id| id != leader).collect();
    for id in &down {
        cluster.stop_node(*id).await;
    }
    let refused = cluster
        .try_propose(vec![config_record("x", "1")], Duration::from_secs(2))
        .await;
    assert!(
        refused.is_err(),
        "one voter and a learner committed: {refused:?}"
    );
    let m = learner.metrics().borrow().clone();
    assert_eq!(m.state, openraft::ServerState::Learner);
    assert_eq!(m.vote.leader_id().voted_for(), Some(leader));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_learner_stops_receiving_the_log() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.leader(WAIT).await;
    let learner = cluster.start_node(4).await;
    let addr = cluster.addr(4);
    cluster.node(leader).add_learner(4, addr).await.unwrap();
    let first = cluster.propose(vec![config_record("a", "1")]).await;
    cluster.wait_applied(first, WAIT).await;

    cluster.node(leader).remove_learner(4).await.unwrap();
    assert!(cluster.node(leader).describe().observers.is_empty());
    let removed_at = learner.image().applied_index;
    let last = cluster.propose(vec![config_record("b", "2")]).await;
    cluster.nodes.remove(&4);
    cluster.wait_applied(last, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(learner.image().applied_index < Some(last), "{removed_at:?}");
    let _ = learner.shutdown().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_quorum_restarts_from_disk_without_bootstrapping_again() {
    let mut cluster = Cluster::start(3).await;
    let mut last = 0;
    for n in 0..5 {
        last = cluster.propose(topic_records(&format!("t{n}"))).await;
    }
    cluster.wait_applied(last, WAIT).await;
    let before = cluster.wait_images_equal(WAIT).await;
    // The leader restarts from a snapshot plus the log after it, the others from
    // the log alone.
    let leader = cluster.leader(WAIT).await;
    cluster.node(leader).snapshot_now().await.unwrap();
    let mut metrics = cluster.node(leader).metrics();
    tokio::time::timeout(WAIT, metrics.wait_for(|m| m.snapshot.is_some()))
        .await
        .expect("snapshot taken")
        .unwrap();
    cluster.propose(topic_records("after-snapshot")).await;
    for id in 1..=3 {
        cluster.stop_node(id).await;
    }
    for id in 1..=3 {
        cluster.start_node(id).await;
    }
    cluster.leader(WAIT).await;
    let next = cluster.propose(topic_records("after-restart")).await;
    assert!(next > last, "the log continued: {next} after {last}");
    cluster.wait_applied(next, WAIT).await;
    let after = cluster.wait_images_equal(WAIT).await;
    assert_eq!(
        after.image.topics().count(),
        before.image.topics().count() + 2
    );
    assert!(after.image.topic("after-snapshot").is_some());
    assert!(cluster.dir(leader).join("snapshot.json").exists());
    for n in 0..5 {
        assert!(after.image.topic(&format!("t{n}")).is_some());
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_close_only_their_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.leader(WAIT).await;
    let addr = cluster.addr(leader);
    let garbage: [&[u8]; 3] = [
        &u32::MAX.to_be_bytes(),                     // a length far over the limit
        &[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o'], // a frame that is not a request
        &[0, 0, 0, 9, b'{'],                         // a frame cut short, then EOF
    ];
    for bytes in garbage {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(bytes).await.unwrap();
        s.shutdown().await.unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(WAIT, s.read_to_end(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "connection stayed open: {read:?}"
        );
    }
    let last = cluster.propose(vec![config_record("still", "works")]).await;
    cluster.wait_applied(last, WAIT).await;
    assert_eq!(cluster.leader(WAIT).await, leader);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_cluster_is_bootstrapped_by_the_lowest_voter_only() {
    let mut cluster = Cluster::new(3);
    cluster.start_node(2).await;
    cluster.start_node(3).await;
    // Without node 1 nobody holds a membership, so nobody stands for election.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for node in cluster.nodes.values() {
        assert_eq!(node.leader(), None);
        assert_eq!(node.metrics().borrow().last_log_index, None);
    }
    cluster.start_node(1).await;
    let last = cluster.propose(vec![config_record("a", "1")]).await;
    cluster.wait_applied(last, WAIT).await;
    cluster.wait_images_equal(WAIT).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_the_image_refuses_changes_nothing_anywhere_and_tells_the_proposer() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.leader(WAIT).await;
    let orphan = kavka_metadata::MetadataRecord::PartitionChange {
        topic_id: uuid::Uuid::new_v4(),
        partition: 0,
        leader: 1,
        isr: vec![1],
        replicas: None,
        adding_replicas: None,
        removing_replicas: None,
    };
    // The batch is refused whole: the config record before the bad one is not kept.
    let err = cluster
        .node(leader)
        .propose(vec![config_record("dropped", "1"), orphan])
        .await
        .unwrap_err();
    // UNKNOWN_TOPIC_OR_PARTITION, as the image's MetadataError says.
    assert!(matches!(err, QuorumError::Refused { code: 3, .. }), "{err}");
    let last = cluster.propose(vec![config_record("next", "2")]).await;
    cluster.wait_applied(last, WAIT).await;
    let image = cluster.wait_images_equal(WAIT).await;
    assert_eq!(
        config_keys(&image.image),
        BTreeSet::from(["next".to_string()])
    );
    assert_eq!(image.image.next_offset(), 1);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_frames_split_replication_and_snapshots_and_refuse_oversized_batches() {
    let mut cluster = Cluster::new(3);
    cluster.max_frame_bytes = 64 << 10;
    cluster.snapshot_every = 40;
    cluster.keep_after_snapshot = 0;
    for id in 1..=3 {
        cluster.start_node(id).await;
    }
    let leader = cluster.leader(WAIT).await;
    let too_big = "x".repeat(40 << 10);
    let err = cluster
        .node(leader)
        .propose(vec![config_record("big", &too_big)])
        .await
        .unwrap_err();
    assert!(matches!(err, QuorumError::BatchTooLarge { .. }), "{err}");
    assert_eq!(err.code(), 10);

    // Entries of ~8 KiB: a behind follower is sent far more than one 64 KiB frame
    // holds, so openraft must split batches (PayloadTooLarge) and, once the log is
    // purged, send the snapshot in chunks.
    let follower = *cluster.nodes.keys().find(|&&id| id != leader).unwrap();
    cluster.stop_node(follower).await;
    let value = "v".repeat(8 << 10);
    let mut last = 0;
    for n in 0..30 {
        last = cluster
            .propose(vec![config_record(&format!("k{n}"), &value)])
            .await;
    }
    cluster.start_node(follower).await;
    cluster.wait_applied(last, WAIT).await;
    let image = cluster.wait_images_equal(WAIT).await;
    assert_eq!(config_keys(&image.image).len(), 30);

    cluster.stop_node(follower).await;
    for n in 30..90 {
        last = cluster
            .propose(vec![config_record(&format!("k{n}"), &value)])
            .await;
    }
    cluster.start_node(follower).await;
    cluster.wait_applied(last, WAIT).await;
    let image = cluster.wait_images_equal(WAIT).await;
    assert_eq!(config_keys(&image.image).len(), 90);
    assert!(cluster.node(follower).metrics().borrow().snapshot.is_some());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_voter_commits_alone_and_stops_when_its_last_handle_drops() {
    let mut cluster = Cluster::start(1).await;
    let last = cluster.propose(topic_records("solo")).await;
    cluster.wait_applied(last, WAIT).await;

    // Dropped without shutdown: openraft's core stops (its metrics channel closes)
    // and the listener is released.
    let node = cluster.nodes.remove(&1).unwrap();
    let mut metrics = node.metrics();
    drop(node);
    let stopped =
        tokio::time::timeout(WAIT, async { while metrics.changed().await.is_ok() {} }).await;
    assert!(
        stopped.is_ok(),
        "raft core still running after the last handle dropped"
    );

    cluster.start_node(1).await;
    cluster.leader(WAIT).await;
    let next = cluster.propose(topic_records("again")).await;
    assert!(next > last);
    cluster.wait_applied(next, WAIT).await;
    assert_eq!(cluster.node(1).image().image.topics().count(), 2);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_of_another_cluster_cannot_replicate_into_this_one() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.leader(WAIT).await;
    let last = cluster.propose(topic_records("ours")).await;
    cluster.wait_applied(last, WAIT).await;
    let victim = *cluster.nodes.keys().find(|&&id| id != leader).unwrap();
    let victim_addr = cluster.addr(victim);
    let before = cluster.node(victim).image();

    // A one-node cluster whose only node has our leader's id, so its leader id
    // (term 1, that node) is likely the very one our followers follow; it then
    // tries to replicate its own log to our follower's address.
    let mut stray = Cluster::new(0);
    stray.voters = vec![kavka_raft::Voter {
        id: leader,
        addr: stray.addr(leader),
    }];
    let stray_node = stray.start_node(leader).await;
    stray.leader(WAIT).await;
    stray.propose(topic_records("theirs")).await;
    let added = tokio::time::timeout(
        Duration::from_millis(1500),
        stray_node.add_learner(victim, victim_addr),
    )
    .await;
    assert!(
        !matches!(added, Ok(Ok(_))),
        "another cluster's leader caught our follower up"
    );

    let image = cluster.node(victim).image();
    assert!(image.image.topic("theirs").is_none());
    assert!(image.applied_index >= before.applied_index);
    let last = cluster.propose(topic_records("still-ours")).await;
    cluster.wait_applied(last, WAIT).await;
    let image = cluster.wait_images_equal(WAIT).await;
    assert!(image.image.topic("ours").is_some() && image.image.topic("theirs").is_none());
    stray.shutdown().await;
    cluster.shutdown().await;
}
