// Topology: hashtag activity — the first product pipeline, and the one the crash test and the
// benchmarks run. Wiring only; the logic lives in streams/ and operators/.
//
//   firehose ─┬─ posts ─┬─ table posts-by-id ─────────────┐
//             │         └─ hashtags ─ tumbling 1 min count ─ hashtagUses
//             └─ engagements ─ join post ─ hashtags ─ hopping 10 min / 1 min count ─ hashtagEngagement
//   records beyond the allowed lateness of either window → late
import type { Engagement, FirehoseEvent, PostPublished } from '../schemas/events.ts'
import type { Sink, Source } from '../streams/types.ts'
import { Topology } from '../streams/topology.ts'
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

  const uses = posts
    .flatMap<TagUse>('post-hashtags', (p, time, out) => { for (const h of p.hashtags) out.emit({ tag: h.toLowerCase() }, time) })
    .keyBy((u) => u.tag)
    .window(tumbling(MINUTE))
    .aggregate('hashtag-uses-1m', count(), { allowedLatenessMs: lateness })
  uses.map('hashtag-uses-rows', toRow).to(sinks.hashtagUses)
  uses.side<LateRecord<unknown>>(LATE).to(sinks.late)

  const engagement = events
    .filter('engagements', isEngagement)
    .join('engagement-post', postsById, (e) => e.postId, (e, post) => ({ e, tags: post?.hashtags ?? [] }), { waitMs: o.joinWaitMs ?? 2 * MINUTE })
    .flatMap<TagUse>('engagement-hashtags', (j, time, out) => { for (const h of j.tags) out.emit({ tag: h.toLowerCase() }, time) })
    .keyBy((u) => u.tag)
    .window(hopping(10 * MINUTE, MINUTE))
    .aggregate('hashtag-engagement-10m', count(), { allowedLatenessMs: lateness })
  engagement.map('hashtag-engagement-rows', toRow).to(sinks.hashtagEngagement)
  engagement.side<LateRecord<unknown>>(LATE).to(sinks.late)
  return t
}
