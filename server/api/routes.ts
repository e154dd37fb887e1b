// Every HTTP route of the API, declared once: method, path, who may call it, the zod schemas of its
// inputs and output, and the handler. app.ts registers them with express (validation, auth, rate
// limits); openapi.ts documents them from the same declarations, so the document cannot drift
// (tests/server/api.test.ts checks every registered route is documented).
import type { Request, Response } from 'express'
import { z } from 'zod'
import { BrandAlertSchema, ErrorSchema, TrendSignalSchema, ViralityScoreSchema } from '../../schemas/api/common.ts'
import {
  AlertsQuery, ApiKeyCreatedSchema, ApiKeyInfoSchema, BrandCreate, BrandParams, BrandSchema, BrandUpdate, EntityParams, PostParams,
  SearchHitSchema, SearchQuery, SubscriptionCreate, SubscriptionCreatedSchema, SubscriptionParams, SubscriptionSchema, SubscriptionUpdate,
  TenantCreate, TenantCreatedSchema, TenantKeyParams, TenantParams, TenantSchema, TrendHistoryQuery, TrendsQuery,
} from '../../schemas/api/http.ts'
import type { WebhookDeadLetter } from '../../sinks/webhooks/sink.ts'
import { checkUrl, EgressBlockedError, type EgressPolicy } from '../../sinks/webhooks/ssrf.ts'
import type { Runner } from '../../streams/runner.ts'
import { ApiError, notFound } from './errors.ts'
import type { LiveState } from './live-state.ts'
import type { SearchBackend } from './search.ts'
import { publicSubscription, type Principal, type TenantStore } from './store.ts'

export type Method = 'get' | 'post' | 'patch' | 'put' | 'delete'
export type Access = 'public' | 'tenant' | 'admin'

export interface HandlerInput<P, Q, B> {
  params: P
  query: Q
  body: B
  /** the caller (tenant routes); null on public and admin routes */
  principal: Principal | null
  req: Request
  res: Response
}

export interface RouteDef<P = any, Q = any, B = any> {
  method: Method
  path: string
  summary: string
  description?: string
  tags: string[]
  access: Access
  params?: z.ZodType<P>
  query?: z.ZodType<Q>
  body?: z.ZodType<B>
  /** success status (default 200; 201 for creations, 204 for deletions) */
  status?: number
  response?: { description: string; schema?: z.ZodType; contentType?: string }
  /** error statuses worth documenting beyond the ones every route of its access level has */
  errors?: number[]
  /** Returns the JSON body; undefined with status 204 sends no body; a handler may also answer itself. */
  handler(input: HandlerInput<P, Q, B>): unknown | Promise<unknown>
}

const route = <P, Q, B>(d: RouteDef<P, Q, B>): RouteDef<P, Q, B> => d

export interface ReadinessCheck {
  name: string
  check(): Promise<boolean>
}

export interface RouteContext {
  store: TenantStore
  live: LiveState
  search: SearchBackend | null
  runners: () => readonly Runner[]
  readiness: () => ReadinessCheck[]
  egress: EgressPolicy
  metricsText(): Promise<string>
  openapi(): unknown
  statusPage: string
  results?: () => unknown
  deadLetters?: () => readonly WebhookDeadLetter[]
  feedInfo?: () => unknown
}

const list = <T extends z.ZodType>(key: string, item: T) => z.object({ [key]: z.array(item) })

/** 400 when a webhook URL points where deliveries are refused anyway (private or loopback literal). */
function checkWebhookUrl(url: string | null | undefined, egress: EgressPolicy): void {
  if (!url) return
  try {
    checkUrl(url, egress)
  } catch (err) {
    if (err instanceof EgressBlockedError) throw new ApiError(400, 'invalid_request', `body.webhookUrl: ${err.message}`, 'body.webhookUrl')
    throw err
  }
}

async function withTimeout(p: Promise<boolean>, ms: number): Promise<boolean> {
  let t: NodeJS.Timeout
  return Promise.race([p.catch(() => false), new Promise<boolean>((r) => { t = setTimeout(() => r(false), ms) })]).finally(() => clearTimeout(t))
}

export function apiRoutes(ctx: RouteContext): RouteDef[] {
  const tenantOf = (p: Principal | null) => p!.tenant.id
  const brandOr404 = (p: Principal | null, brandId: string) => {
    const b = ctx.store.getBrand(tenantOf(p), brandId)
    if (!b) throw notFound(`brand "${brandId}"`)
    return b
  }

  return [
    // --- operations ---------------------------------------------------------------------------------
    route({
      method: 'get', path: '/', summary: 'Status page (HTML)', tags: ['operations'], access: 'public',
      response: { description: 'the live status page of the running job', contentType: 'text/html' },
      handler: ({ res }) => { res.type('html').send(ctx.statusPage) },
    }),
    route({
      method: 'get', path: '/api/status', summary: 'What the running jobs are doing', tags: ['operations'], access: 'public',
      description: 'Runner status (watermark, checkpoints, records, state per operator) and the latest results of the status page.',
      response: { description: 'job status', schema: z.object({ jobs: z.array(z.record(z.string(), z.unknown())), results: z.unknown(), feed: z.unknown().optional() }) },
      handler: () => ({ jobs: ctx.runners().map((r) => r.status()), results: ctx.results?.() ?? null, feed: ctx.feedInfo?.() }),
    }),
    route({
      method: 'get', path: '/api/health', summary: 'Liveness: the process answers', tags: ['operations'], access: 'public',
      response: { description: 'always ok while the process runs', schema: z.object({ ok: z.literal(true) }) },
      handler: () => ({ ok: true }),
    }),
    route({
      method: 'get', path: '/api/ready', summary: 'Readiness: the engine runs and its sinks answer', tags: ['operations'], access: 'public',
      description: 'Ready when every job is running and every check (live state, feed bus, configured sinks) passes within 2 s. 503 otherwise, with the failing checks.',
      response: { description: 'ready', schema: z.object({ ready: z.boolean(), checks: z.array(z.object({ name: z.string(), ok: z.boolean() })) }) },
      errors: [503],
      handler: async ({ res }) => {
        const runners = ctx.runners()
        const checks = [{ name: 'engine', ok: runners.length > 0 && runners.every((r) => r.status().state === 'running') }]
        for (const c of ctx.readiness()) checks.push({ name: c.name, ok: await withTimeout(c.check(), 2_000) })
        const ready = checks.every((c) => c.ok)
        res.status(ready ? 200 : 503).json({ ready, checks })
      },
    }),
    route({
      method: 'get', path: '/metrics', summary: 'Prometheus metrics', tags: ['operations'], access: 'public',
      response: { description: 'Prometheus text exposition format 0.0.4', contentType: 'text/plain' },
      handler: async ({ res }) => { res.type('text/plain; version=0.0.4').send(await ctx.metricsText()) },
    }),
    route({
      method: 'get', path: '/api/openapi.json', summary: 'This document', tags: ['operations'], access: 'public',
      response: { description: 'OpenAPI 3.1 document', schema: z.record(z.string(), z.unknown()) },
      handler: () => ctx.openapi(),
    }),
    route({
      method: 'get', path: '/api/me', summary: 'The tenant and key making the request', tags: ['tenants'], access: 'tenant',
      response: { description: 'the caller', schema: z.object({ tenant: TenantSchema, keyId: z.string() }) },
      handler: ({ principal }) => ({ tenant: principal!.tenant, keyId: principal!.keyId }),
    }),

    // --- read side ----------------------------------------------------------------------------------
    route({
      method: 'get', path: '/api/trends', summary: 'Current trends', tags: ['trends'], access: 'tenant', query: TrendsQuery,
      description: "Each entity's latest window, if recent, ranked by score. Filter by platform, entity type, lifecycle stage and minimum score.",
      response: { description: 'trends, highest score first', schema: list('trends', TrendSignalSchema) },
      handler: async ({ query }) => ({
        trends: await ctx.live.currentTrends({ platforms: query.platform, entityTypes: query.entityType, stages: query.stage, minScore: query.minScore, limit: query.limit }),
      }),
    }),
    route({
      method: 'get', path: '/api/trends/:entity', summary: 'History of one trend', tags: ['trends'], access: 'tenant', params: EntityParams, query: TrendHistoryQuery,
      description: 'Every window kept for the entity (any surface form: "#Café", "cafe" and "cafés" are one hashtag), oldest first, across platforms and entity types unless filtered.',
      response: { description: 'windows, oldest first', schema: z.object({ entity: z.string(), windows: z.array(TrendSignalSchema) }) },
      errors: [404],
      handler: async ({ params, query }) => {
        const windows = await ctx.live.trendHistory(params.entity, { entityTypes: query.entityType, platforms: query.platform, since: query.since, limit: query.limit })
        if (windows.length === 0) throw notFound(`trend "${params.entity}"`)
        return { entity: params.entity, windows }
      },
    }),
    route({
      method: 'get', path: '/api/posts/:id/score', summary: "A post's latest virality score", tags: ['posts'], access: 'tenant', params: PostParams,
      response: { description: 'the latest score', schema: ViralityScoreSchema },
      errors: [404],
      handler: async ({ params }) => {
        const s = await ctx.live.postScore(params.id)
        if (!s) throw notFound(`score of post "${params.id}"`)
        return s
      },
    }),
    route({
      method: 'get', path: '/api/search', summary: 'Semantic search: posts or trends similar to a text or a post', tags: ['search'], access: 'tenant', query: SearchQuery,
      response: { description: 'nearest first', schema: z.object({ kind: z.enum(['posts', 'trends']), hits: z.array(SearchHitSchema) }) },
      errors: [404, 503],
      handler: async ({ query }) => {
        if (!ctx.search) throw new ApiError(503, 'unavailable', 'semantic search is not configured on this server')
        const hits = await ctx.search.search({ text: query.text, postId: query.postId, kind: query.kind, k: query.k, platforms: query.platform })
        if (hits === null) throw notFound(`post "${query.postId}" in the search index`)
        return { kind: query.kind, hits }
      },
    }),
    route({
      method: 'get', path: '/api/alerts', summary: "The tenant's alerts", tags: ['alerts'], access: 'tenant', query: AlertsQuery,
      description: "Alerts of the caller's brands only, newest first.",
      response: { description: 'alerts, newest first', schema: list('alerts', BrandAlertSchema) },
      errors: [404],
      handler: async ({ query, principal }) => {
        const brandIds = query.brandId !== undefined ? [brandOr404(principal, query.brandId).id] : ctx.store.listBrands(tenantOf(principal)).map((b) => b.id)
        return { alerts: await ctx.live.alerts({ brandIds, rules: query.rule, since: query.since, limit: query.limit }) }
      },
    }),

    // --- brands ---------------------------------------------------------------------------------------
    route({
      method: 'get', path: '/api/brands', summary: "The tenant's brands", tags: ['brands'], access: 'tenant',
      response: { description: 'brands', schema: list('brands', BrandSchema) },
      handler: ({ principal }) => ({ brands: ctx.store.listBrands(tenantOf(principal)) }),
    }),
    route({
      method: 'post', path: '/api/brands', summary: 'Create a brand', tags: ['brands'], access: 'tenant', body: BrandCreate, status: 201,
      response: { description: 'the brand', schema: BrandSchema },
      handler: ({ body, principal }) => ctx.store.createBrand(tenantOf(principal), body),
    }),
    route({
      method: 'get', path: '/api/brands/:brandId', summary: 'A brand', tags: ['brands'], access: 'tenant', params: BrandParams,
      response: { description: 'the brand', schema: BrandSchema }, errors: [404],
      handler: ({ params, principal }) => brandOr404(principal, params.brandId),
    }),
    route({
      method: 'patch', path: '/api/brands/:brandId', summary: 'Change a brand', tags: ['brands'], access: 'tenant', params: BrandParams, body: BrandUpdate,
      response: { description: 'the brand', schema: BrandSchema }, errors: [404],
      handler: ({ params, body, principal }) => ctx.store.updateBrand(tenantOf(principal), params.brandId, body) ?? (() => { throw notFound(`brand "${params.brandId}"`) })(),
    }),
    route({
      method: 'delete', path: '/api/brands/:brandId', summary: 'Delete a brand and its subscriptions', tags: ['brands'], access: 'tenant', params: BrandParams, status: 204,
      response: { description: 'deleted' }, errors: [404],
      handler: ({ params, principal }) => { if (!ctx.store.deleteBrand(tenantOf(principal), params.brandId)) throw notFound(`brand "${params.brandId}"`) },
    }),
    route({
      method: 'get', path: '/api/brands/:brandId/alerts', summary: "A brand's alerts", tags: ['alerts'], access: 'tenant', params: BrandParams, query: AlertsQuery.omit({ brandId: true }),
      response: { description: 'alerts, newest first', schema: list('alerts', BrandAlertSchema) }, errors: [404],
      handler: async ({ params, query, principal }) => {
        const b = brandOr404(principal, params.brandId)
        return { alerts: await ctx.live.alerts({ brandIds: [b.id], rules: query.rule, since: query.since, limit: query.limit }) }
      },
    }),
    route({
      method: 'get', path: '/api/brands/:brandId/webhook-dead-letters', summary: "Webhook deliveries to the brand's subscriptions that were given up", tags: ['alerts'], access: 'tenant', params: BrandParams,
      description: 'The most recent dead letters kept by this process (bounded), newest last.',
      response: {
        description: 'dead letters',
        schema: list('deadLetters', z.object({ idempotencyKey: z.string(), alertId: z.string(), subscriptionId: z.string(), url: z.string(), attempts: z.number().int(), lastError: z.string().nullable(), lastStatus: z.number().int().nullable(), at: z.number().int() })),
      },
      errors: [404],
      handler: ({ params, principal }) => {
        const b = brandOr404(principal, params.brandId)
        const dl = (ctx.deadLetters?.() ?? []).filter((d) => d.brandId === b.id && d.tenantId === b.tenantId)
        return { deadLetters: dl.map(({ body: _b, tenantId: _t, brandId: _r, ...rest }) => rest) }
      },
    }),

    // --- subscriptions --------------------------------------------------------------------------------
    route({
      method: 'get', path: '/api/brands/:brandId/subscriptions', summary: "A brand's subscriptions", tags: ['subscriptions'], access: 'tenant', params: BrandParams,
      response: { description: 'subscriptions', schema: list('subscriptions', SubscriptionSchema) }, errors: [404],
      handler: ({ params, principal }) => {
        brandOr404(principal, params.brandId)
        return { subscriptions: ctx.store.listSubscriptions(tenantOf(principal), params.brandId).map(publicSubscription) }
      },
    }),
    route({
      method: 'post', path: '/api/brands/:brandId/subscriptions', summary: 'Subscribe a brand to alerts', tags: ['subscriptions'], access: 'tenant', params: BrandParams, body: SubscriptionCreate, status: 201,
      description: 'Keywords, hashtags, alert categories, platforms, thresholds and an optional webhook URL. The response carries the webhook secret once.',
      response: { description: 'the subscription, with its webhook secret (shown once)', schema: SubscriptionCreatedSchema }, errors: [404],
      handler: ({ params, body, principal }) => {
        brandOr404(principal, params.brandId)
        checkWebhookUrl(body.webhookUrl, ctx.egress)
        const s = ctx.store.createSubscription(tenantOf(principal), params.brandId, body)!
        return { ...publicSubscription(s), webhookSecret: s.webhookSecret }
      },
    }),
    route({
      method: 'get', path: '/api/brands/:brandId/subscriptions/:subscriptionId', summary: 'A subscription', tags: ['subscriptions'], access: 'tenant', params: SubscriptionParams,
      response: { description: 'the subscription', schema: SubscriptionSchema }, errors: [404],
      handler: ({ params, principal }) => {
        const s = ctx.store.getSubscription(tenantOf(principal), params.brandId, params.subscriptionId)
        if (!s) throw notFound(`subscription "${params.subscriptionId}"`)
        return publicSubscription(s)
      },
    }),
    route({
      method: 'patch', path: '/api/brands/:brandId/subscriptions/:subscriptionId', summary: 'Change a subscription', tags: ['subscriptions'], access: 'tenant', params: SubscriptionParams, body: SubscriptionUpdate,
      description: 'Fields left out stay as they are; thresholds are merged. Setting a webhook URL where there was none returns a new secret, once.',
      response: { description: 'the subscription (with webhookSecret when one was created)', schema: SubscriptionCreatedSchema }, errors: [404],
      handler: ({ params, body, principal }) => {
        checkWebhookUrl(body.webhookUrl, ctx.egress)
        const r = ctx.store.updateSubscription(tenantOf(principal), params.brandId, params.subscriptionId, body)
        if (!r) throw notFound(`subscription "${params.subscriptionId}"`)
        return { ...publicSubscription(r.sub), webhookSecret: r.newSecret }
      },
    }),
    route({
      method: 'post', path: '/api/brands/:brandId/subscriptions/:subscriptionId/rotate-secret', summary: 'Replace the webhook secret', tags: ['subscriptions'], access: 'tenant', params: SubscriptionParams,
      description: 'The old secret stops signing at once; the new one is shown once.',
      response: { description: 'the new secret', schema: z.object({ webhookSecret: z.string() }) }, errors: [404],
      handler: ({ params, principal }) => {
        const secret = ctx.store.rotateWebhookSecret(tenantOf(principal), params.brandId, params.subscriptionId)
        if (!secret) throw notFound(`subscription "${params.subscriptionId}" with a webhook`)
        return { webhookSecret: secret }
      },
    }),
    route({
      method: 'delete', path: '/api/brands/:brandId/subscriptions/:subscriptionId', summary: 'Delete a subscription', tags: ['subscriptions'], access: 'tenant', params: SubscriptionParams, status: 204,
      response: { description: 'deleted' }, errors: [404],
      handler: ({ params, principal }) => { if (!ctx.store.deleteSubscription(tenantOf(principal), params.brandId, params.subscriptionId)) throw notFound(`subscription "${params.subscriptionId}"`) },
    }),

    // --- tenants and keys (admin) --------------------------------------------------------------------
    route({
      method: 'get', path: '/api/admin/tenants', summary: 'All tenants', tags: ['admin'], access: 'admin',
      response: { description: 'tenants', schema: list('tenants', TenantSchema) },
      handler: () => ({ tenants: ctx.store.listTenants() }),
    }),
    route({
      method: 'post', path: '/api/admin/tenants', summary: 'Create a tenant (a brand or an analyst team) and its first API key', tags: ['admin'], access: 'admin', body: TenantCreate, status: 201,
      response: { description: 'the tenant and its API key (shown once)', schema: TenantCreatedSchema },
      handler: ({ body }) => {
        const r = ctx.store.createTenant({ name: body.name, kind: body.kind, rateLimit: body.rateLimit ?? null })
        return { tenant: r.tenant, apiKey: { ...r.keyInfo, key: r.key } }
      },
    }),
    route({
      method: 'get', path: '/api/admin/tenants/:tenantId', summary: 'A tenant', tags: ['admin'], access: 'admin', params: TenantParams,
      response: { description: 'the tenant', schema: TenantSchema }, errors: [404],
      handler: ({ params }) => ctx.store.getTenant(params.tenantId) ?? (() => { throw notFound(`tenant "${params.tenantId}"`) })(),
    }),
    route({
      method: 'delete', path: '/api/admin/tenants/:tenantId', summary: 'Delete a tenant with its keys, brands and subscriptions', tags: ['admin'], access: 'admin', params: TenantParams, status: 204,
      response: { description: 'deleted' }, errors: [404],
      handler: ({ params }) => { if (!ctx.store.deleteTenant(params.tenantId)) throw notFound(`tenant "${params.tenantId}"`) },
    }),
    route({
      method: 'get', path: '/api/admin/tenants/:tenantId/keys', summary: "A tenant's API keys (never the keys themselves)", tags: ['admin'], access: 'admin', params: TenantParams,
      response: { description: 'keys', schema: list('keys', ApiKeyInfoSchema) }, errors: [404],
      handler: ({ params }) => {
        if (!ctx.store.getTenant(params.tenantId)) throw notFound(`tenant "${params.tenantId}"`)
        return { keys: ctx.store.listKeys(params.tenantId) }
      },
    }),
    route({
      method: 'post', path: '/api/admin/tenants/:tenantId/keys', summary: 'Create another API key', tags: ['admin'], access: 'admin', params: TenantParams, status: 201,
      response: { description: 'the key (shown once)', schema: ApiKeyCreatedSchema }, errors: [404],
      handler: ({ params }) => {
        const r = ctx.store.createKey(params.tenantId)
        if (!r) throw notFound(`tenant "${params.tenantId}"`)
        return { ...r.keyInfo, key: r.key }
      },
    }),
    route({
      method: 'delete', path: '/api/admin/tenants/:tenantId/keys/:keyId', summary: 'Revoke an API key', tags: ['admin'], access: 'admin', params: TenantKeyParams, status: 204,
      description: 'Requests with the key fail at once; live connections opened with it are closed (4001).',
      response: { description: 'revoked' }, errors: [404],
      handler: ({ params }) => { if (!ctx.store.revokeKey(params.tenantId, params.keyId)) throw notFound(`key "${params.keyId}"`) },
    }),
  ]
}

export { ErrorSchema }
