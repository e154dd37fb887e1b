// Executes a topology graph: pushes a batch through the operators depth-first (parents before
// children, earlier-declared branches before later ones, so a table is updated before a join that
// reads it), and advances the watermark node by node in declaration order (a topological order):
// an operator's watermark output reaches its children while they still hold the previous
// watermark, so a window result is never late for the operator downstream of it.
import { operatorError } from './errors.ts'
import type { Node, Topology } from './topology.ts'
import type { Batch, Collector, EventTime, MetricsSink, OperatorContext, SinkContext, StateStats } from './types.ts'

class BufferCollector<O> implements Collector<O> {
  values: O[] = []
  times: EventTime[] = []
  sides: Map<string, { values: unknown[]; times: EventTime[] }> | null = null

  emit(value: O, time: EventTime): void {
    this.values.push(value)
    this.times.push(time)
  }

  side(tag: string, value: unknown, time: EventTime): void {
    if (!this.sides) this.sides = new Map()
    let s = this.sides.get(tag)
    if (!s) this.sides.set(tag, (s = { values: [], times: [] }))
    s.values.push(value)
    s.times.push(time)
  }
}

class NodeContext implements OperatorContext {
  watermark: EventTime = -Infinity
  flushOutput?: () => Promise<void>
  constructor(readonly metrics: MetricsSink) {}
  now(): number {
    return Date.now()
  }
}

export interface NodeStats {
  name: string
  kind: 'source' | 'operator' | 'sink'
  recordsIn: number
  recordsOut: number
  watermark: EventTime
  state: StateStats | null
}

/** Called for side outputs nobody subscribed to (e.g. late records with no late sink). */
export type UnconsumedSide = (node: Node, tag: string, batch: Batch<unknown>) => void | Promise<void>

export class Engine {
  private readonly ctx: NodeContext[]
  private readonly collectors: BufferCollector<unknown>[]
  private readonly recordsIn: number[]
  private readonly recordsOut: number[]
  private readonly labels: Array<{ topology: string; operator: string }>
  sinkCtx: SinkContext

  constructor(readonly topology: Topology, private readonly metrics: MetricsSink, private readonly unconsumed: UnconsumedSide) {
    const n = topology.nodes.length
    this.ctx = topology.nodes.map((nd) => {
      const c = new NodeContext(metrics)
      // what an operator emitted so far in onWatermark goes to its children as one batch now
      c.flushOutput = () => this.flush(nd)
      return c
    })
    this.collectors = topology.nodes.map(() => new BufferCollector())
    this.recordsIn = new Array(n).fill(0)
    this.recordsOut = new Array(n).fill(0)
    this.labels = topology.nodes.map((nd) => ({ topology: topology.name, operator: nd.name }))
    this.sinkCtx = { checkpointId: 0, metrics }
  }

  get watermark(): EventTime {
    return this.ctx[0]?.watermark ?? -Infinity
  }

  /** Push a source batch through the whole graph. */
  async push(batch: Batch<unknown>): Promise<void> {
    const root = this.topology.root!
    this.recordsOut[root.id] += batch.values.length
    for (const child of root.children) await this.run(child, batch)
  }

  private async run(node: Node, batch: Batch<unknown>): Promise<void> {
    const n = batch.values.length
    if (n === 0) return
    this.recordsIn[node.id] += n
    this.metrics.inc('records_in_total', n, this.labels[node.id])
    if (node.sink) {
      const r = node.sink.write(batch, this.sinkCtx)
      if (r) await r
      return
    }
    const out = this.collectors[node.id]
    try {
      const r = node.op!.processBatch(batch, this.ctx[node.id], out)
      if (r) await r
    } catch (err) {
      throw operatorError(node.name, err)
    }
    await this.flush(node)
  }

  private async flush(node: Node): Promise<void> {
    const out = this.collectors[node.id]
    if (out.values.length > 0) {
      const b: Batch<unknown> = { values: out.values, times: out.times }
      out.values = []
      out.times = []
      this.recordsOut[node.id] += b.values.length
      this.metrics.inc('records_out_total', b.values.length, this.labels[node.id])
      for (const child of node.children) await this.run(child, b)
    }
    if (out.sides) {
      const sides = out.sides
      out.sides = null
      for (const [tag, s] of sides) {
        this.metrics.inc('side_output_total', s.values.length, { ...this.labels[node.id], tag })
        const subs = node.sides.get(tag)
        if (!subs || subs.length === 0) {
          const r = this.unconsumed(node, tag, s)
          if (r) await r
        } else for (const child of subs) await this.run(child, s)
      }
    }
  }

  /** Advance every node to watermark wm (callers pass strictly increasing values). */
  async advance(wm: EventTime): Promise<void> {
    const nodes = this.topology.nodes
    this.ctx[0].watermark = wm
    for (let i = 1; i < nodes.length; i++) {
      const node = nodes[i]
      const ctx = this.ctx[i]
      if (node.op?.onWatermark) {
        try {
          const r = node.op.onWatermark(wm, ctx, this.collectors[i])
          if (r) await r
        } catch (err) {
          throw operatorError(node.name, err)
        }
        ctx.watermark = wm
        await this.flush(node)
      } else {
        ctx.watermark = wm
      }
    }
  }

  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    for (const node of this.topology.nodes) {
      if (node.op?.snapshot) out[node.name] = node.op.snapshot()
    }
    out.__watermark = this.watermark
    out.__counts = { in: this.recordsIn, out: this.recordsOut }
    return out
  }

  restore(state: Record<string, unknown>): void {
    for (const node of this.topology.nodes) {
      if (node.op?.restore && node.name in state) node.op.restore(state[node.name])
    }
    const wm = state.__watermark
    if (typeof wm === 'number') for (const c of this.ctx) c.watermark = wm
    const counts = state.__counts as { in: number[]; out: number[] } | undefined
    if (counts && counts.in.length === this.recordsIn.length) {
      counts.in.forEach((v, i) => { this.recordsIn[i] = v })
      counts.out.forEach((v, i) => { this.recordsOut[i] = v })
    }
  }

  stats(): NodeStats[] {
    return this.topology.nodes.map((n, i) => ({
      name: n.name,
      kind: n.sink ? 'sink' : n.op ? 'operator' : 'source',
      recordsIn: this.recordsIn[i],
      recordsOut: this.recordsOut[i],
      watermark: this.ctx[i].watermark,
      state: n.op?.stateStats ? n.op.stateStats() : null,
    }))
  }
}
