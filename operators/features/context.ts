// The joins of feature enrichment, as plain functions the topology passes to Stream.join: what an
// engagement keeps of its post before the window, and the static context a window result takes from
// the post and creator tables after it.
import type { CreatorUpdated, Engagement, PostPublished } from '../../schemas/events.ts'
import type { WindowResult } from '../../streams/windows.ts'
import type { EngagementCounts, EngagementFact } from './aggregate.ts'
import type { PostWindow } from './post.ts'

/**
 * An engagement with what the window needs from its post: whether a view was watched to the end
 * (watch time >= the video's duration). Without the post (it never arrived) no view counts as complete.
 */
export function engagementFact(e: Engagement, post: PostPublished | undefined): EngagementFact {
  const w = e.type === 'view' ? e.watchTimeSec : null
  return { postId: e.postId, type: e.type, watchTimeSec: w, completed: w !== null && post !== undefined && w >= post.durationSec, post: post ?? null }
}

/**
 * A post's window result with the post's static context (carried through the window from the join
 * before it); null when the post is unknown (dropped).
 */
export function postWindow(r: WindowResult<string, EngagementCounts>): PostWindow | null {
  const post = r.value.post
  if (!post) return null
  return {
    postId: post.postId, platform: post.platform, creatorId: post.creatorId, postedAt: post.postedAt,
    creatorFollowers: post.creatorFollowers, hashtags: post.hashtags, soundId: post.soundId, language: post.language,
    captionLength: post.caption.length, windowStart: r.start, windowEnd: r.end, revision: r.revision, counts: r.value,
  }
}

/**
 * The creator's follower count as of the window: a profile update newer than the post and before the
 * window's end replaces the count the post carried. The table keeps only the latest update, so one
 * made after the window's end leaves the post's count (never a count from the future).
 */
export function withCreator(w: PostWindow, c: CreatorUpdated | undefined): PostWindow {
  if (c && c.at > w.postedAt && c.at < w.windowEnd) w.creatorFollowers = c.followers
  return w
}
