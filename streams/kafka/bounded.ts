// A bounded read of Kafka: a source that stops at given end offsets (e.g. the topic's high watermarks
// when the job starts). A partition whose position reaches its end offset is reported finished — its
// watermark becomes +∞, so every window fires, and a repartition sink downstream of it writes its
// "inf" marker — and the source is done once every partition it holds is finished. For backfills,
// benchmarks and tests; a live job reads unbounded.
//
// In a consumer group each member finishes the partitions it holds; a member that is done leaves the
// group, and partitions it had finished come back to the others already at their end offsets
// (PartitionedRunner: their task checkpoints), where they finish at once.
import type { PollResult, Source, SourceHooks } from '../types.ts'

export class BoundedSource<T> implements Source<T> {
  readonly name: string
  private readonly ends: Map<string, bigint>
  private readonly assigned = new Set<string>()
  private readonly reported = new Set<string>()
  /** Where assigned partitions start, when known (the checkpoint's position). */
  private readonly starts = new Map<string, string>()

  /** ends: partition id ("<topic>/<n>") → offset to stop before (exclusive). Partitions not listed never finish. */
  constructor(readonly inner: Source<T>, ends: Record<string, string | number | bigint>) {
    this.name = inner.name
    this.ends = new Map(Object.entries(ends).map(([p, o]) => [p, BigInt(o)]))
  }

  async open(positions: Record<string, unknown> | null, hooks: SourceHooks): Promise<void> {
    for (const [p, pos] of Object.entries(positions ?? {})) if (pos !== undefined && pos !== null) this.starts.set(p, String(pos))
    const wrapped: SourceHooks = {
      beforeRevoke: async (parts) => {
        await hooks.beforeRevoke(parts)
        for (const p of parts) { this.assigned.delete(p); this.reported.delete(p); this.starts.delete(p) }
      },
      onAssign: (parts) => {
        for (const p of parts) { this.assigned.add(p); this.reported.delete(p) }
        hooks.onAssign(parts)
      },
    }
    if (hooks.positionsFor) {
      const ask = hooks.positionsFor
      wrapped.positionsFor = async (parts) => {
        const answer = (await ask(parts)) ?? {}
        for (const p of parts) if (answer[p] !== undefined && answer[p] !== null) this.starts.set(p, String(answer[p]))
        return answer
      }
    }
    await this.inner.open(positions, wrapped)
  }

  async poll(maxRecords: number): Promise<PollResult<T>> {
    const r = await this.inner.poll(maxRecords)
    const finished = [...(r.finished ?? [])]
    const positions = this.inner.positions()
    for (const p of this.assigned) {
      if (this.reported.has(p)) continue
      const end = this.ends.get(p)
      if (end === undefined) continue
      const pos = positions[p] ?? this.starts.get(p) ?? (end === 0n ? '0' : undefined)
      if (pos === undefined || pos === null) continue
      if (BigInt(String(pos)) >= end) {
        this.reported.add(p)
        finished.push(p)
      }
    }
    const done = r.done || (this.assigned.size > 0 && [...this.assigned].every((p) => this.reported.has(p)))
    return finished.length > 0 ? { ...r, finished, done } : { ...r, done }
  }

  positions(): Record<string, unknown> { return this.inner.positions() }
  commit(positions: Record<string, unknown>): Promise<void> { return this.inner.commit?.(positions) ?? Promise.resolve() }
  pause(): void { this.inner.pause?.() }
  resume(): void { this.inner.resume?.() }
  close(): Promise<void> { return this.inner.close() }
}

/** The current end (high watermark) of every partition of a topic: where a bounded read stops. */
export async function kafkaEndOffsets(brokers: string[], topic: string, clientId = 'trendwire-end-offsets'): Promise<Record<string, string>> {
  const lib = (await import('kafkajs')).default
  const kafka = new lib.Kafka({ brokers, clientId, logLevel: lib.logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  try {
    const offsets = await admin.fetchTopicOffsets(topic)
    return Object.fromEntries(offsets.map((o) => [`${topic}/${o.partition}`, o.high]))
  } finally {
    await admin.disconnect()
  }
}
