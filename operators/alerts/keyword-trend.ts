// keyword_trend rule: one of a brand's watched keywords or hashtags becomes a trend.
//
// Input: TrendSignals (topologies/trends.ts). A signal matches a subscription when its entity,
// normalised with normalizeTerm (operators/text.ts, the same key the trend detector uses), equals
// one of the subscription's hashtags (entityType 'hashtag') or keywords (entityType 'term'), its
// platform is one the subscription watches, and its score reaches the subscription's trendScore.
//
// Episodes: the first matching signal that is not 'declining' opens an episode for (brand, entity
// type, entity, platform) and fires; later signals of the same episode only fire for subscriptions
// that did not qualify yet (a higher trendScore reached later), under the same alert id. The episode
// closes on a 'declining' signal or when no signal came for `episodeTtlMs` of event time, so a trend
// that comes back is a new alert.
import { z } from 'zod'
import type { TrendSignal } from '../../schemas/outputs.ts'
import { parseOptions } from '../../streams/config.ts'
import type { Batch, Collector, EventTime, Operator, OperatorContext, StateStats } from '../../streams/types.ts'
import { normalizeTerm } from '../text.ts'
import { alertId, platformMatches, type RoutedAlert, type WatchedBrand, type WatchedSubscription, type Watchlist } from './types.ts'

export const keywordTrendOptionsSchema = z.strictObject({
  /** An episode without a signal for this long (event time) is over. */
  episodeTtlMs: z.number().int().min(60_000).default(6 * 3600_000),
})
export type KeywordTrendOptionsInput = z.input<typeof keywordTrendOptionsSchema>

interface Episode {
  /** windowStart of the signal that opened it */
  start: number
  /** windowEnd of the latest signal */
  lastSeen: number
  alerted: string[]
}

interface Watcher {
  brand: WatchedBrand
  subs: WatchedSubscription[]
}

export class KeywordTrendAlertOperator implements Operator<TrendSignal, RoutedAlert> {
  readonly opts: z.output<typeof keywordTrendOptionsSchema>
  /** "<type>|<normalised entity>" → brands watching it (with the subscriptions that do) */
  private index = new Map<string, Watcher[]>()
  private version = -1
  private episodes = new Map<string, Episode>()

  constructor(readonly name: string, private readonly watchlist: Watchlist, options: KeywordTrendOptionsInput = {}) {
    this.opts = parseOptions(`keyword trend alerts "${name}"`, keywordTrendOptionsSchema, options)
  }

  private compile(): void {
    if (this.version === this.watchlist.version) return
    this.version = this.watchlist.version
    const index = new Map<string, Watcher[]>()
    const add = (key: string, brand: WatchedBrand, sub: WatchedSubscription) => {
      let list = index.get(key)
      if (!list) index.set(key, (list = []))
      let w = list.find((x) => x.brand.brandId === brand.brandId)
      if (!w) list.push((w = { brand, subs: [] }))
      if (!w.subs.includes(sub)) w.subs.push(sub)
    }
    for (const brand of this.watchlist.brands()) {
      for (const sub of brand.subscriptions) {
        if (!sub.categories.includes('keyword_trend')) continue
        for (const h of sub.hashtags) add(`hashtag|${normalizeTerm(h)}`, brand, sub)
        for (const k of sub.keywords) add(`term|${normalizeTerm(k)}`, brand, sub)
      }
    }
    this.index = index
  }

  processBatch(batch: Batch<TrendSignal>, ctx: OperatorContext, out: Collector<RoutedAlert>): void {
    this.compile()
    if (this.index.size === 0) return
    for (const s of batch.values) {
      if (s.entityType === 'sound') continue
      const watchers = this.index.get(`${s.entityType}|${normalizeTerm(s.entity)}`)
      if (!watchers) continue
      for (const w of watchers) {
        const key = `${w.brand.brandId}|${s.entityType}|${normalizeTerm(s.entity)}|${s.platform}`
        let ep = this.episodes.get(key)
        if (ep && s.windowEnd - ep.lastSeen > this.opts.episodeTtlMs) { this.episodes.delete(key); ep = undefined }
        if (s.stage === 'declining') { if (ep) this.episodes.delete(key); continue }
        const fire = w.subs.filter((sub) => platformMatches(sub, s.platform) && s.score >= sub.thresholds.trendScore && !(ep?.alerted.includes(sub.id)))
        if (!ep) {
          if (fire.length === 0) continue
          ep = { start: s.windowStart, lastSeen: s.windowEnd, alerted: [] }
          this.episodes.set(key, ep)
        }
        ep.lastSeen = Math.max(ep.lastSeen, s.windowEnd)
        if (fire.length === 0) continue
        for (const sub of fire) ep.alerted.push(sub.id)
        const tag = s.entityType === 'hashtag' ? `#${s.entity}` : `"${s.entity}"`
        const alert = {
          alertId: alertId(w.brand.brandId, 'keyword_trend', s.entityType, normalizeTerm(s.entity), s.platform, ep.start),
          brandId: w.brand.brandId,
          rule: 'keyword_trend' as const,
          entity: s.entity,
          postId: null,
          severity: s.stage === 'emerging' ? 'info' as const : 'warning' as const,
          reason: `${tag} is ${s.stage} on ${s.platform}: ${s.uses} uses by ${s.uniqueCreators} creators in the window, ${fmt(s.observed)} observed vs ${fmt(s.baseline)} expected (deviation ${fmt(s.deviation)}, score ${fmt(s.score)})`,
          at: s.windowEnd,
        }
        out.emit({ alert, tenantId: w.brand.tenantId, subscriptionIds: fire.map((x) => x.id), platform: s.platform }, s.windowEnd)
        ctx.metrics.inc('alerts_total', 1, { operator: this.name, rule: 'keyword_trend' })
      }
    }
  }

  onWatermark(wm: EventTime): void {
    // Forget episodes nothing has extended for episodeTtlMs (bounded state).
    for (const [k, ep] of this.episodes) if (wm - ep.lastSeen > this.opts.episodeTtlMs) this.episodes.delete(k)
  }

  snapshot(): unknown {
    return { episodes: new Map([...this.episodes].map(([k, e]) => [k, { ...e, alerted: [...e.alerted] }])) }
  }

  restore(state: unknown): void {
    this.episodes = new Map((state as { episodes?: Map<string, Episode> } | undefined)?.episodes ?? [])
    this.version = -1
  }

  stateStats(): StateStats {
    return { keys: this.episodes.size, estimatedBytes: this.episodes.size * 160 }
  }
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2)
}
