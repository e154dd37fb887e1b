import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deserialize, serialize } from 'node:v8'
import { gapCount, newCountDetector, parseCountDetectorOptions, stepCount } from '../../../operators/trends/detector.ts'
import { newLifecycle, parseLifecycleOptions, stepLifecycle } from '../../../operators/trends/lifecycle.ts'
import { entityWindowStats, ENGAGEMENT, USE, type EntityHit } from '../../../operators/trends/stats.ts'
import { AdmissionOperator } from '../../../operators/trends/admission.ts'
import { entityKey, isTotalKey, parseKey, totalKey } from '../../../operators/trends/keys.ts'
import { OperatorHarness } from '../../../streams/harness.ts'

test('detector: a gap of k zero windows in closed form equals k zero steps', () => {
  const o = parseCountDetectorOptions()
  const a = newCountDetector()
  const b = newCountDetector()
  for (let i = 0; i < 50; i++) for (const s of [a, b]) stepCount(s, i % 3, 120, true, o)
  for (let i = 0; i < 37; i++) stepCount(a, 0, 120, true, o)
  gapCount(b, 37, 120, true, o)
  assert.equal(b.n, a.n)
  assert.ok(Math.abs(b.level - a.level) < 1e-12 * Math.max(a.level, 1e-300) + 1e-15, `${b.level} vs ${a.level}`)
  assert.ok(Math.abs(b.cusum - a.cusum) < 1e-9)
  assert.equal(b.recent, a.recent)
})

test('detector: the baseline is a share of platform volume, so a volume surge with the same share is not evidence', () => {
  const o = parseCountDetectorOptions()
  const s = newCountDetector()
  // the prior (0.05 uses per window, worth 30 windows) is forgotten after a few hundred windows
  for (let i = 0; i < 1000; i++) stepCount(s, 2, 100, true, o)
  const r = stepCount(s, 10, 500, true, o)
  assert.ok(Math.abs(r.expected - 10) < 0.2, `expected ${r.expected}`)
  assert.equal(r.alarm, false)
  const t = stepCount(s, 10, 100, true, o)
  assert.ok(t.llr > 0 && t.deviation > 4)
})

test('detector: warm-up learns a plain mean and never alarms; a new entity starts from the prior', () => {
  const o = parseCountDetectorOptions()
  const s = newCountDetector()
  for (let i = 0; i < 10; i++) assert.equal(stepCount(s, 20, 100, true, o, true).alarm, false)
  assert.ok(Math.abs(s.level - 0.2) < 1e-12)
  assert.equal(s.cusum, 0)
  const fresh = newCountDetector()
  const r = stepCount(fresh, 0, 100, true, o)
  assert.ok(Math.abs(r.expected - o.priorUses) < 1e-12)
})

test('lifecycle: a level hovering around the decline threshold does not flap', () => {
  const o = parseLifecycleOptions()
  const s = newLifecycle()
  const stages: string[] = []
  const push = (x: number, alarm = false): void => { stages.push(stepLifecycle(s, x, 1, alarm, o)) }
  push(4, true)
  for (const x of [6, 9, 12, 15, 18, 20, 20, 20, 20, 19, 18]) push(x)
  // oscillate ±25 % around 60 % of the peak (the decline threshold), then around 25 %
  for (let k = 0; k < 30; k++) push(k % 2 ? 15 : 9)
  for (let k = 0; k < 30; k++) push(k % 2 ? 6 : 4)
  const transitions = stages.filter((x, i) => i > 0 && x !== stages[i - 1]).length
  assert.ok(transitions <= 4, `stages: ${stages.join(',')}`)
  assert.ok(!stages.includes('idle') || stages.lastIndexOf('idle') > stages.lastIndexOf('declining') - 1)
})

test('lifecycle: a second, larger wave after the decline goes back to rising (and only then)', () => {
  const o = parseLifecycleOptions()
  const s = newLifecycle()
  const stages: string[] = [stepLifecycle(s, 5, 1, true, o)]
  for (const x of [8, 12, 16, 16, 15, 12, 9, 7, 6, 5, 5, 5, 10, 18, 26, 30, 30]) stages.push(stepLifecycle(s, x, 1, false, o))
  const runs = stages.filter((x, i) => i === 0 || x !== stages[i - 1])
  assert.deepEqual(runs, ['emerging', 'rising', 'peaking', 'declining', 'rising'])
})

test('window stats: uses, exact distinct creators, engagement, contributing posts by weight; merge equals one pass', () => {
  const agg = entityWindowStats({ topPosts: 2 })
  const hits: EntityHit[] = [
    { key: 'k', kind: USE, postId: 'p1', creatorId: 'c1', platform: 0 },
    { key: 'k', kind: USE, postId: 'p2', creatorId: 'c1', platform: 1 },
    { key: 'k', kind: USE, postId: 'p3', creatorId: 'c2', platform: 1 },
    { key: 'k', kind: ENGAGEMENT, postId: 'p3', creatorId: '', platform: 1 },
    { key: 'k', kind: ENGAGEMENT, postId: 'p3', creatorId: '', platform: 1 },
    { key: 'k', kind: ENGAGEMENT, postId: 'p1', creatorId: '', platform: 0 },
  ]
  let one = agg.create()
  for (const h of hits) one = agg.add(one, h, 0)
  const r = agg.result(one)
  assert.deepEqual(r, { uses: 3, uniqueCreators: 2, engagement: 3, topPosts: ['p3', 'p1'], topPlatform: 1 })
  let a = agg.create()
  let b = agg.create()
  hits.forEach((h, i) => { if (i % 2) a = agg.add(a, h, 0); else b = agg.add(b, h, 0) })
  const m = agg.merge(a, b)
  assert.deepEqual({ ...agg.result(m), topPosts: agg.result(m).topPosts.length }, { ...r, topPosts: 2 })
  assert.deepEqual(agg.result(deserialize(serialize(m))), agg.result(m), 'accumulators survive structured clone')
})

test('keys: platform, type and entity round trip; totals are recognised', () => {
  assert.deepEqual(parseKey(entityKey('reels', 'term', 'a|b')), { platform: 'reels', type: 'term', entity: 'a|b' })
  assert.ok(isTotalKey(totalKey('shorts')))
  assert.ok(isTotalKey(totalKey('*')))
  assert.ok(!isTotalKey(entityKey('shorts', 'hashtag', '*')))
})

test('admission operator: uses admit, engagement only passes for tracked keys, totals always; state survives a snapshot', async () => {
  const mk = () => new AdmissionOperator('adm', { capacity: 2, minCount: 2, sketchWidth: 1024, halfLifeMs: 0 })
  const h = new OperatorHarness(mk())
  const use = (key: string): [EntityHit, number] => [{ key, kind: USE, postId: 'p', creatorId: 'c', platform: 0 }, 1]
  const eng = (key: string): [EntityHit, number] => [{ key, kind: ENGAGEMENT, postId: 'p', creatorId: '', platform: 0 }, 1]
  await h.feed([use('a'), eng('a'), use('a'), eng('a'), use('b'), use(totalKey('tiktok')), eng('b')])
  assert.deepEqual(h.values().map((x) => `${x.key}/${x.kind}`), ['a/0', 'a/1', 'tiktok|*|/0'])
  const h2 = new OperatorHarness(mk()).restoreInto(mk(), h.snapshot())
  await h2.feed([use('b'), eng('b'), use('c')])
  assert.deepEqual(h2.values().map((x) => `${x.key}/${x.kind}`), ['b/0', 'b/1'])
  assert.deepEqual(h2.op.stateStats!().keys, 2)
})

test('describeSignal: one line with observed vs expected, z, evidence and posts', async () => {
  const { describeSignal } = await import('../../../operators/trends/explain.ts')
  const line = describeSignal({
    entityType: 'hashtag', entity: 'tacotuesday', platform: 'tiktok', windowStart: Date.UTC(2024, 5, 1, 12, 0), windowEnd: Date.UTC(2024, 5, 1, 12, 1),
    uses: 9, uniqueCreators: 8, totalEngagement: 120, growth: 1, baseline: 0.8, observed: 8, deviation: 8.05, score: 1.3,
    stage: 'emerging', contributingPostIds: ['p1', 'p2'], revision: 0,
  })
  assert.equal(line, '#tacotuesday on tiktok is emerging: 8 creators (9 posts, 120 engagements) in 12:00–12:01 UTC against 0.8 expected (z = 8.1, +100% on the previous window), evidence 1.3× the alarm threshold; top posts p1, p2')
})
