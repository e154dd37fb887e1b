// What a record becomes in Redis: its idempotent state writes (scripts.ts) and its fan-out payload.
// One format per output type the API serves: trends (TrendSignal), scores (ViralityScore), alerts
// (BrandAlert). Key layout: keys.ts.
import type { BrandAlert, TrendSignal, ViralityScore } from '../../schemas/outputs.ts'
import type { RedisKeys } from './keys.ts'
import type { RedisOp } from './scripts.ts'

export interface RedisTtls {
  /** Trend entity hashes (latest signal, lifecycle). */
  trendMs: number
  /** Per-window rankings and the latest-window pointers. */
  windowMs: number
  /** Latest score per post. */
  scoreMs: number
  /** Alerts and per-brand alert lists. */
  alertMs: number
}

export interface FormatContext {
  readonly keys: RedisKeys
  readonly ttl: RedisTtls
  readonly alertsPerBrand: number
}

export interface RedisStateFormat<T> {
  /** The fan-out message type (field `t` of each stream entry). */
  readonly type: string
  /** Appends the record's state writes to `out`; `json` is JSON.stringify(r), computed once per record (it is also the fan-out payload). */
  state(r: T, json: string, ctx: FormatContext, out: RedisOp[]): void
  /** Writes that must follow a whole write() batch (e.g. publishing a window once all its rows are in). */
  finish?(ctx: FormatContext, out: RedisOp[]): void
}

/**
 * Trends: the latest signal and lifecycle per (platform, entity), a ranking per closed window, and a
 * forward-only pointer to the newest window per (platform, entityType). The pointer moves in finish(),
 * after every row of the batch that closed the window, so a reader following it sees a full ranking.
 */
export function trendStateFormat(): RedisStateFormat<TrendSignal> {
  // (platform, entityType) → newest windowEnd seen in the current batch
  const newest = new Map<string, { platform: string; entityType: string; windowEnd: number }>()
  return {
    type: 'trend',
    state(r, json, ctx, out) {
      const k = ctx.keys
      out.push({
        script: 'twTrend',
        keys: [k.trend(r.platform, r.entityType, r.entity), k.trendWindow(r.platform, r.entityType, r.windowEnd), k.trendWindowRevisions(r.platform, r.entityType, r.windowEnd)],
        args: [r.windowEnd, r.revision, r.score, r.entity, json, r.stage, r.windowStart, ctx.ttl.trendMs, ctx.ttl.windowMs],
      })
      const id = r.platform + '\u0000' + r.entityType
      const cur = newest.get(id)
      if (!cur) newest.set(id, { platform: r.platform, entityType: r.entityType, windowEnd: r.windowEnd })
      else if (r.windowEnd > cur.windowEnd) cur.windowEnd = r.windowEnd
    },
    finish(ctx, out) {
      for (const n of newest.values()) out.push({ script: 'twForward', keys: [ctx.keys.trendLatest(n.platform, n.entityType)], args: [n.windowEnd, ctx.ttl.windowMs] })
      newest.clear()
    },
  }
}

/** Scores: the newest prediction per post (by event time `at`). */
export function scoreStateFormat(): RedisStateFormat<ViralityScore> {
  return {
    type: 'score',
    state(r, json, ctx, out) {
      out.push({ script: 'twScore', keys: [ctx.keys.score(r.postId)], args: [r.at, json, ctx.ttl.scoreMs] })
    },
  }
}

/** Alerts: each alert by id, and the newest `alertsPerBrand` per brand. */
export function alertStateFormat(): RedisStateFormat<BrandAlert> {
  return {
    type: 'alert',
    state(r, json, ctx, out) {
      out.push({ script: 'twAlert', keys: [ctx.keys.alert(r.alertId), ctx.keys.brandAlerts(r.brandId)], args: [r.alertId, r.at, json, ctx.ttl.alertMs, ctx.alertsPerBrand] })
    },
  }
}
