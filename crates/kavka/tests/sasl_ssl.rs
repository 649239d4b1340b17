//! SASL_SSL end to end, as a user meets it: a broker with a SASL_SSL listener
//! (SCRAM-SHA-256 and PLAIN) beside a SASL_PLAINTEXT one for administration.
//! A SCRAM user is created with `kavka configs --command-config` over the
//! internal listener; librdkafka then produces and consumes over SASL_SSL with
//! SCRAM-SHA-256; a PLAIN user without ACLs is refused by the authorizer. A
//! wrong password gets librdkafka's authentication error, and a client
//! trusting another CA never gets past the TLS handshake.
//! Every certificate is made by the test in its own directory.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use kavka_tls::testing::TestCa;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

const ADMIN_JAAS: &str =
    "org.apache.kafka.common.security.plain.PlainLoginModule required user_admin=\"admin-secret\";";
const EXTERNAL_PLAIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required user_reader=\"reader-secret\";";
const SCRAM_JAAS: &str = "org.apache.kafka.common.security.scram.ScramLoginModule required;";

/// A broker whose `PLAINTEXT`-named listener on `port` speaks SASL_PLAINTEXT
/// with PLAIN (the administrators' way in), and whose `EXTERNAL` listener on
/// the returned port speaks SASL_SSL with SCRAM-SHA-256 and PLAIN.
fn broker(dir: &Path, ca: &TestCa) -> (TestBroker, u16) {
    let server = ca.server("broker");
    let keystore = server.write_pem_keystore(dir, "broker");
    let port = free_port();
    let ssl_port = loop {
        let p = free_port();
        if p != port {
            break p;
        }
    };
    let overrides = [
        format!("listeners=PLAINTEXT://127.0.0.1:{port},EXTERNAL://127.0.0.1:{ssl_port}"),
        "listener.security.protocol.map=PLAINTEXT:SASL_PLAINTEXT,EXTERNAL:SASL_SSL".to_string(),
        "ssl.keystore.type=PEM".to_string(),
        format!("ssl.keystore.location={}", keystore.display()),
        "listener.name.plaintext.sasl.enabled.mechanisms=PLAIN".to_string(),
        format!("listener.name.plaintext.plain.sasl.jaas.config={ADMIN_JAAS}"),
        "listener.name.external.sasl.enabled.mechanisms=SCRAM-SHA-256,PLAIN".to_string(),
        format!("listener.name.external.scram-sha-256.sasl.jaas.config={SCRAM_JAAS}"),
        format!("listener.name.external.plain.sasl.jaas.config={EXTERNAL_PLAIN_JAAS}"),
        // Principals matter: alice (SCRAM over SASL_SSL) may do anything,
        // reader (PLAIN over SASL_SSL) has no ACL at all.
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer".to_string(),
        "super.users=User:admin;User:alice".to_string(),
    ];
    let refs: Vec<&str> = overrides.iter().map(String::as_str).collect();
    let b = TestBroker::start_on(port, &refs);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", ssl_port)).is_err() {
        assert!(Instant::now() < deadline, "port {ssl_port} never opened");
        std::thread::sleep(Duration::from_millis(50));
    }
    (b, ssl_port)
}

/// Runs `kavka configs` over the SASL_PLAINTEXT listener as `admin`.
fn configs_as_admin(broker: &TestBroker, args: &[&str]) -> (bool, String) {
    let file = broker.dir.with_extension("admin.properties");
    std::fs::write(
        &file,
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n\
         sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
         username=\"admin\" password=\"admin-secret\";\n",
    )
    .unwrap();
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

/// librdkafka on the SASL_SSL port, trusting the CA certificate in `ca_file`.
fn sasl_ssl_config(
    ssl_port: u16,
    ca_file: &Path,
    mechanism: &str,
    user: &str,
    password: &str,
) -> ClientConfig {
    let mut c = client_config(&format!("127.0.0.1:{ssl_port}"));
    c.set("security.protocol", "SASL_SSL")
        .set("ssl.ca.location", ca_file.display().to_string())
        .set("sasl.mechanism", mechanism)
        .set("sasl.username", user)
        .set("sasl.password", password)
        .set("message.timeout.ms", "15000")
        .set("socket.timeout.ms", "5000");
    c
}

/// Collects the client-level errors librdkafka reports (authentication and
/// TLS failures surface here, not on a request).
#[derive(Clone, Default)]
struct ErrorLog(std::sync::Arc<std::sync::Mutex<Vec<(RDKafkaErrorCode, String)>>>);

impl ClientContext for ErrorLog {
    fn error(&self, error: KafkaError, reason: &str) {
        if let Some(code) = error.rdkafka_error_code() {
            if let Ok(mut seen) = self.0.lock() {
                seen.push((code, reason.to_string()));
            }
        }
    }
}
impl ConsumerContext for ErrorLog {}

impl ErrorLog {
    /// Waits until an error with `code` was reported; its reason.
    fn wait_for(&self, consumer: &BaseConsumer<ErrorLog>, code: RDKafkaErrorCode) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // Errors reach the context while the client is polled.
            let _ = consumer.poll(Duration::from_millis(200));
            let seen = self.0.lock().map(|s| s.clone()).unwrap_or_default();
            if let Some((_, reason)) = seen.iter().find(|(c, _)| *c == code) {
                return reason.clone();
            }
            assert!(
                Instant::now() < deadline,
                "librdkafka never reported {code:?}; it reported {seen:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scram_over_sasl_ssl_round_trips_and_refuses_wrong_passwords_and_strange_cas() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Kavka Test CA");
    let (b, ssl_port) = broker(dir.path(), &ca);
    let trusted = dir.path().join("trusted-ca.pem");
    std::fs::write(&trusted, ca.cert_pem()).unwrap();

    // The SCRAM user, made over the internal listener as Kafka's tool would.
    let (ok, out) = configs_as_admin(
        &b,
        &[
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
            "--alter",
            "--add-config",
            "SCRAM-SHA-256=[iterations=4096,password=alice-secret]",
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(out, "Completed updating config for user alice.\n");

    // librdkafka over SASL_SSL with SCRAM-SHA-256: produce, then consume.
    let alice = sasl_ssl_config(ssl_port, &trusted, "SCRAM-SHA-256", "alice", "alice-secret");
    let producer: FutureProducer = alice.create().expect("producer");
    for i in 0..3 {
        producer
            .send(
                FutureRecord::<(), _>::to("over-sasl-ssl")
                    .payload(format!("secret-{i}").as_bytes()),
                Duration::from_secs(20),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("delivered over SASL_SSL with SCRAM");
    }
    let consumer: BaseConsumer = alice
        .clone()
        .set("group.id", "sasl-ssl-test")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("over-sasl-ssl", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let values: Vec<Vec<u8>> = consume_n(&consumer, 3, Duration::from_secs(20))
        .iter()
        .map(payload)
        .collect();
    assert_eq!(
        values,
        vec![
            b"secret-0".to_vec(),
            b"secret-1".to_vec(),
            b"secret-2".to_vec()
        ]
    );
    // PLAIN on the same SASL_SSL listener logs reader in as User:reader, who
    // has no ACL: Kafka's authorization error, not a login failure.
    let reader: FutureProducer =
        sasl_ssl_config(ssl_port, &trusted, "PLAIN", "reader", "reader-secret")
            .create()
            .expect("producer");
    let denied = reader
        .send(
            FutureRecord::<(), _>::to("over-sasl-ssl").payload("not allowed"),
            Duration::from_secs(20),
        )
        .await
        .map_err(|(e, _)| e);
    assert!(
        matches!(
            denied,
            Err(KafkaError::MessageProduction(
                RDKafkaErrorCode::TopicAuthorizationFailed
            ))
        ),
        "{denied:?}"
    );

    // A wrong SCRAM password: librdkafka's authentication error, with Kafka's words.
    let errors = ErrorLog::default();
    let wrong: BaseConsumer<ErrorLog> =
        sasl_ssl_config(ssl_port, &trusted, "SCRAM-SHA-256", "alice", "guess")
            .create_with_context(errors.clone())
            .expect("consumer");
    let reason = errors.wait_for(&wrong, RDKafkaErrorCode::Authentication);
    assert!(
        reason.contains("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"),
        "{reason}"
    );
    // The admin's PLAIN password is no SCRAM credential on the external listener.
    let errors = ErrorLog::default();
    let admin_here: BaseConsumer<ErrorLog> =
        sasl_ssl_config(ssl_port, &trusted, "PLAIN", "admin", "admin-secret")
            .create_with_context(errors.clone())
            .expect("consumer");
    let reason = errors.wait_for(&admin_here, RDKafkaErrorCode::Authentication);
    assert!(reason.contains("Invalid username or password"), "{reason}");

    // A client that trusts another CA fails the handshake, before any SASL.
    let stranger = dir.path().join("stranger-ca.pem");
    std::fs::write(&stranger, TestCa::new("Someone Else").cert_pem()).unwrap();
    let errors = ErrorLog::default();
    let untrusting: BaseConsumer<ErrorLog> = sasl_ssl_config(
        ssl_port,
        &stranger,
        "SCRAM-SHA-256",
        "alice",
        "alice-secret",
    )
    .create_with_context(errors.clone())
    .expect("consumer");
    let reason = errors.wait_for(&untrusting, RDKafkaErrorCode::SSL);
    assert!(reason.contains("certificate verify failed"), "{reason}");
}
