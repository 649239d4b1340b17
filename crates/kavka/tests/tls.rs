//! TLS listeners: a broker serving PLAINTEXT and SSL side by side, librdkafka
//! over TLS and mutual TLS, the principal from the client certificate, and
//! clients that get the protocol wrong refused without harming anyone else.
//! Every certificate is made by the test in its own directory.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};
use kafka_protocol::protocol::Encodable;
use kavka_tls::testing::{Issued, TestCa};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

/// A broker with a PLAINTEXT listener on `port` and an SSL one on `ssl_port`,
/// its key store a PEM file, trusting `ca`.
fn broker(dir: &Path, ca: &TestCa, extra: &[String]) -> (TestBroker, u16) {
    let server = ca.server("broker");
    let keystore = server.write_pem_keystore(dir, "broker");
    let truststore = server.write_pem_truststore(dir, "broker");
    let port = free_port();
    let ssl_port = loop {
        let p = free_port();
        if p != port {
            break p;
        }
    };
    let mut overrides = vec![
        format!("listeners=PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port}"),
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL".to_string(),
        "ssl.keystore.type=PEM".to_string(),
        format!("ssl.keystore.location={}", keystore.display()),
        "ssl.truststore.type=PEM".to_string(),
        format!("ssl.truststore.location={}", truststore.display()),
    ];
    overrides.extend(extra.iter().cloned());
    let refs: Vec<&str> = overrides.iter().map(String::as_str).collect();
    let b = TestBroker::start_on(port, &refs);
    wait_for(ssl_port);
    (b, ssl_port)
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An rdkafka config for the SSL listener, trusting `ca`, with `client`'s
/// certificate when given.
fn ssl_config(
    ssl_port: u16,
    dir: &Path,
    ca: &TestCa,
    client: Option<(&Issued, &str)>,
) -> ClientConfig {
    let ca_file = dir.join("client-ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).expect("ca file");
    let mut c = client_config(&format!("127.0.0.1:{ssl_port}"));
    c.set("security.protocol", "ssl")
        .set("ssl.ca.location", ca_file.display().to_string())
        .set("message.timeout.ms", "10000")
        .set("socket.timeout.ms", "5000");
    if let Some((cert, name)) = client {
        let ks = cert.write_pem_keystore(dir, name);
        c.set("ssl.key.location", ks.display().to_string())
            .set("ssl.certificate.location", ks.display().to_string());
    }
    c
}

async fn produce_and_consume(config: &ClientConfig, topic: &str) {
    let producer: FutureProducer = config.clone().create().expect("producer");
    for i in 0..3 {
        let value = format!("secret-{i}");
        producer
            .send(
                FutureRecord::<(), _>::to(topic).payload(value.as_bytes()),
                Duration::from_secs(15),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("delivered over TLS");
    }
    let consumer: BaseConsumer = config
        .clone()
        .set("group.id", "tls-test")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let got = consume_n(&consumer, 3, Duration::from_secs(20));
    let values: Vec<Vec<u8>> = got.iter().map(payload).collect();
    assert_eq!(
        values,
        vec![
            b"secret-0".to_vec(),
            b"secret-1".to_vec(),
            b"secret-2".to_vec()
        ]
    );
}

/// Metadata asked on `ssl_port` must name that listener's port, or librdkafka
/// would go on to the PLAINTEXT port with TLS and fail.
#[tokio::test(flavor = "multi_thread")]
async fn plaintext_and_ssl_listeners_serve_librdkafka_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Kavka Test CA");
    let (b, ssl_port) = broker(dir.path(), &ca, &[]);
    create_topic(&b.bootstrap(), "over-tls", 1).await;
    produce_and_consume(&ssl_config(ssl_port, dir.path(), &ca, None), "over-tls").await;
    // The PLAINTEXT listener still serves plaintext clients, the same data.
    let plain = assigned_consumer(&b.bootstrap(), "over-tls", &[0], Offset::Beginning);
    assert_eq!(consume_n(&plain, 3, Duration::from_secs(20)).len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_maps_the_certificate_dn_to_the_principal() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Kavka Test CA");
    let (b, ssl_port) = broker(
        dir.path(),
        &ca,
        &[
            "ssl.client.auth=required".to_string(),
            "ssl.principal.mapping.rules=RULE:^CN=([^,]+),OU=Eng,.*$/$1/L,DEFAULT".to_string(),
        ],
    );
    create_topic(&b.bootstrap(), "mtls", 1).await;
    let alice = ca.client(&[
        (kavka_tls::testing::DnType::CountryName, "DE"),
        (kavka_tls::testing::DnType::OrganizationName, "Kavka"),
        (kavka_tls::testing::DnType::OrganizationalUnitName, "Eng"),
        (kavka_tls::testing::DnType::CommonName, "Alice"),
    ]);
    produce_and_consume(
        &ssl_config(ssl_port, dir.path(), &ca, Some((&alice, "alice"))),
        "mtls",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.log_text().contains("principal=User:alice") {
        assert!(
            Instant::now() < deadline,
            "no authenticated-connection line for User:alice in the log:\n{}",
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_client_certificate_is_refused_with_an_audit_line() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Kavka Test CA");
    let (b, ssl_port) = broker(dir.path(), &ca, &["ssl.client.auth=required".to_string()]);
    let stranger_ca = TestCa::new("Someone Else");
    let mallory = stranger_ca.client(&[(kavka_tls::testing::DnType::CommonName, "mallory")]);
    let config = ssl_config(ssl_port, dir.path(), &ca, Some((&mallory, "mallory")));
    let producer: FutureProducer = config.create().expect("producer");
    let refused = producer
        .send(
            FutureRecord::<(), _>::to("anything").payload("x"),
            Duration::from_secs(5),
        )
        .await;
    assert!(refused.is_err(), "a stranger's record was accepted");
    let log = b.log_text();
    assert!(
        log.contains("Failed authentication with 127.0.0.1")
            && log.contains("SSL handshake failed"),
        "no audit line:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_protocol_clients_are_closed_and_others_unaffected() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Kavka Test CA");
    let (b, ssl_port) = broker(dir.path(), &ca, &[]);
    create_topic(&b.bootstrap(), "bystander", 1).await;
    // A plaintext Kafka request on the SSL port: closed, no answer.
    let mut plain_on_tls = TcpStream::connect(("127.0.0.1", ssl_port)).unwrap();
    plain_on_tls
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let answer = raw_round_trip(
        &mut plain_on_tls,
        ApiKey::ApiVersions,
        3,
        1,
        "plain",
        |buf| ApiVersionsRequest::default().encode(buf, 3).unwrap(),
    );
    assert!(
        answer.is_none(),
        "a plaintext request was answered on the SSL port"
    );
    // A TLS ClientHello on the PLAINTEXT port: closed.
    let mut tls_on_plain = TcpStream::connect(b.bootstrap()).unwrap();
    tls_on_plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let hello = [
        0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03,
    ];
    tls_on_plain.write_all(&hello).unwrap();
    let mut byte = [0u8; 1];
    assert!(matches!(tls_on_plain.read(&mut byte), Ok(0) | Err(_)));
    // Both broke only their own connections.
    produce_and_consume(&ssl_config(ssl_port, dir.path(), &ca, None), "bystander").await;
    let log = b.log_text();
    assert!(log.contains("not a TLS handshake"), "{log}");
    assert!(
        log.contains("TLS handshake on a plaintext listener"),
        "{log}"
    );
}

fn kavka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kavka"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kavka")
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_speak_tls_with_a_command_config_as_kafkas_do() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Kavka Test CA");
    let (_b, ssl_port) = broker(dir.path(), &ca, &["ssl.client.auth=required".to_string()]);
    let tool_cert = ca.client(&[(kavka_tls::testing::DnType::CommonName, "ops")]);
    // PKCS12 stores, as keytool writes them for Java's tools.
    let truststore = tool_cert.write_pkcs12_truststore(dir.path(), "ops", "trust-pw");
    let keystore = tool_cert.write_pkcs12_keystore(dir.path(), "ops", "key-pw");
    let config = dir.path().join("client-ssl.properties");
    std::fs::write(
        &config,
        format!(
            "security.protocol=SSL\nssl.truststore.type=PKCS12\nssl.truststore.location={}\n\
             ssl.truststore.password=trust-pw\nssl.keystore.type=PKCS12\n\
             ssl.keystore.location={}\nssl.keystore.password=key-pw\nssl.key.password=key-pw\n",
            truststore.display(),
            keystore.display()
        ),
    )
    .unwrap();
    let bootstrap = format!("127.0.0.1:{ssl_port}");
    let config = config.display().to_string();
    let created = kavka(&[
        "topics",
        "--bootstrap-server",
        &bootstrap,
        "--command-config",
        &config,
        "--create",
        "--topic",
        "tool-tls",
        "--partitions",
        "2",
    ]);
    assert!(created.status.success(), "{created:?}");
    let listed = kavka(&[
        "topics",
        "--bootstrap-server",
        &bootstrap,
        "--command-config",
        &config,
        "--list",
    ]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("tool-tls"),
        "{listed:?}"
    );
    // Without the TLS settings the tool cannot talk to the SSL port.
    let refused = kavka(&["topics", "--bootstrap-server", &bootstrap, "--list"]);
    assert!(
        !refused.status.success() || !String::from_utf8_lossy(&refused.stdout).contains("tool-tls")
    );
    // The console producer and consumer through librdkafka, same properties file.
    let mut producer = Command::new(env!("CARGO_BIN_EXE_kavka"))
        .args([
            "console-producer",
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            "tool-tls",
            "--producer.config",
            &config,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    producer
        .stdin
        .take()
        .unwrap()
        .write_all(b"one\ntwo\n")
        .unwrap();
    let produced = producer.wait_with_output().unwrap();
    assert!(produced.status.success(), "{produced:?}");
    let consumed = kavka(&[
        "console-consumer",
        "--bootstrap-server",
        &bootstrap,
        "--topic",
        "tool-tls",
        "--from-beginning",
        "--max-messages",
        "2",
        "--timeout-ms",
        "20000",
        "--consumer.config",
        &config,
    ]);
    let out = String::from_utf8_lossy(&consumed.stdout);
    assert!(out.contains("one") && out.contains("two"), "{consumed:?}");
}
