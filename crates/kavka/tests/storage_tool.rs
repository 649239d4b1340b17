//! `kafka-storage` as container images and deployment scripts run it: format the
//! log directories with a cluster id, then the broker starts as that cluster.

mod common;

use std::net::TcpStream;
use std::process::{Command, Output};

use common::*;
use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse};

fn storage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kavka"))
        .arg("storage")
        .args(args)
        .output()
        .expect("run kavka storage")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn random_uuid_prints_a_kafka_style_id() {
    let out = storage(&["random-uuid"]);
    assert!(out.status.success());
    let id = text(&out.stdout).trim().to_string();
    assert_eq!(id.len(), 22, "{id}");
    assert!(!id.starts_with('-'));
}

#[test]
fn format_then_start_serves_that_cluster_id_and_a_second_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let extra = dir.path().join("extra");
    let config = dir.path().join("server.properties");
    std::fs::write(
        &config,
        format!(
            "process.roles=broker,controller\nnode.id=1\n\
             controller.quorum.voters=1@127.0.0.1:19093\ncontroller.listener.names=CONTROLLER\n\
             listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093\n\
             log.dirs={},{}\n",
            data.display(),
            extra.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let cluster_id = "MkU3OEVBNTcwNTJENDM2Qk";

    let out = storage(&["format", "-t", cluster_id, "-c", config]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "Formatting data directory {} with metadata.version 4.4-IV2.\n\
             Formatting metadata directory {} with metadata.version 4.4-IV2.\n",
            extra.display(),
            data.display()
        )
    );

    let again = storage(&["format", "-t", cluster_id, "-c", config]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("is already formatted. Use --ignore-formatted"));
    let ignored = storage(&[
        "format",
        "-t",
        cluster_id,
        "-c",
        config,
        "--ignore-formatted",
    ]);
    assert!(ignored.status.success());
    assert_eq!(
        text(&ignored.stdout),
        "All of the log directories are already formatted.\n"
    );

    let info = storage(&["info", "-c", config]);
    assert!(text(&info.stdout).contains(&format!("cluster.id={cluster_id}")));

    let broker = TestBroker::start_with(&[&format!("log.dirs={}", data.display())]);
    let mut conn = TcpStream::connect(("127.0.0.1", broker.port)).unwrap();
    let metadata: MetadataResponse =
        raw_call(&mut conn, ApiKey::Metadata, 12, &MetadataRequest::default());
    assert_eq!(metadata.cluster_id.as_deref(), Some(cluster_id));
}

#[test]
fn static_voters_and_standalone_cannot_be_combined() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.properties");
    std::fs::write(
        &config,
        format!(
            "node.id=1\ncontroller.quorum.voters=1@127.0.0.1:19093\nlog.dirs={}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let out = storage(&[
        "format",
        "--standalone",
        "-t",
        "x",
        "-c",
        config.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("You cannot specify controller.quorum.voters"));
    assert!(!dir.path().join("data").exists());
}
