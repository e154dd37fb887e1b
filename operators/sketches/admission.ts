// Admission: which of (possibly millions of) distinct keys get full per-key state.
//
//   key ──► count-min (conservative update, aged) ──► estimate ≥ minCount? ──► Space-Saving of
//           `capacity` tracked keys: a free slot, or evict the tracked key with the smallest count
//           if the newcomer's estimate beats it
//
// The count-min sketch remembers every key's recent count in fixed memory, so a key that appears
// once (the long tail: most hashtags, sounds and caption words) costs nothing beyond the sketch.
// Only a key seen `minCount` times within about a half-life gets a slot, and the slots are bounded
// by `capacity`: when they are full, a newcomer must be more frequent than the least frequent
// tracked key, which it then replaces (LFU on recent counts). Both structures decay by half every
// `halfLifeMs` of event time, so "frequent" means "frequent lately" and a key whose moment has
// passed makes room for the next.
//
// Memory is fixed at construction: 4·width·depth bytes of sketch plus ~(24 + 60 + key) bytes per
// slot. Decisions depend only on the keys offered and the times passed to advance(), so a replay
// makes the same decisions (needed for exactly-once output of everything downstream).
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { CountMinSketch, type CountMinState } from './countmin.ts'
import { SpaceSaving, type SpaceSavingState } from './spacesaving.ts'

export const admissionOptionsSchema = z.strictObject({
  /** Most keys tracked at once. */
  capacity: z.number().int().min(1).max(10_000_000).default(50_000),
  /** Recent count (count-min estimate) a key needs to be admitted. */
  minCount: z.number().min(1).default(2),
  /** Count-min width (rounded up to a power of two) and depth. */
  sketchWidth: z.number().int().min(16).max(1 << 26).default(1 << 18),
  sketchDepth: z.number().int().min(1).max(16).default(4),
  /** Counts halve every this much event time. 0 = never. */
  halfLifeMs: z.number().int().min(0).default(30 * 60_000),
  seed: z.number().int().default(0),
})
export type AdmissionOptions = z.output<typeof admissionOptionsSchema>
export type AdmissionOptionsInput = z.input<typeof admissionOptionsSchema>

export interface AdmissionState {
  version: 1
  sketch: CountMinState
  tracked: SpaceSavingState
  lastDecay: number
  admitted: number
  evicted: number
  rejected: number
}

export class AdmissionFilter {
  readonly options: AdmissionOptions
  private sketch: CountMinSketch
  private tracked: SpaceSaving
  private lastDecay = -Infinity
  /** Keys given a slot so far. */
  admitted = 0
  /** Tracked keys pushed out by more frequent ones. */
  evicted = 0
  /** Offers turned away. */
  rejected = 0
  /** Called with each evicted key (downstream state may be dropped). */
  onEvict: ((key: string) => void) | null = null

  constructor(options: AdmissionOptionsInput = {}) {
    this.options = parseOptions('admission', admissionOptionsSchema, options)
    this.sketch = new CountMinSketch(this.options.sketchWidth, this.options.sketchDepth, this.options.seed)
    this.tracked = new SpaceSaving(this.options.capacity)
  }

  /** Counts one occurrence of key (weight ≥ 0) and says whether key has full state. */
  offer(key: string, weight = 1): boolean {
    const est = this.sketch.add(key, weight)
    if (this.tracked.has(key)) {
      this.tracked.offer(key, weight)
      return true
    }
    if (est < this.options.minCount) {
      this.rejected++
      return false
    }
    const r = this.tracked.admit(key, est, 0)
    if (!r.admitted) {
      this.rejected++
      return false
    }
    this.admitted++
    if (r.evicted !== undefined) {
      this.evicted++
      this.onEvict?.(r.evicted)
    }
    return true
  }

  /** Whether key is tracked, without counting it. */
  has(key: string): boolean {
    return this.tracked.has(key)
  }

  /** Recent count of key (count-min estimate; an upper bound). */
  estimate(key: string): number {
    return this.sketch.estimate(key)
  }

  get size(): number {
    return this.tracked.size
  }

  /** Most frequent tracked keys, largest first. */
  top(n: number): Array<{ key: string; count: number }> {
    return this.tracked.top(n).map((h) => ({ key: h.key, count: h.count }))
  }

  /** Ages the counts to event time `time` (the watermark): halves them per elapsed half-life. */
  advance(time: number): void {
    const hl = this.options.halfLifeMs
    if (hl <= 0 || !Number.isFinite(time)) return
    if (this.lastDecay === -Infinity) {
      this.lastDecay = time
      return
    }
    const steps = Math.floor((time - this.lastDecay) / hl)
    if (steps <= 0) return
    const f = Math.pow(0.5, Math.min(steps, 64))
    this.sketch.decay(f)
    this.tracked.decay(f)
    this.lastDecay += steps * hl
  }

  get bytes(): number {
    return this.sketch.bytes + this.tracked.bytes
  }

  snapshot(): AdmissionState {
    return {
      version: 1, sketch: this.sketch.snapshot(), tracked: this.tracked.snapshot(), lastDecay: this.lastDecay,
      admitted: this.admitted, evicted: this.evicted, rejected: this.rejected,
    }
  }

  restore(state: unknown): void {
    const s = state as AdmissionState
    if (!s || s.version !== 1) throw new TrendwireError('CHECKPOINT_CORRUPT', 'admission: unknown snapshot version')
    const sketch = CountMinSketch.restore(s.sketch)
    if (sketch.width !== this.sketch.width || sketch.depth !== this.sketch.depth || sketch.seed !== this.sketch.seed) {
      throw new TrendwireError('CHECKPOINT_CORRUPT', 'admission: snapshot sketch does not match the configured width, depth and seed')
    }
    const tracked = SpaceSaving.restore(s.tracked)
    if (tracked.capacity !== this.tracked.capacity) throw new TrendwireError('CHECKPOINT_CORRUPT', 'admission: snapshot capacity does not match the configured capacity')
    this.sketch = sketch
    this.tracked = tracked
    this.lastDecay = s.lastDecay
    this.admitted = s.admitted
    this.evicted = s.evicted
    this.rejected = s.rejected
  }
}
