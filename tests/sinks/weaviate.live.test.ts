// WeaviateVectorIndex against a REAL Weaviate. Runs only when WEAVIATE_URL is set (e.g.
// WEAVIATE_URL=http://127.0.0.1:8080, optionally WEAVIATE_API_KEY); no Weaviate can run on the
// machine these tests were written on, so there the checks run against the fake instead
// (tests/sinks/weaviate.test.ts). Uses its own class prefix and drops its classes at the end.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import { TextEmbedder } from '../../operators/embeddings/embed.ts'
import { postItem } from '../../sinks/search/items.ts'
import { WeaviateVectorIndex } from '../../sinks/search/weaviate.ts'
import { generateEvents } from '../../streams/sources/synthetic.ts'
import type { PostPublished } from '../../schemas/events.ts'

const url = process.env.WEAVIATE_URL
const skip = url ? false : 'WEAVIATE_URL is not set: no real Weaviate to test against (the fake-backed tests in tests/sinks/weaviate.test.ts cover the same calls)'
const prefix = `TwLive${randomBytes(3).toString('hex')}`
let idx: WeaviateVectorIndex | null = null

after(async () => {
  if (!idx) return
  for (const c of Object.values(idx.classOf)) await idx.client.schema.classDeleter().withClassName(c).do().catch(() => {})
})

test('live Weaviate: schema, idempotent batch upsert, filtered nearest-neighbour search', { skip }, async () => {
  const embedder = new TextEmbedder()
  idx = new WeaviateVectorIndex('live', { url: url!, apiKey: process.env.WEAVIATE_API_KEY, classPrefix: prefix }, { embedder, logger: pino({ level: 'silent' }) })
  await idx.open()
  await idx.open()
  const schema = await idx.client.schema.getter().do()
  const mine = (schema.classes ?? []).filter((c) => c.class?.startsWith(prefix))
  assert.equal(mine.length, 2)

  const g = generateEvents({ seed: 7, maxEvents: 10_000, eventsPerSecond: 1_000, trends: 1, crises: 0 })
  const items = g.events.filter((e): e is PostPublished => e.kind === 'post').slice(0, 300).map((p) => postItem(p, embedder))
  await idx.upsert(items)
  await idx.upsert(items) // re-delivery
  const all = await idx.search(items[0].vector, { k: 1_000 })
  assert.equal(all.length, items.filter((it) => Array.from(it.vector).some((x) => x !== 0)).length, 'one object per item after re-delivery')
  assert.equal(new Set(all.map((h) => h.id)).size, all.length)

  const q = items[5]
  const hits = await idx.search(q.vector, { k: 5, filter: { platform: q.platform } })
  assert.equal(hits[0].id, q.id, 'an item is its own nearest neighbour')
  assert.ok(hits[0].distance < 1e-4)
  for (let i = 1; i < hits.length; i++) assert.ok(hits[i].distance >= hits[i - 1].distance)
  assert.ok(hits.every((h) => h.platform === q.platform))
})
