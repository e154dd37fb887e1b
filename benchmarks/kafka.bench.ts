// Kafka consume path: a bare client loop against the same consumption through our Source into the
// engine, for kafkajs and node-rdkafka, JSON with one event per message and 100 events per message.
//   node --import tsx benchmarks/kafka.bench.ts [--events 600000] [--runs 2] [--partitions 32]
// The mock broker keeps only about 5 MB per partition (older message sets are purged, like a small
// retention), so events × ~170 bytes / partitions must stay below that or the topic loses its head.
//
//   bare     the client's own loop (kafkajs eachBatch / node-rdkafka consume(n)), JSON.parse, and a
//            tiny windowed count inline: a Map per 1-minute window, by event kind;
//   source   createKafkaSource → Runner → keyBy(kind) → tumbling 1 min → count → sink, the runtime's
//            own path (streams/runner.ts), with a plain JSON decode function.
// Both read the same topic from the beginning with a fresh group. Timing starts at the first record
// (the mock broker's group join takes ~3 s and is not the consume path) and ends at the N-th.
// "per core" = events / CPU seconds of this process (all threads, librdkafka's included); the mock
// broker runs in its own process and is not counted. Figures go to benchmarks/kafka/README.md.
import { parseArgs } from 'node:util'
import pino from 'pino'
import kafkajs from 'kafkajs'
import { KafkaMock } from '../tests/helpers/kafka.ts'
import { createKafkaSource, loadRdkafka, rdkafkaAvailable, type KafkaMessage, type Decoded } from '../streams/kafka/index.ts'
import { produceEvents } from '../streams/kafka/producer.ts'
import { generateEvents } from '../streams/sources/synthetic.ts'
import { eventTime, type FirehoseEvent } from '../schemas/events.ts'
import { Runner } from '../streams/runner.ts'
import { Topology } from '../streams/topology.ts'
import { count, tumbling, type WindowResult } from '../streams/windows.ts'
import type { Batch, PollResult, Sink, Source, SourceHooks } from '../streams/types.ts'
import { FirehoseCodec } from '../schemas/codec.ts'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const { values: args } = parseArgs({ options: { events: { type: 'string', default: '600000' }, runs: { type: 'string', default: '2' }, partitions: { type: 'string', default: '32' }, shapes: { type: 'string', default: 'one,many,avro' } } })
const N = Number(args.events)
const RUNS = Number(args.runs)
const PARTITIONS = Number(args.partitions)
const PER_MESSAGE = 100
const SHAPES = args.shapes!.split(',') as Array<'one' | 'many' | 'avro'>
const WINDOW = 60_000

// ---- decoding: plain JSON, no validation (this measures the Kafka path, not schemas/) ----
function decodeOne(messages: readonly KafkaMessage[]): Decoded<FirehoseEvent> {
  const values = new Array<FirehoseEvent>(messages.length)
  const times = new Array<number>(messages.length)
  for (let i = 0; i < messages.length; i++) {
    const e = JSON.parse(messages[i].value!.toString()) as FirehoseEvent
    values[i] = e
    times[i] = eventTime(e)
  }
  return { values, times, deadLetters: [] }
}
function decodeMany(messages: readonly KafkaMessage[]): Decoded<FirehoseEvent> {
  const values: FirehoseEvent[] = []
  const times: number[] = []
  for (let i = 0; i < messages.length; i++) {
    const arr = JSON.parse(messages[i].value!.toString()) as FirehoseEvent[]
    for (let j = 0; j < arr.length; j++) { values.push(arr[j]); times.push(eventTime(arr[j])) }
  }
  return { values, times, deadLetters: [] }
}

type Shape = 'one' | 'many' | 'avro'
// Avro: the Confluent wire format through schemas/codec.ts (bounds-checked decode), one event per message
const codec = await FirehoseCodec.create({ defaultFormat: 'avro', encodeTopic: null })
const decodeAvro = (messages: readonly KafkaMessage[]): Decoded<FirehoseEvent> => codec.decodeBatchSync(messages)
const decoders: Record<Shape, (m: readonly KafkaMessage[]) => Decoded<FirehoseEvent>> = { one: decodeOne, many: decodeMany, avro: decodeAvro }

/** The inline windowed count of the bare loops. */
class InlineCount {
  readonly windows = new Map<number, Map<string, number>>()
  n = 0
  add(e: FirehoseEvent): void {
    const t = eventTime(e)
    const w = t - (t % WINDOW)
    let m = this.windows.get(w)
    if (!m) this.windows.set(w, (m = new Map()))
    m.set(e.kind, (m.get(e.kind) ?? 0) + 1)
    this.n++
  }
  total(): number { let s = 0; for (const m of this.windows.values()) for (const v of m.values()) s += v; return s }
}

interface Timing { events: number; wallS: number; cpuS: number; total: number }

class Clock {
  private t0 = 0
  private c0: NodeJS.CpuUsage | null = null
  started = false
  start(): void { if (this.started) return; this.started = true; this.t0 = performance.now(); this.c0 = process.cpuUsage() }
  stop(events: number, total: number): Timing {
    const c = process.cpuUsage(this.c0!)
    return { events, wallS: (performance.now() - this.t0) / 1000, cpuS: (c.user + c.system) / 1e6, total }
  }
}

// ---- bare loops ----
async function bareKafkajs(brokers: string[], topic: string, shape: Shape): Promise<Timing> {
  const decode = decoders[shape]
  const kafka = new kafkajs.Kafka({ brokers, clientId: 'bench', logLevel: kafkajs.logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: `bare-${topic}-${Date.now()}`, maxWaitTimeInMs: 100, maxBytes: 10 * 1024 * 1024, maxBytesPerPartition: 1024 * 1024 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const c = new InlineCount()
  const clock = new Clock()
  const done = new Promise<Timing>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        clock.start()
        const msgs = batch.messages.map((m) => ({ value: m.value, topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key, timestamp: m.timestamp }))
        for (const e of decode(msgs as unknown as KafkaMessage[]).values) c.add(e)
        if (c.n >= N) resolve(clock.stop(c.n, c.total()))
      },
    })
  })
  const t = await done
  await consumer.disconnect()
  return t
}

async function bareRdkafka(brokers: string[], topic: string, shape: Shape): Promise<Timing> {
  const decode = decoders[shape]
  const lib = await loadRdkafka()
  const consumer = new lib.KafkaConsumer({
    'metadata.broker.list': brokers.join(','), 'group.id': `bare-${topic}-${Date.now()}`, 'enable.auto.commit': false,
    'rebalance_cb': true, 'fetch.wait.max.ms': 100,
  }, { 'auto.offset.reset': 'earliest' })
  await new Promise<void>((res, rej) => consumer.connect({ timeout: 10_000 }, (e) => (e ? rej(e) : res())))
  consumer.setDefaultConsumeTimeout(100)
  consumer.subscribe([topic])
  const c = new InlineCount()
  const clock = new Clock()
  while (c.n < N) {
    const msgs = await new Promise<KafkaMessage[]>((res, rej) => consumer.consume(1000, (e, m) => (e ? rej(e) : res(m))))
    if (msgs.length) clock.start()
    for (const e of decode(msgs).values) c.add(e)
  }
  const t = clock.stop(c.n, c.total())
  await new Promise<void>((res) => consumer.disconnect(() => res()))
  return t
}

// ---- through the Source and the runtime ----

/** Ends the run after n values and times it from the first non-empty poll. */
class Bounded<T> implements Source<T> {
  readonly name: string
  n = 0
  readonly clock = new Clock()
  timing: Timing | null = null
  constructor(private readonly inner: Source<T>, private readonly limit: number) { this.name = inner.name }
  open(p: Record<string, unknown> | null, h: SourceHooks): Promise<void> { return this.inner.open(p, h) }
  async poll(max: number): Promise<PollResult<T>> {
    const r = await this.inner.poll(max)
    for (const b of r.batches) { if (b.values.length) this.clock.start(); this.n += b.values.length }
    if (this.n >= this.limit) {
      if (!this.timing) this.timing = this.clock.stop(this.n, 0)
      return { batches: r.batches, done: true, finished: Object.keys(this.inner.positions()) }
    }
    return r
  }
  positions(): Record<string, unknown> { return this.inner.positions() }
  close(): Promise<void> { return this.inner.close() }
}

class TotalSink implements Sink<WindowResult<string, number>> {
  readonly name = 'total'
  total = 0
  write(b: Batch<WindowResult<string, number>>): void { for (const r of b.values) this.total += r.value }
}

async function throughSource(client: 'kafkajs' | 'node-rdkafka', brokers: string[], topic: string, shape: Shape): Promise<Timing> {
  const src = await createKafkaSource<FirehoseEvent>({
    client, brokers, topics: [topic], groupId: `src-${topic}-${Date.now()}`, decode: decoders[shape],
    fetchMaxWaitMs: 100, logLevel: 'error',
  })
  const bounded = new Bounded(src, N)
  const sink = new TotalSink()
  const t = new Topology('kafka-bench')
  t.from(bounded, { outOfOrdernessMs: 5_000 }).keyBy((e: FirehoseEvent) => e.kind).window(tumbling(WINDOW)).aggregate('count', count()).to(sink)
  const runner = new Runner(t, { maxBatchRecords: 4096, checkpointIntervalMs: 0, checkpointAtEnd: false }, { logger: pino({ level: 'silent' }) })
  await runner.run()
  // the count is complete once the end-of-input watermark fired every window
  const timing = bounded.clock.stop(bounded.n, sink.total)
  await src.close()
  return timing
}

// ---- main ----
const mock = await KafkaMock.start({ brokers: 3 })
try {
  const haveRd = await rdkafkaAvailable()
  const clients = haveRd ? (['kafkajs', 'node-rdkafka'] as const) : (['kafkajs'] as const)
  if (!haveRd) console.log('node-rdkafka is not installed: measuring kafkajs only')
  const { events } = generateEvents({ maxEvents: N, seed: 7, completeLabels: false })
  const topics: Record<Shape, string> = { one: `bench-one-${Date.now()}`, many: `bench-many-${Date.now()}`, avro: `bench-avro-${Date.now()}` }
  for (const topic of Object.values(topics)) await mock.createTopic(topic, PARTITIONS)
  const avroOut = await FirehoseCodec.create({ defaultFormat: 'avro', encodeTopic: topics.avro })
  const producer = haveRd ? 'node-rdkafka' : 'kafkajs'
  for (const [shape, topic] of Object.entries(topics)) {
    // Keys spread evenly (not partitionKey: a few viral posts would overfill their partitions, and
    // the mock keeps only ~5 MB per partition).
    const r = await produceEvents({
      client: producer, brokers: mock.brokers, topic, eventsPerMessage: shape === 'many' ? PER_MESSAGE : 1, acks: 1, key: (_e, i) => String(i),
      ...(shape === 'avro' ? { encoder: (evs: readonly FirehoseEvent[], t: string) => avroOut.encode(evs[0], t) } : {}),
    }, [events])
    console.log(`produced ${r.events} events as ${r.messages} messages to ${topic} (${Math.round(r.eventsPerSec)} events/s, ${producer})`)
    const perPartition = r.bytes / PARTITIONS
    if (perPartition > 4.5e6) throw new Error(`${(perPartition / 1e6).toFixed(1)} MB per partition: the mock keeps ~5 MB, use more --partitions or fewer --events`)
  }
  const rows: Record<string, string | number>[] = []
  for (const client of clients) {
    for (const shape of SHAPES) {
      const topic = topics[shape]
      for (let run = 0; run < RUNS; run++) {
        console.log(`${client} ${shape} run ${run + 1}: bare loop…`)
        const bare = client === 'kafkajs' ? await bareKafkajs(mock.brokers, topic, shape) : await bareRdkafka(mock.brokers, topic, shape)
        console.log(`${client} ${shape} run ${run + 1}: source + runtime…`)
        const src = await throughSource(client, mock.brokers, topic, shape)
        const row = (kind: string, t: Timing) => ({
          client, format: shape === 'avro' ? 'avro' : 'json', 'events/message': shape === 'many' ? PER_MESSAGE : 1, path: kind,
          'events/s (wall)': Math.round(t.events / t.wallS), 'events/s per core (CPU)': Math.round(t.events / t.cpuS),
          'wall s': +t.wallS.toFixed(2), 'cpu s': +t.cpuS.toFixed(2),
        })
        rows.push(row('bare', bare), row('source+runtime', src))
        console.log(`${client} ${shape}: bare ${Math.round(bare.events / bare.cpuS)} ev/cpu-s, source ${Math.round(src.events / src.cpuS)} ev/cpu-s, ratio bare/source (per core) ${((bare.events / bare.cpuS) / (src.events / src.cpuS)).toFixed(2)}; counts ${bare.total}/${src.total}`)
      }
    }
  }
  console.table(rows)
} finally {
  await mock.stop()
}
