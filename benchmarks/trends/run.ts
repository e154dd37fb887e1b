// Evaluation 1 of issue 4: trend detection on the synthetic firehose's injected trends.
//
//   npx tsx benchmarks/trends/run.ts                      # held-out seeds (setup.ts TEST_SEEDS), both scopes
//   npx tsx benchmarks/trends/run.ts --seeds 101 --scope platform
//   npx tsx benchmarks/trends/run.ts --json out.json      # also write the figures as JSON
//   npx tsx benchmarks/trends/run.ts --options '{"admission":{"minCount":2}}'   # topology options
//
// For each seed: generate the firehose (6 h of event time, 12 injected trends), run the trends
// topology on it through the real runner (ArraySource over the generated partitions, the
// generator's own out-of-order delivery), collect the TrendSignal records, and score them with
// evaluate.ts: precision, recall, median detection delay after onset. Also: throughput of the
// topology (events/s, wall clock, generation excluded), state per tracked entity (bytes of each
// operator's checkpointed state / its keys, and heap bytes of a detector state measured directly),
// and a stress run with millions of distinct entities to show state stays bounded.
import { parseArgs } from 'node:util'
import { writeFileSync } from 'node:fs'
import { serialize, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import pino from 'pino'
import type { FirehoseEvent } from '../../schemas/events.ts'
import { eventTime } from '../../schemas/events.ts'
import type { TrendSignal } from '../../schemas/outputs.ts'
import { CollectSink } from '../../sinks/memory.ts'
import { Runner } from '../../streams/runner.ts'
import { ArraySource } from '../../streams/sources/array.ts'
import { generateEvents, type GeneratedFirehose } from '../../streams/sources/synthetic.ts'
import type { LateRecord } from '../../streams/windows.ts'
import type { PollResult, Source, SourceHooks } from '../../streams/types.ts'
import { Rng } from '../../streams/sources/prng.ts'
import type { AdmissionOperator } from '../../operators/trends/admission.ts'
import { newTracker } from '../../operators/trends/tracker.ts'
import { trendsTopology, type TrendsOptionsInput } from '../../topologies/trends.ts'
import { evaluate, median, type Evaluation } from './evaluate.ts'
import { firehoseOptions, knownBursts, TEST_SEEDS, TRAIN_SEEDS, truthOf } from './setup.ts'

const quiet = pino({ level: 'silent' })

export function sourceOf(g: GeneratedFirehose): ArraySource<FirehoseEvent> {
  const parts = g.labels.partitions.map((id) => ({ id, records: [] as Array<[FirehoseEvent, number]> }))
  for (let i = 0; i < g.events.length; i++) parts[g.partitions[i]].records.push([g.events[i], eventTime(g.events[i])])
  return new ArraySource('firehose', parts)
}

export interface TopologyRun {
  signals: TrendSignal[]
  late: number
  events: number
  wallMs: number
  /** Per stateful operator: keys and checkpointed bytes at the end of the run. */
  state: Record<string, { keys: number; bytes: number; estimatedBytes: number }>
  rssMb: number
}

export async function runTopology(g: GeneratedFirehose, options: TrendsOptionsInput): Promise<TopologyRun> {
  const signals = new CollectSink<TrendSignal>('trend-signals')
  const late = new CollectSink<LateRecord<unknown>>('trend-late')
  const topology = trendsTopology(sourceOf(g), { signals, late }, options)
  const runner = new Runner(topology, { checkpointIntervalMs: 0, checkpointAtEnd: false, maxBatchRecords: 4096 }, { logger: quiet })
  // state is measured just before the end-of-input watermark flushes it: at the last regular batch
  let state: TopologyRun['state'] = {}
  const measure = (): void => {
    state = {}
    const snap = runner.engine.snapshot()
    for (const n of runner.engine.stats()) {
      if (!n.state || !(n.name in snap)) continue
      state[n.name] = { keys: n.state.keys, bytes: serialize(snap[n.name]).byteLength, estimatedBytes: n.state.estimatedBytes }
    }
  }
  const src = topology.sourceSpec!.source as ArraySource<FirehoseEvent>
  const poll = src.poll.bind(src)
  let polls = 0
  const total = Math.ceil(g.events.length / 4096)
  src.poll = async (n) => {
    const r = await poll(n)
    if (++polls === Math.max(1, total - 2)) measure()
    return r
  }
  const t0 = performance.now()
  await runner.run()
  const wallMs = performance.now() - t0
  return { signals: signals.values, late: late.values.length, events: g.events.length, wallMs, state, rssMb: process.memoryUsage().rss / 2 ** 20 }
}

/** A gc() even without --expose-gc (the flag can be set at run time; the function lives in a fresh context). */
function gcFunction(): (() => void) | null {
  const g = (globalThis as { gc?: () => void }).gc
  if (g) return g
  try {
    setFlagsFromString('--expose-gc')
    return runInNewContext('gc') as () => void
  } catch {
    return null
  }
}

/** Heap bytes of one entity's tracker state (v8 objects, measured with gc). */
export function heapBytesPerEntity(): number | null {
  const gc = gcFunction()
  if (!gc) return null
  const n = 50_000
  gc()
  const before = process.memoryUsage().heapUsed
  const keep: unknown[] = new Array(n)
  for (let i = 0; i < n; i++) {
    // the state the topology keeps per entity (the detector core's state + lifecycle), with the
    // field values an active entity has (doubles, not small integers)
    const t = newTracker()
    t.det.n = i
    t.det.m = i
    t.det.level = 0.001 + i * 1e-9
    t.det.cusum = 0.5 + i * 1e-9
    t.det.firstTime = 1.7e12 + i
    t.det.prev = 1
    t.life.level = 0.1 + i * 1e-9
    t.life.slow = 0.1
    t.lastEnd = 1.7e12 + i
    t.lastTotal = 60
    keep[i] = { t, last: null }
  }
  gc()
  const after = process.memoryUsage().heapUsed
  if (keep.length !== n) return null
  return (after - before) / n
}

function fmtMin(ms: number): string {
  return Number.isNaN(ms) ? 'n/a' : `${(ms / 60_000).toFixed(1)} min`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      scope: { type: 'string' },
      json: { type: 'string' },
      options: { type: 'string' },
      stress: { type: 'boolean', default: true },
      'no-stress': { type: 'boolean' },
      'stress-only': { type: 'boolean' },
    },
  })
  if (values['stress-only']) { await stress(); return }
  const seeds = values.seeds ? values.seeds.split(',').map(Number) : TEST_SEEDS
  const overlap = seeds.filter((s) => TRAIN_SEEDS.includes(s))
  if (overlap.length) console.log(`note: seeds ${overlap.join(',')} were used for tuning; figures on them are not held-out`)
  const scopes = (values.scope ? [values.scope] : ['platform', 'all']) as Array<'platform' | 'all'>
  const report: Record<string, unknown> = { seeds, trainSeeds: TRAIN_SEEDS, scopes: {} }
  console.log(`trend detection, held-out seeds ${seeds.join(', ')} (tuned on ${TRAIN_SEEDS.join(', ')})`)
  const generated = new Map<number, GeneratedFirehose>()
  for (const scope of scopes) {
    const per: Array<{ seed: number; ev: Evaluation; run: TopologyRun }> = []
    for (const seed of seeds) {
      let g = generated.get(seed)
      if (!g) generated.set(seed, (g = generateEvents(firehoseOptions(seed))))
      const run = await runTopology(g, { ...(values.options ? JSON.parse(values.options) as TrendsOptionsInput : {}), scope })
      const ev = evaluate(run.signals, truthOf(g.labels), knownBursts(g.labels), { ignorePlatform: scope === 'all' })
      per.push({ seed, ev, run })
      console.log(`  [${scope}] seed ${seed}: labels ${ev.labels}, detected ${ev.detected}, episodes ${ev.episodes} (true ${ev.truePositives}, false ${ev.falsePositives}, crisis ${ev.explained}, duplicate ${ev.duplicates}), median delay ${fmtMin(ev.medianDelayMs)}, ${Math.round(run.events / (run.wallMs / 1000))} events/s, ${run.signals.length} signals, ${run.late} late`)
      for (const e of ev.falsePositiveEpisodes) console.log(`      false: ${e.key} at ${new Date(e.detectedAt).toISOString()} (${e.stages.slice(0, 6).join(',')}${e.stages.length > 6 ? ',…' : ''})`)
      const missed = Object.entries(ev.perLabel).filter(([, v]) => v === null).map(([k]) => k)
      if (missed.length) console.log(`      missed: ${missed.join(', ')}`)
    }
    const sum = (f: (e: Evaluation) => number): number => per.reduce((a, x) => a + f(x.ev), 0)
    const delays = per.flatMap((x) => x.ev.delaysMs)
    const events = per.reduce((a, x) => a + x.run.events, 0)
    const wall = per.reduce((a, x) => a + x.run.wallMs, 0)
    const tp = sum((e) => e.truePositives)
    const fp = sum((e) => e.falsePositives)
    const last = per[per.length - 1].run.state
    const ent = last['trend-entities']
    const win = last['trend-entity-windows']
    const adm = last['trend-admission']
    const summary = {
      labels: sum((e) => e.labels),
      detected: sum((e) => e.detected),
      recall: sum((e) => e.detected) / sum((e) => e.labels),
      episodes: sum((e) => e.episodes),
      truePositives: tp,
      falsePositives: fp,
      crisisEpisodes: sum((e) => e.explained),
      duplicates: sum((e) => e.duplicates),
      precision: tp / (tp + fp),
      precisionCountingCrisesAsFalse: tp / sum((e) => e.episodes),
      medianDelayMin: median(delays) / 60_000,
      delayP25Min: quantile(delays, 0.25) / 60_000,
      delayP75Min: quantile(delays, 0.75) / 60_000,
      eventsPerSec: events / (wall / 1000),
      bytesPerTrackedEntity: ent ? ent.bytes / Math.max(ent.keys, 1) : null,
      windowBytesPerEntityWindow: win ? win.bytes / Math.max(win.keys, 1) : null,
      trackedEntities: adm?.keys,
      admissionBytes: adm?.bytes,
      stateAtEnd: last,
    }
    ;(report.scopes as Record<string, unknown>)[scope] = summary
    console.log(`  [${scope}] precision ${summary.precision.toFixed(3)} (${tp}/${tp + fp}; ${summary.precisionCountingCrisesAsFalse.toFixed(3)} counting crisis bursts as false), recall ${summary.recall.toFixed(3)} (${summary.detected}/${summary.labels}), median delay ${fmtMin(median(delays))} (IQR ${fmtMin(quantile(delays, 0.25))}–${fmtMin(quantile(delays, 0.75))}), ${Math.round(summary.eventsPerSec)} events/s`)
    console.log(`  [${scope}] state at the end of the last run: ${JSON.stringify(last)}`)
  }
  const ref = [...generated.values()].map(postCountReference)
  const fifth = ref.flatMap((r) => r.fifth)
  const tenth = ref.flatMap((r) => r.tenth)
  report.reference = { medianMinToFifthTrendPost: median(fifth) / 60_000, medianMinToTenthTrendPost: median(tenth) / 60_000 }
  console.log(`reference: median time from onset to a trend's 5th post ${fmtMin(median(fifth))}, to its 10th ${fmtMin(median(tenth))} (all platforms)`)
  const heap = heapBytesPerEntity()
  report.heapBytesPerEntityState = heap
  console.log(`heap bytes per entity detector+lifecycle state: ${heap === null ? 'run with node --expose-gc to measure' : heap.toFixed(0)}`)
  if (values.stress && !values['no-stress']) report.stress = await stress()
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n')
}

/**
 * Reference for the delays: per labelled trend, how long after onset its 5th and its 10th injected
 * post appeared (all platforms together). No detector can be sure of a take-off before a handful
 * of posts exist; these say how fast the injected trends accumulate them.
 */
export function postCountReference(g: GeneratedFirehose): { fifth: number[]; tenth: number[] } {
  const byTrend = new Map<string, number[]>()
  for (const p of g.labels.posts) {
    if (!p.trend) continue
    let l = byTrend.get(p.trend)
    if (!l) byTrend.set(p.trend, (l = []))
    l.push(p.postedAt)
  }
  const fifth: number[] = []
  const tenth: number[] = []
  for (const t of truthOf(g.labels)) {
    const ts = (byTrend.get(t.id.slice(t.id.indexOf('/') + 1)) ?? []).sort((a, b) => a - b)
    if (ts.length >= 5) fifth.push(ts[4] - t.onset)
    if (ts.length >= 10) tenth.push(ts[9] - t.onset)
  }
  return { fifth, tenth }
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = xs.slice().sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]
}

/**
 * A firehose of posts whose hashtags are nearly all distinct: each post carries two hashtags drawn
 * from a space of 2^32 (so ~2 new entities per post) and, one post in three, one of 1,000 popular
 * ones. Generated lazily per poll, so the stress costs no memory of its own. 3,000 posts per minute
 * of event time.
 */
class DistinctFloodSource implements Source<FirehoseEvent> {
  readonly name = 'flood'
  private n = 0
  private readonly rng = new Rng(77, 'flood')
  constructor(private readonly posts: number, private readonly start = Date.UTC(2024, 5, 1)) {}
  async open(positions: Record<string, unknown> | null, hooks: SourceHooks): Promise<void> {
    this.n = (positions?.['flood/0'] as number | undefined) ?? 0
    hooks.onAssign(['flood/0'])
  }
  async poll(max: number): Promise<PollResult<FirehoseEvent>> {
    const values: FirehoseEvent[] = []
    const times: number[] = []
    const r = this.rng
    while (values.length < max && this.n < this.posts) {
      const t = this.start + Math.floor((this.n * 60_000) / 3_000)
      const hashtags = [`t${r.nextU32().toString(36)}`, `t${r.nextU32().toString(36)}`]
      if (r.chance(1 / 3)) hashtags.push(`pop${r.int(1_000)}`)
      values.push({
        kind: 'post', postId: `fp${this.n}`, platform: 'tiktok', creatorId: `c${r.int(100_000)}`, creatorFollowers: 100, postedAt: t,
        caption: '', hashtags, soundId: null, durationSec: 15, language: 'en', embedding: null,
      })
      times.push(t)
      this.n++
    }
    const done = this.n >= this.posts
    return { batches: values.length ? [{ partition: 'flood/0', values, times }] : [], done, finished: done ? ['flood/0'] : undefined }
  }
  positions(): Record<string, unknown> { return { 'flood/0': this.n } }
  async close(): Promise<void> {}
}

/**
 * Bounded state with millions of distinct entities: 1,000,000 posts carrying ~2,000,000 distinct
 * hashtags through the full topology (hashtags only, admission capacity 20,000, posts kept for an
 * hour of event time). State of every operator is measured every 25 polls; the maximum is reported.
 */
export async function stress(posts = 1_000_000): Promise<Record<string, unknown>> {
  const signals = new CollectSink<TrendSignal>('trend-signals')
  const topology = trendsTopology(new DistinctFloodSource(posts), { signals, late: new CollectSink('trend-late') },
    // posts are bounded by TTL here, not by maxPosts: KeyedState's size-bound eviction costs ~50 µs a
    // key once a Map has churned (streams/state.ts evictOldest; see benchmarks/trends/README.md)
    { entityTypes: ['hashtag'], admission: { capacity: 20_000 }, postTtlMs: 60 * 60_000, warmupMs: 10 * 60_000 })
  const runner = new Runner(topology, { checkpointIntervalMs: 0, checkpointAtEnd: false }, { logger: quiet })
  const max: Record<string, { keys: number; estimatedBytes: number }> = {}
  let polls = 0
  let maxRss = 0
  const src = topology.sourceSpec!.source
  const poll = src.poll.bind(src)
  src.poll = async (n) => {
    if (++polls % 25 === 0) {
      for (const s of runner.engine.stats()) {
        if (!s.state) continue
        const m = (max[s.name] ??= { keys: 0, estimatedBytes: 0 })
        m.keys = Math.max(m.keys, s.state.keys)
        m.estimatedBytes = Math.max(m.estimatedBytes, s.state.estimatedBytes)
      }
      maxRss = Math.max(maxRss, process.memoryUsage().rss)
    }
    return poll(n)
  }
  const t0 = performance.now()
  await runner.run()
  const wallMs = performance.now() - t0
  const adm = topology.operator('trend-admission') as AdmissionOperator
  const out = {
    posts,
    hashtagUsesOffered: adm.passed + adm.dropped,
    distinctHashtagsApprox: 2 * posts + 1_000,
    admittedEver: adm.filter.admitted,
    evictions: adm.filter.evicted,
    maxState: max,
    postsPerSec: posts / (wallMs / 1000),
    maxRssMb: maxRss / 2 ** 20,
    signals: signals.values.length,
  }
  console.log(`stress: ${posts} posts, ~${out.distinctHashtagsApprox} distinct hashtags, ${out.admittedEver} admissions, ${out.evictions} evictions; max state ${JSON.stringify(max)}; ${Math.round(out.postsPerSec)} posts/s; max RSS ${out.maxRssMb.toFixed(0)} MB; ${out.signals} signals`)
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) main().catch((err) => { console.error(err); process.exit(1) })
