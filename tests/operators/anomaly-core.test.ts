// The detector core (operators/anomaly/core.ts) with both observation models, and proof that both
// users run it: `trendwire nab` (Gaussian model, record channels) and the trend topology's
// per-entity operator (Poisson model with the platform volume as exposure, CUSUM channel).
import { test, mock } from 'node:test'
import assert from 'node:assert/strict'
import v8 from 'node:v8'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DetectorCore, FREEZE, WARMING_UP, type CoreState, type Explanation } from '../../operators/anomaly/core.ts'
import { Detector } from '../../operators/anomaly/detector.ts'
import { detectorDefaults } from '../../operators/anomaly/options.ts'
import { gapCount, newCountDetector, parseCountDetectorOptions, stepCount, trendCore, trendCoreOptions } from '../../operators/trends/detector.ts'
import { entityTrends, type EntityWindow } from '../../operators/trends/process.ts'
import { parseLifecycleOptions } from '../../operators/trends/lifecycle.ts'
import { Rng } from '../../streams/sources/prng.ts'
import { OperatorHarness } from '../../streams/harness.ts'
import { KeyedProcessOperator } from '../../streams/operators.ts'
import { TrendwireError } from '../../streams/errors.ts'
import type { TrendSignal } from '../../schemas/outputs.ts'

const T0 = Date.UTC(2024, 0, 1)
const MIN = 60_000

function feed(core: DetectorCore, s: CoreState, xs: number[], exposure: (i: number) => number = () => 1, stepMs = MIN): Explanation[] {
  return xs.map((x, i) => ({ ...core.update(s, x, T0 + i * stepMs, exposure(i)) }))
}

test('poisson model: the expectation is level × exposure, so a volume surge at the same share is not evidence; a rise is', () => {
  const core = new DetectorCore({ model: 'poisson', direction: 'up', seasonPeriodMs: 0, levelScales: [], residualScales: [], volatilityScales: [],
    levelAlpha: 1 / 240, levelMeanPoints: 240, cusumThreshold: 10, warmup: 0, historyPower: 0, refractory: 0, alarmAt: 1, clipLevel: true })
  const rng = new Rng(3, 'core-poisson')
  const s = core.init()
  const volume = (i: number) => Math.round(200 * (1 + 0.6 * Math.sin((2 * Math.PI * i) / 1440)))
  // 1 % of the platform's volume, through a whole day of ±60 % swings: no alarm
  const quiet = feed(core, s, Array.from({ length: 1440 }, (_, i) => rng.poisson(volume(i) / 100)), volume)
  assert.ok(quiet.slice(60).every((e) => !e.alarm), 'quiet on Poisson noise around the share')
  const last = quiet[quiet.length - 1]
  assert.ok(Math.abs(last.baseline - volume(1439) / 100) < 0.5, `baseline ${last.baseline} follows the exposure`)
  assert.equal(last.channel === '' || last.channel === 'cusum+', true)
  // the share triples: the CUSUM crosses its threshold within a few windows
  const rise = Array.from({ length: 20 }, (_, i) => ({ ...core.update(s, rng.poisson(3 * 2), T0 + (1440 + i) * MIN, 200) }))
  const first = rise.findIndex((e) => e.alarm)
  assert.ok(first >= 0 && first <= 6, `alarm after ${first} windows`)
  assert.equal(rise[first].channel, 'cusum+')
  assert.ok(rise[first].surprise >= 1 && rise[first].deviation > 1)
  assert.ok(rise[first].score > 0.5 && rise[first].score <= 1)
})

test('gaussian model with a CUSUM channel and poisson model with record channels: every channel works with either model', () => {
  const rng = new Rng(4, 'core-mix')
  // the Gaussian scale is the baseline's residual spread, which grows from 0 over the first few
  // hundred points: a Gaussian CUSUM wants a warm-up that long
  const g = new DetectorCore({ levelScales: [], residualScales: [], volatilityScales: [], cusumThreshold: 8, cusumMinRise: 1, seasonPeriodMs: 0, warmup: 300, historyPower: 0 })
  const gs = g.init()
  const noise = feed(g, gs, Array.from({ length: 2000 }, () => 100 + rng.normal()))
  assert.ok(noise.every((e) => !e.alarm), 'gaussian CUSUM quiet on noise')
  const shifted = feed(g, gs, Array.from({ length: 20 }, () => 102 + rng.normal()))
  assert.ok(shifted.some((e) => e.alarm && e.channel === 'cusum+'), 'a 2σ shift accumulates to an alarm')
  assert.ok(Math.abs(shifted[0].deviation - (shifted[0].observed - shifted[0].baseline) / (gs.spread * 1.2533141373155003)) < 1, 'deviation is a robust z')

  const p = new DetectorCore({ model: 'poisson', seasonPeriodMs: 0, levelScales: [1], residualScales: [4], volatilityScales: [], warmup: 30, historyPower: 0 })
  const ps = p.init()
  feed(p, ps, Array.from({ length: 500 }, () => rng.poisson(5)), () => 10)
  const spike = p.update(ps, 40, T0 + 500 * MIN, 10)
  assert.ok(spike.score > 0.5 && /^(level|residual)@\d+\+$/.test(spike.channel), `record channel on counts: ${spike.channel} ${spike.score}`)
  assert.ok(Math.abs(spike.baseline - 5) < 1 && Math.abs(spike.deviation - (40 - spike.baseline) / Math.sqrt(spike.baseline)) < 1e-9, 'Poisson z')
})

test('robust learning: a spike is clipped before the level learns it (clipLevel); seasonal offsets always learn the clipped residual', () => {
  const core = trendCore(parseCountDetectorOptions())
  const s = core.init()
  for (let i = 0; i < 300; i++) core.update(s, i % 2, T0 + i * MIN, 100)
  const before = core.expected(s, 0, 100)
  const e = core.update(s, 50, T0 + 300 * MIN, 100)
  const cap = e.baseline + 3 * Math.sqrt(e.baseline) + 1
  const after = core.expected(s, 0, 100)
  assert.ok(after - before <= (cap - before) / 240 + 1e-12, `learned ${after - before}, at most the clipped ${cap}`)

  const daily = new DetectorCore({ levelScales: [], residualScales: [], volatilityScales: [], seasonPeriodMs: 86_400_000, seasonBins: 24 })
  const d = daily.init()
  const hour = 3_600_000
  for (let i = 0; i < 24 * 20; i++) daily.update(d, 10 * Math.sin((2 * Math.PI * i) / 24) + (i % 3), T0 + i * hour)
  const offBefore = d.season![5]
  daily.update(d, 1e6, T0 + (24 * 20 + 5) * hour)
  assert.ok(Math.abs(d.season![5] - offBefore) < 3 * 3 * d.spread, 'a 1e6 spike moves its bin by at most the clip')
})

test('the trend detector is the core: stepCount and gapCount give exactly what the core gives with trendCoreOptions', () => {
  const o = parseCountDetectorOptions()
  const core = new DetectorCore(trendCoreOptions(o))
  const a = newCountDetector(o)
  const b = core.init()
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort())
  const rng = new Rng(9, 'core-trend')
  for (let i = 0; i < 400; i++) {
    const x = i > 300 ? rng.poisson(4) : rng.poisson(1)
    const total = 80 + (i % 40)
    const warm = i < 30
    const learn = i < 310
    const flags = (learn ? 0 : FREEZE) | (warm ? WARMING_UP : 0)
    if (i % 50 === 49) {
      gapCount(a, 7, total, learn, o, warm)
      core.gap(b, 7, total, flags)
    }
    const r = stepCount(a, x, total, learn, o, warm, T0 + i * MIN)
    const e = core.update(b, x, T0 + i * MIN, total, flags)
    assert.deepEqual(r, { observed: x, expected: e.baseline, deviation: e.deviation, llr: e.llr, cusum: e.cusum, surprise: e.surprise, alarm: e.alarm })
  }
  assert.deepEqual(a, b)
})

test('gap: closed form where the configuration allows it, otherwise the same as k zero updates', () => {
  const o = parseCountDetectorOptions()
  const core = trendCore(o)
  assert.equal(core.closedFormGap, true)
  const nab = new DetectorCore()
  assert.equal(nab.closedFormGap, false)
  const a = nab.init()
  const b = nab.init()
  const xs = Array.from({ length: 400 }, (_, i) => 5 + (i % 4))
  feed(nab, a, xs, () => 1, 300_000)
  feed(nab, b, xs, () => 1, 300_000)
  nab.gap(a, 12, 1, 0, T0 + 400 * 300_000, 300_000)
  for (let i = 0; i < 12; i++) nab.update(b, 0, T0 + (400 + i) * 300_000)
  assert.deepEqual(a, b)
})

test('state: plain data of a fixed size for both models; survives structured clone and v8 serialisation mid-stream', () => {
  for (const core of [new DetectorCore(), trendCore(parseCountDetectorOptions())]) {
    const rng = new Rng(11, 'core-state')
    const live = core.init()
    const xs = Array.from({ length: 3000 }, (_, i) => (core.poisson ? rng.poisson(2) : 50 + 10 * Math.sin(i / 40) + rng.normal()) + (i > 2500 ? 8 : 0))
    const exposure = (i: number) => (core.poisson ? 100 + (i % 17) : 1)
    const size = v8.serialize(live).length
    for (let i = 0; i < 1500; i++) core.update(live, xs[i], T0 + i * 300_000, exposure(i))
    assert.ok(core.fits(live))
    const viaClone = structuredClone(live)
    const viaV8 = v8.deserialize(v8.serialize(live)) as CoreState
    assert.ok(core.fits(viaClone) && core.fits(viaV8))
    for (let i = 1500; i < xs.length; i++) {
      const t = T0 + i * 300_000
      const e = { ...core.update(live, xs[i], t, exposure(i)) }
      assert.deepEqual({ ...core.update(viaClone, xs[i], t, exposure(i)) }, e)
      assert.deepEqual({ ...core.update(viaV8, xs[i], t, exposure(i)) }, e)
    }
    assert.ok(Math.abs(v8.serialize(live).length - size) <= 16, 'O(1) state')
  }
  assert.ok(!new DetectorCore().fits({ ...new DetectorCore().init(), channels: new Float64Array(3) }))
  assert.throws(() => new DetectorCore().update(new DetectorCore().init(), 1, T0, 0), (err: unknown) => err instanceof TrendwireError && err.code === 'INPUT_MALFORMED')
})

test('both users construct and run the same core: `trendwire nab` (gaussian) and the trend operator (poisson)', async () => {
  const models: string[] = []
  const original = DetectorCore.prototype.update
  const spy = mock.method(DetectorCore.prototype, 'update', function (this: DetectorCore, ...args: Parameters<DetectorCore['update']>) {
    models.push(this.options.model)
    return original.apply(this, args)
  })
  try {
    // trendwire nab over a one-file corpus
    const { default: nab } = await import('../../bin/commands/nab.ts')
    const root = mkdtempSync(join(tmpdir(), 'nab-core-test-'))
    try {
      mkdirSync(join(root, 'data', 'c'), { recursive: true })
      const rows = Array.from({ length: 300 }, (_, i) => `${new Date(T0 + i * 300_000).toISOString().replace('T', ' ').slice(0, 19)},${10 + (i % 5)}`)
      writeFileSync(join(root, 'data', 'c', 'f.csv'), ['timestamp,value', ...rows].join('\n'))
      assert.equal(await nab(['--data', join(root, 'data'), '--out', join(root, 'out')]), 0)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
    assert.equal(models.length, 300)
    assert.deepEqual([...new Set(models)], ['gaussian'])
    assert.equal(new Detector().core.options.levelScales.length, detectorDefaults.levelScales.length)

    // the trend topology's per-entity operator
    models.length = 0
    const params = { windowMs: MIN, detector: parseCountDetectorOptions(), lifecycle: parseLifecycleOptions() }
    const h = new OperatorHarness<EntityWindow, TrendSignal>(new KeyedProcessOperator('trend-entities', (w: EntityWindow) => w.r.key, entityTrends({ params })))
    for (let i = 0; i < 60; i++) {
      const x = i < 45 ? i % 2 : 4 * (i - 44)
      const start = T0 + i * MIN
      await h.feed([[{ r: { key: 'tiktok|hashtag|x', start, end: start + MIN, revision: 0, value: { uses: x, uniqueCreators: x, engagement: 0, topPosts: [], topPlatform: 0 } }, total: 100, warmingUp: i < 10 }, start + MIN - 1]])
      await h.watermarkTo(start + MIN - 1)
    }
    assert.equal(models.length, 60)
    assert.deepEqual([...new Set(models)], ['poisson'])
    assert.ok(h.values().length > 0 && h.values()[0].stage === 'emerging', 'the take-off is signalled')
    assert.ok(trendCore(params.detector) instanceof DetectorCore)
  } finally {
    spy.mock.restore()
  }
})

test('checkpoints from before the shared core restore: the trend tracker\'s former detector state is upgraded in place', async () => {
  const { newTracker, stepWindow, upgradeTracker } = await import('../../operators/trends/tracker.ts')
  const params = { windowMs: MIN, detector: parseCountDetectorOptions(), lifecycle: parseLifecycleOptions() }
  const live = newTracker()
  const rng = new Rng(13, 'core-upgrade')
  for (let i = 0; i < 120; i++) stepWindow(live, T0 + (i + 1) * MIN, rng.poisson(1), 100, params, i < 30)
  // the former state held { n: windows learned, share, cusum, recent }
  const legacy = structuredClone(live) as unknown as { det: unknown }
  legacy.det = { n: live.det.m, share: live.det.level, cusum: live.det.cusum, recent: live.det.recent }
  const up = upgradeTracker(legacy as never)
  for (let i = 120; i < 160; i++) {
    const x = i < 140 ? rng.poisson(1) : rng.poisson(6)
    assert.deepEqual(stepWindow(up, T0 + (i + 1) * MIN, x, 100, params, false), stepWindow(live, T0 + (i + 1) * MIN, x, 100, params, false))
  }
  assert.equal(upgradeTracker(up), up, 'a current state is left alone')
  // and a never-stepped former state becomes a fresh one
  const fresh = upgradeTracker({ ...newTracker(), det: { n: 0, share: NaN, cusum: 0, recent: 0 } as never })
  assert.deepEqual(fresh.det, newTracker().det)
})

test('Detector snapshots from before the shared core (no cusum / recent / learned fields) restore and continue identically', () => {
  const d = new Detector()
  const rng = new Rng(17, 'core-v1')
  const xs = Array.from({ length: 2000 }, (_, i) => 20 + 5 * Math.sin(i / 50) + rng.normal() + (i === 1700 ? 30 : 0))
  for (let i = 0; i < 1000; i++) d.update(xs[i], T0 + i * 300_000)
  const { cusum: _c, recent: _r, learned: _l, ...old } = d.snapshot()
  const r = Detector.restore(structuredClone(old))
  for (let i = 1000; i < xs.length; i++) assert.deepEqual({ ...r.update(xs[i], T0 + i * 300_000) }, { ...d.update(xs[i], T0 + i * 300_000) })
})
