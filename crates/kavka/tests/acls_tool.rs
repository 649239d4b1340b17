//! `kavka acls` (Kafka's `kafka-acls`) run as a user types it, against a broker
//! with the authorizer on: what it prints is Kafka's text (captured from Apache
//! Kafka 4.4's tool, see compat/cli/acls.sh), and the ACLs it adds and removes
//! decide what a librdkafka consumer (`User:ANONYMOUS` on PLAINTEXT) may read.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::acls::AUTHORIZER;
use common::TestBroker;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::Offset;

fn acls<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kavka"))
        .arg("acls")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kavka");
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("kavka output")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o)
}

/// The first record of `topic`, or the error code the fetch ends with.
fn read_first(bootstrap: &str, topic: &str) -> Result<Vec<u8>, Option<RDKafkaErrorCode>> {
    let consumer = common::assigned_consumer(bootstrap, topic, &[0], Offset::Beginning);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => return Ok(common::payload(&m.detach())),
            Some(Err(e)) => return Err(e.rdkafka_error_code()),
            None => {}
        }
    }
    Err(None)
}

/// `--bootstrap-server B` and then `extra`.
fn with_bootstrap(bootstrap: &str, extra: &[&str]) -> Vec<String> {
    ["--bootstrap-server", bootstrap]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

const PATTERN: &str = "ResourcePattern(resourceType=TOPIC, name=secret, patternType=LITERAL)";

#[tokio::test]
async fn an_acl_added_by_the_tool_denies_a_consumer_until_it_is_removed() {
    // Open where no ACL is found, so the anonymous client may manage ACLs.
    let broker = TestBroker::start_with(&[AUTHORIZER, "allow.everyone.if.no.acl.found=true"]);
    let b = broker.bootstrap();
    common::create_topic(&b, "secret", 1).await;
    let producer = common::producer(&b, &[]);
    common::send(&producer, "secret", None, Some(b"hidden")).await;
    let with = |extra: &[&'static str]| with_bootstrap(&b, extra);

    let allow_all = with(&[
        "--add",
        "--allow-principal",
        "User:ANONYMOUS",
        "--topic",
        "secret",
    ]);
    assert_eq!(
        ok(acls(&allow_all, "")),
        format!(
            "Adding ACLs for resource `{PATTERN}`: \n \t(principal=User:ANONYMOUS, host=*, operation=ALL, permissionType=ALLOW)\n\n"
        )
    );
    assert_eq!(read_first(&b, "secret"), Ok(b"hidden".to_vec()));

    let deny_read = with(&[
        "--add",
        "--deny-principal",
        "User:ANONYMOUS",
        "--operation",
        "Read",
        "--topic",
        "secret",
    ]);
    ok(acls(&deny_read, ""));
    assert_eq!(
        ok(acls(&deny_read, "")),
        format!(
            "Acl (pattern={PATTERN}, entry=(principal=User:ANONYMOUS, host=*, operation=READ, permissionType=DENY)) already exists.\n"
        )
    );
    assert_eq!(
        ok(acls(&with(&["--list", "--topic", "secret"]), "")),
        format!(
            "Current ACLs for resource `{PATTERN}`:\n\
             \t(principal=User:ANONYMOUS, host=*, operation=ALL, permissionType=ALLOW)\n\
             \t(principal=User:ANONYMOUS, host=*, operation=READ, permissionType=DENY)\n\n"
        )
    );
    assert_eq!(
        read_first(&b, "secret"),
        Err(Some(RDKafkaErrorCode::TopicAuthorizationFailed))
    );

    let mut remove_deny = deny_read.clone();
    remove_deny[2] = "--remove".to_string();
    remove_deny.push("--force".to_string());
    assert_eq!(ok(acls(&remove_deny, "")), "");
    assert_eq!(read_first(&b, "secret"), Ok(b"hidden".to_vec()));

    // Without --force the tool asks; anything but y keeps the ACLs.
    let remove_all = with(&["--remove", "--topic", "secret"]);
    let question = format!(
        "Are you sure you want to delete all ACLs for resource filter `{PATTERN}`? (y/n)\n"
    );
    assert_eq!(ok(acls(&remove_all, "n\n")), question);
    assert!(ok(acls(&with(&["--list"]), "")).contains("operation=ALL"));
    assert_eq!(ok(acls(&remove_all, "y\n")), question);
    assert_eq!(ok(acls(&with(&["--list"]), "")), "");
}

#[test]
fn bad_flag_combinations_print_kafkas_message_and_exit_1() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["--bootstrap-server", "127.0.0.1:1", "--topic", "t"],
            "Command must include exactly one action: --list, --add, --remove. ",
        ),
        (
            &["--add", "--topic", "t"],
            "One of --bootstrap-server or --bootstrap-controller must be specified",
        ),
        (
            &["--bootstrap-server", "127.0.0.1:1", "--list", "--producer", "--topic", "t"],
            "Option \"[list]\" can't be used with option \"[producer]\"",
        ),
        (
            &["--bootstrap-server", "127.0.0.1:1", "--add", "--consumer", "--topic", "t"],
            "With --consumer you must specify a --topic and a --group and no --cluster or --transactional-id option should be specified.",
        ),
    ];
    for (args, message) in cases {
        let o = acls(args, "");
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(err.lines().next(), Some(message), "{args:?}: {err}");
    }
}

#[test]
fn a_broker_without_an_authorizer_answers_security_disabled() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let o = acls(&["--bootstrap-server", b.as_str(), "--list"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("Error while executing ACL command: org.apache.kafka.common.errors.SecurityDisabledException: "),
        "{}",
        stdout(&o)
    );
}
