// Keyed state and event-time timers.
//
// KeyedState is a Map kept in recency order (a touched key is moved to the end), so expiry of idle
// keys and eviction over the size bound only ever look at the front: O(1) amortised per touch.
// Expiry is by event time (the watermark), so a replay after a crash expires exactly the same keys.
import type { EventTime, StateStats } from './types.ts'

export interface KeyedStateOptions {
  /** A key not updated for this long in event time (relative to the watermark) is dropped. 0 = never. */
  ttlMs: number
  /** Hard bound on the number of keys; the least recently updated key is evicted beyond it. 0 = unbounded. */
  maxKeys: number
  /** Rough size of one value in bytes, for the estimate. */
  bytesPerValue?: number
}

interface Entry<V> {
  v: V
  /** Event time of the last update. */
  t: EventTime
  /** Bumped whenever the entry moves to the back, so a cursor can tell a moved entry from the oldest. */
  seq: number
}

export class KeyedState<K, V> {
  private map = new Map<K, Entry<V>>()
  /**
   * A long-lived iterator over the map, in insertion (= recency) order. A fresh iterator would have
   * to step over every slot deleted at the front since the last rehash — V8's ordered hash tables
   * keep them until then — which made eviction from a churned map cost ~27 µs per key
   * (benchmarks/keyed-state.bench.ts). The cursor steps over each deleted slot once.
   */
  private cursor: Iterator<[K, Entry<V>]> | null = null
  /** The entry the cursor stands on, with its seq when read (it may have moved or gone since). */
  private head: [K, Entry<V>, number] | null = null
  private seq = 0
  expired = 0
  evicted = 0

  constructor(readonly opts: KeyedStateOptions, private readonly onDrop?: (key: K, value: V, why: 'ttl' | 'size') => void) {}

  get size(): number {
    return this.map.size
  }

  get(key: K): V | undefined {
    return this.map.get(key)?.v
  }

  has(key: K): boolean {
    return this.map.has(key)
  }

  /** Set and mark as recently used at event time t. */
  set(key: K, value: V, t: EventTime): void {
    const e = this.map.get(key)
    if (e) {
      this.map.delete(key)
      e.v = value
      if (t > e.t) e.t = t
      e.seq = ++this.seq
      this.map.set(key, e)
    } else {
      this.map.set(key, { v: value, t, seq: ++this.seq })
      if (this.opts.maxKeys > 0 && this.map.size > this.opts.maxKeys) this.evictOldest()
    }
  }

  /** The least recently updated entry (the front of the map), without a scan from the start. */
  private oldest(): [K, Entry<V>] | null {
    for (;;) {
      if (this.head === null) {
        this.cursor ??= this.map.entries()
        const n = this.cursor.next()
        if (n.done) {
          // an exhausted iterator never sees later insertions: start a new one next time
          this.cursor = null
          return null
        }
        this.head = [n.value[0], n.value[1], n.value[1].seq]
      }
      const [k, e, seq] = this.head
      // still there and not moved to the back since the cursor read it: it is the oldest
      if (this.map.get(k) === e && e.seq === seq) return [k, e]
      this.head = null
    }
  }

  delete(key: K): boolean {
    return this.map.delete(key)
  }

  entries(): IterableIterator<[K, Entry<V>]> {
    return this.map.entries()
  }

  private evictOldest(): void {
    const first = this.oldest()
    if (!first) return
    const [k, e] = first
    this.map.delete(k)
    this.head = null
    this.evicted++
    this.onDrop?.(k, e.v, 'size')
  }

  /**
   * Drop keys idle for longer than the TTL at watermark wm. Because touched keys move to the end,
   * the scan stops at the first live key. (A key updated with an older event time than its
   * neighbours may linger a little: the order is by update, not by event time. That only delays
   * expiry; it never expires a live key.)
   */
  expire(wm: EventTime): number {
    // At +∞ (end of input) nothing can arrive any more, so freeing state gains nothing, and it would
    // empty tables before the windows that +∞ also fires are joined against them downstream.
    if (this.opts.ttlMs <= 0 || !Number.isFinite(wm)) return 0
    const limit = wm - this.opts.ttlMs
    let n = 0
    for (let first = this.oldest(); first !== null && first[1].t <= limit; first = this.oldest()) {
      const [k, e] = first
      this.map.delete(k)
      this.head = null
      this.onDrop?.(k, e.v, 'ttl')
      n++
    }
    this.expired += n
    return n
  }

  stats(): StateStats {
    return { keys: this.map.size, estimatedBytes: this.map.size * (80 + (this.opts.bytesPerValue ?? 64)) }
  }

  snapshot(): Array<[K, V, EventTime]> {
    const out: Array<[K, V, EventTime]> = new Array(this.map.size)
    let i = 0
    for (const [k, e] of this.map) out[i++] = [k, e.v, e.t]
    return out
  }

  restore(s: Array<[K, V, EventTime]>): void {
    this.map = new Map()
    this.cursor = null
    this.head = null
    for (const [k, v, t] of s) this.map.set(k, { v, t, seq: ++this.seq })
  }
}

/**
 * Event-time timers per key: a binary min-heap on time, with at most one timer per (key, time)
 * (Flink's InternalTimerService semantics). Timers fire in time order when the watermark reaches them.
 */
export class TimerService<K> {
  private times: number[] = []
  private keys: K[] = []
  private registered = new Set<string>()

  get size(): number {
    return this.times.length
  }

  private id(key: K, time: number): string {
    return `${String(key)}\u0000${time}`
  }

  register(key: K, time: EventTime): void {
    const id = this.id(key, time)
    if (this.registered.has(id)) return
    this.registered.add(id)
    this.times.push(time)
    this.keys.push(key)
    this.up(this.times.length - 1)
  }

  /** Deletion is lazy: the timer stays in the heap but will not fire. */
  delete(key: K, time: EventTime): void {
    this.registered.delete(this.id(key, time))
  }

  /** Pop every timer with time <= wm, in time order; fn may register new timers. */
  fire(wm: EventTime, fn: (key: K, time: EventTime) => void): number {
    let n = 0
    while (this.times.length > 0 && this.times[0] <= wm) {
      const time = this.times[0]
      const key = this.keys[0]
      this.pop()
      const id = this.id(key, time)
      if (!this.registered.delete(id)) continue
      fn(key, time)
      n++
    }
    return n
  }

  private pop(): void {
    const lastT = this.times.pop()!
    const lastK = this.keys.pop()!
    if (this.times.length > 0) {
      this.times[0] = lastT
      this.keys[0] = lastK
      this.down(0)
    }
  }

  private up(i: number): void {
    const { times, keys } = this
    while (i > 0) {
      const p = (i - 1) >> 1
      if (times[p] <= times[i]) break
      ;[times[p], times[i]] = [times[i], times[p]]
      ;[keys[p], keys[i]] = [keys[i], keys[p]]
      i = p
    }
  }

  private down(i: number): void {
    const { times, keys } = this
    const n = times.length
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < n && times[l] < times[m]) m = l
      if (r < n && times[r] < times[m]) m = r
      if (m === i) return
      ;[times[m], times[i]] = [times[i], times[m]]
      ;[keys[m], keys[i]] = [keys[i], keys[m]]
      i = m
    }
  }

  /** The heap as it is (lazily deleted entries included), so a restore fires in exactly the same order. */
  snapshot(): { times: number[]; keys: K[]; registered: string[] } {
    return { times: this.times.slice(), keys: this.keys.slice(), registered: [...this.registered] }
  }

  restore(s: { times: number[]; keys: K[]; registered: string[] }): void {
    this.times = s.times.slice()
    this.keys = s.keys.slice()
    this.registered = new Set(s.registered)
  }
}
