//! The lecture's command-line flow, run through the `kavka` binary exactly as a user
//! types it. Expected outputs are what Apache Kafka 4.4's own tools printed for the
//! same commands (see compat/reference-outputs/).
//!
//! Each test starts its own Kavka broker. With `KAVKA_TEST_BOOTSTRAP=host:port` they run
//! against that broker instead (e.g. the reference Kafka of `compat/kafka-ref.sh`), with
//! unique topic and group names.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TestBroker;

/// A broker to talk to: our own, or the one named by `KAVKA_TEST_BOOTSTRAP`.
struct Target {
    _broker: Option<TestBroker>,
    bootstrap: String,
    suffix: String,
}

impl Target {
    fn start() -> Self {
        match std::env::var("KAVKA_TEST_BOOTSTRAP") {
            Ok(bootstrap) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0);
                Self {
                    _broker: None,
                    bootstrap,
                    suffix: format!("-{nanos}"),
                }
            }
            Err(_) => {
                let broker = TestBroker::start();
                let bootstrap = broker.bootstrap();
                Self {
                    _broker: Some(broker),
                    bootstrap,
                    suffix: String::new(),
                }
            }
        }
    }

    /// A topic or group name, made unique on a shared broker.
    fn name(&self, base: &str) -> String {
        format!("{base}{}", self.suffix)
    }

    /// Runs `kavka <tool> --bootstrap-server B <args>` with `stdin`.
    fn tool(&self, tool: &str, args: &[&str], stdin: &str) -> Output {
        let mut full = vec!["--bootstrap-server", self.bootstrap.as_str()];
        full.extend_from_slice(args);
        run(&[tool], &full, stdin)
    }
}

fn run(prefix: &[&str], args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kavka"))
        .args(prefix)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kavka");
    // The tool may exit before reading its input (a refused connection): ignore EPIPE.
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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// The TopicId differs on every run.
fn mask_topic_id(s: &str) -> String {
    s.lines()
        .map(|l| match l.find("TopicId: ") {
            Some(i) => {
                let rest = &l[i + 9..];
                let end = rest.find('\t').unwrap_or(rest.len());
                format!("{}TopicId: X{}", &l[..i], &rest[end..])
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const ORDERS: &str = "1001:{\"orderId\":1001,\"userId\":42}\n1002:{\"orderId\":1002,\"userId\":7}\n1003:{\"orderId\":1003,\"userId\":42}\n";
const KEYED: [&str; 4] = [
    "--property",
    "parse.key=true",
    "--property",
    "key.separator=:",
];

fn create_order_topic(t: &Target, topic: &str) {
    let o = t.tool(
        "topics",
        &[
            "--create",
            "--topic",
            topic,
            "--partitions",
            "3",
            "--replication-factor",
            "1",
        ],
        "",
    );
    assert_ok(&o);
    assert_eq!(stdout(&o), format!("Created topic {topic}.\n"));
}

fn produce_orders(t: &Target, topic: &str) {
    let mut args = vec!["--topic", topic];
    args.extend_from_slice(&KEYED);
    let o = t.tool("console-producer", &args, ORDERS);
    assert_ok(&o);
    assert_eq!(
        stdout(&o),
        "Warning: --property is deprecated and will be removed in a future version. Use --reader-property instead.\n"
    );
}

#[test]
fn lecture_create_list_describe_topic() {
    let t = Target::start();
    let topic = t.name("order-placed");
    create_order_topic(&t, &topic);

    let list = t.tool("topics", &["--list"], "");
    assert_ok(&list);
    assert!(
        stdout(&list).lines().any(|l| l == topic),
        "{}",
        stdout(&list)
    );

    let describe = t.tool("topics", &["--describe", "--topic", &topic], "");
    assert_ok(&describe);
    let text = mask_topic_id(&stdout(&describe));
    let mut lines = text.lines();
    let head = lines.next().unwrap_or_default();
    // Kafka 4.x shows the cluster-wide min.insync.replicas set when it was formatted.
    assert_eq!(
        head,
        format!(
            "Topic: {topic}\tTopicId: X\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: min.insync.replicas=1"
        )
    );
    for p in 0..3 {
        assert_eq!(
            lines.next(),
            Some(format!("\tTopic: {topic}\tPartition: {p}\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: \tLastKnownElr: ").as_str())
        );
    }

    let again = t.tool(
        "topics",
        &["--create", "--topic", &topic, "--partitions", "3"],
        "",
    );
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        stdout(&again),
        format!("Error while executing topic command : Topic '{topic}' already exists.\n")
    );
    let quiet = t.tool(
        "topics",
        &["--create", "--topic", &topic, "--if-not-exists"],
        "",
    );
    assert_ok(&quiet);
    assert_eq!(stdout(&quiet), "");
}

#[test]
fn keyed_lines_land_on_kafkas_partitions() {
    let t = Target::start();
    let topic = t.name("order-placed");
    create_order_topic(&t, &topic);
    produce_orders(&t, &topic);

    // Java's murmur2 partitioner put 1001 and 1002 on partition 0 and 1003 on 1.
    let p0 = t.tool(
        "console-consumer",
        &[
            "--topic",
            &topic,
            "--partition",
            "0",
            "--offset",
            "earliest",
            "--max-messages",
            "2",
            "--formatter-property",
            "print.key=true",
            "--formatter-property",
            "print.partition=true",
        ],
        "",
    );
    assert_ok(&p0);
    assert_eq!(
        stdout(&p0),
        "Partition:0\t1001\t{\"orderId\":1001,\"userId\":42}\nPartition:0\t1002\t{\"orderId\":1002,\"userId\":7}\n"
    );
    assert_eq!(stderr(&p0), "Processed a total of 2 messages\n");

    let p1 = t.tool(
        "console-consumer",
        &[
            "--topic",
            &topic,
            "--partition",
            "1",
            "--offset",
            "0",
            "--max-messages",
            "1",
            "--property",
            "print.key=true",
        ],
        "",
    );
    assert_ok(&p1);
    assert_eq!(
        stdout(&p1),
        "Option --property is deprecated and will be removed in a future version. Use --formatter-property instead.\n\
         1003\t{\"orderId\":1003,\"userId\":42}\n"
    );
}

#[test]
fn consumer_timeout_ends_with_kafkas_message() {
    let t = Target::start();
    let topic = t.name("quiet");
    create_order_topic(&t, &topic);
    let o = t.tool(
        "console-consumer",
        &[
            "--topic",
            &topic,
            "--partition",
            "2",
            "--offset",
            "latest",
            "--timeout-ms",
            "500",
        ],
        "",
    );
    assert_ok(&o);
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).ends_with(
        "org.apache.kafka.common.errors.TimeoutException\nProcessed a total of 0 messages\n"
    ));
}

#[test]
fn configs_describe_alter_and_delete() {
    let t = Target::start();
    let topic = t.name("order-placed");
    create_order_topic(&t, &topic);
    let describe = || {
        t.tool(
            "configs",
            &[
                "--entity-type",
                "topics",
                "--entity-name",
                &topic,
                "--describe",
            ],
            "",
        )
    };

    let o = describe();
    assert_ok(&o);
    assert_eq!(
        stdout(&o),
        format!("Dynamic configs for topic {topic} are:\n")
    );

    let o = t.tool(
        "configs",
        &[
            "--entity-type",
            "topics",
            "--entity-name",
            &topic,
            "--alter",
            "--add-config",
            "retention.ms=86400000",
        ],
        "",
    );
    assert_ok(&o);
    assert_eq!(
        stdout(&o),
        format!("Completed updating config for topic {topic}.\n")
    );

    let o = describe();
    assert_ok(&o);
    assert_eq!(
        stdout(&o),
        format!(
            "Dynamic configs for topic {topic} are:\n  retention.ms=86400000 sensitive=false synonyms={{DYNAMIC_TOPIC_CONFIG:retention.ms=86400000}}\n"
        )
    );

    let o = t.tool(
        "configs",
        &[
            "--entity-type",
            "topics",
            "--entity-name",
            &topic,
            "--alter",
            "--delete-config",
            "retention.ms",
        ],
        "",
    );
    assert_ok(&o);
    let o = describe();
    assert_eq!(
        stdout(&o),
        format!("Dynamic configs for topic {topic} are:\n")
    );
}

#[test]
fn unknown_topic_is_an_error_with_status_1() {
    let t = Target::start();
    let o = t.tool("topics", &["--describe", "--topic", "no-such-topic"], "");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "Error while executing topic command : Topic 'no-such-topic' does not exist as expected\n"
    );
    let o = t.tool(
        "topics",
        &["--delete", "--topic", "no-such-topic", "--if-exists"],
        "",
    );
    assert_ok(&o);
}

#[test]
fn unreachable_server_fails_within_seconds() {
    let started = Instant::now();
    let o = run(
        &["topics"],
        &["--bootstrap-server", "127.0.0.1:1", "--list"],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        stdout(&o).contains("Could not connect to any bootstrap server (127.0.0.1:1)"),
        "{}",
        stdout(&o)
    );

    let o = run(
        &["console-producer"],
        &["--bootstrap-server", "127.0.0.1:1", "--topic", "t"],
        "x\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Could not connect"), "{}", stderr(&o));
}

#[test]
fn bad_flag_prints_usage_and_exits_1() {
    let o = run(
        &["topics"],
        &["--bootstrap-server", "127.0.0.1:1", "--list", "--bogus"],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("bogus is not a recognized option\n"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("--bootstrap-server"));

    let o = run(&["topics"], &["--list"], "");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "--bootstrap-server must be specified\n");
}

#[test]
fn answers_to_kafkas_script_names() {
    let t = Target::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("kafka-topics.sh");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kavka"), &link).expect("symlink");
    let topic = t.name("via-script-name");
    let o = Command::new(&link)
        .args([
            "--bootstrap-server",
            &t.bootstrap,
            "--create",
            "--topic",
            &topic,
            "--partitions",
            "1",
        ])
        .output()
        .expect("run kafka-topics.sh");
    assert_ok(&o);
    assert_eq!(stdout(&o), format!("Created topic {topic}.\n"));
}

// --- Consumer groups: these need Kavka's group coordinator. -----------------------

/// Polls `consumer-groups --describe` until `check` accepts its stdout.
fn wait_for_describe(t: &Target, group: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = t.tool("consumer-groups", &["--describe", "--group", group], "");
        let out = stdout(&o);
        if check(&out) || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// One describe row, split on runs of spaces: GROUP TOPIC PARTITION CURRENT LEO LAG ...
fn rows(describe: &str) -> Vec<Vec<String>> {
    describe
        .lines()
        .skip_while(|l| !l.starts_with("GROUP"))
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn group_consumes_from_beginning_and_commits() {
    let t = Target::start();
    let topic = t.name("order-placed");
    let group = t.name("order-readers");
    create_order_topic(&t, &topic);
    produce_orders(&t, &topic);
    let o = t.tool(
        "console-consumer",
        &[
            "--topic",
            &topic,
            "--group",
            &group,
            "--from-beginning",
            "--max-messages",
            "3",
        ],
        "",
    );
    assert_ok(&o);
    let mut got: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            "{\"orderId\":1001,\"userId\":42}".to_string(),
            "{\"orderId\":1002,\"userId\":7}".to_string(),
            "{\"orderId\":1003,\"userId\":42}".to_string()
        ]
    );
    assert_eq!(stderr(&o), "Processed a total of 3 messages\n");

    let o = t.tool("consumer-groups", &["--describe", "--group", &group], "");
    assert_ok(&o);
    let table: Vec<Vec<String>> = rows(&stdout(&o));
    let offsets: Vec<(String, String, String, String)> = table
        .iter()
        .map(|r| (r[2].clone(), r[3].clone(), r[4].clone(), r[5].clone()))
        .collect();
    assert_eq!(
        offsets,
        vec![
            ("0".into(), "2".into(), "2".into(), "0".into()),
            ("1".into(), "1".into(), "1".into(), "0".into()),
            ("2".into(), "0".into(), "0".into(), "0".into())
        ]
    );
    assert!(stdout(&o).starts_with(
        "\nGROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID\n"
    ) || !t.suffix.is_empty());
    assert_eq!(
        stderr(&o),
        format!("\nConsumer group '{group}' has no active members.\n")
    );

    let list = t.tool("consumer-groups", &["--list"], "");
    assert!(stdout(&list).lines().any(|l| l == group));
}

#[test]
fn reset_to_earliest_replays_and_lag_shows() {
    let t = Target::start();
    let topic = t.name("order-placed");
    let group = t.name("inventory-group");
    create_order_topic(&t, &topic);
    produce_orders(&t, &topic);
    let consume = || {
        t.tool(
            "console-consumer",
            &[
                "--topic",
                &topic,
                "--group",
                &group,
                "--from-beginning",
                "--max-messages",
                "3",
            ],
            "",
        )
    };
    assert_ok(&consume());
    let describe = wait_for_describe(&t, &group, |s| rows(s).len() == 3);
    assert!(rows(&describe).iter().all(|r| r[5] == "0"), "{describe}");

    // Dry run by default: nothing changes.
    let dry = t.tool(
        "consumer-groups",
        &[
            "--reset-offsets",
            "--group",
            &group,
            "--topic",
            &topic,
            "--to-earliest",
        ],
        "",
    );
    assert_ok(&dry);
    assert!(stderr(&dry)
        .starts_with("WARN: No action will be performed as the --execute option is missing."));
    let reset_rows = rows(&stdout(&dry));
    let mut partitions: Vec<&str> = reset_rows.iter().map(|r| r[2].as_str()).collect();
    if !t.suffix.is_empty() {
        // Kafka prints a hash map's order, which depends on the topic name.
        partitions.sort_unstable_by(|a, b| b.cmp(a));
    }
    assert_eq!(partitions, vec!["2", "1", "0"]);
    assert!(reset_rows.iter().all(|r| r[3] == "0"));

    let exec = t.tool(
        "consumer-groups",
        &[
            "--reset-offsets",
            "--group",
            &group,
            "--topic",
            &topic,
            "--to-earliest",
            "--execute",
        ],
        "",
    );
    assert_ok(&exec);
    assert_eq!(stderr(&exec), "");
    let describe = t.tool("consumer-groups", &["--describe", "--group", &group], "");
    let lags: Vec<String> = rows(&stdout(&describe))
        .iter()
        .map(|r| r[5].clone())
        .collect();
    assert_eq!(lags, vec!["2", "1", "0"]);

    // The replay reads all three records again.
    let again = consume();
    assert_ok(&again);
    assert_eq!(stdout(&again).lines().count(), 3);
}

#[test]
fn two_consumers_in_a_group_split_partitions_and_reset_is_refused_while_active() {
    let t = Target::start();
    let topic = t.name("order-placed");
    let group = t.name("inventory-group");
    create_order_topic(&t, &topic);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_kavka"))
            .args([
                "console-consumer",
                "--bootstrap-server",
                &t.bootstrap,
                "--topic",
                &topic,
                "--group",
                &group,
            ])
            .args(["--timeout-ms", "20000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("consumer")
    };
    let mut a = spawn();
    let mut b = spawn();
    let members = |s: &str| {
        let mut ids: Vec<String> = rows(s)
            .iter()
            .filter(|r| r.len() >= 7)
            .map(|r| r[6].clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids.len()
    };
    let describe = wait_for_describe(&t, &group, |s| rows(s).len() == 3 && members(s) == 2);
    assert_eq!(members(&describe), 2, "{describe}");

    let refused = t.tool(
        "consumer-groups",
        &[
            "--reset-offsets",
            "--group",
            &group,
            "--topic",
            &topic,
            "--to-earliest",
            "--execute",
        ],
        "",
    );
    assert!(
        stdout(&refused).contains(&format!(
            "Error: Assignments can only be reset if the group '{group}' is inactive, but the current state is Stable."
        )),
        "{}",
        stdout(&refused)
    );
    let _ = a.kill();
    let _ = b.kill();
    let _ = a.wait();
    let _ = b.wait();
}

#[test]
fn failed_delivery_is_reported_with_status_1() {
    let t = Target::start();
    let topic = t.name("big");
    create_order_topic(&t, &topic);
    // A client limit above the broker's 1 MB, so the broker refuses the record.
    let line = format!("{}\n", "x".repeat(2 * 1024 * 1024));
    let o = t.tool(
        "console-producer",
        &[
            "--topic",
            &topic,
            "--command-property",
            "message.max.bytes=10000000",
        ],
        &line,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with(&format!(
            "ERROR Error when sending message to topic {topic} with key: null, value: 2097152 bytes with error: \n"
        )),
        "{}",
        stderr(&o)
    );
}
