// The HNSW graph of ClickHouseVectorIndex (sinks/search/clickhouse.ts, option `hnsw`): what building it
// costs and what it finds, for a few parameter sets, on chDB. The same posts (synthetic firehose, the
// engine's own text embedder) go into one copy of search_vectors per parameter set, 5,000 per INSERT as
// the main job writes them (INSERTs skip the graph; merges build it); then one OPTIMIZE … FINAL builds
// the graph of the whole table — its CPU is the figure — and 40 searches (k = 10, the index's default
// overfetch and exact re-ranking) are checked against a brute-force cosine in float64. Identical
// captions give identical vectors, so a hit counts when it is as near as the 10th true neighbour.
// Baseline in the same run: ClickHouse's default parameters (bf16, 32, 128), run first and last.
// A fourth field sets the search's overfetch (default 4: k × 4 candidates re-ranked exactly).
//   node --import tsx benchmarks/vector-index.bench.ts [--posts 30000] [--configs bf16:32:128,bf16:16:64,bf16:16:64:8,bf16:32:128]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { TextEmbedder } from '../operators/embeddings/embed.ts'
import type { PostPublished } from '../schemas/events.ts'
import { createClickHouse } from '../sinks/clickhouse/client.ts'
import { migrate } from '../sinks/clickhouse/migrate.ts'
import { ClickHouseVectorIndex } from '../sinks/search/clickhouse.ts'
import { hasDirection, postItem } from '../sinks/search/items.ts'
import { generateEvents } from '../streams/sources/synthetic.ts'

const { values: args } = parseArgs({ options: { posts: { type: 'string', default: '30000' }, configs: { type: 'string', default: 'bf16:32:128,bf16:16:64,bf16:16:64:8,bf16:24:96,bf16:32:128' } } })
const N = Number(args.posts)
const embedder = new TextEmbedder()
const g = generateEvents({ seed: 5, maxEvents: N * 25, eventsPerSecond: 1_000, trends: 4, crises: 1 })
// posts whose text embeds to the zero vector (nothing the embedder knows) are not indexed: left out here
const items = g.events.filter((e): e is PostPublished => e.kind === 'post').slice(0, N).map((p) => postItem(p, embedder)).filter((it) => hasDirection(it.vector))
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }

function nearest(q: ArrayLike<number>, k: number): number[] {
  const d = new Float64Array(items.length)
  let nq = 0
  for (let i = 0; i < q.length; i++) nq += q[i] * q[i]
  for (let j = 0; j < items.length; j++) {
    const v = Float32Array.from(items[j].vector)
    let dot = 0
    let nv = 0
    for (let i = 0; i < v.length; i++) { dot += v[i] * q[i]; nv += v[i] * v[i] }
    d[j] = 1 - dot / Math.sqrt(nv * nq)
  }
  return Array.from(d).sort((a, b) => a - b).slice(0, k)
}
const queries = Array.from({ length: 40 }, (_, i) => items[(i * 613 + 7) % items.length].vector)
const kth = queries.map((q) => nearest(q, 10)[9])

const dir = mkdtempSync(join(tmpdir(), 'tw-vector-index-bench-'))
const ch = createClickHouse({ embeddedPath: dir })
await migrate(ch)
console.log(`vector index: ${items.length.toLocaleString()} posts, ${embedder.dim}-d, one OPTIMIZE FINAL builds the graph; 40 queries, k = 10; load average before: ${(await import('node:os')).loadavg()[0].toFixed(2)}`)
const results: Array<Record<string, string | number>> = []
for (const [n, c] of args.configs!.split(',').entries()) {
  const [quantization, m, ef, overfetch] = c.split(':')
  const table = `sv_bench_${n}`
  await ch.client.command({ query: `CREATE TABLE ${table} AS search_vectors` })
  const idx = new ClickHouseVectorIndex('bench', ch, { table, ...(overfetch ? { overfetch: Number(overfetch) } : {}), hnsw: { quantization: quantization as 'bf16', maxConnectionsPerLayer: Number(m), candidateListSizeForConstruction: Number(ef) } }, { embedder, logger: pino({ level: 'silent' }) })
  await idx.open()
  if (!idx.approximate) throw new Error('this ClickHouse has no vector_similarity index')
  for (let i = 0; i < items.length; i += 5_000) await idx.upsert(items.slice(i, i + 5_000))
  const c0 = cpu()
  const w0 = performance.now()
  await ch.client.command({ query: `OPTIMIZE TABLE ${table} FINAL` })
  const buildCpu = cpu() - c0
  const buildMs = performance.now() - w0
  let found = 0
  for (let i = 0; i < queries.length; i++) {
    for (const h of await idx.search(queries[i], { k: 10 })) if (h.distance <= kth[i] + 1e-5) found++
  }
  results.push({ 'quantization:M:ef_construction[:overfetch]': c, 'graph build CPU (s)': +buildCpu.toFixed(2), 'build wall (ms)': Math.round(buildMs), 'recall@10': +(found / (queries.length * 10)).toFixed(3), 'fell back to exact': idx.stats.fallbacks })
  await ch.client.command({ query: `DROP TABLE ${table}` })
}
console.table(results)
const base = results.filter((r) => r['quantization:M:ef_construction[:overfetch]'] === 'bf16:32:128').map((r) => r['graph build CPU (s)'] as number)
if (base.length > 0) {
  const b = base.reduce((x, y) => x + y, 0) / base.length
  for (const r of results) console.log(`${r['quantization:M:ef_construction[:overfetch]']}: build CPU ${((r['graph build CPU (s)'] as number) / b).toFixed(2)}× ClickHouse's defaults (mean of their runs), recall@10 ${r['recall@10']}`)
}
await ch.close()
rmSync(dir, { recursive: true, force: true })
