import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import cascadesCommand, { CSV_HEADER } from '../../bin/commands/cascades.ts'
import { type Cascade, countUpTo, formatDuration, loadCascadeDir, parseCascade, parseDuration } from '../../benchmarks/cascades/data.ts'
import {
  ape, calibrated, calibratedAt, crossValidate, defaultKnots, extractSamples, fitGrowthFactor, fitKnot, kFolds,
  leaveOneOutFolds, median, medianApe,
} from '../../benchmarks/cascades/evaluate.ts'
import { nelderMead } from '../../benchmarks/cascades/optimize.ts'
import { fitTideh } from '../../benchmarks/cascades/tideh.ts'
import { PointProcessModel } from '../../operators/virality/pointprocess.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { Rng } from '../../streams/sources/prng.ts'

const HOUR = 3600
const DAY = 86_400

// Two hand-made cascades. A: retweets at 60 s, 30 min, 2 h, 25 h → 2 by 1 h, 4 at 7 days.
// B: retweets at 1 h (inclusive), 1 h + 1 s, ~6.9 days → 1 by 1 h, 3 at 7 days.
const A_TXT = '4 0.5\n0 1000\n60 10\n1800 20\n7200 5\n90000 7\n'
const B_TXT = '3 0.25\n0 50\n3600 1\n3601 2\n600000 3\n'

async function withDir<T>(files: Record<string, string>, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'trendwire-cascades-'))
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('parseCascade reads the format; countUpTo counts retweets at or before t, never the original post', () => {
  const a = parseCascade(A_TXT, 'A')
  assert.equal(a.startDay, 0.5)
  assert.deepEqual([...a.times], [0, 60, 1800, 7200, 90000])
  assert.deepEqual([...a.followers], [1000, 10, 20, 5, 7])
  assert.deepEqual([0, 59, 60, 3600, 7200, 7 * DAY].map((t) => countUpTo(a, t)), [0, 0, 1, 2, 3, 4])
  const b = parseCascade(B_TXT, 'B')
  assert.equal(countUpTo(b, HOUR), 1)
  assert.equal(countUpTo(b, 7 * DAY), 3)
})

test('parseCascade rejects malformed files with the line number', () => {
  const cases: [string, RegExp][] = [
    ['x 0.5\n0 1\n', /line 1: expected "<N> <start day>"/],
    ['1 0.5\n0 1\n', /header says 1 retweets but the file has 0/],
    ['1 0.5\n0 1\n10 -3\n', /line 3: expected "<seconds> <followers>"/],
    ['2 0.5\n0 1\n10 3\n5 3\n', /line 4: time 5 is before the previous event/],
    ['1 0.5\n7 1\n10 3\n', /must be at 0/],
  ]
  for (const [text, re] of cases) {
    assert.throws(() => parseCascade(text, 'bad'), (e: unknown) => e instanceof TrendwireError && e.code === 'INPUT_MALFORMED' && re.test(e.message), text)
  }
})

test('loadCascadeDir: natural order, *.txt only', async () => {
  await withDir({ 'RT10.txt': A_TXT, 'RT2.txt': B_TXT, 'README.md': '# not a cascade' }, async (dir) => {
    assert.deepEqual((await loadCascadeDir(dir)).map((c) => c.name), ['RT2', 'RT10'])
  })
})

test('durations', () => {
  assert.deepEqual(['30m', '1h', '24h', '1.5h', '90s', '7d', '45'].map(parseDuration), [1800, 3600, 86400, 5400, 90, 604800, 45])
  for (const bad of ['', 'h', '1y', '-1h', '0m']) assert.throws(() => parseDuration(bad), (e: unknown) => e instanceof TrendwireError && e.code === 'CONFIG_INVALID', bad)
  assert.deepEqual([3600, 5400, 1800, 45].map(formatDuration), ['1h', '90m', '30m', '45s'])
})

test('metrics: APE, median, median APE, and no-growth on the hand-made cascades', () => {
  assert.equal(ape(110, 100), 0.1)
  assert.equal(ape(50, 100), 0.5)
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 3, 2]), 2.5)
  assert.ok(Number.isNaN(median([])))
  assert.equal(medianApe([110, 50, 300], [100, 100, 200]), 0.5)
  assert.throws(() => medianApe([1], [1, 2]))
  const cs = [parseCascade(A_TXT, 'A'), parseCascade(B_TXT, 'B')]
  const noGrowth = medianApe(cs.map((c) => countUpTo(c, HOUR)), cs.map((c) => countUpTo(c, 7 * DAY)))
  assert.ok(Math.abs(noGrowth - (0.5 + 2 / 3) / 2) < 1e-12) // A: |2 − 4|/4, B: |1 − 3|/3
})

test('folds: leave-one-out, and k-fold balanced and deterministic', () => {
  assert.deepEqual(leaveOneOutFolds(4), [0, 1, 2, 3])
  const f = kFolds(23, 5, 3)
  const sizes = [0, 1, 2, 3, 4].map((k) => f.filter((x) => x === k).length)
  assert.deepEqual(sizes.sort(), [4, 4, 5, 5, 5])
  assert.deepEqual(kFolds(23, 5, 3), f)
  assert.notDeepEqual(kFolds(23, 5, 4), f)
})

test('knots: 5 min × √2^i below 7 days', () => {
  const k = defaultKnots()
  assert.equal(k.length, 22)
  assert.equal(k[0], 300)
  assert.equal(k[2], 600)
  assert.ok(k[k.length - 1] < 7 * DAY)
})

test('nelderMead minimises a shifted quadratic', () => {
  const r = nelderMead((x) => (x[0] - 3) ** 2 + 10 * (x[1] + 1) ** 2, [0, 0], { maxEvaluations: 2000 })
  assert.ok(Math.abs(r.x[0] - 3) < 1e-3 && Math.abs(r.x[1] + 1) < 1e-3, JSON.stringify(r))
})

test('fits: the growth factor and the calibration coefficients are recovered from exact samples', () => {
  const obs = [10, 40, 100, 400, 1000, 3000]
  const g = fitGrowthFactor(obs.map((o) => ({ observed: o, actual: 2 * o })))
  assert.ok(Math.abs(g - 2) < 1e-3, `growth ${g}`)
  // actual = calibrated(observed, expected, 0.3, 0.6) exactly → the fit reproduces it (near-zero loss).
  const samples = obs.flatMap((o, i) => [0.5, 2, 8].map((r) => ({ observed: o, expected: r * o * (1 + i / 10), actual: 0 })))
  for (const s of samples) s.actual = calibrated(s.observed, s.expected, 0.3, 0.6)
  const k = fitKnot(samples)
  assert.ok(Math.abs(k.intercept - 0.3) < 0.01 && Math.abs(k.slope - 0.6) < 0.01, JSON.stringify(k))
  assert.ok(k.spread < 1e-3)
})

test('calibratedAt is what PointProcessModel.predict returns', () => {
  const cs = [parseCascade(A_TXT, 'A'), parseCascade(B_TXT, 'B')]
  const model = new PointProcessModel()
  for (const row of extractSamples(cs, model, [600, HOUR, 6 * HOUR, 8 * DAY])) {
    for (const s of row) assert.equal(calibratedAt(model, s), model.predict(s.state, s.ageSec).predictedFinal)
  }
})

test('extractSamples only shows events up to the age; crossValidate predicts each cascade without its own data', () => {
  // Eight small synthetic cascades with a spread of growth after 1 h.
  const rng = new Rng(5, 'cv')
  const cs: Cascade[] = []
  for (let c = 0; c < 8; c++) {
    const times = [0]
    let t = 0
    const late = 0.2 + 0.1 * c
    for (let i = 0; i < 60; i++) { t += rng.exp(i < 40 ? 90 : late * DAY / 20); times.push(t) }
    cs.push({ name: `S${c}`, startDay: 0, times: Float64Array.from(times), followers: Float64Array.from(times, () => rng.int(500)) })
  }
  const model = new PointProcessModel({ calibration: 'none' })
  const knots = [1800, HOUR, 2 * HOUR]
  const obs = [HOUR]
  const ks = extractSamples(cs, model, knots)
  const os = extractSamples(cs, model, obs)
  assert.deepEqual(os.map((s) => s[0].observed), cs.map((c) => countUpTo(c, HOUR)))
  const cv = crossValidate({}, ks, os, knots, leaveOneOutFolds(cs.length))
  assert.equal(cv.mape.length, 1)
  assert.ok(cv.predicted[0].every((p, i) => p >= os[i][0].observed))
  // Change cascade 0's future (its final count): its own cross-validated prediction must not move.
  const changed = cs.slice()
  const c0 = cs[0]
  const cut = countUpTo(c0, 2 * HOUR) + 1
  changed[0] = { ...c0, times: c0.times.slice(0, cut), followers: c0.followers.slice(0, cut) }
  const ks2 = extractSamples(changed, model, knots)
  const os2 = extractSamples(changed, model, obs)
  assert.notEqual(os2[0][0].actual, os[0][0].actual)
  const cv2 = crossValidate({}, ks2, os2, knots, leaveOneOutFolds(cs.length))
  assert.equal(cv2.predicted[0][0], cv.predicted[0][0])
  assert.notEqual(cv2.predicted[0][1], cv.predicted[0][1], 'other cascades were trained on it')
})

test('TiDeH-style fit: recovers the infectiousness of a simulated constant-rate Hawkes cascade', () => {
  const kernel = new PointProcessModel().kernel
  const K = kernel.rate.length
  const rng = new Rng(3, 'tideh')
  const p = 0.5 / 170
  const s = new Float64Array(K).fill(1 + 3_000_000)
  const times = [0]
  const followers = [3_000_000]
  let t = 0
  const intensity = () => { let v = 0; for (let k = 0; k < K; k++) v += kernel.weight[k] * s[k]; return p * v }
  for (;;) { // Ogata thinning: the intensity only decays between events
    const bound = intensity()
    const dt = rng.exp(1 / bound)
    if (t + dt > 2 * DAY) break
    for (let k = 0; k < K; k++) s[k] *= Math.exp(-kernel.rate[k] * dt)
    t += dt
    if (rng.float() * bound <= intensity()) {
      const n = Math.round(rng.logNormal(4, 1.5))
      times.push(t); followers.push(n)
      for (let k = 0; k < K; k++) s[k] += 1 + n
    }
  }
  const c: Cascade = { name: 'sim', startDay: 0.3, times: Float64Array.from(times), followers: Float64Array.from(followers) }
  const fit = fitTideh(c, 12 * HOUR, 2 * DAY, kernel)
  assert.ok(fit.observed > 1000)
  // p(t) ≈ p0 (1 − r sin …) e^{−t/τ}: with the truth constant, the fit should be near p, r small, τ long.
  const pMid = fit.p0 * Math.exp(-6 * HOUR / fit.tauSec)
  assert.ok(Math.abs(pMid / p - 1) < 0.15, JSON.stringify(fit))
  assert.ok(fit.r < 0.2 && fit.tauSec > 2 * DAY, JSON.stringify(fit))
  const final = countUpTo(c, 2 * DAY)
  assert.ok(Math.abs(fit.predictedFinal / final - 1) < 0.1, `predicted ${fit.predictedFinal} vs ${final}`)
  // On a tiny cascade the fit still returns finite numbers and never predicts below what was seen.
  const tiny = fitTideh(parseCascade(A_TXT, 'A'), HOUR, 7 * DAY, kernel)
  assert.equal(tiny.observed, 2)
  assert.ok(Number.isFinite(tiny.predictedFinal) && tiny.predictedFinal >= 2)
})

test('trendwire cascades writes the documented columns, using only events up to each observation time', async () => {
  await withDir({ 'A.txt': A_TXT, 'B.txt': B_TXT }, async (dir) => {
    const out = join(dir, 'out.csv')
    const code = await cascadesCommand(['--data', dir, '--obs', '30m,1h,24h', '--out', out])
    assert.equal(code, 0)
    const lines = (await readFile(out, 'utf8')).trimEnd().split('\n')
    assert.equal(lines[0], CSV_HEADER)
    assert.equal(CSV_HEADER, 'cascade,obs_hours,observed_count,predicted_count')
    const rows = lines.slice(1).map((l) => l.split(','))
    assert.deepEqual(rows.map((r) => r.slice(0, 3)), [
      ['A', '0.5', '2'], ['A', '1', '2'], ['A', '24', '3'],
      ['B', '0.5', '0'], ['B', '1', '1'], ['B', '24', '2'],
    ])
    for (const r of rows) {
      const pred = Number(r[3])
      assert.ok(Number.isInteger(pred) && pred >= Number(r[2]), r.join(','))
    }
    // Events after the observation time never reach the prediction: drop them, same rows.
    const cut = 'B.txt'
    await writeFile(join(dir, cut), '2 0.25\n0 50\n3600 1\n3601 2\n')
    await writeFile(join(dir, 'A.txt'), '1 0.5\n0 1000\n60 10\n')
    await cascadesCommand(['--data', dir, '--obs', '1m', '--out', out])
    const again = (await readFile(out, 'utf8')).trimEnd().split('\n')
    await writeFile(join(dir, 'A.txt'), A_TXT)
    await writeFile(join(dir, cut), B_TXT)
    await cascadesCommand(['--data', dir, '--obs', '1m', '--out', out])
    assert.deepEqual((await readFile(out, 'utf8')).trimEnd().split('\n'), again)
  })
})

test('trendwire cascades: usage errors', async () => {
  const errors: string[] = []
  const orig = console.error
  console.error = (...a: unknown[]) => { errors.push(a.join(' ')) }
  try {
    assert.equal(await cascadesCommand(['--data', '/nonexistent']), 2)
    assert.equal(await cascadesCommand(['--bogus']), 2)
  } finally {
    console.error = orig
  }
  assert.match(errors[0], /--data and --out are required/)
  assert.match(errors[1], /bogus/)
  await assert.rejects(cascadesCommand(['--data', '/tmp', '--out', '-', '--obs', 'soon']), /"soon" is not a duration/)
})
