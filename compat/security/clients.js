'use strict'
// KafkaJS over SASL_SSL with SCRAM-SHA-256 and over mutual TLS.
//   node clients.js BROKER_NAME SASL_SSL_BOOTSTRAP SSL_BOOTSTRAP CERT_DIR
// One line per step, `kafkajs <transport> <step>: <outcome>`, for diffing.
const fs = require('node:fs')
const path = require('node:path')
// KafkaJS is installed in compat/node-client (npm ci).
const { Kafka, logLevel } = require(path.join(__dirname, '..', 'node-client', 'node_modules', 'kafkajs'))

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const [, , , saslBootstrap, sslBootstrap, certs] = process.argv
const ALLOWED = 'secure-topic'
const FORBIDDEN = 'forbidden-topic'

function say (transport, step, outcome) {
  console.log(`kafkajs ${transport} ${step}: ${outcome}`)
}

function client (transport, password = 'alice-secret') {
  const ca = [fs.readFileSync(path.join(certs, 'ca.pem'))]
  const base = {
    clientId: 'security-compat',
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 100 },
    connectionTimeout: 5000,
    requestTimeout: 15000
  }
  if (transport === 'sasl_ssl') {
    return new Kafka({
      ...base,
      brokers: [saslBootstrap],
      ssl: { ca },
      sasl: { mechanism: 'scram-sha-256', username: 'alice', password }
    })
  }
  return new Kafka({
    ...base,
    brokers: [sslBootstrap],
    ssl: {
      ca,
      cert: fs.readFileSync(path.join(certs, 'carol.pem')),
      key: fs.readFileSync(path.join(certs, 'carol.key'))
    }
  })
}

// KafkaJS wraps the broker's error (e.g. TOPIC_AUTHORIZATION_FAILED) once it
// stops retrying; the broker's error name is the cause's type.
function describe (e) {
  const cause = e.cause || e.originalError
  return cause ? `${e.name} (${cause.type || cause.name})` : (e.type || e.name)
}

async function run (transport) {
  const values = [0, 1, 2].map((i) => `kafkajs-${transport}-${i}`)
  const kafka = client(transport)
  const producer = kafka.producer()
  try {
    await producer.connect()
    await producer.send({ topic: ALLOWED, messages: values.map((value) => ({ value })) })
    say(transport, 'produce', 'ok')
    try {
      await producer.send({ topic: FORBIDDEN, messages: [{ value: 'x' }] })
      say(transport, 'produce denied topic', 'accepted (!)')
    } catch (e) {
      say(transport, 'produce denied topic', describe(e))
    }
  } catch (e) {
    say(transport, 'produce', `${describe(e)}: ${e.message}`)
  } finally {
    await producer.disconnect()
  }
  const consumer = kafka.consumer({ groupId: `${transport}-kafkajs` })
  try {
    await consumer.connect()
    await consumer.subscribe({ topic: ALLOWED, fromBeginning: true })
    const got = new Set()
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, 30000)
      consumer.run({
        eachMessage: async ({ message }) => {
          got.add(message.value.toString())
          if (values.every((v) => got.has(v))) {
            clearTimeout(timer)
            resolve()
          }
        }
      }).catch(reject)
    })
    say(transport, 'consume', values.every((v) => got.has(v)) ? 'ok' : 'missing records')
  } catch (e) {
    say(transport, 'consume', `${describe(e)}: ${e.message}`)
  } finally {
    await consumer.disconnect()
  }
  if (transport === 'sasl_ssl') {
    const bad = client(transport, 'guess').producer()
    try {
      await bad.connect()
      say(transport, 'wrong password', 'connected (!)')
    } catch (e) {
      say(transport, 'wrong password', `${describe(e)}: ${e.message}`)
    } finally {
      await bad.disconnect().catch(() => {})
    }
  }
}

async function main () {
  await run('sasl_ssl')
  await run('mtls')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
