// How each record type becomes a row of its table (schemas/clickhouse/*.sql): one JSONEachRow line,
// snake_case columns. Event times go out as integer epoch milliseconds into DateTime64(3, 'UTC');
// nullable fields as null. The column lists are checked against the live table when a sink opens.
//
// A serializer is a plain function built once per table (no per-row closures or spreads); the object
// literal per row is what JSON.stringify needs and is the only allocation besides the string.
import type { Engagement, PostPublished } from '../../schemas/events.ts'
import type { BrandAlert, TrendSignal, VideoFeatures, ViralityScore } from '../../schemas/outputs.ts'
import type { DeadLetter, EventTime } from '../../streams/types.ts'
import type { LateRecord } from '../../streams/windows.ts'
import type { HashtagWindowCount } from '../../topologies/hashtag-activity.ts'

/** A table and how to serialise one record into it. */
export interface RowFormat<T> {
  /** Default target table (unqualified: the connection's database). */
  readonly table: string
  /** The columns each line fills; the rest take their DEFAULT. */
  readonly columns: readonly string[]
  /** One JSONEachRow line, without the newline. */
  line(value: T, time: EventTime): string
}

/** ms → ms, but only finite numbers: ±Infinity (e.g. the initial watermark) becomes null. */
const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null)

export const hashtagWindowRows = (table: string): RowFormat<HashtagWindowCount> => ({
  table,
  columns: ['hashtag', 'window_start', 'window_end', 'count', 'revision'],
  line: (r) => JSON.stringify({ hashtag: r.hashtag, window_start: r.windowStart, window_end: r.windowEnd, count: r.count, revision: r.revision }),
})

export const postRows: RowFormat<PostPublished> = {
  table: 'posts',
  columns: ['post_id', 'platform', 'creator_id', 'creator_followers', 'posted_at', 'caption', 'hashtags', 'sound_id', 'duration_sec', 'language', 'embedding'],
  line: (p) => JSON.stringify({
    post_id: p.postId, platform: p.platform, creator_id: p.creatorId, creator_followers: p.creatorFollowers,
    posted_at: p.postedAt, caption: p.caption, hashtags: p.hashtags, sound_id: p.soundId,
    duration_sec: p.durationSec, language: p.language, embedding: p.embedding ?? [],
  }),
}

export const engagementRows: RowFormat<Engagement> = {
  table: 'engagements',
  columns: ['post_id', 'platform', 'type', 'at', 'watch_time_sec', 'comment_text', 'user_id'],
  line: (e) => JSON.stringify({
    post_id: e.postId, platform: e.platform, type: e.type, at: e.at,
    watch_time_sec: e.watchTimeSec, comment_text: e.commentText, user_id: e.userId,
  }),
}

/** Optional VideoFeatures fields (added in v2), read without requiring them of the type. */
interface SincePosting { viewsSincePosting?: number | null; engagementsSincePosting?: number | null }

export const videoFeatureRows: RowFormat<VideoFeatures> = {
  table: 'video_features',
  columns: [
    'post_id', 'platform', 'window_start', 'window_end', 'revision', 'views_per_min', 'likes_per_min', 'shares_per_min',
    'comments_per_min', 'saves_per_min', 'velocity', 'acceleration', 'engagement_rate', 'share_rate', 'avg_watch_time_sec',
    'completion_rate', 'ratio_to_creator_baseline', 'minutes_since_posting', 'creator_followers', 'hashtags', 'sound_id',
    'language', 'caption_length', 'views_since_posting', 'engagements_since_posting',
  ],
  line: (f) => JSON.stringify({
    post_id: f.postId, platform: f.platform, window_start: f.windowStart, window_end: f.windowEnd, revision: f.revision,
    views_per_min: f.viewsPerMin, likes_per_min: f.likesPerMin, shares_per_min: f.sharesPerMin,
    comments_per_min: f.commentsPerMin, saves_per_min: f.savesPerMin, velocity: f.velocity, acceleration: f.acceleration,
    engagement_rate: f.engagementRate, share_rate: f.shareRate, avg_watch_time_sec: f.avgWatchTimeSec,
    completion_rate: f.completionRate, ratio_to_creator_baseline: f.ratioToCreatorBaseline,
    minutes_since_posting: f.minutesSincePosting, creator_followers: f.creatorFollowers, hashtags: f.hashtags,
    sound_id: f.soundId, language: f.language, caption_length: f.captionLength,
    views_since_posting: (f as SincePosting).viewsSincePosting ?? null,
    engagements_since_posting: (f as SincePosting).engagementsSincePosting ?? null,
  }),
}

export const viralityScoreRows: RowFormat<ViralityScore> = {
  table: 'virality_scores',
  columns: ['post_id', 'platform', 'at', 'predicted_final_engagement', 'prob_top1pct', 'model_version', 'top_features'],
  // top_features is Array(Tuple(name, value, contribution)): named tuples read as JSON objects.
  line: (s) => JSON.stringify({
    post_id: s.postId, platform: s.platform, at: s.at, predicted_final_engagement: s.predictedFinalEngagement,
    prob_top1pct: s.probTop1Pct, model_version: s.modelVersion, top_features: s.topFeatures,
  }),
}

export const trendSignalRows: RowFormat<TrendSignal> = {
  table: 'trend_signals',
  columns: [
    'entity_type', 'entity', 'platform', 'window_start', 'window_end', 'uses', 'unique_creators', 'total_engagement',
    'growth', 'baseline', 'observed', 'deviation', 'score', 'stage', 'contributing_post_ids', 'revision',
  ],
  line: (s) => JSON.stringify({
    entity_type: s.entityType, entity: s.entity, platform: s.platform, window_start: s.windowStart, window_end: s.windowEnd,
    uses: s.uses, unique_creators: s.uniqueCreators, total_engagement: s.totalEngagement, growth: s.growth,
    baseline: s.baseline, observed: s.observed, deviation: s.deviation, score: s.score, stage: s.stage,
    contributing_post_ids: s.contributingPostIds, revision: s.revision,
  }),
}

export const brandAlertRows: RowFormat<BrandAlert> = {
  table: 'brand_alerts',
  columns: ['alert_id', 'brand_id', 'rule', 'entity', 'post_id', 'severity', 'reason', 'at'],
  line: (a) => JSON.stringify({
    alert_id: a.alertId, brand_id: a.brandId, rule: a.rule, entity: a.entity, post_id: a.postId,
    severity: a.severity, reason: a.reason, at: a.at,
  }),
}

export const lateRecordRows: RowFormat<LateRecord<unknown>> = {
  table: 'late_records',
  columns: ['operator', 'reason', 'time', 'watermark', 'value'],
  line: (l) => JSON.stringify({ operator: l.operator, reason: l.reason, time: l.time, watermark: finiteOrNull(l.watermark), value: JSON.stringify(l.value) ?? 'null' }),
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Dead letters keep the original bytes: as text when they are UTF-8, else base64 (payload_encoding says which). */
export function deadLetterLine(d: DeadLetter): string {
  let payload: string
  let encoding: 'utf8' | 'base64'
  try {
    payload = utf8.decode(d.payload)
    encoding = 'utf8'
  } catch {
    payload = Buffer.from(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength).toString('base64')
    encoding = 'base64'
  }
  return JSON.stringify({ source: d.source, partition: d.partition, position: d.position, code: d.code, reason: d.reason, payload, payload_encoding: encoding, at: d.at })
}

export const deadLetterRows: RowFormat<DeadLetter> = {
  table: 'dead_letters',
  columns: ['source', 'partition', 'position', 'code', 'reason', 'payload', 'payload_encoding', 'at'],
  line: deadLetterLine,
}
