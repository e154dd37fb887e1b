// Topology: virality scoring — two predictors per post, updated as engagement arrives. Wiring only;
// the logic lives in operators/features/ and operators/virality/.
//
//   firehose ─┬─ posts + engagements ─ point-process table (per post, event time) ··········┐ read by
//             └─ feature enrichment (topologies/features.ts) ─ VideoFeatures ─ ONNX scorer ─ ViralityScore
//   engagements beyond the feature window's allowed lateness → late
//
// The point-process table is declared first, so within a batch it has seen the engagements before
// the scorer asks it for a post's estimate as of a window's end.
import type { FirehoseEvent } from '../schemas/events.ts'
import type { VideoFeatures, ViralityScore } from '../schemas/outputs.ts'
import { parseFeaturesOptions, type FeaturesOptionsInput } from '../operators/features/index.ts'
import { EngagementProcessTable, type EngagementProcessOptions } from '../operators/virality/engagement-process.ts'
import type { PointProcessOptions } from '../operators/virality/pointprocess.ts'
import { viralMentionAlerts, type RoutedAlert, type Watchlist } from '../operators/alerts/index.ts'
import { ViralityScorer, type LoadedModel, type ScorerOptions } from '../operators/virality/scorer.ts'
import { Topology } from '../streams/topology.ts'
import type { Sink, Source } from '../streams/types.ts'
import type { LateRecord } from '../streams/windows.ts'
import { videoFeatures } from './features.ts'


export interface ViralitySinks {
  scores: Sink<ViralityScore>
  late: Sink<LateRecord<unknown>>
  /** the features the scores were computed from, when wanted */
  features?: Sink<VideoFeatures>
  /** viral_mention brand alerts (operators/alerts), when wanted */
  viralMentions?: { watchlist: Watchlist; alerts: Sink<RoutedAlert> }
}

export interface ViralityOptions {
  /** The learned model, loaded with loadViralityModel() (operators/virality/scorer.ts). */
  model: LoadedModel
  features?: FeaturesOptionsInput
  /** Point-process options; default: the model spec's `pointProcess` (fitted with it), else a 24 h horizon, uncalibrated. */
  pointProcess?: PointProcessOptions
  engagementProcess?: EngagementProcessOptions
  scorer?: ScorerOptions
}

export function viralityTopology(source: Source<FirehoseEvent>, sinks: ViralitySinks, options: ViralityOptions): Topology {
  const fo = parseFeaturesOptions(options.features ?? {})
  const pp = options.pointProcess ?? (options.model.spec.pointProcess as PointProcessOptions | undefined) ?? { horizonSec: 24 * 3600, followerExponent: 0, calibration: 'none' }
  const t = new Topology('virality')
  const events = t.from(source, { outOfOrdernessMs: fo.outOfOrdernessMs, idleTimeoutMs: fo.idleTimeoutMs })
  const process = new EngagementProcessTable('engagement-process', pp, { ttlMs: fo.postTtlMs, maxPosts: fo.maxPosts, orphanWaitMs: fo.joinWaitMs, ...options.engagementProcess })
  events.process(process)
  const { features, late, postsById } = videoFeatures(events, fo)
  if (sinks.features) features.to(sinks.features)
  const scores = features.process(new ViralityScorer('virality-scorer', options.model, process, options.scorer))
  scores.to(sinks.scores)
  // brand rule: a post mentioning a watched brand goes viral (needs the post's caption: the posts table is here)
  if (sinks.viralMentions) viralMentionAlerts(scores, postsById, sinks.viralMentions.watchlist).to(sinks.viralMentions.alerts)
  late.to(sinks.late)
  return t
}

