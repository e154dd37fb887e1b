// zod schemas of the HTTP API's inputs (path parameters, query strings, bodies) and resources.
// Query strings arrive as strings: numbers are coerced, lists are comma-separated ("tiktok,reels").
// Query and body objects are strict: an unknown key is a 400 naming the key, so a typo ("min_score")
// is not silently ignored. OpenAPI is generated from these (server/api/openapi.ts).
import { z } from 'zod'
import { AlertRuleSchema, apiRegistry, EntityTypeSchema, PlatformSchema, StageSchema } from './common.ts'

/** A comma-separated list in a query string ("a,b"), each item validated by `item`. */
export function csv<T extends z.ZodType<string>>(item: T, what: string) {
  // The array's items are enums, whose input type is narrower than string: zod checks that at run time.
  const list = z.array(item) as unknown as z.ZodType<z.output<T>[], string[]>
  return z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0)).pipe(list)
    .describe(`comma-separated list of ${what}`)
}

const limit = (max: number, dflt: number) => z.coerce.number().int().min(1).max(max).default(dflt).describe(`at most this many results (1–${max}, default ${dflt})`)
const epochQuery = z.coerce.number().int().min(0).describe('epoch milliseconds')

// --- read side -----------------------------------------------------------------------------------

export const TrendsQuery = z.strictObject({
  platform: csv(PlatformSchema, 'platforms').optional(),
  entityType: csv(EntityTypeSchema, 'entity types').optional(),
  stage: csv(StageSchema, 'lifecycle stages').optional(),
  minScore: z.coerce.number().optional().describe('only trends with score >= minScore'),
  limit: limit(1000, 100),
})
export type TrendsQuery = z.output<typeof TrendsQuery>

export const EntityParams = z.strictObject({ entity: z.string().min(1).max(200) })

export const TrendHistoryQuery = z.strictObject({
  entityType: csv(EntityTypeSchema, 'entity types').optional(),
  platform: csv(PlatformSchema, 'platforms').optional(),
  since: epochQuery.optional().describe('only windows ending after this (epoch ms)'),
  limit: limit(5000, 500),
})
export type TrendHistoryQuery = z.output<typeof TrendHistoryQuery>

export const PostParams = z.strictObject({ id: z.string().min(1).max(200) })

export const SearchQuery = z.strictObject({
  text: z.string().min(1).max(2000).optional().describe('free text to search by meaning'),
  postId: z.string().min(1).max(200).optional().describe('find items similar to this post'),
  kind: z.enum(['posts', 'trends']).default('posts'),
  k: z.coerce.number().int().min(1).max(100).default(10),
  platform: csv(PlatformSchema, 'platforms').optional(),
}).superRefine((q, ctx) => {
  if ((q.text === undefined) === (q.postId === undefined)) {
    ctx.addIssue({ code: 'custom', path: [q.text === undefined ? 'text' : 'postId'], message: 'give exactly one of text or postId' })
  }
})
export type SearchQuery = z.output<typeof SearchQuery>

export const SearchHitSchema = z.object({
  id: z.string().describe('post id, or for a trend "<platform>:<entityType>:<entity>"'),
  kind: z.enum(['post', 'trend']),
  score: z.number().describe('similarity, higher is closer'),
  platform: PlatformSchema.nullable(),
  text: z.string().nullable().describe('caption of the post, or the trend entity'),
  data: z.record(z.string(), z.unknown()).optional(),
}).register(apiRegistry, { id: 'SearchHit' })

export const AlertsQuery = z.strictObject({
  brandId: z.string().optional(),
  rule: csv(AlertRuleSchema, 'alert rules').optional(),
  since: epochQuery.optional().describe('only alerts with event time >= since'),
  limit: limit(1000, 100),
})
export type AlertsQuery = z.output<typeof AlertsQuery>

// --- tenants and keys (admin) -----------------------------------------------------------------------

export const RateLimitSchema = z.strictObject({
  capacity: z.number().int().min(1).max(100_000).describe('bucket size: the burst a key may spend at once'),
  refillPerSec: z.number().gt(0).max(100_000).describe('tokens added per second (sustained rate)'),
}).register(apiRegistry, { id: 'RateLimit' })

export const TenantKindSchema = z.enum(['brand', 'team']).describe('a brand monitoring itself, or an analyst team')

export const TenantCreate = z.strictObject({
  name: z.string().trim().min(1).max(200),
  kind: TenantKindSchema.default('team'),
  rateLimit: RateLimitSchema.optional(),
})

export const TenantSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: TenantKindSchema,
  rateLimit: RateLimitSchema.nullable(),
  createdAt: z.number().int(),
}).register(apiRegistry, { id: 'Tenant' })

export const ApiKeyInfoSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  prefix: z.string().describe('first characters of the key, to recognise it; the key itself is never shown again'),
  createdAt: z.number().int(),
  lastUsedAt: z.number().int().nullable(),
  revoked: z.boolean(),
}).register(apiRegistry, { id: 'ApiKeyInfo' })

export const ApiKeyCreatedSchema = ApiKeyInfoSchema.extend({
  key: z.string().describe('the API key; shown once, store it now'),
}).register(apiRegistry, { id: 'ApiKeyCreated' })

export const TenantCreatedSchema = z.object({ tenant: TenantSchema, apiKey: ApiKeyCreatedSchema }).register(apiRegistry, { id: 'TenantCreated' })

export const TenantParams = z.strictObject({ tenantId: z.string().min(1) })
export const TenantKeyParams = z.strictObject({ tenantId: z.string().min(1), keyId: z.string().min(1) })

// --- brands and subscriptions ------------------------------------------------------------------------

const term = z.string().trim().min(1).max(100)
const hashtag = z.string().trim().transform((s) => s.replace(/^#/, '')).pipe(z.string().min(1).max(100).regex(/^[^\s#]+$/, 'a hashtag has no spaces or inner #'))

export const BrandCreate = z.strictObject({
  name: z.string().trim().min(1).max(200).describe('the brand as people write it ("Nimbus Cola"); mentions are matched on it'),
  aliases: z.array(term).max(50).default([]).describe('other ways people name the brand ("nimbuscola", "nimbus")'),
})
export const BrandUpdate = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  aliases: z.array(term).max(50).optional(),
})

export const BrandSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  name: z.string(),
  aliases: z.array(z.string()),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
}).register(apiRegistry, { id: 'Brand' })

export const ThresholdsSchema = z.strictObject({
  trendScore: z.number().min(0).default(0).describe('keyword_trend: least TrendSignal.score'),
  viralProbability: z.number().min(0).max(1).default(0.5).describe('viral_mention: least probTop1Pct'),
  crisisMinMentions: z.number().int().min(1).max(10_000).default(3).describe('crisis: least negative mentions in the detection window'),
}).register(apiRegistry, { id: 'Thresholds' })

/** A thresholds patch: only the given fields change (no defaults filled in). */
export const ThresholdsPatch = z.strictObject({
  trendScore: z.number().min(0).optional(),
  viralProbability: z.number().min(0).max(1).optional(),
  crisisMinMentions: z.number().int().min(1).max(10_000).optional(),
})

const webhookUrl = z.url({ protocol: /^https?$/ })
  .max(2000).describe('http(s) URL alerts are POSTed to; private and loopback addresses are refused unless the server allows them')

export const SubscriptionCreate = z.strictObject({
  name: z.string().trim().min(1).max(200).default('default'),
  keywords: z.array(term).max(200).default([]).describe('terms watched for keyword_trend (TrendSignal entityType "term") and for mentions'),
  hashtags: z.array(hashtag).max(200).default([]).describe('hashtags watched for keyword_trend (entityType "hashtag") and for mentions; a leading # is dropped'),
  categories: z.array(AlertRuleSchema).min(1).default(['keyword_trend', 'viral_mention', 'crisis']).describe('which alert categories (rules) this subscription receives'),
  platforms: z.array(PlatformSchema).default([]).describe('platforms watched; empty = all'),
  thresholds: ThresholdsSchema.default({ trendScore: 0, viralProbability: 0.5, crisisMinMentions: 3 }),
  webhookUrl: webhookUrl.nullable().default(null),
  active: z.boolean().default(true),
})
export type SubscriptionCreate = z.output<typeof SubscriptionCreate>

export const SubscriptionUpdate = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  keywords: z.array(term).max(200).optional(),
  hashtags: z.array(hashtag).max(200).optional(),
  categories: z.array(AlertRuleSchema).min(1).optional(),
  platforms: z.array(PlatformSchema).optional(),
  thresholds: ThresholdsPatch.optional(),
  webhookUrl: webhookUrl.nullable().optional(),
  active: z.boolean().optional(),
})
export type SubscriptionUpdate = z.output<typeof SubscriptionUpdate>

export const SubscriptionSchema = z.object({
  id: z.string(),
  brandId: z.string(),
  tenantId: z.string(),
  name: z.string(),
  keywords: z.array(z.string()),
  hashtags: z.array(z.string()),
  categories: z.array(AlertRuleSchema),
  platforms: z.array(PlatformSchema),
  thresholds: z.object({ trendScore: z.number(), viralProbability: z.number(), crisisMinMentions: z.number().int() }),
  webhookUrl: z.string().nullable(),
  active: z.boolean(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
}).register(apiRegistry, { id: 'Subscription' })

export const SubscriptionCreatedSchema = SubscriptionSchema.extend({
  webhookSecret: z.string().nullable().describe('HMAC secret for webhook signatures; shown once (null without a webhook URL)'),
}).register(apiRegistry, { id: 'SubscriptionCreated' })

export const BrandParams = z.strictObject({ brandId: z.string().min(1) })
export const SubscriptionParams = z.strictObject({ brandId: z.string().min(1), subscriptionId: z.string().min(1) })
