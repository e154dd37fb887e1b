// Seeded pseudo-random numbers for the synthetic sources. Never Math.random: a seed must give the
// same stream on every run and every machine, so everything here is plain 32-bit integer arithmetic.
//
// Generator: xoshiro128** 1.0 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c),
// seeded through splitmix32 as the authors recommend. Its state is four uint32 words, so it can be
// checkpointed as plain data (state() / Rng.fromState()).

const TWO_POW_32 = 4294967296

/** splitmix32: a well-mixed 32-bit hash step, used for seeding and for deriving sub-streams. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0
  let z = x
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

/** FNV-1a over the UTF-16 code units of s (32-bit). Used for labels of sub-streams and for partitioning. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export type RngState = [number, number, number, number]

export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  /**
   * A generator for (seed, stream). Different stream labels give independent sequences for the same
   * seed, so e.g. changing the late-event fraction does not change which posts are generated.
   */
  constructor(seed: number, stream = '') {
    let x = (Math.floor(seed) ^ Math.imul(fnv1a(stream), 0x27d4eb2d)) >>> 0
    // Mix the high bits of large seeds in too.
    x = (x ^ Math.floor(seed / TWO_POW_32)) >>> 0
    this.a = x = splitmix32(x)
    this.b = x = splitmix32(x)
    this.c = x = splitmix32(x)
    this.d = splitmix32(x)
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1 // the all-zero state is a fixed point
  }

  static fromState(s: RngState): Rng {
    const r = new Rng(0)
    r.a = s[0] >>> 0; r.b = s[1] >>> 0; r.c = s[2] >>> 0; r.d = s[3] >>> 0
    return r
  }

  state(): RngState {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0]
  }

  /** Next uint32. */
  nextU32(): number {
    const b = this.b
    const r = Math.imul(b, 5)
    let result = ((r << 7) | (r >>> 25))
    result = Math.imul(result, 9) >>> 0
    const t = b << 9
    this.c ^= this.a
    this.d ^= b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = (this.d << 11) | (this.d >>> 21)
    return result
  }

  /** Uniform in the open interval (0, 1): safe for log(). 32 bits of resolution. */
  float(): number {
    return (this.nextU32() + 0.5) / TWO_POW_32
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float()
  }

  /** Log-uniform in [lo, hi). */
  logRange(lo: number, hi: number): number {
    return lo * Math.exp(Math.log(hi / lo) * this.float())
  }

  chance(p: number): boolean {
    return this.float() < p
  }

  pick<T>(arr: readonly T[]): T {
    return arr[this.int(arr.length)]
  }

  /** Standard normal (Box–Muller; the second variate is discarded so the state stays four words). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.float())) * Math.cos(2 * Math.PI * this.float())
  }

  /** Exponential with the given mean. */
  exp(mean: number): number {
    return -Math.log(this.float()) * mean
  }

  logNormal(mu: number, sigma: number): number {
    return Math.exp(mu + sigma * this.normal())
  }

  /** Pareto type I: P(X > x) = (xm / x)^alpha for x >= xm. */
  pareto(xm: number, alpha: number): number {
    return xm * Math.pow(this.float(), -1 / alpha)
  }

  /** Poisson-distributed count. Knuth's product method for small means, a rounded normal above 30. */
  poisson(mean: number): number {
    if (mean <= 0) return 0
    if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()))
    const limit = Math.exp(-mean)
    let k = 0
    let p = this.float()
    while (p > limit) { k++; p *= this.float() }
    return k
  }
}

/**
 * Walker/Vose alias table: O(1) sampling from a fixed discrete distribution (e.g. Zipf over 100k
 * hashtags) with one uniform draw per sample.
 */
export class AliasTable {
  readonly size: number
  private readonly prob: Float64Array
  private readonly alias: Int32Array

  constructor(weights: ArrayLike<number>) {
    const n = weights.length
    if (n === 0) throw new Error('AliasTable: no weights')
    this.size = n
    this.prob = new Float64Array(n)
    this.alias = new Int32Array(n)
    let total = 0
    for (let i = 0; i < n; i++) total += weights[i]
    const scaled = new Float64Array(n)
    for (let i = 0; i < n; i++) scaled[i] = (weights[i] * n) / total
    const small = new Int32Array(n)
    const large = new Int32Array(n)
    let ns = 0
    let nl = 0
    for (let i = n - 1; i >= 0; i--) {
      if (scaled[i] < 1) small[ns++] = i
      else large[nl++] = i
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns]
      const l = large[--nl]
      this.prob[s] = scaled[s]
      this.alias[s] = l
      scaled[l] = scaled[l] + scaled[s] - 1
      if (scaled[l] < 1) small[ns++] = l
      else large[nl++] = l
    }
    while (nl > 0) this.prob[large[--nl]] = 1
    while (ns > 0) this.prob[small[--ns]] = 1
  }

  sample(rng: Rng): number {
    const x = rng.float() * this.size
    const i = Math.floor(x)
    return x - i < this.prob[i] ? i : this.alias[i]
  }
}

/** Zipf weights 1 / (rank + 1)^s for ranks 0..n-1. */
export function zipfWeights(n: number, s: number): Float64Array {
  const w = new Float64Array(n)
  for (let i = 0; i < n; i++) w[i] = 1 / Math.pow(i + 1, s)
  return w
}
