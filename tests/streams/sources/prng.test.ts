// The seeded PRNG behind the synthetic sources: reference outputs, state round trip, samplers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AliasTable, Rng, zipfWeights } from '../../../streams/sources/prng.ts'

test('xoshiro128** matches the reference implementation', () => {
  // First outputs of xoshiro128starstar.c from state {1, 2, 3, 4}.
  const r = Rng.fromState([1, 2, 3, 4])
  assert.deepEqual(Array.from({ length: 6 }, () => r.nextU32()), [11520, 0, 5927040, 70819200, 2031721883, 1637235492])
})

test('seed and stream label pick the sequence; state round-trips as plain data', () => {
  const a = new Rng(42, 'x')
  const b = new Rng(42, 'x')
  const c = new Rng(42, 'y')
  const xs = Array.from({ length: 100 }, () => a.nextU32())
  assert.deepEqual(Array.from({ length: 100 }, () => b.nextU32()), xs)
  assert.notDeepEqual(Array.from({ length: 100 }, () => c.nextU32()), xs)
  const saved = JSON.parse(JSON.stringify(a.state()))
  const next = Array.from({ length: 10 }, () => a.float())
  const restored = Rng.fromState(saved)
  assert.deepEqual(Array.from({ length: 10 }, () => restored.float()), next)
})

test('float is in (0, 1) with mean 1/2; samplers have the right means', () => {
  const r = new Rng(1)
  let sum = 0
  let expSum = 0
  let poisSum = 0
  const n = 200_000
  for (let i = 0; i < n; i++) {
    const u = r.float()
    assert.ok(u > 0 && u < 1)
    sum += u
    expSum += r.exp(3)
    poisSum += r.poisson(2.5)
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.005)
  assert.ok(Math.abs(expSum / n - 3) < 0.05)
  assert.ok(Math.abs(poisSum / n - 2.5) < 0.03)
})

test('AliasTable samples in proportion to the weights (Zipf)', () => {
  const w = zipfWeights(50, 1)
  const t = new AliasTable(w)
  const r = new Rng(9)
  const counts = new Array(50).fill(0)
  const n = 500_000
  for (let i = 0; i < n; i++) counts[t.sample(r)]++
  const total = w.reduce((a, b) => a + b, 0)
  for (const i of [0, 1, 9, 49]) {
    const p = w[i] / total
    assert.ok(Math.abs(counts[i] / n - p) < 4 * Math.sqrt((p * (1 - p)) / n) + 1e-4, `rank ${i}`)
  }
})
