//! [`ControllerClient`]: requests to the active controller, wherever it runs.
//! Finds the quorum leader (the active controller), follows NOT_CONTROLLER hints,
//! and retries across an election until the call's deadline.

use std::sync::Arc;
use std::time::Duration;

use kavka_metadata::cluster::{
    AlterPartition, AlterPartitionResult, ControlError, ProducerIdBlock,
};
use kavka_metadata::MetadataRecord;
use kavka_raft::MetadataQuorum;
use uuid::Uuid;

use super::protocol::{ControllerRequest, ControllerResponse};
use super::service::ControllerService;

/// Why a request to the controller got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ControllerCallError {
    /// No controller is known or reachable right now; retry later.
    #[error("no active controller: {0}")]
    NotAvailable(String),
    /// The controller refused the request with this Kafka error code.
    #[error("controller refused the request ({code}): {message}")]
    Refused { code: i16, message: String },
    /// A metadata write was decided on an older image; decide again.
    #[error("the metadata changed since the decision")]
    Stale,
}

/// A broker's answer from the controller to its heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatAnswer {
    pub is_caught_up: bool,
    pub is_fenced: bool,
    pub should_shut_down: bool,
}

/// Sends requests to the active controller. Cheap to clone. The default one has
/// no quorum and answers every call with `NotAvailable`.
#[derive(Debug, Clone, Default)]
pub struct ControllerClient {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    quorum: MetadataQuorum,
    /// This node's controller, called directly when this node leads.
    local: Option<Arc<ControllerService>>,
    /// Voters to ask when no leader is known.
    voters: Vec<u64>,
    /// How long one call keeps trying across elections.
    deadline: Duration,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerClient")
            .field("voters", &self.voters)
            .finish_non_exhaustive()
    }
}

impl ControllerClient {
    pub(crate) fn new(
        quorum: MetadataQuorum,
        local: Option<Arc<ControllerService>>,
        deadline: Duration,
    ) -> Self {
        let voters = quorum.config().voters.iter().map(|v| v.id).collect();
        Self {
            inner: Some(Arc::new(Inner {
                quorum,
                local,
                voters,
                deadline,
            })),
        }
    }

    /// Sends `request` to the active controller, following leader hints and
    /// retrying across elections until the deadline.
    pub(crate) async fn call(
        &self,
        request: ControllerRequest,
    ) -> Result<ControllerResponse, ControllerCallError> {
        let Some(inner) = &self.inner else {
            return Err(ControllerCallError::NotAvailable(
                "this broker runs without a metadata quorum".into(),
            ));
        };
        let started = tokio::time::Instant::now();
        let mut hint: Option<u64> = None;
        let mut next_voter = 0usize;
        let mut last_error = String::from("no controller answered");
        let value = serde_json::to_value(&request)
            .map_err(|e| ControllerCallError::NotAvailable(e.to_string()))?;
        while started.elapsed() < inner.deadline {
            let target = match hint.take().or_else(|| inner.quorum.leader()) {
                Some(t) => t,
                None if inner.voters.is_empty() => break,
                None => {
                    next_voter = (next_voter + 1) % inner.voters.len();
                    inner.voters[next_voter]
                }
            };
            let answer = match &inner.local {
                Some(local) if target == inner.quorum.node_id() => {
                    Ok(Some(local.handle(request.clone()).await))
                }
                _ => inner
                    .quorum
                    .call_controller(target, value.clone(), Duration::from_secs(10))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|v| match v {
                        None => Ok(None),
                        Some(v) => serde_json::from_value::<ControllerResponse>(v)
                            .map(Some)
                            .map_err(|e| format!("undecodable controller answer: {e}")),
                    }),
            };
            match answer {
                Ok(Some(ControllerResponse::NotController { leader })) => {
                    last_error = format!("node {target} is not the active controller");
                    hint = leader
                        .and_then(|l| u64::try_from(l).ok())
                        .filter(|&l| l != target);
                    if hint.is_none() {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                Ok(Some(ControllerResponse::Error { code: 41, message })) => {
                    last_error = message;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(Some(ControllerResponse::Error { code, message })) => {
                    return Err(ControllerCallError::Refused { code, message })
                }
                Ok(Some(ControllerResponse::Stale)) => return Err(ControllerCallError::Stale),
                Ok(Some(answer)) => return Ok(answer),
                Ok(None) => {
                    last_error = format!("node {target} runs no controller");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    last_error = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Err(ControllerCallError::NotAvailable(last_error))
    }

    /// Registers this broker; returns its broker epoch.
    pub(crate) async fn register(
        &self,
        broker_id: i32,
        incarnation_id: Uuid,
        host: String,
        port: i32,
        rack: Option<String>,
    ) -> Result<i64, ControllerCallError> {
        match self
            .call(ControllerRequest::Register {
                broker_id,
                incarnation_id,
                host,
                port,
                rack,
            })
            .await?
        {
            ControllerResponse::Registered { broker_epoch } => Ok(broker_epoch),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends one heartbeat.
    pub(crate) async fn heartbeat(
        &self,
        broker_id: i32,
        broker_epoch: i64,
        current_metadata_offset: u64,
        want_shutdown_now: bool,
    ) -> Result<HeartbeatAnswer, ControllerCallError> {
        match self
            .call(ControllerRequest::Heartbeat {
                broker_id,
                broker_epoch,
                current_metadata_offset,
                want_fence: false,
                want_shutdown_now,
            })
            .await?
        {
            ControllerResponse::Heartbeat {
                is_caught_up,
                is_fenced,
                should_shut_down,
            } => Ok(HeartbeatAnswer {
                is_caught_up,
                is_fenced,
                should_shut_down,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Asks the controller to change a partition's ISR (Kafka's AlterPartition).
    /// The answer carries the partition's state as the controller sees it.
    pub async fn alter_partition(
        &self,
        request: AlterPartition,
    ) -> Result<AlterPartitionResult, ControllerCallError> {
        let answer = self
            .call(ControllerRequest::AlterPartition {
                broker_id: request.broker_id,
                broker_epoch: request.broker_epoch,
                topic_id: request.topic_id,
                partition: request.partition,
                leader_epoch: request.leader_epoch,
                partition_epoch: request.partition_epoch,
                new_isr: request.new_isr.iter().map(|m| m.broker_id).collect(),
                new_isr_with_epochs: request.new_isr,
            })
            .await;
        match answer {
            Ok(ControllerResponse::AlterPartition {
                error_code,
                leader,
                leader_epoch,
                isr,
                partition_epoch,
            }) => Ok(AlterPartitionResult {
                error: ControlError::from_code(error_code),
                leader,
                leader_epoch,
                isr,
                partition_epoch,
            }),
            // Refusals that come before the partition is looked at (an unknown
            // or stale broker) still answer the leader.
            Err(ControllerCallError::Refused { code, .. }) if code != 41 => {
                Ok(AlterPartitionResult {
                    error: ControlError::from_code(code),
                    leader: -1,
                    leader_epoch: -1,
                    isr: vec![],
                    partition_epoch: -1,
                })
            }
            Ok(other) => Err(unexpected(&other)),
            Err(e) => Err(e),
        }
    }

    /// Commits `records` decided on the image that had applied
    /// `expect_next_offset` records; returns the entry's log index.
    pub(crate) async fn write(
        &self,
        expect_next_offset: Option<u64>,
        records: Vec<MetadataRecord>,
    ) -> Result<u64, ControllerCallError> {
        match self
            .call(ControllerRequest::Write {
                expect_next_offset,
                records,
            })
            .await?
        {
            ControllerResponse::Written { index } => Ok(index),
            other => Err(unexpected(&other)),
        }
    }

    /// Asks the active controller to let this node follow the metadata log.
    pub(crate) async fn add_observer(
        &self,
        node_id: i32,
        addr: String,
    ) -> Result<(), ControllerCallError> {
        match self
            .call(ControllerRequest::AddObserver { node_id, addr })
            .await?
        {
            ControllerResponse::ObserverAdded => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Preferred (or unclean) leader elections; per partition an error code.
    pub(crate) async fn elect_leaders(
        &self,
        unclean: bool,
        partitions: Vec<(Uuid, i32)>,
    ) -> Result<Vec<(Uuid, i32, i16)>, ControllerCallError> {
        match self
            .call(ControllerRequest::ElectLeaders {
                unclean,
                partitions,
            })
            .await?
        {
            ControllerResponse::Elected { results } => Ok(results),
            other => Err(unexpected(&other)),
        }
    }
}

impl ControllerClient {
    /// The next block of producer ids for this broker, recorded by the controller
    /// (KIP-730): `first_id .. first_id + size`.
    pub(crate) async fn allocate_producer_ids(
        &self,
        broker_id: i32,
        broker_epoch: i64,
        legacy_reserved: Option<i64>,
    ) -> Result<ProducerIdBlock, ControllerCallError> {
        match self
            .call(ControllerRequest::AllocateProducerIds {
                broker_id,
                broker_epoch,
                legacy_reserved,
            })
            .await?
        {
            ControllerResponse::ProducerIds { first_id, size } => {
                Ok(ProducerIdBlock { first_id, size })
            }
            other => Err(unexpected(&other)),
        }
    }

    /// The quorum as the active controller sees it (follower progress is known
    /// only there).
    pub(crate) async fn describe_quorum(
        &self,
    ) -> Result<kavka_raft::QuorumDescription, ControllerCallError> {
        match self.call(ControllerRequest::DescribeQuorum).await? {
            ControllerResponse::Quorum(q) => Ok(q),
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(answer: &ControllerResponse) -> ControllerCallError {
    ControllerCallError::NotAvailable(format!("unexpected controller answer {answer:?}"))
}
