// The API's read side. LiveState answers the read routes (current trends, a trend's history, a
// post's score, a tenant's alerts); it is fed from the feed bus (server/ws/bus.ts), so the same code
// serves the embedded default (InProcessBus, fed by LiveSink in this process) and several API
// processes behind Redis (RedisFanoutBus, fed by RedisStateSink in the engine).
//
// InMemoryLiveState keeps, bounded:
//   trends  per (entityType, platform, entity): the latest `historyPerEntity` windows (a revision
//           replaces its window), at most `maxEntities` entities (least recently updated dropped);
//   scores  the latest score per post (by event time), at most `maxPosts`;
//   alerts  by id (a repeated id is one alert), the newest `alertsPerBrand` per brand.
// "Current" trends are each entity's latest window, if it ended within `currentWindowMs` of the
// newest window seen on its platform; ranked by score.
// RedisBackedLiveState answers from memory and falls back to the Redis state keys (sinks/redis) for
// what memory does not have (e.g. a post scored before this process started).
import type { Redis } from 'ioredis'
import type { Platform } from '../../schemas/events.ts'
import type { AlertRule, BrandAlert, EntityType, LifecycleStage, TrendSignal, ViralityScore } from '../../schemas/outputs.ts'
import { PLATFORMS } from '../../schemas/events.ts'
import { RedisStateReader } from '../../sinks/redis/reader.ts'
import type { Batch, Sink } from '../../streams/types.ts'
import { normalizeTerm } from '../../operators/text.ts'
import type { RoutedAlert } from '../../operators/alerts/types.ts'
import type { StreamName } from '../../schemas/api/ws.ts'
import type { FeedRecord, InProcessBus } from '../ws/bus.ts'

export interface TrendQuery {
  platforms?: Platform[]
  entityTypes?: EntityType[]
  stages?: LifecycleStage[]
  minScore?: number
  limit: number
}

export interface TrendHistoryQuery {
  entityTypes?: EntityType[]
  platforms?: Platform[]
  since?: number
  limit: number
}

export interface AlertQuery {
  brandIds: string[]
  rules?: AlertRule[]
  since?: number
  limit: number
}

export interface LiveState {
  currentTrends(q: TrendQuery): Promise<TrendSignal[]>
  /** windows of one entity (any surface form: "#Café" finds "café"), oldest first */
  trendHistory(entity: string, q: TrendHistoryQuery): Promise<TrendSignal[]>
  postScore(postId: string): Promise<ViralityScore | null>
  /** newest first */
  alerts(q: AlertQuery): Promise<BrandAlert[]>
  /** the backing store answers */
  ready(): Promise<boolean>
  stats(): { trendEntities: number; scores: number; alerts: number }
}

export interface LiveStateOptions {
  historyPerEntity?: number
  maxEntities?: number
  maxPosts?: number
  alertsPerBrand?: number
  currentWindowMs?: number
}

/** The key of an entity: sound ids as they are, hashtags and terms folded like the trend detector's. */
export function entityKey(type: EntityType, entity: string): string {
  return type === 'sound' ? entity.toLowerCase() : normalizeTerm(entity)
}

interface EntityHistory {
  windows: TrendSignal[]
}

export class InMemoryLiveState implements LiveState {
  private readonly o: Required<LiveStateOptions>
  /** "<type>|<platform>|<key>" → windows, in LRU order (Map insertion order, re-inserted on update) */
  private trends = new Map<string, EntityHistory>()
  /** entity key → the trend map keys that have it (for history lookups by name) */
  private byEntity = new Map<string, Set<string>>()
  private newest: Record<string, number> = {}
  private scores = new Map<string, ViralityScore>()
  private alertById = new Map<string, BrandAlert>()
  private alertsByBrand = new Map<string, BrandAlert[]>()

  constructor(o: LiveStateOptions = {}) {
    this.o = { historyPerEntity: 240, maxEntities: 50_000, maxPosts: 200_000, alertsPerBrand: 1_000, currentWindowMs: 5 * 60_000, ...o }
  }

  /** Feed from the bus. */
  apply(records: readonly FeedRecord[]): void {
    for (const r of records) {
      if (r.stream === 'trends') this.putTrend(r.data as TrendSignal)
      else if (r.stream === 'scores') this.putScore(r.data as ViralityScore)
      else this.putAlert(r.data as BrandAlert)
    }
  }

  putTrend(s: TrendSignal): void {
    const ek = entityKey(s.entityType, s.entity)
    const key = `${s.entityType}|${s.platform}|${ek}`
    let h = this.trends.get(key)
    if (h) this.trends.delete(key)
    else {
      h = { windows: [] }
      let set = this.byEntity.get(ek)
      if (!set) this.byEntity.set(ek, (set = new Set()))
      set.add(key)
    }
    this.trends.set(key, h)
    const w = h.windows
    // Windows arrive mostly in order: search from the end.
    let i = w.length - 1
    while (i >= 0 && w[i].windowStart > s.windowStart) i--
    if (i >= 0 && w[i].windowStart === s.windowStart) {
      if (s.revision >= w[i].revision) w[i] = s
    } else {
      w.splice(i + 1, 0, s)
      if (w.length > this.o.historyPerEntity) w.shift()
    }
    if (!(s.windowEnd <= (this.newest[s.platform] ?? -Infinity))) this.newest[s.platform] = s.windowEnd
    if (this.trends.size > this.o.maxEntities) {
      const oldest = this.trends.keys().next().value as string
      this.trends.delete(oldest)
      const ok = oldest.slice(oldest.indexOf('|', oldest.indexOf('|') + 1) + 1)
      const set = this.byEntity.get(ok)
      set?.delete(oldest)
      if (set && set.size === 0) this.byEntity.delete(ok)
    }
  }

  putScore(s: ViralityScore): void {
    const prev = this.scores.get(s.postId)
    if (prev && prev.at > s.at) return
    this.scores.delete(s.postId)
    this.scores.set(s.postId, s)
    if (this.scores.size > this.o.maxPosts) this.scores.delete(this.scores.keys().next().value as string)
  }

  putAlert(a: BrandAlert): void {
    if (this.alertById.has(a.alertId)) return
    this.alertById.set(a.alertId, a)
    let list = this.alertsByBrand.get(a.brandId)
    if (!list) this.alertsByBrand.set(a.brandId, (list = []))
    list.push(a)
    if (list.length > this.o.alertsPerBrand) this.alertById.delete(list.shift()!.alertId)
  }

  async currentTrends(q: TrendQuery): Promise<TrendSignal[]> {
    const out: TrendSignal[] = []
    for (const h of this.trends.values()) {
      const s = h.windows[h.windows.length - 1]
      if (!s) continue
      if (s.windowEnd < (this.newest[s.platform] ?? 0) - this.o.currentWindowMs) continue
      if (q.platforms && !q.platforms.includes(s.platform)) continue
      if (q.entityTypes && !q.entityTypes.includes(s.entityType)) continue
      if (q.stages && !q.stages.includes(s.stage)) continue
      if (q.minScore !== undefined && !(s.score >= q.minScore)) continue
      out.push(s)
    }
    out.sort((a, b) => b.score - a.score || a.entity.localeCompare(b.entity))
    return out.slice(0, q.limit)
  }

  async trendHistory(entity: string, q: TrendHistoryQuery): Promise<TrendSignal[]> {
    const keys = new Set<string>()
    for (const k of [normalizeTerm(entity), entity.toLowerCase()]) for (const x of this.byEntity.get(k) ?? []) keys.add(x)
    const out: TrendSignal[] = []
    for (const key of keys) {
      const [type, platform] = key.split('|') as [EntityType, Platform]
      if (q.entityTypes && !q.entityTypes.includes(type)) continue
      if (q.platforms && !q.platforms.includes(platform)) continue
      for (const s of this.trends.get(key)?.windows ?? []) if (q.since === undefined || s.windowEnd > q.since) out.push(s)
    }
    out.sort((a, b) => a.windowStart - b.windowStart || a.platform.localeCompare(b.platform))
    return out.slice(Math.max(0, out.length - q.limit))
  }

  async postScore(postId: string): Promise<ViralityScore | null> {
    return this.scores.get(postId) ?? null
  }

  async alerts(q: AlertQuery): Promise<BrandAlert[]> {
    const out: BrandAlert[] = []
    for (const b of q.brandIds) {
      for (const a of this.alertsByBrand.get(b) ?? []) {
        if (q.rules && !q.rules.includes(a.rule)) continue
        if (q.since !== undefined && a.at < q.since) continue
        out.push(a)
      }
    }
    out.sort((a, b) => b.at - a.at || a.alertId.localeCompare(b.alertId))
    return out.slice(0, q.limit)
  }

  async ready(): Promise<boolean> {
    return true
  }

  stats() {
    return { trendEntities: this.trends.size, scores: this.scores.size, alerts: this.alertById.size }
  }
}

/** Memory first, then the Redis state keys RedisStateSink maintains. */
export class RedisBackedLiveState implements LiveState {
  private readonly reader: RedisStateReader

  constructor(readonly memory: InMemoryLiveState, private readonly redis: Redis, prefix = 'tw:') {
    this.reader = new RedisStateReader(redis, prefix)
  }

  apply(records: readonly FeedRecord[]): void {
    this.memory.apply(records)
  }

  async currentTrends(q: TrendQuery): Promise<TrendSignal[]> {
    const mem = await this.memory.currentTrends(q)
    if (mem.length > 0) return mem
    // Nothing seen yet in this process: the newest complete windows in Redis.
    const out: TrendSignal[] = []
    for (const p of q.platforms ?? PLATFORMS) {
      for (const top of await this.reader.topTrends(p, { n: q.limit })) {
        if (q.entityTypes && !q.entityTypes.includes(top.entityType)) continue
        const lc = await this.reader.trendLifecycle(p, top.entityType, top.entity)
        if (!lc) continue
        const s = lc.latest
        if (q.stages && !q.stages.includes(s.stage)) continue
        if (q.minScore !== undefined && !(s.score >= q.minScore)) continue
        out.push(s)
      }
    }
    out.sort((a, b) => b.score - a.score)
    return out.slice(0, q.limit)
  }

  async trendHistory(entity: string, q: TrendHistoryQuery): Promise<TrendSignal[]> {
    const mem = await this.memory.trendHistory(entity, q)
    if (mem.length > 0) return mem
    // Redis keeps the latest window per trend only.
    const out: TrendSignal[] = []
    for (const p of q.platforms ?? PLATFORMS) {
      for (const t of q.entityTypes ?? (['hashtag', 'sound', 'term'] as EntityType[])) {
        const lc = await this.reader.trendLifecycle(p, t, t === 'sound' ? entity : entity.replace(/^#/, '').toLowerCase())
        if (lc && (q.since === undefined || lc.latest.windowEnd > q.since)) out.push(lc.latest)
      }
    }
    return out
  }

  async postScore(postId: string): Promise<ViralityScore | null> {
    return (await this.memory.postScore(postId)) ?? this.reader.latestScore(postId)
  }

  async alerts(q: AlertQuery): Promise<BrandAlert[]> {
    const mem = await this.memory.alerts(q)
    if (mem.length >= q.limit) return mem
    const seen = new Set(mem.map((a) => a.alertId))
    const out = [...mem]
    for (const b of q.brandIds) {
      for (const a of await this.reader.recentAlerts(b, q.limit)) {
        if (seen.has(a.alertId)) continue
        if (q.rules && !q.rules.includes(a.rule)) continue
        if (q.since !== undefined && a.at < q.since) continue
        seen.add(a.alertId)
        out.push(a)
      }
    }
    out.sort((a, b) => b.at - a.at)
    return out.slice(0, q.limit)
  }

  async ready(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG'
    } catch {
      return false
    }
  }

  stats() {
    return this.memory.stats()
  }
}

export interface SinkLatency {
  observe(sink: string, seconds: number): void
}

/**
 * Publishes an output stream on the in-process bus (and so into LiveState and the live feed).
 * Never waits: publishing is a synchronous hand-over; WebSocket sends do not block (server/ws/feed.ts).
 * At least once: records replayed after a restart are published again (with new sequence numbers).
 */
export class LiveSink<T> implements Sink<T> {
  constructor(readonly name: string, private readonly stream: StreamName, private readonly bus: InProcessBus, private readonly latency?: SinkLatency, private readonly map?: (v: T) => unknown) {}

  write(batch: Batch<T>): void {
    const t0 = performance.now()
    this.bus.publish(this.stream, this.map ? batch.values.map(this.map) : batch.values)
    this.latency?.observe(this.name, (performance.now() - t0) / 1000)
  }
}

/** RoutedAlert → BrandAlert, for sinks that take plain alerts (RedisStateSink, ClickHouse). */
export class BrandAlertSink implements Sink<RoutedAlert> {
  readonly name: string
  constructor(private readonly inner: Sink<BrandAlert>) {
    this.name = inner.name
  }
  open = (ctx: Parameters<NonNullable<Sink<BrandAlert>['open']>>[0]) => this.inner.open?.(ctx) ?? Promise.resolve()
  write(batch: Batch<RoutedAlert>, ctx: Parameters<Sink<BrandAlert>['write']>[1]): void | Promise<void> {
    return this.inner.write({ values: batch.values.map((r) => r.alert), times: batch.times }, ctx)
  }
  preCommit = (id: number) => this.inner.preCommit?.(id) ?? Promise.resolve(undefined)
  commit = (id: number) => this.inner.commit?.(id) ?? Promise.resolve()
  restore = (state: unknown) => this.inner.restore?.(state) ?? Promise.resolve()
  close = () => this.inner.close?.() ?? Promise.resolve()
}
