'use strict'
// KafkaJS producer: acks, keyed partitioning, headers, gzip; read back with a consumer.
const test = require('node:test')
const assert = require('node:assert/strict')
const { CompressionTypes } = require('kafkajs')
const { exitWhenDone, kafka, unique, javaMurmur2Partition, createTopic, consumeN } = require('../helpers')

exitWhenDone()


async function withAdmin (fn) {
  const admin = kafka().admin()
  await admin.connect()
  try { return await fn(admin) } finally { await admin.disconnect() }
}

// Reads back through a fresh group whose offsets were set to 0 first, so the
// consumer starts from its committed offsets (OffsetFetch) rather than from a
// ListOffsets lookup: these tests check the producer path; the groups tests
// cover fromBeginning.
async function readAll (topic, count) {
  const groupId = unique('read')
  await withAdmin(async admin => {
    const { topics: [meta] } = await admin.fetchTopicMetadata({ topics: [topic] })
    const partitions = meta.partitions.map(p => ({ partition: p.partitionId, offset: '0' }))
    await admin.setOffsets({ groupId, topic, partitions })
  })
  const consumer = kafka().consumer({ groupId, heartbeatInterval: 500 })
  await consumer.connect()
  try {
    return await consumeN(consumer, topic, count)
  } finally {
    await consumer.disconnect()
  }
}

function assertContiguous (messages) {
  const byPartition = {}
  for (const m of messages) (byPartition[m.partition] ||= []).push(Number(m.offset))
  for (const [p, offsets] of Object.entries(byPartition)) {
    offsets.sort((a, b) => a - b)
    assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${p}`)
  }
}

for (const acks of [0, 1, -1]) {
  test(`producer: acks=${acks}, offsets 0..9 read back`, async () => {
    const topic = await withAdmin(admin => createTopic(admin, 1))
    const producer = kafka().producer()
    await producer.connect()
    let meta
    try {
      meta = await producer.send({
        topic, acks, messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` }))
      })
    } finally {
      await producer.disconnect()
    }
    if (acks !== 0) {
      assert.equal(meta.length, 1)
      assert.equal(meta[0].errorCode, 0)
      assert.equal(meta[0].baseOffset, '0')
    }
    const got = await readAll(topic, 10)
    assert.deepEqual(got.map(m => m.value.toString()), Array.from({ length: 10 }, (_, i) => `v${i}`))
    assertContiguous(got)
  })
}

test('producer: keyed records land where Java would put them; headers survive', async () => {
  const topic = await withAdmin(admin => createTopic(admin, 3))
  const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`)
  const producer = kafka().producer()
  await producer.connect()
  try {
    for (const key of keys) {
      const [meta] = await producer.send({
        topic, acks: -1, messages: [{ key, value: `v-${key}`, headers: { h: key, empty: '' } }]
      })
      assert.equal(meta.partition, javaMurmur2Partition(key, 3), key)
    }
  } finally {
    await producer.disconnect()
  }
  const got = await readAll(topic, keys.length)
  assertContiguous(got)
  for (const m of got) {
    const key = m.key.toString()
    assert.equal(m.partition, javaMurmur2Partition(key, 3))
    assert.equal(m.value.toString(), `v-${key}`)
    assert.equal(m.headers.h.toString(), key)
    assert.equal(m.headers.empty.toString(), '')
  }
  assert.deepEqual(got.map(m => m.key.toString()).sort(), [...keys].sort())
})

test('producer: gzip batch read back intact', async () => {
  const topic = await withAdmin(admin => createTopic(admin, 1))
  const values = Array.from({ length: 200 }, (_, i) => `gzip-record-${i} `.repeat(20))
  const producer = kafka().producer()
  await producer.connect()
  try {
    const [meta] = await producer.send({
      topic, compression: CompressionTypes.GZIP, messages: values.map((value, i) => ({ key: `${i}`, value }))
    })
    assert.equal(meta.baseOffset, '0')
  } finally {
    await producer.disconnect()
  }
  const got = await readAll(topic, 200)
  assert.deepEqual(got.map(m => m.value.toString()), values)
  assertContiguous(got)
})

test('producer: idempotent producer', async () => {
  const topic = await withAdmin(admin => createTopic(admin, 3))
  const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  try {
    for (let b = 0; b < 5; b++) {
      await producer.send({
        topic, acks: -1, messages: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `idem-${b}-${i}` }))
      })
    }
  } finally {
    await producer.disconnect()
  }
  const got = await readAll(topic, 100)
  assert.equal(got.length, 100)
  assertContiguous(got)
})

test('admin: fetchTopicOffsets and fetchTopicOffsetsByTimestamp', async () => {
  await withAdmin(async admin => {
    const topic = await createTopic(admin, 2)
    const base = Date.now() - 100000
    const producer = kafka().producer()
    await producer.connect()
    try {
      await producer.send({
        topic, messages: Array.from({ length: 5 }, (_, i) => ({ partition: 0, value: `m${i}`, timestamp: `${base + 1000 * i}` }))
      })
    } finally {
      await producer.disconnect()
    }
    const offsets = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition)
    assert.deepEqual(offsets.map(o => [o.partition, o.low, o.high]), [[0, '0', '5'], [1, '0', '0']])
    const byTs = (await admin.fetchTopicOffsetsByTimestamp(topic, base + 2500)).sort((a, b) => a.partition - b.partition)
    // partition 0: first record at or after the time is offset 3; partition 1 has none,
    // and KafkaJS then reports the latest offset.
    assert.deepEqual(byTs.map(o => [o.partition, o.offset]), [[0, '3'], [1, '0']])
  })
})
