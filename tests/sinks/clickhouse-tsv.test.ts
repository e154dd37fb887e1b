// TabSeparated rows (sinks/clickhouse/tsv.ts): what the sink sends to servers without JSONCompactEachRow
// input (18.16). Awkward values — tabs, newlines, carriage returns, backslashes, quotes, NUL, the text
// "\N", unicode beyond the BMP, extreme floats, nulls, arrays of all of these — go through the sink
// and come back out of real ClickHouse unchanged: embedded chDB (format forced to TabSeparated) and
// Debian's clickhouse-server 18.16 (format 'auto' picks it there). The same values as RowBinary, on
// chDB ('auto') and on 18.16 over HTTP (asked for). A refused TSV chunk's dead letters are readable JSON.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import pino from 'pino'
import { createClickHouse, type ClickHouse } from '../../sinks/clickhouse/client.ts'
import { ClickHouseDeadLetterTable } from '../../sinks/clickhouse/dead-letters.ts'
import { hashtagWindowRows, type RowFormat } from '../../sinks/clickhouse/rows.ts'
import { ClickHouseSink } from '../../sinks/clickhouse/sink.ts'
import { tsvEncoder, tsvFields } from '../../sinks/clickhouse/tsv.ts'
import { Metrics } from '../../streams/metrics.ts'
import type { HashtagWindowCount } from '../../topologies/hashtag-activity.ts'
import { CLICKHOUSE_TEST_URL, cloneTable, dropTable, embeddedWithSchema, rows, serverUnavailable, startServer, uniqueTable } from '../helpers/clickhouse.ts'

const quiet = pino({ level: 'silent' })
let ch: ClickHouse
let dir: string
before(async () => {
  ;({ ch, dir } = await embeddedWithSchema('clickhouse-tsv'))
})
after(async () => {
  await ch?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const AWKWARD = [
  '', 'plain', 'tab\there', 'new\nline', 'carriage\rreturn', 'back\\slash', "it's", 'quote\'s and "double"', 'nul\0byte',
  '\\N', 'N', '\\t literally', 'trailing backslash\\', '[not, an, array]', 'é ü ß', '日本語', 'emoji 😀👍🏽', '\u2028\u2029',
  'mixed \t\n\\\'\0 end',
]

interface Row {
  s: string
  n: string | null
  a: string[]
  an: Array<string | null>
  u: number
  i: number
  f: number
  fn: number | null
  af: number[]
  t: number
}

/** One row per awkward string, with every other column varied alongside. */
function awkwardRows(tiniest: number): Row[] {
  const floats = [0, -0.5, 1e-7, 123456.789, -1e300, Number.MAX_VALUE, tiniest, 3.141592653589793]
  return AWKWARD.map((s, k) => ({
    s,
    n: k % 3 === 0 ? null : s,
    a: AWKWARD.slice(k, k + 3),
    an: [s, null, AWKWARD[(k + 5) % AWKWARD.length]],
    u: [0, 1, 2 ** 32, Number.MAX_SAFE_INTEGER][k % 4],
    i: [-2147483648, -1, 0, 2147483647][k % 4],
    f: floats[k % floats.length],
    fn: k % 2 === 0 ? null : floats[(k + 1) % floats.length],
    af: k === 0 ? [] : floats.slice(0, k % floats.length),
    t: 1_717_200_000_000 + k * 1_001,
  }))
}

const COLUMNS = ['k', 's', 'n', 'a', 'an', 'u', 'i', 'f', 'fn', 'af', 't']
const format = (table: string): RowFormat<Row & { k: number }> => ({
  table,
  columns: COLUMNS,
  row: (r) => [r.k, r.s, r.n, r.a, r.an, r.u, r.i, r.f, r.fn, r.af, r.t],
})

async function roundTrip(target: ClickHouse, table: string, timeExpr: string, fmt: 'auto' | 'TabSeparated' | 'RowBinary', tiniest = Number.MIN_VALUE, wire = 'TabSeparated'): Promise<void> {
  const input = awkwardRows(tiniest).map((r, k) => ({ ...r, k }))
  const sink = new ClickHouseSink('tsv', target, format(table), { chunkRows: 7, format: fmt }, { logger: quiet })
  await sink.open()
  assert.equal(sink.wireFormat, wire)
  await sink.write({ values: input, times: input.map((r) => r.t) })
  await sink.preCommit(1)
  await sink.commit(1)
  await sink.close()
  const got = await rows<Record<string, unknown>>(target, `SELECT k, s, n, a, an, u, i, f, fn, af, ${timeExpr} AS t FROM ${table} ORDER BY k`)
  assert.equal(got.length, input.length)
  for (const r of input) {
    const g = got[r.k]
    const ctx = `row ${r.k} (${JSON.stringify(r.s)})`
    assert.equal(g.s, r.s, ctx)
    assert.equal(g.n, r.n, ctx)
    assert.deepEqual(g.a, r.a, ctx)
    assert.deepEqual(g.an, r.an, ctx)
    assert.equal(Number(g.u), r.u, ctx)
    assert.equal(Number(g.i), r.i, ctx)
    assert.equal(g.f, r.f, ctx)
    assert.equal(g.fn, r.fn, ctx)
    assert.deepEqual(g.af, r.af, ctx)
    assert.equal(Number(g.t), r.t, ctx)
  }
}

test('tsvEncoder: escaping, NULL, arrays, times as UTC text; unhandled types fall back (null)', () => {
  const enc = tsvEncoder(['String', 'Nullable(String)', 'Array(Nullable(String))', 'LowCardinality(String)', 'UInt32', 'Float64', "DateTime64(3, 'UTC')", 'Bool'])!
  assert.equal(enc(['a\tb\nc\\d\0', null, ["it's", null, 'x\ty'], '\\N', 7, Number.NaN, 1_717_200_000_123, true]),
    "a\\tb\\nc\\\\d\\0\t\\N\t['it\\'s',NULL,'x\\ty']\t\\\\N\t7\tnan\t2024-06-01 00:00:00.123\ttrue")
  assert.equal(tsvEncoder(['Float32', 'Float64', 'Int8'])!([Infinity, -Infinity, Number.NaN]), 'inf\t-inf\t0')
  assert.equal(tsvEncoder(['Array(Tuple(name String, value Float64))']), null)
  assert.equal(tsvEncoder(['DateTime64(3)']), null, 'a DateTime64 without the UTC zone would be read in the server zone')
  assert.deepEqual(tsvFields('a\\tb\t\\N\tc\\\\d'), ['a\tb', '\\N', 'c\\d'])
})

test('chDB: awkward values through the sink as TabSeparated come back unchanged', { timeout: 60_000 }, async () => {
  const table = uniqueTable('tsv')
  await ch.client.command({ query: `CREATE TABLE ${table} (k UInt32, s String, n Nullable(String), a Array(String), an Array(Nullable(String)), u UInt64, i Int32, f Float64, fn Nullable(Float64), af Array(Float64), t DateTime64(3, 'UTC'), _tw_writer UInt32, _tw_chunk UInt64) ENGINE = MergeTree ORDER BY k` })
  await roundTrip(ch, table, 'toUnixTimestamp64Milli(t)', 'TabSeparated')
  await dropTable(ch, table)
})

test('chDB: the same awkward values as RowBinary (what "auto" picks on chDB) come back unchanged', { timeout: 60_000 }, async () => {
  const table = uniqueTable('rowbinary')
  await ch.client.command({ query: `CREATE TABLE ${table} (k UInt32, s String, n Nullable(String), a Array(String), an Array(Nullable(String)), u UInt64, i Int32, f Float64, fn Nullable(Float64), af Array(Float64), t DateTime64(3, 'UTC'), _tw_writer UInt32, _tw_chunk UInt64) ENGINE = MergeTree ORDER BY k` })
  await roundTrip(ch, table, 'toUnixTimestamp64Milli(t)', 'auto', Number.MIN_VALUE, 'RowBinary')
  await dropTable(ch, table)
})

test('chDB: a refused TabSeparated chunk goes to dead letters as JSON objects', { timeout: 60_000 }, async () => {
  const table = await cloneTable(ch, 'hashtag_uses_1m', uniqueTable('tsv_rejected'))
  const dl = await cloneTable(ch, 'dead_letters', uniqueTable('tsv_dead_letters'))
  const sink = new ClickHouseSink('tsv-rejects', ch, hashtagWindowRows(table), { chunkRows: 3, format: 'TabSeparated' }, { logger: quiet, deadLetters: new ClickHouseDeadLetterTable(ch, { table: dl, logger: quiet }) })
  const ctx = { checkpointId: 0, metrics: new Metrics() }
  await sink.open(ctx)
  const row = (tag: string, revision: number): HashtagWindowCount => ({ hashtag: tag, windowStart: 1_700_000_000_000, windowEnd: 1_700_000_060_000, count: 1, revision })
  await sink.write({ values: [row('ok\tfine', 0), row('bad', -1), row('ok', 0)], times: [0, 0, 0] }, ctx)
  await sink.preCommit(1)
  await sink.commit(1)
  await sink.close()
  assert.equal(sink.stats.rowsRejected, 3)
  const letters = await rows<{ payload: string }>(ch, `SELECT payload FROM ${dl} ORDER BY position`)
  const payloads = letters.map((l) => JSON.parse(l.payload) as Record<string, string>)
  assert.deepEqual(payloads.map((p) => p.hashtag), ['ok\tfine', 'bad', 'ok'])
  assert.equal(payloads[1].revision, '-1')
  assert.equal(payloads[0].window_start, '2023-11-14 22:13:20.000')
  await dropTable(ch, table)
  await dropTable(ch, dl)
})

const why = await serverUnavailable()

test('server (clickhouse-server 18.16): format "auto" picks TabSeparated, and RowBinary when asked for; awkward values come back unchanged', { skip: why ?? false, timeout: 120_000 }, async () => {
  startServer()
  const server = createClickHouse({ url: CLICKHOUSE_TEST_URL, requestTimeoutMs: 10_000 })
  const table = `default.${uniqueTable('tsv')}`
  try {
    assert.equal((await server.capabilities()).compactJson, false, '18.16 reads no JSONCompactEachRow')
    // 18.16 has neither DateTime64 nor Bool: times as UInt64 milliseconds here.
    await server.client.command({ query: `CREATE TABLE ${table} (k UInt32, s String, n Nullable(String), a Array(String), an Array(Nullable(String)), u UInt64, i Int32, f Float64, fn Nullable(Float64), af Array(Float64), t UInt64, _tw_writer UInt32, _tw_chunk UInt64) ENGINE = MergeTree ORDER BY k` })
    // 18.16 reads the denormal 5e-324 as 0, from JSON as from TSV (checked by hand): its float parser,
    // not the escaping. The smallest normal double round-trips.
    await roundTrip(server, table, 't', 'auto', 2.2250738585072014e-308)
    // RowBinary over HTTP (the body streamed as it is), asked for: 18.16 reads it, denormals included —
    // binary floats are not parsed.
    await server.client.command({ query: `TRUNCATE TABLE ${table}` })
    await roundTrip(server, table, 't', 'RowBinary', Number.MIN_VALUE, 'RowBinary')
  } finally {
    await server.client.command({ query: `DROP TABLE IF EXISTS ${table}` }).catch(() => {})
    await server.close()
  }
})
