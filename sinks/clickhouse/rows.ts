// How each record type becomes a row of its table (schemas/clickhouse/*.sql): the row's values in the
// order of `columns` (snake_case, as in the DDL). Event times go out as integer epoch milliseconds into
// DateTime64(3, 'UTC'); nullable fields as null; named tuples as objects.
// The column lists are checked against the live table when a sink opens.
//
// Wire format (the sink serialises; insert.ts sends): JSONCompactEachRow, one JSON array per line —
// `["dance",1717200000000,1717200060000,42,0]` — where the server reads it (ClickHouse ≥ 20.x, chDB),
// else JSONEachRow objects keyed by column (18.16). Arrays rather than objects: half the bytes on the
// wire and ~1.8× faster to stringify; chDB parses both at about the same rate (benchmarks/clickhouse.bench.ts,
// "row format").
import type { Engagement, PostPublished } from '../../schemas/events.ts'
import type { BrandAlert, TrendSignal, VideoFeatures, ViralityScore } from '../../schemas/outputs.ts'
import type { DeadLetter, EventTime } from '../../streams/types.ts'
import type { LateRecord } from '../../streams/windows.ts'
import type { HashtagWindowCount } from '../../topologies/hashtag-activity.ts'

/** A table and how to serialise one record into it. */
export interface RowFormat<T> {
  /** Default target table (unqualified: the connection's database). */
  readonly table: string
  /** The columns each row fills; the rest take their DEFAULT. */
  readonly columns: readonly string[]
  /** The row's values, in the order of `columns`. */
  row(value: T, time: EventTime): unknown[]
}

/** ms → ms, but only finite numbers: ±Infinity (e.g. the initial watermark) becomes null. */
const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null)

export const hashtagWindowRows = (table: string): RowFormat<HashtagWindowCount> => ({
  table,
  columns: ['hashtag', 'window_start', 'window_end', 'count', 'revision'],
  row: (r) => [r.hashtag, r.windowStart, r.windowEnd, r.count, r.revision],
})

export const postRows: RowFormat<PostPublished> = {
  table: 'posts',
  columns: ['post_id', 'platform', 'creator_id', 'creator_followers', 'posted_at', 'caption', 'hashtags', 'sound_id', 'duration_sec', 'language', 'embedding'],
  row: (p) => [p.postId, p.platform, p.creatorId, p.creatorFollowers, p.postedAt, p.caption, p.hashtags, p.soundId, p.durationSec, p.language, p.embedding ?? []],
}

export const engagementRows: RowFormat<Engagement> = {
  table: 'engagements',
  columns: ['post_id', 'platform', 'type', 'at', 'watch_time_sec', 'comment_text', 'user_id'],
  row: (e) => [e.postId, e.platform, e.type, e.at, e.watchTimeSec, e.commentText, e.userId],
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
  row: (f) => [
    f.postId, f.platform, f.windowStart, f.windowEnd, f.revision, f.viewsPerMin, f.likesPerMin, f.sharesPerMin,
    f.commentsPerMin, f.savesPerMin, f.velocity, f.acceleration, f.engagementRate, f.shareRate, f.avgWatchTimeSec,
    f.completionRate, f.ratioToCreatorBaseline, f.minutesSincePosting, f.creatorFollowers, f.hashtags, f.soundId,
    f.language, f.captionLength, (f as SincePosting).viewsSincePosting ?? null, (f as SincePosting).engagementsSincePosting ?? null,
  ],
}

export const viralityScoreRows: RowFormat<ViralityScore> = {
  table: 'virality_scores',
  columns: ['post_id', 'platform', 'at', 'predicted_final_engagement', 'prob_top1pct', 'model_version', 'top_features'],
  // top_features is Array(Tuple(name, value, contribution)): ClickHouse reads named tuples in JSON as
  // objects (input_format_json_named_tuples_as_objects), in JSONCompactEachRow too — not as arrays.
  row: (s) => [s.postId, s.platform, s.at, s.predictedFinalEngagement, s.probTop1Pct, s.modelVersion, s.topFeatures],
}

export const trendSignalRows: RowFormat<TrendSignal> = {
  table: 'trend_signals',
  columns: [
    'entity_type', 'entity', 'platform', 'window_start', 'window_end', 'uses', 'unique_creators', 'total_engagement',
    'growth', 'baseline', 'observed', 'deviation', 'score', 'stage', 'contributing_post_ids', 'revision',
  ],
  row: (s) => [
    s.entityType, s.entity, s.platform, s.windowStart, s.windowEnd, s.uses, s.uniqueCreators, s.totalEngagement,
    s.growth, s.baseline, s.observed, s.deviation, s.score, s.stage, s.contributingPostIds, s.revision,
  ],
}

export const brandAlertRows: RowFormat<BrandAlert> = {
  table: 'brand_alerts',
  columns: ['alert_id', 'brand_id', 'rule', 'entity', 'post_id', 'severity', 'reason', 'at'],
  row: (a) => [a.alertId, a.brandId, a.rule, a.entity, a.postId, a.severity, a.reason, a.at],
}

export const lateRecordRows: RowFormat<LateRecord<unknown>> = {
  table: 'late_records',
  columns: ['operator', 'reason', 'time', 'watermark', 'value'],
  row: (l) => [l.operator, l.reason, l.time, finiteOrNull(l.watermark), JSON.stringify(l.value) ?? 'null'],
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Dead letters keep the original bytes: as text when they are UTF-8, else base64 (payload_encoding says which). */
export function deadLetterRow(d: DeadLetter): unknown[] {
  let payload: string
  let encoding: 'utf8' | 'base64'
  try {
    payload = utf8.decode(d.payload)
    encoding = 'utf8'
  } catch {
    payload = Buffer.from(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength).toString('base64')
    encoding = 'base64'
  }
  return [d.source, d.partition, d.position, d.code, d.reason, payload, encoding, d.at]
}

export const deadLetterRows: RowFormat<DeadLetter> = {
  table: 'dead_letters',
  columns: ['source', 'partition', 'position', 'code', 'reason', 'payload', 'payload_encoding', 'at'],
  row: deadLetterRow,
}

/** One line of the wire format: JSONCompactEachRow (an array), or JSONEachRow (an object) for old servers. */
export function lineSerializer<T>(format: RowFormat<T>, compact: boolean): (value: T, time: EventTime) => string {
  if (compact) return (v, t) => JSON.stringify(format.row(v, t))
  const cols = format.columns
  return (v, t) => {
    const values = format.row(v, t)
    const o: Record<string, unknown> = {}
    for (let i = 0; i < cols.length; i++) o[cols[i]] = values[i]
    return JSON.stringify(o)
  }
}

/** A serialised row back as { column: value } (for dead letters: readable whatever the wire format). */
export function lineAsObject(line: string, columns: readonly string[]): string {
  try {
    const v = JSON.parse(line) as unknown
    if (!Array.isArray(v)) return line
    const o: Record<string, unknown> = {}
    for (let i = 0; i < columns.length; i++) o[columns[i]] = v[i]
    return JSON.stringify(o)
  } catch {
    return line
  }
}
