//! A three-node cluster whose inter-broker listener is SSL with
//! `ssl.client.auth=required`: replica fetchers speak TLS with the broker's
//! own certificate, and acks=all records reach every replica.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use kavka_tls::testing::TestCa;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// A node process; killed when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(config: &Path, log: PathBuf) -> Node {
    let out = std::fs::File::create(log).expect("log file");
    Node(
        Command::new(env!("CARGO_BIN_EXE_kavka"))
            .arg("broker")
            .arg("--config")
            .arg(config)
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn kavka"),
    )
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

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_replicates_over_an_ssl_inter_broker_listener() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Cluster CA");
    let base = free_port_block(6);
    let ssl_port = |id: u16| base + id - 1;
    let controller_port = |id: u16| base + 3 + id - 1;
    let voters = (1..=3)
        .map(|id| format!("{id}@127.0.0.1:{}", controller_port(id)))
        .collect::<Vec<_>>()
        .join(",");
    let mut nodes = Vec::new();
    for id in 1..=3u16 {
        let cert = ca.server(&format!("broker-{id}"));
        let keystore = cert.write_pem_keystore(dir.path(), &format!("broker-{id}"));
        let truststore = cert.write_pem_truststore(dir.path(), &format!("broker-{id}"));
        let config = dir.path().join(format!("node-{id}.properties"));
        std::fs::write(
            &config,
            format!(
                "process.roles=broker,controller\nnode.id={id}\ncontroller.quorum.voters={voters}\n\
                 http.listeners=\n\
                 listeners=SSL://127.0.0.1:{ssl},CONTROLLER://127.0.0.1:{ctl}\n\
                 advertised.listeners=SSL://127.0.0.1:{ssl}\n\
                 controller.listener.names=CONTROLLER\ninter.broker.listener.name=SSL\n\
                 listener.security.protocol.map=CONTROLLER:PLAINTEXT,SSL:SSL\n\
                 ssl.keystore.type=PEM\nssl.keystore.location={ks}\n\
                 ssl.truststore.type=PEM\nssl.truststore.location={ts}\n\
                 ssl.client.auth=required\n\
                 log.dirs={data}\ndefault.replication.factor=3\nmin.insync.replicas=2\n\
                 offsets.topic.replication.factor=3\n",
                ssl = ssl_port(id),
                ctl = controller_port(id),
                ks = keystore.display(),
                ts = truststore.display(),
                data = dir.path().join(format!("data-{id}")).display(),
            ),
        )
        .unwrap();
        nodes.push(start(&config, dir.path().join(format!("node-{id}.log"))));
    }
    let client_cert = ca.client(&[(kavka_tls::testing::DnType::CommonName, "app")]);
    let keystore = client_cert.write_pem_keystore(dir.path(), "app");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let bootstrap = (1..=3)
        .map(|id| format!("127.0.0.1:{}", ssl_port(id)))
        .collect::<Vec<_>>()
        .join(",");
    let mut config = client_config(&bootstrap);
    config
        .set("security.protocol", "ssl")
        .set("ssl.ca.location", ca_file.display().to_string())
        .set("ssl.key.location", keystore.display().to_string())
        .set("ssl.certificate.location", keystore.display().to_string());
    let metadata: BaseConsumer = config.create().expect("client");
    wait_for("three registered brokers", Duration::from_secs(60), || {
        let m = metadata.fetch_metadata(None, Duration::from_secs(5)).ok()?;
        (m.brokers().len() == 3).then_some(())
    });
    let admin: AdminClient<DefaultClientContext> = config.create().expect("admin");
    let created = admin
        .create_topics(
            &[NewTopic::new("replicated", 1, TopicReplication::Fixed(3))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))),
        )
        .await
        .expect("create_topics");
    for r in created {
        r.expect("topic created");
    }
    let producer: FutureProducer = ClientConfig::clone(&config)
        .set("acks", "all")
        // Below replica.lag.time.max.ms (30 s): only followers fetching over TLS
        // can move the high watermark in time.
        .set("message.timeout.ms", "20000")
        .create()
        .expect("producer");
    for i in 0..5 {
        let value = format!("r{i}");
        producer
            .send(
                FutureRecord::<(), _>::to("replicated").payload(value.as_bytes()),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("acks=all over TLS replication");
    }
    // Every replica in the ISR: the followers fetched over TLS.
    wait_for("a full ISR", Duration::from_secs(30), || {
        let m = metadata
            .fetch_metadata(Some("replicated"), Duration::from_secs(5))
            .ok()?;
        let p = m.topics().first()?.partitions().first()?;
        (p.isr().len() == 3).then_some(())
    });
    drop(nodes);
}
