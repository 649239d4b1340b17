//! The cluster under test: node processes brought up and controlled through the
//! `kavka cluster` subcommand (the same code path a developer uses by hand), plus
//! the link proxy when there is more than one node.
//!
//! With the proxy, node *i*'s configuration points every link at it:
//! `controller.quorum.voters` names node *j* at a port that only *i* uses, and
//! each node advertises its one listener at a proxy port, so replication fetches
//! from peers go through the proxy too. The listeners stay as `kavka cluster`
//! writes them (one broker listener, no extra inter-broker listener to serve).
//! Clients bootstrap on the real ports; after that they follow the advertised
//! addresses, and since no node owns their sockets the proxy never cuts them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::history::NodeId;
use crate::proxy::{LinkFault, LinkProxy, Route};

/// Errors of the harness itself (not of the system under test).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("`kavka cluster {args}` failed: {output}")]
    Command { args: String, output: String },
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("{0}")]
    Workload(String),
}

/// What to bring up.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// The `kavka` binary (`env!("CARGO_BIN_EXE_kavka")` in a test).
    pub binary: PathBuf,
    pub nodes: i32,
    /// `key=value` for every node.
    pub properties: Vec<String>,
    /// Route links between nodes through the proxy (needs two nodes or more).
    pub proxied: bool,
}

/// A running cluster; `down --purge` when dropped unless [`ChaosCluster::keep`].
pub struct ChaosCluster {
    binary: PathBuf,
    dir: PathBuf,
    ids: Vec<NodeId>,
    client_ports: Vec<u16>,
    proxy: Option<LinkProxy>,
    keep: std::sync::atomic::AtomicBool,
}

impl ChaosCluster {
    /// Writes the configs, starts the proxy routes, and runs `kavka cluster up`.
    pub async fn up(spec: ClusterSpec) -> Result<Self, HarnessError> {
        let dir = unique_dir();
        let n = u16::try_from(spec.nodes)
            .map_err(|_| HarnessError::Workload(format!("bad node count {}", spec.nodes)))?;
        let base = free_block(2 * n)?;
        let mut args: Vec<String> = vec![
            "up".into(),
            "-n".into(),
            n.to_string(),
            "--base-port".into(),
            base.to_string(),
            "--timeout".into(),
            "60".into(),
        ];
        for p in &spec.properties {
            args.push("--property".into());
            args.push(p.clone());
        }
        let proxy = if spec.proxied && n > 1 {
            let proxy = LinkProxy::new(Some(dir.join("cluster.json")));
            for p in proxied_properties(&proxy, n, base).await? {
                args.push("--node-property".into());
                args.push(p);
            }
            Some(proxy)
        } else {
            None
        };
        let cluster = Self {
            binary: spec.binary,
            dir,
            ids: (1..=i32::from(n)).collect(),
            client_ports: (0..n).map(|i| base + i).collect(),
            proxy,
            keep: std::sync::atomic::AtomicBool::new(false),
        };
        cluster.run(&args)?;
        Ok(cluster)
    }

    /// `127.0.0.1:P1,...`: the client ports, never proxied.
    pub fn bootstrap(&self) -> String {
        self.client_ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn node_ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// The cluster's directory (configs, data, logs, cluster.json).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A node's log directory.
    pub fn data_dir(&self, id: NodeId) -> PathBuf {
        self.dir.join(format!("node-{id}")).join("data")
    }

    /// Keep the directory after the test (printed), e.g. when the checker failed.
    pub fn keep(&self) {
        self.keep.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn kill9(&self, id: NodeId) -> Result<(), HarnessError> {
        self.node_cmd("kill", id)
    }
    pub fn pause(&self, id: NodeId) -> Result<(), HarnessError> {
        self.node_cmd("pause", id)
    }
    pub fn resume(&self, id: NodeId) -> Result<(), HarnessError> {
        self.node_cmd("resume", id)
    }
    pub fn stop(&self, id: NodeId) -> Result<(), HarnessError> {
        self.node_cmd("stop", id)
    }
    pub fn start(&self, id: NodeId) -> Result<(), HarnessError> {
        self.node_cmd("start", id)
    }
    pub fn restart(&self, id: NodeId) -> Result<(), HarnessError> {
        self.node_cmd("restart", id)
    }

    /// Cuts (or heals, with `None`) the link between two nodes. Without a proxy
    /// (one node) there are no links and this does nothing.
    pub fn cut(&self, a: NodeId, b: NodeId, fault: Option<LinkFault>) {
        if let Some(p) = &self.proxy {
            p.set_link(a, b, fault);
        }
    }

    /// Cuts every link of one node.
    pub fn isolate(&self, id: NodeId, fault: LinkFault) {
        if let Some(p) = &self.proxy {
            p.isolate(id, self.ids.iter().copied(), fault);
        }
    }

    /// Every node's state from `kavka cluster status`: (id, running/paused/stopped).
    pub fn status(&self) -> Result<Vec<(NodeId, String)>, HarnessError> {
        let out = self.run(&["status".to_string()])?;
        Ok(out
            .lines()
            .skip(1)
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                Some((cols.first()?.parse().ok()?, (*cols.get(2)?).to_string()))
            })
            .collect())
    }

    /// Links restored, paused nodes resumed, stopped nodes started.
    pub fn heal(&self) -> Result<(), HarnessError> {
        if let Some(p) = &self.proxy {
            p.heal_all();
        }
        for (id, state) in self.status()? {
            match state.as_str() {
                "paused" => self.resume(id)?,
                "stopped" => self.start(id)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Stops every node cleanly, keeping the data (for replica dumps).
    pub fn down(&self) -> Result<(), HarnessError> {
        self.run(&["down".to_string()]).map(|_| ())
    }

    fn node_cmd(&self, what: &str, id: NodeId) -> Result<(), HarnessError> {
        self.run(&[what.to_string(), id.to_string()]).map(|_| ())
    }

    fn run(&self, args: &[String]) -> Result<String, HarnessError> {
        let out = Command::new(&self.binary)
            .arg("cluster")
            .args(args)
            .arg("--dir")
            .arg(&self.dir)
            .env("RUST_BACKTRACE", "0")
            .output()
            .map_err(|e| HarnessError::Io("running kavka cluster".into(), e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(HarnessError::Command {
                args: args.join(" "),
                output: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }
}

impl Drop for ChaosCluster {
    fn drop(&mut self) {
        let keep = self.keep.load(std::sync::atomic::Ordering::SeqCst);
        let purge = if keep {
            eprintln!("kept the cluster directory {}", self.dir.display());
            vec!["down".to_string()]
        } else {
            vec!["down".to_string(), "--purge".to_string()]
        };
        if self.run(&purge).is_err() && !keep {
            // `up` may have failed before cluster.json existed.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The per-node properties that send every inter-node link through `proxy`.
async fn proxied_properties(
    proxy: &LinkProxy,
    n: u16,
    base: u16,
) -> Result<Vec<String>, HarnessError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |e| HarnessError::Io(what, e)
    };
    let addr = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let ids: Vec<NodeId> = (1..=i32::from(n)).collect();
    let client = |id: NodeId| base + (id - 1) as u16;
    let controller = |id: NodeId| base + n + (id - 1) as u16;
    // One proxy route per node for its advertised listener: peers (and clients
    // after bootstrap) connect there; the proxy tells nodes apart by process.
    let mut advertised = Vec::new();
    for &to in &ids {
        let route = Route {
            from: None,
            to,
            target: addr(client(to)),
        };
        advertised.push(proxy.add_route(route).await.map_err(io("proxy"))?);
    }
    let mut props = Vec::new();
    for &from in &ids {
        let mut voters = Vec::new();
        for &to in &ids {
            let port = if to == from {
                controller(to)
            } else {
                let route = Route {
                    from: Some(from),
                    to,
                    target: addr(controller(to)),
                };
                proxy.add_route(route).await.map_err(io("proxy"))?
            };
            voters.push(format!("{to}@127.0.0.1:{port}"));
        }
        props.push(format!(
            "{from}:controller.quorum.voters={}",
            voters.join(",")
        ));
        props.push(format!(
            "{from}:advertised.listeners=PLAINTEXT://127.0.0.1:{}",
            advertised[(from - 1) as usize]
        ));
    }
    Ok(props)
}

/// A fresh directory name under the temp dir (created by `kavka cluster up`).
fn unique_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "kavka-chaos-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Environment variable confining the clusters' ports, `LOW-HIGH` (inclusive),
/// for machines where several people share the loopback ports.
pub const PORTS_VAR: &str = "KAVKA_TEST_PORTS";

/// The port range clusters may use: `KAVKA_TEST_PORTS`, else 20000-31999 (below
/// the ephemeral range, 32768+, so outgoing connections of other tests cannot
/// take a port between this check and the bind).
pub fn port_range() -> Result<(u16, u16), HarnessError> {
    let Ok(text) = std::env::var(PORTS_VAR) else {
        return Ok((20_000, 31_999));
    };
    let bad = || HarnessError::Workload(format!("{PORTS_VAR}={text}: expected LOW-HIGH"));
    let (lo, hi) = text.trim().split_once('-').ok_or_else(bad)?;
    let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
    let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
    if lo == 0 || hi < lo {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// `n` consecutive free ports inside [`port_range`].
fn free_block(n: u16) -> Result<u16, HarnessError> {
    let (lo, hi) = port_range()?;
    let span = u64::from(hi - lo) + 1;
    if span < u64::from(n) {
        return Err(HarnessError::Workload(format!(
            "{PORTS_VAR}: {lo}-{hi} has fewer than {n} ports"
        )));
    }
    let starts = span - u64::from(n) + 1;
    let seed = u64::from(std::process::id()) * 7919
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::from(d.subsec_nanos()))
            .unwrap_or(0);
    for i in 0..1000u64 {
        let base = lo + ((seed.wrapping_add(i * 131)) % starts) as u16;
        if (base..base + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return Ok(base);
        }
    }
    Err(HarnessError::Workload(format!("no {n} free ports")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn prop<'a>(props: &'a [String], node: i32, key: &str) -> &'a str {
        let prefix = format!("{node}:{key}=");
        props
            .iter()
            .find_map(|p| p.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{prefix} missing"))
    }

    fn port_of(voters: &str, id: i32) -> u16 {
        voters
            .split(',')
            .find_map(|v| v.strip_prefix(&format!("{id}@127.0.0.1:")))
            .and_then(|p| p.parse().ok())
            .unwrap()
    }

    #[tokio::test]
    async fn every_link_between_nodes_goes_through_the_proxy() {
        let base = free_block(6).unwrap();
        let proxy = LinkProxy::new(None);
        let props = proxied_properties(&proxy, 3, base).await.unwrap();
        let v1 = prop(&props, 1, "controller.quorum.voters");
        let v2 = prop(&props, 2, "controller.quorum.voters");
        // A node reaches itself directly and each peer through a port of its own.
        assert_eq!(port_of(v1, 1), base + 3);
        assert_ne!(port_of(v1, 2), base + 4);
        assert_ne!(port_of(v1, 3), port_of(v2, 3));
        let advertised = prop(&props, 1, "advertised.listeners");
        assert!(
            advertised.starts_with("PLAINTEXT://127.0.0.1:"),
            "{advertised}"
        );
        assert!(!advertised.ends_with(&format!(":{base}")), "{advertised}");

        // Node 1's route to node 2's controller works, and a cut of 1-2 stops it.
        let controller2 = tokio::net::TcpListener::bind(("127.0.0.1", base + 4))
            .await
            .unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = controller2.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let via = port_of(v1, 2);
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", via))
            .await
            .unwrap();
        s.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        proxy.set_link(1, 2, Some(LinkFault::Drop));
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", via))
            .await
            .unwrap();
        let _ = s.write_all(b"x").await;
        let cut = tokio::time::timeout(std::time::Duration::from_secs(2), s.read_exact(&mut b))
            .await
            .unwrap();
        assert!(cut.is_err());
    }
}
