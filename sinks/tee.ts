// Sends every batch to several sinks (e.g. a file and the live status page), with the checkpoint
// protocol forwarded to each; the tee's checkpoint state is the list of its sinks' states.
import type { Batch, Sink, SinkContext } from '../streams/types.ts'

export class TeeSink<T> implements Sink<T> {
  constructor(readonly name: string, private readonly sinks: Sink<T>[]) {}
  async open(ctx: SinkContext): Promise<void> { for (const s of this.sinks) await s.open?.(ctx) }
  write(batch: Batch<T>, ctx: SinkContext): void | Promise<void> {
    let pending: Promise<void>[] | null = null
    for (const s of this.sinks) {
      const r = s.write(batch, ctx)
      if (r) (pending ??= []).push(r)
    }
    if (pending) return Promise.all(pending).then(() => {})
  }
  async preCommit(id: number): Promise<unknown> {
    const out: unknown[] = []
    for (const s of this.sinks) out.push(s.preCommit ? await s.preCommit(id) : undefined)
    return out
  }
  async commit(id: number): Promise<void> { for (const s of this.sinks) await s.commit?.(id) }
  async restore(state: unknown): Promise<void> {
    const st = (state as unknown[] | undefined) ?? []
    for (let i = 0; i < this.sinks.length; i++) await this.sinks[i].restore?.(st[i])
  }
  async close(): Promise<void> { for (const s of this.sinks) await s.close?.() }
}
