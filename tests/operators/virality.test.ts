// The virality scorer: the ONNX graph computes what the TypeScript reference computes, every score
// carries the model version and its top contributing features, one session.run per batch, and the
// point-process table answers as of a time from the engagements before it, checkpoint or not.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as ort from 'onnxruntime-node'
import { EngagementProcessTable } from '../../operators/virality/engagement-process.ts'
import { featureValue, predictReference, topContributions, writeInputRow, type ModelSpec } from '../../operators/virality/model.ts'
import { encodeViralityOnnx, ONNX_INPUT, ONNX_OUTPUTS } from '../../operators/virality/onnx.ts'
import { PointProcessModel } from '../../operators/virality/pointprocess.ts'
import { loadViralityModel, modelVersionOf, sessionFor, ViralityScorer } from '../../operators/virality/scorer.ts'
import type { Engagement, FirehoseEvent, PostPublished } from '../../schemas/events.ts'
import type { VideoFeatures, ViralityScore } from '../../schemas/outputs.ts'
import { OperatorHarness } from '../../streams/harness.ts'
import { Rng } from '../../streams/sources/prng.ts'

const T0 = Date.UTC(2024, 5, 1)
const MIN = 60_000

/** Feature records with heavy-tailed counts, nulls, zeros and negative accelerations. */
function randomFeatures(rng: Rng, n: number): VideoFeatures[] {
  const heavy = () => (rng.chance(0.2) ? 0 : Math.exp(rng.normal() * 2.5))
  return Array.from({ length: n }, (_, i) => {
    const views = heavy()
    return {
      postId: `p${i}`, platform: 'reels', windowStart: T0 + i * MIN, windowEnd: T0 + (i + 10) * MIN, revision: 0,
      viewsPerMin: views, likesPerMin: heavy() / 10, sharesPerMin: heavy() / 50, commentsPerMin: heavy() / 40, savesPerMin: heavy() / 60,
      velocity: views * 1.2, acceleration: rng.normal() * 10 ** rng.range(-2, 3), engagementRate: rng.float(), shareRate: rng.float() / 10,
      avgWatchTimeSec: rng.chance(0.3) ? null : rng.range(0, 90), completionRate: rng.chance(0.3) ? null : rng.float(),
      ratioToCreatorBaseline: rng.chance(0.4) ? null : heavy(), minutesSincePosting: rng.range(0, 1440),
      creatorFollowers: Math.floor(heavy() * 1000), hashtags: ['fyp'], soundId: null, language: 'en', captionLength: 30,
      viewsSincePosting: Math.floor(heavy() * 20), engagementsSincePosting: rng.chance(0.1) ? null : Math.floor(heavy() * 30),
    } satisfies VideoFeatures
  })
}

function handMadeSpec(): ModelSpec {
  return {
    name: 'virality', version: 7, modelVersion: 'pending', kind: 'logistic-regression', target: 'test',
    features: [
      { name: 'engagementsSincePosting', transform: 'log1p', impute: 3, mean: 1.2, std: 1.5, weight: 2.1 },
      { name: 'acceleration', transform: 'asinh', impute: 0, mean: 0.1, std: 0.9, weight: 0.4 },
      { name: 'completionRate', transform: 'identity', impute: 0.3, mean: 0.3, std: 0.2, weight: -0.7 },
      { name: 'creatorFollowers', transform: 'log1p', impute: 0, mean: 6, std: 2, weight: 0.9 },
    ],
    bias: -4.2,
    onnx: { file: 'test.onnx', sha256: '0'.repeat(64), opset: 13, input: ONNX_INPUT, outputs: { ...ONNX_OUTPUTS } },
    training: {}, metrics: {},
  }
}

async function compareOnnxWithReference(spec: ModelSpec, session: ort.InferenceSession, rows: VideoFeatures[]): Promise<void> {
  const F = spec.features.length
  const x = new Float32Array(rows.length * F)
  rows.forEach((f, i) => writeInputRow(spec, f, x, i * F))
  const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', x, [rows.length, F]) })
  const prob = out[ONNX_OUTPUTS.probability].data as Float32Array
  const contrib = out[ONNX_OUTPUTS.contributions].data as Float32Array
  assert.deepEqual(out[ONNX_OUTPUTS.probability].dims, [rows.length, 1])
  assert.deepEqual(out[ONNX_OUTPUTS.contributions].dims, [rows.length, F])
  for (let i = 0; i < rows.length; i++) {
    const ref = predictReference(spec, x.subarray(i * F, (i + 1) * F))
    // float32 graph vs float64 reference: absolute on the probability (onnxruntime's Sigmoid is a
    // float32 approximation, ~1e-7 absolute), relative on the log-odds contributions
    assert.ok(Math.abs(prob[i] - ref.probability) < 2e-6, `row ${i}: onnx ${prob[i]} vs reference ${ref.probability}`)
    for (let j = 0; j < F; j++) {
      const a = contrib[i * F + j]
      const b = ref.contributions[j]
      assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `row ${i} feature ${spec.features[j].name}: onnx ${a} vs reference ${b}`)
    }
  }
}

test('ONNX export: the graph computes the TypeScript reference (hand-made weights, every transform)', async () => {
  const spec = handMadeSpec()
  const session = await ort.InferenceSession.create(encodeViralityOnnx(spec))
  const rows = randomFeatures(new Rng(5, 'onnx'), 400)
  // extremes: zero, negative (log1p clamps at 0), huge
  rows.push({ ...rows[0], engagementsSincePosting: 0, acceleration: -1e6, completionRate: 0, creatorFollowers: 2e8 })
  rows.push({ ...rows[0], engagementsSincePosting: -5, acceleration: 1e6, completionRate: 1, creatorFollowers: 0 })
  await compareOnnxWithReference(spec, session, rows)
})

test('the shipped model: ONNX output equals the TypeScript reference; spec and file agree', async () => {
  const model = await loadViralityModel()
  const { spec } = model
  assert.match(spec.modelVersion, /^virality-v\d+:[0-9a-f]{12}$/)
  assert.ok(spec.features.length >= 5)
  assert.ok((spec.training.seeds as number[]).length > 0)
  await compareOnnxWithReference(spec, model.session, randomFeatures(new Rng(6, 'shipped'), 500))
  // the bytes must be the file the spec names: a spec edited without retraining is refused
  const bytes = encodeViralityOnnx(spec)
  await assert.rejects(sessionFor({ ...spec, bias: spec.bias + 1 }, encodeViralityOnnx({ ...spec, bias: spec.bias + 1 })), (e: any) => e.code === 'CONFIG_INVALID' && /SHA-256/.test(e.message))
  assert.equal(modelVersionOf(spec.version, bytes).sha256, spec.onnx.sha256, 'encoding the spec again gives the shipped bytes (deterministic export)')
})

test('scorer: one session.run per batch; every score carries the model version and its top contributing features', async () => {
  const model = await loadViralityModel()
  let runs = 0
  const run = model.session.run.bind(model.session)
  const counted = { spec: model.spec, session: Object.create(model.session, { run: { value: (...a: Parameters<typeof run>) => { runs++; return run(...a) } } }) }
  const h = new OperatorHarness(new ViralityScorer('scorer', counted, null, { topFeatures: 3 }))
  const rows = randomFeatures(new Rng(8, 'scorer'), 250)
  await h.feed(rows.slice(0, 200).map((f) => [f, f.windowEnd - 1]))
  await h.feed(rows.slice(200).map((f) => [f, f.windowEnd - 1]))
  assert.equal(runs, 2, 'one inference per batch, not per record')
  const scores = h.values() as ViralityScore[]
  assert.equal(scores.length, 250)
  const F = model.spec.features.length
  scores.forEach((s, i) => {
    const f = rows[i]
    assert.equal(s.modelVersion, model.spec.modelVersion)
    assert.equal(s.postId, f.postId)
    assert.equal(s.at, f.windowEnd)
    assert.equal(h.output[i].time, f.windowEnd - 1)
    assert.ok(s.probTop1Pct >= 0 && s.probTop1Pct <= 1)
    // no point-process table: the engagements seen so far stand in
    assert.equal(s.predictedFinalEngagement, f.engagementsSincePosting ?? 0)
    const x = new Float64Array(F)
    writeInputRow(model.spec, f, x, 0)
    const ref = predictReference(model.spec, x)
    assert.ok(Math.abs(s.probTop1Pct - ref.probability) < 2e-6)
    assert.equal(s.topFeatures.length, 3)
    const want = topContributions(ref.contributions, 3)
    assert.deepEqual(s.topFeatures.map((t) => t.name), want.map((j) => model.spec.features[j].name))
    for (let k = 0; k < 3; k++) {
      const j = want[k]
      assert.ok(Math.abs(s.topFeatures[k].contribution - ref.contributions[j]) <= 1e-5 * Math.max(1, Math.abs(ref.contributions[j])))
      assert.equal(s.topFeatures[k].value, featureValue(f, model.spec.features[j].name) ?? model.spec.features[j].impute)
      if (k > 0) assert.ok(Math.abs(s.topFeatures[k - 1].contribution) >= Math.abs(s.topFeatures[k].contribution), 'largest |contribution| first')
    }
  })
})

test('topContributions: k largest by absolute value, largest first, ties in feature order', () => {
  assert.deepEqual(topContributions([0.1, -3, 2, 3, 0], 3), [1, 3, 2])
  assert.deepEqual(topContributions([1, 1, 1], 2), [0, 1])
  assert.deepEqual(topContributions([1, 2], 5), [1, 0])
  assert.deepEqual(topContributions([1, 2], 0), [])
})

const post: PostPublished = {
  kind: 'post', postId: 'p1', platform: 'shorts', creatorId: 'c1', creatorFollowers: 300, postedAt: T0,
  caption: '', hashtags: [], soundId: null, durationSec: 15, language: 'en', embedding: null,
}
const eng = (at: number): Engagement => ({ kind: 'engagement', postId: 'p1', platform: 'shorts', type: 'view', at, watchTimeSec: 3, userId: 'u', commentText: null })

test('point-process table: a prediction as of T uses exactly the engagements before T, whatever the arrival order and batches', async () => {
  const rng = new Rng(9, 'pp')
  const times = Array.from({ length: 120 }, () => T0 + Math.floor(rng.float() * 30 * MIN)).sort((a, b) => a - b)
  const shuffled = times.slice().sort(() => rng.float() - 0.5) // out of order, as a stream delivers
  const opts = { horizonSec: 86_400, followerExponent: 0, calibration: 'none' as const }
  const table = new EngagementProcessTable('pp', opts, { refreshMs: 0 })
  const h = new OperatorHarness<FirehoseEvent, never>(table)
  await h.feed([[eng(shuffled[0]), shuffled[0]]]) // before its post: waits as an orphan
  await h.feed([[post, T0]])
  await h.feed(shuffled.slice(1, 70).map((t) => [eng(t), t]))
  await h.feed(shuffled.slice(70).map((t) => [eng(t), t]))
  const model = new PointProcessModel(opts)
  const st = model.createState(T0 / 1000, 300)
  let k = 0
  for (const at of [T0 + 5 * MIN, T0 + 12 * MIN, T0 + 31 * MIN]) {
    while (k < times.length && times[k] < at) model.observe(st, times[k++] / 1000)
    const got = table.predictAt('p1', at)!
    const want = model.predict(st, at / 1000)
    assert.equal(got.observed, k)
    assert.equal(got.predictedFinal, want.predictedFinal)
  }
  assert.equal(table.predictAt('nope', T0), null)
})

test('point-process table: restored from a snapshot mid-stream, it predicts what an uninterrupted one does', async () => {
  const opts = { horizonSec: 86_400, followerExponent: 0, calibration: 'none' as const }
  const feedA: Array<[FirehoseEvent, number]> = [[post, T0], ...[1, 2, 3, 7, 9].map((m): [FirehoseEvent, number] => [eng(T0 + m * MIN), T0 + m * MIN])]
  const feedB: Array<[FirehoseEvent, number]> = [4, 11, 12, 20].map((m) => [eng(T0 + m * MIN), T0 + m * MIN])
  const ref = new EngagementProcessTable('pp', opts)
  const hr = new OperatorHarness<FirehoseEvent, never>(ref)
  await hr.feed(feedA)
  const r1 = ref.predictAt('p1', T0 + 5 * MIN)!
  await hr.feed(feedB)
  const r2 = ref.predictAt('p1', T0 + 15 * MIN)!

  const a = new EngagementProcessTable('pp', opts)
  const h = new OperatorHarness<FirehoseEvent, never>(a)
  await h.feed(feedA)
  assert.deepEqual(a.predictAt('p1', T0 + 5 * MIN), r1)
  const b = new EngagementProcessTable('pp', opts)
  h.restoreInto(b, h.snapshot())
  await h.feed(feedB)
  assert.deepEqual(b.predictAt('p1', T0 + 15 * MIN), r2)
})
