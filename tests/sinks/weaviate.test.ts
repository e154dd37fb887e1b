// WeaviateVectorIndex and VectorIndexSink against a FAKE Weaviate (tests/helpers/weaviate-fake.ts):
// no Weaviate server can run on this machine. The fake implements the REST and GraphQL calls the
// index makes, as Weaviate documents them, and injects failures. The same index against a real
// Weaviate: tests/sinks/weaviate.live.test.ts (set WEAVIATE_URL).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import { TextEmbedder } from '../../operators/embeddings/embed.ts'
import { postItem, trendItem } from '../../sinks/search/items.ts'
import { VectorIndexSink } from '../../sinks/search/sink.ts'
import type { SearchFilter, VectorItem } from '../../sinks/search/types.ts'
import { WeaviateVectorIndex, weaviateObjectId } from '../../sinks/search/weaviate.ts'
import { generateEvents } from '../../streams/sources/synthetic.ts'
import type { PostPublished } from '../../schemas/events.ts'
import type { TrendSignal } from '../../schemas/outputs.ts'
import { WeaviateFake } from '../helpers/weaviate-fake.ts'

const quiet = pino({ level: 'silent' })
const embedder = new TextEmbedder()
let fake: WeaviateFake
let posts: PostPublished[] = []
let items: VectorItem[] = []
let n = 0

before(async () => {
  fake = await WeaviateFake.start()
  const g = generateEvents({ seed: 7, maxEvents: 20_000, eventsPerSecond: 1_000, trends: 2, crises: 0 })
  posts = g.events.filter((e): e is PostPublished => e.kind === 'post').slice(0, 600)
  items = posts.map((p) => postItem(p, embedder))
})
after(async () => { await fake.close() })

/** An index on its own class prefix, so tests never see each other's objects. */
function newIndex(prefix?: string): WeaviateVectorIndex {
  return new WeaviateVectorIndex('test', { url: fake.url, classPrefix: prefix ?? `T${++n}x`, retry: { initialDelayMs: 5, maxDelayMs: 20 } }, { embedder, logger: quiet })
}

function bruteForce(q: ArrayLike<number>, k: number, f: SearchFilter): Array<{ id: string; distance: number }> {
  const plats = f.platform === undefined ? null : typeof f.platform === 'string' ? [f.platform] : f.platform
  const langs = f.language === undefined ? null : typeof f.language === 'string' ? [f.language] : f.language
  return items
    .filter((it) => (!plats || plats.includes(it.platform)) && (!langs || langs.includes(it.language)) && (f.from === undefined || it.time >= f.from) && (f.to === undefined || it.time < f.to))
    .map((it) => {
      let dot = 0, na = 0, nb = 0
      for (let j = 0; j < it.vector.length; j++) { dot += it.vector[j] * q[j]; na += it.vector[j] ** 2; nb += q[j] ** 2 }
      return { id: it.id, distance: na === 0 ? Infinity : 1 - dot / Math.sqrt(na * nb) }
    })
    .filter((x) => Number.isFinite(x.distance))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, k)
}

test('schema: both classes created once, vectorizer none, cosine, filterable properties', async () => {
  const a = newIndex('Shared')
  const b = newIndex('Shared')
  await a.open()
  await a.open()
  await b.open()
  assert.equal(fake.count('POST /v1/schema'), 2, 'one POST per class, ever')
  const cls = fake.classes.get('SharedPost')!
  assert.equal(cls.vectorizer, 'none')
  assert.deepEqual(cls.vectorIndexConfig, { distance: 'cosine' })
  assert.deepEqual(cls.properties!.map((p) => `${p.name}:${p.dataType[0]}`), ['itemId:text', 'platform:text', 'language:text', 'time:date', 'text:text', 'model:text', 'version:number'])
  assert.ok(fake.classes.has('SharedTrend'))
})

test('batch upsert: deterministic UUIDs, re-delivery is idempotent', async () => {
  const idx = newIndex()
  await idx.open()
  await idx.upsert(items)
  await idx.upsert(items.slice(0, 250)) // re-delivered after a "crash"
  const store = fake.objects.get(idx.classOf.post)!
  const nonZero = items.filter((it) => Array.from(it.vector).some((x) => x !== 0)).length
  assert.equal(store.size, nonZero, 'one object per item')
  assert.ok(store.has(weaviateObjectId('post', items[0].id)))
  assert.equal(weaviateObjectId('post', 'p1'), weaviateObjectId('post', 'p1'))
  assert.notEqual(weaviateObjectId('post', 'p1'), weaviateObjectId('trend', 'p1'))
  assert.ok(idx.stats.batches >= 4, `batched (${idx.stats.batches} batches of ≤ 200)`)
})

test('search: nearest first, filters by platform, language and time', async () => {
  const idx = newIndex()
  await idx.open()
  await idx.upsert(items)
  const times = items.map((i) => i.time).sort((a, b) => a - b)
  const filters: SearchFilter[] = [{}, { platform: 'tiktok' }, { platform: ['reels', 'shorts'], language: 'en' }, { from: times[100], to: times[400] }]
  for (let qi = 0; qi < 5; qi++) {
    const q = items[qi * 97].vector
    for (const f of filters) {
      const got = await idx.search(q, { k: 8, filter: f })
      const want = bruteForce(q, 8, f)
      assert.deepEqual(got.map((h) => h.distance.toFixed(5)), want.map((w) => w.distance.toFixed(5)), `query ${qi} ${JSON.stringify(f)}`)
      for (const h of got) {
        const it = items.find((x) => x.id === h.id)!
        assert.equal(h.platform, it.platform)
        assert.equal(h.time, it.time)
        if (f.from !== undefined) assert.ok(h.time >= f.from && h.time < f.to!)
      }
    }
  }
  // text queries use the index's embedder and only its model's vectors
  const hits = await idx.search('#fyp', { k: 3 })
  assert.equal(hits.length, 3)
  assert.ok(hits.every((h) => h.model === embedder.modelId))
})

test('retries: 503s from batch and GraphQL are retried with backoff; a 422 is not', async () => {
  const idx = newIndex()
  await idx.open()
  fake.failNext(3, 503, '/v1/batch/objects')
  await idx.upsert(items.slice(0, 50))
  assert.equal(idx.stats.retries, 3)
  assert.equal(fake.objects.get(idx.classOf.post)!.size, 50)
  fake.failNext(2, 503, '/v1/graphql')
  const hits = await idx.search(items[0].vector, { k: 1 })
  assert.equal(hits[0].id, items[0].id)
  assert.equal(idx.stats.retries, 5)
  fake.failNext(1, 422, '/v1/batch/objects')
  await assert.rejects(idx.upsert(items.slice(50, 60)), (e: Error & { code?: string }) => e.code === 'SINK_REJECTED')
  assert.equal(idx.stats.retries, 5, 'not retried')
  // objects Weaviate refuses one by one (here: a vector of another length) fail the call
  const wrong = new WeaviateVectorIndex('test', { url: fake.url, classPrefix: idx.opts.classPrefix, dim: 8, retry: { initialDelayMs: 5 } }, { embedder: new TextEmbedder({ dim: 8 }), logger: quiet })
  await assert.rejects(wrong.upsert([{ ...items[0], id: 'x', vector: [1, 0, 0, 0, 0, 0, 0, 0] }]), /refused.*length/)
})

test('VectorIndexSink: batches, coalesces trend versions, and a replay after a crash adds nothing', async () => {
  const idx = newIndex()
  const sink = new VectorIndexSink<PostPublished>('posts', idx, (p) => postItem(p, embedder), { batchSize: 100, flushIntervalMs: 0 }, { logger: quiet })
  await sink.open()
  const batch = (vals: PostPublished[]) => ({ values: vals, times: vals.map((p) => p.postedAt) })
  await sink.write(batch(posts.slice(0, 300)))
  await sink.preCommit()
  await sink.write(batch(posts.slice(300)))
  await sink.flush()
  const store = fake.objects.get(idx.classOf.post)!
  const size = store.size
  // crash after the last checkpoint: the engine replays posts 300.. into a fresh sink
  const again = new VectorIndexSink<PostPublished>('posts', idx, (p) => postItem(p, embedder), { batchSize: 100 }, { logger: quiet })
  await again.open()
  await again.write(batch(posts.slice(300)))
  await again.preCommit()
  assert.equal(store.size, size)

  const sig = (windowEnd: number, revision: number): TrendSignal => ({
    entityType: 'hashtag', entity: 'dance', platform: 'tiktok', windowStart: windowEnd - 60_000, windowEnd, uses: 1, uniqueCreators: 1,
    totalEngagement: 1, growth: 0, baseline: 0, observed: 1, deviation: 0, score: 1, stage: 'rising', contributingPostIds: [], revision,
  })
  const trends = new VectorIndexSink<TrendSignal>('trends', idx, (t) => trendItem(t, embedder), { batchSize: 50 }, { logger: quiet })
  await trends.open()
  await trends.write({ values: [sig(2_000_000, 0), sig(3_000_000, 0), sig(3_000_000, 1), sig(2_000_000, 1)], times: [0, 0, 0, 0] })
  await trends.preCommit()
  assert.equal(trends.stats.coalesced, 3)
  const [hit] = await idx.search('#dance', { kind: 'trend', k: 1 })
  assert.equal(hit.id, 'tiktok:hashtag:dance')
  assert.equal(hit.time, 3_000_000, 'the newest window, not the last one written')
  assert.equal(hit.version, 3_000_000 * 1000 + 1)
})
