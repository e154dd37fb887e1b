// Crisis rule: a spike of negative mentions of a brand, against the brand's own baseline.
//
// Input: the firehose. A post caption (with its hashtags) or a comment that names the brand (its
// name or an alias, see text.ts) and uses a complaint word is one negative mention, counted in the
// event-time bin (binMs, default 1 min) of the post or comment. When the watermark passes a bin's
// end the bin is closed and fed to a per-brand detector:
//
//   Baseline λ0 — negative mentions per bin in normal times: an exponentially weighted mean over
//   `baselineSpan` bins that starts from a prior (priorRate per bin, worth priorBins bins), floored
//   at floorRate, learnt only outside episodes and from counts clipped at λ0 + 3√λ0 + 1, so a crisis
//   never becomes its own baseline.
//
//   Score — one-sided Poisson CUSUM (Page 1954; Lucas 1985): S ← max(0, S + x·ln(λ1/λ0) − (λ1 − λ0))
//   with λ1 = ratio·λ0 + minRise, the rise it is tuned to. It sums weak evidence over consecutive
//   bins (two complaints a minute apart add up) and forgets noise (every quiet bin subtracts). A big
//   brand with 5 complaints a minute needs far more than 5 to move S; an obscure one needs two.
//
//   Episode — starts when S ≥ threshold; ends after quietBins bins without a mention in the window.
//   While it lasts, each subscription (category crisis) gets one alert as soon as the mentions in
//   the last windowBins bins reach its crisisMinMentions. The alert id is derived from the brand and
//   the episode's first bin: the same crisis is one alert, however many subscriptions it reaches.
//
// The alert's event time is the end of the bin that fired it: the earliest time the evidence was
// complete. A mention whose bin is already closed (later than the watermark) is counted in the next
// open bin: still evidence, slightly late. Quiet stretches are applied in closed form (S drops by
// k·(λ1 − λ0), the baseline weights decay by (1 − 1/span)^k), so an idle brand costs nothing.
//
// State per brand is plain data (structured-clone serialisable); snapshot() / restore() carry it.
import { z } from 'zod'
import type { FirehoseEvent } from '../../schemas/events.ts'
import { parseOptions } from '../../streams/config.ts'
import type { Batch, Collector, EventTime, Operator, OperatorContext, StateStats } from '../../streams/types.ts'
import { findMention, gluedHashtags, isNegative, mentionTerm, spaced, type MentionTerm } from './text.ts'
import { alertId, type RoutedAlert, type WatchedBrand, type WatchedSubscription, type Watchlist } from './types.ts'

export const crisisOptionsSchema = z.strictObject({
  /** Event-time bin of the counts. */
  binMs: z.number().int().min(1000).default(60_000),
  /** Bins in the window whose count is compared with a subscription's crisisMinMentions (and reported). */
  windowBins: z.number().int().min(1).max(1440).default(5),
  /** The rise the CUSUM is tuned to: λ1 = ratio·λ0 + minRise. */
  ratio: z.number().gt(1).default(4),
  minRise: z.number().gt(0).default(1),
  /** CUSUM threshold (log-likelihood ratio units); larger = fewer false alarms, later detection. */
  threshold: z.number().gt(0).default(5),
  /** Least baseline, negative mentions per bin. */
  floorRate: z.number().gt(0).default(0.01),
  /** Prior baseline of a brand not seen before, per bin, worth priorBins bins. */
  priorRate: z.number().gt(0).default(0.02),
  priorBins: z.number().min(0).default(60),
  /** Memory of the baseline, in bins (1 day of 1-min bins). */
  baselineSpan: z.number().min(1).default(1440),
  /** An episode ends after this many bins with no mention in the window. */
  quietBins: z.number().int().min(1).default(30),
  /** Count negative post captions as mentions too (not only comments). */
  countPosts: z.boolean().default(true),
})
export type CrisisOptions = z.output<typeof crisisOptionsSchema>
export type CrisisOptionsInput = z.input<typeof crisisOptionsSchema>

/** Detector state of one brand. */
export interface CrisisState {
  /** last closed bin index (bin = floor(time / binMs)) */
  lastClosed: number
  /** open bins: index → negative mentions */
  open: Map<number, number>
  /** counts of the last windowBins closed bins, oldest first */
  recent: number[]
  /** baseline: total weight of observed bins, weighted sum of their counts, weight of the prior */
  w: number
  sx: number
  pw: number
  /** CUSUM statistic */
  s: number
  /** first bin of the current episode, or -1 */
  episode: number
  /** bins since the window last held a mention (during an episode) */
  quiet: number
  /** subscriptions alerted in this episode */
  alerted: string[]
  /** the latest negative mention, for the alert's reason */
  sample: string
}

interface CompiledBrand {
  brand: WatchedBrand
  terms: MentionTerm[]
  subs: WatchedSubscription[]
}

export function newCrisisState(o: CrisisOptions, lastClosed: number): CrisisState {
  return { lastClosed, open: new Map(), recent: [], w: 0, sx: 0, pw: o.priorBins, s: 0, episode: -1, quiet: 0, alerted: [], sample: '' }
}

export function baselineRate(st: CrisisState, o: CrisisOptions): number {
  const tw = st.pw + st.w
  const r = tw > 0 ? (st.pw * o.priorRate + st.sx) / tw : o.priorRate
  return Math.max(o.floorRate, r)
}

/** What closing one bin decided: the subscriptions to alert now (empty: none). */
export interface CrisisStep {
  fire: WatchedSubscription[]
  windowCount: number
  expected: number
}

/** Closes bin `b` with `x` mentions. Pure function of (state, options, subscriptions): mutates `st`. */
export function crisisStep(st: CrisisState, o: CrisisOptions, b: number, x: number, subs: readonly WatchedSubscription[]): CrisisStep {
  const lam0 = baselineRate(st, o)
  const lam1 = o.ratio * lam0 + o.minRise
  st.s = Math.max(0, st.s + x * Math.log(lam1 / lam0) - (lam1 - lam0))
  st.recent.push(x)
  if (st.recent.length > o.windowBins) st.recent.shift()
  let windowCount = 0
  for (const c of st.recent) windowCount += c
  const fire: WatchedSubscription[] = []
  if (st.episode < 0 && st.s >= o.threshold) {
    st.episode = b
    st.quiet = 0
    st.alerted = []
  }
  if (st.episode >= 0) {
    st.quiet = windowCount === 0 ? st.quiet + 1 : 0
    for (const sub of subs) {
      if (windowCount >= sub.thresholds.crisisMinMentions && !st.alerted.includes(sub.id)) fire.push(sub)
    }
    for (const sub of fire) st.alerted.push(sub.id)
    if (st.quiet >= o.quietBins && st.s < o.threshold) { st.episode = -1; st.alerted = [] }
  } else {
    learn(st, o, Math.min(x, lam0 + 3 * Math.sqrt(lam0) + 1), 1)
  }
  st.lastClosed = b
  return { fire, windowCount, expected: lam0 * Math.min(o.windowBins, st.recent.length) }
}

/** k bins of value v (v = 0 for quiet stretches) into the baseline, in closed form. */
function learn(st: CrisisState, o: CrisisOptions, v: number, k: number): void {
  const d = 1 - 1 / o.baselineSpan
  const dk = Math.pow(d, k)
  st.w = dk * st.w + (d === 1 ? k : (1 - dk) / (1 - d))
  st.sx = dk * st.sx + v * (d === 1 ? k : (1 - dk) / (1 - d))
  st.pw = dk * st.pw
}

/** k closed bins without mentions after st.lastClosed, in closed form when k is large. */
export function crisisQuiet(st: CrisisState, o: CrisisOptions, k: number, subs: readonly WatchedSubscription[], onFire?: (bin: number, r: CrisisStep) => void): void {
  if (k <= 0) return
  if (k <= o.windowBins + o.quietBins) {
    // Short stretches go bin by bin: the window and episode bookkeeping stay exact. (A quiet bin
    // fires only for a subscription added during an episode whose window already qualified.)
    for (let i = 0; i < k; i++) {
      const b = st.lastClosed + 1
      const r = crisisStep(st, o, b, 0, subs)
      if (r.fire.length > 0 && onFire) onFire(b, r)
    }
    return
  }
  const lam0 = baselineRate(st, o)
  const lam1 = o.ratio * lam0 + o.minRise
  st.s = Math.max(0, st.s - k * (lam1 - lam0))
  st.recent = []
  if (st.episode >= 0) {
    st.episode = -1
    st.alerted = []
  }
  learn(st, o, 0, k)
  st.lastClosed += k
}

/** The crisis rule as an operator: firehose events in, alerts out (see the header). */
export class CrisisAlertOperator implements Operator<FirehoseEvent, RoutedAlert> {
  readonly opts: CrisisOptions
  private states = new Map<string, CrisisState>()
  private compiled: CompiledBrand[] = []
  private version = -1

  constructor(readonly name: string, private readonly watchlist: Watchlist, options: CrisisOptionsInput = {}) {
    this.opts = parseOptions(`crisis alerts "${name}"`, crisisOptionsSchema, options)
  }

  private compile(): void {
    if (this.version === this.watchlist.version) return
    this.version = this.watchlist.version
    const list: CompiledBrand[] = []
    const keep = new Set<string>()
    for (const brand of this.watchlist.brands()) {
      const subs = brand.subscriptions.filter((s) => s.categories.includes('crisis'))
      if (subs.length === 0) continue
      const terms: MentionTerm[] = []
      for (const t of [brand.name, ...brand.aliases]) {
        const m = mentionTerm(t)
        if (m) terms.push(m)
      }
      if (terms.length === 0) continue
      list.push({ brand, terms, subs })
      keep.add(brand.brandId)
    }
    this.compiled = list
    for (const id of [...this.states.keys()]) if (!keep.has(id)) this.states.delete(id)
  }

  processBatch(batch: Batch<FirehoseEvent>, ctx: OperatorContext): void {
    this.compile()
    if (this.compiled.length === 0) return
    const { values, times } = batch
    const binMs = this.opts.binMs
    let mentions = 0
    for (let i = 0; i < values.length; i++) {
      const e = values[i]
      let text: string | null = null
      let tags: readonly string[] | undefined
      if (e.kind === 'engagement') {
        if (e.type !== 'comment' || e.commentText === null) continue
        text = e.commentText
      } else if (e.kind === 'post' && this.opts.countPosts) {
        text = e.caption
        tags = e.hashtags
      } else continue
      const s = spaced(text)
      if (!isNegative(s)) continue
      const hashtags = gluedHashtags(text, tags)
      for (const c of this.compiled) {
        if (findMention(c.terms, s, hashtags) === null) continue
        let st = this.states.get(c.brand.brandId)
        let bin = Math.floor(times[i] / binMs)
        if (!st) {
          const wm = ctx.watermark
          st = newCrisisState(this.opts, Number.isFinite(wm) ? Math.floor((wm + 1) / binMs) - 1 : bin - 1)
          this.states.set(c.brand.brandId, st)
        }
        if (bin <= st.lastClosed) bin = st.lastClosed + 1
        st.open.set(bin, (st.open.get(bin) ?? 0) + 1)
        st.sample = text.length > 140 ? text.slice(0, 137) + '…' : text
        mentions++
      }
    }
    if (mentions > 0) ctx.metrics.inc('alert_negative_mentions_total', mentions, { operator: this.name })
  }

  onWatermark(wm: EventTime, ctx: OperatorContext, out: Collector<RoutedAlert>): void {
    this.compile()
    const binMs = this.opts.binMs
    const upTo = Math.floor((wm + 1) / binMs) - 1
    for (const c of this.compiled) {
      let st = this.states.get(c.brand.brandId)
      if (!st) {
        // A brand starts learning its baseline from the first watermark after it is watched.
        if (!Number.isFinite(upTo)) continue
        st = newCrisisState(this.opts, upTo)
        this.states.set(c.brand.brandId, st)
        continue
      }
      let last = upTo
      if (!Number.isFinite(last)) {
        // End of input: close every bin that holds mentions.
        last = st.lastClosed
        for (const b of st.open.keys()) if (b > last) last = b
      }
      const onFire = (b: number, r: CrisisStep) => this.emit(c, st, b, r, out, ctx)
      while (st.lastClosed < last) {
        let next = Infinity
        for (const b of st.open.keys()) if (b < next) next = b
        if (next > last) { crisisQuiet(st, this.opts, last - st.lastClosed, c.subs, onFire); break }
        crisisQuiet(st, this.opts, next - st.lastClosed - 1, c.subs, onFire)
        const x = st.open.get(next)!
        st.open.delete(next)
        const r = crisisStep(st, this.opts, next, x, c.subs)
        if (r.fire.length > 0) this.emit(c, st, next, r, out, ctx)
      }
    }
  }

  private emit(c: CompiledBrand, st: CrisisState, bin: number, r: CrisisStep, out: Collector<RoutedAlert>, ctx: OperatorContext): void {
    const o = this.opts
    const at = (bin + 1) * o.binMs
    const minutes = (o.windowBins * o.binMs) / 60_000
    const critical = r.windowCount >= 10 && r.windowCount >= 10 * Math.max(r.expected, 0.1)
    const alert = {
      alertId: alertId(c.brand.brandId, 'crisis', st.episode),
      brandId: c.brand.brandId,
      rule: 'crisis' as const,
      entity: c.brand.name,
      postId: null,
      severity: critical ? 'critical' as const : 'warning' as const,
      reason: `${r.windowCount} negative mentions of "${c.brand.name}" in the last ${minutes} min (expected ${r.expected.toFixed(2)}; CUSUM ${st.s.toFixed(1)} ≥ ${o.threshold}); latest: "${st.sample}"`,
      at,
    }
    out.emit({ alert, tenantId: c.brand.tenantId, subscriptionIds: r.fire.map((s) => s.id), platform: null }, at)
    ctx.metrics.inc('alerts_total', 1, { operator: this.name, rule: 'crisis' })
  }

  snapshot(): unknown {
    return { states: new Map([...this.states].map(([k, v]) => [k, { ...v, open: new Map(v.open), recent: [...v.recent], alerted: [...v.alerted] }])) }
  }

  restore(state: unknown): void {
    const s = state as { states?: Map<string, CrisisState> } | undefined
    this.states = new Map(s?.states ?? [])
    this.version = -1
  }

  stateStats(): StateStats {
    let bytes = 0
    for (const st of this.states.values()) bytes += 200 + st.open.size * 24 + st.recent.length * 8 + st.sample.length * 2
    return { keys: this.states.size, estimatedBytes: bytes }
  }
}
