//! Transactions across a failover: a new leader serves the same last stable
//! offset and aborted transactions as the old one, because followers replay
//! transactional batches and markers into the same producer state and
//! `.txnindex`; and a marker written to the new leader releases the LSO.

mod common;

use std::time::{Duration, Instant};

use common::txn::*;
use kavka_chaos::cluster::{ChaosCluster, ClusterSpec};
use kavka_chaos::resolve::partition_state;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

const TOPIC: &str = "txn-failover";

fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_serves_the_same_lso_and_aborted_transactions() {
    let c = ChaosCluster::up(ClusterSpec {
        binary: env!("CARGO_BIN_EXE_kavka").into(),
        nodes: 3,
        properties: [
            "broker.session.timeout.ms=3000",
            "broker.heartbeat.interval.ms=500",
            "replica.lag.time.max.ms=2000",
            // Raw transactional batches from producers no coordinator knows, with
            // markers written by the test: KIP-890 verification would refuse them.
            "transaction.partition.verification.enable=false",
        ]
        .iter()
        .map(|p| p.to_string())
        .collect(),
        proxied: false,
    })
    .await
    .expect("3-node cluster up");
    let ports: Vec<u16> = c
        .bootstrap()
        .split(',')
        .filter_map(|a| a.rsplit(':').next()?.parse().ok())
        .collect();
    let port_of = |id: i32| {
        let i = c.node_ids().iter().position(|&n| n == id).expect("node");
        ports[i]
    };
    let admin: AdminClient<DefaultClientContext> =
        common::client_config(&c.bootstrap()).create().unwrap();
    let topic = NewTopic::new(TOPIC, 1, TopicReplication::Fixed(3));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    admin.create_topics([&topic], &opts).await.unwrap();
    let leader = wait_for(Duration::from_secs(30), "led with 3 in sync", || {
        partition_state(&c.bootstrap(), TOPIC, 0)
            .filter(|s| s.leader >= 0 && s.isr.len() == 3)
            .map(|s| s.leader)
    });

    let mut s = connect(port_of(leader));
    assert_eq!(
        produce(&mut s, TOPIC, batch(&["a"], Some((500, 0, 0))), true).0,
        0
    ); // 0
    assert_eq!(write_marker(&mut s, TOPIC, 500, false), 0); // 1
    assert_eq!(
        produce(&mut s, TOPIC, batch(&["open"], Some((501, 0, 0))), true).0,
        0
    ); // 2
    assert_eq!(produce(&mut s, TOPIC, batch(&["plain"], None), false).0, 0); // 3
    assert_eq!(latest(&mut s, TOPIC, 1), 2);
    assert_eq!(fetch_committed(&mut s, TOPIC), (2, vec![(500, 0)]));
    drop(s);

    c.kill9(leader).unwrap();
    let new_leader = wait_for(Duration::from_secs(30), "a new leader", || {
        partition_state(&c.bootstrap(), TOPIC, 0)
            .map(|s| s.leader)
            .filter(|&l| l >= 0 && l != leader)
    });
    let mut s = connect(port_of(new_leader));
    wait_for(
        Duration::from_secs(20),
        "the HW back at the log end",
        || (latest(&mut s, TOPIC, 0) == 4).then_some(()),
    );
    assert_eq!(
        latest(&mut s, TOPIC, 1),
        2,
        "the open transaction still holds the LSO"
    );
    assert_eq!(fetch_committed(&mut s, TOPIC), (2, vec![(500, 0)]));
    assert_eq!(write_marker(&mut s, TOPIC, 501, true), 0);
    assert_eq!(latest(&mut s, TOPIC, 1), 5);
    c.down().ok();
}
