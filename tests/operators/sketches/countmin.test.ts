import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deserialize, serialize } from 'node:v8'
import { CountMinSketch } from '../../../operators/sketches/countmin.ts'
import { TrendwireError } from '../../../streams/errors.ts'
import { AliasTable, Rng, zipfWeights } from '../../../streams/sources/prng.ts'

/** A Zipf(1.1) stream over `keys` keys with its exact counts. */
function zipfStream(seed: number, keys: number, n: number): { stream: string[]; exact: Map<string, number> } {
  const rng = new Rng(seed, 'cms-stream')
  const alias = new AliasTable(zipfWeights(keys, 1.1))
  const stream: string[] = new Array(n)
  const exact = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const k = `k${alias.sample(rng)}`
    stream[i] = k
    exact.set(k, (exact.get(k) ?? 0) + 1)
  }
  return { stream, exact }
}

test('count-min (conservative update): never under, and within ε·N for all but a δ fraction of keys', () => {
  const { stream, exact } = zipfStream(1, 50_000, 200_000)
  const cm = new CountMinSketch(1024, 4, 3)
  for (const k of stream) cm.add(k)
  const eps = Math.E / cm.width
  const delta = Math.exp(-cm.depth)
  let beyond = 0
  let errSum = 0
  for (const [k, c] of exact) {
    const e = cm.estimate(k)
    assert.ok(e >= c, `${k}: estimate ${e} below true ${c}`)
    if (e - c > eps * stream.length) beyond++
    errSum += e - c
  }
  assert.ok(beyond / exact.size <= delta, `${beyond} of ${exact.size} keys beyond ε·N (δ = ${delta.toFixed(4)})`)
  // conservative update on a skewed stream does much better than the worst-case bound
  assert.ok(errSum / exact.size < 0.25 * eps * stream.length, `mean overestimate ${(errSum / exact.size).toFixed(1)}`)
  assert.equal(cm.total, stream.length)
  // the heavy head is nearly exact
  assert.ok(cm.estimate('k0') - exact.get('k0')! <= 0.01 * exact.get('k0')!)
})

test('count-min: add returns the new estimate; forError sizes the sketch; bad arguments fail', () => {
  const cm = CountMinSketch.forError(0.001, 0.01)
  assert.equal(cm.width, 4096)
  assert.equal(cm.depth, 5)
  assert.equal(cm.add('a', 3), 3)
  assert.equal(cm.add('a'), 4)
  assert.equal(cm.estimate('never-seen'), 0)
  assert.throws(() => cm.add('a', -1), TrendwireError)
  assert.throws(() => new CountMinSketch(0, 4), TrendwireError)
})

test('count-min: decay halves counts; merge of two halves bounds the whole stream from above', () => {
  const { stream, exact } = zipfStream(2, 5_000, 40_000)
  const a = new CountMinSketch(512, 4, 1)
  const b = new CountMinSketch(512, 4, 1)
  stream.forEach((k, i) => (i % 2 ? a : b).add(k))
  const m = CountMinSketch.restore(a.snapshot()).merge(b)
  for (const [k, c] of exact) assert.ok(m.estimate(k) >= c)
  assert.equal(m.total, stream.length)
  const before = m.estimate('k0')
  m.decay(0.5)
  assert.equal(m.estimate('k0'), Math.floor(before * 0.5))
  assert.throws(() => a.merge(new CountMinSketch(512, 4, 2)), /same width, depth and seed/)
})

test('count-min: snapshot through structured clone continues identically', () => {
  const { stream } = zipfStream(3, 2_000, 20_000)
  const cm = new CountMinSketch(256, 3, 9)
  for (const k of stream.slice(0, 10_000)) cm.add(k)
  const copy = CountMinSketch.restore(deserialize(serialize(cm.snapshot())))
  for (const k of stream.slice(10_000)) assert.equal(copy.add(k), cm.add(k))
  assert.deepEqual(copy.snapshot(), cm.snapshot())
  assert.throws(() => CountMinSketch.restore({ version: 2 }), TrendwireError)
})
