// Evaluation of final-size prediction on the shared retweet cascades (issue 4).
//
//   npx tsx benchmarks/cascades/run.ts [--data DIR] [--obs 1h,6h,24h] [--no-nested] [--no-tideh]
//                                      [--print-calibration]
//
// For each observation time T, every method sees only the events at or before T and predicts the
// retweet count at 7 days; the score is the median over cascades of |pred − actual| / actual.
// Everything learned from the cascades is scored out of sample (leave-one-out over cascades):
//   (a)  our point-process predictor, its calibration refitted without the held-out cascade;
//   (a') the same, with the design (follower exponent, window, branching) also chosen inside each
//        training fold by an inner 10-fold CV — the honest price of having picked the design;
//   growth prior: pred = observed × a growth factor fitted on the other cascades;
//   raw Hawkes: our predictor without calibration (no parameter learned from these cascades);
//   (b)  no further growth: pred = observed;
//   (c)  a TiDeH-style time-dependent Hawkes process fitted per cascade by maximum likelihood.
// --print-calibration prints the calibration fitted on all cascades, for DEFAULT_CALIBRATION.
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { PointProcessModel, type PointProcessOptions } from '../../operators/virality/pointprocess.ts'
import { countUpTo, formatDuration, loadCascadeDir, parseDuration } from './data.ts'
import {
  ape, bootstrapMedian, bootstrapMedianDifference, crossValidate, defaultKnots, extractSamples, fitCalibration, fitGrowthFactor,
  HORIZON_SEC, leaveOneOutFolds, medianApe, nestedCrossValidate,
} from './evaluate.ts'
import { fitTideh } from './tideh.ts'

const here = dirname(fileURLToPath(import.meta.url))

/** The shipped design is the options' defaults (γ = 1, κ = 8, branching on). */
const DEFAULT_OPTIONS: PointProcessOptions = {}

export const DESIGNS: { name: string; options: PointProcessOptions }[] = []
for (const followerExponent of [1, 0]) {
  for (const recentWindowRatio of [8, 2]) {
    for (const branching of [true, false]) {
      DESIGNS.push({ name: `γ=${followerExponent} κ=${recentWindowRatio} ${branching ? 'branching' : 'direct'}`, options: { ...DEFAULT_OPTIONS, followerExponent, recentWindowRatio, branching } })
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: resolve(here, '../../../shared/data/cascades') },
      obs: { type: 'string', default: '1h,6h,24h' },
      'no-nested': { type: 'boolean', default: false },
      'no-tideh': { type: 'boolean', default: false },
      'print-calibration': { type: 'boolean', default: false },
    },
  })
  const started = performance.now()
  const cascades = await loadCascadeDir(values.data)
  const obs = values.obs.split(',').map(parseDuration)
  const knots = defaultKnots(HORIZON_SEC)
  const actual = cascades.map((c) => countUpTo(c, HORIZON_SEC))
  const observedAt = obs.map((T) => cascades.map((c) => countUpTo(c, T)))
  const folds = leaveOneOutFolds(cascades.length)
  /** pred[o][c]: each method's prediction for cascade c at observation time o. */
  const rows: { name: string; pred: number[][] }[] = []

  // (a) The shipped design, calibration cross-validated.
  const shipped = { ...DEFAULT_OPTIONS, calibration: 'none' as const }
  const model = new PointProcessModel(shipped)
  const knotSamples = extractSamples(cascades, model, knots)
  const obsSamples = extractSamples(cascades, model, obs)
  const cv = crossValidate(DEFAULT_OPTIONS, knotSamples, obsSamples, knots, folds)
  rows.push({ name: '(a) point process, calibrated [LOO CV]', pred: cv.predicted })

  let chosen: string[] | null = null
  if (!values['no-nested']) {
    const designs = DESIGNS.map((d) => {
      const m = new PointProcessModel({ ...d.options, calibration: 'none' })
      return { ...d, knotSamples: extractSamples(cascades, m, knots), obsSamples: extractSamples(cascades, m, obs) }
    })
    const nested = nestedCrossValidate(designs, knots, folds)
    rows.push({ name: "(a') same, design chosen in nested CV", pred: nested.predicted })
    chosen = nested.chosen
  }

  rows.push({
    name: '    growth prior only [LOO CV]',
    pred: obs.map((_, o) => cascades.map((_, c) => {
      const train = obsSamples.filter((__, j) => j !== c).map((s) => s[o])
      return Math.max(observedAt[o][c], 1) * fitGrowthFactor(train)
    })),
  })
  rows.push({ name: '    point process, raw (nothing learned)', pred: obs.map((_, o) => obsSamples.map((s) => s[o].observed + s[o].expected)) })
  rows.push({ name: '(b) no further growth', pred: observedAt })

  if (!values['no-tideh']) {
    const tideh = obs.map((T) => cascades.map((c) => fitTideh(c, T, HORIZON_SEC, model.kernel).predictedFinal))
    rows.push({ name: '(c) TiDeH-style Hawkes, MLE per cascade', pred: tideh })
  }

  const all = fitCalibration(knotSamples, cascades.map((_, i) => i), knots, `fitted on ${cascades.length} cascades of ${values.data}`)
  const inSample = new PointProcessModel({ ...DEFAULT_OPTIONS, calibration: all })
  rows.push({
    name: '    (a) in-sample: calibration fitted on all',
    pred: obs.map((T, o) => obsSamples.map((s) => inSample.predict(s[o].state, T).predictedFinal)),
  })

  const head = 'method'.padEnd(44) + obs.map((T) => formatDuration(T).padStart(8)).join('')
  console.log(`${cascades.length} cascades (${values.data}); count at ${HORIZON_SEC / 86_400} days predicted from events up to T`)
  console.log('median |predicted − actual| / actual\n')
  console.log(head)
  console.log('-'.repeat(head.length))
  for (const r of rows) console.log(r.name.padEnd(44) + r.pred.map((p) => medianApe(p, actual).toFixed(3).padStart(8)).join(''))
  // How much of that is noise: with 50 cascades a median APE is uncertain by several points.
  const apes = rows.map((r) => r.pred.map((p) => p.map((v, c) => ape(v, actual[c]))))
  const cell = (lo: number, hi: number) => `${lo.toFixed(2)}…${hi.toFixed(2)}`.padStart(12)
  console.log('\n95% bootstrap interval of the median APE (2000 resamples of the cascades)')
  for (let i = 0; i < rows.length; i++) {
    console.log(rows[i].name.padEnd(44) + obs.map((_, o) => cell(...bootstrapMedian(apes[i][o], 2000, 1))).join(''))
  }
  console.log('\npaired difference median APE (a) − row, 95% bootstrap interval (all < 0: (a) is better)')
  for (let i = 1; i < rows.length; i++) {
    console.log(rows[i].name.padEnd(44) + obs.map((_, o) => cell(...bootstrapMedianDifference(apes[0][o], apes[i][o], 2000, 1))).join(''))
  }
  if (chosen) {
    const counts = new Map<string, number>()
    for (const c of chosen) counts.set(c, (counts.get(c) ?? 0) + 1)
    console.log(`\ndesigns chosen in the ${chosen.length} outer folds: ${[...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ×${v}`).join(', ')}`)
  }
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`)
  if (values['print-calibration']) {
    const r = (xs: number[], d: number) => `[${xs.map((x) => Number(x.toFixed(d))).join(', ')}]`
    console.log(`\nexport const DEFAULT_CALIBRATION: Calibration = {\n  knotsSec: ${r(all.knotsSec, 0)},\n  intercept: ${r(all.intercept, 4)},\n  slope: ${r(all.slope, 4)},\n  spread: ${r(all.spread, 4)},\n  source: ${JSON.stringify(all.source?.replace(values.data, 'shared/data/cascades'))},\n}`)
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
