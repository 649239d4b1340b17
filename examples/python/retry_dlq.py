#!/usr/bin/env python3
"""Retries with bounded exponential backoff, a retry topic, and a dead-letter topic for
records that keep failing; the consumer is killed with SIGKILL mid-stream and
restarted, and the check is that nothing is lost: processed + dead-lettered = produced.

    retry_dlq.py --bootstrap H:P [--records 2000] [--kills 2] [--seed 7]

Each record goes through up to three stages:
  1. `orders`: up to --attempts tries in place, sleeping base*2^k ms (capped) between
     them; transient failures (a flaky dependency) mostly clear here.
  2. `orders-retry`: a record still failing is handed to the retry topic with a
     not-before time, so a slow dependency gets minutes, not milliseconds, and the
     main stream keeps moving; it gets --attempts more tries there.
  3. `orders-dlq`: a record that fails those too is dead-lettered, with headers naming
     where it came from (topic, partition, offset), the last error and the attempts.
Offsets are committed only after the batch's retry and dead-letter records are
acknowledged (acks=all), so a crash can repeat work but never drop a record.
The failures are simulated and seeded: 2% of the records always fail (poison), 20%
fail 1 to 5 times and then succeed.
"""

import random
import sys
import time

from confluent_kafka import Consumer

import common

POISON_EVERY = 50


def failures_before_success(n, seed):
    """How many tries record n fails before it succeeds; None: it never does."""
    if n % POISON_EVERY == 7:
        return None
    rng = random.Random(f"{seed}-{n}")
    return rng.randint(1, 5) if rng.random() < 0.2 else 0


def handle(n, attempt, seed):
    """The business logic: raises on a (simulated) failure."""
    fails = failures_before_success(n, seed)
    if fails is None:
        raise ValueError(f"order {n}: malformed order (rejected on every try)")
    if attempt <= fails:
        raise TimeoutError(f"order {n}: inventory service timed out (try {attempt})")


def header(msg, name, default=None):
    for k, v in msg.headers() or []:
        if k == name:
            return v.decode()
    return default


def work(args):
    """One consumer process; the driver kills and restarts it."""
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap, "group.id": args.group,
        "group.instance.id": f"{args.group}-worker", "session.timeout.ms": 10000,
        "enable.auto.commit": False, "auto.offset.reset": "earliest", **common.QUIET})
    producer = common.durable_producer(args.bootstrap)
    # One consumer reads both topics to keep the example in one process; in production
    # the retry topic has its own consumer so that waiting for a not-before time never
    # holds up the main stream.
    consumer.subscribe([args.topic, args.retry_topic])
    while True:
        batch = [m for m in consumer.consume(args.batch, timeout=1.0) if not m.error()]
        if not batch:
            if common.caught_up(consumer):
                break
            continue
        for m in batch:
            n = int(m.value())
            from_retry = m.topic() == args.retry_topic
            if from_retry:
                wait = float(header(m, "retry.not-before")) - time.time()
                if wait > 0:
                    time.sleep(wait)
            done = int(header(m, "retry.attempts", "0"))
            error = None
            for k in range(args.attempts):
                attempt = done + k + 1
                try:
                    handle(n, attempt, args.seed)
                    error = None
                    break
                except (ValueError, TimeoutError) as e:
                    error = e
                    if k + 1 < args.attempts:
                        time.sleep(min(args.backoff_ms * 2 ** k, args.backoff_max_ms) / 1000)
                        print(f"T {n}", flush=True)
            if error is None:
                print(f"P {n}", flush=True)
                continue
            origin = [("original.topic", header(m, "original.topic", m.topic())),
                      ("original.partition", header(m, "original.partition", str(m.partition()))),
                      ("original.offset", header(m, "original.offset", str(m.offset())))]
            tries = done + args.attempts
            if not from_retry:
                not_before = time.time() + args.retry_delay_ms / 1000
                producer.produce(args.retry_topic, key=m.key(), value=m.value(), headers=origin + [
                    ("retry.attempts", str(tries)), ("retry.not-before", f"{not_before:.3f}"),
                    ("retry.error", str(error))])
                print(f"R {n}", flush=True)
            else:
                producer.produce(args.dlq_topic, key=m.key(), value=m.value(), headers=origin + [
                    ("dlq.error", str(error)), ("dlq.error.class", type(error).__name__),
                    ("dlq.attempts", str(tries))])
                print(f"D {n}", flush=True)
        # Retry and dead-letter records must be acknowledged before the offsets that
        # drop the originals are committed; the other order could lose them.
        if producer.flush(60) != 0:
            raise SystemExit("retry/dead-letter records not acknowledged in 60 s")
        consumer.commit(asynchronous=False)
    consumer.close()
    return 0


def drive(args):
    topic = f"rd-{args.run_id}-orders"
    retry_topic, dlq_topic = f"{topic}-retry", f"{topic}-dlq"
    common.create_topics(args.bootstrap, [topic], args.partitions, args.replication_factor)
    common.create_topics(args.bootstrap, [retry_topic, dlq_topic], 1, args.replication_factor)
    common.produce_numbered(args.bootstrap, topic, args.records)
    points = common.kill_points(common.seeded(args.seed, "retry"), args.kills,
                                args.records // 10, args.records * 6 // 10)
    print(f"retry_dlq: {args.records} records in {topic}, up to {args.attempts} tries in place "
          f"(backoff {args.backoff_ms} ms doubling, at most {args.backoff_max_ms} ms), "
          f"{args.attempts} more via {retry_topic}, SIGKILL after {points} records processed")
    cmd = [sys.executable, __file__, "work", "--bootstrap", args.bootstrap, "--topic", topic,
           "--retry-topic", retry_topic, "--dlq-topic", dlq_topic, "--group", f"rd-{args.run_id}",
           "--seed", str(args.seed), "--attempts", str(args.attempts),
           "--backoff-ms", str(args.backoff_ms), "--backoff-max-ms", str(args.backoff_max_ms),
           "--retry-delay-ms", str(args.retry_delay_ms), "--batch", str(args.batch)]
    lines = common.run_with_kills(cmd, points, timeout=args.timeout)
    processed = [int(l[2:]) for l in lines if l.startswith("P ")]
    retried_in_place = {int(l[2:]) for l in lines if l.startswith("T ")}
    via_retry_topic = {int(l[2:]) for l in lines if l.startswith("R ")}

    dlq = common.read_all(args.bootstrap, dlq_topic)
    dead = [int(m.value()) for m in dlq]
    bad_headers = sum(1 for m in dlq if None in (
        header(m, "original.topic"), header(m, "original.partition"), header(m, "original.offset"),
        header(m, "dlq.error"), header(m, "dlq.attempts"))
        or header(m, "original.topic") != topic
        or int(header(m, "dlq.attempts")) != 2 * args.attempts)
    poison = {n for n in range(args.records) if failures_before_success(n, args.seed) is None}

    handled = set(processed) | set(dead)
    lost = args.records - len(handled & set(range(args.records)))
    both = len(set(processed) & set(dead))
    common.table([[args.records, len(set(processed)), len(retried_in_place), len(via_retry_topic),
                   len(set(dead)), lost, len(processed) - len(set(processed)), len(dead) - len(set(dead))]],
                 ["produced", "processed", "retried in place", "via retry topic", "dead-lettered",
                  "lost", "processed twice", "dead-lettered twice"])
    print(f"dead-letter records with wrong or missing headers: {bad_headers}")
    ok = lost == 0 and both == 0 and set(dead) == poison and bad_headers == 0 \
        and len(set(processed)) + len(set(dead)) == args.records
    print(f"check: processed + dead-lettered = produced ({len(set(processed))} + {len(set(dead))} = "
          f"{args.records}), exactly the {len(poison)} poison records dead-lettered:",
          "ok" if ok else "FAIL")
    return 0 if ok else 1


def main():
    p = common.base_parser(__doc__.splitlines()[0])
    p.add_argument("--attempts", type=int, default=3, help="tries per stage")
    p.add_argument("--backoff-ms", type=int, default=5, help="first backoff; doubles each try")
    p.add_argument("--backoff-max-ms", type=int, default=100, help="backoff cap")
    p.add_argument("--retry-delay-ms", type=int, default=300, help="how long a record waits in the retry topic")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--timeout", type=float, default=180.0)
    if len(sys.argv) > 1 and sys.argv[1] == "work":
        p.add_argument("work")
        p.add_argument("--topic", required=True)
        p.add_argument("--retry-topic", required=True)
        p.add_argument("--dlq-topic", required=True)
        p.add_argument("--group", required=True)
        return work(p.parse_args())
    p.set_defaults(kills=2)
    return drive(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
