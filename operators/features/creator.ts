// Per-creator stage of feature enrichment: the creator's baseline (rolling median of the velocity of
// their earlier posts at the same age) and each window's ratio to it.
//
// Keyed by creatorId. State per creator: for each baseline age, the last `baselinePosts` samples
// (post id, velocity) in arrival order: bounded, O(ages × baselinePosts). A post's own samples never
// count towards its own baseline.
//
// The usual velocity is floored at one engagement per window (1 / window minutes): a creator whose
// posts are usually silent at that age has a median of 0, and a ratio against 0 says nothing useful.
import type { VideoFeatures } from '../../schemas/outputs.ts'
import type { KeyedProcessFunction } from '../../streams/operators.ts'
import type { FeaturesOptions } from './options.ts'
import type { PostStageOutput } from './post.ts'

export interface CreatorBaselineState {
  /** per baseline age: post ids of the samples, oldest first */
  ids: string[][]
  /** per baseline age: the samples' velocities, parallel to ids */
  vals: number[][]
}

/** Median of xs (sorts a copy). */
export function median(xs: readonly number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export function creatorBaseline(o: FeaturesOptions): KeyedProcessFunction<string, PostStageOutput, CreatorBaselineState, VideoFeatures> {
  const floor = 1 / (o.windowSizeMs / 60_000)
  const n = o.baselineAgesMin.length
  const scratch: number[] = []
  return {
    processElement(state, rec, time, ctx) {
      const st = state ?? { ids: Array.from({ length: n }, () => []), vals: Array.from({ length: n }, () => []) }
      if (rec.kind === 'sample') {
        const ids = st.ids[rec.bucket]
        const vals = st.vals[rec.bucket]
        ids.push(rec.postId)
        vals.push(rec.velocity)
        if (ids.length > o.baselinePosts) { ids.shift(); vals.shift() }
        return st
      }
      const f = rec.features
      const ids = st.ids[rec.bucket]
      const vals = st.vals[rec.bucket]
      scratch.length = 0
      for (let i = 0; i < ids.length; i++) if (ids[i] !== f.postId) scratch.push(vals[i])
      if (scratch.length >= o.minBaselinePosts) f.ratioToCreatorBaseline = f.velocity / Math.max(median(scratch), floor)
      ctx.emit(f, time)
      return st
    },
  }
}
