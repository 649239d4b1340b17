#!/usr/bin/env python3
"""Two one-node experiments against a running broker, stdlib only (raw Kafka
protocol: Fetch v4, Produce v3, record batch v2).

idle-fetch: C connections long-poll P idle partitions each (max_wait 500 ms,
  min_bytes 1) while one connection produces to another topic as fast as it
  can (acks=1, one record per request). Reports produce requests per second and
  the broker's CPU seconds (from /proc) over the run. With a broker-wide wake-up
  every produce makes every idle long-poll re-read all its partitions.

slow-disk: W connections produce to a topic with flush.messages=1 (every append
  fsyncs) while one connection produces to a normal topic; reports the normal
  topic's produce latency (p50, p99, max) and the slow topic's, in ms.

Topics must exist (see BENCHMARKS.md for the commands).
"""

import argparse
import os
import socket
import struct
import threading
import time


def crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def record_batch(value):
    ts = int(time.time() * 1000)
    body = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(len(value)) + value + varint(0)
    record = varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, 0, ts, ts, -1, -1, -1, 1) + record
    crc = crc32c(after_crc)
    after_len = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(after_len)) + after_len


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


class Conn:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.correlation = 0

    def call(self, api_key, version, body):
        self.correlation += 1
        header = struct.pack(">hhi", api_key, version, self.correlation) + string("scale-bench")
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        return self.read_frame()

    def read_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            buf += chunk
        return bytes(buf)

    def read_frame(self):
        (n,) = struct.unpack(">i", self.read_exact(4))
        return self.read_exact(n)


def produce(conn, topic, partition, value):
    body = struct.pack(">hhi", -1, 1, 30000)
    body += struct.pack(">i", 1) + string(topic)
    batch = record_batch(value)
    body += struct.pack(">i", 1) + struct.pack(">ii", partition, len(batch)) + batch
    resp = conn.call(0, 3, body)
    # correlation id, topics count, name, partitions count, index, error code
    pos = 4 + 4
    (name_len,) = struct.unpack_from(">h", resp, pos)
    pos += 2 + name_len + 4 + 4
    (error,) = struct.unpack_from(">h", resp, pos)
    if error != 0:
        raise RuntimeError(f"produce to {topic}: error {error}")


def fetch_request(topic, partitions):
    body = struct.pack(">iiiib", -1, 500, 1, 1 << 20, 0)
    body += struct.pack(">i", 1) + string(topic) + struct.pack(">i", len(partitions))
    for p in partitions:
        body += struct.pack(">iqi", p, 0, 1 << 20)
    return body


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_fetch(args):
    stop = threading.Event()
    answered = [0]
    lock = threading.Lock()

    def poller():
        conn = Conn(args.bootstrap)
        body = fetch_request(args.idle_topic, list(range(args.partitions)))
        while not stop.is_set():
            conn.call(1, 4, body)
            with lock:
                answered[0] += 1

    threads = [threading.Thread(target=poller, daemon=True) for _ in range(args.connections)]
    for t in threads:
        t.start()
    time.sleep(2)
    cpu0, t0 = cpu_seconds(args.broker_pid), time.time()
    conn = Conn(args.bootstrap)
    sent = 0
    while time.time() - t0 < args.seconds:
        produce(conn, args.busy_topic, 0, b"x" * 100)
        sent += 1
    elapsed = time.time() - t0
    cpu = cpu_seconds(args.broker_pid) - cpu0
    stop.set()
    print(
        f"idle-fetch connections={args.connections} partitions={args.partitions} "
        f"produce_req_per_s={sent / elapsed:.0f} broker_cpu_s={cpu:.2f} "
        f"broker_cpu_per_1k_produces_ms={1000 * 1000 * cpu / max(sent, 1):.1f} "
        f"fetch_answers={answered[0]}"
    )


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def slow_disk(args):
    stop = threading.Event()
    slow_lat = []
    lock = threading.Lock()

    def slow_producer(i):
        conn = Conn(args.bootstrap)
        while not stop.is_set():
            t = time.perf_counter()
            produce(conn, args.slow_topic, i % args.partitions, b"s" * 100)
            with lock:
                slow_lat.append(time.perf_counter() - t)

    threads = [
        threading.Thread(target=slow_producer, args=(i,), daemon=True)
        for i in range(args.connections)
    ]
    for t in threads:
        t.start()
    time.sleep(1)
    conn = Conn(args.bootstrap)
    fast_lat = []
    t0 = time.time()
    while time.time() - t0 < args.seconds:
        t = time.perf_counter()
        produce(conn, args.busy_topic, 0, b"f" * 100)
        fast_lat.append(time.perf_counter() - t)
        time.sleep(0.002)
    stop.set()
    with lock:
        slow = sorted(slow_lat)
    fast = sorted(fast_lat)

    def fmt(name, values):
        return (
            f"{name}: n={len(values)} p50={1000 * percentile(values, 0.5):.2f}ms "
            f"p99={1000 * percentile(values, 0.99):.2f}ms max={1000 * values[-1]:.2f}ms"
        )

    print(f"slow-disk slow_connections={args.connections}")
    print("  " + fmt("normal topic", fast))
    print("  " + fmt("flush.messages=1 topic", slow))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["idle-fetch", "slow-disk"])
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--broker-pid", type=int)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--partitions", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--idle-topic", default="idle")
    ap.add_argument("--busy-topic", default="busy")
    ap.add_argument("--slow-topic", default="slow")
    args = ap.parse_args()
    if args.mode == "idle-fetch":
        if args.broker_pid is None:
            ap.error("idle-fetch needs --broker-pid")
        idle_fetch(args)
    else:
        slow_disk(args)


if __name__ == "__main__":
    main()
