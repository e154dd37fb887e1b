// zod schemas shared by the HTTP API and the WebSocket feed: the engine's outputs as the API returns
// them, and the enums. Every schema with an `id` in `apiRegistry` becomes a named component of the
// OpenAPI document (server/api/openapi.ts) and a `$defs` entry of the WebSocket JSON Schema
// (schemas/api/ws-messages.schema.json). The output records mirror schemas/outputs.ts field by field;
// tests/server/schemas.test.ts checks they accept what the engine emits.
import { z } from 'zod'
import { PLATFORMS, type Platform } from '../events.ts'
import { ALERT_RULES, ENTITY_TYPES, LIFECYCLE_STAGES, SEVERITIES, type AlertRule, type EntityType, type LifecycleStage, type Severity } from '../outputs.ts'

export interface ApiMeta {
  id?: string
  description?: string
}

/** Named schemas of the public API (OpenAPI components, JSON Schema $defs). */
export const apiRegistry = z.registry<ApiMeta>()

const tuple = <T extends string>(xs: readonly T[]) => xs as unknown as [T, ...T[]]

export const PlatformSchema = z.enum(tuple<Platform>(PLATFORMS)).register(apiRegistry, { id: 'Platform', description: 'Short-video platform.' })
export const EntityTypeSchema = z.enum(tuple<EntityType>(ENTITY_TYPES)).register(apiRegistry, { id: 'EntityType', description: 'hashtag: a caption hashtag; sound: a sound id; term: a word from captions.' })
export const StageSchema = z.enum(tuple<LifecycleStage>(LIFECYCLE_STAGES)).register(apiRegistry, { id: 'LifecycleStage', description: 'Where a trend is in its lifecycle.' })
export const AlertRuleSchema = z.enum(tuple<AlertRule>(ALERT_RULES)).register(apiRegistry, { id: 'AlertRule', description: 'keyword_trend: a watched keyword/hashtag became an emerging trend; viral_mention: a post mentioning the brand is going viral; crisis: a spike of negative mentions.' })
export const SeveritySchema = z.enum(tuple<Severity>(SEVERITIES)).register(apiRegistry, { id: 'Severity', description: 'info: worth a look; warning: act today; critical: act now.' })

const epochMs = z.number().int().describe('epoch milliseconds')

export const TrendSignalSchema = z.object({
  entityType: EntityTypeSchema,
  entity: z.string(),
  platform: PlatformSchema,
  windowStart: epochMs,
  windowEnd: epochMs,
  uses: z.number().int(),
  uniqueCreators: z.number().int(),
  totalEngagement: z.number().int(),
  growth: z.number(),
  baseline: z.number(),
  observed: z.number(),
  deviation: z.number(),
  score: z.number(),
  stage: StageSchema,
  contributingPostIds: z.array(z.string()),
  revision: z.number().int(),
}).register(apiRegistry, { id: 'TrendSignal', description: 'How a hashtag, sound or term is trending on one platform over one event-time window [windowStart, windowEnd).' })

export const FeatureContributionSchema = z.object({
  name: z.string(),
  value: z.number(),
  contribution: z.number(),
}).register(apiRegistry, { id: 'FeatureContribution' })

export const ViralityScoreSchema = z.object({
  postId: z.string(),
  platform: PlatformSchema,
  at: epochMs,
  predictedFinalEngagement: z.number(),
  probTop1Pct: z.number().min(0).max(1),
  modelVersion: z.string(),
  topFeatures: z.array(FeatureContributionSchema),
}).register(apiRegistry, { id: 'ViralityScore', description: 'A prediction of how far a post will go, made at event time `at`.' })

export const BrandAlertSchema = z.object({
  alertId: z.string(),
  brandId: z.string(),
  rule: AlertRuleSchema,
  entity: z.string(),
  postId: z.string().nullable(),
  severity: SeveritySchema,
  reason: z.string(),
  at: epochMs,
}).register(apiRegistry, { id: 'BrandAlert', description: 'A brand-monitoring rule fired. alertId is deterministic: the same evidence gives the same id.' })

export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().describe('machine-readable: invalid_request, unauthorized, forbidden, not_found, conflict, rate_limited, unavailable, internal'),
    message: z.string().describe('human-readable; for invalid_request it names the field'),
    field: z.string().optional().describe('the offending field, e.g. "query.minScore" or "body.thresholds.viralProbability"'),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
}).register(apiRegistry, { id: 'Error' })
