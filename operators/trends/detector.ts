// Count-aware take-off detector for one entity's per-window series. O(1) work and memory per window.
//
// Why not the generic detector (operators/anomaly) on the raw counts: an entity's per-minute use
// count is small, discrete and mostly zero (a long-tail hashtag is used a few times an hour; a new
// one has no history at all), and windows with no use produce no record. The generic detector
// learns a level, a time-of-day offset and the spread of its channels from a dense real-valued
// series over days (150 points of warm-up; confidence grows over 240 hours), and its spread is
// 0 on a series of zeros, so on these series it is either silent for hours or fires on the first
// use. What counts need is a baseline in the right units and a score that knows Poisson noise:
//
// Baseline — share of platform volume. expected = share × N, where N is the platform's posts in the
// window and share is the entity's usual fraction of them. Dividing by the platform's own volume
// removes the daily rhythm (and any platform-wide surge) without days of per-entity history: the
// one seasonal profile that matters is shared by all entities and measured live. share is a
// running mean with a prior (priorUses per window, worth priorWindows windows) so a new entity
// starts with a small but non-zero expectation, then an EWMA over `baselineSpan` windows. Robust:
// each window's count is clipped at expected + clip·√expected + 1 before it is learned, and the
// caller freezes learning while the entity is trending, so a take-off never becomes its own baseline.
//
// Score — one-sided Poisson CUSUM (Page 1954; Lucas 1985, "Counted data CUSUM's"): the log-
// likelihood ratio of "rate λ1 = ratio·expected + minRise" against "rate = expected", accumulated
// and floored at 0:  S ← max(0, S + x·ln(λ1/λ0) − (λ1 − λ0)).  It is the optimal (Lorden) test for a
// shift of that size, sums weak evidence over consecutive windows (a ramp that adds one use a
// window is seen in a few windows, long before any single window is extreme), and forgets noise
// because every quiet window subtracts. It fires when S ≥ threshold. minRise keeps entities with
// an expectation near zero from firing on a couple of chance uses: the alternative is always at
// least minRise uses per window.
//
// Windows without a record are zeros: gap() applies k of them in closed form (share decays by
// (1 − α)^k, S drops by k·(λ1 − λ0)), so an idle entity costs nothing until its next use.
//
// State is a plain object of numbers (structured-clone serialisable).
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'

export const countDetectorOptionsSchema = z.strictObject({
  /** Rise the CUSUM is tuned to detect: λ1 = ratio × expected + minRise. */
  ratio: z.number().gt(1).default(2),
  /** Least extra uses per window the alternative assumes (keeps near-zero baselines quiet). */
  minRise: z.number().gt(0).default(0.2),
  /** CUSUM threshold (log-likelihood ratio units): larger = fewer false alarms, later detection. */
  threshold: z.number().gt(0).default(10),
  /** Least observed uses in the firing window. */
  minUses: z.number().min(0).default(1),
  /**
   * Persistence: of the last `persistOf` windows (this one included), at least `persist` must have
   * a use. A take-off is sustained; a chance cluster of posts in one window is not, and with tens
   * of thousands of entities watched every minute, one-window clusters of a rare entity happen
   * every few minutes somewhere (multiple testing), however high the per-window bar. Off by
   * default (1 of 1): with the default threshold and minRise it bought no precision on the
   * training seeds and cost ~1.5 minutes of delay (benchmarks/trends/README.md).
   */
  persist: z.number().int().min(1).default(1),
  persistOf: z.number().int().min(1).max(30).default(1),
  /** Prior of a new entity: expected uses per window... */
  priorUses: z.number().gt(0).default(0.05),
  /** ...worth this many windows of observation. */
  priorWindows: z.number().min(0).default(30),
  /** EWMA span of the baseline share, in windows, once past the prior. */
  baselineSpan: z.number().min(1).default(240),
  /** Counts above expected + clip·√expected + 1 are clipped before they are learned. */
  clip: z.number().min(0).default(3),
  /** Floor on the expectation used for the z-score deviation (avoids dividing by ~0). */
  minExpected: z.number().gt(0).default(0.05),
  /**
   * Floor on the expectation itself: an entity whose learned share is 0 (seen only in windows
   * without uses, e.g. engagement on old posts during warm-up) still has a finite likelihood ratio.
   */
  floorExpected: z.number().gt(0).default(0.01),
})
export type CountDetectorOptions = z.output<typeof countDetectorOptionsSchema>
export type CountDetectorOptionsInput = z.input<typeof countDetectorOptionsSchema>

export function parseCountDetectorOptions(o: CountDetectorOptionsInput = {}): CountDetectorOptions {
  return parseOptions('trend detector', countDetectorOptionsSchema, o)
}

export interface CountDetectorState {
  /** Windows learned (including zero windows). */
  n: number
  /** Usual share of the platform's posts. */
  share: number
  /** CUSUM statistic. */
  cusum: number
  /** Bit i set: the window i windows ago had a use (bit 0: the latest). */
  recent: number
}

/** What one window concluded (a fresh object: safe to keep). */
export interface CountStep {
  observed: number
  /** Expected uses for this window (share × platform volume). */
  expected: number
  /** (observed − expected) / √max(expected, minExpected): Poisson z-score. */
  deviation: number
  /** Log-likelihood ratio of this window (CUSUM increment). */
  llr: number
  cusum: number
  /** CUSUM at or above the threshold and enough uses in this window. */
  alarm: boolean
}

export function newCountDetector(): CountDetectorState {
  return { n: 0, share: NaN, cusum: 0, recent: 0 }
}

function alternative(expected: number, o: CountDetectorOptions): number {
  return o.ratio * expected + o.minRise
}

function expectedFor(s: CountDetectorState, total: number, o: CountDetectorOptions): number {
  // before the first window the share is the prior, at today's volume
  const share = Number.isNaN(s.share) ? o.priorUses / Math.max(total, 1) : s.share
  return Math.max(share * Math.max(total, 1), o.floorExpected)
}

/**
 * One window: x observed uses, total = the platform's posts in the window. learn = false freezes
 * the baseline (while the entity trends). Mutates s.
 */
export function stepCount(s: CountDetectorState, x: number, total: number, learn: boolean, o: CountDetectorOptions, warmingUp = false): CountStep {
  const tot = Math.max(total, 1)
  if (Number.isNaN(s.share)) s.share = o.priorUses / tot
  const mu = Math.max(s.share * tot, o.floorExpected)
  const l1 = alternative(mu, o)
  const llr = x * Math.log(l1 / mu) - (l1 - mu)
  const deviation = (x - mu) / Math.sqrt(Math.max(mu, o.minExpected))
  s.recent = ((s.recent << 1) | (x > 0 ? 1 : 0)) & 0x3fffffff
  if (warmingUp) {
    // Job warm-up: every entity is new to the job, not to the world. Learn a plain mean of what
    // is there (no prior, no clip) and raise nothing.
    s.share += (x / tot - s.share) / (s.n + 1)
    s.n++
    s.cusum = 0
    return { observed: x, expected: mu, deviation, llr, cusum: 0, alarm: false }
  }
  s.cusum = Math.max(0, s.cusum + llr)
  if (learn) {
    const cap = mu + o.clip * Math.sqrt(mu) + 1
    const xc = x > cap ? cap : x
    s.share += rate(s, o) * (xc / tot - s.share)
    s.n++
  }
  const alarm = s.cusum >= o.threshold && x >= o.minUses && popcount(s.recent & ((1 << o.persistOf) - 1)) >= o.persist
  return { observed: x, expected: mu, deviation, llr, cusum: s.cusum, alarm }
}

/** Learning rate of the next window: the prior's pseudo-count first, then the EWMA span. */
function rate(s: CountDetectorState, o: CountDetectorOptions): number {
  return Math.max(1 / (o.priorWindows + s.n + 1), 1 / o.baselineSpan)
}

/**
 * k windows with no use, in closed form. total is the platform volume to assume for them (the last
 * one seen). learn as in stepCount.
 */
export function gapCount(s: CountDetectorState, k: number, total: number, learn: boolean, o: CountDetectorOptions, warmingUp = false): void {
  if (k <= 0 || Number.isNaN(s.share)) return
  s.recent = k >= 30 ? 0 : (s.recent << k) & 0x3fffffff
  if (warmingUp) {
    s.share *= s.n / (s.n + k)
    s.n += k
    return
  }
  const mu = expectedFor(s, total, o)
  s.cusum = Math.max(0, s.cusum - k * (alternative(mu, o) - mu))
  if (!learn) return
  // the rate changes while n < span: apply the product exactly for the first steps, then a power
  let left = k
  while (left > 0 && 1 / (o.priorWindows + s.n + 1) > 1 / o.baselineSpan) {
    s.share *= 1 - rate(s, o)
    s.n++
    left--
  }
  if (left > 0) {
    s.share *= Math.pow(1 - 1 / o.baselineSpan, left)
    s.n += left
  }
}

function popcount(v: number): number {
  v -= (v >>> 1) & 0x55555555
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24)
}

/** Expected uses for a window with this platform volume, without learning. */
export function expectedUses(s: CountDetectorState, total: number, o: CountDetectorOptions): number {
  return expectedFor(s, total, o)
}
