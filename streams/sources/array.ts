// An in-memory, partitioned source over arrays: deterministic poll (round-robin over partitions,
// a fixed share of maxRecords each), exact resume from positions. For tests and embedding.
import type { DeadLetter, EventTime, PollResult, Source, SourceHooks } from '../types.ts'

export interface ArrayPartition<T> {
  id: string
  records: Array<[T, EventTime]>
  /** Optional dead letters to report, by index into records (the record at that index is skipped). */
  bad?: Map<number, DeadLetter>
}

export class ArraySource<T> implements Source<T> {
  private pos = new Map<string, number>()
  private paused = false
  polls = 0

  constructor(readonly name: string, private readonly parts: ArrayPartition<T>[], private readonly opts: { perPoll?: number } = {}) {}

  async open(positions: Record<string, unknown> | null, hooks: SourceHooks): Promise<void> {
    const ids = this.parts.map((p) => p.id)
    const known = { ...(hooks.positionsFor ? await hooks.positionsFor(ids.filter((id) => positions?.[id] === undefined)) : {}), ...(positions ?? {}) }
    for (const p of this.parts) this.pos.set(p.id, (known[p.id] as number | undefined) ?? 0)
    hooks.onAssign(ids)
  }

  async poll(maxRecords: number): Promise<PollResult<T>> {
    this.polls++
    const share = Math.max(1, Math.floor((this.opts.perPoll ?? maxRecords) / this.parts.length))
    const batches: PollResult<T>['batches'] = []
    const finished: string[] = []
    let done = true
    for (const p of this.parts) {
      const from = this.pos.get(p.id)!
      if (from >= p.records.length) continue
      const to = Math.min(p.records.length, from + share)
      const values: T[] = []
      const times: number[] = []
      const dead: DeadLetter[] = []
      for (let i = from; i < to; i++) {
        const bad = p.bad?.get(i)
        if (bad) dead.push(bad)
        else {
          values.push(p.records[i][0])
          times.push(p.records[i][1])
        }
      }
      this.pos.set(p.id, to)
      batches.push({ partition: p.id, values, times, deadLetters: dead.length ? dead : undefined })
      if (to >= p.records.length) finished.push(p.id)
      else done = false
    }
    return { batches, finished, done }
  }

  positions(): Record<string, unknown> {
    return Object.fromEntries(this.pos)
  }

  pause(): void { this.paused = true }
  resume(): void { this.paused = false }
  get isPaused(): boolean { return this.paused }
  async close(): Promise<void> {}
}
