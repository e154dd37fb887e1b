// Brand alert rules (pure: no sockets, no timers; time comes from the runner) and the few lines of
// wiring that put them into a topology. Delivery is sinks/webhooks/; the live feed and the API read
// the same RoutedAlert stream (server/).
//
//   firehose ────────────────────────────── crisis (negative mentions vs baseline) ─┐
//   TrendSignal ─────────────────────────── keyword_trend ──────────────────────────┼─ RoutedAlert
//   ViralityScore ─ join post (posts table) ─ viral_mention ─────────────────────────┘
//
// Each function adds to the topology its input stream belongs to; topologies/ may call them. Each
// rule reads the brands' watchlist (types.ts) as it is when records arrive.
import type { FirehoseEvent, PostPublished } from '../../schemas/events.ts'
import type { TrendSignal, ViralityScore } from '../../schemas/outputs.ts'
import { Topology, type Stream, type Table } from '../../streams/topology.ts'
import type { Sink, Source } from '../../streams/types.ts'
import { CrisisAlertOperator, type CrisisOptionsInput } from './crisis.ts'
import { KeywordTrendAlertOperator, type KeywordTrendOptionsInput } from './keyword-trend.ts'
import type { RoutedAlert, Watchlist } from './types.ts'
import { ViralMentionAlertOperator, type ScoredPost, type ViralMentionOptionsInput } from './viral-mention.ts'

export * from './types.ts'
export { CrisisAlertOperator, crisisOptionsSchema, type CrisisOptionsInput } from './crisis.ts'
export { KeywordTrendAlertOperator, type KeywordTrendOptionsInput } from './keyword-trend.ts'
export { ViralMentionAlertOperator, type ScoredPost, type ViralMentionOptionsInput } from './viral-mention.ts'

/** crisis alerts from a firehose stream */
export function crisisAlerts(events: Stream<FirehoseEvent>, watchlist: Watchlist, o: CrisisOptionsInput = {}): Stream<RoutedAlert> {
  return events.process(new CrisisAlertOperator('brand-crisis', watchlist, o))
}

/** keyword_trend alerts from a TrendSignal stream */
export function keywordTrendAlerts(trends: Stream<TrendSignal>, watchlist: Watchlist, o: KeywordTrendOptionsInput = {}): Stream<RoutedAlert> {
  return trends.process(new KeywordTrendAlertOperator('brand-keyword-trend', watchlist, o))
}

/**
 * viral_mention alerts from a ViralityScore stream and a table of posts by id from the same
 * topology (e.g. the postsById that videoFeatures() returns). Scores wait up to joinWaitMs for their post.
 */
export function viralMentionAlerts(scores: Stream<ViralityScore>, posts: Table<string, PostPublished>, watchlist: Watchlist, o: ViralMentionOptionsInput & { joinWaitMs?: number } = {}): Stream<RoutedAlert> {
  const { joinWaitMs, ...rest } = o
  return scores
    .join<string, PostPublished, ScoredPost>('brand-viral-post', posts, (s) => s.postId, (score, post) => ({ score, post }), { waitMs: joinWaitMs ?? 120_000 })
    .process(new ViralMentionAlertOperator('brand-viral-mention', watchlist, rest))
}

export interface BrandAlertsTopologyOptions {
  outOfOrdernessMs?: number
  idleTimeoutMs?: number
  crisis?: CrisisOptionsInput
}

/**
 * A topology of its own for the rules that need only the firehose (crisis today), for jobs whose
 * other topologies cannot be edited: give it its own source over the same firehose.
 */
export function brandAlertsTopology(source: Source<FirehoseEvent>, sinks: { alerts: Sink<RoutedAlert> }, watchlist: Watchlist, o: BrandAlertsTopologyOptions = {}): Topology {
  const t = new Topology('brand-alerts')
  const events = t.from(source, { outOfOrdernessMs: o.outOfOrdernessMs ?? 5_000, idleTimeoutMs: o.idleTimeoutMs ?? 30_000 })
  crisisAlerts(events, watchlist, o.crisis).to(sinks.alerts)
  return t
}
