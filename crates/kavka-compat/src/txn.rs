//! The transaction scenario: one transactional producer's life, in raw requests
//! (FindCoordinator for a transactional id, InitProducerId, AddPartitionsToTxn,
//! transactional Produce, EndTxn, fencing), and what a read_committed reader sees
//! through it (last stable offset, aborted transactions, ListOffsets by isolation).
//!
//! Producer ids differ between brokers, so the scenario records relations (the same
//! id, the epoch one higher) rather than values. It speaks the transaction protocol
//! clients use before KIP-890 part 2 (Produce up to v11, EndTxn up to v4), which
//! both brokers serve the same way.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, BrokerId, DescribeTransactionsRequest, EndTxnRequest,
    FindCoordinatorRequest, InitProducerIdRequest, ListOffsetsRequest, ListTransactionsRequest,
    ProduceRequest, ProducerId, TransactionalId,
};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::proto::{code, create_ready, decoded, fetch_isolated, s, topic_name};
use crate::scenarios::{Ctx, Obs};
use crate::wire::Connection;

/// Transactional Produce before KIP-890 part 2 (v12 lets a TV2 broker add the
/// partition itself).
const TXN_PRODUCE_CAP: i16 = 11;
/// EndTxn v5 is transaction version 2 (an epoch bump on every end).
const END_TXN_CAP: i16 = 4;
/// AddPartitionsToTxn v4+ is the broker-to-broker batched form.
const ADD_PARTITIONS_CAP: i16 = 3;
/// Errors a client retries while the coordinator settles.
const RETRIABLE: [i16; 5] = [7, 14, 15, 16, 51];

/// A producer session: (producer id, epoch).
type Session = (i64, i16);

pub(crate) fn transactions(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let topic = ctx.name("txn");
    let txn_id = ctx.name("txn-id");
    create_ready(&mut c, &topic, 1)?;

    let (first, last) = coordinator_ready(&mut c, &txn_id)?;
    obs.put(
        "find_coordinator.first.error",
        if [0, 15].contains(&first) {
            "0 NONE or 15 CoordinatorNotAvailable".to_string()
        } else {
            code(first)
        },
    );
    obs.put("find_coordinator.error", code(last));

    let r = init(&mut c, &txn_id, 2_147_483_647)?;
    obs.put("init_timeout_over_max.error", code(r.0));
    let (error, session) = init(&mut c, &txn_id, 60_000)?;
    obs.put("init.error", code(error));
    obs.put("init.epoch", session.1);

    // A transactional batch to a partition never added to the transaction, from a
    // client before KIP-890 (v10) and from one that knows TRANSACTION_ABORTABLE (v11).
    for version in [10, 11] {
        let (error, _) = produce_txn_version(&mut c, &txn_id, &topic, session, 0, &["x"], version)?;
        obs.put(format!("produce_unadded_v{version}.error"), code(error));
    }

    obs.put(
        "add_partitions.error",
        code(add_partition(&mut c, &txn_id, session, &topic)?),
    );
    let (error, base) = produce_txn(&mut c, &txn_id, &topic, session, 0, &["a", "b", "c"])?;
    obs.put("produce_open.error", code(error));
    obs.put("produce_open.base_offset", base);

    let open_uncommitted = fetch(&mut c, &topic, 0, 0)?;
    obs.put(
        "open.uncommitted.high_watermark",
        open_uncommitted.high_watermark,
    );
    obs.put(
        "open.uncommitted.last_stable_offset",
        open_uncommitted.last_stable_offset,
    );
    obs.put(
        "open.uncommitted.offsets",
        data_offsets(&open_uncommitted.records),
    );
    let open_committed = fetch(&mut c, &topic, 1, 0)?;
    obs.put(
        "open.committed.offsets",
        data_offsets(&open_committed.records),
    );
    obs.put(
        "open.committed.last_stable_offset",
        open_committed.last_stable_offset,
    );
    obs.put(
        "open.list_offsets.uncommitted",
        list_latest(&mut c, &topic, 0)?,
    );
    obs.put(
        "open.list_offsets.committed",
        list_latest(&mut c, &topic, 1)?,
    );
    describe(&mut c, &txn_id, session, "open.describe", obs)?;
    obs.put("open.listed_state", listed_state(&mut c, &txn_id)?);

    // Abort: the records stay in the log, and read_committed readers skip them.
    let r = end_txn(&mut c, &txn_id, session, false)?;
    obs.put("abort.error", code(r));
    let aborted = settled(&mut c, &topic, 1)?;
    obs.put("aborted.committed.offsets", data_offsets(&aborted.records));
    obs.put("aborted.committed.high_watermark", aborted.high_watermark);
    obs.put(
        "aborted.committed.last_stable_offset",
        aborted.last_stable_offset,
    );
    let list: Vec<String> = aborted
        .aborted_transactions
        .iter()
        .flatten()
        .map(|a| {
            format!(
                "{}@{}",
                if a.producer_id.0 == session.0 {
                    "this producer"
                } else {
                    "another producer"
                },
                a.first_offset
            )
        })
        .collect();
    obs.put("aborted.committed.aborted_transactions", list.join(","));
    let raw = fetch(&mut c, &topic, 0, 0)?;
    obs.put("aborted.uncommitted.offsets", data_offsets(&raw.records));
    obs.put("aborted.uncommitted.control", control_records(&raw.records));
    describe(&mut c, &txn_id, session, "aborted.describe", obs)?;

    // Commit a second transaction of the same session.
    obs.put(
        "second.add_partitions.error",
        code(add_partition(&mut c, &txn_id, session, &topic)?),
    );
    let (error, base) = produce_txn(&mut c, &txn_id, &topic, session, 3, &["d", "e"])?;
    obs.put("second.produce.error", code(error));
    obs.put("second.produce.base_offset", base);
    obs.put(
        "commit.error",
        code(end_txn(&mut c, &txn_id, session, true)?),
    );
    let committed = settled(&mut c, &topic, 1)?;
    obs.put(
        "committed.committed.offsets",
        data_offsets(&committed.records),
    );
    obs.put(
        "committed.committed.last_stable_offset",
        committed.last_stable_offset,
    );
    obs.put(
        "committed.list_offsets.committed",
        list_latest(&mut c, &topic, 1)?,
    );
    let raw = fetch(&mut c, &topic, 0, 0)?;
    obs.put(
        "committed.uncommitted.control",
        control_records(&raw.records),
    );
    obs.put(
        "end_again_commit.error",
        code(end_txn(&mut c, &txn_id, session, true)?),
    );
    obs.put(
        "end_again_abort.error",
        code(end_txn(&mut c, &txn_id, session, false)?),
    );

    // A second InitProducerId fences the first session: same id, next epoch.
    let (error, fresh) = init(&mut c, &txn_id, 60_000)?;
    obs.put("reinit.error", code(error));
    obs.put("reinit.same_producer_id", fresh.0 == session.0);
    obs.put("reinit.epoch_step", fresh.1 - session.1);
    obs.put(
        "zombie.add_partitions.error",
        code(add_partition(&mut c, &txn_id, session, &topic)?),
    );
    obs.put(
        "zombie.end_txn.error",
        code(end_txn(&mut c, &txn_id, session, true)?),
    );
    obs.put(
        "fresh.add_partitions.error",
        code(add_partition(&mut c, &txn_id, fresh, &topic)?),
    );
    let (error, _) = produce_txn(&mut c, &txn_id, &topic, fresh, 0, &["f"])?;
    obs.put("fresh.produce.error", code(error));
    let (error, _) = produce_txn(&mut c, &txn_id, &topic, session, 5, &["z"])?;
    obs.put("zombie.produce.error", code(error));
    obs.put(
        "fresh.commit.error",
        code(end_txn(&mut c, &txn_id, fresh, true)?),
    );
    let last = settled(&mut c, &topic, 1)?;
    obs.put("fresh.committed.offsets", data_offsets(&last.records));
    Ok(())
}

fn find_coordinator(c: &mut Connection, txn_id: &str) -> Result<i16> {
    let version = c.version::<FindCoordinatorRequest>(i16::MAX)?;
    let mut request = FindCoordinatorRequest::default().with_key_type(1);
    if version >= 4 {
        request.coordinator_keys = vec![s(txn_id)];
    } else {
        request.key = s(txn_id);
    }
    let response = c.send_version(request, version)?;
    Ok(response
        .coordinators
        .first()
        .map_or(response.error_code, |k| k.error_code))
}

/// FindCoordinator(TRANSACTION) until it answers NONE (up to 30 s): (first, last).
fn coordinator_ready(c: &mut Connection, txn_id: &str) -> Result<(i16, i16)> {
    let first = find_coordinator(c, txn_id)?;
    let mut last = first;
    let deadline = Instant::now() + Duration::from_secs(30);
    while last != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        last = find_coordinator(c, txn_id)?;
    }
    Ok((first, last))
}

/// InitProducerId for `txn_id`, retried while the coordinator loads: (error, session).
fn init(c: &mut Connection, txn_id: &str, timeout_ms: i32) -> Result<(i16, Session)> {
    let request = || {
        InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s(txn_id))))
            .with_transaction_timeout_ms(timeout_ms)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.send(request(), 5)?;
        if !RETRIABLE.contains(&r.error_code) || Instant::now() >= deadline {
            return Ok((r.error_code, (r.producer_id.0, r.producer_epoch)));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// AddPartitionsToTxn (client form) for partition 0 of `topic`: its error, after
/// retrying CONCURRENT_TRANSACTIONS while the previous transaction completes.
fn add_partition(c: &mut Connection, txn_id: &str, session: Session, topic: &str) -> Result<i16> {
    let request = || {
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(s(txn_id)))
            .with_v3_and_below_producer_id(ProducerId(session.0))
            .with_v3_and_below_producer_epoch(session.1)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![0])])
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.send(request(), ADD_PARTITIONS_CAP)?;
        let error = r
            .results_by_topic_v3_and_below
            .iter()
            .flat_map(|t| &t.results_by_partition)
            .map(|p| p.partition_error_code)
            .next()
            .unwrap_or(r.error_code);
        if !RETRIABLE.contains(&error) || Instant::now() >= deadline {
            return Ok(error);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// EndTxn, retried while the coordinator is busy: its error.
fn end_txn(c: &mut Connection, txn_id: &str, session: Session, commit: bool) -> Result<i16> {
    let request = || {
        EndTxnRequest::default()
            .with_transactional_id(TransactionalId(s(txn_id)))
            .with_producer_id(ProducerId(session.0))
            .with_producer_epoch(session.1)
            .with_committed(commit)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.send(request(), END_TXN_CAP)?;
        if !RETRIABLE.contains(&r.error_code) || Instant::now() >= deadline {
            return Ok(r.error_code);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A transactional Produce of `values` at `sequence`: (error, base offset).
fn produce_txn(
    c: &mut Connection,
    txn_id: &str,
    topic: &str,
    session: Session,
    sequence: i32,
    values: &[&str],
) -> Result<(i16, i64)> {
    produce_txn_version(c, txn_id, topic, session, sequence, values, TXN_PRODUCE_CAP)
}

/// [`produce_txn`] at a chosen Produce version (at most what the broker serves).
fn produce_txn_version(
    c: &mut Connection,
    txn_id: &str,
    topic: &str,
    session: Session,
    sequence: i32,
    values: &[&str],
    version: i16,
) -> Result<(i16, i64)> {
    // Current timestamps, as clients send: Kafka rolls a segment when a batch's
    // timestamp is segment.ms past the segment's first one, and a Fetch reads one segment.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: true,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: session.0,
            producer_epoch: session.1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: sequence + i as i32,
            timestamp: now_ms,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(v.to_string())),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )?;
    let request = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(s(txn_id))))
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(buf.freeze()))])]);
    let response = c.send(request, version)?;
    let p = response
        .responses
        .into_iter()
        .flat_map(|t| t.partition_responses)
        .next()
        .ok_or_else(|| anyhow!("Produce answered no partition"))?;
    Ok((p.error_code, p.base_offset))
}

/// Fetch partition 0 from `offset` with isolation level 0 (uncommitted) or 1.
fn fetch(c: &mut Connection, topic: &str, isolation: i8, offset: i64) -> Result<PartitionData> {
    fetch_isolated(c, topic, 0, offset, isolation)
}

/// Fetch until the last stable offset reaches the high watermark (the markers
/// are written after EndTxn answers; up to 15 s).
fn settled(c: &mut Connection, topic: &str, isolation: i8) -> Result<PartitionData> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let p = fetch(c, topic, isolation, 0)?;
        if p.last_stable_offset >= p.high_watermark || Instant::now() >= deadline {
            return Ok(p);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// ListOffsets latest at an isolation level: the offset.
fn list_latest(c: &mut Connection, topic: &str, isolation: i8) -> Result<i64> {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(isolation)
        .with_timeout_ms(10_000)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_current_leader_epoch(-1)
                .with_timestamp(-1)])]);
    let response = c.send(request, i16::MAX)?;
    response
        .topics
        .into_iter()
        .flat_map(|t| t.partitions)
        .next()
        .map(|p| p.offset)
        .ok_or_else(|| anyhow!("ListOffsets answered no partition"))
}

/// DescribeTransactions of `txn_id`: error, state, partitions, and the session.
fn describe(
    c: &mut Connection,
    txn_id: &str,
    session: Session,
    label: &str,
    obs: &mut Obs,
) -> Result<()> {
    let request = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![TransactionalId(s(txn_id))]);
    let response = c.send(request, i16::MAX)?;
    let state = response
        .transaction_states
        .first()
        .ok_or_else(|| anyhow!("DescribeTransactions answered nothing"))?;
    obs.put(format!("{label}.error"), code(state.error_code));
    obs.put(format!("{label}.state"), state.transaction_state.as_str());
    obs.put(format!("{label}.timeout_ms"), state.transaction_timeout_ms);
    obs.put(
        format!("{label}.session"),
        (state.producer_id.0, state.producer_epoch) == session,
    );
    let partitions: Vec<String> = state
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| format!("txn-{p}")))
        .collect();
    obs.put(format!("{label}.partitions"), partitions.join(","));
    Ok(())
}

/// ListTransactions: the state listed for `txn_id`, or "absent".
fn listed_state(c: &mut Connection, txn_id: &str) -> Result<String> {
    let response = c.send(ListTransactionsRequest::default(), i16::MAX)?;
    Ok(response
        .transaction_states
        .iter()
        .find(|t| t.transactional_id.0.as_str() == txn_id)
        .map_or("absent".to_string(), |t| t.transaction_state.to_string()))
}

/// Offsets of the data records (not control records) in a record set: "0,1,2".
fn data_offsets(records: &Option<Bytes>) -> String {
    decoded(records)
        .into_iter()
        .filter(|r| !r.control)
        .map(|r| r.offset.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The control records in a record set: "offset:ABORT|COMMIT".
fn control_records(records: &Option<Bytes>) -> String {
    decoded(records)
        .into_iter()
        .filter(|r| r.control)
        .map(|r| {
            // The control record key is (version i16, type i16): 0 abort, 1 commit.
            let kind = match r.key.as_deref() {
                Some([_, _, 0, 0]) => "ABORT",
                Some([_, _, 0, 1]) => "COMMIT",
                _ => "UNKNOWN",
            };
            format!("{}:{kind}", r.offset)
        })
        .collect::<Vec<_>>()
        .join(",")
}
