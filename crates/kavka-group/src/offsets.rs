//! OffsetCommit, OffsetFetch, OffsetDelete, and expiry of offsets of empty groups.

use crate::api::{FetchedOffset, OffsetCommitRequest, OffsetDeleteResponse, PartitionResult};
use crate::coordinator::GroupCoordinator;
use crate::error::GroupError;
use crate::group::{CommittedOffset, Group, GroupState};
use crate::records::{CoordinatorRecord, OffsetCommitKey, OffsetCommitValue};

impl GroupCoordinator {
    /// Handles an OffsetCommit: per-partition results and the records to persist
    /// (the broker should answer only once the records are written).
    pub fn commit_offsets(
        &mut self,
        req: OffsetCommitRequest,
        now_ms: i64,
    ) -> (Vec<PartitionResult>, Vec<CoordinatorRecord>) {
        let mut records = Vec::new();
        let check = self.validate_commit(&req, now_ms);
        let max_metadata = self.config.offset_metadata_max_bytes;
        let group = self.groups.get_mut(&req.group_id);
        let results = match (check, group) {
            (Ok(()), Some(group)) => req
                .offsets
                .into_iter()
                .map(|p| {
                    let metadata = p.metadata.unwrap_or_default();
                    // Kafka measures Java string length (UTF-16 units).
                    let error = if metadata.encode_utf16().count() > max_metadata {
                        Some(GroupError::OffsetMetadataTooLarge)
                    } else {
                        let value =
                            OffsetCommitValue::new(p.offset, p.leader_epoch, metadata, now_ms);
                        group.store_offset(&p.topic, p.partition, &value);
                        records.push(CoordinatorRecord::OffsetCommit {
                            key: OffsetCommitKey {
                                group: req.group_id.clone(),
                                topic: p.topic.clone(),
                                partition: p.partition,
                            },
                            value: Some(value),
                        });
                        None
                    };
                    PartitionResult {
                        topic: p.topic,
                        partition: p.partition,
                        error,
                    }
                })
                .collect(),
            (check, _) => {
                let error = check.err().unwrap_or(GroupError::CoordinatorNotAvailable);
                req.offsets
                    .into_iter()
                    .map(|p| PartitionResult {
                        topic: p.topic,
                        partition: p.partition,
                        error: Some(error),
                    })
                    .collect()
            }
        };
        (results, records)
    }

    /// Kafka's `validateOffsetCommit`; creates the group for a commit without membership.
    pub(crate) fn validate_commit(
        &mut self,
        req: &OffsetCommitRequest,
        now_ms: i64,
    ) -> Result<(), GroupError> {
        if req.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        if let Some(consumer) = self.consumer_groups.get(&req.group_id) {
            // Kafka's ConsumerGroup.validateOffsetCommit: the member epoch must be current;
            // without one, only an empty group takes commits (admin, assign() users).
            if req.generation_id >= 0 || !consumer.members.is_empty() {
                let member = consumer
                    .members
                    .get(&req.member_id)
                    .ok_or(GroupError::UnknownMemberId)?;
                if req.generation_id != member.member_epoch {
                    return Err(GroupError::StaleMemberEpoch);
                }
            }
            self.groups
                .entry(req.group_id.clone())
                .or_insert_with(|| Group::new(&req.group_id, now_ms));
            return Ok(());
        }
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            if req.generation_id < 0 {
                // assign()-style consumers keep their offsets in a group with no members.
                self.groups
                    .insert(req.group_id.clone(), Group::new(&req.group_id, now_ms));
                return Ok(());
            }
            return Err(GroupError::IllegalGeneration);
        };
        match group.state {
            GroupState::Dead => return Err(GroupError::CoordinatorNotAvailable),
            GroupState::Empty if req.generation_id < 0 => return Ok(()),
            _ => {}
        }
        if req.generation_id >= 0 || !req.member_id.is_empty() || req.group_instance_id.is_some() {
            group.validate_member(&req.member_id, req.group_instance_id.as_deref())?;
            if req.generation_id != group.generation_id {
                return Err(GroupError::IllegalGeneration);
            }
        } else if group.state != GroupState::Empty {
            return Err(GroupError::UnknownMemberId);
        }
        // Commits during PreparingRebalance are allowed (eager consumers commit while
        // revoking); after the join response the member must sync first.
        if group.state == GroupState::CompletingRebalance {
            return Err(GroupError::RebalanceInProgress);
        }
        if let Some(member) = group.members.get_mut(&req.member_id) {
            member.refresh_session(now_ms);
        }
        Ok(())
    }

    /// Kafka's `validateOffsetFetch` for a consumer-protocol group: a fetch naming a
    /// member (v9+) must carry its current epoch. Other fetches are not checked.
    pub fn validate_offset_fetch(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), GroupError> {
        let Some(group) = self.consumer_groups.get(group_id) else {
            return Ok(());
        };
        let member_id = match member_id {
            None if member_epoch < 0 => return Ok(()),
            None => "",
            Some(id) => id,
        };
        let member = group
            .members
            .get(member_id)
            .ok_or(GroupError::UnknownMemberId)?;
        if member.member_epoch != member_epoch {
            return Err(GroupError::StaleMemberEpoch);
        }
        Ok(())
    }

    /// Handles an OffsetFetch for one group: `None` asks for every committed partition.
    /// Partitions without a commit answer offset -1.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<&[(String, Vec<i32>)]>,
    ) -> Result<Vec<FetchedOffset>, GroupError> {
        if group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        let group = self.groups.get(group_id);
        let fetched =
            |topic: &str, partition: i32, offset: Option<&CommittedOffset>| FetchedOffset {
                topic: topic.to_string(),
                partition,
                offset: offset.map_or(-1, |o| o.offset),
                leader_epoch: offset.map_or(-1, |o| o.leader_epoch),
                metadata: offset.map(|o| o.metadata.clone()).unwrap_or_default(),
            };
        Ok(match topics {
            Some(topics) => topics
                .iter()
                .flat_map(|(topic, partitions)| {
                    partitions
                        .iter()
                        .map(move |p| fetched(topic, *p, group.and_then(|g| g.offset(topic, *p))))
                })
                .collect(),
            None => {
                let mut all: Vec<FetchedOffset> = group
                    .map(|g| {
                        g.offsets
                            .iter()
                            .map(|((t, p), o)| fetched(t, *p, Some(o)))
                            .collect()
                    })
                    .unwrap_or_default();
                all.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
                all
            }
        })
    }

    /// Handles an OffsetDelete. Simplification: subscriptions are known only for
    /// protocol type "consumer" (parsed from member metadata); an active group of any
    /// other type is refused with NON_EMPTY_GROUP, as Kafka does.
    pub fn delete_offsets(
        &mut self,
        group_id: &str,
        topics: &[(String, Vec<i32>)],
    ) -> (OffsetDeleteResponse, Vec<CoordinatorRecord>) {
        let mut records = Vec::new();
        let top_error = |error| OffsetDeleteResponse {
            error: Some(error),
            partitions: Vec::new(),
        };
        if group_id.is_empty() {
            return (top_error(GroupError::InvalidGroupId), records);
        }
        // A consumer-protocol group with members keeps offsets of topics it subscribes to.
        // The resolved topics are not persisted (only their hash), so right after a
        // restart the members' subscribed names stand in until the next heartbeat.
        let consumer_topics: Option<std::collections::HashSet<String>> = self
            .consumer_groups
            .get(group_id)
            .filter(|g| !g.members.is_empty())
            .map(|g| {
                g.subscribed_topics
                    .keys()
                    .chain(
                        g.members
                            .values()
                            .flat_map(|m| m.subscribed_topic_names.iter()),
                    )
                    .cloned()
                    .collect()
            });
        if self.consumer_groups.contains_key(group_id) {
            // The group exists even if nothing was committed yet.
            self.groups
                .entry(group_id.to_string())
                .or_insert_with(|| Group::new(group_id, 0));
        }
        let Some(group) = self.groups.get_mut(group_id) else {
            return (top_error(GroupError::GroupIdNotFound), records);
        };
        let active = group.state != GroupState::Empty;
        if group.state == GroupState::Dead {
            return (top_error(GroupError::GroupIdNotFound), records);
        }
        if active && group.protocol_type.as_deref() != Some("consumer") {
            return (top_error(GroupError::NonEmptyGroup), records);
        }
        let mut partitions = Vec::new();
        for (topic, ps) in topics {
            let subscribed = consumer_topics.as_ref().is_some_and(|t| t.contains(topic))
                || (active
                    && group
                        .subscribed_topics
                        .as_ref()
                        .is_some_and(|t| t.contains(topic)));
            for &partition in ps {
                let error = if subscribed {
                    Some(GroupError::GroupSubscribedToTopic)
                } else {
                    if group.offsets.remove(&(topic.clone(), partition)).is_some() {
                        records.push(CoordinatorRecord::offset_tombstone(
                            group_id, topic, partition,
                        ));
                    }
                    None
                };
                partitions.push(PartitionResult {
                    topic: topic.clone(),
                    partition,
                    error,
                });
            }
        }
        let response = OffsetDeleteResponse {
            error: None,
            partitions,
        };
        (response, records)
    }
}

impl Group {
    fn store_offset(&mut self, topic: &str, partition: i32, value: &OffsetCommitValue) {
        self.offsets.insert(
            (topic.to_string(), partition),
            CommittedOffset {
                offset: value.offset,
                leader_epoch: value.leader_epoch,
                metadata: value.metadata.clone(),
                commit_timestamp_ms: value.commit_timestamp_ms,
            },
        );
    }

    /// Drops offsets of an Empty group older than the retention: counted from when a
    /// managed group became empty, or from the commit for offset-only groups.
    pub(crate) fn expire_offsets(
        &mut self,
        retention_ms: i64,
        now_ms: i64,
    ) -> Vec<CoordinatorRecord> {
        if self.state != GroupState::Empty {
            return Vec::new();
        }
        let managed_since = self.protocol_type.as_ref().and(self.state_timestamp_ms);
        let mut expired: Vec<(String, i32)> = self
            .offsets
            .iter()
            .filter(|(_, o)| {
                let base = managed_since.unwrap_or(o.commit_timestamp_ms);
                now_ms.saturating_sub(base) >= retention_ms
            })
            .map(|(k, _)| k.clone())
            .collect();
        expired.sort();
        expired
            .into_iter()
            .map(|(topic, partition)| {
                self.offsets.remove(&(topic.clone(), partition));
                CoordinatorRecord::offset_tombstone(&self.group_id, &topic, partition)
            })
            .collect()
    }
}
