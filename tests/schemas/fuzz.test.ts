// Fuzz: > 10,000 bad messages of every kind, plus random mutations of good ones, mixed with good
// messages, decoded in batches. Seeded (reproducible). Bookkeeping is exact:
//   - a good message is decoded, equal to its event, in order, with its event time;
//   - a bad message (bad by construction) is dead-lettered with the expected code and its original bytes;
//   - a mutant (a good message with random bytes flipped) may still be a valid record -- Avro has no
//     checksum -- so it is classified by what the decoder says: dead-lettered with its bytes and an
//     input code, or decoded into a value that fits its schema, passes the timestamp checks, and
//     survives encode -> decode unchanged;
//   - every message ends up in exactly one of the two outputs: counts add up exactly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import avro from 'avsc'
import { FirehoseCodec, type InputMessage } from '../../schemas/codec.ts'
import { eventTime, type FirehoseEvent } from '../../schemas/events.ts'
import { loadSchemaFiles } from '../../schemas/registry.ts'
import { MIN_TS, NOW, Rng, badKinds, event } from './generators.ts'

const SEED = Number(process.env.FUZZ_SEED ?? 20250601)
const PER_KIND = 1000
const MAX_BYTES = 4096
const SKEW = 3_600_000

type Expect =
  | { t: 'good'; event: FirehoseEvent }
  | { t: 'bad'; code: string; kind: string }
  | { t: 'mutant' }

interface Case { value: Uint8Array | null; topic: string; expect: Expect }

test(`fuzz: ${PER_KIND} of each bad kind plus mutants, mixed with good messages (seed ${SEED})`, async () => {
  const codec = await FirehoseCodec.create(
    { topics: { 'fh-json': { format: 'json' } }, maxMessageBytes: MAX_BYTES, maxFutureSkewMs: SKEW },
    { now: () => NOW },
  )
  const r = new Rng(SEED)
  const files = new Map(loadSchemaFiles().map((f) => [f.file, f]))
  const readers: Record<FirehoseEvent['kind'], avro.Type> = {
    post: files.get('PostPublished.avsc')!.type, engagement: files.get('Engagement.avsc')!.type, creator: files.get('CreatorUpdated.avsc')!.type,
  }
  const cases: Case[] = []
  const good = (topic: string) => { const e = event(r); return { e, b: codec.encode(e, topic) } }
  const add = (kind: string, code: string, n: number, make: () => { value: Uint8Array | null; topic?: string }) => {
    for (let i = 0; i < n; i++) { const m = make(); cases.push({ value: m.value, topic: m.topic ?? 'firehose', expect: { t: 'bad', code, kind } }) }
  }

  // Good messages, Avro and JSON.
  for (let i = 0; i < 8000; i++) {
    const topic = r.bool(0.8) ? 'firehose' : 'fh-json'
    const { e, b } = good(topic)
    cases.push({ value: b, topic, expect: { t: 'good', event: e } })
  }

  for (const k of badKinds(r, { codec, avroTopic: 'firehose', jsonTopic: 'fh-json', maxBytes: MAX_BYTES, skewMs: SKEW })) add(k.kind, k.code, PER_KIND, k.make)

  // Mutants: 1-3 bytes of a good message xor-ed with a non-zero byte, anywhere (header included).
  for (let i = 0; i < 5000; i++) {
    const topic = r.bool(0.8) ? 'firehose' : 'fh-json'
    const b = Buffer.from(good(topic).b)
    for (let k = r.int(1, 3); k > 0; k--) b[r.int(0, b.length - 1)] ^= r.int(1, 255)
    cases.push({ value: b, topic, expect: { t: 'mutant' } })
  }

  // Shuffle, then decode in fetch-sized batches; offsets identify messages.
  for (let i = cases.length - 1; i > 0; i--) { const j = r.int(0, i); [cases[i], cases[j]] = [cases[j]!, cases[i]!] }
  const bad = cases.filter((c) => c.expect.t === 'bad').length
  assert.ok(bad >= 10_000, `only ${bad} bad messages`)

  const values: FirehoseEvent[] = []
  const times: number[] = []
  const deadByOffset = new Map<number, { code: string; reason: string; payload: Uint8Array; partition: string }>()
  let deadCount = 0
  for (let start = 0; start < cases.length; start += 1000) {
    const batch: InputMessage[] = []
    for (let i = start; i < Math.min(cases.length, start + 1000); i++) {
      batch.push({ value: cases[i]!.value, topic: cases[i]!.topic, partition: i % 4, offset: String(i) })
    }
    const out = await codec.decodeBatch(batch)
    values.push(...out.values)
    times.push(...out.times)
    deadCount += out.deadLetters.length
    for (const d of out.deadLetters) deadByOffset.set(Number(d.position), d)
  }
  assert.equal(deadByOffset.size, deadCount, 'a message was dead-lettered twice')

  // Walk the input in order: what was not dead-lettered is the next value.
  let vi = 0
  const tally = { good: 0, bad: 0, mutantDecoded: 0, mutantDead: 0 }
  const byKind = new Map<string, number>()
  const inputCodes = new Set(['INPUT_MALFORMED', 'INPUT_UNKNOWN_SCHEMA', 'INPUT_SCHEMA_MISMATCH', 'INPUT_BAD_TIMESTAMP', 'INPUT_OVERSIZED'])
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!
    const dead = deadByOffset.get(i)
    const where = `message ${i} (${c.expect.t === 'bad' ? c.expect.kind : c.expect.t}, ${c.topic})`
    if (dead) {
      assert.deepEqual(Buffer.from(dead.payload), Buffer.from(c.value ?? []), `${where}: payload`)
      assert.equal(dead.partition, `${c.topic}/${i % 4}`)
      assert.ok(dead.reason.length > 10, `${where}: reason`)
      if (c.expect.t === 'good') assert.fail(`${where}: good message dead-lettered: ${dead.code} ${dead.reason}`)
      if (c.expect.t === 'bad') {
        assert.equal(dead.code, c.expect.code, `${where}: ${dead.reason}`)
        tally.bad++
        byKind.set(c.expect.kind, (byKind.get(c.expect.kind) ?? 0) + 1)
      } else {
        assert.ok(inputCodes.has(dead.code), `${where}: code ${dead.code}`)
        tally.mutantDead++
      }
      continue
    }
    const v = values[vi]
    const t = times[vi]
    vi++
    assert.ok(v, `${where}: neither decoded nor dead-lettered`)
    assert.equal(t, eventTime(v))
    if (c.expect.t === 'bad') assert.fail(`${where}: bad message decoded: ${JSON.stringify(v)}`)
    if (c.expect.t === 'good') {
      assert.deepEqual(v, c.expect.event, where)
      tally.good++
    } else {
      // A mutant that still decodes: it must be a record the schema allows, within the time bounds,
      // and stable through encode -> decode.
      const { kind: _kind, ...rest } = v
      assert.ok(readers[v.kind].isValid(rest), `${where}: decoded value does not fit ${v.kind}: ${JSON.stringify(v)}`)
      assert.ok(t! >= MIN_TS && t! <= NOW + SKEW, `${where}: time ${t}`)
      const again = await codec.decodeBatch([{ value: codec.encode(v, c.topic), topic: c.topic, partition: 0, offset: 0 }])
      assert.deepEqual(again.values, [v], where)
      tally.mutantDecoded++
    }
  }
  assert.equal(vi, values.length, 'more values than non-dead-lettered messages')
  assert.equal(tally.good, 8000)
  assert.equal(tally.bad, bad)
  assert.equal(values.length, tally.good + tally.mutantDecoded)
  assert.equal(deadCount, tally.bad + tally.mutantDead)
  for (const [kind, n] of byKind) assert.equal(n, PER_KIND, kind)
  // Most mutants should be caught; a few decode (e.g. a flipped letter inside a string).
  assert.ok(tally.mutantDead > 2500, JSON.stringify(tally))
  console.log(`fuzz seed ${SEED}: ${cases.length} messages: ${JSON.stringify(tally)}`)
})
