// Authentication and rate limits.
//
// A request presents its key as `Authorization: Bearer <key>` or `X-API-Key: <key>` (the WebSocket
// upgrade also accepts `?api_key=<key>`, since browsers cannot set headers there). Tenant keys are
// checked against the store (store.ts); the admin key comes from configuration (TRENDWIRE_ADMIN_KEY)
// and is compared in constant time through SHA-256 digests. No admin key configured: admin routes
// answer 401 to everyone.
//
// Rate limits: one token bucket per key (sinks/webhooks/token-bucket.ts), the tenant's own limit or
// the server default; every authenticated request and WebSocket subscribe spends a token. Responses
// carry the IETF draft headers (draft-ietf-httpapi-ratelimit-headers):
//   RateLimit-Limit      bucket capacity (the burst)
//   RateLimit-Remaining  whole tokens left
//   RateLimit-Reset      seconds until the bucket is full again
//   RateLimit-Policy     "<capacity>;w=<seconds to refill from empty>"
// and a 429 adds Retry-After (seconds until the next token). In-process: see docs/api.md for Redis.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Response } from 'express'
import { TokenBuckets, type BucketLimit, type TakeResult } from '../../sinks/webhooks/token-bucket.ts'
import type { Principal, TenantStore } from './store.ts'

export function presentedKey(req: IncomingMessage, allowQuery = false): string | null {
  const h = req.headers.authorization
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h)
    if (m) return m[1]
  }
  const x = req.headers['x-api-key']
  if (typeof x === 'string' && x.length > 0) return x.trim()
  if (allowQuery) {
    const q = new URL(req.url ?? '/', 'http://x').searchParams.get('api_key')
    if (q) return q
  }
  return null
}

const digest = (s: string) => createHash('sha256').update(s).digest()

export class Auth {
  private readonly admin: Buffer | null

  constructor(readonly store: TenantStore, adminKey: string | undefined) {
    this.admin = adminKey ? digest(adminKey) : null
  }

  get adminConfigured(): boolean {
    return this.admin !== null
  }

  tenant(req: IncomingMessage, allowQuery = false): Principal | null {
    const k = presentedKey(req, allowQuery)
    return k ? this.store.verifyKey(k) : null
  }

  isAdmin(req: IncomingMessage): boolean {
    const k = presentedKey(req)
    if (!k || !this.admin) return false
    return timingSafeEqual(digest(k), this.admin)
  }
}

export class RateLimiter {
  private readonly buckets: TokenBuckets

  constructor(readonly defaults: BucketLimit, private readonly now: () => number = Date.now) {
    this.buckets = new TokenBuckets(defaults)
  }

  take(key: string, limit: BucketLimit | null = null): TakeResult {
    return this.buckets.take(key, this.now(), limit ?? this.defaults)
  }

  static headers(res: Response, r: TakeResult, limit: BucketLimit): void {
    res.setHeader('RateLimit-Limit', String(r.limit))
    res.setHeader('RateLimit-Remaining', String(r.remaining))
    res.setHeader('RateLimit-Reset', String(r.resetSec))
    res.setHeader('RateLimit-Policy', `${limit.capacity};w=${Math.ceil(limit.capacity / limit.refillPerSec)}`)
    if (!r.allowed) res.setHeader('Retry-After', String(r.retryAfterSec))
  }
}
