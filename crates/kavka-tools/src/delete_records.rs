//! `kafka-delete-records`: moves each listed partition's log start offset up to the
//! offset given in a JSON file, and prints the new low watermarks.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;

use clap::Parser;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::{DeleteRecordsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use serde_json::Value;

use crate::error::{java_exception, ToolError};
use crate::wire::Connection;

const USAGE_TEXT: &str =
    "This tool helps to delete records of the given partitions down to the specified offset.";
/// The admin client's default request timeout.
const TIMEOUT_MS: i32 = 30_000;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const LEADER_NOT_AVAILABLE: i16 = 5;

/// Kafka's DeleteRecordsCommand options.
#[derive(Parser, Debug)]
#[command(name = "kafka-delete-records", about = USAGE_TEXT)]
#[command(infer_long_args = true, disable_version_flag = true)]
pub(crate) struct Args {
    /// REQUIRED: The server to connect to.
    #[arg(long, value_name = "server(s) to use for bootstrapping")]
    bootstrap_server: Option<String>,
    /// REQUIRED: The JSON file with offset per partition. The format to use is:
    /// {"partitions": [{"topic": "foo", "partition": 1, "offset": 1}], "version":1}
    #[arg(long, value_name = "Offset json file path")]
    offset_json_file: Option<String>,
    /// A property file containing configs to be passed to Admin Client.
    #[arg(long, value_name = "command config property file path")]
    command_config: Option<String>,
}

/// Runs kafka-delete-records.
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
    let Some(file) = args.offset_json_file.as_deref() else {
        return Ok(crate::usage::<Args>(
            "Missing required argument \"[offset-json-file]\"",
        ));
    };
    if let Some(path) = &args.command_config {
        if let Err(e) = crate::props::Props::load(std::path::Path::new(path)) {
            eprintln!("{e}");
            return Ok(1);
        }
    }
    let Ok(text) = std::fs::read_to_string(file) else {
        eprintln!("Unable to read file {file}");
        return Ok(1);
    };
    let offsets = match parse_offset_json(&text) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            return Ok(1);
        }
    };
    let mut conn = match Connection::bootstrap(bootstrap) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(1);
        }
    };
    println!("Executing records delete operation");
    let results = delete_records(&mut conn, &offsets);
    println!("Records delete operation completed:");
    // Kafka prints its admin result map, an immutable map whose iteration order is
    // salted per JVM: no order to match, so the file's order.
    for ((topic, partition), _) in offsets {
        let tp = format!("{topic}-{partition}");
        match results.get(&(topic, partition)) {
            Some(Ok(low_watermark)) => println!("partition: {tp}\tlow_watermark: {low_watermark}"),
            Some(Err(e)) => println!("partition: {tp}\terror: {}", java_exception(e)),
            None => println!(
                "partition: {tp}\terror: {}",
                java_exception(&ToolError::from_code(LEADER_NOT_AVAILABLE, None))
            ),
        }
    }
    Ok(0)
}

/// A partition and the offset to delete records before, in the file's order.
type Offsets = Vec<((String, i32), i64)>;

/// Kafka's offset JSON (version 1): `{"partitions": [{"topic", "partition", "offset"}]}`.
/// A partition listed twice is an error, as in Kafka.
fn parse_offset_json(text: &str) -> Result<Offsets, String> {
    let json: Value = serde_json::from_str(text)
        .map_err(|_| "The input string is not a valid JSON".to_string())?;
    let version = match json.get("version") {
        None => 1,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| format!("Expected `version` value to be an int, but got {v}"))?,
    };
    if version != 1 {
        return Err(format!("Not supported version field value {version}"));
    }
    let partitions = json
        .get("partitions")
        .ok_or_else(|| "Missing partitions field".to_string())?
        .as_array()
        .ok_or_else(|| "Expected JSON array for `partitions`".to_string())?;
    let mut offsets: Offsets = Vec::new();
    let mut duplicates: Vec<String> = Vec::new();
    for p in partitions {
        let field = |name: &str| {
            p.get(name)
                .ok_or_else(|| format!("No such field exists: `{name}`"))
        };
        let topic = field("topic")?
            .as_str()
            .ok_or_else(|| "Expected `topic` value to be a string".to_string())?
            .to_string();
        let partition = field("partition")?
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| "Expected `partition` value to be an int".to_string())?;
        let offset = field("offset")?
            .as_i64()
            .ok_or_else(|| "Expected `offset` value to be a long".to_string())?;
        let key = (topic, partition);
        if offsets.iter().any(|(k, _)| *k == key) {
            let name = format!("{}-{}", key.0, key.1);
            if !duplicates.contains(&name) {
                duplicates.push(name);
            }
        } else {
            offsets.push((key, offset));
        }
    }
    if !duplicates.is_empty() {
        return Err(format!(
            "Offset json file contains duplicate topic partitions: {}",
            duplicates.join(",")
        ));
    }
    Ok(offsets)
}

/// One leader's share of a request: topic → (partition, offset).
type TopicOffsets<'a> = BTreeMap<&'a str, Vec<(i32, i64)>>;

/// DeleteRecords to each partition's leader; the low watermark (or error) of each.
fn delete_records(
    conn: &mut Connection,
    offsets: &Offsets,
) -> HashMap<(String, i32), Result<i64, ToolError>> {
    let mut out = HashMap::new();
    let mut topics: Vec<String> = offsets.iter().map(|((t, _), _)| t.clone()).collect();
    topics.sort();
    topics.dedup();
    let metadata = match conn.metadata(Some(&topics)) {
        Ok(m) => m,
        Err(e) => {
            let message = e.to_string();
            for (key, _) in offsets {
                out.insert(key.clone(), Err(ToolError::Protocol(message.clone())));
            }
            return out;
        }
    };
    let brokers: HashMap<i32, String> = metadata
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host, b.port)))
        .collect();
    let mut leaders: HashMap<(String, i32), i32> = HashMap::new();
    for t in &metadata.topics {
        let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
        for p in &t.partitions {
            leaders.insert((name.clone(), p.partition_index), p.leader_id.0);
        }
    }
    let mut by_leader: BTreeMap<i32, TopicOffsets<'_>> = BTreeMap::new();
    for ((topic, partition), offset) in offsets {
        match leaders.get(&(topic.clone(), *partition)) {
            Some(leader) if *leader >= 0 => by_leader
                .entry(*leader)
                .or_default()
                .entry(topic.as_str())
                .or_default()
                .push((*partition, *offset)),
            Some(_) => {
                out.insert(
                    (topic.clone(), *partition),
                    Err(ToolError::from_code(LEADER_NOT_AVAILABLE, None)),
                );
            }
            None => {
                out.insert(
                    (topic.clone(), *partition),
                    Err(ToolError::from_code(UNKNOWN_TOPIC_OR_PARTITION, None)),
                );
            }
        }
    }
    for (leader, topics) in by_leader {
        let asked: Vec<(String, i32)> = topics
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(|(p, _)| (t.to_string(), *p)))
            .collect();
        let request = DeleteRecordsRequest::default()
            .with_timeout_ms(TIMEOUT_MS)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        DeleteRecordsTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_string())))
                            .with_partitions(
                                ps.into_iter()
                                    .map(|(p, offset)| {
                                        DeleteRecordsPartition::default()
                                            .with_partition_index(p)
                                            .with_offset(offset)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let response = conn.send_to(brokers.get(&leader), request);
        match response {
            Ok(response) => {
                for t in response.topics {
                    for p in t.partitions {
                        let result = if p.error_code != 0 {
                            Err(ToolError::from_code(p.error_code, None))
                        } else {
                            Ok(p.low_watermark)
                        };
                        out.insert((t.name.0.to_string(), p.partition_index), result);
                    }
                }
            }
            Err(e) => {
                let message = e.to_string();
                for key in asked {
                    out.insert(key, Err(ToolError::Protocol(message.clone())));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_json_lists_partitions_in_file_order() {
        let o = parse_offset_json(
            r#"{"partitions": [{"topic": "a", "partition": 1, "offset": 5},
                {"topic": "b", "partition": 0, "offset": -1}], "version": 1}"#,
        )
        .expect("valid");
        assert_eq!(o, vec![(("a".into(), 1), 5), (("b".into(), 0), -1)]);
    }

    #[test]
    fn offset_json_errors_say_what_kafka_says() {
        assert_eq!(
            parse_offset_json("nonsense").unwrap_err(),
            "The input string is not a valid JSON"
        );
        assert_eq!(
            parse_offset_json(r#"{"version":2,"partitions":[]}"#).unwrap_err(),
            "Not supported version field value 2"
        );
        assert_eq!(
            parse_offset_json(r#"{"version":1}"#).unwrap_err(),
            "Missing partitions field"
        );
        let dup = r#"{"partitions":[{"topic":"o","partition":0,"offset":1},{"topic":"o","partition":0,"offset":2}]}"#;
        assert_eq!(
            parse_offset_json(dup).unwrap_err(),
            "Offset json file contains duplicate topic partitions: o-0"
        );
    }
}
