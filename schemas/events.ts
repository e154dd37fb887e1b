// The firehose's event types, as TypeScript sees them after decoding.
// The Avro schemas in schemas/avro/ are the wire contract; these types mirror them field by field.
// Times are epoch milliseconds (event time), converted once at the source.

export type Platform = 'tiktok' | 'reels' | 'shorts'
export const PLATFORMS: readonly Platform[] = ['tiktok', 'reels', 'shorts']

export type EngagementType = 'view' | 'like' | 'share' | 'comment' | 'save' | 'follow'
export const ENGAGEMENT_TYPES: readonly EngagementType[] = ['view', 'like', 'share', 'comment', 'save', 'follow']

/** A post was published. */
export interface PostPublished {
  kind: 'post'
  postId: string
  platform: Platform
  creatorId: string
  creatorFollowers: number
  /** event time: when the post went live (epoch ms) */
  postedAt: number
  caption: string
  hashtags: string[]
  soundId: string | null
  durationSec: number
  language: string
  /** optional upstream embedding (e.g. from the platform's own model) */
  embedding: number[] | null
}

/** Someone engaged with a post. */
export interface Engagement {
  kind: 'engagement'
  postId: string
  platform: Platform
  type: EngagementType
  /** event time (epoch ms) */
  at: number
  /** seconds watched, for views; null otherwise */
  watchTimeSec: number | null
  /** comment text, for comments; null otherwise */
  commentText: string | null
  /** anonymised user id */
  userId: string
}

/** A creator's profile changed (follower count, bio, …). */
export interface CreatorUpdated {
  kind: 'creator'
  creatorId: string
  platform: Platform
  followers: number
  /** event time (epoch ms) */
  at: number
  displayName: string | null
}

export type FirehoseEvent = PostPublished | Engagement | CreatorUpdated

/** Event time of any firehose event. */
export function eventTime(e: FirehoseEvent): number {
  switch (e.kind) {
    case 'post': return e.postedAt
    case 'engagement': return e.at
    case 'creator': return e.at
  }
}

/** The key the firehose is partitioned by: the post for posts and engagements, the creator for profile updates. */
export function partitionKey(e: FirehoseEvent): string {
  return e.kind === 'creator' ? e.creatorId : e.postId
}
