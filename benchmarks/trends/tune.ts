// Offline tuner for the trend detector and lifecycle: replays per-entity window series (series.ts)
// through the same tracker the topology runs (operators/trends/tracker.ts), for a grid of
// parameters, on the TRAINING seeds only, and prints precision, recall and median delay per
// setting. The held-out evaluation (run.ts) uses other seeds and the real topology.
//
//   npx tsx benchmarks/trends/tune.ts '[{"detector":{"threshold":6}},{"detector":{"threshold":8}}]'
//
// Differences from the topology, on purpose (speed): no admission (every entity tracked from its
// first use) and no late data. The topology's numbers are the ones to quote.
import type { Platform } from '../../schemas/events.ts'
import { generateEvents } from '../../streams/sources/synthetic.ts'
import { parseCountDetectorOptions, type CountDetectorOptionsInput } from '../../operators/trends/detector.ts'
import { parseLifecycleOptions, type LifecycleOptionsInput } from '../../operators/trends/lifecycle.ts'
import { parseKey } from '../../operators/trends/keys.ts'
import { applyGap, isActive, newTracker, stepWindow, type TrackerParams } from '../../operators/trends/tracker.ts'
import { buildSeries, type EntitySeries } from './series.ts'
import { evaluate, median, type SignalLike } from './evaluate.ts'
import { firehoseOptions, knownBursts, truthOf, TRAIN_SEEDS } from './setup.ts'

export interface TuneSetting {
  detector?: CountDetectorOptionsInput
  lifecycle?: LifecycleOptionsInput
  windowMs?: number
  warmupMs?: number
  /** Pool platforms (one key per entity) instead of one key per (platform, entity). */
  crossPlatform?: boolean
}

export function replay(series: EntitySeries, params: TrackerParams, warmupMs: number): SignalLike[] {
  const W = params.windowMs
  // the topology's warm-up: windows starting within warmupMs of the first window's start
  const warmEnd = series.firstEnd + warmupMs
  const signals: SignalLike[] = []
  for (const [key, list] of series.entities) {
    const { platform, type, entity } = parseKey(key)
    const s = newTracker()
    const emit = (end: number, stage: string): void => {
      if (stage !== 'idle') signals.push({ platform: platform as Platform, entityType: type, entity, windowStart: end - W, windowEnd: end, stage: stage as SignalLike['stage'], revision: 0 })
    }
    for (const [end, x] of list) {
      // zero windows: stepped one by one while trending (the topology's timers), else closed form
      while (isActive(s) && s.lastEnd + W < end) {
        const e = s.lastEnd + W
        emit(e, stepWindow(s, e, 0, series.totals.get(`${platform}|${e}`), params, false).stage)
      }
      applyGap(s, end - W, params, end < warmEnd)
      emit(end, stepWindow(s, end, x, series.totals.get(`${platform}|${end}`), params, end < warmEnd).stage)
    }
    while (isActive(s) && s.lastEnd + W <= series.lastEnd) {
      const e = s.lastEnd + W
      emit(e, stepWindow(s, e, 0, series.totals.get(`${platform}|${e}`), params, false).stage)
    }
  }
  return signals
}

async function main(): Promise<void> {
  const settings: TuneSetting[] = JSON.parse(process.argv[2] ?? '[{}]')
  const seeds = process.env.SEEDS ? process.env.SEEDS.split(',').map(Number) : TRAIN_SEEDS
  const data = seeds.map((seed) => {
    const g = generateEvents(firehoseOptions(seed))
    return { seed, labels: g.labels, series: new Map<string, EntitySeries>(), events: g.events }
  })
  for (const setting of settings) {
    const W = setting.windowMs ?? 60_000
    const params: TrackerParams = { windowMs: W, detector: parseCountDetectorOptions(setting.detector), lifecycle: parseLifecycleOptions(setting.lifecycle) }
    let labels = 0, detected = 0, tp = 0, fp = 0, dup = 0, expl = 0
    const delays: number[] = []
    for (const d of data) {
      const sk = `${W}|${setting.crossPlatform === true}`
      let series = d.series.get(sk)
      if (!series) d.series.set(sk, (series = buildSeries(d.events, W, setting.crossPlatform === true)))
      const ev = evaluate(replay(series, params, setting.warmupMs ?? 30 * 60_000), truthOf(d.labels), knownBursts(d.labels))
      labels += ev.labels; detected += ev.detected; tp += ev.truePositives; fp += ev.falsePositives; dup += ev.duplicates; expl += ev.explained
      delays.push(...ev.delaysMs)
      if (process.env.VERBOSE) {
        for (const e of ev.falsePositiveEpisodes) console.log(`  seed ${d.seed} FP ${e.key} at ${new Date(e.detectedAt).toISOString().slice(11, 16)}: ${e.stages.slice(0, 8).join(',')}${e.stages.length > 8 ? ',…' : ''}`)
        console.log(`  seed ${d.seed} delays (min): ${Object.entries(ev.perLabel).map(([k, v]) => `${k}=${v === null ? 'miss' : (v / 60_000).toFixed(1)}`).join(' ')}`)
      }
    }
    console.log(JSON.stringify({
      setting, labels, recall: +(detected / labels).toFixed(3), precision: +(tp / (tp + fp)).toFixed(3),
      tp, fp, explained: expl, duplicates: dup, medianDelayMin: +(median(delays) / 60_000).toFixed(1),
    }))
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main().catch((err) => { console.error(err); process.exit(1) })
