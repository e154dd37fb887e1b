// One entity's trend state across windows: the detector core in its count configuration
// (detector.ts, operators/anomaly/core.ts) feeding the
// lifecycle (lifecycle.ts), plus what a signal needs (growth, the last window, the platform volume).
// Pure: the trend topology's keyed process function (process.ts) and the offline tuner both drive
// it, so what is tuned is what runs.
//
// Windows arrive in order per entity. A window with no record is a zero: while the entity is idle
// such gaps are applied in closed form when its next record arrives (applyGap()); while it is trending
// the process function steps them one by one from event-time timers, so a trend that stops dead
// still goes peaking → declining → idle on time.
import { gapCount, newCountDetector, stepCount, trendCore, type CountDetectorOptions, type CountDetectorState, type CountStep } from './detector.ts'
import { newLifecycle, stepLifecycle, type LifecycleOptions, type LifecycleState, type Stage } from './lifecycle.ts'

export interface TrackerParams {
  windowMs: number
  detector: CountDetectorOptions
  lifecycle: LifecycleOptions
}

export interface TrackerState {
  det: CountDetectorState
  life: LifecycleState
  /** End of the last window applied (-Infinity before the first). */
  lastEnd: number
  /** Platform volume of the last window seen (assumed for windows without one). */
  lastTotal: number
  /** Observed count of the previous window (0 after a gap), for growth. */
  prevObserved: number
}

export function newTracker(): TrackerState {
  return { det: newCountDetector(), life: newLifecycle(), lastEnd: -Infinity, lastTotal: 1, prevObserved: 0 }
}

/**
 * Checkpoints written before the trend detector became the detector core hold its former state
 * { n, share, cusum, recent } (n = windows learned, share NaN before the first window): converted
 * in place to the core's state, same numbers. Returns s.
 */
export function upgradeTracker(s: TrackerState): TrackerState {
  const d = s.det as unknown as Record<string, unknown>
  if (d.m !== undefined || d.share === undefined) return s
  const old = d as unknown as { n: number; share: number; cusum: number; recent: number }
  const det = newCountDetector()
  if (!Number.isNaN(old.share)) {
    det.n = Math.max(old.n, 1)
    det.m = old.n
    det.level = old.share
    det.cusum = old.cusum
    det.recent = old.recent
    det.firstTime = s.lastEnd
  }
  s.det = det
  return s
}

/** The outcome of one window: its stage ('idle' = no signal) and the evidence behind it. */
export interface TrackerStep {
  stage: Stage
  step: CountStep
  /** (observed − previous) / max(previous, 1) */
  growth: number
  /** The entity just started an episode in this window. */
  began: boolean
}

export function isActive(s: TrackerState): boolean {
  return s.life.stage !== 0
}

/** Zero windows between the last one applied and `start`, in closed form. */
export function applyGap(s: TrackerState, start: number, p: TrackerParams, warmingUp: boolean): void {
  if (s.lastEnd === -Infinity || start <= s.lastEnd) return
  const k = Math.round((start - s.lastEnd) / p.windowMs)
  if (k <= 0) return
  gapCount(s.det, k, s.lastTotal, !isActive(s), p.detector, warmingUp, s.lastEnd + p.windowMs, p.windowMs)
  s.prevObserved = 0
  s.lastEnd = start
}

/**
 * Applies window [end − windowMs, end) with `observed` (distinct creators) out of `total` platform
 * posts. Call applyGap first (or step zero windows) so windows are contiguous. Mutates s.
 */
export function stepWindow(s: TrackerState, end: number, observed: number, total: number | undefined, p: TrackerParams, warmingUp: boolean): TrackerStep {
  const tot = total === undefined || total <= 0 ? s.lastTotal : total
  const wasActive = isActive(s)
  // the baseline learns only while idle and not already accumulating evidence of a take-off
  const learn = !wasActive && s.det.cusum < p.detector.threshold
  const step = stepCount(s.det, observed, tot, learn, p.detector, warmingUp, end)
  const stage = stepLifecycle(s.life, observed, step.expected, step.alarm, p.lifecycle)
  if (wasActive && !isActive(s)) {
    // A finished episode clears the evidence (a new one needs a full threshold of its own) and
    // re-baselines: whatever level the entity settled at after its trend is its new normal, so the
    // long tail of a fading trend is not announced as a new one every time the evidence refills.
    const core = trendCore(p.detector)
    core.resetEvidence(s.det)
    core.raiseLevel(s.det, s.life.slow, Math.max(tot, 1))
  }
  const growth = (observed - s.prevObserved) / Math.max(s.prevObserved, 1)
  s.prevObserved = observed
  s.lastEnd = end
  s.lastTotal = tot
  return { stage, step, growth, began: !wasActive && stage !== 'idle' }
}
