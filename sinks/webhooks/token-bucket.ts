// Token buckets keyed by a string (per API key, per brand). Time is passed in, so the arithmetic is
// testable without clocks. A bucket holds up to `capacity` tokens and gains `refillPerSec` a second;
// a request spends one. Buckets that are full are forgotten (they carry no information), which
// bounds memory by the keys active within capacity / refillPerSec seconds.
//
// In one process only. Several API processes each enforce the limit on their own; sharing it needs
// the same arithmetic in a Redis script (read tokens and timestamp, refill, spend, write back with a
// TTL) keyed by the API key — see docs/api.md.

export interface BucketLimit {
  capacity: number
  refillPerSec: number
}

export interface TakeResult {
  allowed: boolean
  limit: number
  /** whole tokens left after this request */
  remaining: number
  /** seconds until the bucket is full again */
  resetSec: number
  /** seconds until the next token, when refused (else 0) */
  retryAfterSec: number
}

interface Bucket { tokens: number; at: number; limit: BucketLimit }

export class TokenBuckets {
  private buckets = new Map<string, Bucket>()

  constructor(private readonly defaults: BucketLimit, private readonly maxIdleKeys = 100_000) {}

  /** Spend `cost` tokens of `key`'s bucket at time `nowMs`, if it has them. */
  take(key: string, nowMs: number, limit: BucketLimit = this.defaults, cost = 1): TakeResult {
    let b = this.buckets.get(key)
    if (!b || b.limit.capacity !== limit.capacity || b.limit.refillPerSec !== limit.refillPerSec) {
      b = { tokens: limit.capacity, at: nowMs, limit }
      this.buckets.set(key, b)
      if (this.buckets.size > this.maxIdleKeys) this.sweep(nowMs)
    } else {
      b.tokens = Math.min(limit.capacity, b.tokens + ((nowMs - b.at) / 1000) * limit.refillPerSec)
      b.at = nowMs
    }
    const allowed = b.tokens >= cost
    if (allowed) b.tokens -= cost
    const missing = limit.capacity - b.tokens
    return {
      allowed,
      limit: limit.capacity,
      remaining: Math.floor(b.tokens),
      resetSec: Math.ceil(missing / limit.refillPerSec),
      retryAfterSec: allowed ? 0 : Math.max(1, Math.ceil((cost - b.tokens) / limit.refillPerSec)),
    }
  }

  /** Milliseconds until `key` has `cost` tokens (0 if it has them now). Does not spend. */
  waitMs(key: string, nowMs: number, limit: BucketLimit = this.defaults, cost = 1): number {
    const b = this.buckets.get(key)
    if (!b) return 0
    const tokens = Math.min(limit.capacity, b.tokens + ((nowMs - b.at) / 1000) * limit.refillPerSec)
    return tokens >= cost ? 0 : Math.ceil(((cost - tokens) / limit.refillPerSec) * 1000)
  }

  private sweep(nowMs: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((nowMs - b.at) / 1000) * b.limit.refillPerSec >= b.limit.capacity) this.buckets.delete(k)
    }
  }

  get size(): number {
    return this.buckets.size
  }
}
