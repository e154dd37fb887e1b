// Event-time windows: tumbling, hopping (size + slide) and session (gap, merging), each with
// allowed lateness. Windows are half-open [start, end); a window fires when the watermark W
// reaches end - 1 (Flink's TimeWindow.maxTimestamp / EventTimeTrigger), stays open for updates
// until W reaches end - 1 + lateness, and is then purged.
//
// Lateness (a record is "late" = beyond the allowed lateness) is decided per record, once, when the
// record arrives, against the watermark in force for its batch:
//   - tumbling / hopping: late if any window containing it has been purged, i.e. the earliest one
//     (end = its pane's end) satisfies end - 1 + lateness <= W. So an accepted record reaches every
//     window it belongs to: no window ever silently misses a record.
//   - session: late if t + lateness <= W (anything later could have merged with a purged session).
// Late records go to the 'late' side output with the reason. Accepted records that land in a window
// that has already fired produce an update (revision + 1) at the end of the batch.
//
// Tumbling and hopping windows are computed on slices ("panes") of length gcd-free `slide`: each
// record is added to exactly one pane, and a firing window merges its size/slide panes. This is
// the stream-slicing technique (Flink SQL's sliced windows, Scotty): hopping costs one add per
// record like tumbling, plus a merge per (key, window) at firing time.
import { parseOptions } from './config.ts'
import { z } from 'zod'
import { TrendwireError } from './errors.ts'
import { TimerService } from './state.ts'
import type { Batch, Collector, EventTime, Operator, OperatorContext, StateStats } from './types.ts'

export const LATE = 'late'

/** An aggregate function (Flink AggregateFunction). Accumulators must be structured-clone serialisable. */
export interface AggregateFunction<T, A, R> {
  create(): A
  /** Returns the new accumulator; may mutate and return acc. */
  add(acc: A, value: T, time: EventTime): A
  /** Combine two accumulators into a new one; must mutate neither. */
  merge(a: A, b: A): A
  result(acc: A): R
  /**
   * Optional, for invertible aggregates (count, sum-with-count): acc minus removed; may mutate acc.
   * With retract and isEmpty, hopping windows slide a running accumulator (add the entering pane,
   * subtract the leaving one) instead of merging size/slide panes per key at every firing.
   */
  retract?(acc: A, removed: A): A
  /** True when no record contributes to acc any more (e.g. count 0). Required with retract. */
  isEmpty?(acc: A): boolean
}

export interface WindowResult<K, R> {
  key: K
  /** Window start (inclusive), epoch ms. */
  start: EventTime
  /** Window end (exclusive), epoch ms. */
  end: EventTime
  value: R
  /** 0 for the first firing; +1 for every later correction within the allowed lateness. */
  revision: number
  /** Session windows only: this window was merged into another and must be discarded downstream. */
  retracted?: boolean
}

/** A record that arrived beyond the allowed lateness. */
export interface LateRecord<T> {
  value: T
  time: EventTime
  watermark: EventTime
  operator: string
  reason: string
}

export type WindowSpec =
  | { kind: 'tumbling'; sizeMs: number; offsetMs?: number }
  | { kind: 'hopping'; sizeMs: number; slideMs: number; offsetMs?: number }
  | { kind: 'session'; gapMs: number }

export type TumblingSpec = Extract<WindowSpec, { kind: 'tumbling' }>
export type HoppingSpec = Extract<WindowSpec, { kind: 'hopping' }>
export type SessionSpec = Extract<WindowSpec, { kind: 'session' }>
export const tumbling = (sizeMs: number, offsetMs = 0): TumblingSpec => ({ kind: 'tumbling', sizeMs, offsetMs })
export const hopping = (sizeMs: number, slideMs: number, offsetMs = 0): HoppingSpec => ({ kind: 'hopping', sizeMs, slideMs, offsetMs })
export const session = (gapMs: number): SessionSpec => ({ kind: 'session', gapMs })

const windowOptionsSchema = z.object({
  allowedLatenessMs: z.number().int().min(0).default(0),
})
export type WindowOptions = z.input<typeof windowOptionsSchema>

function lateReason(t: EventTime, wm: EventTime, lateness: number, what: string): string {
  return `event time ${t} (${new Date(t).toISOString()}) is behind the watermark ${wm} by ${wm - t} ms, more than the allowed lateness of ${lateness} ms: ${what}`
}

/** Rows a hopping window firing emits between two hand-overs to the engine (OperatorContext.flushOutput). */
const RUNNING_FLUSH_ROWS = 4096

/** Floor of (t - offset) / slide, times slide, plus offset: the start of t's pane. */
function paneStart(t: number, slide: number, offset: number): number {
  const r = (t - offset) % slide
  return t - (r < 0 ? r + slide : r)
}

/**
 * A pane of a hopping window over an invertible aggregate: accumulators indexed by key slot
 * (undefined where the key has no record in the pane), and the slots it holds, in first-record order.
 */
interface DensePane<A> {
  accs: Array<A | undefined>
  slots: number[]
}

/**
 * Tumbling and hopping windowed aggregation over sliced panes.
 * State: paneStart → (key → accumulator). Live panes are few (≈ (size + lateness + disorder) / slide).
 *
 * Hopping windows over an invertible aggregate (retract + isEmpty) keep, next to the panes, a running
 * accumulator per key over the panes of the next window to fire: a firing adds the entering pane,
 * emits, and subtracts the leaving pane. Their keys get dense integer slots (one hash lookup per
 * record, for the slot); panes and the running window are arrays indexed by slot, so a firing adds,
 * emits and subtracts without hash lookups and, for number accumulators, without allocating.
 * A slot is freed when the last pane holding it is purged. Each pane array has one entry per slot
 * (8 bytes × live keys), which is less than a Map entry per (key, pane) once a pane holds more than
 * a fifth or so of the live keys. Checkpoints hold the plain layout (pane → key → accumulator,
 * running keys and accumulators in emission order), the same for both.
 */
export class SlicedWindowOperator<T, K, A, R> implements Operator<T, WindowResult<K, R>> {
  readonly size: number
  readonly slide: number
  readonly offset: number
  readonly panesPerWindow: number
  readonly lateness: number
  /** Panes of bare accumulators (every aggregate except invertible ones on hopping windows). */
  private panes = new Map<number, Map<K, A>>()
  /** Panes of slot-indexed accumulators (invertible aggregates on hopping windows). */
  private densePanes = new Map<number, DensePane<A>>()
  /** Sorted pane starts, ascending. */
  private paneOrder: number[] = []
  /** Windows already fired: every window with end - 1 <= firedWm. */
  private firedWm = -Infinity
  /** Revisions of windows corrected after firing: end → key → revision. */
  private revisions = new Map<number, Map<K, number>>()
  /** Corrections to emit at the end of the current batch: end → keys. */
  private dirty = new Map<number, Set<K>>()
  private lastPane = NaN
  private lastPaneMap: Map<K, A> | undefined
  private lastDensePane: DensePane<A> | undefined
  /** Key slots (invertible aggregates on hopping windows): key → slot, slot → key, panes holding it. */
  private slotOf = new Map<K, number>()
  private slotKey: Array<K | undefined> = []
  private slotRefs: number[] = []
  private freeSlots: number[] = []
  /** Length of every slot-indexed array; blank is that many undefined, copied for a new pane. */
  private cap = 0
  private blank: undefined[] = []
  /**
   * Invertible aggregates on hopping windows: per key slot, the merge of panes [runStart, runEnd),
   * kept in step with records added to those panes (undefined: no record). runLive lists the slots
   * with an accumulator, in emission order (a slot that empties is replaced by the last one);
   * runPos[slot] is its index there. runOn is false until the first firing.
   */
  private run: Array<A | undefined> = []
  private runPos: number[] = []
  private runLive: number[] = []
  private runOn = false
  private runStart = 0
  private runEnd = 0
  private readonly invertible: boolean
  lateCount = 0

  constructor(
    readonly name: string,
    spec: Extract<WindowSpec, { kind: 'tumbling' | 'hopping' }>,
    private readonly keyOf: (v: T) => K,
    private readonly agg: AggregateFunction<T, A, R>,
    options: WindowOptions = {},
  ) {
    const o = parseOptions(`window "${name}"`, windowOptionsSchema, options)
    this.lateness = o.allowedLatenessMs
    this.size = spec.sizeMs
    this.slide = spec.kind === 'hopping' ? spec.slideMs : spec.sizeMs
    this.offset = spec.offsetMs ?? 0
    if (!(this.size > 0 && this.slide > 0 && Number.isInteger(this.size) && Number.isInteger(this.slide))) {
      throw new TrendwireError('CONFIG_INVALID', `window "${name}": sizeMs and slideMs must be positive integers`)
    }
    if (this.size % this.slide !== 0) {
      throw new TrendwireError('CONFIG_INVALID', `window "${name}": sizeMs (${this.size}) must be a multiple of slideMs (${this.slide})`)
    }
    this.panesPerWindow = this.size / this.slide
    // undefined marks "no accumulator" in the slot-indexed arrays
    this.invertible = this.panesPerWindow > 1 && typeof agg.retract === 'function' && typeof agg.isEmpty === 'function' && agg.create() !== undefined
    if (this.invertible) this.resetSlots()
  }

  private resetSlots(): void {
    this.slotOf = new Map()
    this.slotKey = []
    this.slotRefs = []
    this.freeSlots = []
    this.cap = 1024
    this.blank = new Array<undefined>(this.cap).fill(undefined)
    this.densePanes = new Map()
    this.run = this.blank.slice()
    this.runPos = new Array<number>(this.cap).fill(0)
    this.runLive = []
    this.runOn = false
  }

  /** A slot for a key that has none. */
  private newSlot(k: K): number {
    let s = this.freeSlots.pop()
    if (s === undefined) {
      s = this.slotKey.length
      if (s === this.cap) this.grow()
      this.slotKey.push(k)
      this.slotRefs.push(0)
    } else {
      this.slotKey[s] = k
      this.slotRefs[s] = 0
    }
    this.slotOf.set(k, s)
    return s
  }

  /** Double every slot-indexed array. */
  private grow(): void {
    const n = this.cap
    const extend = <X>(a: X[], v: X) => { for (let i = 0; i < n; i++) a.push(v) }
    extend(this.blank, undefined)
    extend(this.run, undefined)
    extend(this.runPos, 0)
    for (const pane of this.densePanes.values()) extend(pane.accs, undefined)
    this.cap = 2 * n
  }

  /** A pane left every window: release the slots no other pane holds. */
  private releaseSlots(pane: DensePane<A>): void {
    const refs = this.slotRefs
    for (const s of pane.slots) {
      // a slot still in the running window stays (only an aggregate whose isEmpty misses a case gets here)
      if (--refs[s] > 0 || this.run[s] !== undefined) continue
      this.slotOf.delete(this.slotKey[s] as K)
      this.slotKey[s] = undefined
      this.freeSlots.push(s)
    }
  }

  /** Keep pane start p in paneOrder (sorted); new panes are almost always the newest. */
  private addPaneStart(p: number): void {
    const order = this.paneOrder
    let i = order.length
    while (i > 0 && order[i - 1] > p) i--
    order.splice(i, 0, p)
  }

  private paneFor(p: number): Map<K, A> {
    if (p === this.lastPane) return this.lastPaneMap!
    let m = this.panes.get(p)
    if (!m) {
      m = new Map()
      this.panes.set(p, m)
      this.addPaneStart(p)
    }
    this.lastPane = p
    this.lastPaneMap = m
    return m
  }

  private densePaneFor(p: number): DensePane<A> {
    if (p === this.lastPane) return this.lastDensePane!
    let m = this.densePanes.get(p)
    if (!m) {
      m = { accs: this.blank.slice(), slots: [] }
      this.densePanes.set(p, m)
      this.addPaneStart(p)
    }
    this.lastPane = p
    this.lastDensePane = m
    return m
  }

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Collector<WindowResult<K, R>>): void {
    if (this.invertible) this.processSlots(batch, ctx.watermark, out)
    else this.processPanes(batch, ctx.watermark, out)
    if (this.dirty.size > 0) this.emitCorrections(out)
  }

  private late(v: T, t: number, p: number, wm: number, out: Collector<WindowResult<K, R>>): void {
    this.lateCount++
    out.side(LATE, {
      value: v, time: t, watermark: wm, operator: this.name,
      reason: lateReason(t, wm, this.lateness, `window [${p + this.slide - this.size}, ${p + this.slide}) is closed`),
    } satisfies LateRecord<T>, t)
  }

  private processPanes(batch: Batch<T>, wm: EventTime, out: Collector<WindowResult<K, R>>): void {
    const { values, times } = batch
    const slide = this.slide
    const offset = this.offset
    const lateness = this.lateness
    const keyOf = this.keyOf
    const agg = this.agg
    const firedWm = this.firedWm
    for (let i = 0; i < values.length; i++) {
      const t = times[i]
      const p = paneStart(t, slide, offset)
      // earliest window containing t ends at p + slide
      if (p + slide - 1 + lateness <= wm) {
        this.late(values[i], t, p, wm, out)
        continue
      }
      const v = values[i]
      const k = keyOf(v)
      const pane = this.paneFor(p)
      const acc = pane.get(k)
      pane.set(k, agg.add(acc === undefined ? agg.create() : acc, v, t))
      if (p + slide - 1 <= firedWm) this.markDirty(p, k)
    }
  }

  private processSlots(batch: Batch<T>, wm: EventTime, out: Collector<WindowResult<K, R>>): void {
    const { values, times } = batch
    const slide = this.slide
    const offset = this.offset
    const lateness = this.lateness
    const keyOf = this.keyOf
    const agg = this.agg
    const firedWm = this.firedWm
    const slotOf = this.slotOf
    for (let i = 0; i < values.length; i++) {
      const t = times[i]
      const p = paneStart(t, slide, offset)
      if (p + slide - 1 + lateness <= wm) {
        this.late(values[i], t, p, wm, out)
        continue
      }
      const v = values[i]
      const k = keyOf(v)
      let s = slotOf.get(k)
      if (s === undefined) s = this.newSlot(k)
      const pane = this.densePaneFor(p)
      const accs = pane.accs
      const a = accs[s]
      if (a === undefined) {
        accs[s] = agg.add(agg.create(), v, t)
        pane.slots.push(s)
        this.slotRefs[s]++
      } else accs[s] = agg.add(a, v, t)
      if (p < this.runEnd && p >= this.runStart && this.runOn) {
        // the pane is in the running window: so is the record
        const run = this.run
        const r = run[s]
        if (r === undefined) {
          run[s] = agg.add(agg.create(), v, t)
          this.runPos[s] = this.runLive.length
          this.runLive.push(s)
        } else run[s] = agg.add(r, v, t)
      }
      if (p + slide - 1 <= firedWm) this.markDirty(p, k)
    }
  }

  /** The record in pane p for key k changed a window that already fired: queue corrections. */
  private markDirty(p: number, k: K): void {
    for (let end = p + this.slide; end <= p + this.size; end += this.slide) {
      if (end - 1 > this.firedWm) break
      let s = this.dirty.get(end)
      if (!s) this.dirty.set(end, (s = new Set()))
      s.add(k)
    }
  }

  private emitCorrections(out: Collector<WindowResult<K, R>>): void {
    for (const [end, keys] of this.dirty) {
      let rev = this.revisions.get(end)
      if (!rev) this.revisions.set(end, (rev = new Map()))
      for (const k of keys) {
        const acc = this.accFor(end, k)
        if (acc === undefined) continue
        const r = (rev.get(k) ?? 0) + 1
        rev.set(k, r)
        out.emit({ key: k, start: end - this.size, end, value: this.agg.result(acc), revision: r }, end - 1)
      }
    }
    this.dirty.clear()
  }

  private accFor(end: number, k: K): A | undefined {
    let acc: A | undefined
    for (let p = end - this.size; p < end; p += this.slide) {
      const a = this.invertible ? this.slotAcc(p, k) : this.panes.get(p)?.get(k)
      if (a === undefined) continue
      acc = acc === undefined ? a : this.agg.merge(acc, a)
    }
    return acc
  }

  private slotAcc(p: number, k: K): A | undefined {
    const s = this.slotOf.get(k)
    return s === undefined ? undefined : this.densePanes.get(p)?.accs[s]
  }

  onWatermark(wm: EventTime, ctx: OperatorContext, out: Collector<WindowResult<K, R>>): void | Promise<void> {
    if (wm <= this.firedWm) return
    // Windows to fire: ends e with firedWm < e - 1 <= wm that contain at least one live pane.
    const ends = new Set<number>()
    for (const p of this.paneOrder) {
      for (let e = p + this.slide; e <= p + this.size; e += this.slide) {
        if (e - 1 > this.firedWm && e - 1 <= wm) ends.add(e)
      }
    }
    const sorted = [...ends].sort((a, b) => a - b)
    if (this.invertible && ctx.flushOutput) return this.fireRunningFlushed(sorted, wm, out, ctx.flushOutput)
    for (const end of sorted) this.fire(end, out)
    this.firedWm = wm
    this.purge(wm)
  }

  /**
   * Hopping windows over an invertible aggregate emit a row per live key per slide; handing them on
   * every RUNNING_FLUSH_ROWS rows (ctx.flushOutput) lets the rows die young instead of all of a
   * firing's rows waiting in the output buffer, being copied by the young-generation GC and promoted.
   */
  private async fireRunningFlushed(ends: number[], wm: EventTime, out: Collector<WindowResult<K, R>>, flush: () => Promise<void>): Promise<void> {
    const agg = this.agg
    let pending = 0
    for (const end of ends) {
      const start = end - this.size
      this.slideRunning(start, end)
      const live = this.runLive
      const run = this.run
      const keys = this.slotKey
      const time = end - 1
      for (let i = 0; i < live.length; i++) {
        const s = live[i]
        out.emit({ key: keys[s] as K, start, end, value: agg.result(run[s] as A), revision: 0 }, time)
        if (++pending === RUNNING_FLUSH_ROWS) {
          await flush()
          pending = 0
        }
      }
      this.subtractPane(start)
    }
    this.firedWm = wm
    this.purge(wm)
  }

  private fire(end: number, out: Collector<WindowResult<K, R>>): void {
    const start = end - this.size
    const agg = this.agg
    if (this.invertible) return this.fireRunning(start, end, out)
    if (this.panesPerWindow === 1) {
      const pane = this.panes.get(start)
      if (!pane) return
      for (const [k, acc] of pane) out.emit({ key: k, start, end, value: agg.result(acc), revision: 0 }, end - 1)
      return
    }
    const merged = new Map<K, A>()
    for (let p = start; p < end; p += this.slide) {
      const pane = this.panes.get(p)
      if (!pane) continue
      // merge() mutates neither side, so the first pane's accumulator can be taken as it is
      for (const [k, a] of pane) {
        const m = merged.get(k)
        merged.set(k, m === undefined ? a : agg.merge(m, a))
      }
    }
    for (const [k, acc] of merged) out.emit({ key: k, start, end, value: agg.result(acc), revision: 0 }, end - 1)
  }

  /** Slide the running accumulator to [start, end), emit it, then drop pane `start` from it. */
  private fireRunning(start: number, end: number, out: Collector<WindowResult<K, R>>): void {
    const agg = this.agg
    this.slideRunning(start, end)
    const run = this.run
    const live = this.runLive
    const keys = this.slotKey
    const time = end - 1
    for (let i = 0; i < live.length; i++) {
      const s = live[i]
      out.emit({ key: keys[s] as K, start, end, value: agg.result(run[s] as A), revision: 0 }, time)
    }
    // pane `start` is in no later window: take it out now, while it still exists (purge follows)
    this.subtractPane(start)
  }

  /** Make the running accumulator cover [start, end): subtract the panes before start, add those up to end. */
  private slideRunning(start: number, end: number): void {
    const agg = this.agg
    if (!this.runOn || this.runEnd < start || this.runStart > start) {
      for (const s of this.runLive) this.run[s] = undefined
      this.runLive = []
      this.runOn = true
      this.runStart = this.runEnd = start
    }
    while (this.runStart < start) this.subtractPane(this.runStart)
    const run = this.run
    const runPos = this.runPos
    const live = this.runLive
    for (; this.runEnd < end; this.runEnd += this.slide) {
      const pane = this.densePanes.get(this.runEnd)
      if (!pane) continue
      const accs = pane.accs
      const slots = pane.slots
      for (let j = 0; j < slots.length; j++) {
        const s = slots[j]
        const r = run[s]
        if (r === undefined) {
          run[s] = agg.merge(agg.create(), accs[s] as A)
          runPos[s] = live.length
          live.push(s)
        } else run[s] = agg.merge(r, accs[s] as A)
      }
    }
  }

  private subtractPane(p: number): void {
    const pane = this.densePanes.get(p)
    if (pane) {
      const agg = this.agg
      const run = this.run
      const runPos = this.runPos
      const live = this.runLive
      const accs = pane.accs
      const slots = pane.slots
      for (let j = 0; j < slots.length; j++) {
        const s = slots[j]
        const r = run[s]
        if (r === undefined) continue
        const left = agg.retract!(r, accs[s] as A)
        if (!agg.isEmpty!(left)) {
          run[s] = left
          continue
        }
        // no record of this key is left in the running window: move the last slot into its place
        run[s] = undefined
        const last = live.pop()!
        if (last !== s) {
          const at = runPos[s]
          live[at] = last
          runPos[last] = at
        }
      }
    }
    this.runStart = p + this.slide
  }

  /** Drop panes no live window needs: the last window containing pane p ends at p + size. */
  private purge(wm: EventTime): void {
    const order = this.paneOrder
    let n = 0
    while (n < order.length && order[n] + this.size - 1 + this.lateness <= wm) {
      this.panes.delete(order[n])
      const dense = this.densePanes.get(order[n])
      if (dense) {
        this.densePanes.delete(order[n])
        this.releaseSlots(dense)
      }
      n++
    }
    if (n > 0) {
      order.splice(0, n)
      this.lastPane = NaN
      this.lastPaneMap = undefined
      this.lastDensePane = undefined
    }
    for (const end of this.revisions.keys()) if (end - 1 + this.lateness <= wm) this.revisions.delete(end)
  }

  stateStats(): StateStats {
    let entries = 0
    for (const m of this.panes.values()) entries += m.size
    if (!this.invertible) {
      // Map entry (~50 B) + key string (~40 B typical) + small accumulator
      return { keys: entries, estimatedBytes: entries * 100 }
    }
    for (const m of this.densePanes.values()) entries += m.slots.length
    // 8 B per slot in every pane and in the running arrays, 8 B per pane entry, ~100 B per live key
    return { keys: entries, estimatedBytes: (this.densePanes.size + 2) * this.cap * 8 + entries * 8 + this.slotOf.size * 100 }
  }

  snapshot(): unknown {
    // the running accumulator is part of the state so that a restored run emits rows in the same order
    let panes = this.panes
    let running: { keys: K[]; accs: A[] } | null = null
    if (this.invertible) {
      const keys = this.slotKey as K[]
      panes = new Map()
      for (const [p, pane] of this.densePanes) {
        const plain = new Map<K, A>()
        for (const s of pane.slots) plain.set(keys[s], pane.accs[s] as A)
        panes.set(p, plain)
      }
      if (this.runOn) running = { keys: this.runLive.map((s) => keys[s]), accs: this.runLive.map((s) => this.run[s] as A) }
    }
    return {
      panes, firedWm: this.firedWm, revisions: this.revisions, lateCount: this.lateCount,
      running, runStart: this.runStart, runEnd: this.runEnd,
    }
  }

  restore(state: unknown): void {
    const s = state as {
      panes: Map<number, Map<K, A>>; firedWm: number; revisions: Map<number, Map<K, number>>; lateCount: number
      running: { keys: K[]; accs: A[] } | Map<K, A> | null; runStart: number; runEnd: number
    }
    this.paneOrder = [...s.panes.keys()].sort((a, b) => a - b)
    this.firedWm = s.firedWm
    this.revisions = s.revisions
    this.lateCount = s.lateCount
    this.lastPane = NaN
    this.lastPaneMap = undefined
    this.lastDensePane = undefined
    this.runStart = s.runStart
    this.runEnd = s.runEnd
    if (!this.invertible) {
      this.panes = s.panes
      return
    }
    this.panes = new Map()
    this.resetSlots()
    // slot numbers may differ from the run that took the checkpoint; the orders that decide the
    // output (keys within a pane, the running list) are restored as they were
    for (const [p, m] of s.panes) {
      const pane: DensePane<A> = { accs: this.blank.slice(), slots: [] }
      this.densePanes.set(p, pane)
      for (const [k, acc] of m) {
        const slot = this.slotOf.get(k) ?? this.newSlot(k)
        pane.accs[slot] = acc
        pane.slots.push(slot)
        this.slotRefs[slot]++
      }
    }
    // checkpoints taken before the slot layout hold the running accumulator as a Map
    const run = s.running instanceof Map ? { keys: [...s.running.keys()], accs: [...s.running.values()] } : s.running
    if (!run) return
    this.runOn = true
    run.keys.forEach((k, i) => {
      const slot = this.slotOf.get(k) ?? this.newSlot(k)
      this.run[slot] = run.accs[i]
      this.runPos[slot] = this.runLive.length
      this.runLive.push(slot)
    })
  }
}

interface Session<A> {
  start: number
  /** exclusive: last record time + gap */
  end: number
  acc: A
  /** -1 until fired, then the revision last emitted */
  revision: number
  /** changed since last emitted */
  pending?: boolean
}

/**
 * Session windows: per key, the sessions are maximal runs of records less than `gap` apart
 * (window [first, last + gap)). A record that bridges sessions merges them; if a merged session
 * had already fired, it is retracted and the merged one emitted as a correction.
 */
export class SessionWindowOperator<T, K, A, R> implements Operator<T, WindowResult<K, R>> {
  readonly gap: number
  readonly lateness: number
  private sessions = new Map<K, Session<A>[]>()
  /** Timers at end - 1 (fire) and end - 1 + lateness (purge). */
  private timers = new TimerService<K>()
  private dirty = new Set<K>()
  private firedWm = -Infinity
  lateCount = 0

  constructor(
    readonly name: string,
    spec: Extract<WindowSpec, { kind: 'session' }>,
    private readonly keyOf: (v: T) => K,
    private readonly agg: AggregateFunction<T, A, R>,
    options: WindowOptions = {},
  ) {
    const o = parseOptions(`window "${name}"`, windowOptionsSchema, options)
    this.lateness = o.allowedLatenessMs
    this.gap = spec.gapMs
    if (!(this.gap > 0)) throw new TrendwireError('CONFIG_INVALID', `window "${name}": gapMs must be positive`)
  }

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Collector<WindowResult<K, R>>): void {
    const { values, times } = batch
    const wm = ctx.watermark
    for (let i = 0; i < values.length; i++) {
      const t = times[i]
      const v = values[i]
      if (t + this.lateness <= wm) {
        this.lateCount++
        out.side(LATE, {
          value: v, time: t, watermark: wm, operator: this.name,
          reason: lateReason(t, wm, this.lateness, 'its session may already be closed'),
        } satisfies LateRecord<T>, t)
        continue
      }
      const k = this.keyOf(v)
      let list = this.sessions.get(k)
      if (!list) this.sessions.set(k, (list = []))
      let start = t
      let end = t + this.gap
      // sessions are kept sorted by start and disjoint; merge every one overlapping [t, t + gap)
      let j = 0
      while (j < list.length && list[j].end <= start) j++
      const first = j
      while (j < list.length && list[j].start < end) {
        if (list[j].start < start) start = list[j].start
        if (list[j].end > end) end = list[j].end
        j++
      }
      let merged: Session<A>
      if (j - first === 1 && list[first].start === start && list[first].end === end) {
        // the record falls inside one session and does not extend it: same window, updated
        merged = list[first]
        merged.acc = this.agg.add(merged.acc, v, t)
      } else {
        let acc: A = this.agg.create()
        for (let m = first; m < j; m++) {
          const s = list[m]
          acc = this.agg.merge(acc, s.acc)
          if (s.revision >= 0) {
            // it fired already and is replaced by a larger window: retract it downstream
            out.emit({ key: k, start: s.start, end: s.end, value: this.agg.result(s.acc), revision: s.revision + 1, retracted: true }, s.end - 1)
          }
        }
        merged = { start, end, acc: this.agg.add(acc, v, t), revision: -1 }
        list.splice(first, j - first, merged)
        this.timers.register(k, end - 1 + this.lateness)
      }
      if (end - 1 <= this.firedWm) this.dirty.add(k) // fires (again) as a correction at the end of the batch
      else this.timers.register(k, end - 1)
      merged.pending = true
    }
    if (this.dirty.size > 0) {
      for (const k of this.dirty) this.fireDue(k, this.firedWm, out)
      this.dirty.clear()
    }
  }

  private emit(k: K, s: Session<A>, out: Collector<WindowResult<K, R>>): void {
    s.revision++
    s.pending = false
    out.emit({ key: k, start: s.start, end: s.end, value: this.agg.result(s.acc), revision: s.revision }, s.end - 1)
  }

  private fireDue(k: K, wm: EventTime, out: Collector<WindowResult<K, R>>): void {
    const list = this.sessions.get(k)
    if (!list) return
    for (const s of list) if (s.pending && s.end - 1 <= wm) this.emit(k, s, out)
  }

  onWatermark(wm: EventTime, _ctx: OperatorContext, out: Collector<WindowResult<K, R>>): void {
    if (wm <= this.firedWm) return
    const due = new Set<K>()
    this.timers.fire(wm, (k) => { due.add(k) })
    // fire in window-end order across keys for a deterministic output order
    const firing: Array<[K, Session<A>]> = []
    for (const k of due) {
      const list = this.sessions.get(k)
      if (!list) continue
      for (const s of list) if (s.pending && s.end - 1 <= wm) firing.push([k, s])
    }
    firing.sort((a, b) => a[1].end - b[1].end)
    for (const [k, s] of firing) this.emit(k, s, out)
    for (const k of due) {
      const list = this.sessions.get(k)
      if (!list) continue
      const keep = list.filter((s) => s.end - 1 + this.lateness > wm)
      if (keep.length === 0) this.sessions.delete(k)
      else if (keep.length !== list.length) this.sessions.set(k, keep)
    }
    this.firedWm = wm
  }

  stateStats(): StateStats {
    let n = 0
    for (const l of this.sessions.values()) n += l.length
    return { keys: this.sessions.size, estimatedBytes: n * 120 + this.timers.size * 60 }
  }

  snapshot(): unknown {
    return { sessions: this.sessions, timers: this.timers.snapshot(), firedWm: this.firedWm, lateCount: this.lateCount }
  }

  restore(state: unknown): void {
    const s = state as { sessions: Map<K, Session<A>[]>; timers: ReturnType<TimerService<K>['snapshot']>; firedWm: number; lateCount: number }
    this.sessions = s.sessions
    this.timers.restore(s.timers)
    this.firedWm = s.firedWm
    this.lateCount = s.lateCount
  }
}

export function windowOperator<T, K, A, R>(
  name: string, spec: WindowSpec, keyOf: (v: T) => K, agg: AggregateFunction<T, A, R>, options?: WindowOptions,
): Operator<T, WindowResult<K, R>> {
  return spec.kind === 'session'
    ? new SessionWindowOperator(name, spec, keyOf, agg, options)
    : new SlicedWindowOperator(name, spec, keyOf, agg, options)
}

/** Common aggregates. */
export const count = <T>(): AggregateFunction<T, number, number> => ({
  create: () => 0,
  add: (a) => a + 1,
  merge: (a, b) => a + b,
  result: (a) => a,
  retract: (a, b) => a - b,
  isEmpty: (a) => a === 0,
})

export const sum = <T>(of: (v: T) => number): AggregateFunction<T, number, number> => ({
  create: () => 0,
  add: (a, v) => a + of(v),
  merge: (a, b) => a + b,
  result: (a) => a,
})
