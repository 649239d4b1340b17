//! Dedicated controllers, Kafka's production layout: three nodes with
//! `process.roles=controller` form the metadata quorum, three with
//! `process.roles=broker` follow it as observers and serve clients. Killing the
//! active controller moves the quorum's leadership and admin requests keep
//! working; killing a broker moves its partitions' leadership; every
//! acknowledged record is read back.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    ApiKey, DescribeClusterRequest, DescribeClusterResponse, DescribeQuorumRequest,
    DescribeQuorumResponse, MetadataRequest, TopicName,
};
use kafka_protocol::protocol::Encodable;
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureProducer;
use rdkafka::Message;
use rdkafka::Offset;

/// One node process, killed when dropped.
struct Node {
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn start(config: PathBuf, log: PathBuf) -> Node {
        let mut node = Node {
            config,
            log,
            child: None,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_kavka"))
            .arg("broker")
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn kavka");
        self.child = Some(child);
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- {}", self.log.display());
            eprintln!("{}", lines[lines.len().saturating_sub(30)..].join("\n"));
        }
        self.kill9();
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write properties");
}

/// The quorum leader per DescribeQuorum, asked of a broker.
fn quorum_leader(port: u16) -> Option<i32> {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let r: DescribeQuorumResponse = raw_call(
        &mut conn,
        ApiKey::DescribeQuorum,
        1,
        &DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
            .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
            .with_partitions(vec![PartitionData::default().with_partition_index(0)])]),
    );
    let p = r.topics.first()?.partitions.first()?;
    (p.error_code == 0 && p.leader_id.0 >= 0).then_some(p.leader_id.0)
}

async fn create_rf3_topic(bootstrap: &str, name: &str, partitions: i32) {
    let results = admin(bootstrap)
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(3))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))),
        )
        .await
        .expect("create topics");
    for r in results {
        r.expect("topic created");
    }
}

/// Sends `values` one by one (acks=all): where each was acknowledged.
async fn send_values(
    producer: &FutureProducer,
    values: std::ops::Range<u32>,
) -> Vec<(u32, i32, i64)> {
    let mut acked = Vec::new();
    for v in values {
        let text = v.to_string();
        let (partition, offset) = send(producer, "orders", None, Some(text.as_bytes())).await;
        acked.push((v, partition, offset));
    }
    acked
}

fn describe_cluster(port: u16, endpoint_type: i8) -> DescribeClusterResponse {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    raw_call(
        &mut conn,
        ApiKey::DescribeCluster,
        1,
        &DescribeClusterRequest::default().with_endpoint_type(endpoint_type),
    )
}

/// Kafka's tools reach the controllers themselves with `--bootstrap-controller`:
/// the controller listener answers Kafka's protocol (KIP-919) beside the quorum's
/// own traffic, and closes connections asking for a broker's APIs.
fn check_controller_listener(controller_port: u16, broker_port: u16) {
    let out = Command::new(env!("CARGO_BIN_EXE_kavka"))
        .args(["metadata-quorum", "--bootstrap-controller"])
        .arg(format!("127.0.0.1:{controller_port}"))
        .args(["describe", "--status"])
        .output()
        .expect("run kavka metadata-quorum");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("CurrentVoters:") && text.contains("CurrentObservers:"),
        "{text}"
    );

    let controllers = describe_cluster(controller_port, 2);
    assert_eq!(controllers.error_code, 0);
    assert_eq!(controllers.endpoint_type, 2);
    let mut ids: Vec<i32> = controllers.brokers.iter().map(|b| b.broker_id.0).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 2, 3], "the controllers, not the brokers");
    // Each listener answers for its own kind of endpoint only.
    assert_eq!(describe_cluster(broker_port, 2).error_code, 114);
    assert_eq!(describe_cluster(controller_port, 1).error_code, 114);

    let mut conn = std::net::TcpStream::connect(("127.0.0.1", controller_port)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let answered = raw_round_trip(&mut conn, ApiKey::Metadata, 12, 1, "test", |buf| {
        MetadataRequest::default().encode(buf, 12).expect("encode")
    });
    assert!(
        answered.is_none(),
        "Metadata is a broker's API: connection closed"
    );
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedicated_controllers_survive_the_loss_of_the_active_controller_and_a_broker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = free_port_block(6);
    let broker_port = |id: i32| base + u16::try_from(id - 4).expect("broker id");
    let controller_port = |id: i32| base + 3 + u16::try_from(id - 1).expect("controller id");
    let voters = (1..=3)
        .map(|id| format!("{id}@127.0.0.1:{}", controller_port(id)))
        .collect::<Vec<_>>()
        .join(",");
    let mut controllers = Vec::new();
    for id in 1..=3 {
        let config = dir.path().join(format!("controller-{id}.properties"));
        write(
            &config,
            &format!(
                "process.roles=controller\nnode.id={id}\ncontroller.quorum.voters={voters}\n\
                 listeners=CONTROLLER://127.0.0.1:{}\ncontroller.listener.names=CONTROLLER\n\
                 log.dirs={}\n",
                controller_port(id),
                dir.path().join(format!("data-{id}")).display()
            ),
        );
        controllers.push(Node::start(
            config,
            dir.path().join(format!("controller-{id}.log")),
        ));
    }
    let mut brokers = Vec::new();
    for id in 4..=6 {
        let config = dir.path().join(format!("broker-{id}.properties"));
        let port = broker_port(id);
        write(
            &config,
            &format!(
                "process.roles=broker\nnode.id={id}\ncontroller.quorum.voters={voters}\n\
                 listeners=PLAINTEXT://127.0.0.1:{port}\n\
                 advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
                 controller.listener.names=CONTROLLER\n\
                 listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n\
                 log.dirs={}\ndefault.replication.factor=3\nmin.insync.replicas=2\n\
                 broker.session.timeout.ms=3000\nbroker.heartbeat.interval.ms=500\n\
                 http.listeners=\n",
                dir.path().join(format!("data-{id}")).display()
            ),
        );
        brokers.push(Node::start(
            config,
            dir.path().join(format!("broker-{id}.log")),
        ));
    }
    let bootstrap = (4..=6)
        .map(|id| format!("127.0.0.1:{}", broker_port(id)))
        .collect::<Vec<_>>()
        .join(",");
    let leader = wait_for("a quorum leader", Duration::from_secs(60), || {
        quorum_leader(broker_port(4))
    });
    assert!(
        (1..=3).contains(&leader),
        "a controller leads the quorum, not broker {leader}"
    );

    let metadata: rdkafka::consumer::BaseConsumer =
        client_config(&bootstrap).create().expect("client");
    wait_for("three registered brokers", Duration::from_secs(60), || {
        let m = metadata.fetch_metadata(None, Duration::from_secs(5)).ok()?;
        (m.brokers().len() == 3).then_some(())
    });
    check_controller_listener(controller_port(1), broker_port(4));

    create_rf3_topic(&bootstrap, "orders", 3).await;
    let producer = producer(
        &bootstrap,
        &[
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("message.timeout.ms", "60000"),
        ],
    );
    let mut acked = send_values(&producer, 0..30).await;

    // The active controller dies: another controller takes over, and admin
    // requests sent to a broker are still decided.
    controllers[usize::try_from(leader - 1).expect("index")].kill9();
    let next = wait_for("a new quorum leader", Duration::from_secs(30), || {
        quorum_leader(broker_port(5)).filter(|&l| l != leader)
    });
    assert!((1..=3).contains(&next));
    create_rf3_topic(&bootstrap, "after-controller-loss", 1).await;
    acked.extend(send_values(&producer, 30..60).await);

    // A broker dies: its partitions move to the other replicas.
    brokers[0].kill9();
    acked.extend(send_values(&producer, 60..90).await);
    assert_eq!(acked.len(), 90, "every record acknowledged");

    // The live brokers only: a consumer told of a dead bootstrap server reports
    // the failed connection as an error, which is not what is checked here.
    let live = format!("127.0.0.1:{},127.0.0.1:{}", broker_port(5), broker_port(6));
    let consumer = assigned_consumer(&live, "orders", &[0, 1, 2], Offset::Beginning);
    let read = consume_n(&consumer, 90, Duration::from_secs(30));
    let mut got: Vec<(u32, i32, i64)> = read
        .iter()
        .map(|m| {
            let v = String::from_utf8(payload(m))
                .expect("utf-8")
                .parse()
                .expect("number");
            (v, m.partition(), m.offset())
        })
        .collect();
    got.sort_unstable();
    acked.sort_unstable();
    assert_eq!(
        got, acked,
        "every acknowledged record once, where it was acknowledged"
    );
    consumer.unassign().expect("unassign");
}
