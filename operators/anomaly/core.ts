// The detector core: one streaming anomaly detector, O(1) work and memory per point, no clock, no
// I/O. Both users run it: `trendwire nab` (through Detector, detector.ts: a real-valued series,
// Gaussian model) and the trend topology (operators/trends/detector.ts: one entity's uses per
// window, Poisson model, the expectation scaled by the platform's volume). They differ in
// configuration only; every point goes through the same update():
//
//   x, time, exposure ─► baseline  μ = (level + seasonal offset[time of day]) × exposure     → baseline
//                        model     scale (Gaussian: robust residual σ; Poisson: √μ)          → deviation = (x − μ) / scale
//                     ├─► record channels   EWMA views of x, x − μ, |Δx| breaking their all-time  ┐
//                     │                     high/low, in channel spreads (channel.ts)             ├─► surprise = max
//                     └─► CUSUM channel     S ← max(0, S + log-likelihood ratio of the model's     │   × confidence(history)
//                                           "risen" against "as expected"), in units of threshold ┘   → refractory bar
//                        learn     the baseline learns x, clipped at μ ± (clip·scale + granularity)    → score = 1 − exp(−gain·surprise)
//                                                                                                       → alarm (surprise ≥ alarmAt, gates)
//
// Baseline: level + an offset per time-of-day bin (additive Holt-Winters without trend), times an
// exposure the caller supplies with each point (1 for a plain series; for counts, the volume the
// count is a share of, so the expectation follows a platform-wide rhythm without per-key history).
// The level learns with rate max(1/(priorWeight + m), levelAlpha) at its m-th point (a plain mean
// with an optional prior for the first levelMeanPoints points, then an EWMA), optionally
// (clipLevel) from the observation clipped at expected ± (clip·scale + granularity), so an outlier
// or the take-off itself teaches it almost nothing; the caller can also freeze it (FREEZE) while
// something is going on. Seasonal offsets always learn the clipped residual (rate 1/count over a
// bin's first 1/seasonAlpha points, then seasonAlpha), so a spike does not return as a false dip a
// day later. With direction 'up' only the upper side is clipped.
//
// Models: 'gaussian' (scale = 1.2533 × the mean absolute residual the baseline learns, granularity 0,
// CUSUM alternative μ + cusumMinRise·σ) and 'poisson' (scale = √μ, granularity 1 count, alternative
// λ1 = cusumRatio·μ + cusumMinRise; Page 1954, Lucas 1985 "Counted data CUSUM's"). The Gaussian
// spread starts at 0 and is learned from residuals capped at 3 clips of itself, so it takes a few
// hundred points to reach the noise's size (on NAB that slow start of the seasonal clip is worth
// ~2 points); a Gaussian CUSUM channel wants a warm-up that long.
//
// Evidence: the strongest channel report is the surprise, weighted by how much history backs it;
// after an alert with evidence E the next needs (1 + refractoryMargin)·E, decaying with time constant
// `refractory` points. Records are the cheapest exact memory of "everything seen before" and make the
// evidence sparse (NAB: only the first detection in a window counts); the CUSUM sums weak evidence
// over consecutive points and forgets noise (counts: a ramp adding a use a window is seen long
// before any single window is extreme). A configuration picks its channels.
//
// The core object holds only the validated options and what is derived from them; the state of a
// series is a separate plain object (numbers and Float64Arrays, structured-clone serialisable) that
// the caller keeps — one per NAB series, one per entity in the trend topology's keyed state.
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { detectorOptionsSchema, type DetectorOptions, type DetectorOptionsInput } from './options.ts'
import { CH_FIELDS, initChannel, stepChannel, type ChannelParams } from './channel.ts'

export type ChannelKind = 'level' | 'residual' | 'volatility'

/** What one update concluded. Reused between updates of the same core: copy it to keep it. */
export interface Explanation {
  /** Anomaly score in [0, 1]; 0 for ordinary points. */
  score: number
  /** The value fed in. */
  observed: number
  /** Expected value (time of day, exposure), learned from the points before this one. */
  baseline: number
  /** (observed − baseline) / the model's scale: robust z (Gaussian) or Poisson z. */
  deviation: number
  /** Evidence before squashing into [0, 1], history-weighted: record exceedance in channel spreads, or CUSUM / threshold. */
  surprise: number
  /** Channel that carried the evidence, e.g. "level@1+", "residual@8-", "volatility@64+", "cusum+"; "" if none. */
  channel: string
  /** Evidence was there but below the refractory bar left by a recent alert. */
  suppressed: boolean
  /** Still inside the warm-up: the score is 0 whatever happens. */
  warmingUp: boolean
  /** surprise ≥ alarmAt and the observation passes minObserved and persistence (and not suppressed). */
  alarm: boolean
  /** Log-likelihood ratio of this point under the model (CUSUM increment; 0 without a CUSUM channel). */
  llr: number
  /** CUSUM statistic after this point, in log-likelihood-ratio units (0 without a CUSUM channel). */
  cusum: number
}

/** State of one series. Plain data: structured-clone and v8 serialisable. */
export interface CoreState {
  /** Points seen. */
  n: number
  /** Points the baseline learned (frozen points are not counted). */
  m: number
  /** Baseline level, per unit of exposure. */
  level: number
  /** Mean absolute residual (per unit of exposure; Gaussian model only). */
  spread: number
  /** CUSUM statistic. */
  cusum: number
  /** Bit i set: the point i points ago was "present" (see persist). */
  recent: number
  firstTime: number
  prev: number
  lastEmitted: number
  lastEmittedAt: number
  /** Seasonal offsets [0, bins) then bin counts [bins, 2·bins); null without seasonality. */
  season: Float64Array | null
  /** Record channels, CH_FIELDS numbers each; null without record channels. */
  channels: Float64Array | null
}

/** update() flags. */
export const FREEZE = 1
/** The caller's warm-up (e.g. a job that just started): the level learns a plain mean, nothing scores. */
export const WARMING_UP = 2

const NEVER = -1e15
/** 1 / E|N(0,1)|: turns a mean absolute deviation into a standard deviation for Gaussian noise. */
const MAD_TO_SIGMA = 1.2533141373155003
const BITS = 0x3fffffff

export class DetectorCore {
  readonly options: DetectorOptions
  readonly poisson: boolean
  private readonly seasonal: boolean
  private readonly bins: number
  private readonly upOnly: boolean
  private readonly channelParams: ChannelParams
  private readonly spans: number[]
  private readonly nLevel: number
  private readonly nResidual: number
  private readonly nVolatility: number
  /** Name of each (channel, side): index 2 * channel + (0 up | 1 down); the CUSUM last. */
  private readonly names: string[]
  private readonly cusumIndex: number
  private readonly logFull: number
  private readonly granularity: number
  private readonly persistMask: number
  /** The gap of zero points has a closed form for this configuration. */
  readonly closedFormGap: boolean
  private readonly out = new Float64Array(2)
  private readonly explanation: Explanation = {
    score: 0, observed: 0, baseline: 0, deviation: 0, surprise: 0, channel: '', suppressed: false, warmingUp: true, alarm: false, llr: 0, cusum: 0,
  }
  // scratch of the current update: strongest evidence so far and its (channel, side) index
  private best = 0
  private who = -1

  constructor(options?: DetectorOptionsInput) {
    this.options = parseOptions('anomaly detector', detectorOptionsSchema, options)
    const o = this.options
    this.poisson = o.model === 'poisson'
    this.seasonal = o.seasonPeriodMs > 0
    this.bins = this.seasonal ? o.seasonBins : 0
    this.upOnly = o.direction === 'up'
    this.granularity = this.poisson ? 1 : 0
    this.channelParams = {
      centerAlpha: o.centerAlpha,
      spreadAlpha: o.spreadAlpha,
      tailWeight: o.tailWeight,
      recordDecay: o.recordHalfLife > 0 ? 1 - Math.pow(2, -1 / o.recordHalfLife) : 0,
    }
    this.nLevel = o.levelScales.length
    this.nResidual = o.residualScales.length
    this.nVolatility = this.upOnly ? 0 : o.volatilityScales.length
    this.spans = [...o.levelScales, ...o.residualScales, ...o.volatilityScales.slice(0, this.nVolatility)]
    const kinds: ChannelKind[] = [
      ...o.levelScales.map((): ChannelKind => 'level'),
      ...o.residualScales.map((): ChannelKind => 'residual'),
      ...o.volatilityScales.slice(0, this.nVolatility).map((): ChannelKind => 'volatility'),
    ]
    this.names = this.spans.flatMap((span, i) => [`${kinds[i]}@${span}+`, `${kinds[i]}@${span}-`])
    this.cusumIndex = this.names.length
    this.names.push('cusum+')
    this.logFull = Math.log(1 + o.fullHistoryHours / o.historyHours)
    this.persistMask = o.persistOf >= 30 ? BITS : (1 << o.persistOf) - 1
    this.closedFormGap = this.poisson && !this.seasonal && this.spans.length === 0 && this.upOnly && (o.minObserved === undefined || o.minObserved > 0)
  }

  /** A fresh state for one series. */
  init(): CoreState {
    const channels = this.spans.length > 0 ? new Float64Array(this.spans.length * CH_FIELDS) : null
    if (channels) this.spans.forEach((span, i) => initChannel(channels, i * CH_FIELDS, span))
    return {
      n: 0, m: 0, level: 0, spread: 0, cusum: 0, recent: 0, firstTime: NaN, prev: NaN, lastEmitted: 0, lastEmittedAt: NEVER,
      season: this.seasonal ? new Float64Array(2 * this.bins) : null,
      channels,
    }
  }

  /** Whether `s` has the shape this core's init() gives (for restoring checkpoints). */
  fits(s: unknown): s is CoreState {
    const t = s as CoreState
    if (!t || typeof t !== 'object') return false
    const nums = [t.n, t.m, t.level, t.spread, t.cusum, t.recent, t.lastEmitted, t.lastEmittedAt]
    if (!nums.every((v) => typeof v === 'number' && Number.isFinite(v))) return false
    if (typeof t.firstTime !== 'number' || typeof t.prev !== 'number') return false
    const seasonOk = this.seasonal ? t.season instanceof Float64Array && t.season.length === 2 * this.bins : t.season === null
    const chOk = this.spans.length > 0 ? t.channels instanceof Float64Array && t.channels.length === this.spans.length * CH_FIELDS : t.channels === null
    return seasonOk && chOk
  }

  seasonBin(time: number): number {
    const P = this.options.seasonPeriodMs
    if (P <= 0) return 0
    const phase = ((time % P) + P) % P
    return Math.min(this.bins - 1, Math.floor((phase / P) * this.bins))
  }

  /** Expected value at `time` with this exposure, without learning (before the first point: the prior, or NaN without one). */
  expected(s: CoreState, time: number, exposure = 1): number {
    if (s.n === 0 && this.options.priorWeight === 0) return NaN
    const level = s.n === 0 ? this.options.prior / exposure : s.level
    const off = this.seasonal ? s.season![this.seasonBin(time)] : 0
    const mu = (level + off) * exposure
    return this.poisson ? Math.max(mu, this.options.expectedFloor) : mu
  }

  /**
   * Feeds one point of the series held in `s` (mutated). `time` is event time in epoch ms (season,
   * history weight); `exposure` > 0 scales the expectation (1 for a plain series); flags: FREEZE
   * (the baseline does not learn this point), WARMING_UP (the caller's warm-up).
   */
  update(s: CoreState, value: number, time: number, exposure = 1, flags = 0): Readonly<Explanation> {
    if (!Number.isFinite(value)) throw new TrendwireError('INPUT_MALFORMED', `anomaly detector: value must be a finite number, got ${value}`)
    if (!Number.isFinite(time)) throw new TrendwireError('INPUT_BAD_TIMESTAMP', `anomaly detector: time must be finite epoch ms, got ${time}`)
    if (!(exposure > 0 && Number.isFinite(exposure))) throw new TrendwireError('INPUT_MALFORMED', `anomaly detector: exposure must be a positive number, got ${exposure}`)
    const o = this.options
    const declared = (flags & WARMING_UP) !== 0
    if (s.n === 0) {
      s.firstTime = time
      if (o.priorWeight > 0) s.level = o.prior / exposure
    }
    const n = ++s.n
    const scoring = n > o.warmup && !declared

    // expectation and the model's scale, before this point teaches anything
    const bin = this.seasonal ? this.seasonBin(time) : 0
    const off = this.seasonal ? s.season![bin] : 0
    let mu: number
    if (n === 1 && o.priorWeight === 0) mu = value // no prior: the first point is its own expectation
    else {
      mu = (s.level + off) * exposure
      if (this.poisson) mu = Math.max(mu, o.expectedFloor)
    }
    const residual = value - mu
    const scale = this.poisson ? Math.sqrt(Math.max(mu, o.deviationFloor)) : s.spread * exposure * MAD_TO_SIGMA
    const present = o.minObserved === undefined ? value > mu : value >= o.minObserved
    s.recent = ((s.recent << 1) | (present ? 1 : 0)) & BITS

    // record channels
    this.best = 0
    this.who = -1
    const ch = s.channels
    if (ch !== null) {
      let k = 0
      for (let i = 0; i < this.nLevel; i++) this.feed(ch, k++, value, n, scoring)
      for (let i = 0; i < this.nResidual; i++) this.feed(ch, k++, residual, n, scoring)
      if (this.nVolatility > 0 && n > 1) {
        const move = Math.abs(value - s.prev)
        for (let i = 0; i < this.nVolatility; i++) this.feed(ch, k++, move, n, scoring)
      }
    }
    s.prev = value

    // CUSUM channel
    let llr = 0
    if (o.cusumThreshold > 0) {
      llr = this.llr(value, mu, scale)
      s.cusum = scoring ? Math.max(0, s.cusum + llr) : 0
      const ev = s.cusum / o.cusumThreshold
      if (ev > this.best) {
        this.best = ev
        this.who = this.cusumIndex
      }
    }

    // the baseline learns (after scoring: a point is judged against what came before it)
    if (declared) this.learn(s, value, bin, off, mu, exposure, true)
    else if ((flags & FREEZE) === 0) this.learn(s, value, bin, off, mu, exposure, false)

    let best = this.best
    const who = this.who
    if (best > 0 && o.historyPower > 0) {
      const hours = Math.max(0, (time - s.firstTime) / 3_600_000)
      best *= Math.pow(Math.log(1 + hours / o.historyHours) / this.logFull, o.historyPower)
    }
    let suppressed = false
    if (best > 0 && o.refractory > 0) {
      // The bar for a new alert starts at (1 + margin) times the last emitted evidence and decays
      // exponentially with time constant `refractory` points.
      suppressed = best < s.lastEmitted * (1 + o.refractoryMargin) * Math.exp(-(n - s.lastEmittedAt) / o.refractory)
      if (!suppressed) {
        s.lastEmitted = best
        s.lastEmittedAt = n
      }
    }

    const e = this.explanation
    e.score = best > 0 && !suppressed ? 1 - Math.exp(-o.gain * best) : 0
    e.observed = value
    e.baseline = mu
    e.deviation = scale > 0 ? residual / scale : 0
    e.surprise = best
    e.channel = who >= 0 ? this.names[who] : ''
    e.suppressed = suppressed
    e.warmingUp = !scoring
    e.alarm = scoring && !suppressed && best >= o.alarmAt && (o.minObserved === undefined || value >= o.minObserved) && popcount(s.recent & this.persistMask) >= o.persist
    e.llr = llr
    e.cusum = s.cusum
    return e
  }

  /**
   * k points of value 0 (a count series' windows without a record) at time0, time0 + stepMs, …
   * In closed form (O(1)) when the configuration allows it (closedFormGap: Poisson, no season, no
   * record channels, direction 'up'): the level decays by the learning rates' product, the CUSUM
   * drops by k times a zero's log-likelihood ratio, with the exposure and expectation of the gap's
   * start. Otherwise k updates. Nothing is reported for the points of a gap.
   */
  gap(s: CoreState, k: number, exposure: number, flags = 0, time0 = NaN, stepMs = 0): void {
    if (k <= 0 || s.n === 0) return
    if (!this.closedFormGap) {
      for (let i = 0; i < k; i++) this.update(s, 0, time0 + i * stepMs, exposure, flags)
      return
    }
    const o = this.options
    s.recent = k >= 30 ? 0 : (s.recent << k) & BITS
    s.prev = 0
    s.n += k
    if ((flags & WARMING_UP) !== 0) {
      s.level *= s.m / (s.m + k)
      s.m += k
      return
    }
    const mu = Math.max(s.level * exposure, o.expectedFloor)
    s.cusum = s.n <= o.warmup ? 0 : Math.max(0, s.cusum + k * this.llr(0, mu, Math.sqrt(Math.max(mu, o.deviationFloor))))
    if ((flags & FREEZE) !== 0) return
    // the rate changes while in the running-mean start: apply the product exactly there, then a power
    let left = k
    while (left > 0 && this.levelRate(s.m + 1) > o.levelAlpha) {
      s.level *= 1 - this.levelRate(s.m + 1)
      s.m++
      left--
    }
    if (left > 0) {
      s.level *= Math.pow(1 - o.levelAlpha, left)
      s.m += left
    }
  }

  /** Clears the accumulated evidence (e.g. at the end of an episode: a new one needs fresh evidence). */
  resetEvidence(s: CoreState): void {
    s.cusum = 0
  }

  /** Raises the level so that the expectation at this exposure is at least `value` (a new normal). */
  raiseLevel(s: CoreState, value: number, exposure = 1): void {
    s.level = Math.max(s.level, value / exposure)
  }

  /** Rough bytes of one state. */
  stateBytes(): number {
    return 8 * (2 * this.bins + this.spans.length * CH_FIELDS) + 160
  }

  /** Learning rate of the level at its m-th point (1-based): the running-mean start, then levelAlpha. */
  private levelRate(m: number): number {
    const o = this.options
    return m <= o.levelMeanPoints ? Math.max(1 / (o.priorWeight + m), o.levelAlpha) : o.levelAlpha
  }

  /** Log-likelihood ratio of x under "risen" against "as expected" (mu), for the model. */
  private llr(x: number, mu: number, scale: number): number {
    const o = this.options
    if (this.poisson) {
      const l1 = o.cusumRatio * mu + o.cusumMinRise
      return x * Math.log(l1 / mu) - (l1 - mu)
    }
    if (!(scale > 0)) return 0
    const d = o.cusumMinRise
    return (d * (x - mu)) / scale - (d * d) / 2
  }

  private learn(s: CoreState, x: number, bin: number, off: number, mu: number, exposure: number, mean: boolean): void {
    const o = this.options
    const m = ++s.m
    // clip band around the expectation: clip × scale + granularity (none in the plain-mean warm-up)
    const clipScale = this.poisson ? Math.sqrt(mu) : s.spread * exposure
    const band = !mean && o.clip > 0 && clipScale > 0 ? o.clip * clipScale + this.granularity : Infinity
    let xl = x
    if (o.clipLevel) {
      if (xl > mu + band) xl = mu + band
      else if (!this.upOnly && xl < mu - band) xl = mu - band
    }
    const rate = mean ? 1 / m : this.levelRate(m)
    s.level += rate * (xl / exposure - off - s.level)
    if (this.poisson && !this.seasonal) return
    const raw = x / exposure - s.level - off
    let e = raw
    const b = band / exposure
    if (e > b) e = b
    else if (!this.upOnly && e < -b) e = -b
    if (!this.poisson) {
      // The spread is learned from residuals capped at 3 clips, so one huge spike cannot blow it up.
      const c = o.clip > 0 ? o.clip : 3
      s.spread += (m < 50 ? 1 / m : 0.01) * (Math.min(Math.abs(raw), 3 * c * Math.max(s.spread, 1e-12)) - s.spread)
    }
    if (!this.seasonal) return
    const season = s.season!
    const count = season[this.bins + bin]
    season[bin] += (count < 1 / o.seasonAlpha ? 1 / (count + 1) : o.seasonAlpha) * e
    season[this.bins + bin] = count + 1
  }

  private feed(ch: Float64Array, k: number, x: number, n: number, scoring: boolean): void {
    stepChannel(ch, k * CH_FIELDS, x, n, this.options.warmup, scoring, this.channelParams, this.out)
    if (this.out[0] > this.best) {
      this.best = this.out[0]
      this.who = 2 * k
    }
    if (!this.upOnly && this.out[1] > this.best) {
      this.best = this.out[1]
      this.who = 2 * k + 1
    }
  }
}

function popcount(v: number): number {
  v -= (v >>> 1) & 0x55555555
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
}
