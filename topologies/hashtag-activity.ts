// Topology: hashtag activity — the first product pipeline, and the one the crash test and the
// benchmarks run. Wiring only; the logic lives in streams/ and operators/.
//
//   firehose ─┬─ posts ─┬─ table posts-by-id ─────────────┐
//             │         └─ hashtags ─ tumbling 1 min count ─ hashtagUses
//             └─ engagements ─ join post ─ hashtags ─ hopping 10 min / 1 min count ─ hashtagEngagement
//   records beyond the allowed lateness of either window → late
//
// Split in two for scale-out (hashtagActivityStage1/Stage2): the firehose is partitioned by post id,
// the counts are keyed by hashtag, so several processes need a shuffle by hashtag in between —
//   stage 1 (per firehose partition): firehose ─ posts + engagements ─ hashtag uses by post ─ repartition sink (by hashtag)
//   stage 2 (per repartition partition): repartition source ─┬─ post uses ─ tumbling 1 min count ─ hashtagUses
//                                                            └─ engagement uses ─ hopping 10 min / 1 min count ─ hashtagEngagement
// See docs/kafka.md "Repartition topics" and tests/streams/repartition.test.ts.
import type { Engagement, FirehoseEvent, PostPublished } from '../schemas/events.ts'
import type { Sink, Source } from '../streams/types.ts'
import { Topology, type Stream } from '../streams/topology.ts'
import { hashtagUsesByPost, type HashtagUse } from '../operators/hashtag-uses.ts'
import { count, hopping, LATE, tumbling, type LateRecord, type WindowResult } from '../streams/windows.ts'

const MINUTE = 60_000

/** One row per (hashtag, window) and revision: what analysts and the live feed see. */
export interface HashtagWindowCount {
  hashtag: string
  windowStart: number
  windowEnd: number
  count: number
  /** 0 for the first result of a window, then +1 per correction from late data within lateness. */
  revision: number
}

export interface HashtagActivitySinks {
  hashtagUses: Sink<HashtagWindowCount>
  hashtagEngagement: Sink<HashtagWindowCount>
  late: Sink<LateRecord<unknown>>
}

export interface HashtagActivityOptions {
  outOfOrdernessMs?: number
  idleTimeoutMs?: number
  allowedLatenessMs?: number
  /** How long an engagement waits for its post to arrive. */
  joinWaitMs?: number
}

interface TagUse { tag: string }

const isPost = (e: FirehoseEvent): e is PostPublished => e.kind === 'post'
const isEngagement = (e: FirehoseEvent): e is Engagement => e.kind === 'engagement'
const toRow = (r: WindowResult<string, number>): HashtagWindowCount =>
  ({ hashtag: r.key, windowStart: r.start, windowEnd: r.end, count: r.value, revision: r.revision })

export function hashtagActivity(source: Source<FirehoseEvent>, sinks: HashtagActivitySinks, o: HashtagActivityOptions = {}): Topology {
  const lateness = o.allowedLatenessMs ?? MINUTE
  const t = new Topology('hashtag-activity')
  const events = t.from(source, { outOfOrdernessMs: o.outOfOrdernessMs ?? 5_000, idleTimeoutMs: o.idleTimeoutMs ?? 0 })

  const posts = events.filter('posts', isPost)
  const postsById = posts.asTable('posts-by-id', (p) => p.postId, { ttlMs: 48 * 60 * MINUTE, maxKeys: 2_000_000 })

  countUses(posts.flatMap<TagUse>('post-hashtags', (p, time, out) => { for (const h of p.hashtags) out.emit({ tag: h.toLowerCase() }, time) }), sinks, lateness)

  const engagement = events
    .filter('engagements', isEngagement)
    .join('engagement-post', postsById, (e) => e.postId, (e, post) => ({ e, tags: post?.hashtags ?? [] }), { waitMs: o.joinWaitMs ?? 2 * MINUTE })
    .flatMap<TagUse>('engagement-hashtags', (j, time, out) => { for (const h of j.tags) out.emit({ tag: h.toLowerCase() }, time) })
  countEngagement(engagement, sinks, lateness)
  return t
}

/** Uses per hashtag and minute (node names are the unsplit topology's: its checkpoints stay valid). */
function countUses<U extends TagUse>(tags: Stream<U>, sinks: HashtagActivitySinks, lateness: number): void {
  const uses = tags
    .keyBy((u) => u.tag)
    .window(tumbling(MINUTE))
    .aggregate('hashtag-uses-1m', count(), { allowedLatenessMs: lateness })
  uses.map('hashtag-uses-rows', toRow).to(sinks.hashtagUses)
  uses.side<LateRecord<unknown>>(LATE).to(sinks.late)
}

/** Engagements per hashtag over 10 minutes, every minute. */
function countEngagement<U extends TagUse>(tags: Stream<U>, sinks: HashtagActivitySinks, lateness: number): void {
  const engagement = tags
    .keyBy((u) => u.tag)
    .window(hopping(10 * MINUTE, MINUTE))
    .aggregate('hashtag-engagement-10m', count(), { allowedLatenessMs: lateness })
  engagement.map('hashtag-engagement-rows', toRow).to(sinks.hashtagEngagement)
  engagement.side<LateRecord<unknown>>(LATE).to(sinks.late)
}

export type { HashtagUse }

/** What the repartition topic between the stages is keyed (and partitioned) by. */
export const hashtagUseKey = (u: HashtagUse): string => u.tag

const isPostOrEngagement = (e: FirehoseEvent): e is PostPublished | Engagement => e.kind === 'post' || e.kind === 'engagement'

/**
 * Stage 1 of the split topology, one task per firehose partition (PartitionedRunner): each post's
 * hashtag uses and its engagements' (operators/hashtag-uses.ts), written to `toRepartition` — a
 * KafkaRepartitionSink keyed by hashtagUseKey whose writerId is the task's partition.
 */
export function hashtagActivityStage1(source: Source<FirehoseEvent>, toRepartition: Sink<HashtagUse>, o: HashtagActivityOptions = {}): Topology {
  const t = new Topology('hashtag-activity-stage1')
  t.from(source, { outOfOrdernessMs: o.outOfOrdernessMs ?? 5_000, idleTimeoutMs: o.idleTimeoutMs ?? 0 })
    .filter('posts-and-engagements', isPostOrEngagement)
    .keyBy((e) => e.postId)
    .process('hashtag-uses-by-post', hashtagUsesByPost(o.joinWaitMs ?? 2 * MINUTE), { ttlMs: 48 * 60 * MINUTE, maxKeys: 2_000_000 })
    .to(toRepartition)
  return t
}

/**
 * Stage 2, one task per partition of the repartition topic: the same windowed counts and sinks as
 * the unsplit topology, over `source` — a RepartitionSource (streams/repartition.ts), which drops
 * replayed duplicates and supplies the watermark (the minimum of the stage-1 tasks' markers).
 */
export function hashtagActivityStage2(source: Source<HashtagUse>, sinks: HashtagActivitySinks, o: HashtagActivityOptions = {}): Topology {
  const lateness = o.allowedLatenessMs ?? MINUTE
  const t = new Topology('hashtag-activity-stage2')
  const uses = t.from(source, { outOfOrdernessMs: o.outOfOrdernessMs ?? 5_000, idleTimeoutMs: o.idleTimeoutMs ?? 0 })
  countUses(uses.filter('post-uses', (u) => u.kind === 'post'), sinks, lateness)
  countEngagement(uses.filter('engagement-uses', (u) => u.kind === 'engagement'), sinks, lateness)
  return t
}
