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

/** Floor of (t - offset) / slide, times slide, plus offset: the start of t's pane. */
function paneStart(t: number, slide: number, offset: number): number {
  const r = (t - offset) % slide
  return t - (r < 0 ? r + slide : r)
}

/** A pane's accumulator for one key (invertible hopping windows), linked to the key's running cell while the pane is in the running window. */
interface PaneCell<K, A> {
  acc: A
  run: RunCell<K, A> | null
}

/** A key's accumulator over the running window; i is its index in the dense list, -1 once removed. */
interface RunCell<K, A> {
  readonly key: K
  acc: A
  i: number
}

/**
 * Tumbling and hopping windowed aggregation over sliced panes.
 * State: paneStart → (key → accumulator). Live panes are few (≈ (size + lateness + disorder) / slide).
 *
 * Hopping windows over an invertible aggregate (retract + isEmpty) keep, next to the panes, a running
 * accumulator per key over the panes of the next window to fire: a firing adds the entering pane,
 * emits, and subtracts the leaving pane. Their panes hold cells ({acc, run}) rather than bare
 * accumulators: a record updates its cell in place (one hash lookup instead of a get and a set),
 * a cell links to its key's running cell while its pane is in the running window, so records and
 * the leaving pane update the running accumulator without a lookup, and a firing emits the dense
 * list of running cells. Checkpoints hold the plain layout (pane → key → accumulator, running keys
 * and accumulators), the same for both.
 */
export class SlicedWindowOperator<T, K, A, R> implements Operator<T, WindowResult<K, R>> {
  readonly size: number
  readonly slide: number
  readonly offset: number
  readonly panesPerWindow: number
  readonly lateness: number
  /** Panes of bare accumulators (every aggregate except invertible ones on hopping windows). */
  private panes = new Map<number, Map<K, A>>()
  /** Panes of cells (invertible aggregates on hopping windows). */
  private cellPanes = new Map<number, Map<K, PaneCell<K, A>>>()
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
  private lastCellPane: Map<K, PaneCell<K, A>> | undefined
  /**
   * Invertible aggregates on hopping windows: per key, the merge of panes [runStart, runEnd), kept
   * in step with records added to those panes. runList is dense (a removed cell is replaced by the
   * last one) and is the emission order; runMap is null while there is no running window.
   */
  private runMap: Map<K, RunCell<K, A>> | null = null
  private runList: RunCell<K, A>[] = []
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
    this.invertible = this.panesPerWindow > 1 && typeof agg.retract === 'function' && typeof agg.isEmpty === 'function'
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

  private cellPaneFor(p: number): Map<K, PaneCell<K, A>> {
    if (p === this.lastPane) return this.lastCellPane!
    let m = this.cellPanes.get(p)
    if (!m) {
      m = new Map()
      this.cellPanes.set(p, m)
      this.addPaneStart(p)
    }
    this.lastPane = p
    this.lastCellPane = m
    return m
  }

  processBatch(batch: Batch<T>, ctx: OperatorContext, out: Collector<WindowResult<K, R>>): void {
    if (this.invertible) this.processCells(batch, ctx.watermark, out)
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

  private processCells(batch: Batch<T>, wm: EventTime, out: Collector<WindowResult<K, R>>): void {
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
      if (p + slide - 1 + lateness <= wm) {
        this.late(values[i], t, p, wm, out)
        continue
      }
      const v = values[i]
      const k = keyOf(v)
      const pane = this.cellPaneFor(p)
      let c = pane.get(k)
      if (c === undefined) pane.set(k, (c = { acc: agg.add(agg.create(), v, t), run: null }))
      else c.acc = agg.add(c.acc, v, t)
      if (p < this.runEnd && p >= this.runStart && this.runMap !== null) {
        // the pane is in the running window: so is the record
        let r = c.run
        if (r === null || r.i < 0) c.run = r = this.runCellFor(k)
        r.acc = agg.add(r.acc, v, t)
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
      const a = this.invertible ? this.cellPanes.get(p)?.get(k)?.acc : this.panes.get(p)?.get(k)
      if (a === undefined) continue
      acc = acc === undefined ? a : this.agg.merge(acc, a)
    }
    return acc
  }

  onWatermark(wm: EventTime, _ctx: OperatorContext, out: Collector<WindowResult<K, R>>): void {
    if (wm <= this.firedWm) return
    // Windows to fire: ends e with firedWm < e - 1 <= wm that contain at least one live pane.
    const ends = new Set<number>()
    for (const p of this.paneOrder) {
      for (let e = p + this.slide; e <= p + this.size; e += this.slide) {
        if (e - 1 > this.firedWm && e - 1 <= wm) ends.add(e)
      }
    }
    const sorted = [...ends].sort((a, b) => a - b)
    for (const end of sorted) this.fire(end, out)
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

  /** The running cell for key k, created empty if k has none. */
  private runCellFor(k: K): RunCell<K, A> {
    let r = this.runMap!.get(k)
    if (r === undefined) {
      r = { key: k, acc: this.agg.create(), i: this.runList.length }
      this.runMap!.set(k, r)
      this.runList.push(r)
    }
    return r
  }

  /** Slide the running accumulator to [start, end), emit it, then drop pane `start` from it. */
  private fireRunning(start: number, end: number, out: Collector<WindowResult<K, R>>): void {
    const agg = this.agg
    if (this.runMap === null || this.runEnd < start || this.runStart > start) {
      // start afresh: unlink the cells of the panes of the old running window
      for (let p = this.runStart; p < this.runEnd && this.runMap !== null; p += this.slide) {
        const pane = this.cellPanes.get(p)
        if (pane) for (const c of pane.values()) c.run = null
      }
      this.runMap = new Map()
      this.runList = []
      this.runStart = this.runEnd = start
    }
    while (this.runStart < start) this.subtractPane(this.runStart)
    for (; this.runEnd < end; this.runEnd += this.slide) {
      const pane = this.cellPanes.get(this.runEnd)
      if (!pane) continue
      for (const [k, c] of pane) {
        const r = this.runCellFor(k)
        r.acc = agg.merge(r.acc, c.acc)
        c.run = r
      }
    }
    const list = this.runList
    const time = end - 1
    for (let i = 0; i < list.length; i++) {
      const r = list[i]
      out.emit({ key: r.key, start, end, value: agg.result(r.acc), revision: 0 }, time)
    }
    // pane `start` is in no later window: take it out now, while it still exists (purge follows)
    this.subtractPane(start)
  }

  private subtractPane(p: number): void {
    const pane = this.cellPanes.get(p)
    if (pane) {
      const agg = this.agg
      const list = this.runList
      for (const c of pane.values()) {
        const r = c.run
        if (r === null) continue
        c.run = null
        if (r.i < 0) continue
        r.acc = agg.retract!(r.acc, c.acc)
        if (!agg.isEmpty!(r.acc)) continue
        // no record of this key is left in the running window: move the last cell into its place
        const last = list.pop()!
        if (last !== r) {
          last.i = r.i
          list[r.i] = last
        }
        r.i = -1
        this.runMap!.delete(r.key)
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
      this.cellPanes.delete(order[n])
      n++
    }
    if (n > 0) {
      order.splice(0, n)
      this.lastPane = NaN
      this.lastPaneMap = undefined
      this.lastCellPane = undefined
    }
    for (const end of this.revisions.keys()) if (end - 1 + this.lateness <= wm) this.revisions.delete(end)
  }

  stateStats(): StateStats {
    let entries = 0
    for (const m of this.panes.values()) entries += m.size
    for (const m of this.cellPanes.values()) entries += m.size
    // Map entry (~50 B) + key string (~40 B typical) + small accumulator; cells and running cells add ~60 B
    return { keys: entries, estimatedBytes: entries * (this.invertible ? 160 : 100) }
  }

  snapshot(): unknown {
    // the running accumulator is part of the state so that a restored run emits rows in the same order
    let panes = this.panes
    if (this.invertible) {
      panes = new Map()
      for (const [p, m] of this.cellPanes) {
        const plain = new Map<K, A>()
        for (const [k, c] of m) plain.set(k, c.acc)
        panes.set(p, plain)
      }
    }
    return {
      panes, firedWm: this.firedWm, revisions: this.revisions, lateCount: this.lateCount,
      running: this.runMap === null ? null : { keys: this.runList.map((r) => r.key), accs: this.runList.map((r) => r.acc) },
      runStart: this.runStart, runEnd: this.runEnd,
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
    this.lastCellPane = undefined
    this.runStart = s.runStart
    this.runEnd = s.runEnd
    // checkpoints taken before the dense layout hold the running accumulator as a Map
    const run = s.running instanceof Map ? { keys: [...s.running.keys()], accs: [...s.running.values()] } : s.running
    this.runList = run ? run.keys.map((key, i) => ({ key, acc: run.accs[i], i })) : []
    this.runMap = run ? new Map(this.runList.map((r) => [r.key, r])) : null
    if (!this.invertible) {
      this.panes = s.panes
      return
    }
    this.panes = new Map()
    this.cellPanes = new Map()
    for (const [p, m] of s.panes) {
      const inRun = this.runMap !== null && p >= this.runStart && p < this.runEnd
      const cells = new Map<K, PaneCell<K, A>>()
      for (const [k, acc] of m) cells.set(k, { acc, run: inRun ? this.runMap!.get(k) ?? null : null })
      this.cellPanes.set(p, cells)
    }
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
