// viral_mention rule: a post that mentions the brand is predicted to go viral.
//
// Input: a ViralityScore joined with its post (ScoredPost; the wiring joins the score stream with a
// posts table). The post mentions a brand when its caption or hashtags name the brand or an alias
// (text.ts). A subscription qualifies when it watches the post's platform and probTop1Pct reaches
// its viralProbability. Each (brand, post) alerts once per subscription, all under one alert id;
// a subscription with a higher threshold is alerted later, when a later score reaches it. State is a
// map of (brand, post) → subscriptions alerted, forgotten `ttlMs` of event time after the post's
// last alert.
import { z } from 'zod'
import type { PostPublished } from '../../schemas/events.ts'
import type { ViralityScore } from '../../schemas/outputs.ts'
import { parseOptions } from '../../streams/config.ts'
import type { Batch, Collector, EventTime, Operator, OperatorContext, StateStats } from '../../streams/types.ts'
import { findMention, gluedHashtags, isNegative, mentionTerm, spaced, type MentionTerm } from './text.ts'
import { alertId, platformMatches, type RoutedAlert, type WatchedBrand, type WatchedSubscription, type Watchlist } from './types.ts'

export interface ScoredPost {
  score: ViralityScore
  /** undefined when the post was not found (e.g. published before the job started) */
  post: PostPublished | undefined
}

export const viralMentionOptionsSchema = z.strictObject({
  /** Forget a (brand, post) pair this long (event time) after its last alert. */
  ttlMs: z.number().int().min(60_000).default(48 * 3600_000),
})
export type ViralMentionOptionsInput = z.input<typeof viralMentionOptionsSchema>

interface Compiled {
  brand: WatchedBrand
  terms: MentionTerm[]
  subs: WatchedSubscription[]
}

interface Seen {
  at: number
  alerted: string[]
}

export class ViralMentionAlertOperator implements Operator<ScoredPost, RoutedAlert> {
  readonly opts: z.output<typeof viralMentionOptionsSchema>
  private compiled: Compiled[] = []
  private version = -1
  private seen = new Map<string, Seen>()

  constructor(readonly name: string, private readonly watchlist: Watchlist, options: ViralMentionOptionsInput = {}) {
    this.opts = parseOptions(`viral mention alerts "${name}"`, viralMentionOptionsSchema, options)
  }

  private compile(): void {
    if (this.version === this.watchlist.version) return
    this.version = this.watchlist.version
    const list: Compiled[] = []
    for (const brand of this.watchlist.brands()) {
      const subs = brand.subscriptions.filter((s) => s.categories.includes('viral_mention'))
      if (subs.length === 0) continue
      const terms = [brand.name, ...brand.aliases].map(mentionTerm).filter((t): t is MentionTerm => t !== null)
      if (terms.length > 0) list.push({ brand, terms, subs })
    }
    this.compiled = list
  }

  processBatch(batch: Batch<ScoredPost>, ctx: OperatorContext, out: Collector<RoutedAlert>): void {
    this.compile()
    if (this.compiled.length === 0) return
    let missing = 0
    for (let i = 0; i < batch.values.length; i++) {
      const { score, post } = batch.values[i]
      if (!post) { missing++; continue }
      // Cheap test first: most scores are far from any threshold.
      let candidate = false
      for (const c of this.compiled) for (const sub of c.subs) if (score.probTop1Pct >= sub.thresholds.viralProbability) candidate = true
      if (!candidate) continue
      const text = spaced(post.caption)
      const tags = gluedHashtags(post.caption, post.hashtags)
      for (const c of this.compiled) {
        const m = findMention(c.terms, text, tags)
        if (!m) continue
        const key = `${c.brand.brandId}|${post.postId}`
        const seen = this.seen.get(key)
        const fire = c.subs.filter((sub) => platformMatches(sub, score.platform) && score.probTop1Pct >= sub.thresholds.viralProbability && !(seen?.alerted.includes(sub.id)))
        if (fire.length === 0) continue
        const at = score.at
        if (seen) { seen.at = at; for (const s of fire) seen.alerted.push(s.id) }
        else this.seen.set(key, { at, alerted: fire.map((s) => s.id) })
        const negative = isNegative(text)
        const alert = {
          alertId: alertId(c.brand.brandId, 'viral_mention', post.postId),
          brandId: c.brand.brandId,
          rule: 'viral_mention' as const,
          entity: m.term,
          postId: post.postId,
          severity: negative ? 'critical' as const : 'warning' as const,
          reason: `${post.platform} post ${post.postId} by ${post.creatorId} (${post.creatorFollowers} followers) mentions "${m.term}"${negative ? ' negatively' : ''} and is likely to go viral: P(top 1%) = ${score.probTop1Pct.toFixed(2)}, predicted ${Math.round(score.predictedFinalEngagement)} engagements (model ${score.modelVersion})`,
          at,
        }
        out.emit({ alert, tenantId: c.brand.tenantId, subscriptionIds: fire.map((s) => s.id), platform: score.platform }, at)
        ctx.metrics.inc('alerts_total', 1, { operator: this.name, rule: 'viral_mention' })
      }
    }
    if (missing > 0) ctx.metrics.inc('alert_scores_without_post_total', missing, { operator: this.name })
  }

  onWatermark(wm: EventTime): void {
    for (const [k, s] of this.seen) if (wm - s.at > this.opts.ttlMs) this.seen.delete(k)
  }

  snapshot(): unknown {
    return { seen: new Map([...this.seen].map(([k, s]) => [k, { at: s.at, alerted: [...s.alerted] }])) }
  }

  restore(state: unknown): void {
    this.seen = new Map((state as { seen?: Map<string, Seen> } | undefined)?.seen ?? [])
    this.version = -1
  }

  stateStats(): StateStats {
    return { keys: this.seen.size, estimatedBytes: this.seen.size * 120 }
  }
}
