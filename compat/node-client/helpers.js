'use strict'
// Shared helpers: broker address, unique names, a Java-compatible murmur2.
const crypto = require('node:crypto')
const { Kafka, logLevel } = require('kafkajs')

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const BOOTSTRAP = process.env.KAVKA_BOOTSTRAP || '127.0.0.1:9092'
// Brokers in the cluster under test (run.sh --cluster N); topics get this many
// replicas (at most 3), so a 3-node run exercises RF 3 with min.insync.replicas=2.
const REPLICATION_FACTOR = Math.min(Number(process.env.KAVKA_NODES || '1'), 3)
// Waits are shorter on Kavka so that the known-bug todos (which time out) keep the run short.
const WAIT_MS = process.env.KAVKA_BROKER === 'kavka' ? 10000 : 30000

function unique (prefix) {
  return `${prefix}-${crypto.randomBytes(5).toString('hex')}`
}

function kafka (clientId = 'compat-kafkajs') {
  return new Kafka({
    clientId,
    brokers: BOOTSTRAP.split(','),
    logLevel: process.env.KAFKAJS_LOG ? logLevel.INFO : logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 100 },
    connectionTimeout: 3000,
    requestTimeout: 15000
  })
}

// Where Java's default partitioner puts a keyed record: Utils.murmur2(key),
// toPositive (& 0x7fffffff), modulo the partition count. Written out here so
// the test does not trust KafkaJS's own copy.
function javaMurmur2Partition (key, numPartitions) {
  const data = Buffer.from(key)
  const seed = 0x9747b28c
  const m = 0x5bd1e995
  const r = 24
  const length = data.length
  let h = (seed ^ length) >>> 0
  const length4 = length >> 2
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4
    let k = data.readUInt32LE(i4)
    k = Math.imul(k, m)
    k ^= k >>> r
    k = Math.imul(k, m)
    h = Math.imul(h, m)
    h ^= k
  }
  const tail = length & ~3
  switch (length % 4) {
    case 3: h ^= data[tail + 2] << 16 // falls through
    case 2: h ^= data[tail + 1] << 8 // falls through
    case 1:
      h ^= data[tail]
      h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return (h & 0x7fffffff) % numPartitions
}

async function createTopic (admin, partitions = 1) {
  const topic = unique('t')
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: REPLICATION_FACTOR }],
    waitForLeaders: true
  })
  if (!created) throw new Error(`topic ${topic} already existed`)
  return topic
}

async function waitFor (what, fn, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

// Runs a consumer until `count` messages arrived; returns them.
async function consumeN (consumer, topic, count, { fromBeginning = true, timeoutMs = WAIT_MS } = {}) {
  const got = []
  await consumer.subscribe({ topics: [topic], fromBeginning })
  await consumer.run({
    eachMessage: async ({ partition, message }) => { got.push({ partition, ...message }) }
  })
  await waitFor(`${count} messages from ${topic} (have ${got.length})`, () => got.length >= count, timeoutMs)
  return got
}

// Test options for a scenario that passes on Apache Kafka but fails on Kavka
// because of a known Kavka bug: a `todo` (reported, not failing the run) when
// run.sh --kavka set KAVKA_BROKER=kavka, a plain test everywhere else.
function kavkaBug (reason) {
  return process.env.KAVKA_BROKER === 'kavka' ? { todo: `Kavka bug: ${reason}` } : {}
}

// KafkaJS clients whose requests a broker keeps dropping can leave retry timers
// behind after disconnect(), which keeps a test file's process alive until the
// runner's timeout. Once a file's tests are done, let its process exit.
function exitWhenDone () {
  require('node:test').after(() => { setTimeout(() => process.exit(), 2000).unref() })
}

module.exports = { exitWhenDone, kavkaBug, BOOTSTRAP, REPLICATION_FACTOR, unique, kafka, javaMurmur2Partition, createTopic, waitFor, consumeN }
