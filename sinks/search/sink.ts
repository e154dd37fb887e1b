// VectorIndexSink: feeds a VectorIndex (ClickHouse or Weaviate) from a topology's stream.
//
// Records become VectorItems through `toItems` (e.g. posts → postItem, trend signals → trendItem;
// items.ts). Items are buffered, coalesced per (kind, id) keeping the highest version (a trend that
// moved several windows within one flush is written once, newest last-writer-wins safe even on
// Weaviate), and upserted in batches of `batchSize` by one background loop, when a batch is full or
// `flushIntervalMs` after the first buffered item; write() returns a Promise while more than
// `highWaterMark` items wait (backpressure). The indexes retry what is retryable themselves; a refusal
// fails the sink (the next write() or preCommit() throws).
//
// Exactly-once, as far as the reader can tell: preCommit() waits until every buffered item is in the
// index and keeps no state. After a crash the engine replays from the last checkpoint and the sink
// upserts those items again: same (kind, id) → same row / object (ReplacingMergeTree(version) +
// FINAL; deterministic Weaviate UUIDs), so nothing appears twice.
import pino, { type Logger } from 'pino'
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { noMetrics } from '../../streams/metrics.ts'
import type { Batch, MetricsSink, Sink, SinkContext } from '../../streams/types.ts'
import type { VectorIndex, VectorItem } from './types.ts'

export const vectorIndexSinkOptionsSchema = z.object({
  /** Items per upsert call. */
  batchSize: z.number().int().min(1).max(100_000).default(500),
  /** write() returns a Promise while more items than this wait. Default 10 × batchSize. */
  highWaterMark: z.number().int().positive().optional(),
  /** Upsert what is buffered this long after the first item arrived. 0 = only when full and at checkpoints. */
  flushIntervalMs: z.number().int().min(0).default(250),
}).strict().refine((o) => o.highWaterMark === undefined || o.highWaterMark >= o.batchSize, { message: 'must be ≥ batchSize', path: ['highWaterMark'] })
export type VectorIndexSinkOptions = z.input<typeof vectorIndexSinkOptionsSchema>

interface Waiter { resolve: () => void; reject: (e: unknown) => void }

export class VectorIndexSink<T> implements Sink<T> {
  readonly opts: z.output<typeof vectorIndexSinkOptionsSchema>
  private readonly hwm: number
  private buffer = new Map<string, VectorItem>()
  private inFlight = 0
  private draining: Promise<void> | null = null
  private timer: NodeJS.Timeout | null = null
  private waiters: Waiter[] = []
  private flushWaiters: Waiter[] = []
  private failure: TrendwireError | null = null
  private metrics: MetricsSink = noMetrics
  private readonly log: Logger
  readonly stats = { records: 0, items: 0, coalesced: 0, upserts: 0 }

  constructor(readonly name: string, readonly index: VectorIndex, private readonly toItems: (r: T) => VectorItem | readonly VectorItem[] | null, options: VectorIndexSinkOptions = {}, deps: { logger?: Logger } = {}) {
    this.opts = parseOptions(`vector index sink "${name}"`, vectorIndexSinkOptionsSchema, options)
    this.hwm = this.opts.highWaterMark ?? 10 * this.opts.batchSize
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
  }

  /** Items buffered or being upserted. */
  get pending(): number {
    return this.buffer.size + this.inFlight
  }

  async open(ctx?: SinkContext): Promise<void> {
    if (ctx) this.metrics = ctx.metrics
    await this.index.open()
  }

  write(batch: Batch<T>): void | Promise<void> {
    if (this.failure) throw this.failure
    for (const r of batch.values) {
      const out = this.toItems(r)
      if (out === null) continue
      if (Array.isArray(out)) for (const it of out as readonly VectorItem[]) this.add(it)
      else this.add(out as VectorItem)
    }
    this.stats.records += batch.values.length
    if (this.buffer.size >= this.opts.batchSize || this.opts.flushIntervalMs === 0) this.kick()
    else if (this.buffer.size > 0) this.schedule()
    if (this.pending > this.hwm) return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }))
  }

  private add(it: VectorItem): void {
    const key = it.kind + '\u0000' + it.id
    const cur = this.buffer.get(key)
    this.stats.items++
    if (cur) {
      this.stats.coalesced++
      if (it.version < cur.version) return
      this.buffer.delete(key) // re-insert: keeps the newest at the end
    }
    this.buffer.set(key, it)
  }

  /** Everything written so far is in the index. No state: re-sent items are idempotent upserts. */
  async preCommit(): Promise<null> {
    await this.flush()
    return null
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure
    if (this.pending === 0 && !this.draining) return
    const done = new Promise<void>((resolve, reject) => this.flushWaiters.push({ resolve, reject }))
    this.kick(true)
    await done
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    if (!this.failure) await this.flush()
  }

  private schedule(): void {
    if (this.timer || this.draining || this.opts.flushIntervalMs === 0) return
    this.timer = setTimeout(() => { this.timer = null; this.kick(true) }, this.opts.flushIntervalMs)
    this.timer.unref()
  }

  private kick(all = false): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null }
    if (this.draining || this.failure) return
    this.draining = this.drain(all).finally(() => {
      this.draining = null
      if (this.failure) return
      if (this.flushWaiters.length > 0) this.kick(true)
      else if (this.buffer.size >= this.opts.batchSize) this.kick()
      else if (this.buffer.size > 0) this.schedule()
    })
  }

  /** Upserts full batches (or everything, when `all`), in order. */
  private async drain(all: boolean): Promise<void> {
    try {
      while (this.buffer.size >= this.opts.batchSize || (all && this.buffer.size > 0)) {
        const items: VectorItem[] = []
        for (const [k, v] of this.buffer) {
          items.push(v)
          this.buffer.delete(k)
          if (items.length >= this.opts.batchSize) break
        }
        this.inFlight = items.length
        await this.index.upsert(items)
        this.inFlight = 0
        this.stats.upserts++
        this.metrics.inc('vector_items_upserted_total', items.length, { sink: this.name })
        if (this.pending <= this.hwm && this.waiters.length > 0) {
          const w = this.waiters
          this.waiters = []
          for (const x of w) x.resolve()
        }
      }
      if (this.buffer.size === 0 && this.flushWaiters.length > 0) {
        const f = this.flushWaiters
        this.flushWaiters = []
        for (const x of f) x.resolve()
      }
    } catch (err) {
      this.failure = err instanceof TrendwireError ? err : new TrendwireError('SINK_REJECTED', `vector index sink "${this.name}": ${(err as Error).message}`, { cause: err })
      this.log.error({ sink: this.name, err: this.failure.message }, 'vector index sink failed')
      for (const x of [...this.waiters, ...this.flushWaiters]) x.reject(this.failure)
      this.waiters = []
      this.flushWaiters = []
    }
  }
}
