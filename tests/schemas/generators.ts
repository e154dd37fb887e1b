// Seeded generators of firehose events and output records for the schema tests. Deterministic: a
// failure reproduces from its seed. Values are chosen to round-trip exactly: strings are valid UTF-16
// (no lone surrogates), embeddings are float32 values, numbers are finite and never -0 (JSON has no -0).
import { ENGAGEMENT_TYPES, PLATFORMS, type CreatorUpdated, type Engagement, type FirehoseEvent, type PostPublished } from '../../schemas/events.ts'
import {
  ALERT_RULES, ENTITY_TYPES, LIFECYCLE_STAGES, SEVERITIES,
  type BrandAlert, type TrendSignal, type VideoFeatures, type ViralityScore,
} from '../../schemas/outputs.ts'
import { frame, type FirehoseCodec } from '../../schemas/codec.ts'
import { loadSchemaFiles } from '../../schemas/registry.ts'

/** mulberry32: small, fast, good enough to drive a fuzz test. */
export class Rng {
  private s: number
  constructor(seed: number) { this.s = seed >>> 0 }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)) }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.next() * xs.length)]! }
  bool(p = 0.5): boolean { return this.next() < p }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255)
    return b
  }
  /** Mostly ASCII, sometimes accents, CJK, emoji (astral, as surrogate pairs), never a lone surrogate. */
  str(maxLen = 12): string {
    const n = this.int(0, maxLen)
    let s = ''
    for (let i = 0; i < n; i++) {
      const r = this.next()
      const cp = r < 0.8 ? this.int(0x20, 0x7e) : r < 0.9 ? this.int(0xa0, 0x2ff) : r < 0.95 ? this.int(0x4e00, 0x9fff) : this.int(0x1f300, 0x1f64f)
      s += String.fromCodePoint(cp)
    }
    return s
  }
  double(scale = 1000): number {
    const x = (this.next() - 0.5) * 2 * scale
    return x === 0 ? 0 : x // never -0
  }
  nullable<T>(f: () => T, p = 0.5): T | null { return this.bool(p) ? f() : null }
}

export const NOW = Date.UTC(2025, 5, 1, 12, 0, 0)
export const MIN_TS = Date.UTC(2005, 0, 1)

export function time(r: Rng): number {
  // Mostly recent, sometimes right at the bounds the codec accepts (with the default 1 h skew).
  const x = r.next()
  if (x < 0.02) return MIN_TS
  if (x < 0.04) return NOW + 3_600_000
  return NOW - r.int(0, 30 * 86_400_000)
}

export function post(r: Rng): PostPublished {
  return {
    kind: 'post',
    postId: `p${r.int(0, 1e9)}${r.str(4)}`,
    platform: r.pick(PLATFORMS),
    creatorId: `c${r.int(0, 1e6)}`,
    creatorFollowers: r.int(0, 2 ** 40),
    postedAt: time(r),
    caption: r.str(60),
    hashtags: Array.from({ length: r.int(0, 6) }, () => r.str(10)),
    soundId: r.nullable(() => `s${r.int(0, 1e5)}`),
    durationSec: Math.abs(r.double(180)),
    language: r.pick(['en', 'pt-BR', 'ja', 'und']),
    embedding: r.nullable(() => Array.from({ length: r.int(0, 16) }, () => Math.fround(r.double(1))), 0.3),
  }
}

export function engagement(r: Rng): Engagement {
  const type = r.pick(ENGAGEMENT_TYPES)
  return {
    kind: 'engagement',
    postId: `p${r.int(0, 1e6)}`,
    platform: r.pick(PLATFORMS),
    type,
    at: time(r),
    watchTimeSec: type === 'view' ? Math.abs(r.double(60)) : null,
    commentText: type === 'comment' ? r.str(80) : null,
    userId: `u${r.int(0, 1e9)}`,
  }
}

export function creator(r: Rng): CreatorUpdated {
  return { kind: 'creator', creatorId: `c${r.int(0, 1e6)}`, platform: r.pick(PLATFORMS), followers: r.int(0, 2 ** 35), at: time(r), displayName: r.nullable(() => r.str(20)) }
}

export function event(r: Rng): FirehoseEvent {
  const x = r.next()
  return x < 0.15 ? post(r) : x < 0.9 ? engagement(r) : creator(r)
}

export function videoFeatures(r: Rng): VideoFeatures {
  const windowStart = time(r)
  return {
    postId: `p${r.int(0, 1e6)}`, platform: r.pick(PLATFORMS), windowStart, windowEnd: windowStart + 60_000, revision: r.int(0, 5),
    viewsPerMin: Math.abs(r.double()), likesPerMin: Math.abs(r.double()), sharesPerMin: Math.abs(r.double()),
    commentsPerMin: Math.abs(r.double()), savesPerMin: Math.abs(r.double()), velocity: Math.abs(r.double()), acceleration: r.double(),
    engagementRate: r.next(), shareRate: r.next(), avgWatchTimeSec: r.nullable(() => Math.abs(r.double(60))),
    completionRate: r.nullable(() => r.next()), ratioToCreatorBaseline: r.nullable(() => Math.abs(r.double(10))),
    minutesSincePosting: Math.abs(r.double(600)), creatorFollowers: r.int(0, 2 ** 35),
    hashtags: Array.from({ length: r.int(0, 4) }, () => r.str(8)), soundId: r.nullable(() => `s${r.int(0, 100)}`),
    language: 'en', captionLength: r.int(0, 2200),
    viewsSincePosting: r.nullable(() => r.int(0, 1e9)), engagementsSincePosting: r.nullable(() => r.int(0, 1e9)),
  }
}

export function viralityScore(r: Rng): ViralityScore {
  return {
    postId: `p${r.int(0, 1e6)}`, platform: r.pick(PLATFORMS), at: time(r), predictedFinalEngagement: Math.abs(r.double(1e6)),
    probTop1Pct: r.next(), modelVersion: `m-${r.int(0, 99)}`,
    topFeatures: Array.from({ length: r.int(0, 5) }, () => ({ name: r.pick(['velocity', 'shareRate', 'acceleration']), value: r.double(), contribution: r.double(1) })),
  }
}

export function trendSignal(r: Rng): TrendSignal {
  const windowStart = time(r)
  return {
    entityType: r.pick(ENTITY_TYPES), entity: r.str(12), platform: r.pick(PLATFORMS), windowStart, windowEnd: windowStart + 300_000,
    uses: r.int(0, 1e6), uniqueCreators: r.int(0, 1e5), totalEngagement: r.int(0, 1e9), growth: r.double(10), baseline: Math.abs(r.double()),
    observed: Math.abs(r.double()), deviation: r.double(5), score: r.double(), stage: r.pick(LIFECYCLE_STAGES),
    contributingPostIds: Array.from({ length: r.int(0, 5) }, () => `p${r.int(0, 1e6)}`), revision: r.int(0, 3),
  }
}

export function brandAlert(r: Rng): BrandAlert {
  return {
    alertId: `a${r.int(0, 1e9)}`, brandId: `b${r.int(0, 100)}`, rule: r.pick(ALERT_RULES), entity: r.str(10),
    postId: r.nullable(() => `p${r.int(0, 1e6)}`), severity: r.pick(SEVERITIES), reason: r.str(40), at: time(r),
  }
}

/** Zig-zag varint bytes of n (n a safe integer), as Avro writes ints and longs. */
export function varint(n: number): number[] {
  let u = n >= 0 ? n * 2 : -n * 2 - 1
  const out: number[] = []
  while (u >= 128) { out.push((u % 128) | 0x80); u = Math.floor(u / 128) }
  out.push(u)
  return out
}

/** One kind of bad input message and the dead-letter code the decoder must give it. */
export interface BadKind {
  kind: string
  code: string
  /** A fresh bad message; `topic` when not the Avro topic. */
  make(): { value: Buffer | Uint8Array | null; topic?: string }
}

export interface BadKindsContext {
  codec: FirehoseCodec
  /** the Avro firehose topic and a topic configured as JSON */
  avroTopic: string
  jsonTopic: string
  /** the codec's maxMessageBytes and maxFutureSkewMs (oversized and far-future cases exceed them) */
  maxBytes: number
  skewMs: number
  /** most bytes an oversized message exceeds maxBytes by (a broker's log may be small) */
  oversizeBy?: number
  /** the codec's clock (NOW unless given) */
  now?: number
}

/**
 * Every kind of bad firehose message the decoder must dead-letter (issue 3: malformed bytes, unknown
 * schema id, a record that does not match its schema, missing required fields, absurd timestamps,
 * oversized messages), each bad by construction. Shared by the decoder's fuzz test and the Kafka
 * dead-letter end-to-end test.
 */
export function badKinds(r: Rng, c: BadKindsContext): BadKind[] {
  const { codec, avroTopic: FH, jsonTopic: JS, maxBytes, skewMs } = c
  const now = c.now ?? NOW
  const over = c.oversizeBy ?? maxBytes
  const files = new Map(loadSchemaFiles().map((f) => [f.file, f]))
  const knownIds = new Set([...files.values()].map((f) => f.id))
  const good = () => codec.encode(event(r), FH)
  const withTime = (e: FirehoseEvent, t: number): FirehoseEvent => (e.kind === 'post' ? { ...e, postedAt: t } : { ...e, at: t })
  const either = () => (r.bool() ? FH : JS)
  return [
    { kind: 'null value', code: 'INPUT_MALFORMED', make: () => ({ value: null, topic: either() }) },
    { kind: 'short header', code: 'INPUT_MALFORMED', make: () => { const b = r.bytes(r.int(1, 4)); if (r.bool()) b[0] = 0; return { value: b } } },
    { kind: 'bad magic', code: 'INPUT_MALFORMED', make: () => { const b = Buffer.from(good()); b[0] = r.int(1, 255); return { value: b } } },
    // A strict prefix of a valid body: Avro is prefix-free, so the walk always runs out of bytes.
    { kind: 'truncated', code: 'INPUT_MALFORMED', make: () => { const b = good(); return { value: b.subarray(0, r.int(5, b.length - 1)) } } },
    { kind: 'trailing garbage', code: 'INPUT_MALFORMED', make: () => ({ value: Buffer.concat([good(), r.bytes(r.int(1, 16))]) }) },
    {
      kind: 'unknown schema id', code: 'INPUT_UNKNOWN_SCHEMA', make: () => {
        const b = Buffer.from(good())
        let id: number
        do { id = r.bool(0.5) ? r.int(-(2 ** 31), 2 ** 31 - 1) : r.int(0, 200) } while (knownIds.has(id))
        b.writeInt32BE(id, 1)
        return { value: b }
      },
    },
    {
      kind: 'record does not match its schema', code: 'INPUT_SCHEMA_MISMATCH', make: () => {
        const x = r.int(0, 3)
        if (x === 0) {
          // Union branch out of range: the first field of every firehose schema is not a union, so
          // byte 5 is the start of the body; odd or >2 indexes break the type walk.
          const b = Buffer.from(good())
          b[5] = r.bool() ? r.int(3, 63) * 2 : r.int(0, 63) * 2 + 1
          return { value: b }
        }
        if (x === 1) {
          // Enum index out of range: Engagement.platform (3 symbols), right after postId.
          const e = engagement(r)
          const b = Buffer.from(codec.encode(e, FH))
          b[6 + 1 + Buffer.byteLength(e.postId)] = r.int(3, 63) * 2
          return { value: b }
        }
        if (x === 2) {
          // A valid record of a known schema that is not a firehose event.
          const f = r.bool() ? files.get('VideoFeatures.avsc')! : files.get('BrandAlert.avsc')!
          return { value: frame(f.id, f.type.toBuffer(f.file === 'BrandAlert.avsc' ? brandAlert(r) : videoFeatures(r))) }
        }
        // A long beyond 2^52 in Engagement.at.
        const e = engagement(r)
        const t = files.get('Engagement.avsc')!
        const big = r.bool() ? 2 ** 52 + r.int(0, 1e6) : -(2 ** 52) - r.int(1, 1e6)
        const head = Buffer.from([0, 0, 0, 0, t.id, ...varint(Buffer.byteLength(e.postId)), ...Buffer.from(e.postId), 0, 0])
        return { value: Buffer.concat([head, Buffer.from(varint(big)), Buffer.from([0, 2, 0x61, 0])]) }
      },
    },
    {
      kind: 'absurd timestamp', code: 'INPUT_BAD_TIMESTAMP', make: () => {
        const topic = r.bool(0.7) ? FH : JS
        const t = r.bool() ? r.int(-(2 ** 50), MIN_TS - 1) : r.int(now + skewMs + 1, 2 ** 50)
        return { value: codec.encode(withTime(event(r), t), topic), topic }
      },
    },
    {
      kind: 'oversized', code: 'INPUT_OVERSIZED', make: () => {
        if (r.bool()) return { value: r.bytes(r.int(maxBytes + 1, maxBytes + over)), topic: either() }
        return { value: codec.encode({ ...post(r), caption: 'x'.repeat(maxBytes) }, FH) }
      },
    },
    {
      kind: 'JSON missing or wrong field', code: 'INPUT_SCHEMA_MISMATCH', make: () => {
        const e = event(r) as unknown as Record<string, unknown>
        const required = Object.keys(e).filter((k) => !['soundId', 'embedding', 'watchTimeSec', 'commentText', 'displayName'].includes(k))
        const k = r.pick(required)
        if (r.bool()) delete e[k]
        // Values no required field accepts (a string or a number would be valid for some of them).
        else e[k] = r.pick([{}, true, null])
        return { value: Buffer.from(JSON.stringify(e)), topic: JS }
      },
    },
    {
      kind: 'JSON syntax', code: 'INPUT_MALFORMED', make: () => {
        const s = JSON.stringify(event(r))
        // A strict prefix of a JSON object is never valid JSON; neither is Avro on a JSON topic.
        return { value: r.bool() ? Buffer.from(s.slice(0, r.int(0, s.length - 1))) : good(), topic: JS }
      },
    },
    {
      kind: 'hostile block count', code: 'INPUT_MALFORMED', make: () => {
        // PostPublished.hashtags claiming far more items than bytes left.
        const p = post(r)
        const n = r.int(100, 2 ** 50)
        const head = Buffer.concat([
          Buffer.from(varint(Buffer.byteLength(p.postId))), Buffer.from(p.postId), Buffer.from([0]),
          Buffer.from(varint(Buffer.byteLength(p.creatorId))), Buffer.from(p.creatorId),
          Buffer.from(varint(p.creatorFollowers)), Buffer.from(varint(p.postedAt)), Buffer.from([0]),
        ])
        return { value: Buffer.concat([Buffer.from([0, 0, 0, 0, 1, 0]), head, Buffer.from(varint(r.bool() ? n : -n)), r.bytes(r.int(0, 40))]) }
      },
    },
  ]
}
