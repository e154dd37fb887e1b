// Options of feature enrichment (operators/features, topologies/features.ts), validated once at
// construction: a bad key fails at start with a message naming it (streams/config.ts).
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

export const featuresOptionsSchema = z.strictObject({
  /** Length of the sliding window the rates are measured over. */
  windowSizeMs: z.number().int().positive().default(10 * MINUTE),
  /** How often a post's window slides: one VideoFeatures record per post per slide while it is engaged with. */
  windowSlideMs: z.number().int().positive().default(MINUTE),
  /** A window keeps accepting late engagements (and re-emits with revision + 1) this long after it fired. */
  allowedLatenessMs: z.number().int().min(0).default(MINUTE),
  /** Bound on out-of-orderness of the source, for its watermarks (topology only). */
  outOfOrdernessMs: z.number().int().min(0).default(5_000),
  idleTimeoutMs: z.number().int().min(0).default(0),
  /** How long an engagement (or a window result) waits for its post to arrive before going on without it. */
  joinWaitMs: z.number().int().min(0).default(2 * MINUTE),
  /** A post's static context and per-post state are dropped after this long without activity (event time). */
  postTtlMs: z.number().int().positive().default(26 * HOUR),
  maxPosts: z.number().int().positive().default(2_000_000),
  /** A creator's baseline and profile are dropped after this long without activity. */
  creatorTtlMs: z.number().int().positive().default(14 * 24 * HOUR),
  maxCreators: z.number().int().positive().default(1_000_000),
  /**
   * Post ages (minutes) at which a post's velocity is recorded into its creator's baseline. A window
   * is compared with the baseline of the largest age not after its own (the first one before that).
   */
  baselineAgesMin: z.array(z.number().positive()).min(1).max(30).default([5, 15, 30, 60, 120, 240, 480, 1440]),
  /** The baseline is the median over the creator's last this many posts (per age). */
  baselinePosts: z.number().int().min(1).max(1000).default(15),
  /** ratioToCreatorBaseline stays null until the creator has this many earlier posts at that age. */
  minBaselinePosts: z.number().int().min(1).default(3),
}).superRefine((o, ctx) => {
  if (o.windowSizeMs % o.windowSlideMs !== 0) {
    ctx.addIssue({ code: 'custom', path: ['windowSizeMs'], message: `must be a multiple of windowSlideMs (${o.windowSlideMs})` })
  }
  for (let i = 1; i < o.baselineAgesMin.length; i++) {
    if (!(o.baselineAgesMin[i] > o.baselineAgesMin[i - 1])) ctx.addIssue({ code: 'custom', path: ['baselineAgesMin', i], message: 'ages must be strictly increasing' })
  }
  if (o.minBaselinePosts > o.baselinePosts) ctx.addIssue({ code: 'custom', path: ['minBaselinePosts'], message: `must not exceed baselinePosts (${o.baselinePosts})` })
})

export type FeaturesOptionsInput = z.input<typeof featuresOptionsSchema>
export type FeaturesOptions = z.output<typeof featuresOptionsSchema>

export function parseFeaturesOptions(input: unknown): FeaturesOptions {
  return parseOptions('feature enrichment', featuresOptionsSchema, input)
}
