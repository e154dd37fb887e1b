// Watermarks: one bounded-out-of-orderness generator per source partition, merged by the runner.
//
// Flink's BoundedOutOfOrdernessWatermarks: W = maxSeen - bound - 1, i.e. after seeing time t we
// promise nothing at or before t - bound - 1 will come. The merge (Flink StatusWatermarkValve,
// Arroyo WatermarkHolder) is the minimum over inputs that are neither idle nor finished; nothing
// is emitted until every input has reported; a finished input counts as +∞.
import { MAX_WATERMARK, type EventTime } from './types.ts'

export interface PartitionWatermarkState {
  maxSeen: EventTime
  finished: boolean
  /** Set when the source reports this partition's watermark itself (SourceBatch.watermark). */
  explicit?: EventTime
}

export class BoundedOutOfOrderness {
  maxSeen: EventTime = -Infinity
  finished = false
  /** The watermark the source reported for this partition, if it does (then maxSeen is not used). */
  explicit: EventTime | undefined = undefined
  /** Processing time of the last record, for idleness. */
  lastActive: number
  constructor(readonly boundMs: number, now: number) {
    this.lastActive = now
  }

  observe(times: readonly EventTime[], now: number): void {
    let m = this.maxSeen
    for (let i = 0; i < times.length; i++) if (times[i] > m) m = times[i]
    this.maxSeen = m
    if (times.length > 0) this.lastActive = now
  }

  /** The source's own watermark for this partition (SourceBatch.watermark); monotonic. */
  setExplicit(w: EventTime, now: number): void {
    if (this.explicit === undefined || w > this.explicit) this.explicit = w
    this.lastActive = now
  }

  get watermark(): EventTime {
    if (this.finished) return MAX_WATERMARK
    if (this.explicit !== undefined) return this.explicit
    return this.maxSeen === -Infinity ? -Infinity : this.maxSeen - this.boundMs - 1
  }

  snapshot(): PartitionWatermarkState {
    return this.explicit === undefined ? { maxSeen: this.maxSeen, finished: this.finished } : { maxSeen: this.maxSeen, finished: this.finished, explicit: this.explicit }
  }

  restore(s: PartitionWatermarkState): void {
    this.maxSeen = s.maxSeen
    this.finished = s.finished
    if (s.explicit !== undefined) this.explicit = s.explicit
  }
}

export interface WatermarkOptions {
  /** Bound on out-of-orderness within one partition, ms. */
  outOfOrdernessMs: number
  /** A partition silent this long (processing time) stops holding back time. 0 = never idle. */
  idleTimeoutMs: number
}

/** Per-partition generators plus the merge. The runner owns one per source. */
export class WatermarkTracker {
  private readonly parts = new Map<string, BoundedOutOfOrderness>()
  private current: EventTime = -Infinity

  constructor(readonly opts: WatermarkOptions) {}

  partition(id: string, now: number): BoundedOutOfOrderness {
    let g = this.parts.get(id)
    if (!g) {
      g = new BoundedOutOfOrderness(this.opts.outOfOrdernessMs, now)
      this.parts.set(id, g)
    }
    return g
  }

  remove(id: string): void {
    this.parts.delete(id)
  }

  partitions(): string[] {
    return [...this.parts.keys()]
  }

  /** The last merged watermark handed out (monotonic). */
  get watermark(): EventTime {
    return this.current
  }

  /** How many partitions are currently idle (for metrics). */
  idleCount(now: number): number {
    let n = 0
    for (const g of this.parts.values()) if (this.isIdle(g, now)) n++
    return n
  }

  private isIdle(g: BoundedOutOfOrderness, now: number): boolean {
    return !g.finished && this.opts.idleTimeoutMs > 0 && now - g.lastActive >= this.opts.idleTimeoutMs
  }

  /**
   * Recompute the merged watermark. Returns the new value if it advanced, else null.
   * Idle partitions are left out of the minimum; if every live partition is idle, time advances to
   * the maximum of their watermarks (Flink does the same), so a quiet source never stalls results.
   */
  advance(now: number): EventTime | null {
    if (this.parts.size === 0) return null
    let min = Infinity
    let maxIdle = -Infinity
    let active = 0
    for (const g of this.parts.values()) {
      if (this.isIdle(g, now)) {
        const w = g.watermark
        if (w > maxIdle) maxIdle = w
        continue
      }
      active++
      const w = g.watermark
      if (w < min) min = w
    }
    const merged = active > 0 ? min : maxIdle
    if (merged > this.current) {
      this.current = merged
      return merged
    }
    return null
  }

  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = { __merged: this.current }
    for (const [id, g] of this.parts) out[id] = g.snapshot()
    return out
  }

  restore(state: Record<string, unknown>, now: number): void {
    for (const [id, s] of Object.entries(state)) {
      if (id === '__merged') continue
      this.partition(id, now).restore(s as PartitionWatermarkState)
    }
    const merged = state.__merged
    if (typeof merged === 'number') this.current = merged
  }
}
