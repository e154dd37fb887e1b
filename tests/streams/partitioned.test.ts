// Scale-out: per-partition tasks hand a partition, with its state, from one process to another.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import { MemoryKeyedCheckpointStore, PartitionedRunner } from '../../streams/partitioned.ts'
import { Topology } from '../../streams/topology.ts'
import type { PollResult, Source, SourceHooks } from '../../streams/types.ts'
import { count, tumbling, type WindowResult } from '../../streams/windows.ts'
import { CollectSink } from '../../sinks/memory.ts'

type Ev = { post: string }
const quiet = pino({ level: 'silent' })

/** A consumer-group member double: partitions can be revoked and assigned while it runs. */
class GroupSource implements Source<Ev> {
  readonly name = 'group'
  private hooks!: SourceHooks
  private pos = new Map<string, number>()
  polls = 0
  onPoll: ((n: number) => Promise<void>) | null = null
  constructor(private readonly data: Map<string, Array<[Ev, number]>>, private assigned: string[]) {}
  async open(_p: Record<string, unknown> | null, hooks: SourceHooks): Promise<void> {
    this.hooks = hooks
    await this.assign(this.assigned)
  }
  async assign(parts: string[]): Promise<void> {
    const known = (await this.hooks.positionsFor?.(parts)) ?? {}
    for (const p of parts) this.pos.set(p, (known[p] as number | undefined) ?? 0)
    this.assigned = [...new Set([...this.assigned, ...parts])]
    this.hooks.onAssign(parts)
  }
  async revoke(parts: string[]): Promise<void> {
    await this.hooks.beforeRevoke(parts)
    this.assigned = this.assigned.filter((p) => !parts.includes(p))
    for (const p of parts) this.pos.delete(p)
  }
  async poll(): Promise<PollResult<Ev>> {
    this.polls++
    if (this.onPoll) await this.onPoll(this.polls)
    const batches: PollResult<Ev>['batches'] = []
    const finished: string[] = []
    for (const p of this.assigned) {
      const recs = this.data.get(p)!
      const from = this.pos.get(p)!
      const to = Math.min(recs.length, from + 25)
      if (from < to) batches.push({ partition: p, values: recs.slice(from, to).map((r) => r[0]), times: recs.slice(from, to).map((r) => r[1]) })
      this.pos.set(p, to)
      if (to >= recs.length) finished.push(p)
    }
    return { batches, finished, done: this.assigned.every((p) => this.pos.get(p)! >= this.data.get(p)!.length) }
  }
  positions(): Record<string, unknown> { return Object.fromEntries(this.pos) }
  async close(): Promise<void> {}
}

function data(): Map<string, Array<[Ev, number]>> {
  const m = new Map<string, Array<[Ev, number]>>()
  for (const p of ['p0', 'p1']) {
    m.set(p, Array.from({ length: 400 }, (_, i) => [{ post: `${p}-post${(i * 7) % 13}` }, i * 50 + (i % 3) * 10] as [Ev, number]))
  }
  return m
}

function factory(out: Array<WindowResult<string, number>>) {
  return (partition: string, input: Source<Ev>) => {
    const t = new Topology('per-post-counts')
    const sink = new CollectSink<WindowResult<string, number>>(`out-${partition}`)
    sink.write = (b) => { out.push(...b.values) }
    t.from(input, { outOfOrdernessMs: 100 }).keyBy((e: Ev) => e.post).window(tumbling(1000)).aggregate('count', count()).to(sink)
    return t
  }
}

const sortRows = (rows: Array<WindowResult<string, number>>) => rows.map((r) => `${r.key}|${r.start}|${r.value}|${r.revision}`).sort()

test('a partition handed from one process to another mid-stream keeps its state: output equals a run without the handover', async () => {
  const ref: Array<WindowResult<string, number>> = []
  await new PartitionedRunner(new GroupSource(data(), ['p0', 'p1']), factory(ref), { checkpointEveryPolls: 3, checkpointIntervalMs: 0 }, { store: new MemoryKeyedCheckpointStore(), logger: quiet }).run()

  const store = new MemoryKeyedCheckpointStore()
  const out: Array<WindowResult<string, number>> = []
  const srcA = new GroupSource(data(), ['p0', 'p1'])
  const a = new PartitionedRunner(srcA, factory(out), { checkpointEveryPolls: 3, checkpointIntervalMs: 0 }, { store, logger: quiet })
  srcA.onPoll = async (n) => { if (n === 7) await srcA.revoke(['p1']) } // rebalance: p1 moves away
  const statusA = await a.run()
  assert.ok(statusA.p1.recordsIn > 0 && statusA.p1.recordsIn < 400, 'A processed part of p1 before giving it up')
  assert.equal(statusA.p0.recordsIn, 400)

  const srcB = new GroupSource(data(), ['p1'])
  const statusB = await new PartitionedRunner(srcB, factory(out), { checkpointEveryPolls: 3, checkpointIntervalMs: 0 }, { store, logger: quiet }).run()
  assert.ok(statusB.p1.restoredFrom !== null, 'B restored p1 from the checkpoint A wrote when giving it up')
  assert.equal(statusB.p1.recordsIn, 400, 'record count continues from the restored checkpoint')
  assert.deepEqual(sortRows(out), sortRows(ref))
})

test('each partition task has its own watermark: a slow partition does not hold back another', async () => {
  const m = new Map<string, Array<[Ev, number]>>([
    ['fast', Array.from({ length: 100 }, (_, i) => [{ post: 'a' }, i * 1000] as [Ev, number])],
    ['slow', [[{ post: 'b' }, 0]]],
  ])
  const out: Array<WindowResult<string, number>> = []
  const src = new GroupSource(m, ['fast', 'slow'])
  const runner = new PartitionedRunner(src, factory(out), { checkpointIntervalMs: 0 }, { store: new MemoryKeyedCheckpointStore(), logger: quiet })
  let seenBeforeEnd = 0
  src.onPoll = async (n) => { if (n === 3) seenBeforeEnd = out.length }
  await runner.run()
  assert.ok(seenBeforeEnd > 0, 'fast partition fired windows while the slow one had nothing newer')
})
