// Repartition topics: hashtag counts over a firehose partitioned by post id, computed by two
// consumer groups of two processes each (stage 1: per firehose partition, hashtag uses → repartition
// topic by hashtag; stage 2: per repartition partition, the windowed counts), must equal a
// single-process run of the unsplit topology over the same events — also when a stage-1 process
// crashes mid-stream (no final checkpoint) and is restarted from its last checkpoints: the replayed
// records carry the same sequence numbers and stage 2 drops them.
//
// Unit tests of RepartitionSource (dedup, watermark = min over writers, unknown writers, positions)
// use an in-memory inner source; the end-to-end tests run on the mock broker (tests/helpers/kafka.ts).
// Waiting is on conditions with timeouts, never fixed sleeps.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import kafkajs from 'kafkajs'
import pino from 'pino'
import { KafkaMock, uniquePrefix } from '../helpers/kafka.ts'
import { createKafkaSource } from '../../streams/kafka/index.ts'
import { BoundedSource, kafkaEndOffsets, tasksFinished } from '../../streams/kafka/bounded.ts'
import { MemoryKeyedCheckpointStore, PartitionedRunner, type KeyedCheckpointStore } from '../../streams/partitioned.ts'
import { Runner, type RunnerStatus } from '../../streams/runner.ts'
import { Topology } from '../../streams/topology.ts'
import { RepartitionSource, createRepartitionSource, kafkaWriterIds, repartitionDecoder, type RepartitionItem, type RepartitionPosition } from '../../streams/repartition.ts'
import { generateEvents, SyntheticSource, type SyntheticOptionsInput } from '../../streams/sources/synthetic.ts'
import { count, tumbling, type WindowResult } from '../../streams/windows.ts'
import type { CheckpointStore, PollResult, Sink, Source, SourceHooks } from '../../streams/types.ts'
import { KafkaRepartitionSink, formatTime, parseTime, repartitionPartition } from '../../sinks/kafka/repartition.ts'
import { hashtagActivity, hashtagActivityStage1, hashtagActivityStage2, hashtagUseKey, type HashtagUse, type HashtagWindowCount } from '../../topologies/hashtag-activity.ts'
import { FirehoseCodec } from '../../schemas/codec.ts'
import type { FirehoseEvent } from '../../schemas/events.ts'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const quiet = pino({ level: 'silent' })

// ---------------------------------------------------------------------------------------------
// RepartitionSource over an in-memory inner source

type Item = RepartitionItem<string>

/** One scripted poll per call: batches of items per partition. */
class ScriptSource implements Source<Item> {
  readonly name = 'script'
  private pos = new Map<string, number>()
  hooks!: SourceHooks
  opened: Record<string, unknown> | null = null
  constructor(private readonly polls: Array<Record<string, Item[]>>, private readonly parts: string[]) {}
  async open(positions: Record<string, unknown> | null, hooks: SourceHooks): Promise<void> {
    this.opened = positions
    this.hooks = hooks
    hooks.onAssign(this.parts)
  }
  async poll(): Promise<PollResult<Item>> {
    const next = this.polls.shift()
    if (!next) return { batches: [], done: false }
    const batches = Object.entries(next).map(([partition, values]) => {
      this.pos.set(partition, (this.pos.get(partition) ?? 0) + values.length)
      return { partition, values, times: values.map((v) => ('seq' in v ? Number(v.value) : 0)) }
    })
    return { batches, done: false }
  }
  positions(): Record<string, unknown> { return Object.fromEntries(this.pos) }
  async close(): Promise<void> {}
}

const rec = (writer: string, seq: number, time: number): Item => ({ writer, seq, value: String(time) })
const mark = (writer: string, watermark: number): Item => ({ writer, watermark })

test('repartition source: drops sequence numbers already seen per (writer, partition), watermark = min over all writers, finished when all sent inf', async () => {
  const inner = new ScriptSource([
    { 'r/0': [rec('a', 1, 100), rec('a', 2, 200), rec('b', 1, 150), mark('a', 180)], 'r/1': [rec('a', 1, 300)] },
    // a replays after a crash: 1 and 2 again, then 3; b's marker
    { 'r/0': [rec('a', 1, 100), rec('a', 2, 200), rec('a', 3, 250), mark('b', 120)] },
    { 'r/0': [mark('a', Infinity), rec('b', 2, 400), mark('b', Infinity)], 'r/1': [mark('a', Infinity)] },
  ], ['r/0', 'r/1'])
  const src = new RepartitionSource<string>(inner, { writers: ['a', 'b'], endWhenWritersFinish: true })
  await src.open(null, { beforeRevoke: async () => {}, onAssign: () => {} })

  let r = await src.poll(100)
  assert.deepEqual(r.batches.map((b) => [b.partition, b.values, b.watermark]), [['r/0', ['100', '200', '150'], -Infinity], ['r/1', ['300'], -Infinity]], 'b has sent no marker: time is held back')
  r = await src.poll(100)
  assert.deepEqual(r.batches.map((b) => [b.partition, b.values, b.watermark]), [['r/0', ['250'], 120]])
  assert.equal(src.duplicates, 2)
  const pos = src.positions()['r/0'] as RepartitionPosition
  assert.deepEqual(pos, { offset: 8, seqs: { a: 3, b: 1 }, marks: { a: 180, b: 120 } })
  r = await src.poll(100)
  assert.deepEqual(r.batches.map((b) => [b.partition, b.values, b.watermark]), [['r/0', ['400'], Infinity], ['r/1', [], -Infinity]])
  assert.deepEqual(r.finished, ['r/0'], 'r/1 still waits for b')
  assert.equal(r.done, false)

  // restore from the positions: the dedup state comes back with the offset
  const inner2 = new ScriptSource([{ 'r/0': [rec('a', 3, 250), rec('a', 4, 260)] }], ['r/0'])
  const src2 = new RepartitionSource<string>(inner2, { writers: ['a', 'b'] })
  await src2.open({ 'r/0': pos }, { beforeRevoke: async () => {}, onAssign: () => {} })
  assert.deepEqual(inner2.opened, { 'r/0': 8 }, 'the inner source gets the offset only')
  r = await src2.poll(100)
  assert.deepEqual(r.batches[0]!.values, ['260'])
  assert.equal(r.batches[0]!.watermark, 120)
})

test('repartition source: positionsFor hands the inner source offsets and restores the dedup state; a partition without a checkpoint starts empty', async () => {
  const inner = new ScriptSource([], ['r/0'])
  const src = new RepartitionSource<string>(inner, { writers: ['a'] })
  const saved: RepartitionPosition = { offset: '42', seqs: { a: 7 }, marks: { a: 1000 } }
  await src.open(null, { beforeRevoke: async () => {}, onAssign: () => {}, positionsFor: async (parts) => (parts.includes('r/0') ? { 'r/0': saved } : {}) })
  assert.deepEqual(await inner.hooks.positionsFor!(['r/0', 'r/1']), { 'r/0': '42' })
  assert.equal(src.watermarkOf('r/0'), 1000)
  assert.equal(src.watermarkOf('r/1'), -Infinity)
  await assert.rejects(src.open({ 'r/0': '42' }, { beforeRevoke: async () => {}, onAssign: () => {} }), /not a repartition position/)
})

test('repartition decoder: records, markers, bad headers and unknown writers (dead letters with their bytes)', () => {
  const decode = repartitionDecoder<{ tag: string }>(['fh/0'])
  const msg = (offset: number, headers: Record<string, string>, value = '{"tag":"x"}') => ({ topic: 'rep', partition: 2, offset: String(offset), value: Buffer.from(value), headers })
  const out = decode([
    msg(0, { 'trendwire-type': 'record', 'trendwire-writer': 'fh/0', 'trendwire-seq': '1', 'trendwire-time': '1717200000000' }),
    msg(1, { 'trendwire-type': 'watermark', 'trendwire-writer': 'fh/0', 'trendwire-watermark': 'inf' }, ''),
    msg(2, { 'trendwire-type': 'record', 'trendwire-writer': 'fh/9', 'trendwire-seq': '1', 'trendwire-time': '1' }),
    msg(3, { 'trendwire-type': 'record', 'trendwire-writer': 'fh/0', 'trendwire-seq': 'x', 'trendwire-time': '1' }),
    msg(4, { 'trendwire-type': 'record', 'trendwire-writer': 'fh/0', 'trendwire-seq': '2', 'trendwire-time': '1' }, '{nope'),
    msg(5, {}),
  ])
  assert.deepEqual(out.values, [{ writer: 'fh/0', seq: 1, value: { tag: 'x' } }, { writer: 'fh/0', watermark: Infinity }])
  assert.deepEqual(out.times.slice(0, 1), [1717200000000])
  assert.deepEqual(out.deadLetters.map((d) => [d.position, d.code, d.partition]), [
    ['2', 'INPUT_SCHEMA_MISMATCH', 'rep/2'], ['3', 'INPUT_SCHEMA_MISMATCH', 'rep/2'], ['4', 'INPUT_MALFORMED', 'rep/2'], ['5', 'INPUT_SCHEMA_MISMATCH', 'rep/2'],
  ])
  assert.match(out.deadLetters[0]!.reason, /not among the configured writers/)
  assert.equal(Buffer.from(out.deadLetters[2]!.payload).toString(), '{nope')
  assert.equal(formatTime(-Infinity), '-inf')
  assert.equal(parseTime(formatTime(1717200000123)), 1717200000123)
  assert.equal(repartitionPartition('fyp', 6), repartitionPartition('fyp', 6))
})

test('runner: a partition whose source reports its watermark (SourceBatch.watermark) fires windows by it, not by record times', async () => {
  // times would allow the 0–1000 window to fire at once; the reported watermark holds it back until 999
  class Explicit implements Source<number> {
    readonly name = 'explicit'
    private step = 0
    async open(_p: Record<string, unknown> | null, hooks: SourceHooks): Promise<void> { hooks.onAssign(['x']) }
    async poll(): Promise<PollResult<number>> {
      const s = this.step++
      if (s === 0) return { batches: [{ partition: 'x', values: [1, 2], times: [10, 50_000], watermark: 500 }], done: false }
      if (s === 1) return { batches: [{ partition: 'x', values: [], times: [], watermark: 999 }], done: false }
      return { batches: [], done: true }
    }
    positions(): Record<string, unknown> { return { x: this.step } }
    async close(): Promise<void> {}
  }
  const fired: number[] = []
  const t = new Topology('explicit-wm')
  const sink: Sink<WindowResult<string, number>> = { name: 'out', write: (b) => { for (const r of b.values) fired.push(r.start) } }
  t.from(new Explicit(), { outOfOrdernessMs: 0 }).keyBy(() => 'k').window(tumbling(1000)).aggregate('c', count()).to(sink)
  const runner = new Runner(t, { checkpointIntervalMs: 0, checkpointEveryPolls: 1 }, { logger: quiet })
  const seen: number[] = []
  const orig = runner.engine.advance.bind(runner.engine)
  runner.engine.advance = async (wm) => { seen.push(wm); return orig(wm) }
  await runner.run()
  assert.deepEqual(seen, [500, 999, Infinity], 'the merged watermark follows the reported one')
  assert.deepEqual(fired, [0, 50_000])
})

// ---------------------------------------------------------------------------------------------
// End to end on the mock broker

const prefix = uniquePrefix('rp')
const FH = `${prefix}-fh`
const REP_A = `${prefix}-rep-a`
const REP_B = `${prefix}-rep-b`
const FH_PARTITIONS = 4
const REP_PARTITIONS = 6
const SYNTH: SyntheticOptionsInput = { seed: 4242, maxEvents: 30_000, partitions: FH_PARTITIONS, name: 'synthetic' }
const TOPO = { outOfOrdernessMs: 5_000, allowedLatenessMs: 60_000, joinWaitMs: 120_000 }
const KAFKA = { client: 'kafkajs' as const, logLevel: 'nothing' as const, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, fetchMaxWaitMs: 100, rebalanceTimeoutMs: 20_000 }
const RUN = { checkpointEveryPolls: 3, checkpointIntervalMs: 0, maxBatchRecords: 400 }

let mock: KafkaMock
let codec: FirehoseCodec
let ends: Record<string, string>
let reference: { uses: Map<string, number>; engagement: Map<string, number> }

before(async () => {
  mock = await KafkaMock.start({ brokers: 3, topics: { [FH]: FH_PARTITIONS, [REP_A]: REP_PARTITIONS, [REP_B]: REP_PARTITIONS } })
  codec = await FirehoseCodec.create({ encodeTopic: null, topics: { [FH]: { format: 'json' } } })
  // the firehose: each synthetic partition's events, in delivery order, to the same Kafka partition
  const g = generateEvents(SYNTH)
  const kafka = new kafkajs.Kafka({ brokers: mock.brokers, clientId: `${prefix}-producer`, logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 20 } })
  const producer = kafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 1 })
  await producer.connect()
  try {
    for (let p = 0; p < FH_PARTITIONS; p++) {
      const list = g.events.filter((_, i) => g.partitions[i] === p)
      for (let i = 0; i < list.length; i += 1000) {
        await producer.send({ topic: FH, acks: -1, messages: list.slice(i, i + 1000).map((e) => ({ partition: p, key: e.kind === 'creator' ? e.creatorId : e.postId, value: JSON.stringify(e) })) })
      }
    }
  } finally {
    await producer.disconnect()
  }
  ends = await kafkaEndOffsets(mock.brokers, FH)
  assert.equal(Object.values(ends).reduce((s, o) => s + Number(o), 0), g.events.length)

  // the reference: one process, the unsplit topology, straight from the generator
  const ref = collectors()
  const status = await new Runner(hashtagActivity(new SyntheticSource(SYNTH), ref.sinks, TOPO), { checkpointIntervalMs: 0 }, { logger: quiet }).run()
  assert.equal(status.recordsIn, g.events.length)
  assert.equal(ref.late.length, 0, 'reference: no late records (the comparison would be about lateness otherwise)')
  reference = { uses: finals(ref.uses), engagement: finals(ref.engagement) }
  assert.ok(reference.uses.size > 500 && reference.engagement.size > 500, `reference has ${reference.uses.size} / ${reference.engagement.size} windows`)
})
after(async () => { await mock?.stop() })

function collectors() {
  const uses: HashtagWindowCount[] = []
  const engagement: HashtagWindowCount[] = []
  const late: unknown[] = []
  const sink = <T>(name: string, into: T[]): Sink<T> => ({ name, write: (b) => { into.push(...b.values) } })
  return { uses, engagement, late, sinks: { hashtagUses: sink('uses', uses), hashtagEngagement: sink('engagement', engagement), late: sink('late', late) } }
}

/** The final count per (hashtag, window): the row with the highest revision. */
function finals(rows: HashtagWindowCount[]): Map<string, number> {
  const best = new Map<string, HashtagWindowCount>()
  for (const r of rows) {
    const k = `${r.hashtag}|${r.windowStart}|${r.windowEnd}`
    const b = best.get(k)
    if (!b || r.revision > b.revision) best.set(k, r)
  }
  return new Map([...best].map(([k, r]) => [k, r.count]))
}

function assertSameCounts(got: Map<string, number>, want: Map<string, number>, what: string): void {
  const diffs: string[] = []
  for (const [k, n] of want) if (got.get(k) !== n) diffs.push(`${k}: ${got.get(k)} (want ${n})`)
  for (const k of got.keys()) if (!want.has(k)) diffs.push(`${k}: ${got.get(k)} (want none)`)
  assert.equal(diffs.length, 0, `${what}: ${diffs.length} (hashtag, window) counts differ from the single-process run, e.g. ${diffs.slice(0, 5).join('; ')}`)
}

async function until(cond: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function within<X>(p: Promise<X>, ms: number, what: () => string): Promise<X> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms) })
  try {
    return await Promise.race([p, t])
  } finally {
    clearTimeout(timer)
  }
}

/** Holds poll() until opened, so that both members of a group hold partitions before any work starts. */
class Gate {
  open = false
  private waiters: Array<() => void> = []
  release(): void { this.open = true; for (const w of this.waiters.splice(0)) w() }
  wait(): Promise<void> { return this.open ? Promise.resolve() : new Promise((r) => this.waiters.push(r)) }
  wrap<T>(s: Source<T>): Source<T> {
    const gate = this
    return {
      name: s.name,
      open: (p, h) => s.open(p, h),
      async poll(n) { await gate.wait(); return s.poll(n) },
      positions: () => s.positions(),
      commit: (p) => s.commit?.(p) ?? Promise.resolve(),
      pause: () => s.pause?.(),
      resume: () => s.resume?.(),
      close: () => s.close(),
    }
  }
}

/** Every save fails once the process "crashed": the first time any task of it reaches its (after+1)th checkpoint. */
class CrashingStore implements KeyedCheckpointStore {
  crashed: string | null = null
  private saves = new Map<string, number>()
  constructor(private readonly inner: KeyedCheckpointStore, private readonly after: number) {}
  view(key: string): CheckpointStore {
    const s = this.inner.view(key)
    return {
      load: () => s.load(),
      save: async (bytes, id) => {
        if (this.crashed) throw new Error(`process crashed (${this.crashed})`)
        const n = (this.saves.get(key) ?? 0) + 1
        this.saves.set(key, n)
        if (n > this.after) {
          this.crashed = `${key} at checkpoint ${id}`
          throw new Error(`simulated crash: ${this.crashed}`)
        }
        await s.save(bytes, id)
      },
    }
  }
}

async function stage1(name: string, group: string, topic: string, store: KeyedCheckpointStore, gate: Gate): Promise<PartitionedRunner<FirehoseEvent>> {
  const kafka = await createKafkaSource<FirehoseEvent>({ ...KAFKA, name: `fh-${name}`, clientId: `${prefix}-${name}`, brokers: mock.bootstrap, topics: [FH], groupId: group, decode: (m) => codec.decodeBatch(m) })
  const bounded = new BoundedSource(kafka, ends, { allFinished: () => tasksFinished(store, kafkaWriterIds(FH, FH_PARTITIONS)) })
  return new PartitionedRunner(gate.wrap(bounded), (partition, input) => hashtagActivityStage1(input, new KafkaRepartitionSink<HashtagUse>(
    { brokers: mock.bootstrap, topic, writerId: partition, partitions: REP_PARTITIONS, clientId: `${prefix}-${name}-sink`, maxBatch: 300, idempotent: false },
    { key: hashtagUseKey, logger: quiet },
  ), TOPO), RUN, { store, logger: quiet })
}

async function stage2(name: string, group: string, topic: string, store: KeyedCheckpointStore, out: ReturnType<typeof collectors>, gate: Gate): Promise<{ runner: PartitionedRunner<HashtagUse>; source: RepartitionSource<HashtagUse> }> {
  const source = await createRepartitionSource<HashtagUse>({
    ...KAFKA, name: `rep-${name}`, clientId: `${prefix}-${name}`, brokers: mock.bootstrap, topic, groupId: group,
    writers: kafkaWriterIds(FH, FH_PARTITIONS), endWhenWritersFinish: true,
    // done once every repartition partition is finished, not just the ones this member holds
    allFinished: () => tasksFinished(store, Array.from({ length: REP_PARTITIONS }, (_, i) => `${topic}/${i}`)),
  })
  const runner = new PartitionedRunner(gate.wrap(source), (_partition, input) => hashtagActivityStage2(input, out.sinks, TOPO), RUN, { store, logger: quiet })
  return { runner, source }
}

type Described = { status(): Record<string, RunnerStatus> }
const describe = (rs: Record<string, Described>) => () => JSON.stringify(Object.fromEntries(Object.entries(rs).map(([k, r]) => [k, Object.fromEntries(Object.entries(r.status()).map(([p, s]) => [p, `${s.state} in=${s.recordsIn} wm=${s.watermark}`]))])))

test('repartition end to end: two stage-1 and two stage-2 processes give exactly the single-process counts', async () => {
  const out = collectors()
  const g1 = new Gate()
  const g2 = new Gate()
  const store1 = new MemoryKeyedCheckpointStore()
  const a = await stage1('a', `${prefix}-s1`, REP_A, store1, g1)
  const b = await stage1('b', `${prefix}-s1`, REP_A, store1, g1)
  const store2 = new MemoryKeyedCheckpointStore()
  const c = await stage2('c', `${prefix}-s2`, REP_A, store2, out, g2)
  const d = await stage2('d', `${prefix}-s2`, REP_A, store2, out, g2)
  const all = { a, b, c: c.runner, d: d.runner } as Record<string, Described>
  const runs = [a.run(), b.run(), c.runner.run(), d.runner.run()]
  for (const r of runs) r.catch(() => {})
  // both members of each group hold partitions before any record is processed
  await until(() => a.partitions().length === 2 && b.partitions().length === 2, 60_000, describe(all))
  await until(() => c.runner.partitions().length === 3 && d.runner.partitions().length === 3, 60_000, describe(all))
  g1.release()
  g2.release()
  const [sa, sb] = await within(Promise.all(runs), 180_000, () => describe(all)() + JSON.stringify([c.source.positions(), d.source.positions()]))
  const inA = Object.values(sa).reduce((s, x) => s + x.recordsIn, 0)
  const inB = Object.values(sb).reduce((s, x) => s + x.recordsIn, 0)
  assert.ok(inA > 0 && inB > 0, `both stage-1 processes did part of the work (${inA} + ${inB})`)
  assert.equal(inA + inB, Object.values(ends).reduce((s, o) => s + Number(o), 0))
  assert.equal(c.source.duplicates + d.source.duplicates, 0, 'no crash, no duplicates')
  assert.equal(out.late.length, 0)
  assertSameCounts(finals(out.uses), reference.uses, 'hashtag uses')
  assertSameCounts(finals(out.engagement), reference.engagement, 'hashtag engagement')
  console.log(`repartition: ${reference.uses.size} use windows, ${reference.engagement.size} engagement windows equal; stage 1 records ${inA} + ${inB}`)
})

test('repartition end to end: a stage-1 process crashes mid-stream without its final checkpoint and restarts; duplicates are dropped, counts still equal', async () => {
  const out = collectors()
  const g1 = new Gate()
  const g2 = new Gate()
  const shared = new MemoryKeyedCheckpointStore()
  const crashing = new CrashingStore(shared, 3)
  const a = await stage1('ca', `${prefix}-c1`, REP_B, crashing, g1)
  const b = await stage1('cb', `${prefix}-c1`, REP_B, shared, g1)
  const store2 = new MemoryKeyedCheckpointStore()
  const c = await stage2('cc', `${prefix}-c2`, REP_B, store2, out, g2)
  const d = await stage2('cd', `${prefix}-c2`, REP_B, store2, out, g2)
  const all = { a, b, c: c.runner, d: d.runner } as Record<string, Described>
  const runA = a.run()
  runA.catch(() => {})
  const runs = [b.run(), c.runner.run(), d.runner.run()]
  for (const r of runs) r.catch(() => {})
  await until(() => a.partitions().length === 2 && b.partitions().length === 2, 60_000, describe(all))
  await until(() => c.runner.partitions().length === 3 && d.runner.partitions().length === 3, 60_000, describe(all))
  g1.release()
  g2.release()

  await within(assert.rejects(runA, /simulated crash|process crashed/), 120_000, describe(all))
  assert.ok(crashing.crashed, 'a stage-1 task crashed')
  // restart the crashed process: same group, the store as the crash left it (its last durable checkpoints)
  const a2 = await stage1('ca2', `${prefix}-c1`, REP_B, shared, g1)
  all.a2 = a2
  runs.push(a2.run())
  const [sb, , , sa2] = await within(Promise.all(runs), 180_000, () => describe(all)() + JSON.stringify([c.source.positions(), d.source.positions()]))
  const restored = Object.values({ ...sb, ...sa2 }).filter((s) => s.restoredFrom !== null).length
  assert.ok(restored > 0, 'partitions of the crashed process resumed from checkpoints')
  assert.equal(out.late.length, 0)
  assertSameCounts(finals(out.uses), reference.uses, 'hashtag uses after a crash')
  assertSameCounts(finals(out.engagement), reference.engagement, 'hashtag engagement after a crash')
  const dups = c.source.duplicates + d.source.duplicates
  assert.ok(dups > 0, 'the replay after the crash produced records stage 2 had already seen, and they were dropped')
  console.log(`repartition crash (${crashing.crashed}): ${dups} duplicates dropped, counts equal`)
})
