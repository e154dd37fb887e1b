// The API server: HTTP API + WebSocket live feed on one port, superseding server/status.ts (whose
// routes — /, /api/status, /api/health, /metrics — it keeps).
//
//   const api = createTrendwireApi({ dataDir: '.trendwire', logger })       // before the topologies
//   topology … .to(api.sinks.trends) / .to(api.sinks.scores) / .to(api.sinks.alerts)
//   crisisAlerts(events, api.watchlist).to(new TeeSink('alerts', [api.sinks.alerts, api.webhooks()]))
//   const server = await api.listen({ port: 8080, runners: [runner, …], results: () => … })
//   …
//   await server.close()                                                     // after the runners stop
//
// Embedded default: the outputs reach LiveState and the feed through an in-process bus (LiveSink).
// With `redis`, every API process reads the Redis fan-out instead (the engine writes through
// RedisStateSink, channels "trends", "scores", "alerts"), and LiveState falls back to Redis state keys.
import type { Server } from 'node:http'
import type { Express } from 'express'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import pino, { type Logger } from 'pino'
import type { RoutedAlert, Watchlist } from '../../operators/alerts/types.ts'
import type { TrendSignal, ViralityScore } from '../../schemas/outputs.ts'
import { WebhookSink, type WebhookDeadLetter, type WebhookSinkDeps, type WebhookSinkOptionsInput, type WebhookTargets } from '../../sinks/webhooks/sink.ts'
import { egressPolicySchema, type EgressPolicyInput } from '../../sinks/webhooks/ssrf.ts'
import type { BucketLimit } from '../../sinks/webhooks/token-bucket.ts'
import type { Runner } from '../../streams/runner.ts'
import type { Sink } from '../../streams/types.ts'
import { STATUS_PAGE } from '../status.ts'
import { InProcessBus, RedisFanoutBus, type FeedBus } from '../ws/bus.ts'
import { LiveFeed, type FeedOptionsInput } from '../ws/feed.ts'
import { createApp, finishApp } from './app.ts'
import { Auth, RateLimiter } from './auth.ts'
import { InMemoryLiveState, LiveSink, RedisBackedLiveState, type LiveState, type LiveStateOptions } from './live-state.ts'
import { ApiMetrics, type LagSample } from './metrics.ts'
import { buildOpenApi } from './openapi.ts'
import { apiRoutes, type ReadinessCheck, type RouteDef } from './routes.ts'
import type { SearchBackend } from './search.ts'
import { TenantStore } from './store.ts'

export interface TrendwireApiOptions {
  logger?: Logger
  /** tenants.json (keys, brands, subscriptions) is kept here; in memory only without it */
  dataDir?: string
  /** or an explicit file */
  storePath?: string
  /** a store of your own (tests) */
  store?: TenantStore
  /** default: TRENDWIRE_ADMIN_KEY; without one, admin routes are disabled */
  adminKey?: string
  /** per key, unless the tenant has its own; default 120 burst, 20/s */
  rateLimit?: BucketLimit
  feed?: FeedOptionsInput
  live?: LiveStateOptions
  search?: SearchBackend
  /** several processes: read the Redis fan-out written by RedisStateSink */
  redis?: { client: Redis; prefix?: string; channels?: { trends?: string; scores?: string; alerts?: string }; from?: '0' | '$' }
  /** where webhooks may go (and what subscription URLs are accepted): default public addresses only */
  egress?: EgressPolicyInput
  /** extra readiness checks (e.g. a ClickHouse ping) */
  readiness?: ReadinessCheck[]
  /** records behind, per source partition, when the source can tell */
  consumerLag?: () => LagSample[]
  version?: string
}

export interface ListenOptions {
  port: number
  host?: string
  runners?: Runner[]
  /** extra JSON for the status page (e.g. the latest top hashtags) */
  results?: () => unknown
}

export interface RunningApi {
  server: Server
  url: string
  wsUrl: string
  close(): Promise<void>
}

export interface TrendwireApi {
  readonly store: TenantStore
  readonly live: LiveState
  readonly feed: LiveFeed
  readonly bus: FeedBus
  readonly metrics: ApiMetrics
  /** what the alert rules read (operators/alerts) */
  readonly watchlist: Watchlist
  /** where webhooks go (sinks/webhooks) */
  readonly webhookTargets: WebhookTargets
  /** Sinks that publish to this API (in-process mode; with `redis` use RedisStateSink instead). */
  readonly sinks: { trends: Sink<TrendSignal>; scores: Sink<ViralityScore>; alerts: Sink<RoutedAlert> }
  readonly routes: readonly RouteDef[]
  /** the express application (for mounting more routers before listen()) */
  readonly app: Express
  openapi(): unknown
  /** A WebhookSink delivering to the subscriptions' webhook URLs; its dead letters show in the API. */
  webhooks(options?: WebhookSinkOptionsInput, deps?: WebhookSinkDeps): WebhookSink
  listen(o: ListenOptions): Promise<RunningApi>
  /** stop the feed and the bus (listen()'s close does the HTTP server) */
  close(): Promise<void>
}

export function createTrendwireApi(o: TrendwireApiOptions = {}): TrendwireApi {
  const log = (o.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })).child({ component: 'api' })
  const store = o.store ?? new TenantStore({ path: o.storePath ?? (o.dataDir ? join(o.dataDir, 'tenants.json') : undefined) })
  const adminKey = o.adminKey ?? process.env.TRENDWIRE_ADMIN_KEY
  if (!adminKey) log.warn('no admin key (TRENDWIRE_ADMIN_KEY): tenant management is disabled')
  const egress = egressPolicySchema.parse(o.egress ?? {})
  let runners: Runner[] = []
  let results: (() => unknown) | undefined
  const metrics = new ApiMetrics(() => runners, o.consumerLag)
  const auth = new Auth(store, adminKey)
  const limiter = new RateLimiter(o.rateLimit ?? { capacity: 120, refillPerSec: 20 })
  const memory = new InMemoryLiveState(o.live)
  const inProcess = o.redis ? null : new InProcessBus()
  const bus: FeedBus = inProcess ?? new RedisFanoutBus(o.redis!.client, { prefix: o.redis!.prefix, channels: o.redis!.channels, from: o.redis!.from, logger: log })
  const live: LiveState & { apply(r: Parameters<InMemoryLiveState['apply']>[0]): void } = o.redis ? new RedisBackedLiveState(memory, o.redis.client, o.redis.prefix) : memory
  const webhookSinks: WebhookSink[] = []
  let finished = false

  const feed = new LiveFeed(o.feed ?? {}, {
    authenticate: (req) => {
      // Browsers pass the key in the query string (api_key, or key as the Trend Radar page does).
      const p = auth.tenant(req, true) ?? (() => {
        const k = new URL(req.url ?? '/', 'http://x').searchParams.get('key')
        return k ? store.verifyKey(k) : null
      })()
      return p ? { tenantId: p.tenant.id, keyId: p.keyId } : null
    },
    rateLimit: (p) => {
      const t = store.getTenant(p.tenantId)
      const r = limiter.take(p.keyId, t?.rateLimit ?? null)
      return r.allowed ? null : r.retryAfterSec
    },
    keyActive: (k) => store.keyActive(k),
    brandTenant: (b) => store.brandTenant(b),
    ownsBrand: (t, b) => store.getBrand(t, b) !== null,
    watchTerms: (b) => store.watchTerms(b),
    watchVersion: () => store.version,
    log,
    metrics,
  }, inProcess ? { trends: inProcess.epoch, scores: inProcess.epoch, alerts: inProcess.epoch } : {})
  store.on('keysRevoked', () => feed.revalidate())
  bus.subscribe((records) => {
    live.apply(records)
    feed.receive(records)
  }, (gap) => feed.gap(gap))

  const dead = (): WebhookDeadLetter[] => webhookSinks.flatMap((s) => s.deadLetters)
  let doc: unknown = null
  const routes = apiRoutes({
    store, live, search: o.search ?? null, runners: () => runners, egress,
    readiness: () => [
      { name: 'live-state', check: () => live.ready() },
      { name: 'feed-bus', check: () => bus.ready() },
      ...(o.search?.ready ? [{ name: 'search', check: () => o.search!.ready!() }] : []),
      ...(o.readiness ?? []),
    ],
    metricsText: () => metrics.render(),
    openapi: () => doc,
    statusPage: STATUS_PAGE,
    results: () => results?.() ?? null,
    deadLetters: dead,
    feedInfo: () => ({ connections: feed.connections, streams: feed.streamRanges() }),
  })
  doc = buildOpenApi(routes, { version: o.version ?? '1.0.0', feedPath: feed.opts.path })
  const app = createApp(routes, { auth, limiter, metrics, log })

  const noop: Sink<never> = { name: 'api-noop', write() {} }
  const sinks = inProcess
    ? {
        trends: new LiveSink<TrendSignal>('api-trends', 'trends', inProcess, metrics),
        scores: new LiveSink<ViralityScore>('api-scores', 'scores', inProcess, metrics),
        alerts: new LiveSink<RoutedAlert>('api-alerts', 'alerts', inProcess, metrics, (r) => r.alert),
      }
    : { trends: noop as Sink<TrendSignal>, scores: noop as Sink<ViralityScore>, alerts: noop as Sink<RoutedAlert> }

  return {
    store, live, feed, bus, metrics, watchlist: store, webhookTargets: store, sinks, routes, app,
    openapi: () => doc,
    webhooks(options = {}, deps = {}) {
      const s = new WebhookSink('webhooks', store, { egress: o.egress, ...options }, { log: log.child({ component: 'webhooks' }), ...deps })
      metrics.watchWebhooks(s)
      webhookSinks.push(s)
      return s
    },
    async listen(l) {
      runners = l.runners ?? []
      results = l.results
      if (!finished) { finishApp(app, log); finished = true }
      const host = l.host ?? '127.0.0.1'
      const server = await new Promise<Server>((resolve, reject) => {
        const s = app.listen(l.port, host, () => resolve(s))
        s.once('error', reject)
      })
      server.on('upgrade', (req, socket, head) => {
        if (!feed.handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      })
      const { port } = server.address() as AddressInfo
      const h = host.includes(':') ? `[${host}]` : host
      log.info({ url: `http://${h}:${port}/`, ws: `ws://${h}:${port}${feed.opts.path}` }, 'API listening')
      return {
        server,
        url: `http://${h}:${port}`,
        wsUrl: `ws://${h}:${port}${feed.opts.path}`,
        close: async () => {
          await feed.close()
          server.closeIdleConnections?.()
          await new Promise<void>((resolve) => server.close(() => resolve()))
        },
      }
    },
    async close() {
      await feed.close()
      await bus.close()
    },
  }
}

export { TenantStore } from './store.ts'
export { InMemoryLiveState, LiveSink, BrandAlertSink, RedisBackedLiveState, type LiveState } from './live-state.ts'
export type { SearchBackend, SearchHit, SearchRequest } from './search.ts'
export { vectorIndexSearch, type VectorIndexSearchOptions } from './search.ts'

/**
 * Drop-in for startStatusServer (server/status.ts): the same arguments, and it serves the status
 * page plus the whole API and the live feed. Alerts and the read side need their sinks wired into
 * the topologies, which must exist before the runners: for that, use createTrendwireApi() first
 * and listen() once the runners exist (docs/api.md, "Wiring").
 */
export async function startApiServer(runners: Runner[], opts: ListenOptions & { api?: TrendwireApiOptions }): Promise<RunningApi & { api: TrendwireApi }> {
  const api = createTrendwireApi(opts.api)
  const running = await api.listen({ port: opts.port, host: opts.host, runners, results: opts.results })
  return {
    ...running, api,
    close: async () => {
      await running.close()
      await api.close()
    },
  }
}
export { keywordTrendAlertSink, OperatorSink } from './rule-sink.ts'
