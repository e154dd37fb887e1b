// A bounded read of Kafka: a source that stops at given end offsets (e.g. the topic's high watermarks
// when the job starts). A partition whose position reaches its end offset is reported finished — its
// watermark becomes +∞, so every window fires, and a repartition sink downstream of it writes its
// "inf" marker — and the source is done once every partition it holds is finished. For backfills,
// benchmarks and tests; a live job reads unbounded.
//
// In a consumer group each member finishes the partitions it holds. When is a member done? Not when
// the partitions it holds are finished: a partition another member held when it crashed may be handed
// to this one a moment later (or to a member that is already on its way out), and if every member had
// left by then nobody would finish it. So with `allFinished` (PartitionedRunner: tasksFinished over
// the shared checkpoint store and every partition of the topic) a member is done only once every
// partition's task has finished — and until then it stays in the group to take over what is left.
// Without it, a member is done when the partitions it holds are (fine for a single process).
import { decodeCheckpoint } from '../checkpoint.ts'
import type { KeyedCheckpointStore } from '../partitioned.ts'
import type { PollResult, Source, SourceHooks } from '../types.ts'

export interface BoundedSourceOptions {
  /** Done only when this says every partition (also those held elsewhere) is finished; see the header. */
  allFinished?: () => Promise<boolean>
}

/**
 * True when the task of every partition has finished: its checkpoint says the partition's input ended
 * (the final checkpoint of a task that ran to its end). For BoundedSource / RepartitionSource
 * `allFinished` under PartitionedRunner, whose task checkpoints are keyed by partition.
 */
export async function tasksFinished(store: KeyedCheckpointStore, partitions: readonly string[]): Promise<boolean> {
  for (const p of partitions) {
    const bytes = await store.view(p).load()
    if (!bytes) return false
    const w = decodeCheckpoint(bytes).watermarks[p] as { finished?: boolean } | undefined
    if (!w?.finished) return false
  }
  return true
}

/** Whether the source is done, given whether the partitions it holds are all finished. */
export async function boundedDone(held: Set<string>, finished: Set<string>, allFinished: (() => Promise<boolean>) | undefined): Promise<boolean> {
  for (const p of held) if (!finished.has(p)) return false
  return allFinished ? allFinished() : held.size > 0
}

export class BoundedSource<T> implements Source<T> {
  readonly name: string
  private readonly ends: Map<string, bigint>
  private readonly assigned = new Set<string>()
  private readonly reported = new Set<string>()
  /** Where assigned partitions start, when known (the checkpoint's position). */
  private readonly starts = new Map<string, string>()

  /** ends: partition id ("<topic>/<n>") → offset to stop before (exclusive). Partitions not listed never finish. */
  constructor(readonly inner: Source<T>, ends: Record<string, string | number | bigint>, private readonly opts: BoundedSourceOptions = {}) {
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
    const done = r.done || (await boundedDone(this.assigned, this.reported, this.opts.allFinished))
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
