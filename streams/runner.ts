// The task runner: polls the source, tracks one watermark per source partition, pushes batches
// through the engine, advances the merged watermark, and takes checkpoints.
//
// Checkpoints are taken between batches, where the single-threaded engine is quiescent, so the
// snapshot of all operators plus the source positions is a consistent cut without barriers.
// Exactly-once towards sinks follows the two-phase protocol in streams/types.ts (Sink):
//   preCommit(id) on every sink → write checkpoint atomically → commit(id) on sinks → source.commit.
// A crash anywhere restores the last durable checkpoint; sinks discard or deduplicate what they
// wrote after it, and the source replays from its positions.
//
// Determinism: for a source whose poll() is a deterministic function of its positions (files, the
// synthetic firehose), a run restored from any checkpoint produces the same records as a run without
// the crash, because batch boundaries and therefore watermark steps are the same.
import pino, { type Logger } from 'pino'
import { z } from 'zod'
import { parseOptions } from './config.ts'
import { decodeCheckpoint, encodeCheckpoint, MemoryCheckpointStore } from './checkpoint.ts'
import { Engine, type NodeStats } from './engine.ts'
import { TrendwireError } from './errors.ts'
import { Metrics } from './metrics.ts'
import type { Node, Topology } from './topology.ts'
import type { Batch, CheckpointData, CheckpointStore, DeadLetter, EventTime, Sink, SinkContext } from './types.ts'
import { MAX_WATERMARK } from './types.ts'
import { WatermarkTracker } from './watermarks.ts'
import { LATE, type LateRecord } from './windows.ts'

export const runnerOptionsSchema = z.object({
  /** Records asked of the source per poll. */
  maxBatchRecords: z.number().int().positive().default(4096),
  /** Take a checkpoint this often (processing time). 0 = only on demand and at the end. */
  checkpointIntervalMs: z.number().int().min(0).default(10_000),
  /** Alternatively, a checkpoint every N polls (deterministic; for tests). 0 = off. */
  checkpointEveryPolls: z.number().int().min(0).default(0),
  /** Take a final checkpoint when the source is exhausted. */
  checkpointAtEnd: z.boolean().default(true),
})
export type RunnerOptionsInput = z.input<typeof runnerOptionsSchema>

export interface RunnerDeps {
  store?: CheckpointStore
  metrics?: Metrics
  logger?: Logger
  /** Where records beyond allowed lateness go when the topology has no sink on its LATE output. */
  lateSink?: Sink<LateRecord<unknown>>
  /** Where undecodable / invalid input goes (the source reports it). */
  deadLetterSink?: Sink<DeadLetter>
}

export interface RunnerStatus {
  topology: string
  state: 'starting' | 'running' | 'stopping' | 'done' | 'failed'
  startedAt: number
  checkpointId: number
  lastCheckpointAt: number | null
  restoredFrom: number | null
  watermark: EventTime
  partitions: Array<{ id: string; watermark: EventTime; finished: boolean }>
  idlePartitions: number
  recordsIn: number
  deadLetters: number
  lateRecords: number
  nodes: NodeStats[]
  error?: string
}

export class Runner {
  readonly opts: z.output<typeof runnerOptionsSchema>
  readonly metrics: Metrics
  readonly log: Logger
  readonly engine: Engine
  private readonly store: CheckpointStore
  private readonly wm: WatermarkTracker
  private readonly extraSinks: Sink<unknown>[] = []
  private checkpointId = 0
  private lastCheckpointAt: number | null = null
  private restoredFrom: number | null = null
  private state: RunnerStatus['state'] = 'starting'
  private readonly startedAt = Date.now()
  private stopRequested = false
  private revokeWaiters: Array<() => void> = []
  private recordsIn = 0
  private deadLetterCount = 0
  private lateCount = 0
  private error: string | undefined
  private readonly lateSink: Sink<LateRecord<unknown>> | undefined
  private readonly deadLetterSink: Sink<DeadLetter> | undefined

  constructor(readonly topology: Topology, options: RunnerOptionsInput = {}, deps: RunnerDeps = {}) {
    this.opts = parseOptions('runner', runnerOptionsSchema, options)
    if (!topology.sourceSpec) throw new TrendwireError('CONFIG_INVALID', `topology "${topology.name}" has no source`)
    this.metrics = deps.metrics ?? new Metrics()
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
    this.store = deps.store ?? new MemoryCheckpointStore()
    this.wm = new WatermarkTracker(topology.sourceSpec.watermarks)
    this.lateSink = deps.lateSink
    this.deadLetterSink = deps.deadLetterSink
    if (deps.lateSink) this.extraSinks.push(deps.lateSink as Sink<unknown>)
    if (deps.deadLetterSink) this.extraSinks.push(deps.deadLetterSink as Sink<unknown>)
    this.engine = new Engine(topology, this.metrics, (node, tag, batch) => this.unconsumedSide(node, tag, batch))
    this.engine.sinkCtx = this.sinkContext(0)
  }

  /** What sinks see: the checkpoint id and, read live, the task's watermark (SinkContext.watermark). */
  private sinkContext(checkpointId: number): SinkContext {
    const engine = this.engine
    return { checkpointId, metrics: this.metrics, get watermark() { return engine.watermark } }
  }

  private get sinks(): Sink<unknown>[] {
    return [...this.topology.sinks, ...this.extraSinks]
  }

  private unconsumedSide(node: Node, tag: string, batch: Batch<unknown>): void | Promise<void> {
    if (tag === LATE) {
      this.lateCount += batch.values.length
      this.metrics.inc('late_records_total', batch.values.length, { topology: this.topology.name, operator: node.name })
      if (this.lateSink) return this.lateSink.write(batch as Batch<LateRecord<unknown>>, this.engine.sinkCtx)
      this.log.warn({ operator: node.name, count: batch.values.length }, 'records beyond allowed lateness and no late sink configured: counted in late_records_total')
      return
    }
    this.metrics.inc('side_output_unconsumed_total', batch.values.length, { topology: this.topology.name, operator: node.name, tag })
  }

  /** Ask the runner to stop after the current batch, with a checkpoint. */
  stop(): void {
    this.stopRequested = true
  }

  status(): RunnerStatus {
    const now = Date.now()
    return {
      topology: this.topology.name,
      state: this.state,
      startedAt: this.startedAt,
      checkpointId: this.checkpointId,
      lastCheckpointAt: this.lastCheckpointAt,
      restoredFrom: this.restoredFrom,
      watermark: this.wm.watermark,
      partitions: this.wm.partitions().map((id) => {
        const g = this.wm.partition(id, now)
        return { id, watermark: g.watermark, finished: g.finished }
      }),
      idlePartitions: this.wm.idleCount(now),
      recordsIn: this.recordsIn,
      deadLetters: this.deadLetterCount,
      lateRecords: this.lateCount,
      nodes: this.engine.stats(),
      error: this.error,
    }
  }

  /** Restore from the store, if it holds a checkpoint. Returns its id, or null. */
  private async restore(): Promise<Record<string, unknown> | null> {
    const bytes = await this.store.load()
    if (!bytes) return null
    const cp = decodeCheckpoint(bytes)
    if (cp.topology !== this.topology.name) {
      throw new TrendwireError('CHECKPOINT_CORRUPT', `checkpoint belongs to topology "${cp.topology}", not "${this.topology.name}"`)
    }
    this.engine.restore(cp.operators)
    this.wm.restore(cp.watermarks, Date.now())
    for (const sink of this.sinks) {
      if (sink.restore) await sink.restore(cp.sinks[sink.name])
    }
    const extra = cp.operators.__runner as { recordsIn: number; deadLetters: number; late: number } | undefined
    if (extra) {
      this.recordsIn = extra.recordsIn
      this.deadLetterCount = extra.deadLetters
      this.lateCount = extra.late
    }
    this.checkpointId = cp.id
    this.restoredFrom = cp.id
    this.engine.sinkCtx = this.sinkContext(cp.id)
    this.log.info({ topology: this.topology.name, checkpoint: cp.id, watermark: this.wm.watermark }, 'restored from checkpoint')
    return cp.positions
  }

  /** Take a checkpoint now (between batches). */
  async checkpoint(): Promise<number> {
    const id = this.checkpointId + 1
    const t0 = performance.now()
    const source = this.topology.sourceSpec!.source
    const sinkStates: Record<string, unknown> = {}
    // The sinks one after another meant their waits (a ClickHouse sink's INSERTs and bookkeeping
    // records, a webhook's delivery) added up; they are independent of each other, so they overlap.
    await Promise.all(this.sinks.map(async (sink) => {
      if (sink.preCommit) sinkStates[sink.name] = await sink.preCommit(id)
    }))
    const positions = source.positions()
    const operators = this.engine.snapshot()
    operators.__runner = { recordsIn: this.recordsIn, deadLetters: this.deadLetterCount, late: this.lateCount }
    const data: CheckpointData = {
      version: 1, id, topology: this.topology.name, takenAt: Date.now(),
      positions, watermarks: this.wm.snapshot(), operators, sinks: sinkStates,
    }
    const parts = encodeCheckpoint(data)
    const size = parts.reduce((n, p) => n + p.byteLength, 0)
    try {
      await this.store.save(parts, id)
    } catch (err) {
      throw new TrendwireError('CHECKPOINT_FAILED', `checkpoint ${id} could not be saved: ${(err as Error).message}`, { cause: err })
    }
    this.checkpointId = id
    this.lastCheckpointAt = Date.now()
    this.engine.sinkCtx = this.sinkContext(id)
    await Promise.all(this.sinks.map((sink) => sink.commit?.(id)))
    if (source.commit) await source.commit(positions)
    const ms = performance.now() - t0
    this.metrics.inc('checkpoints_total', 1, { topology: this.topology.name })
    this.metrics.set('checkpoint_bytes', size, { topology: this.topology.name })
    this.metrics.set('checkpoint_duration_ms', ms, { topology: this.topology.name })
    for (const n of this.engine.stats()) {
      if (!n.state) continue
      const labels = { topology: this.topology.name, operator: n.name }
      this.metrics.set('state_keys', n.state.keys, labels)
      this.metrics.set('state_bytes_estimated', n.state.estimatedBytes, labels)
    }
    this.log.debug({ checkpoint: id, bytes: size, ms }, 'checkpoint')
    return id
  }

  /** Run until the source is exhausted or stop() is called. */
  async run(): Promise<RunnerStatus> {
    const source = this.topology.sourceSpec!.source
    try {
      for (const sink of this.sinks) if (sink.open) await sink.open(this.engine.sinkCtx)
      const positions = await this.restore()
      await source.open(positions, {
        beforeRevoke: (parts) => new Promise<void>((resolve) => {
          this.revokeWaiters.push(() => {
            for (const p of parts) this.wm.remove(p)
            resolve()
          })
        }),
        onAssign: (parts) => {
          const now = Date.now()
          for (const p of parts) this.wm.partition(p, now)
        },
      })
      this.state = 'running'
      let polls = 0
      let lastCp = Date.now()
      for (;;) {
        const res = await source.poll(this.opts.maxBatchRecords)
        const now = Date.now()
        for (const b of res.batches) {
          const g = this.wm.partition(b.partition, now)
          if (b.watermark !== undefined) g.setExplicit(b.watermark, now)
          if (b.deadLetters && b.deadLetters.length > 0) await this.deadLetters(b.deadLetters)
          if (b.values.length === 0) continue
          this.recordsIn += b.values.length
          this.metrics.inc('source_records_total', b.values.length, { topology: this.topology.name, partition: b.partition })
          await this.engine.push({ values: b.values, times: b.times })
          g.observe(b.times, now)
        }
        if (res.finished) for (const p of res.finished) this.wm.partition(p, now).finished = true
        const w = res.done ? MAX_WATERMARK : this.wm.advance(now)
        if (w !== null && w > this.engine.watermark) {
          await this.engine.advance(w)
          if (w !== MAX_WATERMARK) this.metrics.set('watermark_delay_ms', now - w, { topology: this.topology.name })
        }
        polls++
        const due =
          (this.opts.checkpointEveryPolls > 0 && polls % this.opts.checkpointEveryPolls === 0) ||
          (this.opts.checkpointIntervalMs > 0 && now - lastCp >= this.opts.checkpointIntervalMs)
        if (this.revokeWaiters.length > 0 || due || this.stopRequested || (res.done && this.opts.checkpointAtEnd)) {
          await this.checkpoint()
          lastCp = Date.now()
          const waiters = this.revokeWaiters
          this.revokeWaiters = []
          for (const w of waiters) w()
        }
        if (res.done || this.stopRequested) break
      }
      this.state = 'done'
    } catch (err) {
      this.state = 'failed'
      this.error = err instanceof Error ? err.message : String(err)
      throw err
    } finally {
      await source.close().catch(() => {})
      for (const sink of this.sinks) if (sink.close) await sink.close().catch((e) => this.log.error({ err: e, sink: sink.name }, 'sink close failed'))
    }
    return this.status()
  }

  private async deadLetters(list: DeadLetter[]): Promise<void> {
    this.deadLetterCount += list.length
    for (const d of list) this.metrics.inc('dead_letters_total', 1, { topology: this.topology.name, code: d.code })
    if (this.deadLetterSink) {
      const r = this.deadLetterSink.write({ values: list, times: list.map((d) => d.at) }, this.engine.sinkCtx)
      if (r) await r
    } else {
      this.log.warn({ count: list.length, first: list[0].reason }, 'dead letters and no dead-letter sink configured: counted in dead_letters_total')
    }
  }
}
