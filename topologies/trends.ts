// Topology: trend detection over hashtags, sounds and caption terms. Wiring only; the logic lives
// in operators/ (text, sketches, trends) and the runtime in streams/.
//
//   firehose ─┬─ posts ── post-entities (extract + normalise) ── table posts-by-id ───────────────┐
//             └─ posts + engagements ── join post ── entity hits ── admission (count-min +       │
//                  Space-Saving: only tracked entities pass) ── keyBy entity ── tumbling window ◄┘
//                  (uses, distinct creators via HyperLogLog, engagement, top posts)
//                     ├─ platform totals ── keyBy platform ── volume + warm-up ── table volume ─┐
//                     └─ entity windows ── join volume ◄─────────────────────────────────────────┘
//                          ── keyBy entity ── detector core (Poisson, CUSUM) + lifecycle ── TrendSignal ── signals sink
//   records beyond the allowed lateness of the window → late sink
//
// Why the totals travel with the entities: the detector (the detector core of operators/anomaly in
// its count configuration, operators/trends/detector.ts) expects an entity to take its usual share of
// its platform's posts (the exposure), so each entity window needs the platform's post count for
// the same window. Totals are hits on a reserved key that bypasses admission and are aggregated by
// the same window operator, so they come out in the same batch as the entity windows; the volume
// branch is declared first, so its table holds the window's total before the entity join reads it.
//
// Scope: 'platform' (default) tracks each (platform, entity) separately, as TrendSignal.platform
// describes. 'all' pools platforms into one key per entity — more uses per window, so earlier and
// surer detection (benchmarks/trends/README.md) — and reports as `platform` the platform with the
// most uses in the window (the previous signal's platform for windows without uses).
import { z } from 'zod'
import { PLATFORMS, type Engagement, type FirehoseEvent, type Platform, type PostPublished } from '../schemas/events.ts'
import type { EntityType, TrendSignal } from '../schemas/outputs.ts'
import { parseOptions } from '../streams/config.ts'
import { Topology } from '../streams/topology.ts'
import type { Sink, Source } from '../streams/types.ts'
import { LATE, tumbling, type LateRecord } from '../streams/windows.ts'
import { admissionOptionsSchema } from '../operators/sketches/admission.ts'
import { extractEntities } from '../operators/text.ts'
import { AdmissionOperator } from '../operators/trends/admission.ts'
import { countDetectorOptionsSchema } from '../operators/trends/detector.ts'
import { ALL_PLATFORMS, entityKey, isTotalKey, keyPlatform, totalKey } from '../operators/trends/keys.ts'
import { lifecycleOptionsSchema } from '../operators/trends/lifecycle.ts'
import { entityTrends, platformVolume, volumeRowId, type EntityWindow, type VolumeRow } from '../operators/trends/process.ts'
import { ENGAGEMENT, entityWindowStats, USE, type EntityHit } from '../operators/trends/stats.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

export const trendsOptionsSchema = z.strictObject({
  /** Tumbling window of the per-entity statistics (and of the detector's series). */
  windowMs: z.number().int().positive().default(MINUTE),
  outOfOrdernessMs: z.number().int().min(0).default(5_000),
  idleTimeoutMs: z.number().int().min(0).default(0),
  /** Corrections of a fired window are accepted this long; later records go to the late sink. */
  allowedLatenessMs: z.number().int().min(0).default(MINUTE),
  /** How long an engagement waits for its post to arrive. */
  joinWaitMs: z.number().int().min(0).default(2 * MINUTE),
  /** Posts are remembered (for joining engagements to their entities) this long after publication... */
  postTtlMs: z.number().int().positive().default(24 * HOUR),
  /** ...and at most this many. */
  maxPosts: z.number().int().positive().default(2_000_000),
  /** 'platform': one entity per (platform, entity); 'all': platforms pooled (see the header). */
  scope: z.enum(['platform', 'all']).default('platform'),
  entityTypes: z.array(z.enum(['hashtag', 'sound', 'term'])).min(1).default(['hashtag', 'sound', 'term']),
  /** Caption terms kept per post. */
  maxTermsPerPost: z.number().int().min(0).default(16),
  /** Event time after the job's first window during which nothing fires (baselines are learned). */
  warmupMs: z.number().int().min(0).default(30 * MINUTE),
  /** An entity's detector state is dropped after this long without a window (it restarts from the prior). */
  entityTtlMs: z.number().int().positive().default(24 * HOUR),
  /** Bound on entities with detector state (least recently updated evicted); default 2 × admission capacity. */
  maxEntities: z.number().int().positive().optional(),
  /** HyperLogLog precision of the distinct-creator count per window. */
  hllPrecision: z.number().int().min(4).max(16).default(12),
  /** Contributing posts per signal. */
  topPosts: z.number().int().min(0).max(100).default(5),
  admission: admissionOptionsSchema.prefault({}),
  detector: countDetectorOptionsSchema.prefault({}),
  lifecycle: lifecycleOptionsSchema.prefault({}),
})
export type TrendsOptionsInput = z.input<typeof trendsOptionsSchema>
export type TrendsOptions = z.output<typeof trendsOptionsSchema>

export interface TrendsSinks {
  signals: Sink<TrendSignal>
  late: Sink<LateRecord<unknown>>
}

/** What the posts table keeps per post: enough to attribute engagement to entities. */
interface PostRow {
  postId: string
  platform: number
  /** Entity keys of the post. */
  keys: string[]
}

interface Joined {
  e: PostPublished | Engagement
  row: PostRow | undefined
}

const isPostOrEngagement = (e: FirehoseEvent): e is PostPublished | Engagement => e.kind === 'post' || e.kind === 'engagement'
const isPost = (e: FirehoseEvent): e is PostPublished => e.kind === 'post'

export function trendsTopology(source: Source<FirehoseEvent>, sinks: TrendsSinks, options: TrendsOptionsInput = {}): Topology {
  const o = parseOptions('trends topology', trendsOptionsSchema, options)
  const W = o.windowMs
  const pooled = o.scope === 'all'
  const want = new Set<EntityType>(o.entityTypes)
  const platformIndex = new Map<Platform, number>(PLATFORMS.map((p, i) => [p, i]))
  const t = new Topology('trends')
  const events = t.from(source, { outOfOrdernessMs: o.outOfOrdernessMs, idleTimeoutMs: o.idleTimeoutMs })

  const postsById = events
    .filter('trend-posts', isPost)
    .map<PostRow>('trend-post-entities', (p) => {
      const ent = extractEntities(p, { maxTerms: o.maxTermsPerPost })
      const plat = pooled ? ALL_PLATFORMS : p.platform
      const keys: string[] = []
      if (want.has('hashtag')) for (const h of ent.hashtags) keys.push(entityKey(plat, 'hashtag', h))
      if (want.has('sound') && ent.sound) keys.push(entityKey(plat, 'sound', ent.sound))
      if (want.has('term')) for (const w of ent.terms) keys.push(entityKey(plat, 'term', w))
      return { postId: p.postId, platform: platformIndex.get(p.platform) ?? 0, keys }
    })
    .asTable('trend-posts-by-id', (r) => r.postId, { ttlMs: o.postTtlMs, maxKeys: o.maxPosts, bytesPerValue: 160 })

  const windows = events
    .filter('trend-posts-and-engagements', isPostOrEngagement)
    .join('trend-event-post', postsById, (e) => e.postId, (e, row): Joined => ({ e, row }), { waitMs: o.joinWaitMs })
    .flatMap<EntityHit>('trend-entity-hits', (j, time, out) => {
      const row = j.row
      if (row === undefined) return // engagement whose post never arrived (counted by the join)
      if (j.e.kind === 'post') {
        const creatorId = j.e.creatorId
        out.emit({ key: totalKey(pooled ? ALL_PLATFORMS : j.e.platform), kind: USE, postId: row.postId, creatorId, platform: row.platform }, time)
        for (const key of row.keys) out.emit({ key, kind: USE, postId: row.postId, creatorId, platform: row.platform }, time)
      } else {
        for (const key of row.keys) out.emit({ key, kind: ENGAGEMENT, postId: row.postId, creatorId: '', platform: row.platform }, time)
      }
    })
    .process(new AdmissionOperator('trend-admission', o.admission))
    .keyBy((h) => h.key)
    .window(tumbling(W))
    .aggregate('trend-entity-windows', entityWindowStats({ hllPrecision: o.hllPrecision, topPosts: o.topPosts }), { allowedLatenessMs: o.allowedLatenessMs })
  windows.side<LateRecord<unknown>>(LATE).to(sinks.late)

  // declared before the entity join: within a batch the volume table is updated first
  const volume = windows
    .filter('trend-platform-totals', (r) => isTotalKey(r.key))
    .keyBy((r) => keyPlatform(r.key))
    .process('trend-platform-volume', platformVolume(o.warmupMs), { ttlMs: 0 })
    .asTable('trend-volume-by-window', (v: VolumeRow) => v.id, { ttlMs: o.allowedLatenessMs + 10 * W, bytesPerValue: 64 })

  windows
    .filter('trend-entity-windows-only', (r) => !isTotalKey(r.key))
    .join('trend-entity-volume', volume, (r) => volumeRowId(keyPlatform(r.key), r.end),
      (r, v): EntityWindow => ({ r, total: v?.total, warmingUp: v?.warmingUp ?? false }))
    .keyBy((w) => w.r.key)
    .process('trend-entities', entityTrends({ params: { windowMs: W, detector: o.detector, lifecycle: o.lifecycle } }),
      { ttlMs: o.entityTtlMs, maxKeys: o.maxEntities ?? 2 * o.admission.capacity, bytesPerValue: 470 })
    .to(sinks.signals)
  return t
}
