// The engine's output records, as TypeScript sees them. The Avro schemas in schemas/avro/ are the wire
// contract (VideoFeatures.avsc, ViralityScore.avsc, TrendSignal.avsc, BrandAlert.avsc); these types
// mirror them field by field, and tests/schemas/outputs.test.ts checks that they agree.
// Times are epoch milliseconds; windows are half-open [windowStart, windowEnd).
import type { Platform } from './events.ts'

/** Features of one post over one event-time window. Rates are per minute of window length. */
export interface VideoFeatures {
  postId: string
  platform: Platform
  /** window start, inclusive (epoch ms) */
  windowStart: number
  /** window end, exclusive (epoch ms) */
  windowEnd: number
  /** 0 on first emission of (post, window); +1 each time late data changes it */
  revision: number
  viewsPerMin: number
  likesPerMin: number
  sharesPerMin: number
  commentsPerMin: number
  savesPerMin: number
  /** all engagements (views included) per minute */
  velocity: number
  /** change of velocity against the previous window of the same post, per minute; 0 for the first window */
  acceleration: number
  /** (likes + comments + shares + saves) / views; 0 without views */
  engagementRate: number
  /** shares / views; 0 without views */
  shareRate: number
  /** mean watch time of the window's views; null when no view carried a watch time */
  avgWatchTimeSec: number | null
  /** fraction of views watched to the end; null when no view carried a watch time */
  completionRate: number | null
  /** velocity / the creator's usual velocity at the same post age; null while there is no baseline */
  ratioToCreatorBaseline: number | null
  /** minutes from postedAt to windowEnd */
  minutesSincePosting: number
  creatorFollowers: number
  hashtags: string[]
  soundId: string | null
  language: string
  /** caption length in UTF-16 code units */
  captionLength: number
  /** views from postedAt to windowEnd; optional (added in v2), null when not computed */
  viewsSincePosting?: number | null
  /** engagements of every type (views included) from postedAt to windowEnd; optional (added in v2), null when not computed */
  engagementsSincePosting?: number | null
}

/** One feature's part in a prediction. */
export interface FeatureContribution {
  /** feature name, as in VideoFeatures */
  name: string
  value: number
  /** signed contribution to the score (e.g. a SHAP value) */
  contribution: number
}

/** A model's prediction of how far a post will go, made at event time `at`. */
export interface ViralityScore {
  postId: string
  platform: Platform
  /** event time the prediction is for (epoch ms) */
  at: number
  /** predicted total engagements when the post stops growing */
  predictedFinalEngagement: number
  /** probability in [0, 1] that the post ends in its platform's top 1% */
  probTop1Pct: number
  modelVersion: string
  /** largest |contribution| first */
  topFeatures: FeatureContribution[]
}

export type EntityType = 'hashtag' | 'sound' | 'term'
export const ENTITY_TYPES: readonly EntityType[] = ['hashtag', 'sound', 'term']

export type LifecycleStage = 'emerging' | 'rising' | 'peaking' | 'declining'
export const LIFECYCLE_STAGES: readonly LifecycleStage[] = ['emerging', 'rising', 'peaking', 'declining']

/** How a hashtag, sound or term is trending on one platform over one window, against its baseline. */
export interface TrendSignal {
  entityType: EntityType
  /** hashtag (lower-case, no '#'), sound id or term */
  entity: string
  platform: Platform
  windowStart: number
  windowEnd: number
  /** posts in the window that used the entity */
  uses: number
  uniqueCreators: number
  totalEngagement: number
  /** (observed - previous) / max(previous, 1) */
  growth: number
  /** expected `observed` from the entity's history */
  baseline: number
  /** measured activity of the window */
  observed: number
  /** (observed - baseline) in units of the baseline's spread (z-score) */
  deviation: number
  /** ranking score; higher is more trending */
  score: number
  stage: LifecycleStage
  /** most engaged first, bounded */
  contributingPostIds: string[]
  /** 0 on first emission; +1 each time late data changes it */
  revision: number
}

export type AlertRule = 'keyword_trend' | 'viral_mention' | 'crisis'
export const ALERT_RULES: readonly AlertRule[] = ['keyword_trend', 'viral_mention', 'crisis']

export type Severity = 'info' | 'warning' | 'critical'
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical']

/** A brand-monitoring rule fired. */
export interface BrandAlert {
  /** deterministic: same input, same id (for de-duplication) */
  alertId: string
  brandId: string
  rule: AlertRule
  /** keyword, hashtag or sound that triggered the rule */
  entity: string
  /** the triggering post, when one did (viral_mention) */
  postId: string | null
  severity: Severity
  /** human-readable, with the numbers that made the rule fire */
  reason: string
  /** event time the alert is about (epoch ms) */
  at: number
}
