"""kafka-python producer and consumer of the failover check; see common.py."""
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from common import Log, ReadState, args, key_of, now_ms, pace, retrying


def produce(a):
    log = Log(a["out"])
    # kafka-python has had an idempotent producer since 2.1; asking for it explicitly
    # makes a conflicting setting an error instead of a silent fallback.
    p = KafkaProducer(bootstrap_servers=a["bootstrap"].split(","), acks="all",
                      enable_idempotence=True, linger_ms=5)
    futures = []
    log.line("start", now_ms())
    t0 = time.monotonic()
    for n in range(a["count"]):
        time.sleep(pace(t0, n, a["rate"]))
        f = p.send(a["topic"], value=str(n).encode(), key=key_of(n))
        f.add_callback(lambda md, n=n: log.line("ack", n, md.partition, md.offset, now_ms()))
        f.add_errback(lambda e, n=n: log.line("err", n, repr(e).replace("\n", " ")))
        futures.append(f)
    p.flush(120)
    p.close(10)
    log.line("done", f"sent={a['count']}")
    log.close()


def consume(a):
    log = Log(a["out"])
    c = KafkaConsumer(bootstrap_servers=a["bootstrap"].split(","), group_id=a["group"],
                      auto_offset_reset="earliest", enable_auto_commit=False)
    parts = None
    while not parts:
        parts = c.partitions_for_topic(a["topic"])
        if not parts:
            time.sleep(0.2)
    tps = [TopicPartition(a["topic"], p) for p in sorted(parts)]
    ends = {tp.partition: o for tp, o in retrying(lambda: c.end_offsets(tps)).items()}
    committed = {tp.partition: retrying(lambda tp=tp: c.committed(tp)) for tp in tps}
    st = ReadState(log, ends, committed, a["max"], a["rate"])
    c.subscribe([a["topic"]])
    while not st.finished():
        batch = c.poll(timeout_ms=500, max_records=50)
        if not batch:
            continue
        offsets = {}
        for tp, msgs in batch.items():
            for m in msgs:
                st.record(m.partition, m.offset, m.value)
                offsets[tp] = m.offset + 1
        try:
            c.commit()
            for tp, o in offsets.items():
                log.line("commit", tp.partition, o)
        except KafkaError as e:
            log.line("err", -1, "commit: " + repr(e).replace("\n", " "))
        st.throttle()
    log.line("done", f"read={st.read}")
    c.close()
    log.close()


if __name__ == "__main__":
    mode, a = args()
    produce(a) if mode == "produce" else consume(a)
