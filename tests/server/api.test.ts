import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrandAlert, TrendSignal, ViralityScore } from '../../schemas/outputs.ts'
import type { RoutedAlert } from '../../operators/alerts/types.ts'
import { expressToOpenApiPath } from '../../server/api/openapi.ts'
import { TenantStore } from '../../server/api/store.ts'
import type { SearchBackend } from '../../server/api/search.ts'
import { Runner } from '../../streams/runner.ts'
import { Topology } from '../../streams/topology.ts'
import type { PollResult, Source } from '../../streams/types.ts'
import { ADMIN, call, quiet, startServer, tenant, until, type TestServer } from './helpers.ts'

const MIN = 60_000
const T0 = Date.UTC(2024, 5, 1)

function signal(entity: string, o: Partial<TrendSignal> = {}): TrendSignal {
  return {
    entityType: 'hashtag', entity, platform: 'tiktok', windowStart: T0, windowEnd: T0 + MIN, uses: 10, uniqueCreators: 5,
    totalEngagement: 100, growth: 1, baseline: 2, observed: 10, deviation: 3, score: 5, stage: 'emerging', contributingPostIds: ['p1'], revision: 0, ...o,
  }
}
const score = (postId: string, p: number, at = T0): ViralityScore => ({ postId, platform: 'reels', at, predictedFinalEngagement: 1000, probTop1Pct: p, modelVersion: 'm', topFeatures: [{ name: 'sharesPerMin', value: 3, contribution: 0.4 }] })
const routed = (brandId: string, tenantId: string, id: string, at = T0): RoutedAlert => ({
  alert: { alertId: id, brandId, rule: 'crisis', entity: 'x', postId: null, severity: 'warning', reason: 'r', at }, tenantId, subscriptionIds: [], platform: null,
})
const publish = <T>(s: { write(b: { values: T[]; times: number[] }, ctx: never): unknown }, values: T[]) => s.write({ values, times: values.map(() => 0) }, undefined as never)

async function withServer(body: (s: TestServer) => Promise<void>, o: Parameters<typeof startServer>[0] = {}): Promise<void> {
  const s = await startServer(o)
  try { await body(s) } finally { await s.close() }
}

test('openapi: every registered route is documented, every documented route exists, every $ref resolves', () => withServer(async (s) => {
  const r = await call(s.url, 'GET', '/api/openapi.json', null)
  assert.equal(r.status, 200)
  const doc = r.body
  assert.equal(doc.openapi, '3.1.0')
  const registered = new Set<string>()
  for (const layer of (s.api.app as any).router.stack) {
    if (!layer.route) continue
    for (const m of Object.keys(layer.route.methods)) registered.add(`${m} ${expressToOpenApiPath(layer.route.path)}`)
  }
  assert.ok(registered.size >= 30, `${registered.size} routes`)
  const documented = new Set<string>()
  for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) for (const m of Object.keys(ops)) documented.add(`${m} ${p}`)
  for (const r of registered) assert.ok(documented.has(r), `${r} is registered but not documented`)
  for (const d of documented) if (d !== 'get /api/stream') assert.ok(registered.has(d), `${d} is documented but not registered`)
  assert.ok(documented.has('get /api/stream'), 'the WebSocket feed is documented')
  const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? []
  for (const ref of refs) {
    const path = ref.slice(8, -1).replace(/^#\//, '').split('/')
    let node: any = doc
    for (const part of path) node = node?.[part]
    assert.ok(node, `${ref} does not resolve`)
  }
  const trends = doc.paths['/api/trends'].get
  assert.deepEqual(trends.parameters.map((p: any) => p.name), ['platform', 'entityType', 'stage', 'minScore', 'limit'])
  assert.ok(trends.responses['429'] && trends.responses['401'] && trends.responses['400'])
  assert.equal(doc.paths['/api/trends/{entity}'].get.parameters[0].in, 'path')
}))

test('operations: health, status page, metrics and readiness follow the engine', async () => {
  let stopped = false
  const idle: Source<number> = {
    name: 'idle',
    async open() {},
    async poll(): Promise<PollResult<number>> { await new Promise((r) => setTimeout(r, 2)); return { batches: [], done: stopped } },
    positions: () => ({}),
    async close() {},
  }
  const t = new Topology('idle-job')
  t.from(idle).map('noop', (x) => x)
  const runner = new Runner(t, { checkpointIntervalMs: 0, checkpointAtEnd: false }, { logger: quiet })
  const s = await startServer({}, [runner])
  try {
    assert.deepEqual((await call(s.url, 'GET', '/api/health', null)).body, { ok: true })
    const notYet = await call(s.url, 'GET', '/api/ready', null)
    assert.equal(notYet.status, 503)
    assert.deepEqual(notYet.body.checks.find((c: any) => c.name === 'engine'), { name: 'engine', ok: false })
    const done = runner.run()
    await until(() => runner.status().state === 'running', 5_000, 'runner running')
    const ready = await call(s.url, 'GET', '/api/ready', null)
    assert.equal(ready.status, 200, JSON.stringify(ready.body))
    assert.equal(ready.body.ready, true)
    const page = await call(s.url, 'GET', '/', null)
    assert.match(String(page.body), /<title>trendwire — status<\/title>/)
    const status = await call(s.url, 'GET', '/api/status', null)
    assert.equal(status.body.jobs[0].topology, 'idle-job')
    const m = await call(s.url, 'GET', '/metrics', null)
    assert.match(m.headers.get('content-type')!, /text\/plain/)
    for (const name of ['trendwire_runner_up{topology="idle-job",state="running"} 1', 'trendwire_ws_clients', 'trendwire_http_requests_total{method="GET",route="/api/ready",status="200"} 1', 'trendwire_sink_write_seconds', 'trendwire_webhook_delivery_seconds', 'trendwire_partition_event_lag_ms']) {
      assert.ok(String(m.body).includes(name), `metrics lack ${name}`)
    }
    runner.stop()
    stopped = true
    await done
    assert.equal((await call(s.url, 'GET', '/api/ready', null)).status, 503)
  } finally {
    await s.close()
  }
})

test('auth: keys required, wrong or revoked keys refused, admin routes need the admin key', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const none = await call(s.url, 'GET', '/api/trends', null)
  assert.equal(none.status, 401)
  assert.equal(none.body.error.code, 'unauthorized')
  assert.match(none.headers.get('www-authenticate')!, /Bearer/)
  assert.equal((await call(s.url, 'GET', '/api/trends', a.key.slice(0, -1) + (a.key.endsWith('A') ? 'B' : 'A'))).status, 401, 'one character off')
  assert.equal((await call(s.url, 'GET', '/api/trends', 'tw_000000000000_' + 'x'.repeat(43))).status, 401, 'unknown key id')
  assert.equal((await call(s.url, 'GET', '/api/trends', null, undefined, { 'x-api-key': a.key })).status, 200, 'X-API-Key works')
  assert.equal((await call(s.url, 'GET', '/api/admin/tenants', a.key)).status, 401, 'a tenant key is not the admin key')
  const me = await call(s.url, 'GET', '/api/me', a.key)
  assert.equal(me.body.tenant.id, a.id)
  const keys = await call(s.url, 'GET', `/api/admin/tenants/${a.id}/keys`, ADMIN)
  assert.equal(keys.body.keys.length, 1)
  assert.equal(keys.body.keys[0].key, undefined, 'keys are never shown again')
  assert.equal(keys.body.keys[0].hash, undefined)
  const second = await call(s.url, 'POST', `/api/admin/tenants/${a.id}/keys`, ADMIN)
  assert.equal(second.status, 201)
  assert.equal((await call(s.url, 'GET', '/api/me', second.body.key)).status, 200)
  assert.equal((await call(s.url, 'DELETE', `/api/admin/tenants/${a.id}/keys/${keys.body.keys[0].id}`, ADMIN)).status, 204)
  assert.equal((await call(s.url, 'GET', '/api/me', a.key)).status, 401, 'revoked')
  assert.equal((await call(s.url, 'GET', '/api/me', second.body.key)).status, 200, 'the other key still works')
}))

test('auth: without an admin key configured, admin routes are closed to everyone', () => withServer(async (s) => {
  const r = await call(s.url, 'POST', '/api/admin/tenants', '', { name: 'x' })
  assert.equal(r.status, 401)
  assert.match(r.body.error.message, /no admin key configured/)
}, { adminKey: '' }))

test('tenancy: tenant B can neither read nor change tenant A\'s brands, subscriptions or alerts', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const b = await tenant(s, 'B')
  const brand = (await call(s.url, 'POST', '/api/brands', a.key, { name: 'Nimbus Cola', aliases: ['nimbus'] })).body
  const sub = await call(s.url, 'POST', `/api/brands/${brand.id}/subscriptions`, a.key, { hashtags: ['#NimbusCola'], keywords: ['cola'] })
  assert.equal(sub.status, 201)
  assert.deepEqual(sub.body.hashtags, ['NimbusCola'])
  assert.equal(sub.body.webhookSecret, null)
  const bBrand = (await call(s.url, 'POST', '/api/brands', b.key, { name: 'Zestly' })).body
  for (const [method, path, body] of [
    ['GET', `/api/brands/${brand.id}`], ['PATCH', `/api/brands/${brand.id}`, { name: 'mine' }], ['DELETE', `/api/brands/${brand.id}`],
    ['GET', `/api/brands/${brand.id}/subscriptions`], ['POST', `/api/brands/${brand.id}/subscriptions`, {}],
    ['GET', `/api/brands/${brand.id}/subscriptions/${sub.body.id}`], ['PATCH', `/api/brands/${brand.id}/subscriptions/${sub.body.id}`, { active: false }],
    ['DELETE', `/api/brands/${brand.id}/subscriptions/${sub.body.id}`], ['POST', `/api/brands/${brand.id}/subscriptions/${sub.body.id}/rotate-secret`],
    ['GET', `/api/brands/${bBrand.id}/subscriptions/${sub.body.id}`],
    ['GET', `/api/brands/${brand.id}/alerts`], ['GET', `/api/alerts?brandId=${brand.id}`], ['GET', `/api/brands/${brand.id}/webhook-dead-letters`],
  ] as Array<[string, string, unknown?]>) {
    const r = await call(s.url, method, path, b.key, body)
    assert.equal(r.status, 404, `${method} ${path} by B: ${r.status}`)
  }
  assert.deepEqual((await call(s.url, 'GET', '/api/brands', b.key)).body.brands.map((x: any) => x.id), [bBrand.id])
  // Alerts of both brands flow; each tenant sees only its own.
  await publish(s.api.sinks.alerts, [routed(brand.id, a.id, 'alert-a'), routed(bBrand.id, b.id, 'alert-b')])
  assert.deepEqual((await call(s.url, 'GET', '/api/alerts', a.key)).body.alerts.map((x: BrandAlert) => x.alertId), ['alert-a'])
  assert.deepEqual((await call(s.url, 'GET', '/api/alerts', b.key)).body.alerts.map((x: BrandAlert) => x.alertId), ['alert-b'])
  assert.deepEqual((await call(s.url, 'GET', `/api/brands/${brand.id}/alerts`, a.key)).body.alerts.map((x: BrandAlert) => x.alertId), ['alert-a'])
  // A's brand untouched.
  assert.equal((await call(s.url, 'GET', `/api/brands/${brand.id}`, a.key)).body.name, 'Nimbus Cola')
  assert.equal((await call(s.url, 'GET', `/api/brands/${brand.id}/subscriptions/${sub.body.id}`, a.key)).body.active, true)
}))

test('validation: a bad request is a 400 whose message names the field', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const brand = (await call(s.url, 'POST', '/api/brands', a.key, { name: 'Kiko Café' })).body
  const cases: Array<[string, string, unknown, string]> = [
    ['GET', '/api/trends?minScore=high', undefined, 'query.minScore'],
    ['GET', '/api/trends?platform=tiktok,myspace', undefined, 'query.platform.1'],
    ['GET', '/api/trends?limit=0', undefined, 'query.limit'],
    ['GET', '/api/trends?min_score=1', undefined, 'query.min_score'],
    ['GET', '/api/search?text=a&postId=b', undefined, 'query.postId'],
    ['GET', '/api/search', undefined, 'query.text'],
    ['POST', '/api/brands', {}, 'body.name'],
    ['POST', '/api/brands', { name: 'x', colour: 'red' }, 'body.colour'],
    ['POST', `/api/brands/${brand.id}/subscriptions`, { hashtags: ['two words'] }, 'body.hashtags.0'],
    ['POST', `/api/brands/${brand.id}/subscriptions`, { thresholds: { viralProbability: 2 } }, 'body.thresholds.viralProbability'],
    ['POST', `/api/brands/${brand.id}/subscriptions`, { categories: ['gossip'] }, 'body.categories.0'],
    ['POST', `/api/brands/${brand.id}/subscriptions`, { webhookUrl: 'ftp://example.com/x' }, 'body.webhookUrl'],
    ['POST', `/api/brands/${brand.id}/subscriptions`, { webhookUrl: 'http://169.254.169.254/latest' }, 'body.webhookUrl'],
    ['POST', `/api/brands/${brand.id}/subscriptions`, '{"hashtags": [', 'body'],
  ]
  for (const [method, path, body, field] of cases) {
    const r = await call(s.url, method, path, a.key, body)
    assert.equal(r.status, 400, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`)
    assert.equal(r.body.error.code, 'invalid_request')
    assert.equal(r.body.error.field, field, `${method} ${path} ${JSON.stringify(body)}: ${r.body.error.message}`)
    assert.ok(r.body.error.message.startsWith(field), r.body.error.message)
  }
  const big = await call(s.url, 'POST', '/api/brands', a.key, { name: 'x', aliases: ['y'.repeat(200_000)] })
  assert.equal(big.status, 413)
  assert.equal((await call(s.url, 'GET', '/api/nope', a.key)).status, 404)
}))

test('rate limits: token bucket per key with RateLimit-* headers and Retry-After on 429', () => withServer(async (s) => {
  // One token per 100 s: no refill can land between the requests, however slow the machine.
  const a = await tenant(s, 'A', { capacity: 3, refillPerSec: 0.01 })
  const b = await tenant(s, 'B')
  const seen: Array<[number, string | null]> = []
  for (let i = 0; i < 4; i++) {
    const r = await call(s.url, 'GET', '/api/brands', a.key)
    seen.push([r.status, r.headers.get('ratelimit-remaining')])
    assert.equal(r.headers.get('ratelimit-limit'), '3')
    if (r.status === 429) {
      assert.equal(r.headers.get('retry-after'), '100')
      assert.equal(r.body.error.code, 'rate_limited')
      assert.equal(r.headers.get('ratelimit-reset'), '300')
      assert.equal(r.headers.get('ratelimit-policy'), '3;w=300')
    }
  }
  assert.deepEqual(seen, [[200, '2'], [200, '1'], [200, '0'], [429, '0']])
  assert.equal((await call(s.url, 'GET', '/api/brands', b.key)).status, 200, 'another key has its own bucket')
  const m = String((await call(s.url, 'GET', '/metrics', null)).body)
  assert.match(m, /trendwire_rate_limited_total\{scope="http"\} 1/)
}))

test('read side: current trends with filters, history across revisions, post scores', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  await publish(s.api.sinks.trends, [
    signal('café', { score: 9 }), signal('dance', { score: 4, stage: 'rising' }), signal('dance', { platform: 'reels', score: 7 }),
    signal('snd_1', { entityType: 'sound', score: 8 }), signal('old', { windowStart: T0 - 60 * MIN, windowEnd: T0 - 59 * MIN, score: 99 }),
    signal('café', { windowStart: T0 + MIN, windowEnd: T0 + 2 * MIN, score: 12, stage: 'rising' }),
    signal('café', { windowStart: T0 + MIN, windowEnd: T0 + 2 * MIN, score: 13, stage: 'rising', revision: 1 }),
  ])
  const all = (await call(s.url, 'GET', '/api/trends', a.key)).body.trends
  assert.deepEqual(all.map((t: TrendSignal) => `${t.entity}/${t.platform}/${t.score}`), ['café/tiktok/13', 'snd_1/tiktok/8', 'dance/reels/7', 'dance/tiktok/4'], 'old windows are not current')
  const f = (await call(s.url, 'GET', '/api/trends?platform=tiktok&entityType=hashtag&stage=rising&minScore=5', a.key)).body.trends
  assert.deepEqual(f.map((t: TrendSignal) => t.entity), ['café'])
  assert.equal((await call(s.url, 'GET', '/api/trends?limit=1', a.key)).body.trends.length, 1)
  const h = await call(s.url, 'GET', `/api/trends/${encodeURIComponent('#Cafés')}`, a.key)
  assert.equal(h.status, 200)
  assert.deepEqual(h.body.windows.map((t: TrendSignal) => [t.windowStart - T0, t.revision, t.score]), [[0, 0, 9], [MIN, 1, 13]])
  assert.equal((await call(s.url, 'GET', '/api/trends/dance?platform=reels', a.key)).body.windows.length, 1)
  assert.equal((await call(s.url, 'GET', '/api/trends/nothing', a.key)).status, 404)
  await publish(s.api.sinks.scores, [score('p1', 0.2, T0), score('p1', 0.7, T0 + MIN), score('p1', 0.1, T0 - MIN)])
  const sc = await call(s.url, 'GET', '/api/posts/p1/score', a.key)
  assert.equal(sc.body.probTop1Pct, 0.7, 'latest by event time wins')
  assert.equal((await call(s.url, 'GET', '/api/posts/p2/score', a.key)).status, 404)
}))

test('search: 503 without a backend; through the SearchBackend interface when given', async () => {
  await withServer(async (s) => {
    const a = await tenant(s, 'A')
    const r = await call(s.url, 'GET', '/api/search?text=dance', a.key)
    assert.equal(r.status, 503)
  })
  const calls: unknown[] = []
  const backend: SearchBackend = {
    async search(q) {
      calls.push(q)
      if (q.postId === 'missing') return null
      return [{ id: 'p9', kind: 'post', score: 0.9, platform: 'tiktok', text: 'dance dance' }]
    },
  }
  await withServer(async (s) => {
    const a = await tenant(s, 'A')
    const r = await call(s.url, 'GET', '/api/search?text=dance%20moves&k=3&platform=tiktok', a.key)
    assert.equal(r.status, 200)
    assert.deepEqual(r.body, { kind: 'posts', hits: [{ id: 'p9', kind: 'post', score: 0.9, platform: 'tiktok', text: 'dance dance' }] })
    assert.deepEqual(calls[0], { text: 'dance moves', postId: undefined, kind: 'posts', k: 3, platforms: ['tiktok'] })
    assert.equal((await call(s.url, 'GET', '/api/search?postId=missing&kind=trends', a.key)).status, 404)
  }, { search: backend })
})

test('subscriptions: CRUD, webhook secret shown once, rotation, thresholds merged', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const brand = (await call(s.url, 'POST', '/api/brands', a.key, { name: 'Orbita Air' })).body
  const created = await call(s.url, 'POST', `/api/brands/${brand.id}/subscriptions`, a.key, {
    name: 'crisis desk', keywords: ['delay'], categories: ['crisis'], platforms: ['tiktok'], thresholds: { crisisMinMentions: 5 }, webhookUrl: 'https://hooks.example.com/orbita',
  })
  assert.equal(created.status, 201)
  assert.match(created.body.webhookSecret, /^whsec_/)
  assert.deepEqual(created.body.thresholds, { trendScore: 0, viralProbability: 0.5, crisisMinMentions: 5 })
  const id = created.body.id
  const got = await call(s.url, 'GET', `/api/brands/${brand.id}/subscriptions/${id}`, a.key)
  assert.equal(got.body.webhookSecret, undefined, 'the secret is not shown again')
  assert.deepEqual(s.api.webhookTargets.webhookTarget(id), { url: 'https://hooks.example.com/orbita', secret: created.body.webhookSecret })
  const patched = await call(s.url, 'PATCH', `/api/brands/${brand.id}/subscriptions/${id}`, a.key, { thresholds: { viralProbability: 0.9 }, platforms: [] })
  assert.deepEqual(patched.body.thresholds, { trendScore: 0, viralProbability: 0.9, crisisMinMentions: 5 })
  assert.equal(patched.body.webhookSecret, null)
  const rotated = await call(s.url, 'POST', `/api/brands/${brand.id}/subscriptions/${id}/rotate-secret`, a.key)
  assert.notEqual(rotated.body.webhookSecret, created.body.webhookSecret)
  assert.equal(s.api.webhookTargets.webhookTarget(id)!.secret, rotated.body.webhookSecret)
  // The watchlist the alert rules read follows the edits.
  const v = s.api.watchlist.version
  assert.deepEqual(s.api.watchlist.brands().map((b) => [b.name, b.subscriptions.map((x) => x.thresholds.viralProbability)]), [['Orbita Air', [0.9]]])
  await call(s.url, 'PATCH', `/api/brands/${brand.id}/subscriptions/${id}`, a.key, { active: false })
  assert.ok(s.api.watchlist.version > v)
  assert.deepEqual(s.api.watchlist.brands(), [], 'inactive subscriptions are not watched')
  assert.equal(s.api.webhookTargets.webhookTarget(id), null)
  assert.equal((await call(s.url, 'DELETE', `/api/brands/${brand.id}/subscriptions/${id}`, a.key)).status, 204)
  assert.equal((await call(s.url, 'GET', `/api/brands/${brand.id}/subscriptions`, a.key)).body.subscriptions.length, 0)
  assert.equal((await call(s.url, 'DELETE', `/api/brands/${brand.id}`, a.key)).status, 204)
}))

test('store: persisted to a 0600 file, keys stored hashed, reloaded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-store-'))
  try {
    const path = join(dir, 'tenants.json')
    const s1 = new TenantStore({ path })
    const { tenant: t, key } = s1.createTenant({ name: 'A', kind: 'team' })
    s1.createBrand(t.id, { name: 'Quokka Shoes', aliases: [] })
    assert.equal(statSync(path).mode & 0o777, 0o600)
    const text = readFileSync(path, 'utf8')
    assert.equal(key.length, 59)
    assert.ok(!text.includes(key.slice(16)), 'the key secret is not in the file')
    const s2 = new TenantStore({ path })
    assert.equal(s2.verifyKey(key)?.tenant.id, t.id)
    assert.equal(s2.listBrands(t.id)[0].name, 'Quokka Shoes')
    assert.equal(s2.verifyKey(key + 'x'), null)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('keyword_trend alerts from a sink-side rule (for topologies that take sinks): alerts on the feed and in /api/alerts; state survives a checkpoint', async () => {
  const { keywordTrendAlertSink } = await import('../../server/api/rule-sink.ts')
  const { CollectSink } = await import('../../sinks/memory.ts')
  const { TeeSink } = await import('../../sinks/tee.ts')
  await withServer(async (s) => {
    const a = await tenant(s, 'A')
    const brand = (await call(s.url, 'POST', '/api/brands', a.key, { name: 'Kiko Café' })).body
    const sub = (await call(s.url, 'POST', `/api/brands/${brand.id}/subscriptions`, a.key, { hashtags: ['#Café'], categories: ['keyword_trend'] })).body
    const seen = new CollectSink<RoutedAlert>('seen')
    const ctx = { checkpointId: 0, metrics: { inc() {}, set() {} } }
    const sink = keywordTrendAlertSink(s.api.watchlist, new TeeSink('alerts', [s.api.sinks.alerts, seen]))
    await sink.open?.(ctx)
    await sink.write({ values: [signal('cafés'), signal('dance')], times: [T0 + MIN, T0 + MIN] }, ctx)
    assert.equal(seen.values.length, 1)
    assert.deepEqual(seen.values[0].subscriptionIds, [sub.id])
    const alerts = (await call(s.url, 'GET', '/api/alerts', a.key)).body.alerts
    assert.deepEqual(alerts.map((x: BrandAlert) => [x.rule, x.entity]), [['keyword_trend', 'cafés']])
    // Restored from a checkpoint, the same episode does not alert again.
    const state = await sink.preCommit!(1)
    const again = keywordTrendAlertSink(s.api.watchlist, seen)
    await again.restore!(structuredClone(state))
    await again.write({ values: [signal('café', { windowStart: T0 + MIN, windowEnd: T0 + 2 * MIN, stage: 'rising' })], times: [T0 + 2 * MIN] }, ctx)
    assert.equal(seen.values.length, 1)
  })
})
