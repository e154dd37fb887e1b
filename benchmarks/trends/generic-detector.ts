// Why the trend topology runs the detector core (operators/anomaly/core.ts) in its count
// configuration (Poisson model, platform volume as exposure, CUSUM channel) and not in its NAB
// configuration (Gaussian model, record channels: the Detector defaults): this replays the training seeds' per-entity series through it, densely (every window from
// the entity's first use, zeros included, which the topology could not even afford), on
//   MODE=raw  the distinct-creator count per window, or
//   MODE=z    the count-aware z-score (observed − share × volume) / √expected from detector.ts,
// with direction 'up' and no seasonality (z is already deseasonalised), and counts a window with
// score ≥ TAU as a detection. OPTS overrides detector options (JSON).
//
//   npx tsx benchmarks/trends/generic-detector.ts
//   MODE=raw OPTS='{"warmup":30,"historyPower":0}' TAU=0.95 npx tsx benchmarks/trends/generic-detector.ts
//
// Results are in benchmarks/trends/README.md.
import type { Platform } from '../../schemas/events.ts'
import { generateEvents } from '../../streams/sources/synthetic.ts'
import { Detector } from '../../operators/anomaly/index.ts'
import { parseCountDetectorOptions, newCountDetector, stepCount } from '../../operators/trends/detector.ts'
import { buildSeries } from './series.ts'
import { firehoseOptions, knownBursts, truthOf, TRAIN_SEEDS } from './setup.ts'
import { evaluate, median, type SignalLike } from './evaluate.ts'
import { parseKey } from '../../operators/trends/keys.ts'
const mode = process.env.MODE ?? 'z'
const tau = Number(process.env.TAU ?? 0.5)
const opts = JSON.parse(process.env.OPTS ?? '{}')
let L = 0, D = 0, TP = 0, FP = 0; const delays: number[] = []
for (const seed of TRAIN_SEEDS) {
  const g = generateEvents(firehoseOptions(seed))
  const series = buildSeries(g.events, 60000)
  const det = parseCountDetectorOptions({ threshold: 1e9 })
  const signals: SignalLike[] = []
  const warmEnd = series.firstEnd + 29 * 60000
  for (const [key, list] of series.entities) {
    if (list.length < 3) continue
    const { platform, type, entity } = parseKey(key)
    const d = new Detector({ direction: 'up', seasonPeriodMs: 0, ...opts })
    const c = newCountDetector()
    let i = 0
    for (let end = list[0][0]; end <= series.lastEnd; end += 60000) {
      let x = 0
      if (i < list.length && list[i][0] === end) { x = list[i][1]; i++ }
      const r = stepCount(c, x, series.totals.get(`${platform}|${end}`) ?? 1, true, det, end <= warmEnd)
      const e = d.update(mode === 'z' ? r.deviation : x, end)
      if (end > warmEnd && e.score >= tau) signals.push({ platform: platform as Platform, entityType: type, entity, windowStart: end - 60000, windowEnd: end, stage: 'emerging', revision: 0 })
    }
  }
  const ev = evaluate(signals, truthOf(g.labels), knownBursts(g.labels))
  L += ev.labels; D += ev.detected; TP += ev.truePositives; FP += ev.falsePositives; delays.push(...ev.delaysMs)
}
console.log(JSON.stringify({ mode, tau, opts, recall: D / L, precision: TP / (TP + FP), tp: TP, fp: FP, medianDelayMin: median(delays) / 60000 }))
