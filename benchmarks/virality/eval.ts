// Evaluates virality scoring out of sample (issue 4): ROC AUC and PR AUC of the model's probability
// at 15 min and 1 h after posting, on seeds not used for training, against the raw view count at that
// time. The point-process estimate of final engagement is scored the same way, as a ranking.
//
//   npx tsx benchmarks/virality/eval.ts [--seeds 2001-2004] [--model operators/virality/model/virality-v1.json] [--json out.json]
//
// Protocol. Each evaluation seed's 2 h of synthetic firehose (data.ts: FIREHOSE) runs through the real
// virality topology (features → ONNX scorer, point-process table), exactly as in the stream. Posts:
// complete labels, published at least 1 h before the stream ends (the same posts at both ages). A
// post's score at age a is its latest ViralityScore with `at` <= postedAt + a; a post with no score yet
// (no engagement in any window so far) ranks below every scored post. The baseline ranks posts by their
// views with event time <= postedAt + a. Positives: the generator's top 1% of the platform by
// engagement at 24 h (simulated to the end). Figures are pooled over the seeds, and per seed.
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { DEFAULT_MODEL_SPEC, loadViralityModel } from '../../operators/virality/scorer.ts'
import type { ViralityScore } from '../../schemas/outputs.ts'
import { CollectSink } from '../../sinks/memory.ts'
import { Runner } from '../../streams/runner.ts'
import { viralityTopology } from '../../topologies/virality.ts'
import { eligiblePosts, EVAL_AGES_MIN, EVAL_SEEDS, firehose, parseSeeds, quiet, snapshotsAt, sourceOf, viewsAt } from './data.ts'
import { averagePrecision, rocAuc } from './metrics.ts'
import { Rng } from '../../streams/sources/prng.ts'

const MINUTE = 60_000

interface Scored { label: boolean; seed: number; prob: number[]; views: number[]; pp: number[] }

function metricRows(items: Scored[], ageIdx: number): Record<string, number> {
  const y = items.map((s) => s.label)
  const r = (x: number) => Math.round(x * 10_000) / 10_000
  return {
    modelRocAuc: r(rocAuc(items.map((s) => s.prob[ageIdx]), y)),
    viewsRocAuc: r(rocAuc(items.map((s) => s.views[ageIdx]), y)),
    pointProcessRocAuc: r(rocAuc(items.map((s) => s.pp[ageIdx]), y)),
    modelPrAuc: r(averagePrecision(items.map((s) => s.prob[ageIdx]), y)),
    viewsPrAuc: r(averagePrecision(items.map((s) => s.views[ageIdx]), y)),
    pointProcessPrAuc: r(averagePrecision(items.map((s) => s.pp[ageIdx]), y)),
  }
}

/**
 * Paired bootstrap over posts (seeded): the 95% interval of model − views for ROC AUC and PR AUC at
 * one age. Resampling posts keeps each post's two scores together, so the interval is for the
 * difference itself, not two overlapping intervals.
 */
function bootstrapDifference(items: Scored[], ageIdx: number, resamples: number, seed: number): Record<string, string> {
  const rng = new Rng(seed, 'bootstrap')
  const n = items.length
  const d: Record<'roc' | 'pr', number[]> = { roc: [], pr: [] }
  const y = new Array<boolean>(n)
  const m = new Float64Array(n)
  const v = new Float64Array(n)
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) {
      const s = items[rng.int(n)]
      y[i] = s.label; m[i] = s.prob[ageIdx]; v[i] = s.views[ageIdx]
    }
    d.roc.push(rocAuc(m, y) - rocAuc(v, y))
    d.pr.push(averagePrecision(m, y) - averagePrecision(v, y))
  }
  const ci = (xs: number[]) => {
    const s = xs.slice().sort((p, q) => p - q)
    const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]
    return `[${at(0.025).toFixed(4)}, ${at(0.975).toFixed(4)}]`
  }
  return { rocAucDiff95: ci(d.roc), prAucDiff95: ci(d.pr) }
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      seeds: { type: 'string', default: EVAL_SEEDS.join(',') },
      model: { type: 'string', default: DEFAULT_MODEL_SPEC },
      json: { type: 'string' },
      /** paired bootstrap resamples for the model − views intervals (0: none) */
      bootstrap: { type: 'string', default: '200' },
    },
  })
  const resamples = Number(a.bootstrap)
  const seeds = parseSeeds(a.seeds!)
  const model = await loadViralityModel(a.model)
  const trained = (model.spec.training.seeds as number[] | undefined) ?? []
  const validation = (model.spec.training.validationSeeds as number[] | undefined) ?? []
  const clash = seeds.filter((s) => trained.includes(s) || validation.includes(s))
  if (clash.length) throw new Error(`seeds ${clash.join(', ')} were used to train ${model.spec.modelVersion}: evaluate on others`)
  const ages = EVAL_AGES_MIN.map((m) => m * MINUTE)
  const items: Scored[] = []
  const runs: Array<Record<string, number>> = []
  for (const seed of seeds) {
    const g = firehose(seed)
    const scores = new CollectSink<ViralityScore>('scores')
    const t = viralityTopology(sourceOf(g), { scores, late: new CollectSink('late') }, { model })
    const t0 = performance.now()
    const status = await new Runner(t, { checkpointIntervalMs: 0, checkpointAtEnd: false }, { logger: quiet }).run()
    const sec = (performance.now() - t0) / 1000
    const posts = eligiblePosts(g.labels, ages[ages.length - 1])
    const postedAt = new Map(posts.map((p) => [p.postId, p.postedAt]))
    // emission order decides between scores of the same window (a correction comes later)
    const snaps = snapshotsAt(scores.values.map((s, i) => ({ postId: s.postId, windowEnd: s.at, revision: i, s })), postedAt, ages)
    const views = viewsAt(g.events, ages)
    for (const p of posts) {
      const snap = snaps.get(p.postId)
      items.push({
        label: p.top1pct, seed,
        prob: ages.map((_, i) => snap?.[i]?.s.probTop1Pct ?? -1),
        views: ages.map((_, i) => views.get(p.postId)?.[i] ?? 0),
        pp: ages.map((_, i) => snap?.[i]?.s.predictedFinalEngagement ?? 0),
      })
    }
    runs.push({ seed, events: g.events.length, posts: posts.length, positives: posts.filter((p) => p.top1pct).length, scores: scores.values.length, topologySec: Math.round(sec * 10) / 10, eventsPerSec: Math.round(status.recordsIn / sec) })
    console.log(`seed ${seed}: ${g.events.length} events → ${scores.values.length} scores in ${sec.toFixed(1)} s; ${posts.length} posts evaluated, ${runs.at(-1)!.positives} in the top 1%`)
  }

  const table: Array<Record<string, string | number>> = []
  const perSeed: Array<Record<string, string | number>> = []
  const intervals: Array<Record<string, string | number>> = []
  EVAL_AGES_MIN.forEach((age, i) => {
    table.push({ age: `${age} min`, posts: items.length, positives: items.filter((s) => s.label).length, ...metricRows(items, i) })
    if (resamples > 0) intervals.push({ age: `${age} min`, resamples, ...bootstrapDifference(items, i, resamples, 1) })
    for (const seed of seeds) perSeed.push({ age: `${age} min`, seed, ...metricRows(items.filter((s) => s.seed === seed), i) })
  })
  console.log(`\n${model.spec.modelVersion}, evaluation seeds ${seeds.join(', ')} (training seeds ${trained.join(', ')})`)
  console.log('pooled:')
  console.table(table)
  if (intervals.length) {
    console.log('model − views, paired bootstrap over posts, 95% interval:')
    console.table(intervals)
  }
  console.log('per seed:')
  console.table(perSeed)
  console.log('runs:')
  console.table(runs)
  if (a.json) writeFileSync(a.json, JSON.stringify({ modelVersion: model.spec.modelVersion, seeds, trainingSeeds: trained, pooled: table, intervals, perSeed, runs }, null, 2) + '\n')
}

await main()
