// The compiled single-pass readers against the reference path (bounds-checking walker, then avsc):
// on good messages and on tens of thousands of random mutations, both must say the same thing --
// the same values (same keys in the same order: one object shape per kind) or the same dead letter.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FirehoseCodec, type InputMessage } from '../../schemas/codec.ts'
import { NOW, Rng, event, post } from './generators.ts'

test('compiled readers and walker + avsc agree on good and mutated messages', async () => {
  const fast = await FirehoseCodec.create({}, { now: () => NOW })
  const slow = await FirehoseCodec.create({}, { now: () => NOW, compiledReaders: false })
  const json = await FirehoseCodec.create({ defaultFormat: 'json' }, { now: () => NOW })
  assert.ok([...(fast as any).plans.values()].some((p: any) => p.branches.some((b: any) => b.fast)), 'no compiled reader in use')
  assert.ok(![...(slow as any).plans.values()].some((p: any) => p.branches.some((b: any) => b.fast)))
  const r = new Rng(99)
  const messages: InputMessage[] = []
  for (let i = 0; i < 30_000; i++) {
    const e = i % 4 === 0 ? post(r) : event(r)
    const b = Buffer.from(fast.encode(e))
    if (i % 3 !== 0) for (let k = r.int(1, 4); k > 0; k--) b[r.int(0, b.length - 1)] ^= r.int(1, 255)
    messages.push({ value: b, topic: 'firehose', partition: 0, offset: i })
  }
  const a = fast.decodeBatchSync(messages)
  const b = slow.decodeBatchSync(messages)
  assert.equal(a.values.length, b.values.length)
  assert.deepEqual(a.values, b.values)
  assert.deepEqual(a.times, b.times)
  assert.deepEqual(a.deadLetters, b.deadLetters)
  for (let i = 0; i < a.values.length; i++) assert.deepEqual(Object.keys(a.values[i]!), Object.keys(b.values[i]!))
  // The JSON path gives the same shapes too.
  const j = await json.decodeBatch(a.values.slice(0, 2000).map((e, i) => ({ value: json.encode(e), topic: 't', partition: 0, offset: i })))
  for (let i = 0; i < j.values.length; i++) assert.deepEqual(Object.keys(j.values[i]!), Object.keys(a.values[i]!))
  assert.ok(a.deadLetters.length > 10_000 && a.values.length > 10_000, `${a.values.length} decoded, ${a.deadLetters.length} dead`)
})
