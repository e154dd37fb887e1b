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
import { serialize } from 'node:v8'
import pino from 'pino'
import type { FirehoseEvent } from '../../schemas/events.ts'
import { eventTime } from '../../schemas/events.ts'
import type { TrendSignal } from '../../schemas/outputs.ts'
import { CollectSink } from '../../sinks/memory.ts'
import { Runner } from '../../streams/runner.ts'
import { ArraySource } from '../../streams/sources/array.ts'
import { generateEvents, type GeneratedFirehose } from '../../streams/sources/synthetic.ts'
import type { LateRecord } from '../../streams/windows.ts'
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

/** Heap bytes of one entity's tracker state (v8 objects, measured with gc). */
export function heapBytesPerEntity(): number | null {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) return null
  const n = 50_000
  gc()
  const before = process.memoryUsage().heapUsed
  const keep: unknown[] = new Array(n)
  for (let i = 0; i < n; i++) {
    keep[i] = {
      t: {
        det: { n: i, share: 0.001 + i * 1e-9, cusum: 0.5 + i * 1e-9, recent: 0 },
        life: { stage: 0, dwell: 0, level: 0.1 + i * 1e-9, slow: 0.1, entry: 0, peak: 0, peakAge: 0, stagePeak: 0, pending: 0, episodes: 0 },
        lastEnd: 1.7e12 + i, lastTotal: 60, prevObserved: 0,
      },
      last: null,
    }
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
    },
  })
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
  const heap = heapBytesPerEntity()
  report.heapBytesPerEntityState = heap
  console.log(`heap bytes per entity detector+lifecycle state: ${heap === null ? 'run with node --expose-gc to measure' : heap.toFixed(0)}`)
  if (values.stress && !values['no-stress']) report.stress = await stress()
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n')
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = xs.slice().sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]
}

/**
 * Bounded state with millions of distinct entities: a firehose with a 5,000,000-hashtag vocabulary
 * and a flat popularity curve (Zipf 0.6) so most hashtags are seen once or twice; admission capacity
 * 20,000. Reports distinct entity keys seen vs tracked, and state sizes.
 */
async function stress(): Promise<Record<string, unknown>> {
  const g = generateEvents({ seed: 900, durationMs: 2 * 3_600_000, eventsPerSecond: 400, hashtags: 5_000_000, zipfExponent: 0.6, trends: 4, partitions: 4 })
  const distinct = new Set<string>()
  for (const e of g.events) if (e.kind === 'post') for (const h of e.hashtags) distinct.add(`${e.platform}|${h.toLowerCase()}`)
  const run = await runTopology(g, { entityTypes: ['hashtag'], admission: { capacity: 20_000 } })
  const out = {
    events: g.events.length,
    posts: g.events.filter((e) => e.kind === 'post').length,
    distinctHashtagKeys: distinct.size,
    state: run.state,
    eventsPerSec: run.events / (run.wallMs / 1000),
    rssMb: run.rssMb,
    signals: run.signals.length,
  }
  console.log(`stress: ${out.events} events, ${out.posts} posts, ${out.distinctHashtagKeys} distinct (platform, hashtag) keys; state ${JSON.stringify(out.state)}; ${Math.round(out.eventsPerSec)} events/s; RSS ${out.rssMb.toFixed(0)} MB`)
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) main().catch((err) => { console.error(err); process.exit(1) })
