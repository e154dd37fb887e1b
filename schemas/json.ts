// zod schemas for firehose events in JSON (topics with format 'json'). They mirror the Avro schemas in
// schemas/avro/ and the types in schemas/events.ts: same fields, same types, and a nullable field may be
// left out (it defaults to null, like an Avro field with default null). Unlike Avro, JSON carries `kind`.
// Unknown keys are dropped, not rejected, so a producer on a newer version (with more optional fields)
// does not break older readers -- the same rule the Avro evolution check enforces.
import { z } from 'zod'
import { ENGAGEMENT_TYPES, PLATFORMS, type CreatorUpdated, type Engagement, type EngagementType, type Platform, type FirehoseEvent, type PostPublished } from './events.ts'

const platform = z.enum(PLATFORMS as readonly Platform[] as [Platform, ...Platform[]])
/** Avro long decodes to a JS number only within the safe-integer range; JSON gets the same bound. */
const long = z.int()
const timestampMillis = z.int()
const nullableString = z.string().nullable().default(null)

export const PostPublishedJson = z.object({
  kind: z.literal('post'),
  postId: z.string(),
  platform,
  creatorId: z.string(),
  creatorFollowers: long,
  postedAt: timestampMillis,
  caption: z.string(),
  hashtags: z.array(z.string()),
  soundId: nullableString,
  durationSec: z.number(),
  language: z.string(),
  embedding: z.array(z.number()).nullable().default(null),
})

export const EngagementJson = z.object({
  kind: z.literal('engagement'),
  postId: z.string(),
  platform,
  type: z.enum(ENGAGEMENT_TYPES as readonly EngagementType[] as [EngagementType, ...EngagementType[]]),
  at: timestampMillis,
  watchTimeSec: z.number().nullable().default(null),
  // Wire order (Engagement.avsc): decoded objects of one kind share one shape whichever the format.
  userId: z.string(),
  commentText: nullableString,
})

export const CreatorUpdatedJson = z.object({
  kind: z.literal('creator'),
  creatorId: z.string(),
  platform,
  followers: long,
  at: timestampMillis,
  displayName: nullableString,
})

export const FirehoseEventJson = z.discriminatedUnion('kind', [PostPublishedJson, EngagementJson, CreatorUpdatedJson])

// Compile-time check that the zod schemas and the TypeScript types agree both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const _post: Same<z.output<typeof PostPublishedJson>, PostPublished> = true
const _engagement: Same<z.output<typeof EngagementJson>, Engagement> = true
const _creator: Same<z.output<typeof CreatorUpdatedJson>, CreatorUpdated> = true
const _any: Same<z.output<typeof FirehoseEventJson>, FirehoseEvent> = true
void _post, void _engagement, void _creator, void _any
