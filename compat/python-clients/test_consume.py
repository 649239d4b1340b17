"""Consumers without a group: assign + seek, offsets for times, beginning and
end offsets; kafka-python and aiokafka."""
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition as AioTP
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from conftest import aio_stop, aio_read_back, assert_contiguous, read_back


def produce_timed(bootstrap, topic, partitions=1, per_partition=5, base_ts=None):
    """per_partition records to each partition, timestamps base_ts + 1000*i."""
    base_ts = base_ts or int(time.time() * 1000) - 100_000
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for p in range(partitions):
            for i in range(per_partition):
                producer.send(topic, value=f"p{p}-{i}".encode(), partition=p,
                              timestamp_ms=base_ts + 1000 * i)
        producer.flush(timeout=20)
    finally:
        producer.close()
    return base_ts


# ---- kafka-python ---------------------------------------------------------

def test_kafka_python_assign_seek(bootstrap, make_topic):
    topic = make_topic(2)
    produce_timed(bootstrap, topic, partitions=2, per_partition=5)
    got = read_back(bootstrap, topic, 2, 10)
    assert_contiguous(got)
    assert [r.value for r in got[1]] == [f"p1-{i}".encode() for i in range(5)]

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 3)
        records = []
        deadline = time.monotonic() + 15
        while len(records) < 2 and time.monotonic() < deadline:
            records += consumer.poll(timeout_ms=500).get(tp, [])
        assert [(r.offset, r.value) for r in records] == [(3, b"p0-3"), (4, b"p0-4")]
        assert consumer.position(tp) == 5
    finally:
        consumer.close()


def test_kafka_python_offsets(bootstrap, make_topic):
    topic = make_topic(2)
    base = produce_timed(bootstrap, topic, partitions=1, per_partition=5)  # partition 1 stays empty
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
        assert consumer.beginning_offsets([tp0, tp1]) == {tp0: 0, tp1: 0}
        assert consumer.end_offsets([tp0, tp1]) == {tp0: 5, tp1: 0}
        found = consumer.offsets_for_times({tp0: base + 2500, tp1: base})
        assert found[tp0].offset == 3 and found[tp0].timestamp == base + 3000
        assert found[tp1] is None
        assert consumer.offsets_for_times({tp0: base + 10_000})[tp0] is None
        assert consumer.offsets_for_times({tp0: 0})[tp0].offset == 0
    finally:
        consumer.close()


# ---- aiokafka -------------------------------------------------------------

async def test_aiokafka_assign_seek(bootstrap, make_topic):
    topic = make_topic(2)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for p in range(2):
            for i in range(5):
                await producer.send_and_wait(topic, value=f"p{p}-{i}".encode(), partition=p)
    finally:
        await producer.stop()
    got = await aio_read_back(bootstrap, topic, 2, 10)
    assert_contiguous(got)
    assert [r.value for r in got[1]] == [f"p1-{i}".encode() for i in range(5)]

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = AioTP(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 3)
        records = []
        deadline = time.monotonic() + 15
        while len(records) < 2 and time.monotonic() < deadline:
            records += (await consumer.getmany(tp, timeout_ms=500)).get(tp, [])
        assert [(r.offset, r.value) for r in records] == [(3, b"p0-3"), (4, b"p0-4")]
        assert await consumer.position(tp) == 5
    finally:
        await aio_stop(consumer)


async def test_aiokafka_offsets(bootstrap, make_topic):
    topic = make_topic(2)
    base = produce_timed(bootstrap, topic, partitions=1, per_partition=5)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp0, tp1 = AioTP(topic, 0), AioTP(topic, 1)
        assert await consumer.beginning_offsets([tp0, tp1]) == {tp0: 0, tp1: 0}
        assert await consumer.end_offsets([tp0, tp1]) == {tp0: 5, tp1: 0}
        found = await consumer.offsets_for_times({tp0: base + 2500, tp1: base})
        assert found[tp0].offset == 3 and found[tp0].timestamp == base + 3000
        assert found[tp1] is None
        assert (await consumer.offsets_for_times({tp0: base + 10_000}))[tp0] is None
    finally:
        await aio_stop(consumer)
