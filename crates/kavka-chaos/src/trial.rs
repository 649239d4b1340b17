//! One fault run: bring the cluster up, run the workload while the nemesis works
//! through its seeded schedule, heal, read everything back, dump the replicas,
//! and check the history.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checker::{check, Report};
use crate::cluster::{ChaosCluster, ClusterSpec, HarnessError};
use crate::history::{History, NodeId};
use crate::nemesis::{schedule, Fault, NemesisConfig, Step, Target, SEED_VAR};
use crate::workload::{self, Recorder, Workload};
use crate::{resolve, segments};

/// What to run.
#[derive(Debug, Clone)]
pub struct Trial {
    /// The `kavka` binary.
    pub binary: PathBuf,
    pub nodes: i32,
    pub seed: u64,
    pub nemesis: NemesisConfig,
    pub workload: Workload,
    /// Extra `key=value` for every node.
    pub properties: Vec<String>,
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    pub seed: u64,
    pub report: Report,
    /// The faults as applied, with the node each hit.
    pub applied: Vec<String>,
}

impl Outcome {
    /// Panics with the seed, the faults and the checker's report if invalid.
    pub fn assert_valid(&self) {
        assert!(
            self.report.is_valid(),
            "fault run failed; replay with {SEED_VAR}={}\nfaults:\n  {}\n{}",
            self.seed,
            self.applied.join("\n  "),
            self.report
        );
    }
}

/// Runs `trial` to the end. Harness failures (a node that never comes back, a
/// final read that never completes) are errors; anomalies are in the report.
pub async fn run(trial: Trial) -> Result<Outcome, HarnessError> {
    println!("{SEED_VAR}={} ({} nodes)", trial.seed, trial.nodes);
    let steps = schedule(trial.seed, &trial.nemesis);
    let cluster = Arc::new(
        ChaosCluster::up(ClusterSpec {
            binary: trial.binary.clone(),
            nodes: trial.nodes,
            properties: trial.properties.clone(),
            proxied: trial.nodes > 1,
        })
        .await?,
    );
    let bootstrap = cluster.bootstrap();
    let w = trial.workload.clone();
    workload::create_topic(&bootstrap, &w).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let rec = Arc::new(Recorder::default());
    let producer = {
        let (bs, w, stop, rec) = (bootstrap.clone(), w.clone(), stop.clone(), rec.clone());
        tokio::spawn(async move { workload::produce(&bs, &w, &stop, &rec).await })
    };
    let consumer = w.commits.then(|| {
        let (bs, w, stop, rec) = (bootstrap.clone(), w.clone(), stop.clone(), rec.clone());
        std::thread::spawn(move || workload::consume_and_commit(&bs, &w, &stop, &rec))
    });
    let commits_seen = |rec: &Recorder, after: usize| !w.commits || rec.commit_count() > after;
    // Faults start once the workload is live: records acknowledged and the group
    // committing, or the first faults would only test a cold start.
    let live = wait_for(Duration::from_secs(30), || {
        rec.send_count() > 0 && commits_seen(&rec, 0)
    })
    .await;
    if !live {
        println!("workload not live after 30 s; starting the faults anyway");
    }
    let nemesis = {
        let (cluster, topic) = (cluster.clone(), w.topic.clone());
        tokio::task::spawn_blocking(move || run_schedule(&cluster, &steps, &topic))
    };
    let applied = nemesis
        .await
        .map_err(|e| HarnessError::Workload(format!("nemesis panicked: {e}")));
    // Whatever happened, heal before reading back, then let the workload show it
    // recovered: new acknowledgements and a new commit after the last fault.
    let healed = cluster.heal();
    let (sends, commits) = (rec.send_count(), rec.commit_count());
    let recovered = wait_for(Duration::from_secs(30), || {
        rec.send_count() > sends && commits_seen(&rec, commits)
    })
    .await;
    if !recovered {
        println!("workload did not recover within 30 s of the heal");
    }
    stop.store(true, Ordering::SeqCst);
    let produced = producer.await;
    let consumed = consumer.map_or(Ok(Ok(())), |c| c.join());
    let applied = applied??;
    healed?;
    produced.map_err(|e| HarnessError::Workload(format!("producer panicked: {e}")))??;
    consumed.map_err(|_| HarnessError::Workload("consumer panicked".into()))??;

    let (final_read, high_watermarks) = {
        let (bs, w) = (bootstrap.clone(), w.clone());
        tokio::task::spawn_blocking(move || workload::final_read(&bs, &w, Duration::from_secs(60)))
            .await
            .map_err(|e| HarnessError::Workload(format!("final read panicked: {e}")))??
    };
    // A clean stop first, so every node's files are complete.
    cluster.down()?;
    let mut replicas = Vec::new();
    for &node in cluster.node_ids() {
        for p in 0..w.partitions {
            let dump = segments::dump(node, &cluster.data_dir(node), &w.topic, p)
                .map_err(|e| HarnessError::Io(format!("dumping node {node}"), e))?;
            replicas.extend(dump);
        }
    }
    let (sends, commits) = rec.take();
    let history = History {
        sends,
        final_read,
        commits,
        replicas,
        high_watermarks,
        idempotent: true,
    };
    let report = check(&history);
    println!("{report}");
    if !report.is_valid() {
        cluster.keep();
    }
    Ok(Outcome {
        seed: trial.seed,
        report,
        applied,
    })
}

/// Polls `ready` every 100 ms until it holds (true) or `limit` passes (false).
async fn wait_for(limit: Duration, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ready()
}

/// What undoes an applied fault.
enum Heal {
    Start(NodeId),
    Resume(NodeId),
    Links,
    Nothing,
}

fn run_schedule(
    cluster: &ChaosCluster,
    steps: &[Step],
    topic: &str,
) -> Result<Vec<String>, HarnessError> {
    let started = Instant::now();
    let mut applied = Vec::new();
    for step in steps {
        let (heal, what) = apply(cluster, step.fault, topic)?;
        let line = format!(
            "t={:>6.1}s {what}, hold {:?}",
            started.elapsed().as_secs_f64(),
            step.hold
        );
        println!("nemesis: {line}");
        applied.push(line);
        std::thread::sleep(step.hold);
        match heal {
            Heal::Start(id) => cluster.start(id)?,
            Heal::Resume(id) => cluster.resume(id)?,
            Heal::Links => cluster.heal()?,
            Heal::Nothing => {}
        }
        std::thread::sleep(step.quiet);
    }
    Ok(applied)
}

fn apply(
    cluster: &ChaosCluster,
    fault: Fault,
    topic: &str,
) -> Result<(Heal, String), HarnessError> {
    Ok(match fault {
        Fault::Kill(t) => {
            let (id, who) = resolve_target(cluster, t, topic);
            cluster.kill9(id)?;
            (Heal::Start(id), format!("kill -9 node {id} ({who})"))
        }
        Fault::Pause(t) => {
            let (id, who) = resolve_target(cluster, t, topic);
            cluster.pause(id)?;
            (Heal::Resume(id), format!("pause node {id} ({who})"))
        }
        Fault::Restart(t) => {
            let (id, who) = resolve_target(cluster, t, topic);
            cluster.restart(id)?;
            (Heal::Nothing, format!("restart node {id} ({who})"))
        }
        Fault::Isolate(t, mode) => {
            let (id, who) = resolve_target(cluster, t, topic);
            cluster.isolate(id, mode);
            (Heal::Links, format!("isolate node {id} ({who}), {mode:?}"))
        }
        Fault::CutLink(a, b, mode) => {
            cluster.cut(a, b, Some(mode));
            (Heal::Links, format!("cut link {a}-{b}, {mode:?}"))
        }
    })
}

/// The node a target names now, and how it was chosen (for the log). When the
/// cluster cannot say (no leader, no DescribeQuorum yet), the lowest node id.
fn resolve_target(cluster: &ChaosCluster, target: Target, topic: &str) -> (NodeId, String) {
    let fallback = cluster.node_ids().first().copied().unwrap_or(1);
    match target {
        Target::Node(n) => (n, "chosen".into()),
        Target::PartitionLeader(p) => {
            match resolve::partition_leader(&cluster.bootstrap(), topic, p) {
                Some(n) => (n, format!("leader of partition {p}")),
                None => (fallback, format!("partition {p} had no leader")),
            }
        }
        Target::Controller => {
            let ports: Vec<u16> = cluster
                .bootstrap()
                .split(',')
                .filter_map(|a| a.rsplit(':').next()?.parse().ok())
                .collect();
            match resolve::active_controller(&ports) {
                Some(n) => (n, "active controller".into()),
                None => (
                    fallback,
                    "controller unknown: DescribeQuorum unanswered".into(),
                ),
            }
        }
    }
}
