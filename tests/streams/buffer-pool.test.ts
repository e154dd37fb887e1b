// BufferPool: buffers given back are taken again (best fit), new ones get headroom, and only the
// largest `max` spares are kept.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BufferPool } from '../../streams/buffer-pool.ts'

test('buffer pool: reuse by best fit, headroom on new buffers, the largest spares kept', () => {
  const pool = new BufferPool(2, 1.5)
  const a = pool.take(100_000)
  assert.equal(a.length, 150_000, 'a new buffer has the headroom')
  assert.equal(pool.take(10).length, 64 * 1024, 'never smaller than 64 KiB')
  const b = pool.take(1_000_000)
  pool.give(a)
  pool.give(b)
  assert.equal(pool.spareBytes, a.length + b.length)
  assert.equal(pool.take(120_000), a, 'the smallest spare that fits, not the largest')
  assert.equal(pool.take(1_600_000).length, 2_400_000, 'no spare fits: a new one')
  assert.equal(pool.take(200_000), b)
  assert.deepEqual([pool.allocated, pool.reused], [4, 2])
  const small = Buffer.allocUnsafeSlow(70_000)
  pool.give(a)
  pool.give(b)
  pool.give(small) // full: the smallest of the three goes to the GC
  assert.equal(pool.spareBytes, a.length + b.length)
  pool.clear()
  assert.equal(pool.spareBytes, 0)
})
