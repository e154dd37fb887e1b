// Evaluation of final-size predictors on retweet cascades: error metrics, folds, the calibration fit
// of the point-process predictor, and cross-validated scoring.
//
// Score: absolute percentage error |predicted − actual| / actual of the count at the horizon
// (7 days), summarised by its median over cascades, per observation time — the measure of the
// SEISMIC and TiDeH papers. Only events at or before the observation time are ever shown to a predictor.
import { Rng } from '../../streams/sources/prng.ts'
import {
  type Calibration, type PointProcessOptions, type PointProcessState, PointProcessModel, snapshotState,
} from '../../operators/virality/pointprocess.ts'
import { type Cascade, countUpTo } from './data.ts'
import { nelderMead } from './optimize.ts'

export const HORIZON_SEC = 7 * 86_400

/** |pred − actual| / actual. */
export function ape(predicted: number, actual: number): number {
  return Math.abs(predicted - actual) / actual
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = xs.slice().sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Median APE over paired predictions and actual values. */
export function medianApe(predicted: readonly number[], actual: readonly number[]): number {
  if (predicted.length !== actual.length) throw new Error(`medianApe: ${predicted.length} predictions for ${actual.length} actual values`)
  return median(predicted.map((p, i) => ape(p, actual[i])))
}

/** Percentile bootstrap 95% interval of the median of xs (resampling the cascades). */
export function bootstrapMedian(xs: readonly number[], resamples: number, seed: number): [number, number] {
  const rng = new Rng(seed, 'bootstrap')
  const meds: number[] = []
  const buf = new Array<number>(xs.length)
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < xs.length; i++) buf[i] = xs[rng.int(xs.length)]
    meds.push(median(buf))
  }
  meds.sort((a, b) => a - b)
  return [meds[Math.floor(0.025 * resamples)], meds[Math.ceil(0.975 * resamples) - 1]]
}

/** Paired bootstrap 95% interval of median(a) − median(b), a[i] and b[i] from the same cascade. */
export function bootstrapMedianDifference(a: readonly number[], b: readonly number[], resamples: number, seed: number): [number, number] {
  const rng = new Rng(seed, 'bootstrap-paired')
  const diffs: number[] = []
  const ba = new Array<number>(a.length)
  const bb = new Array<number>(a.length)
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < a.length; i++) { const j = rng.int(a.length); ba[i] = a[j]; bb[i] = b[j] }
    diffs.push(median(ba) - median(bb))
  }
  diffs.sort((x, y) => x - y)
  return [diffs[Math.floor(0.025 * resamples)], diffs[Math.ceil(0.975 * resamples) - 1]]
}

/** Leave-one-out: fold i holds item i. */
export function leaveOneOutFolds(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i)
}

/** k folds of (nearly) equal size, assigned by a seeded shuffle. */
export function kFolds(n: number, k: number, seed = 1): number[] {
  const order = Array.from({ length: n }, (_, i) => i)
  const rng = new Rng(seed, 'folds')
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const t = order[i]; order[i] = order[j]; order[j] = t
  }
  const fold = new Array<number>(n)
  order.forEach((item, pos) => { fold[item] = pos % k })
  return fold
}

/** Post ages the calibration is fitted at: 5 min × √2^i, below the horizon (22 knots for 7 days). */
export function defaultKnots(horizonSec = HORIZON_SEC): number[] {
  const out: number[] = []
  for (let i = 0; ; i++) {
    const t = Math.round(300 * Math.pow(2, i / 2))
    if (t >= horizonSec) return out
    out.push(t)
  }
}

/** The point-process model's view of one cascade at one age. */
export interface Sample {
  ageSec: number
  observed: number
  /** Raw Hawkes forecast of engagements still to come (N̂). */
  expected: number
  /** Count at the horizon. */
  actual: number
  /** The predictor's state at this age (for predicting with another calibration of the same model). */
  state: PointProcessState
}

/**
 * Runs the model over each cascade once, event by event, and records its state at every age
 * (ascending). Only events at or before an age are observed when it is recorded.
 */
export function extractSamples(cascades: readonly Cascade[], model: PointProcessModel, agesSec: readonly number[], horizonSec = HORIZON_SEC): Sample[][] {
  const ages = agesSec.slice().sort((a, b) => a - b)
  return cascades.map((c) => {
    const st = model.createState(0, c.followers[0])
    const actual = countUpTo(c, horizonSec)
    const out: Sample[] = []
    let i = 1
    for (const age of ages) {
      while (i < c.times.length && c.times[i] <= age) { model.observe(st, c.times[i], c.followers[i]); i++ }
      const f = model.features(st, age)
      out.push({ ageSec: age, observed: f.observed, expected: f.expectedRemaining, actual, state: snapshotState(st) })
    }
    return out
  })
}

/** The calibrated prediction for given coefficients (as PointProcessModel.predict computes it). */
export function calibrated(observed: number, expected: number, intercept: number, slope: number): number {
  const v = (observed + 1) * Math.exp(intercept + slope * Math.log1p(expected / (observed + 1))) - 1
  return v >= observed ? v : observed
}

/** model.predict(s.state, s.ageSec).predictedFinal, from the forecast recorded in the sample. */
export function calibratedAt(model: PointProcessModel, s: Sample): number {
  if (s.ageSec >= model.options.horizonSec) return s.observed
  const c = model.coefficients(s.ageSec)
  return calibrated(s.observed, s.expected, c.intercept, c.slope)
}

/**
 * Coefficients at one knot: minimise the mean APE over the training samples (the usual training
 * loss for this score; a log-scale L1 loss does no better). spread = median |log(pred/actual)|.
 */
export function fitKnot(samples: readonly Pick<Sample, 'observed' | 'expected' | 'actual'>[]): { intercept: number; slope: number; spread: number } {
  const n = samples.length
  const base = Float64Array.from(samples, (q) => q.observed + 1)
  const feat = Float64Array.from(samples, (q) => Math.log1p(q.expected / (q.observed + 1)))
  const loss = (x: readonly number[]): number => {
    // calibrated() inlined: this loop is most of the nested cross-validation's time.
    let s = 0
    for (let i = 0; i < n; i++) {
      const q = samples[i]
      let v = base[i] * Math.exp(x[0] + x[1] * feat[i]) - 1
      if (!(v >= q.observed)) v = q.observed
      s += Math.abs(v - q.actual) / q.actual
    }
    return s / n
  }
  const a0 = median(samples.map((q) => Math.log((q.actual + 1) / (q.observed + 1))))
  const nm = { step: [0.2, 0.2], maxEvaluations: 600, tolF: 1e-8, tolX: 1e-5 }
  let best = nelderMead(loss, [a0, 0], nm)
  const alt = nelderMead(loss, [0, 1], nm)
  if (alt.f < best.f) best = alt
  const [intercept, slope] = best.x
  const spread = median(samples.map((q) => Math.abs(Math.log(Math.max(1, calibrated(q.observed, q.expected, intercept, slope)) / q.actual))))
  return { intercept, slope, spread }
}

/** A calibration fitted on the samples of `train` cascades; samples[c][i] is cascade c at knots[i]. */
export function fitCalibration(samples: readonly Sample[][], train: readonly number[], knots: readonly number[], source?: string): Calibration {
  const intercept: number[] = []
  const slope: number[] = []
  const spread: number[] = []
  for (let i = 0; i < knots.length; i++) {
    const k = fitKnot(train.map((c) => samples[c][i]))
    intercept.push(k.intercept); slope.push(k.slope); spread.push(k.spread)
  }
  return { knotsSec: knots.slice(), intercept, slope, spread, ...(source ? { source } : {}) }
}

/** Population growth prior: pred = observed × g, with g minimising mean APE on the training samples. */
export function fitGrowthFactor(samples: readonly Pick<Sample, 'observed' | 'actual'>[]): number {
  const loss = (x: readonly number[]): number => {
    let s = 0
    for (const q of samples) s += ape(Math.max(q.observed, 1) * Math.exp(x[0]), q.actual)
    return s / samples.length
  }
  const g0 = median(samples.map((q) => Math.log(q.actual / Math.max(q.observed, 1))))
  return Math.exp(nelderMead(loss, [g0], { step: [0.1], maxEvaluations: 300 }).x[0])
}

export interface CvResult {
  /** predicted[o][c]: prediction for cascade c at observation time o, made by a model not trained on c. */
  predicted: number[][]
  /** Median APE per observation time. */
  mape: number[]
}

/**
 * Cross-validated calibrated point-process predictor. For each fold, the calibration is fitted on the
 * other cascades' samples at the knots; the held-out cascades are then predicted at the observation
 * times by PointProcessModel.predict with that calibration (viaModel), or by the same formula from
 * the recorded forecast (faster: the nested CV's inner loops).
 */
export function crossValidate(
  options: PointProcessOptions, knotSamples: readonly Sample[][], obsSamples: readonly Sample[][], knots: readonly number[], folds: readonly number[],
  viaModel = true,
): CvResult {
  const n = knotSamples.length
  const nObs = obsSamples[0]?.length ?? 0
  const predicted = Array.from({ length: nObs }, () => new Array<number>(n).fill(NaN))
  for (const f of [...new Set(folds)]) {
    const train: number[] = []
    for (let c = 0; c < n; c++) if (folds[c] !== f) train.push(c)
    const cal = fitCalibration(knotSamples, train, knots)
    const model = new PointProcessModel({ ...options, calibration: cal })
    for (let c = 0; c < n; c++) {
      if (folds[c] !== f) continue
      for (let o = 0; o < nObs; o++) {
        const s = obsSamples[c][o]
        predicted[o][c] = viaModel
          ? model.predict(s.state, s.ageSec).predictedFinal
          : calibratedAt(model, s)
      }
    }
  }
  const actual = obsSamples.map((s) => s[0].actual)
  return { predicted, mape: predicted.map((p) => medianApe(p, actual)) }
}

/** Indices of the knots whose coefficients a prediction at these ages interpolates between. */
export function knotsNeeded(knots: readonly number[], agesSec: readonly number[]): number[] {
  const need = new Set<number>()
  for (const a of agesSec) {
    let i = 0
    while (i < knots.length - 1 && knots[i + 1] < a) i++
    need.add(i)
    if (i + 1 < knots.length) need.add(i + 1)
  }
  return [...need].sort((a, b) => a - b)
}

/**
 * Nested cross-validation of the design choices. For each outer fold, every candidate design is
 * scored by an inner k-fold CV on the training cascades only (mean over observation times of the
 * median APE); the winner is refitted on all training cascades and predicts the held-out ones.
 * So the reported error includes the cost of choosing the design from data.
 */
export function nestedCrossValidate(
  designs: readonly { name: string; options: PointProcessOptions; knotSamples: Sample[][]; obsSamples: Sample[][] }[],
  knots: readonly number[], outerFolds: readonly number[], innerK = 10,
): CvResult & { chosen: string[] } {
  const n = outerFolds.length
  const nObs = designs[0].obsSamples[0].length
  const predicted = Array.from({ length: nObs }, () => new Array<number>(n).fill(NaN))
  const chosen: string[] = new Array(n)
  const obsAges = designs[0].obsSamples[0].map((s) => s.ageSec)
  const sub = knotsNeeded(knots, obsAges)
  const subKnots = sub.map((i) => knots[i])
  for (const f of [...new Set(outerFolds)]) {
    const train: number[] = []
    for (let c = 0; c < n; c++) if (outerFolds[c] !== f) train.push(c)
    const inner = kFolds(train.length, Math.min(innerK, train.length), 7 + f)
    let best = -1
    let bestScore = Infinity
    designs.forEach((d, di) => {
      const ks = train.map((c) => sub.map((i) => d.knotSamples[c][i]))
      const os = train.map((c) => d.obsSamples[c])
      const r = crossValidate(d.options, ks, os, subKnots, inner, false)
      const score = r.mape.reduce((a, b) => a + b, 0) / r.mape.length
      if (score < bestScore) { bestScore = score; best = di }
    })
    const d = designs[best]
    const cal = fitCalibration(d.knotSamples, train, knots)
    const model = new PointProcessModel({ ...d.options, calibration: cal })
    for (let c = 0; c < n; c++) {
      if (outerFolds[c] !== f) continue
      chosen[c] = d.name
      for (let o = 0; o < nObs; o++) predicted[o][c] = model.predict(d.obsSamples[c][o].state, obsAges[o]).predictedFinal
    }
  }
  const actual = designs[0].obsSamples.map((s) => s[0].actual)
  return { predicted, mape: predicted.map((p) => medianApe(p, actual)), chosen }
}
