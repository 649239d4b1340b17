//! kavka-group: the consumer group coordinator (classic protocol, and the consumer
//! protocol of KIP-848) and committed offsets, as a pure state machine: no I/O, no
//! clock, no threads.
//!
//! # Wiring it into the broker
//!
//! 1. Create one [`GroupCoordinator`] with a [`GroupConfig`] and a member-id seed.
//! 2. When this broker becomes leader of a `__consumer_offsets` partition, read
//!    it and feed each record, in log order, to [`GroupCoordinator::replay`] (decode
//!    them with [`CoordinatorRecord::decode_stored`], which also reads Kavka's former
//!    JSON form) — into a [`GroupCoordinator::loader`], so the live coordinator keeps
//!    serving other partitions meanwhile, then [`GroupCoordinator::adopt_groups`].
//! 3. For JoinGroup and SyncGroup, give each request a fresh [`RequestId`] and call
//!    [`GroupCoordinator::join_group`] / [`GroupCoordinator::sync_group`]. Their answers
//!    are *deferred*: they come back as [`Completion`]s inside the returned [`Effects`]
//!    of this call or of any later call (another member's join, a leave, `tick`). Keep
//!    the pending requests in a map keyed by `RequestId` and answer each completion.
//!    Every request id is completed exactly once.
//! 4. ConsumerGroupHeartbeat ([`GroupCoordinator::consumer_heartbeat`]) and
//!    ConsumerGroupDescribe answer directly; they take a [`TopicLookup`], the broker's
//!    view of topics (name, id, partition count), against which subscriptions are
//!    resolved and assignments named. The consumer protocol never defers an answer;
//!    before the first join of an id, a classic group of that id must be empty. Call
//!    [`GroupCoordinator::validate_offset_fetch`] before answering an OffsetFetch (v9+)
//!    that names a member.
//!    Heartbeat, LeaveGroup, OffsetCommit/Fetch/Delete, ListGroups, DescribeGroups and
//!    DeleteGroups answer directly (LeaveGroup may also complete other members' joins).
//! 5. Call [`GroupCoordinator::tick`] periodically (every ~100 ms, or at
//!    [`GroupCoordinator::next_deadline`]) with the current time: it expires sessions,
//!    ends join phases (rebalance timeout, `group.initial.rebalance.delay.ms`), drops
//!    members that never synced, fences consumer-protocol members past their session
//!    or revocation deadline, and expires offsets of empty groups.
//! 6. Every [`CoordinatorRecord`] in `Effects::records` (or returned beside a response)
//!    must be appended to `__consumer_offsets` partition
//!    [`partition_for_group`]`(record.group_id(), n)` — [`CoordinatorRecord::encode`]
//!    gives key and value bytes in Kafka's own record format, `None` value meaning
//!    tombstone. The state machine has already applied them; answer the client after
//!    the write is replicated (the partition's high watermark passed it).
//!
//! 7. When this broker stops leading a `__consumer_offsets` partition (or shuts down),
//!    call [`GroupCoordinator::unload_groups`]; waiting requests get NOT_COORDINATOR.
//!
//! All times are milliseconds supplied by the caller (`now_ms`). Errors are
//! [`GroupError`]s; `GroupError::code()` gives the Kafka error code.

mod admin;
mod api;
mod config;
mod consumer;
mod coordinator;
mod error;
mod group;
mod join;
mod member_id;
mod membership;
mod offsets;
mod rebalance;
mod records;
mod snapshot;
mod subscription;
mod sync;
mod timers;
mod txn_offsets;
mod undo;

pub use api::{
    CommitPartition, Completion, DeletedGroup, DescribedGroup, DescribedMember, Effects,
    FetchedOffset, GroupResponse, HeartbeatRequest, JoinGroupMember, JoinGroupRequest,
    JoinGroupResponse, JoinProtocol, LeaveGroupResponse, LeaveMemberResult, LeavingMember,
    ListedGroup, OffsetCommitRequest, OffsetDeleteResponse, PartitionResult, RequestId,
    SyncGroupRequest, SyncGroupResponse,
};
pub use config::GroupConfig;
pub use consumer::describe::{
    DescribedConsumerGroup, DescribedConsumerMember, NamedTopicPartitions,
};
pub use consumer::group::{ConsumerGroup, ConsumerGroupState};
pub use consumer::heartbeat::{ConsumerHeartbeatRequest, ConsumerHeartbeatResponse};
pub use consumer::member::{ConsumerMember, MemberState};
pub use consumer::{Assignment, TopicId, TopicInfo, TopicLookup, TopicPartitions};
pub use coordinator::GroupCoordinator;
pub use error::{error_code, GroupError};
pub use group::{CommittedOffset, Group, GroupState, Member};
pub use records::{
    partition_for_group, AssignedTopicPartitions, ClassicMemberMetadata,
    ConsumerGroupCurrentMemberAssignmentValue, ConsumerGroupKey, ConsumerGroupMemberMetadataValue,
    ConsumerGroupMetadataValue, ConsumerGroupPartitionMetadataValue, ConsumerGroupRegexKey,
    ConsumerGroupRegexValue, ConsumerGroupTargetAssignmentMemberValue,
    ConsumerGroupTargetAssignmentMetadataValue, ConsumerMemberKey, CoordinatorRecord,
    GroupMetadataKey, GroupMetadataValue, MemberMetadataValue, OffsetCommitKey, OffsetCommitValue,
    RecordError, TopicMetadata, TopicPartitionsValue, WireError,
};
pub use txn_offsets::TxnOffsetCommitRequest;
pub use undo::SavedGroups;
