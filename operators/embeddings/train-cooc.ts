// Trains the co-occurrence model (model.ts) from the synthetic firehose and writes
// operators/embeddings/model/cooc-v1.json. A build-time script, not used at run time:
//
//   node --import tsx operators/embeddings/train-cooc.ts [--out path] [--seed 1] [--events 1500000]
//
// Training data: the posts of seed 1 (evaluation uses other seeds, docs/search-and-state.md).
// Counts: document frequency of every token (features.ts postTokens), and co-occurrence of every
// pair of distinct tokens within a post. Vocabulary: tokens in at least `minDf` posts, at most
// `maxVocab`, most frequent first. PPMI with context-distribution smoothing (α = 0.75); each token
// keeps its `topK` strongest contexts. Deterministic: same options, same file.
import { writeFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { iterateEvents, type SyntheticOptionsInput } from '../../streams/sources/synthetic.ts'
import { postTokens } from './features.ts'
import { DEFAULT_MODEL_PATH, type CoocModelFile } from './model.ts'

export interface TrainOptions {
  firehose: SyntheticOptionsInput
  minDf: number
  maxVocab: number
  topK: number
}

export const DEFAULT_TRAIN: TrainOptions = {
  // A short, fast run: the cold start makes posts a large share of events.
  firehose: { seed: 1, maxEvents: 1_500_000, eventsPerSecond: 2_000, trends: 20, crises: 6 },
  minDf: 5,
  maxVocab: 6_000,
  topK: 24,
}

export function trainCooc(o: TrainOptions = DEFAULT_TRAIN): CoocModelFile {
  const df = new Map<string, number>()
  const docs: string[][] = []
  for (const chunk of iterateEvents(o.firehose)) {
    for (const e of chunk) {
      if (e.kind !== 'post') continue
      const t = postTokens(e).tokens
      docs.push(t)
      for (const tok of t) df.set(tok, (df.get(tok) ?? 0) + 1)
    }
  }
  const vocab = [...df.entries()].filter(([, n]) => n >= o.minDf)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, o.maxVocab).map(([t]) => t)
  const index = new Map(vocab.map((t, i) => [t, i]))
  const V = vocab.length
  // co-occurrence counts, sparse per row
  const rows: Map<number, number>[] = Array.from({ length: V }, () => new Map())
  const marg = new Float64Array(V)
  let total = 0
  const ids: number[] = []
  for (const d of docs) {
    ids.length = 0
    for (const t of d) { const i = index.get(t); if (i !== undefined) ids.push(i) }
    for (let a = 0; a < ids.length; a++) {
      for (let b = 0; b < ids.length; b++) {
        if (a === b) continue
        const r = rows[ids[a]]
        r.set(ids[b], (r.get(ids[b]) ?? 0) + 1)
        marg[ids[b]] += 1
        total += 1
      }
    }
  }
  // P_α(c) = n(c)^0.75 / Σ n(c')^0.75
  const alpha = 0.75
  let zc = 0
  for (let c = 0; c < V; c++) zc += Math.pow(marg[c], alpha)
  const ctx: number[][] = []
  for (let t = 0; t < V; t++) {
    const r = rows[t]
    let nt = 0
    for (const n of r.values()) nt += n
    const scored: Array<[number, number]> = []
    for (const [c, n] of r) {
      const pmi = Math.log((n / total) / ((nt / total) * (Math.pow(marg[c], alpha) / zc)))
      if (pmi > 0 && n >= 2) scored.push([c, pmi])
    }
    scored.sort((a, b) => b[1] - a[1] || a[0] - b[0])
    const flat: number[] = []
    for (const [c, p] of scored.slice(0, o.topK)) flat.push(c, Math.round(p * 100))
    ctx.push(flat)
  }
  return {
    version: 1,
    trainedOn: { generator: 'streams/sources/synthetic.ts', ...o.firehose, posts: docs.length, minDf: o.minDf, maxVocab: o.maxVocab, topK: o.topK },
    docs: docs.length,
    vocab,
    df: vocab.map((t) => df.get(t)!),
    ctx,
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, seed: { type: 'string' }, events: { type: 'string' } } })
  const opts: TrainOptions = { ...DEFAULT_TRAIN, firehose: { ...DEFAULT_TRAIN.firehose } }
  if (values.seed) opts.firehose.seed = Number(values.seed)
  if (values.events) opts.firehose.maxEvents = Number(values.events)
  const t0 = Date.now()
  const m = trainCooc(opts)
  const out = values.out ?? DEFAULT_MODEL_PATH
  mkdirSync(dirname(out), { recursive: true })
  const text = JSON.stringify(m)
  writeFileSync(out, text + '\n')
  console.log(`trained on ${m.docs} posts in ${Date.now() - t0} ms: ${m.vocab.length} tokens, ${(text.length / 1024).toFixed(0)} KiB → ${out}`)
}
