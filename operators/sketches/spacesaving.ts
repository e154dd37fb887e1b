// Space-Saving heavy hitters (Metwally, Agrawal & El Abbadi, "Efficient computation of frequent and
// top-k elements in data streams", ICDT 2005), weighted.
//
// k counters, each (key, count, error). An arriving key that is monitored adds to its counter; one
// that is not takes over the counter with the smallest count c_min, starting at c_min + weight with
// error c_min. Guarantees, for N = total weight: count − error ≤ true ≤ count; every key with true
// weight > N / k is monitored; c_min ≤ N / k.
//
// The minimum is found with an indexed binary min-heap over the counter slots (O(log k) per update)
// rather than the paper's stream-summary linked buckets: weights here are not always 1 (engagement,
// decayed counts), and the heap handles arbitrary increments with one sift.
//
// Merge follows the mergeable-summaries argument (Agarwal et al., PODS 2012): a key missing from a
// full summary may have had up to its c_min there, so it is counted at c_min with that as error;
// sums over the union, then the k largest are kept. The bounds above hold for the merged stream.
//
// decay(f) scales every count and error by f (order is preserved, so the heap stays valid): a
// recency-weighted summary.
//
// Snapshots are plain data (arrays); SpaceSaving.restore rebuilds the index and heap.
import { TrendwireError } from '../../streams/errors.ts'

export interface SpaceSavingState {
  version: 1
  capacity: number
  total: number
  /** By slot. */
  keys: string[]
  counts: Float64Array
  errors: Float64Array
  /** Heap order of the slots: kept so that ties break the same way after a restore. */
  heap: Int32Array
}

export interface HeavyHitter {
  key: string
  /** Upper bound on the key's weight. */
  count: number
  /** count − error is a lower bound. */
  error: number
}

export class SpaceSaving {
  readonly capacity: number
  total = 0
  private keys: string[] = []
  private counts: Float64Array
  private errors: Float64Array
  private readonly slotOf = new Map<string, number>()
  /** heap[i] = slot; pos[slot] = i */
  private readonly heap: Int32Array
  private readonly pos: Int32Array

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) {
      throw new TrendwireError('CONFIG_INVALID', `space-saving: capacity must be an integer in [1, 2^24], got ${capacity}`)
    }
    this.capacity = capacity
    this.counts = new Float64Array(capacity)
    this.errors = new Float64Array(capacity)
    this.heap = new Int32Array(capacity)
    this.pos = new Int32Array(capacity)
  }

  get size(): number {
    return this.keys.length
  }

  get full(): boolean {
    return this.keys.length === this.capacity
  }

  /** Smallest monitored count (0 while not full: an unmonitored key may have weight 0). */
  get minCount(): number {
    return this.full ? this.counts[this.heap[0]] : 0
  }

  has(key: string): boolean {
    return this.slotOf.has(key)
  }

  /** Upper bound on key's weight: its count if monitored, else minCount. */
  estimate(key: string): number {
    const s = this.slotOf.get(key)
    return s === undefined ? this.minCount : this.counts[s]
  }

  get(key: string): HeavyHitter | undefined {
    const s = this.slotOf.get(key)
    return s === undefined ? undefined : { key, count: this.counts[s], error: this.errors[s] }
  }

  /**
   * Adds weight to key. Returns the key evicted to make room for it, or undefined (no eviction).
   */
  offer(key: string, weight = 1): string | undefined {
    if (!(weight >= 0)) throw new TrendwireError('INPUT_MALFORMED', `space-saving: weights must be non-negative, got ${weight}`)
    this.total += weight
    const s = this.slotOf.get(key)
    if (s !== undefined) {
      this.counts[s] += weight
      this.down(this.pos[s])
      return undefined
    }
    if (!this.full) {
      this.insert(key, weight, 0)
      return undefined
    }
    return this.replaceMin(key, this.counts[this.heap[0]] + weight, this.counts[this.heap[0]])
  }

  /**
   * Puts key in with the given count and error: takes a free counter, or replaces the minimum
   * when count exceeds it. Returns whether key is now monitored and which key it evicted, if any.
   * Used by admission, which knows a key's count from a count-min sketch rather than from c_min.
   */
  admit(key: string, count: number, error = 0): { admitted: boolean; evicted?: string } {
    if (this.slotOf.has(key)) return { admitted: true }
    if (!this.full) {
      this.insert(key, count, error)
      return { admitted: true }
    }
    if (count <= this.counts[this.heap[0]]) return { admitted: false }
    return { admitted: true, evicted: this.replaceMin(key, count, error) }
  }

  private insert(key: string, count: number, error: number): void {
    const slot = this.keys.length
    this.keys.push(key)
    this.counts[slot] = count
    this.errors[slot] = error
    this.slotOf.set(key, slot)
    this.heap[slot] = slot
    this.pos[slot] = slot
    this.up(slot)
  }

  private replaceMin(key: string, count: number, error: number): string {
    const slot = this.heap[0]
    const old = this.keys[slot]
    this.slotOf.delete(old)
    this.keys[slot] = key
    this.slotOf.set(key, slot)
    this.counts[slot] = count
    this.errors[slot] = error
    this.down(0)
    return old
  }

  /** Scales every count and error by factor ∈ [0, 1]. */
  decay(factor: number): void {
    if (!(factor >= 0 && factor <= 1)) throw new TrendwireError('CONFIG_INVALID', `space-saving: decay factor must be in [0, 1], got ${factor}`)
    for (let i = 0; i < this.keys.length; i++) {
      this.counts[i] *= factor
      this.errors[i] *= factor
    }
    this.total *= factor
  }

  /** The n largest counters, largest first (ties by key, for determinism). */
  top(n = this.capacity): HeavyHitter[] {
    const out: HeavyHitter[] = this.keys.map((key, s) => ({ key, count: this.counts[s], error: this.errors[s] }))
    out.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    return out.slice(0, n)
  }

  /** Keys whose guaranteed weight (count − error) is at least threshold: no false positives. */
  guaranteed(threshold: number): HeavyHitter[] {
    return this.top().filter((h) => h.count - h.error >= threshold)
  }

  /** A summary of both streams, with this one's capacity (mergeable summaries; see the header). */
  static merge(a: SpaceSaving, b: SpaceSaving, capacity = Math.max(a.capacity, b.capacity)): SpaceSaving {
    const minA = a.minCount
    const minB = b.minCount
    const all = new Map<string, { count: number; error: number }>()
    for (const h of a.top()) {
      const o = b.get(h.key)
      all.set(h.key, o ? { count: h.count + o.count, error: h.error + o.error } : { count: h.count + minB, error: h.error + minB })
    }
    for (const h of b.top()) if (!all.has(h.key)) all.set(h.key, { count: h.count + minA, error: h.error + minA })
    const sorted = [...all].sort((x, y) => y[1].count - x[1].count || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    const out = new SpaceSaving(capacity)
    for (const [key, v] of sorted.slice(0, capacity)) out.insert(key, v.count, v.error)
    out.total = a.total + b.total
    return out
  }

  /** Bytes of payload: counters plus the keys' characters (rough; object headers not counted). */
  get bytes(): number {
    let chars = 0
    for (const k of this.keys) chars += k.length
    return this.capacity * (8 + 8 + 4 + 4) + this.keys.length * 60 + 2 * chars
  }

  snapshot(): SpaceSavingState {
    const n = this.keys.length
    return {
      version: 1, capacity: this.capacity, total: this.total, keys: this.keys.slice(),
      counts: this.counts.slice(0, n), errors: this.errors.slice(0, n), heap: this.heap.slice(0, n),
    }
  }

  static restore(state: unknown): SpaceSaving {
    const s = state as SpaceSavingState
    if (!s || s.version !== 1 || !Array.isArray(s.keys) || !(s.counts instanceof Float64Array) || !(s.errors instanceof Float64Array) ||
      !(s.heap instanceof Int32Array) || s.counts.length !== s.keys.length || s.errors.length !== s.keys.length ||
      s.heap.length !== s.keys.length || s.keys.length > s.capacity) {
      throw new TrendwireError('CHECKPOINT_CORRUPT', 'space-saving: snapshot is not a space-saving state')
    }
    const ss = new SpaceSaving(s.capacity)
    const n = s.keys.length
    ss.keys = s.keys.slice()
    ss.counts.set(s.counts)
    ss.errors.set(s.errors)
    ss.heap.set(s.heap)
    const seen = new Uint8Array(n)
    for (let i = 0; i < n; i++) {
      const slot = s.heap[i]
      if (!(slot >= 0 && slot < n) || seen[slot]) throw new TrendwireError('CHECKPOINT_CORRUPT', 'space-saving: snapshot heap is not a permutation of its slots')
      seen[slot] = 1
      ss.pos[slot] = i
    }
    for (let i = 0; i < n; i++) ss.slotOf.set(ss.keys[i], i)
    ss.total = s.total
    return ss
  }

  // --- indexed min-heap on counts[slot] ---

  private less(i: number, j: number): boolean {
    return this.counts[this.heap[i]] < this.counts[this.heap[j]]
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i]
    const b = this.heap[j]
    this.heap[i] = b
    this.heap[j] = a
    this.pos[b] = i
    this.pos[a] = j
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(i, p)) return
      this.swap(i, p)
      i = p
    }
  }

  private down(i: number): void {
    const n = this.keys.length
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) return
      const r = l + 1
      const c = r < n && this.less(r, l) ? r : l
      if (!this.less(c, i)) return
      this.swap(i, c)
      i = c
    }
  }
}
