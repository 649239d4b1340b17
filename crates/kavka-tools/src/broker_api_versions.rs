//! `kafka-broker-api-versions`: every broker's ApiVersions, each API's range and the
//! version Kafka's 4.4 Java client would use with it, as `NodeApiVersions` prints them.

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::Parser;

use crate::wire::Connection;

const USAGE_TEXT: &str = "This tool helps to retrieve broker version information.";

/// The APIs Kafka 4.4's Java client knows, as (key, name, oldest, latest version):
/// what its `ApiKeys` table holds for the APIs a broker serves to clients, recorded
/// from Kafka 4.4's `kafka-broker-api-versions` against Kafka 4.4 (whose ranges are
/// the client's own). Kafka's tool lists each of these, `UNSUPPORTED` when the broker
/// lacks it.
const CLIENT_APIS: &[(i16, &str, i16, i16)] = &[
    (0, "Produce", 0, 13),
    (1, "Fetch", 4, 18),
    (2, "ListOffsets", 1, 11),
    (3, "Metadata", 0, 13),
    (8, "OffsetCommit", 2, 10),
    (9, "OffsetFetch", 1, 10),
    (10, "FindCoordinator", 0, 6),
    (11, "JoinGroup", 0, 9),
    (12, "Heartbeat", 0, 4),
    (13, "LeaveGroup", 0, 5),
    (14, "SyncGroup", 0, 5),
    (15, "DescribeGroups", 0, 6),
    (16, "ListGroups", 0, 5),
    (17, "SaslHandshake", 0, 1),
    (18, "ApiVersions", 0, 5),
    (19, "CreateTopics", 2, 7),
    (20, "DeleteTopics", 1, 6),
    (21, "DeleteRecords", 0, 2),
    (22, "InitProducerId", 0, 5),
    (23, "OffsetForLeaderEpoch", 2, 4),
    (24, "AddPartitionsToTxn", 0, 5),
    (25, "AddOffsetsToTxn", 0, 4),
    (26, "EndTxn", 0, 5),
    (27, "WriteTxnMarkers", 1, 2),
    (28, "TxnOffsetCommit", 0, 6),
    (29, "DescribeAcls", 1, 3),
    (30, "CreateAcls", 1, 3),
    (31, "DeleteAcls", 1, 3),
    (32, "DescribeConfigs", 1, 4),
    (33, "AlterConfigs", 0, 2),
    (34, "AlterReplicaLogDirs", 1, 2),
    (35, "DescribeLogDirs", 1, 5),
    (36, "SaslAuthenticate", 0, 2),
    (37, "CreatePartitions", 0, 3),
    (38, "CreateDelegationToken", 1, 3),
    (39, "RenewDelegationToken", 1, 2),
    (40, "ExpireDelegationToken", 1, 2),
    (41, "DescribeDelegationToken", 1, 3),
    (42, "DeleteGroups", 0, 3),
    (43, "ElectLeaders", 0, 2),
    (44, "IncrementalAlterConfigs", 0, 1),
    (45, "AlterPartitionReassignments", 0, 1),
    (46, "ListPartitionReassignments", 0, 0),
    (47, "OffsetDelete", 0, 0),
    (48, "DescribeClientQuotas", 0, 1),
    (49, "AlterClientQuotas", 0, 1),
    (50, "DescribeUserScramCredentials", 0, 0),
    (51, "AlterUserScramCredentials", 0, 0),
    (55, "DescribeQuorum", 0, 2),
    (57, "UpdateFeatures", 0, 2),
    (60, "DescribeCluster", 0, 2),
    (61, "DescribeProducers", 0, 0),
    (64, "UnregisterBroker", 0, 0),
    (65, "DescribeTransactions", 0, 0),
    (66, "ListTransactions", 0, 2),
    (68, "ConsumerGroupHeartbeat", 0, 1),
    (69, "ConsumerGroupDescribe", 0, 1),
    (71, "GetTelemetrySubscriptions", 0, 0),
    (72, "PushTelemetry", 0, 0),
    (74, "ListConfigResources", 0, 1),
    (75, "DescribeTopicPartitions", 0, 0),
    (76, "ShareGroupHeartbeat", 1, 1),
    (77, "ShareGroupDescribe", 1, 1),
    (78, "ShareFetch", 1, 2),
    (79, "ShareAcknowledge", 1, 2),
    (80, "AddRaftVoter", 0, 1),
    (81, "RemoveRaftVoter", 0, 0),
    (83, "InitializeShareGroupState", 0, 0),
    (84, "ReadShareGroupState", 0, 0),
    (85, "WriteShareGroupState", 0, 1),
    (86, "DeleteShareGroupState", 0, 0),
    (87, "ReadShareGroupStateSummary", 0, 1),
    (88, "StreamsGroupHeartbeat", 0, 1),
    (89, "StreamsGroupDescribe", 0, 1),
    (90, "DescribeShareGroupOffsets", 0, 1),
    (91, "AlterShareGroupOffsets", 0, 0),
    (92, "DeleteShareGroupOffsets", 0, 0),
    (93, "StreamsGroupTopologyDescriptionUpdate", 0, 0),
    (94, "UnregisterController", 0, 0),
];

/// Kafka's BrokerApiVersionsCommand options.
#[derive(Parser, Debug)]
#[command(name = "kafka-broker-api-versions", about = USAGE_TEXT)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
    /// A property file containing configs to be passed to Admin Client.
    #[arg(long, value_name = "command config property file")]
    command_config: Option<String>,
    /// REQUIRED: The server to connect to.
    #[arg(long, value_name = "server(s) to use for bootstrapping")]
    bootstrap_server: Option<String>,
}

/// Runs kafka-broker-api-versions.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let args: Args = match crate::parse_args_terse(argv, "", USAGE_TEXT) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let Some(bootstrap) = args.bootstrap_server.as_deref() else {
        return Ok(crate::usage::<Args>(
            "Missing required argument \"[bootstrap-server]\"",
        ));
    };
    if let Some(path) = &args.command_config {
        if let Err(e) = crate::props::Props::load(std::path::Path::new(path)) {
            eprintln!("{e}");
            return Ok(1);
        }
    }
    let mut conn = match Connection::bootstrap(bootstrap) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(1);
        }
    };
    let metadata = match conn.metadata(Some(&[])) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return Ok(1);
        }
    };
    let nodes: Vec<Node> = metadata
        .brokers
        .iter()
        .map(|b| Node {
            id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(ToString::to_string),
        })
        .collect();
    for node in java_node_order(nodes) {
        let address = format!("{}:{}", node.host, node.port);
        let versions = if address == conn.address {
            Ok(conn.api_versions())
        } else {
            Connection::connect(&address).map(|c| c.api_versions())
        };
        match versions {
            Ok(v) => println!("{} -> {}", node.describe(), format_versions(&v)),
            Err(e) => println!("{} -> ERROR: {e}", node.describe()),
        }
    }
    Ok(0)
}

/// A broker as the Java client's `Node` holds it.
#[derive(Debug, Clone)]
struct Node {
    id: i32,
    host: String,
    port: i32,
    rack: Option<String>,
}

impl Node {
    /// `Node.toString()`; brokers in the metadata are never fenced.
    fn describe(&self) -> String {
        format!(
            "{}:{} (id: {} rack: {} isFenced: false)",
            self.host,
            self.port,
            self.id,
            self.rack.as_deref().unwrap_or("null")
        )
    }

    /// `Node.hashCode()`.
    fn java_hash(&self) -> i32 {
        let h = |s: &str| {
            s.encode_utf16()
                .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
        };
        let mut r = 31i32.wrapping_add(h(&self.host));
        r = r.wrapping_mul(31).wrapping_add(self.id);
        r = r.wrapping_mul(31).wrapping_add(self.port);
        r.wrapping_mul(31)
            .wrapping_add(self.rack.as_deref().map_or(0, h))
    }
}

/// The brokers in the order of the `HashMap<Node, _>` Kafka's tool prints.
fn java_node_order(nodes: Vec<Node>) -> Vec<Node> {
    crate::output::java_hash_order(nodes, Node::java_hash)
}

/// `NodeApiVersions.toString(true)`: every API the broker or the client knows, by key.
fn format_versions(broker: &BTreeMap<i16, (i16, i16)>) -> String {
    let mut lines: BTreeMap<i16, String> = BTreeMap::new();
    for (&key, &(min, max)) in broker {
        let range = if min == max {
            min.to_string()
        } else {
            format!("{min} to {max}")
        };
        let line = match CLIENT_APIS.iter().find(|(k, ..)| *k == key) {
            Some(&(_, name, oldest, latest)) => {
                let usable = if latest < min {
                    " [unusable: node too new]".to_string()
                } else if max < oldest {
                    " [unusable: node too old]".to_string()
                } else {
                    format!(" [usable: {}]", latest.min(max))
                };
                format!("{name}({key}): {range}{usable}")
            }
            None => format!("UNKNOWN({key}): {range}"),
        };
        lines.insert(key, line);
    }
    for &(key, name, _, _) in CLIENT_APIS {
        lines
            .entry(key)
            .or_insert_with(|| format!("{name}({key}): UNSUPPORTED"));
    }
    let body: Vec<String> = lines.into_values().collect();
    format!("(\n\t{}\n)", body.join(",\n\t"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apis_print_with_range_and_usable_version() {
        let broker: BTreeMap<i16, (i16, i16)> =
            [(0, (0, 13)), (9, (1, 9)), (46, (0, 0)), (200, (0, 1))].into();
        let text = format_versions(&broker);
        assert!(
            text.starts_with("(\n\tProduce(0): 0 to 13 [usable: 13],\n\tFetch(1): UNSUPPORTED,\n")
        );
        assert!(text.contains("\n\tOffsetFetch(9): 1 to 9 [usable: 9],\n"));
        assert!(text.contains("\n\tListPartitionReassignments(46): 0 [usable: 0],\n"));
        assert!(
            text.ends_with("\n\tUnregisterController(94): UNSUPPORTED,\n\tUNKNOWN(200): 0 to 1\n)")
        );
    }

    #[test]
    fn node_prints_as_kafkas() {
        let node = Node {
            id: 1,
            host: "127.0.0.1".into(),
            port: 24090,
            rack: None,
        };
        assert_eq!(
            node.describe(),
            "127.0.0.1:24090 (id: 1 rack: null isFenced: false)"
        );
    }
}
