//! Kafka's everyday operations tools (`kafka-get-offsets`, `kafka-delete-records`,
//! `kafka-log-dirs`) run through the `kavka` binary as a user types them, against a
//! Kavka broker. Expected outputs are what Apache Kafka 4.4's own tools printed for
//! the same commands (see compat/cli/everyday.sh).

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::TestBroker;

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kavka"))
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

/// A broker with topic `orders` of three partitions, all empty.
fn broker_with_orders() -> (TestBroker, String) {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let o = run(
        &[
            "topics",
            "--bootstrap-server",
            &b,
            "--create",
            "--topic",
            "orders",
            "--partitions",
            "3",
        ],
        "",
    );
    assert_ok(&o);
    (broker, b)
}

/// Writes `n` records to partition 0 of `orders`.
fn produce_to_partition_zero(bootstrap: &str, n: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let producer = common::producer(bootstrap, &[]);
        for i in 0..n {
            let value = format!("order-{i}");
            let record = rdkafka::producer::FutureRecord::<(), str>::to("orders")
                .partition(0)
                .payload(&value);
            producer
                .send(record, std::time::Duration::from_secs(20))
                .await
                .map_err(|(e, _)| e)
                .expect("delivered");
        }
    });
}

#[test]
fn get_offsets_prints_topic_partition_offset_lines() {
    let (_broker, b) = broker_with_orders();
    produce_to_partition_zero(&b, 5);
    let latest = run(
        &["get-offsets", "--bootstrap-server", &b, "--topic", "orders"],
        "",
    );
    assert_ok(&latest);
    assert_eq!(stdout(&latest), "orders:0:5\norders:1:0\norders:2:0\n");

    let earliest = run(
        &[
            "get-offsets",
            "--bootstrap-server",
            &b,
            "--topic-partitions",
            "ord.*:1-",
            "--time",
            "-2",
        ],
        "",
    );
    assert_ok(&earliest);
    assert_eq!(stdout(&earliest), "orders:1:0\norders:2:0\n");

    // A timestamp after every record: no offset, nothing printed, success.
    let future = run(
        &[
            "get-offsets",
            "--bootstrap-server",
            &b,
            "--topic",
            "orders",
            "--time",
            "99999999999999",
        ],
        "",
    );
    assert_ok(&future);
    assert_eq!(stdout(&future), "");

    let none = run(
        &["get-offsets", "--bootstrap-server", &b, "--topic", "nosuch"],
        "",
    );
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(
        stderr(&none),
        "Error occurred: Could not match any topic-partitions with the specified filters\n"
    );
}

#[test]
fn get_offsets_bad_flags_answer_as_kafka() {
    let o = run(
        &["get-offsets", "--bootstrap-server", "127.0.0.1:1", "--foo"],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "Error occurred: foo is not a recognized option\n"
    );

    let o = run(
        &[
            "get-offsets",
            "--bootstrap-server",
            "127.0.0.1:1",
            "--time",
            "x",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "Error occurred: Malformed time argument x. Please use -1 or latest / -2 or earliest / -3 or max-timestamp / -4 or earliest-local / -5 or latest-tiered / -6 or earliest-pending-upload, or a specified long format timestamp\n"
    );

    let o = run(
        &[
            "get-offsets",
            "--bootstrap-server",
            "127.0.0.1:1",
            "--topic-partitions",
            "a",
            "--topic",
            "b",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "Error occurred: --topic-partitions cannot be used with --topic or --partitions\n"
    );

    let o = run(&["get-offsets", "--topic", "x"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("Missing required argument \"[bootstrap-server]\"\n"));
}

#[test]
fn delete_records_moves_the_low_watermark() {
    let (_broker, b) = broker_with_orders();
    produce_to_partition_zero(&b, 5);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("offsets.json");
    std::fs::write(
        &file,
        r#"{"partitions": [{"topic": "orders", "partition": 0, "offset": 2}, {"topic": "orders", "partition": 1, "offset": 0}], "version": 1}"#,
    )
    .expect("write json");
    let file = file.to_string_lossy().into_owned();
    let o = run(
        &[
            "delete-records",
            "--bootstrap-server",
            &b,
            "--offset-json-file",
            &file,
        ],
        "",
    );
    assert_ok(&o);
    // Kafka's order varies from run to run; Kavka keeps the file's.
    assert_eq!(
        stdout(&o),
        "Executing records delete operation\nRecords delete operation completed:\npartition: orders-0\tlow_watermark: 2\npartition: orders-1\tlow_watermark: 0\n"
    );
    let earliest = run(
        &[
            "get-offsets",
            "--bootstrap-server",
            &b,
            "--topic",
            "orders",
            "--partitions",
            "0",
            "--time",
            "earliest",
        ],
        "",
    );
    assert_eq!(stdout(&earliest), "orders:0:2\n");

    std::fs::write(
        dir.path().join("beyond.json"),
        r#"{"partitions": [{"topic": "orders", "partition": 0, "offset": 99}]}"#,
    )
    .expect("write json");
    let beyond = dir
        .path()
        .join("beyond.json")
        .to_string_lossy()
        .into_owned();
    let o = run(
        &[
            "delete-records",
            "--bootstrap-server",
            &b,
            "--offset-json-file",
            &beyond,
        ],
        "",
    );
    assert_ok(&o);
    assert_eq!(
        stdout(&o),
        "Executing records delete operation\nRecords delete operation completed:\npartition: orders-0\terror: org.apache.kafka.common.errors.OffsetOutOfRangeException: The requested offset is not within the range of offsets maintained by the server.\n"
    );
}

#[test]
fn delete_records_rejects_bad_files_as_kafka() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("nonsense", "The input string is not a valid JSON\n"),
        (
            r#"{"version":2,"partitions":[]}"#,
            "Not supported version field value 2\n",
        ),
        (r#"{"version":1}"#, "Missing partitions field\n"),
        (
            r#"{"partitions":[{"topic":"o","partition":0,"offset":1},{"topic":"o","partition":0,"offset":2}]}"#,
            "Offset json file contains duplicate topic partitions: o-0\n",
        ),
    ];
    for (i, (json, message)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("{i}.json"));
        std::fs::write(&file, json).expect("write json");
        let file = file.to_string_lossy().into_owned();
        let o = run(
            &[
                "delete-records",
                "--bootstrap-server",
                "127.0.0.1:1",
                "--offset-json-file",
                &file,
            ],
            "",
        );
        assert_eq!(o.status.code(), Some(1), "{json}");
        assert_eq!(stderr(&o), *message, "{json}");
        assert_eq!(stdout(&o), "", "{json}");
    }
    let o = run(&["delete-records", "--bootstrap-server", "127.0.0.1:1"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("Missing required argument \"[offset-json-file]\"\n"));
}

#[test]
fn log_dirs_describes_every_replica_as_kafkas_json() {
    let (broker, b) = broker_with_orders();
    let o = run(
        &[
            "log-dirs",
            "--bootstrap-server",
            &b,
            "--describe",
            "--topic-list",
            "orders",
        ],
        "",
    );
    assert_ok(&o);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "Querying brokers for log directories information");
    assert_eq!(
        lines[1],
        "Received log directory information from brokers 1"
    );
    let dir = serde_json::Value::String(broker.dir.display().to_string()).to_string();
    assert_eq!(
        lines[2],
        format!(
            r#"{{"brokers":[{{"broker":1,"logDirs":[{{"partitions":[{{"partition":"orders-0","size":0,"offsetLag":0,"isFuture":false}},{{"partition":"orders-1","size":0,"offsetLag":0,"isFuture":false}},{{"partition":"orders-2","size":0,"offsetLag":0,"isFuture":false}}],"error":null,"logDir":{dir}}}]}}],"version":1}}"#
        )
    );

    let o = run(
        &[
            "log-dirs",
            "--bootstrap-server",
            &b,
            "--describe",
            "--broker-list",
            "1,7",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "ERROR: The given brokers do not exist from --broker-list: 7. Current existent brokers: 1\n"
    );
}

#[test]
fn help_lists_every_tool_with_one_line() {
    let o = run(&["--help"], "");
    assert_ok(&o);
    let out = stdout(&o);
    for tool in [
        "topics",
        "console-producer",
        "get-offsets",
        "delete-records",
        "log-dirs",
        "broker-api-versions",
        "cluster-tool",
        "storage",
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("{tool} "))),
            "{tool} missing from:\n{out}"
        );
    }
}

#[test]
fn broker_api_versions_and_cluster_id_describe_the_broker() {
    let (_broker, b) = broker_with_orders();
    let o = run(&["broker-api-versions", "--bootstrap-server", &b], "");
    assert_ok(&o);
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!(
            "{b} (id: 1 rack: null isFenced: false) -> (\n\tProduce(0): 0 to "
        )),
        "{out}"
    );
    // An API Kavka does not serve, as Kafka's client reports it.
    assert!(
        out.contains("\n\tShareGroupHeartbeat(76): UNSUPPORTED,\n"),
        "{out}"
    );
    assert!(out.ends_with("\n)\n"), "{out}");

    let o = run(
        &["cluster-tool", "cluster-id", "--bootstrap-server", &b],
        "",
    );
    assert_ok(&o);
    let out = stdout(&o);
    let id = out
        .strip_prefix("Cluster ID: ")
        .unwrap_or_default()
        .trim_end();
    assert_eq!(id.len(), 22, "{out}");

    let o = run(
        &[
            "cluster-tool",
            "unregister",
            "--bootstrap-server",
            &b,
            "--id",
            "2",
        ],
        "",
    );
    assert_ok(&o);
    assert_eq!(
        stdout(&o),
        "The target cluster does not support the broker unregistration API.\n"
    );
}

#[test]
fn dump_log_prints_a_kavka_segment_as_kafka_does() {
    let (broker, b) = broker_with_orders();
    produce_to_partition_zero(&b, 3);
    let segment = broker.dir.join("orders-0").join("00000000000000000000.log");
    let segment = segment.to_string_lossy().into_owned();
    let o = run(&["dump-log", "--files", &segment, "--print-data-log"], "");
    assert_ok(&o);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("Dumping {segment}"), "{out}");
    assert_eq!(lines[1], "Log starting offset: 0", "{out}");
    // One batch per record: the producer waited for each delivery. It is not
    // idempotent (librdkafka's default), so sequences are -1.
    let batches: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("baseOffset: "))
        .collect();
    assert_eq!(batches.len(), 3, "{out}");
    assert!(
        batches[1].starts_with("baseOffset: 1 lastOffset: 1 count: 1 "),
        "{out}"
    );
    assert!(
        batches
            .iter()
            .all(|l| l.contains(" magic: 2 compresscodec: none ") && l.ends_with(" isvalid: true")),
        "{out}"
    );
    let records: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("| offset: "))
        .collect();
    assert_eq!(records.len(), 3, "{out}");
    assert!(records[2].starts_with("| offset: 2 CreateTime: "), "{out}");
    assert!(
        records[2]
            .ends_with(" keySize: -1 valueSize: 7 sequence: -1 headerKeys: [] payload: order-2"),
        "{out}"
    );

    let o = run(&["dump-log"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("Missing required argument \"[files]\"\n"));
}

#[test]
fn producer_perf_test_reports_kafkas_final_line() {
    let (_broker, b) = broker_with_orders();
    let o = run(
        &[
            "producer-perf-test",
            "--topic",
            "orders",
            "--num-records",
            "50",
            "--record-size",
            "100",
            "--throughput",
            "-1",
            "--producer-props",
            &format!("bootstrap.servers={b}"),
            "acks=all",
        ],
        "",
    );
    assert_ok(&o);
    let out = stdout(&o);
    let last = out.lines().last().unwrap_or_default();
    assert!(last.starts_with("50 records sent, "), "{out}");
    for part in [
        " records/sec (",
        " MB/sec), ",
        " ms avg latency, ",
        " ms max latency, ",
        " ms 50th, ",
        " ms 95th, ",
        " ms 99th, ",
    ] {
        assert!(last.contains(part), "{part} missing: {out}");
    }
    assert!(last.ends_with(" ms 99.9th."), "{out}");
    let latest = run(
        &["get-offsets", "--bootstrap-server", &b, "--topic", "orders"],
        "",
    );
    let total: i64 = stdout(&latest)
        .lines()
        .filter_map(|l| l.rsplit(':').next()?.parse::<i64>().ok())
        .sum();
    assert_eq!(total, 50, "{}", stdout(&latest));
}

#[test]
fn consumer_perf_test_reads_what_was_produced() {
    let (_broker, b) = broker_with_orders();
    produce_to_partition_zero(&b, 5);
    let o = run(
        &[
            "consumer-perf-test",
            "--bootstrap-server",
            &b,
            "--topic",
            "orders",
            "--num-records",
            "5",
            "--group",
            "perf-group",
        ],
        "",
    );
    assert_ok(&o);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec",
        "{out}"
    );
    assert_eq!(lines.len(), 2, "{out}");
    let fields: Vec<&str> = lines[1].split(", ").collect();
    assert_eq!(fields.len(), 10, "{out}");
    // Five records of seven bytes ("order-N").
    assert_eq!(fields[2], "0.0000", "{out}");
    assert_eq!(fields[4], "5", "{out}");
}

#[test]
fn e2e_latency_creates_its_topic_and_reports() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let o = run(&["e2e-latency", &b, "latency", "3", "all", "10"], "");
    assert_ok(&o);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("WARNING: Positional argument usage is deprecated"),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "Topic \"latency\" does not exist. Will create topic with 1 partition(s) and replication factor = 1",
        "{out}"
    );
    assert!(lines[2].starts_with("0\t"), "{out}");
    assert!(
        lines[3].starts_with("Avg latency: ") && lines[3].ends_with(" ms"),
        "{out}"
    );
    assert!(lines[4].starts_with("Percentiles: 50th = "), "{out}");
    assert_eq!(lines.len(), 5, "{out}");
}
