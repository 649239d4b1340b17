//! `idle-connections`: many clients connected and silent beside one busy
//! producer/consumer pair. Each idle connection asks ApiVersions once (so the
//! broker has set it up and served it, as for a client that connected and went
//! quiet), then says nothing. Figures: the broker's RSS growth per idle
//! connection, and the busy pair's end-to-end latency while they are open.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

use crate::broker_stats::{rss_kib, Proc};
use crate::cluster::Cluster;
use crate::latency::{self, LatencySpec};
use crate::report::Row;
use crate::startup::round_trip;

/// Parameters of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdleSpec {
    pub(crate) connections: usize,
    pub(crate) busy: LatencySpec,
    pub(crate) time_limit: Duration,
}

/// Two rows: the RSS per idle connection, and the busy pair's latency beside them.
pub(crate) fn run(cluster: &Cluster, spec: IdleSpec) -> Vec<Row> {
    let name = format!("idle connections {}", spec.connections);
    let latency_name = format!(
        "latency {}/s acks=all beside {} idle connections",
        spec.busy.rate, spec.connections
    );
    let pid = match cluster.broker_pids.as_slice() {
        [pid] => *pid,
        _ => {
            let e = anyhow::anyhow!("needs exactly one --broker-pid");
            return vec![Row::failed(&name, &e), Row::failed(&latency_name, &e)];
        }
    };
    // A warm-up latency run first, so buffers and topics of the busy pair are
    // part of the "before" figure, not charged to the idle connections.
    let warm = LatencySpec {
        duration: Duration::from_secs(2),
        ..spec.busy
    };
    if let Err(e) = latency::run(cluster, "warm-up", warm) {
        return vec![Row::failed(&name, &e), Row::failed(&latency_name, &e)];
    }
    let (held, row) = match open_idle(cluster, pid, spec) {
        Ok(r) => r,
        Err(e) => return vec![Row::failed(&name, &e), Row::failed(&latency_name, &e)],
    };
    let busy = latency::run(cluster, &latency_name, spec.busy)
        .unwrap_or_else(|e| Row::failed(&latency_name, &e));
    drop(held);
    vec![row, busy]
}

fn open_idle(cluster: &Cluster, pid: u32, spec: IdleSpec) -> anyhow::Result<(Vec<TcpStream>, Row)> {
    let address = cluster
        .bootstrap
        .split(',')
        .next()
        .context("an empty --bootstrap")?
        .to_string();
    let settle = Duration::from_secs(2);
    std::thread::sleep(settle);
    let before = rss_kib(Proc::Pid(pid))?;
    let deadline = Instant::now() + spec.time_limit;
    let mut held = Vec::with_capacity(spec.connections);
    for i in 0..spec.connections {
        if Instant::now() > deadline {
            bail!("time limit reached after opening {i} connections");
        }
        let mut stream =
            TcpStream::connect(&address).with_context(|| format!("connection {i} to {address}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let answer: ApiVersionsResponse = round_trip(
            &mut stream,
            ApiKey::ApiVersions,
            0,
            1,
            &ApiVersionsRequest::default(),
        )
        .with_context(|| format!("ApiVersions on connection {i}"))?;
        if answer.error_code != 0 {
            bail!("ApiVersions error {} on connection {i}", answer.error_code);
        }
        held.push(stream);
    }
    std::thread::sleep(settle);
    let after = rss_kib(Proc::Pid(pid))?;
    let per_connection = after.saturating_sub(before) as f64 / spec.connections as f64;
    let mut row = Row::new(format!("idle connections {}", spec.connections));
    row.kib_per_connection = Some(per_connection);
    row.broker_peak_rss_mib = Some(after as f64 / 1024.0);
    Ok((held, row))
}
