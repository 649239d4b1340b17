//! The active controller: the metadata quorum's leader per DescribeQuorum, which
//! a broker of Kafka (KRaft) or Kavka forwards to the controller. The failover
//! workload records whether a killed partition leader was also the controller,
//! since that adds a quorum election to the failover.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::BytesMut;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    DescribeQuorumRequest, DescribeQuorumResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

/// DescribeQuorum v0: every KRaft broker has it.
const VERSION: i16 = 0;

/// The quorum leader's node id, asked of the first bootstrap address that answers.
pub(crate) fn active_controller(bootstrap: &str) -> anyhow::Result<i32> {
    let mut last = None;
    for addr in bootstrap.split(',') {
        match ask(addr.trim()) {
            Ok(id) if id >= 0 => return Ok(id),
            Ok(id) => last = Some(anyhow::anyhow!("{addr}: quorum leader {id}")),
            Err(e) => last = Some(e.context(addr.to_string())),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("empty bootstrap list")))
}

fn ask(addr: &str) -> anyhow::Result<i32> {
    let addr = addr
        .to_socket_addrs()
        .with_context(|| format!("resolving {addr}"))?
        .next()
        .context("no address")?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let request = DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])]);
    let header = RequestHeader::default()
        .with_request_api_key(DescribeQuorumRequest::KEY)
        .with_request_api_version(VERSION)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("kavka-bench")));
    let mut body = BytesMut::new();
    header.encode(&mut body, DescribeQuorumRequest::header_version(VERSION))?;
    request.encode(&mut body, VERSION)?;
    let len = i32::try_from(body.len()).context("request too large")?;
    stream.write_all(&len.to_be_bytes())?;
    stream.write_all(&body)?;
    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let size = usize::try_from(i32::from_be_bytes(size)).context("negative response size")?;
    if !(4..=1 << 20).contains(&size) {
        bail!("implausible response size {size}");
    }
    let mut buf = vec![0u8; size];
    stream.read_exact(&mut buf)?;
    let mut buf = bytes::Bytes::from(buf);
    let header = ResponseHeader::decode(&mut buf, DescribeQuorumResponse::header_version(VERSION))?;
    if header.correlation_id != 1 {
        bail!("response to another request");
    }
    let response = DescribeQuorumResponse::decode(&mut buf, VERSION)?;
    if response.error_code != 0 {
        bail!("DescribeQuorum error code {}", response.error_code);
    }
    let partition = response
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .context("DescribeQuorum answered no partition")?;
    if partition.error_code != 0 {
        bail!(
            "DescribeQuorum partition error code {}",
            partition.error_code
        );
    }
    Ok(partition.leader_id.0)
}
