// ClickHouse sink throughput (issue 5), in three parts, each with its baseline in the same run:
//  0. row format (the decision in sinks/clickhouse/rows.ts): JSONEachRow objects vs JSONCompactEachRow
//     arrays vs TabSeparated vs RowBinary (rowbinary.ts, through a file on chDB) — serialise, then insert into chDB, 10k rows per insert, same rows; the
//     CPU each costs; chdb's raw insert (Buffer) vs the client's exec (string) path;
//  1. rows/s through ClickHouseSink into embedded chDB — and into the test server when it answers —
//     at chunk sizes (rows per INSERT) of 1k, 10k and 100k: write() in batches of 4,096, one
//     checkpoint at the end (preCommit + commit), timed until ClickHouse acknowledged every row.
//  2. the engine with the sink on vs off: the hashtag-activity topology over the same synthetic
//     firehose through the runner, once into no-op sinks and once into ClickHouse sinks — chDB, and
//     the server when it answers — at 10k and 100k rows per insert, same checkpoint cadence; events/s
//     of each, the ratio, and the CPU seconds behind it (main thread, other threads, server process).
//   node --import tsx benchmarks/clickhouse.bench.ts [--rows 1000000] [--events 300000] [--runs 2] [--server URL|none]
//     [--parts format,sink,engine]
// chDB binds one data folder per process: everything here shares one temporary folder.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PerformanceObserver } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { eventTime, partitionKey, type FirehoseEvent } from '../schemas/events.ts'
import { createClickHouse, type ClickHouse } from '../sinks/clickhouse/client.ts'
import { migrate } from '../sinks/clickhouse/migrate.ts'
import { hashtagWindowRows, lateRecordRows, lineSerializer, type RowFormat } from '../sinks/clickhouse/rows.ts'
import { ClickHouseSink } from '../sinks/clickhouse/sink.ts'
import { GrowingBytes, rowBinaryEncoder, structureOf } from '../sinks/clickhouse/rowbinary.ts'
import { Runner } from '../streams/runner.ts'
import { ArraySource } from '../streams/sources/array.ts'
import { drainStream } from '@clickhouse/client'
import { Readable } from 'node:stream'
import { fnv1a } from '../streams/sources/prng.ts'
import { generateEvents } from '../streams/sources/synthetic.ts'
import type { Batch, Sink } from '../streams/types.ts'
import type { LateRecord } from '../streams/windows.ts'
import { hashtagActivity, type HashtagWindowCount } from '../topologies/hashtag-activity.ts'
import { hashtagUses } from './data.ts'

const { values: args } = parseArgs({ options: {
  rows: { type: 'string', default: '1000000' },
  events: { type: 'string', default: '300000' },
  runs: { type: 'string', default: '2' },
  server: { type: 'string', default: process.env.TRENDWIRE_CH_TEST_URL ?? 'http://127.0.0.1:18123' },
  parts: { type: 'string', default: 'format,sink,engine' },
} })
const part = (p: 'format' | 'sink' | 'engine') => args.parts!.split(',').includes(p)
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

const mainThreadCpu = (): number => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9
const processCpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }
/** The test server's pid (tests/setup/clickhouse.sh writes it), if that process is a clickhouse-server. */
function serverPid(): number | null {
  try {
    const pid = Number(readFileSync(join(import.meta.dirname, '..', 'tests', '.services', 'clickhouse', 'clickhouse.pid'), 'utf8').trim())
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('clickhouse-server') ? pid : null
  } catch {
    return null
  }
}
const TICKS = 100 // USER_HZ
const pidCpu = (pid: number | null): number => {
  if (pid === null) return 0
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / TICKS
}
let gcMs = 0
new PerformanceObserver((l) => { for (const e of l.getEntries()) gcMs += e.duration }).observe({ entryTypes: ['gc'] })

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
// TabSeparated is measured here, not offered by the sink (README section 2): a TSV line per row —
// strings escaped, DateTime64 as 'YYYY-MM-DD hh:mm:ss.mmm' (chDB reads a bare integer in a TSV
// DateTime64 field by its digit count: 20240601 is a date, 100000000 seconds, only 13 digits are ms).
const TSV_SPECIAL = /[\t\n\r\\\0]/g
const TSV_ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\', '\0': '\\0' }
const tsvString = (v: string) => (TSV_SPECIAL.test(v) ? v.replace(TSV_SPECIAL, (c) => TSV_ESCAPES[c]) : v)
let lastMs = NaN
let lastText = ''
const tsvDateTime64 = (ms: number) => {
  if (ms !== lastMs) { const iso = new Date(ms).toISOString(); lastMs = ms; lastText = `${iso.slice(0, 10)} ${iso.slice(11, 23)}` }
  return lastText
}
type Encoding = 'JSONEachRow' | 'JSONCompactEachRow' | 'TabSeparated' | 'RowBinary'
function encoder(encoding: Encoding, table: string): (r: HashtagWindowCount) => string {
  if (encoding === 'TabSeparated') return (r) => { TSV_SPECIAL.lastIndex = 0; return `${tsvString(r.hashtag)}\t${tsvDateTime64(r.windowStart)}\t${tsvDateTime64(r.windowEnd)}\t${r.count}\t${r.revision}` }
  const line = lineSerializer(hashtagWindowRows(table), encoding === 'JSONCompactEachRow')
  return (r) => line(r, 0)
}
/** Serialise the rows (main thread), then insert them 10,000 per INSERT into chDB, one at a time: the process's CPU during the inserts is chDB's. */
async function formatRate(encoding: Encoding, path: 'raw' | 'exec'): Promise<{ serialize: number; insert: number; cpuPer100k: number; mainPer100k: number; bytesPerRow: number }> {
  const t = await fresh(embedded, 'hashtag_uses_1m')
  const columns = ['hashtag', 'window_start', 'window_end', 'count', 'revision']
  const described = await (await embedded.client.query({ query: `DESCRIBE TABLE ${t}`, format: 'JSONEachRow' })).json<{ name: string; type: string }>()
  const types = columns.map((c) => described.find((d) => d.name === c)!.type)
  const line = encoding === 'RowBinary' ? null : encoder(encoding, t)
  const s0 = performance.now()
  const chunks: Buffer[] = []
  if (line) {
    for (let b = 0; b < rowsIn.length; b += 10_000) {
      const lines: string[] = []
      for (let i = b; i < Math.min(rowsIn.length, b + 10_000); i++) lines.push(line(rowsIn[i]))
      chunks.push(Buffer.from(lines.join('\n') + '\n'))
    }
  } else {
    // the sink's way: values of the row format, written by the encoder straight into the chunk's buffer
    const enc = rowBinaryEncoder(columns, types)!
    const row = hashtagWindowRows(t).row
    for (let b = 0; b < rowsIn.length; b += 10_000) {
      const w = new GrowingBytes(null, 64 * 10_000)
      for (let i = b; i < Math.min(rowsIn.length, b + 10_000); i++) enc(row(rowsIn[i], 0), w)
      chunks.push(w.bytes())
    }
  }
  const s1 = performance.now()
  const [c0, m0] = [processCpu(), mainThreadCpu()]
  for (const c of chunks) {
    if (path === 'raw') {
      await embedded.insertRaw!({ table: `default.${t}`, columns, format: encoding, structure: structureOf(columns, types), body: c, settings: {}, signal: new AbortController().signal })
    } else {
      const r = await embedded.client.exec({ query: `INSERT INTO ${t} (${columns.join(', ')}) FORMAT ${encoding}`, values: Readable.from([c], { objectMode: false }) })
      await drainStream(r.stream)
    }
  }
  const [c1, m1] = [processCpu(), mainThreadCpu()]
  const s2 = performance.now()
  if (await count(embedded, t) !== rowsIn.length) throw new Error('row format: rows missing')
  await embedded.client.command({ query: `DROP TABLE ${t}` })
  const per100k = 100_000 / rowsIn.length * 1000
  return {
    serialize: rowsIn.length / ((s1 - s0) / 1000), insert: rowsIn.length / ((s2 - s1) / 1000),
    cpuPer100k: (c1 - c0) * per100k, mainPer100k: (m1 - m0) * per100k, bytesPerRow: chunks.reduce((n, c) => n + c.length, 0) / rowsIn.length,
  }
}
const variants: Array<[Encoding, 'raw' | 'exec']> = [['JSONEachRow', 'raw'], ['JSONCompactEachRow', 'raw'], ['JSONCompactEachRow', 'exec'], ['TabSeparated', 'raw'], ['RowBinary', 'raw']]
const fmt: Record<string, Array<Awaited<ReturnType<typeof formatRate>>>> = {}
if (part('format')) {
  for (let r = 0; r < RUNS; r++) {
    for (const [e, path] of variants) (fmt[`${e}, ${e === 'RowBinary' ? 'through a file (chDB)' : path === 'raw' ? 'raw insert (Buffer)' : 'client exec (string)'}`] ??= []).push(await formatRate(e, path))
  }
}
const formatTable = Object.fromEntries(Object.entries(fmt).map(([k, v]) => [k, {
  'serialise (rows/s)': Math.round(Math.max(...v.map((x) => x.serialize))),
  'chDB insert (rows/s)': Math.round(Math.max(...v.map((x) => x.insert))),
  'CPU per 100k rows (ms)': Math.round(Math.min(...v.map((x) => x.cpuPer100k))),
  'of it main thread (ms)': Math.round(Math.min(...v.map((x) => x.mainPer100k))),
  'bytes/row': +v[0].bytesPerRow.toFixed(1),
}]))
if (part('format')) {
  console.log('\nrow format: hashtag window rows, 10,000 rows per insert into chDB, best (least CPU) of runs')
  console.table(formatTable)
}
const sizes = [1_000, 10_000, 100_000]
const sinkTable: Record<string, Record<string, string | number>> = {}
const server = await serverTarget()
const serverVersion = server ? (await server.capabilities()).version : null
for (const size of part('sink') ? sizes : []) {
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
if (part('sink')) {
  console.log('\nsink → ClickHouse, rows/s (write → acknowledged), best of runs')
  console.table(sinkTable)
}
if (!server) console.log(`(no server at ${args.server}: start one with tests/setup/clickhouse.sh)`)

// --- engine with the sink on vs off ---------------------------------------------------------------
// Wall time is what the issue asks for (time on / time off), but on a shared 2-core machine it moves
// with the load; CPU seconds per thread do not. So each run also records the engine's main-thread CPU
// (/proc/self/task/<pid>/schedstat), the CPU of every other thread of the process (chDB's insert
// threads, V8's GC helpers, libuv), the ClickHouse server's process CPU (/proc/<pid>/stat, when it is
// the target) and the main thread's GC pauses. From those, the best wall time two free cores could give:
// max(main thread, all CPU / 2) — the engine's main thread cannot be split, everything else can run
// beside it.
// The 1 M prepared rows of parts 0 and 1 go: a job does not hold them, and every full GC of the runs
// below would mark them again.
rowsIn.length = 0
const { events } = generateEvents({ seed: 3, maxEvents: EVENTS, partitions: 1, lateFraction: 0.005, lateByMs: 120_000, outOfOrderMs: 2_000, eventsPerSecond: 200 })
const parts = [0, 1, 2, 3].map((i) => ({ id: `p/${i}`, records: [] as Array<[FirehoseEvent, number]> }))
for (const e of events) parts[fnv1a(partitionKey(e)) % 4].records.push([e, eventTime(e)])

class NullSink<T> implements Sink<T> {
  rows = 0
  constructor(readonly name: string) {}
  write(b: Batch<T>): void { this.rows += b.values.length }
}

interface EngineRun { secs: number; rows: number; main: number; other: number; server: number; gc: number; waitMs: number }

// 18.16 has no DateTime64: plain tables for the server, times as UInt64 ms, with the bookkeeping
// columns so the sink runs in transactional mode there too (as on chDB).
const SERVER_DDL = {
  uses: '(hashtag String, window_start_ms UInt64, window_end_ms UInt64, count UInt64, revision UInt32, _tw_writer UInt32, _tw_chunk UInt64) ENGINE = MergeTree ORDER BY (hashtag, window_start_ms)',
  late: '(operator String, reason String, time_ms UInt64, watermark_ms Nullable(UInt64), value String, _tw_writer UInt32, _tw_chunk UInt64) ENGINE = MergeTree ORDER BY (operator, time_ms)',
}
const serverLateFormat = (table: string): RowFormat<LateRecord<unknown>> => ({ ...lateRecordRows, table, columns: ['operator', 'reason', 'time_ms', 'watermark_ms', 'value'] })

async function engineRun(target: ClickHouse | null, chunkRows: number): Promise<EngineRun> {
  let sinks
  let tables: string[] = []
  let waitMs = 0
  if (target) {
    if (target.kind === 'embedded') {
      tables = [await fresh(target, 'hashtag_uses_1m'), await fresh(target, 'hashtag_engagement_10m'), await fresh(target, 'late_records')]
      // So the row count can be checked against the no-op sinks: keep a window's revisions as separate
      // rows (no collapsing on insert, no merges) for the length of the run.
      for (const t of tables) await target.client.command({ query: `SYSTEM STOP MERGES ${t}` })
    } else {
      tables = [`bench_server_${n++}`, `bench_server_${n++}`, `bench_server_${n++}`]
      await target.client.command({ query: `CREATE TABLE ${tables[0]} ${SERVER_DDL.uses}` })
      await target.client.command({ query: `CREATE TABLE ${tables[1]} ${SERVER_DDL.uses}` })
      await target.client.command({ query: `CREATE TABLE ${tables[2]} ${SERVER_DDL.late}` })
    }
    const insertSettings: Record<string, number> = target.kind === 'embedded' ? { optimize_on_insert: 0 } : {}
    const o = { chunkRows, insertSettings }
    const fmt = target.kind === 'embedded' ? hashtagWindowRows : serverFormat
    const late = target.kind === 'embedded' ? { ...lateRecordRows, table: tables[2] } : serverLateFormat(tables[2])
    sinks = {
      hashtagUses: new ClickHouseSink('uses', target, fmt(tables[0]), o, { logger: quiet }),
      hashtagEngagement: new ClickHouseSink('eng', target, fmt(tables[1]), o, { logger: quiet }),
      late: new ClickHouseSink('late', target, late, o, { logger: quiet }),
    }
    // Time the runner spends waiting on the sinks (backpressure, preCommit, commit, close).
    for (const sink of Object.values(sinks)) {
      for (const m of ['write', 'preCommit', 'commit', 'close'] as const) {
        const f = (sink[m] as (...a: unknown[]) => unknown).bind(sink)
        ;(sink as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
          const r = f(...a)
          if (!(r instanceof Promise)) return r
          const t = performance.now()
          return r.finally(() => { waitMs += performance.now() - t })
        }
      }
    }
  } else {
    sinks = { hashtagUses: new NullSink<HashtagWindowCount>('uses'), hashtagEngagement: new NullSink<HashtagWindowCount>('eng'), late: new NullSink<never>('late') }
  }
  const topo = hashtagActivity(new ArraySource('firehose', parts), sinks, { outOfOrdernessMs: 5_000, allowedLatenessMs: 60_000 })
  // checkpoint every 25 polls of 4,096 events: ~100k events per epoch, as a few seconds of a busy stream
  const runner = new Runner(topo, { maxBatchRecords: BATCH, checkpointEveryPolls: 25, checkpointIntervalMs: 0 }, { logger: quiet })
  const pid = target?.kind === 'server' ? serverPid() : null
  await new Promise((r) => setTimeout(r, 20)) // GC entries of earlier work are delivered before we start counting
  const gc0 = gcMs
  const [m0, p0, s0] = [mainThreadCpu(), processCpu(), pidCpu(pid)]
  const t0 = performance.now()
  await runner.run()
  const secs = (performance.now() - t0) / 1000
  const [m1, p1, s1] = [mainThreadCpu(), processCpu(), pidCpu(pid)]
  await new Promise((r) => setTimeout(r, 20))
  let rows = 0
  if (target) {
    for (const t of tables) { rows += await count(target, t); await target.client.command({ query: `DROP TABLE ${t}` }) }
  } else {
    rows = Object.values(sinks).reduce((s, k) => s + (k as NullSink<unknown>).rows, 0)
  }
  return { secs, rows, main: m1 - m0, other: p1 - p0 - (m1 - m0), server: s1 - s0, gc: gcMs - gc0, waitMs }
}

const chunkSizes = [10_000, 100_000]
const targets: Array<{ name: string; ch: ClickHouse }> = [{ name: 'chDB', ch: embedded }, ...(server ? [{ name: `server ${serverVersion}`, ch: server }] : [])]
const engineTable: Record<string, Record<string, string | number>> = {}
const engineCpu: Record<string, Record<string, string | number>> = {}
let engineSummary: Record<string, number> = {}
if (part('engine')) {
  for (const { name, ch } of targets) {
    for (const chunkRows of chunkSizes) {
      const off: EngineRun[] = []
      const on: EngineRun[] = []
      for (let r = 0; r < RUNS; r++) {
        off.push(await engineRun(null, chunkRows))
        on.push(await engineRun(ch, chunkRows))
      }
      const rowsOff = off[0].rows
      for (const x of on) if (x.rows !== rowsOff) throw new Error(`${name}: ClickHouse holds ${x.rows} rows, the no-op sinks saw ${rowsOff}`)
      const best = (xs: EngineRun[]) => xs.reduce((a, b) => (b.secs < a.secs ? b : a))
      const min = (xs: EngineRun[], k: keyof EngineRun) => Math.min(...xs.map((x) => x[k]))
      const bOff = best(off)
      const bOn = best(on)
      const key = `${name}, ${chunkRows.toLocaleString()} rows/insert`
      engineTable[key] = {
        'sinks off (events/s)': Math.round(EVENTS / bOff.secs),
        'ClickHouse sinks on (events/s)': Math.round(EVENTS / bOn.secs),
        'time on / time off': +(bOn.secs / bOff.secs).toFixed(2),
        'runner waiting on sinks (s)': +(bOn.waitMs / 1000).toFixed(2),
      }
      // CPU: the least of the runs for each figure (load from other jobs only ever adds).
      const mainOff = min(off, 'main')
      const mainOn = min(on, 'main')
      const otherOff = min(off, 'other')
      const otherOn = min(on, 'other')
      const srv = min(on, 'server')
      const boundOff = Math.max(mainOff, (mainOff + otherOff) / 2)
      const boundOn = Math.max(mainOn, (mainOn + otherOn + srv) / 2)
      engineCpu[key] = {
        'main thread off (s)': +mainOff.toFixed(2),
        'main thread on (s)': +mainOn.toFixed(2),
        'other threads off (s)': +otherOff.toFixed(2),
        'other threads on (s)': +otherOn.toFixed(2),
        'server process (s)': +srv.toFixed(2),
        'GC pauses off/on (ms)': `${Math.round(min(off, 'gc'))}/${Math.round(min(on, 'gc'))}`,
        'best possible on 2 free cores, on/off': +(boundOn / boundOff).toFixed(2),
      }
      if (name === 'chDB' && chunkRows === 10_000) {
        engineSummary = { 'engine, sinks off (events/s)': engineTable[key]['sinks off (events/s)'] as number, 'engine, ClickHouse sinks on, chDB (events/s)': engineTable[key]['ClickHouse sinks on (events/s)'] as number, 'time on / time off': engineTable[key]['time on / time off'] as number, 'result rows written': rowsOff }
      }
      console.log(`  ${key}: done (${rowsOff.toLocaleString()} result rows, each run checked)`)
    }
  }
  console.log(`\nhashtag-activity over ${EVENTS.toLocaleString()} events (4 partitions), checkpoint every 25 polls; rows in ClickHouse = rows seen by the no-op sinks; best of ${RUNS}`)
  console.table(engineTable)
  console.log('CPU seconds of the same runs (least of the runs), and the ratio two free cores would allow')
  console.table(engineCpu)
}
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`)

await embedded.close()
await server?.close()
rmSync(dir, { recursive: true, force: true })
export default { formatTable, sinkTable, engineSummary, engineTable, engineCpu }
