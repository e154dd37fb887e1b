// Built-in stateless and keyed operators: map / filter / flatMap, keyed process functions with
// per-key state and event-time timers, and the stream–table join (a keyed, updatable dimension
// table kept in state). Each works on whole batches.
import { z } from 'zod'
import { parseOptions } from './config.ts'
import { KeyedState, TimerService } from './state.ts'
import type { Batch, Collector, EventTime, Operator, OperatorContext, StateStats } from './types.ts'

export class MapOperator<I, O> implements Operator<I, O> {
  constructor(readonly name: string, private readonly fn: (v: I, t: EventTime) => O) {}
  processBatch(batch: Batch<I>, _ctx: OperatorContext, out: Collector<O>): void {
    const { values, times } = batch
    const fn = this.fn
    for (let i = 0; i < values.length; i++) out.emit(fn(values[i], times[i]), times[i])
  }
}

export class FilterOperator<T> implements Operator<T, T> {
  constructor(readonly name: string, private readonly pred: (v: T, t: EventTime) => boolean) {}
  processBatch(batch: Batch<T>, _ctx: OperatorContext, out: Collector<T>): void {
    const { values, times } = batch
    const pred = this.pred
    for (let i = 0; i < values.length; i++) if (pred(values[i], times[i])) out.emit(values[i], times[i])
  }
}

export class FlatMapOperator<I, O> implements Operator<I, O> {
  constructor(readonly name: string, private readonly fn: (v: I, t: EventTime, out: Collector<O>) => void) {}
  processBatch(batch: Batch<I>, _ctx: OperatorContext, out: Collector<O>): void {
    const { values, times } = batch
    const fn = this.fn
    for (let i = 0; i < values.length; i++) fn(values[i], times[i], out)
  }
}

export const keyedStateOptionsSchema = z.object({
  /** Drop a key's state when it has not been updated for this long in event time. 0 = keep. */
  ttlMs: z.number().int().min(0).default(0),
  /** Evict the least recently updated key beyond this many. 0 = unbounded. */
  maxKeys: z.number().int().min(0).default(0),
  bytesPerValue: z.number().int().positive().default(128),
})
export type KeyedStateOptionsInput = z.input<typeof keyedStateOptionsSchema>

/** What a keyed process function sees for the key it is handling. */
export interface KeyedContext<K, O> {
  readonly key: K
  readonly watermark: EventTime
  emit(value: O, time: EventTime): void
  side(tag: string, value: unknown, time: EventTime): void
  registerTimer(time: EventTime): void
  deleteTimer(time: EventTime): void
}

/**
 * Per-key logic with state and timers (Flink KeyedProcessFunction). State is a value per key;
 * returning undefined from a handler clears it. Keep S structured-clone serialisable.
 */
export interface KeyedProcessFunction<K, T, S, O> {
  processElement(state: S | undefined, value: T, time: EventTime, ctx: KeyedContext<K, O>): S | undefined
  onTimer?(state: S | undefined, time: EventTime, ctx: KeyedContext<K, O>): S | undefined
  /** Called when a key's state is dropped by TTL or the size bound. */
  onExpire?(key: K, state: S, why: 'ttl' | 'size'): void
}

class KeyedCtxImpl<K, O> implements KeyedContext<K, O> {
  key!: K
  watermark: EventTime = -Infinity
  out!: Collector<O>
  constructor(private readonly timers: TimerService<K>) {}
  emit(value: O, time: EventTime): void { this.out.emit(value, time) }
  side(tag: string, value: unknown, time: EventTime): void { this.out.side(tag, value, time) }
  registerTimer(time: EventTime): void { this.timers.register(this.key, time) }
  deleteTimer(time: EventTime): void { this.timers.delete(this.key, time) }
}

export class KeyedProcessOperator<K, T, S, O> implements Operator<T, O> {
  readonly state: KeyedState<K, S>
  private readonly timers = new TimerService<K>()
  private readonly kctx: KeyedCtxImpl<K, O>

  constructor(
    readonly name: string,
    private readonly keyOf: (v: T) => K,
    private readonly fn: KeyedProcessFunction<K, T, S, O>,
    stateOptions: KeyedStateOptionsInput = {},
  ) {
    const o = parseOptions(`keyed state of "${name}"`, keyedStateOptionsSchema, stateOptions)
    this.state = new KeyedState<K, S>(o, fn.onExpire ? (k, v, why) => fn.onExpire!(k, v, why) : undefined)
    this.kctx = new KeyedCtxImpl<K, O>(this.timers)
  }

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Collector<O>): void {
    const { values, times } = batch
    const kctx = this.kctx
    kctx.out = out
    kctx.watermark = ctx.watermark
    for (let i = 0; i < values.length; i++) {
      const k = this.keyOf(values[i])
      kctx.key = k
      const s = this.fn.processElement(this.state.get(k), values[i], times[i], kctx)
      if (s === undefined) this.state.delete(k)
      else this.state.set(k, s, times[i])
    }
  }

  onWatermark(wm: EventTime, _ctx: OperatorContext, out: Collector<O>): void {
    const kctx = this.kctx
    kctx.out = out
    kctx.watermark = wm
    if (this.fn.onTimer) {
      this.timers.fire(wm, (k, t) => {
        kctx.key = k
        const s = this.fn.onTimer!(this.state.get(k), t, kctx)
        if (s === undefined) this.state.delete(k)
        else this.state.set(k, s, t)
      })
    }
    this.state.expire(wm)
  }

  stateStats(): StateStats {
    const s = this.state.stats()
    return { keys: s.keys, estimatedBytes: s.estimatedBytes + this.timers.size * 60 }
  }

  snapshot(): unknown {
    return { state: this.state.snapshot(), timers: this.timers.snapshot(), expired: this.state.expired, evicted: this.state.evicted }
  }

  restore(s: unknown): void {
    const st = s as { state: Array<[K, S, number]>; timers: ReturnType<TimerService<K>['snapshot']>; expired: number; evicted: number }
    this.state.restore(st.state)
    this.timers.restore(st.timers)
    this.state.expired = st.expired
    this.state.evicted = st.evicted
  }
}

/**
 * A keyed, updatable dimension table fed by a stream: keeps the latest value per key. Emits nothing
 * downstream; join operators read it. Keys expire by TTL / size like any keyed state.
 */
export class TableOperator<K, V> implements Operator<V, never> {
  readonly state: KeyedState<K, V>
  private readonly listeners: Array<(key: K) => void> = []
  constructor(readonly name: string, private readonly keyOf: (v: V) => K, stateOptions: KeyedStateOptionsInput = {}) {
    const o = parseOptions(`table "${name}"`, keyedStateOptionsSchema, stateOptions)
    this.state = new KeyedState<K, V>(o)
  }
  onUpdate(fn: (key: K) => void): void {
    this.listeners.push(fn)
  }
  get(key: K): V | undefined {
    return this.state.get(key)
  }
  processBatch(batch: Batch<V>): void {
    const { values, times } = batch
    for (let i = 0; i < values.length; i++) {
      const k = this.keyOf(values[i])
      this.state.set(k, values[i], times[i])
      for (const l of this.listeners) l(k)
    }
  }
  onWatermark(wm: EventTime): void {
    this.state.expire(wm)
  }
  stateStats(): StateStats { return this.state.stats() }
  snapshot(): unknown { return this.state.snapshot() }
  restore(s: unknown): void { this.state.restore(s as Array<[K, V, number]>) }
}

export const UNMATCHED = 'unmatched'

export const joinOptionsSchema = z.object({
  /**
   * How long (event time) a record waits for its table row to appear: a post's engagement can
   * arrive before the post itself. After that it is emitted with `undefined` and also reported on
   * the 'unmatched' side output. 0 = never wait.
   */
  waitMs: z.number().int().min(0).default(0),
  /** Bound on records waiting; beyond it the oldest are released unmatched. */
  maxPending: z.number().int().positive().default(100_000),
})
export type JoinOptions = z.input<typeof joinOptionsSchema>

/** Stream–table join: each record is joined with the table's current row for its key. */
export class TableJoinOperator<T, K, D, O> implements Operator<T, O> {
  private readonly opts: z.output<typeof joinOptionsSchema>
  /** key → records waiting for the table row, in arrival order */
  private pending = new Map<K, Array<[T, EventTime]>>()
  private pendingCount = 0
  private ready: K[] = []
  unmatched = 0

  constructor(
    readonly name: string,
    private readonly table: TableOperator<K, D>,
    private readonly keyOf: (v: T) => K,
    private readonly joiner: (v: T, row: D | undefined, t: EventTime) => O,
    options: JoinOptions = {},
  ) {
    this.opts = parseOptions(`join "${name}"`, joinOptionsSchema, options)
    table.onUpdate((k) => { if (this.pending.has(k)) this.ready.push(k) })
  }

  private releaseReady(out: Collector<O>): void {
    for (const k of this.ready) {
      const list = this.pending.get(k)
      if (!list) continue
      const row = this.table.get(k)
      this.pending.delete(k)
      this.pendingCount -= list.length
      for (const [v, t] of list) out.emit(this.joiner(v, row, t), t)
    }
    this.ready.length = 0
  }

  processBatch(batch: Batch<T>, _ctx: OperatorContext, out: Collector<O>): void {
    if (this.ready.length) this.releaseReady(out)
    const { values, times } = batch
    for (let i = 0; i < values.length; i++) {
      const v = values[i]
      const k = this.keyOf(v)
      const row = this.table.get(k)
      const waiting = this.pending.get(k)
      if (row !== undefined && !waiting) {
        out.emit(this.joiner(v, row, times[i]), times[i])
      } else if (this.opts.waitMs > 0) {
        if (waiting) waiting.push([v, times[i]])
        else this.pending.set(k, [[v, times[i]]])
        if (++this.pendingCount > this.opts.maxPending) this.releaseOldest(out)
      } else {
        this.emitUnmatched(v, times[i], out)
      }
    }
  }

  private emitUnmatched(v: T, t: EventTime, out: Collector<O>): void {
    this.unmatched++
    out.side(UNMATCHED, v, t)
    out.emit(this.joiner(v, undefined, t), t)
  }

  private releaseOldest(out: Collector<O>): void {
    const first = this.pending.entries().next()
    if (first.done) return
    const [k, list] = first.value
    this.pending.delete(k)
    this.pendingCount -= list.length
    for (const [v, t] of list) this.emitUnmatched(v, t, out)
  }

  onWatermark(wm: EventTime, _ctx: OperatorContext, out: Collector<O>): void {
    if (this.ready.length) this.releaseReady(out)
    if (this.pending.size === 0) return
    for (const [k, list] of this.pending) {
      if (list[0][1] + this.opts.waitMs > wm) continue
      const keep: Array<[T, EventTime]> = []
      for (const [v, t] of list) {
        if (t + this.opts.waitMs <= wm) this.emitUnmatched(v, t, out)
        else keep.push([v, t])
      }
      this.pendingCount -= list.length - keep.length
      if (keep.length) this.pending.set(k, keep)
      else this.pending.delete(k)
    }
  }

  stateStats(): StateStats {
    return { keys: this.pending.size, estimatedBytes: this.pendingCount * 150 }
  }

  snapshot(): unknown {
    return { pending: this.pending, unmatched: this.unmatched }
  }

  restore(s: unknown): void {
    const st = s as { pending: Map<K, Array<[T, EventTime]>>; unmatched: number }
    this.pending = st.pending
    this.pendingCount = 0
    for (const l of st.pending.values()) this.pendingCount += l.length
    this.unmatched = st.unmatched
    this.ready = []
  }
}
