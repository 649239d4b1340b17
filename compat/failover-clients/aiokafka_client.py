"""aiokafka producer and consumer of the failover check; see common.py."""
import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from common import Log, ReadState, args, key_of, now_ms, pace, retrying_async


async def produce(a):
    log = Log(a["out"])
    p = AIOKafkaProducer(bootstrap_servers=a["bootstrap"], acks="all",
                         enable_idempotence=True, linger_ms=5,
                         request_timeout_ms=30000)
    await p.start()

    def done(fut, n):
        if fut.exception() is None:
            md = fut.result()
            log.line("ack", n, md.partition, md.offset, now_ms())
        else:
            log.line("err", n, repr(fut.exception()).replace("\n", " "))

    futures = []
    log.line("start", now_ms())
    t0 = time.monotonic()
    for n in range(a["count"]):
        await asyncio.sleep(pace(t0, n, a["rate"]))
        fut = await p.send(a["topic"], value=str(n).encode(), key=key_of(n))
        fut.add_done_callback(lambda f, n=n: done(f, n))
        futures.append(fut)
    await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 150)
    await p.stop()
    log.line("done", f"sent={a['count']}")
    log.close()


async def consume(a):
    log = Log(a["out"])
    c = AIOKafkaConsumer(a["topic"], bootstrap_servers=a["bootstrap"], group_id=a["group"],
                         auto_offset_reset="earliest", enable_auto_commit=False)
    await c.start()
    parts = None
    while not parts:
        parts = c.partitions_for_topic(a["topic"])
        if not parts:
            await asyncio.sleep(0.2)
    tps = [TopicPartition(a["topic"], p) for p in sorted(parts)]
    ends = {tp.partition: o for tp, o in (await retrying_async(lambda: c.end_offsets(tps))).items()}
    committed = {tp.partition: await retrying_async(lambda tp=tp: c.committed(tp)) for tp in tps}
    st = ReadState(log, ends, committed, a["max"], a["rate"])
    while not st.finished():
        batch = await c.getmany(timeout_ms=500, max_records=50)
        if not batch:
            continue
        offsets = {}
        for tp, msgs in batch.items():
            for m in msgs:
                st.record(m.partition, m.offset, m.value)
                offsets[tp] = m.offset + 1
        try:
            await c.commit()
            for tp, o in offsets.items():
                log.line("commit", tp.partition, o)
        except KafkaError as e:
            log.line("err", -1, "commit: " + repr(e).replace("\n", " "))
        if st.rate > 0:
            await asyncio.sleep(pace(st.t0, st.read, st.rate))
    log.line("done", f"read={st.read}")
    try:
        await c.stop()
    except (KafkaError, asyncio.CancelledError) as e:
        # Closing can trip over a fetch to a node that just died; what was read stands.
        log.line("err", -1, "stop: " + repr(e).replace("\n", " "))
    log.close()


if __name__ == "__main__":
    mode, a = args()
    asyncio.run(produce(a) if mode == "produce" else consume(a))
