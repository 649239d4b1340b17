#!/usr/bin/env python3
"""An exactly-once read-process-write pipeline (consume `input`, transform, produce
`output`, the input offsets in the same transaction), killed with SIGKILL mid-stream
and restarted; a verifier then reads `output` with read_committed.

    eos_pipeline.py --bootstrap H:P [--records 2000] [--kills 3] [--seed 7]
    eos_pipeline.py --bootstrap H:P --no-transactions    # the same without a transaction: FAILS
    eos_pipeline.py verify --bootstrap H:P --input T --output T --aborted M

The input is written in transactions too: N records committed, then M records in a
transaction that is aborted. The pipeline reads with read_committed, so the M never
reach it. Each killed run leaves an open transaction behind; the restart (same
transactional.id) fences the dead instance and aborts it, so the output log holds
aborted copies that a read_committed reader skips. The verifier fails unless each
of the N appears in `output` exactly once, correctly transformed, and none of the M.
"""

import json
import sys
import time

from confluent_kafka import Consumer, Producer

import common


def transform(value):
    n = int(value)
    return json.dumps({"n": n, "square": n * n}).encode()


def produce_input(bootstrap, topic, committed, aborted):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-source",
                  "partitioner": "murmur2_random", **common.QUIET})
    p.init_transactions(60)
    for start in range(0, committed, 500):
        p.begin_transaction()
        for i in range(start, min(start + 500, committed)):
            p.produce(topic, key=str(i), value=str(i))
        p.commit_transaction(60)
    p.begin_transaction()
    for i in range(committed, committed + aborted):
        p.produce(topic, key=str(i), value=str(i))
    p.flush(60)
    p.abort_transaction(60)


def pipeline(args):
    """One pipeline process; the driver kills and restarts it."""
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap, "group.id": args.group,
        "group.instance.id": f"{args.group}-worker", "session.timeout.ms": 10000,
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
        "isolation.level": "read_committed", **common.QUIET})
    if args.no_transactions:
        producer = common.durable_producer(args.bootstrap)
    else:
        # Stable across restarts: the new instance fences the killed one and aborts its
        # open transaction before it can write anything.
        producer = Producer({"bootstrap.servers": args.bootstrap,
                             "transactional.id": f"{args.group}-pipeline", **common.QUIET})
        producer.init_transactions(60)
    consumer.subscribe([args.input])
    while True:
        batch = [m for m in consumer.consume(args.batch, timeout=1.0) if not m.error()]
        if not batch:
            if common.caught_up(consumer):
                break
            continue
        if not args.no_transactions:
            producer.begin_transaction()
        for m in batch:
            time.sleep(args.work_ms / 1000)
            producer.produce(args.output, key=m.key(), value=transform(m.value()))
            print(f"P {int(m.value())}", flush=True)
        if args.no_transactions:
            # The same steps without a transaction: the output is written before the
            # offsets, and a crash between the two writes the batch again.
            producer.flush(60)
            consumer.commit(asynchronous=False)
        else:
            producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                                 consumer.consumer_group_metadata(), 30)
            producer.commit_transaction(60)
    consumer.close()
    return 0


def verify(bootstrap, input_topic, output_topic, committed, aborted):
    """Prints the counts; returns True when every committed input is in the output once."""
    visible = common.read_all(bootstrap, output_topic, "read_committed")
    in_log = common.read_all(bootstrap, output_topic, "read_uncommitted")
    values, wrong = [], 0
    for m in visible:
        rec = json.loads(m.value())
        if rec["square"] != rec["n"] ** 2 or m.key() != str(rec["n"]).encode():
            wrong += 1
        values.append(rec["n"])
    lost, dup = common.count_lost_and_duplicated(range(committed), values)
    leaked = sum(1 for n in values if n >= committed)
    common.table([[committed, aborted, len(in_log), len(visible), lost, dup, leaked, wrong]],
                 ["input", "aborted input", "output (log)", "output (read_committed)",
                  "missing", "duplicated", "aborted leaked", "wrong"])
    ok = lost == 0 and dup == 0 and leaked == 0 and wrong == 0 and len(visible) == committed
    print(f"check: each of the {committed} input records exactly once in {output_topic}:",
          "ok" if ok else "FAIL")
    return ok


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "pipeline":
        p = common.base_parser("one pipeline process (started by the driver)")
        p.add_argument("pipeline")
        p.add_argument("--input", required=True)
        p.add_argument("--output", required=True)
        p.add_argument("--group", required=True)
        p.add_argument("--batch", type=int, default=100)
        p.add_argument("--work-ms", type=float, default=1.0)
        p.add_argument("--no-transactions", action="store_true")
        return pipeline(p.parse_args())
    if len(sys.argv) > 1 and sys.argv[1] == "verify":
        p = common.base_parser("verify an output topic")
        p.add_argument("verify")
        p.add_argument("--input", required=True)
        p.add_argument("--output", required=True)
        p.add_argument("--aborted", type=int, default=0)
        a = p.parse_args()
        return 0 if verify(a.bootstrap, a.input, a.output, a.records, a.aborted) else 1
    p = common.base_parser(__doc__.splitlines()[0])
    p.add_argument("--aborted", type=int, default=200, help="input records in an aborted transaction")
    p.add_argument("--batch", type=int, default=100, help="records per transaction")
    p.add_argument("--work-ms", type=float, default=1.0, help="simulated work per record")
    p.add_argument("--timeout", type=float, default=180.0)
    p.add_argument("--no-transactions", action="store_true",
                   help="the same pipeline with produce-then-commit and no transaction: the "
                        "verifier should then find duplicates (and fail)")
    args = p.parse_args()
    if args.no_transactions:
        args.aborted = 0
    elif not common.broker_has_transactions(args.bootstrap):
        if args.require_transactions:
            print("eos_pipeline: FAILED: the broker has no transactions (--require-transactions)")
            return 1
        print("eos_pipeline: SKIPPED (broker has no transactions)")
        return 0
    input_topic, output_topic = f"eos-{args.run_id}-input", f"eos-{args.run_id}-output"
    common.create_topics(args.bootstrap, [input_topic, output_topic], args.partitions,
                         args.replication_factor)
    if args.no_transactions:
        common.produce_numbered(args.bootstrap, input_topic, args.records)
    else:
        produce_input(args.bootstrap, input_topic, args.records, args.aborted)
    points = common.kill_points(common.seeded(args.seed, "eos"), args.kills,
                                args.records // 10, args.records * 8 // 10)
    print(f"eos_pipeline: {args.records} committed + {args.aborted} aborted input records, "
          f"SIGKILL after {points} records processed (seed {args.seed})")
    cmd = [sys.executable, __file__, "pipeline", "--bootstrap", args.bootstrap,
           "--input", input_topic, "--output", output_topic,
           "--group", f"eos-{args.run_id}", "--batch", str(args.batch), "--work-ms", str(args.work_ms)]
    if args.no_transactions:
        cmd.append("--no-transactions")
    lines = common.run_with_kills(cmd, points, timeout=args.timeout)
    print(f"pipeline attempts (records transformed, aborted ones included): "
          f"{sum(1 for l in lines if l.startswith('P '))}")
    return 0 if verify(args.bootstrap, input_topic, output_topic, args.records, args.aborted) else 1


if __name__ == "__main__":
    sys.exit(main())
