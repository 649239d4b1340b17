use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::acl::Acl;
use crate::client_quotas::{QuotaEntity, QuotaValue};

/// What a config belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ConfigResource {
    Topic(String),
    /// A broker by id; `None` is the cluster-wide default (empty name in Kafka).
    Broker(Option<i32>),
}

/// One change to cluster metadata, as KRaft's metadata records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// A broker announced itself (BrokerRegistrationRecord). The fields after
    /// `rack` came with the cluster; records written before them read as an
    /// unfenced broker of epoch 0.
    RegisterBroker {
        broker_id: i32,
        host: String,
        port: i32,
        rack: Option<String>,
        /// Random per process start, so a restarted broker is told apart from a
        /// duplicate one (Kafka's incarnation id).
        #[serde(default)]
        incarnation_id: Option<Uuid>,
        /// The offset of this record: heartbeats and AlterPartition must carry it.
        #[serde(default)]
        broker_epoch: i64,
        /// A new registration is fenced until the broker has caught up.
        #[serde(default)]
        fenced: bool,
    },
    /// A broker was fenced or unfenced, or began a controlled shutdown
    /// (BrokerRegistrationChangeRecord); `None` leaves that flag as it was.
    BrokerRegistrationChange {
        broker_id: i32,
        broker_epoch: i64,
        fenced: Option<bool>,
        in_controlled_shutdown: Option<bool>,
    },
    /// A broker's registration was removed (UnregisterBrokerRecord).
    UnregisterBroker { broker_id: i32, broker_epoch: i64 },
    /// A topic came into being (TopicRecord).
    Topic { name: String, topic_id: Uuid },
    /// A partition with its replica placement and leadership (PartitionRecord).
    /// The reassignment fields came later: records written before them read as a
    /// partition with no reassignment in progress.
    Partition {
        topic_id: Uuid,
        partition: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
        /// Replicas a reassignment is adding (KIP-455).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        adding_replicas: Vec<i32>,
        /// Replicas a reassignment is removing.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removing_replicas: Vec<i32>,
    },
    /// Leadership, ISR or replica placement moved (PartitionChangeRecord). A field
    /// left `None` keeps its value, as Kafka's record leaves a field unset.
    PartitionChange {
        topic_id: Uuid,
        partition: i32,
        leader: i32,
        isr: Vec<i32>,
        /// The new replica list (a reassignment started, completed or cancelled).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replicas: Option<Vec<i32>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        adding_replicas: Option<Vec<i32>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        removing_replicas: Option<Vec<i32>>,
    },
    /// A config was set, or removed when `value` is None (ConfigRecord).
    Config {
        resource: ConfigResource,
        name: String,
        value: Option<String>,
    },
    /// A topic and all its partitions are gone (RemoveTopicRecord).
    RemoveTopic { topic_id: Uuid },
    /// The controller gave `broker_id` the block of producer ids that ends just
    /// below `next_producer_id` (ProducerIdsRecord, KIP-730).
    ProducerIds {
        broker_id: i32,
        broker_epoch: i64,
        next_producer_id: i64,
    },
    /// A user's SCRAM credential for one mechanism was set
    /// (UserScramCredentialRecord). `mechanism` is Kafka's type code (1 SCRAM-SHA-256,
    /// 2 SCRAM-SHA-512); the password itself is never recorded.
    UserScramCredential {
        name: String,
        mechanism: i8,
        salt: Vec<u8>,
        stored_key: Vec<u8>,
        server_key: Vec<u8>,
        iterations: i32,
    },
    /// A user's SCRAM credential was removed (RemoveUserScramCredentialRecord).
    RemoveUserScramCredential { name: String, mechanism: i8 },
    /// An ACL was created under `id` (AccessControlEntryRecord).
    AccessControlEntry { id: Uuid, acl: Acl },
    /// The ACL stored under `id` was deleted (RemoveAccessControlEntryRecord).
    RemoveAccessControlEntry { id: Uuid },
    /// A client quota was set, or removed when `value` is None (ClientQuotaRecord).
    ClientQuota {
        entity: QuotaEntity,
        key: String,
        value: Option<QuotaValue>,
    },
}
