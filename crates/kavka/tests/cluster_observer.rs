//! A broker-only node (`process.roles=broker`) joins a running cluster as an
//! observer of the metadata quorum: it takes replicas, serves clients, and after
//! a restart (on a new quorum port) still follows the metadata.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::Offset;

fn kavka(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kavka"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run kavka")
}

/// The cluster and the observer process; both go when the test ends.
struct Cluster {
    dir: tempfile::TempDir,
    observer: Option<Child>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut c) = self.observer.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let dir = self.dir.path().to_string_lossy().to_string();
        let _ = kavka(&["cluster", "down", "--dir", &dir]);
    }
}

impl Cluster {
    fn observer_config(&self) -> PathBuf {
        self.dir.path().join("node-4").join("server.properties")
    }

    fn start_observer(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("node-4").join("broker.log"))
            .expect("observer log");
        let child = Command::new(env!("CARGO_BIN_EXE_kavka"))
            .args(["broker", "--config"])
            .arg(self.observer_config())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the observer");
        self.observer = Some(child);
    }

    fn kill_observer(&mut self) {
        if let Some(mut c) = self.observer.take() {
            c.kill().expect("kill -9 the observer");
            c.wait().expect("reap the observer");
        }
    }
}

fn cluster_id(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("node-1/data/meta.properties")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("cluster.id="))
        .expect("cluster.id")
        .to_string()
}

/// Waits until `bootstrap` reports `topic` with `partitions` partitions.
fn wait_for_topic(bootstrap: &str, topic: &str, partitions: usize) {
    let consumer = assigned_consumer(bootstrap, topic, &[], Offset::Beginning);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()
            .and_then(|m| {
                m.topics()
                    .first()
                    .map(|t| (t.error(), t.partitions().len()))
            });
        if matches!(seen, Some((None, n)) if n == partitions) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{bootstrap} never showed {topic}: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn create(bootstrap: &str, topic: &str, partitions: i32) {
    let results = admin(bootstrap)
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(3))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))),
        )
        .await
        .expect("create_topics");
    for r in results {
        r.expect("topic created");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_only_node_takes_replicas_and_follows_metadata_across_restarts() {
    let base = free_port_block(7);
    let mut cluster = Cluster {
        dir: tempfile::tempdir().unwrap(),
        observer: None,
    };
    let dir = cluster.dir.path().to_path_buf();
    let up = kavka(&[
        "cluster",
        "up",
        "-n",
        "3",
        "--base-port",
        &base.to_string(),
        "--dir",
        &dir.to_string_lossy(),
    ]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let voters = format!(
        "1@127.0.0.1:{},2@127.0.0.1:{},3@127.0.0.1:{}",
        base + 3,
        base + 4,
        base + 5
    );
    let observer_port = base + 6;
    std::fs::create_dir_all(dir.join("node-4")).unwrap();
    std::fs::write(
        cluster.observer_config(),
        format!(
            "process.roles=broker\nnode.id=4\ncontroller.quorum.voters={voters}\n\
             controller.listener.names=CONTROLLER\n\
             listeners=PLAINTEXT://127.0.0.1:{observer_port}\n\
             http.listeners=\n\
             log.dirs={}\n",
            dir.join("node-4/data").display()
        ),
    )
    .unwrap();
    let config = cluster.observer_config();
    let format = kavka(&[
        "storage",
        "format",
        "-t",
        &cluster_id(&dir),
        "-c",
        &config.to_string_lossy(),
    ]);
    assert!(
        format.status.success(),
        "{}",
        String::from_utf8_lossy(&format.stderr)
    );
    cluster.start_observer();

    let voter_bs = format!("127.0.0.1:{base}");
    let observer_bs = format!("127.0.0.1:{observer_port}");
    // Eight partitions over four brokers: the observer gets replicas and leaders.
    create(&voter_bs, "spread", 8).await;
    wait_for_topic(&observer_bs, "spread", 8);
    let status = kavka(&[
        "metadata-quorum",
        "--bootstrap-server",
        &observer_bs,
        "describe",
        "--status",
    ]);
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        status.contains("CurrentObservers:       [{\"id\": 4}]"),
        "{status}"
    );

    let producer = producer(&observer_bs, &[("acks", "all")]);
    for i in 0..200 {
        send(
            &producer,
            "spread",
            Some(format!("k{i}").as_bytes()),
            Some(format!("v{i}").as_bytes()),
        )
        .await;
    }
    let partitions: Vec<i32> = (0..8).collect();
    let consumer = assigned_consumer(&voter_bs, "spread", &partitions, Offset::Beginning);
    assert_eq!(
        consume_n(&consumer, 200, Duration::from_secs(30)).len(),
        200
    );

    // Restarted, the observer listens for the quorum on a new port and must
    // still receive metadata committed after its restart.
    cluster.kill_observer();
    cluster.start_observer();
    create(&voter_bs, "after-restart", 2).await;
    wait_for_topic(&observer_bs, "after-restart", 2);
}
