// File replay sources: NDJSON round trip with the generator (and the generate command), dead letters
// with original bytes, exact resume, per-file partitions, and NAB CSV on a real corpus file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NabCsvSource, NdjsonEventSource, parseNabTimestamp, type LineFileSource } from '../../../streams/sources/file.ts'
import { generateEvents } from '../../../streams/sources/synthetic.ts'
import { TrendwireError } from '../../../streams/errors.ts'
import { eventTime, type FirehoseEvent } from '../../../schemas/events.ts'
import type { DeadLetter } from '../../../streams/types.ts'

const repo = join(import.meta.dirname, '..', '..', '..')
const NAB = '/work/shared/data/nab/data'
const hooks = { beforeRevoke: async () => {}, onAssign: () => {} }

function tmp(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tw-file-'))
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) }
}

interface Drained<T> { values: Map<string, T[]>; dead: DeadLetter[]; finished: string[]; polls: number; done: boolean }

async function drain<T>(src: LineFileSource<T>, batch = 500, maxPolls = Infinity): Promise<Drained<T>> {
  const out: Drained<T> = { values: new Map(), dead: [], finished: [], polls: 0, done: false }
  while (out.polls < maxPolls && !out.done) {
    const r = await src.poll(batch)
    out.polls++
    for (const b of r.batches) {
      assert.equal(b.values.length, b.times.length)
      if (!out.values.has(b.partition)) out.values.set(b.partition, [])
      out.values.get(b.partition)!.push(...b.values)
      out.dead.push(...(b.deadLetters ?? []))
    }
    out.finished.push(...(r.finished ?? []))
    out.done = r.done
  }
  return out
}

const ndjson = (events: FirehoseEvent[]) => events.map((e) => JSON.stringify(e)).join('\n') + '\n'

test('NDJSON round trip with the generator: same events, event times, finished at EOF', async () => {
  const t = tmp()
  try {
    const { events } = generateEvents({ seed: 21, maxEvents: 6000, eventsPerSecond: 100, lateFraction: 0.01, lateByMs: 60_000 })
    const path = join(t.dir, 'events.ndjson')
    writeFileSync(path, ndjson(events))
    const src = new NdjsonEventSource({ files: [path], readChunkBytes: 4096 })
    await src.open(null, hooks)
    let times: number[] = []
    const got: FirehoseEvent[] = []
    for (;;) {
      const r = await src.poll(700)
      for (const b of r.batches) { assert.equal(b.partition, 'events.ndjson'); got.push(...b.values); times = times.concat(b.times) }
      if (r.done) { assert.deepEqual(r.finished, ['events.ndjson']); break }
    }
    assert.equal(JSON.stringify(got), JSON.stringify(events))
    assert.deepEqual(times, events.map(eventTime))
    assert.deepEqual(src.positions(), { 'events.ndjson': { byte: readFileSync(path).length, line: 6000, done: true } })
    await src.close()
  } finally { t.done() }
})

test('the generate command writes the same stream as generateEvents, plus labels', async () => {
  const t = tmp()
  try {
    const out = join(t.dir, 'ev.ndjson')
    const lab = join(t.dir, 'labels.json')
    execFileSync(process.execPath, ['--import', 'tsx', join(repo, 'bin/trendwire.ts'), 'generate', '--seed', '4', '--events', '3000', '--eps', '80',
      '--late-fraction', '0.02', '--late-by', '90s', '--out', out, '--labels', lab], { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] })
    const expected = generateEvents({ seed: 4, maxEvents: 3000, eventsPerSecond: 80, lateFraction: 0.02, lateByMs: 90_000 })
    assert.equal(readFileSync(out, 'utf8'), ndjson(expected.events))
    assert.deepEqual(JSON.parse(readFileSync(lab, 'utf8')), JSON.parse(JSON.stringify(expected.labels)))
  } finally { t.done() }
})

test('bad lines become dead letters with their original bytes, line numbers and codes; good lines still flow', async () => {
  const t = tmp()
  try {
    const { events } = generateEvents({ seed: 3, maxEvents: 4, eventsPerSecond: 100 })
    const good = events.map((e) => Buffer.from(JSON.stringify(e)))
    const bad = {
      notJson: Buffer.from('{"kind":"post",'),
      wrongShape: Buffer.from('{"kind":"post","postId":"x"}'),
      unknownKind: Buffer.from('{"kind":"poll","id":1}'),
      badUtf8: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      oversized: Buffer.from(JSON.stringify({ ...events[0], caption: 'x'.repeat(5000) })),
      array: Buffer.from('[1,2,3]'),
    }
    const lines: Buffer[] = [good[0], bad.notJson, good[1], Buffer.from(''), bad.wrongShape, bad.unknownKind, bad.badUtf8, good[2], bad.oversized, bad.array, good[3]]
    const path = join(t.dir, 'mixed.ndjson')
    writeFileSync(path, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])))
    const src = new NdjsonEventSource({ files: [path], maxLineBytes: 2048, readChunkBytes: 64, name: 'replay' })
    await src.open(null, hooks)
    const r = await drain(src, 3)
    assert.equal(JSON.stringify(r.values.get('mixed.ndjson')), JSON.stringify(events))
    const byLine = new Map(r.dead.map((d) => [d.position, d]))
    const expect: [string, Buffer, string][] = [
      ['2', bad.notJson, 'INPUT_MALFORMED'], ['5', bad.wrongShape, 'INPUT_SCHEMA_MISMATCH'], ['6', bad.unknownKind, 'INPUT_SCHEMA_MISMATCH'],
      ['7', bad.badUtf8, 'INPUT_MALFORMED'], ['9', bad.oversized.subarray(0, 2048), 'INPUT_OVERSIZED'], ['10', bad.array, 'INPUT_SCHEMA_MISMATCH'],
    ]
    assert.equal(r.dead.length, expect.length)
    for (const [line, bytes, code] of expect) {
      const d = byLine.get(line)
      assert.ok(d, `no dead letter for line ${line}`)
      assert.equal(d.code, code, `line ${line}: ${d.reason}`)
      assert.deepEqual(Buffer.from(d.payload), bytes, `line ${line} payload`)
      assert.equal(d.source, 'replay')
      assert.equal(d.partition, 'mixed.ndjson')
      assert.match(d.reason, new RegExp(`line ${line}:`))
    }
    assert.match(byLine.get('5')!.reason, /creatorId|platform/)
    assert.deepEqual(src.positions(), { 'mixed.ndjson': { byte: readFileSync(path).length, line: lines.length, done: true } })
  } finally { t.done() }
})

test('resume from positions yields exactly the remainder (small buffers, last line without newline)', async () => {
  const t = tmp()
  try {
    const { events } = generateEvents({ seed: 8, maxEvents: 3000, eventsPerSecond: 100 })
    const path = join(t.dir, 'e.ndjson')
    writeFileSync(path, ndjson(events).slice(0, -1)) // no trailing newline
    for (const cut of [1, 7, 13]) {
      const a = new NdjsonEventSource({ files: [path], readChunkBytes: 100 })
      await a.open(null, hooks)
      const head = await drain(a, 97, cut)
      const pos = JSON.parse(JSON.stringify(a.positions()))
      await a.close()
      const b = new NdjsonEventSource({ files: [path], readChunkBytes: 100 })
      await b.open(pos, hooks)
      const tail = await drain(b, 1000)
      assert.ok(tail.done)
      const all = [...head.values.get('e.ndjson')!, ...tail.values.get('e.ndjson')!]
      assert.equal(JSON.stringify(all), JSON.stringify(events), `cut after ${cut} polls`)
      await b.close()
    }
  } finally { t.done() }
})

test('one partition per file; finished per file at EOF; done when all are', async () => {
  const t = tmp()
  try {
    const a = generateEvents({ seed: 1, maxEvents: 50, eventsPerSecond: 100 }).events
    const b = generateEvents({ seed: 2, maxEvents: 900, eventsPerSecond: 100 }).events
    writeFileSync(join(t.dir, 'a.ndjson'), ndjson(a))
    writeFileSync(join(t.dir, 'b.ndjson'), ndjson(b))
    const src = new NdjsonEventSource({ files: [join(t.dir, 'a.ndjson'), join(t.dir, 'b.ndjson')] })
    await src.open(null, hooks)
    const first = await src.poll(200) // 100 lines each: a reaches EOF
    assert.deepEqual(first.finished, ['a.ndjson'])
    assert.equal(first.done, false)
    const rest = await drain(src, 200)
    assert.deepEqual(rest.finished, ['b.ndjson'])
    assert.ok(rest.done)
    assert.equal((await src.poll(10)).done, true)
  } finally { t.done() }
})

test('config and checkpoint errors are typed', async () => {
  const t = tmp()
  try {
    await assert.rejects(async () => {
      const s = new NdjsonEventSource({ files: [join(t.dir, 'missing.ndjson')] })
      await s.open(null, hooks)
    }, (e: unknown) => e instanceof TrendwireError && e.code === 'CONFIG_INVALID')
    assert.throws(() => new NdjsonEventSource({ files: ['/x/a.ndjson', '/y/a.ndjson'] }), /partition "a.ndjson"/)
    assert.throws(() => new NdjsonEventSource({ files: [] }), (e: unknown) => e instanceof TrendwireError && /files/.test(e.message))
    writeFileSync(join(t.dir, 'f.ndjson'), '\n')
    const s = new NdjsonEventSource({ files: [join(t.dir, 'f.ndjson')] })
    await assert.rejects(s.open({ 'f.ndjson': { byte: 99, line: 1 } }, hooks), (e: unknown) => e instanceof TrendwireError && e.code === 'CHECKPOINT_CORRUPT')
    await assert.rejects(s.open({ 'f.ndjson': 12 }, hooks), (e: unknown) => e instanceof TrendwireError && e.code === 'CHECKPOINT_CORRUPT')
  } finally { t.done() }
})

test('NAB CSV: a real corpus file parses completely, timestamps as UTC', async () => {
  const file = join(NAB, 'realKnownCause', 'nyc_taxi.csv')
  const text = readFileSync(file, 'utf8').trim().split('\n')
  const src = new NabCsvSource({ files: [file, join(NAB, 'artificialNoAnomaly', 'art_flatline.csv')], root: NAB })
  await src.open(null, hooks)
  const r = await drain(src, 4096)
  assert.deepEqual(r.dead, [])
  assert.deepEqual(r.finished.sort(), ['artificialNoAnomaly/art_flatline.csv', 'realKnownCause/nyc_taxi.csv'])
  const pts = r.values.get('realKnownCause/nyc_taxi.csv')!
  assert.equal(pts.length, text.length - 1)
  const [ts0, v0] = text[1].split(',')
  assert.equal(ts0, '2014-07-01 00:00:00')
  assert.deepEqual(pts[0], { series: 'realKnownCause/nyc_taxi.csv', timestamp: Date.UTC(2014, 6, 1), value: Number(v0) })
  for (let i = 1; i < pts.length; i++) assert.equal(pts[i].timestamp - pts[i - 1].timestamp, 30 * 60_000) // half-hourly, no DST jumps
  await src.close()
})

test('NAB CSV: bad rows become dead letters; the header is skipped; CRLF is fine', async () => {
  const t = tmp()
  try {
    const path = join(t.dir, 'series.csv')
    writeFileSync(path, 'timestamp,value\r\n2020-01-01 00:00:00,1.5\r\n2020-02-30 00:00:00,2\r\nyesterday,3\r\n2020-01-01 00:10:00,abc\r\n2020-01-01 00:15:00\r\n\r\n2020-01-01 00:20:00,-4e2,extra\r\n')
    const src = new NabCsvSource({ files: [path] })
    await src.open(null, hooks)
    const r = await drain(src)
    assert.deepEqual(r.values.get('series.csv'), [
      { series: 'series.csv', timestamp: Date.UTC(2020, 0, 1), value: 1.5 },
      { series: 'series.csv', timestamp: Date.UTC(2020, 0, 1, 0, 20), value: -400 },
    ])
    assert.deepEqual(r.dead.map((d) => [d.position, d.code]), [
      ['3', 'INPUT_BAD_TIMESTAMP'], ['4', 'INPUT_BAD_TIMESTAMP'], ['5', 'INPUT_MALFORMED'], ['6', 'INPUT_MALFORMED'],
    ])
    assert.equal(Buffer.from(r.dead[2].payload).toString(), '2020-01-01 00:10:00,abc\r')
  } finally { t.done() }
})

test('parseNabTimestamp', () => {
  assert.equal(parseNabTimestamp('2014-07-01 00:00:00'), Date.UTC(2014, 6, 1))
  assert.equal(parseNabTimestamp('2014-07-01T12:34:56.5Z'), Date.UTC(2014, 6, 1, 12, 34, 56, 500))
  assert.equal(parseNabTimestamp('2014-07-01 12:34'), Date.UTC(2014, 6, 1, 12, 34))
  for (const bad of ['2014-13-01 00:00:00', '2014-02-29 00:00:00', '2014-07-01 24:00:00', '2014-07-01', ' 2014-07-01 00:00:00', '']) {
    assert.ok(Number.isNaN(parseNabTimestamp(bad)), bad)
  }
})
