// Reads the state RedisStateSink keeps (key layout: keys.ts), for the API and the tests.
import type { Redis } from 'ioredis'
import type { Platform } from '../../schemas/events.ts'
import type { BrandAlert, EntityType, LifecycleStage, TrendSignal, ViralityScore } from '../../schemas/outputs.ts'
import { ENTITY_TYPES, LIFECYCLE_STAGES } from '../../schemas/outputs.ts'
import { RedisKeys } from './keys.ts'

export interface TopTrend {
  entityType: EntityType
  entity: string
  score: number
}

export interface TrendLifecycle {
  /** The newest signal of the trend on that platform. */
  latest: TrendSignal
  stage: LifecycleStage
  /** windowStart of the first window of the current stage run. */
  stageSince: number
  /** windowStart of the first window each stage was seen in (while the key lived). */
  firstSeen: Partial<Record<LifecycleStage, number>>
}

export class RedisStateReader {
  readonly keys: RedisKeys
  constructor(private readonly redis: Redis, prefix = 'tw:') {
    this.keys = new RedisKeys(prefix)
  }

  /** windowEnd of the newest complete window for (platform, entityType), or null. */
  async latestWindow(platform: Platform, entityType: EntityType): Promise<number | null> {
    const v = await this.redis.get(this.keys.trendLatest(platform, entityType))
    return v === null ? null : Number(v)
  }

  /**
   * Top trends of the newest complete window on a platform, highest score first. Without an entity
   * type, each type's newest window is ranked together.
   */
  async topTrends(platform: Platform, opts: { n?: number; entityType?: EntityType } = {}): Promise<TopTrend[]> {
    const n = opts.n ?? 10
    const types = opts.entityType ? [opts.entityType] : ENTITY_TYPES
    const out: TopTrend[] = []
    for (const t of types) {
      const we = await this.latestWindow(platform, t)
      if (we === null) continue
      const flat = await this.redis.zrevrange(this.keys.trendWindow(platform, t, we), 0, n - 1, 'WITHSCORES')
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ entityType: t, entity: flat[i], score: Number(flat[i + 1]) })
    }
    out.sort((a, b) => b.score - a.score)
    return out.slice(0, n)
  }

  async trendLifecycle(platform: Platform, entityType: EntityType, entity: string): Promise<TrendLifecycle | null> {
    const h = await this.redis.hgetall(this.keys.trend(platform, entityType, entity))
    if (!h.signal) return null
    const firstSeen: Partial<Record<LifecycleStage, number>> = {}
    for (const s of LIFECYCLE_STAGES) if (h[`first:${s}`] !== undefined) firstSeen[s] = Number(h[`first:${s}`])
    return { latest: JSON.parse(h.signal) as TrendSignal, stage: h.stage as LifecycleStage, stageSince: Number(h.stageSince), firstSeen }
  }

  async latestScore(postId: string): Promise<ViralityScore | null> {
    const v = await this.redis.hget(this.keys.score(postId), 'score')
    return v === null ? null : (JSON.parse(v) as ViralityScore)
  }

  /** Newest alerts of a brand, newest first. */
  async recentAlerts(brandId: string, n = 20): Promise<BrandAlert[]> {
    const ids = await this.redis.zrevrange(this.keys.brandAlerts(brandId), 0, n - 1)
    if (ids.length === 0) return []
    const vals = await this.redis.mget(ids.map((id) => this.keys.alert(id)))
    const out: BrandAlert[] = []
    for (const v of vals) if (v !== null) out.push(JSON.parse(v) as BrandAlert)
    return out
  }
}
