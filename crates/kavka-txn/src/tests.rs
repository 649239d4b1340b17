//! The coordinator's transitions step by step, with explicit time and no sockets.

use super::*;

fn coordinator() -> TxnCoordinator {
    TxnCoordinator::new(TxnConfig {
        max_timeout_ms: 60_000,
        id_expiration_ms: 1_000_000,
    })
}

fn init(c: &mut TxnCoordinator, fresh: i64, now: i64) -> Result<InitDecision, TxnError> {
    c.init_producer_id(
        &InitRequest {
            transactional_id: "t",
            timeout_ms: 10_000,
            producer_id: -1,
            producer_epoch: -1,
        },
        Some(fresh),
        now,
    )
}

fn ready(d: InitDecision) -> (i64, i16) {
    match d {
        InitDecision::Ready {
            producer_id,
            producer_epoch,
            ..
        } => (producer_id, producer_epoch),
        other => panic!("expected Ready, got {other:?}"),
    }
}

fn tp(topic: &str, p: i32) -> TopicPartition {
    (topic.to_string(), p)
}

#[test]
fn a_new_id_gets_the_fresh_producer_id_at_epoch_0_and_a_second_init_bumps_it() {
    let mut c = coordinator();
    assert!(c.needs_producer_id("t"));
    assert_eq!(ready(init(&mut c, 1000, 1).unwrap()), (1000, 0));
    assert!(!c.needs_producer_id("t"));
    assert_eq!(ready(init(&mut c, 2000, 2).unwrap()), (1000, 1));
    let m = c.get("t").unwrap();
    assert_eq!(m.state, TxnState::Empty);
    // As Kafka 4 writes it: the previous producer id of a bump is the same id.
    assert_eq!(m.last_producer_id, 1000);
}

#[test]
fn commit_goes_through_prepare_and_complete() {
    let mut c = coordinator();
    let (pid, epoch) = ready(init(&mut c, 7, 0).unwrap());
    let rec = c
        .add_partitions("t", pid, epoch, &[tp("a", 0), tp("a", 1)], 100)
        .unwrap()
        .unwrap();
    assert_eq!(rec.value.as_ref().unwrap().state, TxnState::Ongoing);
    assert_eq!(rec.value.as_ref().unwrap().start_ms, 100);
    // Adding a partition already in the transaction writes nothing.
    assert_eq!(
        c.add_partitions("t", pid, epoch, &[tp("a", 0)], 110),
        Ok(None)
    );
    let EndDecision::Prepared { record, markers } = c.end_txn("t", pid, epoch, true, 200).unwrap()
    else {
        panic!("not prepared")
    };
    assert_eq!(record.value.unwrap().state, TxnState::PrepareCommit);
    assert!(markers.commit);
    assert_eq!(markers.partitions.len(), 2);
    // A retry while markers are written, and the wrong outcome.
    assert_eq!(
        c.end_txn("t", pid, epoch, true, 210),
        Err(TxnError::ConcurrentTransactions)
    );
    assert_eq!(
        c.end_txn("t", pid, epoch, false, 210),
        Err(TxnError::InvalidTxnState)
    );
    assert_eq!(
        c.add_partitions("t", pid, epoch, &[tp("b", 0)], 210),
        Err(TxnError::ConcurrentTransactions)
    );
    let done = c.complete("t", pid, epoch, 300).unwrap();
    let m = done.value.unwrap();
    assert_eq!(m.state, TxnState::CompleteCommit);
    assert!(m.partitions.is_empty());
    // A retried commit after completion succeeds; an abort does not.
    assert_eq!(
        c.end_txn("t", pid, epoch, true, 310),
        Ok(EndDecision::AlreadyComplete)
    );
    assert_eq!(
        c.end_txn("t", pid, epoch, false, 310),
        Err(TxnError::InvalidTxnState)
    );
    // The next transaction starts afresh.
    let next = c
        .add_partitions("t", pid, epoch, &[tp("b", 0)], 400)
        .unwrap()
        .unwrap()
        .value
        .unwrap();
    assert_eq!(next.partitions.len(), 1);
    assert_eq!(next.start_ms, 400);
}

#[test]
fn end_txn_without_a_transaction_is_an_invalid_state() {
    let mut c = coordinator();
    let (pid, epoch) = ready(init(&mut c, 7, 0).unwrap());
    assert_eq!(
        c.end_txn("t", pid, epoch, true, 1),
        Err(TxnError::InvalidTxnState)
    );
    assert_eq!(
        c.end_txn("u", pid, epoch, true, 1),
        Err(TxnError::InvalidProducerIdMapping)
    );
    assert_eq!(
        c.end_txn("t", pid + 1, epoch, true, 1),
        Err(TxnError::InvalidProducerIdMapping)
    );
}

#[test]
fn a_second_producer_fences_the_first_and_aborts_its_transaction() {
    let mut c = coordinator();
    let (pid, old) = ready(init(&mut c, 7, 0).unwrap());
    c.add_partitions("t", pid, old, &[tp("a", 0)], 10).unwrap();
    // The new producer's InitProducerId aborts the open transaction first.
    let InitDecision::AbortingOngoing { record, markers } = init(&mut c, 99, 20).unwrap() else {
        panic!("should abort first")
    };
    let m = record.value.unwrap();
    assert_eq!(m.state, TxnState::PrepareAbort);
    assert_eq!(m.producer_epoch, old + 1);
    assert!(!markers.commit);
    assert_eq!(markers.producer_epoch, old + 1);
    // The zombie is fenced at once, the new producer retries until complete.
    assert_eq!(
        c.end_txn("t", pid, old, true, 21),
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(
        c.add_partitions("t", pid, old, &[tp("a", 1)], 21),
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(init(&mut c, 99, 22), Err(TxnError::ConcurrentTransactions));
    c.complete("t", pid, old + 1, 30).unwrap();
    assert_eq!(ready(init(&mut c, 99, 40).unwrap()), (pid, old + 2));
    assert_eq!(c.get("t").unwrap().state, TxnState::Empty);
}

#[test]
fn kip_360_bump_with_the_current_epoch_and_its_retry() {
    let mut c = coordinator();
    let (pid, epoch) = ready(init(&mut c, 7, 0).unwrap());
    let req = InitRequest {
        transactional_id: "t",
        timeout_ms: 10_000,
        producer_id: pid,
        producer_epoch: epoch,
    };
    assert_eq!(
        ready(c.init_producer_id(&req, None, 1).unwrap()),
        (pid, epoch + 1)
    );
    // The same request again (its answer was lost): the same answer, no bump.
    assert_eq!(
        ready(c.init_producer_id(&req, None, 2).unwrap()),
        (pid, epoch + 1)
    );
    // An epoch that is neither current nor the last is fenced, as is another id.
    let stale = InitRequest {
        producer_epoch: epoch + 5,
        ..req.clone()
    };
    assert_eq!(
        c.init_producer_id(&stale, None, 3),
        Err(TxnError::ProducerFenced)
    );
    let other = InitRequest {
        producer_id: 12345,
        ..req
    };
    assert_eq!(
        c.init_producer_id(&other, None, 3),
        Err(TxnError::ProducerFenced)
    );
}

#[test]
fn an_exhausted_epoch_rotates_to_a_new_producer_id() {
    let mut c = coordinator();
    init(&mut c, 7, 0).unwrap();
    // Replay a state at the last usable epoch.
    let mut m = c.get("t").unwrap().clone();
    m.producer_epoch = i16::MAX - 1;
    c.replay(TxnRecord::of(&m));
    assert!(c.needs_producer_id("t"));
    let d = init(&mut c, 8, 1).unwrap();
    let InitDecision::Ready { record, .. } = &d else {
        panic!()
    };
    assert_eq!(record.value.as_ref().unwrap().last_producer_id, 7);
    assert_eq!(ready(d), (8, 0));
}

#[test]
fn timeouts_are_checked_against_the_maximum() {
    let mut c = coordinator();
    for timeout_ms in [0, -1, 60_001] {
        let r = c.init_producer_id(
            &InitRequest {
                transactional_id: "t",
                timeout_ms,
                producer_id: -1,
                producer_epoch: -1,
            },
            Some(1),
            0,
        );
        assert_eq!(r, Err(TxnError::InvalidTransactionTimeout));
    }
    assert!(c.get("t").is_none());
}

#[test]
fn a_timed_out_transaction_is_aborted_under_a_bumped_epoch() {
    let mut c = coordinator();
    let (pid, epoch) = ready(init(&mut c, 7, 0).unwrap());
    c.add_partitions("t", pid, epoch, &[tp("a", 0)], 1_000)
        .unwrap();
    assert!(c.timed_out(11_000).is_empty());
    assert_eq!(c.timed_out(11_001), vec!["t".to_string()]);
    assert!(c.abort_timed_out("t", 5_000).is_none());
    let (record, markers) = c.abort_timed_out("t", 11_001).unwrap();
    assert_eq!(record.value.unwrap().state, TxnState::PrepareAbort);
    assert_eq!(markers.producer_epoch, epoch + 1);
    // The producer that let it time out is now a zombie.
    assert_eq!(
        c.end_txn("t", pid, epoch, true, 11_002),
        Err(TxnError::ProducerFenced)
    );
    assert_eq!(c.pending_markers(), vec![markers]);
}

#[test]
fn idle_ids_expire_with_a_tombstone() {
    let mut c = coordinator();
    let (pid, epoch) = ready(init(&mut c, 7, 0).unwrap());
    assert!(c.expire_ids(999_999).is_empty());
    c.add_partitions("t", pid, epoch, &[tp("a", 0)], 10)
        .unwrap();
    // An open transaction never expires the id.
    assert!(c.expire_ids(10_000_000).is_empty());
    c.end_txn("t", pid, epoch, false, 20).unwrap();
    c.complete("t", pid, epoch, 30).unwrap();
    let gone = c.expire_ids(1_000_030);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].value, None);
    assert!(c.get("t").is_none());
}

#[test]
fn a_failed_write_is_undone_by_restore() {
    let mut c = coordinator();
    let (pid, epoch) = ready(init(&mut c, 7, 0).unwrap());
    let saved = c.save("t");
    c.add_partitions("t", pid, epoch, &[tp("a", 0)], 10)
        .unwrap();
    c.restore(saved);
    assert_eq!(c.get("t").unwrap().state, TxnState::Empty);
    let saved = c.save("new");
    c.init_producer_id(
        &InitRequest {
            transactional_id: "new",
            timeout_ms: 1000,
            producer_id: -1,
            producer_epoch: -1,
        },
        Some(9),
        0,
    )
    .unwrap();
    c.restore(saved);
    assert!(c.get("new").is_none());
}

#[test]
fn records_round_trip_and_match_kafkas_layout() {
    let m = TxnMetadata {
        transactional_id: "tx".to_string(),
        producer_id: 5,
        last_producer_id: -1,
        producer_epoch: 2,
        last_producer_epoch: -1,
        timeout_ms: 60_000,
        state: TxnState::Ongoing,
        partitions: [tp("b", 1), tp("a", 0), tp("a", 2)].into_iter().collect(),
        start_ms: 100,
        last_update_ms: 200,
    };
    let (key, value) = TxnRecord::of(&m).encode();
    assert_eq!(key, [0, 0, 0, 2, b't', b'x']);
    let value = value.unwrap();
    // Version 1, producer id, epoch, timeout, status Ongoing.
    assert_eq!(&value[..2], &[0, 1]);
    assert_eq!(&value[2..10], &5i64.to_be_bytes());
    assert_eq!(&value[10..12], &2i16.to_be_bytes());
    assert_eq!(&value[12..16], &60_000i32.to_be_bytes());
    assert_eq!(value[16], 1);
    // Two topics (compact count 3): "a" with [0, 2], then "b" with [1].
    assert_eq!(&value[17..21], &[3, 2, b'a', 3]);
    let back = TxnRecord::decode(&key, Some(&value)).unwrap();
    assert_eq!(back.value.unwrap(), m);
    let tomb = TxnRecord::decode(&key, None).unwrap();
    assert_eq!(tomb.value, None);
    assert_eq!(tomb.transactional_id, "tx");
}

#[test]
fn truncated_or_unknown_records_are_errors_not_panics() {
    let m = TxnMetadata {
        transactional_id: "tx".to_string(),
        producer_id: 5,
        last_producer_id: 4,
        producer_epoch: 2,
        last_producer_epoch: -1,
        timeout_ms: 60_000,
        state: TxnState::CompleteAbort,
        partitions: Default::default(),
        start_ms: 100,
        last_update_ms: 200,
    };
    let (key, value) = TxnRecord::of(&m).encode();
    let value = value.unwrap();
    assert_eq!(
        TxnRecord::decode(&key, Some(&value))
            .unwrap()
            .value
            .unwrap(),
        m
    );
    for cut in 0..value.len() {
        assert!(TxnRecord::decode(&key, Some(&value[..cut])).is_err());
    }
    assert!(TxnRecord::decode(&[0, 9, 0, 0], None).is_err());
    assert!(TxnRecord::decode(&key[..3], None).is_err());
}

#[test]
fn the_partition_of_an_id_uses_javas_hash_code() {
    // "my-group".hashCode() == -1906497762 in Java.
    assert_eq!(
        partition_for_transactional_id("my-group", 50),
        1906497762 % 50
    );
    assert_eq!(partition_for_transactional_id("", 50), 0);
}

proptest::proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(key: Vec<u8>, value: Option<Vec<u8>>) {
        let _ = TxnRecord::decode(&key, value.as_deref());
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Bytes from Apache Kafka 4.4's own `__transaction_state` (`tx-ref`'s partition,
/// written by its coordinator for a Java producer).
const KAFKA_KEY: &str = "0000000674782d726566";
const KAFKA_EMPTY: &str =
    "0001000000000000000000000000ea600000000001a2374e52b4ffffffffffffffff0100080000000000000000";
const KAFKA_ONGOING: &str = "0001000000000000000000000000ea600102037474020000000100000001a2374e53a3000001a2374e53a3020008000000000000000002020002";

#[test]
fn kafkas_own_records_read_and_an_empty_state_is_written_byte_for_byte() {
    let ongoing = TxnRecord::decode(&unhex(KAFKA_KEY), Some(&unhex(KAFKA_ONGOING))).unwrap();
    assert_eq!(ongoing.transactional_id, "tx-ref");
    let m = ongoing.value.unwrap();
    assert_eq!(m.state, TxnState::Ongoing);
    assert_eq!(m.producer_id, 0);
    assert_eq!(m.timeout_ms, 60_000);
    assert_eq!(m.partitions, [tp("tt", 1)].into_iter().collect());
    assert_eq!(m.start_ms, 0x1a2374e53a3);

    let empty = TxnMetadata {
        transactional_id: "tx-ref".to_string(),
        producer_id: 0,
        last_producer_id: 0,
        producer_epoch: 0,
        last_producer_epoch: -1,
        timeout_ms: 60_000,
        state: TxnState::Empty,
        partitions: Default::default(),
        start_ms: -1,
        last_update_ms: 0x1a2374e52b4,
    };
    let (key, value) = TxnRecord::of(&empty).encode();
    assert_eq!(key, unhex(KAFKA_KEY));
    assert_eq!(value.unwrap(), unhex(KAFKA_EMPTY));
}

#[test]
fn a_kafka_value_keeps_every_field_and_encodes_back_to_its_bytes() {
    let bytes = unhex(KAFKA_ONGOING);
    let v = TransactionLogValue::decode(&bytes).unwrap();
    assert_eq!(v.version, 1);
    // Kafka's tagged fields: the previous producer id and the client's version 2.
    assert_eq!(v.previous_producer_id, 0);
    assert_eq!(v.client_transaction_version, 2);
    assert_eq!((v.next_producer_id, v.next_producer_epoch), (-1, -1));
    assert_eq!(
        v.transaction_partitions,
        Some(vec![("tt".to_string(), vec![1])])
    );
    assert_eq!(v.encode(), bytes);
    let empty = TransactionLogValue::decode(&unhex(KAFKA_EMPTY)).unwrap();
    assert_eq!(empty.transaction_partitions, None);
}
