// A real HTTP webhook receiver for tests, on 127.0.0.1 and an ephemeral port. Each request is
// verified (signature over the raw body) and answered by a scripted behaviour: fail with a status,
// hang (no answer: the sender times out), or accept. Accepted requests are de-duplicated by
// Idempotency-Key the way a real receiver should, and everything is recorded for assertions.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { verifySignature } from '../../sinks/webhooks/signature.ts'

export type Behaviour =
  | { kind: 'accept' }
  | { kind: 'fail'; status: number; retryAfter?: string }
  /** no answer: the sender times out */
  | { kind: 'hang' }
  /** processed, but the answer never leaves: the sender times out and retries a request that did succeed */
  | { kind: 'processThenHang' }

export interface ReceivedRequest {
  path: string
  key: string
  attempt: number
  body: string
  /** the Trendwire-Signature header as received */
  signature: string | undefined
  verified: boolean
  verifyError: string | null
  answered: number | 'hang'
  /** the receiver accepted (processed or recognised as a duplicate) this request */
  accepted: boolean
}

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = []
  /** Idempotency keys processed (first accepted delivery), in order. */
  readonly processed: string[] = []
  /** Accepted deliveries per key (a duplicate delivery counts again here, but is not processed twice). */
  readonly acceptedCount = new Map<string, number>()
  private server!: Server
  private sockets = new Set<Socket>()
  private listeners: Array<() => void> = []
  url = ''

  /** secret: verify every request with it (401 when it does not match); '' to skip verification */
  constructor(private readonly secret: string, private behave: (req: { path: string; n: number; key: string }) => Behaviour) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res))
    this.server.on('connection', (s) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)) })
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  setBehaviour(b: (req: { path: string; n: number; key: string }) => Behaviour): void {
    this.behave = b
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const key = String(req.headers['idempotency-key'] ?? '')
      const signature = req.headers['trendwire-signature'] as string | undefined
      // Without a secret the receiver does not verify (the test checks signatures itself).
      const v = this.secret ? verifySignature({ secret: this.secret, header: signature, body }) : { ok: true as const }
      const rec: ReceivedRequest = {
        path: req.url ?? '/', key, attempt: Number(req.headers['trendwire-attempt']), body, signature,
        verified: v.ok, verifyError: v.ok ? null : v.reason, answered: 'hang', accepted: false,
      }
      this.requests.push(rec)
      const b: Behaviour = v.ok ? this.behave({ path: rec.path, n: this.requests.length - 1, key }) : { kind: 'fail', status: 401 }
      if (b.kind === 'hang') { this.notify(); return }
      if (b.kind === 'processThenHang') {
        rec.accepted = true
        this.accept(key)
        this.notify()
        return
      }
      if (b.kind === 'fail') {
        rec.answered = b.status
        res.writeHead(b.status, b.retryAfter ? { 'retry-after': b.retryAfter } : {}).end('no')
      } else {
        rec.answered = 200
        rec.accepted = true
        this.accept(key)
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
      }
      this.notify()
    })
  }

  private accept(key: string): void {
    this.acceptedCount.set(key, (this.acceptedCount.get(key) ?? 0) + 1)
    if (this.acceptedCount.get(key) === 1) this.processed.push(key)
  }

  private notify(): void {
    for (const l of this.listeners) l()
  }

  /** Resolves when pred() holds (checked after every request), rejects after timeoutMs. */
  waitFor(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred()) return
        clearTimeout(timer)
        this.listeners = this.listeners.filter((l) => l !== check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== check)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      this.listeners.push(check)
    })
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** Resolves on the first `event` of `emitter` for which pred holds; rejects after timeoutMs. */
export function waitEvent<T>(emitter: NodeJS.EventEmitter, event: string, pred: (x: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const on = (x: T) => {
      if (!pred(x)) return
      clearTimeout(timer)
      emitter.off(event, on)
      resolve(x)
    }
    const timer = setTimeout(() => { emitter.off(event, on); reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`)) }, timeoutMs)
    emitter.on(event, on)
  })
}

/** Rejects if p has not settled within ms. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms) }),
  ])
}
