//! One scrape: reads every figure from the broker's state as it is now and
//! writes the page. Blocking (it takes partition and coordinator locks briefly),
//! so the HTTP layer runs it on the blocking pool.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use kavka_metadata::{ConfigResource, MetadataImage};

use super::requests::BUCKETS_MS;
use super::text::{Exposition, Kind};
use crate::state::BrokerState;
use crate::topic_config::{min_insync_replicas, BrokerDefaults};

/// The `/metrics` page of `state`.
pub fn render(state: &BrokerState) -> String {
    let mut e = Exposition::default();
    requests(&mut e, state);
    topic_traffic(&mut e, state);
    let hosted = partitions(&mut e, state);
    let image = state.metadata.image();
    replica_health(&mut e, state, &image);
    controller(&mut e, state, &image);
    group_lag(&mut e, state, &hosted);
    connections(&mut e, state);
    descriptors(&mut e, state);
    e.finish()
}

fn requests(e: &mut Exposition, state: &BrokerState) {
    let snapshot = state.metrics.requests.snapshot();
    const REQUESTS: &str = "kafka_network_requestmetrics_requests_total";
    e.family(
        REQUESTS,
        Kind::Counter,
        "Requests answered, by API (Fetch as FetchConsumer/FetchFollower) and version.",
    );
    for r in &snapshot {
        for (version, n) in &r.by_version {
            let version = version.to_string();
            e.sample(
                REQUESTS,
                &[("request", r.name.as_str()), ("version", version.as_str())],
                *n,
            );
        }
    }
    const TIME: &str = "kafka_network_requestmetrics_totaltimems";
    e.family(
        TIME,
        Kind::Histogram,
        "Milliseconds from a request's decoding to its response being ready, by API.",
    );
    for r in &snapshot {
        e.histogram(
            TIME,
            &[("request", r.name.as_str())],
            &BUCKETS_MS,
            &r.cumulative,
            r.sum_ms,
        );
    }
}

/// Reads one counter out of a topic's snapshot.
type Pick = fn(&super::TrafficSnapshot) -> u64;

/// A group's committed offsets: (group, [(topic, partition, offset)]).
type Committed = (String, Vec<(String, i32, i64)>);

fn topic_traffic(e: &mut Exposition, state: &BrokerState) {
    let (topics, all) = state.replicas.traffic.snapshot();
    let families: [(&str, &str, Pick); 3] = [
        (
            "kafka_server_brokertopicmetrics_bytesin_total",
            "Bytes of record batches appended by producers; without a topic label, all topics.",
            |s| s.bytes_in,
        ),
        (
            "kafka_server_brokertopicmetrics_messagesin_total",
            "Records appended by producers; without a topic label, all topics.",
            |s| s.messages_in,
        ),
        (
            "kafka_server_brokertopicmetrics_bytesout_total",
            "Bytes of record batches sent to consumers; without a topic label, all topics.",
            |s| s.bytes_out,
        ),
    ];
    for (name, help, value) in families {
        e.family(name, Kind::Counter, help);
        e.sample(name, &[], value(&all));
        for (topic, s) in &topics {
            e.sample(name, &[("topic", topic.as_str())], value(s));
        }
    }
    e.single(
        "kafka_server_brokertopicmetrics_replicationbytesout_total",
        Kind::Counter,
        "Bytes of record batches sent to follower replicas.",
        all.replication_bytes_out,
    );
    e.single(
        "kavka_log_storage_errors_total",
        Kind::Counter,
        "Appends that failed on the disk (the producer got KAFKA_STORAGE_ERROR).",
        all.storage_errors,
    );
}

/// One hosted partition's offsets as read at this scrape.
#[derive(Debug, Clone, Copy)]
struct HostedOffsets {
    high_watermark: i64,
}

/// Per-partition log gauges; returns the hosted partitions' high watermarks
/// for the lag figures.
fn partitions(e: &mut Exposition, state: &BrokerState) -> BTreeMap<(String, i32), HostedOffsets> {
    let mut rows = Vec::new();
    let mut hosted = BTreeMap::new();
    for p in state.replicas.all() {
        hosted.insert(
            (p.topic.clone(), p.index),
            HostedOffsets {
                high_watermark: p.high_watermark(),
            },
        );
        // One short lock of the log: its end and size together.
        let log = p
            .log(|log| Ok((log.log_end_offset(), log.size_bytes())))
            .ok();
        rows.push((p.topic.clone(), p.index, log, p.log_start_offset()));
    }
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let offline = rows.iter().filter(|r| r.2.is_none()).count() as u64;
    const END: &str = "kafka_log_log_logendoffset";
    const START: &str = "kafka_log_log_logstartoffset";
    const SIZE: &str = "kafka_log_log_size";
    e.family(
        END,
        Kind::Gauge,
        "Log end offset of a hosted partition replica.",
    );
    for (topic, index, log, _) in &rows {
        if let Some((end, _)) = log {
            let index = index.to_string();
            e.sample_i64(
                END,
                &[("topic", topic.as_str()), ("partition", index.as_str())],
                *end,
            );
        }
    }
    e.family(
        START,
        Kind::Gauge,
        "Log start offset of a hosted partition replica.",
    );
    for (topic, index, log, start) in &rows {
        if log.is_some() {
            let index = index.to_string();
            e.sample_i64(
                START,
                &[("topic", topic.as_str()), ("partition", index.as_str())],
                *start,
            );
        }
    }
    e.family(
        SIZE,
        Kind::Gauge,
        "Bytes of a hosted partition replica's segments.",
    );
    for (topic, index, log, _) in &rows {
        if let Some((_, size)) = log {
            let index = index.to_string();
            e.sample(
                SIZE,
                &[("topic", topic.as_str()), ("partition", index.as_str())],
                *size,
            );
        }
    }
    e.single(
        "kafka_server_replicamanager_offlinereplicacount",
        Kind::Gauge,
        "Hosted partition replicas whose log is not open.",
        offline,
    );
    hosted
}

/// Under-replicated and under-min-ISR partitions among those this broker
/// leads, as the committed metadata shows their ISR (Kafka's ReplicaManager).
fn replica_health(e: &mut Exposition, state: &BrokerState, image: &MetadataImage) {
    let node = state.config.node_id;
    let defaults = BrokerDefaults::new(&state.config, image);
    let (mut hosted, mut leaders, mut under, mut under_min, mut at_min) = (0, 0, 0, 0, 0);
    for topic in image.topics() {
        let explicit = image.configs(&ConfigResource::Topic(topic.name.clone()));
        let min_isr = usize::try_from(min_insync_replicas(&defaults, explicit)).unwrap_or(1);
        for p in topic.partitions.values() {
            if p.replicas.contains(&node) {
                hosted += 1;
            }
            if p.leader != node {
                continue;
            }
            leaders += 1;
            if p.isr.len() < p.replicas.len() {
                under += 1;
            }
            if p.isr.len() < min_isr {
                under_min += 1;
            } else if p.isr.len() == min_isr {
                at_min += 1;
            }
        }
    }
    let gauges = [
        (
            "kafka_server_replicamanager_partitioncount",
            "Partitions with a replica on this broker.",
            hosted,
        ),
        (
            "kafka_server_replicamanager_leadercount",
            "Partitions this broker leads.",
            leaders,
        ),
        (
            "kafka_server_replicamanager_underreplicatedpartitions",
            "Partitions led here whose ISR is smaller than their replica set.",
            under,
        ),
        (
            "kafka_server_replicamanager_underminisrpartitioncount",
            "Partitions led here whose ISR is below min.insync.replicas (acks=all waits).",
            under_min,
        ),
        (
            "kafka_server_replicamanager_atminisrpartitioncount",
            "Partitions led here whose ISR is exactly min.insync.replicas.",
            at_min,
        ),
    ];
    for (name, help, value) in gauges {
        e.single(name, Kind::Gauge, help, value);
    }
}

/// Kafka's KafkaController gauges: the cluster-wide ones are reported by the
/// active controller only, 0 elsewhere, as in Kafka.
fn controller(e: &mut Exposition, state: &BrokerState, image: &MetadataImage) {
    let active =
        state.controller_service.is_some() && state.active_controller() == state.config.node_id;
    let (mut topics, mut partitions, mut offline) = (0u64, 0u64, 0u64);
    let (mut fenced, mut live) = (0u64, 0u64);
    if active {
        for t in image.topics() {
            topics += 1;
            for p in t.partitions.values() {
                partitions += 1;
                if p.leader < 0 {
                    offline += 1;
                }
            }
        }
        for b in image.brokers() {
            if b.fenced {
                fenced += 1;
            } else {
                live += 1;
            }
        }
    }
    let gauges = [
        (
            "kafka_controller_kafkacontroller_activecontrollercount",
            "1 on the active controller, else 0.",
            u64::from(active),
        ),
        (
            "kafka_controller_kafkacontroller_offlinepartitionscount",
            "Partitions without a leader (active controller only).",
            offline,
        ),
        (
            "kafka_controller_kafkacontroller_globaltopiccount",
            "Topics in the cluster (active controller only).",
            topics,
        ),
        (
            "kafka_controller_kafkacontroller_globalpartitioncount",
            "Partitions in the cluster (active controller only).",
            partitions,
        ),
        (
            "kafka_controller_kafkacontroller_activebrokercount",
            "Registered, unfenced brokers (active controller only).",
            live,
        ),
        (
            "kafka_controller_kafkacontroller_fencedbrokercount",
            "Registered, fenced brokers (active controller only).",
            fenced,
        ),
    ];
    for (name, help, value) in gauges {
        e.single(name, Kind::Gauge, help, value);
    }
}

/// Committed offsets of the groups this broker coordinates and, where it hosts
/// a replica of the partition, their lag behind its high watermark (what
/// kafka-lag-exporter computes from outside).
fn group_lag(
    e: &mut Exposition,
    state: &BrokerState,
    hosted: &BTreeMap<(String, i32), HostedOffsets>,
) {
    let committed: Vec<Committed> = state.groups.read(|owned| {
        let coordinator = owned.coordinator();
        let mut groups: Vec<Committed> = coordinator
            .group_ids()
            .map(|g| {
                let offsets = coordinator
                    .fetch_offsets(g, None)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|o| o.offset >= 0)
                    .map(|o| (o.topic, o.partition, o.offset))
                    .collect();
                (g.to_string(), offsets)
            })
            .collect();
        groups.sort();
        groups
    });
    const OFFSET: &str = "kafka_consumergroup_group_offset";
    const LAG: &str = "kafka_consumergroup_group_lag";
    const SUM: &str = "kafka_consumergroup_group_sum_lag";
    const MAX: &str = "kafka_consumergroup_group_max_lag";
    const LATEST: &str = "kafka_partition_latest_offset";
    e.family(
        OFFSET,
        Kind::Gauge,
        "Committed offset of a group on a partition (groups coordinated here).",
    );
    for (group, offsets) in &committed {
        for (topic, partition, offset) in offsets {
            let partition = partition.to_string();
            e.sample_i64(
                OFFSET,
                &[
                    ("group", group.as_str()),
                    ("topic", topic.as_str()),
                    ("partition", partition.as_str()),
                ],
                *offset,
            );
        }
    }
    e.family(
        LAG,
        Kind::Gauge,
        "High watermark minus committed offset (partitions with a replica here).",
    );
    let mut per_group = Vec::new();
    let mut latest = BTreeMap::new();
    for (group, offsets) in &committed {
        let (mut sum, mut max, mut any) = (0i64, 0i64, false);
        for (topic, partition, offset) in offsets {
            let Some(h) = hosted.get(&(topic.clone(), *partition)) else {
                continue;
            };
            let lag = (h.high_watermark - offset).max(0);
            let label = partition.to_string();
            e.sample_i64(
                LAG,
                &[
                    ("group", group.as_str()),
                    ("topic", topic.as_str()),
                    ("partition", label.as_str()),
                ],
                lag,
            );
            latest.insert((topic.clone(), *partition), h.high_watermark);
            sum += lag;
            max = max.max(lag);
            any = true;
        }
        if any {
            per_group.push((group, sum, max));
        }
    }
    e.family(
        SUM,
        Kind::Gauge,
        "Sum of a group's lag over its partitions.",
    );
    for (group, sum, _) in &per_group {
        e.sample_i64(SUM, &[("group", group.as_str())], *sum);
    }
    e.family(
        MAX,
        Kind::Gauge,
        "Largest lag of a group over its partitions.",
    );
    for (group, _, max) in &per_group {
        e.sample_i64(MAX, &[("group", group.as_str())], *max);
    }
    e.family(
        LATEST,
        Kind::Gauge,
        "High watermark of a partition a group here has committed on.",
    );
    for ((topic, partition), hw) in &latest {
        let partition = partition.to_string();
        e.sample_i64(
            LATEST,
            &[("topic", topic.as_str()), ("partition", partition.as_str())],
            *hw,
        );
    }
}

fn connections(e: &mut Exposition, state: &BrokerState) {
    let quotas = &state.connections;
    let c = quotas.stats.snapshot();
    let listener = [("listener", quotas.listener.as_str())];
    let families = [
        (
            "kafka_server_socket_server_metrics_connection_count",
            Kind::Gauge,
            "Client connections open now.",
            c.open,
        ),
        (
            "kafka_server_socket_server_metrics_connection_creation_total",
            Kind::Counter,
            "Client connections accepted since start.",
            c.accepted_total,
        ),
        (
            "kafka_server_socket_server_metrics_connection_close_total",
            Kind::Counter,
            "Client connections closed since start.",
            c.accepted_total.saturating_sub(c.open),
        ),
        (
            "kavka_server_connections_rejected_per_ip_total",
            Kind::Counter,
            "Connections closed at once: their address was at max.connections.per.ip.",
            c.rejected_per_ip_total,
        ),
        (
            "kavka_server_connections_accept_blocked_total",
            Kind::Counter,
            "Times the listener stopped accepting at max.connections.",
            c.accept_blocked_total,
        ),
        (
            "kavka_server_connections_idle_closed_total",
            Kind::Counter,
            "Connections closed after connections.max.idle.ms without traffic.",
            c.closed_idle_total,
        ),
    ];
    for (name, kind, help, value) in families {
        e.family(name, kind, help);
        e.sample(name, &listener, value);
    }
    e.single(
        "kafka_network_requestchannel_requestqueuesize",
        Kind::Gauge,
        "Requests read and not yet being handled (bounded by queued.max.requests).",
        state.requests.held.load(Ordering::Relaxed),
    );
    e.single(
        "kavka_network_request_queue_waits_total",
        Kind::Counter,
        "Times a connection waited for room in the request queue before reading on.",
        state.requests.waits_total.load(Ordering::Relaxed),
    );
}

fn descriptors(e: &mut Exposition, state: &BrokerState) {
    // Counted now rather than taken from the 10 s check: a scrape is rare and
    // reading /proc/self/fd costs one directory listing.
    if let Ok(open) = crate::descriptors::count_open() {
        e.single(
            "process_open_fds",
            Kind::Gauge,
            "Open file descriptors.",
            open,
        );
    }
    e.single(
        "process_max_fds",
        Kind::Gauge,
        "The open-file limit (RLIMIT_NOFILE) the broker runs under.",
        state.descriptors.limit,
    );
    e.single(
        "kavka_log_segment_file_budget",
        Kind::Gauge,
        "Segment files kept open at most; past it each use opens its file for itself.",
        state.descriptors.segment_files(),
    );
    e.single(
        "kavka_log_open_segment_files",
        Kind::Gauge,
        "Segment files open now.",
        kavka_storage::open_segment_files() as u64,
    );
    e.single(
        "kavka_server_descriptors_near_limit_checks_total",
        Kind::Counter,
        "Periodic checks that found open descriptors above 80% of the limit.",
        state.descriptors.near_limit_checks.load(Ordering::Relaxed),
    );
}
