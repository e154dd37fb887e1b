import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { BrandAlert, TrendSignal, ViralityScore } from '../../schemas/outputs.ts'
import type { RoutedAlert } from '../../operators/alerts/types.ts'
import { RedisStateSink } from '../../sinks/redis/state-sink.ts'
import { trendStateFormat } from '../../sinks/redis/formats.ts'
import { noMetrics } from '../../streams/metrics.ts'
import { deletePrefix, testRedis, uniqueKeyPrefix } from '../helpers/redis.ts'
import { call, FeedClient, quiet, startServer, tenant, until, type TestServer } from './helpers.ts'

const MIN = 60_000
const T0 = Date.UTC(2024, 5, 1)

function signal(entity: string, o: Partial<TrendSignal> = {}): TrendSignal {
  return {
    entityType: 'hashtag', entity, platform: 'tiktok', windowStart: T0, windowEnd: T0 + MIN, uses: 10, uniqueCreators: 5,
    totalEngagement: 100, growth: 1, baseline: 2, observed: 10, deviation: 3, score: 6, stage: 'emerging', contributingPostIds: [], revision: 0, ...o,
  }
}
const score = (postId: string, p: number, platform: ViralityScore['platform'] = 'tiktok'): ViralityScore => ({ postId, platform, at: T0, predictedFinalEngagement: 10, probTop1Pct: p, modelVersion: 'm', topFeatures: [] })
const routed = (brandId: string, id: string): RoutedAlert => ({
  alert: { alertId: id, brandId, rule: 'crisis', entity: 'x', postId: null, severity: 'warning', reason: 'r', at: T0 }, tenantId: 'ignored', subscriptionIds: [], platform: null,
})
const publish = <T>(sink: { write(b: { values: T[]; times: number[] }, ctx: never): unknown }, values: T[]) => sink.write({ values, times: values.map(() => 0) }, undefined as never)
const data = (c: FeedClient) => c.messages.filter((m) => m.type === 'trend' || m.type === 'score' || m.type === 'alert')

async function withServer(body: (s: TestServer) => Promise<void>, o: Parameters<typeof startServer>[0] = {}): Promise<void> {
  const s = await startServer(o)
  try { await body(s) } finally { await s.close() }
}

test('feed: the upgrade needs a key; welcome, filtered subscription, per-stream sequence numbers; every frame follows the schema', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const anon = new FeedClient(s.wsUrl, null)
  await assert.rejects(anon.opened(), (e: any) => e.status === 401)
  const wrong = new FeedClient(s.url.replace('http', 'ws') + '/elsewhere', a.key)
  await assert.rejects(wrong.opened(), (e: any) => e.status === 404)

  const c = new FeedClient(s.wsUrl, a.key, { query: true })
  await c.opened()
  const welcome = await c.next((m) => m.type === 'welcome')
  assert.equal(welcome.tenantId, a.id)
  assert.equal(welcome.protocol, 1)
  assert.deepEqual(welcome.streams.trends, { epoch: welcome.streams.trends.epoch, first: 0, last: 0 })
  c.send({ type: 'subscribe', streams: ['trends', 'scores'], filter: { platforms: ['tiktok'], entityTypes: ['hashtag'], minScore: 5, minProbability: 0.5 } })
  const sub = await c.next((m) => m.type === 'subscribed')
  assert.deepEqual(sub.replayed, { trends: 0, scores: 0, alerts: 0 })
  await publish(s.api.sinks.trends, [signal('yes'), signal('reels', { platform: 'reels' }), signal('snd', { entityType: 'sound' }), signal('low', { score: 3 }), signal('yes2')])
  await publish(s.api.sinks.scores, [score('p1', 0.6), score('p2', 0.4), score('p3', 0.9, 'reels')])
  await publish(s.api.sinks.alerts, [routed('nobody', 'al1')])
  await c.next((m) => m.type === 'score')
  c.send({ type: 'ping', id: 'x1' })
  assert.deepEqual(await c.next((m) => m.type === 'pong'), { type: 'pong', id: 'x1' })
  assert.deepEqual(data(c).map((m) => [m.stream, m.seq, m.data.entity ?? m.data.postId]), [['trends', 1, 'yes'], ['trends', 5, 'yes2'], ['scores', 1, 'p1']])

  c.send({ type: 'subscribe', filter: { minScore: 'high' } })
  const err = await c.next((m) => m.type === 'error')
  assert.equal(err.field, 'filter.minScore')
  c.send({ type: 'shout' })
  assert.equal((await c.next((m) => m.type === 'error')).code, 'invalid_message')
  c.ws.send('not json')
  assert.match((await c.next((m) => m.type === 'error')).message, /not valid JSON/)
  assert.deepEqual(c.invalid, [], 'every frame matched ServerMessageSchema')
  c.close()
}))

test('feed: a reconnecting client gets what it missed from the replay buffer, a gap when it fell out, and a gap on a new epoch', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const c1 = new FeedClient(s.wsUrl, a.key)
  const welcome = await c1.next((m) => m.type === 'welcome')
  const epoch = welcome.streams.trends.epoch
  c1.send({ type: 'subscribe', streams: ['trends'] })
  await c1.next((m) => m.type === 'subscribed')
  await publish(s.api.sinks.trends, [signal('t1'), signal('t2'), signal('t3')])
  const last = await c1.next((m) => m.type === 'trend' && m.seq === 3)
  assert.equal(last.data.entity, 't3')
  c1.close()

  await publish(s.api.sinks.trends, [signal('t4'), signal('t5')])
  const c2 = new FeedClient(s.wsUrl, a.key)
  await c2.next((m) => m.type === 'welcome')
  c2.send({ type: 'subscribe', streams: ['trends'], resume: { trends: { epoch, seq: 3 } } })
  const sub2 = await c2.next((m) => m.type === 'subscribed')
  assert.equal(sub2.replayed.trends, 2)
  assert.deepEqual(data(c2).map((m) => m.seq), [4, 5], 'replayed before "subscribed"')
  c2.close()

  // 10 more: the buffer (5 per stream) now holds 11..15 only.
  await publish(s.api.sinks.trends, Array.from({ length: 10 }, (_, i) => signal(`u${i + 6}`)))
  const c3 = new FeedClient(s.wsUrl, a.key)
  await c3.next((m) => m.type === 'welcome')
  c3.send({ type: 'subscribe', streams: ['trends'], resume: { trends: { epoch, seq: 5 } } })
  const gap = await c3.next((m) => m.type === 'gap')
  assert.deepEqual(gap, { type: 'gap', stream: 'trends', reason: 'evicted', from: 6, to: 10, epoch })
  await c3.next((m) => m.type === 'subscribed')
  assert.deepEqual(data(c3).map((m) => m.seq), [11, 12, 13, 14, 15])
  c3.close()

  const c4 = new FeedClient(s.wsUrl, a.key)
  await c4.next((m) => m.type === 'welcome')
  c4.send({ type: 'subscribe', streams: ['trends'], resume: { trends: { epoch: 'an-old-run', seq: 900 } } })
  const g4 = await c4.next((m) => m.type === 'gap')
  assert.equal(g4.reason, 'epoch')
  assert.equal(g4.epoch, epoch)
  assert.equal((await c4.next((m) => m.type === 'subscribed')).replayed.trends, 5)
  for (const c of [c2, c3, c4]) assert.deepEqual(c.invalid, [])
  c4.close()
}, { feed: { replayPerStream: 5 } }))

test('feed: a batch subscription gets the messages of one publish in one frame, seq by seq; replay too; others are unchanged', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const open = async (batch: boolean | undefined, filter: object, resume?: object) => {
    const c = new FeedClient(s.wsUrl, a.key)
    const w = await c.next((m) => m.type === 'welcome')
    c.send({ type: 'subscribe', streams: ['trends', 'alerts'], filter, ...(batch === undefined ? {} : { batch }), ...(resume ? { resume } : {}) })
    const sub = await c.next((m) => m.type === 'subscribed')
    return { c, w, sub }
  }
  const b1 = await open(true, { minScore: 5 })
  const b2 = await open(true, { minScore: 5 })
  const bAll = await open(true, {})
  const plain = await open(undefined, { minScore: 5 })
  assert.equal(b1.sub.batch, true)
  assert.equal(plain.sub.batch, false, 'batching is opt-in')
  const frames0 = s.api.feed.stats.frames
  await publish(s.api.sinks.trends, [signal('t1'), signal('low', { score: 3 }), signal('t3'), signal('t4'), signal('t5')])
  await plain.c.next((m) => m.type === 'trend' && m.seq === 5)
  await bAll.c.next((m) => m.type === 'trend' && m.seq === 5)
  for (const { c } of [b1, b2]) {
    await c.next((m) => m.type === 'trend' && m.seq === 5)
    assert.deepEqual(c.frames.slice(-1), ['batch:4'], 'one frame')
    assert.deepEqual(data(c).map((m) => [m.type, m.stream, m.seq, m.data.entity]), [['trend', 'trends', 1, 't1'], ['trend', 'trends', 3, 't3'], ['trend', 'trends', 4, 't4'], ['trend', 'trends', 5, 't5']])
  }
  assert.deepEqual(bAll.c.frames.slice(-1), ['batch:5'])
  assert.deepEqual(plain.c.frames.slice(-4), ['trend', 'trend', 'trend', 'trend'])
  assert.deepEqual(data(plain.c).map((m) => m.seq), [1, 3, 4, 5])
  assert.equal(s.api.feed.stats.frames - frames0, 3 + 4, 'a frame per batch client, a frame per message for the other')

  // a publish that matches nothing sends nothing
  await publish(s.api.sinks.trends, [signal('low2', { score: 1 })])
  await bAll.c.next((m) => m.type === 'trend' && m.seq === 6)
  assert.deepEqual(b1.c.frames.slice(-1), ['batch:4'])

  // resume: the missed messages come as batch frames before "subscribed"; a gap is still its own message
  b1.c.close()
  await publish(s.api.sinks.trends, [signal('t7'), signal('t8')])
  await publish(s.api.sinks.trends, [signal('t9')])
  const again = await open(true, { minScore: 5 }, { trends: { epoch: b1.w.streams.trends.epoch, seq: 5 } })
  assert.deepEqual(again.c.frames, ['welcome', 'batch:3', 'subscribed'])
  assert.equal(again.sub.replayed.trends, 3)
  assert.deepEqual(data(again.c).map((m) => m.seq), [7, 8, 9])
  const stale = await open(true, {}, { trends: { epoch: 'an-old-run', seq: 3 } })
  assert.deepEqual(stale.c.frames, ['welcome', 'gap', 'batch:9', 'subscribed'])
  for (const c of [b1.c, b2.c, bAll.c, plain.c, again.c, stale.c]) { assert.deepEqual(c.invalid, []); c.close() }
}))

test('feed: batches are cut at maxBatchMessages', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const c = new FeedClient(s.wsUrl, a.key)
  await c.next((m) => m.type === 'welcome')
  c.send({ type: 'subscribe', streams: ['trends'], batch: true })
  await c.next((m) => m.type === 'subscribed')
  await publish(s.api.sinks.trends, Array.from({ length: 7 }, (_, i) => signal(`e${i}`)))
  await c.next((m) => m.type === 'trend' && m.seq === 7)
  assert.deepEqual(c.frames.slice(1), ['subscribed', 'batch:3', 'batch:3', 'batch:1'])
  assert.deepEqual(data(c).map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7])
  assert.deepEqual(c.invalid, [])
  c.close()
}, { feed: { maxBatchMessages: 3 } }))

test('feed: alerts reach only the tenant owning the brand; another tenant\'s brand cannot be subscribed to; the brand watchlist filters trends', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const b = await tenant(s, 'B')
  const brandA = (await call(s.url, 'POST', '/api/brands', a.key, { name: 'Kiko Café' })).body
  await call(s.url, 'POST', `/api/brands/${brandA.id}/subscriptions`, a.key, { hashtags: ['Café'], keywords: ['espresso'] })
  const brandA2 = (await call(s.url, 'POST', '/api/brands', a.key, { name: 'Zestly' })).body
  const brandB = (await call(s.url, 'POST', '/api/brands', b.key, { name: 'Pixelon' })).body

  const cb = new FeedClient(s.wsUrl, b.key)
  await cb.next((m) => m.type === 'welcome')
  cb.send({ type: 'subscribe', streams: ['alerts'], filter: { brandId: brandA.id } })
  const refused = await cb.next((m) => m.type === 'error')
  assert.equal(refused.code, 'not_found')
  assert.equal(refused.field, 'filter.brandId')
  cb.send({ type: 'subscribe', streams: ['alerts'] })
  await cb.next((m) => m.type === 'subscribed')

  const ca = new FeedClient(s.wsUrl, a.key)
  await ca.next((m) => m.type === 'welcome')
  ca.send({ type: 'subscribe', streams: ['alerts'] })
  await ca.next((m) => m.type === 'subscribed')
  const caOne = new FeedClient(s.wsUrl, a.key)
  await caOne.next((m) => m.type === 'welcome')
  caOne.send({ type: 'subscribe', streams: ['alerts', 'trends'], filter: { brandId: brandA.id } })
  await caOne.next((m) => m.type === 'subscribed')

  await publish(s.api.sinks.alerts, [routed(brandA.id, 'a1'), routed(brandB.id, 'b1'), routed(brandA2.id, 'a2'), routed('brd_unknown', 'u1')])
  await publish(s.api.sinks.trends, [signal('cafés'), signal('dance'), signal('Espresso', { entityType: 'term' }), signal('snd_1', { entityType: 'sound' }), signal('cafe', { platform: 'reels' })])
  await ca.next((m) => m.type === 'alert' && m.data.alertId === 'a2')
  await cb.next((m) => m.type === 'alert' && m.data.alertId === 'b1')
  await caOne.next((m) => m.type === 'trend' && m.data.platform === 'reels')
  assert.deepEqual(data(ca).map((m) => m.data.alertId), ['a1', 'a2'])
  assert.deepEqual(data(cb).map((m) => m.data.alertId), ['b1'])
  assert.deepEqual(data(caOne).map((m) => m.data.alertId ?? `${m.data.entity}/${m.data.platform}`), ['a1', 'cafés/tiktok', 'Espresso/tiktok', 'cafe/reels'])
  for (const c of [ca, cb, caOne]) { assert.deepEqual(c.invalid, []); c.close() }
}))

test('feed: heartbeats terminate a connection that stops answering pings; live ones stay', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const dead = new FeedClient(s.wsUrl, a.key, { autoPong: false })
  const live = new FeedClient(s.wsUrl, a.key)
  await dead.opened()
  await live.opened()
  const closed = await dead.whenClosed(5_000)
  assert.equal(closed.code, 1006, 'terminated, no close handshake')
  assert.equal(s.api.feed.stats.deadTerminated, 1)
  // The live client has answered several pings meanwhile and is still served.
  live.send({ type: 'ping', id: 'still-here' })
  assert.equal((await live.next((m) => m.type === 'pong')).id, 'still-here')
  assert.equal(s.api.feed.connections, 1)
  live.close()
}, { feed: { heartbeatMs: 50 } }))

test('feed: revoking a key closes its live connections with 4001', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const keys = (await call(s.url, 'GET', `/api/admin/tenants/${a.id}/keys`, 'admin-key-for-tests')).body.keys
  const c = new FeedClient(s.wsUrl, a.key)
  await c.next((m) => m.type === 'welcome')
  await call(s.url, 'DELETE', `/api/admin/tenants/${a.id}/keys/${keys[0].id}`, 'admin-key-for-tests')
  const closed = await c.whenClosed()
  assert.equal(closed.code, 4001)
  assert.equal((await new FeedClient(s.wsUrl, a.key).opened().catch((e) => e.status)), 401)
}))

/** A fat trend signal (~2 KB on the wire) so socket buffers fill quickly. */
const fat = (entity: string, scoreValue = 6) => signal(entity, { score: scoreValue, contributingPostIds: Array.from({ length: 100 }, (_, i) => `post_${entity}_${i}`) })

test('feed: a slow client is coalesced, then closed with 1013 and a reason; publishing and the other clients never wait', () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const slow = new FeedClient(s.wsUrl, a.key)
  const fast = new FeedClient(s.wsUrl, a.key)
  for (const c of [slow, fast]) {
    await c.next((m) => m.type === 'welcome')
    c.send({ type: 'subscribe', streams: ['trends'] })
    await c.next((m) => m.type === 'subscribed')
  }
  ;(slow.ws as any)._socket.pause()
  // Publish until the feed gives up on the slow client: how much a paused reader absorbs before the
  // server's buffer grows depends on the kernel's loopback buffers (autotuned, up to tens of MB).
  const MAX = 60_000
  let N = 0
  let maxPublishMs = 0
  while (s.api.feed.stats.slowClosed === 0 && N < MAX) {
    const t0 = performance.now()
    await publish(s.api.sinks.trends, Array.from({ length: 100 }, (_, j) => fat(`e${N + j}`)))
    N += 100
    maxPublishMs = Math.max(maxPublishMs, performance.now() - t0)
    // let the sockets drain, as a real engine's batches would be spaced
    await new Promise((r) => setImmediate(r))
  }
  await until(() => s.api.feed.stats.slowClosed === 1, 10_000, `slow client closed (after ${N} messages)`)
  assert.ok(s.api.feed.stats.coalesced >= 1, 'it was coalesced first')
  await fast.next((m) => m.type === 'trend' && m.seq === N, 10_000, 'fast client got everything')
  assert.equal(data(fast).length, N)
  assert.ok(maxPublishMs < 500, `a publish took ${maxPublishMs.toFixed(1)} ms`)
  ;(slow.ws as any)._socket.resume()
  const closed = await slow.whenClosed(10_000)
  assert.equal(closed.code, 1013)
  assert.match(closed.reason, /^slow consumer: more than 300 messages held/)
  assert.ok(data(slow).length < N)
  assert.deepEqual(fast.invalid, [])
  fast.close()
}, { feed: { softBufferBytes: 32 * 1024, maxHeldMessages: 300, closeGraceMs: 5_000 } }))

for (const batch of [false, true]) test(`feed: while slow, a client keeps the latest update per entity and every alert; it is told how many were dropped${batch ? ' (batch subscription)' : ''}`, () => withServer(async (s) => {
  const a = await tenant(s, 'A')
  const brand = (await call(s.url, 'POST', '/api/brands', a.key, { name: 'Zestly' })).body
  const c = new FeedClient(s.wsUrl, a.key)
  await c.next((m) => m.type === 'welcome')
  c.send({ type: 'subscribe', streams: ['trends', 'alerts'], batch })
  await c.next((m) => m.type === 'subscribed')
  ;(c.ws as any)._socket.pause()
  let n = 0
  while (s.api.feed.slowClients === 0) {
    if (n > 50_000) throw new Error('never became slow')
    await publish(s.api.sinks.trends, Array.from({ length: 100 }, () => fat(`filler${n++}`)))
  }
  for (let i = 1; i <= 20; i++) await publish(s.api.sinks.trends, [fat('hot', i)])
  await publish(s.api.sinks.alerts, [routed(brand.id, 'al-1'), routed(brand.id, 'al-2')])
  ;(c.ws as any)._socket.resume()
  const notice = await c.next((m) => m.type === 'coalesced', 10_000)
  assert.ok(notice.dropped.trends >= 19, JSON.stringify(notice))
  await c.next((m) => m.type === 'trend' && m.data.entity === 'hot', 10_000)
  const after = c.messages.slice(c.messages.indexOf(notice))
  const hot = after.filter((m) => m.type === 'trend' && m.data.entity === 'hot')
  assert.deepEqual(hot.map((m) => m.data.score), [20], 'only the latest update of the entity')
  assert.deepEqual(after.filter((m) => m.type === 'alert').map((m) => m.data.alertId), ['al-1', 'al-2'], 'alerts are never coalesced')
  const entities = new Set(data(c).filter((m) => m.type === 'trend').map((m) => m.data.entity))
  assert.equal(entities.size, n + 1, 'every entity arrived (its latest version)')
  if (batch) assert.ok(c.frames.every((f) => !['trend', 'alert'].includes(f)), 'held messages come in batches too')
  assert.deepEqual(c.invalid, [])
  c.close()
}, { feed: { softBufferBytes: 16 * 1024, maxHeldMessages: 1_000_000, hardBufferBytes: 1 << 30, maxSlowMs: 60_000 } }))

test('feed across processes: two API servers read the Redis fan-out; a client resumes on the other one', async () => {
  const redis = await testRedis('ws-fanout-test')
  const prefix = uniqueKeyPrefix('ws-fanout')
  const engineSink = new RedisStateSink<TrendSignal>('trends', redis, trendStateFormat(), { prefix, flushIntervalMs: 5 }, { logger: quiet })
  await engineSink.open({ checkpointId: 0, metrics: noMetrics })
  const s1 = await startServer({ redis: { client: redis, prefix, from: '0' }, feed: { replayPerStream: 100 } })
  const s2 = await startServer({ redis: { client: redis, prefix, from: '0' }, feed: { replayPerStream: 100 } })
  try {
    const t1 = await tenant(s1, 'A')
    const t2 = await tenant(s2, 'A-on-2')
    const c1 = new FeedClient(s1.wsUrl, t1.key)
    await c1.next((m) => m.type === 'welcome')
    c1.send({ type: 'subscribe', streams: ['trends'] })
    await c1.next((m) => m.type === 'subscribed')
    await engineSink.write({ values: [signal('r1'), signal('r2'), signal('r3')], times: [0, 0, 0] })
    const third = await c1.next((m) => m.type === 'trend' && m.data.entity === 'r3', 10_000)
    const seen = data(c1)
    assert.deepEqual(seen.map((m) => m.seq), [third.seq - 2, third.seq - 1, third.seq], 'dense per-stream sequence')
    const epoch = s1.api.feed.streamRanges().trends.epoch
    assert.match(epoch, /^\d+$/, 'the epoch is the fan-out stream base')
    c1.close()
    await engineSink.write({ values: [signal('r4'), signal('r5')], times: [0, 0] })
    await until(() => s2.api.feed.streamRanges().trends.last === third.seq + 2, 10_000, 'server 2 read the fan-out')
    const e2 = s2.api.feed.streamRanges().trends.epoch
    assert.equal(e2, epoch, 'both processes number the stream the same')
    const c2 = new FeedClient(s2.wsUrl, t2.key)
    await c2.next((m) => m.type === 'welcome')
    c2.send({ type: 'subscribe', streams: ['trends'], resume: { trends: { epoch: e2, seq: third.seq } } })
    await c2.next((m) => m.type === 'subscribed')
    assert.deepEqual(data(c2).map((m) => m.data.entity), ['r4', 'r5'])
    // The read side of server 2 was fed too.
    assert.equal((await call(s2.url, 'GET', '/api/trends/r5', t2.key)).status, 200)
    c2.close()
  } finally {
    await s1.close()
    await s2.close()
    await engineSink.close()
    await deletePrefix(redis, prefix)
    redis.disconnect()
  }
})
