// The OpenAPI 3.1 document, generated from the route declarations (routes.ts) and their zod schemas
// (schemas/api/). OpenAPI 3.1 schema objects are JSON Schema 2020-12, which is what zod emits; named
// schemas become components. Served at /api/openapi.json.
import { z } from 'zod'
import { toJsonSchema, WS_SCHEMA_ID, type JsonSchema } from '../../schemas/api/json-schema.ts'
import { ErrorSchema } from '../../schemas/api/common.ts'
import type { RouteDef } from './routes.ts'

const REF = '#/components/schemas/'

const STATUS_TEXT: Record<number, string> = {
  400: 'invalid input: the message names the field', 401: 'missing or invalid key', 404: 'not found (or not yours)',
  413: 'body too large', 429: 'rate limit exceeded: see Retry-After', 503: 'unavailable',
}

export function expressToOpenApiPath(p: string): string {
  return p.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
}

export function buildOpenApi(routes: readonly RouteDef[], o: { version: string; feedPath: string }): JsonSchema {
  const components: Record<string, JsonSchema> = {}
  const conv = (s: z.ZodType, io: 'input' | 'output') => {
    const r = toJsonSchema(s, io, REF)
    for (const [id, d] of Object.entries(r.defs)) if (!components[id]) components[id] = d
    return r.schema
  }
  const errorRef = conv(ErrorSchema, 'output')
  const rlHeaders = {
    'RateLimit-Limit': { $ref: '#/components/headers/RateLimit-Limit' },
    'RateLimit-Remaining': { $ref: '#/components/headers/RateLimit-Remaining' },
    'RateLimit-Reset': { $ref: '#/components/headers/RateLimit-Reset' },
  }
  const paths: Record<string, Record<string, unknown>> = {}
  for (const r of routes) {
    const path = expressToOpenApiPath(r.path)
    const parameters: unknown[] = []
    for (const [where, schema] of [['path', r.params], ['query', r.query]] as const) {
      if (!schema) continue
      const shape = (schema as unknown as z.ZodObject).shape as Record<string, z.ZodType>
      for (const [name, prop] of Object.entries(shape)) {
        const js = conv(prop, 'input')
        const description = (js.description as string | undefined) ?? undefined
        parameters.push({ name, in: where, required: where === 'path' || !prop.safeParse(undefined).success, ...(description ? { description } : {}), schema: js })
      }
    }
    const status = String(r.status ?? 200)
    const responses: Record<string, unknown> = {}
    const ok: Record<string, unknown> = { description: r.response?.description ?? 'ok' }
    if (r.access === 'tenant') ok.headers = rlHeaders
    if (r.response?.schema) ok.content = { [r.response.contentType ?? 'application/json']: { schema: conv(r.response.schema, 'output') } }
    else if (r.response?.contentType) ok.content = { [r.response.contentType]: { schema: { type: 'string' } } }
    responses[status] = ok
    const errs = new Set<number>(r.errors ?? [])
    if (r.params || r.query || r.body) errs.add(400)
    if (r.body) errs.add(413)
    if (r.access !== 'public') { errs.add(401); errs.add(429) }
    for (const e of [...errs].sort()) {
      if (e === 503 && r.path === '/api/ready') { responses['503'] = { description: 'not ready: the failing checks', content: { 'application/json': { schema: (ok.content as Record<string, { schema: unknown }>)['application/json'].schema } } }; continue }
      responses[String(e)] = {
        description: STATUS_TEXT[e] ?? 'error',
        ...(e === 429 ? { headers: { ...rlHeaders, 'Retry-After': { $ref: '#/components/headers/Retry-After' } } } : {}),
        content: { 'application/json': { schema: errorRef } },
      }
    }
    const op: Record<string, unknown> = {
      operationId: `${r.method}${path.replace(/[{}]/g, '').split('/').filter(Boolean).map((s) => s[0].toUpperCase() + s.slice(1).replace(/[-.](\w)/g, (_m, c: string) => c.toUpperCase())).join('')}` || 'root',
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: r.tags,
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: conv(r.body, 'input') } } } } : {}),
      responses,
      security: r.access === 'public' ? [] : r.access === 'admin' ? [{ adminKey: [] }] : [{ bearer: [] }, { apiKeyHeader: [] }],
    }
    ;(paths[path] ??= {})[r.method] = op
  }
  paths[o.feedPath] = {
    get: {
      operationId: 'getApiStream',
      summary: 'WebSocket live feed (protocol 1)',
      description: `Upgrade to a WebSocket (RFC 6455). Authenticate with Authorization: Bearer, X-API-Key or ?api_key=. Messages are JSON text frames described by ${WS_SCHEMA_ID} (schemas/api/ws-messages.schema.json); see docs/api.md for subscribe, sequence numbers, replay and gaps, heartbeats and slow clients.`,
      tags: ['live feed'],
      'x-websocket': true,
      parameters: [{ name: 'api_key', in: 'query', required: false, description: 'the API key, for clients that cannot set headers (browsers)', schema: { type: 'string' } }],
      responses: {
        '101': { description: 'switching protocols' },
        '401': { description: STATUS_TEXT[401], content: { 'application/json': { schema: errorRef } } },
        '429': { description: 'rate limit or per-tenant connection limit', headers: { 'Retry-After': { $ref: '#/components/headers/Retry-After' } }, content: { 'application/json': { schema: errorRef } } },
      },
      security: [{ bearer: [] }, { apiKeyHeader: [] }, { apiKeyQuery: [] }],
    },
  }
  const sorted: Record<string, JsonSchema> = {}
  for (const k of Object.keys(components).sort()) sorted[k] = components[k]
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'trendwire API',
      version: o.version,
      description: 'Trends, virality scores, semantic search, brands, alert subscriptions and the live feed of the trendwire engine. Tenant routes need an API key; admin routes the admin key. See docs/api.md.',
    },
    tags: [
      { name: 'operations' }, { name: 'trends' }, { name: 'posts' }, { name: 'search' }, { name: 'alerts' },
      { name: 'brands' }, { name: 'subscriptions' }, { name: 'tenants' }, { name: 'admin' }, { name: 'live feed' },
    ],
    paths,
    components: {
      schemas: sorted,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'a tenant API key: Authorization: Bearer tw_…' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'a tenant API key' },
        apiKeyQuery: { type: 'apiKey', in: 'query', name: 'api_key', description: 'a tenant API key (WebSocket upgrade only)' },
        adminKey: { type: 'http', scheme: 'bearer', description: 'the admin key (TRENDWIRE_ADMIN_KEY); also accepted as X-API-Key' },
      },
      headers: {
        'RateLimit-Limit': { description: 'bucket capacity (the burst a key may spend at once)', schema: { type: 'integer' } },
        'RateLimit-Remaining': { description: 'whole requests left in the bucket', schema: { type: 'integer' } },
        'RateLimit-Reset': { description: 'seconds until the bucket is full again', schema: { type: 'integer' } },
        'Retry-After': { description: 'seconds until the next request is allowed', schema: { type: 'integer' } },
      },
    },
  }
}
