#!/usr/bin/env python3
"""At-most-once, at-least-once and exactly-once consumers, each killed with SIGKILL
mid-stream and restarted; counts what each one lost and what it processed twice.

    delivery_semantics.py --bootstrap H:P [--records 2000] [--kills 3] [--seed 7]
    delivery_semantics.py --bootstrap H:P,H:P,H:P --replication-factor 3 \
        --kill-broker 'kavka cluster kill {node}' --restart-broker 'kavka cluster start {node}'

The three consumers read the same N numbered records, each in its own group, and
differ only in when they commit relative to processing:

  at-most-once   commit the batch, then process it: a crash in between loses the
                 rest of the batch (the restart resumes after it)
  at-least-once  process the batch, then commit: a crash in between processes the
                 batch's head again after the restart
  exactly-once   the results go to an output topic in a transaction that also
                 carries the input offsets; a crash aborts both together, so the
                 output read with read_committed has every record once

With --kill-broker no consumer is killed; instead a producer with acks=all and
idempotence writes the records while a broker is killed and restarted, and an
at-least-once consumer reads meanwhile. The checks: every acknowledged record is in
the log exactly once, and the consumer saw every one of them. `{node}` in the commands
is replaced by the node id of partition 0's leader.
"""

import subprocess
import sys
import threading
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

import common

MODES = ["at-most-once", "at-least-once", "exactly-once"]


def process(record, work_ms):
    """The side effect: one line on stdout, which the driver counts (it survives the kill)."""
    time.sleep(work_ms / 1000)
    print(f"P {int(record.value())}", flush=True)


def consume(args):
    """One consumer process; the driver kills and restarts it."""
    eos = args.mode == "exactly-once"
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        # Static membership: the restarted process takes its partitions back at once
        # instead of waiting for the killed member's session to time out.
        "group.instance.id": f"{args.group}-worker",
        "session.timeout.ms": 10000,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # The exactly-once reader must not see records of aborted transactions; the
        # input here is not transactional, but a pipeline's input often is.
        "isolation.level": "read_committed" if eos else "read_uncommitted",
        **common.QUIET,
    })
    producer = None
    if eos:
        # The same transactional.id on every restart: init_transactions fences the
        # killed instance and aborts whatever transaction it left open.
        producer = Producer({"bootstrap.servers": args.bootstrap,
                             "transactional.id": f"{args.group}-txn", **common.QUIET})
        producer.init_transactions(60)
    consumer.subscribe([args.topic])
    # With --until-sentinels the input is still being written while this runs, so
    # standing at the end proves nothing; the producer marks each partition's end.
    partitions = len(consumer.list_topics(args.topic, timeout=10).topics[args.topic].partitions)
    ended = set()
    while True:
        batch = [m for m in consumer.consume(args.batch, timeout=1.0) if not m.error()]
        if args.until_sentinels:
            ended |= {m.partition() for m in batch if m.value() == b"end"}
            batch = [m for m in batch if m.value() != b"end"]
            if len(ended) == partitions and not batch:
                break
        if not batch:
            if not args.until_sentinels and common.caught_up(consumer):
                break
            continue
        if args.mode == "at-most-once":
            consumer.commit(asynchronous=False)
            for m in batch:
                process(m, args.work_ms)
        elif args.mode == "at-least-once":
            for m in batch:
                process(m, args.work_ms)
            consumer.commit(asynchronous=False)
        else:
            producer.begin_transaction()
            for m in batch:
                # Here the printed line is an attempt, a side effect outside Kafka that
                # no transaction can take back; the result that counts is the record.
                process(m, args.work_ms)
                producer.produce(args.output, key=m.key(), value=m.value())
            producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                                 consumer.consumer_group_metadata(), 30)
            producer.commit_transaction(60)
    consumer.close()
    return 0


def drive(args):
    has_txn = common.broker_has_transactions(args.bootstrap)
    topic = f"ds-{args.run_id}-input"
    common.create_topics(args.bootstrap, [topic], args.partitions, args.replication_factor)
    common.produce_numbered(args.bootstrap, topic, args.records)
    expected = range(args.records)
    print(f"delivery_semantics: {args.records} records in {topic}, {args.kills} SIGKILLs per consumer, "
          f"seed {args.seed}")
    rows, failures = [], []
    for mode in MODES:
        if mode == "exactly-once" and not has_txn:
            rows.append([mode, "-", "-", "-", "-", "-", "SKIPPED (broker has no transactions)"])
            if args.require_transactions:
                failures.append(mode)
            continue
        group = f"ds-{args.run_id}-{mode}"
        output = f"ds-{args.run_id}-{mode}-output"
        if mode == "exactly-once":
            common.create_topics(args.bootstrap, [output], args.partitions, args.replication_factor)
        points = common.kill_points(common.seeded(args.seed, mode), args.kills,
                                    args.records // 10, args.records * 6 // 10)
        cmd = [sys.executable, __file__, "consume", "--bootstrap", args.bootstrap, "--mode", mode,
               "--topic", topic, "--group", group, "--output", output,
               "--batch", str(args.batch), "--work-ms", str(args.work_ms)]
        lines = common.run_with_kills(cmd, points, timeout=args.timeout)
        side_effects = [int(l[2:]) for l in lines if l.startswith("P ")]
        if mode == "exactly-once":
            results = [int(m.value()) for m in common.read_all(args.bootstrap, output)]
        else:
            results = side_effects
        lost, dup = common.count_lost_and_duplicated(expected, results)
        ok = {"at-most-once": dup == 0, "at-least-once": lost == 0,
              "exactly-once": lost == 0 and dup == 0}[mode]
        if not ok:
            failures.append(mode)
        rows.append([mode, len(points), len(side_effects), len(results), lost, dup,
                     "ok" if ok else "FAIL"])
    print()
    common.table(rows, ["mode", "kills", "side effects", "results", "lost", "duplicated", "check"])
    print()
    print("results: for exactly-once the records in the output topic read with read_committed,\n"
          "otherwise the side effects; side effects of exactly-once count attempts, including\n"
          "those of aborted transactions. The checks: at-most-once never duplicates,\n"
          "at-least-once never loses, exactly-once does neither.")
    if failures:
        print(f"FAILED: {', '.join(failures)}")
        return 1
    return 0


def drive_broker_kill(args):
    """Produce through a broker crash: acks=all + idempotence keep every acknowledged record, once."""
    topic = f"ds-{args.run_id}-broker-kill"
    common.create_topics(args.bootstrap, [topic], args.partitions, args.replication_factor,
                         {"min.insync.replicas": "2"})
    acked, failed = [], []

    def report(err, msg):
        (failed if err else acked).append(int(msg.key()))

    producer = common.durable_producer(args.bootstrap, **{"message.timeout.ms": 120000})
    kill_at, restart_at = args.records // 3, args.records * 2 // 3
    actions = []
    print(f"delivery_semantics --kill-broker: {args.records} records to {topic} "
          f"(RF {args.replication_factor}, min.insync.replicas=2, acks=all, idempotence)")

    # Kill the leader of partition 0, so that the crash always hits a partition leader.
    md = AdminClient({"bootstrap.servers": args.bootstrap, **common.QUIET}).list_topics(topic, timeout=10)
    node = md.topics[topic].partitions[0].leader

    def run(cmd, what, sent):
        started, acknowledged = time.time(), len(acked)
        rc = subprocess.run(cmd.format(node=node), shell=True, stdout=sys.stderr).returncode
        actions.append(f"{what} (node {node}) after {sent} records sent, {acknowledged} acknowledged: "
                       f"exit {rc}, {time.time() - started:.1f} s")

    # An at-least-once consumer reads while the broker dies: its group coordinator or
    # its partitions' leader may be the node that goes.
    consumer_lines = []
    consumer = subprocess.Popen(
        [sys.executable, __file__, "consume", "--bootstrap", args.bootstrap, "--mode", "at-least-once",
         "--topic", topic, "--group", f"{topic}-reader", "--output", "-", "--until-sentinels",
         "--work-ms", "0"], stdout=subprocess.PIPE, text=True, bufsize=1)
    reader = threading.Thread(target=lambda: consumer_lines.extend(consumer.stdout))
    reader.start()

    # The first record waits for the producer id and metadata, so that the kill lands
    # in a stream that is flowing, not in the producer's start.
    producer.produce(topic, key="0", value="0", on_delivery=report)
    producer.flush(60)
    background, killed_at = [], None
    for i in range(1, args.records):
        # Kill once a third is acknowledged (not merely sent), restart a third later.
        if killed_at is None and len(acked) >= kill_at:
            run(args.kill_broker, "broker killed", i)
            killed_at = i
        if killed_at is not None and not background and i - killed_at >= restart_at - kill_at:
            # Restarting waits for the node; producing goes on meanwhile.
            t = threading.Thread(target=run, args=(args.restart_broker, "broker restarted", i))
            t.start()
            background.append(t)
        producer.produce(topic, key=str(i), value=str(i), on_delivery=report)
        producer.poll(0)
        time.sleep(args.work_ms / 1000)
    if killed_at is None:
        print("note: acknowledgements lagged; the broker is killed after the last send", file=sys.stderr)
        run(args.kill_broker, "broker killed", args.records)
        killed_at = args.records
    if not background:
        background.append(threading.Thread(target=run, args=(args.restart_broker, "broker restarted",
                                                             args.records)))
        background[0].start()
    remaining = producer.flush(150)
    for t in background:
        t.join()
    for p in range(args.partitions):
        producer.produce(topic, value=b"end", partition=p)
    producer.flush(60)
    try:
        consumer.wait(timeout=120)
    except subprocess.TimeoutExpired:
        consumer.kill()
        consumer.wait()
    reader.join()
    consumed = [int(l[2:]) for l in consumer_lines if l.startswith("P ")]
    in_log = [int(m.value()) for m in common.read_all(args.bootstrap, topic, timeout=90)
              if m.value() != b"end"]
    lost_acked, dup = common.count_lost_and_duplicated(acked, in_log)
    consumer_lost, consumer_dup = common.count_lost_and_duplicated(acked, consumed)
    for a in actions:
        print(f"  {a}")
    print()
    common.table([["producer (acks=all, idempotent)", args.records, len(acked), len(failed) + remaining,
                   len(in_log), lost_acked, dup],
                  ["consumer (at-least-once)", "-", "-", "-", len(consumed), consumer_lost, consumer_dup]],
                 ["", "produced", "acknowledged", "not acknowledged", "in log / consumed",
                  "acked but lost", "duplicated"])
    ok = lost_acked == 0 and dup == 0 and len(acked) > 0
    consumer_ok = consumer.returncode == 0 and consumer_lost == 0
    print("check: every acknowledged record is in the log once:", "ok" if ok else "FAIL")
    print(f"check: the consumer (exit {consumer.returncode}) saw every acknowledged record:",
          "ok" if consumer_ok else "FAIL")
    return 0 if ok and consumer_ok else 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "consume":
        p = common.base_parser("one consumer process (started by the driver)")
        p.add_argument("consume")
        p.add_argument("--mode", choices=MODES, required=True)
        p.add_argument("--topic", required=True)
        p.add_argument("--group", required=True)
        p.add_argument("--output", required=True)
        p.add_argument("--batch", type=int, default=100)
        p.add_argument("--work-ms", type=float, default=1.0)
        p.add_argument("--until-sentinels", action="store_true")
        return consume(p.parse_args())
    p = common.base_parser(__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=100, help="records per consume() and per commit")
    p.add_argument("--work-ms", type=float, default=1.0, help="simulated work per record")
    p.add_argument("--timeout", type=float, default=180.0, help="per consumer, kills included")
    p.add_argument("--kill-broker", help="shell command that kills a broker (enables the broker-kill run)")
    p.add_argument("--restart-broker", help="shell command that starts it again")
    args = p.parse_args()
    if args.kill_broker:
        if not args.restart_broker:
            p.error("--kill-broker needs --restart-broker")
        if args.replication_factor < 3:
            # min.insync.replicas=2 must still hold with one broker down.
            p.error("--kill-broker needs --replication-factor 3 (and three brokers)")
        return drive_broker_kill(args)
    return drive(args)


if __name__ == "__main__":
    sys.exit(main())
