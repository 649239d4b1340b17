//! What brokers and the active controller say to each other. The messages carry
//! what Kafka's BrokerRegistration, BrokerHeartbeat, AlterPartition and
//! AllocateProducerIds carry, plus
//! metadata writes decided on a broker's image (a compare-and-set on the log, see
//! `kavka_raft::MetadataBatch`). They travel as JSON over the quorum's connections.

use kavka_metadata::cluster::IsrMember;
use kavka_metadata::MetadataRecord;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A request to the active controller.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ControllerRequest {
    Register {
        broker_id: i32,
        incarnation_id: Uuid,
        host: String,
        port: i32,
        rack: Option<String>,
    },
    Heartbeat {
        broker_id: i32,
        broker_epoch: i64,
        current_metadata_offset: u64,
        want_fence: bool,
        want_shutdown_now: bool,
    },
    /// Kafka's AlterPartition: `new_isr` names the members (as v0–v2 did, so a
    /// controller from before KIP-903 still reads it), `new_isr_with_epochs` adds
    /// their broker epochs (v3); a controller that has the latter checks them.
    AlterPartition {
        broker_id: i32,
        broker_epoch: i64,
        topic_id: Uuid,
        partition: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        new_isr: Vec<i32>,
        #[serde(default)]
        new_isr_with_epochs: Vec<IsrMember>,
    },
    /// Records decided on the image that had applied `expect_next_offset` records.
    Write {
        expect_next_offset: Option<u64>,
        records: Vec<MetadataRecord>,
    },
    /// A node that is not a voter asks to follow the metadata log (Kafka's
    /// observer): the leader adds it as a learner at `addr`.
    AddObserver { node_id: i32, addr: String },
    /// The quorum as the leader sees it (DescribeQuorum).
    DescribeQuorum,
    /// Preferred or unclean leader election for partitions (ElectLeaders).
    ElectLeaders {
        unclean: bool,
        partitions: Vec<(Uuid, i32)>,
    },
    /// The next block of producer ids for this broker (AllocateProducerIds);
    /// `legacy_reserved` is the bound of its `producer-id-block` file, if any.
    AllocateProducerIds {
        broker_id: i32,
        broker_epoch: i64,
        legacy_reserved: Option<i64>,
    },
}

/// The controller's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ControllerResponse {
    /// This node is not the active controller; `leader` is, if known.
    NotController {
        leader: Option<i32>,
    },
    Registered {
        broker_epoch: i64,
    },
    Heartbeat {
        is_caught_up: bool,
        is_fenced: bool,
        should_shut_down: bool,
    },
    AlterPartition {
        error_code: i16,
        leader: i32,
        leader_epoch: i32,
        isr: Vec<i32>,
        partition_epoch: i32,
    },
    /// The records committed at this log index and are applied there.
    Written {
        index: u64,
    },
    /// The write was decided on an older image; decide again.
    Stale,
    ObserverAdded,
    Quorum(kavka_raft::QuorumDescription),
    /// Per partition, the Kafka error code of its election (0: elected).
    Elected {
        results: Vec<(Uuid, i32, i16)>,
    },
    /// The producer ids `first_id .. first_id + size`, recorded as this broker's.
    ProducerIds {
        first_id: i64,
        size: i64,
    },
    /// A refusal with Kafka's error code.
    Error {
        code: i16,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alter_partition_from_before_kip_903_still_decodes() {
        let old = serde_json::json!({"AlterPartition": {
            "broker_id": 1, "broker_epoch": 5, "topic_id": Uuid::nil(), "partition": 0,
            "leader_epoch": 2, "partition_epoch": 3, "new_isr": [1, 2]
        }});
        match serde_json::from_value::<ControllerRequest>(old).unwrap() {
            ControllerRequest::AlterPartition {
                new_isr,
                new_isr_with_epochs,
                ..
            } => {
                assert_eq!(new_isr, vec![1, 2]);
                assert!(new_isr_with_epochs.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
}
