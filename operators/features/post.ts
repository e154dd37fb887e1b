// Per-post stage of feature enrichment: turns one post's window results (already joined with the
// post's static context) into VideoFeatures, and records the post's velocity at fixed ages for its
// creator's baseline (creator.ts).
//
// Keyed by postId (a KeyedProcessFunction, streams/operators.ts). Per post it keeps:
//  - the recent panes of the window (flat [start, views, total]) and a running total of older ones,
//    which gives counts since posting and the velocity of the previous window (acceleration);
//  - which baseline ages it has reported.
// State is O(size/slide + lateness/slide) numbers per post and expires with the post (postTtlMs).
//
// Window results of one post arrive in window-end order, except corrections (revision > 0) of windows
// that already fired, which arrive later but still within the allowed lateness. A correction carries
// the full pane breakdown of its window, so storing pane values by start (last write wins) keeps the
// pane list right either way.
import type { Platform } from '../../schemas/events.ts'
import type { VideoFeatures } from '../../schemas/outputs.ts'
import type { KeyedContext, KeyedProcessFunction } from '../../streams/operators.ts'
import type { EventTime } from '../../streams/types.ts'
import type { EngagementCounts } from './aggregate.ts'
import type { FeaturesOptions } from './options.ts'

const MINUTE = 60_000

/** A window result of one post joined with the post's static context. */
export interface PostWindow {
  postId: string
  platform: Platform
  creatorId: string
  postedAt: number
  creatorFollowers: number
  hashtags: string[]
  soundId: string | null
  language: string
  captionLength: number
  windowStart: number
  windowEnd: number
  revision: number
  counts: EngagementCounts
}

/** VideoFeatures without the creator baseline yet (creator.ts fills ratioToCreatorBaseline in). */
export interface FeatureDraft {
  kind: 'features'
  creatorId: string
  /** index into baselineAgesMin of the baseline this window is compared with */
  bucket: number
  features: VideoFeatures
}

/** A post's velocity at one of the baseline ages, for its creator's rolling median. */
export interface BaselineSample {
  kind: 'sample'
  creatorId: string
  postId: string
  bucket: number
  velocity: number
}

export type PostStageOutput = FeatureDraft | BaselineSample

export interface PostFeatureState {
  postedAt: number
  creatorId: string
  /** start of the earliest pane with engagement: windows ending at or before firstPane + slide are the post's first */
  firstPane: number
  /** flat [paneStart, views, total], ascending */
  panes: number[]
  /** views and engagements of panes already folded out of `panes` */
  baseViews: number
  baseTotal: number
  /** latest window end seen */
  maxEnd: number
  /** bit i: the sample for baselineAgesMin[i] has been reported */
  sampled: number
}

/** End of the first window (ends are multiples of slide) that ends at or after postedAt + age. */
export function sampleWindowEnd(postedAt: number, ageMs: number, slideMs: number): number {
  return Math.ceil((postedAt + ageMs) / slideMs) * slideMs
}

/** Index of the largest baseline age not after `ageMs` (0 when the window is younger than all). */
export function baselineBucket(agesMs: readonly number[], ageMs: number): number {
  let b = 0
  for (let i = 1; i < agesMs.length; i++) if (agesMs[i] <= ageMs) b = i
  return b
}

/** Store the pane values of a window result (last write wins), keeping the list sorted. */
function storePanes(st: PostFeatureState, panes: readonly number[]): void {
  const p = st.panes
  for (let i = 0; i < panes.length; i += 3) {
    const start = panes[i]
    if (start < st.firstPane) st.firstPane = start
    let k = p.length - 3
    while (k >= 0 && p[k] > start) k -= 3
    if (k >= 0 && p[k] === start) { p[k + 1] = panes[i + 1]; p[k + 2] = panes[i + 2] }
    else p.splice(k + 3, 0, start, panes[i + 1], panes[i + 2])
  }
}

/** Engagements (index 2) or views (index 1) of the stored panes in [from, to). */
function paneSum(st: PostFeatureState, from: number, to: number, field: 1 | 2): number {
  let s = 0
  const p = st.panes
  for (let k = 0; k < p.length; k += 3) if (p[k] >= from && p[k] < to) s += p[k + field]
  return s
}

export function postFeatures(o: FeaturesOptions): KeyedProcessFunction<string, PostWindow, PostFeatureState, PostStageOutput> {
  const size = o.windowSizeMs
  const slide = o.windowSlideMs
  const sizeMin = size / MINUTE
  const slideMin = slide / MINUTE
  const agesMs = o.baselineAgesMin.map((a) => a * MINUTE)
  // Panes older than this behind the latest window end are in no window that can still change.
  const keepMs = size + slide + o.allowedLatenessMs

  function sample(st: PostFeatureState, postId: string, i: number, velocity: number, time: EventTime, ctx: KeyedContext<string, PostStageOutput>): void {
    st.sampled |= 1 << i
    ctx.emit({ kind: 'sample', creatorId: st.creatorId, postId, bucket: i, velocity }, time)
  }

  return {
    processElement(state, w, time, ctx) {
      const end = w.windowEnd
      let st = state
      if (!st) {
        st = { postedAt: w.postedAt, creatorId: w.creatorId, firstPane: Infinity, panes: [], baseViews: 0, baseTotal: 0, maxEnd: -Infinity, sampled: 0 }
        // one timer per later baseline age: if no window of the post ends there, its velocity was 0
        for (let i = 0; i < agesMs.length; i++) {
          const e = sampleWindowEnd(st.postedAt, agesMs[i], slide)
          if (e > end) ctx.registerTimer(e - 1)
        }
      }
      const c = w.counts
      storePanes(st, c.panes)
      const velocity = c.total / sizeMin
      const prev = paneSum(st, end - slide - size, end - slide, 2) / sizeMin
      const acceleration = end <= st.firstPane + slide ? 0 : (velocity - prev) / slideMin
      const nonView = c.likes + c.comments + c.shares + c.saves
      const ageMs = end - st.postedAt
      const features: VideoFeatures = {
        postId: w.postId,
        platform: w.platform,
        windowStart: w.windowStart,
        windowEnd: end,
        revision: w.revision,
        viewsPerMin: c.views / sizeMin,
        likesPerMin: c.likes / sizeMin,
        sharesPerMin: c.shares / sizeMin,
        commentsPerMin: c.comments / sizeMin,
        savesPerMin: c.saves / sizeMin,
        velocity,
        acceleration,
        engagementRate: c.views > 0 ? nonView / c.views : 0,
        shareRate: c.views > 0 ? c.shares / c.views : 0,
        avgWatchTimeSec: c.watched > 0 ? c.watchSum / c.watched : null,
        completionRate: c.watched > 0 ? c.completed / c.watched : null,
        ratioToCreatorBaseline: null,
        minutesSincePosting: ageMs / MINUTE,
        creatorFollowers: w.creatorFollowers,
        hashtags: w.hashtags,
        soundId: w.soundId,
        language: w.language,
        captionLength: w.captionLength,
        viewsSincePosting: st.baseViews + paneSum(st, -Infinity, end, 1),
        engagementsSincePosting: st.baseTotal + paneSum(st, -Infinity, end, 2),
      }
      ctx.emit({ kind: 'features', creatorId: st.creatorId, bucket: baselineBucket(agesMs, ageMs), features }, time)
      if (w.revision === 0) {
        for (let i = 0; i < agesMs.length; i++) {
          if (st.sampled & (1 << i)) continue
          const e = sampleWindowEnd(st.postedAt, agesMs[i], slide)
          if (e < end) sample(st, w.postId, i, 0, time, ctx)
          else if (e === end) sample(st, w.postId, i, velocity, time, ctx)
        }
      }
      if (end > st.maxEnd) st.maxEnd = end
      // fold panes no window can change any more into the running totals
      const p = st.panes
      let n = 0
      while (n < p.length && p[n] < st.maxEnd - keepMs) { st.baseViews += p[n + 1]; st.baseTotal += p[n + 2]; n += 3 }
      if (n > 0) p.splice(0, n)
      return st
    },

    onTimer(state, time, ctx) {
      if (!state) return undefined
      for (let i = 0; i < agesMs.length; i++) {
        if (state.sampled & (1 << i)) continue
        if (sampleWindowEnd(state.postedAt, agesMs[i], slide) - 1 <= time) sample(state, ctx.key, i, 0, time, ctx)
      }
      return state
    },
  }
}
