// The schema files themselves: ids, docs, namespace, and that the Avro schemas, the TypeScript types
// (events.ts, outputs.ts) and the zod schemas (json.ts) describe the same records.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import avro from 'avsc'
import { AVRO_DIR, LocalSchemaRegistry, loadSchemaFiles } from '../../schemas/registry.ts'
import { CreatorUpdatedJson, EngagementJson, PostPublishedJson } from '../../schemas/json.ts'
import { ENGAGEMENT_TYPES, PLATFORMS } from '../../schemas/events.ts'
import { ALERT_RULES, ENTITY_TYPES, LIFECYCLE_STAGES, SEVERITIES } from '../../schemas/outputs.ts'
import type { DeadLetter } from '../../streams/types.ts'
import { Rng, brandAlert, creator, engagement, post, trendSignal, videoFeatures, viralityScore } from './generators.ts'

const files = loadSchemaFiles()
const byFile = new Map(files.map((f) => [f.file, f]))
const record = (file: string) => byFile.get(file)!.type as avro.types.RecordType

test('every .avsc has a fixed, unique id and parses', () => {
  const table = JSON.parse(readFileSync(join(AVRO_DIR, 'ids.json'), 'utf8')).ids as Record<string, number>
  assert.deepEqual(files.map((f) => f.file).sort(), Object.keys(table).sort())
  assert.equal(new Set(Object.values(table)).size, Object.keys(table).length)
  // Ids are wire format: pin the ones already handed out.
  assert.equal(table['FirehoseEvent.avsc'], 1)
  assert.equal(table['Engagement.avsc'], 3)
  assert.equal(table['history/Engagement.v1.avsc'], 103)
  assert.equal(table['DeadLetter.avsc'], 20)
})

test('every named type is in namespace io.trendwire and every field has a doc', () => {
  const walk = (s: any, where: string): void => {
    if (Array.isArray(s)) { s.forEach((b, i) => walk(b, `${where}[${i}]`)); return }
    if (!s || typeof s !== 'object') return
    if (s.type === 'record' || s.type === 'enum' || s.type === 'fixed') {
      assert.equal(s.namespace, 'io.trendwire', `${where}: ${s.name} namespace`)
    }
    if (s.type === 'record') {
      for (const f of s.fields) {
        assert.ok(typeof f.doc === 'string' && f.doc.length > 5, `${where}: ${s.name}.${f.name} has no doc`)
        walk(f.type, `${where}.${f.name}`)
      }
    }
    if (s.type === 'array') walk(s.items, where)
  }
  for (const f of files) walk(JSON.parse(f.text), f.file)
})

test('nullable fields are ["null", T] with default null; timestamps are timestamp-millis longs', () => {
  for (const f of files) {
    const check = (s: any): void => {
      if (!s || typeof s !== 'object') return
      if (Array.isArray(s)) { s.forEach(check); return }
      if (s.type === 'record') {
        for (const fl of s.fields) {
          if (Array.isArray(fl.type) && fl.type.includes('null')) {
            assert.equal(fl.type[0], 'null', `${f.file} ${fl.name}`)
            assert.equal(fl.default, null, `${f.file} ${fl.name}`)
          }
          if (/^(at|postedAt|windowStart|windowEnd)$/.test(fl.name)) {
            assert.deepEqual(fl.type, { type: 'long', logicalType: 'timestamp-millis' }, `${f.file} ${fl.name}`)
          }
          check(fl.type)
        }
      }
      if (s.type === 'array') check(s.items)
    }
    check(JSON.parse(f.text))
  }
})

test('FirehoseEvent.avsc is exactly the union of the three event records', () => {
  const union = byFile.get('FirehoseEvent.avsc')!.type as avro.types.WrappedUnionType
  assert.deepEqual(union.types.map((t) => t.name), ['io.trendwire.PostPublished', 'io.trendwire.Engagement', 'io.trendwire.CreatorUpdated'])
  for (const [i, file] of ['PostPublished.avsc', 'Engagement.avsc', 'CreatorUpdated.avsc'].entries()) {
    assert.ok(union.types[i]!.equals(byFile.get(file)!.type), `${file} differs from its branch in FirehoseEvent.avsc`)
    // Docs too, not just the canonical form: the union copy is generated from the records.
    const docs = (t: avro.types.RecordType) => t.fields.map((f) => [f.name, (f as any).doc])
    assert.deepEqual(docs(union.types[i] as avro.types.RecordType), docs(record(file)))
  }
})

test('enums match the TypeScript constants', () => {
  const symbols = (file: string, field: string) => (record(file).field(field).type as avro.types.EnumType).symbols
  for (const f of ['PostPublished.avsc', 'Engagement.avsc', 'CreatorUpdated.avsc', 'VideoFeatures.avsc', 'ViralityScore.avsc', 'TrendSignal.avsc']) {
    assert.deepEqual(symbols(f, 'platform'), PLATFORMS)
  }
  assert.deepEqual(symbols('Engagement.avsc', 'type'), ENGAGEMENT_TYPES)
  assert.deepEqual(symbols('TrendSignal.avsc', 'entityType'), ENTITY_TYPES)
  assert.deepEqual(symbols('TrendSignal.avsc', 'stage'), LIFECYCLE_STAGES)
  assert.deepEqual(symbols('BrandAlert.avsc', 'rule'), ALERT_RULES)
  assert.deepEqual(symbols('BrandAlert.avsc', 'severity'), SEVERITIES)
})

test('Avro records and TypeScript types have the same fields (kind aside), and generated values are valid', () => {
  // The generators are typed with the interfaces (tsc checks no field is missing or extra); here we
  // check the Avro side has exactly those fields and accepts the values.
  const r = new Rng(7)
  const cases: [string, () => object, boolean][] = [
    ['PostPublished.avsc', () => post(r), true], ['Engagement.avsc', () => engagement(r), true], ['CreatorUpdated.avsc', () => creator(r), true],
    ['VideoFeatures.avsc', () => videoFeatures(r), false], ['ViralityScore.avsc', () => viralityScore(r), false],
    ['TrendSignal.avsc', () => trendSignal(r), false], ['BrandAlert.avsc', () => brandAlert(r), false],
  ]
  for (const [file, gen, hasKind] of cases) {
    for (let i = 0; i < 50; i++) {
      const v = gen() as Record<string, unknown>
      const keys = Object.keys(v).filter((k) => !(hasKind && k === 'kind')).sort()
      assert.deepEqual(record(file).fields.map((f) => f.name).sort(), keys, file)
      assert.ok(record(file).isValid(v, { errorHook: (p) => assert.fail(`${file}: invalid at ${p.join('.')}`) }))
    }
  }
  const dl: DeadLetter = { source: 's', partition: 's/0', position: '1', code: 'INPUT_MALFORMED', reason: 'r', payload: Buffer.from([1]), at: 1 }
  assert.deepEqual(record('DeadLetter.avsc').fields.map((f) => f.name).sort(), Object.keys(dl).sort())
})

test('zod JSON schemas have the same fields as the Avro records', () => {
  for (const [file, z] of [['PostPublished.avsc', PostPublishedJson], ['Engagement.avsc', EngagementJson], ['CreatorUpdated.avsc', CreatorUpdatedJson]] as const) {
    assert.deepEqual(Object.keys(z.shape).filter((k) => k !== 'kind').sort(), record(file).fields.map((f) => f.name).sort(), file)
  }
})

test('the local registry finds a schema by content and refuses schemas it does not have', async () => {
  const reg = new LocalSchemaRegistry()
  const text = byFile.get('Engagement.avsc')!.text
  // Docs and whitespace do not matter (canonical form), the fields do.
  const noDocs = JSON.stringify({ ...JSON.parse(text), doc: undefined })
  assert.equal(await reg.register('firehose-value', noDocs), 3)
  assert.equal(reg.get(3)!.type!.name, 'io.trendwire.Engagement')
  const other = JSON.stringify({ type: 'record', name: 'X', namespace: 'io.trendwire', fields: [] })
  await assert.rejects(reg.register('firehose-value', other), (e: any) => e.code === 'CONFIG_INVALID')
})

test('schemas/README.md documents every field of every schema', () => {
  const readme = readFileSync(join(AVRO_DIR, '..', 'README.md'), 'utf8')
  for (const f of files) {
    if (f.file.startsWith('history/') || f.file === 'FirehoseEvent.avsc') continue
    const name = f.file.replace('.avsc', '')
    const start = readme.indexOf(`### ${name} (`)
    assert.ok(start >= 0, `README has no section for ${name}`)
    const next = readme.indexOf('\n### ', start + 1)
    const section = readme.slice(start, next < 0 ? undefined : next)
    const fields = (t: avro.types.RecordType, prefix = ''): string[] => t.fields.flatMap((fl) => {
      const items = fl.type.typeName === 'array' ? (fl.type as avro.types.ArrayType).itemsType : undefined
      return [`${prefix}${fl.name}`, ...(items?.typeName === 'record' ? fields(items as avro.types.RecordType, `${fl.name}[].`) : [])]
    })
    for (const fl of fields(f.type as avro.types.RecordType)) assert.ok(section.includes(`| \`${fl}\` |`), `README: ${name}.${fl} missing`)
  }
})
