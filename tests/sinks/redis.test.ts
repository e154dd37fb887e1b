// RedisStateSink, RedisFanoutSubscriber and RedisStateReader against a real redis-server (Debian's,
// started by tests/setup/redis.sh on 127.0.0.1:6390). Each test has its own key prefix and deletes
// its keys at the end.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import type { Redis } from 'ioredis'
import type { BrandAlert, LifecycleStage, TrendSignal, ViralityScore } from '../../schemas/outputs.ts'
import { RedisFanoutSubscriber, type FanoutGap, type FanoutMessage } from '../../sinks/redis/fanout.ts'
import { alertStateFormat, scoreStateFormat, trendStateFormat } from '../../sinks/redis/formats.ts'
import { RedisStateReader } from '../../sinks/redis/reader.ts'
import { RedisStateSink, type RedisStateSinkOptions } from '../../sinks/redis/state-sink.ts'
import type { Batch } from '../../streams/types.ts'
import { createRedis } from '../../sinks/redis/client.ts'
import { deletePrefix, PrivateRedis, testRedis, uniqueKeyPrefix } from '../helpers/redis.ts'

const quiet = pino({ level: 'silent' })
const MIN = 60_000
const T0 = Date.UTC(2024, 5, 1)

let redis: Redis
before(async () => { redis = await testRedis() })
after(async () => { redis.disconnect() })

function batch<T>(values: T[]): Batch<T> {
  return { values, times: values.map(() => 0) }
}

function signal(entity: string, windowEnd: number, score: number, o: Partial<TrendSignal> = {}): TrendSignal {
  return {
    entityType: 'hashtag', entity, platform: 'tiktok', windowStart: windowEnd - 10 * MIN, windowEnd,
    uses: 10, uniqueCreators: 5, totalEngagement: 100, growth: 1, baseline: 2, observed: 10, deviation: 3,
    score, stage: 'emerging', contributingPostIds: ['p1'], revision: 0, ...o,
  }
}

function score(postId: string, at: number, p: number): ViralityScore {
  return { postId, platform: 'reels', at, predictedFinalEngagement: 1000 * p, probTop1Pct: p, modelVersion: 'test', topFeatures: [] }
}

/** Runs a test body with a fresh prefix, removing its keys afterwards. */
async function withPrefix(name: string, body: (prefix: string) => Promise<void>): Promise<void> {
  const prefix = uniqueKeyPrefix(name)
  try {
    await body(prefix)
  } finally {
    await deletePrefix(redis, prefix)
  }
}

function sinkOpts(prefix: string, o: RedisStateSinkOptions = {}): RedisStateSinkOptions {
  return { prefix, flushIntervalMs: 5, retry: { initialDelayMs: 10, maxDelayMs: 100 }, ...o }
}

async function streamEntries(key: string): Promise<Array<{ id: string; t: string; d: unknown }>> {
  const raw = await redis.xrange(key, '-', '+')
  return raw.map(([id, f]) => ({ id, t: f[1], d: JSON.parse(f[3]) }))
}

test('trend state: versioned by (windowEnd, revision); ranking per window; lifecycle; pointer moves forward only', () => withPrefix('trend-state', async (prefix) => {
  const sink = new RedisStateSink('trends', redis, trendStateFormat(), sinkOpts(prefix), { logger: quiet })
  await sink.open()
  const w1 = T0 + 10 * MIN
  const w2 = T0 + 11 * MIN
  await sink.write(batch([signal('dance', w1, 5), signal('cat', w1, 9), signal('fyp', w1, 1, { entityType: 'hashtag' })]))
  await sink.write(batch([signal('dance', w2, 7, { stage: 'rising' }), signal('cat', w2, 2, { stage: 'rising' })]))
  // a late correction of w1 for dance (revision 1), then a re-delivered revision 0: only the first applies to w1's ranking
  await sink.write(batch([signal('dance', w1, 50, { revision: 1 }), signal('dance', w1, 5, { revision: 0 })]))
  await sink.flush()
  const reader = new RedisStateReader(redis, prefix)
  assert.equal(await reader.latestWindow('tiktok', 'hashtag'), w2)
  assert.deepEqual(await reader.topTrends('tiktok', { n: 2 }), [
    { entityType: 'hashtag', entity: 'dance', score: 7 },
    { entityType: 'hashtag', entity: 'cat', score: 2 },
  ])
  assert.deepEqual(await redis.zrevrange(sink.keys.trendWindow('tiktok', 'hashtag', w1), 0, -1, 'WITHSCORES'), ['dance', '50', 'cat', '9', 'fyp', '1'])
  const lc = await reader.trendLifecycle('tiktok', 'hashtag', 'dance')
  assert.ok(lc)
  assert.equal(lc.stage, 'rising')
  assert.equal(lc.latest.windowEnd, w2, 'the w1 correction is older than w2: entity state keeps w2')
  assert.equal(lc.stageSince, w2 - 10 * MIN)
  assert.deepEqual(lc.firstSeen, { emerging: w1 - 10 * MIN, rising: w2 - 10 * MIN })
  // an older window arriving late never moves the pointer back
  await sink.write(batch([signal('old', T0, 100)]))
  await sink.flush()
  assert.equal(await reader.latestWindow('tiktok', 'hashtag'), w2)
  await sink.close()
}))

test('idempotent re-delivery after a crash: replay from the last durable checkpoint changes no state and appends no fan-out entry twice', () => withPrefix('redelivery', async (prefix) => {
  const stages: LifecycleStage[] = ['emerging', 'rising', 'peaking', 'declining']
  const recs = (from: number, to: number): TrendSignal[] => {
    const out: TrendSignal[] = []
    for (let w = from; w < to; w++) {
      for (const e of ['a', 'b', 'c']) out.push(signal(e, T0 + w * MIN, (w * 7 + e.charCodeAt(0)) % 13, { stage: stages[Math.min(3, w >> 1)] }))
    }
    return out
  }
  const A = recs(0, 3)
  const B = recs(3, 6)
  const C = recs(6, 8)

  // Run 1: A, durable checkpoint 1, then B reaches Redis and the process dies before checkpoint 2.
  const s1 = new RedisStateSink('trends', redis, trendStateFormat(), sinkOpts(prefix), { logger: quiet })
  await s1.open()
  await s1.write(batch(A))
  const cp1 = await s1.preCommit()
  await s1.write(batch(B))
  await s1.flush()
  const stream = s1.stream!
  const afterCrash = await streamEntries(stream)
  assert.equal(afterCrash.length, A.length + B.length)
  const dump = async (): Promise<Record<string, string>> => {
    const out: Record<string, string> = {}
    for (const e of ['a', 'b', 'c']) Object.assign(out, Object.fromEntries(Object.entries(await redis.hgetall(s1.keys.trend('tiktok', 'hashtag', e))).map(([k, v]) => [`${e}.${k}`, v])))
    return out
  }
  const stateAfterB = await dump()

  // Run 2: restore checkpoint 1, replay B (already in Redis), then continue with C.
  const s2 = new RedisStateSink('trends', redis, trendStateFormat(), sinkOpts(prefix), { logger: quiet })
  await s2.open()
  await s2.restore(structuredClone(cp1))
  await s2.write(batch(B))
  await s2.flush()
  assert.deepEqual(await dump(), stateAfterB, 'replayed B changed no state')
  assert.equal(s2.stats.stateApplied, 0, 'every replayed state write was a no-op')
  assert.equal(s2.stats.fanoutAppended, 0)
  assert.equal(s2.stats.fanoutDuplicates, B.length)
  await s2.write(batch(C))
  await s2.preCommit()
  const entries = await streamEntries(stream)
  assert.equal(entries.length, A.length + B.length + C.length, 'each record fanned out exactly once')
  assert.deepEqual(entries.map((e) => e.d), [...A, ...B, ...C], 'in order')
  assert.deepEqual(entries.slice(0, afterCrash.length).map((e) => e.id), afterCrash.map((e) => e.id), 'same ids as the crashed run')
  await s2.close()

  // A fresh run (no checkpoint) on the same stream starts above the ids already there.
  const s3 = new RedisStateSink('trends', redis, trendStateFormat(), sinkOpts(prefix), { logger: quiet })
  await s3.open()
  await s3.write(batch(recs(8, 9)))
  await s3.flush()
  const all = await streamEntries(stream)
  assert.equal(all.length, A.length + B.length + C.length + 3)
  await s3.close()
}))

test('scores and alerts: newest wins, re-delivery is a no-op, lists bounded', () => withPrefix('scores', async (prefix) => {
  const sink = new RedisStateSink('scores', redis, scoreStateFormat(), sinkOpts(prefix), { logger: quiet })
  await sink.open()
  await sink.write(batch([score('p1', T0 + 2000, 0.2), score('p1', T0 + 1000, 0.9), score('p2', T0, 0.5)]))
  await sink.write(batch([score('p1', T0 + 2000, 0.2)]))
  await sink.flush()
  const reader = new RedisStateReader(redis, prefix)
  assert.equal((await reader.latestScore('p1'))?.probTop1Pct, 0.2, 'an older prediction never overwrites a newer one')
  assert.equal((await reader.latestScore('p2'))?.probTop1Pct, 0.5)
  assert.equal(await reader.latestScore('nope'), null)
  await sink.close()

  const alerts = new RedisStateSink('alerts', redis, alertStateFormat(), sinkOpts(prefix, { alertsPerBrand: 3 }), { logger: quiet })
  await alerts.open()
  const mk = (i: number): BrandAlert => ({ alertId: `al-${i}`, brandId: 'nimbus', rule: 'crisis', entity: 'boycottnimbuscola', postId: null, severity: 'critical', reason: `r${i}`, at: T0 + i })
  await alerts.write(batch([mk(1), mk(2), mk(3), mk(4), mk(5)]))
  await alerts.write(batch([mk(2), mk(5)]))
  await alerts.flush()
  assert.deepEqual((await reader.recentAlerts('nimbus')).map((a) => a.alertId), ['al-5', 'al-4', 'al-3'])
  await alerts.close()
}))

test('expiry: every state key has a TTL no longer than configured', () => withPrefix('ttl', async (prefix) => {
  const ttl = { trendMs: 900_000, windowMs: 300_000, scoreMs: 600_000, alertMs: 700_000 }
  const trends = new RedisStateSink('trends', redis, trendStateFormat(), sinkOpts(prefix, { ttl }), { logger: quiet })
  const scores = new RedisStateSink('scores', redis, scoreStateFormat(), sinkOpts(prefix, { ttl }), { logger: quiet })
  const alerts = new RedisStateSink('alerts', redis, alertStateFormat(), sinkOpts(prefix, { ttl }), { logger: quiet })
  for (const s of [trends, scores, alerts]) await s.open()
  await trends.write(batch([signal('dance', T0 + MIN, 3)]))
  await scores.write(batch([score('p1', T0, 0.1)]))
  await alerts.write(batch([{ alertId: 'x1', brandId: 'b', rule: 'crisis', entity: 'e', postId: null, severity: 'info', reason: '', at: T0 }]))
  for (const s of [trends, scores, alerts]) await s.flush()
  const k = trends.keys
  const expect: Array<[string, number]> = [
    [k.trend('tiktok', 'hashtag', 'dance'), ttl.trendMs],
    [k.trendWindow('tiktok', 'hashtag', T0 + MIN), ttl.windowMs],
    [k.trendWindowRevisions('tiktok', 'hashtag', T0 + MIN), ttl.windowMs],
    [k.trendLatest('tiktok', 'hashtag'), ttl.windowMs],
    [k.score('p1'), ttl.scoreMs],
    [k.alert('x1'), ttl.alertMs],
    [k.brandAlerts('b'), ttl.alertMs],
  ]
  for (const [key, max] of expect) {
    const pttl = await redis.pttl(key)
    assert.ok(pttl > 0 && pttl <= max, `${key}: pttl ${pttl}, expected (0, ${max}]`)
  }
  // streams are bounded by MAXLEN instead of a TTL
  assert.equal(await redis.pttl(trends.stream!), -1)
  for (const s of [trends, scores, alerts]) await s.close()
}))

test('fan-out: two subscribers both receive every message, in order', () => withPrefix('fanout-two', async (prefix) => {
  const sink = new RedisStateSink('scores', redis, scoreStateFormat(), sinkOpts(prefix), { logger: quiet })
  await sink.open()
  const subs = [0, 1].map(() => new RedisFanoutSubscriber(redis, { prefix, channels: ['scores'], blockMs: 200 }, { logger: quiet }))
  const got: FanoutMessage[][] = [[], []]
  const N = 250
  const all = Promise.all(subs.map((s, i) => new Promise<void>((resolve, reject) => {
    s.subscribe((msgs) => {
      got[i].push(...msgs)
      if (got[i].length >= N) resolve()
    }).catch(reject)
  })))
  // wait until both subscribers have pinned their start position ('$') before publishing
  await waitFor(() => subs.every((s) => Object.keys(s.position()).length === 1))
  const recs = Array.from({ length: N }, (_, i) => score(`p${i}`, T0 + i, i / N))
  for (let i = 0; i < N; i += 50) await sink.write(batch(recs.slice(i, i + 50)))
  await sink.flush()
  await all
  for (const g of got) {
    assert.equal(g.length, N)
    assert.deepEqual(g.map((m) => (m.data as ViralityScore).postId), recs.map((r) => r.postId))
    assert.ok(g.every((m) => m.type === 'score' && m.channel === 'scores'))
  }
  assert.deepEqual(got[0].map((m) => m.id), got[1].map((m) => m.id))
  for (const s of subs) await s.close()
  await sink.close()
}))

test('fan-out: a reconnecting subscriber resumes from its last id and misses nothing', () => withPrefix('fanout-resume', async (prefix) => {
  const sink = new RedisStateSink('trends', redis, trendStateFormat(), sinkOpts(prefix), { logger: quiet })
  await sink.open()
  const first = Array.from({ length: 40 }, (_, i) => signal(`t${i}`, T0 + MIN, i))
  const second = Array.from({ length: 60 }, (_, i) => signal(`u${i}`, T0 + 2 * MIN, i))
  await sink.write(batch(first))
  await sink.flush()

  // subscriber 1 reads everything retained, then its process "goes away"
  const seen1: FanoutMessage[] = []
  const s1 = new RedisFanoutSubscriber(redis, { prefix, channels: ['trends'], from: '0', blockMs: 200 }, { logger: quiet })
  const d1 = s1.subscribe((m) => { seen1.push(...m) })
  await waitFor(() => seen1.length === first.length)
  await s1.close()
  await d1
  const saved = s1.position()
  assert.equal(saved.trends, seen1.at(-1)!.id)

  // meanwhile more results are published
  await sink.write(batch(second))
  await sink.preCommit()

  // the new process resumes from the saved position
  const seen2: FanoutMessage[] = []
  const gaps: FanoutGap[] = []
  const s2 = new RedisFanoutSubscriber(redis, { prefix, channels: ['trends'], from: saved, blockMs: 200 }, { logger: quiet })
  const d2 = s2.subscribe((m) => { seen2.push(...m) }, { onGap: (g) => gaps.push(g) })
  await waitFor(() => seen2.length >= second.length)
  await s2.close()
  await d2
  assert.deepEqual(seen2.map((m) => (m.data as TrendSignal).entity), second.map((r) => r.entity), 'exactly the missed messages, in order')
  assert.deepEqual(gaps, [])
  await sink.close()
}))

test('fan-out: a subscriber that fell behind the MAXLEN backlog is told about the gap', () => withPrefix('fanout-gap', async (prefix) => {
  const sink = new RedisStateSink('scores', redis, scoreStateFormat(), sinkOpts(prefix, { fanout: { maxLen: 10 } }), { logger: quiet })
  await sink.open()
  await sink.write(batch([score('p0', T0, 0)]))
  await sink.flush()
  const [[firstId]] = await redis.xrange(sink.stream!, '-', '+')
  // far more than MAXLEN ~ 10 keeps (Redis trims whole 100-entry nodes)
  await sink.write(batch(Array.from({ length: 1000 }, (_, i) => score(`p${i + 1}`, T0 + i + 1, 0))))
  await sink.flush()
  const len = await redis.xlen(sink.stream!)
  assert.ok(len < 1001, `trimmed to ${len}`)
  const gaps: FanoutGap[] = []
  let got = 0
  const sub = new RedisFanoutSubscriber(redis, { prefix, channels: ['scores'], from: { scores: firstId }, blockMs: 200 }, { logger: quiet })
  const done = sub.subscribe((m) => { got += m.length }, { onGap: (g) => gaps.push(g) })
  await waitFor(() => got >= len)
  await sub.close()
  await done
  assert.equal(gaps.length, 1)
  assert.equal(gaps[0].after, firstId)
  assert.equal(gaps[0].resumedAt, (await redis.xrange(sink.stream!, '-', '+', 'COUNT', 1))[0][0])
  assert.equal(got, len, 'carries on with everything still retained')
  await sink.close()
}))

test('connection dropped mid-stream: nothing lost, nothing fanned out twice', () => withPrefix('conn-drop', async (prefix) => {
  const own = await testRedis('trendwire-test-drop')
  try {
    const sink = new RedisStateSink('scores', own, scoreStateFormat(), sinkOpts(prefix, { pipelineSize: 100 }), { logger: quiet })
    await sink.open()
    const id = await own.client('ID')
    const N = 3000
    const recs = Array.from({ length: N }, (_, i) => score(`p${i}`, T0 + i, 0.5))
    for (let i = 0; i < N; i += 500) {
      const p = sink.write(batch(recs.slice(i, i + 500)))
      // drop the sink's connection while pipelines are in flight: ioredis resends unanswered
      // commands after reconnecting (or the sink retries the pipeline) — either way some may run twice
      if (i === 1000) await redis.client('KILL', 'ID', String(id))
      await p
    }
    await sink.flush()
    const entries = await redis.xrange(sink.stream!, '-', '+')
    assert.equal(entries.length, N, 'every record fanned out exactly once')
    assert.deepEqual(entries.map((e) => JSON.parse(e[1][3]).postId), recs.map((r) => r.postId))
    assert.equal(await redis.exists(sink.keys.score('p0'), sink.keys.score(`p${N - 1}`)), 2)
    await sink.close()
  } finally {
    own.disconnect()
  }
}))

test('retries: while Redis is down the sink holds its records and retries with backoff, then delivers them', async () => {
  const server = await PrivateRedis.start()
  const client = createRedis({ url: server.url, name: 'trendwire-test-outage' })
  try {
    const prefix = 'outage:'
    const sink = new RedisStateSink('scores', client, scoreStateFormat(), sinkOpts(prefix, { retry: { initialDelayMs: 20, maxDelayMs: 100 } }), { logger: quiet })
    await sink.open()
    await sink.write(batch([score('before', T0, 0.1)]))
    await sink.flush()
    await server.kill()
    const during = Array.from({ length: 300 }, (_, i) => score(`p${i}`, T0 + i, 0.2))
    await sink.write(batch(during))
    const flushed = sink.flush()
    let settled = false
    void flushed.then(() => { settled = true }, () => { settled = true })
    await waitFor(() => sink.stats.retries >= 2)
    assert.equal(settled, false, 'flush waits while Redis is down')
    await server.restart() // empty: no persistence
    await flushed
    const check = createRedis({ url: server.url, name: 'check' })
    await check.connect()
    const entries = await check.xrange(sink.stream!, '-', '+')
    assert.deepEqual(entries.map((e) => JSON.parse(e[1][3]).postId), during.map((r) => r.postId), 'every record written during the outage arrived, once, in order')
    assert.equal(await check.hget(sink.keys.score('p299'), 'at'), String(T0 + 299))
    check.disconnect()
    await sink.close()
  } finally {
    client.disconnect()
    await server.kill()
  }
})

test('backpressure: write() holds the caller above the high-water mark until Redis catches up', () => withPrefix('backpressure', async (prefix) => {
  const sink = new RedisStateSink('scores', redis, scoreStateFormat(), sinkOpts(prefix, { pipelineSize: 50, highWaterMark: 100 }), { logger: quiet })
  await sink.open()
  await redis.client('PAUSE', 300, 'WRITE')
  const t0 = Date.now()
  const r = sink.write(batch(Array.from({ length: 200 }, (_, i) => score(`p${i}`, T0 + i, 0))))
  assert.ok(r instanceof Promise, 'above the high-water mark write() returns a Promise')
  await r
  assert.ok(Date.now() - t0 >= 200, 'held until Redis accepted writes again')
  await sink.flush()
  assert.equal(sink.write(batch([score('q', T0, 0)])), undefined, 'below the mark: no Promise')
  await sink.flush()
  assert.equal(await redis.xlen(sink.stream!), 201)
  await sink.close()
}))

test('options: bad config fails at construction naming the key', () => {
  assert.throws(() => new RedisStateSink('x', redis, scoreStateFormat(), { pipelineSize: 0 }), /pipelineSize/)
  assert.throws(() => new RedisStateSink('x', redis, scoreStateFormat(), { fanout: { channel: 'a b' } }), /fanout\.channel/)
  assert.throws(() => new RedisFanoutSubscriber(redis, { channels: [] }), /channels/)
})

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('timed out waiting for condition')
    await new Promise((r) => setTimeout(r, 10))
  }
}

