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
import { FirehoseCodec, frame, type InputMessage } from '../../schemas/codec.ts'
import { eventTime, type FirehoseEvent } from '../../schemas/events.ts'
import { loadSchemaFiles } from '../../schemas/registry.ts'
import { MIN_TS, NOW, Rng, brandAlert, engagement, event, post, varint, videoFeatures } from './generators.ts'

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
  const knownIds = new Set([...files.values()].map((f) => f.id))
  const readers: Record<FirehoseEvent['kind'], avro.Type> = {
    post: files.get('PostPublished.avsc')!.type, engagement: files.get('Engagement.avsc')!.type, creator: files.get('CreatorUpdated.avsc')!.type,
  }
  const cases: Case[] = []
  const good = (topic: string) => { const e = event(r); return { e, b: codec.encode(e, topic) } }
  const add = (kind: string, code: string, n: number, make: () => { value: Uint8Array | null; topic?: string }) => {
    for (let i = 0; i < n; i++) { const m = make(); cases.push({ value: m.value, topic: m.topic ?? 'firehose', expect: { t: 'bad', code, kind } }) }
  }
  const withTime = (e: FirehoseEvent, t: number): FirehoseEvent => (e.kind === 'post' ? { ...e, postedAt: t } : { ...e, at: t })

  // Good messages, Avro and JSON.
  for (let i = 0; i < 8000; i++) {
    const topic = r.bool(0.8) ? 'firehose' : 'fh-json'
    const { e, b } = good(topic)
    cases.push({ value: b, topic, expect: { t: 'good', event: e } })
  }

  add('null value', 'INPUT_MALFORMED', PER_KIND, () => ({ value: null, topic: r.bool() ? 'firehose' : 'fh-json' }))
  add('short header', 'INPUT_MALFORMED', PER_KIND, () => {
    const b = r.bytes(r.int(0, 4))
    if (b.length && r.bool()) b[0] = 0
    return { value: b }
  })
  add('bad magic', 'INPUT_MALFORMED', PER_KIND, () => { const b = Buffer.from(good('firehose').b); b[0] = r.int(1, 255); return { value: b } })
  add('truncated', 'INPUT_MALFORMED', PER_KIND, () => {
    // A strict prefix of a valid body: Avro is prefix-free, so the walk always runs out of bytes.
    const b = good('firehose').b
    return { value: b.subarray(0, r.int(5, b.length - 1)) }
  })
  add('trailing garbage', 'INPUT_MALFORMED', PER_KIND, () => ({ value: Buffer.concat([good('firehose').b, r.bytes(r.int(1, 16))]) }))
  add('unknown schema id', 'INPUT_UNKNOWN_SCHEMA', PER_KIND, () => {
    const b = Buffer.from(good('firehose').b)
    let id: number
    do { id = r.bool(0.5) ? r.int(-(2 ** 31), 2 ** 31 - 1) : r.int(0, 200) } while (knownIds.has(id))
    b.writeInt32BE(id, 1)
    return { value: b }
  })
  add('record does not match its schema', 'INPUT_SCHEMA_MISMATCH', PER_KIND, () => {
    const x = r.int(0, 3)
    if (x === 0) {
      // Union branch index out of range (3 branches): zig-zag of 3..63, or a negative index.
      const b = Buffer.from(good('firehose').b)
      b[5] = r.bool() ? r.int(3, 63) * 2 : r.int(0, 63) * 2 + 1
      return { value: b }
    }
    if (x === 1) {
      // Enum index out of range: Engagement.platform (3 symbols), right after postId.
      const e = engagement(r)
      const b = Buffer.from(codec.encode(e))
      b[6 + 1 + Buffer.byteLength(e.postId)] = r.int(3, 63) * 2
      return { value: b }
    }
    if (x === 2) {
      // A valid record of a known schema that is not a firehose event.
      const f = r.bool() ? files.get('VideoFeatures.avsc')! : files.get('BrandAlert.avsc')!
      return { value: frame(f.id, f.type.toBuffer(f.file === 'BrandAlert.avsc' ? brandAlert(r) : videoFeatures(r))) }
    }
    // A long beyond 2^52 in Engagement.at.
    const e = engagement(r)
    const t = files.get('Engagement.avsc')!
    const big = r.bool() ? 2 ** 52 + r.int(0, 1e6) : -(2 ** 52) - r.int(1, 1e6)
    const head = Buffer.from([0, 0, 0, 0, t.id, ...varint(Buffer.byteLength(e.postId)), ...Buffer.from(e.postId), 0, 0])
    return { value: Buffer.concat([head, Buffer.from(varint(big)), Buffer.from([0, 2, 0x61, 0])]) }
  })
  add('bad timestamp', 'INPUT_BAD_TIMESTAMP', PER_KIND, () => {
    const topic = r.bool(0.7) ? 'firehose' : 'fh-json'
    const t = r.bool() ? r.int(-(2 ** 50), MIN_TS - 1) : r.int(NOW + SKEW + 1, 2 ** 50)
    return { value: codec.encode(withTime(event(r), t), topic), topic }
  })
  add('oversized', 'INPUT_OVERSIZED', PER_KIND, () => {
    if (r.bool()) return { value: r.bytes(r.int(MAX_BYTES + 1, MAX_BYTES * 2)), topic: r.bool() ? 'firehose' : 'fh-json' }
    const p = post(r)
    return { value: codec.encode({ ...p, caption: 'x'.repeat(MAX_BYTES) }) }
  })
  add('JSON missing or wrong field', 'INPUT_SCHEMA_MISMATCH', PER_KIND, () => {
    const e = event(r) as unknown as Record<string, unknown>
    const required = Object.keys(e).filter((k) => !['soundId', 'embedding', 'watchTimeSec', 'commentText', 'displayName'].includes(k))
    const k = r.pick(required)
    if (r.bool()) delete e[k]
    // Values no required field accepts (a string or a number would be valid for some of them).
    else e[k] = r.pick([{}, true, null])
    return { value: Buffer.from(JSON.stringify(e)), topic: 'fh-json' }
  })
  add('JSON syntax', 'INPUT_MALFORMED', PER_KIND, () => {
    const s = JSON.stringify(event(r))
    // A strict prefix of a JSON object is never valid JSON; neither is Avro on a JSON topic.
    return { value: r.bool() ? Buffer.from(s.slice(0, r.int(0, s.length - 1))) : good('firehose').b, topic: 'fh-json' }
  })
  add('hostile block count', 'INPUT_MALFORMED', PER_KIND, () => {
    // PostPublished.hashtags claiming far more items than bytes left.
    const p = post(r)
    const n = r.int(100, 2 ** 50)
    const prefix = Buffer.concat([
      Buffer.from(varint(Buffer.byteLength(p.postId))), Buffer.from(p.postId), Buffer.from([0]),
      Buffer.from(varint(Buffer.byteLength(p.creatorId))), Buffer.from(p.creatorId),
      Buffer.from(varint(p.creatorFollowers)), Buffer.from(varint(p.postedAt)), Buffer.from([0]),
    ])
    return { value: Buffer.concat([Buffer.from([0, 0, 0, 0, 1, 0]), prefix, Buffer.from(varint(r.bool() ? n : -n)), r.bytes(r.int(0, 40))]) }
  })

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
