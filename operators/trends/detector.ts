// The trend topology's take-off detector for one entity's per-window series: the detector core
// (operators/anomaly/core.ts) — the same class `trendwire nab` runs — in its count configuration
// (trendCoreOptions below). O(1) work and memory per window. The core's Poisson observation model
// and an exogenous exposure are what make it work on counts:
//
// Why not the NAB configuration on the raw counts: an entity's per-minute use count is small,
// discrete and mostly zero (a long-tail hashtag is used a few times an hour; a new one has no
// history at all), and windows with no use produce no record. The NAB configuration learns a level,
// a time-of-day offset and the spread of its record channels from a dense real-valued series over
// days (150 points of warm-up; confidence grows over 240 hours), and its spread is 0 on a series of
// zeros, so on these series it is either silent for hours or fires on the first use
// (benchmarks/trends/generic-detector.ts: precision 0.004). What counts need is a baseline in the
// right units and evidence that knows Poisson noise — the core's 'poisson' model and CUSUM channel:
//
// Baseline — share of platform volume. The core's expectation is level × exposure; here the
// exposure is N, the platform's posts in the window, and the level is the entity's usual share of
// them. Dividing by the platform's own volume removes the daily rhythm (and any platform-wide surge)
// without days of per-entity history: the one seasonal profile that matters is shared by all
// entities and measured live (so the core's own time-of-day offsets are off). The share is a
// running mean with a prior (priorUses per window, worth priorWindows windows) so a new entity
// starts with a small but non-zero expectation, then an EWMA over `baselineSpan` windows. Robust:
// each window's count is clipped at expected + clip·√expected + 1 before it is learned, and the
// caller freezes learning while the entity is trending, so a take-off never becomes its own baseline.
//
// Score — the core's CUSUM channel with the Poisson likelihood (Page 1954; Lucas 1985, "Counted
// data CUSUM's"): the log-likelihood ratio of "rate λ1 = ratio·expected + minRise" against "rate =
// expected", accumulated and floored at 0:  S ← max(0, S + x·ln(λ1/λ0) − (λ1 − λ0)).  It is the
// optimal (Lorden) test for a shift of that size, sums weak evidence over consecutive windows (a
// ramp that adds one use a window is seen in a few windows, long before any single window is
// extreme), and forgets noise because every quiet window subtracts. The core's alarm is S ≥
// threshold (surprise = S / threshold ≥ 1) with at least minUses uses in the window. minRise keeps
// entities with an expectation near zero from firing on a couple of chance uses: the alternative is
// always at least minRise uses per window.
//
// Windows without a record are zeros: the core's gap() applies k of them in closed form (share
// decays by the product of its learning rates, S drops by k·(λ1 − λ0)), so an idle entity costs
// nothing until its next use.
//
// State is the core's state: a plain object of numbers (structured-clone serialisable).
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import { DetectorCore, FREEZE, WARMING_UP, type CoreState } from '../anomaly/core.ts'
import type { DetectorOptionsInput } from '../anomaly/options.ts'

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
  /** ...worth this many windows of observation (0: no prior, the first window is its own expectation). */
  priorWindows: z.number().min(0).default(30),
  /** EWMA span of the baseline share, in windows, once past the prior. */
  baselineSpan: z.number().min(1).default(240),
  /** Counts above expected + clip·√expected + 1 are clipped before they are learned (0: no clipping). */
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

/** One entity's detector state: the core's state (plain data, structured-clone serialisable). */
export type CountDetectorState = CoreState

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
  /** Evidence in units of the threshold (cusum / threshold): ≥ 1 when the entity took off. */
  surprise: number
  /** CUSUM at or above the threshold and enough uses in this window. */
  alarm: boolean
}

/**
 * The trend configuration of the detector core (operators/anomaly/core.ts): Poisson model, the
 * expectation = level (the share) × exposure (the platform's posts in the window), no season (the
 * exposure carries the daily rhythm), no record channels, a CUSUM channel with the alarm at its
 * threshold, no warm-up of its own (the job's warm-up is passed per window), no history weight and
 * no refractory bar (the lifecycle and the evidence reset at the end of an episode do that job).
 */
export function trendCoreOptions(o: CountDetectorOptions): DetectorOptionsInput {
  return {
    model: 'poisson',
    direction: 'up',
    seasonPeriodMs: 0,
    levelScales: [],
    residualScales: [],
    volatilityScales: [],
    levelAlpha: 1 / o.baselineSpan,
    levelMeanPoints: Math.ceil(o.baselineSpan),
    prior: o.priorUses,
    priorWeight: o.priorWindows,
    clip: o.clip,
    clipLevel: true,
    expectedFloor: o.floorExpected,
    deviationFloor: o.minExpected,
    cusumThreshold: o.threshold,
    cusumRatio: o.ratio,
    cusumMinRise: o.minRise,
    warmup: 0,
    historyPower: 0,
    refractory: 0,
    alarmAt: 1,
    minObserved: o.minUses,
    persist: o.persist,
    persistOf: o.persistOf,
  }
}

const cores = new WeakMap<CountDetectorOptions, DetectorCore>()

/** The core for these (parsed) options; one per options object, shared by all entities. */
export function trendCore(o: CountDetectorOptions): DetectorCore {
  let core = cores.get(o)
  if (core === undefined) {
    core = new DetectorCore(trendCoreOptions(o))
    cores.set(o, core)
  }
  return core
}

let defaults: CountDetectorOptions | undefined

/** A new entity's state (its shape is the same for every count configuration). */
export function newCountDetector(o?: CountDetectorOptions): CountDetectorState {
  return trendCore(o ?? (defaults ??= parseCountDetectorOptions())).init()
}

/**
 * One window: x observed uses, total = the platform's posts in the window (the exposure), time =
 * the window's end. learn = false freezes the baseline (while the entity trends). Mutates s.
 */
export function stepCount(s: CountDetectorState, x: number, total: number, learn: boolean, o: CountDetectorOptions, warmingUp = false, time = 0): CountStep {
  const e = trendCore(o).update(s, x, time, Math.max(total, 1), (learn ? 0 : FREEZE) | (warmingUp ? WARMING_UP : 0))
  return { observed: x, expected: e.baseline, deviation: e.deviation, llr: e.llr, cusum: e.cusum, surprise: e.surprise, alarm: e.alarm }
}

/**
 * k windows with no use, in closed form (the core's gap). total is the platform volume to assume
 * for them (the last one seen); time0 / stepMs the first zero window's end and the window length.
 * learn as in stepCount.
 */
export function gapCount(s: CountDetectorState, k: number, total: number, learn: boolean, o: CountDetectorOptions, warmingUp = false, time0 = 0, stepMs = 0): void {
  trendCore(o).gap(s, k, Math.max(total, 1), (learn ? 0 : FREEZE) | (warmingUp ? WARMING_UP : 0), time0, stepMs)
}

/** Expected uses for a window with this platform volume, without learning. */
export function expectedUses(s: CountDetectorState, total: number, o: CountDetectorOptions): number {
  return trendCore(o).expected(s, 0, Math.max(total, 1))
}
