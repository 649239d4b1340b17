//! A fault-injecting TCP proxy between nodes, on loopback.
//!
//! Why a proxy and not network namespaces: it needs no root and no `ip netns`
//! (CI containers rarely have NET_ADMIN), every address stays 127.0.0.1, a cut
//! can stall (blackhole), reset (drop) or slow (delay) a link, and nothing has to
//! be cleaned up from the host if a test dies. The cost: it only sees traffic
//! that is pointed at it, so the harness points each node's controller voters and
//! its advertised listener at proxy ports (see `cluster.rs`).
//!
//! A route either knows its source node (controller voters are per-node config,
//! so node 1's address for node 2 is a port only node 1 uses), or identifies the
//! source of each connection: advertised listeners are one address for all
//! peers, so the proxy finds which node process owns the connecting socket
//! (`/proc/net/tcp` inode, then `/proc/<pid>/fd`) among the PIDs in
//! `cluster.json`. A connection whose source cannot be identified (a client) is
//! never cut.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::history::NodeId;

/// What a cut link does to its traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFault {
    /// Close the link's connections and every new one at once (a reset).
    Drop,
    /// Hold every byte until healed: peers see silence and time out, as in a
    /// network partition.
    Blackhole,
    /// Forward each chunk after this delay.
    Delay(Duration),
}

/// One proxied destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The connecting node, if only one node uses this route.
    pub from: Option<NodeId>,
    pub to: NodeId,
    /// The node's real address.
    pub target: SocketAddr,
}

type Links = BTreeMap<(NodeId, NodeId), LinkFault>;

/// The proxy: routes added at start, link faults changed at any time.
#[derive(Clone)]
pub struct LinkProxy {
    links: Arc<Mutex<Links>>,
    changed: watch::Sender<u64>,
    /// `cluster.json`, for the PIDs that identify a connection's source node.
    state_file: Option<PathBuf>,
}

fn pair(a: NodeId, b: NodeId) -> (NodeId, NodeId) {
    (a.min(b), a.max(b))
}

impl LinkProxy {
    /// A proxy that identifies unknown sources through `state_file`'s PIDs.
    pub fn new(state_file: Option<PathBuf>) -> Self {
        let (changed, _) = watch::channel(0);
        Self {
            links: Arc::default(),
            changed,
            state_file,
        }
    }

    /// Listens on a free 127.0.0.1 port for `route`; returns the port.
    pub async fn add_route(&self, route: Route) -> std::io::Result<u16> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let proxy = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, peer)) = listener.accept().await else {
                    continue;
                };
                let proxy = proxy.clone();
                let route = route.clone();
                tokio::spawn(async move { proxy.serve(client, peer, route).await });
            }
        });
        Ok(port)
    }

    /// Cuts (or with `None` heals) the link between two nodes, both ways.
    pub fn set_link(&self, a: NodeId, b: NodeId, fault: Option<LinkFault>) {
        let mut links = self.lock();
        match fault {
            Some(f) => links.insert(pair(a, b), f),
            None => links.remove(&pair(a, b)),
        };
        drop(links);
        self.changed.send_modify(|v| *v += 1);
    }

    /// Cuts every link of `node` to `others`.
    pub fn isolate(&self, node: NodeId, others: impl IntoIterator<Item = NodeId>, f: LinkFault) {
        for other in others {
            if other != node {
                self.set_link(node, other, Some(f));
            }
        }
    }

    /// Restores every link.
    pub fn heal_all(&self) {
        self.lock().clear();
        self.changed.send_modify(|v| *v += 1);
    }

    /// The fault on the link between two nodes now.
    pub fn link(&self, a: NodeId, b: NodeId) -> Option<LinkFault> {
        self.lock().get(&pair(a, b)).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Links> {
        // A panicking test thread cannot leave the map half-changed: every
        // change is one insert, remove or clear.
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn serve(&self, client: TcpStream, peer: SocketAddr, route: Route) {
        let from = match route.from {
            Some(n) => Some(n),
            None => self.identify(peer),
        };
        let fault = |p: &Self| from.and_then(|f| p.link(f, route.to));
        if fault(self) == Some(LinkFault::Drop) {
            return;
        }
        let Ok(server) = TcpStream::connect(route.target).await else {
            return;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        let up = self.pump(cr, sw, from, route.to);
        let down = self.pump(sr, cw, from, route.to);
        tokio::pin!(up, down);
        // A cut ends both directions; an end of stream lets the other finish.
        tokio::select! {
            r = &mut up => if r == Pump::Eof { let _ = down.await; },
            r = &mut down => if r == Pump::Eof { let _ = up.await; },
        }
    }

    async fn pump<R, W>(&self, mut from_r: R, mut to_w: W, from: Option<NodeId>, to: NodeId) -> Pump
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut changed = self.changed.subscribe();
        let mut buf = vec![0u8; 64 * 1024];
        let fault = |p: &Self| from.and_then(|f| p.link(f, to));
        loop {
            let n = tokio::select! {
                r = from_r.read(&mut buf) => match r {
                    Ok(0) | Err(_) => {
                        let _ = to_w.shutdown().await;
                        return Pump::Eof;
                    }
                    Ok(n) => n,
                },
                _ = changed.changed() => {
                    if fault(self) == Some(LinkFault::Drop) {
                        return Pump::Cut;
                    }
                    continue;
                }
            };
            // Bounded by the test: every hold ends with a heal.
            loop {
                match fault(self) {
                    None => break,
                    Some(LinkFault::Drop) => return Pump::Cut,
                    Some(LinkFault::Delay(d)) => {
                        tokio::time::sleep(d).await;
                        break;
                    }
                    Some(LinkFault::Blackhole) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            if to_w.write_all(&buf[..n]).await.is_err() {
                return Pump::Eof;
            }
        }
    }

    /// The node whose process owns the socket connecting from `peer`.
    fn identify(&self, peer: SocketAddr) -> Option<NodeId> {
        let path = self.state_file.as_ref()?;
        let text = std::fs::read_to_string(path).ok()?;
        let state: serde_json::Value = serde_json::from_str(&text).ok()?;
        let inode = socket_inode(peer)?;
        let target = format!("socket:[{inode}]");
        for node in state.get("nodes")?.as_array()? {
            let (Some(id), Some(pid)) = (
                node.get("id").and_then(|v| v.as_i64()),
                node.get("pid").and_then(|v| v.as_u64()),
            ) else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()) {
                    return i32::try_from(id).ok();
                }
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pump {
    Eof,
    Cut,
}

/// The inode of the IPv4 socket whose local address is `peer`.
fn socket_inode(peer: SocketAddr) -> Option<u64> {
    let SocketAddr::V4(v4) = peer else {
        return None;
    };
    // /proc/net/tcp prints the address as the in-memory u32 in hex: little-endian.
    let ip = u32::from_le_bytes(v4.ip().octets());
    let local = format!("{ip:08X}:{:04X}", v4.port());
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.get(1) == Some(&local.as_str()))
            .then(|| cols.get(9)?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An echo server standing in for a node.
    async fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn roundtrip(s: &mut TcpStream, within: Duration) -> Result<(), &'static str> {
        s.write_all(b"ping").await.map_err(|_| "write")?;
        let mut buf = [0u8; 4];
        match tokio::time::timeout(within, s.read_exact(&mut buf)).await {
            Err(_) => Err("timeout"),
            Ok(Err(_)) => Err("closed"),
            Ok(Ok(_)) => Ok(()),
        }
    }

    async fn proxied() -> (LinkProxy, u16) {
        let proxy = LinkProxy::new(None);
        let port = proxy
            .add_route(Route {
                from: Some(1),
                to: 2,
                target: echo().await,
            })
            .await
            .unwrap();
        (proxy, port)
    }

    #[tokio::test]
    async fn a_blackholed_link_stalls_and_heals() {
        let (proxy, port) = proxied().await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        roundtrip(&mut s, Duration::from_secs(2)).await.unwrap();
        proxy.set_link(2, 1, Some(LinkFault::Blackhole));
        assert_eq!(
            roundtrip(&mut s, Duration::from_millis(300)).await,
            Err("timeout")
        );
        proxy.heal_all();
        // The held bytes arrive after the heal, as TCP would retransmit them.
        let mut buf = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        roundtrip(&mut s, Duration::from_secs(2)).await.unwrap();
    }

    #[tokio::test]
    async fn a_dropped_link_closes_connections_old_and_new() {
        let (proxy, port) = proxied().await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        roundtrip(&mut s, Duration::from_secs(2)).await.unwrap();
        proxy.set_link(1, 2, Some(LinkFault::Drop));
        assert!(roundtrip(&mut s, Duration::from_secs(2)).await.is_err());
        let mut fresh = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        assert!(roundtrip(&mut fresh, Duration::from_secs(2)).await.is_err());
        // Other links are untouched by this cut.
        assert_eq!(proxy.link(1, 3), None);
        proxy.set_link(1, 2, None);
        let mut healed = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        roundtrip(&mut healed, Duration::from_secs(2))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_delayed_link_is_slow_but_whole() {
        let (proxy, port) = proxied().await;
        proxy.set_link(1, 2, Some(LinkFault::Delay(Duration::from_millis(150))));
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let t = Instant::now();
        roundtrip(&mut s, Duration::from_secs(3)).await.unwrap();
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn the_source_of_a_shared_route_is_found_by_its_process() {
        // This test process plays node 7 in a state file naming its PID.
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("cluster.json");
        let json = format!(r#"{{"nodes":[{{"id":7,"pid":{}}}]}}"#, std::process::id());
        std::fs::write(&state, json).unwrap();
        let proxy = LinkProxy::new(Some(state));
        let port = proxy
            .add_route(Route {
                from: None,
                to: 2,
                target: echo().await,
            })
            .await
            .unwrap();
        proxy.set_link(7, 2, Some(LinkFault::Drop));
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        assert!(roundtrip(&mut s, Duration::from_secs(2)).await.is_err());
        proxy.set_link(7, 2, None);
        proxy.set_link(8, 2, Some(LinkFault::Drop));
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        roundtrip(&mut s, Duration::from_secs(2)).await.unwrap();
    }
}
