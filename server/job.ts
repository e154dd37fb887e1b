// The main job on the embedded default: the synthetic firehose through every topology into the
// embedded stores, with the API, the live feed, the Trend Radar and the Reel generator on localhost.
//
//   firehose (one identical copy per topology: same seed and start time, like consumer groups)
//     → hashtag-activity  → ClickHouse hashtag_uses_1m / hashtag_engagement_10m, status page
//     → trends            → API live state + feed, keyword_trend alerts, ClickHouse trend_signals
//     → features          → ClickHouse video_features
//     → virality          → API live state + feed, ClickHouse virality_scores, viral_mention alerts
//     → brand-alerts      → crisis alerts
//   alerts (keyword_trend, viral_mention, crisis) → API + feed, signed webhooks, ClickHouse brand_alerts
//     → post-index        → similar posts for the generator
//     → search-index      → post vectors in ClickHouse (trend vectors come from the trends topology) → /api/search
//   late records and dead letters of every topology → ClickHouse late_records / dead_letters
//
// Each topology has its own Runner and checkpoint under DATA/checkpoints; a restart resumes them.
// With `kafka`, the firehose is a Kafka topic instead (Avro with the Confluent framing, or JSON), each
// topology in a consumer group of its own; the checkpoints own the offsets (docs/kafka.md).
// ClickHouse is chDB in DATA/clickhouse unless a server URL is given.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { brandAlertsTopology, type RoutedAlert } from '../operators/alerts/index.ts'
import { loadViralityModel } from '../operators/virality/scorer.ts'
import type { FirehoseEvent } from '../schemas/events.ts'
import type { TrendSignal, ViralityScore } from '../schemas/outputs.ts'
import {
  ClickHouseDeadLetterTable, ClickHouseSink, type ClickHouseSinkOptions, clickhouseSinksForHashtagActivity, createClickHouse, deadLetterRows, lateRecordRows, migrate,
  trendSignalRows, videoFeatureRows, viralityScoreRows, brandAlertRows, type ClickHouse,
} from '../sinks/clickhouse/index.ts'
import { TopNByWindowSink } from '../sinks/memory.ts'
import { TeeSink } from '../sinks/tee.ts'
import { FileCheckpointStore } from '../streams/checkpoint.ts'
import { Metrics } from '../streams/metrics.ts'
import { Runner } from '../streams/runner.ts'
import { SyntheticSource, type SyntheticOptionsInput } from '../streams/sources/synthetic.ts'
import type { Topology } from '../streams/topology.ts'
import type { DeadLetter, Sink, Source } from '../streams/types.ts'
import { createKafkaSource } from '../streams/kafka/index.ts'
import { FirehoseCodec } from '../schemas/codec.ts'
import { ConfluentSchemaRegistry } from '../schemas/registry.ts'
import type { LateRecord } from '../streams/windows.ts'
import { featuresTopology } from '../topologies/features.ts'
import { hashtagActivity, type HashtagWindowCount } from '../topologies/hashtag-activity.ts'
import { trendsTopology } from '../topologies/trends.ts'
import { viralityTopology } from '../topologies/virality.ts'
import { createTrendwireApi, keywordTrendAlertSink, type RunningApi, type TrendwireApi } from './api/index.ts'
import { presentedKey } from './api/auth.ts'
import { clickhouseHttpRouter } from './api/clickhouse-http.ts'
import { followFeed, generatorRouter, InMemoryPostIndex, postIndexTopology, TrendContext } from './generator/index.ts'
import { radarRouter } from '../dashboards/trend-radar.ts'
import { defaultEmbedder } from '../operators/embeddings/index.ts'
import { ClickHouseVectorIndex, type ClickHouseVectorIndexOptions } from '../sinks/search/clickhouse.ts'
import { trendItem } from '../sinks/search/items.ts'
import { VectorIndexSink } from '../sinks/search/sink.ts'
import type { VectorItem } from '../sinks/search/types.ts'
import { searchIndexTopology } from '../topologies/search-index.ts'
import { vectorIndexSearch } from './api/index.ts'

/** Kafka instead of the synthetic firehose: every topology consumes the topic in a group of its own. */
export interface KafkaInput {
  brokers: string[]
  topic: string
  /** prefix of the consumer groups: `<groupId>-<topology>` */
  groupId: string
  client: 'kafkajs' | 'node-rdkafka'
  format: 'avro' | 'json'
  /** Confluent Schema Registry URL; without it the schema files in schemas/avro/ with their fixed ids */
  schemaRegistryUrl?: string
}

export interface MainJobOptions {
  dataDir: string
  port: number
  host: string
  logger: Logger
  source: SyntheticOptionsInput
  /** read the firehose from Kafka instead of generating it */
  kafka?: KafkaInput
  /** 'embedded' (chDB in DATA/clickhouse), a server URL, or 'off' */
  clickhouse: string
  /** ClickHouse sink options for every ClickHouse sink of the job (rows per INSERT, buffer, retries) */
  clickhouseSink?: ClickHouseSinkOptions
  /** options of the ClickHouse vector index behind /api/search */
  vectorIndex?: ClickHouseVectorIndexOptions
  /**
   * The sinks-off baseline of the engine benchmark (benchmarks/engine-sinks.bench.ts): every topology
   * runs as with ClickHouse on, but what it would write to ClickHouse or the search index is dropped.
   * (`clickhouse: 'off'` instead leaves out the search-index topology, which has nowhere to write.)
   */
  discardSinks?: boolean
}

export interface MainJob {
  api: TrendwireApi
  http: RunningApi
  runners: Runner[]
  /** the Trend Radar with the demo tenant's key */
  radarUrl: string
  done: Promise<void>
  stop(): Promise<void>
}

/** The demo tenant, brand and subscription, created on first start; its key is kept in DATA/demo-key. */
function demoTenant(api: TrendwireApi, dataDir: string): string {
  const keyFile = join(dataDir, 'demo-key')
  if (existsSync(keyFile)) {
    const key = readFileSync(keyFile, 'utf8').trim()
    if (api.store.verifyKey(key)) return key
  }
  const { tenant, key } = api.store.createTenant({ name: 'Demo brand', kind: 'brand' })
  const brand = api.store.createBrand(tenant.id, { name: 'Kiko Café', aliases: ['kikocafe', 'kiko'] })
  api.store.createSubscription(tenant.id, brand.id, {
    name: 'demo', keywords: ['coffee'], hashtags: ['food', 'cooking', 'recipe', 'coffee', 'fyp', 'viral', 'dance'],
    categories: ['keyword_trend', 'viral_mention', 'crisis'], platforms: [],
    thresholds: { trendScore: 0, viralProbability: 0.5, crisisMinMentions: 3 }, webhookUrl: null, active: true,
  })
  writeFileSync(keyFile, key + '\n', { mode: 0o600 })
  return key
}

/**
 * Batches of the ClickHouse vector index: one INSERT, one part, per batch. Each part's HNSW graph is
 * rebuilt whenever parts merge, so many small parts cost the index build several times over (the
 * VectorIndexSink default of 500 suits Weaviate's batch API, not MergeTree); a second of search
 * freshness is the price (docs/search-and-state.md).
 */
const VECTOR_BATCHES = { batchSize: 5_000, flushIntervalMs: 1_000 }

/** A sink that drops records: for outputs this job does not keep when ClickHouse is off. */
const discard = <T>(name: string): Sink<T> => ({ name, write() {} })

export async function startMainJob(o: MainJobOptions): Promise<MainJob> {
  const log = o.logger
  mkdirSync(o.dataDir, { recursive: true })
  const metrics = new Metrics()
  const checkpoints = (name: string) => new FileCheckpointStore(join(o.dataDir, 'checkpoints'), name)
  // every topology reads an identical copy of the firehose: pin the start time for all of them
  const startFile = join(o.dataDir, 'start-time')
  if (!existsSync(startFile)) writeFileSync(startFile, String(o.source.startTime ?? Date.now()))
  const sourceOptions: SyntheticOptionsInput = { ...o.source, startTime: Number(readFileSync(startFile, 'utf8')) }
  let source: (topology: string) => Source<FirehoseEvent> = () => new SyntheticSource(sourceOptions)
  const kafkaSources: Array<Source<FirehoseEvent>> = []
  if (o.kafka) {
    const k = o.kafka
    const registry = k.schemaRegistryUrl ? await ConfluentSchemaRegistry.create({ url: k.schemaRegistryUrl, autoRegister: false }) : undefined
    const codec = await FirehoseCodec.create({ encodeTopic: null, topics: { [k.topic]: { format: k.format } } }, { registry })
    // sources are created up front (createKafkaSource is async); one consumer group per topology
    for (const name of ['hashtag-activity', 'trends', 'features', 'virality', 'brand-alerts', 'post-index', 'search-index']) {
      kafkaSources.push(await createKafkaSource<FirehoseEvent>({
        client: k.client, name: `kafka-${name}`, brokers: k.brokers, topics: [k.topic], groupId: `${k.groupId}-${name}`,
        decode: (messages) => codec.decodeBatch(messages),
      }))
    }
    const byName = new Map(['hashtag-activity', 'trends', 'features', 'virality', 'brand-alerts', 'post-index', 'search-index'].map((n, i) => [n, kafkaSources[i]]))
    source = (topology) => byName.get(topology)!
  }

  let ch: ClickHouse | null = null
  const discarding = o.discardSinks === true
  if (o.clickhouse !== 'off' && !discarding) {
    ch = createClickHouse(o.clickhouse === 'embedded' ? { embeddedPath: join(o.dataDir, 'clickhouse') } : { url: o.clickhouse })
    await migrate(ch, { logger: log })
  }
  const chDeadLetters = ch ? new ClickHouseDeadLetterTable(ch, { logger: log }) : null
  const chSink = <T>(name: string, format: ConstructorParameters<typeof ClickHouseSink<T>>[2]): Sink<T> =>
    ch ? new ClickHouseSink<T>(`clickhouse-${name}`, ch, format, o.clickhouseSink ?? {}, { deadLetters: chDeadLetters!, logger: log }) : discard<T>(name)
  const lateSink = (topology: string) => chSink<LateRecord<unknown>>(`late-${topology}`, lateRecordRows)
  const deadLetterSink = (topology: string) => chSink<DeadLetter>(`dead-letters-${topology}`, deadLetterRows)

  // semantic search (/api/search): post and trend vectors in ClickHouse, searched with cosineDistance
  const index = ch ? new ClickHouseVectorIndex('search', ch, o.vectorIndex ?? {}, { logger: log }) : null
  await index?.open()
  const postText = async (postId: string): Promise<string | null> => {
    const rs = await ch!.client.query({ query: "SELECT text FROM search_vectors FINAL WHERE kind = 'post' AND id = {id:String} LIMIT 1", query_params: { id: postId }, format: 'JSONEachRow' })
    return (await rs.json<{ text: string }>())[0]?.text ?? null
  }

  const adminKeyFile = join(o.dataDir, 'admin-key')
  if (!process.env.TRENDWIRE_ADMIN_KEY && !existsSync(adminKeyFile)) writeFileSync(adminKeyFile, randomBytes(24).toString('hex') + '\n', { mode: 0o600 })
  const adminKey = process.env.TRENDWIRE_ADMIN_KEY ?? readFileSync(adminKeyFile, 'utf8').trim()
  const api = createTrendwireApi({
    logger: log, dataDir: o.dataDir, adminKey,
    readiness: ch ? [{ name: 'clickhouse', check: async () => (await ch!.client.ping()).success }] : [],
    ...(index ? { search: vectorIndexSearch(index, { postText }) } : {}),
  })
  const key = demoTenant(api, o.dataDir)
  // Three topologies raise alerts. The live sink is stateless and the webhook sink merges the
  // checkpoints of several runners (sinks/webhooks/sink.ts), so those two are shared; a ClickHouse
  // sink's exactly-once lineage follows one runner's checkpoints, so each topology gets its own.
  const webhooks = api.webhooks()
  const alertsFor = (topology: string): Sink<RoutedAlert> => new TeeSink<RoutedAlert>(`alerts-${topology}`, [
    api.sinks.alerts,
    webhooks,
    ...(ch ? [mapSink<RoutedAlert, Parameters<typeof brandAlertRows.row>[0]>('alerts-to-rows', (r) => r.alert, chSink(`brand-alerts-${topology}`, brandAlertRows))] : []),
  ])

  const top = new TopNByWindowSink<HashtagWindowCount>('top-hashtags', (r) => r.hashtag, (r) => r.count, 15)
  const model = await loadViralityModel()
  const posts = new InMemoryPostIndex({ maxPosts: 50_000 })
  const context = new TrendContext()
  const unfollow = followFeed(context, api.bus)

  const activityCh = ch ? clickhouseSinksForHashtagActivity(ch, { logger: log, options: o.clickhouseSink }) : null
  const topologies: Array<{ t: Topology; deadLetters: Sink<DeadLetter> }> = [
    {
      t: hashtagActivity(source('hashtag-activity'), {
        hashtagUses: new TeeSink('hashtag-uses', [top, ...(activityCh ? [activityCh.sinks.hashtagUses] : [])]),
        hashtagEngagement: activityCh?.sinks.hashtagEngagement ?? discard('hashtag-engagement'),
        late: activityCh?.sinks.late ?? discard('late'),
      }),
      deadLetters: activityCh?.deadLetterSink ?? discard('dead-letters'),
    },
    {
      t: trendsTopology(source('trends'), {
        signals: new TeeSink<TrendSignal>('trend-signals', [
          api.sinks.trends, keywordTrendAlertSink(api.watchlist, alertsFor('trends')), chSink('trend-signals', trendSignalRows),
          ...(index ? [new VectorIndexSink<TrendSignal>('search-trends', index, (t) => trendItem(t, defaultEmbedder()), VECTOR_BATCHES, { logger: log })] : discarding ? [discard<TrendSignal>('search-trends')] : []),
        ]),
        late: lateSink('trends'),
      }),
      deadLetters: deadLetterSink('trends'),
    },
    {
      t: featuresTopology(source('features'), { features: chSink('video-features', videoFeatureRows), late: lateSink('features') }),
      deadLetters: deadLetterSink('features'),
    },
    {
      t: viralityTopology(source('virality'), {
        scores: new TeeSink<ViralityScore>('virality-scores', [api.sinks.scores, chSink('virality-scores', viralityScoreRows)]),
        late: lateSink('virality'),
        viralMentions: { watchlist: api.watchlist, alerts: alertsFor('virality') },
      }, { model }),
      deadLetters: deadLetterSink('virality'),
    },
    { t: brandAlertsTopology(source('brand-alerts'), { alerts: alertsFor('brand-alerts') }, api.watchlist), deadLetters: deadLetterSink('brand-alerts') },
    { t: postIndexTopology(source('post-index'), posts), deadLetters: discard('dead-letters-post-index') },
    ...(index || discarding
      ? [{ t: searchIndexTopology(source('search-index'), { posts: index ? new VectorIndexSink<VectorItem>('search-posts', index, (v) => v, VECTOR_BATCHES, { logger: log }) : discard<VectorItem>('search-posts') }), deadLetters: deadLetterSink('search-index') }]
      : []),
  ]
  const runners = topologies.map(({ t, deadLetters }) => new Runner(t, { checkpointIntervalMs: 5_000, maxBatchRecords: 2048 }, {
    store: checkpoints(t.name), logger: log.child({ topology: t.name }), metrics, deadLetterSink: deadLetters,
  }))

  api.app.use(generatorRouter({ context, posts, authorize: (req) => api.store.verifyKey(presentedKey(req) ?? '') !== null }))
  api.app.use(radarRouter({ feed: { wsUrl: api.feed.opts.path } }))
  if (ch) api.app.use(clickhouseHttpRouter({ ch, store: api.store, logger: log, adminKey }))
  const http = await api.listen({ port: o.port, host: o.host, runners, results: () => ({ topHashtags: top.top }) })
  const done = Promise.all(runners.map((r) => r.run())).then(() => {})
  let stopped = false
  return {
    api, http, runners, done,
    radarUrl: `${http.url}/radar/?key=${encodeURIComponent(key)}`,
    async stop() {
      if (stopped) return
      stopped = true
      for (const r of runners) r.stop()
      await done.catch((err) => log.error({ err }, 'a topology failed'))
      unfollow()
      http.server.closeAllConnections()
      await http.close()
      await api.close()
      await index?.close()
      await ch?.close()
    },
  }
}

/** Maps records before another sink, forwarding the checkpoint protocol. */
function mapSink<I, O>(name: string, fn: (v: I) => O, inner: Sink<O>): Sink<I> {
  return {
    name,
    open: inner.open?.bind(inner),
    write: (b, ctx) => inner.write({ values: b.values.map(fn), times: b.times }, ctx),
    preCommit: inner.preCommit?.bind(inner),
    commit: inner.commit?.bind(inner),
    restore: inner.restore?.bind(inner),
    close: inner.close?.bind(inner),
  }
}

