//! The scenarios: each sends the same requests to one broker and records what it
//! answered as (field, value) pairs. The same scenario runs against both brokers
//! and the pairs are compared by field name.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DeleteRecordsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    DescribeGroupsRequest, FindCoordinatorRequest, GroupId, HeartbeatRequest,
    IncrementalAlterConfigsRequest, InitProducerIdRequest, JoinGroupRequest, LeaveGroupRequest,
    OffsetCommitRequest, OffsetFetchRequest, ProducerId, SyncGroupRequest, TransactionalId,
};
use kafka_protocol::records::Compression;

use crate::proto::{
    batch, batch_summaries, batch_with, code, create_ready, create_topic, fetch, list_offsets,
    metadata_topic, produce, record_offsets, record_timestamps, s, text_batch, texts, topic_name,
    wait_ready,
};
use crate::wire::Connection;

/// What one broker answered in one scenario.
#[derive(Default)]
pub(crate) struct Obs {
    /// Compared fields, in the order they were recorded.
    pub(crate) fields: Vec<(String, String)>,
    /// Information only (reported, never a failure).
    pub(crate) info: Vec<(String, String)>,
}

impl Obs {
    pub(crate) fn put(&mut self, field: impl Into<String>, value: impl ToString) {
        self.fields.push((field.into(), value.to_string()));
    }
    fn info(&mut self, field: impl Into<String>, value: impl ToString) {
        self.info.push((field.into(), value.to_string()));
    }
}

/// Per-broker context: a connection and the names of this run.
pub(crate) struct Ctx {
    pub(crate) address: String,
    /// Prefix unique to this run, shared by both brokers so names compare equal.
    pub(crate) tag: String,
}

impl Ctx {
    pub(crate) fn connect(&self) -> Result<Connection> {
        Connection::connect(&self.address)
    }
    pub(crate) fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.tag)
    }
}

pub(crate) type Scenario = fn(&Ctx, &mut Obs) -> Result<()>;

/// Every scenario, in run order (internal_topics runs after the group and
/// transaction scenarios, which make the brokers create __consumer_offsets and
/// __transaction_state).
pub(crate) const ALL: &[(&str, Scenario)] = &[
    ("create_topics", create_topics),
    ("delete_topics", delete_topics),
    ("produce", produce_offsets),
    ("produce_formats", produce_formats),
    ("idempotence", idempotence),
    ("fetch", fetch_ranges),
    ("list_offsets", list_offsets_by_time),
    ("delete_records", delete_records),
    ("describe_configs", describe_configs),
    ("alter_configs", alter_configs),
    ("metadata_auto_create", metadata_auto_create),
    ("api_versions", api_versions),
    ("offset_fetch_unknown", offset_fetch_unknown),
    ("group_cycle", group_cycle),
    ("group_rebalance", group_rebalance),
    ("transactions", crate::txn::transactions),
    ("internal_topics", internal_topics),
];

fn create_topics(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let name = ctx.name("ct");
    let r = create_topic(&mut c, &name, 3, 1, &[], false)?;
    obs.put("create.error", code(r.error_code));
    obs.put("create.num_partitions", r.num_partitions);
    obs.put("create.replication_factor", r.replication_factor);
    obs.put("create.topic_id_set", !r.topic_id.is_nil());
    let mut configs: Vec<String> = r
        .configs
        .iter()
        .flatten()
        .map(|c| {
            format!(
                "{}={} source={} ro={} sensitive={}",
                c.name,
                c.value.as_deref().unwrap_or("null"),
                c.config_source,
                c.read_only,
                c.is_sensitive
            )
        })
        .collect();
    configs.sort();
    obs.put("create.configs.count", configs.len());
    for entry in configs {
        if let Some((k, v)) = entry.split_once('=') {
            obs.put(format!("create.configs.{k}"), v);
        }
    }
    let r = create_topic(&mut c, &name, 3, 1, &[], false)?;
    obs.put("again.error", code(r.error_code));
    let long = "a".repeat(250);
    for (label, bad) in [
        ("name_space_bang", "bad name!"),
        ("name_dotdot", ".."),
        ("name_250_chars", long.as_str()),
        ("name_empty", ""),
    ] {
        let r = create_topic(&mut c, bad, 1, 1, &[], false)?;
        obs.put(format!("invalid.{label}.error"), code(r.error_code));
    }
    for p in [0i32, -1, -2] {
        let r = create_topic(
            &mut c,
            &ctx.name(&format!("p{}", p.abs())),
            p,
            1,
            &[],
            false,
        )?;
        obs.put(format!("partitions_{p}.error"), code(r.error_code));
    }
    for rf in [3i16, 0, -2] {
        let r = create_topic(
            &mut c,
            &ctx.name(&format!("rf{}", rf.abs())),
            1,
            rf,
            &[],
            false,
        )?;
        obs.put(format!("replication_factor_{rf}.error"), code(r.error_code));
    }
    for (label, cfg) in [
        ("retention_ms_abc", ("retention.ms", "abc")),
        ("cleanup_policy_bogus", ("cleanup.policy", "bogus")),
        ("unknown_key", ("no.such.config", "1")),
        ("segment_bytes_negative", ("segment.bytes", "-1")),
        ("segment_bytes_1000", ("segment.bytes", "1000")),
        ("min_insync_replicas_0", ("min.insync.replicas", "0")),
        ("retention_ms_minus2", ("retention.ms", "-2")),
        ("max_message_bytes_negative", ("max.message.bytes", "-5")),
        ("timestamp_type_bogus", ("message.timestamp.type", "Bogus")),
    ] {
        let r = create_topic(&mut c, &ctx.name(label), 1, 1, &[cfg], false)?;
        obs.put(format!("config.{label}.error"), code(r.error_code));
    }
    let vo = ctx.name("validate-only");
    let r = create_topic(&mut c, &vo, 2, 1, &[], true)?;
    obs.put("validate_only.error", code(r.error_code));
    obs.put("validate_only.num_partitions", r.num_partitions);
    let t = metadata_topic(&mut c, &vo, false)?;
    obs.put("validate_only.metadata_after", code(t.error_code));
    // Names that differ only in '.' vs '_' collide.
    let dotted = ctx.name("a.b");
    let under = ctx.name("a_b");
    let r = create_topic(&mut c, &dotted, 1, 1, &[], false)?;
    obs.put("collide.first.error", code(r.error_code));
    let r = create_topic(&mut c, &under, 1, 1, &[], false)?;
    obs.put("collide.second.error", code(r.error_code));
    Ok(())
}

fn delete_topics(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let version = c.version::<DeleteTopicsRequest>(i16::MAX)?;
    let delete = |c: &mut Connection, name: &str| -> Result<i16> {
        let mut request = DeleteTopicsRequest::default().with_timeout_ms(10_000);
        if version >= 6 {
            request.topics = vec![DeleteTopicState::default().with_name(Some(topic_name(name)))];
        } else {
            request.topic_names = vec![topic_name(name)];
        }
        let response = c.send_version(request, version)?;
        response
            .responses
            .first()
            .map(|r| r.error_code)
            .ok_or_else(|| anyhow!("DeleteTopics answered nothing"))
    };
    obs.put(
        "unknown.error",
        code(delete(&mut c, &ctx.name("never-created"))?),
    );
    let name = ctx.name("dt");
    create_ready(&mut c, &name, 2)?;
    obs.put("existing.error", code(delete(&mut c, &name)?));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last;
    loop {
        last = metadata_topic(&mut c, &name, false)?.error_code;
        if last != 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    obs.put("metadata_after_delete.error", code(last));
    obs.put("again.error", code(delete(&mut c, &name)?));
    Ok(())
}

fn produce_offsets(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let name = ctx.name("pr");
    create_ready(&mut c, &name, 2)?;
    let mut record = |obs: &mut Obs, label: &str, topic: &str, p: i32, b: Bytes| -> Result<()> {
        let r = produce(&mut c, topic, p, b)?;
        obs.put(format!("{label}.error"), code(r.error_code));
        obs.put(format!("{label}.base_offset"), r.base_offset);
        obs.put(format!("{label}.log_append_time_ms"), r.log_append_time_ms);
        obs.put(format!("{label}.log_start_offset"), r.log_start_offset);
        obs.put(format!("{label}.record_errors"), r.record_errors.len());
        Ok(())
    };
    record(obs, "p0_batch3", &name, 0, text_batch(&["a", "b", "c"])?)?;
    record(obs, "p0_batch2", &name, 0, text_batch(&["d", "e"])?)?;
    record(obs, "p1_batch1", &name, 1, text_batch(&["x"])?)?;
    record(obs, "p5_missing_partition", &name, 5, text_batch(&["x"])?)?;
    record(
        obs,
        "unknown_topic",
        &ctx.name("no-such-topic"),
        0,
        text_batch(&["x"])?,
    )?;
    let big = Bytes::from(vec![b'x'; 1_100_000]);
    record(obs, "too_large_1100000", &name, 0, batch(&[big], &[1_000])?)?;
    let mut corrupt = BytesMut::from(&text_batch(&["y", "z"])?[..]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    record(obs, "corrupt_crc", &name, 0, corrupt.freeze())?;
    let mut bad_magic = BytesMut::from(&text_batch(&["m"])?[..]);
    bad_magic[16] = 7;
    record(obs, "magic_7", &name, 0, bad_magic.freeze())?;
    let mut c2 = ctx.connect()?;
    for p in [0, 1] {
        let r = list_offsets(&mut c2, &name, p, -1)?;
        obs.put(format!("after.p{p}.latest_offset"), r.offset);
    }
    let f = fetch(&mut c2, &name, 0, 0)?;
    obs.put("after.p0.high_watermark", f.high_watermark);
    obs.put("after.p0.fetched_offsets", record_offsets(&f.records));
    Ok(())
}

fn produce_formats(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    // A gzip batch is stored as the producer sent it (compression.type=producer).
    let gz = ctx.name("gzip");
    create_ready(&mut c, &gz, 1)?;
    produce(&mut c, &gz, 0, text_batch(&["first"])?)?;
    let b = batch_with(
        &texts(&["a", "b", "c"]),
        &[5_000, 5_001, 5_002],
        Compression::Gzip,
        None,
    )?;
    let r = produce(&mut c, &gz, 0, b)?;
    obs.put("gzip.error", code(r.error_code));
    obs.put("gzip.base_offset", r.base_offset);
    let f = fetch(&mut c, &gz, 0, 0)?;
    obs.put("gzip.fetch.batches", batch_summaries(&f.records)?.join(" "));
    obs.put("gzip.fetch.offsets", record_offsets(&f.records));
    let r = list_offsets(&mut c, &gz, 0, -3)?;
    obs.put("gzip.max_timestamp.offset", r.offset);
    obs.put("gzip.max_timestamp.timestamp", r.timestamp);
    let r = list_offsets(&mut c, &gz, 0, 5_001)?;
    obs.put("gzip.ts_5001.offset", r.offset);
    obs.put("gzip.ts_5001.timestamp", r.timestamp);
    // Uncompressed batch whose max timestamp is on its middle record.
    let plain = ctx.name("plain");
    create_ready(&mut c, &plain, 1)?;
    let b = batch_with(
        &texts(&["a", "b", "c"]),
        &[5_000, 5_002, 5_001],
        Compression::None,
        None,
    )?;
    obs.put(
        "plain.error",
        code(produce(&mut c, &plain, 0, b)?.error_code),
    );
    let r = list_offsets(&mut c, &plain, 0, -3)?;
    obs.put("plain.max_timestamp.offset", r.offset);
    obs.put("plain.max_timestamp.timestamp", r.timestamp);
    let r = list_offsets(&mut c, &plain, 0, 5_001)?;
    obs.put("plain.ts_5001.offset", r.offset);
    obs.put("plain.ts_5001.timestamp", r.timestamp);
    // LogAppendTime: the broker stamps the batch and answers the time it used.
    let lat = ctx.name("log-append-time");
    let cr = create_topic(
        &mut c,
        &lat,
        1,
        1,
        &[("message.timestamp.type", "LogAppendTime")],
        false,
    )?;
    obs.put("log_append_time.create.error", code(cr.error_code));
    wait_ready(&mut c, &lat)?;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let r = produce(&mut c, &lat, 0, text_batch(&["x", "y"])?)?;
    obs.put("log_append_time.error", code(r.error_code));
    obs.put(
        "log_append_time.answered_is_now",
        r.log_append_time_ms >= before - 5_000 && r.log_append_time_ms <= before + 60_000,
    );
    let f = fetch(&mut c, &lat, 0, 0)?;
    obs.put(
        "log_append_time.fetch.batches",
        batch_summaries(&f.records)?.join(" "),
    );
    let ts = record_timestamps(&f.records);
    obs.put(
        "log_append_time.fetch.timestamps_equal_answer",
        !ts.is_empty() && ts.iter().all(|t| *t == r.log_append_time_ms),
    );
    let (e, entries) = describe_topic_configs(&mut c, &lat)?;
    obs.put("log_append_time.describe.error", code(e));
    obs.put(
        "log_append_time.describe.message.timestamp.type",
        entries
            .iter()
            .find(|(k, _)| k == "message.timestamp.type")
            .map_or("<absent>".to_string(), |(_, v)| v.clone()),
    );
    Ok(())
}

fn idempotence(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let name = ctx.name("idem");
    create_ready(&mut c, &name, 1)?;
    let init = |transactional_id: Option<&str>| {
        InitProducerIdRequest::default()
            .with_transactional_id(transactional_id.map(|t| TransactionalId(s(t))))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    // Kafka 4.4 serves InitProducerId up to v5 (v6 is KIP-939's unreleased 2PC).
    let r = c.send(init(Some("")), 5)?;
    obs.put("init_empty_transactional_id.error", code(r.error_code));
    // A fresh Kafka answers COORDINATOR_LOAD_IN_PROGRESS until its producer id
    // manager has a block of ids; clients retry.
    let mut r = c.send(init(None), 5)?;
    let first = r.error_code;
    let deadline = Instant::now() + Duration::from_secs(15);
    while [7, 14, 15, 16].contains(&r.error_code) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        r = c.send(init(None), 5)?;
    }
    obs.put(
        "init.first.error",
        if [0, 14].contains(&first) {
            "0 NONE or 14 CoordinatorLoadInProgress".to_string()
        } else {
            code(first)
        },
    );
    obs.put("init.error", code(r.error_code));
    obs.put("init.producer_id_set", r.producer_id.0 >= 0);
    obs.put("init.epoch", r.producer_epoch);
    let (pid, epoch) = (r.producer_id.0, r.producer_epoch);
    let ts = [1_000i64, 1_001, 1_002];
    let mut send =
        |obs: &mut Obs, label: &str, values: &[&str], producer: (i64, i16, i32)| -> Result<()> {
            let b = batch_with(&texts(values), &ts, Compression::None, Some(producer))?;
            let r = produce(&mut c, &name, 0, b)?;
            obs.put(format!("{label}.error"), code(r.error_code));
            obs.put(format!("{label}.base_offset"), r.base_offset);
            Ok(())
        };
    send(obs, "seq0", &["a", "b"], (pid, epoch, 0))?;
    send(obs, "seq0_duplicate", &["a", "b"], (pid, epoch, 0))?;
    send(obs, "seq2", &["c"], (pid, epoch, 2))?;
    send(obs, "seq2_duplicate", &["c"], (pid, epoch, 2))?;
    send(obs, "seq10_gap", &["d"], (pid, epoch, 10))?;
    send(obs, "seq3", &["e"], (pid, epoch, 3))?;
    send(
        obs,
        "unknown_producer_seq5",
        &["f"],
        (pid + 1_000_000, 0, 5),
    )?;
    send(
        obs,
        "unknown_producer_seq0",
        &["g"],
        (pid + 1_000_001, 0, 0),
    )?;
    let r = list_offsets(&mut c, &name, 0, -1)?;
    obs.put("latest.offset", r.offset);
    Ok(())
}

fn fetch_ranges(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let name = ctx.name("fe");
    create_ready(&mut c, &name, 1)?;
    produce(&mut c, &name, 0, text_batch(&["a"])?)?;
    produce(&mut c, &name, 0, text_batch(&["b", "c"])?)?;
    produce(&mut c, &name, 0, text_batch(&["d"])?)?;
    for offset in [0i64, 2, 4, 5, 1000] {
        let p = fetch(&mut c, &name, 0, offset)?;
        let label = format!("at_{offset}");
        obs.put(format!("{label}.error"), code(p.error_code));
        obs.put(format!("{label}.high_watermark"), p.high_watermark);
        obs.put(format!("{label}.last_stable_offset"), p.last_stable_offset);
        obs.put(format!("{label}.log_start_offset"), p.log_start_offset);
        obs.put(format!("{label}.offsets"), record_offsets(&p.records));
    }
    let p = fetch(&mut c, &name, 7, 0)?;
    obs.put("missing_partition.error", code(p.error_code));
    obs.put("missing_partition.high_watermark", p.high_watermark);
    let p = fetch(&mut c, &ctx.name("no-such-topic"), 0, 0)?;
    obs.put("unknown_topic.error", code(p.error_code));
    obs.put("unknown_topic.high_watermark", p.high_watermark);
    Ok(())
}

fn list_offsets_by_time(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let name = ctx.name("lo");
    let empty = ctx.name("lo-empty");
    create_ready(&mut c, &name, 1)?;
    create_ready(&mut c, &empty, 1)?;
    // Timestamps out of order: max timestamp is at offset 1, not at the end.
    for (v, ts) in [("a", 1_000i64), ("b", 3_000), ("c", 2_000)] {
        produce(&mut c, &name, 0, batch(&[Bytes::from(v)], &[ts])?)?;
    }
    let cases: [(&str, i64); 8] = [
        ("earliest", -2),
        ("latest", -1),
        ("max_timestamp", -3),
        ("ts_0", 0),
        ("ts_1000", 1_000),
        ("ts_1500", 1_500),
        ("ts_2500", 2_500),
        ("ts_3001", 3_001),
    ];
    for (label, ts) in cases {
        let r = list_offsets(&mut c, &name, 0, ts)?;
        obs.put(format!("{label}.error"), code(r.error_code));
        obs.put(format!("{label}.offset"), r.offset);
        obs.put(format!("{label}.timestamp"), r.timestamp);
        obs.put(format!("{label}.leader_epoch"), r.leader_epoch);
    }
    for (label, ts) in [
        ("earliest", -2i64),
        ("latest", -1),
        ("max_timestamp", -3),
        ("ts_0", 0),
    ] {
        let r = list_offsets(&mut c, &empty, 0, ts)?;
        obs.put(format!("empty.{label}.error"), code(r.error_code));
        obs.put(format!("empty.{label}.offset"), r.offset);
        obs.put(format!("empty.{label}.timestamp"), r.timestamp);
    }
    let r = list_offsets(&mut c, &ctx.name("no-such-topic"), 0, -1)?;
    obs.put("unknown_topic.error", code(r.error_code));
    obs.put("unknown_topic.offset", r.offset);
    let r = list_offsets(&mut c, &name, 9, -1)?;
    obs.put("missing_partition.error", code(r.error_code));
    obs.put("missing_partition.offset", r.offset);
    Ok(())
}

fn delete_records_once(c: &mut Connection, topic: &str, offset: i64) -> Result<(i16, i64)> {
    let request = DeleteRecordsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![DeleteRecordsPartition::default()
                .with_partition_index(0)
                .with_offset(offset)])]);
    let response = c.send(request, i16::MAX)?;
    let p = response
        .topics
        .into_iter()
        .flat_map(|t| t.partitions)
        .next()
        .ok_or_else(|| anyhow!("DeleteRecords answered no partition"))?;
    Ok((p.error_code, p.low_watermark))
}

fn delete_records(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let name = ctx.name("dr");
    create_ready(&mut c, &name, 1)?;
    for v in ["a", "b", "c", "d", "e"] {
        produce(&mut c, &name, 0, text_batch(&[v])?)?;
    }
    let (e, lw) = delete_records_once(&mut c, &name, 3)?;
    obs.put("to_3.error", code(e));
    obs.put("to_3.low_watermark", lw);
    let r = list_offsets(&mut c, &name, 0, -2)?;
    obs.put("earliest_after.offset", r.offset);
    let p = fetch(&mut c, &name, 0, 0)?;
    obs.put("fetch_0.error", code(p.error_code));
    obs.put("fetch_0.log_start_offset", p.log_start_offset);
    let p = fetch(&mut c, &name, 0, 3)?;
    obs.put("fetch_3.error", code(p.error_code));
    obs.put("fetch_3.log_start_offset", p.log_start_offset);
    obs.put("fetch_3.high_watermark", p.high_watermark);
    obs.put("fetch_3.offsets", record_offsets(&p.records));
    let (e, lw) = delete_records_once(&mut c, &name, 1)?;
    obs.put("backwards_to_1.error", code(e));
    obs.put("backwards_to_1.low_watermark", lw);
    let (e, lw) = delete_records_once(&mut c, &name, 10)?;
    obs.put("beyond_hw_10.error", code(e));
    obs.put("beyond_hw_10.low_watermark", lw);
    let (e, lw) = delete_records_once(&mut c, &name, -1)?;
    obs.put("to_hw_minus1.error", code(e));
    obs.put("to_hw_minus1.low_watermark", lw);
    let r = produce(&mut c, &name, 0, text_batch(&["f"])?)?;
    obs.put("produce_after.base_offset", r.base_offset);
    obs.put("produce_after.log_start_offset", r.log_start_offset);
    let (e, lw) = delete_records_once(&mut c, &ctx.name("no-such-topic"), 0)?;
    obs.put("unknown_topic.error", code(e));
    obs.put("unknown_topic.low_watermark", lw);
    Ok(())
}

/// DescribeConfigs of one topic: (error, [(name, "value source ro sensitive")]).
fn describe_topic_configs(c: &mut Connection, topic: &str) -> Result<(i16, Vec<(String, String)>)> {
    let request = DescribeConfigsRequest::default()
        .with_include_synonyms(false)
        .with_include_documentation(false)
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s(topic))
            .with_configuration_keys(None)]);
    let response = c.send(request, i16::MAX)?;
    let result = response
        .results
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("DescribeConfigs answered nothing"))?;
    let mut entries: Vec<(String, String)> = result
        .configs
        .iter()
        .map(|e| {
            (
                e.name.to_string(),
                format!(
                    "{} source={} ro={} sensitive={}",
                    e.value.as_deref().unwrap_or("null"),
                    e.config_source,
                    e.read_only,
                    e.is_sensitive
                ),
            )
        })
        .collect();
    entries.sort();
    Ok((result.error_code, entries))
}

fn describe_configs(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let name = ctx.name("dc");
    create_ready(&mut c, &name, 1)?;
    let (e, entries) = describe_topic_configs(&mut c, &name)?;
    obs.put("error", code(e));
    obs.put("count", entries.len());
    for (k, v) in entries {
        obs.put(format!("config.{k}"), v);
    }
    let (e, entries) = describe_topic_configs(&mut c, &ctx.name("no-such-topic"))?;
    obs.put("unknown_topic.error", code(e));
    obs.put("unknown_topic.count", entries.len());
    Ok(())
}

fn alter_once(
    c: &mut Connection,
    topic: &str,
    key: &str,
    op: i8,
    value: Option<&str>,
) -> Result<i16> {
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s(topic))
            .with_configs(vec![AlterableConfig::default()
                .with_name(s(key))
                .with_config_operation(op)
                .with_value(value.map(s))]),
    ]);
    let response = c.send(request, i16::MAX)?;
    response
        .responses
        .first()
        .map(|r| r.error_code)
        .ok_or_else(|| anyhow!("IncrementalAlterConfigs answered nothing"))
}

/// The describe entry of `key` ("value source=S ro=B sensitive=B"), polled up to 10 s
/// until it starts with `want`: Kafka applies config changes through its controller,
/// so a DescribeConfigs right after the change may still show the old value.
fn config_entry_eventually(
    c: &mut Connection,
    topic: &str,
    key: &str,
    want: &str,
) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, entries) = describe_topic_configs(c, topic)?;
        let value = entries
            .iter()
            .find(|(k, _)| k == key)
            .map_or("<absent>".to_string(), |(_, v)| v.clone());
        if value.starts_with(&format!("{want} ")) || Instant::now() > deadline {
            return Ok(value);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alter_configs(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let name = ctx.name("ac");
    create_ready(&mut c, &name, 1)?;
    let e = alter_once(&mut c, &name, "retention.ms", 0, Some("86400000"))?;
    obs.put("set_retention.error", code(e));
    let v = config_entry_eventually(&mut c, &name, "retention.ms", "86400000")?;
    obs.put("after_set.retention.ms", v);
    let e = alter_once(&mut c, &name, "retention.ms", 1, None)?;
    obs.put("delete_retention.error", code(e));
    let v = config_entry_eventually(&mut c, &name, "retention.ms", "604800000")?;
    obs.put("after_delete.retention.ms", v);
    for (label, key, value) in [
        ("bad_value", "retention.ms", "abc"),
        ("bad_policy", "cleanup.policy", "bogus"),
        ("segment_bytes_negative", "segment.bytes", "-1"),
        ("segment_bytes_1000", "segment.bytes", "1000"),
        ("min_insync_replicas_0", "min.insync.replicas", "0"),
        ("retention_ms_minus2", "retention.ms", "-2"),
        ("max_message_bytes_negative", "max.message.bytes", "-5"),
        ("unknown_key", "no.such.config", "1"),
    ] {
        let e = alter_once(&mut c, &name, key, 0, Some(value))?;
        obs.put(format!("{label}.error"), code(e));
    }
    let e = alter_once(
        &mut c,
        &ctx.name("no-such-topic"),
        "retention.ms",
        0,
        Some("1000"),
    )?;
    obs.put("unknown_topic.error", code(e));
    Ok(())
}

fn metadata_auto_create(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let off = ctx.name("auto-off");
    let t = metadata_topic(&mut c, &off, false)?;
    obs.put("auto_off.error", code(t.error_code));
    obs.put("auto_off.partitions", t.partitions.len());
    let t = metadata_topic(&mut c, &off, false)?;
    obs.put("auto_off.again.error", code(t.error_code));
    let on = ctx.name("auto-on");
    let t = metadata_topic(&mut c, &on, true)?;
    // The first answer while the topic is being created; clients retry on any of
    // NONE, LEADER_NOT_AVAILABLE and UNKNOWN_TOPIC_OR_PARTITION.
    obs.put("auto_on.first.error", code(t.error_code));
    obs.put("auto_on.first.is_internal", t.is_internal);
    wait_ready(&mut c, &on)?;
    let t = metadata_topic(&mut c, &on, false)?;
    obs.put("auto_on.ready.error", code(t.error_code));
    obs.put("auto_on.ready.partitions", t.partitions.len());
    obs.put(
        "auto_on.ready.replicas",
        t.partitions.first().map_or(0, |p| p.replica_nodes.len()),
    );
    obs.put("auto_on.ready.is_internal", t.is_internal);
    let t = metadata_topic(&mut c, "bad name!", true)?;
    obs.put("auto_on.invalid_name.error", code(t.error_code));
    Ok(())
}

fn api_versions(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let c = ctx.connect()?;
    for (key, (min, max)) in &c.versions {
        let name = ApiKey::try_from(*key).map_or(format!("api{key}"), |k| format!("{k:?}"));
        obs.info(format!("{key:02} {name}"), format!("{min}..{max}"));
    }
    obs.put("connected", true);
    Ok(())
}

fn find_coordinator(c: &mut Connection, group: &str) -> Result<i16> {
    let version = c.version::<FindCoordinatorRequest>(i16::MAX)?;
    let mut request = FindCoordinatorRequest::default();
    if version >= 4 {
        request.coordinator_keys = vec![s(group)];
    } else {
        request.key = s(group);
    }
    let response = c.send_version(request, version)?;
    Ok(response
        .coordinators
        .first()
        .map_or(response.error_code, |k| k.error_code))
}

/// FindCoordinator until it answers NONE (up to 15 s): (first error, last error).
fn coordinator_ready(c: &mut Connection, group: &str) -> Result<(i16, i16)> {
    let first = find_coordinator(c, group)?;
    let mut last = first;
    let deadline = Instant::now() + Duration::from_secs(15);
    while last != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        last = find_coordinator(c, group)?;
    }
    // Then until the coordinator has loaded its partition of __consumer_offsets
    // (Kafka answers NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS meanwhile).
    while Instant::now() < deadline {
        let request = DescribeGroupsRequest::default().with_groups(vec![GroupId(s(group))]);
        let response = c.send(request, i16::MAX)?;
        let error = response.groups.first().map_or(0, |g| g.error_code);
        if ![14, 15, 16].contains(&error) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok((first, last))
}

/// The first FindCoordinator answer: NONE and COORDINATOR_NOT_AVAILABLE (while
/// __consumer_offsets is being created) are the same to a client, which retries.
fn first_code(first: i16) -> String {
    match first {
        0 | 15 => "0 NONE or 15 CoordinatorNotAvailable".to_string(),
        other => code(other),
    }
}

/// OffsetFetch (v7 layout: one group) of partitions 0 and 1 of `topic`.
fn offset_fetch(
    c: &mut Connection,
    group: &str,
    topic: &str,
    obs: &mut Obs,
    label: &str,
) -> Result<()> {
    let request = OffsetFetchRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(topic_name(topic))
            .with_partition_indexes(vec![0, 1])]));
    let response = c.send(request, 7)?;
    obs.put(format!("{label}.error"), code(response.error_code));
    for t in &response.topics {
        for p in &t.partitions {
            let l = format!("{label}.p{}", p.partition_index);
            obs.put(format!("{l}.error"), code(p.error_code));
            obs.put(format!("{l}.offset"), p.committed_offset);
            obs.put(format!("{l}.leader_epoch"), p.committed_leader_epoch);
            obs.put(
                format!("{l}.metadata"),
                p.metadata.as_deref().unwrap_or("null"),
            );
        }
    }
    Ok(())
}

fn offset_fetch_unknown(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let topic = ctx.name("of");
    create_ready(&mut c, &topic, 1)?;
    let group = ctx.name("never-used-group");
    let (first, ready) = coordinator_ready(&mut c, &group)?;
    // A fresh Kafka creates __consumer_offsets on the first FindCoordinator and
    // answers COORDINATOR_NOT_AVAILABLE until it exists; clients retry.
    obs.put("find_coordinator.first.error", first_code(first));
    obs.put("find_coordinator.ready.error", code(ready));
    offset_fetch(&mut c, &group, &topic, obs, "unknown_group")?;
    offset_fetch(
        &mut c,
        &group,
        &ctx.name("no-such-topic"),
        obs,
        "unknown_group_unknown_topic",
    )?;
    Ok(())
}

/// DescribeGroups of one group. Members are recorded under the names `names` gives
/// their member ids (member order in the answer is not part of the contract).
fn describe_group(
    c: &mut Connection,
    group: &str,
    obs: &mut Obs,
    label: &str,
    names: &[(&str, &str)],
) -> Result<()> {
    let request = DescribeGroupsRequest::default().with_groups(vec![GroupId(s(group))]);
    let response = c.send(request, i16::MAX)?;
    let g = response
        .groups
        .first()
        .ok_or_else(|| anyhow!("DescribeGroups answered nothing"))?;
    obs.put(format!("{label}.error"), code(g.error_code));
    obs.put(format!("{label}.state"), &g.group_state);
    obs.put(format!("{label}.protocol_type"), &g.protocol_type);
    obs.put(format!("{label}.protocol_data"), &g.protocol_data);
    obs.put(format!("{label}.members"), g.members.len());
    let mut members: Vec<(
        String,
        &kafka_protocol::messages::describe_groups_response::DescribedGroupMember,
    )> = g
        .members
        .iter()
        .map(|m| {
            let name = names
                .iter()
                .find(|(id, _)| *id == m.member_id.as_str())
                .map_or("unknown".to_string(), |(_, n)| (*n).to_string());
            (name, m)
        })
        .collect();
    members.sort_by(|x, y| x.0.cmp(&y.0));
    for (name, m) in members {
        obs.put(format!("{label}.member.{name}.client_id"), &m.client_id);
        obs.put(
            format!("{label}.member.{name}.metadata_len"),
            m.member_metadata.len(),
        );
        obs.put(
            format!("{label}.member.{name}.assignment_len"),
            m.member_assignment.len(),
        );
    }
    Ok(())
}

/// ConsumerProtocolSubscription v0 for one topic.
fn subscription(topic: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(1);
    b.put_i16(topic.len() as i16);
    b.put_slice(topic.as_bytes());
    b.put_i32(-1);
    b.freeze()
}

/// ConsumerProtocolAssignment v0: partitions 0 and 1 of one topic.
fn assignment(topic: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(1);
    b.put_i16(topic.len() as i16);
    b.put_slice(topic.as_bytes());
    b.put_i32(2);
    b.put_i32(0);
    b.put_i32(1);
    b.put_i32(-1);
    b.freeze()
}

fn join(
    c: &mut Connection,
    group: &str,
    member: &str,
    topic: &str,
) -> Result<kafka_protocol::messages::JoinGroupResponse> {
    let request = JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(s(member))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(subscription(topic))]);
    c.send(request, i16::MAX)
}

fn commit(
    c: &mut Connection,
    group: &str,
    generation: i32,
    member: &str,
    topic: &str,
    offset: i64,
) -> Result<i16> {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)
                .with_committed_leader_epoch(-1)
                .with_committed_metadata(Some(s("m")))])]);
    let response = c.send(request, 9)?;
    Ok(response
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .map_or(-1, |p| p.error_code))
}

fn heartbeat(c: &mut Connection, group: &str, generation: i32, member: &str) -> Result<i16> {
    let request = HeartbeatRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id(generation)
        .with_member_id(s(member));
    Ok(c.send(request, i16::MAX)?.error_code)
}

fn delete_group(c: &mut Connection, group: &str) -> Result<i16> {
    let request = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s(group))]);
    let response = c.send(request, i16::MAX)?;
    response
        .results
        .first()
        .map(|r| r.error_code)
        .ok_or_else(|| anyhow!("DeleteGroups answered nothing"))
}

fn group_cycle(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let topic = ctx.name("gr");
    create_ready(&mut c, &topic, 2)?;
    let group = ctx.name("group");
    let (first, ready) = coordinator_ready(&mut c, &group)?;
    obs.put("find_coordinator.first.error", first_code(first));
    obs.put("find_coordinator.ready.error", code(ready));
    describe_group(&mut c, &group, obs, "describe_unknown", &[])?;
    obs.put("delete_unknown.error", code(delete_group(&mut c, &group)?));

    let r = join(&mut c, &group, "", &topic)?;
    obs.put("join1.error", code(r.error_code));
    obs.put("join1.member_id_set", !r.member_id.is_empty());
    obs.put("join1.generation", r.generation_id);
    let member = r.member_id.to_string();
    let r = join(&mut c, &group, &member, &topic)?;
    obs.put("join2.error", code(r.error_code));
    obs.put("join2.generation", r.generation_id);
    obs.put(
        "join2.protocol_type",
        r.protocol_type.as_deref().unwrap_or("null"),
    );
    obs.put(
        "join2.protocol_name",
        r.protocol_name.as_deref().unwrap_or("null"),
    );
    obs.put("join2.is_leader", r.leader.as_str() == member);
    obs.put("join2.members", r.members.len());
    let generation = r.generation_id;
    describe_group(&mut c, &group, obs, "after_join", &[(member.as_str(), "m")])?;

    let sync = SyncGroupRequest::default()
        .with_group_id(GroupId(s(&group)))
        .with_generation_id(generation)
        .with_member_id(s(&member))
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")))
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(s(&member))
            .with_assignment(assignment(&topic))]);
    let r = c.send(sync, i16::MAX)?;
    obs.put("sync.error", code(r.error_code));
    obs.put(
        "sync.assignment_matches",
        r.assignment == assignment(&topic),
    );
    describe_group(&mut c, &group, obs, "after_sync", &[(member.as_str(), "m")])?;

    obs.put(
        "heartbeat.error",
        code(heartbeat(&mut c, &group, generation, &member)?),
    );
    obs.put(
        "heartbeat_bad_generation.error",
        code(heartbeat(&mut c, &group, generation + 98, &member)?),
    );
    obs.put(
        "heartbeat_unknown_member.error",
        code(heartbeat(&mut c, &group, generation, "nobody")?),
    );
    obs.put(
        "commit.error",
        code(commit(&mut c, &group, generation, &member, &topic, 1)?),
    );
    obs.put(
        "commit_bad_generation.error",
        code(commit(&mut c, &group, generation + 98, &member, &topic, 2)?),
    );
    obs.put(
        "commit_unknown_member.error",
        code(commit(&mut c, &group, generation, "nobody", &topic, 2)?),
    );
    obs.put(
        "commit_unknown_topic.error",
        code(commit(
            &mut c,
            &group,
            generation,
            &member,
            &ctx.name("no-such-topic"),
            2,
        )?),
    );
    offset_fetch(&mut c, &group, &topic, obs, "fetch_committed")?;
    obs.put(
        "delete_non_empty.error",
        code(delete_group(&mut c, &group)?),
    );

    let leave = LeaveGroupRequest::default()
        .with_group_id(GroupId(s(&group)))
        .with_members(vec![MemberIdentity::default().with_member_id(s(&member))]);
    let version = c.version::<LeaveGroupRequest>(i16::MAX)?;
    let leave = if version < 3 {
        LeaveGroupRequest::default()
            .with_group_id(GroupId(s(&group)))
            .with_member_id(s(&member))
    } else {
        leave
    };
    let r = c.send_version(leave, version)?;
    obs.put("leave.error", code(r.error_code));
    obs.put(
        "leave.member_error",
        r.members
            .first()
            .map_or("none".to_string(), |m| code(m.error_code)),
    );
    describe_group(
        &mut c,
        &group,
        obs,
        "after_leave",
        &[(member.as_str(), "m")],
    )?;
    obs.put(
        "commit_standalone_empty_group.error",
        code(commit(&mut c, &group, -1, "", &topic, 3)?),
    );
    offset_fetch(&mut c, &group, &topic, obs, "fetch_after_standalone")?;
    obs.put("delete_empty.error", code(delete_group(&mut c, &group)?));
    describe_group(&mut c, &group, obs, "after_delete", &[])?;
    offset_fetch(&mut c, &group, &topic, obs, "fetch_after_delete")?;
    Ok(())
}

/// JoinGroup on a connection of its own (blocks while the group rebalances).
fn join_in_thread(
    address: String,
    group: String,
    member: String,
    topic: String,
) -> std::thread::JoinHandle<Result<kafka_protocol::messages::JoinGroupResponse>> {
    std::thread::spawn(move || {
        let mut c = Connection::connect(&address)?;
        join(&mut c, &group, &member, &topic)
    })
}

fn sync(
    c: &mut Connection,
    group: &str,
    generation: i32,
    member: &str,
    assignments: Vec<SyncGroupRequestAssignment>,
) -> Result<kafka_protocol::messages::SyncGroupResponse> {
    let request = SyncGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id(generation)
        .with_member_id(s(member))
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")))
        .with_assignments(assignments);
    c.send(request, i16::MAX)
}

/// A second member joins a stable group: PreparingRebalance, the first member is
/// told to rejoin, both sync, then members leave one by one.
fn group_rebalance(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let topic = ctx.name("rb");
    create_ready(&mut c, &topic, 2)?;
    let group = ctx.name("rebalance-group");
    coordinator_ready(&mut c, &group)?;
    // Member A: join, sync alone.
    let a = join(&mut c, &group, "", &topic)?.member_id.to_string();
    let r = join(&mut c, &group, &a, &topic)?;
    obs.put("a.join.error", code(r.error_code));
    obs.put("a.join.generation", r.generation_id);
    let one = vec![SyncGroupRequestAssignment::default()
        .with_member_id(s(&a))
        .with_assignment(assignment(&topic))];
    obs.put(
        "a.sync.error",
        code(sync(&mut c, &group, r.generation_id, &a, one)?.error_code),
    );
    // Member B joins: the group goes to PreparingRebalance until A rejoins.
    let mut cb = ctx.connect()?;
    let r = join(&mut cb, &group, "", &topic)?;
    obs.put("b.join1.error", code(r.error_code));
    let b = r.member_id.to_string();
    let pending = join_in_thread(ctx.address.clone(), group.clone(), b.clone(), topic.clone());
    std::thread::sleep(Duration::from_millis(700));
    describe_group(
        &mut c,
        &group,
        obs,
        "b_joining",
        &[(a.as_str(), "a"), (b.as_str(), "b")],
    )?;
    obs.put(
        "a.heartbeat_during_rebalance.error",
        code(heartbeat(&mut c, &group, 1, &a)?),
    );
    let ra = join(&mut c, &group, &a, &topic)?;
    let rb = pending
        .join()
        .map_err(|_| anyhow!("JoinGroup thread panicked"))??;
    obs.put("a.rejoin.error", code(ra.error_code));
    obs.put("a.rejoin.generation", ra.generation_id);
    obs.put("a.rejoin.is_leader", ra.leader.as_str() == a);
    obs.put("a.rejoin.members", ra.members.len());
    obs.put("b.join2.error", code(rb.error_code));
    obs.put("b.join2.generation", rb.generation_id);
    obs.put("b.join2.leader_is_a", rb.leader.as_str() == a);
    obs.put("b.join2.members", rb.members.len());
    describe_group(
        &mut c,
        &group,
        obs,
        "both_joined",
        &[(a.as_str(), "a"), (b.as_str(), "b")],
    )?;
    let generation = ra.generation_id;
    // B (follower) syncs first and waits for the leader's assignment.
    let (addr, g2, b2) = (ctx.address.clone(), group.clone(), b.clone());
    let follower = std::thread::spawn(
        move || -> Result<kafka_protocol::messages::SyncGroupResponse> {
            let mut c = Connection::connect(&addr)?;
            sync(&mut c, &g2, generation, &b2, Vec::new())
        },
    );
    std::thread::sleep(Duration::from_millis(300));
    let both = vec![
        SyncGroupRequestAssignment::default()
            .with_member_id(s(&a))
            .with_assignment(assignment(&topic)),
        SyncGroupRequestAssignment::default()
            .with_member_id(s(&b))
            .with_assignment(Bytes::from_static(
                b"\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff",
            )),
    ];
    let sa = sync(&mut c, &group, generation, &a, both)?;
    let sb = follower
        .join()
        .map_err(|_| anyhow!("SyncGroup thread panicked"))??;
    obs.put("a.sync2.error", code(sa.error_code));
    obs.put("b.sync2.error", code(sb.error_code));
    obs.put("b.sync2.assignment_len", sb.assignment.len());
    describe_group(
        &mut c,
        &group,
        obs,
        "both_synced",
        &[(a.as_str(), "a"), (b.as_str(), "b")],
    )?;
    obs.put(
        "b.heartbeat.error",
        code(heartbeat(&mut cb, &group, generation, &b)?),
    );
    obs.put(
        "b.heartbeat_old_generation.error",
        code(heartbeat(&mut cb, &group, generation - 1, &b)?),
    );
    // A leaves: B must rejoin.
    let leave = LeaveGroupRequest::default()
        .with_group_id(GroupId(s(&group)))
        .with_members(vec![MemberIdentity::default().with_member_id(s(&a))]);
    obs.put("a.leave.error", code(c.send(leave, i16::MAX)?.error_code));
    describe_group(
        &mut c,
        &group,
        obs,
        "a_left",
        &[(a.as_str(), "a"), (b.as_str(), "b")],
    )?;
    obs.put(
        "b.heartbeat_after_a_left.error",
        code(heartbeat(&mut cb, &group, generation, &b)?),
    );
    let r = join(&mut cb, &group, &b, &topic)?;
    obs.put("b.rejoin.error", code(r.error_code));
    obs.put("b.rejoin.generation", r.generation_id);
    obs.put("b.rejoin.is_leader", r.leader.as_str() == b);
    describe_group(
        &mut c,
        &group,
        obs,
        "b_alone",
        &[(a.as_str(), "a"), (b.as_str(), "b")],
    )?;
    let leave = LeaveGroupRequest::default()
        .with_group_id(GroupId(s(&group)))
        .with_members(vec![MemberIdentity::default().with_member_id(s(&b))]);
    obs.put("b.leave.error", code(cb.send(leave, i16::MAX)?.error_code));
    describe_group(
        &mut c,
        &group,
        obs,
        "all_left",
        &[(a.as_str(), "a"), (b.as_str(), "b")],
    )?;
    Ok(())
}

fn internal_topics(ctx: &Ctx, obs: &mut Obs) -> Result<()> {
    let mut c = ctx.connect()?;
    let t = metadata_topic(&mut c, "__consumer_offsets", false)?;
    obs.put("consumer_offsets.error", code(t.error_code));
    obs.put("consumer_offsets.is_internal", t.is_internal);
    obs.put("consumer_offsets.partitions", t.partitions.len());
    // The transactions scenario (run before this one) made both create it.
    let t = metadata_topic(&mut c, "__transaction_state", false)?;
    obs.put("transaction_state.error", code(t.error_code));
    obs.put("transaction_state.is_internal", t.is_internal);
    obs.put("transaction_state.partitions", t.partitions.len());
    Ok(())
}
