// Firehose decode throughput: FirehoseCodec.decodeBatch on synthetic engagements, Avro (Confluent
// wire format) vs JSON, in the same run as two references: avsc's bare decode of the same bytes (no
// checks, avsc objects out) and the codec's previous two-pass design (bounds-checking walk, then avsc,
// then a plain-object copy) that the compiled single-pass readers replaced.
//   node --expose-gc --import tsx benchmarks/codec.bench.ts [--events 200000] [--batch 4096] [--runs 7]
// Target (issue 3): Avro decode of engagements > 500,000 events/s per core.
import { parseArgs } from 'node:util'
import { FirehoseCodec, HEADER_BYTES, type InputMessage } from '../schemas/codec.ts'
import { ENGAGEMENT_TYPES, PLATFORMS, type Engagement } from '../schemas/events.ts'
import { loadSchemaFiles } from '../schemas/registry.ts'

const { values: args } = parseArgs({ options: {
  events: { type: 'string', default: '200000' }, batch: { type: 'string', default: '4096' }, runs: { type: 'string', default: '7' },
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

type Decoder = { name: string; run: () => number | Promise<number> }

/**
 * Round-robin: every round measures every decoder once, so load from other processes on this shared
 * machine hits them alike. Reports the median and the best round (the best is the closest to an
 * undisturbed core).
 */
async function measureAll(decoders: Decoder[]): Promise<{ name: string; median: number; best: number }[]> {
  for (const d of decoders) for (let w = 0; w < 2; w++) await d.run() // warm-up: JIT, inline caches
  const rates = decoders.map(() => [] as number[])
  for (let r = 0; r < RUNS; r++) {
    for (const [i, d] of decoders.entries()) {
      globalThis.gc?.()
      const t0 = performance.now()
      const n = await d.run()
      const secs = (performance.now() - t0) / 1000
      if (n !== N) throw new Error(`${d.name}: decoded ${n} of ${N}`)
      rates[i]!.push(n / secs)
    }
  }
  return decoders.map((d, i) => ({ name: d.name, median: median(rates[i]!), best: Math.max(...rates[i]!) }))
}

const results = await measureAll([
  { name: 'avsc decode only (baseline, unsafe)', run: () => {
    let n = 0
    for (const b of avro) for (const m of b) { engagementType.decode(m.value as Buffer, HEADER_BYTES + 1); n++ }
    return n
  } },
  { name: 'FirehoseCodec Avro, walker + avsc (previous)', run: () => {
    let n = 0
    for (const b of avro) n += twoPass.decodeBatchSync(b).values.length
    return n
  } },
  { name: 'FirehoseCodec Avro, decodeBatchSync', run: () => {
    let n = 0
    for (const b of avro) n += codec.decodeBatchSync(b).values.length
    return n
  } },
  { name: 'FirehoseCodec Avro, decodeBatch (async)', run: async () => {
    let n = 0
    for (const b of avro) n += (await codec.decodeBatch(b)).values.length
    return n
  } },
  { name: 'FirehoseCodec JSON (JSON.parse + zod)', run: async () => {
    let n = 0
    for (const b of json) n += (await codec.decodeBatch(b)).values.length
    return n
  } },
])

console.log(`${N} engagements, batches of ${BATCH}, ${RUNS} rounds; Avro ${(avroBytes / N).toFixed(1)} B/event, JSON ${(jsonBytes / N).toFixed(1)} B/event`)
const fmt = (x: number) => Math.round(x).toLocaleString('en-US')
console.table(results.map((r) => ({ decoder: r.name, 'events/s (median)': fmt(r.median), 'events/s (best)': fmt(r.best) })))
const avroRate = results[3]!.median
console.log(`Avro decode ${avroRate >= 500_000 ? 'meets' : 'MISSES'} the 500,000 events/s target (median ${fmt(avroRate)}); Avro/JSON ${(avroRate / results[4]!.median).toFixed(1)}x (medians)`)
