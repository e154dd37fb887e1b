import { test } from 'node:test'
import assert from 'node:assert/strict'
import { OperatorHarness } from '../../streams/harness.ts'
import { KeyedProcessOperator, TableJoinOperator, TableOperator, UNMATCHED, type KeyedProcessFunction } from '../../streams/operators.ts'
import { KeyedState, TimerService } from '../../streams/state.ts'

test('keyed state: idle keys expire by event time; the size bound evicts the least recently updated', () => {
  const dropped: string[] = []
  const s = new KeyedState<string, number>({ ttlMs: 100, maxKeys: 3 }, (k, _v, why) => dropped.push(`${k}:${why}`))
  s.set('a', 1, 0)
  s.set('b', 1, 10)
  s.set('c', 1, 20)
  s.set('a', 2, 30) // a is now the most recent
  s.set('d', 1, 40) // over the bound: b (least recently updated) goes
  assert.deepEqual(dropped, ['b:size'])
  assert.equal(s.size, 3)
  assert.equal(s.expire(125), 1, 'c (last update 20) is idle for more than 100 ms at watermark 125')
  assert.deepEqual(dropped, ['b:size', 'c:ttl'])
  assert.equal(s.get('a'), 2)
  const st = s.stats()
  assert.equal(st.keys, 2)
  assert.ok(st.estimatedBytes > 0)
})

test('timers: fire in time order, once per (key, time), deleted ones never fire', () => {
  const t = new TimerService<string>()
  t.register('a', 30)
  t.register('b', 10)
  t.register('a', 30)
  t.register('c', 20)
  t.register('d', 25)
  t.delete('d', 25)
  const fired: string[] = []
  t.fire(29, (k, time) => fired.push(`${k}@${time}`))
  assert.deepEqual(fired, ['b@10', 'c@20'])
  t.fire(100, (k, time) => fired.push(`${k}@${time}`))
  assert.deepEqual(fired, ['b@10', 'c@20', 'a@30'])
})

test('keyed process function: per-key state and event-time timers, checkpointed', async () => {
  // counts events per key and emits the count 10 ms after the first event of a burst
  const fn: KeyedProcessFunction<string, { k: string }, { n: number }, string> = {
    processElement(s, _v, time, ctx) {
      if (!s) ctx.registerTimer(time + 10)
      return { n: (s?.n ?? 0) + 1 }
    },
    onTimer(s, time, ctx) {
      ctx.emit(`${ctx.key}=${s!.n}@${time}`, time)
      return undefined
    },
  }
  const mk = () => new KeyedProcessOperator('burst', (v: { k: string }) => v.k, fn, { ttlMs: 1000 })
  const h = new OperatorHarness(mk())
  await h.feed([[{ k: 'x' }, 0], [{ k: 'y' }, 5], [{ k: 'x' }, 8]])
  const snap = h.snapshot()
  h.restoreInto(mk(), snap)
  await h.feed([[{ k: 'x' }, 9]])
  await h.watermarkTo(12)
  assert.deepEqual(h.values(), ['x=3@10'])
  await h.watermarkTo(20)
  assert.deepEqual(h.values(), ['x=3@10', 'y=1@15'])
  assert.equal((h.op as ReturnType<typeof mk>).state.size, 0, 'state cleared by returning undefined')
})

test('stream–table join: waits for a late-arriving row, then releases unmatched after waitMs', async () => {
  const table = new TableOperator<string, { id: string; tag: string }>('posts', (p) => p.id)
  const join = new TableJoinOperator('join', table, (e: { post: string }) => e.post, (e, row) => `${e.post}:${row?.tag ?? '-'}`, { waitMs: 50 })
  const th = new OperatorHarness(table)
  const jh = new OperatorHarness(join)
  await th.feed([[{ id: 'p1', tag: 'cats' }, 0]])
  await jh.feed([[{ post: 'p1' }, 1], [{ post: 'p2' }, 2]]) // p2's row has not arrived yet
  assert.deepEqual(jh.values(), ['p1:cats'])
  await th.feed([[{ id: 'p2', tag: 'dogs' }, 3]])
  await jh.watermarkTo(10)
  assert.deepEqual(jh.values(), ['p1:cats', 'p2:dogs'], 'released when the row arrives')
  await jh.feed([[{ post: 'p3' }, 20]])
  await jh.watermarkTo(69)
  assert.equal(jh.values().length, 2)
  await jh.watermarkTo(70)
  assert.deepEqual(jh.values(), ['p1:cats', 'p2:dogs', 'p3:-'])
  assert.equal(jh.side(UNMATCHED).length, 1)
})

test('keyed state: the end-of-input watermark (+∞) does not expire anything', () => {
  const s = new KeyedState<string, number>({ ttlMs: 10, maxKeys: 0 })
  s.set('a', 1, 0)
  assert.equal(s.expire(Infinity), 0)
  assert.equal(s.get('a'), 1)
  assert.equal(s.expire(11), 1, 'a finite watermark past the TTL still expires it')
})

test('keyed state: eviction and expiry order match a reference LRU model under random churn', async () => {
  const fc = (await import('fast-check')).default
  fc.assert(fc.property(
    fc.array(fc.record({ op: fc.constantFrom('set', 'set', 'set', 'del', 'expire'), k: fc.integer({ min: 0, max: 30 }), t: fc.integer({ min: 0, max: 50 }) }), { maxLength: 300 }),
    fc.integer({ min: 1, max: 12 }),
    (ops, maxKeys) => {
      const dropped: string[] = []
      const s = new KeyedState<number, number>({ ttlMs: 20, maxKeys }, (k, _v, why) => dropped.push(`${k}:${why}`))
      const model: Array<{ k: number; t: number }> = [] // front = least recently updated
      const expect: string[] = []
      let clock = 0
      for (const { op, k, t } of ops) {
        clock += t % 3
        if (op === 'set') {
          const i = model.findIndex((m) => m.k === k)
          if (i >= 0) { const [m] = model.splice(i, 1); m.t = Math.max(m.t, clock); model.push(m) }
          else { model.push({ k, t: clock }); if (model.length > maxKeys) expect.push(`${model.shift()!.k}:size`) }
          s.set(k, clock, clock)
        } else if (op === 'del') {
          const i = model.findIndex((m) => m.k === k)
          if (i >= 0) model.splice(i, 1)
          s.delete(k)
        } else {
          const wm = clock
          while (model.length > 0 && model[0].t <= wm - 20) expect.push(`${model.shift()!.k}:ttl`)
          s.expire(wm)
        }
      }
      assert.deepEqual(dropped, expect)
      assert.deepEqual(s.snapshot().map((e) => e[0]), model.map((m) => m.k))
    },
  ), { numRuns: 500 })
})
