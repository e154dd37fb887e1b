import { test } from 'node:test'
import assert from 'node:assert/strict'
import type avro from 'avsc'
import pino from 'pino'
import type { FirehoseEvent } from '../../schemas/events.ts'
import type { TrendSignal } from '../../schemas/outputs.ts'
import { loadSchemaFiles } from '../../schemas/registry.ts'
import { CollectSink } from '../../sinks/memory.ts'
import { MemoryCheckpointStore } from '../../streams/checkpoint.ts'
import { Runner } from '../../streams/runner.ts'
import { ArraySource } from '../../streams/sources/array.ts'
import { generateEvents, type GeneratedFirehose, type SyntheticOptionsInput } from '../../streams/sources/synthetic.ts'
import { eventTime } from '../../schemas/events.ts'
import type { LateRecord } from '../../streams/windows.ts'
import { trendsTopology, type TrendsOptionsInput } from '../../topologies/trends.ts'
import { evaluate } from '../../benchmarks/trends/evaluate.ts'
import { truthOf } from '../../benchmarks/trends/setup.ts'

const quiet = pino({ level: 'silent' })
const MIN = 60_000

// 75 minutes at 25 events/s (~110k events), 3 trends; the warm-up is shortened to fit
const firehose = (over: Partial<SyntheticOptionsInput> = {}): GeneratedFirehose =>
  generateEvents({ seed: 42, durationMs: 75 * MIN, eventsPerSecond: 25, trends: 3, partitions: 3, ...over })
const options: TrendsOptionsInput = { warmupMs: 10 * MIN }

function source(g: GeneratedFirehose): ArraySource<FirehoseEvent> {
  const parts = g.labels.partitions.map((id) => ({ id, records: [] as Array<[FirehoseEvent, number]> }))
  g.events.forEach((e, i) => parts[g.partitions[i]].records.push([e, eventTime(e)]))
  return new ArraySource('firehose', parts, { perPoll: 3000 })
}

async function run(g: GeneratedFirehose, opts: TrendsOptionsInput = options) {
  const signals = new CollectSink<TrendSignal>('signals')
  const late = new CollectSink<LateRecord<unknown>>('late')
  const t = trendsTopology(source(g), { signals, late }, opts)
  const runner = new Runner(t, { checkpointIntervalMs: 0 }, { logger: quiet })
  const status = await runner.run()
  return { signals: signals.values, late: late.values, status }
}

const g = firehose()

test('trends topology: detects the injected trends; every record is a valid TrendSignal', async () => {
  const { signals, status } = await run(g)
  assert.equal(status.state, 'done')
  assert.ok(signals.length > 0)
  const type = loadSchemaFiles().find((f) => f.file === 'TrendSignal.avsc')!.type as avro.Type
  for (const s of signals) {
    assert.ok(type.isValid(s, { errorHook: (p) => assert.fail(`invalid at ${p.join('.')}: ${JSON.stringify(s)}`) }))
    assert.ok(Number.isFinite(s.baseline) && Number.isFinite(s.deviation) && Number.isFinite(s.score) && Number.isFinite(s.growth))
    assert.equal(s.windowEnd - s.windowStart, MIN)
  }
  const ev = evaluate(signals, truthOf(g.labels, 10 * MIN))
  assert.ok(ev.labels >= 2)
  assert.ok(ev.detected >= ev.labels - 1, `detected ${ev.detected} of ${ev.labels}: ${JSON.stringify(ev.perLabel)}`)
  const first = signals.find((s) => s.stage === 'emerging')!
  assert.ok(first.contributingPostIds.length > 0 && first.uses > 0)
})

test('trends topology: restoring from a mid-stream checkpoint gives the same output as an uninterrupted run', async () => {
  const ref = await run(g)
  const store = new MemoryCheckpointStore()
  const first = new CollectSink<TrendSignal>('signals')
  const late1 = new CollectSink<LateRecord<unknown>>('late')
  const src1 = source(g)
  const r1 = new Runner(trendsTopology(src1, { signals: first, late: late1 }, options), { checkpointEveryPolls: 7, checkpointIntervalMs: 0 }, { store, logger: quiet })
  const poll = src1.poll.bind(src1)
  // stop in the middle of the stream, after trends have started
  src1.poll = async (n) => { if (src1.polls === 14) r1.stop(); return poll(n) }
  await r1.run()
  assert.ok(store.saves >= 2)
  assert.ok(first.values.length > 0 && first.values.length < ref.signals.length, `${first.values.length} of ${ref.signals.length} before the stop`)
  const second = new CollectSink<TrendSignal>('signals')
  const r2 = new Runner(trendsTopology(source(g), { signals: second, late: new CollectSink('late') }, options), { checkpointIntervalMs: 0 }, { store, logger: quiet })
  await r2.run()
  assert.deepEqual([...first.values, ...second.values], ref.signals)
})

test('trends topology: records beyond the allowed lateness go to the late sink with a reason', async () => {
  const lateG = firehose({ durationMs: 30 * MIN, lateFraction: 0.01, lateByMs: 5 * MIN })
  const { late } = await run(lateG, { ...options, allowedLatenessMs: MIN })
  assert.ok(late.length > 0)
  assert.ok(late.every((l) => /allowed lateness/.test(l.reason) && l.operator === 'trend-entity-windows'))
})

test('trends topology: admission bounds the entities with state, whatever the number of distinct ones', async () => {
  const wide = firehose({ durationMs: 30 * MIN, hashtags: 200_000, zipfExponent: 0.6 })
  const signals = new CollectSink<TrendSignal>('signals')
  const t = trendsTopology(source(wide), { signals, late: new CollectSink('late') }, { ...options, admission: { capacity: 300 } })
  const runner = new Runner(t, { checkpointIntervalMs: 0 }, { logger: quiet })
  const distinct = new Set<string>()
  for (const e of wide.events) if (e.kind === 'post') for (const h of e.hashtags) distinct.add(`${e.platform}|${h.toLowerCase()}`)
  let maxTracked = 0
  let maxWindowKeys = 0
  const src = t.sourceSpec!.source as ArraySource<FirehoseEvent>
  const poll = src.poll.bind(src)
  src.poll = async (n) => {
    for (const s of runner.engine.stats()) {
      if (s.name === 'trend-admission') maxTracked = Math.max(maxTracked, s.state!.keys)
      if (s.name === 'trend-entities') maxWindowKeys = Math.max(maxWindowKeys, s.state!.keys)
    }
    return poll(n)
  }
  await runner.run()
  assert.ok(distinct.size > 5_000, `${distinct.size} distinct hashtags`)
  assert.ok(maxTracked <= 300, `tracked ${maxTracked}`)
  assert.ok(maxWindowKeys <= 600, `entities with detector state ${maxWindowKeys}`)
})
