//! How a node of the metadata quorum is configured, in Kafka's terms.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::ConfigError;
use crate::types::NodeId;

/// A voter of the quorum: one `id@host:port` of `controller.quorum.voters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voter {
    /// Its node id.
    pub id: NodeId,
    /// Its controller listener, `host:port`.
    pub addr: String,
}

/// Parses `controller.quorum.voters`: `1@127.0.0.1:9093,2@127.0.0.1:9094,...`.
pub fn parse_voters(text: &str) -> Result<Vec<Voter>, ConfigError> {
    let mut voters: Vec<Voter> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = |reason: &str| ConfigError::Voters {
            entry: entry.to_string(),
            reason: reason.to_string(),
        };
        let (id, addr) = entry
            .split_once('@')
            .ok_or_else(|| bad("expected id@host:port"))?;
        let id: NodeId = id
            .parse()
            .map_err(|_| bad("the id is not a non-negative integer"))?;
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| bad("expected host:port"))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad("expected host:port with a port number"));
        }
        if voters.iter().any(|v| v.id == id) {
            return Err(bad("the id appears twice"));
        }
        voters.push(Voter {
            id,
            addr: addr.to_string(),
        });
    }
    if voters.is_empty() {
        return Err(ConfigError::Voters {
            entry: text.to_string(),
            reason: "no voters".to_string(),
        });
    }
    Ok(voters)
}

/// Timers of the quorum.
///
/// Kafka's `controller.quorum.election.timeout.ms` (1000) is how long a candidate
/// waits before a new election, and `controller.quorum.fetch.timeout.ms` (2000) how
/// long a follower goes without hearing from the leader before it becomes a
/// candidate. openraft has one randomized election timeout for both, drawn from
/// `[election_timeout, fetch_timeout)`: a follower gives up on the leader within the
/// fetch timeout, and two candidates rarely collide. The leader's heartbeat (Kafka's
/// followers fetch continuously) is a quarter of the fetch timeout, so a follower
/// tolerates a few lost heartbeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumTimeouts {
    /// `controller.quorum.election.timeout.ms`.
    pub election_timeout: Duration,
    /// `controller.quorum.fetch.timeout.ms`.
    pub fetch_timeout: Duration,
    /// Interval of the leader's heartbeats.
    pub heartbeat_interval: Duration,
    /// Upper bound of one vote or AppendEntries RPC, including connecting
    /// (openraft passes shorter ones for heartbeats and votes).
    pub rpc_timeout: Duration,
    /// Upper bound of one snapshot chunk RPC; the last chunk makes the follower
    /// decode, persist and install the whole image before it answers.
    pub snapshot_chunk_timeout: Duration,
    /// How long `propose` waits for its entry to commit before giving up; the entry
    /// may still commit later.
    pub propose_timeout: Duration,
}

impl QuorumTimeouts {
    /// Kafka's defaults.
    pub fn kafka_defaults() -> Self {
        Self {
            election_timeout: Duration::from_millis(1000),
            fetch_timeout: Duration::from_millis(2000),
            heartbeat_interval: Duration::from_millis(500),
            rpc_timeout: Duration::from_millis(2000),
            snapshot_chunk_timeout: Duration::from_secs(30),
            propose_timeout: Duration::from_secs(30),
        }
    }

    /// Short timers for tests: leaders fail over in well under a second.
    pub fn fast() -> Self {
        Self {
            election_timeout: Duration::from_millis(300),
            fetch_timeout: Duration::from_millis(600),
            heartbeat_interval: Duration::from_millis(60),
            rpc_timeout: Duration::from_millis(1000),
            snapshot_chunk_timeout: Duration::from_secs(10),
            propose_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything a node of the metadata quorum needs to start.
#[derive(Debug, Clone)]
pub struct QuorumConfig {
    /// The cluster (`cluster.id`, from `meta.properties`): nodes answer only
    /// requests for their own cluster and node id.
    pub cluster_id: String,
    /// This node's id (`node.id`).
    pub node_id: NodeId,
    /// Where this node accepts quorum RPCs (the controller listener), `host:port`.
    pub listen_addr: String,
    /// The static voters (`controller.quorum.voters`). A node not among them is an
    /// observer once the leader adds it as a learner.
    pub voters: Vec<Voter>,
    /// Directory of the log, vote and snapshots (`<log.dirs>/__cluster_metadata-0`).
    pub data_dir: PathBuf,
    /// Timers.
    pub timeouts: QuorumTimeouts,
    /// A snapshot is taken after this many entries since the last one, and the log
    /// it covers is purged (Kafka's `metadata.log.max.record.bytes.between.snapshots`,
    /// counted in entries).
    pub snapshot_every_entries: u64,
    /// Entries kept in the log behind a snapshot, so a follower slightly behind
    /// catches up from the log rather than by snapshot.
    pub keep_entries_after_snapshot: u64,
    /// Largest RPC frame accepted or sent; checked before allocating. An entry may
    /// take half of it: 64 MiB by default, so that one change electing leaders for
    /// every partition of a broker (its registration after a restart: about 110
    /// bytes per partition) fits up to some 600,000 partitions. 16 MiB refused a
    /// restart at 100,000. Kafka takes requests up to `socket.request.max.bytes`,
    /// 100 MiB.
    pub max_frame_bytes: usize,
}

impl QuorumConfig {
    /// A config with Kafka's timers and snapshot every 10,000 entries.
    pub fn new(
        cluster_id: impl Into<String>,
        node_id: NodeId,
        listen_addr: impl Into<String>,
        voters: Vec<Voter>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            cluster_id: cluster_id.into(),
            node_id,
            listen_addr: listen_addr.into(),
            voters,
            data_dir: data_dir.into(),
            timeouts: QuorumTimeouts::kafka_defaults(),
            snapshot_every_entries: 10_000,
            keep_entries_after_snapshot: 1_000,
            max_frame_bytes: 128 << 20,
        }
    }

    /// Whether this node is one of the static voters.
    pub fn is_voter(&self) -> bool {
        self.voters.iter().any(|v| v.id == self.node_id)
    }

    /// Checks what openraft would otherwise reject later or obscurely.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let ids: BTreeSet<NodeId> = self.voters.iter().map(|v| v.id).collect();
        if ids.is_empty() || ids.len() != self.voters.len() {
            return Err(ConfigError::Invalid(
                "voters must be non-empty with distinct ids".into(),
            ));
        }
        let t = &self.timeouts;
        if t.heartbeat_interval >= t.election_timeout || t.election_timeout >= t.fetch_timeout {
            return Err(ConfigError::Invalid(format!(
                "need heartbeat ({:?}) < election timeout ({:?}) < fetch timeout ({:?})",
                t.heartbeat_interval, t.election_timeout, t.fetch_timeout
            )));
        }
        if self.cluster_id.is_empty() {
            return Err(ConfigError::Invalid("cluster_id is empty".into()));
        }
        if self.max_frame_bytes < 64 << 10 {
            return Err(ConfigError::Invalid("max_frame_bytes below 64 KiB".into()));
        }
        if self.snapshot_every_entries == 0 {
            return Err(ConfigError::Invalid("snapshot_every_entries is 0".into()));
        }
        Ok(())
    }

    /// openraft's config from ours.
    pub(crate) fn raft_config(&self) -> Result<openraft::Config, ConfigError> {
        let t = &self.timeouts;
        let config = openraft::Config {
            cluster_name: "kavka-metadata".to_string(),
            election_timeout_min: t.election_timeout.as_millis() as u64,
            election_timeout_max: t.fetch_timeout.as_millis() as u64,
            heartbeat_interval: t.heartbeat_interval.as_millis() as u64,
            install_snapshot_timeout: t.snapshot_chunk_timeout.as_millis() as u64,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every_entries),
            max_in_snapshot_log_to_keep: self.keep_entries_after_snapshot,
            // A chunk travels as JSON (a byte is up to four characters), so a chunk
            // of a quarter frame always fits in one frame.
            snapshot_max_chunk_size: (self.max_frame_bytes / 4).saturating_sub(4096).max(1024)
                as u64,
            ..Default::default()
        };
        config
            .validate()
            .map_err(|e| ConfigError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voters_parse_kafka_syntax() {
        let voters = parse_voters("1@127.0.0.1:9093, 2@localhost:9094,3@[::1]:9095").unwrap();
        assert_eq!(
            voters,
            vec![
                Voter {
                    id: 1,
                    addr: "127.0.0.1:9093".into()
                },
                Voter {
                    id: 2,
                    addr: "localhost:9094".into()
                },
                Voter {
                    id: 3,
                    addr: "[::1]:9095".into()
                },
            ]
        );
    }

    #[test]
    fn bad_voters_are_refused_naming_the_entry() {
        for bad in [
            "",
            "1",
            "x@h:1",
            "1@h",
            "1@h:port",
            "1@:9",
            "-1@h:1",
            "1@h:1,1@h:2",
        ] {
            let err = parse_voters(bad).unwrap_err();
            assert!(matches!(err, ConfigError::Voters { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn kafka_defaults_map_to_a_valid_raft_config() {
        let c = QuorumConfig::new(
            "cluster",
            1,
            "127.0.0.1:9093",
            parse_voters("1@127.0.0.1:9093").unwrap(),
            "/tmp/x",
        );
        c.validate().unwrap();
        let r = c.raft_config().unwrap();
        assert_eq!(
            (
                r.election_timeout_min,
                r.election_timeout_max,
                r.heartbeat_interval
            ),
            (1000, 2000, 500)
        );
        let mut fast = c.clone();
        fast.timeouts = QuorumTimeouts::fast();
        fast.raft_config().unwrap();
        fast.timeouts.heartbeat_interval = fast.timeouts.election_timeout;
        assert!(fast.validate().is_err());
    }
}
