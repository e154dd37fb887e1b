// RedisStateSink: keeps the current state the API serves in Redis (top trends per platform, latest
// score per post, trend lifecycle, alerts; keys.ts) and fans every record out to the API/WebSocket
// processes through a Redis Stream (fanout.ts). Through ioredis only.
//
// Writes. write() turns each record into script calls (formats.ts, scripts.ts) and queues them; a
// single background loop sends the queue in pipelines of `pipelineSize` commands, in order, when
// `pipelineSize` commands are waiting or `flushIntervalMs` after the first one was queued, and
// preCommit() waits until everything queued is acknowledged. write() returns a Promise while more than
// `highWaterMark` commands wait (backpressure: the runner stops polling). A pipeline that fails for a
// retryable reason (connection lost, timeout, LOADING, OOM…) is sent again, whole, with exponential
// backoff — safe because every command in it is idempotent. A non-retryable error (a script error,
// WRONGTYPE) fails the sink: the next write() or preCommit() throws SINK_REJECTED.
//
// Idempotence under re-delivery. After a crash the runner restores the last durable checkpoint and
// replays the records after it. State writes are versioned (scripts.ts): an equal or older version is
// a no-op. Fan-out entries get explicit, deterministic, dense stream ids `${base}-${seq}`:
//   - base is fixed when a run starts fresh (no checkpoint): max(now, major part of the stream's last
//     id + 1), so it sits above every id already in the stream and reads roughly as a time;
//   - seq counts records fanned out, +1 per record; preCommit stores (base, seq) in the checkpoint and
//     restore gives them back.
// Records replayed from checkpoint N therefore get the ids they had in the crashed run, and Redis
// refuses an XADD whose id is not above the stream's last id — the script counts it as delivered.
// The numbering does not depend on when checkpoints were taken, only on the record sequence since
// the last durable one; the runner guarantees that sequence is the same for deterministic sources.
// If a replay did differ, readers would see duplicates, never gaps. Dense ids also let a subscriber
// know which id must come next, so it notices trimmed entries cheaply (fanout.ts).
import pino, { type Logger } from 'pino'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import { parseOptions, retryOptionsSchema } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { noMetrics } from '../../streams/metrics.ts'
import type { Batch, MetricsSink, Sink, SinkContext } from '../../streams/types.ts'
import { retrying } from '../retry.ts'
import { ensureConnected, isRetryableRedisError, redisFailure } from './client.ts'
import { parseStreamId, streamInfo } from './fanout.ts'
import type { FormatContext, RedisStateFormat } from './formats.ts'
import { RedisKeys } from './keys.ts'
import { defineScripts, type RedisOp } from './scripts.ts'

const HOUR = 3_600_000

export const redisStateSinkOptionsSchema = z.object({
  /** Prefix of every key this sink writes (keys.ts). */
  prefix: z.string().regex(/^[^\s]*$/, 'no whitespace').default('tw:'),
  /** Commands per pipeline (one round trip). */
  pipelineSize: z.number().int().min(1).max(100_000).default(1_000),
  /** write() returns a Promise while more commands than this wait. Default 10 × pipelineSize. */
  highWaterMark: z.number().int().positive().optional(),
  /** Send what is queued this long after the first command was queued, even if the pipeline is not full. */
  flushIntervalMs: z.number().int().min(0).default(50),
  ttl: z.object({
    trendMs: z.number().int().positive().default(7 * 24 * HOUR),
    windowMs: z.number().int().positive().default(6 * HOUR),
    scoreMs: z.number().int().positive().default(48 * HOUR),
    alertMs: z.number().int().positive().default(7 * 24 * HOUR),
  }).strict().prefault({}),
  /** Alerts kept per brand in its list. */
  alertsPerBrand: z.number().int().positive().default(200),
  fanout: z.object({
    enabled: z.boolean().default(true),
    /** Stream name after the prefix: `${prefix}fanout:${channel}`. Default: the sink's name. */
    channel: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : -').optional(),
    /** XADD MAXLEN ~ this: how far back a reconnecting subscriber can resume. */
    maxLen: z.number().int().positive().default(100_000),
  }).strict().prefault({}),
  retry: retryOptionsSchema({ initialDelayMs: 50, maxDelayMs: 5_000 }).prefault({}),
}).strict().refine((o) => o.highWaterMark === undefined || o.highWaterMark >= o.pipelineSize, {
  message: 'must be ≥ pipelineSize', path: ['highWaterMark'],
})
export type RedisStateSinkOptions = z.input<typeof redisStateSinkOptionsSchema>

/** What a checkpoint holds for this sink: where fan-out numbering stands. */
export interface RedisStateSinkState {
  v: 1
  /** Major part of the fan-out stream ids (decimal string: may exceed 2^53 in principle). */
  base: string
  /** seq of the next fan-out entry. */
  seq: number
}

interface Waiter { resolve: () => void; reject: (e: unknown) => void }

type PipelineFn = (...args: (string | number)[]) => unknown

export class RedisStateSink<T> implements Sink<T> {
  readonly opts: z.output<typeof redisStateSinkOptionsSchema>
  readonly keys: RedisKeys
  /** The fan-out stream key, or null when fan-out is off. */
  readonly stream: string | null
  readonly channel: string
  private readonly hwm: number
  private readonly ctx: FormatContext
  private readonly log: Logger
  private metrics: MetricsSink = noMetrics
  private readonly labels: { sink: string }

  private queue: RedisOp[] = []
  private head = 0
  private draining: Promise<void> | null = null
  private timer: NodeJS.Timeout | null = null
  private waiters: Waiter[] = []
  private flushWaiters: Waiter[] = []
  private failure: TrendwireError | null = null
  private closed = false
  private readonly opsBuf: RedisOp[] = []

  private base = 0n
  private seq = 0
  private restored = false

  /** Counters, for tests and the status page. */
  readonly stats = { records: 0, commandsSent: 0, pipelines: 0, retries: 0, fanoutAppended: 0, fanoutDuplicates: 0, stateApplied: 0, stateSkipped: 0 }

  constructor(readonly name: string, private readonly redis: Redis, private readonly format: RedisStateFormat<T>, options: RedisStateSinkOptions = {}, deps: { logger?: Logger } = {}) {
    this.opts = parseOptions(`redis state sink "${name}"`, redisStateSinkOptionsSchema, options)
    this.keys = new RedisKeys(this.opts.prefix)
    this.channel = this.opts.fanout.channel ?? name
    this.stream = this.opts.fanout.enabled ? this.keys.fanout(this.channel) : null
    this.hwm = this.opts.highWaterMark ?? 10 * this.opts.pipelineSize
    this.ctx = { keys: this.keys, ttl: this.opts.ttl, alertsPerBrand: this.opts.alertsPerBrand }
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
    this.labels = { sink: name }
    defineScripts(redis)
  }

  /** Commands accepted by write() and not yet acknowledged by Redis. */
  get pending(): number {
    return this.queue.length - this.head
  }

  /** The id the next fan-out entry will get. */
  get nextFanoutId(): string {
    return `${this.base}-${this.seq}`
  }

  async open(ctx?: SinkContext): Promise<void> {
    if (ctx) this.metrics = ctx.metrics
    await this.withRetry('connect', () => ensureConnected(this.redis))
    if (!this.restored) await this.freshBase()
  }

  /** A fresh run's base: above every id already in the stream, and roughly the wall clock. */
  private async freshBase(): Promise<void> {
    let base = BigInt(Date.now())
    if (this.stream) {
      const info = await this.withRetry('read fan-out stream', () => streamInfo(this.redis, this.stream!))
      if (info) {
        const last = parseStreamId(info.lastGeneratedId)
        if (last.ms >= base) base = last.ms + 1n
      }
    }
    this.base = base
    this.seq = 0
  }

  async restore(state: unknown): Promise<void> {
    const s = state as RedisStateSinkState | undefined
    if (!s || s.v !== 1) return // the sink is new to this checkpoint: keep the fresh base from open()
    this.base = BigInt(s.base)
    this.seq = s.seq
    this.restored = true
    this.queue = []
    this.head = 0
  }

  write(batch: Batch<T>): void | Promise<void> {
    if (this.failure) throw this.failure
    if (this.closed) throw new TrendwireError('SINK_UNAVAILABLE', `redis sink "${this.name}" is closed`)
    const { values } = batch
    const out = this.opsBuf
    const stream = this.stream
    const maxLen = this.opts.fanout.maxLen
    const type = this.format.type
    for (let i = 0; i < values.length; i++) {
      const r = values[i]
      const json = JSON.stringify(r)
      this.format.state(r, json, this.ctx, out)
      if (stream) out.push({ script: 'twFanout', keys: [stream], args: [`${this.base}-${this.seq++}`, maxLen, type, json] })
    }
    this.format.finish?.(this.ctx, out)
    for (let i = 0; i < out.length; i++) this.queue.push(out[i])
    out.length = 0
    this.stats.records += values.length
    this.metrics.inc('redis_records_total', values.length, this.labels)
    const pending = this.pending
    if (pending >= this.opts.pipelineSize || this.opts.flushIntervalMs === 0) this.kick()
    else this.schedule()
    if (pending > this.hwm) return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }))
  }

  /** Flushes everything and returns where fan-out numbering stands. */
  async preCommit(): Promise<RedisStateSinkState> {
    await this.flush()
    return { v: 1, base: String(this.base), seq: this.seq }
  }

  /** Resolves when every command queued so far is acknowledged. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure
    if (this.pending === 0 && !this.draining) return
    const done = new Promise<void>((resolve, reject) => this.flushWaiters.push({ resolve, reject }))
    this.kick()
    await done
  }

  async close(): Promise<void> {
    if (this.closed) return
    try {
      if (!this.failure) await this.flush()
    } finally {
      this.closed = true
      if (this.timer) clearTimeout(this.timer)
      this.timer = null
    }
  }

  private schedule(): void {
    if (this.timer || this.draining) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.kick()
    }, this.opts.flushIntervalMs)
    this.timer.unref()
  }

  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = null
    }
    if (this.draining || this.failure) return
    this.draining = this.drain().finally(() => {
      this.draining = null
      // commands or flush() callers that arrived while the loop was finishing
      if (!this.failure && (this.pending > 0 || this.flushWaiters.length > 0)) this.kick()
    })
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending > 0) {
        const n = Math.min(this.pending, this.opts.pipelineSize)
        const ops = this.queue.slice(this.head, this.head + n)
        await this.withRetry(`pipeline of ${n} commands`, () => this.send(ops))
        this.head += n
        if (this.head > 65_536 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head)
          this.head = 0
        }
        if (this.pending <= this.hwm && this.waiters.length > 0) {
          const w = this.waiters
          this.waiters = []
          for (const x of w) x.resolve()
        }
      }
      if (this.head > 0) {
        this.queue = []
        this.head = 0
      }
      const f = this.flushWaiters
      this.flushWaiters = []
      for (const x of f) x.resolve()
    } catch (err) {
      this.failure = redisFailure(err, `redis sink "${this.name}"`)
      this.log.error({ sink: this.name, err: this.failure.message }, 'redis sink failed')
      for (const x of [...this.waiters, ...this.flushWaiters]) x.reject(this.failure)
      this.waiters = []
      this.flushWaiters = []
    }
  }

  /** One pipeline round trip. Throws the first error (all of a pipeline's ops are idempotent, so a retry resends them all). */
  private async send(ops: RedisOp[]): Promise<void> {
    const p = this.redis.pipeline()
    const fns = p as unknown as Record<string, PipelineFn>
    for (const op of ops) fns[op.script].call(p, ...op.keys, ...op.args)
    const res = await p.exec()
    if (!res) throw new TrendwireError('SINK_UNAVAILABLE', 'pipeline discarded')
    let retryable: unknown = null
    for (let i = 0; i < res.length; i++) {
      const [err, r] = res[i]
      if (err) {
        if (!isRetryableRedisError(err)) throw new TrendwireError('SINK_REJECTED', `${ops[i].script} on ${ops[i].keys[0]} failed: ${err.message}`, { cause: err })
        retryable ??= err
        continue
      }
      const script = ops[i].script
      if (script === 'twFanout') {
        if (r === 1) this.stats.fanoutAppended++
        else this.stats.fanoutDuplicates++
      } else if (script !== 'twForward') {
        if (r === 0) this.stats.stateSkipped++
        else this.stats.stateApplied++
      }
    }
    if (retryable) throw retryable
    this.stats.commandsSent += ops.length
    this.stats.pipelines++
    this.metrics.inc('redis_commands_total', ops.length, this.labels)
  }

  private withRetry<R>(what: string, fn: () => Promise<R>): Promise<R> {
    return retrying(fn, {
      policy: this.opts.retry,
      fatal: (err) => (isRetryableRedisError(err) ? undefined : redisFailure(err, `redis sink "${this.name}": ${what}`)),
      exhausted: (err, failingMs, attempts) => new TrendwireError('SINK_UNAVAILABLE', `redis sink "${this.name}": ${what} still failing after ${failingMs} ms and ${attempts} attempts: ${(err as Error).message}`, { cause: err }),
      onRetry: (err, attempt, delay) => {
        this.stats.retries++
        this.metrics.inc('redis_retries_total', 1, this.labels)
        this.log.warn({ sink: this.name, what, attempt, retryInMs: Math.round(delay), err: (err as Error).message }, 'redis call failed, retrying')
      },
    })
  }

}
