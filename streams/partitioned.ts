// Scale-out: one task per source partition (Kafka Streams' model), so that partitions — and the
// state that belongs to them — can move between processes of one consumer group.
//
// A task is a whole topology instance (operators and sinks) built by a factory for one partition,
// run by its own Runner over a PartitionInput that the PartitionedRunner feeds. Each task has its own
// watermark, its own state and its own checkpoints, under the partition's key in a shared
// KeyedCheckpointStore (a file folder on one machine; Redis or a shared volume across machines).
//
//   rebalance, partition p revoked: the source calls beforeRevoke([p]) → task p stops after its
//     current batch with a final checkpoint → then the source releases p.
//   partition p assigned: the source asks positionsFor([p]) → the task checkpoint's position, so the
//     new owner starts exactly where the old one's state ends (not at a committed offset that may lag
//     it) → task p is built, restores that checkpoint, and receives p's records.
//
// Correctness needs the stateful operators of a task to be keyed by something the input is
// partitioned by (a firehose partitioned by post id: per-post features and scores). Aggregates over
// another key (hashtags across posts) go through a repartition topic keyed by that key, consumed by a
// second partitioned topology — the same way Kafka Streams does it: a KafkaRepartitionSink
// (sinks/kafka/repartition.ts, writer id = the task's partition) at the end of the first, a
// RepartitionSource (streams/repartition.ts) under the second, which drops the duplicates a replayed
// task re-emits (same sequence numbers) and takes its watermark from the writers' markers. It needs
// the first topology's output to be a deterministic function of its partition's record order; see
// docs/kafka.md "Repartition topics" and topologies/hashtag-activity.ts. Sinks are per task, so their
// idempotency keys (e.g. ClickHouse insert_deduplication_token) include the partition and the
// task's own checkpoint id, and replay after a move produces the same keys.
import pino, { type Logger } from 'pino'
import { FileCheckpointStore, MemoryCheckpointStore, decodeCheckpoint } from './checkpoint.ts'
import { TrendwireError } from './errors.ts'
import { Metrics } from './metrics.ts'
import { Runner, type RunnerDeps, type RunnerOptionsInput, type RunnerStatus } from './runner.ts'
import type { Topology } from './topology.ts'
import type { CheckpointStore, PollResult, Source, SourceBatch, SourceHooks } from './types.ts'

/** Checkpoint stores by key (one per partition task). */
export interface KeyedCheckpointStore {
  view(key: string): CheckpointStore
}

export class FileKeyedCheckpointStore implements KeyedCheckpointStore {
  constructor(readonly dir: string) {}
  view(key: string): CheckpointStore {
    return new FileCheckpointStore(this.dir, key.replace(/[^A-Za-z0-9._-]/g, '_'))
  }
}

export class MemoryKeyedCheckpointStore implements KeyedCheckpointStore {
  readonly stores = new Map<string, MemoryCheckpointStore>()
  view(key: string): CheckpointStore {
    let s = this.stores.get(key)
    if (!s) this.stores.set(key, (s = new MemoryCheckpointStore()))
    return s
  }
}

/** Builds the topology of one partition's task around its input. */
export type TaskFactory<T> = (partition: string, input: Source<T>) => Topology

interface Queued<T> {
  batch: SourceBatch<T>
  position: unknown
}

/** The source a task's Runner sees: the batches of one partition, routed by the PartitionedRunner. */
class PartitionInput<T> implements Source<T> {
  readonly name: string
  private queue: Queued<T>[] = []
  private queuedRecords = 0
  private position: unknown
  private finished = false
  private stopping = false
  private wake: (() => void) | null = null
  private drained: (() => void) | null = null
  private onEmpty: (() => void) | null = null

  constructor(readonly partition: string, private readonly parent: PartitionedRunner<T>, initial: unknown) {
    this.name = `${parent.source.name}[${partition}]`
    this.position = initial
  }

  get backlog(): number {
    return this.queuedRecords
  }

  push(q: Queued<T>): void {
    this.queue.push(q)
    this.queuedRecords += q.batch.values.length + (q.batch.deadLetters?.length ?? 0)
    this.notify()
  }

  finish(): void {
    this.finished = true
    this.notify()
  }

  stop(): void {
    this.stopping = true
    this.notify()
  }

  /**
   * Revocation: hand the task what is already queued, then stop it (stopRunner), so its final
   * checkpoint covers every record the source delivered for this partition. The source resumes a
   * partition that comes straight back at the position it delivered up to, not at the checkpoint:
   * stopping with records still queued would skip them.
   */
  stopAfterQueue(stopRunner: () => void): void {
    // An input that has ended runs to its end: its last poll says done, and the final checkpoint then
    // has the +∞ watermark (stopping it early would leave the partition's end unrecorded).
    if (this.finished) return
    this.stopping = true
    if (this.queue.length === 0) stopRunner()
    else this.onEmpty = stopRunner
    this.notify()
  }

  private notify(): void {
    const w = this.wake
    this.wake = null
    w?.()
  }

  /** Resolves when the backlog is at most `limit` records. */
  waitBelow(limit: number): Promise<void> {
    if (this.queuedRecords <= limit) return Promise.resolve()
    return new Promise((resolve) => { this.drained = resolve })
  }

  async open(positions: Record<string, unknown> | null, hooks: SourceHooks): Promise<void> {
    const p = positions?.[this.partition]
    if (p !== undefined) this.position = p
    hooks.onAssign([this.partition])
  }

  async poll(maxRecords: number): Promise<PollResult<T>> {
    for (;;) {
      if (this.queue.length > 0) {
        const batches: SourceBatch<T>[] = []
        let n = 0
        while (this.queue.length > 0 && (n === 0 || n + this.queue[0].batch.values.length <= maxRecords)) {
          const q = this.queue.shift()!
          batches.push(q.batch)
          n += q.batch.values.length + (q.batch.deadLetters?.length ?? 0)
          this.position = q.position
        }
        this.queuedRecords -= n
        if (this.onEmpty && this.queue.length === 0) {
          const stopRunner = this.onEmpty
          this.onEmpty = null
          stopRunner() // the runner processes these batches, then stops with a checkpoint
        }
        if (this.drained && this.queuedRecords <= this.parent.maxBacklog) {
          const d = this.drained
          this.drained = null
          d()
        }
        return { batches, done: false }
      }
      if (this.finished) return { batches: [], finished: [this.partition], done: true }
      if (this.stopping) return { batches: [], done: false }
      await new Promise<void>((resolve) => { this.wake = resolve })
    }
  }

  positions(): Record<string, unknown> {
    return this.position === undefined ? {} : { [this.partition]: this.position }
  }

  /**
   * Offsets are committed for information only: where a partition resumes is its task checkpoint
   * (positionsFor). So a refused commit (e.g. while the group rebalances) does not fail the task; the
   * next checkpoint commits again.
   */
  async commit(positions: Record<string, unknown>): Promise<void> {
    try {
      await this.parent.source.commit?.(positions)
    } catch (e) {
      this.parent.metrics.inc('offset_commit_failures_total', 1, { source: this.parent.source.name })
      this.parent.log.warn({ partition: this.partition, err: e instanceof Error ? e.message : String(e) }, 'offset commit failed; the task checkpoint holds the position, the next checkpoint commits again')
    }
  }

  async close(): Promise<void> {}
}

interface Task<T> {
  partition: string
  input: PartitionInput<T>
  runner: Runner
  done: Promise<RunnerStatus>
}

export interface PartitionedDeps {
  store: KeyedCheckpointStore
  logger?: Logger
  metrics?: Metrics
  /** Per-task extras (late and dead-letter sinks), built per partition like the topology. */
  taskDeps?: (partition: string) => Omit<RunnerDeps, 'store' | 'logger' | 'metrics'>
}

export class PartitionedRunner<T> {
  private readonly tasks = new Map<string, Task<T>>()
  private readonly finishedStatus = new Map<string, RunnerStatus>()
  private stopRequested = false
  private failure: unknown = null
  readonly log: Logger
  readonly metrics: Metrics
  /** A partition's task may hold this many records queued before the source is paused. */
  readonly maxBacklog: number

  constructor(
    readonly source: Source<T>,
    private readonly factory: TaskFactory<T>,
    private readonly options: RunnerOptionsInput = {},
    private readonly deps: PartitionedDeps,
  ) {
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
    this.metrics = deps.metrics ?? new Metrics()
    this.maxBacklog = 4 * (options.maxBatchRecords ?? 4096)
  }

  /** Partitions this process owns now. */
  partitions(): string[] {
    return [...this.tasks.keys()]
  }

  status(): Record<string, RunnerStatus> {
    const out: Record<string, RunnerStatus> = Object.fromEntries(this.finishedStatus)
    for (const [p, t] of this.tasks) out[p] = t.runner.status()
    return out
  }

  stop(): void {
    this.stopRequested = true
    for (const t of this.tasks.values()) {
      t.runner.stop()
      t.input.stop()
    }
  }

  private startTask(partition: string, position: unknown): void {
    if (this.tasks.has(partition)) return
    const input = new PartitionInput<T>(partition, this, position)
    const topology = this.factory(partition, input)
    const runner = new Runner(topology, this.options, {
      ...(this.deps.taskDeps?.(partition) ?? {}),
      store: this.deps.store.view(partition),
      logger: this.log.child({ partition }),
      metrics: this.metrics,
    })
    const done = runner.run().catch((err) => {
      this.failure ??= err
      throw err
    })
    done.catch(() => {})
    this.tasks.set(partition, { partition, input, runner, done })
    this.log.debug({ partition }, 'task started')
  }

  private async stopTasks(partitions: string[]): Promise<void> {
    const stopping: Array<Promise<RunnerStatus>> = []
    for (const p of partitions) {
      const t = this.tasks.get(p)
      if (!t) continue
      t.input.stopAfterQueue(() => t.runner.stop())
      stopping.push(t.done.then((s) => { this.finishedStatus.set(p, s); return s }))
    }
    await Promise.all(stopping)
    for (const p of partitions) this.tasks.delete(p)
  }

  /** Position recorded in a partition's last task checkpoint, if any. */
  private async checkpointedPosition(partition: string): Promise<unknown> {
    const bytes = await this.deps.store.view(partition).load()
    return bytes ? decodeCheckpoint(bytes).positions[partition] : undefined
  }

  async run(): Promise<Record<string, RunnerStatus>> {
    const known = new Map<string, unknown>()
    await this.source.open(null, {
      positionsFor: async (parts) => {
        const out: Record<string, unknown> = {}
        for (const p of parts) {
          const pos = await this.checkpointedPosition(p)
          known.set(p, pos)
          if (pos !== undefined) out[p] = pos
        }
        return out
      },
      onAssign: (parts) => { for (const p of parts) this.startTask(p, known.get(p)) },
      beforeRevoke: (parts) => this.stopTasks(parts),
    })
    try {
      while (!this.stopRequested) {
        if (this.failure) throw this.failure
        const res = await this.source.poll(this.options.maxBatchRecords ?? 4096)
        const positions = this.source.positions()
        for (const b of res.batches) {
          const t = this.tasks.get(b.partition)
          if (!t) throw new TrendwireError('SOURCE_FAILED', `${this.source.name}: records for partition ${b.partition}, which is not assigned here`)
          t.input.push({ batch: b, position: positions[b.partition] })
        }
        for (const p of res.finished ?? []) this.tasks.get(p)?.input.finish()
        if (res.done) {
          for (const t of this.tasks.values()) t.input.finish()
          break
        }
        // backpressure: do not fetch more while a task is behind
        for (const t of this.tasks.values()) await Promise.race([t.input.waitBelow(this.maxBacklog), t.done.then(() => {}, () => {})])
      }
      const statuses = await Promise.all([...this.tasks.values()].map((t) => t.done.then((s) => [t.partition, s] as const)))
      for (const [p, s] of statuses) this.finishedStatus.set(p, s)
      return this.status()
    } finally {
      this.stop()
      // the tasks' last checkpoints are written before the group hears that this member left
      await Promise.all([...this.tasks.values()].map((t) => t.done.then(() => {}, () => {})))
      await this.source.close().catch(() => {})
    }
  }
}
