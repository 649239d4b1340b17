'use strict'
// KafkaJS admin: topics, configs.
const test = require('node:test')
const assert = require('node:assert/strict')
const { ConfigResourceTypes } = require('kafkajs')
const { exitWhenDone, kafka, REPLICATION_FACTOR, unique, waitFor } = require('../helpers')

exitWhenDone()

test('admin: create, list, fetchTopicMetadata, create again, describeConfigs, delete', async () => {
  const admin = kafka().admin()
  await admin.connect()
  try {
    const topic = unique('adm')
    assert.equal(await admin.createTopics({
      topics: [{ topic, numPartitions: 3, replicationFactor: REPLICATION_FACTOR }], waitForLeaders: true
    }), true)
    // On a cluster the broker answering may learn of the topic a moment after
    // the one that created it (Kafka's brokers too).
    await waitFor(`${topic} listed`, async () => (await admin.listTopics()).includes(topic), 15000)

    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
    assert.equal(topics.length, 1)
    assert.equal(topics[0].name, topic)
    const parts = [...topics[0].partitions].sort((a, b) => a.partitionId - b.partitionId)
    assert.deepEqual(parts.map(p => p.partitionId), [0, 1, 2])
    for (const p of parts) {
      assert.equal(p.partitionErrorCode, 0)
      assert.ok(p.leader >= 0)
      assert.equal(p.replicas.length, REPLICATION_FACTOR)
      assert.ok(p.replicas.includes(p.leader))
      assert.deepEqual([...p.isr].sort(), [...p.replicas].sort())
    }

    // KafkaJS answers false (not an error) when the topic already exists.
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] }), false)

    const cfg = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'cleanup.policy'] }],
      includeSynonyms: false
    })
    assert.equal(cfg.resources.length, 1)
    assert.equal(cfg.resources[0].errorCode, 0)
    const entries = Object.fromEntries(cfg.resources[0].configEntries.map(e => [e.configName, e]))
    assert.equal(entries['retention.ms'].configValue, '604800000')
    assert.equal(entries['retention.ms'].isDefault, true)
    assert.equal(entries['retention.ms'].readOnly, false)
    assert.equal(entries['cleanup.policy'].configValue, 'delete')

    await admin.deleteTopics({ topics: [topic] })
    await waitFor(`${topic} gone`, async () => !(await admin.listTopics()).includes(topic), 15000)
  } finally {
    await admin.disconnect()
  }
})

test('admin: createTopics with an invalid name fails', async () => {
  const admin = kafka().admin()
  await admin.connect()
  try {
    await assert.rejects(
      admin.createTopics({ topics: [{ topic: 'bad/name-' + unique('x'), numPartitions: 1 }] }),
      err => err.name === 'KafkaJSAggregateError' &&
        err.errors.length === 1 && err.errors[0].type === 'INVALID_TOPIC_EXCEPTION')
  } finally {
    await admin.disconnect()
  }
})
