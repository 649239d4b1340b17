//! A deterministic driver for the coordinator: explicit time, request ids and a
//! mailbox of deferred answers.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;

use kavka_group::*;

pub const GROUP: &str = "g";
pub const SESSION_MS: i32 = 10_000;
pub const REBALANCE_MS: i32 = 20_000;

pub struct Harness {
    pub coord: GroupCoordinator,
    pub now: i64,
    next_request: u64,
    pub answers: HashMap<RequestId, GroupResponse>,
    pub records: Vec<CoordinatorRecord>,
}

/// A version-0 ConsumerProtocolSubscription for `topics`.
pub fn subscription(topics: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0i16.to_be_bytes());
    out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for t in topics {
        out.extend_from_slice(&(t.len() as i16).to_be_bytes());
        out.extend_from_slice(t.as_bytes());
    }
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out
}

pub fn range(topics: &[&str]) -> Vec<(String, Vec<u8>)> {
    vec![("range".to_string(), subscription(topics))]
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(GroupConfig::default())
    }

    pub fn with_config(config: GroupConfig) -> Self {
        Harness {
            coord: GroupCoordinator::new(config, 7),
            now: 1_000_000,
            next_request: 0,
            answers: HashMap::new(),
            records: Vec::new(),
        }
    }

    pub fn absorb(&mut self, effects: Effects) {
        for c in effects.completions {
            let previous = self.answers.insert(c.request, c.response);
            assert!(previous.is_none(), "request {:?} answered twice", c.request);
        }
        self.records.extend(effects.records);
    }

    fn request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    pub fn join_with(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        protocols: Vec<(String, Vec<u8>)>,
    ) -> RequestId {
        let request = self.request_id();
        let req = JoinGroupRequest {
            group_id: GROUP.to_string(),
            member_id: member_id.to_string(),
            group_instance_id: instance.map(str::to_string),
            session_timeout_ms: SESSION_MS,
            rebalance_timeout_ms: REBALANCE_MS,
            protocol_type: "consumer".to_string(),
            protocols: protocols
                .into_iter()
                .map(|(name, metadata)| JoinProtocol { name, metadata })
                .collect(),
            client_id: "client".to_string(),
            client_host: "/127.0.0.1".to_string(),
            api_version: 7,
            reason: None,
        };
        let effects = self.coord.join_group(request, req, self.now);
        self.absorb(effects);
        request
    }

    pub fn join(&mut self, member_id: &str) -> RequestId {
        self.join_with(member_id, None, range(&["t"]))
    }

    /// First join of a dynamic member: MEMBER_ID_REQUIRED, then the real join.
    pub fn join_new(&mut self) -> (String, RequestId) {
        let first = self.join("");
        let response = self.join_answer(first).expect("first join answered");
        assert_eq!(response.error, Some(GroupError::MemberIdRequired));
        let member_id = response.member_id.clone();
        (member_id.clone(), self.join(&member_id))
    }

    pub fn join_answer(&self, request: RequestId) -> Option<&JoinGroupResponse> {
        match self.answers.get(&request) {
            Some(GroupResponse::Join(r)) => Some(r),
            Some(other) => panic!("expected a join answer, got {other:?}"),
            None => None,
        }
    }

    pub fn sync_answer(&self, request: RequestId) -> Option<&SyncGroupResponse> {
        match self.answers.get(&request) {
            Some(GroupResponse::Sync(r)) => Some(r),
            Some(other) => panic!("expected a sync answer, got {other:?}"),
            None => None,
        }
    }

    pub fn sync_with(
        &mut self,
        generation: i32,
        member_id: &str,
        instance: Option<&str>,
        assignments: Vec<(&str, &[u8])>,
    ) -> RequestId {
        let request = self.request_id();
        let req = SyncGroupRequest {
            group_id: GROUP.to_string(),
            generation_id: generation,
            member_id: member_id.to_string(),
            group_instance_id: instance.map(str::to_string),
            protocol_type: Some("consumer".to_string()),
            protocol_name: None,
            assignments: assignments
                .into_iter()
                .map(|(m, a)| (m.to_string(), a.to_vec()))
                .collect(),
        };
        let effects = self.coord.sync_group(request, req, self.now);
        self.absorb(effects);
        request
    }

    pub fn sync(
        &mut self,
        generation: i32,
        member_id: &str,
        assignments: Vec<(&str, &[u8])>,
    ) -> RequestId {
        self.sync_with(generation, member_id, None, assignments)
    }

    pub fn heartbeat_with(
        &mut self,
        generation: i32,
        member_id: &str,
        instance: Option<&str>,
    ) -> Result<(), GroupError> {
        let req = HeartbeatRequest {
            group_id: GROUP.to_string(),
            generation_id: generation,
            member_id: member_id.to_string(),
            group_instance_id: instance.map(str::to_string),
        };
        self.coord.heartbeat(req, self.now)
    }

    pub fn heartbeat(&mut self, generation: i32, member_id: &str) -> Result<(), GroupError> {
        self.heartbeat_with(generation, member_id, None)
    }

    pub fn advance(&mut self, ms: i64) {
        self.now += ms;
        let effects = self.coord.tick(self.now);
        self.absorb(effects);
    }

    pub fn commit(&mut self, generation: i32, member_id: &str, offset: i64) -> Option<GroupError> {
        let req = OffsetCommitRequest {
            group_id: GROUP.to_string(),
            generation_id: generation,
            member_id: member_id.to_string(),
            group_instance_id: None,
            offsets: vec![CommitPartition {
                topic: "t".to_string(),
                partition: 0,
                offset,
                leader_epoch: 3,
                metadata: Some("meta".to_string()),
            }],
        };
        let (results, records) = self.coord.commit_offsets(req, self.now);
        self.records.extend(records);
        assert_eq!(results.len(), 1);
        results[0].error
    }

    pub fn committed(&self, topic: &str, partition: i32) -> i64 {
        let topics = [(topic.to_string(), vec![partition])];
        let fetched = self
            .coord
            .fetch_offsets(GROUP, Some(&topics))
            .expect("fetch");
        fetched[0].offset
    }

    pub fn state(&self) -> Option<GroupState> {
        self.coord.group(GROUP).map(|g| g.state())
    }

    pub fn generation(&self) -> i32 {
        self.coord.group(GROUP).map_or(-1, |g| g.generation_id())
    }

    /// Lets time pass (in 1 s steps, as the initial delay may be extended by late
    /// members) until `join` is answered.
    pub fn await_join(&mut self, join: RequestId) {
        for _ in 0..60 {
            if self.answers.contains_key(&join) {
                return;
            }
            self.advance(1_000);
        }
        panic!("join {join:?} never answered");
    }

    /// Forms a Stable group of `n` dynamic members; returns their ids, leader first.
    pub fn stable_group(&mut self, n: usize) -> Vec<String> {
        let joins: Vec<(String, RequestId)> = (0..n).map(|_| self.join_new()).collect();
        self.await_join(joins[0].1);
        let generation = self.generation();
        let leader = self
            .join_answer(joins[0].1)
            .expect("join answered after the initial delay")
            .leader
            .clone();
        let mut ids: Vec<String> = joins.iter().map(|(id, _)| id.clone()).collect();
        ids.sort_by_key(|id| id != &leader);
        let assignment: Vec<(String, Vec<u8>)> = ids
            .iter()
            .map(|id| (id.clone(), format!("assigned-to-{id}").into_bytes()))
            .collect();
        let syncs: Vec<RequestId> = ids
            .iter()
            .map(|id| {
                let a = if *id == leader {
                    assignment
                        .iter()
                        .map(|(m, a)| (m.as_str(), a.as_slice()))
                        .collect()
                } else {
                    Vec::new()
                };
                self.sync(generation, id, a)
            })
            .collect();
        for s in syncs {
            assert_eq!(self.sync_answer(s).expect("synced").error, None);
        }
        assert_eq!(self.state(), Some(GroupState::Stable));
        ids
    }
}
