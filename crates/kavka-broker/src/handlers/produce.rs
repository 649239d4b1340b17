//! Produce: validate, append to the leader's log, answer per partition. acks=all
//! waits (asynchronously, holding no lock) until the high watermark passes the
//! records or the request's timeout.

use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use kafka_protocol::ResponseError;
use kavka_metadata::acl::{AclOperation, ResourceType};
use kavka_replica::{Acks, ReplicaError};

use super::{partition_error_code, RequestContext};
use crate::partition::{AckWait, PartitionError};
use crate::state::now_ms;

/// Appends every partition's records; returns None for acks=0, which gets no answer.
pub(crate) async fn handle(
    ctx: &RequestContext<'_>,
    request: ProduceRequest,
    version: i16,
) -> Option<ProduceResponse> {
    let state = ctx.state;
    let image = state.metadata.image();
    let acks = request.acks;
    let replica_acks = match acks {
        -1 => Acks::All,
        0 => Acks::None,
        _ => Acks::Leader,
    };
    let now = now_ms();
    let timeout_ms = i64::from(request.timeout_ms.max(0));
    let deadline =
        tokio::time::Instant::now() + std::time::Duration::from_millis(timeout_ms.unsigned_abs());
    // (topic index, partition index, partition, produce id, receiver) per waiting acks=all.
    let mut waiting = Vec::new();
    let mut responses = Vec::with_capacity(request.topic_data.len());
    let authz = ctx.authz();
    let txn_id_allowed = request.transactional_id.as_ref().is_some_and(|id| {
        authz.allows(
            AclOperation::Write,
            ResourceType::TransactionalId,
            id.as_str(),
        )
    });
    for topic in request.topic_data {
        // v13 names topics by id; older versions by name.
        let (name, topic_image) = if version >= 13 {
            let t = image.topic_by_id(&topic.topic_id);
            (t.map(|t| t.name.clone()).unwrap_or_default(), t)
        } else {
            let name = topic.name.0.to_string();
            let t = image.topic(&name);
            (name, t)
        };
        let writable = (version >= 13 && topic_image.is_none())
            || authz.allows(AclOperation::Write, ResourceType::Topic, &name);
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            let mut resp = PartitionProduceResponse::default()
                .with_index(data.index)
                .with_base_offset(-1)
                .with_log_append_time_ms(-1)
                .with_log_start_offset(-1);
            // Transactional batches are checked by the log against the producer's
            // state (epoch, open transaction); the first one of a transaction on
            // this partition is verified with the coordinator first (KIP-890).
            let error = if !writable {
                Some(ResponseError::TopicAuthorizationFailed.code())
            } else if request.transactional_id.is_some()
                && !txn_id_allowed
                && has_transactional_batch(data.records.as_deref().unwrap_or_default())
            {
                Some(ResponseError::TransactionalIdAuthorizationFailed.code())
            } else {
                (!matches!(acks, -1..=1)).then(|| ResponseError::InvalidRequiredAcks.code())
            };
            let partition = state.replicas.get(&name, data.index);
            let code = match (error, partition) {
                (Some(code), _) => code,
                (None, None) => {
                    if version >= 13 && topic_image.is_none() {
                        ResponseError::UnknownTopicId.code()
                    } else {
                        ResponseError::UnknownTopicOrPartition.code()
                    }
                }
                (None, Some(_))
                    if request.transactional_id.is_none()
                        && has_transactional_batch(data.records.as_deref().unwrap_or_default()) =>
                {
                    // As Kafka: transactional records need the producer's
                    // transactional id on the request.
                    ResponseError::TransactionalIdAuthorizationFailed.code()
                }
                (None, Some(p)) => {
                    let records = data.records.unwrap_or_default();
                    if let Some(refusal) =
                        verify_transaction(ctx, request.transactional_id.as_ref(), &p, &records)
                            .await
                    {
                        let refusal = refusal.for_produce_version(version);
                        resp.error_code = refusal.code;
                        resp.error_message = refusal.message.map(StrBytes::from_string);
                        partitions.push(resp);
                        continue;
                    }
                    let keyless = if p.settings().compacted {
                        keyless_records(&records)
                    } else {
                        vec![]
                    };
                    if !keyless.is_empty() {
                        let message = format!(
                            "Compacted topic cannot accept message without key in topic partition {name}-{}.",
                            data.index
                        );
                        if version >= 8 {
                            resp.record_errors = keyless
                                .iter()
                                .map(|&index| {
                                    BatchIndexAndErrorMessage::default()
                                        .with_batch_index(index)
                                        .with_batch_index_error_message(Some(
                                            StrBytes::from_string(message.clone()),
                                        ))
                                })
                                .collect();
                        }
                        resp.error_message = Some(StrBytes::from_string(message));
                        resp.error_code = ResponseError::InvalidRecord.code();
                        partitions.push(resp);
                        continue;
                    }
                    let size = records.len();
                    match p
                        .append_records_for_request(records, replica_acks, now, now + timeout_ms)
                        .await
                    {
                        Ok((info, wait)) => {
                            p.traffic().produced(size, info.record_count);
                            resp.base_offset = info.first_offset;
                            resp.log_append_time_ms = info.log_append_time;
                            resp.log_start_offset = info.log_start_offset;
                            match wait {
                                AckWait::Done(result) => result.err().map_or(0, ReplicaError::code),
                                AckWait::Pending(id, rx) => {
                                    waiting.push((
                                        responses.len(),
                                        partitions.len(),
                                        p.clone(),
                                        id,
                                        rx,
                                    ));
                                    0
                                }
                            }
                        }
                        Err(e) => {
                            tracing::debug!(topic = %name, partition = data.index, error = %e, "produce refused");
                            // Kafka sends a message only with a record's own
                            // validation error; for a refusal by the replica state
                            // (NOT_ENOUGH_REPLICAS, NOT_LEADER_OR_FOLLOWER...) it sends
                            // none, and clients print the error's standard text.
                            if let PartitionError::Storage(_) = e {
                                resp.error_message = Some(StrBytes::from_string(e.to_string()));
                            }
                            partition_error_code(&e)
                        }
                    }
                }
            };
            resp.error_code = code;
            partitions.push(resp);
        }
        let mut t = TopicProduceResponse::default().with_partition_responses(partitions);
        if version >= 13 {
            t.topic_id = topic.topic_id;
        } else {
            t.name = TopicName(StrBytes::from_string(name));
        }
        responses.push(t);
    }
    // Every partition is appended before any waits, so they replicate together.
    for (t, i, p, id, rx) in waiting {
        let code = match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(result)) => result.err().map_or(0, ReplicaError::code),
            // The partition went away (deleted, shut down) with the request waiting.
            Ok(Err(_)) => ResponseError::NotLeaderOrFollower.code(),
            Err(_) => {
                p.abandon_produce(id, now_ms());
                ResponseError::RequestTimedOut.code()
            }
        };
        if let Some(resp) = responses
            .get_mut(t)
            .and_then(|r: &mut TopicProduceResponse| r.partition_responses.get_mut(i))
        {
            resp.error_code = code;
        }
    }
    if acks == 0 {
        return None;
    }
    Some(ProduceResponse::default().with_responses(responses))
}

/// A compacted topic keeps the newest record per key, so a record without a key
/// is refused (Kafka's INVALID_RECORD). Returns the indexes of such records within
/// their batch, every one, so the client can tell them from the records that were
/// only refused alongside. Only compacted topics pay for decoding.
fn keyless_records(records: &bytes::Bytes) -> Vec<i32> {
    let mut buf = records.clone();
    // Undecodable input is left to the log's own validation, which refuses it.
    let Ok(sets) = RecordBatchDecoder::decode_all(&mut buf) else {
        return vec![];
    };
    sets.iter()
        .flat_map(|set| {
            set.records
                .iter()
                .enumerate()
                .filter(|(_, r)| r.key.is_none())
                .map(|(i, _)| i as i32)
        })
        .collect()
}

/// KIP-890 part 1: a transactional batch from a producer with no transaction open
/// on this partition is appended only once its coordinator confirms the partition
/// was added to the transaction. None: append.
async fn verify_transaction(
    ctx: &RequestContext<'_>,
    transactional_id: Option<&kafka_protocol::messages::TransactionalId>,
    partition: &crate::partition::Partition,
    records: &[u8],
) -> Option<crate::txn_verify::Refusal> {
    let state = ctx.state;
    let id = transactional_id?;
    if !state.config.txn.partition_verification_enable {
        return None;
    }
    let (producer_id, producer_epoch) = transactional_producer(records)?;
    let ongoing = partition
        .log(|log| Ok(log.has_ongoing_transaction(producer_id)))
        // An offline log refuses the append itself.
        .unwrap_or(true);
    if ongoing {
        return None;
    }
    crate::txn_verify::verify(
        state,
        &id.0,
        producer_id,
        producer_epoch,
        &partition.topic,
        partition.index,
    )
    .await
    .err()
}

/// The producer (id, epoch) of the first transactional batch of `records`.
fn transactional_producer(records: &[u8]) -> Option<(i64, i16)> {
    let mut pos = 0;
    while let Some(rest) = records.get(pos..).filter(|r| !r.is_empty()) {
        let header = kavka_storage::BatchHeader::parse(rest).ok()?;
        if header.is_transactional() {
            return Some((header.producer_id, header.producer_epoch));
        }
        pos += header.size();
    }
    None
}

/// Whether any whole batch of `records` is transactional (headers only).
fn has_transactional_batch(records: &[u8]) -> bool {
    let mut pos = 0;
    while let Some(rest) = records.get(pos..).filter(|r| !r.is_empty()) {
        let Ok(header) = kavka_storage::BatchHeader::parse(rest) else {
            return false;
        };
        if header.is_transactional() {
            return true;
        }
        pos += header.size();
    }
    false
}
