//! The anomalies the checker reports, each with what is needed to find it in the
//! logs: send ids, partitions, offsets, values, logical times, nodes.

use std::fmt;

use crate::history::{NodeId, Offset, Partition};

/// One violated property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// An acknowledged record is not at its acknowledged offset in the final read.
    Lost {
        id: u64,
        partition: Partition,
        offset: Offset,
        value: String,
        /// Where the value was read instead, if anywhere.
        read_elsewhere: Vec<(Partition, Offset)>,
    },
    /// The acknowledged offset holds another record.
    WrongRecordAtOffset {
        id: u64,
        partition: Partition,
        offset: Offset,
        expected: String,
        found: String,
    },
    /// Readers saw different records at one offset.
    OffsetConflict {
        partition: Partition,
        offset: Offset,
        values: Vec<String>,
    },
    /// Several sends were acknowledged with the same offset.
    DoubleAck {
        partition: Partition,
        offset: Offset,
        ids: Vec<u64>,
    },
    /// A record was read that no send produced.
    Unexpected {
        partition: Partition,
        offset: Offset,
        value: String,
    },
    /// A send that definitely failed is in the log.
    FailedWriteVisible {
        id: u64,
        partition: Partition,
        offset: Offset,
    },
    /// An idempotent producer's record is in the log more than once.
    Duplicate {
        id: u64,
        places: Vec<(Partition, Offset)>,
    },
    /// Two records of one key in one partition are in the wrong order.
    KeyOrder {
        partition: Partition,
        key: String,
        /// The send that must come first: (id, offset).
        first: (u64, Offset),
        /// The send that must come after it: (id, offset).
        second: (u64, Offset),
        why: &'static str,
    },
    /// A group's committed offset went backwards.
    CommitRegressed {
        group: String,
        partition: Partition,
        from: Offset,
        from_observed_at: u64,
        to: Offset,
        to_observed_at: u64,
    },
    /// Two replicas differ below the high watermark.
    ReplicaDivergence {
        partition: Partition,
        nodes: (NodeId, NodeId),
        /// The first batch (by base offset) where they differ.
        base_offset: Offset,
        high_watermark: Offset,
        detail: String,
    },
}

impl Anomaly {
    /// A short name of the property violated, for grouping.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Lost { .. } => "lost",
            Self::WrongRecordAtOffset { .. } => "wrong-record-at-offset",
            Self::OffsetConflict { .. } => "offset-conflict",
            Self::DoubleAck { .. } => "double-ack",
            Self::Unexpected { .. } => "unexpected",
            Self::FailedWriteVisible { .. } => "failed-write-visible",
            Self::Duplicate { .. } => "duplicate",
            Self::KeyOrder { .. } => "key-order",
            Self::CommitRegressed { .. } => "commit-regressed",
            Self::ReplicaDivergence { .. } => "replica-divergence",
        }
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] ", self.kind())?;
        match self {
            Self::Lost {
                id,
                partition,
                offset,
                value,
                read_elsewhere,
            } => {
                write!(
                    f,
                    "send {id} ({value}) acknowledged at {partition}@{offset} is not in the final read"
                )?;
                if !read_elsewhere.is_empty() {
                    write!(f, "; read at {}", places(read_elsewhere))?;
                }
                Ok(())
            }
            Self::WrongRecordAtOffset {
                id,
                partition,
                offset,
                expected,
                found,
            } => write!(
                f,
                "send {id} acknowledged at {partition}@{offset} as {expected}, but that offset holds {found}"
            ),
            Self::OffsetConflict {
                partition,
                offset,
                values,
            } => write!(
                f,
                "{partition}@{offset} was read as {} different records: {}",
                values.len(),
                values.join(" | ")
            ),
            Self::DoubleAck {
                partition,
                offset,
                ids,
            } => write!(
                f,
                "sends {ids:?} were all acknowledged at {partition}@{offset}"
            ),
            Self::Unexpected {
                partition,
                offset,
                value,
            } => write!(f, "{partition}@{offset} holds {value}, which was never sent"),
            Self::FailedWriteVisible {
                id,
                partition,
                offset,
            } => write!(
                f,
                "send {id} failed definitely, yet {partition}@{offset} holds it"
            ),
            Self::Duplicate { id, places: at } => write!(
                f,
                "send {id} of the idempotent producer is in the log {} times: {}",
                at.len(),
                places(at)
            ),
            Self::KeyOrder {
                partition,
                key,
                first,
                second,
                why,
            } => write!(
                f,
                "key {key} in partition {partition}: send {} must precede send {} ({why}), \
                 but their offsets are {} and {}",
                first.0, second.0, first.1, second.1
            ),
            Self::CommitRegressed {
                group,
                partition,
                from,
                from_observed_at,
                to,
                to_observed_at,
            } => write!(
                f,
                "group {group} partition {partition}: committed offset went from {from} \
                 (t={from_observed_at}) back to {to} (t={to_observed_at})"
            ),
            Self::ReplicaDivergence {
                partition,
                nodes,
                base_offset,
                high_watermark,
                detail,
            } => write!(
                f,
                "partition {partition}: replicas on nodes {} differ at the batch at offset \
                 {base_offset} (high watermark {high_watermark}): {detail}",
                super::nodes(nodes.0, nodes.1)
            ),
        }
    }
}

fn places(at: &[(Partition, Offset)]) -> String {
    at.iter()
        .map(|(p, o)| format!("{p}@{o}"))
        .collect::<Vec<_>>()
        .join(", ")
}
