import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deserialize, serialize } from 'node:v8'
import { MemoryCheckpointStore } from '../../streams/checkpoint.ts'
import { Runner } from '../../streams/runner.ts'
import { ArraySource } from '../../streams/sources/array.ts'
import { Topology } from '../../streams/topology.ts'
import type { Batch, DeadLetter, Sink } from '../../streams/types.ts'
import { WatermarkTracker } from '../../streams/watermarks.ts'
import { count, LATE, tumbling, type LateRecord, type WindowResult } from '../../streams/windows.ts'
import { CollectSink } from '../../sinks/memory.ts'
import pino from 'pino'

const quiet = pino({ level: 'silent' })
type Ev = { tag: string }

test('watermark merge: minimum over partitions, nothing until all reported, idle partitions skipped, finished = +∞', () => {
  const t = new WatermarkTracker({ outOfOrdernessMs: 10, idleTimeoutMs: 1000 })
  t.partition('p0', 0)
  t.partition('p1', 0)
  t.partition('p0', 0).observe([100], 0)
  assert.equal(t.advance(0), null, 'p1 has not reported yet')
  t.partition('p1', 0).observe([50], 0)
  assert.equal(t.advance(0), 39, 'min(100, 50) - 10 - 1')
  t.partition('p0', 500).observe([300], 500)
  assert.equal(t.advance(999), null, 'p1 not idle yet: still holds time back')
  assert.equal(t.advance(1000), 289, 'p1 idle after 1000 ms: only p0 counts')
  t.partition('p1', 1001).observe([60], 1001)
  assert.equal(t.advance(1001), null, 'p1 active again: its watermark is behind, merged stays monotonic')
  t.partition('p1', 1002).finished = true
  t.partition('p0', 1002).observe([400], 1002)
  assert.equal(t.advance(1002), 389, 'finished partition counts as +∞')
})

function topology(src: ArraySource<Ev>, out: Sink<WindowResult<string, number>>, late?: Sink<LateRecord<Ev>>) {
  const t = new Topology('test-counts')
  const w = t.from(src, { outOfOrdernessMs: 5 }).keyBy((e) => e.tag).window(tumbling(10)).aggregate('count', count(), { allowedLatenessMs: 0 })
  w.to(out)
  if (late) w.side<LateRecord<Ev>>(LATE).to(late)
  return t
}

function partitions(n: number, per: number) {
  return Array.from({ length: n }, (_, p) => ({
    id: `p${p}`,
    records: Array.from({ length: per }, (_, i) => [{ tag: `t${(i * 7 + p) % 5}` }, i * 3 + p] as [Ev, number]),
  }))
}

test('runner: end of input fires every window; counts equal a direct computation', async () => {
  const parts = partitions(3, 200)
  const out = new CollectSink<WindowResult<string, number>>('out')
  const status = await new Runner(topology(new ArraySource('src', parts, { perPoll: 30 }), out), {}, { logger: quiet }).run()
  const expected = new Map<string, number>()
  for (const p of parts) for (const [e, t] of p.records) {
    const k = `${e.tag}|${t - (t % 10)}`
    expected.set(k, (expected.get(k) ?? 0) + 1)
  }
  const got = new Map(out.values.map((r) => [`${r.key}|${r.start}`, r.value]))
  assert.deepEqual(new Map([...got].sort()), new Map([...expected].sort()))
  assert.equal(status.state, 'done')
  assert.equal(status.recordsIn, 600)
})

test('runner: restoring from a mid-run checkpoint gives the same output as an uninterrupted run', async () => {
  const parts = partitions(2, 300)
  const ref = new CollectSink<WindowResult<string, number>>('out')
  await new Runner(topology(new ArraySource('src', parts, { perPoll: 40 }), ref), {}, { logger: quiet }).run()

  // run 1: stop after a few polls with a checkpoint; keep only what that checkpoint covers
  const store = new MemoryCheckpointStore()
  const first = new CollectSink<WindowResult<string, number>>('out')
  const src1 = new ArraySource('src', parts, { perPoll: 40 })
  const r1 = new Runner(topology(src1, first), { checkpointEveryPolls: 3, checkpointIntervalMs: 0 }, { store, logger: quiet })
  const origPoll = src1.poll.bind(src1)
  src1.poll = async (n) => { if (src1.polls === 5) r1.stop(); return origPoll(n) }
  await r1.run()
  assert.ok(store.saves >= 2)
  // run 2: restore, continue to the end
  const second = new CollectSink<WindowResult<string, number>>('out')
  await new Runner(topology(new ArraySource('src', parts, { perPoll: 40 }), second), {}, { store, logger: quiet }).run()
  assert.deepEqual([...first.values, ...second.values], ref.values)
})

test('runner: late records reach the late sink with reasons; dead letters reach the dead-letter sink', async () => {
  const dl: DeadLetter = { source: 'src', partition: 'p0', position: '2', code: 'INPUT_MALFORMED', reason: 'bad bytes', payload: new Uint8Array([1, 2]), at: 0 }
  const parts = [{ id: 'p0', records: [[{ tag: 'a' }, 100], [{ tag: 'a' }, 200], [{ tag: 'x' }, 0], [{ tag: 'a' }, 20]] as Array<[Ev, number]>, bad: new Map([[2, dl]]) }]
  const out = new CollectSink<WindowResult<string, number>>('out')
  const late = new CollectSink<LateRecord<Ev>>('late')
  const dead = new CollectSink<DeadLetter>('dead')
  const status = await new Runner(topology(new ArraySource('src', parts, { perPoll: 1 }), out, late), {}, { logger: quiet, deadLetterSink: dead }).run()
  assert.equal(late.values.length, 1)
  assert.equal(late.values[0].time, 20)
  assert.match(late.values[0].reason, /behind the watermark/)
  assert.deepEqual(dead.values, [dl])
  assert.equal(status.deadLetters, 1)
})

test('runner: with no late sink, late records are counted in metrics, not lost silently', async () => {
  const parts = [{ id: 'p0', records: [[{ tag: 'a' }, 100], [{ tag: 'a' }, 20]] as Array<[Ev, number]> }]
  const runner = new Runner(topology(new ArraySource('src', parts, { perPoll: 1 }), new CollectSink('out')), {}, { logger: quiet })
  const status = await runner.run()
  assert.equal(status.lateRecords, 1)
  assert.equal(await runner.metrics.value('late_records_total'), 1)
})

test('runner: a slow sink slows the source (backpressure) and buffered records stay bounded', async () => {
  let inFlight = 0
  let maxBuffered = 0
  const buffered: unknown[] = []
  const slow: Sink<unknown> = {
    name: 'slow',
    write(batch: Batch<unknown>) {
      buffered.push(...batch.values)
      maxBuffered = Math.max(maxBuffered, buffered.length)
      if (buffered.length < 50) return
      inFlight++
      // drain asynchronously: the runner must wait for this before polling again
      return new Promise<void>((resolve) => setImmediate(() => { buffered.length = 0; inFlight--; resolve() }))
    },
  }
  const parts = partitions(1, 2000)
  const src = new ArraySource('src', parts, { perPoll: 20 })
  const t = new Topology('bp')
  t.from(src, { outOfOrdernessMs: 5 }).map('id', (e: Ev) => e).to(slow)
  let pollsWhileBlocked = 0
  const origPoll = src.poll.bind(src)
  src.poll = async (n) => { if (inFlight > 0) pollsWhileBlocked++; return origPoll(n) }
  await new Runner(t, {}, { logger: quiet }).run()
  assert.equal(pollsWhileBlocked, 0, 'no poll while the sink is above its high-water mark')
  assert.ok(maxBuffered < 50 + 20, `buffer bounded by high-water mark + one batch (saw ${maxBuffered})`)
})

test('checkpoint bytes round-trip Maps (structured clone)', () => {
  const m = new Map([[1, new Map([['a', 2]])]])
  assert.deepEqual(deserialize(serialize({ m })), { m })
})

test('runner: state size per operator is published as gauges at every checkpoint', async () => {
  const parts = partitions(1, 100)
  const runner = new Runner(topology(new ArraySource('src', parts, { perPoll: 10 }), new CollectSink('out')), { checkpointEveryPolls: 2, checkpointIntervalMs: 0, checkpointAtEnd: false }, { logger: quiet })
  const origCheckpoint = runner.checkpoint.bind(runner)
  let keysSeen = 0
  runner.checkpoint = async () => {
    const id = await origCheckpoint()
    keysSeen = Math.max(keysSeen, await runner.metrics.value('state_keys', { operator: 'count' }))
    return id
  }
  await runner.run()
  assert.ok(keysSeen > 0, 'window state keys reported while windows were open')
  assert.match(await runner.metrics.render(), /trendwire_state_bytes_estimated\{topology="test-counts",operator="count"\}/)
})
