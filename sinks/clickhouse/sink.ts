// ClickHouseSink: records → one ClickHouse table, exactly once across crashes, through @clickhouse/client
// only (a server over HTTP or chDB in process; client.ts). The reasoning, with what was tried and
// measured: docs/clickhouse.md.
//
// Rows are serialised on write() into JSONCompactEachRow lines (rows.ts) and cut into chunks of
// `chunkRows`; each closed chunk is one INSERT, sent by a single background loop in order and retried
// with backoff while ClickHouse is unavailable (insert.ts). write() returns a Promise while more than
// `highWaterMarkRows` rows wait, so the runner stops polling (backpressure) — an outage holds the
// stream instead of dropping or piling up rows.
//
// Exactly once (exactlyOnce: true, the default). Chunk boundaries depend only on what a replay
// reproduces: every `chunkRows` rows, counted from the last *durable* checkpoint — never a timer, never a
// checkpoint that may not survive. preCommit(id) inserts the closed chunks and returns the open tail
// (< chunkRows rows) as checkpoint state; commit(id), once the checkpoint is durable, queues the tail
// as the epoch's last chunk (inserted in the background while the runner goes on) and starts epoch `id`. So a crashed run and its replay cut the same chunks.
// Then, by what the table offers (sink.dedup, decided at open):
//  - 'transactional' — the table has the bookkeeping columns of schemas/clickhouse/010 (_tw_writer,
//    _tw_chunk): every row carries its lineage and chunk id. restore(state N) deletes what this lineage
//    wrote after checkpoint N (and the tail chunk N's commit may have written), re-inserts the tail,
//    and the replay writes the rest again — the file sink's truncate, in SQL. A fresh start first removes
//    what crashed lineages of this sink wrote after their last checkpoint (trendwire_sink_writers says
//    which). A retry after a lost acknowledgement first asks whether the chunk landed. Exact even when
//    ClickHouse died with the job (embedded chDB under kill -9), where tokens alone are not: a
//    non-replicated table's token log is buffered in process memory and lost with it.
//  - 'token' — no bookkeeping columns: each chunk goes in under insert_deduplication_token
//    `${sink}-${epoch}-${index}-${sha1(body)[0:16]}`, identical in the replay, and ClickHouse drops the
//    second copy (MergeTree needs non_replicated_deduplication_window > 0). Exact while the server
//    outlives the job; the hash turns an unexpected mismatch into a duplicate instead of a loss.
//  - 'replacing' / 'none' — no tokens (ClickHouse 18.16): a ReplacingMergeTree collapses replayed rows
//    at merge time (read with FINAL); a plain MergeTree may keep them.
// With exactlyOnce: false the sink flushes every flushIntervalMs and on preCommit, at-least-once.
import { createHash, randomBytes } from 'node:crypto'
import pino, { type Logger } from 'pino'
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { noMetrics } from '../../streams/metrics.ts'
import type { Batch, MetricsSink, Sink, SinkContext } from '../../streams/types.ts'
import { quoteString, type ClickHouse, type ClickHouseCapabilities } from './client.ts'
import type { DeadLetterTarget } from './dead-letters.ts'
import { clickHouseFailure } from './errors.ts'
import { callChannel, Inserter, qualifiedTable, retryOptionsSchema, type CallEvent, type WireFormat } from './insert.ts'
import { retrying } from '../retry.ts'
import type { RowFormat } from './rows.ts'
import { tsvEncoder, tsvFields } from './tsv.ts'
import { decodeRowBinary, GrowingBytes, rowBinaryEncoder, RowValueError, structureOf, type RowBinaryEncoder } from './rowbinary.ts'
import { loadMigrations } from './migrate.ts'
import { BufferPool } from '../../streams/buffer-pool.ts'

export const clickHouseSinkOptionsSchema = z.object({
  /** Target table; default: the format's table. "db.table" or a table in the connection's database. */
  table: z.string().regex(/^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$/, 'a table name, optionally db.table').optional(),
  /** Rows per INSERT. ClickHouse likes few, large inserts; ≤ max_insert_block_size keeps one insert one part. */
  chunkRows: z.number().int().min(1).max(1_048_575).default(10_000),
  /** write() returns a Promise while more rows than this wait to be inserted. Default 4 × chunkRows. */
  highWaterMarkRows: z.number().int().positive().optional(),
  /** Deterministic chunks, restore deletes or tokens (see above). false: flush on a timer, at-least-once. */
  exactlyOnce: z.boolean().default(true),
  /** At-least-once mode only: insert whatever is buffered this often (0 = only on size and preCommit). */
  flushIntervalMs: z.number().int().min(0).default(1_000),
  retry: retryOptionsSchema.prefault({}),
  /** A chunk ClickHouse refuses (bad type, bad value): to the dead-letter target and go on, or fail the job. */
  onRejected: z.enum(['dead-letter', 'fail']).default('dead-letter'),
  /** Extra settings for every insert (e.g. { async_insert: 0 }). */
  insertSettings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  /** On open, check that the table exists and has every column the format writes. */
  checkTable: z.boolean().default(true),
  /**
   * The body's format. 'auto': RowBinary (rowbinary.ts) on chDB and on servers ≥ 20.x when every
   * column's type has a binary encoding there, else JSONCompactEachRow where the server reads it, else
   * TabSeparated when every column's type has a TSV encoding (tsv.ts), else JSONEachRow.
   */
  format: z.enum(['auto', 'RowBinary', 'JSONCompactEachRow', 'JSONEachRow', 'TabSeparated']).default('auto'),
}).strict().refine((o) => o.highWaterMarkRows === undefined || o.highWaterMarkRows >= o.chunkRows, {
  message: 'must be ≥ chunkRows (a full chunk must fit under the high-water mark)', path: ['highWaterMarkRows'],
})
export type ClickHouseSinkOptions = z.input<typeof clickHouseSinkOptionsSchema>

export interface ClickHouseSinkDeps {
  /** Where refused chunks go (onRejected: 'dead-letter'). Without one, a refused chunk fails the job. */
  deadLetters?: DeadLetterTarget
  logger?: Logger
}

/** What a checkpoint holds for this sink (exactly-once mode). */
export interface ClickHouseSinkState {
  v: 1
  checkpointId: number
  /** The lineage's id (_tw_writer); 0 when the table has no bookkeeping columns. */
  writer: number
  /** Epoch (checkpoint id the chunk numbering counts from) and the open chunk's index. */
  epoch: number
  chunkIndex: number
  /** The open chunk's rows: not in ClickHouse yet, inserted by commit() or, after a crash, by restore(). */
  tail: string[]
  /**
   * The same rows as one body (newline-terminated lines), written instead of `tail` since the open chunk
   * became a Buffer: one copy into the checkpoint instead of a string per row to split and serialise.
   * preCommit returns a view of the open chunk, not a copy: it holds until the sink's next commit() or
   * restore() (after which the buffer may take other rows), and the runner saves the checkpoint —
   * writing these bytes from the view, after the v8 body (streams/checkpoint.ts) — before either.
   */
  tailBody?: Uint8Array
  tailRows?: number
  /**
   * Closed chunks not yet in ClickHouse at preCommit, oldest first: in the checkpoint instead of waited
   * for (the runner used to stand idle while the INSERTs in flight finished). restore() deletes
   * whatever of them landed and inserts them again, before the tail.
   */
  pending?: Array<{ epoch: number; index: number; rows: number; format: WireFormat; body: Uint8Array }>
  /** The tail's format (absent in checkpoints from before TabSeparated: JSON, '[' or '{' says which). */
  format?: WireFormat
}

/** How a table is protected against duplicates, as found at open(). */
export type DedupMode = 'transactional' | 'token' | 'replacing' | 'none'

/** Bookkeeping columns (schemas/clickhouse/010_sink_bookkeeping.sql) and the chunk id they hold. */
export const WRITER_COLUMN = '_tw_writer'
export const CHUNK_COLUMN = '_tw_chunk'
const CHUNK_INDEX_SPAN = 2 ** 20
/** epoch · 2^20 + index: exact in a double up to epoch 2^33 (a checkpoint a second for 272 years). */
export const chunkId = (epoch: number, index: number): number => epoch * CHUNK_INDEX_SPAN + index

/** The writers table as migration 010 defines it, in database `db` (the sink creates it when missing). */
function writersTableDdl(db: string): string {
  const create = /^CREATE TABLE IF NOT EXISTS trendwire_sink_writers\b/
  const stmt = loadMigrations().find((m) => m.version === 10)?.statements.find((st) => create.test(st))
  if (!stmt) throw new TrendwireError('CONFIG_INVALID', 'schemas/clickhouse/010_sink_bookkeeping.sql no longer creates trendwire_sink_writers')
  return stmt.replace('trendwire_sink_writers', `${db}.trendwire_sink_writers`)
}

/** Appends the bookkeeping values to a line serialised without them (array or object form). */
function withBookkeeping(line: string, writer: number, id: number, columns: readonly string[], format: WireFormat): string {
  if (format === 'TabSeparated') return `${line}\t${writer}\t${id}`
  if (line.startsWith('[')) return `${line.slice(0, -1)},${writer},${id}]`
  const o = JSON.parse(line) as Record<string, unknown>
  o[columns[columns.length - 2]] = writer
  o[columns[columns.length - 1]] = id
  return JSON.stringify(o)
}

interface Chunk {
  /** Enqueue order; chunks up to `durableSeq` are covered by a durable checkpoint. */
  seq: number
  format: WireFormat
  epoch: number
  index: number
  rows: number
  lines: string[] | null
  body: Buffer | null
  token: string | null
  /** The buffer `body` lies in (from the chunk pool): back to the pool once the chunk is done. */
  pooled?: Buffer
}

interface Waiter { resolve: () => void; reject: (e: unknown) => void }

/**
 * One pool for every ClickHouse sink in the process: a sink's open chunk, the one in flight and one
 * queued each hold a buffer, and a pool per sink would allocate that set again for every sink.
 */
const chunkBuffers = new BufferPool(8)

/**
 * The open chunk: serialised lines written straight into one growing Buffer (UTF-8, '\n' after each)
 * that becomes the INSERT body as it is. Keeping a string per row until the chunk closed, then
 * join + Buffer.from, kept every line alive long enough to be promoted to the old generation: the
 * engine's main thread paid for it in GC (benchmarks/clickhouse/README.md, section 3).
 */
class OpenChunk extends GrowingBytes {
  rows = 0
  // Growing gives the outgrown buffer back to the pool: nothing else reads it, since preCommit's view
  // of the open chunk is encoded into the checkpoint before the runner writes again.
  constructor(pool: BufferPool, capacity: number) {
    super(pool, capacity)
  }

  /** A text row and its newline. */
  push(line: string): void {
    // line.length UTF-16 units are at most 3 UTF-8 bytes each.
    this.reserve(line.length * 3 + 1)
    this.len += this.buf.write(line, this.len, 'utf8')
    this.buf[this.len++] = 10
    this.rows++
  }

  /** The body (newline-terminated in the text formats). */
  body(): Buffer {
    return this.bytes()
  }
}

export class ClickHouseSink<T> implements Sink<T> {
  readonly opts: z.output<typeof clickHouseSinkOptionsSchema>
  readonly table: string
  private readonly hwm: number
  private readonly log: Logger
  private readonly inserter: Inserter
  private readonly deadLetters: DeadLetterTarget | undefined
  private metrics: MetricsSink = noMetrics
  private readonly labels: { sink: string }
  private readonly q: { database: string; table: string; sql: string }

  private epoch = 0
  private chunkIndex = 0
  /** Buffers of chunks that are in ClickHouse, for the next open chunks of every sink (streams/buffer-pool.ts). */
  private readonly pool = chunkBuffers
  private openChunk = new OpenChunk(this.pool, 64 * 1024)
  private readonly queue: Chunk[] = []
  private queuedRows = 0
  private draining: Promise<void> | null = null
  private waiters: Waiter[] = []
  private failure: TrendwireError | null = null
  private preCommitted: { id: number; tailLen: number } | null = null
  private seq = 0
  /** The last chunk a durable checkpoint covers (its tail, closed by commit()); later ones are replayed after a crash. */
  private durableSeq = -1
  /** close() is waiting for the covered chunks only: the drain loop stops before the first uncovered one. */
  private closing = false
  private abort = new AbortController()
  private timer: NodeJS.Timeout | null = null
  private caps: ClickHouseCapabilities | null = null
  private settings: Record<string, string | number | boolean>
  private columns: readonly string[]
  /** The columns' types (DESCRIBE TABLE at open), where known: RowBinary needs them. */
  private types: readonly string[] | null = null
  /** Writes one record into the open chunk, in the wire format (set by open()). */
  private append: (open: OpenChunk, value: T, time: number) => void
  /** Rows the RowBinary encoder refused, on their way to the dead letters. */
  private refusing: Promise<void> = Promise.resolve()
  /** The format new rows are serialised in (set by open()). */
  private wire: WireFormat = 'JSONCompactEachRow'

  // transactional mode
  private txn = false
  /** This lineage's id: random for a fresh start, the checkpoint's after a restore. */
  private writer = 1 + (randomBytes(4).readUInt32BE(0) % 0xfffffffe)
  /** Distinguishes this process's tokens from a crashed predecessor's (whose rows restore deleted). */
  private readonly incarnation = randomBytes(4).toString('hex')
  private begun = false
  private insertedSinceCommit = false
  /** Chunks whose bodies the last preCommit's state views, and buffers of such chunks already inserted. */
  private readonly pinned = new Set<Chunk>()
  private readonly afterSave: Buffer[] = []
  /** rowsWritten when the last 'committed' record was written. */
  private rowsAtRecord = 0
  private seqN = 0

  /** Set by open(). */
  dedup: DedupMode = 'none'

  /** Counters, for tests and the benchmark. */
  readonly stats = { rowsWritten: 0, rowsInserted: 0, chunksInserted: 0, rowsRejected: 0, chunksRejected: 0, restoreDeletes: 0, orphansAborted: 0, landedBeforeAck: 0 }

  constructor(readonly name: string, private readonly ch: ClickHouse, private readonly format: RowFormat<T>, options: ClickHouseSinkOptions = {}, deps: ClickHouseSinkDeps = {}) {
    this.opts = parseOptions(`clickhouse sink "${name}"`, clickHouseSinkOptionsSchema, options)
    this.table = this.opts.table ?? format.table
    this.q = qualifiedTable(ch, this.table)
    this.hwm = this.opts.highWaterMarkRows ?? 4 * this.opts.chunkRows
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
    this.deadLetters = deps.deadLetters
    this.labels = { sink: name }
    this.columns = format.columns
    this.inserter = new Inserter(ch, this.table, format.columns, this.opts.retry, { sink: name, log: this.log, metrics: () => this.metrics })
    // Rejected rows must not vanish silently: unknown JSON keys are an error, not skipped.
    this.settings = { input_format_skip_unknown_fields: 0, ...this.opts.insertSettings }
    this.append = this.appender('JSONCompactEachRow', null, null)
  }

  /** The format rows are sent in (decided by open(); see the `format` option). */
  get wireFormat(): WireFormat {
    return this.wire
  }

  /** Rows accepted by write() and not yet acknowledged by ClickHouse. */
  get bufferedRows(): number {
    return this.queuedRows + this.openChunk.rows
  }

  async open(ctx?: SinkContext): Promise<void> {
    if (ctx) this.metrics = ctx.metrics
    const caps = await this.withRetry('read server capabilities', () => this.ch.capabilities())
    this.caps = caps
    let bookkeeping = false
    let types: Map<string, string> | null = null
    if (this.opts.checkTable) ({ bookkeeping, types } = await this.checkTable(caps))
    this.txn = this.opts.exactlyOnce && bookkeeping
    if (this.txn) {
      this.dedup = 'transactional'
      this.columns = [...this.format.columns, WRITER_COLUMN, CHUNK_COLUMN]
      this.inserter.setColumns(this.columns)
      await this.withRetry('create trendwire_sink_writers', () => this.ch.client.command({ query: writersTableDdl(this.q.sql.slice(0, this.q.sql.indexOf('.'))) }))
    }
    // The wire format: see the `format` option.
    const want = this.opts.format
    if (types || want === 'RowBinary' || (want === 'auto' && caps.rowBinary)) {
      types ??= await this.columnTypes()
      this.types = this.columns.map((c) => types!.get(c) ?? '')
      // also for chunks of a checkpoint written in RowBinary, whatever this run writes
      this.inserter.setStructure(structureOf(this.columns, this.types))
    }
    let bin: RowBinaryEncoder | null = null
    if (want === 'RowBinary' || (want === 'auto' && caps.rowBinary)) {
      bin = rowBinaryEncoder(this.columns, this.types!)
      if (!bin && want === 'RowBinary') {
        throw new TrendwireError('SINK_REJECTED', `clickhouse sink "${this.name}": a column of ${this.table} has a type without a RowBinary encoding here (${this.columns.map((c, i) => `${c} ${this.types![i]}`).join(', ')})`, { details: { table: this.table } })
      }
    }
    let tsv: ReturnType<typeof tsvEncoder> = null
    if (!bin && (want === 'TabSeparated' || (want === 'auto' && !caps.compactJson))) {
      types ??= await this.columnTypes()
      tsv = tsvEncoder(this.columns.map((c) => types!.get(c) ?? ''))
      if (!tsv && want === 'TabSeparated') {
        throw new TrendwireError('SINK_REJECTED', `clickhouse sink "${this.name}": a column of ${this.table} has a type without a TabSeparated encoding (${this.columns.map((c) => `${c} ${types!.get(c)}`).join(', ')})`, { details: { table: this.table } })
      }
    }
    this.wire = bin ? 'RowBinary' : tsv ? 'TabSeparated' : want === 'JSONEachRow' || (want === 'auto' && !caps.compactJson) ? 'JSONEachRow' : 'JSONCompactEachRow'
    this.append = this.appender(this.wire, tsv, bin)
    if (this.opts.exactlyOnce && this.dedup !== 'transactional' && this.dedup !== 'token') {
      this.log.warn({ sink: this.name, table: this.table, dedup: this.dedup },
        this.dedup === 'replacing'
          ? 'neither bookkeeping columns nor insert tokens for this table: replays after a crash may leave duplicate rows until merged; query with FINAL'
          : 'no deduplication for this table: replays after a crash may duplicate rows')
    }
    if (!this.opts.exactlyOnce && this.opts.flushIntervalMs > 0) {
      this.timer = setInterval(() => { this.closeOpen(); this.kick() }, this.opts.flushIntervalMs)
      this.timer.unref()
    }
  }

  /** Column name → type, from DESCRIBE TABLE. */
  private async columnTypes(): Promise<Map<string, string>> {
    const cols = await this.withRetry('describe table', async () => {
      const r = await this.ch.client.query({ query: `DESCRIBE TABLE ${this.q.sql}`, format: 'JSONEachRow' })
      return r.json<{ name: string; type: string }>()
    })
    return new Map(cols.map((c) => [c.name, c.type]))
  }

  /** Checks the table; says whether it has the bookkeeping columns, and the column types. Sets `dedup` for the other modes. */
  private async checkTable(caps: ClickHouseCapabilities): Promise<{ bookkeeping: boolean; types: Map<string, string> }> {
    const q = this.q
    const rs = await this.withRetry('describe table', async () => {
      const r = await this.ch.client.query({
        query: `SELECT engine, engine_full FROM system.tables WHERE database = ${quoteString(q.database)} AND name = ${quoteString(q.table)}`,
        format: 'JSONEachRow',
      })
      return r.json<{ engine: string; engine_full: string }>()
    })
    if (rs.length === 0) {
      throw new TrendwireError('SINK_REJECTED', `clickhouse sink "${this.name}": table ${q.database}.${q.table} does not exist at ${this.ch.target} (run \`trendwire migrate\`)`, { details: { table: this.table } })
    }
    const types = await this.columnTypes()
    const have = new Set(types.keys())
    const missing = this.format.columns.filter((c) => !have.has(c))
    if (missing.length > 0) {
      throw new TrendwireError('SINK_REJECTED', `clickhouse sink "${this.name}": table ${q.database}.${q.table} has no column(s) ${missing.join(', ')} (schema out of date? run \`trendwire migrate\`)`, { details: { table: this.table, missing } })
    }
    const { engine, engine_full: full } = rs[0]
    const tokenDedup = caps.dedupToken && (engine.startsWith('Replicated') || /non_replicated_deduplication_window\s*=\s*[1-9]/.test(full))
    this.dedup = tokenDedup ? 'token' : engine.includes('Replacing') ? 'replacing' : 'none'
    return { bookkeeping: have.has(WRITER_COLUMN) && have.has(CHUNK_COLUMN), types }
  }

  /**
   * Writes a record into the open chunk: RowBinary straight into its buffer, else one line per row. In
   * transactional mode the lineage and the open chunk's id are appended.
   */
  private appender(format: WireFormat, tsv: ReturnType<typeof tsvEncoder>, bin: RowBinaryEncoder | null): (open: OpenChunk, value: T, time: number) => void {
    if (format === 'RowBinary') {
      const enc = bin!
      const row = this.format.row
      const bookkeeping = this.txn
      return (open, v, t) => {
        const a = row(v, t)
        if (bookkeeping) a.push(this.writer, chunkId(this.epoch, this.chunkIndex))
        const start = open.len
        try {
          enc(a, open)
        } catch (err) {
          open.len = start
          if (!(err instanceof RowValueError)) throw err
          this.refuseRow(a, open.rows, err)
          return
        }
        open.rows++
      }
    }
    const line = this.serializer(format, tsv)
    return (open, v, t) => open.push(line(v, t))
  }

  /**
   * A row the RowBinary encoder refused (a value that does not fit its column): to the dead letters
   * alone, the way ClickHouse's refusal of a JSON chunk sends its rows there (onRejected), and the
   * batch goes on. preCommit, flush and close wait until it is there.
   */
  private refuseRow(values: unknown[], position: number, err: RowValueError): void {
    const error = new TrendwireError('SINK_REJECTED', `clickhouse sink "${this.name}": a row does not fit ${this.table}: ${err.message}`, { details: { table: this.table, column: err.column } })
    this.stats.rowsRejected++
    this.metrics.inc('clickhouse_rows_rejected_total', 1, this.labels)
    if (this.opts.onRejected === 'fail' || !this.deadLetters) {
      this.failure ??= error
      throw error
    }
    const line = JSON.stringify(values, (_k, x: unknown) => (ArrayBuffer.isView(x) ? Array.from(x as unknown as ArrayLike<number>) : typeof x === 'bigint' ? x.toString() : x))
    const token = `${this.name}-w${this.writer}-${this.epoch}-${this.chunkIndex}-row${position}`
    this.log.error({ sink: this.name, table: this.table, column: err.column, err: err.message }, 'a row does not fit the table: sent to dead letters')
    const dl = this.deadLetters
    this.refusing = this.refusing.then(() => dl.rejected({ sink: this.name, table: this.inserter.table, token, lines: [line], columns: this.columns, error }, this.abort.signal))
      .catch((e: unknown) => { this.failure ??= e instanceof TrendwireError ? e : clickHouseFailure(e, `clickhouse sink "${this.name}": dead letters`) })
  }

  /** One line per row; in transactional mode the lineage and the open chunk's id are appended. */
  private serializer(format: WireFormat, tsv: ReturnType<typeof tsvEncoder>): (value: T, time: number) => string {
    const row = this.format.row
    const cols = this.columns
    const bookkeeping = this.txn
    if (format === 'TabSeparated') {
      const enc = tsv!
      return bookkeeping
        ? (v, t) => { const a = row(v, t); a.push(this.writer, chunkId(this.epoch, this.chunkIndex)); return enc(a) }
        : (v, t) => enc(row(v, t))
    }
    if (format === 'JSONCompactEachRow') {
      return bookkeeping
        ? (v, t) => { const a = row(v, t); a.push(this.writer, chunkId(this.epoch, this.chunkIndex)); return JSON.stringify(a) }
        : (v, t) => JSON.stringify(row(v, t))
    }
    return (v, t) => {
      const a = row(v, t)
      if (bookkeeping) a.push(this.writer, chunkId(this.epoch, this.chunkIndex))
      const o: Record<string, unknown> = {}
      for (let i = 0; i < cols.length; i++) o[cols[i]] = a[i]
      return JSON.stringify(o)
    }
  }

  write(batch: Batch<T>, ctx?: SinkContext): void | Promise<void> {
    if (this.failure) throw this.failure
    if (ctx && this.metrics === noMetrics) this.metrics = ctx.metrics
    const { values, times } = batch
    const append = this.append
    const chunkRows = this.opts.chunkRows
    let open = this.openChunk
    for (let i = 0; i < values.length; i++) {
      append(open, values[i], times[i])
      if (open.rows >= chunkRows) {
        this.closeOpen()
        open = this.openChunk
      }
    }
    this.stats.rowsWritten += values.length
    if (this.queue.length > 0) this.kick()
    if (this.bufferedRows > this.hwm) {
      this.metrics.inc('clickhouse_backpressure_total', 1, this.labels)
      return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }))
    }
  }

  async preCommit(checkpointId: number): Promise<unknown> {
    await this.refusing
    if (this.failure) throw this.failure
    if (!this.opts.exactlyOnce) {
      this.closeOpen()
      await this.flushQueue()
      return { v: 1, checkpointId, atLeastOnce: true }
    }
    this.unpin()
    // Chunks not in ClickHouse yet go into the checkpoint as they are (views of their buffers, which stay
    // pinned until the checkpoint is saved): the INSERTs go on in the background.
    const pending: NonNullable<ClickHouseSinkState['pending']> = []
    for (const c of this.queue) {
      if (!c.body) {
        c.body = Buffer.from(c.lines!.join('\n') + '\n')
        c.lines = null
      }
      this.pinned.add(c)
      pending.push({ epoch: c.epoch, index: c.index, rows: c.rows, format: c.format, body: c.body })
    }
    this.preCommitted = { id: checkpointId, tailLen: this.openChunk.rows }
    const open = this.openChunk
    const state: ClickHouseSinkState = {
      v: 1, checkpointId, writer: this.txn ? this.writer : 0, epoch: this.epoch, chunkIndex: this.chunkIndex,
      tail: [], tailBody: open.body(), tailRows: open.rows, format: this.wire, pending,
    }
    return state
  }

  async commit(checkpointId: number): Promise<void> {
    if (!this.opts.exactlyOnce) return
    this.unpin()
    const pc = this.preCommitted
    this.preCommitted = null
    if (!pc || pc.id !== checkpointId) return
    // Recorded before the tail goes in: a fresh start never deletes chunks a durable checkpoint covers.
    // Not when no row came since the last record: this checkpoint then covers no chunk the last one
    // did not, and a fresh start deletes nothing more for the older id (it deletes only chunks of
    // epochs from that id on, and there are none until rows come). Dead-letter and late-record sinks,
    // which mostly see nothing, made most of these INSERTs: one per sink per checkpoint.
    if (this.txn && this.stats.rowsWritten !== this.rowsAtRecord) {
      if (!this.begun) await this.begin()
      const rows = this.stats.rowsWritten
      await this.record('committed', checkpointId)
      this.rowsAtRecord = rows
    }
    // The checkpoint holding the tail is durable: the tail becomes the epoch's last chunk. (The runner
    // writes nothing between preCommit and commit; were it to, those rows would join the tail, which is
    // still exact: restore deletes this chunk and re-inserts the checkpoint's tail alone.)
    this.closeOpen()
    this.durableSeq = this.seq - 1
    this.epoch = checkpointId
    this.chunkIndex = 0
    this.insertedSinceCommit = false
    // Not awaited: the runner goes on while the tail is inserted (it used to wait here for the whole
    // INSERT, the engine idle). Nothing is lost by returning early — the tail is in the durable
    // checkpoint and restore(state) inserts it again after a crash (deleting whatever part of it landed);
    // the next preCommit waits for it like for any closed chunk, and close() waits for it too.
    this.kick()
  }

  async restore(state: unknown): Promise<void> {
    this.unpin()
    this.openChunk = new OpenChunk(this.pool, 64 * 1024)
    this.queue.length = 0
    this.queuedRows = 0
    this.failure = null
    this.preCommitted = null
    this.closing = false
    const s = state as Partial<ClickHouseSinkState> | undefined
    if (!this.opts.exactlyOnce || !s || s.v !== 1 || typeof s.checkpointId !== 'number') return
    const n = s.checkpointId
    let tail = s.tail ?? []
    const tailEpoch = s.epoch ?? 0
    const tailIndex = s.chunkIndex ?? 0
    const pending = s.pending ?? []
    if (this.txn && s.writer) {
      this.writer = s.writer
      await this.abortOrphans(this.writer)
      // Whatever this lineage wrote from the oldest chunk checkpoint n holds on — its pending chunks,
      // the tail chunk commit(n) may have inserted, chunks of epochs ≥ n — goes (chunk ids grow in the
      // order chunks are queued, and every chunk from the first pending one to the tail is in the
      // checkpoint); those go back in below and the replay writes the rest.
      const first = pending.length > 0 ? chunkId(pending[0].epoch, pending[0].index) : chunkId(tailEpoch, tailIndex)
      await this.deleteRows(`${WRITER_COLUMN} = ${this.writer} AND ${CHUNK_COLUMN} >= ${first}`)
      this.begun = true
      await this.record('committed', n)
    }
    const tailFormat: WireFormat = s.format ?? (tail[0]?.startsWith('{') ? 'JSONEachRow' : 'JSONCompactEachRow')
    // A checkpoint from before the table had bookkeeping columns: its tail lines lack them.
    if (this.txn && !s.writer) tail = tail.map((l) => withBookkeeping(l, this.writer, chunkId(tailEpoch, tailIndex), this.columns, tailFormat))
    // RowBinary chunks need the columns' types (open() reads them unless checkTable is off and the
    // format is a text one this run).
    if (!this.types && (tailFormat === 'RowBinary' || pending.some((p) => p.format === 'RowBinary'))) {
      const types = await this.columnTypes()
      this.types = this.columns.map((c) => types.get(c) ?? '')
      this.inserter.setStructure(structureOf(this.columns, this.types))
    }
    // The chunks that were on their way, then what commit() did for this checkpoint.
    for (const p of pending) {
      this.enqueue({ seq: 0, format: p.format, epoch: p.epoch, index: p.index, rows: p.rows, lines: null, body: Buffer.from(p.body.buffer, p.body.byteOffset, p.body.byteLength), token: null })
    }
    const body = s.tailBody && s.tailRows ? Buffer.from(s.tailBody.buffer, s.tailBody.byteOffset, s.tailBody.byteLength) : null
    const tailRows = body ? s.tailRows! : tail.length
    if (body) this.enqueue({ seq: 0, format: tailFormat, epoch: tailEpoch, index: tailIndex, rows: tailRows, lines: null, body, token: null })
    else if (tail.length > 0) this.enqueue({ seq: 0, format: tailFormat, epoch: tailEpoch, index: tailIndex, rows: tail.length, lines: tail, body: null, token: null })
    this.durableSeq = this.seq - 1
    this.epoch = n
    this.chunkIndex = 0
    await this.flushQueue()
    this.insertedSinceCommit = false
    this.log.debug({ sink: this.name, checkpoint: n, tail: tailRows, pending: pending.length, writer: this.writer }, 'clickhouse sink restored')
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    const failedBefore = this.failure
    let abandoned = false
    if (!this.opts.exactlyOnce && !this.failure) {
      this.closeOpen()
      await this.flushQueue()
    } else {
      // Chunks a durable checkpoint covers (the last commit's tail) go in before closing, as commit()
      // used to insert them before returning; an insert in flight past them is abandoned.
      this.closing = true
      if (this.draining && this.queue.length > 0 && this.queue[0].seq > this.durableSeq) {
        abandoned = true
        this.abort.abort()
      } else if (!this.failure) {
        this.kick()
        while (this.draining) await this.draining
      }
      const uncovered = this.openChunk.rows + this.queue.reduce((n, c) => n + (c.seq > this.durableSeq ? c.rows : 0), 0)
      // Not covered by a durable checkpoint: the replay from the last checkpoint produces them again.
      if (uncovered > 0) this.log.info({ sink: this.name, rows: uncovered }, 'clickhouse sink closing with rows after the last checkpoint; they are replayed from it on restart')
    }
    await this.refusing
    this.abort.abort()
    if (this.draining) await this.draining
    this.abort = new AbortController()
    this.closing = false
    // Nothing of ours after the last durable checkpoint is in the table: a later fresh start need not look.
    if (this.txn && this.begun && !this.failure && !this.insertedSinceCommit) {
      await this.record('closed', this.epoch).catch((err) => this.log.warn({ sink: this.name, err: (err as Error).message }, 'could not record a clean close'))
    }
    // The last commit's tail was refused (onRejected: 'fail', or no dead-letter target) while closing:
    // nobody else will hear of it. (Not the abort of an insert past the last checkpoint: that is ours.)
    if (this.failure && this.failure !== failedBefore && !abandoned) throw this.failure
  }

  /**
   * Waits until every closed chunk is in ClickHouse (or refused) and throws the sink's failure if it
   * has one. The open chunk stays open (the checkpoints decide when it closes). preCommit() does not
   * wait for INSERTs; this does, for callers that need the rows queryable now.
   */
  flush(): Promise<void> {
    return this.flushQueue()
  }

  /** Waits until every closed chunk is in ClickHouse (or refused); throws the sink's failure. */
  private async flushQueue(): Promise<void> {
    await this.refusing
    this.kick()
    while (this.draining) await this.draining
    if (this.failure) throw this.failure
  }

  /** The open rows become the next chunk of the current epoch. */
  private closeOpen(): void {
    const open = this.openChunk
    if (open.rows === 0) return
    // The next chunk starts at about this one's size: few regrowths, little slack.
    this.openChunk = new OpenChunk(this.pool, Math.ceil(open.len * 1.1))
    this.enqueue({ seq: 0, format: this.wire, epoch: this.epoch, index: this.chunkIndex++, rows: open.rows, lines: null, body: open.body(), token: null, pooled: open.buf })
  }

  /** Chunk c is in ClickHouse (or refused and dead-lettered): its buffer may take the next rows. */
  private recycle(c: Chunk): void {
    const b = c.pooled
    c.pooled = undefined
    c.body = null
    if (!b) return
    // In a checkpoint being saved: the buffer waits until the file is written.
    if (this.pinned.delete(c)) this.afterSave.push(b)
    else this.pool.give(b)
  }

  /** The last preCommit's checkpoint is saved (or abandoned): its chunks' buffers are free. */
  private unpin(): void {
    this.pinned.clear()
    for (const b of this.afterSave) this.pool.give(b)
    this.afterSave.length = 0
  }

  private enqueue(c: Chunk): void {
    c.seq = this.seq++
    this.queue.push(c)
    this.queuedRows += c.rows
  }

  private kick(): void {
    if (this.draining || this.failure || this.queue.length === 0) return
    this.draining = this.drain()
  }

  private async drain(): Promise<void> {
    try {
      if (this.txn && !this.begun) await this.begin()
      while (this.queue.length > 0 && !this.failure) {
        const c = this.queue[0]
        if (this.closing && c.seq > this.durableSeq) break
        await this.insertChunk(c)
        this.queue.shift()
        this.queuedRows -= c.rows
        this.metrics.set('clickhouse_buffered_rows', this.bufferedRows, this.labels)
        if (this.waiters.length > 0 && this.bufferedRows <= this.hwm) {
          const w = this.waiters
          this.waiters = []
          for (const x of w) x.resolve()
        }
      }
    } catch (err) {
      this.failure = err instanceof TrendwireError ? err : clickHouseFailure(err, `clickhouse sink "${this.name}"`)
      const w = this.waiters
      this.waiters = []
      for (const x of w) x.reject(this.failure)
    } finally {
      this.draining = null
    }
  }

  private tokenFor(c: Chunk): string {
    if (!this.opts.exactlyOnce) return ''
    // Transactional: unique per process, so a chunk re-inserted after restore deleted it is never
    // dropped as "already seen"; it still deduplicates this process's own retries.
    if (this.txn) return `${this.name}-w${this.writer}-i${this.incarnation}-${c.epoch}-${c.index}`
    return `${this.name}-${c.epoch}-${c.index}-${createHash('sha1').update(c.body!).digest('hex').slice(0, 16)}`
  }

  private async insertChunk(c: Chunk): Promise<void> {
    if (!c.body) {
      c.body = Buffer.from(c.lines!.join('\n') + '\n')
      c.lines = null
    }
    c.token ??= this.tokenFor(c)
    const settings = this.caps?.dedupToken ? { ...this.settings, insert_deduplication_token: c.token } : this.settings
    // Transactional: after a failure whose outcome is unknown, ask before resending (a server killed
    // after writing the part loses the token log with it).
    const landed = this.txn ? () => this.chunkLanded(c) : undefined
    if (c.seq > this.durableSeq) this.insertedSinceCommit = true
    try {
      await this.inserter.insert(c.format, c.body, c.rows, settings, c.token || undefined, this.abort.signal, landed)
    } catch (err) {
      const e = err as TrendwireError
      if (e.code !== 'SINK_REJECTED') throw err
      await this.rejectChunk(c, e)
      this.recycle(c)
      return
    }
    this.recycle(c)
    this.stats.rowsInserted += c.rows
    this.stats.chunksInserted++
    this.metrics.inc('clickhouse_rows_inserted_total', c.rows, this.labels)
  }

  /** Whether chunk c is in the table: all of it ('in'), none ('absent'); a part of it (one partition's part of a multi-partition insert) is deleted and reported absent. */
  private async chunkLanded(c: Chunk): Promise<'in' | 'absent'> {
    const id = chunkId(c.epoch, c.index)
    const r = await this.ch.client.query({ query: `SELECT count() AS n FROM ${this.q.sql} WHERE ${WRITER_COLUMN} = ${this.writer} AND ${CHUNK_COLUMN} = ${id}`, format: 'JSONEachRow' })
    const n = Number((await r.json<{ n: string | number }>())[0].n)
    if (n === c.rows) {
      this.stats.landedBeforeAck++
      return 'in'
    }
    if (n > 0) await this.deleteRows(`${WRITER_COLUMN} = ${this.writer} AND ${CHUNK_COLUMN} = ${id}`)
    return 'absent'
  }

  /** A fresh lineage: clean up after crashed ones of this sink, then register. */
  private async begin(): Promise<void> {
    await this.abortOrphans(this.writer)
    await this.record('open', 0)
    this.begun = true
  }

  /**
   * Earlier lineages of this sink that neither stopped cleanly nor were cleaned up: their rows after
   * their last durable checkpoint were never committed (a crash, maybe before any checkpoint) — delete
   * them. Assumes one running job per (table, sink name).
   */
  private async abortOrphans(except: number): Promise<void> {
    const rs = await this.withRetry('read trendwire_sink_writers', async () => {
      const r = await this.ch.client.query({
        query: `SELECT writer, argMax(state, seq) AS last_state, maxIf(checkpoint_id, state = 'committed') AS last_checkpoint
          FROM ${this.writersTable()} WHERE table_name = ${quoteString(this.table)} AND sink = ${quoteString(this.name)} AND writer != ${except}
          GROUP BY writer HAVING last_state NOT IN ('closed', 'aborted')`,
        format: 'JSONEachRow',
      })
      return r.json<{ writer: number | string; last_checkpoint: number | string }>()
    })
    for (const o of rs) {
      const w = Number(o.writer)
      await this.deleteRows(`${WRITER_COLUMN} = ${w} AND ${CHUNK_COLUMN} >= ${chunkId(Number(o.last_checkpoint), 0)}`)
      await this.record('aborted', Number(o.last_checkpoint), w)
      this.stats.orphansAborted++
      this.log.info({ sink: this.name, table: this.table, writer: w, lastCheckpoint: Number(o.last_checkpoint) }, 'removed what a crashed run of this sink wrote after its last checkpoint')
    }
  }

  private writersTable(): string {
    return `${this.q.sql.slice(0, this.q.sql.indexOf('.'))}.trendwire_sink_writers`
  }

  private async record(state: 'open' | 'committed' | 'closed' | 'aborted', checkpointId: number, writer = this.writer): Promise<void> {
    const seq = Date.now() * 1000 + (this.seqN++ % 1000)
    await this.withRetry(`record ${state}`, () => this.ch.client.command({
      query: `INSERT INTO ${this.writersTable()} (table_name, sink, writer, state, checkpoint_id, seq) VALUES (${quoteString(this.table)}, ${quoteString(this.name)}, ${writer}, ${quoteString(state)}, ${checkpointId}, ${seq})`,
    }))
  }

  /** Deletes rows, synchronously: lightweight DELETE where the server has it, else a mutation awaited. */
  private async deleteRows(where: string): Promise<void> {
    this.stats.restoreDeletes++
    if (this.caps?.lightweightDelete) {
      await this.withRetry('delete rows', () => this.ch.client.command({ query: `DELETE FROM ${this.q.sql} WHERE ${where}` }))
      return
    }
    await this.withRetry('delete rows', () => this.ch.client.command({ query: `ALTER TABLE ${this.q.sql} DELETE WHERE ${where}` }))
    // Mutations run in the background: wait until this table has none left (bounded by the retry policy).
    for (let i = 0; ; i++) {
      const r = await this.withRetry('wait for delete', async () => (await this.ch.client.query({
        query: `SELECT count() AS n FROM system.mutations WHERE database = ${quoteString(this.q.database)} AND table = ${quoteString(this.q.table)} AND is_done = 0`,
        format: 'JSONEachRow',
      })).json<{ n: string | number }>())
      if (Number(r[0].n) === 0) return
      if (i >= 600) throw new TrendwireError('SINK_UNAVAILABLE', `clickhouse sink "${this.name}": delete on ${this.table} not finished after 60 s`)
      await new Promise((res) => setTimeout(res, 100))
    }
  }

  private async rejectChunk(c: Chunk, error: TrendwireError): Promise<void> {
    this.stats.rowsRejected += c.rows
    this.stats.chunksRejected++
    this.metrics.inc('clickhouse_rows_rejected_total', c.rows, this.labels)
    if (this.opts.onRejected === 'fail' || !this.deadLetters) {
      this.log.error({ sink: this.name, table: this.table, rows: c.rows, err: error.message }, 'clickhouse refused a chunk: failing')
      throw error
    }
    this.log.error({ sink: this.name, table: this.table, rows: c.rows, token: c.token, err: error.message }, 'clickhouse refused a chunk: rows sent to dead letters')
    let lines: string[]
    if (c.format === 'RowBinary') {
      lines = this.rowBinaryLines(c.body!)
    } else {
      const text = c.body!.toString('utf8')
      lines = text.slice(0, text.length - 1).split('\n')
    }
    // TSV lines become JSON objects of the fields' text (dead letters are read as JSON).
    if (c.format === 'TabSeparated') lines = lines.map((l) => { const f = tsvFields(l); return JSON.stringify(Object.fromEntries(this.columns.map((col, i) => [col, f[i]]))) })
    // Named by the chunk, not the process: a replay refused again does not dead-letter twice.
    const id = this.txn ? `${this.name}-w${this.writer}-${c.epoch}-${c.index}` : c.token!
    await this.deadLetters.rejected({ sink: this.name, table: this.inserter.table, token: id, lines, columns: this.columns, error }, this.abort.signal)
  }

  /** A RowBinary chunk's rows as JSON arrays (one dead letter each); the body as base64 if it cannot be read. */
  private rowBinaryLines(body: Buffer): string[] {
    try {
      const rows = this.types ? decodeRowBinary(this.types, body) : null
      if (rows) return rows.map((r) => JSON.stringify(r))
    } catch {}
    return [JSON.stringify({ rowbinary_base64: body.toString('base64') })]
  }

  /** Metadata calls: same retry policy as inserts. */
  private withRetry<R>(what: string, fn: () => Promise<R>): Promise<R> {
    const fail = (err: unknown) => clickHouseFailure(err, `clickhouse sink "${this.name}": ${what} at ${this.ch.target}`)
    return retrying(fn, {
      policy: this.opts.retry,
      signal: this.abort.signal,
      aborted: fail,
      fatal: (err) => { const e = fail(err); return e.retryable ? undefined : e },
      exhausted: fail,
      onRetry: (err, attempt) => {
        const e = fail(err)
        this.metrics.inc('clickhouse_call_retries_total', 1, this.labels)
        if (callChannel.hasSubscribers) callChannel.publish({ sink: this.name, what, attempt, error: e } satisfies CallEvent)
        this.log.warn({ sink: this.name, attempt, err: e.message }, 'clickhouse unavailable, retrying')
      },
    })
  }

}
