// Topology: feature enrichment — one VideoFeatures record per post per sliding window. Wiring only;
// the logic lives in operators/features/.
//
//   firehose ─┬─ posts ─ table posts-by-id ──────────────┐
//             ├─ creator updates ─ table creators-by-id ─│──────────────────────────────────┐
//             └─ engagements ─ join post (static context, completion) ─ by post ─ hopping window ─ join creator
//                 ─ by post: rates, velocity, acceleration, counts since posting, baseline samples
//                 ─ by creator: rolling-median baseline, ratio ─ VideoFeatures
// The post's static context rides through the window in the accumulator (operators/features/aggregate.ts
// says why), so the post table is read when an engagement arrives, not when its window fires.
//   engagements beyond the window's allowed lateness → late
import type { CreatorUpdated, Engagement, FirehoseEvent, PostPublished } from '../schemas/events.ts'
import type { VideoFeatures } from '../schemas/outputs.ts'
import {
  creatorBaseline, engagementAggregate, engagementFact, parseFeaturesOptions, postFeatures, postWindow, withCreator,
  type FeaturesOptions, type FeaturesOptionsInput, type PostWindow,
} from '../operators/features/index.ts'
import { Topology, type Stream, type Table } from '../streams/topology.ts'
import type { Sink, Source } from '../streams/types.ts'
import { hopping, LATE, type LateRecord } from '../streams/windows.ts'

export interface FeaturesSinks {
  features: Sink<VideoFeatures>
  late: Sink<LateRecord<unknown>>
}

const isPost = (e: FirehoseEvent): e is PostPublished => e.kind === 'post'
const isEngagement = (e: FirehoseEvent): e is Engagement => e.kind === 'engagement'
const isCreator = (e: FirehoseEvent): e is CreatorUpdated => e.kind === 'creator'
const isKnown = (w: PostWindow | null): w is PostWindow => w !== null

export interface FeatureStreams {
  features: Stream<VideoFeatures>
  late: Stream<LateRecord<unknown>>
  postsById: Table<string, PostPublished>
}

/** Adds the feature-enrichment graph to a topology, reading the firehose stream `events`. */
export function videoFeatures(events: Stream<FirehoseEvent>, o: FeaturesOptions): FeatureStreams {
  const postState = { ttlMs: o.postTtlMs, maxKeys: o.maxPosts }
  const creatorState = { ttlMs: o.creatorTtlMs, maxKeys: o.maxCreators }
  const postsById = events.filter('posts', isPost).asTable('posts-by-id', (p) => p.postId, { ...postState, bytesPerValue: 400 })
  const creatorsById = events.filter('creator-updates', isCreator).asTable('creators-by-id', (c) => c.creatorId, creatorState)
  const windows = events
    .filter('engagements', isEngagement)
    .join('engagement-post', postsById, (e) => e.postId, engagementFact, { waitMs: o.joinWaitMs })
    .keyBy((f) => f.postId)
    .window(hopping(o.windowSizeMs, o.windowSlideMs))
    .aggregate('post-engagement-window', engagementAggregate(o.windowSlideMs), { allowedLatenessMs: o.allowedLatenessMs })
  const features = windows
    .map('window-post', postWindow)
    .filter('known-posts', isKnown)
    // a creator without a profile update keeps the post's follower count (reported on the join's unmatched side)
    .join('window-creator', creatorsById, (w) => w.creatorId, withCreator)
    .keyBy((w) => w.postId)
    .process('post-features', postFeatures(o), { ...postState, bytesPerValue: 300 })
    .keyBy((r) => r.creatorId)
    .process('creator-baseline', creatorBaseline(o), { ...creatorState, bytesPerValue: 1500 })
  return { features, late: windows.side<LateRecord<unknown>>(LATE), postsById }
}

export function featuresTopology(source: Source<FirehoseEvent>, sinks: FeaturesSinks, options: FeaturesOptionsInput = {}): Topology {
  const o = parseFeaturesOptions(options)
  const t = new Topology('video-features')
  const events = t.from(source, { outOfOrdernessMs: o.outOfOrdernessMs, idleTimeoutMs: o.idleTimeoutMs })
  const { features, late } = videoFeatures(events, o)
  features.to(sinks.features)
  late.to(sinks.late)
  return t
}
