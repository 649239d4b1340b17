//! Seeded fault runs checked by the Jepsen-style checker (`kavka-chaos`).
//!
//! - In the normal suite: `single_node_...`, kill -9, pause and restart of the only
//!   node under an acks=all idempotent producer and a committing group; and
//!   `three_node_bounded_...`, one short 3-node trial (a kill -9 first, then up to
//!   three more faults of any kind, 25 s of faults at most) under the producer
//!   alone: the log's promises, without group coordinator failover.
//! - Behind `--ignored`, the long randomized 3-node runs with the committing group
//!   (8 faults, up to 60 s each):
//!   `cargo test -p kavka --test fault_run three_node_randomized_fault_run -- --ignored --nocapture`
//!   runs one trial (about a minute); `KAVKA_FAULT_TRIALS=N` (default 100) in
//!   `cargo test -p kavka --test fault_run three_node_trials -- --ignored --nocapture`
//!   runs N with seeds counting up, stopping at the first failure.
//!   Every run prints `KAVKA_FAULT_SEED=...`; set it to replay one.
//!   `KAVKA_TEST_PORTS=LOW-HIGH` confines the clusters' ports.

use std::path::PathBuf;

use kavka_chaos::nemesis::{seed_from_env, FaultKind, NemesisConfig};
use kavka_chaos::trial::{run, Trial};
use kavka_chaos::workload::Workload;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kavka"))
}

fn trial(nodes: i32, seed: u64, nemesis: NemesisConfig) -> Trial {
    Trial {
        binary: binary(),
        nodes,
        seed,
        nemesis,
        workload: Workload::new(nodes.min(3)),
        properties: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_node_kill_nine_pause_and_restart_keep_every_acknowledged_record() {
    let seed = seed_from_env().expect("seed");
    let outcome = run(trial(1, seed, NemesisConfig::single_node()))
        .await
        .unwrap_or_else(|e| panic!("KAVKA_FAULT_SEED={seed}: {e}"));
    outcome.assert_valid();
    assert!(outcome.report.stats.acked > 100, "{}", outcome.report);
    assert!(outcome.report.stats.commits > 0, "{}", outcome.report);
    // The replica dump parsed the node's segment files.
    assert!(
        outcome.report.stats.replica_batches > 0,
        "{}",
        outcome.report
    );
    assert!(
        outcome.applied[0].contains("kill -9"),
        "{:?}",
        outcome.applied
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_node_bounded_fault_run_keeps_every_acknowledged_record() {
    let seed = seed_from_env().expect("seed");
    let nemesis = NemesisConfig {
        max_faults: 4,
        max_total: std::time::Duration::from_secs(25),
        first_kind: Some(FaultKind::Kill),
        ..NemesisConfig::three_nodes()
    };
    let mut t = trial(3, seed, nemesis);
    t.workload.commits = false;
    let outcome = run(t)
        .await
        .unwrap_or_else(|e| panic!("KAVKA_FAULT_SEED={seed}: {e}"));
    outcome.assert_valid();
    assert!(outcome.report.stats.acked > 100, "{}", outcome.report);
    // Every node's copy of every partition was dumped and compared.
    assert_eq!(outcome.report.stats.replicas, 9, "{}", outcome.report);
    assert!(
        outcome.applied[0].contains("kill -9"),
        "{:?}",
        outcome.applied
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: about a minute per trial"]
async fn three_node_randomized_fault_run() {
    let seed = seed_from_env().expect("seed");
    let outcome = run(trial(3, seed, NemesisConfig::three_nodes()))
        .await
        .unwrap_or_else(|e| panic!("KAVKA_FAULT_SEED={seed}: {e}"));
    outcome.assert_valid();
}

/// The long run: `KAVKA_FAULT_TRIALS` trials (default 100) with seeds counting up
/// from `KAVKA_FAULT_SEED`; stops at the first failure. CI runs a bounded slice
/// (e.g. `KAVKA_FAULT_TRIALS=3`).
/// Five nodes (five voters, RF 3 topics spread over them): a fault leaves a
/// majority of voters and of every partition's replicas, but the quorum, the
/// leaders and the group coordinator are each on different subsets of nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: about a minute and a half per trial"]
async fn five_node_randomized_fault_run() {
    let seed = seed_from_env().expect("seed");
    let nemesis = NemesisConfig {
        nodes: 5,
        partitions: 5,
        ..NemesisConfig::three_nodes()
    };
    let mut t = trial(5, seed, nemesis);
    t.workload.partitions = 5;
    let outcome = run(t)
        .await
        .unwrap_or_else(|e| panic!("KAVKA_FAULT_SEED={seed}: {e}"));
    outcome.assert_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: about a minute per trial"]
async fn three_node_trials() {
    let first = seed_from_env().expect("seed");
    let trials: u64 = std::env::var("KAVKA_FAULT_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    for i in 0..trials {
        let seed = first.wrapping_add(i);
        let outcome = run(trial(3, seed, NemesisConfig::three_nodes()))
            .await
            .unwrap_or_else(|e| panic!("trial {i}, KAVKA_FAULT_SEED={seed}: {e}"));
        outcome.assert_valid();
    }
}
