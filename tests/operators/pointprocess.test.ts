import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deserialize, serialize } from 'node:v8'
import {
  expectedFutureEvents, lomaxCdf, lomaxDensity, mixtureCdf, mixtureDensity, type MixtureKernel, PointProcessModel,
  PointProcessPredictor, type PointProcessOptions,
} from '../../operators/virality/pointprocess.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { Rng } from '../../streams/sources/prng.ts'

const HOUR = 3600
const DAY = 86_400

/** Relative difference, safe at 0. */
function rel(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300)
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

interface Sim { times: number[]; followers: number[]; rootFollowers: number }

/**
 * A marked Hawkes cascade λ(t) = p Σ_i (1 + n_i) φ(t − t_i) on the model's kernel, by Ogata thinning:
 * with a mixture of decaying exponentials the intensity only falls between events, so its value
 * just after the last event bounds it until the next one.
 */
function simulateHawkes(rng: Rng, kernel: MixtureKernel, p: number, rootFollowers: number, horizonSec: number, followers: () => number): Sim {
  const K = kernel.rate.length
  const s = new Float64Array(K).fill(1 + rootFollowers)
  const times: number[] = []
  const fol: number[] = []
  let t = 0
  const intensity = (): number => {
    let v = 0
    for (let k = 0; k < K; k++) v += kernel.weight[k] * s[k]
    return p * v
  }
  for (;;) {
    const bound = intensity()
    if (!(bound > 0)) break
    const dt = rng.exp(1 / bound)
    if (t + dt > horizonSec) break
    for (let k = 0; k < K; k++) s[k] *= Math.exp(-kernel.rate[k] * dt)
    t += dt
    if (rng.float() * bound <= intensity()) {
      const n = followers()
      times.push(t)
      fol.push(n)
      for (let k = 0; k < K; k++) s[k] += 1 + n
    }
  }
  return { times, followers: fol, rootFollowers }
}

test('kernel: the exponential mixture matches the Lomax power law within 1% from 1 s to 30 days', () => {
  const m = new PointProcessModel()
  const { theta, s0Sec } = m.kernel
  let worst = 0
  for (let ls = 0; ls <= Math.log(30 * DAY); ls += 0.05) {
    const s = Math.exp(ls)
    worst = Math.max(worst, rel(mixtureDensity(m.kernel, s), lomaxDensity(s, theta, s0Sec)))
    assert.ok(Math.abs(mixtureCdf(m.kernel, s) - lomaxCdf(s, theta, s0Sec)) < 0.005, `cdf at ${s}`)
  }
  assert.ok(worst < 0.01, `worst relative error ${worst}`)
  assert.equal(m.kernel.rate.length, 21, 'default spacing: 21 terms')
})

test('forecast: the renewal solver matches closed forms and converges; default steps within 0.5%', () => {
  const m = new PointProcessModel()
  const k = m.kernel
  const s = Array.from(k.rate, (_, i) => 1000 * (1 + (i % 3)))
  const span = 5 * DAY
  // No branching: exactly p Σ_k mass_k s_k (1 − e^{−β_k T}).
  const p = 2e-4
  let direct = 0
  for (let i = 0; i < k.rate.length; i++) direct += p * k.mass[i] * s[i] * -Math.expm1(-k.rate[i] * span)
  assert.ok(rel(expectedFutureEvents(k, s, span, p, 0, 0.95), direct) < 1e-12)

  // One exponential φ(s) = β e^{−βs}: x' = −β(1 − b)x, so N = p x0 (1 − e^{−β(1−b)T}) / (1 − b).
  const fine = { firstSec: 1, growth: 1.02 }
  for (const beta of [1 / 60, 1 / HOUR, 1 / DAY]) {
    const one: MixtureKernel = { theta: 0, s0Sec: 0, rate: Float64Array.of(beta), weight: Float64Array.of(beta), mass: Float64Array.of(1), id: 'exp' }
    for (const b of [0.3, 0.6, 0.9]) {
      const mark = 100
      const pp = b / mark
      const exact = (pp * 5000 * -Math.expm1(-beta * (1 - b) * span)) / (1 - b)
      assert.ok(rel(expectedFutureEvents(one, [5000], span, pp, mark, 0.99, fine), exact) < 1e-3, `β=${beta} b=${b}`)
      assert.ok(rel(expectedFutureEvents(one, [5000], span, pp, mark, 0.99), exact) < 0.02, `β=${beta} b=${b}, default steps`)
    }
  }
  // The power-law kernel with branching: default steps against a 20× finer schedule.
  for (const b of [0.5, 0.9]) {
    const ref = expectedFutureEvents(k, s, span, b / 100, 100, 0.99, { firstSec: 0.25, growth: 1.005 })
    assert.ok(rel(expectedFutureEvents(k, s, span, b / 100, 100, 0.99), ref) < 0.005, `b=${b}`)
  }
  // A supercritical estimate is capped, not exploded.
  assert.ok(Number.isFinite(expectedFutureEvents(k, s, span, 0.05, 100, 0.95)))
})

test('simulated Hawkes cascades: the raw forecast of the final size at 1 h is close (~0.16); no-growth is not (~0.45)', () => {
  const horizon = 2 * DAY
  const model = new PointProcessModel({ horizonSec: horizon, calibration: 'none' })
  const rng = new Rng(42, 'hawkes')
  // Retweeters' followers: log-normal with mean ≈ 170, so the branching ratio p·m̄ is ≈ 0.5.
  const followers = () => Math.round(rng.logNormal(4, 1.5))
  const p = 0.5 / 170
  const ours: number[] = []
  const naive: number[] = []
  const obs = HOUR
  for (let c = 0; c < 40; c++) {
    const sim = simulateHawkes(rng, model.kernel, p, 60_000, horizon, followers)
    const pred = new PointProcessPredictor(0, sim.rootFollowers, model)
    for (let i = 0; i < sim.times.length && sim.times[i] <= obs; i++) pred.observe(sim.times[i], sim.followers[i])
    const final = sim.times.length
    const r = pred.predict(obs)
    ours.push(Math.abs(r.predictedFinal - final) / final)
    naive.push(Math.abs(r.observed - final) / final)
  }
  const mOurs = median(ours)
  const mNaive = median(naive)
  assert.ok(mOurs < 0.2, `median APE of the point process ${mOurs.toFixed(3)} (no growth: ${mNaive.toFixed(3)})`)
  assert.ok(mNaive > 0.35, `no-growth median APE ${mNaive.toFixed(3)} should be poor at 1 h`)
})

test('simulated Hawkes: the infectiousness estimate is consistent', () => {
  const model = new PointProcessModel({ horizonSec: 2 * DAY, calibration: 'none' })
  const rng = new Rng(7, 'consistency')
  const p = 0.5 / 170
  const sim = simulateHawkes(rng, model.kernel, p, 2_000_000, 2 * DAY, () => Math.round(rng.logNormal(4, 1.5)))
  const pred = new PointProcessPredictor(0, sim.rootFollowers, model)
  pred.observeBatch(sim.times, sim.followers)
  const f = pred.features(DAY)
  assert.ok(sim.times.length > 3000, `${sim.times.length} events`)
  assert.ok(rel(f.infectiousnessOverall, p) < 0.1, `overall p̂ ${f.infectiousnessOverall} vs ${p}`)
  assert.ok(rel(f.infectiousness, p) < 0.25, `recent p̂ ${f.infectiousness} vs ${p}`)
})

/** Events of a small cascade, in time order. */
function smallCascade(seed: number): { times: number[]; followers: (number | undefined)[] } {
  const rng = new Rng(seed, 'small')
  const times: number[] = []
  const followers: (number | undefined)[] = []
  let t = 0
  for (let i = 0; i < 300; i++) {
    t += rng.exp(20 + i * 2)
    times.push(t)
    followers.push(rng.chance(0.1) ? undefined : Math.round(rng.logNormal(5, 2)))
  }
  return { times, followers }
}

test('incremental: event by event = one batch = shuffled order = a brute-force sum over the events', () => {
  const model = new PointProcessModel({ calibration: 'none' })
  const { times, followers } = smallCascade(3)
  const now = times[times.length - 1] + 600

  const one = new PointProcessPredictor(0, 5000, model)
  times.forEach((t, i) => one.observe(t, followers[i]))
  const batch = new PointProcessPredictor(0, 5000, model)
  batch.observeBatch(times, followers)
  const order = times.map((_, i) => i)
  const rng = new Rng(9, 'shuffle')
  for (let i = order.length - 1; i > 0; i--) { const j = rng.int(i + 1); [order[i], order[j]] = [order[j], order[i]] }
  const shuffled = new PointProcessPredictor(0, 5000, model)
  for (const i of order) shuffled.observe(times[i], followers[i])

  const a = one.features(now)
  for (const other of [batch.features(now), shuffled.features(now)]) {
    for (const key of Object.keys(a) as (keyof typeof a)[]) assert.ok(rel(a[key], other[key]) < 1e-9, `${key}: ${a[key]} vs ${other[key]}`)
  }

  // Brute force from the event list: exposure Σ m_i Φ(now − t_i), remaining exposure to the horizon,
  // and the windowed estimate for the bracketing window rates, each summed event by event.
  const k = model.kernel
  const marks = [5001, ...followers.map((n) => 1 + (n ?? model.options.defaultFollowers))]
  const ts = [0, ...times]
  let exposure = 0
  let remaining = 0
  for (let i = 0; i < ts.length; i++) {
    exposure += marks[i] * mixtureCdf(k, now - ts[i])
    remaining += marks[i] * (mixtureCdf(k, model.options.horizonSec - ts[i]) - mixtureCdf(k, now - ts[i]))
  }
  assert.ok(rel(a.infectiousnessOverall, times.length / exposure) < 1e-9)
  assert.ok(rel(a.remainingExposure, remaining) < 1e-9)
  const g = model.windowRates
  const target = model.options.recentWindowRatio / now
  let j = 0
  while (j < g.length - 2 && g[j + 1] < target) j++
  const f = Math.min(1, Math.max(0, Math.log(target / g[j]) / Math.log(g[j + 1] / g[j])))
  let cnt = 0
  let expo = 0
  for (const [jj, wq] of [[j, 1 - f], [j + 1, f]] as const) {
    for (let i = 0; i < ts.length; i++) {
      const d = now - ts[i]
      if (i > 0) cnt += wq * Math.exp(-g[jj] * d)
      // ∫_{t_i}^{now} e^{−γ(now−u)} φ(u − t_i) du, by the trapezoid rule on a fine grid.
      const n = 4000
      let integral = 0
      for (let q = 0; q <= n; q++) {
        const u = (d * q) / n
        const v = Math.exp(-g[jj] * (d - u)) * mixtureDensity(k, u)
        integral += (q === 0 || q === n ? 0.5 : 1) * v
      }
      expo += wq * marks[i] * integral * (d / n)
    }
  }
  assert.ok(rel(a.infectiousness, cnt / expo) < 2e-3, `recent p̂ ${a.infectiousness} vs brute force ${cnt / expo}`)
})

test('snapshot → restore (through v8 serialisation) continues exactly like the original', () => {
  const model = new PointProcessModel()
  const { times, followers } = smallCascade(11)
  const half = times.length >> 1
  const a = new PointProcessPredictor(1_700_000_000, 12345, model)
  a.observeBatch(times.slice(0, half).map((t) => 1_700_000_000 + t), followers.slice(0, half))
  const snap = a.snapshot()
  const b = PointProcessPredictor.restore(deserialize(serialize(snap)), model)
  const c = PointProcessPredictor.restore(structuredClone(snap), {}) // a fresh model with the same options
  for (let i = half; i < times.length; i++) {
    for (const p of [a, b, c]) p.observe(1_700_000_000 + times[i], followers[i])
    if (i % 50 === 0) {
      const now = 1_700_000_000 + times[i] + 30
      assert.deepEqual(b.predict(now), a.predict(now))
      assert.deepEqual(c.predict(now), a.predict(now))
    }
  }
  assert.deepEqual(b.snapshot(), a.snapshot())
})

test('restore refuses state from other kernel options and malformed state', () => {
  const snap = new PointProcessPredictor(0, 10).snapshot()
  assert.throws(() => PointProcessPredictor.restore(snap, { kernel: { theta: 0.5 } }), (e: unknown) => e instanceof TrendwireError && e.code === 'CONFIG_INVALID')
  assert.throws(() => PointProcessPredictor.restore({ ...snap, s: [1, 2] }), (e: unknown) => e instanceof TrendwireError && e.code === 'CHECKPOINT_CORRUPT' && /s must hold 21/.test(e.message))
  assert.throws(() => PointProcessPredictor.restore(null), (e: unknown) => e instanceof TrendwireError && e.code === 'CHECKPOINT_CORRUPT')
  assert.throws(() => PointProcessPredictor.restore({ ...snap, count: NaN }), /count is not a finite number/)
})

test('options are validated once, naming the key', () => {
  const bad: [PointProcessOptions, RegExp][] = [
    [{ recentWindowRatio: 0 }, /recentWindowRatio/],
    [{ kernel: { theta: -1 } }, /kernel\.theta/],
    [{ maxBranching: 1 }, /maxBranching/],
    [{ horizonSec: Infinity }, /horizonSec/],
    [{ calibration: { knotsSec: [10, 5], intercept: [0, 0], slope: [1, 1], spread: [0, 0] } }, /calibration\.knotsSec\.1: knots must be strictly increasing/],
    [{ calibration: { knotsSec: [10], intercept: [0, 0], slope: [1], spread: [0] } }, /calibration\.intercept: needs 1 values/],
    [{ typo: 1 } as PointProcessOptions, /typo/],
  ]
  for (const [o, re] of bad) {
    assert.throws(() => new PointProcessModel(o), (e: unknown) => e instanceof TrendwireError && e.code === 'CONFIG_INVALID' && re.test(e.message), JSON.stringify(o))
  }
})

test('predict: pure, never below what was seen, identity at the horizon, past queries answer as of the latest event', () => {
  const p = new PointProcessPredictor(0, 100_000)
  const { times, followers } = smallCascade(5)
  p.observeBatch(times, followers)
  const last = times[times.length - 1]
  const before = p.snapshot()
  const r = p.predict(last + 60)
  assert.deepEqual(p.snapshot(), before, 'predict does not change the state')
  assert.ok(r.predictedFinal >= r.observed && r.low <= r.predictedFinal && r.predictedFinal <= r.high)
  assert.ok(r.confidence > 0 && r.confidence < 1)
  assert.equal(r.observed, times.length)
  assert.deepEqual(p.predict(last - 1000), p.predict(last))
  const end = p.predict(7 * DAY)
  assert.equal(end.predictedFinal, times.length)
  const empty = new PointProcessPredictor(0, 100).predict(600)
  assert.equal(empty.observed, 0)
  assert.ok(empty.predictedFinal >= 0 && empty.confidence === 0)
})

test('unknown followers use defaultFollowers; events before the post count at the post time', () => {
  const m = new PointProcessModel({ defaultFollowers: 250 })
  const a = m.createState(100, 10)
  const b = m.createState(100, 10)
  m.observe(a, 150, undefined)
  m.observe(b, 150, 250)
  assert.deepEqual(a, b)
  const c = m.createState(100, 10)
  const d = m.createState(100, 10)
  m.observe(c, 50, 7)
  m.observe(d, 100, 7)
  assert.deepEqual(c, d)
  assert.throws(() => m.observe(c, NaN, 1), (e: unknown) => e instanceof TrendwireError && e.code === 'INPUT_BAD_TIMESTAMP')
})
