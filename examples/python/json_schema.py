#!/usr/bin/env python3
"""JSON records checked against a JSON Schema on both sides: the producer refuses an
invalid order before it is sent; the consumer dead-letters whatever arrives invalid
anyway (here from a raw producer that skips the check), and is killed with SIGKILL
mid-stream and restarted without losing a record.

    json_schema.py --bootstrap H:P [--records 1000] [--raw-bad 60] [--kills 1] [--seed 7]

With a Schema Registry, confluent_kafka.schema_registry.json_schema.JSONSerializer and
JSONDeserializer do the same check against a registered schema; the schema here
lives in this file so that the example needs nothing but a broker.
"""

import json
import sys

import jsonschema
from confluent_kafka import Consumer
from confluent_kafka.serialization import SerializationError

import common

ORDER_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "OrderPlaced",
    "type": "object",
    "required": ["orderId", "userId", "items", "total"],
    "additionalProperties": False,
    "properties": {
        "orderId": {"type": "integer", "minimum": 1},
        "userId": {"type": "integer", "minimum": 1},
        "items": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["sku", "qty"], "additionalProperties": False,
            "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
                           "qty": {"type": "integer", "minimum": 1}}}},
        "total": {"type": "number", "minimum": 0},
    },
}
VALIDATOR = jsonschema.Draft202012Validator(ORDER_SCHEMA)


def serialize(order):
    """Order -> bytes, or SerializationError naming the first schema violation."""
    error = jsonschema.exceptions.best_match(VALIDATOR.iter_errors(order))
    if error is not None:
        raise SerializationError(f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}")
    return json.dumps(order, separators=(",", ":")).encode()


def deserialize(data):
    """Bytes -> order; ValueError when the bytes are not JSON or not an order."""
    try:
        order = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not JSON: {e}") from e
    error = jsonschema.exceptions.best_match(VALIDATOR.iter_errors(order))
    if error is not None:
        raise ValueError(f"schema: {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}")
    return order


def make_order(i, rng):
    order = {"orderId": i, "userId": rng.randint(1, 500),
             "items": [{"sku": f"{rng.choice(['ABC', 'KFK', 'JAK'])}-{rng.randint(0, 9999):04d}",
                        "qty": rng.randint(1, 5)} for _ in range(rng.randint(1, 3))],
             "total": round(rng.uniform(1, 300), 2)}
    # One order in ten has a mistake a careless caller makes.
    if rng.random() < 0.1:
        mistake = rng.choice(["missing", "type", "qty", "extra"])
        if mistake == "missing":
            del order["total"]
        elif mistake == "type":
            order["userId"] = str(order["userId"])
        elif mistake == "qty":
            order["items"][0]["qty"] = 0
        else:
            order["coupon"] = "FREE"
    return order


def raw_bad(j):
    """What a producer without the check sends: broken JSON, or JSON that is not an order."""
    return [b'{"orderId": 5, "userId": ', b"\xff\xfe not utf-8",
            json.dumps({"orderId": -1, "userId": 1, "items": [], "total": 3}).encode(),
            json.dumps(["not", "an", "object"]).encode()][j % 4]


def work(args):
    """One consumer process; the driver kills and restarts it."""
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap, "group.id": args.group,
        "group.instance.id": f"{args.group}-worker", "session.timeout.ms": 10000,
        "enable.auto.commit": False, "auto.offset.reset": "earliest", **common.QUIET})
    producer = common.durable_producer(args.bootstrap)
    consumer.subscribe([args.topic])
    while True:
        batch = [m for m in consumer.consume(args.batch, timeout=1.0) if not m.error()]
        if not batch:
            if common.caught_up(consumer):
                break
            continue
        for m in batch:
            try:
                order = deserialize(m.value())
            except ValueError as e:
                producer.produce(args.dlq_topic, key=m.key(), value=m.value(), headers=[
                    ("original.topic", m.topic()), ("original.partition", str(m.partition())),
                    ("original.offset", str(m.offset())), ("dlq.error", str(e)[:500])])
                print(f"D {m.key().decode()}", flush=True)
                continue
            print(f"P {order['orderId']}", flush=True)
        if producer.flush(60) != 0:
            raise SystemExit("dead-letter records not acknowledged in 60 s")
        consumer.commit(asynchronous=False)
    consumer.close()
    return 0


def drive(args):
    topic, dlq_topic = f"js-{args.run_id}-orders", f"js-{args.run_id}-orders-dlq"
    common.create_topics(args.bootstrap, [topic, dlq_topic], args.partitions, args.replication_factor)
    rng = common.seeded(args.seed, "orders")
    producer = common.durable_producer(args.bootstrap)
    sent, refused, reasons = [], 0, {}
    bad_keys = [f"bad-{j}" for j in range(args.raw_bad)]
    every = max(1, args.records // max(1, args.raw_bad))
    for i in range(1, args.records + 1):
        try:
            value = serialize(make_order(i, rng))
        except SerializationError as e:
            refused += 1
            reason = str(e).split(":")[0]
            reasons[reason] = reasons.get(reason, 0) + 1
        else:
            producer.produce(topic, key=str(i), value=value)
            sent.append(i)
        if i % every == 0 and i // every <= args.raw_bad:
            # The raw producer: bytes straight to the topic, no schema check.
            producer.produce(topic, key=bad_keys[i // every - 1], value=raw_bad(i // every - 1))
        producer.poll(0)
    if producer.flush(60) != 0:
        raise SystemExit("records not acknowledged in 60 s")
    print(f"json_schema: {args.records} orders generated, {refused} refused by the producer's schema check "
          f"({', '.join(f'{k}: {v}' for k, v in sorted(reasons.items()))}), {len(sent)} sent, "
          f"{args.raw_bad} sent raw without the check")
    points = common.kill_points(common.seeded(args.seed, "json"), args.kills,
                                len(sent) // 10, len(sent) * 6 // 10)
    cmd = [sys.executable, __file__, "work", "--bootstrap", args.bootstrap, "--topic", topic,
           "--dlq-topic", dlq_topic, "--group", f"js-{args.run_id}", "--batch", str(args.batch)]
    lines = common.run_with_kills(cmd, points, timeout=args.timeout)
    consumed = [int(l[2:]) for l in lines if l.startswith("P ")]
    dlq = common.read_all(args.bootstrap, dlq_topic)
    dead = [m.key().decode() for m in dlq]
    lost, dup = common.count_lost_and_duplicated(sent, consumed)
    missing_dlq = len(set(bad_keys) - set(dead))
    stray = len(set(consumed) - set(sent)) + len(set(dead) - set(bad_keys))
    common.table([[args.records, refused, len(sent), args.raw_bad, len(set(consumed)),
                   len(set(dead)), lost + missing_dlq, dup + len(dead) - len(set(dead))]],
                 ["generated", "refused (producer)", "sent", "sent raw (bad)", "consumed valid",
                  "dead-lettered", "lost", "duplicated"])
    ok = lost == 0 and missing_dlq == 0 and stray == 0 and len(sent) + refused == args.records
    print(f"check: every valid order consumed, every bad record dead-lettered "
          f"({len(set(consumed))} + {len(set(dead))} = {len(sent)} + {args.raw_bad}), no invalid order consumed:",
          "ok" if ok else "FAIL")
    return 0 if ok else 1


def main():
    p = common.base_parser(__doc__.splitlines()[0])
    p.add_argument("--raw-bad", type=int, default=60, help="bad records sent without the check")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--timeout", type=float, default=120.0)
    if len(sys.argv) > 1 and sys.argv[1] == "work":
        p.add_argument("work")
        p.add_argument("--topic", required=True)
        p.add_argument("--dlq-topic", required=True)
        p.add_argument("--group", required=True)
        return work(p.parse_args())
    p.set_defaults(records=1000, kills=1)
    return drive(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
