import { test } from 'node:test'
import assert from 'node:assert/strict'
import { backoffDelay, retrying, type RetryPolicy } from '../../sinks/retry.ts'

const policy: RetryPolicy = { initialDelayMs: 2, maxDelayMs: 16, giveUpAfterMs: 0 }

test('backoff: equal jitter within [cap/2, cap], cap doubling up to the maximum', () => {
  for (let attempt = 1; attempt <= 40; attempt++) {
    const cap = Math.min(16, 2 * 2 ** (attempt - 1))
    assert.equal(backoffDelay(policy, attempt, () => 0), cap / 2)
    assert.equal(backoffDelay(policy, attempt, () => 0.999999), cap / 2 + 0.999999 * cap / 2)
  }
})

test('retrying: transient failures are retried, each one reported, then the value is returned', async () => {
  const seen: Array<[number, number]> = []
  const out = await retrying(async (attempt) => { if (attempt < 4) throw new Error(`flaky ${attempt}`); return attempt }, {
    policy, fatal: () => undefined, exhausted: () => new Error('no'), onRetry: (_e, a, d) => seen.push([a, d]),
  })
  assert.equal(out, 4)
  assert.deepEqual(seen.map(([a]) => a), [1, 2, 3])
  assert.ok(seen.every(([a, d]) => d >= Math.min(16, 2 ** a) / 2 && d <= Math.min(16, 2 ** a)))
})

test('retrying: a fatal error is thrown at once, without retrying', async () => {
  let calls = 0
  const fatal = new Error('bad schema')
  await assert.rejects(retrying(async () => { calls++; throw new Error('400') }, { policy, fatal: () => fatal, exhausted: () => new Error('no') }), (e) => e === fatal)
  assert.equal(calls, 1)
})

test('retrying: gives up after giveUpAfterMs with the exhausted error (failing time and attempts)', async () => {
  let info: [number, number] | null = null
  await assert.rejects(retrying(async () => { throw new Error('down') }, {
    policy: { ...policy, giveUpAfterMs: 30 }, fatal: () => undefined,
    exhausted: (_e, ms, attempts) => { info = [ms, attempts]; return new Error('gave up') },
  }), /gave up/)
  assert.ok(info![0] >= 30 && info![1] >= 2, JSON.stringify(info))
})

test('retrying: an abort during the wait ends it with the aborted error', async () => {
  const ac = new AbortController()
  const p = retrying(async () => { throw new Error('down') }, {
    policy: { initialDelayMs: 60_000, maxDelayMs: 60_000, giveUpAfterMs: 0 }, fatal: () => undefined, exhausted: () => new Error('no'),
    signal: ac.signal, aborted: () => new Error('closing'), onRetry: () => ac.abort(),
  })
  await assert.rejects(p, /closing/)
})
