// Streaming anomaly detector for one real-valued series: the detector core (core.ts) with the state
// of one series, fed one value at a time. O(1) work and memory per point, no clock, no I/O. This is
// what `trendwire nab` runs, with the default options (the NAB configuration, options.ts):
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
// The same core runs per entity in the trend topology (operators/trends/detector.ts), configured
// for counts: Poisson model, expectation = level × the platform's volume, a CUSUM channel instead of
// the record channels. Its state snapshots as plain data: numbers, plain objects and Float64Arrays
// (about 1 KB with the defaults).
import { TrendwireError } from '../../streams/errors.ts'
import type { StateStats } from '../../streams/types.ts'
import type { DetectorOptions, DetectorOptionsInput } from './options.ts'
import { DetectorCore, type CoreState, type Explanation } from './core.ts'

export type { ChannelKind, Explanation } from './core.ts'

/** Snapshot of a detector; structured-clone serialisable. */
export interface DetectorState {
  version: 1
  options: DetectorOptions
  n: number
  firstTime: number
  prevValue: number
  lastEmitted: number
  lastEmittedAt: number
  baseline: {
    ready: number
    level: number
    /** Mean absolute residual (clipped), the scale of the clip. */
    spread: number
    offsets: Float64Array
    counts: Float64Array
  }
  channels: Float64Array
  /** Since the core is shared with the trend topology (absent in older snapshots: 0 / n). */
  cusum?: number
  recent?: number
  learned?: number
}

export class Detector {
  /** The core this detector runs (shared code with the trend topology's per-entity detector). */
  readonly core: DetectorCore
  private state: CoreState

  constructor(options?: DetectorOptionsInput) {
    this.core = new DetectorCore(options)
    this.state = this.core.init()
  }

  get options(): DetectorOptions {
    return this.core.options
  }

  /** Feeds one point. `time` is event time in epoch ms, used for the season and the history weight. */
  update(value: number, time: number): Readonly<Explanation> {
    return this.core.update(this.state, value, time)
  }

  /** Points seen so far. */
  get count(): number {
    return this.state.n
  }

  stateStats(): StateStats {
    return { keys: 1, estimatedBytes: this.core.stateBytes() + 96 }
  }

  /** A consistent copy of the whole state (no references into the live detector). */
  snapshot(): DetectorState {
    const s = this.state
    const bins = s.season ? s.season.length / 2 : 1
    return {
      version: 1,
      options: structuredClone(this.core.options),
      n: s.n,
      firstTime: s.firstTime,
      prevValue: s.prev,
      lastEmitted: s.lastEmitted,
      lastEmittedAt: s.lastEmittedAt,
      baseline: {
        ready: s.n > 0 ? 1 : 0,
        level: s.level,
        spread: s.spread,
        offsets: s.season ? s.season.slice(0, bins) : new Float64Array(1),
        counts: s.season ? s.season.slice(bins) : new Float64Array(1),
      },
      channels: s.channels ? s.channels.slice() : new Float64Array(0),
      cusum: s.cusum,
      recent: s.recent,
      learned: s.m,
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
    const fresh = d.state
    const bins = fresh.season ? fresh.season.length / 2 : 1
    const ok =
      b &&
      b.offsets instanceof Float64Array &&
      b.counts instanceof Float64Array &&
      b.offsets.length === bins &&
      b.counts.length === bins &&
      s.channels instanceof Float64Array &&
      s.channels.length === (fresh.channels?.length ?? 0)
    if (!ok) throw new TrendwireError('CHECKPOINT_CORRUPT', 'anomaly detector: snapshot does not match its options')
    let season: Float64Array | null = null
    if (fresh.season) {
      season = new Float64Array(2 * bins)
      season.set(b.offsets, 0)
      season.set(b.counts, bins)
    }
    const restored: CoreState = {
      n: s.n,
      m: s.learned ?? s.n,
      level: b.level,
      spread: b.spread,
      cusum: s.cusum ?? 0,
      recent: s.recent ?? 0,
      firstTime: s.firstTime,
      prev: s.prevValue,
      lastEmitted: s.lastEmitted,
      lastEmittedAt: s.lastEmittedAt,
      season,
      channels: fresh.channels ? s.channels.slice() : null,
    }
    if (!d.core.fits(restored)) throw new TrendwireError('CHECKPOINT_CORRUPT', 'anomaly detector: snapshot does not match its options')
    d.state = restored
    return d
  }
}
