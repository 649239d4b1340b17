//! Errors the coordinator answers with, each mapping to a Kafka error code.

use serde::{Deserialize, Serialize};

/// A Kafka error returned by the group coordinator; `code()` gives the wire value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
pub enum GroupError {
    /// UNKNOWN_TOPIC_OR_PARTITION (3).
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    /// OFFSET_METADATA_TOO_LARGE (12).
    #[error("offset metadata too large")]
    OffsetMetadataTooLarge,
    /// COORDINATOR_NOT_AVAILABLE (15).
    #[error("coordinator not available")]
    CoordinatorNotAvailable,
    /// NOT_COORDINATOR (16).
    #[error("not coordinator")]
    NotCoordinator,
    /// ILLEGAL_GENERATION (22).
    #[error("illegal generation")]
    IllegalGeneration,
    /// INCONSISTENT_GROUP_PROTOCOL (23).
    #[error("inconsistent group protocol")]
    InconsistentGroupProtocol,
    /// INVALID_GROUP_ID (24).
    #[error("invalid group id")]
    InvalidGroupId,
    /// UNKNOWN_MEMBER_ID (25).
    #[error("unknown member id")]
    UnknownMemberId,
    /// UNSUPPORTED_VERSION (35).
    #[error("unsupported version")]
    UnsupportedVersion,
    /// INVALID_REQUEST (42).
    #[error("invalid request")]
    InvalidRequest,
    /// INVALID_SESSION_TIMEOUT (26).
    #[error("invalid session timeout")]
    InvalidSessionTimeout,
    /// REBALANCE_IN_PROGRESS (27).
    #[error("rebalance in progress")]
    RebalanceInProgress,
    /// INVALID_COMMIT_OFFSET_SIZE (28).
    #[error("invalid commit offset size")]
    InvalidCommitOffsetSize,
    /// NON_EMPTY_GROUP (68).
    #[error("group is not empty")]
    NonEmptyGroup,
    /// GROUP_ID_NOT_FOUND (69).
    #[error("group id not found")]
    GroupIdNotFound,
    /// MEMBER_ID_REQUIRED (79).
    #[error("member id required")]
    MemberIdRequired,
    /// GROUP_MAX_SIZE_REACHED (81).
    #[error("group max size reached")]
    GroupMaxSizeReached,
    /// FENCED_INSTANCE_ID (82).
    #[error("fenced instance id")]
    FencedInstanceId,
    /// GROUP_SUBSCRIBED_TO_TOPIC (86).
    #[error("group is subscribed to topic")]
    GroupSubscribedToTopic,
    /// UNSTABLE_OFFSET_COMMIT (88).
    #[error("unstable offset commit")]
    UnstableOffsetCommit,
    /// FENCED_MEMBER_EPOCH (110): the member must drop its partitions and rejoin.
    #[error("fenced member epoch")]
    FencedMemberEpoch,
    /// UNRELEASED_INSTANCE_ID (111): another member still holds the instance id.
    #[error("unreleased instance id")]
    UnreleasedInstanceId,
    /// UNSUPPORTED_ASSIGNOR (112).
    #[error("unsupported assignor")]
    UnsupportedAssignor,
    /// STALE_MEMBER_EPOCH (113): retry with the epoch from the latest heartbeat.
    #[error("stale member epoch")]
    StaleMemberEpoch,
    /// INVALID_REGULAR_EXPRESSION (128).
    #[error("invalid regular expression")]
    InvalidRegularExpression,
}

impl GroupError {
    /// Kafka's numeric error code for this error.
    pub fn code(&self) -> i16 {
        match self {
            GroupError::UnknownTopicOrPartition => 3,
            GroupError::OffsetMetadataTooLarge => 12,
            GroupError::CoordinatorNotAvailable => 15,
            GroupError::NotCoordinator => 16,
            GroupError::IllegalGeneration => 22,
            GroupError::InconsistentGroupProtocol => 23,
            GroupError::InvalidGroupId => 24,
            GroupError::UnknownMemberId => 25,
            GroupError::InvalidSessionTimeout => 26,
            GroupError::UnsupportedVersion => 35,
            GroupError::InvalidRequest => 42,
            GroupError::RebalanceInProgress => 27,
            GroupError::InvalidCommitOffsetSize => 28,
            GroupError::NonEmptyGroup => 68,
            GroupError::GroupIdNotFound => 69,
            GroupError::MemberIdRequired => 79,
            GroupError::GroupMaxSizeReached => 81,
            GroupError::FencedInstanceId => 82,
            GroupError::GroupSubscribedToTopic => 86,
            GroupError::UnstableOffsetCommit => 88,
            GroupError::FencedMemberEpoch => 110,
            GroupError::UnreleasedInstanceId => 111,
            GroupError::UnsupportedAssignor => 112,
            GroupError::StaleMemberEpoch => 113,
            GroupError::InvalidRegularExpression => 128,
        }
    }
}

/// The wire error code of an optional error: 0 (NONE) when there is none.
pub fn error_code(error: Option<GroupError>) -> i16 {
    error.map_or(0, |e| e.code())
}
