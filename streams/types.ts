// The core contracts of the runtime. Everything else in streams/, operators/, sinks/ and topologies/
// is written against these few interfaces.
//
// Vocabulary follows Flink: event time is epoch milliseconds; a watermark W promises that no more
// records with time <= W are expected; windows are half-open [start, end) and fire when W >= end - 1.

/** Epoch milliseconds. */
export type EventTime = number

export const MIN_TIME = -Infinity
/** The watermark sent at end of input: every window fires, every timer runs. */
export const MAX_WATERMARK = Infinity

/**
 * A batch of records moving between operators: parallel arrays of values and their event times.
 * Parallel arrays (not one wrapper object per record) keep the hot path free of allocation:
 * a map() keeps the times array as it is, and window operators read times without touching values.
 */
export interface Batch<T> {
  readonly values: readonly T[]
  readonly times: readonly EventTime[]
}

/** Where an operator's output goes. Buffered by the runtime and passed on as one batch. */
export interface Collector<O> {
  emit(value: O, time: EventTime): void
  /** A named side output (e.g. 'late'). Side outputs are streams like any other. */
  side(tag: string, value: unknown, time: EventTime): void
}

/** What the runtime gives an operator. The runner owns time: operators never read a clock for event time. */
export interface OperatorContext {
  /** Current merged watermark of this operator's input. */
  readonly watermark: EventTime
  /** Processing time, for metrics and idleness only. */
  now(): number
  /** Counters an operator can bump; surfaced on /metrics and the status page. */
  readonly metrics: MetricsSink
  /**
   * Optional (the engine gives it; a test harness need not), and only for onWatermark: pass what the
   * operator has emitted so far on to its children now, as one batch, before it emits more. An
   * operator that fires a large output (a hopping window: a row per live key per slide) awaits it
   * every few thousand rows, so rows do not wait in memory for the whole firing. Children see the
   * same rows in the same order, in more batches, with the watermark they had before.
   */
  flushOutput?(): Promise<void>
}

export interface MetricsSink {
  inc(name: string, by?: number, labels?: Record<string, string>): void
  set(name: string, value: number, labels?: Record<string, string>): void
}

/** Observable size of an operator's state. */
export interface StateStats {
  keys: number
  /** Rough estimate, for bounding and dashboards; not exact. */
  estimatedBytes: number
}

/**
 * The one contract every operator implements. Only processBatch is required.
 * processBatch may return a Promise (e.g. model inference) — one per batch, never one per record.
 */
export interface Operator<I, O> {
  readonly name: string
  processBatch(batch: Batch<I>, ctx: OperatorContext, out: Collector<O>): void | Promise<void>
  /** Called when the merged input watermark advances (strictly). */
  onWatermark?(wm: EventTime, ctx: OperatorContext, out: Collector<O>): void | Promise<void>
  /** Consistent snapshot of all state; must be structured-clone serialisable (v8.serialize). */
  snapshot?(): unknown
  restore?(state: unknown): void
  stateStats?(): StateStats
}

/** One partition's worth of records handed over by a source in a poll. */
export interface SourceBatch<T> {
  /** Stable partition id, e.g. "firehose/3" for a Kafka topic partition. */
  readonly partition: string
  readonly values: T[]
  /** Event time of each value; the source converts once (Flink: timestamp assigner). */
  readonly times: EventTime[]
  /** Records the source could not decode or validate: go to dead letters, never crash the engine. */
  readonly deadLetters?: DeadLetter[]
  /**
   * The partition's watermark after this batch, when the source knows it better than the records'
   * times do (a repartition topic: the minimum over its writers' watermark markers). Once a partition
   * reports one, the runner uses it instead of the bounded-out-of-orderness generator for that
   * partition (monotonic: a lower value never moves it back).
   */
  readonly watermark?: EventTime
}

/** Anything that could not be processed, with the reason and the original bytes. */
export interface DeadLetter {
  source: string
  partition: string
  /** Offset or position of the bad record in its partition, as a string (Kafka offsets are 64-bit). */
  position: string
  /** Error code from streams/errors.ts, e.g. INPUT_MALFORMED. */
  code: string
  reason: string
  /** The original bytes, untouched. */
  payload: Uint8Array
  /** Processing time the record was rejected at. */
  at: number
}

export interface PollResult<T> {
  batches: SourceBatch<T>[]
  /** Partitions that will never deliver again (end of file): their watermark becomes +∞. */
  finished?: string[]
  /** True when the whole source is exhausted. */
  done: boolean
}

/**
 * A partitioned, replayable input. Positions are opaque per partition; the checkpoint owns them,
 * so a restart resumes exactly where the last checkpoint was taken.
 */
export interface Source<T> {
  readonly name: string
  /** Open, resuming from the positions in the last checkpoint (or the beginning). */
  open(positions: Record<string, unknown> | null, hooks: SourceHooks): Promise<void>
  /** Up to maxRecords records across partitions; may wait briefly when nothing is available. */
  poll(maxRecords: number): Promise<PollResult<T>>
  /** Positions just after the last record returned by poll, per partition. */
  positions(): Record<string, unknown>
  /** Called after a checkpoint covering these positions is durable (e.g. Kafka offset commit). */
  commit?(positions: Record<string, unknown>): Promise<void>
  /** Backpressure: stop fetching / resume fetching (Kafka pause/resume). */
  pause?(): void
  resume?(): void
  close(): Promise<void>
}

export interface SourceHooks {
  /**
   * The source is about to give up these partitions (consumer-group rebalance). The runner
   * checkpoints before the promise resolves, so the next owner resumes from a consistent state.
   */
  beforeRevoke(partitions: string[]): Promise<void>
  /** Newly assigned partitions; their watermarks start unknown. */
  onAssign(partitions: string[]): void
  /**
   * Where newly assigned partitions must start, when the checkpoints know better than the source's
   * own committed offsets (per-partition tasks: the task checkpoint of the previous owner). A source
   * calls it before delivering records of those partitions; partitions missing from the answer start
   * where the source would start them anyway.
   */
  positionsFor?(partitions: string[]): Promise<Record<string, unknown>>
}

export interface SinkContext {
  readonly checkpointId: number
  readonly metrics: MetricsSink
  /**
   * The task's current watermark (its source's merged watermark), read live: a sink may keep the
   * context it was opened with and read this at preCommit (e.g. to forward the watermark through a
   * repartition topic). +∞ once the input has ended. Absent where no runner drives the sink.
   */
  readonly watermark?: EventTime
}

/**
 * Where results leave the engine. write() may buffer; it returns a Promise only when its buffer is
 * above its high-water mark, and the runner stops polling until it resolves (backpressure).
 *
 * Exactly-once protocol (two-phase, like Flink's TwoPhaseCommitSinkFunction):
 *  1. preCommit(id): flush everything written so far in a way that is idempotent for checkpoint id
 *     (e.g. ClickHouse insert_deduplication_token derived from id; a file sink records its length).
 *     Returns state to store in the checkpoint.
 *  2. the runner writes the checkpoint atomically.
 *  3. commit(id): the checkpoint is durable; make the data visible / release resources.
 * On restart, restore(state) gets what preCommit returned in the last durable checkpoint, and the
 * engine replays from the positions in that checkpoint, producing the same records again.
 */
export interface Sink<T> {
  readonly name: string
  open?(ctx: SinkContext): Promise<void>
  write(batch: Batch<T>, ctx: SinkContext): void | Promise<void>
  preCommit?(checkpointId: number): Promise<unknown>
  commit?(checkpointId: number): Promise<void>
  restore?(state: unknown): Promise<void>
  close?(): Promise<void>
}

/** Durable store for checkpoints. save() must be atomic: a reader sees the old or the new, never half. */
export interface CheckpointStore {
  load(): Promise<Uint8Array | null>
  /**
   * The checkpoint file is `parts` one after the other (streams/checkpoint.ts). They view buffers that
   * stay unchanged only until the returned Promise settles: a store that keeps them copies them.
   */
  save(parts: readonly Uint8Array[], id: number): Promise<void>
}

/** What a checkpoint holds: a consistent cut of all state at a batch boundary. */
export interface CheckpointData {
  version: 1
  id: number
  /** Topology name, checked on restore. */
  topology: string
  takenAt: number
  positions: Record<string, unknown>
  /** Per-partition watermark generator state. */
  watermarks: Record<string, unknown>
  operators: Record<string, unknown>
  sinks: Record<string, unknown>
}
