// The in-process demo stack the browser test drives, in two modes:
//   api         synthetic firehose → topology → the API server (server/api: LiveSink → bus → LiveState
//               and the WebSocket live feed), with the Reel generator and the Trend Radar page mounted
//               on its app; a tenant with an API key, a brand and a subscription; the real alert rules
//               (operators/alerts: keyword_trend over the trends, crisis over the firehose)
//   standalone  no API server: RadarState + the page's polling endpoint (the fallback)
//
// In api mode the trends are the product's: topologies/trends.ts (hashtags and sounds, a 3-minute
// warm-up instead of 30 so the test sees signals within seconds of wall time), in a runner of its
// own over an identical copy of the firehose (same seed and start time); its signals also feed the
// real keyword_trend rule. STAND-INS, clearly labelled, only so the page has live data of the right
// shape: the virality scores (the virality topology needs its features and trained model, slow for
// a browser test) and, in standalone mode, the trends and alerts:
//   trends  per (platform, hashtag) 1-minute post counts; EWMA baseline and spread; score =
//           max(0, z) · log2(1 + count); emerging/rising/peaking/declining from z and growth
//   scores  per post, at 8, 16, 32, … engagement events: predictedFinalEngagement = 2.5 × count,
//           probTop1Pct = 1 − e^(−count/400)  (modelVersion "e2e-stand-in")
//   alerts  (standalone mode only) keyword_trend when a watched hashtag's trend turns emerging or
//           rising; the api mode runs the real rules instead
//
// Event time starts at DEMO_START, a fixed instant, not the wall clock: the synthetic firehose's
// daily rhythm and its trend plan depend on the start, so with a wall-clock start whether a watched
// hashtag trends in the first minutes depended on the hour the tests ran (a CI run at an unlucky hour
// saw no alert in time). From a fixed start the stream is the same on every run; it is still paced in
// real time (speed 60: a minute of event time per second).
// Replace them with the real topologies as they land; the page and the generator only see
// TrendSignal, ViralityScore and BrandAlert records.
import express from 'express'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import type { Engagement, FirehoseEvent, Platform, PostPublished } from '../../schemas/events.ts'
import type { BrandAlert, LifecycleStage, TrendSignal, ViralityScore } from '../../schemas/outputs.ts'
import { MemoryCheckpointStore } from '../../streams/checkpoint.ts'
import { Runner } from '../../streams/runner.ts'
import { SyntheticSource, type SyntheticOptionsInput } from '../../streams/sources/synthetic.ts'
import { Topology } from '../../streams/topology.ts'
import type { Sink, Source } from '../../streams/types.ts'
import { count, tumbling, type WindowResult } from '../../streams/windows.ts'
import { generatorRouter, InMemoryPostIndex, type GeneratorConfigInput } from '../../server/generator/index.ts'
import { RadarState, radarRouter } from '../../dashboards/trend-radar.ts'
import { fold } from '../../server/generator/text.ts'
import { followFeed, TrendContext } from '../../server/generator/context.ts'
import { createTrendwireApi, type TrendwireApi } from '../../server/api/index.ts'
import { presentedKey } from '../../server/api/auth.ts'
import { crisisAlerts, KeywordTrendAlertOperator, type RoutedAlert, type Watchlist } from '../../operators/alerts/index.ts'
import { trendsTopology } from '../../topologies/trends.ts'
import { TeeSink } from '../../sinks/tee.ts'
import type { Batch, Operator, SinkContext } from '../../streams/types.ts'
import { randomBytes } from 'node:crypto'

const MINUTE = 60_000

interface TagWindow { platform: Platform; tag: string }
interface TrendState { mean: number; varc: number; prev: number; n: number; active: number; stage: LifecycleStage | null }

const isPost = (e: FirehoseEvent): e is PostPublished => e.kind === 'post'
const isEngagement = (e: FirehoseEvent): e is Engagement => e.kind === 'engagement'

/** Stand-in trend signal from a (platform, tag) window count; see the header. */
function trendStep(st: TrendState | undefined, r: WindowResult<string, number>): { st: TrendState; signal: TrendSignal | null } {
  const s = st ?? { mean: 0, varc: 1, prev: 0, n: 0, active: 0, stage: null }
  const obs = r.value
  const spread = Math.sqrt(s.varc) + 1
  const z = s.n < 2 ? (obs >= 4 ? 2 : 0) : (obs - s.mean) / spread
  const growth = (obs - s.prev) / Math.max(s.prev, 1)
  let stage: LifecycleStage | null = null
  const live = s.stage !== null && s.stage !== 'declining'
  if (z >= 1.2 && obs >= 3) stage = live ? (growth >= 0 ? 'rising' : 'peaking') : 'emerging'
  else if (live && z >= 0.5) stage = 'peaking'
  else if (live) stage = 'declining'
  const [platform, tag] = r.key.split('|') as [Platform, string]
  const signal: TrendSignal | null = stage === null ? null : {
    entityType: 'hashtag', entity: tag, platform, windowStart: r.start, windowEnd: r.end, uses: obs, uniqueCreators: obs, totalEngagement: 0,
    growth, baseline: s.mean, observed: obs, deviation: z, score: Math.max(0, z) * Math.log2(1 + obs), stage,
    contributingPostIds: [], revision: r.revision,
  }
  const a = 0.3
  const d = obs - s.mean
  return { st: { mean: s.mean + a * d, varc: (1 - a) * (s.varc + a * d * d), prev: obs, n: s.n + 1, active: stage && stage !== 'declining' ? s.active + 1 : 0, stage }, signal }
}

export interface DemoSinks {
  trends: Sink<TrendSignal>[]
  scores: Sink<ViralityScore>[]
  /** stand-in keyword alerts (standalone mode) */
  alerts: Sink<BrandAlert>[]
  firehose: Sink<FirehoseEvent>[]
  /** the real crisis rule over this watchlist, into this sink (api mode) */
  rules?: { watchlist: Watchlist; alerts: Sink<RoutedAlert> }
}

/** Watched hashtags of the demo brand (keyword_trend alerts). */
export const DEMO_WATCHED = ['food', 'cooking', 'recipe', 'cafe', 'coffee', 'fyp', 'viral', 'dance', 'summer']

/** Event-time start of the demo firehose (from 21:00 UTC watched #cooking turns emerging about 10 minutes of event time in). */
export const DEMO_START = Date.UTC(2026, 10, 20, 21)

/** The stand-in topology (see the header). */
export function demoTopology(source: Source<FirehoseEvent>, sinks: DemoSinks): Topology {
  const t = new Topology('e2e-demo')
  const events = t.from(source, { outOfOrdernessMs: 2_000, idleTimeoutMs: 5_000 })
  for (const s of sinks.firehose) events.to(s)
  if (sinks.rules) crisisAlerts(events, sinks.rules.watchlist).to(sinks.rules.alerts)
  if (sinks.trends.length > 0) {
    const trends = events.filter('posts', isPost)
      .flatMap<TagWindow>('post-tags', (p, time, out) => { for (const h of p.hashtags) out.emit({ platform: p.platform, tag: fold(h) }, time) })
      .keyBy((u) => `${u.platform}|${u.tag}`)
      .window(tumbling(MINUTE))
      .aggregate('tag-counts-1m', count(), { allowedLatenessMs: 0 })
      .keyBy((r) => r.key)
      .process<TrendState, TrendSignal>('trend-stand-in', {
        processElement(st, r, time, ctx) {
          const { st: next, signal } = trendStep(st, r)
          if (signal) ctx.emit(signal, time)
          return next
        },
      }, { ttlMs: 60 * MINUTE, maxKeys: 200_000 })
    for (const s of sinks.trends) trends.to(s)
    const alerts = trends
      .filter('watched-trends', (s) => (s.stage === 'emerging' || s.stage === 'rising') && DEMO_WATCHED.includes(s.entity))
      .map<BrandAlert>('keyword-trend-alert', (s) => ({
        alertId: `kt:${s.platform}:${s.entity}:${s.windowEnd}`, brandId: 'kiko-cafe', rule: 'keyword_trend', entity: s.entity, postId: null,
        severity: s.score > 8 ? 'warning' : 'info', reason: `#${s.entity} is ${s.stage} on ${s.platform}: ${s.observed} posts in a minute against ${s.baseline.toFixed(1)} expected (z ${s.deviation.toFixed(1)})`, at: s.windowEnd,
      }))
    for (const s of sinks.alerts) alerts.to(s)
  }
  const scores = events.filter('engagements', isEngagement)
    .keyBy((e) => e.postId)
    .process<number, ViralityScore>('score-stand-in', {
      processElement(n = 0, e, time, ctx) {
        const c = n + 1
        if (c >= 8 && (c & (c - 1)) === 0) {
          ctx.emit({ postId: e.postId, platform: e.platform, at: time, predictedFinalEngagement: 2.5 * c, probTop1Pct: 1 - Math.exp(-c / 400), modelVersion: 'e2e-stand-in', topFeatures: [] }, time)
        }
        return c
      },
    }, { ttlMs: 6 * 60 * MINUTE, maxKeys: 500_000 })
  for (const s of sinks.scores) scores.to(s)
  return t
}

export interface DemoStackOptions {
  mode?: 'api' | 'standalone'
  source?: SyntheticOptionsInput
  generator?: GeneratorConfigInput
  pollMs?: number
}

export interface DemoStack {
  /** origin of the app */
  url: string
  /** the Trend Radar page, with the tenant's key in api mode */
  pageUrl: string
  /** the generator's live trend context */
  context: TrendContext
  posts: InMemoryPostIndex
  runner: Runner
  server: Server
  /** api mode */
  api?: TrendwireApi
  key?: string
  brandId?: string
  /** standalone mode */
  state?: RadarState
  /** resolves when the runner stops (stop() or end of input) */
  done: Promise<unknown>
  stop(): Promise<void>
}

const silent = pino({ level: 'silent' })

/**
 * An operator used as a sink: each batch through `op`, what it emits on to `out`. For a rule that
 * must read a stream produced by another topology (here keyword_trend over the trend topology's
 * signals). Watermarks do not reach the operator (its episode TTL clean-up does not run).
 */
function operatorSink<I, O>(op: Operator<I, O>, out: Sink<O>): Sink<I> {
  return {
    name: `${op.name}-sink`,
    write(batch: Batch<I>, ctx: SinkContext) {
      const values: O[] = []
      const times: number[] = []
      void op.processBatch(batch, { watermark: -Infinity, now: () => Date.now(), metrics: ctx.metrics }, { emit: (v, t) => { values.push(v); times.push(t) }, side() {} })
      if (values.length > 0) return out.write({ values, times }, ctx)
    },
  }
}

/** Starts the firehose, the topology and the HTTP app (and, in api mode, the API server) on 127.0.0.1:0. */
export async function startDemoStack(o: DemoStackOptions = {}): Promise<DemoStack> {
  const posts = new InMemoryPostIndex({ maxPosts: 20_000 })
  const source = new SyntheticSource({ seed: 7, eventsPerSecond: 100, realtime: true, speed: 60, partitions: 2, startTime: DEMO_START, ...o.source })
  const runnerFor = (t: Topology) => new Runner(t, { checkpointIntervalMs: 0, maxBatchRecords: 2048, checkpointAtEnd: false }, { store: new MemoryCheckpointStore(), logger: silent })

  if (o.mode === 'api') {
    const api = createTrendwireApi({ logger: silent, adminKey: randomBytes(16).toString('hex') })
    const { tenant, key } = api.store.createTenant({ name: 'Kiko Café', kind: 'brand' })
    const brand = api.store.createBrand(tenant.id, { name: 'Kiko Café', aliases: ['kikocafe'] })
    api.store.createSubscription(tenant.id, brand.id, {
      name: 'demo', keywords: [], hashtags: DEMO_WATCHED, categories: ['keyword_trend', 'viral_mention', 'crisis'], platforms: [],
      thresholds: { trendScore: 0, viralProbability: 0.5, crisisMinMentions: 3 }, webhookUrl: null, active: true,
    })
    const context = new TrendContext()
    const unfollow = followFeed(context, api.bus)
    // two runners over identical copies of the firehose: the product's trend topology, and the rest
    const sourceOptions = { seed: 7, eventsPerSecond: 100, realtime: true, speed: 60, partitions: 2, startTime: DEMO_START, ...o.source }
    const trends = runnerFor(trendsTopology(new SyntheticSource(sourceOptions), {
      signals: new TeeSink<TrendSignal>('trend-signals', [api.sinks.trends, operatorSink(new KeywordTrendAlertOperator('brand-keyword-trend', api.watchlist), api.sinks.alerts)]),
      late: { name: 'trend-late', write() {} },
    }, { warmupMs: 3 * MINUTE, entityTypes: ['hashtag', 'sound'] }))
    const runner = runnerFor(demoTopology(new SyntheticSource(sourceOptions), {
      trends: [], scores: [api.sinks.scores], alerts: [], firehose: [posts.sink()],
      rules: { watchlist: api.watchlist, alerts: api.sinks.alerts },
    }))
    api.app.use(generatorRouter({ context, posts, config: o.generator, authorize: (req) => api.store.verifyKey(presentedKey(req) ?? '') !== null }))
    api.app.use(radarRouter({ feed: { wsUrl: api.feed.opts.path } }))
    const running = await api.listen({ port: 0, runners: [trends, runner] })
    const done = Promise.all([trends.run(), runner.run()])
    return {
      url: running.url, pageUrl: `${running.url}/radar/?key=${encodeURIComponent(key)}`, context, posts, runner, server: running.server, api, key, brandId: brand.id, done,
      async stop() {
        trends.stop()
        runner.stop()
        await done.catch(() => {})
        unfollow()
        running.server.closeAllConnections()
        await running.close()
        await api.close()
      },
    }
  }

  const state = new RadarState()
  const runner = runnerFor(demoTopology(source, { trends: [state.trendSink()], scores: [state.scoreSink()], alerts: [state.alertSink()], firehose: [posts.sink()] }))
  const app = express()
  app.use(generatorRouter({ context: state.trends, posts, config: o.generator }))
  app.use(radarRouter({ state, pollMs: o.pollMs ?? 500 }))
  const server = await new Promise<Server>((resolve, reject) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); s.on('error', reject) })
  const { port } = server.address() as AddressInfo
  const done = runner.run()
  const url = `http://127.0.0.1:${port}`
  return {
    url, pageUrl: `${url}/radar/`, context: state.trends, posts, runner, server, state, done,
    async stop() {
      runner.stop()
      await done.catch(() => {})
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
