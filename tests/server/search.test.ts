// /api/search over the engine's real VectorIndex (ClickHouseVectorIndex on embedded chDB).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TextEmbedder } from '../../operators/embeddings/embed.ts'
import { normalizeTerm } from '../../operators/text.ts'
import type { PostPublished } from '../../schemas/events.ts'
import { vectorIndexSearch } from '../../server/api/search.ts'
import { createClickHouse, type ClickHouse } from '../../sinks/clickhouse/client.ts'
import { migrate } from '../../sinks/clickhouse/migrate.ts'
import { ClickHouseVectorIndex } from '../../sinks/search/clickhouse.ts'
import { postItem } from '../../sinks/search/items.ts'
import { generateEvents } from '../../streams/sources/synthetic.ts'
import { call, quiet, startServer, tenant } from './helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'tw-api-search-'))
let ch: ClickHouse
let index: ClickHouseVectorIndex
let posts: PostPublished[] = []
let trendTag = ''

before(async () => {
  ch = createClickHouse({ embeddedPath: join(dir, 'chdb') })
  await migrate(ch)
  const embedder = new TextEmbedder()
  index = new ClickHouseVectorIndex('posts', ch, {}, { embedder, logger: quiet })
  await index.open()
  const g = generateEvents({ seed: 5, maxEvents: 30_000, eventsPerSecond: 1_000, trends: 4, crises: 0 })
  posts = g.events.filter((e): e is PostPublished => e.kind === 'post').slice(0, 1_500)
  await index.upsert(posts.map((p) => postItem(p, embedder)))
  let best = 0
  for (const t of g.labels.trends) {
    if (t.type !== 'hashtag') continue
    const n = posts.filter((p) => p.hashtags.some((h) => normalizeTerm(h) === t.normalized)).length
    if (n > best) { best = n; trendTag = t.normalized }
  }
})

after(async () => {
  await index?.close()
  await ch?.close()
  rmSync(dir, { recursive: true, force: true })
})

test('search: posts similar to a text and to a post, through the VectorIndex; platform filter; 404 for an unknown post', async () => {
  assert.ok(trendTag, 'an injected trend hashtag among the indexed posts')
  const byId = new Map(posts.map((p) => [p.postId, p]))
  const s = await startServer({ search: vectorIndexSearch(index, { postText: async (id) => { const p = byId.get(id); return p ? p.caption : null } }) })
  try {
    const a = await tenant(s, 'A')
    const r = await call(s.url, 'GET', `/api/search?text=${encodeURIComponent('#' + trendTag)}&k=5`, a.key)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.hits.length, 5)
    for (const h of r.body.hits) {
      assert.equal(h.kind, 'post')
      assert.ok(byId.get(h.id)!.hashtags.some((t) => normalizeTerm(t) === trendTag), `${h.id} carries #${trendTag}`)
    }
    for (let i = 1; i < r.body.hits.length; i++) assert.ok(r.body.hits[i].score <= r.body.hits[i - 1].score, 'nearest first')
    const onlyReels = await call(s.url, 'GET', `/api/search?text=${encodeURIComponent('#' + trendTag)}&k=5&platform=reels`, a.key)
    assert.ok(onlyReels.body.hits.every((h: { platform: string }) => h.platform === 'reels'))
    const seed = r.body.hits[0].id
    const similar = await call(s.url, 'GET', `/api/search?postId=${seed}&k=3`, a.key)
    assert.equal(similar.status, 200)
    assert.equal(similar.body.hits.length, 3)
    assert.ok(similar.body.hits.every((h: { id: string }) => h.id !== seed), 'a post is not its own neighbour')
    assert.equal((await call(s.url, 'GET', '/api/search?postId=no_such_post', a.key)).status, 404)
  } finally {
    await s.close()
  }
})
