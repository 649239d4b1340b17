"""Consumer groups (classic protocol): subscribe with earliest/latest, commit
and resume, two members splitting a topic, two groups each seeing everything;
kafka-python and aiokafka."""
import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition as AioTP
from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition

from conftest import aio_stop

TIMEOUT = 30.0


def produce(bootstrap, topic, values, partition=None):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for v in values:
            producer.send(topic, value=v, partition=partition)
        producer.flush(timeout=20)
    finally:
        producer.close()


def values(prefix, n):
    return [f"{prefix}-{i}".encode() for i in range(n)]


# ---- kafka-python ---------------------------------------------------------

def kp_consumer(bootstrap, group, reset="earliest", **kw):
    return KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset=reset,
                         enable_auto_commit=False, session_timeout_ms=10000,
                         heartbeat_interval_ms=1000, **kw)


def kp_poll(consumer, n, timeout=TIMEOUT):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=300).values():
            got.extend(records)
    return got


def kp_wait_assigned(consumer, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not consumer.assignment():
        assert time.monotonic() < deadline, "no assignment"
        consumer.poll(timeout_ms=300)
    return consumer.assignment()


def test_kafka_python_subscribe_earliest(bootstrap, make_topic, unique):
    topic = make_topic(3)
    produce(bootstrap, topic, values("e", 9))
    consumer = kp_consumer(bootstrap, unique("g"), "earliest")
    try:
        consumer.subscribe([topic])
        got = kp_poll(consumer, 9)
        assert sorted(r.value for r in got) == sorted(values("e", 9))
    finally:
        consumer.close()


def test_kafka_python_subscribe_latest(bootstrap, make_topic, unique):
    topic = make_topic(1)
    produce(bootstrap, topic, values("old", 3))
    consumer = kp_consumer(bootstrap, unique("g"), "latest")
    try:
        consumer.subscribe([topic])
        tps = kp_wait_assigned(consumer)
        assert [consumer.position(tp) for tp in tps] == [3]
        produce(bootstrap, topic, values("new", 3))
        got = kp_poll(consumer, 3)
        assert [r.value for r in got] == values("new", 3)
        assert [r.offset for r in got] == [3, 4, 5]
    finally:
        consumer.close()


def test_kafka_python_commit_and_resume(bootstrap, make_topic, unique):
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, values("c", 10))
    tp = TopicPartition(topic, 0)
    first = kp_consumer(bootstrap, group, max_poll_records=6)
    try:
        first.subscribe([topic])
        got = kp_poll(first, 6)[:6]
        assert [r.offset for r in got] == list(range(6))
        first.commit({tp: OffsetAndMetadata(6, "", -1)})
        assert first.committed(tp) == 6
    finally:
        first.close()
    second = kp_consumer(bootstrap, group, "latest")
    try:
        second.subscribe([topic])
        got = kp_poll(second, 4)
        assert [r.offset for r in got] == [6, 7, 8, 9]
        assert second.committed(tp) == 6
    finally:
        second.close()


def test_kafka_python_two_members_split_partitions(bootstrap, make_topic, unique):
    topic, group = make_topic(3), unique("g")
    a = kp_consumer(bootstrap, group)
    b = kp_consumer(bootstrap, group)
    try:
        a.subscribe([topic])
        kp_wait_assigned(a)
        b.subscribe([topic])
        deadline = time.monotonic() + TIMEOUT
        while True:
            a.poll(timeout_ms=200)
            b.poll(timeout_ms=200)
            pa, pb = a.assignment(), b.assignment()
            if pa and pb and len(pa) + len(pb) == 3:
                break
            assert time.monotonic() < deadline, (pa, pb)
        assert not (pa & pb), "a partition is owned twice"
        assert sorted([len(pa), len(pb)]) == [1, 2]
        assert {tp.partition for tp in pa | pb} == {0, 1, 2}
    finally:
        a.close()
        b.close()


def test_kafka_python_two_groups_each_get_everything(bootstrap, make_topic, unique):
    topic = make_topic(3)
    produce(bootstrap, topic, values("x", 12))
    consumers = [kp_consumer(bootstrap, unique("g1")), kp_consumer(bootstrap, unique("g2"))]
    try:
        for c in consumers:
            c.subscribe([topic])
        for c in consumers:
            assert sorted(r.value for r in kp_poll(c, 12)) == sorted(values("x", 12))
    finally:
        for c in consumers:
            c.close()


# ---- aiokafka -------------------------------------------------------------

def aio_consumer(bootstrap, group, reset="earliest", **kw):
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset=reset,
                            enable_auto_commit=False, session_timeout_ms=10000,
                            heartbeat_interval_ms=1000, **kw)


async def aio_poll(consumer, n, timeout=TIMEOUT):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        for records in (await consumer.getmany(timeout_ms=300)).values():
            got.extend(records)
    return got


async def aio_wait_assigned(consumer, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while not consumer.assignment():
        assert time.monotonic() < deadline, "no assignment"
        await asyncio.sleep(0.1)
    return consumer.assignment()


async def test_aiokafka_subscribe_earliest(bootstrap, make_topic, unique):
    topic = make_topic(3)
    produce(bootstrap, topic, values("e", 9))
    consumer = aio_consumer(bootstrap, unique("g"), "earliest")
    await consumer.start()
    try:
        consumer.subscribe([topic])
        got = await aio_poll(consumer, 9)
        assert sorted(r.value for r in got) == sorted(values("e", 9))
    finally:
        await aio_stop(consumer)


async def test_aiokafka_subscribe_latest(bootstrap, make_topic, unique):
    topic = make_topic(1)
    produce(bootstrap, topic, values("old", 3))
    consumer = aio_consumer(bootstrap, unique("g"), "latest")
    await consumer.start()
    try:
        consumer.subscribe([topic])
        tps = await aio_wait_assigned(consumer)
        assert [await asyncio.wait_for(consumer.position(tp), TIMEOUT) for tp in tps] == [3]
        produce(bootstrap, topic, values("new", 3))
        got = await aio_poll(consumer, 3)
        assert [r.value for r in got] == values("new", 3)
        assert [r.offset for r in got] == [3, 4, 5]
    finally:
        await aio_stop(consumer)


async def test_aiokafka_commit_and_resume(bootstrap, make_topic, unique):
    topic, group = make_topic(1), unique("g")
    produce(bootstrap, topic, values("c", 10))
    tp = AioTP(topic, 0)
    first = aio_consumer(bootstrap, group, max_poll_records=6)
    await first.start()
    try:
        first.subscribe([topic])
        got = (await aio_poll(first, 6))[:6]
        assert [r.offset for r in got] == list(range(6))
        await first.commit({tp: 6})
        assert await first.committed(tp) == 6
    finally:
        await aio_stop(first)
    second = aio_consumer(bootstrap, group, "latest")
    await second.start()
    try:
        second.subscribe([topic])
        got = await aio_poll(second, 4)
        assert [r.offset for r in got] == [6, 7, 8, 9]
        assert await second.committed(tp) == 6
    finally:
        await aio_stop(second)


async def test_aiokafka_two_members_split_partitions(bootstrap, make_topic, unique):
    topic, group = make_topic(3), unique("g")
    a, b = aio_consumer(bootstrap, group), aio_consumer(bootstrap, group)
    await a.start()
    await b.start()
    try:
        a.subscribe([topic])
        await aio_wait_assigned(a)
        b.subscribe([topic])
        deadline = time.monotonic() + TIMEOUT
        while True:
            # getmany drives nothing here: aiokafka's coordinator runs in the background
            await asyncio.sleep(0.2)
            pa, pb = a.assignment(), b.assignment()
            if pa and pb and len(pa) + len(pb) == 3:
                break
            assert time.monotonic() < deadline, (pa, pb)
        assert not (pa & pb), "a partition is owned twice"
        assert sorted([len(pa), len(pb)]) == [1, 2]
        assert {tp.partition for tp in pa | pb} == {0, 1, 2}
    finally:
        await aio_stop(a)
        await aio_stop(b)


async def test_aiokafka_two_groups_each_get_everything(bootstrap, make_topic, unique):
    topic = make_topic(3)
    produce(bootstrap, topic, values("x", 12))
    consumers = [aio_consumer(bootstrap, unique("g1")), aio_consumer(bootstrap, unique("g2"))]
    for c in consumers:
        await c.start()
    try:
        for c in consumers:
            c.subscribe([topic])
        results = await asyncio.gather(*(aio_poll(c, 12) for c in consumers))
        for got in results:
            assert sorted(r.value for r in got) == sorted(values("x", 12))
    finally:
        for c in consumers:
            await aio_stop(c)
