// Test helpers for the API server: a server on an ephemeral port with its own in-memory store,
// tenants created through the admin API, a small HTTP client, and a WebSocket client that queues
// messages and waits for them (with timeouts, never sleeps).
import pino from 'pino'
import { WebSocket } from 'ws'
import { createTrendwireApi, type RunningApi, type TrendwireApi, type TrendwireApiOptions } from '../../server/api/index.ts'
import { ServerMessageSchema } from '../../schemas/api/ws.ts'
import type { Runner } from '../../streams/runner.ts'

export const ADMIN = 'admin-key-for-tests'
export const quiet = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })

export interface TestServer {
  api: TrendwireApi
  http: RunningApi
  url: string
  wsUrl: string
  close(): Promise<void>
}

export async function startServer(o: TrendwireApiOptions = {}, runners: Runner[] = []): Promise<TestServer> {
  const api = createTrendwireApi({ adminKey: ADMIN, logger: quiet, ...o })
  const http = await api.listen({ port: 0, runners })
  return {
    api, http, url: http.url, wsUrl: http.wsUrl,
    async close() {
      await http.close()
      await api.close()
    },
  }
}

export interface Res<T = any> {
  status: number
  body: T
  headers: Headers
}

export async function call<T = any>(url: string, method: string, path: string, key: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<Res<T>> {
  const h: Record<string, string> = { ...headers }
  if (key) h.authorization = `Bearer ${key}`
  if (body !== undefined) h['content-type'] = 'application/json'
  const r = await fetch(url + path, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(10_000) })
  const text = await r.text()
  let parsed: unknown = text
  try { parsed = text ? JSON.parse(text) : null } catch { /* not JSON */ }
  return { status: r.status, body: parsed as T, headers: r.headers }
}

/** A tenant made through the admin API: its id and key. */
export async function tenant(s: TestServer, name: string, rateLimit?: { capacity: number; refillPerSec: number }): Promise<{ id: string; key: string }> {
  const r = await call(s.url, 'POST', '/api/admin/tenants', ADMIN, { name, kind: 'brand', ...(rateLimit ? { rateLimit } : {}) })
  if (r.status !== 201) throw new Error(`tenant creation: ${r.status} ${JSON.stringify(r.body)}`)
  return { id: r.body.tenant.id, key: r.body.apiKey.key }
}

/** Resolves when cond() holds, checking on every turn of the event loop; rejects after timeoutMs. */
export async function until(cond: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setImmediate(r))
  }
}

export class FeedClient {
  readonly ws: WebSocket
  readonly messages: any[] = []
  private cursor = 0
  private waiters: Array<() => void> = []
  closed: { code: number; reason: string } | null = null
  /** the type of every frame received, in order ("batch:<n>" for a batch of n messages) */
  readonly frames: string[] = []
  /** every frame is checked against the protocol's schema; violations collect here */
  readonly invalid: unknown[] = []

  constructor(url: string, key: string | null, opts: { autoPong?: boolean; query?: boolean } = {}) {
    const headers: Record<string, string> = {}
    let u = url
    if (key && opts.query) u += `?api_key=${encodeURIComponent(key)}`
    else if (key) headers.authorization = `Bearer ${key}`
    this.ws = new WebSocket(u, { headers, autoPong: opts.autoPong ?? true })
    this.ws.on('message', (d) => {
      const m = JSON.parse(String(d))
      if (!ServerMessageSchema.safeParse(m).success) this.invalid.push(m)
      this.frames.push(m.type === 'batch' ? `batch:${m.messages?.length}` : m.type)
      // a batch frame's messages are taken one by one, like unbatched ones
      if (m.type === 'batch' && Array.isArray(m.messages)) this.messages.push(...m.messages)
      else this.messages.push(m)
      this.wake()
    })
    this.ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; this.wake() })
    this.ws.on('error', () => this.wake())
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  opened(timeoutMs = 5_000): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('websocket did not open')), timeoutMs)
      this.ws.once('open', () => { clearTimeout(t); resolve() })
      this.ws.once('unexpected-response', (_req, res) => { clearTimeout(t); reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })) })
      this.ws.once('error', (e) => { clearTimeout(t); reject(e) })
    })
  }

  send(m: unknown): void {
    this.ws.send(JSON.stringify(m))
  }

  /** The next message (after the ones already taken) that satisfies pred; earlier ones are skipped. */
  async next(pred: (m: any) => boolean = () => true, timeoutMs = 5_000, what = 'message'): Promise<any> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      while (this.cursor < this.messages.length) {
        const m = this.messages[this.cursor++]
        if (pred(m)) return m
      }
      if (this.closed) throw new Error(`connection closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  /** Resolves when the connection is closed. */
  async whenClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs
    while (!this.closed) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('timed out waiting for close')
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
    return this.closed
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate()
  }
}
