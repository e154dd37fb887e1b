// Firehose decode throughput: FirehoseCodec.decodeBatch on synthetic engagements, Avro (Confluent
// wire format) vs JSON, in the same run as two references: avsc's bare decode of the same bytes (no
// checks, avsc objects out) and the codec's previous two-pass design (bounds-checking walk, then avsc,
// then a plain-object copy) that the compiled single-pass readers replaced.
//   npx tsx benchmarks/codec.bench.ts [--events 200000] [--batch 4096] [--runs 5]
// Target (issue 3): Avro decode of engagements > 500,000 events/s per core.
import { parseArgs } from 'node:util'
import { FirehoseCodec, HEADER_BYTES, type InputMessage } from '../schemas/codec.ts'
import { ENGAGEMENT_TYPES, PLATFORMS, type Engagement } from '../schemas/events.ts'
import { loadSchemaFiles } from '../schemas/registry.ts'

const { values: args } = parseArgs({ options: {
  events: { type: 'string', default: '200000' }, batch: { type: 'string', default: '4096' }, runs: { type: 'string', default: '5' },
} })
const N = Number(args.events)
const BATCH = Number(args.batch)
const RUNS = Number(args.runs)
const NOW = Date.UTC(2025, 5, 1)

// Deterministic synthetic engagements, shaped like the firehose: mostly views and likes, short ids.
let seed = 12345
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296)
const events: Engagement[] = []
for (let i = 0; i < N; i++) {
  const type = rnd() < 0.6 ? 'view' : ENGAGEMENT_TYPES[1 + Math.floor(rnd() * 5)]!
  events.push({
    kind: 'engagement', postId: `p${Math.floor(rnd() * 100_000)}`, platform: PLATFORMS[Math.floor(rnd() * 3)]!, type,
    at: NOW - Math.floor(rnd() * 3_600_000), watchTimeSec: type === 'view' ? Math.round(rnd() * 600) / 10 : null,
    commentText: type === 'comment' ? 'so good 🔥' : null, userId: `u${Math.floor(rnd() * 10_000_000)}`,
  })
}

const codec = await FirehoseCodec.create({ topics: { 'firehose-json': { format: 'json' } } }, { now: () => NOW })
// The previous design (walk the bytes, then let avsc decode, then copy into a plain object), kept to
// show what the compiled single-pass readers buy.
const twoPass = await FirehoseCodec.create({}, { now: () => NOW, compiledReaders: false })
const batches = (topic: string): InputMessage[][] => {
  const out: InputMessage[][] = []
  for (let s = 0; s < N; s += BATCH) {
    out.push(events.slice(s, s + BATCH).map((e, i) => ({ value: codec.encode(e, topic), topic, partition: 0, offset: String(s + i) })))
  }
  return out
}
const avro = batches('firehose')
const json = batches('firehose-json')
const avroBytes = avro.flat().reduce((n, m) => n + m.value!.length, 0)
const jsonBytes = json.flat().reduce((n, m) => n + m.value!.length, 0)

// Baseline: avsc alone on the same bytes (after the header and union byte), no checks, avsc objects out.
const engagementType = loadSchemaFiles().find((f) => f.file === 'Engagement.avsc')!.type

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function measure(name: string, f: () => number | Promise<number>): Promise<{ name: string; eventsPerSec: number }> {
  for (let w = 0; w < 2; w++) await f() // warm-up: JIT, inline caches
  const rates: number[] = []
  for (let r = 0; r < RUNS; r++) {
    globalThis.gc?.()
    const t0 = performance.now()
    const n = await f()
    const secs = (performance.now() - t0) / 1000
    if (n !== N) throw new Error(`${name}: decoded ${n} of ${N}`)
    rates.push(n / secs)
  }
  return { name, eventsPerSec: median(rates) }
}

const results = [
  await measure('avsc decode only (baseline, unsafe)', () => {
    let n = 0
    for (const b of avro) for (const m of b) { engagementType.decode(m.value as Buffer, HEADER_BYTES + 1); n++ }
    return n
  }),
  await measure('FirehoseCodec Avro, walker + avsc (previous)', () => {
    let n = 0
    for (const b of avro) n += twoPass.decodeBatchSync(b).values.length
    return n
  }),
  await measure('FirehoseCodec Avro, decodeBatchSync', () => {
    let n = 0
    for (const b of avro) n += codec.decodeBatchSync(b).values.length
    return n
  }),
  await measure('FirehoseCodec Avro, decodeBatch (async)', async () => {
    let n = 0
    for (const b of avro) n += (await codec.decodeBatch(b)).values.length
    return n
  }),
  await measure('FirehoseCodec JSON (JSON.parse + zod)', async () => {
    let n = 0
    for (const b of json) n += (await codec.decodeBatch(b)).values.length
    return n
  }),
]

console.log(`${N} engagements, batches of ${BATCH}, median of ${RUNS} runs; Avro ${(avroBytes / N).toFixed(1)} B/event, JSON ${(jsonBytes / N).toFixed(1)} B/event`)
console.table(results.map((r) => ({ decoder: r.name, 'events/s': Math.round(r.eventsPerSec).toLocaleString('en-US') })))
const avroRate = results[3]!.eventsPerSec
console.log(`Avro decode ${avroRate >= 500_000 ? 'meets' : 'MISSES'} the 500,000 events/s target (${Math.round(avroRate).toLocaleString('en-US')}); Avro/JSON speed-up ${(avroRate / results[4]!.eventsPerSec).toFixed(1)}x`)
