"""Producing with kafka-python and aiokafka: acks, keyed partitioning,
headers, compression codecs, idempotence; every test reads its records back
with kafka-python's consumer (aiokafka's consumer is covered in test_consume.py
and test_groups.py), so a producer test fails only on the producer path."""
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka import codec as aio_codec
from kafka import KafkaProducer
from kafka import codec as kp_codec

from conftest import assert_contiguous, java_murmur2_partition, read_back

CODECS = ["gzip", "snappy", "lz4", "zstd"]
KEYS = [f"key-{i}".encode() for i in range(30)]


def test_java_murmur2_known_values():
    # Kafka's UtilsTest.testMurmur2: murmur2("21") = -973932308, murmur2("foobar") = -790332482.
    big = 2**31 - 1
    assert java_murmur2_partition(b"21", big) == (-973932308 & 0x7FFFFFFF) % big
    assert java_murmur2_partition(b"foobar", big) == (-790332482 & 0x7FFFFFFF) % big


# ---- kafka-python ---------------------------------------------------------

@pytest.mark.parametrize("acks", [0, 1, "all"])
def test_kafka_python_acks(bootstrap, make_topic, acks):
    topic = make_topic(1)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=acks)
    try:
        metas = [producer.send(topic, value=f"v{i}".encode()) for i in range(10)]
        producer.flush(timeout=20)
        metas = [m.get(timeout=20) for m in metas]
    finally:
        producer.close()
    if acks != 0:  # acks=0 gets no response, so no offset from the broker
        assert [m.offset for m in metas] == list(range(10))
    got = read_back(bootstrap, topic, 1, 10)
    assert [r.value for r in got[0]] == [f"v{i}".encode() for i in range(10)]
    assert_contiguous(got)


def test_kafka_python_keyed_partitioning_and_headers(bootstrap, make_topic):
    topic = make_topic(3)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        futures = [producer.send(topic, key=k, value=b"v-" + k,
                                 headers=[("h", k), ("empty", b"")]) for k in KEYS]
        metas = [f.get(timeout=20) for f in futures]
    finally:
        producer.close()
    for key, meta in zip(KEYS, metas):
        assert meta.partition == java_murmur2_partition(key, 3), key
    got = read_back(bootstrap, topic, 3, len(KEYS))
    assert_contiguous(got)
    for partition, records in got.items():
        for r in records:
            assert java_murmur2_partition(r.key, 3) == partition
            assert r.value == b"v-" + r.key
            assert list(r.headers) == [("h", r.key), ("empty", b"")]
    assert sorted(r.key for rs in got.values() for r in rs) == sorted(KEYS)


@pytest.mark.parametrize("codec", CODECS)
def test_kafka_python_compression(bootstrap, make_topic, codec):
    if not getattr(kp_codec, f"has_{codec}")():
        pytest.skip(f"kafka-python has no {codec} library installed")
    topic = make_topic(1)
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec,
                             linger_ms=50, batch_size=65536)
    values = [(f"{codec}-record-{i} " * 20).encode() for i in range(200)]
    try:
        futures = [producer.send(topic, key=str(i).encode(), value=v) for i, v in enumerate(values)]
        producer.flush(timeout=20)
        assert [f.get(timeout=20).offset for f in futures] == list(range(200))
    finally:
        producer.close()
    got = read_back(bootstrap, topic, 1, 200)
    assert [r.value for r in got[0]] == values
    assert_contiguous(got)


def test_kafka_python_idempotent_producer(bootstrap, make_topic):
    topic = make_topic(3)
    producer = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                             linger_ms=10)
    try:
        futures = [producer.send(topic, key=KEYS[i % len(KEYS)], value=f"idem-{i}".encode())
                   for i in range(300)]
        producer.flush(timeout=20)
        metas = [f.get(timeout=20) for f in futures]
    finally:
        producer.close()
    per_partition = {}
    for i, m in enumerate(metas):
        per_partition.setdefault(m.partition, []).append(m.offset)
    for partition, offsets in per_partition.items():
        assert offsets == list(range(len(offsets))), partition
    got = read_back(bootstrap, topic, 3, 300)
    assert_contiguous(got)
    assert sum(map(len, got.values())) == 300


# ---- aiokafka -------------------------------------------------------------

@pytest.mark.parametrize("acks", [0, 1, "all"])
async def test_aiokafka_acks(bootstrap, make_topic, acks):
    topic = make_topic(1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=acks)
    await producer.start()
    try:
        metas = [await producer.send_and_wait(topic, value=f"v{i}".encode()) for i in range(10)]
    finally:
        await producer.stop()
    if acks != 0:
        assert [m.offset for m in metas] == list(range(10))
    got = read_back(bootstrap, topic, 1, 10)
    assert [r.value for r in got[0]] == [f"v{i}".encode() for i in range(10)]
    assert_contiguous(got)


async def test_aiokafka_keyed_partitioning_and_headers(bootstrap, make_topic):
    topic = make_topic(3)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, key=k, value=b"v-" + k,
                                       headers=[("h", k), ("empty", b"")]) for k in KEYS]
        metas = [await f for f in futures]
    finally:
        await producer.stop()
    for key, meta in zip(KEYS, metas):
        assert meta.partition == java_murmur2_partition(key, 3), key
    got = read_back(bootstrap, topic, 3, len(KEYS))
    assert_contiguous(got)
    for partition, records in got.items():
        for r in records:
            assert java_murmur2_partition(r.key, 3) == partition
            assert r.value == b"v-" + r.key
            assert list(r.headers) == [("h", r.key), ("empty", b"")]
    assert sorted(r.key for rs in got.values() for r in rs) == sorted(KEYS)


@pytest.mark.parametrize("codec", CODECS)
async def test_aiokafka_compression(bootstrap, make_topic, codec):
    if not getattr(aio_codec, f"has_{codec}")():
        pytest.skip(f"aiokafka has no {codec} library installed")
    topic = make_topic(1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=50)
    values = [(f"{codec}-record-{i} " * 20).encode() for i in range(200)]
    await producer.start()
    try:
        futures = [await producer.send(topic, key=str(i).encode(), value=v)
                   for i, v in enumerate(values)]
        assert [(await f).offset for f in futures] == list(range(200))
    finally:
        await producer.stop()
    got = read_back(bootstrap, topic, 1, 200)
    assert [r.value for r in got[0]] == values
    assert_contiguous(got)


async def test_aiokafka_idempotent_producer(bootstrap, make_topic):
    topic = make_topic(3)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=10)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=KEYS[i % len(KEYS)], value=f"idem-{i}".encode())
                   for i in range(300)]
        metas = [await f for f in futures]
    finally:
        await producer.stop()
    per_partition = {}
    for i, m in enumerate(metas):
        assert m.partition == java_murmur2_partition(KEYS[i % len(KEYS)], 3)
        per_partition.setdefault(m.partition, []).append(m.offset)
    for partition, offsets in per_partition.items():
        assert offsets == list(range(len(offsets))), partition
    got = read_back(bootstrap, topic, 3, 300)
    assert_contiguous(got)
    assert sorted(r.value for rs in got.values() for r in rs) == sorted(f"idem-{i}".encode() for i in range(300))
