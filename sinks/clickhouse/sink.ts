// ClickHouseSink: records → one ClickHouse table, exactly once across crashes, through @clickhouse/client
// only (a server over HTTP or chDB in process; client.ts). Design notes and the reasoning behind the
// token scheme: docs/clickhouse.md.
//
// Rows are serialised on write() into JSONCompactEachRow lines (rows.ts) and cut into chunks of `chunkRows`; each
// closed chunk is one INSERT (one part), sent by a single background loop in order, retried with
// backoff while ClickHouse is unavailable (insert.ts). write() returns a Promise while more than
// `highWaterMarkRows` rows wait, so the runner stops polling (backpressure) — a ClickHouse outage holds
// the stream instead of dropping or piling up rows.
//
// Exactly once (exactlyOnce: true, the default) rests on one property: a chunk's rows and its
// deduplication token are the same in a run and in any replay of it. Chunk boundaries are therefore
// only ever (a) every `chunkRows` rows, counted from (b) the position of the last *durable*
// checkpoint — never a timer, never a checkpoint that may not survive:
//   - preCommit(id) inserts every closed chunk and returns the open tail (< chunkRows rows) as state,
//     so the tail is durable inside the checkpoint itself;
//   - commit(id) — the checkpoint is durable — closes the tail as the last chunk of the epoch, inserts
//     it, and starts epoch `id`;
//   - restore(state) does exactly what commit did for that checkpoint: re-inserts its tail (dropped by
//     ClickHouse if the crashed run had inserted it) and starts the epoch.
// A replay from checkpoint N thus rebuilds the crashed run's chunks byte for byte, and each is
// inserted under the same token `${sink}-${epoch}-${chunkIndex}-${sha1(body)[0:16]}`:
// ClickHouse drops a block whose token it has seen (insert_deduplication_token; MergeTree tables need
// `non_replicated_deduplication_window` > 0). The content hash suffix costs nothing when replays are
// deterministic and turns a non-deterministic replay (or a reused checkpoint id) into duplicates a
// ReplacingMergeTree collapses, instead of silently dropped rows.
// Where tokens are not available (ClickHouse 18.16 has no insert_deduplication_token) exactness rests
// on ReplacingMergeTree keys instead: replayed rows are physical duplicates until a merge and are
// invisible to FINAL queries. The sink reports which guarantee a table gets (dedup: 'token' | …).
//
// The time bound on visibility is the runner's checkpoint interval: rows reach ClickHouse when their
// chunk fills or at the next checkpoint. With exactlyOnce: false the sink instead flushes every
// flushIntervalMs and on preCommit, without tokens (at-least-once).
import { createHash } from 'node:crypto'
import pino, { type Logger } from 'pino'
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { noMetrics } from '../../streams/metrics.ts'
import type { Batch, MetricsSink, Sink, SinkContext } from '../../streams/types.ts'
import { quoteString, type ClickHouse } from './client.ts'
import type { DeadLetterTarget } from './dead-letters.ts'
import { clickHouseFailure } from './errors.ts'
import { Inserter, qualifiedTable, retryOptionsSchema } from './insert.ts'
import { lineSerializer, type RowFormat } from './rows.ts'

export const clickHouseSinkOptionsSchema = z.object({
  /** Target table; default: the format's table. "db.table" or a table in the connection's database. */
  table: z.string().regex(/^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$/, 'a table name, optionally db.table').optional(),
  /** Rows per INSERT. ClickHouse likes few, large inserts; ≤ max_insert_block_size keeps one insert one part. */
  chunkRows: z.number().int().min(1).max(1_048_576).default(10_000),
  /** write() returns a Promise while more rows than this wait to be inserted. Default 4 × chunkRows. */
  highWaterMarkRows: z.number().int().positive().optional(),
  /** Deterministic chunks + deduplication tokens (see above). false: flush on a timer, at-least-once. */
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
  /** Epoch (checkpoint id the current chunk numbering starts from) and the open chunk's index. */
  epoch: number
  chunkIndex: number
  /** The open chunk's rows: not in ClickHouse yet, inserted by commit() or, after a crash, by restore(). */
  tail: string[]
}

/** How a table is protected against duplicates, as found at open(). */
export type DedupMode = 'token' | 'replacing' | 'none'

interface Chunk {
  epoch: number
  index: number
  rows: number
  lines: string[] | null
  body: Buffer | null
  token: string | null
}

interface Waiter { resolve: () => void; reject: (e: unknown) => void }

export class ClickHouseSink<T> implements Sink<T> {
  readonly opts: z.output<typeof clickHouseSinkOptionsSchema>
  readonly table: string
  private readonly hwm: number
  private readonly log: Logger
  private readonly inserter: Inserter
  private readonly deadLetters: DeadLetterTarget | undefined
  private metrics: MetricsSink = noMetrics
  private readonly labels: { sink: string }

  private epoch = 0
  private chunkIndex = 0
  private openRows: string[] = []
  private readonly queue: Chunk[] = []
  private queuedRows = 0
  private draining: Promise<void> | null = null
  private waiters: Waiter[] = []
  private failure: TrendwireError | null = null
  private preCommitted: { id: number; tailLen: number } | null = null
  private abort = new AbortController()
  private timer: NodeJS.Timeout | null = null
  private sendToken = false
  private line: (value: T, time: number) => string
  private settings: Record<string, string | number | boolean>
  /** Set by open(). */
  dedup: DedupMode = 'none'

  /** Counters, for tests and the benchmark. */
  readonly stats = { rowsWritten: 0, rowsInserted: 0, chunksInserted: 0, rowsRejected: 0, chunksRejected: 0 }

  constructor(readonly name: string, private readonly ch: ClickHouse, private readonly format: RowFormat<T>, options: ClickHouseSinkOptions = {}, deps: ClickHouseSinkDeps = {}) {
    this.opts = parseOptions(`clickhouse sink "${name}"`, clickHouseSinkOptionsSchema, options)
    this.table = this.opts.table ?? format.table
    this.hwm = this.opts.highWaterMarkRows ?? 4 * this.opts.chunkRows
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
    this.deadLetters = deps.deadLetters
    this.labels = { sink: name }
    this.inserter = new Inserter(ch, this.table, format.columns, this.opts.retry, { sink: name, log: this.log, metrics: () => this.metrics })
    this.line = lineSerializer(format, true)
    // Rejected rows must not vanish silently: unknown JSON keys are an error, not skipped.
    this.settings = { input_format_skip_unknown_fields: 0, ...this.opts.insertSettings }
  }

  /** Rows accepted by write() and not yet acknowledged by ClickHouse. */
  get bufferedRows(): number {
    return this.queuedRows + this.openRows.length
  }

  async open(ctx?: SinkContext): Promise<void> {
    if (ctx) this.metrics = ctx.metrics
    const caps = await this.withRetry('read server capabilities', () => this.ch.capabilities())
    // Always send the token where the setting exists: on chDB a SET persists on the connection, so a
    // token left from another sink's insert would otherwise apply to ours.
    this.sendToken = caps.dedupToken
    this.line = lineSerializer(this.format, caps.compactJson)
    this.inserter.setCompact(caps.compactJson)
    if (this.opts.checkTable) await this.checkTable(caps.dedupToken)
    if (!this.opts.exactlyOnce && this.opts.flushIntervalMs > 0) {
      this.timer = setInterval(() => { this.closeOpen(); this.kick() }, this.opts.flushIntervalMs)
      this.timer.unref()
    }
  }

  private async checkTable(tokens: boolean): Promise<void> {
    const q = qualifiedTable(this.ch, this.table)
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
    const cols = await this.withRetry('describe table', async () => {
      const r = await this.ch.client.query({ query: `DESCRIBE TABLE ${q.sql}`, format: 'JSONEachRow' })
      return r.json<{ name: string }>()
    })
    const have = new Set(cols.map((c) => c.name))
    const missing = this.format.columns.filter((c) => !have.has(c))
    if (missing.length > 0) {
      throw new TrendwireError('SINK_REJECTED', `clickhouse sink "${this.name}": table ${q.database}.${q.table} has no column(s) ${missing.join(', ')} (schema out of date? run \`trendwire migrate\`)`, { details: { table: this.table, missing } })
    }
    const { engine, engine_full: full } = rs[0]
    const tokenDedup = tokens && (engine.startsWith('Replicated') || /non_replicated_deduplication_window\s*=\s*[1-9]/.test(full))
    this.dedup = tokenDedup ? 'token' : engine.includes('Replacing') ? 'replacing' : 'none'
    if (this.opts.exactlyOnce && this.dedup !== 'token') {
      this.log.warn({ sink: this.name, table: this.table, engine, dedup: this.dedup, tokens },
        this.dedup === 'replacing'
          ? 'insert deduplication tokens unavailable for this table: replays after a crash may leave duplicate rows until merged; query with FINAL'
          : 'no deduplication for this table: replays after a crash may duplicate rows')
    }
  }

  write(batch: Batch<T>, ctx?: SinkContext): void | Promise<void> {
    if (this.failure) throw this.failure
    if (ctx && this.metrics === noMetrics) this.metrics = ctx.metrics
    const { values, times } = batch
    const line = this.line
    const chunkRows = this.opts.chunkRows
    let open = this.openRows
    for (let i = 0; i < values.length; i++) {
      open.push(line(values[i], times[i]))
      if (open.length >= chunkRows) {
        this.closeFirst(open.length)
        open = this.openRows
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
    if (this.failure) throw this.failure
    if (!this.opts.exactlyOnce) {
      this.closeOpen()
      await this.flushQueue()
      return { v: 1, checkpointId, atLeastOnce: true }
    }
    await this.flushQueue()
    this.preCommitted = { id: checkpointId, tailLen: this.openRows.length }
    const state: ClickHouseSinkState = { v: 1, checkpointId, epoch: this.epoch, chunkIndex: this.chunkIndex, tail: this.openRows.slice() }
    return state
  }

  async commit(checkpointId: number): Promise<void> {
    if (!this.opts.exactlyOnce) return
    const pc = this.preCommitted
    this.preCommitted = null
    if (!pc || pc.id !== checkpointId) return
    // The checkpoint holding the tail is durable: the tail becomes the epoch's last chunk.
    this.closeFirst(pc.tailLen)
    this.epoch = checkpointId
    this.chunkIndex = 0
    await this.flushQueue()
  }

  async restore(state: unknown): Promise<void> {
    this.openRows = []
    this.queue.length = 0
    this.queuedRows = 0
    this.failure = null
    this.preCommitted = null
    const s = state as Partial<ClickHouseSinkState> | undefined
    if (!this.opts.exactlyOnce || !s || s.v !== 1 || typeof s.checkpointId !== 'number') return
    // Redo what commit() did for this checkpoint (it may or may not have run before the crash).
    if (s.tail && s.tail.length > 0) {
      this.enqueue({ epoch: s.epoch ?? 0, index: s.chunkIndex ?? 0, rows: s.tail.length, lines: s.tail, body: null, token: null })
    }
    this.epoch = s.checkpointId
    this.chunkIndex = 0
    await this.flushQueue()
    this.log.debug({ sink: this.name, checkpoint: s.checkpointId, tail: s.tail?.length ?? 0 }, 'clickhouse sink restored')
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    if (!this.opts.exactlyOnce && !this.failure) {
      this.closeOpen()
      await this.flushQueue()
    } else if (this.bufferedRows > 0) {
      // Not covered by a durable checkpoint: the replay from the last checkpoint produces them again.
      this.log.info({ sink: this.name, rows: this.bufferedRows }, 'clickhouse sink closing with rows after the last checkpoint; they are replayed from it on restart')
    }
    this.abort.abort()
    if (this.draining) await this.draining
    this.abort = new AbortController()
  }

  /** Waits until every closed chunk is in ClickHouse (or refused); throws the sink's failure. */
  private async flushQueue(): Promise<void> {
    this.kick()
    while (this.draining) await this.draining
    if (this.failure) throw this.failure
  }

  private closeOpen(): void {
    if (this.openRows.length > 0) this.closeFirst(this.openRows.length)
  }

  /** The first n open rows become the next chunk of the current epoch. */
  private closeFirst(n: number): void {
    if (n <= 0) return
    const lines = n === this.openRows.length ? this.openRows : this.openRows.slice(0, n)
    this.openRows = n === this.openRows.length ? [] : this.openRows.slice(n)
    this.enqueue({ epoch: this.epoch, index: this.chunkIndex++, rows: lines.length, lines, body: null, token: null })
  }

  private enqueue(c: Chunk): void {
    this.queue.push(c)
    this.queuedRows += c.rows
  }

  private kick(): void {
    if (this.draining || this.failure || this.queue.length === 0) return
    this.draining = this.drain()
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.failure) {
        const c = this.queue[0]
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

  private async insertChunk(c: Chunk): Promise<void> {
    if (!c.body) {
      c.body = Buffer.from(c.lines!.join('\n') + '\n')
      c.lines = null
    }
    if (!c.token) {
      c.token = this.opts.exactlyOnce ? `${this.name}-${c.epoch}-${c.index}-${createHash('sha1').update(c.body).digest('hex').slice(0, 16)}` : ''
    }
    const settings = this.sendToken ? { ...this.settings, insert_deduplication_token: c.token } : this.settings
    try {
      await this.inserter.insert(c.body, c.rows, settings, c.token || undefined, this.abort.signal)
    } catch (err) {
      const e = err as TrendwireError
      if (e.code !== 'SINK_REJECTED') throw err
      await this.rejectChunk(c, e)
      return
    }
    this.stats.rowsInserted += c.rows
    this.stats.chunksInserted++
    this.metrics.inc('clickhouse_rows_inserted_total', c.rows, this.labels)
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
    const text = c.body!.toString('utf8')
    const lines = text.slice(0, text.length - 1).split('\n')
    await this.deadLetters.rejected({ sink: this.name, table: this.inserter.table, token: c.token!, lines, columns: this.format.columns, error }, this.abort.signal)
  }

  /** Metadata calls at open: same retry policy as inserts. */
  private async withRetry<R>(what: string, fn: () => Promise<R>): Promise<R> {
    const retry = this.opts.retry
    const started = Date.now()
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (err) {
        const e = clickHouseFailure(err, `clickhouse sink "${this.name}": ${what} at ${this.ch.target}`)
        if (!e.retryable || this.abort.signal.aborted) throw e
        if (retry.giveUpAfterMs > 0 && Date.now() - started >= retry.giveUpAfterMs) throw e
        const cap = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** Math.min(attempt - 1, 30))
        this.log.warn({ sink: this.name, attempt, err: e.message }, 'clickhouse unavailable, retrying')
        await new Promise((r) => setTimeout(r, cap / 2 + Math.random() * (cap / 2)))
      }
    }
  }
}
