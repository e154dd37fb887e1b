// Count-min sketch (Cormode & Muthukrishnan 2005) with conservative update (Estan & Varghese 2002).
//
// depth rows of width counters; a key maps to one counter per row and its estimate is the minimum
// of them. Plain count-min adds to every one of the key's counters; conservative update raises each
// only as far as (current estimate + increment), which keeps every guarantee of count-min (a
// counter never falls below the true count of any key mapped to it) and makes the overestimate
// much smaller on skewed streams, where the hot keys no longer inflate the cold ones' counters as much.
//
// Guarantee (point query, non-negative increments): estimate ≥ true count always, and
// estimate ≤ true + ε·N with probability ≥ 1 − δ for ε = e / width, δ = e^(−depth), N = total added.
//
// Row hashes: Kirsch & Mitzenmacher double hashing, h_i = h1 + i·h2 (mod width), from two seeded
// murmur3 hashes; width is a power of two so the modulus is a mask.
//
// Aging: decay(f) multiplies every counter by f (floored), so the sketch estimates a recent,
// exponentially weighted count; the trend admission halves it every half-life of event time.
//
// State is plain data (numbers and one Uint32Array); snapshot() returns it and CountMinSketch.restore
// rebuilds the sketch, both through structured clone.
import { TrendwireError } from '../../streams/errors.ts'
import { murmur3 } from './hash.ts'

export interface CountMinState {
  version: 1
  width: number
  depth: number
  seed: number
  total: number
  counts: Uint32Array
}

const MAX_COUNT = 0xffffffff

export class CountMinSketch {
  readonly width: number
  readonly depth: number
  readonly seed: number
  private readonly mask: number
  private counts: Uint32Array
  /** Sum of increments (after decay: decayed the same way). */
  total = 0
  // scratch: the row offsets of the last key looked up
  private readonly idx: Int32Array

  /** width is rounded up to a power of two. */
  constructor(width = 2048, depth = 4, seed = 0) {
    if (!Number.isInteger(width) || width < 1 || width > 1 << 26) throw new TrendwireError('CONFIG_INVALID', `count-min: width must be an integer in [1, 2^26], got ${width}`)
    if (!Number.isInteger(depth) || depth < 1 || depth > 16) throw new TrendwireError('CONFIG_INVALID', `count-min: depth must be an integer in [1, 16], got ${depth}`)
    let w = 1
    while (w < width) w <<= 1
    this.width = w
    this.depth = depth
    this.seed = seed >>> 0
    this.mask = w - 1
    this.counts = new Uint32Array(w * depth)
    this.idx = new Int32Array(depth)
  }

  /** Sizing from the error you accept: width = ⌈e/ε⌉, depth = ⌈ln(1/δ)⌉. */
  static forError(epsilon: number, delta: number, seed = 0): CountMinSketch {
    if (!(epsilon > 0 && epsilon < 1 && delta > 0 && delta < 1)) throw new TrendwireError('CONFIG_INVALID', 'count-min: epsilon and delta must be in (0, 1)')
    return new CountMinSketch(Math.ceil(Math.E / epsilon), Math.ceil(Math.log(1 / delta)), seed)
  }

  private locate(key: string): void {
    const h1 = murmur3(key, this.seed)
    const h2 = murmur3(key, this.seed ^ 0x9e3779b9) | 1
    const w = this.width
    for (let i = 0; i < this.depth; i++) this.idx[i] = i * w + ((h1 + Math.imul(i, h2)) & this.mask)
  }

  /** Adds `by` (≥ 0) to key's count with conservative update; returns the key's new estimate. */
  add(key: string, by = 1): number {
    if (!(by >= 0)) throw new TrendwireError('INPUT_MALFORMED', `count-min: increments must be non-negative, got ${by}`)
    this.locate(key)
    const c = this.counts
    let est = MAX_COUNT
    for (let i = 0; i < this.depth; i++) if (c[this.idx[i]] < est) est = c[this.idx[i]]
    const target = Math.min(MAX_COUNT, est + by)
    for (let i = 0; i < this.depth; i++) if (c[this.idx[i]] < target) c[this.idx[i]] = target
    this.total += by
    return target
  }

  /** Upper bound on key's count (exact when no other key shares its counters). */
  estimate(key: string): number {
    this.locate(key)
    const c = this.counts
    let est = MAX_COUNT
    for (let i = 0; i < this.depth; i++) if (c[this.idx[i]] < est) est = c[this.idx[i]]
    return est
  }

  /** Multiplies every counter by factor ∈ [0, 1] (floored): exponential forgetting. */
  decay(factor: number): void {
    if (!(factor >= 0 && factor <= 1)) throw new TrendwireError('CONFIG_INVALID', `count-min: decay factor must be in [0, 1], got ${factor}`)
    const c = this.counts
    for (let i = 0; i < c.length; i++) if (c[i] !== 0) c[i] = Math.floor(c[i] * factor)
    this.total *= factor
  }

  /**
   * Adds other's counters to this one's (same width, depth, seed). The sum of two sketches bounds
   * the combined stream's counts from above, with the error bound of the combined total.
   */
  merge(other: CountMinSketch): this {
    if (other.width !== this.width || other.depth !== this.depth || other.seed !== this.seed) {
      throw new TrendwireError('CONFIG_INVALID', 'count-min: can only merge sketches of the same width, depth and seed')
    }
    const a = this.counts
    const b = other.counts
    for (let i = 0; i < a.length; i++) a[i] = Math.min(MAX_COUNT, a[i] + b[i])
    this.total += other.total
    return this
  }

  get bytes(): number {
    return this.counts.byteLength
  }

  snapshot(): CountMinState {
    return { version: 1, width: this.width, depth: this.depth, seed: this.seed, total: this.total, counts: this.counts.slice() }
  }

  static restore(state: unknown): CountMinSketch {
    const s = state as CountMinState
    if (!s || s.version !== 1 || !(s.counts instanceof Uint32Array) || s.counts.length !== s.width * s.depth) {
      throw new TrendwireError('CHECKPOINT_CORRUPT', 'count-min: snapshot is not a count-min state')
    }
    const cm = new CountMinSketch(s.width, s.depth, s.seed)
    cm.counts = s.counts.slice()
    cm.total = s.total
    return cm
  }
}
