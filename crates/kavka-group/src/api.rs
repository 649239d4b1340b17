//! Plain request and response values exchanged with the broker's API handlers.

use crate::error::GroupError;
use crate::records::CoordinatorRecord;

/// Opaque handle the broker gives each JoinGroup/SyncGroup request so a deferred answer
/// can find its way back to the right connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// One protocol (assignor) a member supports, with its opaque subscription metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinProtocol {
    /// Protocol name, e.g. "range" or "cooperative-sticky".
    pub name: String,
    /// Opaque metadata (for "consumer": a ConsumerProtocolSubscription).
    pub metadata: Vec<u8>,
}

/// A decoded JoinGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupRequest {
    /// Group to join.
    pub group_id: String,
    /// Member id, empty on a first join.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// Session timeout asked for by the client.
    pub session_timeout_ms: i32,
    /// Rebalance timeout asked for by the client.
    pub rebalance_timeout_ms: i32,
    /// Protocol type, "consumer" for consumers.
    pub protocol_type: String,
    /// Supported protocols in order of preference.
    pub protocols: Vec<JoinProtocol>,
    /// Client id from the request header.
    pub client_id: String,
    /// Client host (address) of the connection.
    pub client_host: String,
    /// JoinGroup request version.
    pub api_version: i16,
    /// Reason given by the client (v8+), for logging only.
    pub reason: Option<String>,
}

/// One member as listed to the group leader in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupMember {
    /// Member id.
    pub member_id: String,
    /// Static instance id, if any.
    pub group_instance_id: Option<String>,
    /// The member's metadata for the chosen protocol.
    pub metadata: Vec<u8>,
}

/// A JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinGroupResponse {
    /// Error, if the join failed.
    pub error: Option<GroupError>,
    /// Generation the member joined (-1 on error).
    pub generation_id: i32,
    /// Group protocol type (v7+).
    pub protocol_type: Option<String>,
    /// Chosen protocol name.
    pub protocol_name: Option<String>,
    /// Leader member id.
    pub leader: String,
    /// v9+: the leader must not compute a new assignment (static leader rejoin).
    pub skip_assignment: bool,
    /// The member's id (also set with MEMBER_ID_REQUIRED).
    pub member_id: String,
    /// All members; only filled for the leader.
    pub members: Vec<JoinGroupMember>,
}

impl JoinGroupResponse {
    /// An error answer carrying `member_id`.
    pub fn error(error: GroupError, member_id: &str) -> Self {
        JoinGroupResponse {
            error: Some(error),
            generation_id: -1,
            member_id: member_id.to_string(),
            ..Default::default()
        }
    }
}

/// A decoded SyncGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupRequest {
    /// Group id.
    pub group_id: String,
    /// Generation the member believes it is in.
    pub generation_id: i32,
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Protocol type (v5+), checked when present.
    pub protocol_type: Option<String>,
    /// Protocol name (v5+), checked when present.
    pub protocol_name: Option<String>,
    /// The leader's assignment: (member id, assignment bytes). Empty for followers.
    pub assignments: Vec<(String, Vec<u8>)>,
}

/// A SyncGroup answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncGroupResponse {
    /// Error, if any.
    pub error: Option<GroupError>,
    /// Group protocol type (v5+).
    pub protocol_type: Option<String>,
    /// Chosen protocol name (v5+).
    pub protocol_name: Option<String>,
    /// This member's assignment (empty when none).
    pub assignment: Vec<u8>,
}

impl SyncGroupResponse {
    /// An error answer.
    pub fn error(error: GroupError) -> Self {
        SyncGroupResponse {
            error: Some(error),
            ..Default::default()
        }
    }
}

/// A deferred-able answer to a JoinGroup or SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupResponse {
    /// Answer to a JoinGroup.
    Join(JoinGroupResponse),
    /// Answer to a SyncGroup.
    Sync(SyncGroupResponse),
}

/// The answer to one earlier JoinGroup/SyncGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The request this answers.
    pub request: RequestId,
    /// The answer.
    pub response: GroupResponse,
}

/// What a call produced besides its direct answer: requests to answer now, records to persist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Effects {
    /// JoinGroup/SyncGroup requests that are answered now.
    pub completions: Vec<Completion>,
    /// Records to append to `__consumer_offsets`, in order.
    pub records: Vec<CoordinatorRecord>,
}

impl Effects {
    pub(crate) fn join(&mut self, request: RequestId, response: JoinGroupResponse) {
        self.completions.push(Completion {
            request,
            response: GroupResponse::Join(response),
        });
    }

    pub(crate) fn sync(&mut self, request: RequestId, response: SyncGroupResponse) {
        self.completions.push(Completion {
            request,
            response: GroupResponse::Sync(response),
        });
    }
}

/// A decoded Heartbeat request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRequest {
    /// Group id.
    pub group_id: String,
    /// Generation.
    pub generation_id: i32,
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
}

/// One member leaving in a LeaveGroup request (v3+ batches several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavingMember {
    /// Member id (may be empty for a static member leaving by instance id).
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
}

/// Per-member result of a LeaveGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveMemberResult {
    /// Member id as sent.
    pub member_id: String,
    /// Instance id as sent.
    pub group_instance_id: Option<String>,
    /// Error for this member, if any.
    pub error: Option<GroupError>,
}

/// A LeaveGroup answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaveGroupResponse {
    /// Top-level error.
    pub error: Option<GroupError>,
    /// Per-member results.
    pub members: Vec<LeaveMemberResult>,
}

/// One partition in an OffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Offset to commit.
    pub offset: i64,
    /// Leader epoch of the committed record, -1 when unknown.
    pub leader_epoch: i32,
    /// Client metadata string.
    pub metadata: Option<String>,
}

/// A decoded OffsetCommit request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitRequest {
    /// Group id.
    pub group_id: String,
    /// Generation, -1 for a consumer without group membership.
    pub generation_id: i32,
    /// Member id, empty for a consumer without group membership.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Offsets to commit.
    pub offsets: Vec<CommitPartition>,
}

/// Per-partition result of a commit or an offset delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionResult {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Error for this partition, if any.
    pub error: Option<GroupError>,
}

/// A committed offset as returned by OffsetFetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Committed offset, -1 when nothing was committed.
    pub offset: i64,
    /// Leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Commit metadata ("" when nothing was committed).
    pub metadata: String,
}

/// An OffsetDelete answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OffsetDeleteResponse {
    /// Top-level error.
    pub error: Option<GroupError>,
    /// Per-partition results.
    pub partitions: Vec<PartitionResult>,
}

/// One group in a ListGroups answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    /// Group id.
    pub group_id: String,
    /// Protocol type ("" for groups used only for offsets).
    pub protocol_type: String,
    /// State name as Kafka prints it.
    pub state: String,
    /// "classic" or "consumer" (KIP-848).
    pub group_type: String,
}

/// One member in a DescribeGroups answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedMember {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Metadata for the chosen protocol (empty unless Stable).
    pub metadata: Vec<u8>,
    /// Assignment (empty unless Stable).
    pub assignment: Vec<u8>,
}

/// One group in a DescribeGroups answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroup {
    /// Error, if any.
    pub error: Option<GroupError>,
    /// Why, when there is an error.
    pub error_message: Option<String>,
    /// Group id.
    pub group_id: String,
    /// State name as Kafka prints it ("Dead" for unknown groups).
    pub state: String,
    /// Protocol type.
    pub protocol_type: String,
    /// Chosen protocol name (empty unless Stable).
    pub protocol: String,
    /// Members.
    pub members: Vec<DescribedMember>,
}

/// Per-group result of DeleteGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedGroup {
    /// Group id.
    pub group_id: String,
    /// Error, if the group was not deleted.
    pub error: Option<GroupError>,
}
