//! Producer ids are unique across the cluster (KIP-730): the controller hands
//! each broker its blocks and records them, so two brokers never give two
//! producers the same id, a restart never repeats one, and a data directory from
//! before (with its own `producer-id-block` file) never hands out an id at or
//! below what that file reserved. Driven with raw InitProducerId requests against
//! clusters from `kavka cluster`.

mod common;

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, InitProducerIdRequest, InitProducerIdResponse};

/// COORDINATOR_LOAD_IN_PROGRESS: no block has come from the controller yet.
const LOAD_IN_PROGRESS: i16 = 14;

fn run_cluster(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kavka"))
        .arg("cluster")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run kavka cluster")
}

fn cluster(dir: &Path, args: &[&str]) -> Output {
    let out = run_cluster(dir, args);
    assert!(
        out.status.success(),
        "kavka cluster {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Stops and deletes the cluster in `dir` when the test ends, passed or not.
struct Purge<'a>(&'a Path);

impl Drop for Purge<'_> {
    fn drop(&mut self) {
        if self.0.exists() {
            let _ = run_cluster(self.0, &["down", "--purge"]);
        }
    }
}

/// One InitProducerId (no transactional id) to the broker at `port`, retried
/// while the broker has no block yet, as clients retry it.
fn init_producer_id(port: u16) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let request = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60_000);
        let response: InitProducerIdResponse =
            common::raw_call(&mut stream, ApiKey::InitProducerId, 4, &request);
        match response.error_code {
            0 => {
                assert_eq!(response.producer_epoch, 0);
                return response.producer_id.0;
            }
            LOAD_IN_PROGRESS if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            code => panic!("InitProducerId on port {port}: error {code}"),
        }
    }
}

/// `count` ids from each of the brokers at `ports`, all checked distinct.
fn ids_from(ports: &[u16], count: usize, seen: &mut BTreeSet<i64>) -> Vec<Vec<i64>> {
    ports
        .iter()
        .map(|&port| {
            (0..count)
                .map(|_| {
                    let id = init_producer_id(port);
                    assert!(id >= 0);
                    assert!(seen.insert(id), "producer id {id} handed out twice");
                    id
                })
                .collect()
        })
        .collect()
}

#[test]
fn brokers_of_a_cluster_hand_out_distinct_ids_that_survive_a_full_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let base = common::free_port_block(6);
    let base_arg = base.to_string();
    let _purge = Purge(&dir);
    cluster(&dir, &["up", "-n", "3", "--base-port", &base_arg]);
    let ports = [base, base + 1, base + 2];

    let mut seen = BTreeSet::new();
    let before = ids_from(&ports, 3, &mut seen);
    // Each broker answers from a block of its own: their ids never interleave.
    for (i, a) in before.iter().enumerate() {
        for b in &before[i + 1..] {
            let (a_max, b_max) = (a.iter().max().unwrap(), b.iter().max().unwrap());
            let (a_min, b_min) = (a.iter().min().unwrap(), b.iter().min().unwrap());
            assert!(a_max < b_min || b_max < a_min, "{before:?}");
        }
    }
    let highest = *seen.last().unwrap();

    cluster(&dir, &["down"]);
    cluster(&dir, &["up", "-n", "3", "--base-port", &base_arg]);
    let after = ids_from(&ports, 3, &mut seen);
    // Blocks are recorded in the metadata log: a restart starts past all of them.
    assert!(
        after.iter().flatten().all(|&id| id > highest),
        "before {before:?}, after {after:?}"
    );
}

#[test]
fn a_data_dir_from_before_never_hands_out_an_id_its_block_file_reserved() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let base_arg = common::free_port_block(2).to_string();
    let _purge = Purge(&dir);
    cluster(&dir, &["up", "-n", "1", "--base-port", &base_arg]);
    cluster(&dir, &["down"]);
    // What a broker before KIP-730 left: ids below 7000 may be held by producers.
    std::fs::write(dir.join("node-1/data/producer-id-block"), "7000").unwrap();
    cluster(&dir, &["up", "-n", "1", "--base-port", &base_arg]);
    let port: u16 = base_arg.parse().unwrap();
    let id = init_producer_id(port);
    assert!(id > 7000, "id {id} is at or below the legacy reservation");
}
