// RowBinary (sinks/clickhouse/rowbinary.ts), the wire format the ClickHouse sink uses on chDB: the
// encoder against its decoder, the rows a table ends with against the same records sent as JSON (so
// the format never changes what analysts read), values that do not fit, chunks ClickHouse refuses, and
// the files the bodies pass through on chDB. On embedded chDB (ClickHouse 26).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { generateEvents } from '../../streams/sources/synthetic.ts'
import type { Engagement, PostPublished } from '../../schemas/events.ts'
import type { TrendSignal, VideoFeatures, ViralityScore } from '../../schemas/outputs.ts'
import { createClickHouse, type ClickHouse } from '../../sinks/clickhouse/client.ts'
import { ClickHouseDeadLetterTable } from '../../sinks/clickhouse/dead-letters.ts'
import { decodeRowBinary, GrowingBytes, rowBinaryEncoder, RowValueError } from '../../sinks/clickhouse/rowbinary.ts'
import { engagementRows, hashtagWindowRows, lateRecordRows, postRows, trendSignalRows, videoFeatureRows, viralityScoreRows, type RowFormat } from '../../sinks/clickhouse/rows.ts'
import { ClickHouseSink } from '../../sinks/clickhouse/sink.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { Metrics } from '../../streams/metrics.ts'
import type { LateRecord } from '../../streams/windows.ts'
import type { HashtagWindowCount } from '../../topologies/hashtag-activity.ts'
import { cloneTable, dropTable, embeddedWithSchema, rows, uniqueTable } from '../helpers/clickhouse.ts'

const quiet = pino({ level: 'silent' })
const ctx = () => ({ checkpointId: 0, metrics: new Metrics() })

let ch: ClickHouse
let dir: string
before(async () => {
  ;({ ch, dir } = await embeddedWithSchema('rowbinary'))
})
after(async () => {
  await ch?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const sinkBuffer = (size = 16): GrowingBytes => new GrowingBytes(null, size)

test('the encoder writes what the decoder reads back, for every type the schemas use; values that do not fit throw naming the column', () => {
  const columns = ['s', 'lc', 'u8', 'u32', 'u64', 'i64', 'f64', 'f32', 'ts', 'dt', 'ns', 'nf', 'nu', 'nts', 'as', 'alc', 'af', 'tup', 'b']
  const types = ['String', 'LowCardinality(String)', 'UInt8', 'UInt32', 'UInt64', 'Int64', 'Float64', 'Float32', "DateTime64(3, 'UTC')", "DateTime('UTC')",
    'Nullable(String)', 'Nullable(Float64)', 'Nullable(UInt64)', "Nullable(DateTime64(3, 'UTC'))", 'Array(String)', 'Array(LowCardinality(String))', 'Array(Float32)',
    'Array(Tuple(name String, value Float64, contribution Float64))', 'Bool']
  const enc = rowBinaryEncoder(columns, types)
  assert.ok(enc)
  const long = 'é'.repeat(20_000) // a 40,000-byte string: a three-byte length
  const input: unknown[][] = [
    ['plain', 'tiktok', 255, 4_000_000_000, 2 ** 40 + 7, -(2 ** 40) - 3, 0.1 + 0.2, 0.5, 1_717_200_000_123, 1_717_200_000, 'x', 1.5, 2 ** 53 - 1, 1_717_200_000_001, ['a', 'ß', ''], ['dance'], new Float32Array([0.25, -1, 3.5]), [{ name: 'views', value: 1.25, contribution: -0.5 }], true],
    [long, '', 0, 0, 0, 0, -0, 0, 0, 0, null, NaN, null, Infinity, [], [], [], [], false],
    ['tab\there\nnewline\0nul "quote" \\ 🙂', 'lc', 1, 1, 1, -1, Number.MAX_VALUE, -2.5, 1, 1, '', -Infinity, 0, null, ['\n'], ['x', 'y'], [1, 2], [['n', 1, 2]], 1],
  ]
  const w = sinkBuffer()
  for (const r of input) enc(r, w)
  const back = decodeRowBinary(types, w.buf.subarray(0, w.len))
  assert.ok(back)
  assert.equal(back.length, 3)
  assert.deepEqual(back[0], ['plain', 'tiktok', 255, 4_000_000_000, 2 ** 40 + 7, -(2 ** 40) - 3, 0.1 + 0.2, 0.5, 1_717_200_000_123, 1_717_200_000, 'x', 1.5, 2 ** 53 - 1, 1_717_200_000_001, ['a', 'ß', ''], ['dance'], [0.25, -1, 3.5], [{ name: 'views', value: 1.25, contribution: -0.5 }], true])
  // null outside Nullable: the column's default, as JSON's null is read; non-finite floats NULL inside Nullable
  assert.deepEqual(back[1], [long, '', 0, 0, 0, 0, 0, 0, 0, 0, null, null, null, null, [], [], [], [], false])
  assert.equal(back[2][0], 'tab\there\nnewline\0nul "quote" \\ 🙂')
  assert.equal(back[2][6], Number.MAX_VALUE)
  assert.equal(back[2][11], null)
  assert.deepEqual(back[2][17], [{ name: 'n', value: 1, contribution: 2 }], 'a tuple may come as an array')

  const one = (col: string, type: string, v: unknown) => () => rowBinaryEncoder([col], [type])!([v], sinkBuffer())
  assert.throws(one('revision', 'UInt32', -1), (e: unknown) => e instanceof RowValueError && e.column === 'revision' && /-1 is not a UInt32/.test(e.message))
  assert.throws(one('revision', 'UInt32', 1.5), RowValueError)
  assert.throws(one('n', 'UInt64', 2 ** 60), /not a UInt64 a JS number holds exactly/)
  assert.throws(one('score', 'Float64', 'high'), /column score: "high" is not a number/)
  assert.throws(one('tags', 'Array(String)', 'dance'), /column tags: not an array/)
  assert.throws(one('at', "DateTime('UTC')", -5), /out of range/)
  // types without a binary encoding here: the table keeps a JSON format
  assert.equal(rowBinaryEncoder(['e'], ["Enum8('a' = 1)"]), null)
  assert.equal(rowBinaryEncoder(['m'], ['Map(String, UInt64)']), null)
  assert.equal(rowBinaryEncoder(['d'], ['Decimal(10, 2)']), null)
  // a cut body is an error, not a short row
  assert.throws(() => decodeRowBinary(['Float64'], Buffer.alloc(5)), RangeError)
})

// ---- the same records both ways ---------------------------------------------------------------------

const T0 = 1_717_200_000_000

function videoFeatures(i: number): VideoFeatures {
  const odd = i % 3 === 0
  return {
    postId: `p${i}`, platform: (['tiktok', 'reels', 'shorts'] as const)[i % 3], windowStart: T0 + i * 60_000, windowEnd: T0 + (i + 1) * 60_000, revision: i % 2,
    viewsPerMin: i * 1.1, likesPerMin: i / 7, sharesPerMin: 0.1 * i, commentsPerMin: odd ? NaN : 3, savesPerMin: 1e-9 * i, velocity: -i / 3, acceleration: odd ? Infinity : 0.333,
    engagementRate: 1 / (i + 1), shareRate: 0, avgWatchTimeSec: odd ? null : 12.5 + i, completionRate: odd ? NaN : 0.5, ratioToCreatorBaseline: i % 4 === 0 ? null : i / 9,
    minutesSincePosting: i, creatorFollowers: 1000 * i + 2 ** 33, hashtags: odd ? [] : ['dance', `tag${i}`, 'ünïcode'], soundId: odd ? null : `s${i}`, language: 'en', captionLength: i * 3,
    ...(i % 2 ? { viewsSincePosting: i * 100, engagementsSincePosting: null } : {}),
  } as unknown as VideoFeatures
}

function viralityScore(i: number): ViralityScore {
  return {
    postId: `p${i}`, platform: 'tiktok', at: T0 + i * 1_000 + 7, predictedFinalEngagement: i * 123.456, probTop1Pct: i % 5 === 0 ? NaN : 1 / (i + 2), modelVersion: `gbm-${i % 2}`,
    topFeatures: i % 4 === 0 ? [] : [{ name: 'velocity', value: i / 3, contribution: 0.25 }, { name: 'creator "baseline"', value: -1, contribution: -i }],
  }
}

function trendSignal(i: number): TrendSignal {
  return {
    entityType: (['hashtag', 'sound', 'term'] as const)[i % 3], entity: `e${i}\t`, platform: 'shorts', windowStart: T0 + i * 600_000, windowEnd: T0 + (i + 1) * 600_000, uses: i, uniqueCreators: i % 7,
    totalEngagement: i * 1000, growth: i % 6 === 0 ? Infinity : i / 11, baseline: 2.5, observed: i, deviation: -i / 4, score: Math.PI * i, stage: (['emerging', 'rising', 'peaking', 'declining'] as const)[i % 4],
    contributingPostIds: Array.from({ length: i % 4 }, (_, k) => `p${k}`), revision: i % 3,
  }
}

function late(i: number): LateRecord<unknown> {
  return { operator: 'windows', reason: i % 2 ? 'too-late' : 'after-close', time: T0 + i, watermark: i % 5 === 0 ? -Infinity : T0 + 10 * i, value: { i, s: 'x\ny' } } as unknown as LateRecord<unknown>
}

async function bothWays<T>(name: string, format: RowFormat<T>, records: T[], times: (r: T) => number, exclude: string[] = []): Promise<void> {
  const json = await cloneTable(ch, format.table, uniqueTable(`${name}_json`))
  const bin = await cloneTable(ch, format.table, uniqueTable(`${name}_bin`))
  const a = new ClickHouseSink(`${name}-json`, ch, { ...format, table: json }, { chunkRows: 70, format: 'JSONCompactEachRow' }, { logger: quiet })
  const b = new ClickHouseSink(`${name}-bin`, ch, { ...format, table: bin }, { chunkRows: 70 }, { logger: quiet })
  for (const s of [a, b]) {
    await s.open(ctx())
    await s.write({ values: records, times: records.map(times) }, ctx())
    await s.preCommit(1)
    await s.commit(1)
    await s.close()
  }
  assert.equal(a.wireFormat, 'JSONCompactEachRow')
  assert.equal(b.wireFormat, 'RowBinary', `${format.table}: every column has a binary encoding (auto picks RowBinary on chDB)`)
  assert.equal(b.stats.rowsRejected, 0)
  const cols = format.columns.filter((c) => !exclude.includes(c)).map((c) => `\`${c}\``).join(', ')
  const q = (t: string) => `SELECT ${cols} FROM ${t} ORDER BY ${cols}`
  const dump = async (t: string) => (await (await ch.client.query({ query: q(t), format: 'JSONCompactEachRow' })).text())
  const [x, y] = [await dump(json), await dump(bin)]
  assert.equal(x.split('\n').filter(Boolean).length, records.length, `${format.table}: every record is a row`)
  const [xl, yl] = [x.split('\n'), y.split('\n')]
  const first = xl.findIndex((l, i) => l !== yl[i])
  assert.equal(first, -1, `${format.table}: the same rows, whichever the wire format; first difference:\n JSON      ${xl[first]}\n RowBinary ${yl[first]}`)
  await dropTable(ch, json)
  await dropTable(ch, bin)
}

test('a table ends with the same rows whether the records went as RowBinary or as JSON (every table the main job writes)', { timeout: 120_000 }, async () => {
  const { events } = generateEvents({ seed: 11, maxEvents: 3_000, partitions: 1, eventsPerSecond: 50 })
  const posts = events.filter((e): e is PostPublished => e.kind === 'post')
  const engagements = events.filter((e): e is Engagement => e.kind !== 'post') as Engagement[]
  assert.ok(posts.length > 50 && engagements.length > 500)
  posts[0] = { ...posts[0], embedding: [0.5, -0.25, 1e-7], caption: 'émoji 🙂 and\ttab', soundId: null }
  await bothWays('posts', postRows, posts, (p) => p.postedAt)
  await bothWays('engagements', engagementRows, engagements, (e) => e.at)
  const n = Array.from({ length: 300 }, (_, i) => i)
  await bothWays('features', videoFeatureRows, n.map(videoFeatures), (f) => f.windowEnd)
  await bothWays('virality', viralityScoreRows, n.map(viralityScore), (s) => s.at)
  await bothWays('signals', trendSignalRows, n.map(trendSignal), (s) => s.windowEnd)
  await bothWays('late', lateRecordRows, n.map(late), (l) => l.time)
  const hashtags: HashtagWindowCount[] = n.map((i) => ({ hashtag: `h${i % 17}`, windowStart: T0 + i * 60_000, windowEnd: T0 + i * 60_000 + 600_000, count: i, revision: i % 2 }))
  await bothWays('hashtags', hashtagWindowRows('hashtag_uses_1m'), hashtags, (h) => h.windowEnd)
})

// ---- refusals ---------------------------------------------------------------------------------------

const row = (tag: string, i: number, revision = 0): HashtagWindowCount => ({ hashtag: tag, windowStart: 1_700_000_000_000 + i * 60_000, windowEnd: 1_700_000_060_000 + i * 60_000, count: i, revision })
const batchOf = (rs: HashtagWindowCount[]) => ({ values: rs, times: rs.map((r) => r.windowEnd - 1) })

test('RowBinary: a row whose value does not fit its column goes to dead letters alone, the rest of its chunk goes in; onRejected "fail" fails the write', { timeout: 60_000 }, async () => {
  const table = await cloneTable(ch, 'hashtag_uses_1m', uniqueTable('rb_bad_row'))
  const dl = await cloneTable(ch, 'dead_letters', uniqueTable('rb_dead'))
  const deadLetters = new ClickHouseDeadLetterTable(ch, { table: dl, logger: quiet })
  const sink = new ClickHouseSink('rb', ch, hashtagWindowRows(table), { chunkRows: 10 }, { logger: quiet, deadLetters })
  await sink.open(ctx())
  assert.equal(sink.wireFormat, 'RowBinary')
  await sink.write(batchOf([row('ok', 1), row('bad', 2, -1), row('ok', 3), ...Array.from({ length: 8 }, (_, i) => row('x', 10 + i))]), ctx())
  await sink.preCommit(1)
  await sink.commit(1)
  await sink.flush()
  assert.equal(sink.stats.rowsRejected, 1)
  const [n] = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${table}`)
  assert.equal(Number(n.n), 10, 'the other ten rows are in')
  const letters = await rows<{ code: string; reason: string; payload: string; position: string }>(ch, `SELECT code, reason, payload, position FROM ${dl}`)
  assert.equal(letters.length, 1)
  assert.equal(letters[0].code, 'SINK_REJECTED')
  assert.match(letters[0].reason, /rb.*does not fit.*column revision: -1 is not a UInt32/)
  const payload = JSON.parse(letters[0].payload)
  assert.equal(payload.hashtag, 'bad')
  assert.equal(payload.revision, -1, 'the payload is the row as the sink had it')
  assert.match(letters[0].position, /^rb-w\d+-0-0-row1#0$/, 'named by lineage, chunk and place in it')
  await sink.close()

  const strict = new ClickHouseSink('rb-strict', ch, hashtagWindowRows(table), { chunkRows: 10, onRejected: 'fail' }, { logger: quiet, deadLetters })
  await strict.open(ctx())
  assert.throws(() => strict.write(batchOf([row('bad', 1, 1.5)]), ctx()), (e: unknown) => e instanceof TrendwireError && e.code === 'SINK_REJECTED' && /revision/.test(e.message))
  await assert.rejects(strict.preCommit(1), (e: unknown) => e instanceof TrendwireError && e.code === 'SINK_REJECTED', 'the failure sticks')
  await strict.close().catch(() => {})
  await dropTable(ch, table)
  await dropTable(ch, dl)
})

test('RowBinary: a chunk ClickHouse refuses goes to dead letters row by row, each row decoded back to its values', { timeout: 60_000 }, async () => {
  const table = await cloneTable(ch, 'hashtag_uses_1m', uniqueTable('rb_refused'))
  await ch.client.command({ query: `ALTER TABLE ${table} ADD CONSTRAINT small CHECK count < 100` })
  const dl = await cloneTable(ch, 'dead_letters', uniqueTable('rb_refused_dead'))
  const deadLetters = new ClickHouseDeadLetterTable(ch, { table: dl, logger: quiet })
  const sink = new ClickHouseSink('rbr', ch, hashtagWindowRows(table), { chunkRows: 5 }, { logger: quiet, deadLetters })
  await sink.open(ctx())
  await sink.write(batchOf([row('a', 1), row('b', 500), row('c', 3), row('d', 4), row('e', 5)]), ctx()) // refused: count 500
  await sink.write(batchOf([row('f', 6), row('g', 7)]), ctx())
  await sink.preCommit(1)
  await sink.commit(1)
  await sink.flush()
  assert.equal(sink.stats.chunksRejected, 1)
  const got = await rows<{ hashtag: string }>(ch, `SELECT hashtag FROM ${table} ORDER BY hashtag`)
  assert.deepEqual(got.map((r) => r.hashtag), ['f', 'g'])
  const letters = await rows<{ reason: string; payload: string }>(ch, `SELECT reason, payload FROM ${dl} ORDER BY position`)
  assert.equal(letters.length, 5)
  assert.match(letters[0].reason, /VIOLATED_CONSTRAINT|small/)
  const payloads = letters.map((l) => JSON.parse(l.payload))
  assert.deepEqual(payloads.map((p) => p.hashtag), ['a', 'b', 'c', 'd', 'e'])
  assert.deepEqual(payloads[1], { ...payloads[1], hashtag: 'b', count: 500, window_start: row('b', 500).windowStart, revision: 0 }, 'values decoded, times as epoch ms')
  await sink.close()
  await dropTable(ch, table)
  await dropTable(ch, dl)
})

test('chDB: RowBinary bodies pass through files in <data>/inserts that are deleted after their INSERT; a dead process\'s files go when the folder is next opened', { timeout: 60_000 }, async () => {
  const table = await cloneTable(ch, 'hashtag_uses_1m', uniqueTable('rb_files'))
  const inserts = join(dir, 'inserts')
  const sink = new ClickHouseSink('rbf', ch, hashtagWindowRows(table), { chunkRows: 3 }, { logger: quiet })
  await sink.open(ctx())
  await sink.write(batchOf(Array.from({ length: 10 }, (_, i) => row('f', i))), ctx())
  await sink.preCommit(1)
  await sink.commit(1)
  await sink.flush()
  await sink.close()
  const [n] = await rows<{ n: string }>(ch, `SELECT count() AS n FROM ${table}`)
  assert.equal(Number(n.n), 10)
  assert.ok(existsSync(inserts))
  assert.deepEqual(readdirSync(inserts), [], 'no body left behind')
  await dropTable(ch, table)

  // a file left by a process that no longer runs (pid 2^22 + 1 is above Linux's default pid_max), and
  // one of this process: opening the folder again (a second handle on it) removes only the first
  writeFileSync(join(inserts, `${2 ** 22 + 1}-3.bin`), 'x')
  writeFileSync(join(inserts, `${process.pid}-99.bin`), 'x')
  const ch2 = createClickHouse({ embeddedPath: dir })
  assert.deepEqual(readdirSync(inserts), [`${process.pid}-99.bin`], 'the dead process\'s file is gone, a live one\'s stays')
  rmSync(join(inserts, `${process.pid}-99.bin`))
  await ch2.close()
})
