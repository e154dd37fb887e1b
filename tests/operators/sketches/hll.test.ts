import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deserialize, serialize } from 'node:v8'
import { hllAdd, hllBytes, hllCount, hllCreate, hllFromBytes, hllMerge, hllMergeInto, hllToBytes } from '../../../operators/sketches/hll.ts'
import { TrendwireError } from '../../../streams/errors.ts'
import { Rng } from '../../../streams/sources/prng.ts'

/** n distinct random strings from a seeded stream (a prefix keeps streams of different tests apart). */
function ids(rng: Rng, n: number, prefix: string): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}:${rng.nextU32().toString(36)}`)
}

test('hll: exact while sparse, duplicates ignored', () => {
  const h = hllCreate(12)
  for (let round = 0; round < 3; round++) for (let i = 0; i < 300; i++) hllAdd(h, `creator-${i}`)
  assert.equal(hllCount(h), 300)
  assert.ok(h.sparse !== null, 'still sparse below m/8 = 512')
  assert.equal(hllBytes(h), 300 * 8)
  assert.equal(hllCount(hllCreate(12)), 0)
})

test('hll: relative error within the standard error 1.04/√m over many sketches (p = 12 and 14)', () => {
  const rng = new Rng(7, 'hll-accuracy')
  for (const p of [12, 14]) {
    const se = 1.04 / Math.sqrt(1 << p)
    let sq = 0
    const trials = 16
    for (let t = 0; t < trials; t++) {
      const n = 5_000 + rng.int(45_000)
      const h = hllCreate(p)
      for (const s of ids(rng, n, `p${p}t${t}-`)) hllAdd(h, s)
      const rel = hllCount(h) / n - 1
      assert.ok(Math.abs(rel) < 4 * se, `p=${p} n=${n}: relative error ${rel.toFixed(4)} beyond 4 standard errors`)
      sq += rel * rel
    }
    const rms = Math.sqrt(sq / trials)
    assert.ok(rms < 1.6 * se, `p=${p}: RMS relative error ${rms.toFixed(4)} vs standard error ${se.toFixed(4)}`)
  }
})

test('hll: small and large cardinalities (the improved estimator has no switch-over gap)', () => {
  const rng = new Rng(8, 'hll-range')
  const h = hllCreate(10)
  const checkpoints = new Set([100, 200, 1_000, 3_000, 10_000, 300_000])
  let n = 0
  for (const s of ids(rng, 300_000, 'r')) {
    hllAdd(h, s)
    n++
    if (checkpoints.has(n)) {
      const rel = hllCount(h) / n - 1
      assert.ok(Math.abs(rel) < 0.1, `n=${n}: relative error ${rel.toFixed(3)} (p=10, standard error 3.3%)`)
    }
  }
})

test('hll: merge is the sketch of the union, and hllMerge mutates neither side', () => {
  const rng = new Rng(9, 'hll-merge')
  const all = ids(rng, 100_000, 'm')
  const a = hllCreate(12)
  const b = hllCreate(12)
  const u = hllCreate(12)
  for (const s of all.slice(0, 60_000)) hllAdd(a, s)
  for (const s of all.slice(40_000)) hllAdd(b, s)
  for (const s of all) hllAdd(u, s)
  const aBefore = hllToBytes(a)
  const m = hllMerge(a, b)
  assert.deepEqual(hllToBytes(m), hllToBytes(u), 'register-wise max equals the union sketch exactly')
  assert.deepEqual(hllToBytes(a), aBefore)
  assert.ok(Math.abs(hllCount(m) / 100_000 - 1) < 0.05)
  // sparse into dense, dense into sparse, sparse into sparse
  const s1 = hllCreate(12)
  const s2 = hllCreate(12)
  for (let i = 0; i < 50; i++) hllAdd(s1, `x${i}`)
  for (let i = 25; i < 100; i++) hllAdd(s2, `x${i}`)
  assert.equal(hllCount(hllMerge(s1, s2)), 100)
  const d = hllMerge(u, s1)
  assert.ok(d.regs !== null)
  const d2 = hllMergeInto(hllMerge(s1, hllCreate(12)), u)
  assert.deepEqual(hllToBytes(d2), hllToBytes(d))
  assert.throws(() => hllMerge(hllCreate(10), hllCreate(12)), TrendwireError)
})

test('hll: register-array round trip and structured clone keep the estimate; bad arrays are rejected', () => {
  const rng = new Rng(10, 'hll-bytes')
  const h = hllCreate(11)
  for (const s of ids(rng, 20_000, 'b')) hllAdd(h, s)
  const bytes = hllToBytes(h)
  assert.equal(bytes.length, 2048)
  assert.equal(hllCount(hllFromBytes(bytes)), hllCount(h))
  const cloned = deserialize(serialize(h))
  assert.equal(hllCount(cloned), hllCount(h))
  hllAdd(cloned, 'one more')
  const sparse = hllCreate(11)
  for (let i = 0; i < 40; i++) hllAdd(sparse, `s${i}`)
  const fromSparse = hllFromBytes(hllToBytes(sparse))
  assert.ok(Math.abs(hllCount(fromSparse) - 40) <= 1, 'a sparse sketch serialises as registers and still counts ~40')
  assert.equal(hllCount(deserialize(serialize(sparse))), 40)
  assert.throws(() => hllFromBytes(new Uint8Array(1000)), /not 2\^p/)
  assert.throws(() => hllFromBytes(new Uint8Array(16).fill(40)), /exceeds/)
  assert.throws(() => hllCreate(3), TrendwireError)
})
