// Streaming anomaly detector: one value at a time, O(1) work and memory per point, no clock, no I/O.
//
//   value, time ──► seasonal baseline (level + time-of-day offset, robust)   → baseline, deviation
//                ├─► level channels      EWMA of x at spans levelScales       ┐
//                ├─► residual channels   EWMA of x - baseline, residualScales ├─► record exceedances
//                └─► volatility channels EWMA of |Δx|, volatilityScales       ┘         │
//                                                    × confidence(history seen)  ◄──────┘
//                                                    → refractory → score = 1 - exp(-gain · surprise)
//
// Each channel reports how far its smoothed signal breaks its all-time high or low (channel.ts).
// The strongest report is the surprise; it is weighted by how much history backs it (a record after
// two days of data means less than one after two weeks). An alert raises the bar for the next one
// to (1 + refractoryMargin) times its evidence, and the bar decays with time constant `refractory`
// points, so one event makes one alert while a clearly stronger one still gets through.
//
// The same core runs per entity in the trend topology, so its state is small (about 1 KB with the
// defaults) and snapshots as plain data: numbers, plain objects and Float64Arrays.
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import type { StateStats } from '../../streams/types.ts'
import { detectorOptionsSchema, type DetectorOptions, type DetectorOptionsInput } from './options.ts'
import { expected, learn, newBaseline, seasonBin, type BaselineParams, type BaselineState } from './baseline.ts'
import { CH_FIELDS, initChannel, stepChannel, type ChannelParams } from './channel.ts'

export type ChannelKind = 'level' | 'residual' | 'volatility'

/** What one update concluded. Reused between updates of the same detector: copy it to keep it. */
export interface Explanation {
  /** Anomaly score in [0, 1]; 0 for ordinary points. */
  score: number
  /** The value fed in. */
  observed: number
  /** Expected value at this time of day, learned from the points before this one. */
  baseline: number
  /** Robust z: (observed - baseline) / (1.2533 × mean absolute residual). */
  deviation: number
  /** Evidence before squashing into [0, 1]: history-weighted record exceedance, in channel spreads. */
  surprise: number
  /** Channel that carried the evidence, e.g. "level@1+", "residual@8-", "volatility@64+"; "" if none. */
  channel: string
  /** Evidence was there but below the refractory bar left by a recent alert. */
  suppressed: boolean
  /** Still inside the warm-up: the score is 0 whatever happens. */
  warmingUp: boolean
}

/** Snapshot of a detector; structured-clone serialisable. */
export interface DetectorState {
  version: 1
  options: DetectorOptions
  n: number
  firstTime: number
  prevValue: number
  lastEmitted: number
  lastEmittedAt: number
  baseline: BaselineState
  channels: Float64Array
}

const NEVER = -1e15
/** 1 / E|N(0,1)|: turns a mean absolute deviation into a standard deviation for Gaussian noise. */
const MAD_TO_SIGMA = 1.2533141373155003

export class Detector {
  readonly options: DetectorOptions
  private readonly baselineParams: BaselineParams
  private readonly channelParams: ChannelParams
  private readonly nLevel: number
  private readonly nResidual: number
  private readonly nVolatility: number
  /** Name of each (channel, side): index 2 * channel + (0 up | 1 down). */
  private readonly names: string[]
  private readonly logFull: number
  private readonly out = new Float64Array(2)
  private readonly explanation: Explanation = {
    score: 0,
    observed: 0,
    baseline: 0,
    deviation: 0,
    surprise: 0,
    channel: '',
    suppressed: false,
    warmingUp: true,
  }

  private n = 0
  private firstTime = NaN
  private prevValue = NaN
  private lastEmitted = 0
  private lastEmittedAt = NEVER
  private baseline: BaselineState
  private channels: Float64Array

  constructor(options?: DetectorOptionsInput) {
    this.options = parseOptions('anomaly detector', detectorOptionsSchema, options)
    const o = this.options
    this.baselineParams = {
      periodMs: o.seasonPeriodMs,
      bins: o.seasonBins,
      levelAlpha: o.levelAlpha,
      seasonAlpha: o.seasonAlpha,
      clip: o.seasonClip,
    }
    this.channelParams = {
      centerAlpha: o.centerAlpha,
      spreadAlpha: o.spreadAlpha,
      tailWeight: o.tailWeight,
      recordDecay: o.recordHalfLife > 0 ? 1 - Math.pow(2, -1 / o.recordHalfLife) : 0,
    }
    this.nLevel = o.levelScales.length
    this.nResidual = o.residualScales.length
    this.nVolatility = o.direction === 'up' ? 0 : o.volatilityScales.length
    const spans = [...o.levelScales, ...o.residualScales, ...o.volatilityScales.slice(0, this.nVolatility)]
    const kinds: ChannelKind[] = [
      ...o.levelScales.map((): ChannelKind => 'level'),
      ...o.residualScales.map((): ChannelKind => 'residual'),
      ...o.volatilityScales.slice(0, this.nVolatility).map((): ChannelKind => 'volatility'),
    ]
    this.names = spans.flatMap((span, i) => [`${kinds[i]}@${span}+`, `${kinds[i]}@${span}-`])
    this.logFull = Math.log(1 + o.fullHistoryHours / o.historyHours)
    this.baseline = newBaseline(this.baselineParams)
    this.channels = new Float64Array(spans.length * CH_FIELDS)
    spans.forEach((span, i) => initChannel(this.channels, i * CH_FIELDS, span))
  }

  /** Feeds one point. `time` is event time in epoch ms, used for the season and the history weight. */
  update(value: number, time: number): Readonly<Explanation> {
    if (!Number.isFinite(value)) throw new TrendwireError('INPUT_MALFORMED', `anomaly detector: value must be a finite number, got ${value}`)
    if (!Number.isFinite(time)) throw new TrendwireError('INPUT_BAD_TIMESTAMP', `anomaly detector: time must be finite epoch ms, got ${time}`)
    const o = this.options
    const n = ++this.n
    if (n === 1) this.firstTime = time
    const scoring = n > o.warmup
    const upOnly = o.direction === 'up'

    const bin = seasonBin(time, this.baselineParams)
    const base = this.baseline.ready ? expected(this.baseline, bin) : value
    const residual = value - base
    // Scale of the deviation: the baseline's residual spread before this point teaches it.
    const sigma = this.baseline.spread * MAD_TO_SIGMA

    this.best = 0
    this.who = -1
    let k = 0
    for (let i = 0; i < this.nLevel; i++) this.feed(k++, value, n, scoring, upOnly)
    for (let i = 0; i < this.nResidual; i++) this.feed(k++, residual, n, scoring, upOnly)
    if (this.nVolatility > 0 && n > 1) {
      const move = Math.abs(value - this.prevValue)
      for (let i = 0; i < this.nVolatility; i++) this.feed(k++, move, n, scoring, false)
    }
    this.prevValue = value
    learn(this.baseline, value, bin, n, this.baselineParams)

    let best = this.best
    const who = this.who
    if (best > 0) {
      const hours = Math.max(0, (time - this.firstTime) / 3_600_000)
      best *= Math.pow(Math.log(1 + hours / o.historyHours) / this.logFull, o.historyPower)
    }
    let suppressed = false
    if (best > 0) {
      // The bar for a new alert starts at (1 + margin) times the last emitted evidence and decays
      // exponentially with time constant `refractory` points.
      suppressed = best < this.lastEmitted * (1 + o.refractoryMargin) * Math.exp(-(n - this.lastEmittedAt) / o.refractory)
      if (!suppressed) {
        this.lastEmitted = best
        this.lastEmittedAt = n
      }
    }

    const e = this.explanation
    e.score = best > 0 && !suppressed ? 1 - Math.exp(-o.gain * best) : 0
    e.observed = value
    e.baseline = base
    e.deviation = sigma > 0 ? residual / sigma : 0
    e.surprise = best
    e.channel = who >= 0 ? this.names[who] : ''
    e.suppressed = suppressed
    e.warmingUp = !scoring
    return e
  }

  // Scratch of the current update: strongest evidence so far and its (channel, side) index.
  private best = 0
  private who = -1

  private feed(k: number, x: number, n: number, scoring: boolean, upOnly: boolean): void {
    stepChannel(this.channels, k * CH_FIELDS, x, n, this.options.warmup, scoring, this.channelParams, this.out)
    if (this.out[0] > this.best) {
      this.best = this.out[0]
      this.who = 2 * k
    }
    if (!upOnly && this.out[1] > this.best) {
      this.best = this.out[1]
      this.who = 2 * k + 1
    }
  }

  /** Points seen so far. */
  get count(): number {
    return this.n
  }

  stateStats(): StateStats {
    return { keys: 1, estimatedBytes: 8 * (this.channels.length + 2 * this.baseline.offsets.length) + 256 }
  }

  /** A consistent copy of the whole state (no references into the live detector). */
  snapshot(): DetectorState {
    return {
      version: 1,
      options: structuredClone(this.options),
      n: this.n,
      firstTime: this.firstTime,
      prevValue: this.prevValue,
      lastEmitted: this.lastEmitted,
      lastEmittedAt: this.lastEmittedAt,
      baseline: {
        ready: this.baseline.ready,
        level: this.baseline.level,
        spread: this.baseline.spread,
        offsets: this.baseline.offsets.slice(),
        counts: this.baseline.counts.slice(),
      },
      channels: this.channels.slice(),
    }
  }

  /** Rebuilds a detector from snapshot(); throws CHECKPOINT_CORRUPT when the state does not fit its options. */
  static restore(state: unknown): Detector {
    const s = state as DetectorState
    if (!s || typeof s !== 'object' || s.version !== 1) {
      throw new TrendwireError('CHECKPOINT_CORRUPT', 'anomaly detector: unknown snapshot version')
    }
    let d: Detector
    try {
      d = new Detector(s.options)
    } catch (err) {
      throw new TrendwireError('CHECKPOINT_CORRUPT', 'anomaly detector: snapshot options are invalid', { cause: err })
    }
    const b = s.baseline
    const ok =
      b &&
      b.offsets instanceof Float64Array &&
      b.counts instanceof Float64Array &&
      b.offsets.length === d.baseline.offsets.length &&
      b.counts.length === d.baseline.counts.length &&
      s.channels instanceof Float64Array &&
      s.channels.length === d.channels.length &&
      [s.n, s.lastEmitted, s.lastEmittedAt, b.ready, b.level, b.spread].every((v) => typeof v === 'number' && Number.isFinite(v)) &&
      typeof s.firstTime === 'number' &&
      typeof s.prevValue === 'number'
    if (!ok) throw new TrendwireError('CHECKPOINT_CORRUPT', 'anomaly detector: snapshot does not match its options')
    d.n = s.n
    d.firstTime = s.firstTime
    d.prevValue = s.prevValue
    d.lastEmitted = s.lastEmitted
    d.lastEmittedAt = s.lastEmittedAt
    d.baseline = { ready: b.ready, level: b.level, spread: b.spread, offsets: b.offsets.slice(), counts: b.counts.slice() }
    d.channels = s.channels.slice()
    return d
  }
}
