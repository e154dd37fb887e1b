import { test } from 'node:test'
import assert from 'node:assert/strict'
import { OperatorHarness } from '../../streams/harness.ts'
import { count, hopping, LATE, session, SessionWindowOperator, SlicedWindowOperator, sum, tumbling, type LateRecord, type WindowResult } from '../../streams/windows.ts'

type Ev = { k: string; n: number }
const key = (e: Ev) => e.k

test('tumbling: fires when the watermark passes end - 1, not before', async () => {
  const h = new OperatorHarness(new SlicedWindowOperator<Ev, string, number, number>('w', tumbling(10), key, count()))
  await h.feed([[{ k: 'a', n: 1 }, 1], [{ k: 'a', n: 1 }, 9], [{ k: 'b', n: 1 }, 10]])
  await h.watermarkTo(8)
  assert.equal(h.output.length, 0)
  await h.watermarkTo(9)
  assert.deepEqual(h.values(), [{ key: 'a', start: 0, end: 10, value: 2, revision: 0 }])
  assert.equal(h.output[0].time, 9, 'result carries the window max timestamp')
  await h.watermarkTo(Infinity)
  assert.deepEqual(h.values()[1], { key: 'b', start: 10, end: 20, value: 1, revision: 0 })
})

test('tumbling: record within lateness updates the fired window; beyond lateness goes to late output with a reason', async () => {
  const op = new SlicedWindowOperator<Ev, string, number, number>('w', tumbling(10), key, sum((e) => e.n), { allowedLatenessMs: 5 })
  const h = new OperatorHarness(op)
  await h.feed([[{ k: 'a', n: 1 }, 3]])
  await h.watermarkTo(12) // fires [0,10)
  await h.feed([[{ k: 'a', n: 10 }, 4]]) // 9 - 1 + 5 = 13 > 12: within lateness → update
  assert.deepEqual(h.values(), [
    { key: 'a', start: 0, end: 10, value: 1, revision: 0 },
    { key: 'a', start: 0, end: 10, value: 11, revision: 1 },
  ])
  await h.watermarkTo(14) // 9 + 5 <= 14: window [0,10) is purged now
  await h.feed([[{ k: 'a', n: 100 }, 5]])
  assert.equal(h.output.length, 2)
  const late = h.side<LateRecord<Ev>>(LATE)
  assert.equal(late.length, 1)
  assert.deepEqual(late[0].value.value, { k: 'a', n: 100 })
  assert.match(late[0].value.reason, /allowed lateness of 5 ms/)
})

test('hopping: each record counts in size/slide windows', async () => {
  const h = new OperatorHarness(new SlicedWindowOperator<Ev, string, number, number>('w', hopping(30, 10), key, count()))
  await h.feed([[{ k: 'a', n: 1 }, 5], [{ k: 'a', n: 1 }, 15], [{ k: 'a', n: 1 }, 25]])
  await h.watermarkTo(Infinity)
  const got = (h.values() as WindowResult<string, number>[]).map((r) => [r.start, r.end, r.value])
  assert.deepEqual(got, [[-20, 10, 1], [-10, 20, 2], [0, 30, 3], [10, 40, 2], [20, 50, 1]])
})

test('session: merges records closer than the gap, splits otherwise, and retracts a fired session it grows', async () => {
  const op = new SessionWindowOperator<Ev, string, number, number>('s', session(10), key, count(), { allowedLatenessMs: 100 })
  const h = new OperatorHarness(op)
  await h.feed([[{ k: 'a', n: 1 }, 0], [{ k: 'a', n: 1 }, 5], [{ k: 'a', n: 1 }, 20]])
  await h.watermarkTo(16) // [0,15) fires; [20,30) is still open
  assert.deepEqual(h.values(), [{ key: 'a', start: 0, end: 15, value: 2, revision: 0 }])
  await h.feed([[{ k: 'a', n: 1 }, 12]]) // [12,22) bridges [0,15) and [20,30) → [0,30)
  await h.watermarkTo(Infinity)
  const vals = h.values() as WindowResult<string, number>[]
  assert.deepEqual(vals[1], { key: 'a', start: 0, end: 15, value: 2, revision: 1, retracted: true })
  assert.deepEqual(vals.at(-1), { key: 'a', start: 0, end: 30, value: 4, revision: 0 })
  assert.equal(vals.length, 3)
})

test('window state survives snapshot/restore mid-window', async () => {
  const mk = () => new SlicedWindowOperator<Ev, string, number, number>('w', hopping(20, 10), key, count(), { allowedLatenessMs: 10 })
  const h = new OperatorHarness(mk())
  await h.feed([[{ k: 'a', n: 1 }, 1], [{ k: 'b', n: 1 }, 12]])
  await h.watermarkTo(9)
  const snap = h.snapshot()
  h.restoreInto(mk(), snap)
  await h.feed([[{ k: 'a', n: 1 }, 15]])
  await h.watermarkTo(Infinity)
  const a = (h.values() as WindowResult<string, number>[]).filter((r) => r.key === 'a').map((r) => [r.start, r.value, r.revision])
  assert.deepEqual(a, [[-10, 1, 0], [0, 2, 0], [10, 1, 0]])
})

test('bad window config fails at construction naming the problem', () => {
  assert.throws(() => new SlicedWindowOperator('w', hopping(25, 10), key, count()), /multiple of slideMs/)
  assert.throws(() => new SlicedWindowOperator('w', tumbling(10), key, count(), { allowedLatenessMs: -1 }), /allowedLatenessMs/)
})
