//! The cluster-facing tools against a single Kavka node: `kafka-topics --describe`
//! with its report options, `kafka-metadata-quorum` and `kafka-leader-election`.
//! Their formats against a real three-node cluster are pinned by the unit tests in
//! kavka-tools, from compat/reference-outputs/cluster-tools/transcript.txt.

mod common;

use std::process::{Command, Output};

use common::TestBroker;

fn kavka(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kavka"))
        .args(args)
        .output()
        .expect("run kavka")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn topics(b: &str, args: &[&str]) -> Output {
    let mut full = vec!["topics", "--bootstrap-server", b];
    full.extend_from_slice(args);
    kavka(&full)
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

#[test]
fn describe_report_options_on_one_node() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    ok(topics(
        &b,
        &["--create", "--topic", "orders", "--partitions", "3"],
    ));
    ok(topics(
        &b,
        &[
            "--create",
            "--topic",
            "strict",
            "--partitions",
            "2",
            "--config",
            "min.insync.replicas=2",
        ],
    ));

    // One node: every partition is led and fully in sync.
    for filter in ["--under-replicated-partitions", "--unavailable-partitions"] {
        assert_eq!(ok(topics(&b, &["--describe", filter])), "", "{filter}");
    }
    // An ISR of one below strict's min.insync.replicas=2; orders is not below.
    assert_eq!(
        ok(topics(
            &b,
            &[
                "--describe",
                "--under-min-isr-partitions",
                "--exclude-internal"
            ]
        )),
        "\tTopic: strict\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: \tLastKnownElr: \n\
         \tTopic: strict\tPartition: 1\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: \tLastKnownElr: \n"
    );
    // Options combine with "or"; no topic lines under a report option.
    let combined = ok(topics(
        &b,
        &[
            "--describe",
            "--topic",
            "strict|orders",
            "--under-min-isr-partitions",
            "--unavailable-partitions",
        ],
    ));
    assert_eq!(combined.lines().count(), 2, "{combined}");
    assert!(!combined.contains("PartitionCount"));
    // Without a report option, the topic line and every partition.
    let all = ok(topics(&b, &["--describe", "--topic", "orders"]));
    assert_eq!(all.lines().count(), 4, "{all}");
    assert!(all.contains(
        "\tTopic: orders\tPartition: 2\tLeader: 1\tReplicas: 1\tIsr: 1\tElr: \tLastKnownElr: \n"
    ));
}

#[test]
fn report_options_refuse_other_actions() {
    // Checked before connecting: no broker needed.
    let o = topics("127.0.0.1:1", &["--list", "--under-replicated-partitions"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(
            "Option \"[under-replicated-partitions]\" can't be used with option \"[list]\"\n"
        ),
        "{}",
        stderr(&o)
    );
    let o = topics(
        "127.0.0.1:1",
        &[
            "--describe",
            "--topics-with-overrides",
            "--at-min-isr-partitions",
        ],
    );
    assert!(stderr(&o).starts_with(
        "Option \"[at-min-isr-partitions]\" can't be used with option \"[topics-with-overrides]\"\n"
    ));
}

#[test]
fn quorum_and_election_tools_describe_and_elect_on_one_node() {
    let broker = TestBroker::start();
    let b = broker.bootstrap();
    let o = kavka(&[
        "metadata-quorum",
        "--bootstrap-server",
        &b,
        "describe",
        "--status",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("LeaderId:               1\n"), "{out}");
    assert!(out.contains("CurrentVoters:          [{\"id\": 1"), "{out}");
    let o = kavka(&[
        "metadata-quorum",
        "--bootstrap-server",
        &b,
        "describe",
        "--replication",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\tLeader\t"));
    // A single node leads everything already: nothing to elect, nothing failed.
    let o = kavka(&[
        "leader-election",
        "--bootstrap-server",
        &b,
        "--election-type",
        "preferred",
        "--all-topic-partitions",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn bad_arguments_exit_non_zero_with_kafkas_words() {
    let o = kavka(&["metadata-quorum", "--bootstrap-server", "h:1", "describe"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "One of --status or --replication must be specified with describe sub-command\n"
    );
    let o = kavka(&["metadata-quorum", "describe", "--status"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).ends_with(
        "kafka-metadata-quorum: error: one  of  the  arguments --bootstrap-server --\n\
         bootstrap-controller is required\n"
    ));
    let o = kavka(&[
        "leader-election",
        "--bootstrap-server",
        "h:1",
        "--all-topic-partitions",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "Missing required option(s): election-type\n\
         org.apache.kafka.tools.AdminCommandFailedException: Missing required option(s): election-type\n\n"
    );
}

#[test]
fn kafka_script_names_run_the_new_tools() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["kafka-metadata-quorum.sh", "kafka-leader-election.sh"] {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kavka"), &link).expect("symlink");
        let o = Command::new(&link).output().expect("run");
        assert_eq!(o.status.code(), Some(1), "{name}");
        let err = stderr(&o);
        assert!(
            err.contains("kafka-metadata-quorum: error: too few arguments")
                || err.starts_with("This tool attempts to elect a new leader"),
            "{name}: {err}"
        );
    }
}
