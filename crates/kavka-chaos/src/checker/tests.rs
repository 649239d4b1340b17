//! Hand-made histories, one per property: a valid one, then each anomaly alone.

use super::*;
use crate::history::{BatchBytes, CommitObservation, ReadRecord, ReplicaDump};

/// Builds histories with a logical clock: each call invokes and completes a send.
#[derive(Default)]
struct H {
    h: History,
    clock: u64,
}

impl H {
    fn idempotent() -> Self {
        let mut h = Self::default();
        h.h.idempotent = true;
        h
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// A send of `key`/`v{id}` that ends with `outcome`, completed before the next.
    fn send(&mut self, id: u64, key: &str, outcome: SendOutcome) -> &mut Self {
        let invoked_at = self.tick();
        let completed_at = Some(self.tick());
        self.h.sends.push(SendOp {
            id,
            key: Some(key.as_bytes().to_vec()),
            value: format!("v{id}").into_bytes(),
            invoked_at,
            completed_at,
            outcome,
        });
        self
    }

    fn acked(&mut self, id: u64, key: &str, partition: i32, offset: i64) -> &mut Self {
        self.send(id, key, SendOutcome::Acked { partition, offset })
    }

    fn read(&mut self, partition: i32, offset: i64, key: &str, value: &str) -> &mut Self {
        self.h.final_read.push(ReadRecord {
            partition,
            offset,
            key: Some(key.as_bytes().to_vec()),
            value: value.as_bytes().to_vec(),
        });
        self
    }

    fn commit(&mut self, group: &str, partition: i32, offset: i64) -> &mut Self {
        let observed_at = self.tick();
        self.h.commits.push(CommitObservation {
            group: group.into(),
            partition,
            offset,
            observed_at,
        });
        self
    }

    fn check(&self) -> Report {
        check(&self.h)
    }
}

fn kinds(r: &Report) -> Vec<&'static str> {
    r.anomalies.iter().map(Anomaly::kind).collect()
}

/// Three acked sends, one indeterminate that made it, one that did not, all read.
fn healthy() -> H {
    let mut h = H::idempotent();
    h.acked(0, "a", 0, 0)
        .acked(1, "a", 0, 1)
        .acked(2, "b", 1, 0)
        .send(3, "a", SendOutcome::Indeterminate)
        .send(4, "b", SendOutcome::Indeterminate)
        .send(5, "b", SendOutcome::Failed)
        .read(0, 0, "a", "v0")
        .read(0, 1, "a", "v1")
        .read(0, 2, "a", "v3")
        .read(1, 0, "b", "v2")
        .commit("g", 0, 1)
        .commit("g", 0, 3)
        .commit("g", 1, 1);
    h
}

#[test]
fn a_healthy_history_is_valid() {
    let r = healthy().check();
    assert!(r.is_valid(), "{r}");
    assert_eq!(r.stats.acked, 3);
    assert_eq!(r.stats.indeterminate, 2);
    assert_eq!(r.stats.indeterminate_read, 1);
    assert_eq!(r.stats.failed, 1);
    assert!(r.to_string().contains("valid: no anomalies"));
}

#[test]
fn an_acknowledged_record_missing_from_the_read_is_lost() {
    let mut h = healthy();
    h.h.final_read.retain(|r| r.value != b"v1");
    let r = h.check();
    assert_eq!(kinds(&r), ["lost"], "{r}");
    let text = r.to_string();
    assert!(text.contains("send 1 (v1) acknowledged at 0@1"), "{text}");
}

#[test]
fn a_record_moved_to_another_offset_is_lost_and_says_where_it_went() {
    let mut h = H::default();
    h.acked(0, "a", 0, 0).read(0, 5, "a", "v0");
    let r = h.check();
    assert_eq!(kinds(&r), ["lost"], "{r}");
    assert!(r.to_string().contains("read at 0@5"), "{r}");
}

#[test]
fn an_acknowledged_offset_holding_another_record_is_reported() {
    let mut h = H::default();
    h.acked(0, "a", 0, 0)
        .send(1, "a", SendOutcome::Indeterminate)
        .read(0, 0, "a", "v1");
    let r = h.check();
    assert_eq!(kinds(&r), ["wrong-record-at-offset"], "{r}");
}

#[test]
fn two_readers_disagreeing_on_an_offset_is_a_conflict() {
    let mut h = healthy();
    h.read(1, 0, "b", "v4");
    let r = h.check();
    assert!(kinds(&r).contains(&"offset-conflict"), "{r}");
    assert!(kinds(&r).contains(&"wrong-record-at-offset"), "{r}");
    assert!(
        r.to_string()
            .contains("1@0 was read as 2 different records"),
        "{r}"
    );
}

#[test]
fn two_sends_acknowledged_at_one_offset_is_a_double_ack() {
    let mut h = H::default();
    h.acked(0, "a", 0, 0)
        .acked(1, "b", 0, 0)
        .read(0, 0, "a", "v0");
    let r = h.check();
    assert!(kinds(&r).contains(&"double-ack"), "{r}");
    assert!(r.to_string().contains("sends [0, 1]"), "{r}");
}

#[test]
fn a_record_nobody_sent_is_unexpected() {
    let mut h = healthy();
    h.read(1, 1, "b", "phantom");
    assert_eq!(kinds(&h.check()), ["unexpected"]);
}

#[test]
fn a_definitely_failed_send_must_not_be_read() {
    let mut h = healthy();
    h.read(1, 1, "b", "v5");
    assert_eq!(kinds(&h.check()), ["failed-write-visible"]);
}

#[test]
fn an_idempotent_producer_must_not_duplicate() {
    let mut h = healthy();
    h.read(0, 3, "a", "v3");
    let r = h.check();
    assert_eq!(kinds(&r), ["duplicate"], "{r}");
    assert!(r.to_string().contains("0@2, 0@3"), "{r}");
    // Without idempotence a retry may duplicate: not an anomaly.
    h.h.idempotent = false;
    assert!(h.check().is_valid());
}

#[test]
fn a_record_acknowledged_before_another_was_sent_must_come_first() {
    let mut h = H::default();
    h.acked(0, "a", 0, 1)
        .acked(1, "a", 0, 0)
        .read(0, 0, "a", "v1")
        .read(0, 1, "a", "v0");
    let r = h.check();
    assert_eq!(kinds(&r), ["key-order"], "{r}");
    assert!(r.to_string().contains("send 0 must precede send 1"), "{r}");
    // Other keys, or the same key in other partitions, do not constrain each other.
    let mut h = H::default();
    h.acked(0, "a", 0, 1)
        .acked(1, "b", 0, 0)
        .acked(2, "a", 1, 0)
        .read(0, 0, "b", "v1")
        .read(0, 1, "a", "v0")
        .read(1, 0, "a", "v2");
    assert!(h.check().is_valid());
}

#[test]
fn concurrent_sends_are_ordered_only_for_an_idempotent_producer() {
    // Both in flight at once (invoked 1 and 2, completed 3 and 4): real time
    // does not order them, the idempotent producer's send order does.
    let mut h = H::default();
    for (id, invoked, completed, offset) in [(0u64, 1u64, 3u64, 1i64), (1, 2, 4, 0)] {
        h.h.sends.push(SendOp {
            id,
            key: Some(b"a".to_vec()),
            value: format!("v{id}").into_bytes(),
            invoked_at: invoked,
            completed_at: Some(completed),
            outcome: SendOutcome::Acked {
                partition: 0,
                offset,
            },
        });
    }
    h.read(0, 0, "a", "v1").read(0, 1, "a", "v0");
    assert!(h.check().is_valid());
    h.h.idempotent = true;
    let r = h.check();
    assert_eq!(kinds(&r), ["key-order"], "{r}");
    assert!(r
        .to_string()
        .contains("sent first by the idempotent producer"));
}

#[test]
fn committed_offsets_must_not_go_backwards() {
    let mut h = healthy();
    h.commit("g", 0, 2).commit("other", 0, 0);
    let r = h.check();
    assert_eq!(kinds(&r), ["commit-regressed"], "{r}");
    assert!(r
        .to_string()
        .contains("group g partition 0: committed offset went from 3"));
}

fn batch(base: i64, last: i64, bytes: &[u8]) -> BatchBytes {
    BatchBytes {
        base_offset: base,
        last_offset: last,
        bytes: bytes.to_vec(),
    }
}

fn dump(node: i32, batches: Vec<BatchBytes>) -> ReplicaDump {
    ReplicaDump {
        node,
        partition: 0,
        batches,
    }
}

#[test]
fn replicas_must_match_below_the_high_watermark_only() {
    let mut h = H::default();
    h.h.high_watermarks.insert(0, 3);
    let leader = vec![batch(0, 1, b"ab"), batch(2, 2, b"c"), batch(3, 3, b"d")];
    // The follower has not yet fetched the batch above the HW: fine.
    h.h.replicas = vec![dump(1, leader.clone()), dump(2, leader[..2].to_vec())];
    assert!(h.check().is_valid(), "{}", h.check());

    h.h.replicas = vec![
        dump(1, leader.clone()),
        dump(2, vec![batch(0, 1, b"ab"), batch(2, 2, b"x")]),
    ];
    let r = h.check();
    assert_eq!(kinds(&r), ["replica-divergence"], "{r}");
    assert!(r
        .to_string()
        .contains("nodes 1/2 differ at the batch at offset 2"));
    assert!(r.to_string().contains("bytes differ from byte 0"));

    h.h.replicas = vec![dump(1, leader.clone()), dump(3, leader[..1].to_vec())];
    let r = h.check();
    assert!(
        r.to_string().contains("second replica lacks 1 batches"),
        "{r}"
    );

    h.h.replicas = vec![
        dump(1, leader),
        dump(2, vec![batch(0, 0, b"a"), batch(1, 2, b"bc")]),
    ];
    assert!(h.check().to_string().contains("batch boundaries differ"));
}

#[test]
fn the_report_caps_each_kind_and_counts_the_rest() {
    let mut h = H::default();
    for id in 0..30 {
        h.acked(id, "a", 0, id as i64);
    }
    let text = h.check().to_string();
    assert!(text.contains("INVALID: 30 anomalies"), "{text}");
    assert!(text.contains("... and 10 more lost"), "{text}");
}

#[test]
fn an_ack_without_offset_counts_where_the_record_was_read() {
    // librdkafka's "persisted, offset unknown" (-1001) after an idempotent retry.
    let mut h = H::idempotent();
    h.acked(0, "a", 0, 0)
        .acked(1, "a", 0, -1001)
        .acked(2, "a", 0, 2)
        .read(0, 0, "a", "v0")
        .read(0, 1, "a", "v1")
        .read(0, 2, "a", "v2");
    assert!(h.check().is_valid(), "{}", h.check());

    let mut missing = H::idempotent();
    missing
        .acked(0, "a", 0, 0)
        .acked(1, "a", 0, -1001)
        .read(0, 0, "a", "v0");
    assert_eq!(kinds(&missing.check()), vec!["lost"]);

    // Read out of order: the resolved offset takes part in the order checks.
    let mut late = H::idempotent();
    late.acked(0, "a", 0, 1)
        .acked(1, "a", 0, -1001)
        .read(0, 0, "a", "v1")
        .read(0, 1, "a", "v0");
    assert!(
        kinds(&late.check()).contains(&"key-order"),
        "{}",
        late.check()
    );
}
