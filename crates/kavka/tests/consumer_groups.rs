//! Consumer groups through librdkafka: partitions split within a group, every
//! group gets everything, commits survive restarts.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;

/// Brokers in these tests skip the 3 s initial rebalance delay to stay fast.
fn group_broker() -> TestBroker {
    TestBroker::start_with(&["group.initial.rebalance.delay.ms=0"])
}

fn group_consumer(bs: &str, group: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut c = client_config(bs);
    c.set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().expect("consumer")
}

/// Polls every consumer until each one's assignment is stable and, together,
/// they own `partitions` partitions; returns the partition lists.
fn settle(consumers: &[BaseConsumer], partitions: usize, timeout: Duration) -> Vec<Vec<i32>> {
    let deadline = Instant::now() + timeout;
    let mut stable_since = Instant::now();
    let mut last: Vec<Vec<i32>> = vec![];
    loop {
        for c in consumers {
            let _ = c.poll(Duration::from_millis(50));
        }
        let now: Vec<Vec<i32>> = consumers
            .iter()
            .map(|c| {
                let mut ps: Vec<i32> = c
                    .assignment()
                    .map(|a| a.elements().iter().map(|e| e.partition()).collect())
                    .unwrap_or_default();
                ps.sort();
                ps
            })
            .collect();
        if now != last {
            last = now.clone();
            stable_since = Instant::now();
        }
        let total: usize = now.iter().map(|v| v.len()).sum();
        if total == partitions && stable_since.elapsed() > Duration::from_millis(1500) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "assignments never settled: {now:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_to_four_consumers_split_three_partitions() {
    let broker = group_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "orders", 3).await;
    for members in 1..=4usize {
        let group = format!("split-{members}");
        let consumers: Vec<BaseConsumer> = (0..members)
            .map(|_| {
                let c = group_consumer(&bs, &group, &[]);
                c.subscribe(&["orders"]).unwrap();
                c
            })
            .collect();
        let assignment = settle(&consumers, 3, Duration::from_secs(40));
        let mut sizes: Vec<usize> = assignment.iter().map(|a| a.len()).collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        let expected: Vec<usize> = match members {
            1 => vec![3],
            2 => vec![2, 1],
            3 => vec![1, 1, 1],
            _ => vec![1, 1, 1, 0],
        };
        assert_eq!(sizes, expected, "{members} members got {assignment:?}");
        let owned: HashSet<i32> = assignment.iter().flatten().copied().collect();
        assert_eq!(owned.len(), 3, "a partition is owned twice: {assignment:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_group_gets_every_record_and_a_group_gets_each_once() {
    let broker = group_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "events", 3).await;

    // Group A has two members splitting the partitions; group B has one. Both settle
    // before anything is produced, so no rebalance can replay records.
    let a: Vec<BaseConsumer> = (0..2)
        .map(|_| group_consumer(&bs, "group-a", &[]))
        .collect();
    let b = vec![group_consumer(&bs, "group-b", &[])];
    for c in a.iter().chain(b.iter()) {
        c.subscribe(&["events"]).unwrap();
    }
    let split = settle(&a, 3, Duration::from_secs(40));
    assert!(split.iter().all(|s| !s.is_empty()), "{split:?}");
    settle(&b, 3, Duration::from_secs(40));

    let p = producer(&bs, &[]);
    let values: Vec<String> = (0..300).map(|i| format!("e{i}")).collect();
    send_all(
        &p,
        "events",
        values.iter().map(|v| (Some(v.as_bytes()), v.as_bytes())),
    )
    .await;
    let read = |consumers: &[BaseConsumer]| {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(40);
        while seen.values().sum::<usize>() < 300 && Instant::now() < deadline {
            for c in consumers {
                if let Some(Ok(m)) = c.poll(Duration::from_millis(50)) {
                    *seen
                        .entry(String::from_utf8(payload(&m.detach())).unwrap())
                        .or_default() += 1;
                }
            }
        }
        seen
    };
    let seen_a = read(&a);
    let seen_b = read(&b);
    for seen in [&seen_a, &seen_b] {
        assert_eq!(seen.len(), 300);
        assert!(
            seen.values().all(|&n| n == 1),
            "a record was consumed twice within a group"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_then_restart_resumes_after_the_commit_even_after_kill_nine() {
    let mut broker = group_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "resume", 1).await;
    let p = producer(&bs, &[]);
    let values: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
    send_all(&p, "resume", values.iter().map(|v| (None, v.as_bytes()))).await;

    {
        let c = group_consumer(&bs, "resumers", &[]);
        c.subscribe(&["resume"]).unwrap();
        let got = consume_n(&c, 8, Duration::from_secs(30));
        assert_eq!(got.len(), 8);
        c.commit_consumer_state(CommitMode::Sync).unwrap();
        c.unsubscribe();
    }
    broker.kill9();
    broker.restart();

    let c = group_consumer(&bs, "resumers", &[]);
    c.subscribe(&["resume"]).unwrap();
    let got = consume_n(&c, 12, Duration::from_secs(30));
    let offsets: Vec<i64> = got.iter().map(|m| m.offset()).collect();
    assert_eq!(offsets, (8..20).collect::<Vec<i64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_group_starts_at_earliest_or_latest_as_configured() {
    let broker = group_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "reset", 1).await;
    let p = producer(&bs, &[]);
    send_all(
        &p,
        "reset",
        ["old1", "old2"].iter().map(|v| (None, v.as_bytes())),
    )
    .await;

    let earliest = group_consumer(&bs, "from-earliest", &[]);
    earliest.subscribe(&["reset"]).unwrap();
    let got = consume_n(&earliest, 2, Duration::from_secs(30));
    assert_eq!(
        got.iter().map(payload).collect::<Vec<_>>(),
        vec![b"old1".to_vec(), b"old2".to_vec()]
    );

    let latest = group_consumer(&bs, "from-latest", &[("auto.offset.reset", "latest")]);
    latest.subscribe(&["reset"]).unwrap();
    settle(std::slice::from_ref(&latest), 1, Duration::from_secs(30));
    // Let the consumer resolve its starting position before new records arrive.
    let _ = consume_n(&latest, 1, Duration::from_secs(2));
    send_all(&p, "reset", ["new1"].iter().map(|v| (None, v.as_bytes()))).await;
    let got = consume_n(&latest, 1, Duration::from_secs(20));
    assert_eq!(
        got.iter().map(payload).collect::<Vec<_>>(),
        vec![b"new1".to_vec()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_or_crashed_members_have_their_partitions_reassigned() {
    let broker = group_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "handover", 3).await;
    for strategy in ["range", "cooperative-sticky"] {
        let group = format!("handover-{strategy}");
        let extra = [("partition.assignment.strategy", strategy)];
        let stay = group_consumer(&bs, &group, &extra);
        let leave = group_consumer(&bs, &group, &extra);
        stay.subscribe(&["handover"]).unwrap();
        leave.subscribe(&["handover"]).unwrap();
        let both = [stay, leave];
        let split = settle(&both, 3, Duration::from_secs(40));
        assert!(split.iter().all(|s| !s.is_empty()), "{strategy}: {split:?}");
        let [stay, leave] = both;
        drop(leave); // closes the consumer: LeaveGroup
        eprintln!("{strategy}: split {split:?}, one leaves");
        let alone = settle(std::slice::from_ref(&stay), 3, Duration::from_secs(40));
        assert_eq!(alone, vec![vec![0, 1, 2]], "{strategy}");
    }

    // A member whose process dies is expired after its session timeout.
    let group = "crashers";
    let survivor = group_consumer(&bs, group, &[]);
    survivor.subscribe(&["handover"]).unwrap();
    let mut crasher = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_helper_member", "--ignored", "--nocapture"])
        .env("KAVKA_CRASH_HELPER", format!("{bs} {group} handover"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The survivor gives up part of the topic once the other process has joined.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let _ = survivor.poll(Duration::from_millis(50));
        let owned = survivor.assignment().map(|a| a.count()).unwrap_or(0);
        if (1..3).contains(&owned) {
            break;
        }
        assert!(Instant::now() < deadline, "the second member never joined");
    }
    crasher.kill().unwrap();
    crasher.wait().unwrap();
    let alone = settle(std::slice::from_ref(&survivor), 3, Duration::from_secs(40));
    assert_eq!(alone, vec![vec![0, 1, 2]]);
}

/// Runs as a separate process for the crash test: joins a group and polls until killed.
#[test]
#[ignore = "helper process, started by leaving_or_crashed_members_have_their_partitions_reassigned"]
fn crash_helper_member() {
    let Ok(spec) = std::env::var("KAVKA_CRASH_HELPER") else {
        return;
    };
    let parts: Vec<&str> = spec.split(' ').collect();
    let c = group_consumer(parts[0], parts[1], &[]);
    c.subscribe(&[parts[2]]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let _ = c.poll(Duration::from_millis(100));
    }
}

/// Counts rebalances a consumer goes through.
struct CountingContext(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl rdkafka::client::ClientContext for CountingContext {}

impl rdkafka::consumer::ConsumerContext for CountingContext {
    fn pre_rebalance(
        &self,
        _consumer: &BaseConsumer<Self>,
        _rebalance: &rdkafka::consumer::Rebalance<'_>,
    ) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_member_restarting_within_session_timeout_causes_no_rebalance() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let broker = group_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "static", 4).await;
    let static_member = |id: &str| {
        let c = group_consumer(&bs, "statics", &[("group.instance.id", id)]);
        c.subscribe(&["static"]).unwrap();
        c
    };
    let rebalances = Arc::new(AtomicUsize::new(0));
    let mut cfg = client_config(&bs);
    cfg.set("group.id", "statics")
        .set("group.instance.id", "b")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500");
    let b: BaseConsumer<CountingContext> = cfg
        .create_with_context(CountingContext(rebalances.clone()))
        .unwrap();
    b.subscribe(&["static"]).unwrap();
    let a = static_member("a");

    // Settle both (polling b through the same loop as a).
    let deadline = Instant::now() + Duration::from_secs(40);
    let owned = |c: &dyn Fn() -> usize| c();
    loop {
        let _ = a.poll(Duration::from_millis(50));
        let _ = b.poll(Duration::from_millis(50));
        let na = a.assignment().map(|x| x.count()).unwrap_or(0);
        let nb = b.assignment().map(|x| x.count()).unwrap_or(0);
        if na == 2 && nb == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "never settled: a={na} b={nb}");
    }
    let a_partitions: Vec<i32> = a
        .assignment()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect();
    let _ = owned;
    // Let any trailing rebalance callbacks land before counting.
    for _ in 0..20 {
        let _ = a.poll(Duration::from_millis(50));
        let _ = b.poll(Duration::from_millis(50));
    }
    let before = rebalances.load(Ordering::SeqCst);

    // A static member closes without leaving the group, then comes back in time.
    drop(a);
    let a2 = static_member("a");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let _ = a2.poll(Duration::from_millis(50));
        let _ = b.poll(Duration::from_millis(50));
        if a2.assignment().map(|x| x.count()).unwrap_or(0) == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "returning static member got nothing"
        );
    }
    for _ in 0..40 {
        let _ = a2.poll(Duration::from_millis(50));
        let _ = b.poll(Duration::from_millis(50));
    }
    let again: Vec<i32> = a2
        .assignment()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect();
    assert_eq!(
        again, a_partitions,
        "the returning member should get its old partitions"
    );
    assert_eq!(
        rebalances.load(Ordering::SeqCst),
        before,
        "the other member saw a rebalance"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_static_member_expires_after_its_session_timeout() {
    use rdkafka::admin::AdminOptions;
    let broker = group_broker();
    let bs = broker.bootstrap();
    create_topic(&bs, "expiry", 1).await;
    {
        let c = group_consumer(&bs, "expiring", &[("group.instance.id", "static-1")]);
        c.subscribe(&["expiry"]).unwrap();
        settle(std::slice::from_ref(&c), 1, Duration::from_secs(30));
        // Closing a static member sends no LeaveGroup: only the session ends it.
    }
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let r = admin(&bs)
        .delete_groups(&["expiring"], &AdminOptions::new())
        .await
        .unwrap();
    assert!(r[0].is_ok(), "{r:?}");
}
