'use strict'
// KafkaJS consumer groups: run/eachMessage, two members splitting partitions,
// commit and resume, admin fetchOffsets / resetOffsets / listGroups / describeGroups.
const test = require('node:test')
const assert = require('node:assert/strict')
const { exitWhenDone, kafka, unique, createTopic, waitFor, consumeN } = require('../helpers')

exitWhenDone()


async function withAdmin (fn) {
  const admin = kafka().admin()
  await admin.connect()
  try { return await fn(admin) } finally { await admin.disconnect() }
}

async function produce (topic, values, partition) {
  const producer = kafka().producer()
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: values.map(value => ({ value, partition })) })
  } finally {
    await producer.disconnect()
  }
}

const vals = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

function consumer (groupId, extra = {}) {
  return kafka().consumer({ groupId, heartbeatInterval: 500, sessionTimeout: 10000, ...extra })
}

test('group: run/eachMessage from beginning gets every record', async () => {
  const topic = await withAdmin(admin => createTopic(admin, 3))
  await produce(topic, vals('e', 9))
  const c = consumer(unique('g'))
  await c.connect()
  try {
    const got = await consumeN(c, topic, 9)
    assert.deepEqual(got.map(m => m.value.toString()).sort(), vals('e', 9).sort())
  } finally {
    await c.disconnect()
  }
})

test('group: two members split a 3-partition topic 2+1', async () => {
  const topic = await withAdmin(admin => createTopic(admin, 3))
  const groupId = unique('g')
  const members = [consumer(groupId), consumer(groupId)]
  const assigned = [null, null]
  try {
    for (const [i, c] of members.entries()) {
      await c.connect()
      c.on(c.events.GROUP_JOIN, e => { assigned[i] = (e.payload.memberAssignment[topic] || []) })
      await c.subscribe({ topics: [topic], fromBeginning: true })
      await c.run({ eachMessage: async () => {} })
    }
    await waitFor('both members assigned, 3 partitions in all', () =>
      assigned[0] && assigned[1] && assigned[0].length + assigned[1].length === 3 &&
      assigned[0].length > 0 && assigned[1].length > 0)
    const all = [...assigned[0], ...assigned[1]]
    assert.deepEqual([...all].sort(), [0, 1, 2], 'no partition owned twice')
    assert.deepEqual([assigned[0].length, assigned[1].length].sort(), [1, 2])
  } finally {
    for (const c of members) await c.disconnect()
  }
})

test('group: commit then a new member resumes after the commit; fetchOffsets, resetOffsets', async () => {
  const topic = await withAdmin(admin => createTopic(admin, 1))
  const groupId = unique('g')
  await produce(topic, vals('c', 10))

  const first = consumer(groupId, {})
  await first.connect()
  const seen = []
  try {
    await first.subscribe({ topics: [topic], fromBeginning: true })
    await first.run({
      autoCommit: false,
      eachMessage: async ({ message }) => { seen.push(Number(message.offset)) }
    })
    await waitFor('10 messages', () => seen.length >= 10)
    await first.commitOffsets([{ topic, partition: 0, offset: '6' }])
  } finally {
    await first.disconnect()
  }

  await withAdmin(async admin => {
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] })
    assert.deepEqual(offsets.map(t => [t.topic, t.partitions.map(p => [p.partition, p.offset])]),
      [[topic, [[0, '6']]]])
  })

  const second = consumer(groupId)
  await second.connect()
  try {
    const got = await consumeN(second, topic, 4, { fromBeginning: true })
    assert.deepEqual(got.map(m => Number(m.offset)), [6, 7, 8, 9])
  } finally {
    await second.disconnect()
  }

  await withAdmin(async admin => {
    await admin.resetOffsets({ groupId, topic, earliest: true })
    // KafkaJS commits the sentinel -2 (earliest); its consumer resolves it on start.
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] })
    assert.deepEqual(offsets[0].partitions.map(p => [p.partition, p.offset]), [[0, '-2']])
  })
  const third = consumer(groupId)
  await third.connect()
  try {
    const got = await consumeN(third, topic, 10)
    assert.equal(Number(got[0].offset), 0)
  } finally {
    await third.disconnect()
  }
})

test('group: two groups each get every record', async () => {
  const topic = await withAdmin(admin => createTopic(admin, 3))
  await produce(topic, vals('x', 12))
  const cs = [consumer(unique('g1')), consumer(unique('g2'))]
  try {
    await Promise.all(cs.map(c => c.connect()))
    const results = await Promise.all(cs.map(c => consumeN(c, topic, 12)))
    for (const got of results) {
      assert.deepEqual(got.map(m => m.value.toString()).sort(), vals('x', 12).sort())
    }
  } finally {
    for (const c of cs) await c.disconnect()
  }
})

test('group: listGroups and describeGroups of a stable group', async () => {
  const topic = await withAdmin(admin => createTopic(admin, 2))
  const groupId = unique('g')
  const c = consumer(groupId)
  await c.connect()
  try {
    let joined = false
    c.on(c.events.GROUP_JOIN, () => { joined = true })
    await c.subscribe({ topics: [topic] })
    await c.run({ eachMessage: async () => {} })
    await waitFor('join', () => joined)
    await withAdmin(async admin => {
      const { groups } = await admin.listGroups()
      const mine = groups.find(g => g.groupId === groupId)
      assert.ok(mine, 'group listed')
      assert.equal(mine.protocolType, 'consumer')
      const desc = await admin.describeGroups([groupId])
      assert.equal(desc.groups.length, 1)
      const g = desc.groups[0]
      assert.equal(g.groupId, groupId)
      assert.equal(g.errorCode, 0)
      assert.equal(g.state, 'Stable')
      assert.equal(g.protocolType, 'consumer')
      assert.equal(g.protocol, 'RoundRobinAssigner')
      assert.equal(g.members.length, 1)
      assert.equal(g.members[0].clientId, 'compat-kafkajs')
    })
  } finally {
    await c.disconnect()
  }
  await withAdmin(async admin => {
    const desc = await admin.describeGroups([groupId])
    assert.equal(desc.groups[0].state, 'Empty')
    assert.equal(desc.groups[0].members.length, 0)
  })
})
