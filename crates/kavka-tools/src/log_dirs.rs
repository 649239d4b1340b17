//! `kafka-log-dirs --describe`: each broker's log directories and the size and lag of
//! every replica in them (DescribeLogDirs), as Kafka's one-line JSON.

use std::collections::BTreeSet;
use std::ffi::OsString;

use clap::Parser;
use kafka_protocol::messages::DescribeLogDirsRequest;

use crate::error::java_exception_class;
use crate::output::{java_hashmap_order, java_string_order};
use crate::wire::Connection;

const USAGE_TEXT: &str = "This tool helps to query log directory usage on the specified brokers.";

/// Kafka's LogDirsCommand options.
#[derive(Parser, Debug)]
#[command(name = "kafka-log-dirs", about = USAGE_TEXT)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
    /// REQUIRED: the server(s) to use for bootstrapping
    #[arg(long, value_name = "The server(s) to use for bootstrapping")]
    bootstrap_server: Option<String>,
    /// Property file containing configs to be passed to Admin Client.
    #[arg(long, value_name = "Admin client property file")]
    command_config: Option<String>,
    /// Describe the specified log directories on the specified brokers.
    #[arg(long)]
    describe: bool,
    /// The list of topics to be queried in the form "topic1,topic2,topic3". All topics will be queried if no topic list is specified
    #[arg(long, value_name = "Topic list", default_value = "")]
    topic_list: String,
    /// The list of brokers to be queried in the form "0,1,2". All brokers in the cluster will be queried if no broker list is specified
    #[arg(long, value_name = "Broker list", default_value = "")]
    broker_list: String,
}

/// One replica in a log directory.
#[derive(Debug, Clone, PartialEq)]
struct Replica {
    topic: String,
    partition: i32,
    size: i64,
    offset_lag: i64,
    is_future: bool,
}

/// One log directory of a broker.
#[derive(Debug, Clone, PartialEq)]
struct LogDir {
    path: String,
    error_code: i16,
    replicas: Vec<Replica>,
}

/// Runs kafka-log-dirs.
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
    if !args.describe {
        return Ok(crate::usage::<Args>(
            "Missing required argument \"[describe]\"",
        ));
    }
    let topics: BTreeSet<String> = split(&args.topic_list).map(str::to_string).collect();
    let asked: Vec<i32> = match split(&args.broker_list)
        .map(str::parse::<i32>)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(b) => b,
        Err(_) => {
            eprintln!("For input string: \"{}\"", args.broker_list);
            return Ok(1);
        }
    };
    if let Some(path) = &args.command_config {
        if let Err(e) = crate::props::Props::load(std::path::Path::new(path)) {
            eprintln!("{e}");
            return Ok(1);
        }
    }
    match describe(bootstrap, &asked, &topics) {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("{e}");
            Ok(1)
        }
    }
}

/// The non-empty comma-separated items of a list option.
fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').filter(|s| !s.is_empty())
}

fn describe(
    bootstrap: &str,
    asked: &[i32],
    topics: &BTreeSet<String>,
) -> Result<i32, crate::ToolError> {
    let mut conn = Connection::bootstrap(bootstrap)?;
    let metadata = conn.metadata(Some(&[]))?;
    let cluster: BTreeSet<i32> = metadata.brokers.iter().map(|b| b.node_id.0).collect();
    let missing: BTreeSet<i32> = asked
        .iter()
        .copied()
        .filter(|b| !cluster.contains(b))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "ERROR: The given brokers do not exist from --broker-list: {}. Current existent brokers: {}",
            joined(&missing),
            joined(&cluster)
        );
        return Ok(1);
    }
    // A HashSet<Integer> of small ids iterates in ascending order.
    let brokers: BTreeSet<i32> = if asked.is_empty() {
        cluster
    } else {
        asked.iter().copied().collect()
    };
    println!("Querying brokers for log directories information");
    let mut described = Vec::new();
    for id in &brokers {
        let Some(b) = metadata.brokers.iter().find(|b| b.node_id.0 == *id) else {
            continue;
        };
        let address = format!("{}:{}", b.host, b.port);
        let request = DescribeLogDirsRequest::default().with_topics(None);
        let response = if address == conn.address {
            conn.send(request)?
        } else {
            Connection::connect(&address)?.send(request)?
        };
        if response.error_code != 0 {
            return Err(crate::ToolError::from_code(response.error_code, None));
        }
        let dirs = response
            .results
            .into_iter()
            .map(|r| LogDir {
                path: r.log_dir.to_string(),
                error_code: r.error_code,
                replicas: r
                    .topics
                    .into_iter()
                    .flat_map(|t| {
                        let topic = t.name.0.to_string();
                        t.partitions.into_iter().map(move |p| Replica {
                            topic: topic.clone(),
                            partition: p.partition_index,
                            size: p.partition_size,
                            offset_lag: p.offset_lag,
                            is_future: p.is_future_key,
                        })
                    })
                    .collect(),
            })
            .collect::<Vec<_>>();
        described.push((*id, dirs));
    }
    println!(
        "Received log directory information from brokers {}",
        joined(&brokers)
    );
    println!("{}", format_json(described, topics));
    Ok(0)
}

fn joined(ids: &BTreeSet<i32>) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// Kafka's JSON, key order included: the tool builds its objects as Java HashMaps,
/// whose iteration order for these fixed keys is the order written here.
fn format_json(brokers: Vec<(i32, Vec<LogDir>)>, topics: &BTreeSet<String>) -> String {
    let brokers: Vec<String> = brokers
        .into_iter()
        .map(|(id, dirs)| {
            let dirs: Vec<String> = java_string_order(dirs, |d| d.path.as_str())
                .into_iter()
                .map(|d| format_log_dir(d, topics))
                .collect();
            format!("{{\"broker\":{id},\"logDirs\":[{}]}}", dirs.join(","))
        })
        .collect();
    format!("{{\"brokers\":[{}],\"version\":1}}", brokers.join(","))
}

fn format_log_dir(dir: LogDir, topics: &BTreeSet<String>) -> String {
    let replicas: Vec<Replica> = dir
        .replicas
        .into_iter()
        .filter(|r| topics.is_empty() || topics.contains(&r.topic))
        .collect();
    let partitions: Vec<String> = java_hashmap_order(replicas, |r| (r.topic.as_str(), r.partition))
        .into_iter()
        .map(|r| {
            format!(
                "{{\"partition\":{},\"size\":{},\"offsetLag\":{},\"isFuture\":{}}}",
                json_string(&format!("{}-{}", r.topic, r.partition)),
                r.size,
                r.offset_lag,
                r.is_future
            )
        })
        .collect();
    let error = if dir.error_code == 0 {
        "null".to_string()
    } else {
        json_string(&java_exception_class(dir.error_code))
    };
    format!(
        "{{\"partitions\":[{}],\"error\":{error},\"logDir\":{}}}",
        partitions.join(","),
        json_string(&dir.path)
    )
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(topic: &str, partition: i32, size: i64) -> Replica {
        Replica {
            topic: topic.into(),
            partition,
            size,
            offset_lag: 0,
            is_future: false,
        }
    }

    #[test]
    fn json_is_kafkas_byte_for_byte() {
        // What Kafka 4.4's kafka-log-dirs printed for a three-partition topic.
        let dir = LogDir {
            path: "/tmp/tools-ref/data".into(),
            error_code: 0,
            replicas: vec![
                replica("orders", 2, 0),
                replica("orders", 0, 105),
                replica("orders", 1, 0),
            ],
        };
        let json = format_json(vec![(1, vec![dir])], &BTreeSet::new());
        assert_eq!(
            json,
            r#"{"brokers":[{"broker":1,"logDirs":[{"partitions":[{"partition":"orders-0","size":105,"offsetLag":0,"isFuture":false},{"partition":"orders-1","size":0,"offsetLag":0,"isFuture":false},{"partition":"orders-2","size":0,"offsetLag":0,"isFuture":false}],"error":null,"logDir":"/tmp/tools-ref/data"}]}],"version":1}"#
        );
    }

    #[test]
    fn topic_list_keeps_only_those_topics() {
        let dir = LogDir {
            path: "/d".into(),
            error_code: 0,
            replicas: vec![replica("a", 0, 1), replica("b", 0, 2)],
        };
        let only_b: BTreeSet<String> = ["b".to_string()].into();
        let json = format_json(vec![(1, vec![dir])], &only_b);
        assert!(json.contains("\"b-0\""));
        assert!(!json.contains("\"a-0\""));
    }
}
