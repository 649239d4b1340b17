//! [`ControllerClient`]: requests to the active controller.

use kavka_metadata::cluster::{AlterPartition, AlterPartitionResult};

/// Why a request to the controller got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ControllerCallError {
    /// No controller is known or reachable right now; retry later.
    #[error("no active controller: {0}")]
    NotAvailable(String),
}

/// Sends requests to the active controller. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ControllerClient {}

impl ControllerClient {
    /// Asks the controller to change a partition's ISR (Kafka's AlterPartition).
    /// The answer carries the partition's state as the controller sees it.
    pub async fn alter_partition(
        &self,
        request: AlterPartition,
    ) -> Result<AlterPartitionResult, ControllerCallError> {
        Err(ControllerCallError::NotAvailable(format!(
            "AlterPartition for {}-{} before the controller is wired",
            request.topic_id, request.partition
        )))
    }
}
