//! ListOffsets, DescribeLogDirs and Metadata as the pages need them.

use std::collections::BTreeMap;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{
    ApiKey, DescribeLogDirsRequest, ListOffsetsRequest, MetadataRequest, RequestKind, ResponseKind,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use super::error::ApiError;
use super::kafka::{call, error_name};
use crate::state::BrokerState;

/// ListOffsets' timestamp for the log start offset.
pub(crate) const EARLIEST: i64 = -2;
/// ListOffsets' timestamp for the high watermark.
pub(crate) const LATEST: i64 = -1;

/// An offset, or Kafka's error name when it could not be read (e.g. the
/// partition is led by another broker); JSON: a number or `{"error": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub(crate) enum Offset {
    At(i64),
    Unavailable { error: String },
}

impl Offset {
    /// The offset, when there is one.
    pub(crate) fn ok(&self) -> Option<i64> {
        match self {
            Offset::At(o) => Some(*o),
            Offset::Unavailable { .. } => None,
        }
    }
}

/// Per partition, its offset.
pub(crate) type Offsets = BTreeMap<i32, Offset>;

/// The offset of `timestamp` (or EARLIEST/LATEST) in each partition, read
/// committed off, as a consumer with `isolation.level=read_uncommitted` sees it.
pub(crate) async fn list_offsets(
    state: &BrokerState,
    topic: &str,
    partitions: &[i32],
    timestamp: i64,
) -> Result<Offsets, ApiError> {
    let request = ListOffsetsRequest::default()
        .with_replica_id((-1).into())
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(
                partitions
                    .iter()
                    .map(|&p| {
                        ListOffsetsPartition::default()
                            .with_partition_index(p)
                            .with_current_leader_epoch(-1)
                            .with_timestamp(timestamp)
                    })
                    .collect(),
            )]);
    let ResponseKind::ListOffsets(response) = call(
        state,
        ApiKey::ListOffsets,
        7,
        RequestKind::ListOffsets(request),
    )
    .await?
    else {
        return Err(ApiError::internal("ListOffsets gave another answer"));
    };
    let mut out = BTreeMap::new();
    for p in response.topics.iter().flat_map(|t| t.partitions.iter()) {
        let value = if p.error_code == 0 {
            Offset::At(p.offset)
        } else {
            Offset::Unavailable {
                error: error_name(p.error_code),
            }
        };
        out.insert(p.partition_index, value);
    }
    Ok(out)
}

/// The size on this broker of each hosted partition, by (topic, partition).
pub(crate) async fn sizes(state: &BrokerState) -> Result<BTreeMap<(String, i32), i64>, ApiError> {
    let ResponseKind::DescribeLogDirs(response) = call(
        state,
        ApiKey::DescribeLogDirs,
        4,
        // None: every partition (the default is an empty list: none).
        RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default().with_topics(None)),
    )
    .await?
    else {
        return Err(ApiError::internal("DescribeLogDirs gave another answer"));
    };
    let mut out = BTreeMap::new();
    for dir in &response.results {
        for t in &dir.topics {
            for p in &t.partitions {
                *out.entry((t.name.0.to_string(), p.partition_index))
                    .or_insert(0) += p.partition_size;
            }
        }
    }
    Ok(out)
}

/// Metadata for every topic (`None`) or the named ones; never creates a topic.
pub(crate) async fn metadata(
    state: &BrokerState,
    names: Option<&[&str]>,
) -> Result<Vec<MetadataResponseTopic>, ApiError> {
    let request = MetadataRequest::default()
        .with_allow_auto_topic_creation(false)
        .with_topics(names.map(|names| {
            names
                .iter()
                .map(|n| MetadataRequestTopic::default().with_name(Some(topic_name(n))))
                .collect()
        }));
    let ResponseKind::Metadata(response) =
        call(state, ApiKey::Metadata, 12, RequestKind::Metadata(request)).await?
    else {
        return Err(ApiError::internal("Metadata gave another answer"));
    };
    Ok(response.topics)
}

/// One topic's metadata; UNKNOWN_TOPIC_OR_PARTITION (a 404) when there is none.
pub(crate) async fn topic(
    state: &BrokerState,
    name: &str,
) -> Result<MetadataResponseTopic, ApiError> {
    let topic = metadata(state, Some(&[name]))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("Metadata named no topic"))?;
    if topic.error_code != 0 {
        return Err(ApiError::kafka(
            topic.error_code,
            Some(format!("topic {name:?} does not exist")),
        ));
    }
    Ok(topic)
}

/// A topic name in the protocol's type.
pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// Checks a topic name from a URL or form as Kafka would, before any request.
pub(crate) fn valid_topic_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::bad_request("a topic name is required"));
    }
    if name.len() > 249 {
        return Err(ApiError::bad_request(
            "a topic name has at most 249 characters",
        ));
    }
    if name == "." || name == ".." {
        return Err(ApiError::bad_request("a topic cannot be named . or .."));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(ApiError::bad_request(
            "a topic name contains only ASCII letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafkas_rules() {
        assert!(valid_topic_name("orders.v1_x-y").is_ok());
        assert!(valid_topic_name("").is_err());
        assert!(valid_topic_name("..").is_err());
        assert!(valid_topic_name("<script>").is_err());
        assert!(valid_topic_name(&"a".repeat(250)).is_err());
    }
}
