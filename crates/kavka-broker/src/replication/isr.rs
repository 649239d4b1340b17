//! ISR upkeep on the leader: every `replica.lag.time.max.ms / 2` each partition led
//! here with other replicas proposes dropping followers that fell behind, and
//! acks=all produces time out at their deadlines (only partitions with waiting
//! produces or followers are looked at: an idle lone replica costs nothing);
//! proposals (those shrinks, and expansions from follower fetches) go to the
//! controller as AlterPartition, one task per proposal, retried while the
//! controller is unreachable and the proposal is still the pending one. The answer
//! goes back to the partition's leader state; newer metadata supersedes it there.
//! The same task writes the high-watermark checkpoint every 5 s when one moved.

use std::sync::Arc;
use std::time::Duration;

use kavka_metadata::cluster::{AlterPartition, AlterPartitionResult, IsrMember};
use kavka_replica::{AlterPartitionError, AlterPartitionOutcome, CommittedIsr};
use tokio::sync::watch;

use crate::partition::AlterJob;
use crate::state::{now_ms, BrokerState};

/// Kafka's `replica.high.watermark.checkpoint.interval.ms` default.
const HW_CHECKPOINT_INTERVAL_MS: i64 = 5_000;

/// Between two tries of a proposal the controller did not answer.
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// Runs the periodic shrink check and sends proposals until `stop`.
pub(crate) async fn run_isr_upkeep(state: Arc<BrokerState>, mut stop: watch::Receiver<bool>) {
    let Some(mut queue) = state.replicas.take_alter_queue() else {
        return;
    };
    let every = Duration::from_millis(
        u64::try_from(state.config.cluster.replica_lag_time_max_ms / 2)
            .unwrap_or(1)
            .clamp(10, 15_000),
    );
    // Produce deadlines want a finer clock than the shrink check (handlers time out
    // on their own clock; this only clears what they left behind).
    let mut tick = tokio::time::interval(every.min(Duration::from_secs(1)));
    let mut last_shrink_check = now_ms();
    let mut last_hw_checkpoint = now_ms();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = now_ms();
                let shrink = now - last_shrink_check >= every.as_millis() as i64;
                if shrink {
                    last_shrink_check = now;
                }
                if now - last_hw_checkpoint >= HW_CHECKPOINT_INTERVAL_MS
                    && state.replicas.signals().timers.hw_changed.load(std::sync::atomic::Ordering::Acquire)
                {
                    last_hw_checkpoint = now;
                    let state = state.clone();
                    // A file write with fsync: off the runtime threads.
                    let _ = tokio::task::spawn_blocking(move || {
                        state.replicas.checkpoint_high_watermarks()
                    })
                    .await;
                }
                let timers = &state.replicas.signals().timers;
                let due = timers.produce_deadlines.lock().pop_due(now);
                for (topic, index) in due {
                    if let Some(p) = state.replicas.get(&topic, index) {
                        p.expire_produces(now);
                    }
                }
                if shrink {
                    for (topic, index) in timers.replicated_leaders() {
                        if let Some(p) = state.replicas.get(&topic, index) {
                            p.leader_tick(now);
                        }
                    }
                }
            }
            job = queue.recv() => match job {
                Some(job) => {
                    tokio::spawn(send_alter_partition(state.clone(), job, stop.clone()));
                }
                None => return,
            },
            _ = stop.changed() => return,
        }
    }
}

/// The controller's answer in the leader state's terms.
pub(crate) fn to_response(
    local_id: i32,
    result: AlterPartitionResult,
) -> Result<CommittedIsr, AlterPartitionError> {
    if let Some(e) = result.error {
        return Err(AlterPartitionError::from_code(e.code()));
    }
    if result.leader != local_id {
        return Err(AlterPartitionError::NewLeaderElected);
    }
    Ok(CommittedIsr {
        isr: result.isr,
        leader_epoch: result.leader_epoch,
        partition_epoch: result.partition_epoch,
    })
}

/// Sends one proposal, retrying while it is pending and unanswered.
async fn send_alter_partition(
    state: Arc<BrokerState>,
    job: AlterJob,
    mut stop: watch::Receiver<bool>,
) {
    let node = state.config.node_id;
    let mut request = job.request;
    loop {
        let Some(p) = state
            .replicas
            .get(&job.topic, job.partition)
            .filter(|p| p.topic_id == job.topic_id)
        else {
            return;
        };
        if !p.is_proposal_pending(request.id) {
            return;
        }
        let call = AlterPartition {
            broker_id: node,
            broker_epoch: state.replicas.local_broker_epoch(),
            topic_id: job.topic_id,
            partition: job.partition,
            leader_epoch: request.leader_epoch,
            partition_epoch: request.partition_epoch,
            // With the broker epochs the leader saw (KIP-903), so the controller
            // refuses a member that has restarted since.
            new_isr: request
                .new_isr
                .iter()
                .map(|m| IsrMember {
                    broker_id: m.broker_id,
                    broker_epoch: m.broker_epoch,
                })
                .collect(),
        };
        match state.controller.alter_partition(call).await {
            Err(reason) => {
                // The ISR stays as it is until the controller answers.
                tracing::debug!(topic = %job.topic, partition = job.partition, %reason, "AlterPartition not sent; retrying");
            }
            Ok(result) => {
                let response = to_response(node, result);
                match p.on_alter_partition_response(request.id, response, now_ms()) {
                    AlterPartitionOutcome::Retry(again) => request = again,
                    outcome => {
                        tracing::info!(topic = %job.topic, partition = job.partition, ?outcome, "AlterPartition answered");
                        return;
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_BACKOFF) => {}
            _ = stop.changed() => return,
        }
    }
}
