//! SCRAM credentials are cluster metadata: created through one node of a
//! three-node cluster, every node describes them (they are replicated through
//! the metadata quorum like any other record).

use std::process::Command;
use std::time::{Duration, Instant};

use kavka_chaos::cluster::{ChaosCluster, ClusterSpec};

fn configs(bootstrap: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kavka"))
        .args(["configs", "--bootstrap-server", bootstrap])
        .args(args)
        .output()
        .expect("run kavka configs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_credentials_replicate_to_every_node() {
    let cluster = ChaosCluster::up(ClusterSpec {
        binary: env!("CARGO_BIN_EXE_kavka").into(),
        nodes: 3,
        properties: Vec::new(),
        proxied: false,
    })
    .await
    .expect("3-node cluster up");
    let bootstrap = cluster.bootstrap();
    let nodes: Vec<String> = bootstrap.split(',').map(str::to_string).collect();
    assert_eq!(nodes.len(), 3, "{bootstrap}");
    // Created through the last node, which forwards to the active controller
    // wherever it is.
    // One mechanism per request: Kafka refuses a user altered twice in one.
    for credential in [
        "SCRAM-SHA-256=[iterations=4096,password=carol-secret]",
        "SCRAM-SHA-512=[password=carol-secret]",
    ] {
        let (ok, out) = configs(
            &nodes[2],
            &[
                "--entity-type",
                "users",
                "--entity-name",
                "carol",
                "--alter",
                "--add-config",
                credential,
            ],
        );
        assert!(ok, "{out}");
    }
    let expected = "SCRAM credential configs for user-principal 'carol' are SCRAM-SHA-256=iterations=4096, SCRAM-SHA-512=iterations=4096\n";
    for node in &nodes {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (ok, out) = configs(node, &["--entity-type", "users", "--describe"]);
            if ok && out == expected {
                break;
            }
            assert!(Instant::now() < deadline, "node {node} describes: {out}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    cluster.down().expect("cluster down");
}
