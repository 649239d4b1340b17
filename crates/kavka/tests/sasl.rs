//! SASL on a SASL_PLAINTEXT listener, as a user meets it: librdkafka producing
//! and consuming with PLAIN, wrong passwords refused with Kafka's error and the
//! connection closed, requests before authentication closing the connection,
//! SCRAM users created with `kavka configs` logging in, also after a restart.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use bytes::Buf;
use common::*;
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::Offset;

const PLAIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required user_admin=\"admin-secret\" user_writer=\"writer-secret\";";
const SCRAM_JAAS: &str = "org.apache.kafka.common.security.scram.ScramLoginModule required;";

/// A broker whose one listener (named PLAINTEXT) speaks SASL_PLAINTEXT.
fn sasl_broker() -> TestBroker {
    TestBroker::start_with(&[
        "listener.security.protocol.map=PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        &format!("listener.name.plaintext.plain.sasl.jaas.config={PLAIN_JAAS}"),
        &format!("listener.name.plaintext.scram-sha-256.sasl.jaas.config={SCRAM_JAAS}"),
        &format!("listener.name.plaintext.scram-sha-512.sasl.jaas.config={SCRAM_JAAS}"),
    ])
}

fn sasl_config(bootstrap: &str, user: &str, password: &str) -> rdkafka::ClientConfig {
    let mut c = client_config(bootstrap);
    c.set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "PLAIN")
        .set("sasl.username", user)
        .set("sasl.password", password);
    c
}

/// A request on a raw socket; the answer's body, or None once the broker closed.
fn raw<Resp: Decodable>(
    stream: &mut TcpStream,
    key: ApiKey,
    version: i16,
    body: &impl Encodable,
) -> Option<Resp> {
    let mut response = raw_round_trip(stream, key, version, 1, "sasl-test", |buf| {
        body.encode(buf, version).unwrap()
    })?;
    response.advance(4);
    if key.response_header_version(version) >= 1 {
        response.advance(1);
    }
    Some(Resp::decode(&mut response, version).unwrap())
}

fn closed(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut b = [0u8; 1];
    matches!(stream.read(&mut b), Ok(0) | Err(_))
}

#[tokio::test]
async fn plain_clients_produce_and_consume_and_a_wrong_password_is_refused() {
    let broker = sasl_broker();
    let bootstrap = broker.bootstrap();

    // librdkafka logs in with PLAIN, creates a topic, produces and consumes.
    let producer: rdkafka::producer::FutureProducer =
        sasl_config(&bootstrap, "writer", "writer-secret")
            .set("message.timeout.ms", "20000")
            .create()
            .unwrap();
    producer
        .send(
            FutureRecord::<[u8], [u8]>::to("secured").payload(b"hello"),
            Duration::from_secs(20),
        )
        .await
        .map_err(|(e, _)| e)
        .expect("delivered over SASL");
    let consumer: BaseConsumer = sasl_config(&bootstrap, "admin", "admin-secret")
        .set("group.id", "sasl-test")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("secured", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let got = consume_n(&consumer, 1, Duration::from_secs(20));
    assert_eq!(
        got.iter().map(payload).collect::<Vec<_>>(),
        vec![b"hello".to_vec()]
    );

    // A wrong password gets Kafka's error, then the connection is closed.
    let mut s = TcpStream::connect(&bootstrap).unwrap();
    let hs: SaslHandshakeResponse = raw(
        &mut s,
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
    )
    .unwrap();
    assert_eq!(hs.error_code, 0);
    let auth: SaslAuthenticateResponse = raw(
        &mut s,
        ApiKey::SaslAuthenticate,
        2,
        &SaslAuthenticateRequest::default().with_auth_bytes(b"\0admin\0guess".to_vec().into()),
    )
    .unwrap();
    assert_eq!(auth.error_code, 58, "SASL_AUTHENTICATION_FAILED");
    assert_eq!(
        auth.error_message.as_deref(),
        Some("Authentication failed: Invalid username or password")
    );
    assert!(closed(&mut s));
    assert!(broker.log_text().contains("authentication failed"));

    // librdkafka with a wrong password gets no metadata.
    let refused: BaseConsumer = sasl_config(&bootstrap, "admin", "guess").create().unwrap();
    assert!(refused
        .fetch_metadata(None, Duration::from_secs(3))
        .is_err());

    // An unsupported mechanism is answered with the enabled ones.
    let mut s = TcpStream::connect(&bootstrap).unwrap();
    let hs: SaslHandshakeResponse = raw(
        &mut s,
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("GSSAPI")),
    )
    .unwrap();
    assert_eq!(hs.error_code, 33, "UNSUPPORTED_SASL_MECHANISM");
    assert_eq!(
        hs.mechanisms
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>(),
        vec!["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    );
    assert!(closed(&mut s));
}

#[test]
fn a_request_before_authentication_closes_the_connection() {
    let broker = sasl_broker();
    let mut s = TcpStream::connect(broker.bootstrap()).unwrap();
    let answer: Option<kafka_protocol::messages::MetadataResponse> =
        raw(&mut s, ApiKey::Metadata, 12, &MetadataRequest::default());
    assert!(
        answer.is_none(),
        "Metadata was answered before authentication"
    );
    // Garbage where a token should be closes too.
    let mut s = TcpStream::connect(broker.bootstrap()).unwrap();
    let _: SaslHandshakeResponse = raw(
        &mut s,
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("SCRAM-SHA-256")),
    )
    .unwrap();
    let auth: Option<SaslAuthenticateResponse> = raw(
        &mut s,
        ApiKey::SaslAuthenticate,
        2,
        &SaslAuthenticateRequest::default().with_auth_bytes(vec![0xff, 0, 1].into()),
    );
    assert_eq!(auth.map(|a| a.error_code), Some(58));
    assert!(closed(&mut s));
}

/// Runs `kavka configs` with a `--command-config` holding these properties.
fn configs(broker: &TestBroker, props: &str, args: &[&str]) -> (bool, String) {
    let file = broker.dir.with_extension("client.properties");
    std::fs::write(&file, props).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kavka"))
        .arg("configs")
        .arg("--bootstrap-server")
        .arg(broker.bootstrap())
        .arg("--command-config")
        .arg(&file)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn jaas_props(mechanism: &str, module: &str, user: &str, password: &str) -> String {
    format!(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism={mechanism}\n\
         sasl.jaas.config=org.apache.kafka.common.security.{module} required username=\"{user}\" password=\"{password}\";\n"
    )
}

#[test]
fn scram_users_created_by_kavka_configs_log_in_and_survive_a_restart() {
    let mut broker = sasl_broker();
    let admin = jaas_props("PLAIN", "plain.PlainLoginModule", "admin", "admin-secret");
    let (ok, out) = configs(
        &broker,
        &admin,
        &[
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
            "--alter",
            "--add-config",
            "SCRAM-SHA-512=[iterations=8192,password=alice-secret]",
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(out, "Completed updating config for user alice.\n");
    let alice = jaas_props(
        "SCRAM-SHA-512",
        "scram.ScramLoginModule",
        "alice",
        "alice-secret",
    );
    let describe = [
        "--entity-type",
        "users",
        "--entity-name",
        "alice",
        "--describe",
    ];
    let expected =
        "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-512=iterations=8192\n";
    assert_eq!(
        configs(&broker, &alice, &describe),
        (true, expected.to_string())
    );
    // A wrong password, and the right password with another mechanism, fail.
    let wrong = jaas_props("SCRAM-SHA-512", "scram.ScramLoginModule", "alice", "guess");
    let (ok, out) = configs(&broker, &wrong, &describe);
    assert!(!ok);
    assert!(out.contains("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"), "{out}");
    let other = jaas_props(
        "SCRAM-SHA-256",
        "scram.ScramLoginModule",
        "alice",
        "alice-secret",
    );
    assert!(!configs(&broker, &other, &describe).0);

    // Credentials live in the metadata log: a restart keeps them.
    broker.stop();
    broker.restart();
    assert_eq!(
        configs(&broker, &alice, &describe),
        (true, expected.to_string())
    );

    // Deleting removes the login; deleting again is Kafka's RESOURCE_NOT_FOUND.
    let delete = [
        "--entity-type",
        "users",
        "--entity-name",
        "alice",
        "--alter",
        "--delete-config",
        "SCRAM-SHA-512",
    ];
    assert!(configs(&broker, &admin, &delete).0);
    assert!(!configs(&broker, &alice, &describe).0);
    let (ok, out) = configs(&broker, &admin, &delete);
    assert!(!ok);
    assert!(
        out.contains("Attempt to delete a user credential that does not exist"),
        "{out}"
    );
}
