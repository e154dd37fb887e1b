// Webhook signatures. Every delivery carries
//
//   Trendwire-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>
//
// where body is the exact bytes of the request body (the same scheme as Stripe's; the timestamp is
// inside the MAC so an old request cannot be replayed with a fresh timestamp). A receiver recomputes
// the MAC over the raw body, compares in constant time, and rejects timestamps outside its replay
// window (default 5 minutes); de-duplicating on Idempotency-Key makes a replay inside the window
// harmless too. During a secret rotation a header may carry several v1= entries; any match passes.
import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'trendwire-signature'

export function signPayload(secret: string, timestampSec: number, body: string | Buffer): string {
  const mac = createHmac('sha256', secret).update(`${timestampSec}.`).update(body).digest('hex')
  return `t=${timestampSec},v1=${mac}`
}

export interface VerifyOptions {
  secret: string
  /** the Trendwire-Signature header */
  header: string | undefined
  /** the raw body, exactly as received */
  body: string | Buffer
  /** replay window, seconds (default 300) */
  toleranceSec?: number
  /** current time, seconds (default: now) */
  nowSec?: number
}

export type VerifyResult = { ok: true; timestampSec: number } | { ok: false; reason: string }

export function verifySignature(o: VerifyOptions): VerifyResult {
  if (!o.header) return { ok: false, reason: 'missing signature header' }
  let t = NaN
  const macs: string[] = []
  for (const part of o.header.split(',')) {
    const i = part.indexOf('=')
    const k = part.slice(0, i).trim()
    const v = part.slice(i + 1).trim()
    if (k === 't') t = Number(v)
    else if (k === 'v1') macs.push(v)
  }
  if (!Number.isInteger(t)) return { ok: false, reason: 'no timestamp in signature header' }
  const now = o.nowSec ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - t) > (o.toleranceSec ?? 300)) return { ok: false, reason: 'timestamp outside the replay window' }
  const expected = Buffer.from(createHmac('sha256', o.secret).update(`${t}.`).update(o.body).digest('hex'), 'utf8')
  for (const m of macs) {
    const got = Buffer.from(m, 'utf8')
    if (got.length === expected.length && timingSafeEqual(got, expected)) return { ok: true, timestampSec: t }
  }
  return { ok: false, reason: 'signature mismatch' }
}
