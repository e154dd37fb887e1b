// Trend lifecycle of one entity, one step per window:
//
//            alarm                 level ≥ rise × entry level             no new high for stallWindows,
//   idle ──────────► emerging ─────────────────────────────► rising ──── or level < (1 − stallDrop) × peak ───► peaking
//                       │  no rise within maxEmerging windows ──────────────────────────────────────────────────► peaking
//                       │  level < fizzle × entry level, confirm windows ─► declining            ◄── level > (1 + reRise) × peak at peaking + reRiseAbs, confirm windows
//                                                                                                  (back to rising)
//   peaking ── level < (1 − declineDrop) × peak, confirm windows ──► declining ── slow level below
//             max(endFraction × peak, near baseline) for endWindows ──► idle
//   declining ── level > (1 + reRise) × peak + reRiseAbs, confirm windows ──► rising (a second wave)
//
// "level" is an EWMA of the observed count over `levelSpan` windows, so one noisy window moves it
// little. Hysteresis comes from three things: every threshold that leaves a stage is on the far
// side of the one that enters it (rising needs +rise over the entry level, leaving peaking back to
// rising needs +reRise over the peak and an absolute margin, so a noisy tail of small counts does
// not re-rise; declining needs −declineDrop under it); transitions other
// than the first need `confirm` consecutive windows; and the detector's CUSUM is cleared when the
// entity goes idle, so a new episode needs a full threshold of fresh evidence. A fading trend
// therefore reads rising → peaking → declining once, instead of flapping around a single threshold.
//
// State is a plain object of numbers (structured-clone serialisable).
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import type { LifecycleStage } from '../../schemas/outputs.ts'

export const lifecycleOptionsSchema = z.strictObject({
  /** EWMA span of the observed count, in windows. */
  levelSpan: z.number().min(1).default(3),
  /** emerging → rising when level ≥ rise × the level at emergence. */
  rise: z.number().gt(1).default(1.3),
  /** emerging → peaking when it has not risen within this many windows. */
  maxEmerging: z.number().int().min(1).default(6),
  /** rising → peaking when there is no new high for this many windows... */
  stallWindows: z.number().int().min(1).default(4),
  /** ...or when the level falls this fraction below the peak. */
  stallDrop: z.number().gt(0).lt(1).default(0.15),
  /** peaking/declining → rising when the level beats the peak by this fraction plus reRiseAbs. */
  reRise: z.number().gt(0).default(0.25),
  reRiseAbs: z.number().min(0).default(1),
  /** peaking → declining when the level is this fraction below the peak. */
  declineDrop: z.number().gt(0).lt(1).default(0.4),
  /** emerging → declining when the level falls below this fraction of the level at emergence. */
  fizzle: z.number().gt(0).lt(1).default(0.4),
  /** Consecutive windows a condition must hold (all transitions but idle → emerging). */
  confirm: z.number().int().min(1).default(2),
  /** EWMA span (windows) of the slow level that decides when an episode is over. */
  endSpan: z.number().min(1).default(10),
  /** declining → idle when the slow level ≤ max(endFraction × peak, endRatio × expected + endAbs)... */
  endFraction: z.number().min(0).lt(1).default(0.2),
  endRatio: z.number().min(1).default(1.5),
  endAbs: z.number().min(0).default(0.5),
  /** ...for this many consecutive windows. */
  endWindows: z.number().int().min(1).default(3),
})
export type LifecycleOptions = z.output<typeof lifecycleOptionsSchema>
export type LifecycleOptionsInput = z.input<typeof lifecycleOptionsSchema>

export function parseLifecycleOptions(o: LifecycleOptionsInput = {}): LifecycleOptions {
  return parseOptions('trend lifecycle', lifecycleOptionsSchema, o)
}

export type Stage = LifecycleStage | 'idle'

const IDLE = 0
const EMERGING = 1
const RISING = 2
const PEAKING = 3
const DECLINING = 4
const NAMES: Stage[] = ['idle', 'emerging', 'rising', 'peaking', 'declining']

export interface LifecycleState {
  /** 0 idle, 1 emerging, 2 rising, 3 peaking, 4 declining */
  stage: number
  /** Windows spent in the current stage (0 on entry). */
  dwell: number
  /** EWMA of the observed count (levelSpan). */
  level: number
  /** Slower EWMA of the observed count (endSpan): what the entity settles at. */
  slow: number
  /** Level when the episode began. */
  entry: number
  /** Highest level of the episode, and windows since it was set. */
  peak: number
  peakAge: number
  /** Peak when the current stage began (reference for re-rising). */
  stagePeak: number
  /** Consecutive windows the pending transition's condition has held. */
  pending: number
  /** Episodes begun so far. */
  episodes: number
}

export function newLifecycle(): LifecycleState {
  return { stage: IDLE, dwell: 0, level: 0, slow: 0, entry: 0, peak: 0, peakAge: 0, stagePeak: 0, pending: 0, episodes: 0 }
}

export function stageName(s: LifecycleState): Stage {
  return NAMES[s.stage]
}

function enter(s: LifecycleState, stage: number): void {
  s.stage = stage
  s.dwell = 0
  s.pending = 0
  s.stagePeak = s.peak
}

/** Holds `cond` for `confirm` consecutive windows? Counts in s.pending. */
function confirmed(s: LifecycleState, cond: boolean, o: LifecycleOptions): boolean {
  s.pending = cond ? s.pending + 1 : 0
  return s.pending >= o.confirm
}

/**
 * One window: observed count, the baseline's expected count, and whether the detector alarmed.
 * Returns the stage after this window ('idle': no signal for this window). Mutates s.
 */
export function stepLifecycle(s: LifecycleState, observed: number, expected: number, alarm: boolean, o: LifecycleOptions): Stage {
  const a = 2 / (o.levelSpan + 1)
  s.slow += (2 / (o.endSpan + 1)) * (observed - s.slow)
  if (s.stage === IDLE) {
    // the level tracks the count while idle too, so an episode starts from a meaningful level
    s.level += a * (observed - s.level)
    if (!alarm) return 'idle'
    s.entry = Math.max(s.slow, expected)
    s.peak = s.level
    s.peakAge = 0
    s.episodes++
    enter(s, EMERGING)
    return 'emerging'
  }
  s.level += a * (observed - s.level)
  s.dwell++
  if (s.level > s.peak) {
    s.peak = s.level
    s.peakAge = 0
  } else s.peakAge++
  const L = s.level
  switch (s.stage) {
    case EMERGING:
      if (L >= o.rise * s.entry) { enter(s, RISING); break }
      if (confirmed(s, L < o.fizzle * s.entry, o)) { enter(s, DECLINING); break }
      if (s.dwell >= o.maxEmerging) enter(s, PEAKING)
      break
    case RISING:
      if (s.peakAge >= o.stallWindows || confirmed(s, L < (1 - o.stallDrop) * s.peak, o)) enter(s, PEAKING)
      break
    case PEAKING:
      if (L > (1 + o.reRise) * s.stagePeak + o.reRiseAbs) { if (confirmed(s, true, o)) enter(s, RISING); break }
      if (confirmed(s, L < (1 - o.declineDrop) * s.peak, o)) enter(s, DECLINING)
      break
    case DECLINING: {
      if (L > (1 + o.reRise) * s.stagePeak + o.reRiseAbs) { if (confirmed(s, true, o)) enter(s, RISING); break }
      const floor = Math.max(o.endFraction * s.peak, o.endRatio * expected + o.endAbs)
      if (confirmed(s, s.slow <= floor, o) && s.pending >= o.endWindows) {
        const stage = 'declining' as const
        enter(s, IDLE)
        s.peak = 0
        return stage // the last signal of the episode
      }
      break
    }
  }
  return NAMES[s.stage]
}
