// ClickHouseVectorIndex: the embedded default VectorIndex. Vectors live in a ClickHouse table
// (schemas/clickhouse/009_search_vectors.sql) reached through sinks/clickhouse's client factory, so
// the same code runs on chDB in process or on a ClickHouse server.
//
// Search:
//  - exact: `ORDER BY cosineDistance(vector, q), id LIMIT k` over FINAL (each item once, newest
//    version), filters in WHERE. The `id` tie-break makes results deterministic and also keeps
//    ClickHouse from answering with the approximate index (it only serves ORDER BY distance LIMIT n).
//  - approximate, when the table has the vector_similarity (HNSW) index (ClickHouse ≥ 25.8, chDB 3.4 =
//    ClickHouse 26.x; added by open() with vectorIndex: 'auto'): k × overfetch candidates from the
//    index (`ORDER BY cosineDistance(vector, q) LIMIT n`, filters post-filtered — ClickHouse's default
//    vector_search_filter_strategy), then the candidates re-ranked exactly against FINAL. If fewer
//    than k survive (selective filters, duplicates of re-delivered items), the exact query answers.
//    No per-query settings are used: on chDB a setting persists on the shared connection.
// Upserts: JSONCompactEachRow inserts (chdb's raw insert on chDB); ReplacingMergeTree(version) + FINAL
// make re-delivery idempotent. The HNSW graph is built by merges unless buildIndexOnInsert.
// Retries: exponential backoff with jitter on errors sinks/clickhouse/errors.ts classifies retryable.
import { Readable } from 'node:stream'
import pino, { type Logger } from 'pino'
import { z } from 'zod'
import { parseOptions, retryOptionsSchema } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { BufferPool } from '../../streams/buffer-pool.ts'
import { defaultEmbedder, EMBEDDING_DIM, type TextEmbedder } from '../../operators/embeddings/embed.ts'
import type { Platform } from '../../schemas/events.ts'
import { quoteIdent, type ClickHouse } from '../clickhouse/client.ts'
import { classifyClickHouseError, clickHouseFailure } from '../clickhouse/errors.ts'
import { migrate } from '../clickhouse/migrate.ts'
import { GrowingBytes, rowBinaryEncoder, RowValueError, structureOf, type RowBinaryEncoder } from '../clickhouse/rowbinary.ts'
import { retrying } from '../retry.ts'
import { hasDirection, prepareQuery } from './items.ts'
import type { SearchFilter, SearchHit, SearchOptions, VectorIndex, VectorItem, VectorKind } from './types.ts'

export const clickHouseVectorIndexOptionsSchema = z.object({
  table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a plain identifier').default('search_vectors'),
  dim: z.number().int().min(2).max(4096).default(EMBEDDING_DIM),
  /** 'auto': add the HNSW vector_similarity index when the server supports it (≥ 25.8); 'off': exact search only. */
  vectorIndex: z.enum(['auto', 'off']).default('auto'),
  /** Approximate search fetches k × overfetch candidates before exact re-ranking. */
  overfetch: z.number().int().min(1).max(100).default(4),
  /** When the table is missing: apply the migrations (schemas/clickhouse) instead of failing. */
  migrate: z.boolean().default(false),
  /** Rows per INSERT. */
  insertChunkRows: z.number().int().positive().default(5_000),
  /**
   * Build the HNSW graph of each INSERT's part as it is written (ClickHouse's default). false: INSERTs
   * skip it (`materialize_skip_indexes_on_insert = 0`) and merges build it; until then a part is
   * searched exactly. See docs/search-and-state.md for the cost of each.
   */
  buildIndexOnInsert: z.boolean().default(false),
  /**
   * The HNSW graph's parameters, used when open() creates the index (an existing index keeps its own):
   * vector quantization, edges per node (M) and the candidate list while building (ef_construction).
   * ClickHouse's defaults are bf16, 32, 128. The graph only proposes k × overfetch candidates that are
   * then re-ranked exactly. Over 30,000 posts (benchmarks/vector-index.bench.ts, two runs): 16 and 64
   * build it for 0.49× the CPU of the defaults, recall@10 0.965–0.968 against 0.990–0.998 (24 and 96:
   * 0.74–0.75×, 0.985–0.988; a larger overfetch does not win it back: the misses are the graph's). In
   * the main job the defaults' builds were ~6 s of chDB's CPU per 300k events
   * (benchmarks/clickhouse/README.md, section 7). For recall over ingest cost:
   * { maxConnectionsPerLayer: 32, candidateListSizeForConstruction: 128 }.
   */
  hnsw: z.object({
    quantization: z.enum(['f64', 'f32', 'f16', 'bf16', 'i8']).default('bf16'),
    maxConnectionsPerLayer: z.number().int().min(2).max(256).default(16),
    candidateListSizeForConstruction: z.number().int().min(4).max(2048).default(64),
  }).strict().prefault({}),
  retry: retryOptionsSchema({ initialDelayMs: 100, maxDelayMs: 5_000 }).prefault({}),
}).strict()
export type ClickHouseVectorIndexOptions = z.input<typeof clickHouseVectorIndexOptionsSchema>

const INDEX_NAME = 'vec_hnsw'

interface Row {
  kind: VectorKind
  id: string
  platform: Platform
  language: string
  time_ms: string | number
  text: string
  model: string
  version: string | number
  distance: number
}

export class ClickHouseVectorIndex implements VectorIndex {
  readonly opts: z.output<typeof clickHouseVectorIndexOptionsSchema>
  readonly dim: number
  readonly embedder: TextEmbedder
  private readonly table: string
  /** The INSERT bodies' buffer, reused batch after batch. */
  private readonly buffers = new BufferPool(1)
  /** chDB: rows go as RowBinary (the vector's bytes as they are), with the table's types; set by open(). */
  private binary: { encode: RowBinaryEncoder; structure: string } | null = null
  private readonly log: Logger
  /** Set by open(): the table has the approximate index. */
  approximate = false
  readonly stats = { upserted: 0, skippedZero: 0, approximateSearches: 0, exactSearches: 0, fallbacks: 0, retries: 0 }

  constructor(readonly name: string, private readonly ch: ClickHouse, options: ClickHouseVectorIndexOptions = {}, deps: { embedder?: TextEmbedder; logger?: Logger } = {}) {
    this.opts = parseOptions(`clickhouse vector index "${name}"`, clickHouseVectorIndexOptionsSchema, options)
    this.dim = this.opts.dim
    this.embedder = deps.embedder ?? defaultEmbedder()
    if (this.embedder.dim !== this.dim) throw new TrendwireError('CONFIG_INVALID', `clickhouse vector index "${name}": embedder dimension ${this.embedder.dim} ≠ dim ${this.dim}`)
    this.table = `${quoteIdent(ch.database)}.${quoteIdent(this.opts.table)}`
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
  }

  async open(): Promise<void> {
    const exists = await this.retrying('check table', async () => {
      const rs = await this.ch.client.query({
        query: 'SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = {t:String}',
        query_params: { db: this.ch.database, t: this.opts.table }, format: 'JSONEachRow',
      })
      const [r] = await rs.json<{ n: string | number }>()
      return Number(r.n) > 0
    })
    if (!exists) {
      if (!this.opts.migrate) throw new TrendwireError('CONFIG_INVALID', `clickhouse vector index "${this.name}": table ${this.ch.database}.${this.opts.table} does not exist; run \`trendwire migrate\` (or pass migrate: true)`)
      await migrate(this.ch, { logger: this.log })
    }
    if (this.opts.vectorIndex === 'auto') this.approximate = await this.ensureVectorIndex()
    if (this.ch.insertRaw) {
      const described = await this.retrying('describe table', async () => (await this.ch.client.query({ query: `DESCRIBE TABLE ${this.table}`, format: 'JSONEachRow' })).json<{ name: string; type: string }>())
      const types = new Map(described.map((c) => [c.name, c.type]))
      const colTypes = VECTOR_COLUMNS.map((c) => types.get(c) ?? '')
      const encode = rowBinaryEncoder(VECTOR_COLUMNS, colTypes)
      this.binary = encode ? { encode, structure: structureOf(VECTOR_COLUMNS, colTypes) } : null
    }
  }

  /** Adds the HNSW index if the server has vector_similarity (≥ 25.8). Returns whether the table has it. */
  private async ensureVectorIndex(): Promise<boolean> {
    const { version } = await this.retrying('read capabilities', () => this.ch.capabilities())
    const [maj, min] = version.split('.').map(Number)
    if (maj < 25 || (maj === 25 && min < 8)) {
      this.log.info({ index: this.name, version }, 'ClickHouse before 25.8 has no vector_similarity index: exact search only')
      return false
    }
    const had = await this.hasIndex()
    if (!had) {
      const h = this.opts.hnsw
      // GRANULARITY huge = one index per part (ClickHouse's recommendation for vector indexes)
      await this.retrying('add vector index', () => this.ch.client.command({
        query: `ALTER TABLE ${this.table} ADD INDEX IF NOT EXISTS ${INDEX_NAME} vector TYPE vector_similarity('hnsw', 'cosineDistance', ${this.dim}, '${h.quantization}', ${h.maxConnectionsPerLayer}, ${h.candidateListSizeForConstruction}) GRANULARITY 100000000`,
      }))
      // parts written before the index existed get it through a (background) mutation
      await this.retrying('materialize vector index', () => this.ch.client.command({ query: `ALTER TABLE ${this.table} MATERIALIZE INDEX ${INDEX_NAME}` }))
    }
    return true
  }

  private async hasIndex(): Promise<boolean> {
    return this.retrying('list indexes', async () => {
      const rs = await this.ch.client.query({
        query: 'SELECT count() AS n FROM system.data_skipping_indices WHERE database = {db:String} AND table = {t:String} AND name = {i:String}',
        query_params: { db: this.ch.database, t: this.opts.table, i: INDEX_NAME }, format: 'JSONEachRow',
      })
      const [r] = await rs.json<{ n: string | number }>()
      return Number(r.n) > 0
    })
  }

  async upsert(items: readonly VectorItem[]): Promise<void> {
    const rows: VectorItem[] = []
    for (const it of items) {
      if (it.vector.length !== this.dim) throw new TrendwireError('SINK_REJECTED', `clickhouse vector index "${this.name}": ${it.kind} ${it.id} has a ${it.vector.length}-dimensional vector, the index has ${this.dim}`)
      if (!hasDirection(it.vector)) { this.stats.skippedZero++; continue }
      rows.push(it)
    }
    for (let i = 0; i < rows.length; i += this.opts.insertChunkRows) {
      const chunk = rows.slice(i, i + this.opts.insertChunkRows)
      const bin = this.binary
      const body = bin ? vectorRowBinary(chunk, bin.encode, this.buffers) : vectorRows(chunk, this.buffers)
      await this.retrying(`insert ${chunk.length} vectors`, async () => {
        const settings: Record<string, number> = this.approximate && !this.opts.buildIndexOnInsert ? { materialize_skip_indexes_on_insert: 0 } : {}
        if (bin) {
          // chDB: RowBinary — the Float32 components as they are, no digits written or parsed
          await this.ch.insertRaw!({ table: `${this.ch.database}.${this.opts.table}`, columns: VECTOR_COLUMNS, format: 'RowBinary', structure: bin.structure, body, settings, signal: new AbortController().signal })
        } else if (this.ch.insertRaw) {
          // chDB: the bytes go to the engine as they are, parsed off the main thread (sinks/clickhouse/client.ts)
          await this.ch.insertRaw({ table: `${this.ch.database}.${this.opts.table}`, columns: VECTOR_COLUMNS, format: 'JSONCompactEachRow', body, settings, signal: new AbortController().signal })
        } else {
          await this.ch.client.insert({ table: this.table, values: Readable.from([body], { objectMode: false }), format: 'JSONCompactEachRow', columns: [...VECTOR_COLUMNS] as [string, ...string[]], clickhouse_settings: settings })
        }
      })
      // In ClickHouse: the buffer takes the next batch (streams/buffer-pool.ts).
      this.buffers.give(Buffer.from(body.buffer, 0, body.buffer.byteLength))
      this.stats.upserted += chunk.length
    }
  }

  async search(query: ArrayLike<number> | string, opts: SearchOptions = {}): Promise<SearchHit[]> {
    const q = prepareQuery(`clickhouse vector index "${this.name}"`, query, opts, this.embedder, this.dim)
    if (!q) return []
    const { vec, k, kind, filter } = q
    const { sql: where, params } = whereClause(kind, filter)
    params.q = Array.from(vec)
    params.k = k
    // no alias may reuse a column name: ClickHouse resolves aliases inside WHERE too
    const cols = `kind, id, platform, language, toUnixTimestamp64Milli(time) AS time_ms, text, model, version, cosineDistance(vector, {q:Array(Float32)}) AS distance`
    if (this.approximate && !opts.exact) {
      this.stats.approximateSearches++
      params.n = k * this.opts.overfetch
      const cand = await this.rows<{ id: string }>(`SELECT id FROM ${this.table} WHERE ${where} ORDER BY cosineDistance(vector, {q:Array(Float32)}) LIMIT {n:UInt32}`, params)
      const ids = [...new Set(cand.map((r) => r.id))]
      if (ids.length > 0) {
        params.ids = ids
        const hits = await this.rows<Row>(`SELECT ${cols} FROM ${this.table} FINAL WHERE ${where} AND id IN {ids:Array(String)} ORDER BY distance ASC, id ASC LIMIT {k:UInt32}`, params)
        if (hits.length >= k) return hits.map(toHit)
      }
      this.stats.fallbacks++
    }
    this.stats.exactSearches++
    const hits = await this.rows<Row>(`SELECT ${cols} FROM ${this.table} FINAL WHERE ${where} ORDER BY distance ASC, id ASC LIMIT {k:UInt32}`, params)
    return hits.map(toHit)
  }

  async close(): Promise<void> {
    // the ClickHouse handle belongs to whoever created it
  }

  private async rows<R>(query: string, params: Record<string, unknown>): Promise<R[]> {
    return this.retrying('search', async () => {
      const rs = await this.ch.client.query({ query, query_params: params, format: 'JSONEachRow' })
      return rs.json<R>()
    })
  }

  private retrying<R>(what: string, fn: () => Promise<R>): Promise<R> {
    const ctx = `clickhouse vector index "${this.name}": ${what}`
    return retrying(fn, {
      policy: this.opts.retry,
      fatal: (err) => (classifyClickHouseError(err).retryable ? undefined : clickHouseFailure(err, ctx)),
      exhausted: (err, failing) => new TrendwireError('SINK_UNAVAILABLE', `${ctx}: still failing after ${failing} ms: ${classifyClickHouseError(err).message}`, { cause: err }),
      onRetry: (err, attempt) => {
        this.stats.retries++
        this.log.warn({ index: this.name, what, attempt, err: classifyClickHouseError(err).message }, 'clickhouse vector index call failed, retrying')
      },
    })
  }

}

const VECTOR_COLUMNS: readonly string[] = ['kind', 'id', 'platform', 'language', 'time', 'text', 'model', 'version', 'vector']

/** The RowBinary body of a chunk of items (chDB), in a buffer of `pool`. */
function vectorRowBinary(items: readonly VectorItem[], encode: RowBinaryEncoder, pool: BufferPool): Buffer {
  let cap = 0
  for (const it of items) cap += 64 + (it.id.length + it.text.length + it.model.length + it.platform.length + it.language.length) * 3 + it.vector.length * 4
  const w = new GrowingBytes(pool, cap)
  const values: unknown[] = new Array(VECTOR_COLUMNS.length)
  for (const it of items) {
    values[0] = it.kind; values[1] = it.id; values[2] = it.platform; values[3] = it.language; values[4] = it.time
    values[5] = it.text; values[6] = it.model; values[7] = it.version; values[8] = it.vector
    try {
      encode(values, w)
    } catch (err) {
      pool.give(w.buf)
      if (err instanceof RowValueError) throw new TrendwireError('SINK_REJECTED', `vector item ${it.kind} ${it.id}: ${err.message}`, { cause: err })
      throw err
    }
  }
  return w.bytes()
}

/**
 * The JSONCompactEachRow body of a chunk of items, written straight into one Buffer. The vector's
 * components are written with 7 significant digits, close to what the Float32 column keeps (24-bit
 * mantissa ≈ 7.2 digits): each moves by at most 5e-7 of itself, so a cosine distance between unit
 * vectors moves by less than 1e-6. Half the bytes of a double's shortest form (2.9 vs 5.3 kB per 256-d
 * row). Digits are written by arithmetic, not through strings: building each component's text as a
 * string made ~16 kB of garbage per vector, which in the main job at full speed was the larger part of
 * the extra young-generation collections the sinks cause (benchmarks/clickhouse/README.md, section 5).
 */
export function vectorRows(items: readonly VectorItem[], pool?: BufferPool): Buffer {
  let cap = 0
  const heads: string[] = new Array(items.length)
  for (let i = 0; i < items.length; i++) {
    const it = items[i]
    heads[i] = JSON.stringify([it.kind, it.id, it.platform, it.language, it.time, it.text, it.model, it.version])
    cap += heads[i].length * 3 + it.vector.length * MAX_COMPONENT_BYTES + 8
  }
  const buf = pool ? pool.take(cap) : Buffer.allocUnsafe(cap)
  let pos = 0
  for (let i = 0; i < items.length; i++) {
    pos += buf.write(heads[i], pos, 'utf8') - 1 // without the closing ']'
    buf[pos++] = 44 // ,
    buf[pos++] = 91 // [
    const v = items[i].vector
    for (let j = 0; j < v.length; j++) {
      if (j > 0) buf[pos++] = 44
      pos = writeFloat7(buf, pos, v[j])
    }
    buf[pos++] = 93 // ]
    buf[pos++] = 93
    buf[pos++] = 10 // \n
  }
  return buf.subarray(0, pos)
}

/** '-', 7 digits, '.', 'e', '-', 3 digits (String() of the fallback: "-1.234567e-300") */
const MAX_COMPONENT_BYTES = 14
const POW10 = Array.from({ length: 310 }, (_, i) => 10 ** i)

/**
 * A finite number as a JSON number with at most 7 significant digits: "0", or mantissa digits and a
 * decimal exponent ("1234567e-8", "-5e-3"). Returns the position after it.
 */
export function writeFloat7(buf: Buffer, pos: number, x: number): number {
  if (x === 0) { buf[pos] = 48; return pos + 1 }
  if (!Number.isFinite(x)) throw new TrendwireError('SINK_REJECTED', `vector component ${x} is not a finite number`)
  if (x < 0) { buf[pos++] = 45; x = -x }
  // outside the range where powers of ten stay exact enough (never for embeddings): through a string
  if (x < 1e-290 || x >= 1e290) return pos + buf.write(String(Number(x.toPrecision(7))), pos, 'latin1')
  // m = x / 10^e rounded, with 10^6 ≤ m < 10^7
  let e = Math.floor(Math.log10(x)) - 6
  let m = Math.round(e < 0 ? x * POW10[-e] : x / POW10[e])
  if (m >= 10_000_000) { m = Math.round(m / 10); e++ } else if (m < 1_000_000) { m = Math.round(e - 1 < 0 ? x * POW10[1 - e] : x / POW10[e - 1]); e-- }
  while (m % 10 === 0) { m /= 10; e++ }
  let digits = 1
  for (let t = m; t >= 10; t = Math.floor(t / 10)) digits++
  for (let k = digits - 1, t = m; k >= 0; k--, t = Math.floor(t / 10)) buf[pos + k] = 48 + (t % 10)
  pos += digits
  if (e !== 0) {
    buf[pos++] = 101 // e
    if (e < 0) { buf[pos++] = 45; e = -e }
    if (e >= 100) buf[pos++] = 48 + Math.floor(e / 100)
    if (e >= 10) buf[pos++] = 48 + (Math.floor(e / 10) % 10)
    buf[pos++] = 48 + (e % 10)
  }
  return pos
}

function toHit(r: Row): SearchHit {
  return { kind: r.kind, id: r.id, distance: Number(r.distance), platform: r.platform, language: r.language, time: Number(r.time_ms), text: r.text, model: r.model, version: Number(r.version) }
}

/** WHERE for a kind and a filter, with query parameters (never string-spliced values). */
function whereClause(kind: VectorKind, f: SearchFilter): { sql: string; params: Record<string, unknown> } {
  const parts = ['kind = {kind:String}']
  const params: Record<string, unknown> = { kind }
  const list = (v: string | readonly string[]): string[] => (typeof v === 'string' ? [v] : [...v])
  if (f.platform !== undefined) { parts.push('platform IN {platforms:Array(String)}'); params.platforms = list(f.platform) }
  if (f.language !== undefined) { parts.push('language IN {languages:Array(String)}'); params.languages = list(f.language) }
  if (f.from !== undefined) { parts.push('time >= fromUnixTimestamp64Milli({timeFrom:Int64})'); params.timeFrom = f.from }
  if (f.to !== undefined) { parts.push('time < fromUnixTimestamp64Milli({timeTo:Int64})'); params.timeTo = f.to }
  if (f.model !== undefined) { parts.push('model = {model:String}'); params.model = f.model }
  return { sql: parts.join(' AND '), params }
}
