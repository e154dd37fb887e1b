// ClickHouse sinks for topologies/hashtag-activity.ts, ready to hand to hashtagActivity() and the
// Runner: hashtag uses → hashtag_uses_1m, hashtag engagement → hashtag_engagement_10m, late records →
// late_records, input dead letters → dead_letters; chunks ClickHouse refuses → dead_letters too.
// The tables come from `trendwire migrate` (schemas/clickhouse/). The caller owns `ch` and closes it
// after the runner has stopped.
import type { Logger } from 'pino'
import type { DeadLetter } from '../../streams/types.ts'
import type { LateRecord } from '../../streams/windows.ts'
import type { HashtagActivitySinks, HashtagWindowCount } from '../../topologies/hashtag-activity.ts'
import type { ClickHouse } from './client.ts'
import { ClickHouseDeadLetterTable } from './dead-letters.ts'
import { deadLetterRows, hashtagWindowRows, lateRecordRows } from './rows.ts'
import { ClickHouseSink, type ClickHouseSinkOptions } from './sink.ts'

export interface HashtagActivityClickHouseSinks {
  /** For hashtagActivity(source, sinks). */
  sinks: HashtagActivitySinks & {
    hashtagUses: ClickHouseSink<HashtagWindowCount>
    hashtagEngagement: ClickHouseSink<HashtagWindowCount>
    late: ClickHouseSink<LateRecord<unknown>>
  }
  /** For the Runner's deadLetterSink (undecodable input). */
  deadLetterSink: ClickHouseSink<DeadLetter>
  /** Every sink above, e.g. to read their stats. */
  all: Array<ClickHouseSink<never>>
}

export function clickhouseSinksForHashtagActivity(
  ch: ClickHouse,
  o: { options?: ClickHouseSinkOptions; logger?: Logger; namePrefix?: string } = {},
): HashtagActivityClickHouseSinks {
  const prefix = o.namePrefix ?? 'clickhouse-'
  const deadLetters = new ClickHouseDeadLetterTable(ch, { logger: o.logger, retry: o.options?.retry })
  const deps = { deadLetters, logger: o.logger }
  const hashtagUses = new ClickHouseSink(`${prefix}hashtag-uses`, ch, hashtagWindowRows('hashtag_uses_1m'), o.options, deps)
  const hashtagEngagement = new ClickHouseSink(`${prefix}hashtag-engagement`, ch, hashtagWindowRows('hashtag_engagement_10m'), o.options, deps)
  const late = new ClickHouseSink(`${prefix}late`, ch, lateRecordRows, o.options, deps)
  const deadLetterSink = new ClickHouseSink(`${prefix}dead-letters`, ch, deadLetterRows, o.options, deps)
  const all = [hashtagUses, hashtagEngagement, late, deadLetterSink] as unknown as Array<ClickHouseSink<never>>
  return { sinks: { hashtagUses, hashtagEngagement, late }, deadLetterSink, all }
}

