//! The active controller: runs on every controller node and answers only while
//! its node leads the metadata quorum. It owns broker liveness (sessions, in
//! memory, as Kafka's controller does) and turns requests into records through
//! `kavka_metadata::cluster::ClusterControl`; every decision it makes is a record
//! in the quorum's log, so a new leader starts from the log and fresh sessions.

use std::sync::Arc;
use std::time::Duration;

use kavka_metadata::cluster::{
    AllocateProducerIds, AlterPartition, ClusterControl, ControlConfig, Heartbeat, IsrMember,
    Registration,
};
use kavka_metadata::{MetadataImage, MetadataRecord};
use kavka_raft::{ControllerFuture, ControllerHandler, MetadataQuorum, QuorumError};
use tokio::sync::Mutex;

use super::protocol::{ControllerRequest, ControllerResponse};
use crate::state::now_ms;

/// How many times a decision is retried when the image moved under it.
const MAX_STALE_RETRIES: usize = 20;

/// The controller beside one quorum node.
pub struct ControllerService {
    quorum: MetadataQuorum,
    /// Decisions are made one at a time, as by Kafka's single controller thread;
    /// the term tells a new leadership (fresh sessions) from the old one.
    control: Mutex<(u64, ClusterControl)>,
    config: ControlConfig,
}

impl std::fmt::Debug for ControllerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerService")
            .field("node_id", &self.quorum.node_id())
            .finish_non_exhaustive()
    }
}

impl ControllerService {
    pub fn new(quorum: MetadataQuorum, config: ControlConfig) -> Arc<Self> {
        Arc::new(Self {
            quorum,
            control: Mutex::new((u64::MAX, ClusterControl::new(config))),
            config,
        })
    }

    fn not_controller(&self) -> ControllerResponse {
        ControllerResponse::NotController {
            leader: self.quorum.leader().and_then(|l| i32::try_from(l).ok()),
        }
    }

    /// Handles one request if this node leads the quorum.
    pub async fn handle(&self, request: ControllerRequest) -> ControllerResponse {
        if !self.quorum.is_leader() {
            return self.not_controller();
        }
        match request {
            ControllerRequest::Write {
                expect_next_offset,
                records,
            } => match self.quorum.propose_if(expect_next_offset, records).await {
                Ok(index) => ControllerResponse::Written { index },
                Err(QuorumError::Stale { .. }) => ControllerResponse::Stale,
                Err(e) => self.quorum_error(e),
            },
            ControllerRequest::AddObserver { node_id, addr } => {
                let Ok(node) = u64::try_from(node_id) else {
                    return error(42, "negative node id");
                };
                match self.quorum.add_learner(node, addr).await {
                    Ok(_) => ControllerResponse::ObserverAdded,
                    Err(e) => self.quorum_error(e),
                }
            }
            ControllerRequest::DescribeQuorum => ControllerResponse::Quorum(self.quorum.describe()),
            other => self.decide(other).await,
        }
    }

    fn quorum_error(&self, e: QuorumError) -> ControllerResponse {
        match e {
            QuorumError::NotLeader { .. } | QuorumError::Shutdown(_) => self.not_controller(),
            e => error(e.code(), &e.to_string()),
        }
    }

    /// Runs a cluster decision on the current image and commits its records,
    /// deciding again if the image moved before they were applied.
    async fn decide(&self, request: ControllerRequest) -> ControllerResponse {
        match self
            .commit_decision(|control, image| decide_one(control, image, &request))
            .await
        {
            Ok(Some(answer)) => answer,
            Ok(None) => error(7, "the metadata kept changing under the decision; retry"),
            Err(e) => self.quorum_error(e),
        }
    }

    /// The controller's one way to act: under its lock, decide on the current
    /// image (with fresh sessions after a change of leadership, as in Kafka) and
    /// commit the records on the condition that the image has not moved; if it
    /// has, decide again. `None` when it kept moving for every attempt.
    async fn commit_decision<T>(
        &self,
        mut decide: impl FnMut(&mut ClusterControl, &MetadataImage) -> (T, Vec<MetadataRecord>),
    ) -> Result<Option<T>, QuorumError> {
        let mut guard = self.control.lock().await;
        for _ in 0..MAX_STALE_RETRIES {
            let committed = self.quorum.image();
            let term = self.quorum.metrics().borrow().current_term;
            if guard.0 != term {
                *guard = (term, ClusterControl::new(self.config));
            }
            let (out, records) = decide(&mut guard.1, &committed.image);
            if records.is_empty() {
                return Ok(Some(out));
            }
            match self
                .quorum
                .propose_if(Some(committed.image.next_offset()), records)
                .await
            {
                Ok(_) => return Ok(Some(out)),
                Err(QuorumError::Stale { .. }) => {
                    wait_for_newer(&self.quorum, committed.applied_index).await
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// The controller's own work while it leads: fence brokers whose session ran
    /// out, every `unclean_every` elect leaders for offline partitions whose topic
    /// allows an unclean election, and, if enabled, move leadership back to
    /// preferred replicas.
    pub async fn run_timers(
        self: Arc<Self>,
        rebalance: Option<Duration>,
        unclean_every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut last_rebalance = tokio::time::Instant::now();
        let mut last_unclean = tokio::time::Instant::now();
        let mut metrics = self.quorum.metrics();
        let mut was_leader = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                // A new controller looks for crashed brokers at once, not at its
                // next tick: the one that just died with the old controller is
                // likely one of them.
                changed = metrics.changed() => {
                    let _ = metrics.borrow_and_update();
                    let leading = self.quorum.is_leader();
                    let became = leading && !was_leader;
                    was_leader = leading;
                    if changed.is_err() {
                        return;
                    }
                    if !became {
                        continue;
                    }
                }
                _ = stop.changed() => return,
            }
            if !self.quorum.is_leader() {
                was_leader = false;
                continue;
            }
            was_leader = true;
            // Before the session tick, which starts sessions for brokers a new
            // controller has not heard from yet: those are probed at once.
            self.fence_crashed().await;
            let _ = self.tick().await;
            if last_unclean.elapsed() >= unclean_every {
                last_unclean = tokio::time::Instant::now();
                let _ = self
                    .run_internal(|control, image| control.elect_unclean_where_allowed(image))
                    .await;
            }
            if let Some(every) = rebalance {
                if last_rebalance.elapsed() >= every {
                    last_rebalance = tokio::time::Instant::now();
                    let _ = self.rebalance().await;
                }
            }
        }
    }

    /// Fences brokers whose process is gone without waiting for their session to
    /// run out: a broker silent for a moment whose listener refuses connections
    /// (nothing listens on its port any more, the kernel answers for a crashed
    /// process at once) is not coming back under its current epoch. A paused or
    /// cut-off broker does not refuse connections, so only the session timeout
    /// fences it, as in Kafka. This turns a kill -9's failover from
    /// `broker.session.timeout.ms` into about a second.
    async fn fence_crashed(&self) {
        const SILENT_MS: i64 = 600;
        let image = self.quorum.image().image;
        let me = i32::try_from(self.quorum.node_id()).unwrap_or(-1);
        let now = now_ms();
        let suspects: Vec<(i32, String, i32)> = {
            let guard = self.control.lock().await;
            image
                .brokers()
                .filter(|b| !b.fenced && b.broker_id != me)
                .filter(|b| {
                    guard
                        .1
                        .silent_for(b.broker_id, now)
                        .is_none_or(|s| s > SILENT_MS)
                })
                .map(|b| (b.broker_id, b.host.clone(), b.port))
                .collect()
        };
        for (id, host, port) in suspects {
            let Ok(port) = u16::try_from(port) else {
                continue;
            };
            let probe = tokio::time::timeout(
                Duration::from_millis(300),
                tokio::net::TcpStream::connect((host.as_str(), port)),
            )
            .await;
            let refused =
                matches!(&probe, Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused);
            if !refused {
                continue;
            }
            tracing::info!(
                broker = id,
                "fencing broker: silent and its listener refuses connections (process gone)"
            );
            let _ = self
                .run_internal(|control, image| control.fence_gone(image, id, SILENT_MS, now_ms()))
                .await;
        }
    }

    async fn tick(&self) -> Result<(), QuorumError> {
        self.run_internal(|control, image| control.tick(image, now_ms()))
            .await
    }

    async fn rebalance(&self) -> Result<(), QuorumError> {
        self.run_internal(|control, image| control.rebalance_leaders(image))
            .await
    }

    async fn run_internal(
        &self,
        f: impl Fn(&mut ClusterControl, &MetadataImage) -> Vec<MetadataRecord>,
    ) -> Result<(), QuorumError> {
        self.commit_decision(|control, image| ((), f(control, image)))
            .await
            .map(|_| ())
    }
}

/// The quorum's server calls the controller through this handle.
pub struct ControllerHandle(pub Arc<ControllerService>);

impl ControllerHandler for ControllerHandle {
    fn handle(&self, request: serde_json::Value) -> ControllerFuture {
        let service = self.0.clone();
        Box::pin(async move {
            let answer = match serde_json::from_value::<ControllerRequest>(request) {
                Ok(request) => service.handle(request).await,
                Err(e) => error(42, &format!("undecodable controller request: {e}")),
            };
            serde_json::to_value(answer).unwrap_or(serde_json::Value::Null)
        })
    }
}

fn error(code: i16, message: &str) -> ControllerResponse {
    ControllerResponse::Error {
        code,
        message: message.to_string(),
    }
}

/// Waits (briefly) until the image passes `applied`.
async fn wait_for_newer(quorum: &MetadataQuorum, applied: Option<u64>) {
    let mut images = quorum.subscribe();
    let _ = tokio::time::timeout(
        Duration::from_millis(500),
        images.wait_for(|i| i.applied_index > applied),
    )
    .await;
}

/// One request against one image: the answer and the records to commit for it.
fn decide_one(
    control: &mut ClusterControl,
    image: &MetadataImage,
    request: &ControllerRequest,
) -> (ControllerResponse, Vec<MetadataRecord>) {
    let now = now_ms();
    match request {
        ControllerRequest::Register {
            broker_id,
            incarnation_id,
            host,
            port,
            rack,
        } => {
            let reg = Registration {
                broker_id: *broker_id,
                incarnation_id: *incarnation_id,
                host: host.clone(),
                port: *port,
                rack: rack.clone(),
            };
            match control.register(image, &reg, now) {
                Ok((broker_epoch, records)) => {
                    (ControllerResponse::Registered { broker_epoch }, records)
                }
                Err(e) => (error(e.code(), &e.to_string()), vec![]),
            }
        }
        ControllerRequest::Heartbeat {
            broker_id,
            broker_epoch,
            current_metadata_offset,
            want_fence,
            want_shutdown_now,
        } => {
            let hb = Heartbeat {
                broker_id: *broker_id,
                broker_epoch: *broker_epoch,
                current_metadata_offset: *current_metadata_offset,
                want_fence: *want_fence,
                want_shutdown_now: *want_shutdown_now,
            };
            match control.heartbeat(image, &hb, now) {
                Ok((reply, records)) => (
                    ControllerResponse::Heartbeat {
                        is_caught_up: reply.is_caught_up,
                        is_fenced: reply.is_fenced,
                        should_shut_down: reply.should_shut_down,
                    },
                    records,
                ),
                Err(e) => (error(e.code(), &e.to_string()), vec![]),
            }
        }
        ControllerRequest::AlterPartition {
            broker_id,
            broker_epoch,
            topic_id,
            partition,
            leader_epoch,
            partition_epoch,
            new_isr,
            new_isr_with_epochs,
        } => {
            // A broker from before KIP-903 sends ids only: their epochs are unknown.
            let new_isr = if new_isr_with_epochs.is_empty() {
                new_isr
                    .iter()
                    .map(|&b| IsrMember::without_epoch(b))
                    .collect()
            } else {
                new_isr_with_epochs.clone()
            };
            let req = AlterPartition {
                broker_id: *broker_id,
                broker_epoch: *broker_epoch,
                topic_id: *topic_id,
                partition: *partition,
                leader_epoch: *leader_epoch,
                partition_epoch: *partition_epoch,
                new_isr,
            };
            let (result, record) = control.alter_partition(image, &req);
            (
                ControllerResponse::AlterPartition {
                    error_code: result.error.map_or(0, |e| e.code()),
                    leader: result.leader,
                    leader_epoch: result.leader_epoch,
                    isr: result.isr,
                    partition_epoch: result.partition_epoch,
                },
                record.into_iter().collect(),
            )
        }
        ControllerRequest::ElectLeaders {
            unclean,
            partitions,
        } => {
            let mut current = image.clone();
            let mut records = Vec::new();
            let mut results = Vec::new();
            for (topic_id, index) in partitions {
                let elected = if *unclean {
                    control.elect_unclean(&current, *topic_id, *index)
                } else {
                    control.elect_preferred(&current, *topic_id, *index)
                };
                let code = match elected {
                    Ok(Some(record)) => match current.apply(&record) {
                        Ok(()) => {
                            records.push(record);
                            0
                        }
                        Err(e) => e.code(),
                    },
                    Ok(None) => 0,
                    Err(e) => e.code(),
                };
                results.push((*topic_id, *index, code));
            }
            (ControllerResponse::Elected { results }, records)
        }
        ControllerRequest::AllocateProducerIds {
            broker_id,
            broker_epoch,
            legacy_reserved,
        } => {
            let req = AllocateProducerIds {
                broker_id: *broker_id,
                broker_epoch: *broker_epoch,
                legacy_reserved: *legacy_reserved,
            };
            match control.allocate_producer_ids(image, &req) {
                Ok((block, record)) => (
                    ControllerResponse::ProducerIds {
                        first_id: block.first_id,
                        size: block.size,
                    },
                    vec![record],
                ),
                Err(e) => (error(e.code(), &e.to_string()), vec![]),
            }
        }
        ControllerRequest::Write { .. }
        | ControllerRequest::AddObserver { .. }
        | ControllerRequest::DescribeQuorum => (error(42, "not a cluster decision"), vec![]),
    }
}
