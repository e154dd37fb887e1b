// The per-entity keyed logic of the trend topology, as KeyedProcessFunctions for the runtime
// (streams/operators.ts): state is plain data, time comes from the window results and timers.
//
// platformVolume: per platform, the posts of each window (the denominator of the share baseline)
//   and whether the window is still in the job's warm-up (the first warmupMs of event time the job
//   has seen: every entity is new to the job then, not to the world, so nothing may fire).
// entityTrends: per entity, the tracker (tracker.ts) over its window results, emitting a
//   TrendSignal for every window in which the entity is not idle. While it is trending, a timer at
//   the end of the next window makes a window without a record count as zero, so a trend that stops
//   dead still winds down. Corrections of a window (revision > 0, late data within the allowed
//   lateness) re-emit that window's signal with the corrected counts and revision + 1 when it is the
//   entity's latest signal (older windows' corrections are dropped: only one signal is kept); the detector
//   and lifecycle are not re-run (they are O(1) streaming state and cannot rewind), which is why
//   the detection uses revision 0 only.
import { PLATFORMS, type Platform } from '../../schemas/events.ts'
import type { EntityType, TrendSignal } from '../../schemas/outputs.ts'
import type { KeyedProcessFunction } from '../../streams/operators.ts'
import type { WindowResult } from '../../streams/windows.ts'
import { ALL_PLATFORMS, parseKey } from './keys.ts'
import type { EntityWindowStats } from './stats.ts'
import { applyGap, isActive, newTracker, stepWindow, upgradeTracker, type TrackerParams, type TrackerState, type TrackerStep } from './tracker.ts'

/** The platform's volume for one window, as the entity join sees it. */
export interface VolumeRow {
  /** Key of the volume table: `${platform part of the key}|${windowEnd}`. */
  id: string
  windowEnd: number
  total: number
  warmingUp: boolean
}

export interface VolumeState {
  /** Start of the first window the job saw. */
  firstStart: number
}

export function volumeRowId(platformPart: string, windowEnd: number): string {
  return `${platformPart}|${windowEnd}`
}

export function platformVolume(warmupMs: number): KeyedProcessFunction<string, WindowResult<string, EntityWindowStats>, VolumeState, VolumeRow> {
  return {
    processElement(s, r, time, ctx) {
      const st = s ?? { firstStart: r.start }
      if (r.start < st.firstStart) st.firstStart = r.start
      ctx.emit({ id: volumeRowId(ctx.key, r.end), windowEnd: r.end, total: r.value.uses, warmingUp: r.start < st.firstStart + warmupMs }, time)
      return st
    },
  }
}

/** An entity's window joined with its platform's volume. */
export interface EntityWindow {
  r: WindowResult<string, EntityWindowStats>
  total: number | undefined
  warmingUp: boolean
}

export interface EntityTrendState {
  t: TrackerState
  /** The last signal emitted (for corrections of its window). */
  last: TrendSignal | null
}

export interface EntityTrendOptions {
  params: TrackerParams
}

/** prevPlatform: for pooled keys and a window without uses, the platform of the previous signal. */
function signalOf(key: string, start: number, end: number, st: EntityWindowStats | null, step: TrackerStep, prevPlatform: Platform | undefined): TrendSignal {
  const k = parseKey(key)
  let platform: Platform
  if (k.platform !== ALL_PLATFORMS) platform = k.platform
  else platform = st !== null && st.uses > 0 ? PLATFORMS[st.topPlatform] : prevPlatform ?? PLATFORMS[st?.topPlatform ?? 0]
  return {
    entityType: k.type as EntityType,
    entity: k.entity,
    platform,
    windowStart: start,
    windowEnd: end,
    uses: st?.uses ?? 0,
    uniqueCreators: st?.uniqueCreators ?? 0,
    totalEngagement: st?.engagement ?? 0,
    growth: step.growth,
    baseline: step.step.expected,
    observed: step.step.observed,
    deviation: step.step.deviation,
    // the core's surprise: evidence in units of the alarm threshold, ≥ 1 when the entity took off
    score: step.step.surprise,
    stage: step.stage as TrendSignal['stage'],
    contributingPostIds: st?.topPosts ?? [],
    revision: 0,
  }
}

export function entityTrends(o: EntityTrendOptions): KeyedProcessFunction<string, EntityWindow, EntityTrendState, TrendSignal> {
  const p = o.params
  const W = p.windowMs
  return {
    processElement(s, w, time, ctx) {
      const r = w.r
      if (r.revision > 0) {
        // a correction: re-emit the window's signal if there was one, with the corrected counts
        if (s?.last && s.last.windowEnd === r.end) {
          s.last = { ...s.last, uses: r.value.uses, uniqueCreators: r.value.uniqueCreators, totalEngagement: r.value.engagement, contributingPostIds: r.value.topPosts, revision: r.revision }
          ctx.emit(s.last, time)
        }
        return s
      }
      const st = s ?? { t: newTracker(), last: null }
      upgradeTracker(st.t)
      if (r.end <= st.t.lastEnd) return st
      // windows skipped while trending (a timer normally steps them first): zeros, one by one
      while (isActive(st.t) && st.t.lastEnd + W < r.end) zeroWindow(st, ctx.key, st.t.lastEnd + W, ctx.emit.bind(ctx), time)
      applyGap(st.t, r.start, p, w.warmingUp)
      const step = stepWindow(st.t, r.end, r.value.uniqueCreators, w.total, p, w.warmingUp)
      if (step.stage !== 'idle') {
        st.last = signalOf(ctx.key, r.start, r.end, r.value, step, st.last?.platform)
        ctx.emit(st.last, time)
      } else st.last = null
      if (isActive(st.t)) ctx.registerTimer(r.end + W - 1)
      return st
    },
    onTimer(s, t, ctx) {
      // the timer for window [end − W, end) fires once the watermark passed its end: its result,
      // if it had one, has already been processed
      const end = t + 1
      if (!s || s.t.lastEnd >= end || !isActive(upgradeTracker(s.t))) return s
      zeroWindow(s, ctx.key, end, ctx.emit.bind(ctx), t)
      if (isActive(s.t)) ctx.registerTimer(end + W - 1)
      return s
    },
  }

  function zeroWindow(s: EntityTrendState, key: string, end: number, emit: (v: TrendSignal, t: number) => void, time: number): void {
    const step = stepWindow(s.t, end, 0, undefined, p, false)
    if (step.stage === 'idle') { s.last = null; return }
    s.last = signalOf(key, end - W, end, null, step, s.last?.platform)
    emit(s.last, Math.max(time, end - 1))
  }
}
