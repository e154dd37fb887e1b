import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deserialize, serialize } from 'node:v8'
import { AdmissionFilter } from '../../../operators/sketches/admission.ts'
import { SpaceSaving } from '../../../operators/sketches/spacesaving.ts'
import { TrendwireError } from '../../../streams/errors.ts'
import { AliasTable, Rng, zipfWeights } from '../../../streams/sources/prng.ts'

function zipf(seed: number, keys: number, n: number): { stream: string[]; exact: Map<string, number> } {
  const rng = new Rng(seed, 'ss-stream')
  const alias = new AliasTable(zipfWeights(keys, 1.0))
  const stream: string[] = new Array(n)
  const exact = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const k = `k${alias.sample(rng)}`
    stream[i] = k
    exact.set(k, (exact.get(k) ?? 0) + 1)
  }
  return { stream, exact }
}

function checkBounds(ss: SpaceSaving, exact: Map<string, number>, n: number): void {
  for (const h of ss.top()) {
    const c = exact.get(h.key) ?? 0
    assert.ok(h.count >= c, `${h.key}: count ${h.count} below true ${c}`)
    assert.ok(h.count - h.error <= c, `${h.key}: lower bound ${h.count - h.error} above true ${c}`)
  }
  for (const [k, c] of exact) if (c > n / ss.capacity) assert.ok(ss.has(k), `${k} (${c} > N/k) is not monitored`)
  assert.ok(ss.minCount <= n / ss.capacity)
}

test('space-saving: bounds and every key above N/k monitored (Zipf stream)', () => {
  const { stream, exact } = zipf(1, 20_000, 100_000)
  const ss = new SpaceSaving(200)
  for (const k of stream) ss.offer(k)
  checkBounds(ss, exact, stream.length)
  const truthTop = [...exact].sort((a, b) => b[1] - a[1]).slice(0, 10).map((e) => e[0])
  assert.deepEqual(ss.top(10).map((h) => h.key).slice(0, 5), truthTop.slice(0, 5), 'the head is ranked right')
  assert.ok(ss.guaranteed(1000).every((h) => exact.get(h.key)! >= 1000), 'guaranteed() has no false positives')
})

test('space-saving: merge of two halves keeps the bounds for the whole stream', () => {
  const { stream, exact } = zipf(2, 20_000, 100_000)
  const a = new SpaceSaving(300)
  const b = new SpaceSaving(300)
  stream.forEach((k, i) => (i < 50_000 ? a : b).offer(k))
  const m = SpaceSaving.merge(a, b)
  assert.equal(m.total, stream.length)
  for (const h of m.top()) {
    const c = exact.get(h.key) ?? 0
    assert.ok(h.count >= c && h.count - h.error <= c, `${h.key}: [${h.count - h.error}, ${h.count}] misses ${c}`)
  }
  for (const [k, c] of exact) if (c > stream.length / 300) assert.ok(m.has(k), `${k} lost in merge`)
})

test('space-saving: snapshot through structured clone continues identically; decay scales counts', () => {
  const { stream } = zipf(3, 5_000, 30_000)
  const ss = new SpaceSaving(64)
  for (const k of stream.slice(0, 15_000)) ss.offer(k, 2)
  const copy = SpaceSaving.restore(deserialize(serialize(ss.snapshot())))
  for (const k of stream.slice(15_000)) assert.equal(copy.offer(k), ss.offer(k))
  assert.deepEqual(copy.top(), ss.top())
  const before = ss.top(1)[0]
  ss.decay(0.5)
  assert.equal(ss.top(1)[0].count, before.count / 2)
  assert.throws(() => SpaceSaving.restore({ version: 1, capacity: 1, keys: ['a', 'b'], counts: new Float64Array(2), errors: new Float64Array(2), heap: new Int32Array(2) }), TrendwireError)
  assert.throws(() => new SpaceSaving(0), TrendwireError)
})

test('admission: a million one-off keys stay in the sketch; frequent keys get slots; memory is fixed', () => {
  const rng = new Rng(4, 'admission')
  const adm = new AdmissionFilter({ capacity: 1_000, minCount: 3, sketchWidth: 1 << 16, halfLifeMs: 0 })
  const heavy = Array.from({ length: 50 }, (_, i) => `heavy-${i}`)
  const admittedHeavy = new Set<string>()
  let admittedNoise = 0
  for (let i = 0; i < 1_000_000; i++) {
    if (adm.offer(`once-${i}-${rng.nextU32()}`)) admittedNoise++
    if (i % 100 === 0) {
      const h = heavy[rng.int(heavy.length)]
      if (adm.offer(h)) admittedHeavy.add(h)
    }
  }
  assert.equal(admittedHeavy.size, heavy.length, 'every frequent key was admitted')
  assert.ok(adm.size <= 1_000)
  assert.ok(admittedNoise < 0.02 * 1_000_000, `${admittedNoise} one-off keys admitted (count-min collisions)`)
  assert.ok(heavy.every((h) => adm.has(h)), 'frequent keys are never pushed out by one-off keys')
  // 4 B × 65,536 × 4 of sketch, plus a slot per tracked key: fixed however many keys go by
  assert.ok(adm.bytes <= 4 * (1 << 16) * 4 + 1_000 * (24 + 60 + 2 * 24), `memory ${adm.bytes} B is bounded by construction`)
})

test('admission: aging lets a newer frequent key replace a stale one; snapshot continues identically', () => {
  const adm = new AdmissionFilter({ capacity: 2, minCount: 2, sketchWidth: 1024, halfLifeMs: 1_000 })
  adm.advance(0)
  for (let i = 0; i < 20; i++) { adm.offer('old-a'); adm.offer('old-b') }
  assert.ok(adm.has('old-a') && adm.has('old-b'))
  adm.advance(10_000) // 10 half-lives: old counts fall to ~0
  const snap = deserialize(serialize(adm.snapshot()))
  const copy = new AdmissionFilter({ capacity: 2, minCount: 2, sketchWidth: 1024, halfLifeMs: 1_000 })
  copy.restore(snap)
  for (const f of [adm, copy]) {
    assert.equal(f.offer('new'), false, 'one sighting is not enough')
    assert.equal(f.offer('new'), true, 'the second sighting beats a decayed slot')
  }
  assert.equal(adm.size, 2)
  assert.deepEqual(copy.snapshot(), adm.snapshot())
  assert.equal(adm.evicted, 1)
  assert.throws(() => new AdmissionFilter({ capacity: 2 }).restore(adm.snapshot()), /capacity|width/)
})
