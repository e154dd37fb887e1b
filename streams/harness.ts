// Operator test harness (Flink's KeyedOneInputStreamOperatorTestHarness): feed batches and step
// the watermark by hand, then look at what came out on the main and side outputs. Also snapshots
// and restores, to test that state survives a checkpoint.
import { deserialize, serialize } from 'node:v8'
import { noMetrics } from './metrics.ts'
import type { Collector, EventTime, Operator, OperatorContext } from './types.ts'

export class OperatorHarness<I, O> {
  readonly output: Array<{ value: O; time: EventTime }> = []
  readonly sides = new Map<string, Array<{ value: unknown; time: EventTime }>>()
  private wm: EventTime = -Infinity
  private readonly out: Collector<O>
  private readonly ctx: OperatorContext

  constructor(public op: Operator<I, O>) {
    const self = this
    this.out = {
      emit(value, time) { self.output.push({ value, time }) },
      side(tag, value, time) {
        let l = self.sides.get(tag)
        if (!l) self.sides.set(tag, (l = []))
        l.push({ value, time })
      },
    }
    this.ctx = {
      get watermark() { return self.wm },
      now: () => Date.now(),
      metrics: noMetrics,
    }
  }

  get watermark(): EventTime {
    return this.wm
  }

  /** Feed one batch of [value, time] pairs. */
  async feed(records: Array<[I, EventTime]>): Promise<this> {
    const values = records.map((r) => r[0])
    const times = records.map((r) => r[1])
    await this.op.processBatch({ values, times }, this.ctx, this.out)
    return this
  }

  /** Advance the watermark (ignored unless it increases, like the runner). */
  async watermarkTo(wm: EventTime): Promise<this> {
    if (wm <= this.wm) return this
    this.wm = wm
    if (this.op.onWatermark) await this.op.onWatermark(wm, this.ctx, this.out)
    return this
  }

  side<S = unknown>(tag: string): Array<{ value: S; time: EventTime }> {
    return (this.sides.get(tag) ?? []) as Array<{ value: S; time: EventTime }>
  }

  values(): O[] {
    return this.output.map((o) => o.value)
  }

  /** Snapshot through the same serialisation a checkpoint uses. */
  snapshot(): Uint8Array {
    return serialize(this.op.snapshot ? this.op.snapshot() : null)
  }

  /** Swap in a fresh operator restored from a snapshot, keeping the watermark. */
  restoreInto(fresh: Operator<I, O>, snap: Uint8Array): this {
    fresh.restore?.(deserialize(snap))
    this.op = fresh
    return this
  }
}
