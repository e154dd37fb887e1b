// Why the e2e benchmark's Kafka source fell behind at 10k events/s: a bare node-rdkafka consume loop
// (no engine, no WebSocket clients) against the same mock broker and producer as
// benchmarks/e2e-latency.bench.ts, counting what each Fetch brings back.
//   npx tsx benchmarks/e2e/kafka-fetch.ts [--rate 10000] [--linger-ms 1] [--duration-sec 15] [--burn 0] [--rtt-ms 0] [--client node-rdkafka|kafkajs]
//
// librdkafka's mock cluster answers a Fetch with at most ONE message set per partition
// (rdkafka_mock_handlers.c: "FIXME: Multiple messageSets ?"), where a real broker returns up to
// max.partition.fetch.bytes of them. One message set is one producer batch, so a consumer gets at
// most (batch size × partitions) messages per Fetch round trip, whatever its backlog. The script
// reports the producer's batches (librdkafka statistics), the consumer's Fetch requests, messages
// per Fetch and per partition, and how far the consumer fell behind (event time is the scheduled
// production time). --burn N runs N busy-looping processes next to it (the CPU contention of the
// e2e run's 1,000 clients); --rtt-ms adds a round-trip delay at the mock broker.
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { loadRdkafka } from '../../streams/kafka/index.ts'
import type { RdkafkaModule } from '../../streams/kafka/rdkafka.ts'
import { KafkaMock } from '../../tests/helpers/kafka.ts'

const { values: a } = parseArgs({ options: {
  rate: { type: 'string', default: '10000' }, 'linger-ms': { type: 'string', default: '1' }, 'duration-sec': { type: 'string', default: '15' },
  burn: { type: 'string', default: '0' }, client: { type: 'string', default: 'node-rdkafka' }, 'rtt-ms': { type: 'string', default: '0' }, partitions: { type: 'string', default: '4' },
} })
const RATE = Number(a.rate)
const DURATION = Number(a['duration-sec']) * 1000
const PARTITIONS = Number(a.partitions)
const now = (): number => performance.timeOrigin + performance.now()

const mock = await KafkaMock.start({ brokers: 1 })
if (Number(a['rtt-ms']) > 0) await mock.command(`rtt -1 ${Number(a['rtt-ms'])}`)
const topic = `fetch-diag-${Date.now()}`
await mock.createTopic(topic, PARTITIONS)
const burners: ChildProcess[] = []
for (let i = 0; i < Number(a.burn); i++) burners.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }))

let consumed = 0
let maxLag = 0
let lagSum = 0
let calls = 0
let running = true
let measuring = false
let fetches = 0
let fetches0 = 0
let consumed0 = 0
const take = (values: Array<Buffer | null>): void => {
  calls++
  const t = now()
  for (const v of values) {
    const s = v!.toString()
    const k = s.lastIndexOf('"t":') + 4
    const lag = t - parseInt(s.slice(k), 10)
    if (measuring) { lagSum += lag; if (lag > maxLag) maxLag = lag }
  }
  consumed += values.length
}
let assigned: () => boolean
let stopConsumer: () => Promise<void>
if (a.client === 'kafkajs') {
  // the kafkajs source's settings: maxWaitTimeInMs = fetchMaxWaitMs (5 in the e2e bench), minBytes 1 (kafkajs default)
  const { Kafka, logLevel } = (await import('kafkajs')).default
  const kafka = new Kafka({ brokers: mock.bootstrap.split(','), clientId: 'fetch-diag', logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: `${topic}-g`, maxWaitTimeInMs: 5, allowAutoTopicCreation: false })
  let joined = false
  consumer.on(consumer.events.GROUP_JOIN, () => { joined = true })
  consumer.on(consumer.events.FETCH, () => { fetches++ })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({ eachBatchAutoResolve: true, eachBatch: async ({ batch }) => { take(batch.messages.map((m) => m.value)) } })
  assigned = () => joined
  stopConsumer = () => consumer.disconnect()
} else {
  const lib = (await loadRdkafka()) as unknown as RdkafkaModule
  // the e2e benchmark's source settings (benchmarks/e2e-latency.bench.ts, streams/kafka/rdkafka.ts)
  const consumer = new lib.KafkaConsumer({
    'metadata.broker.list': mock.bootstrap, 'group.id': `${topic}-g`, 'enable.auto.commit': false, 'event_cb': true,
    'fetch.wait.max.ms': 5, 'fetch.min.bytes': 1, 'fetch.error.backoff.ms': 5, 'queued.max.messages.kbytes': 32768,
    'statistics.interval.ms': 1000,
  }, { 'auto.offset.reset': 'earliest' })
  consumer.on('event.stats', (s: { message: string }) => {
    const st = JSON.parse(s.message) as { brokers: Record<string, { nodeid: number; req?: Record<string, number> }> }
    fetches = Object.values(st.brokers).filter((b) => b.nodeid >= 0).reduce((n, b) => n + (b.req?.Fetch ?? 0), 0)
  })
  await new Promise<void>((resolve, reject) => consumer.connect({}, (err) => (err ? reject(err) : resolve())))
  consumer.setDefaultConsumeTimeout(5)
  consumer.subscribe([topic])
  const loop = (async () => {
    while (running) {
      const msgs = await new Promise<Array<{ value: Buffer | null }>>((resolve, reject) => consumer.consume(1000, (err, m) => (err ? reject(err) : resolve(m))))
      take(msgs.map((m) => m.value))
    }
  })()
  assigned = () => (consumer as unknown as { assignments(): unknown[] }).assignments().length > 0
  stopConsumer = async () => { running = false; await loop; await new Promise<void>((r) => consumer.disconnect(() => r())) }
}
// wait for the group assignment (the mock's join takes a few seconds), then produce
while (consumed === 0 && !assigned()) await new Promise((r) => setTimeout(r, 50))
const producer = fork(fileURLToPath(new URL('./producer.ts', import.meta.url)), ['--brokers', mock.bootstrap, '--topic', topic, '--partitions', String(PARTITIONS), '--rate', String(RATE), '--duration-ms', String(DURATION + 3000), '--linger-ms', a['linger-ms']!], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
await new Promise<void>((r) => producer.once('message', () => r()))
const done = new Promise<{ produced: number; batches: number }>((r) => producer.on('message', (m: { event: string; produced: number; batches: number }) => { if (m.event === 'done') r(m) }))
producer.send({ cmd: 'go' })
await new Promise((r) => setTimeout(r, 3000)) // warm-up
if (a.client !== 'kafkajs') await new Promise((r) => setTimeout(r, 1100)) // a fresh statistics callback
measuring = true
fetches0 = fetches
consumed0 = consumed
const t0 = now()
await new Promise((r) => setTimeout(r, DURATION - (a.client !== 'kafkajs' ? 1100 : 0)))
const secs = (now() - t0) / 1000
const measured = consumed - consumed0
const measuredFetches = fetches - fetches0
measuring = false
const prod = await done
await stopConsumer()
for (const b of burners) b.kill()
await mock.stop()
const row = {
  client: a.client, rate: RATE, 'linger ms': Number(a['linger-ms']), burners: Number(a.burn), 'rtt ms': Number(a['rtt-ms']),
  'producer msgs/batch': +(prod.produced / Math.max(1, prod.batches)).toFixed(1),
  'consumed/s': Math.round(measured / secs), 'fetches/s': Math.round(measuredFetches / secs),
  'msgs per fetch': +(measured / Math.max(1, measuredFetches)).toFixed(1), 'msgs per fetch per partition': +(measured / Math.max(1, measuredFetches) / PARTITIONS).toFixed(1),
  'mean lag ms': Math.round(lagSum / Math.max(1, measured)), 'max lag ms': Math.round(maxLag), 'consume() calls/s': Math.round(calls / secs),
}
console.log(JSON.stringify(row))
console.table([row])
process.exit(0)
