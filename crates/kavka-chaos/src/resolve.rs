//! Which node a [`Target`](crate::nemesis::Target) names right now: a partition's
//! leader from metadata, the active controller from DescribeQuorum.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    ApiKey, DescribeQuorumRequest, DescribeQuorumResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::history::{NodeId, Partition};

/// The leader of `topic`/`partition` as the cluster's metadata says, if any.
pub fn partition_leader(bootstrap: &str, topic: &str, partition: Partition) -> Option<NodeId> {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("log_level", "2")
        .create()
        .ok()?;
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .ok()?;
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    let p = t.partitions().iter().find(|p| p.id() == partition)?;
    (p.leader() >= 0).then_some(p.leader())
}

/// A partition as the cluster's metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// -1 when the partition has no leader.
    pub leader: NodeId,
    pub replicas: Vec<NodeId>,
    pub isr: Vec<NodeId>,
}

/// `topic`/`partition` as the metadata of the first node that answers says.
pub fn partition_state(
    bootstrap: &str,
    topic: &str,
    partition: Partition,
) -> Option<PartitionState> {
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("log_level", "2")
        .create()
        .ok()?;
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .ok()?;
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    let p = t.partitions().iter().find(|p| p.id() == partition)?;
    Some(PartitionState {
        leader: p.leader(),
        replicas: p.replicas().to_vec(),
        isr: p.isr().to_vec(),
    })
}

/// The Raft leader of `__cluster_metadata` (the active controller), asked of the
/// first node in `client_ports` that answers DescribeQuorum.
pub fn active_controller(client_ports: &[u16]) -> Option<NodeId> {
    client_ports.iter().find_map(|&p| describe_quorum(p).ok())
}

fn describe_quorum(port: u16) -> std::io::Result<NodeId> {
    const VERSION: i16 = 0;
    let bad = |what: &str| std::io::Error::other(what.to_string());
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let key = ApiKey::DescribeQuorum;
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(VERSION)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("kavka-chaos")));
    let body = DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])]);
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, key.request_header_version(VERSION))
        .map_err(|_| bad("encode header"))?;
    body.encode(&mut buf, VERSION)
        .map_err(|_| bad("encode body"))?;
    let mut frame = BytesMut::new();
    frame.put_i32(buf.len() as i32);
    frame.extend_from_slice(&buf);
    s.write_all(&frame)?;
    let mut size = [0u8; 4];
    s.read_exact(&mut size)?;
    let len = usize::try_from(i32::from_be_bytes(size)).map_err(|_| bad("size"))?;
    if len > 1 << 20 {
        return Err(bad("response too large"));
    }
    let mut response = vec![0u8; len];
    s.read_exact(&mut response)?;
    let mut response = Bytes::from(response);
    if response.remaining() < 5 {
        return Err(bad("short response"));
    }
    response.advance(4); // correlation id
    if key.response_header_version(VERSION) >= 1 {
        response.advance(1); // tagged fields
    }
    let r = DescribeQuorumResponse::decode(&mut response, VERSION).map_err(|_| bad("decode"))?;
    let leader = r
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .map(|p| p.leader_id.0)
        .ok_or_else(|| bad("no partition"))?;
    if r.error_code != 0 || leader < 0 {
        return Err(bad("no leader"));
    }
    Ok(leader)
}
