import { test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import { OperatorHarness } from '../../streams/harness.ts'
import { Runner } from '../../streams/runner.ts'
import { ArraySource } from '../../streams/sources/array.ts'
import { Topology } from '../../streams/topology.ts'
import type { Batch, Sink } from '../../streams/types.ts'
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

test('hopping, invertible aggregate, thousands of churning keys: equals the merge path and brute force, across slot growth, slot reuse and a snapshot/restore', async () => {
  // keys drawn from a window that moves: old keys leave (their slots are freed and reused), the
  // live set passes the initial slot capacity (1,024) so every slot-indexed array grows
  let x = 12345
  const rnd = () => { x = (x * 1103515245 + 12345) % 2 ** 31; return x / 2 ** 31 }
  const recs: Array<[Ev, number]> = []
  for (let i = 0; i < 30_000; i++) {
    const t = Math.floor(i / 4) - Math.floor(rnd() * 30)
    const k = `k${Math.floor(i / 10) + Math.floor(rnd() * 3_000)}`
    recs.push([{ k, n: 1 + Math.floor(rnd() * 5) }, t])
  }
  const spec = hopping(400, 100)
  const nonInvertible = { ...count<Ev>(), retract: undefined, isEmpty: undefined }
  const run = async (agg: ReturnType<typeof count<Ev>>, snapshotAt: number) => {
    const mk = () => new SlicedWindowOperator<Ev, string, number, number>('w', spec, key, agg, { allowedLatenessMs: 50 })
    const h = new OperatorHarness(mk())
    let maxSeen = -Infinity
    for (let b = 0; b < recs.length; b += 500) {
      const batch = recs.slice(b, b + 500)
      await h.feed(batch)
      for (const [, t] of batch) maxSeen = Math.max(maxSeen, t)
      await h.watermarkTo(maxSeen - 40)
      if (b === snapshotAt) h.restoreInto(mk(), h.snapshot())
    }
    await h.watermarkTo(Infinity)
    return h
  }
  const slots = await run(count(), 15_000)
  const merged = await run(nonInvertible, -1)
  assert.ok((slots.op as SlicedWindowOperator<Ev, string, number, number>).panesPerWindow === 4)
  const rows = (h: OperatorHarness<Ev, WindowResult<string, number>>) => h.values().map((r) => `${r.key}|${r.start}|${r.end}|${r.value}|${r.revision}`).sort()
  assert.deepEqual(rows(slots), rows(merged))
  assert.equal(slots.side(LATE).length, merged.side(LATE).length)
  // brute force over the records that were not late
  const late = new Set(slots.side<LateRecord<Ev>>(LATE).map((l) => l.value.value))
  const expect = new Map<string, number>()
  for (const [e, t] of recs) {
    if (late.has(e)) continue
    const last = t - (((t % 100) + 100) % 100)
    for (let s = last; s > t - 400; s -= 100) expect.set(`${e.k}|${s}`, (expect.get(`${e.k}|${s}`) ?? 0) + 1)
  }
  const final = new Map<string, number>()
  for (const r of slots.values()) final.set(`${r.key}|${r.start}`, r.value)
  assert.deepEqual(new Map([...final].sort()), new Map([...expect].sort()))
  assert.ok(expect.size > 10_000)
})

test('hopping, invertible aggregate, in the engine: a firing larger than the hand-over size reaches the sink in several batches, rows and order as from the harness', async () => {
  // 6,000 keys live in every window: each firing is handed on in batches of at most 4,096 rows
  const recs: Array<[Ev, number]> = []
  for (let i = 0; i < 60_000; i++) recs.push([{ k: `k${(i * 7919) % 6_000}`, n: 1 }, Math.floor(i / 100)])
  const spec = hopping(200, 100)
  const batches: number[] = []
  const rows: WindowResult<string, number>[] = []
  const sink: Sink<WindowResult<string, number>> = { name: 'out', write(b: Batch<WindowResult<string, number>>) { batches.push(b.values.length); rows.push(...b.values) } }
  const t = new Topology('hop')
  t.from(new ArraySource<Ev>('src', [{ id: 'p0', records: recs }]), { outOfOrdernessMs: 0 }).keyBy(key).window(spec).aggregate('w', count()).to(sink)
  await new Runner(t, { maxBatchRecords: 1_000, checkpointIntervalMs: 0, checkpointAtEnd: false }, { logger: pino({ level: 'silent' }) }).run()

  const h = new OperatorHarness(new SlicedWindowOperator<Ev, string, number, number>('w', spec, key, count()))
  let maxSeen = -Infinity
  for (let b = 0; b < recs.length; b += 1_000) {
    const batch = recs.slice(b, b + 1_000)
    await h.feed(batch)
    for (const [, tm] of batch) maxSeen = Math.max(maxSeen, tm)
    await h.watermarkTo(maxSeen - 1)
  }
  await h.watermarkTo(Infinity)
  assert.deepEqual(rows, h.values())
  assert.ok(Math.max(...batches) <= 4_096, `batches of at most 4,096 rows, got ${Math.max(...batches)}`)
  assert.equal(rows.length, 7 * 6_000) // windows starting at -100, 0, …, 500, each with every key
})
