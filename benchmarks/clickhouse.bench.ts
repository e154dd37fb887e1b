// ClickHouse sink throughput (issue 5), in three parts, each with its baseline in the same run:
//  0. row format (the decision in sinks/clickhouse/rows.ts): JSONEachRow objects vs JSONCompactEachRow
//     arrays — stringify, then insert into chDB, 10k rows per insert, same rows;
//  1. rows/s through ClickHouseSink into embedded chDB — and into the test server when it answers —
//     at chunk sizes (rows per INSERT) of 1k, 10k and 100k: write() in batches of 4,096, one
//     checkpoint at the end (preCommit + commit), timed until ClickHouse acknowledged every row.
//  2. the engine with the sink on vs off: the hashtag-activity topology over the same synthetic
//     firehose through the runner, once into no-op sinks and once into ClickHouse sinks (chDB), same
//     checkpoint cadence; events/s of each and the ratio.
//   node --import tsx benchmarks/clickhouse.bench.ts [--rows 1000000] [--events 300000] [--runs 2] [--server URL|none]
// chDB binds one data folder per process: everything here shares one temporary folder.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { eventTime, partitionKey, type FirehoseEvent } from '../schemas/events.ts'
import { createClickHouse, type ClickHouse } from '../sinks/clickhouse/client.ts'
import { migrate } from '../sinks/clickhouse/migrate.ts'
import { hashtagWindowRows, lateRecordRows, lineSerializer, type RowFormat } from '../sinks/clickhouse/rows.ts'
import { ClickHouseSink } from '../sinks/clickhouse/sink.ts'
import { Runner } from '../streams/runner.ts'
import { ArraySource } from '../streams/sources/array.ts'
import { drainStream } from '@clickhouse/client'
import { Readable } from 'node:stream'
import { fnv1a } from '../streams/sources/prng.ts'
import { generateEvents } from '../streams/sources/synthetic.ts'
import type { Batch, Sink } from '../streams/types.ts'
import { hashtagActivity, type HashtagWindowCount } from '../topologies/hashtag-activity.ts'
import { hashtagUses } from './data.ts'

const { values: args } = parseArgs({ options: {
  rows: { type: 'string', default: '1000000' },
  events: { type: 'string', default: '300000' },
  runs: { type: 'string', default: '2' },
  server: { type: 'string', default: process.env.TRENDWIRE_CH_TEST_URL ?? 'http://127.0.0.1:18123' },
} })
const ROWS = Number(args.rows)
const EVENTS = Number(args.events)
const RUNS = Number(args.runs)
const BATCH = 4096
const quiet = pino({ level: 'silent' })
const dir = mkdtempSync(join(tmpdir(), 'trendwire-bench-ch-'))
const embedded = createClickHouse({ embeddedPath: dir })
await migrate(embedded)
let n = 0
const fresh = async (ch: ClickHouse, like: string) => {
  const t = `bench_${like}_${n++}`
  await ch.client.command({ query: `CREATE TABLE ${t} AS ${like}` })
  // Benchmark data is dated 2026-11-01: drop the TTL so a TTL merge does not delete it mid-run.
  if (ch.kind === 'embedded') await ch.client.command({ query: `ALTER TABLE ${t} REMOVE TTL` })
  return t
}
const count = async (ch: ClickHouse, t: string) => Number((await (await ch.client.query({ query: `SELECT count() AS n FROM ${t}`, format: 'JSONEachRow' })).json<{ n: string }>())[0].n)

// Rows as the topology emits them: one count per (hashtag, 1-minute window) — 20,000 hashtags a
// minute, Zipf-distributed counts. Keys are unique, so ReplacingMergeTree keeps every row.
const VOCAB = 20_000
const { uses } = hashtagUses(VOCAB, VOCAB)
const t0Ms = Date.UTC(2026, 10, 1)
const rowsIn: HashtagWindowCount[] = Array.from({ length: ROWS }, (_, i) => {
  const w = t0Ms + Math.floor(i / VOCAB) * 60_000
  return { hashtag: `#tag${i % VOCAB}`, windowStart: w, windowEnd: w + 60_000, count: 1 + (fnv1a(uses[i % VOCAB].tag + i) % 500), revision: 0 }
})

async function sinkRate(ch: ClickHouse, format: RowFormat<HashtagWindowCount>, chunkRows: number): Promise<{ rowsPerSec: number; secs: number; inserts: number }> {
  const sink = new ClickHouseSink('bench', ch, format, { chunkRows, highWaterMarkRows: Math.max(4 * chunkRows, 2 * BATCH) }, { logger: quiet })
  await sink.open()
  const t0 = performance.now()
  for (let b = 0; b < rowsIn.length; b += BATCH) {
    const values = rowsIn.slice(b, b + BATCH)
    const p = sink.write({ values, times: values.map((r) => r.windowEnd - 1) })
    if (p) await p
  }
  await sink.preCommit(1)
  await sink.commit(1)
  const secs = (performance.now() - t0) / 1000
  await sink.close()
  const got = await count(ch, format.table)
  if (got !== rowsIn.length) throw new Error(`${format.table}: ${got} rows, expected ${rowsIn.length}`)
  return { rowsPerSec: rowsIn.length / secs, secs, inserts: sink.stats.chunksInserted }
}

// 18.16 has no DateTime64/TTL/codecs: the server gets a plain table and a matching format.
async function serverTarget(): Promise<ClickHouse | null> {
  if (args.server === 'none') return null
  try {
    const r = await fetch(`${args.server}/ping`, { signal: AbortSignal.timeout(1000) })
    if (!r.ok) return null
  } catch {
    return null
  }
  return createClickHouse({ url: args.server! })
}
const serverFormat = (table: string): RowFormat<HashtagWindowCount> => ({
  table,
  columns: ['hashtag', 'window_start_ms', 'window_end_ms', 'count', 'revision'],
  row: (r) => [r.hashtag, r.windowStart, r.windowEnd, r.count, r.revision],
})

console.log(`clickhouse: ${ROWS.toLocaleString()} rows per sink run, batches of ${BATCH}; engine: ${EVENTS.toLocaleString()} firehose events; best of ${RUNS}`)

// --- 0. row format --------------------------------------------------------------------------------
async function formatRate(compact: boolean): Promise<{ serialize: number; insert: number; bytesPerRow: number }> {
  const t = await fresh(embedded, 'hashtag_uses_1m')
  const line = lineSerializer(hashtagWindowRows(t), compact)
  const s0 = performance.now()
  const chunks: Buffer[] = []
  for (let b = 0; b < rowsIn.length; b += 10_000) {
    const lines: string[] = []
    for (let i = b; i < Math.min(rowsIn.length, b + 10_000); i++) lines.push(line(rowsIn[i], 0))
    chunks.push(Buffer.from(lines.join('\n') + '\n'))
  }
  const s1 = performance.now()
  const sql = `INSERT INTO ${t} (hashtag, window_start, window_end, count, revision) FORMAT ${compact ? 'JSONCompactEachRow' : 'JSONEachRow'}`
  for (const c of chunks) {
    const r = await embedded.client.exec({ query: sql, values: Readable.from([c], { objectMode: false }) })
    await drainStream(r.stream)
  }
  const s2 = performance.now()
  if (await count(embedded, t) !== rowsIn.length) throw new Error('row format: rows missing')
  await embedded.client.command({ query: `DROP TABLE ${t}` })
  return { serialize: rowsIn.length / ((s1 - s0) / 1000), insert: rowsIn.length / ((s2 - s1) / 1000), bytesPerRow: chunks.reduce((n, c) => n + c.length, 0) / rowsIn.length }
}
const fmt: Record<string, { serialize: number[]; insert: number[]; bytes: number }> = { JSONEachRow: { serialize: [], insert: [], bytes: 0 }, JSONCompactEachRow: { serialize: [], insert: [], bytes: 0 } }
for (let r = 0; r < RUNS; r++) {
  for (const compact of [false, true]) {
    const x = await formatRate(compact)
    const k = compact ? 'JSONCompactEachRow' : 'JSONEachRow'
    fmt[k].serialize.push(x.serialize); fmt[k].insert.push(x.insert); fmt[k].bytes = x.bytesPerRow
  }
}
const formatTable = Object.fromEntries(Object.entries(fmt).map(([k, v]) => [k, {
  'stringify (rows/s)': Math.round(Math.max(...v.serialize)), 'chDB insert (rows/s)': Math.round(Math.max(...v.insert)), 'bytes/row': +v.bytes.toFixed(1),
}]))
console.log('\nrow format: hashtag window rows, 10,000 rows per insert into chDB, best of runs')
console.table(formatTable)
const sizes = [1_000, 10_000, 100_000]
const sinkTable: Record<string, Record<string, string | number>> = {}
const server = await serverTarget()
const serverVersion = server ? (await server.capabilities()).version : null
for (const size of sizes) {
  const emb: number[] = []
  const srv: number[] = []
  for (let r = 0; r < RUNS; r++) {
    const t = await fresh(embedded, 'hashtag_uses_1m')
    emb.push((await sinkRate(embedded, hashtagWindowRows(t), size)).rowsPerSec)
    await embedded.client.command({ query: `DROP TABLE ${t}` })
    if (server) {
      const st = `bench_server_${n++}`
      await server.client.command({ query: `CREATE TABLE ${st} (hashtag String, window_start_ms UInt64, window_end_ms UInt64, count UInt64, revision UInt32) ENGINE = ReplacingMergeTree(revision) ORDER BY (hashtag, window_start_ms)` })
      srv.push((await sinkRate(server, serverFormat(st), size)).rowsPerSec)
      await server.client.command({ query: `DROP TABLE ${st}` })
    }
  }
  sinkTable[`${size.toLocaleString()} rows/insert`] = {
    'chDB 26 (rows/s)': Math.round(Math.max(...emb)),
    ...(server ? { [`server ${serverVersion} (rows/s)`]: Math.round(Math.max(...srv)) } : {}),
  }
}
console.log('\nsink → ClickHouse, rows/s (write → acknowledged), best of runs')
console.table(sinkTable)
if (!server) console.log(`(no server at ${args.server}: start one with tests/setup/clickhouse.sh)`)

// --- engine with the sink on vs off ---------------------------------------------------------------
const { events } = generateEvents({ seed: 3, maxEvents: EVENTS, partitions: 1, lateFraction: 0.005, lateByMs: 120_000, outOfOrderMs: 2_000, eventsPerSecond: 200 })
const parts = [0, 1, 2, 3].map((i) => ({ id: `p/${i}`, records: [] as Array<[FirehoseEvent, number]> }))
for (const e of events) parts[fnv1a(partitionKey(e)) % 4].records.push([e, eventTime(e)])

class NullSink<T> implements Sink<T> {
  rows = 0
  constructor(readonly name: string) {}
  write(b: Batch<T>): void { this.rows += b.values.length }
}

async function engineRun(withClickHouse: boolean): Promise<{ secs: number; rows: number }> {
  let sinks
  let tables: string[] = []
  if (withClickHouse) {
    tables = [await fresh(embedded, 'hashtag_uses_1m'), await fresh(embedded, 'hashtag_engagement_10m'), await fresh(embedded, 'late_records')]
    // So the row count can be checked against the no-op sinks: keep a window's revisions as separate
    // rows (no collapsing on insert, no merges) for the length of the run.
    for (const t of tables) await embedded.client.command({ query: `SYSTEM STOP MERGES ${t}` })
    const o = { insertSettings: { optimize_on_insert: 0 } }
    sinks = {
      hashtagUses: new ClickHouseSink('uses', embedded, hashtagWindowRows(tables[0]), o, { logger: quiet }),
      hashtagEngagement: new ClickHouseSink('eng', embedded, hashtagWindowRows(tables[1]), o, { logger: quiet }),
      late: new ClickHouseSink('late', embedded, { ...lateRecordRows, table: tables[2] }, o, { logger: quiet }),
    }
  } else {
    sinks = { hashtagUses: new NullSink<HashtagWindowCount>('uses'), hashtagEngagement: new NullSink<HashtagWindowCount>('eng'), late: new NullSink<never>('late') }
  }
  const topo = hashtagActivity(new ArraySource('firehose', parts), sinks, { outOfOrdernessMs: 5_000, allowedLatenessMs: 60_000 })
  // checkpoint every 25 polls of 4,096 events: ~100k events per epoch, as a few seconds of a busy stream
  const runner = new Runner(topo, { maxBatchRecords: BATCH, checkpointEveryPolls: 25, checkpointIntervalMs: 0 }, { logger: quiet })
  const t0 = performance.now()
  await runner.run()
  const secs = (performance.now() - t0) / 1000
  let rows = 0
  if (withClickHouse) {
    for (const t of tables) { rows += await count(embedded, t); await embedded.client.command({ query: `DROP TABLE ${t}` }) }
  } else {
    rows = Object.values(sinks).reduce((s, k) => s + (k as NullSink<unknown>).rows, 0)
  }
  return { secs, rows }
}

const off: number[] = []
const on: number[] = []
let rowsOff = 0
let rowsOn = 0
for (let r = 0; r < RUNS; r++) {
  const a = await engineRun(false)
  const b = await engineRun(true)
  off.push(a.secs); on.push(b.secs); rowsOff = a.rows; rowsOn = b.rows
}
if (rowsOn !== rowsOff) throw new Error(`ClickHouse holds ${rowsOn} rows, the no-op sinks saw ${rowsOff}`)
const engineSummary = {
  'engine, sinks off (events/s)': Math.round(EVENTS / Math.min(...off)),
  'engine, ClickHouse sinks on, chDB (events/s)': Math.round(EVENTS / Math.min(...on)),
  'time on / time off': +(Math.min(...on) / Math.min(...off)).toFixed(2),
  'result rows written': rowsOn,
}
console.log(`\nhashtag-activity over ${EVENTS.toLocaleString()} events (4 partitions), checkpoint every 25 polls; rows in ClickHouse = rows seen by the no-op sinks`)
console.table(engineSummary)
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`)

await embedded.close()
await server?.close()
rmSync(dir, { recursive: true, force: true })
export default { formatTable, sinkTable, engineSummary }
