// Hashtag uses of posts and of their engagements, as one keyed process over the firehose (keyed by
// post id): the first stage of the split hashtag-activity topology (topologies/hashtag-activity.ts),
// whose output is shuffled by hashtag through a repartition topic.
//
// It computes what the unsplit topology's posts table + engagement join + flatMaps compute, but its
// output is a deterministic function of the order of its input records alone — not of batch
// boundaries or watermark steps — which the repartition sink's sequence numbers need (a replay after a
// crash must emit the same records in the same order). So:
//   post         emit one use per hashtag at the post's time, then one engagement use per hashtag
//                for every engagement that was waiting for this post (at the engagement's time);
//                remember the post's hashtags
//   engagement   post known: one engagement use per hashtag, right away; otherwise wait for the post
//                up to waitMs of event time (a timer drops it then: an engagement without its post
//                has no hashtags, as in the unsplit join, where it would be emitted with none)
// Timers only ever drop waiting engagements, never emit, so watermark timing cannot reorder output.
import type { Engagement, PostPublished } from '../schemas/events.ts'
import type { KeyedProcessFunction } from '../streams/operators.ts'
import type { EventTime } from '../streams/types.ts'

export interface HashtagUse {
  /** Lower-cased hashtag. */
  tag: string
  /** A post using the hashtag, or an engagement with such a post. */
  kind: 'post' | 'engagement'
}

export interface PostTagsState {
  /** The post's hashtags, lower-cased, once the post has been seen. */
  tags?: string[]
  /** Event times of engagements waiting for the post. */
  waiting?: EventTime[]
}

export function hashtagUsesByPost(waitMs: number): KeyedProcessFunction<string, PostPublished | Engagement, PostTagsState, HashtagUse> {
  return {
    processElement(s, v, time, ctx) {
      if (v.kind === 'post') {
        const tags = v.hashtags.map((h) => h.toLowerCase())
        for (const tag of tags) ctx.emit({ tag, kind: 'post' }, time)
        if (s?.waiting) for (const t of s.waiting) for (const tag of tags) ctx.emit({ tag, kind: 'engagement' }, t)
        return { tags }
      }
      if (s?.tags) {
        for (const tag of s.tags) ctx.emit({ tag, kind: 'engagement' }, time)
        return s
      }
      if (waitMs <= 0) return s
      ctx.registerTimer(time + waitMs)
      return { waiting: [...(s?.waiting ?? []), time] }
    },
    onTimer(s, t) {
      if (!s?.waiting) return s
      const keep = s.waiting.filter((w) => w + waitMs > t)
      if (keep.length > 0) return { ...s, waiting: keep }
      return s.tags ? { tags: s.tags } : undefined
    },
  }
}
