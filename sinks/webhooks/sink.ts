// Alert webhooks: a Sink<RoutedAlert> that POSTs each alert to the webhook URL of every subscription
// it is routed to, signed, with retries, and a dead-letter record when it gives up.
//
// Request (one per alert and subscription; the body is the same bytes on every attempt):
//   POST <webhookUrl>
//   Content-Type: application/json
//   Idempotency-Key: <alertId>.<subscriptionId>          — stable across retries and replays
//   Trendwire-Event: brand_alert
//   Trendwire-Attempt: <1, 2, …>
//   Trendwire-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, t + "." + body)>   (signature.ts)
//   {"id":"<idempotency key>","type":"brand_alert","tenantId":…,"brandId":…,"subscriptionId":…,
//    "platform":…,"alert":{BrandAlert},"createdAt":<ms>}
// 2xx is delivered. 408, 425, 429, 5xx, a timeout or a network error are retried after
// min(maxBackoff, initialBackoff·2^(attempt−1)), halved and topped up with uniform jitter ("equal
// jitter"), or after Retry-After when the receiver sends a longer one. Other 4xx, a redirect (never
// followed) or a refused destination (ssrf.ts) are final. After maxAttempts, or on a final error, a
// dead-letter record goes to onDeadLetter and the `dead` event.
//
// Delivery is at least once; receivers de-duplicate on Idempotency-Key. The sink itself never sends
// a key twice after a success: it remembers keys it has queued (dedupTtlMs, at most dedupMaxKeys), so
// an alert repeated by the rules (same alertId, same subscription) or replayed after a restart is
// dropped here. Per brand, a token bucket (brandBurst, brandRatePerMin) spaces deliveries out:
// alerts wait their turn, they are not dropped.
//
// Checkpoints: write() only queues (it returns a Promise while more than highWaterMark deliveries
// are pending: backpressure). preCommit() returns the pending deliveries and the remembered keys;
// restore() queues them again, so an alert accepted before a checkpoint is delivered even if the
// process dies before it was, and one replayed after it is not sent twice. Nothing here waits for a
// receiver inside the engine's batch loop. close() drains for up to closeGraceMs first.
//
// One sink may be shared by several runners (alerts of several topologies through one Tee): restore()
// merges each runner's state, and only the last close() of those that opened it closes it.
//
// Timeouts are wall-clock: an engine that keeps this process's event loop busy (a source whose
// poll() never waits) delays responses, and a slow-looking attempt is retried — harmless, since
// receivers de-duplicate, but give timeoutMs room in such jobs.
import { EventEmitter } from 'node:events'
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { RoutedAlert } from '../../operators/alerts/types.ts'
import { parseOptions } from '../../streams/config.ts'
import { noMetrics } from '../../streams/metrics.ts'
import type { Batch, MetricsSink, Sink, SinkContext } from '../../streams/types.ts'
import { signPayload } from './signature.ts'
import { checkUrl, EgressBlockedError, egressPolicySchema, guardedLookup, type EgressPolicy } from './ssrf.ts'
import { TokenBuckets } from './token-bucket.ts'
import { backoffDelay } from '../retry.ts'

export const webhookSinkOptionsSchema = z.strictObject({
  maxAttempts: z.number().int().min(1).max(50).default(8),
  initialBackoffMs: z.number().int().min(1).default(1_000),
  maxBackoffMs: z.number().int().min(1).default(300_000),
  /** Per attempt: connect, send, and the response headers and body. */
  timeoutMs: z.number().int().min(50).default(10_000),
  /** Deliveries in flight at once, over all receivers. */
  concurrency: z.number().int().min(1).max(1024).default(16),
  /** Pending deliveries above which write() makes the engine wait. */
  highWaterMark: z.number().int().min(1).default(10_000),
  brandRatePerMin: z.number().gt(0).default(60),
  brandBurst: z.number().int().min(1).default(20),
  dedupMaxKeys: z.number().int().min(1).default(200_000),
  dedupTtlMs: z.number().int().min(1).default(7 * 24 * 3600_000),
  /** Bytes of a response body read (and discarded); more is cut off. */
  maxResponseBytes: z.number().int().min(0).default(16_384),
  egress: egressPolicySchema.default({ allowPrivate: false, allowCidrs: [] }),
  userAgent: z.string().default('trendwire-webhooks/1'),
  /** On close, keep delivering (retries included) for up to this long before giving up the rest to the checkpoint. */
  closeGraceMs: z.number().int().min(0).default(10_000),
})
export type WebhookSinkOptions = z.output<typeof webhookSinkOptionsSchema>
export type WebhookSinkOptionsInput = z.input<typeof webhookSinkOptionsSchema>

/** Where a subscription's webhooks go; looked up at every attempt, so edits and secret rotations apply. */
export interface WebhookTarget {
  url: string
  secret: string
}

export interface WebhookTargets {
  /** null when the subscription is gone, inactive or has no webhook */
  webhookTarget(subscriptionId: string): WebhookTarget | null
}

export interface WebhookJob {
  key: string
  alertId: string
  subscriptionId: string
  brandId: string
  tenantId: string
  body: string
  attempts: number
  /** wall-clock ms when the next attempt may start */
  dueAt: number
  firstQueuedAt: number
  lastError: string | null
  lastStatus: number | null
}

export interface WebhookDeadLetter {
  idempotencyKey: string
  alertId: string
  subscriptionId: string
  brandId: string
  tenantId: string
  url: string
  attempts: number
  lastError: string | null
  lastStatus: number | null
  /** the body that was (to be) sent */
  body: string
  at: number
}

export interface DeliveredEvent { key: string; subscriptionId: string; attempts: number; status: number; ms: number }
export interface AttemptFailedEvent { key: string; subscriptionId: string; attempt: number; error: string; status: number | null; retryInMs: number | null }

interface WebhookSinkState {
  pending: WebhookJob[]
  known: Array<[string, number]>
}

type Outcome = { ok: true; status: number } | { ok: false; retry: boolean; error: string; status: number | null; retryAfterMs: number | null }

export interface WebhookSinkDeps {
  log?: Logger
  onDeadLetter?: (d: WebhookDeadLetter) => void
  /** wall clock, ms (tests) */
  now?: () => number
  /** uniform [0, 1) for jitter (tests) */
  random?: () => number
}

export class WebhookSink extends EventEmitter implements Sink<RoutedAlert> {
  readonly opts: WebhookSinkOptions
  private readonly policy: EgressPolicy
  private queue: WebhookJob[] = []
  private readonly inflight = new Set<WebhookJob>()
  private readonly running = new Set<Promise<void>>()
  private known = new Map<string, number>()
  private readonly buckets: TokenBuckets
  private timer: NodeJS.Timeout | null = null
  private timerAt = Infinity
  private closed = false
  /** runners that opened this sink and have not closed it */
  private opens = 0
  private waiters: Array<() => void> = []
  private metrics: MetricsSink = noMetrics
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 8 })
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 8 })
  private readonly lookup: ReturnType<typeof guardedLookup>
  private readonly now: () => number
  private readonly random: () => number
  /** the most recent dead letters, newest last (bounded) */
  readonly deadLetters: WebhookDeadLetter[] = []

  constructor(readonly name: string, private readonly targets: WebhookTargets, options: WebhookSinkOptionsInput = {}, private readonly deps: WebhookSinkDeps = {}) {
    super()
    this.opts = parseOptions(`webhook sink "${name}"`, webhookSinkOptionsSchema, options)
    this.policy = this.opts.egress
    this.lookup = guardedLookup(this.policy)
    this.buckets = new TokenBuckets({ capacity: this.opts.brandBurst, refillPerSec: this.opts.brandRatePerMin / 60 })
    this.now = deps.now ?? Date.now
    this.random = deps.random ?? Math.random
  }

  async open(ctx: SinkContext): Promise<void> {
    this.metrics = ctx.metrics
    this.opens++
  }

  /** Deliveries queued or in flight. */
  get pending(): number {
    return this.queue.length + this.inflight.size
  }

  write(batch: Batch<RoutedAlert>): void | Promise<void> {
    const now = this.now()
    let queued = 0
    for (const r of batch.values) {
      for (const subscriptionId of r.subscriptionIds) {
        const key = `${r.alert.alertId}.${subscriptionId}`
        const seen = this.known.get(key)
        if (seen !== undefined && seen > now) {
          this.metrics.inc('webhook_deliveries_total', 1, { result: 'deduplicated' })
          continue
        }
        if (!this.targets.webhookTarget(subscriptionId)) continue
        this.remember(key, now)
        const body = JSON.stringify({
          id: key, type: 'brand_alert', tenantId: r.tenantId, brandId: r.alert.brandId, subscriptionId,
          platform: r.platform, alert: r.alert, createdAt: now,
        })
        this.insert({
          key, alertId: r.alert.alertId, subscriptionId, brandId: r.alert.brandId, tenantId: r.tenantId, body,
          attempts: 0, dueAt: now, firstQueuedAt: now, lastError: null, lastStatus: null,
        })
        queued++
      }
    }
    if (queued > 0) {
      this.metrics.inc('webhook_deliveries_total', queued, { result: 'queued' })
      this.pump()
    }
    if (this.pending > this.opts.highWaterMark) return new Promise<void>((resolve) => this.waiters.push(resolve))
  }

  private remember(key: string, now: number): void {
    this.known.delete(key)
    this.known.set(key, now + this.opts.dedupTtlMs)
    if (this.known.size > this.opts.dedupMaxKeys) {
      // Oldest first (Map keeps insertion order): drop expired keys, then the oldest beyond the bound.
      for (const [k, exp] of this.known) {
        if (this.known.size <= this.opts.dedupMaxKeys && exp > now) break
        this.known.delete(k)
      }
    }
  }

  private insert(job: WebhookJob): void {
    // Sorted by dueAt; ties keep arrival order.
    let lo = 0
    let hi = this.queue.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.queue[mid].dueAt <= job.dueAt) lo = mid + 1
      else hi = mid
    }
    this.queue.splice(lo, 0, job)
  }

  private pump(): void {
    if (this.closed) return
    const now = this.now()
    const limit = { capacity: this.opts.brandBurst, refillPerSec: this.opts.brandRatePerMin / 60 }
    while (this.inflight.size < this.opts.concurrency && this.queue.length > 0 && this.queue[0].dueAt <= now) {
      const job = this.queue.shift()!
      const t = this.buckets.take(job.brandId, now, limit)
      if (!t.allowed) {
        job.dueAt = now + Math.max(1, this.buckets.waitMs(job.brandId, now, limit))
        this.insert(job)
        this.metrics.inc('webhook_rate_limited_total', 1)
        continue
      }
      this.inflight.add(job)
      const p: Promise<void> = this.attempt(job).finally(() => {
        this.inflight.delete(job)
        this.running.delete(p)
        this.releaseWaiters()
        this.pump()
        if (this.pending === 0) this.emit('idle')
      })
      this.running.add(p)
    }
    this.metrics.set('webhook_queue_depth', this.pending)
    this.arm()
  }

  private arm(): void {
    const next = this.queue.length > 0 && this.inflight.size < this.opts.concurrency ? this.queue[0].dueAt : Infinity
    if (next === this.timerAt) return
    if (this.timer) { clearTimeout(this.timer); this.timer = null }
    this.timerAt = next
    if (next === Infinity || this.closed) return
    this.timer = setTimeout(() => { this.timer = null; this.timerAt = Infinity; this.pump() }, Math.max(0, next - this.now()))
  }

  private releaseWaiters(): void {
    if (this.waiters.length === 0 || this.pending > this.opts.highWaterMark) return
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  private async attempt(job: WebhookJob): Promise<void> {
    const target = this.targets.webhookTarget(job.subscriptionId)
    if (!target) {
      this.metrics.inc('webhook_deliveries_total', 1, { result: 'dropped' })
      this.deps.log?.info({ key: job.key, subscription: job.subscriptionId }, 'webhook dropped: subscription gone or webhook removed')
      this.emit('dropped', { key: job.key, subscriptionId: job.subscriptionId })
      return
    }
    job.attempts++
    const t0 = performance.now()
    const out = await this.send(job, target)
    const ms = performance.now() - t0
    if (out.ok) {
      this.metrics.inc('webhook_deliveries_total', 1, { result: 'delivered' })
      this.emit('delivered', { key: job.key, subscriptionId: job.subscriptionId, attempts: job.attempts, status: out.status, ms } satisfies DeliveredEvent)
      return
    }
    job.lastError = out.error
    job.lastStatus = out.status
    if (out.retry && job.attempts < this.opts.maxAttempts && !this.closed) {
      let wait = backoffDelay({ initialDelayMs: this.opts.initialBackoffMs, maxDelayMs: this.opts.maxBackoffMs }, job.attempts, this.random)
      if (out.retryAfterMs !== null) wait = Math.max(wait, Math.min(out.retryAfterMs, this.opts.maxBackoffMs))
      job.dueAt = this.now() + Math.round(wait)
      this.insert(job)
      this.metrics.inc('webhook_deliveries_total', 1, { result: 'retried' })
      this.emit('attemptFailed', { key: job.key, subscriptionId: job.subscriptionId, attempt: job.attempts, error: out.error, status: out.status, retryInMs: Math.round(wait) } satisfies AttemptFailedEvent)
      return
    }
    if (out.retry && this.closed) {
      // Shutting down: keep it for the next checkpoint holder instead of giving up.
      this.insert(job)
      return
    }
    this.emit('attemptFailed', { key: job.key, subscriptionId: job.subscriptionId, attempt: job.attempts, error: out.error, status: out.status, retryInMs: null } satisfies AttemptFailedEvent)
    const dead: WebhookDeadLetter = {
      idempotencyKey: job.key, alertId: job.alertId, subscriptionId: job.subscriptionId, brandId: job.brandId, tenantId: job.tenantId,
      url: redact(target.url), attempts: job.attempts, lastError: job.lastError, lastStatus: job.lastStatus, body: job.body, at: this.now(),
    }
    this.deadLetters.push(dead)
    if (this.deadLetters.length > 1000) this.deadLetters.shift()
    this.metrics.inc('webhook_deliveries_total', 1, { result: 'dead' })
    this.metrics.inc('webhook_dead_letters_total', 1)
    this.deps.log?.warn({ key: job.key, attempts: job.attempts, error: job.lastError, status: job.lastStatus }, 'webhook dead-lettered')
    this.deps.onDeadLetter?.(dead)
    this.emit('dead', dead)
  }

  private send(job: WebhookJob, target: WebhookTarget): Promise<Outcome> {
    let url: URL
    try {
      url = checkUrl(target.url, this.policy)
    } catch (err) {
      return Promise.resolve({ ok: false, retry: false, error: (err as Error).message, status: null, retryAfterMs: null })
    }
    const ts = Math.floor(this.now() / 1000)
    const https = url.protocol === 'https:'
    return new Promise<Outcome>((resolve) => {
      let settled = false
      const done = (o: Outcome) => { if (!settled) { settled = true; clearTimeout(timer); resolve(o) } }
      const req = (https ? httpsRequest : httpRequest)(url, {
        method: 'POST',
        agent: https ? this.httpsAgent : this.httpAgent,
        lookup: this.lookup as never,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(job.body),
          'user-agent': this.opts.userAgent,
          'idempotency-key': job.key,
          'trendwire-event': 'brand_alert',
          'trendwire-attempt': String(job.attempts),
          'trendwire-signature': signPayload(target.secret, ts, job.body),
        },
      }, (res: IncomingMessage) => {
        let read = 0
        res.on('data', (chunk: Buffer) => {
          read += chunk.length
          if (read > this.opts.maxResponseBytes) res.destroy()
        })
        const status = res.statusCode ?? 0
        const finish = () => done(classify(status, res.headers['retry-after'], this.now()))
        res.on('end', finish)
        res.on('close', finish)
        res.on('error', finish)
      })
      const timer = setTimeout(() => {
        req.destroy(new Error(`timed out after ${this.opts.timeoutMs} ms`))
      }, this.opts.timeoutMs)
      req.on('error', (err: Error) => {
        const blocked = err instanceof EgressBlockedError || (err as { code?: string }).code === 'EGRESS_BLOCKED'
        done({ ok: false, retry: !blocked, error: err.message, status: null, retryAfterMs: null })
      })
      req.end(job.body)
    })
  }

  /** Resolves when nothing is queued or in flight (tests, shutdown). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const check = () => { if (this.pending === 0) { this.off('idle', check); resolve() } }
      this.on('idle', check)
    })
  }

  async preCommit(): Promise<WebhookSinkState> {
    const now = this.now()
    const pending = [...this.inflight, ...this.queue].map((j) => ({ ...j }))
    const known: Array<[string, number]> = []
    for (const [k, exp] of this.known) if (exp > now) known.push([k, exp])
    return { pending, known }
  }

  async restore(state: unknown): Promise<void> {
    // Merged, not replaced: one sink may serve several runners (each restores its own checkpoint).
    const s = state as WebhookSinkState | undefined
    for (const [k, exp] of s?.known ?? []) if (!(this.known.get(k)! >= exp)) this.known.set(k, exp)
    const queued = new Set<string>()
    for (const j of this.queue) queued.add(j.key)
    for (const j of this.inflight) queued.add(j.key)
    const now = this.now()
    for (const j of s?.pending ?? []) {
      if (queued.has(j.key)) continue
      queued.add(j.key)
      this.insert({ ...j, dueAt: Math.min(j.dueAt, now) })
    }
    this.pump()
  }

  async close(): Promise<void> {
    // Shared by several runners: only the last one to close closes.
    if (--this.opens > 0 || this.closed) return
    // Graceful: what is queued keeps going out for up to closeGraceMs. The runner closes sinks right
    // after its final checkpoint, and a busy engine in this process may have starved the sockets
    // until then, so deliveries accepted near the end would otherwise wait for the next start.
    if (this.pending > 0 && this.opts.closeGraceMs > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([this.idle(), new Promise<void>((r) => { timer = setTimeout(r, this.opts.closeGraceMs) })])
      clearTimeout(timer)
    }
    this.closed = true
    if (this.timer) { clearTimeout(this.timer); this.timer = null }
    // In-flight attempts end on their own within timeoutMs; what is still undelivered is in the last
    // checkpoint's pending list (or will be replayed by the engine) and goes out after a restart.
    if (this.running.size > 0) await Promise.allSettled([...this.running])
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }
}

function classify(status: number, retryAfter: string | string[] | undefined, now: number): Outcome {
  if (status >= 200 && status < 300) return { ok: true, status }
  const retry = status === 408 || status === 425 || status === 429 || status >= 500
  let retryAfterMs: number | null = null
  const ra = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter
  if (ra) {
    const secs = Number(ra)
    if (Number.isFinite(secs)) retryAfterMs = Math.max(0, secs * 1000)
    else {
      const at = Date.parse(ra)
      if (Number.isFinite(at)) retryAfterMs = Math.max(0, at - now)
    }
  }
  const error = status >= 300 && status < 400 ? `redirect ${status} not followed` : `HTTP ${status}`
  return { ok: false, retry, error, status, retryAfterMs }
}

/** A URL without its query string and credentials, for logs and dead letters. */
function redact(u: string): string {
  try {
    const url = new URL(u)
    url.username = ''
    url.password = ''
    url.search = url.search ? '?…' : ''
    return url.toString()
  } catch {
    return '(invalid URL)'
  }
}
