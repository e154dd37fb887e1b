// What both Kafka source implementations share: the fetch buffer, position bookkeeping, the
// revoke/assign protocol with the runner, backpressure and failure reporting. Subclasses only talk
// to their client library.
//
// Positions are the checkpoint's: on the first assignment after open(positions) a partition the
// checkpoint covers is seeked to the checkpointed offset; a partition it does not cover starts at
// the group's committed offset (or the beginning / end per fromBeginning). Offsets are committed to
// Kafka only through commit(), which the runner calls once a checkpoint covering them is durable.
import { TrendwireError } from '../errors.ts'
import type { PollResult, Source, SourceHooks } from '../types.ts'
import { FetchBuffer } from './buffer.ts'
import { publish } from './diagnostics.ts'
import { parsePartitionId, type DecodeFn, type KafkaSourceConfig } from './options.ts'

const NO_HOOKS: SourceHooks = { beforeRevoke: async () => {}, onAssign: () => {} }
const LEVELS = { nothing: 0, error: 1, warn: 2, info: 3, debug: 4 } as const

export interface TopicPartitions {
  topic: string
  partitions: number[]
}

export abstract class KafkaSourceBase<T> implements Source<T> {
  readonly name: string
  protected readonly cfg: KafkaSourceConfig
  protected readonly buffer: FetchBuffer<T>
  protected hooks: SourceHooks = NO_HOOKS
  /** Checkpoint positions not yet applied: each is used on the partition's first assignment only. */
  private readonly checkpointed = new Map<string, string>()
  /** Positions of the partitions revoked in the last rebalance: if one comes straight back, we continue where we were. */
  private lastRevoked = new Map<string, string>()
  /** Bumped on every revoke: a position lookup that outlives its assignment is ignored. */
  private generation = 0
  private fetchPaused = false
  /** Partitions the client was told to pause (and not yet to resume). */
  protected readonly clientPaused = new Set<string>()
  private userPaused = false
  protected failure: Error | null = null
  protected closed = false

  constructor(cfg: KafkaSourceConfig) {
    this.cfg = cfg
    this.name = cfg.name
    this.buffer = new FetchBuffer<T>({
      source: cfg.name,
      maxMessages: cfg.maxQueuedMessages,
      maxBytes: cfg.maxQueuedBytes,
      decode: cfg.decode as DecodeFn<T>,
    })
  }

  /** Starts the client: connect, subscribe, begin fetching. Assignments arrive through assigned()/revoking(). */
  protected abstract start(): Promise<void>
  protected abstract stop(): Promise<void>
  /** Tells the client to stop / restart fetching these partitions. */
  protected abstract setFetching(paused: boolean, partitions: TopicPartitions[]): void
  protected abstract commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>

  async open(positions: Record<string, unknown> | null, hooks: SourceHooks): Promise<void> {
    this.hooks = hooks ?? NO_HOOKS
    for (const [id, pos] of Object.entries(positions ?? {})) {
      const tp = parsePartitionId(id)
      if (!tp || !this.cfg.topics.includes(tp.topic)) continue
      this.checkpointed.set(id, toOffset(id, pos, this.name))
    }
    await this.start()
  }

  async poll(maxRecords: number): Promise<PollResult<T>> {
    if (this.failure) throw this.failure
    if (!this.buffer.hasDeliverable()) await this.buffer.waitForData(this.cfg.pollTimeoutMs)
    if (this.failure) throw this.failure
    const batches = await this.buffer.take(maxRecords)
    if (this.fetchPaused) this.applyFlow()
    return { batches, done: false }
  }

  positions(): Record<string, unknown> {
    return this.buffer.positions()
  }

  async commit(positions: Record<string, unknown>): Promise<void> {
    const offsets: { topic: string; partition: number; offset: string }[] = []
    const published: Record<string, string> = {}
    for (const [id, pos] of Object.entries(positions)) {
      // Only partitions we own: committing for a partition another member now owns would move its offsets back.
      if (!this.buffer.owns(id)) continue
      const tp = parsePartitionId(id)
      if (!tp || pos === undefined || pos === null) continue
      offsets.push({ topic: tp.topic, partition: tp.partition, offset: String(pos) })
      published[id] = String(pos)
    }
    if (offsets.length === 0) return
    try {
      await this.commitOffsets(offsets)
    } catch (e) {
      throw new TrendwireError('SOURCE_FAILED', `${this.name}: offset commit failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
    }
    publish({ type: 'commit', source: this.name, offsets: published })
  }

  pause(): void {
    this.userPaused = true
    this.applyFlow()
  }

  resume(): void {
    this.userPaused = false
    this.applyFlow()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.buffer.wake()
    await this.stop()
  }

  /** Queue state, for tests and metrics. */
  stats(): { queuedMessages: number; queuedBytes: number; fetchPaused: boolean; partitions: string[] } {
    return { queuedMessages: this.buffer.queuedMessages, queuedBytes: this.buffer.queuedBytes, fetchPaused: this.fetchPaused, partitions: this.buffer.partitions() }
  }

  // ---- for subclasses ----

  /**
   * Before the client gives partitions up: stop handing them out, let the runner checkpoint (and
   * commit) them, then forget their queued records. The caller releases the partitions only after
   * this resolves. Partitions still held for a position lookup were never announced (onAssign), so
   * they are dropped without a beforeRevoke.
   */
  protected async revoking(ids: string[]): Promise<void> {
    this.generation++
    if (ids.length === 0) return
    const announced = ids.filter((id) => !this.buffer.isHeld(id))
    this.buffer.markRevoking(ids)
    publish({ type: 'revoke-start', source: this.name, partitions: announced })
    let error: unknown
    if (announced.length > 0) {
      try {
        await withTimeout(this.hooks.beforeRevoke(announced), this.cfg.rebalanceTimeoutMs, 'beforeRevoke')
      } catch (e) {
        // The partitions go anyway (the group will not wait past the rebalance timeout); the next
        // owner replays from the last committed offset, so this costs duplicates, not data.
        error = e
        this.log('error', `beforeRevoke failed; partitions are released without a checkpoint: ${e instanceof Error ? e.message : String(e)}`)
      }
    }
    const last = this.buffer.revoke(ids)
    for (const id of ids) if (!announced.includes(id)) last.delete(id)
    this.lastRevoked = last
    publish({ type: 'revoke-done', source: this.name, partitions: announced, error })
  }

  /** True when the runner wants to say where new partitions start (hooks.positionsFor). */
  protected get asksPositions(): boolean {
    return typeof this.hooks.positionsFor === 'function'
  }

  /**
   * Where newly assigned partitions start: the position we left them at if they come straight back
   * (nothing can be newer), else what the runner's checkpoints say (positionsFor), else the
   * checkpoint given to open(), else undefined, i.e. the group's committed offset. Resolves to null
   * when the assignment was superseded (a revoke) while the runner was asked.
   */
  protected async startPositions(ids: string[]): Promise<Map<string, string | undefined> | null> {
    const gen = this.generation
    let answer: Record<string, unknown> = {}
    if (this.hooks.positionsFor && ids.length > 0) {
      answer = (await this.hooks.positionsFor(ids)) ?? {}
      if (gen !== this.generation) return null
    }
    const out = new Map<string, string | undefined>()
    for (const id of ids) {
      const asked = answer[id] === undefined || answer[id] === null ? undefined : toOffset(id, answer[id], this.name)
      const pos = this.lastRevoked.get(id) ?? asked ?? this.checkpointed.get(id)
      this.checkpointed.delete(id)
      out.set(id, pos)
    }
    this.lastRevoked = new Map()
    return out
  }

  /** Announces the partitions (onAssign) once the client starts them at these positions. */
  protected assigned(starts: Map<string, string | undefined>): void {
    const seeks: Record<string, string> = {}
    for (const [id, pos] of starts) {
      this.buffer.assign(id, pos)
      if (pos !== undefined) seeks[id] = pos
    }
    this.applyFlow()
    const ids = [...starts.keys()]
    publish({ type: 'assign', source: this.name, partitions: ids, seeks })
    if (ids.length > 0) this.hooks.onAssign(ids)
  }

  /** Owns the partitions but keeps the client from fetching them until assigned() (a position lookup is running). */
  protected hold(ids: string[]): void {
    for (const id of ids) this.buffer.assign(id, undefined, true)
    const toPause = ids.filter((id) => !this.clientPaused.has(id))
    for (const id of toPause) this.clientPaused.add(id)
    if (toPause.length > 0) this.setFetching(true, groupByTopic(toPause))
  }

  protected fail(error: unknown): void {
    if (this.closed || this.failure) return
    const msg = error instanceof Error ? error.message : String(error)
    this.failure = new TrendwireError('SOURCE_FAILED', `${this.name}: Kafka consumer failed: ${msg}`, { cause: error })
    publish({ type: 'failed', source: this.name, error })
    this.buffer.wake()
  }

  /**
   * Pauses fetching while the buffer is full or the runner paused us; resumes below the low-water
   * mark. Only partitions whose state changes are sent to the client: resuming a partition that was
   * never paused makes librdkafka restart its fetch, which is wasted work at best.
   */
  protected applyFlow(): void {
    const full = this.buffer.full || (this.fetchPaused && !this.userPaused && !this.buffer.belowLowWater)
    const want = this.userPaused || full
    const changed = want !== this.fetchPaused
    this.fetchPaused = want
    const delta: string[] = []
    if (want) {
      for (const id of this.buffer.partitions()) if (!this.clientPaused.has(id)) { this.clientPaused.add(id); delta.push(id) }
    } else {
      for (const id of this.clientPaused) if (this.buffer.owns(id)) { this.clientPaused.delete(id); delta.push(id) }
    }
    if (delta.length > 0) this.setFetching(want, groupByTopic(delta))
    if (changed) {
      publish({
        type: want ? 'pause' : 'resume',
        source: this.name,
        queuedMessages: this.buffer.queuedMessages,
        queuedBytes: this.buffer.queuedBytes,
        reason: this.userPaused ? 'user' : 'backpressure',
      })
    }
  }

  /** The client forgot these partitions' pause state (librdkafka does on unassign; kafkajs keeps it). */
  protected forgetPaused(ids: readonly string[]): void {
    for (const id of ids) this.clientPaused.delete(id)
  }

  protected get isFetchPaused(): boolean {
    return this.fetchPaused
  }

  protected log(level: 'error' | 'warn' | 'info' | 'debug', message: string, extra?: Record<string, unknown>): void {
    publish({ type: 'log', source: this.name, level, message, extra })
    if (LEVELS[level] <= LEVELS[this.cfg.logLevel]) {
      console.error(`[${this.name}] ${level}: ${message}${extra ? ' ' + safeJson(extra) : ''}`)
    }
  }
}

export function groupByTopic(ids: readonly string[]): TopicPartitions[] {
  const byTopic = new Map<string, number[]>()
  for (const id of ids) {
    const tp = parsePartitionId(id)
    if (!tp) continue
    let list = byTopic.get(tp.topic)
    if (!list) byTopic.set(tp.topic, (list = []))
    list.push(tp.partition)
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }))
}

/** A checkpointed position as a Kafka offset string; anything else is a corrupt checkpoint. */
function toOffset(id: string, pos: unknown, source: string): string {
  const offset = typeof pos === 'bigint' ? pos.toString() : typeof pos === 'number' || typeof pos === 'string' ? String(pos) : null
  if (offset === null || !/^\d+$/.test(offset)) {
    throw new TrendwireError('CHECKPOINT_CORRUPT', `${source}: checkpoint position for ${id} is not an offset: ${safeJson(pos)}`)
  }
  return offset
}

function withTimeout<X>(p: Promise<X>, ms: number, what: string): Promise<X> {
  let timer: NodeJS.Timeout | undefined
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([p, t]).finally(() => clearTimeout(timer))
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))
  } catch {
    return String(v)
  }
}
