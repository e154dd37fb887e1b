// ClickHouseVectorIndex on embedded chDB (through sinks/clickhouse's client factory and migrations):
// exact nearest neighbours equal a brute-force cosine computation done here, with and without
// filters; the HNSW index's recall; idempotent upserts and versions; text queries.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { createClickHouse, type ClickHouse } from '../../sinks/clickhouse/client.ts'
import { migrate } from '../../sinks/clickhouse/migrate.ts'
import fc from 'fast-check'
import { ClickHouseVectorIndex, vectorRows, writeFloat7 } from '../../sinks/search/clickhouse.ts'
import { VectorIndexSink } from '../../sinks/search/sink.ts'
import { postItem, trendItem } from '../../sinks/search/items.ts'
import type { SearchFilter, SearchHit, VectorItem, VectorKind } from '../../sinks/search/types.ts'
import { TextEmbedder } from '../../operators/embeddings/embed.ts'
import { generateEvents } from '../../streams/sources/synthetic.ts'
import type { PostPublished } from '../../schemas/events.ts'
import type { TrendSignal } from '../../schemas/outputs.ts'
import { normalizeTerm } from '../../streams/sources/synthetic.ts'

const quiet = pino({ level: 'silent' })
const dir = mkdtempSync(join(tmpdir(), 'tw-search-ch-'))
let ch: ClickHouse
const embedder = new TextEmbedder()
let posts: PostPublished[] = []
let items: VectorItem[] = []
let trendTag = ''
let trendPosts = 0
const norm = (h: string): string => normalizeTerm(h)

before(async () => {
  ch = createClickHouse({ embeddedPath: join(dir, 'chdb') })
  await migrate(ch)
  const g = generateEvents({ seed: 5, maxEvents: 60_000, eventsPerSecond: 1_000, trends: 4, crises: 1 })
  posts = g.events.filter((e): e is PostPublished => e.kind === 'post').slice(0, 3_000)
  items = posts.map((p) => postItem(p, embedder))
  // the injected hashtag trend with the most posts among those indexed
  let best = 0
  for (const t of g.labels.trends) {
    if (t.type !== 'hashtag') continue
    const n = posts.filter((p) => p.hashtags.some((h) => norm(h) === t.normalized)).length
    if (n > best) { best = n; trendTag = t.normalized; trendPosts = n }
  }
})

after(async () => {
  await ch?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The reference: cosine distance in float64 over the stored Float32 values, newest version per item, filters applied. */
function bruteForce(all: readonly VectorItem[], q: ArrayLike<number>, k: number, kind: VectorKind, f: SearchFilter = {}): Array<{ id: string; distance: number }> {
  const latest = new Map<string, VectorItem>()
  for (const it of all) {
    if (it.kind !== kind) continue
    const cur = latest.get(it.id)
    if (!cur || it.version >= cur.version) latest.set(it.id, it)
  }
  const plats = f.platform === undefined ? null : typeof f.platform === 'string' ? [f.platform] : f.platform
  const langs = f.language === undefined ? null : typeof f.language === 'string' ? [f.language] : f.language
  const out: Array<{ id: string; distance: number }> = []
  for (const it of latest.values()) {
    if (plats && !plats.includes(it.platform)) continue
    if (langs && !langs.includes(it.language)) continue
    if (f.from !== undefined && it.time < f.from) continue
    if (f.to !== undefined && it.time >= f.to) continue
    if (f.model !== undefined && it.model !== f.model) continue
    const v = Float32Array.from(it.vector)
    const w = Float32Array.from(q)
    let dot = 0, na = 0, nb = 0
    for (let j = 0; j < v.length; j++) { dot += v[j] * w[j]; na += v[j] * v[j]; nb += w[j] * w[j] }
    if (na === 0) continue
    out.push({ id: it.id, distance: 1 - dot / Math.sqrt(na * nb) })
  }
  out.sort((a, b) => a.distance - b.distance || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return out.slice(0, k)
}

/** Same neighbours, same distances (Float32 tolerance); order may differ only among near-ties. */
function assertSameNeighbours(got: SearchHit[], want: Array<{ id: string; distance: number }>, what: string): void {
  const eps = 1e-5
  assert.equal(got.length, want.length, `${what}: result count`)
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i].distance - want[i].distance) < eps, `${what}: distance #${i} ${got[i].distance} vs ${want[i].distance}`)
  }
  const gotIds = new Set(got.map((h) => h.id))
  const boundary = want.at(-1)?.distance ?? 0
  for (const w of want) if (w.distance < boundary - eps) assert.ok(gotIds.has(w.id), `${what}: ${w.id} (distance ${w.distance}) missing`)
  for (let i = 1; i < got.length; i++) assert.ok(got[i].distance >= got[i - 1].distance, `${what}: sorted`)
}

test('exact search equals brute-force cosine, with and without filters', async () => {
  const idx = new ClickHouseVectorIndex('posts', ch, {}, { embedder, logger: quiet })
  await idx.open()
  await idx.upsert(items)
  const times = posts.map((p) => p.postedAt).sort((a, b) => a - b)
  const mid = times[Math.floor(times.length / 2)]
  const filters: SearchFilter[] = [
    {},
    { platform: 'tiktok' },
    { platform: ['reels', 'shorts'], language: 'en' },
    { language: ['es', 'pt'], from: times[0], to: mid },
    { from: mid },
  ]
  for (let qi = 0; qi < 8; qi++) {
    const q = items[(qi * 379) % items.length].vector
    for (const f of filters) {
      const got = await idx.search(q, { k: 10, kind: 'post', filter: f, exact: true })
      assertSameNeighbours(got, bruteForce(items, q, 10, 'post', f), `query ${qi} filter ${JSON.stringify(f)}`)
      for (const h of got) {
        const it = items.find((x) => x.id === h.id)!
        assert.equal(h.platform, it.platform)
        assert.equal(h.time, it.time)
      }
    }
  }
  assert.ok(idx.stats.exactSearches >= 40)
})

test('approximate search (HNSW, where the server has it) agrees with brute force; recall reported', async (t) => {
  const idx = new ClickHouseVectorIndex('posts', ch, {}, { embedder, logger: quiet })
  await idx.open()
  t.diagnostic(`vector_similarity index in use: ${idx.approximate}`)
  if (idx.approximate) {
    // INSERTs leave the HNSW graph to merges by default (buildIndexOnInsert: false): the parts written
    // by the test above have none yet; a merge builds it, and the searches below then go through it.
    const indexBytes = async () => Number((await (await ch.client.query({ query: "SELECT sum(secondary_indices_uncompressed_bytes) AS b FROM system.parts WHERE active AND database = currentDatabase() AND table = 'search_vectors'", format: 'JSONEachRow' })).json<{ b: string }>())[0].b)
    assert.equal(await indexBytes(), 0, 'no graph built on insert')
    const [def] = await (await ch.client.query({ query: "SELECT type_full FROM system.data_skipping_indices WHERE database = currentDatabase() AND table = 'search_vectors' AND name = 'vec_hnsw'", format: 'JSONEachRow' })).json<{ type_full: string }>()
    assert.match(def.type_full, /vector_similarity\('hnsw', 'cosineDistance', 256, 'bf16', 16, 64\)/, 'the graph\'s parameters (option hnsw)')
    await ch.client.command({ query: 'OPTIMIZE TABLE search_vectors FINAL' })
    const built = await indexBytes()
    assert.ok(built > 0, 'the merge built the graph')
    t.diagnostic(`HNSW graph built by the merge: ${built} bytes`)
  }
  let found = 0
  let total = 0
  for (let qi = 0; qi < 20; qi++) {
    const q = items[(qi * 613 + 7) % items.length].vector
    const got = await idx.search(q, { k: 10 })
    const want = bruteForce(items, q, 10, 'post')
    assert.equal(got.length, 10)
    assert.equal(new Set(got.map((h) => h.id)).size, 10, 'each item once')
    for (let i = 1; i < got.length; i++) assert.ok(got[i].distance >= got[i - 1].distance)
    const ids = new Set(got.map((h) => h.id))
    for (const w of want) { total++; if (ids.has(w.id)) found++ }
  }
  const recall = found / total
  t.diagnostic(`recall@10 over 20 queries: ${recall.toFixed(3)} (${idx.stats.approximateSearches} approximate, ${idx.stats.fallbacks} fell back to exact)`)
  assert.ok(recall >= 0.9, `recall ${recall}`)
})

test('upserts are idempotent; a newer version replaces an item, a stale one does not', async () => {
  const idx = new ClickHouseVectorIndex('trends', ch, {}, { embedder, logger: quiet })
  await idx.open()
  const sig = (entity: string, windowEnd: number, revision = 0): TrendSignal => ({
    entityType: 'hashtag', entity, platform: 'tiktok', windowStart: windowEnd - 600_000, windowEnd, uses: 1, uniqueCreators: 1,
    totalEngagement: 1, growth: 0, baseline: 0, observed: 1, deviation: 0, score: 1, stage: 'emerging', contributingPostIds: [], revision,
  })
  const w = Date.UTC(2024, 5, 1, 12)
  const first = ['dance', 'cooking', 'ラーメン', 'booktok'].map((e) => trendItem(sig(e, w), embedder))
  await idx.upsert(first)
  await idx.upsert(first) // re-delivery
  const q = embedder.embedText('#dance')
  const a = await idx.search(q, { kind: 'trend', k: 10, exact: true })
  assert.deepEqual(a.map((h) => h.id).sort(), first.map((i) => i.id).sort(), 'each trend once after re-delivery')
  assert.equal(a[0].id, 'tiktok:hashtag:dance')
  assert.ok(a[0].distance < 1e-5)
  // a later window of dance: replaces the row; then a stale re-delivery of the first window does not win
  const newer = trendItem(sig('dance', w + 60_000, 1), embedder)
  await idx.upsert([newer])
  await idx.upsert([first[0]])
  const b = await idx.search(q, { kind: 'trend', k: 1, exact: true })
  assert.equal(b[0].time, w + 60_000)
  assert.equal(b[0].version, newer.version)
  // posts are untouched by trend upserts (kinds are separate)
  const p = await idx.search(q, { kind: 'post', k: 3, exact: true })
  assert.ok(p.every((h) => h.kind === 'post'))
  // zero vectors (no tokens) are skipped, not stored
  const before = idx.stats.skippedZero
  await idx.upsert([{ ...first[1], id: 'empty', vector: new Float32Array(embedder.dim) }])
  assert.equal(idx.stats.skippedZero, before + 1)
})

test('text queries find the posts of an injected trend first', async (t) => {
  assert.ok(trendPosts >= 3, `the firehose sample has posts of a hashtag trend (${trendPosts})`)
  const idx = new ClickHouseVectorIndex('posts', ch, {}, { embedder, logger: quiet })
  await idx.open()
  const k = Math.min(10, trendPosts)
  const hits = await idx.search('#' + trendTag, { k })
  t.diagnostic(`#${trendTag}: ${trendPosts} posts indexed; top ${k} distances ${hits.map((h) => h.distance.toFixed(3)).join(' ')}`)
  const byId = new Map(posts.map((p) => [p.postId, p]))
  assert.equal(hits.length, k)
  for (const h of hits) {
    const tags = byId.get(h.id)!.hashtags.map(norm)
    assert.ok(tags.includes(trendTag), `${h.id} carries #${trendTag}: ${tags.join(' ')}`)
  }
  // a model filter other than the embedder's finds nothing
  assert.deepEqual(await idx.search('#' + trendTag, { k: 5, filter: { model: 'upstream' } }), [])
})

test('bad input fails clearly', async () => {
  const idx = new ClickHouseVectorIndex('posts', ch, {}, { embedder, logger: quiet })
  await assert.rejects(idx.upsert([{ ...items[0], vector: [1, 2, 3] }]), /3-dimensional/)
  // a value its column cannot hold (version is UInt64): SINK_REJECTED naming the item and the column, nothing written
  await idx.open()
  await assert.rejects(idx.upsert([{ ...items[0], id: 'bad-version', version: 1.5 }]), (e: unknown) => (e as { code?: string }).code === 'SINK_REJECTED' && /bad-version.*column version/.test((e as Error).message))
  const [bad] = await (await ch.client.query({ query: "SELECT count() AS n FROM search_vectors WHERE id = 'bad-version'", format: 'JSONEachRow' })).json<{ n: string }>()
  assert.equal(Number(bad.n), 0)
  await assert.rejects(idx.search([1, 2, 3]), /3 dimensions/)
  assert.throws(() => new ClickHouseVectorIndex('x', ch, { overfetch: 0 }), /overfetch/)
  const missing = new ClickHouseVectorIndex('x', ch, { table: 'no_such_table' }, { embedder, logger: quiet })
  await assert.rejects(missing.open(), /trendwire migrate/)
})

test('VectorIndexSink over ClickHouse: a replay after a crash leaves one row per item (FINAL)', async () => {
  const idx = new ClickHouseVectorIndex('sink', ch, { table: 'search_vectors' }, { embedder, logger: quiet })
  const mk = () => new VectorIndexSink<PostPublished>('posts', idx, (p) => ({ ...postItem(p, embedder), id: `sink-${p.postId}` }), { batchSize: 200 }, { logger: quiet })
  const s1 = mk()
  await s1.open()
  const part = posts.slice(0, 500)
  await s1.write({ values: part, times: part.map((p) => p.postedAt) })
  await s1.preCommit()
  const s2 = mk() // the restarted job replays the same records
  await s2.open()
  await s2.write({ values: part, times: part.map((p) => p.postedAt) })
  await s2.preCommit()
  const rs = await ch.client.query({ query: "SELECT count() AS n, uniqExact(id) AS u FROM search_vectors FINAL WHERE startsWith(id, 'sink-')", format: 'JSONEachRow' })
  const [r] = await rs.json<{ n: string; u: string }>()
  const stored = part.filter((p) => Array.from(embedder.embedPost(p)).some((x) => x !== 0)).length
  assert.equal(Number(r.n), stored)
  assert.equal(Number(r.u), stored)
})

test('vector rows: components written as JSON numbers with 7 significant digits, read back by ClickHouse', async () => {
  const buf = Buffer.alloc(32)
  fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
    const end = writeFloat7(buf, 0, x)
    const y = JSON.parse(buf.toString('utf8', 0, end)) as number
    if (x === 0) return y === 0
    return Math.abs(y - x) <= 5.0000001e-7 * Math.abs(x) && end <= 14
  }), { numRuns: 20_000 })
  assert.throws(() => writeFloat7(buf, 0, Number.NaN), /not a finite number/)
  // a body ClickHouse parses into the same Float32 values (up to the 7 digits) and the same other fields
  const table = 'vector_rows_check'
  await ch.client.command({ query: `CREATE TABLE ${table} AS search_vectors` })
  const sample = items.slice(0, 50)
  await ch.insertRaw!({ table: `default.${table}`, columns: ['kind', 'id', 'platform', 'language', 'time', 'text', 'model', 'version', 'vector'], format: 'JSONCompactEachRow', body: vectorRows(sample), settings: {}, signal: new AbortController().signal })
  const got = await (await ch.client.query({ query: `SELECT id, text, toUnixTimestamp64Milli(time) AS t, vector FROM ${table}`, format: 'JSONEachRow' })).json<{ id: string; text: string; t: string; vector: number[] }>()
  assert.equal(got.length, sample.length)
  for (const g of got) {
    const it = sample.find((x) => x.id === g.id)!
    assert.equal(g.text, it.text)
    assert.equal(Number(g.t), it.time)
    for (let j = 0; j < it.vector.length; j++) assert.ok(Math.abs(g.vector[j] - it.vector[j]) <= 1e-6 * Math.abs(it.vector[j]) + 1e-12, `${g.id}[${j}]`)
  }
  await ch.client.command({ query: `DROP TABLE ${table}` })
})

