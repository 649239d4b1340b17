// KafkaJS producer and consumer of the failover check: the same arguments and line
// log as common.py describes (check.py reads them all). KafkaJS comes from
// ../node-client (its package-lock.json pins it; run.sh installs it there).
'use strict'
const fs = require('fs')
const path = require('path')
const { Kafka, logLevel, Partitioners } = require(path.join(__dirname, '../node-client/node_modules/kafkajs'))

const KEYS = 12
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function openLog (file) {
  const fd = fs.openSync(file, 'w')
  return (...parts) => fs.writeSync(fd, parts.join(' ') + '\n')
}

function client (bootstrap) {
  return new Kafka({
    clientId: 'failover-check',
    brokers: bootstrap.split(','),
    logLevel: logLevel.WARN,
    // KafkaJS gives up after 5 retries (about 10 s); Kafka takes its session
    // timeout (9 s) to move a dead node's leadership.
    retry: { retries: 30 }
  })
}

// Admin calls that a coordinator still loading its partition refuses
// (NOT_COORDINATOR) and KafkaJS does not retry.
async function retrying (what) {
  for (let i = 0; ; i++) {
    try {
      return await what()
    } catch (e) {
      if (i >= 20) throw e
      await sleep(500)
    }
  }
}

async function produce ([bootstrap, topic, count, rate, out]) {
  count = Number(count)
  rate = Number(rate)
  const log = openLog(out)
  const kafka = client(bootstrap)
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner
  })
  await producer.connect()
  // Each send() answers one base offset per partition; choosing the partition here,
  // with KafkaJS's own partitioner, tells which offset each record got.
  const partitioner = Partitioners.DefaultPartitioner()
  const meta = [0, 1, 2].map((partitionId) => ({ partitionId, leader: 0 }))
  const partitionOf = (key) => partitioner({ topic, partitionMetadata: meta, message: { key } })
  log('start', Date.now())
  const t0 = Date.now()
  let n = 0
  while (n < count) {
    const due = Math.min(count, Math.floor(((Date.now() - t0) * rate) / 1000) + 1)
    if (due <= n) {
      await sleep(Math.max(1, t0 + (n * 1000) / rate - Date.now()))
      continue
    }
    const batch = []
    for (; n < due; n++) {
      const key = Buffer.from(`k${n % KEYS}`)
      batch.push({ n, key, value: Buffer.from(String(n)), partition: partitionOf(key) })
    }
    // One send per partition: KafkaJS retries the partitions of a request that
    // failed and answers only for those, so a send spanning partitions may come
    // back without the base offset of some. Partitions run side by side, each in
    // order.
    const byPartition = new Map()
    for (const b of batch) {
      if (!byPartition.has(b.partition)) byPartition.set(b.partition, [])
      byPartition.get(b.partition).push(b)
    }
    await Promise.all([...byPartition].map(async ([partition, recs]) => {
      try {
        const res = await producer.send({
          topic,
          acks: -1,
          messages: recs.map(({ key, value }) => ({ key, value, partition }))
        })
        const now = Date.now()
        const meta = res.find((r) => r.partition === partition)
        if (!meta) throw new Error(`no base offset for partition ${partition} in ${JSON.stringify(res)}`)
        let o = BigInt(meta.baseOffset)
        for (const b of recs) log('ack', b.n, partition, (o++).toString(), now)
      } catch (e) {
        for (const b of recs) log('err', b.n, String(e).replace(/\n/g, ' '))
      }
    }))
  }
  await producer.disconnect()
  log('done', `sent=${count}`)
}

async function consume ([bootstrap, topic, group, max, rate, out]) {
  max = Number(max)
  rate = Number(rate)
  const log = openLog(out)
  const kafka = client(bootstrap)
  const admin = kafka.admin()
  await admin.connect()
  const ends = new Map()
  for (const o of await retrying(() => admin.fetchTopicOffsets(topic))) ends.set(o.partition, BigInt(o.high))
  const [committed] = await retrying(() => admin.fetchOffsets({ groupId: group, topics: [topic] }))
  await admin.disconnect()
  for (const [p, o] of [...ends].sort((a, b) => a[0] - b[0])) log('end', p, o.toString())
  const pos = new Map()
  for (const { partition, offset } of committed.partitions.sort((a, b) => a.partition - b.partition)) {
    log('committed', partition, offset)
    pos.set(partition, BigInt(offset) < 0n ? 0n : BigInt(offset))
  }
  let read = 0
  const t0 = Date.now()
  const finished = () => (max > 0 && read >= max) ||
    [...ends].every(([p, o]) => (pos.get(p) || 0n) >= o)
  let resolveDone
  const done = new Promise((resolve) => { resolveDone = resolve })
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 500 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      const msgs = batch.messages
      for (let i = 0; i < msgs.length && !finished(); i += 50) {
        if (!isRunning() || isStale()) return
        let last
        for (const m of msgs.slice(i, i + 50)) {
          if (max > 0 && read >= max) break
          log('rec', batch.partition, m.offset, m.value.toString())
          read++
          last = BigInt(m.offset)
          resolveOffset(m.offset)
        }
        if (last === undefined) break
        pos.set(batch.partition, last + 1n > (pos.get(batch.partition) || 0n) ? last + 1n : pos.get(batch.partition))
        try {
          await consumer.commitOffsets([{ topic, partition: batch.partition, offset: (last + 1n).toString() }])
          log('commit', batch.partition, (last + 1n).toString())
        } catch (e) {
          // A commit refused while the coordinator moves is retried with the next batch.
          log('err', -1, 'commit: ' + String(e).replace(/\n/g, ' '))
        }
        await heartbeat()
        if (rate > 0) await sleep(Math.max(0, t0 + (read * 1000) / rate - Date.now()))
      }
      if (finished()) resolveDone()
    }
  })
  await done
  await consumer.disconnect()
  log('done', `read=${read}`)
}

const [mode, ...rest] = process.argv.slice(2)
;(mode === 'produce' ? produce(rest) : consume(rest)).then(
  () => process.exit(0),
  (e) => { console.error(e); process.exit(1) }
)
