"""Topic administration: kafka-python's KafkaAdminClient and aiokafka's AIOKafkaAdminClient."""
import asyncio
import time

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource as AioConfigResource
from aiokafka.admin.config_resource import ConfigResourceType as AioConfigResourceType
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError

from conftest import REPLICATION_FACTOR, wait_for_leaders

TOPIC_ALREADY_EXISTS = 36


def wait_listed(list_topics, name, timeout=15.0):
    """On a cluster the broker answering may learn of a new topic a moment
    after the one that created it (on Kafka as on Kavka)."""
    deadline = time.monotonic() + timeout
    while name not in list_topics():
        assert time.monotonic() < deadline, f"{name} not listed {timeout}s after create"
        time.sleep(0.1)


def wait_gone(list_topics, name, timeout=15.0):
    deadline = time.monotonic() + timeout
    while name in list_topics():
        assert time.monotonic() < deadline, f"{name} still listed {timeout}s after delete"
        time.sleep(0.1)


def test_kafka_python_topic_lifecycle(admin, unique):
    name = unique("adm")
    result = admin.create_topics({name: {"num_partitions": 3, "replication_factor": REPLICATION_FACTOR}})
    [created] = result["topics"]
    assert (created["name"], created["error_code"], created["num_partitions"]) == (name, 0, 3)
    assert created["configs"]["retention.ms"]["value"] == "604800000"

    wait_for_leaders(admin, name, 3)
    wait_listed(admin.list_topics, name)
    [desc] = admin.describe_topics([name])
    assert desc["name"] == name and desc["error_code"] == 0 and not desc["is_internal"]
    parts = sorted(desc["partitions"], key=lambda p: p["partition_index"])
    assert [p["partition_index"] for p in parts] == [0, 1, 2]
    for p in parts:
        assert p["error_code"] == 0
        assert p["leader_id"] >= 0
        assert len(p["replica_nodes"]) == REPLICATION_FACTOR
        assert p["leader_id"] in p["replica_nodes"]
        assert sorted(p["isr_nodes"]) == sorted(p["replica_nodes"])

    with pytest.raises(TopicAlreadyExistsError):
        admin.create_topics({name: {"num_partitions": 3, "replication_factor": REPLICATION_FACTOR}})

    configs = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, {"retention.ms": None})], config_filter="all")
    entry = configs["topic"][name]["retention.ms"]
    assert entry["value"] == "604800000"
    assert entry["config_source"] == "DEFAULT_CONFIG"
    assert entry["read_only"] is False and entry["is_sensitive"] is False

    deleted = admin.delete_topics([name])
    assert [(t["name"], t["error_code"]) for t in deleted["topics"]] == [(name, 0)]
    wait_gone(admin.list_topics, name)


async def test_aiokafka_topic_lifecycle(bootstrap, unique):
    name = unique("adm")
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)
    await client.start()
    try:
        resp = await client.create_topics([NewTopic(name, 3, REPLICATION_FACTOR)])
        assert [(t[0], t[1]) for t in resp.topic_errors] == [(name, 0)]

        deadline = time.monotonic() + 15
        while True:
            [desc] = await client.describe_topics([name])
            if desc["error_code"] == 0 and len(desc["partitions"]) == 3 \
                    and all(p["leader"] >= 0 for p in desc["partitions"]):
                break
            assert time.monotonic() < deadline, desc
            await asyncio.sleep(0.1)
        # On a cluster the broker answering ListTopics may not have the new
        # topic's metadata yet (Kafka's brokers catch up within moments too).
        while name not in await client.list_topics():
            assert time.monotonic() < deadline, f"{name} not listed {15}s after create"
            await asyncio.sleep(0.1)
        assert sorted(p["partition"] for p in desc["partitions"]) == [0, 1, 2]

        again = await client.create_topics([NewTopic(name, 3, REPLICATION_FACTOR)])
        assert [(t[0], t[1]) for t in again.topic_errors] == [(name, TOPIC_ALREADY_EXISTS)]

        [resp] = await client.describe_configs(
            [AioConfigResource(AioConfigResourceType.TOPIC, name, {"retention.ms": None})])
        [res] = resp.resources
        assert res[0] == 0 and res[3] == name
        entries = {e[0]: e for e in res[4]}
        assert entries["retention.ms"][1] == "604800000"
        assert entries["retention.ms"][3] == 5  # DEFAULT_CONFIG

        resp = await client.delete_topics([name])
        assert [(t[0], t[1]) for t in resp.topic_error_codes] == [(name, 0)]
        deadline = time.monotonic() + 15
        while name in await client.list_topics():
            assert time.monotonic() < deadline, f"{name} still listed after delete"
            await asyncio.sleep(0.1)
    finally:
        await client.close()
