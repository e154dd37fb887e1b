// The WebSocket live feed (protocol 1: schemas/api/ws.ts, docs/api.md).
//
// Connect to `path` (default /api/stream) with an API key (Authorization: Bearer, X-API-Key, or
// ?api_key= for browsers, which cannot set headers on a WebSocket). The server sends `welcome`; the
// client sends `subscribe` with streams, filters and optionally where to resume; the server replays
// what it still has (or sends `gap`), confirms with `subscribed`, then streams live messages.
//
// Batching (opt-in per subscription, `batch: true`): the data messages one publish delivers to a
// client go out as one `batch` frame (its messages keep their own stream and seq), so a trend window
// is one frame per client instead of one per update.
//
// Sends never wait. Each message is serialised once, to a Buffer, when it is published; clients are
// grouped by subscription (tenant, streams, filter, batch), the filter is evaluated once per group,
// and a group's batch frame is built once and the same Buffer handed to ws.send() for each of its
// clients. Each client's socket is corked for the length of a fan-out (one write per client).
//
// A client whose socket buffer (ws.bufferedAmount) is over softBufferBytes is "slow": from
// then on its messages are held instead — the latest per entity for trends and per post for scores
// (older ones are dropped and counted), every alert — and flushed when its buffer falls under half
// the soft limit, preceded by a `coalesced` notice. A client over hardBufferBytes, holding more than
// maxHeldMessages, or slow for longer than maxSlowMs is closed with 1013 (Try Again Later) and a
// reason; it reconnects and resumes. The engine and the other clients never wait for it.
//
// Heartbeats: a protocol ping every heartbeatMs; a connection that has not answered the previous
// ping (pong, or any message) is terminated.
//
// Tenancy: alerts reach only the tenant owning the alert's brand; filter.brandId must be one of
// the tenant's brands (else an error naming filter.brandId and no subscription).
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { z } from 'zod'
import type { BrandAlert, TrendSignal, ViralityScore } from '../../schemas/outputs.ts'
import { ClientMessageSchema, CLOSE_CODES, STREAMS, type ClientMessage, type FeedFilter, type StreamName } from '../../schemas/api/ws.ts'
import { parseOptions } from '../../streams/config.ts'
import { entityKey } from '../api/live-state.ts'
import type { FeedGap, FeedRecord } from './bus.ts'
import { ReplayBuffer, type FeedEntry } from './replay.ts'

export const feedOptionsSchema = z.strictObject({
  path: z.string().startsWith('/').default('/api/stream'),
  heartbeatMs: z.number().int().min(10).default(30_000),
  /** messages kept per stream for resuming clients */
  replayPerStream: z.number().int().min(1).default(10_000),
  softBufferBytes: z.number().int().min(1).default(1 << 20),
  hardBufferBytes: z.number().int().min(1).default(16 << 20),
  maxHeldMessages: z.number().int().min(1).default(20_000),
  maxSlowMs: z.number().int().min(1).default(60_000),
  flushIntervalMs: z.number().int().min(1).default(50),
  maxConnectionsPerTenant: z.number().int().min(1).default(50),
  maxPayloadBytes: z.number().int().min(256).default(64 * 1024),
  /** most messages in one `batch` frame (more go out as several) */
  maxBatchMessages: z.number().int().min(1).default(1_000),
  /** after a close frame, how long a client gets before the socket is destroyed */
  closeGraceMs: z.number().int().min(1).default(5_000),
})
export type FeedOptionsInput = z.input<typeof feedOptionsSchema>

export interface FeedPrincipal {
  tenantId: string
  keyId: string
}

export interface FeedDeps {
  /** the principal an upgrade request authenticates as, or null */
  authenticate(req: IncomingMessage): FeedPrincipal | null
  /** spend a rate-limit token of the key: null when allowed, else seconds to wait */
  rateLimit(p: FeedPrincipal): number | null
  /** is the key still valid (checked on revocation events) */
  keyActive(keyId: string): boolean
  brandTenant(brandId: string): string | null
  /** the brand if it belongs to the tenant */
  ownsBrand(tenantId: string, brandId: string): boolean
  watchTerms(brandId: string): { hashtags: string[]; keywords: string[] }
  /** bumps whenever watchTerms may have changed */
  watchVersion(): number
  log: Logger
  metrics?: FeedMetrics
}

export interface FeedMetrics {
  clients(n: number): void
  sent(stream: StreamName, n: number): void
  slow(action: 'coalesced' | 'closed'): void
  dead(): void
  replayed(stream: StreamName, n: number): void
  gap(stream: StreamName, reason: 'evicted' | 'epoch'): void
  rateLimited(): void
}

interface Sub {
  streams: Set<StreamName>
  filter: FeedFilter
  batch: boolean
  watch: { version: number; hashtags: Set<string>; terms: Set<string> } | null
}

/**
 * Clients whose subscriptions are the same (tenant, streams, filter, batch) see exactly the same
 * messages: matched once per publish, framed once. `sub` is the first subscriber's (same filter).
 */
interface Group {
  key: string
  tenantId: string
  sub: Sub
  clients: Set<Client>
}

interface Client {
  id: string
  ws: WebSocket
  principal: FeedPrincipal
  alive: boolean
  sub: Sub | null
  group: Group | null
  slowSince: number
  held: Map<string, FeedEntry>
  heldAlerts: FeedEntry[]
  dropped: { trends: number; scores: number }
  closing: boolean
  /** bytes sent into the corked socket during the current fan-out (not a sign of slowness) */
  corkedBytes: number
}

/** The ws socket's net.Socket (ws has no public cork). */
function rawSocket(ws: WebSocket): { cork(): void; uncork(): void } | null {
  const s = (ws as unknown as { _socket?: { cork?: () => void; uncork?: () => void } })._socket
  return s && typeof s.cork === 'function' && typeof s.uncork === 'function' ? (s as { cork(): void; uncork(): void }) : null
}

const MESSAGE_TYPE: Record<StreamName, string> = { trends: 'trend', scores: 'score', alerts: 'alert' }
const BATCH_HEAD = Buffer.from('{"type":"batch","messages":[')
const BATCH_SEP = Buffer.from(',')
const BATCH_TAIL = Buffer.from(']}')
const TEXT = { binary: false } as const

/** Group key: the same for subscriptions that match the same messages (filter keys in a fixed order). */
function groupKey(tenantId: string, sub: Sub): string {
  const f = sub.filter as Record<string, unknown>
  return `${tenantId}\n${sub.batch ? 1 : 0}\n${[...sub.streams].sort().join(',')}\n${JSON.stringify(f, Object.keys(f).sort())}`
}

export class LiveFeed {
  readonly opts: z.output<typeof feedOptionsSchema>
  private readonly wss: WebSocketServer
  private readonly clients = new Set<Client>()
  private readonly perTenant = new Map<string, number>()
  private readonly buffers: Record<StreamName, ReplayBuffer>
  private readonly slow = new Set<Client>()
  private readonly groups = new Map<string, Group>()
  private heartbeat: NodeJS.Timeout
  private flusher: NodeJS.Timeout | null = null
  private closed = false
  /** counters since start (also on /metrics) */
  readonly stats = { coalesced: 0, slowClosed: 0, deadTerminated: 0, /** data frames written (a batch is one) */ frames: 0 }

  constructor(options: FeedOptionsInput, private readonly deps: FeedDeps, epochs: Partial<Record<StreamName, string>> = {}) {
    this.opts = parseOptions('live feed', feedOptionsSchema, options)
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.opts.maxPayloadBytes, perMessageDeflate: false, clientTracking: false })
    this.buffers = { trends: new ReplayBuffer(this.opts.replayPerStream), scores: new ReplayBuffer(this.opts.replayPerStream), alerts: new ReplayBuffer(this.opts.replayPerStream) }
    for (const s of STREAMS) this.buffers[s].epoch = epochs[s] ?? ''
    this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs)
    this.heartbeat.unref()
  }

  get connections(): number {
    return this.clients.size
  }

  /** clients being coalesced right now */
  get slowClients(): number {
    return this.slow.size
  }

  // --- connections --------------------------------------------------------------------------------

  /** For http.Server 'upgrade'. Returns false when the path is not the feed's (another handler may take it). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname !== this.opts.path) return false
    const refuse = (status: number, text: string, extra: Record<string, string> = {}) => {
      const body = JSON.stringify({ error: { code: status === 401 ? 'unauthorized' : status === 429 ? 'rate_limited' : 'unavailable', message: text } })
      const headers = { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close', ...extra }
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 429 ? 'Too Many Requests' : 'Service Unavailable'}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`)
    }
    if (this.closed) { refuse(503, 'shutting down'); return true }
    const p = this.deps.authenticate(req)
    if (!p) { refuse(401, 'missing or invalid API key', { 'WWW-Authenticate': 'Bearer realm="trendwire"' }); return true }
    const wait = this.deps.rateLimit(p)
    if (wait !== null) { this.deps.metrics?.rateLimited(); refuse(429, 'rate limit exceeded', { 'Retry-After': String(wait) }); return true }
    if ((this.perTenant.get(p.tenantId) ?? 0) >= this.opts.maxConnectionsPerTenant) {
      refuse(429, `at most ${this.opts.maxConnectionsPerTenant} live connections per tenant`, { 'Retry-After': '5' })
      return true
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, p))
    return true
  }

  private onConnection(ws: WebSocket, principal: FeedPrincipal): void {
    const c: Client = {
      id: randomBytes(6).toString('hex'), ws, principal, alive: true, sub: null, group: null, slowSince: 0,
      held: new Map(), heldAlerts: [], dropped: { trends: 0, scores: 0 }, closing: false, corkedBytes: -1,
    }
    this.clients.add(c)
    this.perTenant.set(principal.tenantId, (this.perTenant.get(principal.tenantId) ?? 0) + 1)
    this.deps.metrics?.clients(this.clients.size)
    ws.on('pong', () => { c.alive = true })
    ws.on('message', (data, isBinary) => { c.alive = true; this.onMessage(c, data, isBinary) })
    ws.on('close', () => this.forget(c))
    ws.on('error', (err) => { this.deps.log.debug({ err: err.message, client: c.id }, 'websocket error'); this.forget(c) })
    const streams = {} as Record<StreamName, { epoch: string; first: number; last: number }>
    for (const s of STREAMS) streams[s] = { epoch: this.buffers[s].epoch, first: this.buffers[s].first, last: this.buffers[s].last }
    ws.send(JSON.stringify({ type: 'welcome', protocol: 1, connectionId: c.id, tenantId: principal.tenantId, heartbeatMs: this.opts.heartbeatMs, streams }))
    this.deps.log.debug({ client: c.id, tenant: principal.tenantId, key: principal.keyId }, 'websocket connected')
  }

  private forget(c: Client): void {
    if (!this.clients.delete(c)) return
    this.slow.delete(c)
    this.leave(c)
    const n = (this.perTenant.get(c.principal.tenantId) ?? 1) - 1
    if (n <= 0) this.perTenant.delete(c.principal.tenantId)
    else this.perTenant.set(c.principal.tenantId, n)
    this.deps.metrics?.clients(this.clients.size)
  }

  private error(c: Client, code: 'invalid_message' | 'not_found' | 'rate_limited', message: string, field?: string): void {
    this.direct(c, JSON.stringify({ type: 'error', code, message, ...(field ? { field } : {}) }))
  }

  /** A control message: goes out even to a slow client (it is small and rare). */
  private direct(c: Client, json: string): void {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(json)
  }

  private onMessage(c: Client, data: RawData, isBinary: boolean): void {
    if (isBinary) { this.error(c, 'invalid_message', 'send JSON text frames'); return }
    let raw: unknown
    try {
      raw = JSON.parse(data.toString())
    } catch {
      this.error(c, 'invalid_message', 'not valid JSON')
      return
    }
    const r = ClientMessageSchema.safeParse(raw)
    if (!r.success) {
      const i = r.error.issues[0]
      const path = i.code === 'unrecognized_keys' ? [...i.path, i.keys[0]].join('.') : i.path.join('.')
      this.error(c, 'invalid_message', `${path || '(message)'}: ${i.message}`, path || undefined)
      return
    }
    const m = r.data
    if (m.type === 'ping') { this.direct(c, JSON.stringify(m.id === undefined ? { type: 'pong' } : { type: 'pong', id: m.id })); return }
    if (m.type === 'unsubscribe') { this.leave(c); return }
    const wait = this.deps.rateLimit(c.principal)
    if (wait !== null) { this.deps.metrics?.rateLimited(); this.error(c, 'rate_limited', `rate limit exceeded; retry in ${wait} s`); return }
    if (m.filter.brandId !== undefined && !this.deps.ownsBrand(c.principal.tenantId, m.filter.brandId)) {
      this.error(c, 'not_found', `filter.brandId: brand "${m.filter.brandId}" not found`, 'filter.brandId')
      return
    }
    const sub: Sub = { streams: new Set(m.streams), filter: m.filter, batch: m.batch, watch: null }
    this.join(c, sub)
    this.corked = []
    try {
      this.replay(c, sub, m.resume)
    } finally {
      this.uncorkAll()
    }
  }

  private replay(c: Client, sub: Sub, resume: Extract<ClientMessage, { type: 'subscribe' }>['resume']): void {
    const replayed = { trends: 0, scores: 0, alerts: 0 }
    for (const s of STREAMS) {
      const point = resume?.[s]
      if (!point || !sub.streams.has(s)) continue
      const buf = this.buffers[s]
      let after = point.seq
      if (point.epoch !== buf.epoch) {
        this.direct(c, JSON.stringify({ type: 'gap', stream: s, reason: 'epoch', from: null, to: null, epoch: buf.epoch }))
        this.deps.metrics?.gap(s, 'epoch')
        after = 0
      } else if (after + 1 < buf.first || (buf.length === 0 && after < buf.last)) {
        const to = buf.length === 0 ? buf.last : buf.first - 1
        this.direct(c, JSON.stringify({ type: 'gap', stream: s, reason: 'evicted', from: after + 1, to, epoch: buf.epoch }))
        this.deps.metrics?.gap(s, 'evicted')
      }
      const missed: FeedEntry[] = []
      for (const e of buf.after(after)) if (this.matches(c.principal.tenantId, sub, e)) missed.push(e)
      if (sub.batch) { if (missed.length > 0) this.sendBatch(c, missed, this.batchFrames(missed)) } else for (const e of missed) this.send(c, e)
      replayed[s] = missed.length
      if (replayed[s] > 0) this.deps.metrics?.replayed(s, replayed[s])
    }
    this.direct(c, JSON.stringify({ type: 'subscribed', streams: [...sub.streams], filter: sub.filter, batch: sub.batch, replayed }))
  }

  private join(c: Client, sub: Sub): void {
    this.leave(c)
    const key = groupKey(c.principal.tenantId, sub)
    let g = this.groups.get(key)
    if (!g) this.groups.set(key, (g = { key, tenantId: c.principal.tenantId, sub, clients: new Set() }))
    g.clients.add(c)
    c.group = g
    c.sub = sub
  }

  private leave(c: Client): void {
    const g = c.group
    c.group = null
    c.sub = null
    if (!g) return
    g.clients.delete(c)
    if (g.clients.size === 0) this.groups.delete(g.key)
  }

  // --- publishing ---------------------------------------------------------------------------------

  /** Records from the bus: into the replay buffers and out to every matching client. Never blocks. */
  receive(records: readonly FeedRecord[]): void {
    const sent: Record<StreamName, number> = { trends: 0, scores: 0, alerts: 0 }
    this.corked = []
    try {
      this.fanOut(records, sent)
    } finally {
      this.uncorkAll()
    }
    for (const s of STREAMS) if (sent[s] > 0) this.deps.metrics?.sent(s, sent[s])
  }

  // One write per client per fan-out: each client's socket is corked at its first message of the
  // batch and uncorked after the last (benchmarks/e2e/ws-fanout.ts: 300 clients × 33 messages, the
  // send loop went from 76–128 ms to 8.5–14 ms).
  private corked: Client[] | null = null

  private uncorkAll(): void {
    const list = this.corked
    this.corked = null
    if (!list) return
    for (const c of list) {
      c.corkedBytes = -1
      rawSocket(c.ws)?.uncork()
    }
  }

  private fanOut(records: readonly FeedRecord[], sent: Record<StreamName, number>): void {
    // Runs of entries between gaps go out together (a gap notice must come between the messages
    // before and after it).
    let run: FeedEntry[] = []
    for (const r of records) {
      const buf = this.buffers[r.stream]
      if (r.epoch !== buf.epoch) {
        // The publisher restarted: its sequence numbers began again.
        const had = buf.length > 0 || buf.last > 0
        buf.reset(r.epoch)
        if (had) { this.deliver(run, sent); run = []; this.broadcastGap(r.stream, { reason: 'epoch', from: null, to: null }) }
      } else if (r.seq <= buf.last) {
        continue // already seen (a replay of the bus)
      } else if (buf.last > 0 && r.seq !== buf.last + 1) {
        this.deliver(run, sent)
        run = []
        this.broadcastGap(r.stream, { reason: 'evicted', from: buf.last + 1, to: r.seq - 1 })
      }
      const e = this.entry(r)
      if (!e) continue
      buf.push(e)
      run.push(e)
    }
    this.deliver(run, sent)
  }

  /** Entries (in sequence order per stream) to every group that matches them: matched and framed once per group. */
  private deliver(run: readonly FeedEntry[], sent: Record<StreamName, number>): void {
    if (run.length === 0) return
    for (const g of this.groups.values()) {
      const sub = g.sub
      const matched: FeedEntry[] = []
      const per = { trends: 0, scores: 0, alerts: 0 }
      for (const e of run) {
        if (!sub.streams.has(e.stream) || !this.matches(g.tenantId, sub, e)) continue
        matched.push(e)
        per[e.stream]++
      }
      if (matched.length === 0) continue
      const frames = sub.batch ? this.batchFrames(matched) : null
      for (const c of g.clients) {
        if (frames) this.sendBatch(c, matched, frames)
        else for (const e of matched) this.send(c, e)
      }
      for (const s of STREAMS) sent[s] += per[s] * g.clients.size
    }
  }

  /** `batch` frames of entries, at most maxBatchMessages each: the messages' own bytes, concatenated. */
  private batchFrames(entries: readonly FeedEntry[]): Buffer[] {
    const out: Buffer[] = []
    const max = this.opts.maxBatchMessages
    for (let i = 0; i < entries.length; i += max) {
      const n = Math.min(max, entries.length - i)
      const parts: Buffer[] = new Array(2 * n + 1)
      parts[0] = BATCH_HEAD
      for (let k = 0; k < n; k++) {
        if (k > 0) parts[2 * k] = BATCH_SEP
        parts[2 * k + 1] = entries[i + k].frame
      }
      parts[2 * n] = BATCH_TAIL
      out.push(Buffer.concat(parts))
    }
    return out
  }

  /** The bus lost records (e.g. a Redis backlog trimmed past this process's position). */
  gap(g: FeedGap): void {
    this.buffers[g.stream].reset(this.buffers[g.stream].epoch)
    this.broadcastGap(g.stream, { reason: 'evicted', from: g.from, to: g.to })
  }

  private broadcastGap(stream: StreamName, g: { reason: 'evicted' | 'epoch'; from: number | null; to: number | null }): void {
    const json = JSON.stringify({ type: 'gap', stream, reason: g.reason, from: g.from, to: g.to, epoch: this.buffers[stream].epoch })
    for (const c of this.clients) if (c.sub?.streams.has(stream)) this.direct(c, json)
    this.deps.metrics?.gap(stream, g.reason)
  }

  private entry(r: FeedRecord): FeedEntry | null {
    const frame = Buffer.from(`{"type":"${MESSAGE_TYPE[r.stream]}","stream":"${r.stream}","seq":${r.seq},"data":${JSON.stringify(r.data)}}`)
    const bytes = frame.length
    if (r.stream === 'trends') {
      const t = r.data as TrendSignal
      const ek = entityKey(t.entityType, t.entity)
      return { stream: r.stream, seq: r.seq, frame, bytes, platform: t.platform, entityType: t.entityType, entityKey: ek, score: t.score, brandId: null, tenantId: null, coalesceKey: `t|${t.entityType}|${t.platform}|${ek}` }
    }
    if (r.stream === 'scores') {
      const s = r.data as ViralityScore
      return { stream: r.stream, seq: r.seq, frame, bytes, platform: s.platform, entityType: null, entityKey: null, score: s.probTop1Pct, brandId: null, tenantId: null, coalesceKey: `s|${s.postId}` }
    }
    const a = r.data as BrandAlert
    return { stream: r.stream, seq: r.seq, frame, bytes, platform: null, entityType: null, entityKey: null, score: 0, brandId: a.brandId, tenantId: this.deps.brandTenant(a.brandId), coalesceKey: `a|${a.alertId}` }
  }

  private matches(tenantId: string, sub: Sub, e: FeedEntry): boolean {
    const f = sub.filter
    if (e.stream === 'alerts') return e.tenantId === tenantId && (f.brandId === undefined || f.brandId === e.brandId)
    if (f.platforms && !f.platforms.includes(e.platform as never)) return false
    if (e.stream === 'scores') return f.minProbability === undefined || e.score >= f.minProbability
    if (f.entityTypes && !f.entityTypes.includes(e.entityType as never)) return false
    if (f.minScore !== undefined && !(e.score >= f.minScore)) return false
    if (f.brandId !== undefined) {
      const w = this.watch(sub, f.brandId)
      if (e.entityType === 'hashtag') return w.hashtags.has(e.entityKey!)
      if (e.entityType === 'term') return w.terms.has(e.entityKey!)
      return false
    }
    return true
  }

  private watch(sub: Sub, brandId: string): NonNullable<Sub['watch']> {
    const v = this.deps.watchVersion()
    if (!sub.watch || sub.watch.version !== v) {
      const t = this.deps.watchTerms(brandId)
      sub.watch = { version: v, hashtags: new Set(t.hashtags.map((h) => entityKey('hashtag', h))), terms: new Set(t.keywords.map((k) => entityKey('term', k))) }
    }
    return sub.watch
  }

  // --- slow clients ---------------------------------------------------------------------------------

  /** One message to one client: written now, or held when the client is slow. */
  private send(c: Client, e: FeedEntry): void {
    if (c.ws.readyState !== WebSocket.OPEN || c.closing) return
    if (this.admit(c)) this.write(c, e.frame)
    else this.hold(c, [e])
  }

  /** A batch subscription's messages of one publish: its frames written now, or the messages held. */
  private sendBatch(c: Client, entries: readonly FeedEntry[], frames: readonly Buffer[]): void {
    if (c.ws.readyState !== WebSocket.OPEN || c.closing) return
    if (this.admit(c)) for (const f of frames) this.write(c, f)
    else this.hold(c, entries)
  }

  /** May the client be written to now? Turns it slow when its buffer (apart from this fan-out's own bytes) is over the soft limit. */
  private admit(c: Client): boolean {
    if (c.slowSince !== 0) return false
    const own = c.corkedBytes > 0 ? c.corkedBytes : 0
    if (c.ws.bufferedAmount - own <= this.opts.softBufferBytes) return true
    c.slowSince = Date.now()
    this.slow.add(c)
    this.stats.coalesced++
    this.deps.metrics?.slow('coalesced')
    if (!this.flusher) this.flusher = setInterval(() => this.flush(), this.opts.flushIntervalMs)
    return false
  }

  /** One text frame from a Buffer shared by every client it goes to; the socket is corked until the fan-out ends. */
  private write(c: Client, frame: Buffer): void {
    if (this.corked && c.corkedBytes < 0) {
      rawSocket(c.ws)?.cork()
      c.corkedBytes = 0
      this.corked.push(c)
    }
    c.ws.send(frame, TEXT)
    this.stats.frames++
    if (c.corkedBytes >= 0) c.corkedBytes += frame.length
  }

  private hold(c: Client, entries: readonly FeedEntry[]): void {
    for (const e of entries) {
      if (e.stream === 'alerts') c.heldAlerts.push(e)
      else {
        if (c.held.has(e.coalesceKey)) {
          c.dropped[e.stream as 'trends' | 'scores']++
          c.held.delete(e.coalesceKey)
        }
        c.held.set(e.coalesceKey, e)
      }
    }
    if (c.ws.bufferedAmount - Math.max(0, c.corkedBytes) > this.opts.hardBufferBytes) this.dropSlow(c, `send buffer over ${this.opts.hardBufferBytes} bytes`)
    else if (c.held.size + c.heldAlerts.length > this.opts.maxHeldMessages) this.dropSlow(c, `more than ${this.opts.maxHeldMessages} messages held`)
  }

  private flush(): void {
    const now = Date.now()
    for (const c of this.slow) {
      if (c.closing || c.ws.readyState !== WebSocket.OPEN) { this.slow.delete(c); continue }
      if (c.ws.bufferedAmount > this.opts.softBufferBytes / 2) {
        if (c.ws.bufferedAmount > this.opts.hardBufferBytes) this.dropSlow(c, `send buffer over ${this.opts.hardBufferBytes} bytes`)
        else if (now - c.slowSince > this.opts.maxSlowMs) this.dropSlow(c, `slow for more than ${this.opts.maxSlowMs} ms`)
        continue
      }
      // Caught up: what was held goes out, in sequence order per stream, alerts first.
      const socket = rawSocket(c.ws)
      socket?.cork()
      if (c.dropped.trends + c.dropped.scores > 0) c.ws.send(JSON.stringify({ type: 'coalesced', dropped: c.dropped }))
      const held = [...c.held.values()].sort((a, b) => (a.stream === b.stream ? a.seq - b.seq : a.stream < b.stream ? -1 : 1))
      const out = c.heldAlerts.length > 0 ? [...c.heldAlerts, ...held] : held
      if (c.sub?.batch) { if (out.length > 0) for (const f of this.batchFrames(out)) { c.ws.send(f, TEXT); this.stats.frames++ } }
      else for (const e of out) { c.ws.send(e.frame, TEXT); this.stats.frames++ }
      socket?.uncork()
      c.held.clear()
      c.heldAlerts = []
      c.dropped = { trends: 0, scores: 0 }
      c.slowSince = 0
      this.slow.delete(c)
    }
    if (this.slow.size === 0 && this.flusher) { clearInterval(this.flusher); this.flusher = null }
  }

  private dropSlow(c: Client, why: string): void {
    if (c.closing) return
    c.closing = true
    c.held.clear()
    c.heldAlerts = []
    this.slow.delete(c)
    this.stats.slowClosed++
    this.deps.metrics?.slow('closed')
    this.deps.log.warn({ client: c.id, tenant: c.principal.tenantId, why }, 'closing slow websocket client')
    c.ws.close(CLOSE_CODES.slowConsumer, `slow consumer: ${why}`.slice(0, 120))
    // The close frame queues behind the unsent data; a client that reads nothing never gets it.
    setTimeout(() => c.ws.terminate(), this.opts.closeGraceMs).unref()
  }

  // --- heartbeats, revocation, shutdown -------------------------------------------------------------

  private beat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        this.stats.deadTerminated++
        this.deps.metrics?.dead()
        this.deps.log.debug({ client: c.id }, 'websocket missed a heartbeat: terminated')
        c.ws.terminate()
        this.forget(c)
        continue
      }
      c.alive = false
      try { c.ws.ping() } catch { /* closing */ }
    }
  }

  /** Close connections whose key is no longer valid (after a revocation). */
  revalidate(): void {
    for (const c of this.clients) {
      if (!this.deps.keyActive(c.principal.keyId)) {
        c.closing = true
        c.ws.close(CLOSE_CODES.unauthorized, 'API key revoked')
        setTimeout(() => c.ws.terminate(), this.opts.closeGraceMs).unref()
      }
    }
  }

  streamRanges(): Record<StreamName, { epoch: string; first: number; last: number }> {
    const out = {} as Record<StreamName, { epoch: string; first: number; last: number }>
    for (const s of STREAMS) out[s] = { epoch: this.buffers[s].epoch, first: this.buffers[s].first, last: this.buffers[s].last }
    return out
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.heartbeat)
    if (this.flusher) clearInterval(this.flusher)
    const closing: Promise<void>[] = []
    for (const c of this.clients) {
      closing.push(new Promise((resolve) => {
        if (c.ws.readyState === WebSocket.CLOSED) return resolve()
        const t = setTimeout(() => { c.ws.terminate(); resolve() }, Math.min(this.opts.closeGraceMs, 1_000))
        c.ws.once('close', () => { clearTimeout(t); resolve() })
        c.ws.close(CLOSE_CODES.shutdown, 'server shutting down')
      }))
    }
    await Promise.all(closing)
    this.wss.close()
  }
}
