import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TrendSignal } from '../../../schemas/outputs.ts'
import { OperatorHarness } from '../../../streams/harness.ts'
import { KeyedProcessOperator } from '../../../streams/operators.ts'
import { Rng } from '../../../streams/sources/prng.ts'
import { parseCountDetectorOptions } from '../../../operators/trends/detector.ts'
import { parseLifecycleOptions } from '../../../operators/trends/lifecycle.ts'
import { entityTrends, type EntityWindow } from '../../../operators/trends/process.ts'
import type { TrackerParams } from '../../../operators/trends/tracker.ts'

const W = 60_000
const T0 = Date.UTC(2024, 5, 1)
const KEY = 'tiktok|hashtag|tacotuesday'
const params: TrackerParams = { windowMs: W, detector: parseCountDetectorOptions(), lifecycle: parseLifecycleOptions() }

function harness() {
  return new OperatorHarness(new KeyedProcessOperator('trend-entities', (w: EntityWindow) => w.r.key, entityTrends({ params })))
}

function win(i: number, creators: number, total = 100, warmingUp = false, revision = 0): [EntityWindow, number] {
  const start = T0 + i * W
  return [{
    r: { key: KEY, start, end: start + W, revision, value: { uses: creators, uniqueCreators: creators, engagement: 3 * creators, topPosts: creators ? [`p${i}`] : [], topPlatform: 0 } },
    total, warmingUp,
  }, start + W - 1]
}

/** Feeds window i (if it has a record) and steps the watermark past its end, like the runtime. */
async function step(h: OperatorHarness<EntityWindow, TrendSignal>, i: number, creators: number | null, total = 100, warmingUp = false): Promise<void> {
  if (creators !== null) await h.feed([win(i, creators, total, warmingUp)])
  await h.watermarkTo(T0 + (i + 1) * W - 1)
}

/** Stage runs of the signals, e.g. ['emerging', 'rising', 'peaking', 'declining']. */
function runs(signals: TrendSignal[]): string[] {
  const out: string[] = []
  for (const s of signals) if (out[out.length - 1] !== s.stage) out.push(s.stage)
  return out
}

const BASE = [1, 0, 2, 1, 1, 0, 1, 2, 0, 1, 1, 1, 0, 2, 1, 0, 1, 1, 2, 0]
const TREND = [2, 3, 4, 6, 8, 11, 14, 17, 20, 22, 23, 24, 24, 23, 21, 18, 15, 12, 9, 7, 5, 4, 3, 2, 2, 1, 1, 1, 0, 1]

test('trend: fires within a few windows of onset; emerging → rising → peaking → declining once; winds down by timers', async () => {
  const h = harness()
  let i = 0
  for (; i < 90; i++) await step(h, i, BASE[i % BASE.length], 100, i < 30)
  assert.equal(h.values().length, 0, 'quiet on the baseline')
  const onset = i
  for (const x of TREND) await step(h, i++, x)
  // the trend is over: no more records, only the watermark moves (timers make the zero windows)
  for (let k = 0; k < 40; k++) await step(h, i++, null)
  const sig = h.values()
  assert.ok(sig.length > 0)
  const first = sig[0]
  const delayWindows = (first.windowEnd - (T0 + onset * W)) / W
  assert.equal(first.stage, 'emerging')
  assert.ok(delayWindows <= 6, `detected ${delayWindows} windows after onset`)
  assert.deepEqual(runs(sig), ['emerging', 'rising', 'peaking', 'declining'], 'each stage once, in order: no flapping')
  // one signal per window, contiguous, then silence: the episode ended
  for (let k = 1; k < sig.length; k++) assert.equal(sig[k].windowStart, sig[k - 1].windowEnd)
  assert.ok(sig[sig.length - 1].windowEnd < T0 + (i - 5) * W, 'the episode ended before the input did')
  // explanation: baseline ~1 use per window, observed, z-score deviation, contributing posts
  assert.ok(first.baseline > 0.5 && first.baseline < 1.6, `baseline ${first.baseline}`)
  assert.equal(first.observed, first.uniqueCreators)
  assert.ok(first.deviation > 3, `deviation ${first.deviation}`)
  assert.ok(first.score >= 1)
  assert.deepEqual(first.contributingPostIds, [`p${(first.windowStart - T0) / W}`])
  assert.equal(first.entity, 'tacotuesday')
  assert.equal(first.entityType, 'hashtag')
  assert.equal(first.platform, 'tiktok')
  const zero = sig.filter((s) => s.uses === 0)
  assert.ok(zero.length > 0 && zero.every((s) => s.stage === 'declining' || s.stage === 'peaking'), 'windows without records still produce signals while trending')
})

test('noise only: Poisson noise around the baseline through two days of daily volume swings raises nothing', async () => {
  const rng = new Rng(5, 'trend-noise')
  const h = harness()
  for (let i = 0; i < 2 * 1440; i++) {
    // platform volume follows a daily cycle (×0.4 to ×1.6); the entity keeps its 1 % share
    const total = Math.round(100 * (1 + 0.6 * Math.sin((2 * Math.PI * i) / 1440)))
    const x = rng.poisson(total / 100)
    await step(h, i, x === 0 && rng.chance(0.5) ? null : x, total, i < 30)
  }
  assert.deepEqual(h.values(), [])
})

test('outlier: one spike does not move the baseline, and the spike alone fizzles without rising', async () => {
  const h = harness()
  let i = 0
  for (; i < 90; i++) await step(h, i, BASE[i % BASE.length], 100, i < 30)
  await step(h, i++, 15)
  for (let k = 0; k < 30; k++, i++) await step(h, i, BASE[i % BASE.length])
  const sig = h.values()
  assert.ok(sig.every((s) => s.stage !== 'rising'), `stages ${runs(sig).join(',')}`)
  const after = sig[sig.length - 1]
  assert.ok(after === undefined || after.baseline < 1.6, 'the baseline learned the clipped spike only')
  // a trend afterwards is still seen against the old baseline
  const h2 = harness()
  for (let k = 0; k < 90; k++) await step(h2, k, BASE[k % BASE.length], 100, k < 30)
  await step(h2, 90, 15)
  for (let k = 91; k < 140; k++) await step(h2, k, BASE[k % BASE.length])
  const before = h2.values().length
  for (let k = 0; k < TREND.length; k++) await step(h2, 140 + k, TREND[k])
  assert.ok(h2.values().length > before, 'the later trend is detected')
})

test('corrections re-emit the window signal with revision + 1; snapshot and restore mid-trend continue identically', async () => {
  const a = harness()
  let i = 0
  for (; i < 90; i++) await step(a, i, BASE[i % BASE.length], 100, i < 30)
  for (let k = 0; k < 8; k++) await step(a, i++, TREND[k])
  const snap = a.snapshot()
  const b = harness().restoreInto(new KeyedProcessOperator('trend-entities', (w: EntityWindow) => w.r.key, entityTrends({ params })), snap)
  // same watermark position
  await b.watermarkTo(a.watermark)
  const lastA = a.values().length
  for (let k = 8; k < TREND.length; k++, i++) {
    await step(a, i, TREND[k])
    await step(b, i, TREND[k])
  }
  assert.deepEqual(b.values(), a.values().slice(lastA))
  // a late correction of the last window: same signal, corrected counts, revision 1
  const lastWindow = i - 1
  const lastSig = a.values()[a.values().length - 1]
  assert.equal(lastSig.windowStart, T0 + lastWindow * W)
  await a.feed([win(lastWindow, TREND[TREND.length - 1] + 2, 100, false, 1)])
  const corr = a.values()[a.values().length - 1]
  assert.equal(corr.revision, 1)
  assert.equal(corr.uniqueCreators, TREND[TREND.length - 1] + 2)
  assert.equal(corr.stage, lastSig.stage)
  assert.equal(corr.baseline, lastSig.baseline)
})
