// Schema evolution: the rule (new fields optional with defaults, ...) as a check between versions,
// and records crossing versions in both directions.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import avro from 'avsc'
import { checkEvolution } from '../../schemas/evolution.ts'
import { FirehoseCodec, frame } from '../../schemas/codec.ts'
import { AVRO_DIR, loadSchemaFiles } from '../../schemas/registry.ts'
import { NOW, Rng, engagement } from './generators.ts'

const files = new Map(loadSchemaFiles().map((f) => [f.file, f]))
const json = (file: string) => JSON.parse(readFileSync(join(AVRO_DIR, file), 'utf8'))

test('every schema in history/ evolves validly into the current version', () => {
  const history = [...files.keys()].filter((f) => f.startsWith('history/'))
  assert.ok(history.length >= 1)
  for (const h of history) {
    const name = h.slice('history/'.length).replace(/\.v\d+\.avsc$/, '.avsc')
    assert.ok(files.has(name), `${h} has no current version ${name}`)
    assert.deepEqual(checkEvolution(files.get(h)!.text, files.get(name)!.text), [], `${h} -> ${name}`)
    // The current version is also a valid branch of the firehose union: the union evolves with it.
  }
})

test('the check names each violation of the rule', () => {
  const v2 = json('Engagement.avsc')
  const withField = (f: object) => ({ ...v2, fields: [...v2.fields, f] })
  const paths = (old: object, neu: object) => checkEvolution(old, neu).map((v) => `${v.path}: ${v.message}`)

  // Allowed: a new optional field with a default, and dropping a field that had a default.
  assert.deepEqual(paths(v2, withField({ name: 'region', type: ['null', 'string'], default: null })), [])
  assert.deepEqual(paths(v2, withField({ name: 'weight', type: 'double', default: 1 })), [])
  assert.deepEqual(paths(v2, { ...v2, fields: v2.fields.filter((f: any) => f.name !== 'commentText') }), [])

  // Not allowed.
  const required = paths(v2, withField({ name: 'region', type: 'string' }))
  assert.ok(required.some((p) => /^Engagement\.region: new field without a default/.test(p)), required.join('\n'))
  const removed = paths(v2, { ...v2, fields: v2.fields.filter((f: any) => f.name !== 'userId') })
  assert.ok(removed.some((p) => /^Engagement\.userId: removed field had no default/.test(p)), removed.join('\n'))
  // int -> long is an Avro promotion: readable one way only.
  const vf = json('VideoFeatures.avsc')
  const promoted = paths(vf, { ...vf, fields: vf.fields.map((f: any) => (f.name === 'revision' ? { ...f, type: 'long' } : f)) })
  assert.ok(promoted.some((p) => /^VideoFeatures\.revision: type changed from int to long/.test(p)), promoted.join('\n'))
  assert.ok(promoted.some((p) => /the old schema cannot read records written with the new/.test(p)), promoted.join('\n'))
  // string <-> bytes resolve both ways in Avro, but the TypeScript type would change: still a violation.
  const bytes = paths(v2, { ...v2, fields: v2.fields.map((f: any) => (f.name === 'userId' ? { ...f, type: 'bytes' } : f)) })
  assert.ok(bytes.some((p) => /^Engagement\.userId: type changed from string to bytes/.test(p)), bytes.join('\n'))
  const retyped = paths(v2, { ...v2, fields: v2.fields.map((f: any) => (f.name === 'at' ? { ...f, type: 'int' } : f)) })
  assert.ok(retyped.some((p) => /^Engagement\.at: type changed from long to int/.test(p)), retyped.join('\n'))
  const symbol = paths(v2, { ...v2, fields: v2.fields.map((f: any) => (f.name === 'platform' ? { ...f, type: { ...f.type, symbols: [...f.type.symbols, 'snap'] } } : f)) })
  assert.ok(symbol.some((p) => /^Engagement\.platform: enum io.trendwire.Platform gained symbol\(s\) snap/.test(p)), symbol.join('\n'))
  const branch = paths(v2, { ...v2, fields: v2.fields.map((f: any) => (f.name === 'watchTimeSec' ? { ...f, type: ['null', 'double', 'string'] } : f)) })
  assert.ok(branch.some((p) => /^Engagement\.watchTimeSec: union gained branch string/.test(p)), branch.join('\n'))
  const renamed = paths(v2, { ...v2, name: 'Interaction' })
  assert.ok(renamed.some((p) => /renamed from io.trendwire.Engagement to io.trendwire.Interaction/.test(p)), renamed.join('\n'))
})

test('a reader on the new version reads records written with the old one', async () => {
  const codec = await FirehoseCodec.create({}, { now: () => NOW })
  const v1 = files.get('history/Engagement.v1.avsc')!
  const r = new Rng(21)
  const events = Array.from({ length: 200 }, () => engagement(r))
  // An old producer frames its records with the v1 schema's id (103).
  const messages = events.map((e, i) => ({ value: frame(v1.id, v1.type.toBuffer(e)), topic: 'firehose', partition: 0, offset: i }))
  const out = await codec.decodeBatch(messages)
  assert.deepEqual(out.deadLetters, [])
  // v1 has no commentText: the new reader fills in its default, null.
  assert.deepEqual(out.values, events.map((e) => ({ ...e, commentText: null })))
})

test('a reader on the old version reads records written with the new one', () => {
  const v1 = files.get('history/Engagement.v1.avsc')!.type as avro.types.RecordType
  const v2 = files.get('Engagement.avsc')!.type
  const resolver = v1.createResolver(v2)
  const r = new Rng(22)
  for (let i = 0; i < 200; i++) {
    const e = engagement(r)
    const old = v1.fromBuffer(v2.toBuffer(e), resolver)
    const { kind: _k, commentText: _c, ...expected } = e
    assert.deepEqual({ ...old }, expected)
  }
})

test('a writer schema the current reader cannot resolve dead-letters its messages, nothing else', async () => {
  // Same record name, but userId became an int: not readable as the current Engagement.
  const bad = json('Engagement.avsc')
  bad.fields = bad.fields.map((f: any) => (f.name === 'userId' ? { ...f, type: 'int' } : f))
  const type = avro.Type.forSchema(bad)
  const registry = {
    kind: 'local' as const,
    get: (id: number) => (id === 500 ? { id, schema: JSON.stringify(bad), schemaType: 'AVRO', type, problem: undefined } : undefined),
    resolve: async () => {},
    register: async () => 1,
    close: async () => {},
  }
  const codec = await FirehoseCodec.create({}, { registry, now: () => NOW })
  const value = frame(500, type.toBuffer({ postId: 'p', platform: 'tiktok', type: 'view', at: NOW, watchTimeSec: null, userId: 5, commentText: null }))
  const out = await codec.decodeBatch([{ value, topic: 'firehose', partition: 0, offset: 0 }])
  assert.equal(out.deadLetters[0]?.code, 'INPUT_SCHEMA_MISMATCH')
  assert.match(out.deadLetters[0]!.reason, /schema id 500: its io.trendwire.Engagement cannot be read as the current one/)
})
