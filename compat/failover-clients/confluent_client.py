"""confluent-kafka (librdkafka) producer and consumer of the failover check; see common.py."""
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from common import Log, ReadState, args, key_of, now_ms, pace, retrying


def produce(a):
    log = Log(a["out"])
    p = Producer({
        "bootstrap.servers": a["bootstrap"],
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        # Java's partitioner, so every client spreads the same keys the same way.
        "partitioner": "murmur2_random",
    })

    def on_delivery(err, msg):
        n = int(msg.value())
        if err is None:
            log.line("ack", n, msg.partition(), msg.offset(), now_ms())
        else:
            log.line("err", n, str(err).replace("\n", " "))

    log.line("start", now_ms())
    t0 = time.monotonic()
    for n in range(a["count"]):
        while True:
            p.poll(pace(t0, n, a["rate"]))
            if pace(t0, n, a["rate"]) == 0:
                break
        p.produce(a["topic"], value=str(n).encode(), key=key_of(n), on_delivery=on_delivery)
    left = p.flush(120)
    log.line("done", f"sent={a['count']}", f"unflushed={left}")
    log.close()


def consume(a):
    log = Log(a["out"])
    c = Consumer({
        "bootstrap.servers": a["bootstrap"],
        "group.id": a["group"],
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    md = c.list_topics(a["topic"], timeout=30).topics[a["topic"]]
    ends = {}
    for p in md.partitions:
        ends[p] = retrying(lambda: c.get_watermark_offsets(TopicPartition(a["topic"], p), timeout=30)[1])
    committed = {tp.partition: tp.offset for tp in retrying(
        lambda: c.committed([TopicPartition(a["topic"], p) for p in ends], timeout=30))}
    st = ReadState(log, ends, committed, a["max"], a["rate"])
    c.subscribe([a["topic"]])
    while not st.finished():
        msgs = c.consume(num_messages=50, timeout=0.5)
        if not msgs:
            continue
        for m in msgs:
            if m.error():
                log.line("err", -1, str(m.error()).replace("\n", " "))
                continue
            st.record(m.partition(), m.offset(), m.value())
        try:
            for tp in c.commit(asynchronous=False) or []:
                if tp.error is None and tp.offset >= 0:
                    log.line("commit", tp.partition, tp.offset)
        except KafkaException as e:
            # A commit refused while the coordinator moves is retried with the next batch.
            log.line("err", -1, "commit: " + str(e).replace("\n", " "))
        st.throttle()
    log.line("done", f"read={st.read}")
    c.close()
    log.close()


if __name__ == "__main__":
    mode, a = args()
    produce(a) if mode == "produce" else consume(a)
