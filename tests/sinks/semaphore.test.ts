// The limit on concurrent chDB INSERTs (sinks/clickhouse/client.ts): never more than n holders, waiters
// in arrival order, and a waiter whose signal aborts leaves the queue without taking a slot.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Semaphore } from '../../sinks/clickhouse/client.ts'

test('semaphore: at most n at once, first come first served, an aborted waiter gives up its place', async () => {
  const sem = new Semaphore(2)
  let running = 0
  let peak = 0
  const order: number[] = []
  const gates: Array<() => void> = []
  const job = async (i: number, signal?: AbortSignal) => {
    await sem.acquire(signal)
    order.push(i)
    running++
    peak = Math.max(peak, running)
    await new Promise<void>((r) => gates.push(r))
    running--
    sem.release()
  }
  const ac = new AbortController()
  const jobs = [job(0), job(1), job(2, ac.signal), job(3), job(4)]
  await new Promise((r) => setImmediate(r))
  assert.deepEqual(order, [0, 1])
  assert.equal(sem.pending, 3)
  ac.abort(new Error('gave up'))
  await assert.rejects(jobs[2], /gave up/)
  assert.equal(sem.pending, 2)
  while (order.length < 4 || gates.length > 0) {
    const g = gates.shift()
    if (g) g()
    await new Promise((r) => setImmediate(r))
  }
  await Promise.all([jobs[0], jobs[1], jobs[3], jobs[4]])
  assert.deepEqual(order, [0, 1, 3, 4], 'in arrival order, without the aborted one')
  assert.equal(peak, 2)
  await assert.rejects(sem.acquire(AbortSignal.abort(new Error('already'))), /already/)
})
