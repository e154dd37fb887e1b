// Produces the benchmark's events into Kafka at a fixed rate (its own process, node-rdkafka), each
// stamped with its scheduled time: event i of the run has time start + i·1000/rate (ms, floored), so
// a producer that falls behind shows up as latency, not as a slower clock. One message per event,
// partitions round-robin (every partition's watermark advances together). IPC: sends
// {event:'ready'} once connected, {event:'done', produced, maxLagMs, batches} at the end.
//   node --import tsx benchmarks/e2e/producer.ts --brokers H:P --topic T --partitions 4 --rate 10000 --duration-ms 20000
import { parseArgs } from 'node:util'
import { loadRdkafka } from '../../streams/kafka/index.ts'
import { eventPool } from './events.ts'

const { values: a } = parseArgs({ options: {
  brokers: { type: 'string' }, topic: { type: 'string' }, partitions: { type: 'string', default: '4' },
  rate: { type: 'string', default: '10000' }, 'duration-ms': { type: 'string', default: '20000' },
  'linger-ms': { type: 'string', default: '1' },
} })
const RATE = Number(a.rate)
const DURATION = Number(a['duration-ms'])
const PARTS = Number(a.partitions)
const pool = eventPool()
const now = (): number => performance.timeOrigin + performance.now()

type Producer = {
  connect(o: unknown, cb: (err: Error | null) => void): void
  produce(topic: string, partition: number | null, value: Buffer, key?: string | null, timestamp?: number): boolean
  setPollInterval(ms: number): void
  flush(timeout: number, cb: (err: Error | null) => void): void
  disconnect(cb: () => void): void
  poll(): void
}
const lib = (await loadRdkafka()) as unknown as { Producer: new (conf: Record<string, unknown>, topicConf: Record<string, unknown>) => Producer }
const producer = new lib.Producer({
  'metadata.broker.list': a.brokers, 'client.id': 'e2e-bench-producer', 'statistics.interval.ms': 1000,
  // latency over batching: hand a batch to the broker every millisecond (--linger-ms; see
  // benchmarks/e2e/README.md on why the mock broker needs more at low rates)
  'linger.ms': Number(a['linger-ms']), 'queue.buffering.max.messages': 1_000_000, 'batch.num.messages': 10_000, 'compression.codec': 'none',
}, { 'request.required.acks': 1 })
await new Promise<void>((resolve, reject) => producer.connect({}, (err) => (err ? reject(err) : resolve())))
producer.setPollInterval(20)
// librdkafka's statistics: message sets (per-partition batches) written to the broker. The
// batchcnt window is reset at every statistics interval, so its counts add up.
let batches = 0
;(producer as unknown as { on(ev: string, f: (s: { message: string }) => void): void }).on('event.stats', (s) => {
  const st = JSON.parse(s.message) as { topics?: Record<string, { batchcnt?: { cnt?: number } }> }
  for (const t of Object.values(st.topics ?? {})) batches += t.batchcnt?.cnt ?? 0
})
process.send?.({ event: 'ready' })
await new Promise<void>((resolve) => process.once('message', () => resolve()))

const start = now()
const total = Math.floor((RATE * DURATION) / 1000)
let i = 0
let maxLag = 0
while (i < total) {
  const t = now()
  const due = Math.min(total, Math.floor(((t - start) * RATE) / 1000) + 1)
  if (i < due) maxLag = Math.max(maxLag, t - (start + (i * 1000) / RATE))
  for (; i < due; i++) {
    const e = pool[i % pool.length]
    const time = Math.floor(start + (i * 1000) / RATE)
    const buf = Buffer.from(`{"p":"${e.p}","h":${JSON.stringify(e.h)},"t":${time}}`)
    for (;;) {
      try { producer.produce(a.topic!, i % PARTS, buf, null, time); break } catch { producer.poll(); await new Promise((r) => setImmediate(r)) }
    }
  }
  await new Promise((r) => setTimeout(r, 1))
}
await new Promise<void>((resolve) => producer.flush(10_000, () => resolve()))
await new Promise((r) => setTimeout(r, 1100)) // one more statistics callback
process.send?.({ event: 'done', produced: i, maxLagMs: maxLag, batches })
producer.disconnect(() => process.exit(0))
