"""Plumbing the examples share: arguments, topics, reading a topic back, and the
driver that SIGKILLs a worker process mid-stream and starts it again.

The interesting part of each example (the order of commit and processing, the
transaction) stays in the example's own file; nothing here decides semantics.
"""

import argparse
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

# librdkafka logs every refused connection at warning level; while brokers are
# being killed on purpose that is noise, so only errors reach the terminal.
QUIET = {"log_level": 3}


def base_parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--bootstrap", default=os.environ.get("KAVKA_BOOTSTRAP", "127.0.0.1:9092"),
                   help="bootstrap servers, H:P[,H:P...] (default $KAVKA_BOOTSTRAP or 127.0.0.1:9092)")
    p.add_argument("--records", type=int, default=2000, help="records to produce")
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--replication-factor", type=int, default=1)
    p.add_argument("--seed", type=int, default=7, help="seeds where the kills land")
    p.add_argument("--kills", type=int, default=3, help="SIGKILLs per worker run")
    p.add_argument("--run-id", default=uuid.uuid4().hex[:8],
                   help="suffix for topic and group names, so runs never share state")
    p.add_argument("--require-transactions", action="store_true",
                   help="fail, instead of skipping, the exactly-once parts on a broker without transactions")
    return p


def create_topics(bootstrap, names, partitions, replication_factor, config=None):
    admin = AdminClient({"bootstrap.servers": bootstrap, **QUIET})
    futures = admin.create_topics(
        [NewTopic(n, partitions, replication_factor, config=config or {}) for n in names],
        operation_timeout=30)
    for f in futures.values():
        f.result(timeout=60)
    # A topic is usable once every partition has a leader; the first Metadata after
    # CreateTopics may not show one yet.
    deadline = time.time() + 30
    while True:
        md = admin.list_topics(timeout=10)
        ready = all(n in md.topics and md.topics[n].error is None
                    and len(md.topics[n].partitions) == partitions
                    and all(p.leader >= 0 for p in md.topics[n].partitions.values())
                    for n in names)
        if ready:
            return
        if time.time() > deadline:
            raise SystemExit(f"topics {names} have no leaders after 30 s")
        time.sleep(0.2)


def durable_producer(bootstrap, **extra):
    """acks=all with idempotence: a retried batch is written once, an acknowledged one is replicated."""
    return Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                     "partitioner": "murmur2_random", "linger.ms": 5, **QUIET, **extra})


def produce_numbered(bootstrap, topic, count, start=0):
    """Writes records key=value=str(i) for i in [start, start+count); returns the acknowledged numbers."""
    acked, failed = [], []

    def report(err, msg):
        (failed if err else acked).append(int(msg.key()))

    p = durable_producer(bootstrap)
    for i in range(start, start + count):
        p.produce(topic, key=str(i), value=str(i), on_delivery=report)
        p.poll(0)
    if p.flush(60) != 0:
        raise SystemExit(f"{topic}: records still unacknowledged after 60 s")
    if failed:
        raise SystemExit(f"{topic}: {len(failed)} records refused by the broker")
    return acked


def read_all(bootstrap, topic, isolation="read_committed", timeout=60.0, idle=3.0):
    """Every record of `topic` from the beginning, as the given isolation level sees it.

    Stops once each partition's position reaches the high watermark taken at the
    start, or after `idle` seconds without a record (a read_committed reader may stop
    just before a trailing commit marker and never see its position move past it)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                  "enable.auto.commit": False, "isolation.level": isolation, **QUIET})
    md = c.list_topics(topic, timeout=10)
    tps = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in md.topics[topic].partitions]
    ends = {tp.partition: c.get_watermark_offsets(tp, timeout=10, cached=False)[1] for tp in tps}
    c.assign(tps)
    out = []
    deadline = time.time() + timeout
    last = time.time()
    while time.time() < deadline:
        msgs = c.consume(500, timeout=0.5)
        for m in msgs:
            if m.error():
                raise KafkaException(m.error())
            out.append(m)
        if msgs:
            last = time.time()
        positions = c.position(tps)
        if all(tp.offset >= ends[tp.partition] or ends[tp.partition] == 0 for tp in positions):
            break
        if time.time() - last > idle:
            break
    c.close()
    return out


def caught_up(consumer):
    """True once the consumer has an assignment and stands at the end of every partition."""
    assignment = consumer.assignment()
    if not assignment:
        return False
    positions = consumer.position(assignment)
    committed = {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(assignment, timeout=10)}
    for tp in positions:
        lo, hi = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
        pos = tp.offset if tp.offset >= 0 else committed.get((tp.topic, tp.partition), -1)
        if pos < 0:
            pos = lo
        if pos < hi:
            return False
    return True


def kill_points(rng, kills, low, high):
    """`kills` distinct progress counts in [low, high), ascending: where the driver pulls the plug."""
    return sorted(rng.sample(range(low, high), kills))


def run_with_kills(cmd, points, timeout=180.0, progress_prefix="P "):
    """Runs `cmd`, SIGKILLs it when its stdout has shown `points[i]` progress lines in total,
    starts it again, and after the last kill lets it finish by itself.

    The worker prints one line per side effect (flushed), so every line that reached
    the pipe before the kill is a side effect that happened. Returns all lines."""
    lines, progress, kills = [], 0, list(points)
    deadline = time.time() + timeout
    while True:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
        killed = False
        while True:
            if time.time() > deadline:
                proc.kill()
                proc.wait()
                raise SystemExit(f"worker did not finish within {timeout:.0f} s: {' '.join(cmd)}")
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if not ready:
                continue
            line = proc.stdout.readline()
            if not line:
                break
            line = line.rstrip("\n")
            lines.append(line)
            if line.startswith(progress_prefix):
                progress += 1
                if kills and progress >= kills[0] and not killed:
                    kills.pop(0)
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True
        rc = proc.wait()
        if killed:
            continue
        if rc != 0:
            raise SystemExit(f"worker exited with {rc}: {' '.join(cmd)}")
        if kills:
            # The worker finished before reaching the remaining kill points.
            print(f"note: {len(kills)} kill point(s) not reached", file=sys.stderr)
        return lines


def broker_has_transactions(bootstrap):
    """Whether the broker advertises EndTxn (api key 26) in ApiVersions: transactions."""
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    req = struct.pack(">hhih", 18, 0, 1, 8) + b"examples"
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(struct.pack(">i", len(req)) + req)
        size = struct.unpack(">i", _recv_exact(s, 4))[0]
        body = _recv_exact(s, size)
    _corr, err, n = struct.unpack(">ihi", body[:10])
    keys = {struct.unpack(">h", body[10 + 6 * i:12 + 6 * i])[0] for i in range(n)}
    return err == 0 and 26 in keys


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("broker closed the connection")
        buf += chunk
    return buf


def table(rows, headers):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*headers))
    for r in rows:
        print(fmt.format(*[str(x) for x in r]))


def count_lost_and_duplicated(expected, seen):
    """(lost, duplicated): expected numbers never seen, and extra copies of seen ones."""
    want = set(expected)
    got = set(seen)
    return len(want - got), len(seen) - len(got)


def seeded(seed, salt):
    return random.Random(f"{seed}-{salt}")


if __name__ == "__main__":
    # run.sh asks: `common.py has-transactions H:P` exits 0 when the broker has them.
    if len(sys.argv) == 3 and sys.argv[1] == "has-transactions":
        try:
            sys.exit(0 if broker_has_transactions(sys.argv[2]) else 1)
        except (OSError, EOFError, ValueError) as e:
            print(f"common.py: {sys.argv[2]}: {e}", file=sys.stderr)
            sys.exit(2)
    sys.exit("usage: common.py has-transactions H:P")
