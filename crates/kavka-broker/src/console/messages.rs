//! The message browser and the produce form: Fetch and Produce through the
//! broker's handlers, records decoded with `kafka-protocol`'s batch decoder.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use indexmap::IndexMap;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, FetchRequest, ProduceRequest, RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::kafka::{call, check, error_name};
use super::offsets::{self, list_offsets, topic_name, valid_topic_name, EARLIEST, LATEST};
use super::partitioner::partition_for_key;
use super::query::Query;
use super::render::{contains, show, Shown};
use crate::state::BrokerState;

/// Records shown when the query names no limit.
const DEFAULT_LIMIT: usize = 50;
/// The most records one page shows.
const MAX_LIMIT: usize = 500;
/// The most records read from one partition to fill a filtered page, so a
/// filter that matches nothing answers quickly on a long log.
const MAX_SCANNED: usize = 10_000;
/// Bytes asked of one partition per Fetch.
const FETCH_BYTES: i32 = 1024 * 1024;

/// Where reading starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Start {
    /// The last `limit` records of each partition.
    End,
    Beginning,
    Offset(i64),
    /// The first record at or after this many ms since the epoch.
    Timestamp(i64),
    /// Exactly these offsets per partition (what a live tail asks next).
    Cursor(BTreeMap<i32, i64>),
}

/// What to read, as the query string says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Browse {
    pub(crate) partition: Option<i32>,
    pub(crate) start: Start,
    pub(crate) limit: usize,
    pub(crate) key: Option<String>,
    pub(crate) text: Option<String>,
}

impl Browse {
    /// Validates the query: `partition`, `from` (end, beginning, offset,
    /// timestamp), `offset`, `timestamp` (ms), `cursor` (`p:o,p:o`), `limit`,
    /// `key`, `text`.
    pub(crate) fn from_query(q: &Query) -> Result<Self, ApiError> {
        let partition = q
            .int("partition")?
            .map(|p| {
                i32::try_from(p)
                    .ok()
                    .filter(|p| *p >= 0)
                    .ok_or_else(|| ApiError::bad_request("partition must be 0 or more"))
            })
            .transpose()?;
        let start = if let Some(cursor) = q.get("cursor") {
            Start::Cursor(parse_cursor(cursor)?)
        } else {
            match q.get("from").unwrap_or("end") {
                "end" => Start::End,
                "beginning" => Start::Beginning,
                "offset" => {
                    let offset = q
                        .int("offset")?
                        .ok_or_else(|| ApiError::bad_request("from=offset needs an offset"))?;
                    if offset < 0 {
                        return Err(ApiError::bad_request(format!(
                            "offset must be 0 or more, not {offset}"
                        )));
                    }
                    Start::Offset(offset)
                }
                "timestamp" => {
                    let ts = q.int("timestamp")?.ok_or_else(|| {
                        ApiError::bad_request("from=timestamp needs a timestamp (ms since 1970)")
                    })?;
                    if ts < 0 {
                        return Err(ApiError::bad_request("timestamp must be 0 or more"));
                    }
                    Start::Timestamp(ts)
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "from must be end, beginning, offset or timestamp, not {other:?}"
                    )))
                }
            }
        };
        let limit = match q.int("limit")? {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
            Some(n) => {
                return Err(ApiError::bad_request(format!(
                    "limit must be between 1 and {MAX_LIMIT}, not {n}"
                )))
            }
        };
        Ok(Self {
            partition,
            start,
            limit,
            key: q.get("key").map(str::to_string),
            text: q.get("text").map(str::to_string),
        })
    }

    fn matches(&self, r: &Record) -> bool {
        if let Some(k) = &self.key {
            if !contains(r.key.as_deref(), k) {
                return false;
            }
        }
        if let Some(t) = &self.text {
            let in_headers = r
                .headers
                .iter()
                .any(|(k, v)| k.contains(t.as_str()) || contains(v.as_deref(), t));
            if !(contains(r.key.as_deref(), t) || contains(r.value.as_deref(), t) || in_headers) {
                return false;
            }
        }
        true
    }
}

fn parse_cursor(cursor: &str) -> Result<BTreeMap<i32, i64>, ApiError> {
    let bad = || ApiError::bad_request("cursor must read partition:offset,partition:offset");
    cursor
        .split(',')
        .map(|pair| {
            let (p, o) = pair.split_once(':').ok_or_else(bad)?;
            let p: i32 = p.trim().parse().map_err(|_| bad())?;
            let o: i64 = o.trim().parse().map_err(|_| bad())?;
            if p < 0 || o < 0 {
                return Err(bad());
            }
            Ok((p, o))
        })
        .collect()
}

/// A header as shown.
#[derive(Debug, Serialize)]
pub(crate) struct HeaderView {
    key: String,
    value: Shown,
}

/// A record as shown.
#[derive(Debug, Serialize)]
pub(crate) struct RecordView {
    partition: i32,
    offset: i64,
    timestamp: i64,
    timestamp_type: &'static str,
    key: Shown,
    value: Shown,
    headers: Vec<HeaderView>,
}

/// A page of records.
#[derive(Debug, Serialize)]
pub(crate) struct Page {
    records: Vec<RecordView>,
    /// Per partition, the offset to ask next (`cursor`) to see what follows.
    next: BTreeMap<i32, i64>,
    /// Partitions that could not be read, with Kafka's error.
    errors: BTreeMap<i32, String>,
}

/// Reads a page of records.
pub(crate) async fn browse(state: &BrokerState, topic: &str, b: Browse) -> Result<Page, ApiError> {
    valid_topic_name(topic)?;
    let meta = offsets::topic(state, topic).await?;
    let all: Vec<i32> = meta.partitions.iter().map(|p| p.partition_index).collect();
    let partitions: Vec<i32> = match (&b.partition, &b.start) {
        (Some(p), _) if !all.contains(p) => {
            return Err(ApiError::not_found(format!(
                "topic {topic:?} has no partition {p} (it has {})",
                all.len()
            )))
        }
        (Some(p), _) => vec![*p],
        (None, Start::Cursor(c)) => c.keys().copied().filter(|p| all.contains(p)).collect(),
        (None, _) => all,
    };
    let starts = list_offsets(state, topic, &partitions, EARLIEST).await?;
    let ends = list_offsets(state, topic, &partitions, LATEST).await?;
    let at_time = match b.start {
        Start::Timestamp(ts) => Some(list_offsets(state, topic, &partitions, ts).await?),
        _ => None,
    };
    let mut errors = BTreeMap::new();
    let mut found: Vec<(i32, Vec<Record>, i64)> = Vec::new();
    for &p in &partitions {
        let (Some(first), Some(end)) = (
            starts.get(&p).and_then(|o| o.ok()),
            ends.get(&p).and_then(|o| o.ok()),
        ) else {
            let why = [starts.get(&p), ends.get(&p)]
                .into_iter()
                .flatten()
                .find_map(|o| match o {
                    offsets::Offset::Unavailable { error } => Some(error.clone()),
                    offsets::Offset::At(_) => None,
                })
                .unwrap_or_else(|| "NO_ANSWER".to_string());
            errors.insert(p, why);
            continue;
        };
        let from = match &b.start {
            Start::End => (end - b.limit as i64).max(first),
            Start::Beginning => first,
            Start::Offset(o) => (*o).max(first),
            // -1: no record at or after the time; the tail starts at the end.
            Start::Timestamp(_) => at_time
                .as_ref()
                .and_then(|m| m.get(&p))
                .and_then(|o| o.ok())
                .filter(|o| *o >= 0)
                .unwrap_or(end)
                .max(first),
            Start::Cursor(c) => c.get(&p).copied().unwrap_or(end).max(first),
        };
        match read(state, topic, p, from, end, &b).await {
            Ok((records, next)) => found.push((p, records, next)),
            Err(code) => {
                errors.insert(p, error_name(code));
            }
        }
    }
    Ok(assemble(found, &b, errors))
}

/// Merges partitions' records into one page in time order and says where
/// each partition goes on from.
fn assemble(
    found: Vec<(i32, Vec<Record>, i64)>,
    b: &Browse,
    errors: BTreeMap<i32, String>,
) -> Page {
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut all: Vec<(i32, Record)> = Vec::new();
    for (p, records, after) in found {
        next.insert(p, after);
        all.extend(records.into_iter().map(|r| (p, r)));
    }
    all.sort_by_key(|(p, r)| (r.timestamp, *p, r.offset));
    if all.len() > b.limit {
        if b.start == Start::End {
            all.drain(..all.len() - b.limit);
        } else {
            // The records cut off are read again next time: each partition goes
            // on after the last of its records kept.
            let dropped = all.split_off(b.limit);
            for (p, r) in &dropped {
                let e = next.entry(*p).or_insert(r.offset);
                *e = (*e).min(r.offset);
            }
        }
    }
    let records = all
        .into_iter()
        .map(|(partition, r)| RecordView {
            partition,
            offset: r.offset,
            timestamp: r.timestamp,
            timestamp_type: match r.timestamp_type {
                TimestampType::Creation => "CreateTime",
                TimestampType::LogAppend => "LogAppendTime",
            },
            key: show(r.key.as_deref()),
            value: show(r.value.as_deref()),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| HeaderView {
                    key: k.to_string(),
                    value: show(v.as_deref()),
                })
                .collect(),
        })
        .collect();
    Page {
        records,
        next,
        errors,
    }
}

/// Reads one partition from `from` below `end` until `limit` records match or
/// [`MAX_SCANNED`] were read; returns them and the offset to go on from.
async fn read(
    state: &BrokerState,
    topic: &str,
    partition: i32,
    mut from: i64,
    end: i64,
    b: &Browse,
) -> Result<(Vec<Record>, i64), i16> {
    let mut out = Vec::new();
    let mut scanned = 0usize;
    while from < end && out.len() < b.limit && scanned < MAX_SCANNED {
        let records = fetch(state, topic, partition, from).await?;
        // Nothing at or after `from` in what came back (e.g. a batch whose
        // records compaction removed): stop here rather than ask again forever.
        if !records.iter().any(|r| r.offset >= from) {
            break;
        }
        for r in records {
            if r.offset < from || r.offset >= end {
                continue;
            }
            from = r.offset + 1;
            scanned += 1;
            if !r.control && b.matches(&r) {
                out.push(r);
                if out.len() == b.limit {
                    break;
                }
            }
        }
    }
    Ok((out, from))
}

async fn fetch(
    state: &BrokerState,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<Vec<Record>, i16> {
    let request = FetchRequest::default()
        .with_replica_id((-1).into())
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(FETCH_BYTES)
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(-1)
                .with_fetch_offset(offset)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(FETCH_BYTES)])]);
    let Ok(ResponseKind::Fetch(response)) =
        call(state, ApiKey::Fetch, 12, RequestKind::Fetch(request)).await
    else {
        return Err(-1);
    };
    if response.error_code != 0 {
        return Err(response.error_code);
    }
    let Some(data) = response
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == partition)
    else {
        return Err(-1);
    };
    if data.error_code != 0 {
        return Err(data.error_code);
    }
    let mut bytes = data.records.unwrap_or_default();
    let mut records = Vec::new();
    // A batch cut off at the byte limit is the last one; what decoded is kept.
    while !bytes.is_empty() {
        match RecordBatchDecoder::decode(&mut bytes) {
            Ok(set) => records.extend(set.records),
            Err(_) => break,
        }
    }
    Ok(records)
}

/// The produce form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRecord {
    partition: Option<i32>,
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    headers: Vec<NewHeader>,
}

/// A header of the produce form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewHeader {
    key: String,
    value: Option<String>,
}

/// Where a produced record landed.
#[derive(Debug, Serialize)]
pub(crate) struct Produced {
    partition: i32,
    offset: i64,
}

/// Produces one record with acks=all; the partition is the form's, or the one
/// Kafka's partitioner picks for the key (partition 0 without one).
pub(crate) async fn produce(
    state: &BrokerState,
    topic: &str,
    new: NewRecord,
) -> Result<Produced, ApiError> {
    valid_topic_name(topic)?;
    let meta = offsets::topic(state, topic).await?;
    let count = i32::try_from(meta.partitions.len()).unwrap_or(i32::MAX);
    let partition = match (new.partition, &new.key) {
        (Some(p), _) if p < 0 || p >= count => {
            return Err(ApiError::bad_request(format!(
                "topic {topic:?} has partitions 0 to {}, not {p}",
                count - 1
            )))
        }
        (Some(p), _) => p,
        (None, Some(k)) => partition_for_key(k.as_bytes(), count),
        (None, None) => 0,
    };
    let mut headers = IndexMap::new();
    for h in new.headers {
        if h.key.is_empty() {
            return Err(ApiError::bad_request("a header needs a key"));
        }
        headers.insert(
            StrBytes::from_string(h.key),
            h.value.map(|v| Bytes::from(v.into_bytes())),
        );
    }
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: crate::state::now_ms(),
        key: new.key.map(|k| Bytes::from(k.into_bytes())),
        value: new.value.map(|v| Bytes::from(v.into_bytes())),
        headers,
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        std::iter::once(&record),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| ApiError::internal(format!("cannot encode the record: {e}")))?;
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(buf.freeze()))])]);
    let ResponseKind::Produce(response) =
        call(state, ApiKey::Produce, 9, RequestKind::Produce(request)).await?
    else {
        return Err(ApiError::internal("Produce gave another answer"));
    };
    let p = response
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
        .next()
        .ok_or_else(|| ApiError::internal("Produce named no partition"))?;
    check(p.error_code, p.error_message.as_ref())?;
    Ok(Produced {
        partition,
        offset: p.base_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn browse(q: &str) -> Result<Browse, ApiError> {
        Browse::from_query(&Query::parse(Some(q))?)
    }

    #[test]
    fn queries_are_validated_with_a_sentence() {
        assert_eq!(browse("").unwrap().start, Start::End);
        assert_eq!(
            browse("from=offset&offset=7&partition=2").unwrap(),
            Browse {
                partition: Some(2),
                start: Start::Offset(7),
                limit: DEFAULT_LIMIT,
                key: None,
                text: None
            }
        );
        assert!(browse("from=offset")
            .unwrap_err()
            .message
            .contains("needs an offset"));
        assert!(browse("from=offset&offset=-1")
            .unwrap_err()
            .message
            .contains("0 or more"));
        assert!(browse("from=offset&offset=abc")
            .unwrap_err()
            .message
            .contains("whole number"));
        assert!(browse("from=yesterday").is_err());
        assert!(browse("limit=0").is_err());
        assert!(browse("limit=501").is_err());
        assert!(browse("partition=-1").is_err());
        assert_eq!(
            browse("cursor=0:5,2:9").unwrap().start,
            Start::Cursor([(0, 5), (2, 9)].into_iter().collect())
        );
        assert!(browse("cursor=0:x").is_err());
    }

    fn record(offset: i64, timestamp: i64) -> Record {
        Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: -1,
            timestamp,
            key: None,
            value: Some(Bytes::from_static(b"v")),
            headers: IndexMap::new(),
        }
    }

    #[test]
    fn a_cut_page_resumes_after_what_it_showed() {
        let b = browse("from=beginning&limit=2").unwrap();
        let page = assemble(
            vec![
                (0, vec![record(0, 10), record(1, 30)], 2),
                (1, vec![record(0, 20)], 1),
            ],
            &b,
            BTreeMap::new(),
        );
        let shown: Vec<(i32, i64)> = page
            .records
            .iter()
            .map(|r| (r.partition, r.offset))
            .collect();
        assert_eq!(shown, vec![(0, 0), (1, 0)]);
        assert_eq!(page.next, [(0, 1), (1, 1)].into_iter().collect());
        // From the end, the newest records are kept.
        let b = browse("from=end&limit=2").unwrap();
        let page = assemble(
            vec![
                (0, vec![record(0, 10), record(1, 30)], 2),
                (1, vec![record(0, 20)], 1),
            ],
            &b,
            BTreeMap::new(),
        );
        let shown: Vec<(i32, i64)> = page
            .records
            .iter()
            .map(|r| (r.partition, r.offset))
            .collect();
        assert_eq!(shown, vec![(1, 0), (0, 1)]);
    }
}
