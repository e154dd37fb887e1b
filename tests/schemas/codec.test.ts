// FirehoseCodec and RecordCodec: round trips of every schema, the wire framing byte by byte, and each
// kind of bad input going to dead letters with the right code.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import avro from 'avsc'
import { FirehoseCodec, RecordCodec, deadLetterCodec, type InputMessage } from '../../schemas/codec.ts'
import { eventTime, type Engagement, type FirehoseEvent } from '../../schemas/events.ts'
import type { BrandAlert, TrendSignal, VideoFeatures, ViralityScore } from '../../schemas/outputs.ts'
import { loadSchemaFiles } from '../../schemas/registry.ts'
import type { DeadLetter } from '../../streams/types.ts'
import { NOW, Rng, brandAlert, creator, engagement, event, post, trendSignal, varint, videoFeatures, viralityScore } from './generators.ts'

const codecP = FirehoseCodec.create({ topics: { 'fh-json': { format: 'json' } } }, { now: () => NOW })
const msgs = (values: (Uint8Array | null)[], topic = 'firehose'): InputMessage[] =>
  values.map((value, i) => ({ value, topic, partition: 3, offset: String(1000 + i) }))

const E: Engagement = { kind: 'engagement', postId: 'p1', platform: 'reels', type: 'like', at: 1_700_000_000_000, watchTimeSec: null, commentText: null, userId: 'u7' }

test('wire framing, byte by byte', async () => {
  const codec = await codecP
  const bytes = [...codec.encode(E)]
  assert.deepEqual(bytes, [
    0x00, //                    magic byte
    0x00, 0x00, 0x00, 0x01, //  schema id 1 (FirehoseEvent.avsc), big-endian
    0x02, //                    union branch 1 (Engagement), zig-zag
    0x04, 0x70, 0x31, //        postId: length 2, "p1"
    0x02, //                    platform: enum index 1 (reels)
    0x02, //                    type: enum index 1 (like)
    0x80, 0xa0, 0xab, 0xfe, 0xf9, 0x62, // at: 1700000000000, zig-zag varint (3400000000000)
    0x00, //                    watchTimeSec: union branch 0 (null)
    0x04, 0x75, 0x37, //        userId: length 2, "u7"
    0x00, //                    commentText: union branch 0 (null)
  ])
  const { values, times, deadLetters } = await codec.decodeBatch(msgs([Buffer.from(bytes)]))
  assert.deepEqual(deadLetters, [])
  assert.deepEqual(values, [E])
  assert.deepEqual(times, [E.at])
})

test('schema ids above 2^24 are framed big-endian', async () => {
  // Through RecordCodec with a registry stub handing out a large id.
  const files = loadSchemaFiles()
  const f = files.find((x) => x.file === 'BrandAlert.avsc')!
  const registry = {
    kind: 'local' as const,
    get: (id: number) => (id === 0x01020304 ? { id, schema: f.text, schemaType: 'AVRO', type: f.type, problem: undefined } : undefined),
    resolve: async () => {},
    register: async () => 0x01020304,
    close: async () => {},
  }
  const c = await RecordCodec.create<BrandAlert>('BrandAlert.avsc', 'alerts', { registry })
  const a = brandAlert(new Rng(1))
  const b = c.encode(a)
  assert.deepEqual([...b.subarray(0, 5)], [0, 1, 2, 3, 4])
  assert.deepEqual(b.subarray(5), f.type.toBuffer(a))
  assert.deepEqual(await c.decode(b), a)
})

test('round trip: every firehose kind, Avro and JSON', async () => {
  const codec = await codecP
  const r = new Rng(42)
  const events: FirehoseEvent[] = []
  for (let i = 0; i < 300; i++) events.push(i % 3 === 0 ? post(r) : i % 3 === 1 ? engagement(r) : creator(r))
  for (const topic of ['firehose', 'fh-json']) {
    const out = await codec.decodeBatch(msgs(events.map((e) => codec.encode(e, topic)), topic))
    assert.deepEqual(out.deadLetters, [])
    assert.deepEqual(out.values, events)
    assert.deepEqual(out.times, events.map(eventTime))
    // Plain objects (structured-clone friendly), not avsc record instances.
    for (const v of out.values) assert.equal(Object.getPrototypeOf(v), Object.prototype)
  }
})

test('round trip: a producer writing single records (RecordNameStrategy) is read too', async () => {
  const codec = await codecP
  const files = new Map(loadSchemaFiles().map((f) => [f.file, f]))
  const r = new Rng(5)
  const cases: [FirehoseEvent, string][] = [[post(r), 'PostPublished.avsc'], [engagement(r), 'Engagement.avsc'], [creator(r), 'CreatorUpdated.avsc']]
  for (const [e, file] of cases) {
    const f = files.get(file)!
    const body = f.type.toBuffer(e)
    const msg = Buffer.concat([Buffer.from([0, 0, 0, 0, f.id]), body])
    const out = await codec.decodeBatch(msgs([msg]))
    assert.deepEqual(out.values, [e], file)
  }
})

test('round trip: output records and the dead-letter envelope', async () => {
  const r = new Rng(9)
  const cases = [
    [await RecordCodec.create<VideoFeatures>('VideoFeatures.avsc', 'features'), () => videoFeatures(r), 10],
    [await RecordCodec.create<ViralityScore>('ViralityScore.avsc', 'scores'), () => viralityScore(r), 11],
    [await RecordCodec.create<TrendSignal>('TrendSignal.avsc', 'trends'), () => trendSignal(r), 12],
    [await RecordCodec.create<BrandAlert>('BrandAlert.avsc', 'alerts'), () => brandAlert(r), 13],
  ] as const
  for (const [codec, gen, id] of cases) {
    for (let i = 0; i < 100; i++) {
      const v = gen()
      const b = (codec as RecordCodec<unknown>).encode(v)
      assert.equal(b.readInt32BE(1), id)
      assert.deepEqual(await (codec as RecordCodec<unknown>).decode(b), v)
    }
  }
  const dlc = await deadLetterCodec()
  const dl: DeadLetter = { source: 'firehose', partition: 'firehose/3', position: '18446744073709551615', code: 'INPUT_MALFORMED', reason: 'x', payload: Buffer.from([0, 255, 7]), at: NOW }
  const b = dlc.encode(dl)
  assert.equal(b.readInt32BE(1), 20)
  assert.deepEqual(await dlc.decode(b), dl)
  await assert.rejects(dlc.decode(Buffer.concat([b, Buffer.from([1])])), (e: any) => e.code === 'INPUT_MALFORMED')
})

test('encode refuses events that do not fit the schema', async () => {
  const codec = await codecP
  assert.throws(() => codec.encode({ ...E, platform: 'myspace' } as any), (e: any) => e.code === 'INPUT_SCHEMA_MISMATCH')
  assert.throws(() => codec.encode({ ...E, at: 1.5 } as any), (e: any) => e.code === 'INPUT_SCHEMA_MISMATCH')
  assert.throws(() => codec.encode(E, 'unprepared'), (e: any) => e.code === 'CONFIG_INVALID')
})

test('bad options fail at construction, naming the key', async () => {
  await assert.rejects(FirehoseCodec.create({ maxMessageBytes: -1 }), (e: any) => e.code === 'CONFIG_INVALID' && /maxMessageBytes/.test(e.message))
  await assert.rejects(FirehoseCodec.create({ topics: { t: { format: 'xml' as any } } }), (e: any) => e.code === 'CONFIG_INVALID' && /topics\.t\.format/.test(e.message))
  await assert.rejects(FirehoseCodec.create({ nope: 1 } as any), (e: any) => e.code === 'CONFIG_INVALID')
})

/** One message, decoded alone; returns its dead letter (asserting there is exactly one). */
async function reject(value: Uint8Array | null, topic = 'firehose', codec?: FirehoseCodec): Promise<DeadLetter> {
  const c = codec ?? (await codecP)
  const out = await c.decodeBatch(msgs([value], topic))
  assert.equal(out.values.length, 0, `expected a dead letter, got ${JSON.stringify(out.values)}`)
  assert.equal(out.deadLetters.length, 1)
  const dl = out.deadLetters[0]!
  assert.equal(dl.source, topic)
  assert.equal(dl.partition, `${topic}/3`)
  assert.equal(dl.position, '1000')
  assert.equal(dl.at, NOW)
  assert.deepEqual(Buffer.from(dl.payload), Buffer.from(value ?? []))
  return dl
}

test('bad input: each kind gets its code and a reason that says what is wrong', async () => {
  const codec = await codecP
  const good = codec.encode(E)
  const cases: [Uint8Array | null, string, RegExp, string?][] = [
    [null, 'INPUT_MALFORMED', /null value/],
    [Buffer.from([0, 0, 0]), 'INPUT_MALFORMED', /too short for the Confluent wire header/],
    [Buffer.from([]), 'INPUT_MALFORMED', /0 byte\(s\) is too short/],
    [Buffer.concat([Buffer.from([1]), good.subarray(1)]), 'INPUT_MALFORMED', /bad magic byte 0x01/],
    [Buffer.from('{"kind":"engagement"}'), 'INPUT_MALFORMED', /looks like JSON on an Avro topic/],
    [good.subarray(0, good.length - 3), 'INPUT_MALFORMED', /truncated: Engagement.userId/],
    [good.subarray(0, 5), 'INPUT_MALFORMED', /truncated: FirehoseEvent/],
    [Buffer.concat([good, Buffer.from([0xde, 0xad])]), 'INPUT_MALFORMED', /trailing garbage: 2 byte\(s\)/],
    [Buffer.concat([Buffer.from([0, 0, 0, 0x30, 0x39]), good.subarray(5)]), 'INPUT_UNKNOWN_SCHEMA', /schema id 12345 is not known/],
    [Buffer.concat([Buffer.from([0, 0xff, 0xff, 0xff, 0xff]), good.subarray(5)]), 'INPUT_UNKNOWN_SCHEMA', /schema id -1 is not known/],
    // A known schema that is not a firehose event.
    [Buffer.concat([Buffer.from([0, 0, 0, 0, 13]), loadSchemaFiles().find((f) => f.file === 'BrandAlert.avsc')!.type.toBuffer(brandAlert(new Rng(3)))]),
      'INPUT_SCHEMA_MISMATCH', /BrandAlert is not a firehose event/],
    // Enum index 9 for platform (3 symbols).
    [Buffer.from([...good.subarray(0, 9), 18, ...good.subarray(10)]), 'INPUT_SCHEMA_MISMATCH', /Engagement.platform: enum index 9 out of range/],
    // Union branch 5 (3 branches).
    [Buffer.from([...good.subarray(0, 5), 10, ...good.subarray(6)]), 'INPUT_SCHEMA_MISMATCH', /FirehoseEvent: union branch 5 out of range/],
    // Invalid UTF-8 in postId (0xff).
    [Buffer.from([...good.subarray(0, 7), 0xff, ...good.subarray(8)]), 'INPUT_SCHEMA_MISMATCH', /Engagement.postId: string is not valid UTF-8/],
    // Negative string length.
    [Buffer.from([...good.subarray(0, 6), 0x03, ...good.subarray(7)]), 'INPUT_MALFORMED', /negative length -2 for Engagement.postId/],
    // A long needing more than 10 bytes.
    [Buffer.from([...good.subarray(0, 11), ...Array(11).fill(0xff), 0x01, ...good.subarray(17)]), 'INPUT_MALFORMED', /invalid varint for Engagement.at/],
    // A long beyond 2^52 (JavaScript would lose precision).
    [Buffer.from([...good.subarray(0, 11), ...varint(2 ** 53), ...good.subarray(17)]), 'INPUT_SCHEMA_MISMATCH', /Engagement.at: long beyond/],
    [Buffer.alloc(1_048_577), 'INPUT_OVERSIZED', /1048577 bytes, more than maxMessageBytes \(1048576\)/],
    [codec.encode({ ...E, at: Date.UTC(2004, 11, 31, 23, 59, 59, 999) }), 'INPUT_BAD_TIMESTAMP', /engagement event time 1104537599999 \(2004-12-31T23:59:59.999Z\) is before the earliest accepted time 2005-01-01/],
    [codec.encode({ ...E, at: NOW + 3_600_001 }), 'INPUT_BAD_TIMESTAMP', /more than maxFutureSkewMs \(3600000\) ahead of processing time/],
    [codec.encode({ ...E, at: -1 }), 'INPUT_BAD_TIMESTAMP', /before the earliest/],
  ]
  for (const [value, code, reason] of cases) {
    const dl = await reject(value)
    assert.equal(dl.code, code, `${dl.reason}`)
    assert.match(dl.reason, reason)
  }
  // The bounds themselves are accepted.
  const edge = await codec.decodeBatch(msgs([codec.encode({ ...E, at: Date.UTC(2005, 0, 1) }), codec.encode({ ...E, at: NOW + 3_600_000 })]))
  assert.equal(edge.values.length, 2)
})

test('bad JSON input', async () => {
  const codec = await codecP
  const j = (s: string) => Buffer.from(s)
  const cases: [Uint8Array | null, string, RegExp][] = [
    [null, 'INPUT_MALFORMED', /null value/],
    [j('{"kind":"engagement",'), 'INPUT_MALFORMED', /not valid JSON/],
    [codec.encode(E), 'INPUT_MALFORMED', /not valid JSON/], // Avro on a JSON topic
    [j('[1,2]'), 'INPUT_SCHEMA_MISMATCH', /does not match/],
    [j('{"postId":"p"}'), 'INPUT_SCHEMA_MISMATCH', /kind/],
    [j(JSON.stringify({ ...E, userId: undefined })), 'INPUT_SCHEMA_MISMATCH', /userId/],
    [j(JSON.stringify({ ...E, postId: undefined, platform: 'myspace' })), 'INPUT_SCHEMA_MISMATCH', /postId.*platform|platform.*postId/],
    [j(JSON.stringify({ ...E, at: '2024-01-01' })), 'INPUT_SCHEMA_MISMATCH', /at/],
    [j(JSON.stringify({ ...E, at: 1.5e12 + 0.5 })), 'INPUT_SCHEMA_MISMATCH', /at/],
    [j(JSON.stringify({ ...E, at: 1000 })), 'INPUT_BAD_TIMESTAMP', /before the earliest/],
  ]
  for (const [value, code, reason] of cases) {
    const dl = await reject(value, 'fh-json')
    assert.equal(dl.code, code, dl.reason)
    assert.match(dl.reason, reason)
  }
  // Nullable fields may be left out (default null); unknown fields are dropped.
  const { commentText: _c, watchTimeSec: _w, ...rest } = E
  const out = await codec.decodeBatch(msgs([j(JSON.stringify({ ...rest, extra: 1 }))], 'fh-json'))
  assert.deepEqual(out.values, [E])
})

test('hostile counts and lengths are rejected without reading them (no hang, no allocation)', async () => {
  const codec = await codecP
  const p = post(new Rng(1))
  // The fields of PostPublished before `hashtags`, then an array block claiming 2^45 items.
  const prefix = avro.Type.forSchema({
    type: 'record', name: 'P', fields: [
      { name: 'postId', type: 'string' }, { name: 'platform', type: 'int' }, { name: 'creatorId', type: 'string' },
      { name: 'creatorFollowers', type: 'long' }, { name: 'postedAt', type: 'long' }, { name: 'caption', type: 'string' }],
  }).toBuffer({ ...p, platform: 0 })
  const hostile = Buffer.from([0, 0, 0, 0, 1, 0, ...prefix, ...varint(2 ** 45), 0x02, 0x61])
  const t0 = performance.now()
  const dl = await reject(hostile)
  assert.ok(performance.now() - t0 < 1000)
  assert.equal(dl.code, 'INPUT_MALFORMED')
  assert.match(dl.reason, /PostPublished.hashtags: block of 35184372088832 item\(s\) at body offset \d+ cannot fit in the 2 byte\(s\) left/)
  // Same with a negative block count (count + byte size form).
  const hostile2 = Buffer.from([0, 0, 0, 0, 1, 0, ...prefix, ...varint(-(2 ** 45)), ...varint(2), 0x02, 0x61])
  assert.equal((await reject(hostile2)).code, 'INPUT_MALFORMED')
  // A string length far beyond the message.
  const hostile3 = Buffer.from([0, 0, 0, 0, 1, 2, ...varint(2 ** 40), 0x61])
  assert.match((await reject(hostile3)).reason, /truncated: Engagement.postId needs 1099511627776 byte\(s\)/)
})

test('good and bad messages keep their order and positions; dead letters carry the source', async () => {
  const codec = await FirehoseCodec.create({ source: 'kafka-main' }, { now: () => NOW })
  const r = new Rng(11)
  const a = event(r)
  const b = event(r)
  const out = await codec.decodeBatch([
    { value: codec.encode(a), topic: 'firehose', partition: 1, offset: 5n },
    { value: null, topic: 'firehose', partition: 1, offset: 6n },
    { value: codec.encode(b), topic: 'firehose', partition: 1, offset: '9007199254740993' },
    { value: Buffer.from([0, 1]), topic: 'firehose', partition: 1, offset: '9007199254740995' },
  ])
  assert.deepEqual(out.values, [a, b])
  assert.deepEqual(out.deadLetters.map((d) => [d.source, d.partition, d.position]), [
    ['kafka-main', 'firehose/1', '6'], ['kafka-main', 'firehose/1', '9007199254740995'],
  ])
})

test('dead-letter payloads are copies: reusing the fetch buffer does not change them', async () => {
  const codec = await codecP
  const buf = Buffer.from([0, 1, 2])
  const out = await codec.decodeBatch(msgs([buf]))
  buf.fill(9)
  assert.deepEqual([...out.deadLetters[0]!.payload], [0, 1, 2])
})

test('plain Uint8Array values (not Buffers) decode too', async () => {
  const codec = await codecP
  const b = codec.encode(E)
  const u = new Uint8Array(b.length + 4).subarray(2, 2 + b.length)
  u.set(b)
  const out = await codec.decodeBatch(msgs([u]))
  assert.deepEqual(out.values, [E])
})
