//! The API versions Kavka advertises: from Apache Kafka 4.x's baseline (KIP-896),
//! which is what the `kafka-protocol` crate decodes, up to the newest it knows.

use kafka_protocol::messages::ApiKey;

/// Every API the broker answers. An API missing here is refused by closing the
/// connection, as Apache Kafka does for an API it does not know.
pub const SUPPORTED_APIS: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DeleteRecords,
    ApiKey::InitProducerId,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
    ApiKey::DescribeTransactions,
    ApiKey::ListTransactions,
    ApiKey::OffsetForLeaderEpoch,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::CreatePartitions,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::DescribeCluster,
    ApiKey::DescribeTopicPartitions,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::OffsetDelete,
    ApiKey::ListGroups,
    ApiKey::DescribeGroups,
    ApiKey::DeleteGroups,
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::ConsumerGroupDescribe,
    ApiKey::DescribeQuorum,
    ApiKey::ElectLeaders,
    ApiKey::AlterPartitionReassignments,
    ApiKey::ListPartitionReassignments,
    ApiKey::DescribeLogDirs,
    ApiKey::WriteTxnMarkers,
    ApiKey::TxnOffsetCommit,
    ApiKey::DescribeProducers,
    ApiKey::SaslHandshake,
    ApiKey::SaslAuthenticate,
    ApiKey::AlterUserScramCredentials,
    ApiKey::DescribeUserScramCredentials,
    ApiKey::CreateAcls,
    ApiKey::DescribeAcls,
    ApiKey::DeleteAcls,
    ApiKey::DescribeClientQuotas,
    ApiKey::AlterClientQuotas,
    ApiKey::UpdateFeatures,
];

/// (min, max) advertised for `key`, or None when Kavka does not serve it.
pub fn supported_range(key: ApiKey) -> Option<(i16, i16)> {
    if !SUPPORTED_APIS.contains(&key) {
        return None;
    }
    let range = key.valid_versions();
    // librdkafka only turns on compression when Produce v0-v2 are advertised
    // (KAFKA-18659); those versions are still refused when actually sent.
    let min = if key == ApiKey::Produce { 0 } else { range.min };
    // OffsetCommit v10 and OffsetFetch v10 name topics by id, which the codec
    // does not carry yet.
    let max = match key {
        ApiKey::OffsetCommit | ApiKey::OffsetFetch => range.max.min(9),
        // v6 (two-phase commit, KIP-939) is newer than Apache Kafka 4.4 serves.
        ApiKey::InitProducerId => range.max.min(5),
        _ => range.max,
    };
    Some((min, max))
}

/// Versions the codec can actually decode (Produce below v3 is advertised only).
pub(crate) fn decodable(key: ApiKey, version: i16) -> bool {
    let range = key.valid_versions();
    supported_range(key).is_some() && (range.min..=range.max).contains(&version)
}

/// The full table for an ApiVersions response: (api key, min, max).
pub fn supported_versions() -> Vec<(i16, i16, i16)> {
    SUPPORTED_APIS
        .iter()
        .filter_map(|&key| supported_range(key).map(|(min, max)| (key as i16, min, max)))
        .collect()
}
