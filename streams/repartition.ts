// The repartition source: the downstream half of a shuffle through Kafka. It reads the intermediate
// topic that KafkaRepartitionSink (sinks/kafka/repartition.ts) writes, in the downstream topology's
// own consumer group, and gives the runner each partition's records exactly once and its watermark.
//
// Dedup. Every record carries (writer, seq): seq counts 1, 2, 3 … per (writer, target partition)
// and a writer that crashes replays from its last checkpoint with the same numbers. Per partition
// this source keeps the last seq accepted from each writer and drops every record whose seq is not
// above it. That state is part of the partition's position — { offset, seqs, marks } — so it is in
// the downstream task's checkpoint, moves with the partition on a rebalance (PartitionedRunner asks
// positionsFor) and is replayed consistently after a downstream crash.
//
// Watermarks. Writers send watermark markers (control records) to every partition at each of their
// checkpoints and "inf" when their input has ended. A partition's watermark is the minimum over
// ALL configured writers of the highest marker seen from each (a writer not heard from yet: -∞), and
// is handed to the runner with each batch (SourceBatch.watermark), which uses it instead of the
// out-of-orderness generator. Writers are configured, not discovered: a writer that has not written
// yet must still hold time back, so the list is the set of upstream tasks — for a PartitionedRunner
// upstream, its source partitions (kafkaWriterIds). Records from a writer not in the list are
// dead-lettered (INPUT_SCHEMA_MISMATCH) rather than counted without a watermark.
//
// With endWhenWritersFinish, a partition whose writers have all sent "inf" is reported finished, and
// the source is done once every partition it holds is finished — in a consumer group, once every
// partition is (allFinished; bounded runs and tests).
import { TrendwireError } from './errors.ts'
import { createKafkaSource, type KafkaMessage, type KafkaSourceOptions } from './kafka/index.ts'
import { boundedDone } from './kafka/bounded.ts'
import { partitionId } from './kafka/options.ts'
import { noMetrics } from './metrics.ts'
import type { DeadLetter, EventTime, MetricsSink, PollResult, Source, SourceBatch, SourceHooks } from './types.ts'
import {
  REPARTITION_SEQ_HEADER, REPARTITION_TIME_HEADER, REPARTITION_TYPE_HEADER, REPARTITION_WATERMARK_HEADER, REPARTITION_WRITER_HEADER,
  jsonCodec, parseTime, type RepartitionCodec,
} from '../sinks/kafka/repartition.ts'

/** One message of the intermediate topic, decoded: a record or a watermark marker. */
export type RepartitionItem<T> =
  | { readonly writer: string; readonly seq: number; readonly value: T }
  | { readonly writer: string; readonly watermark: EventTime }

/** A partition's position: the Kafka offset plus the dedup and watermark state at that offset. */
export interface RepartitionPosition {
  offset: unknown
  /** Last sequence number accepted, per writer. */
  seqs: Record<string, number>
  /** Highest watermark marker seen, per writer. */
  marks: Record<string, number>
}

interface PartitionState {
  seqs: Map<string, number>
  marks: Map<string, number>
}

/** The writer ids of a PartitionedRunner upstream reading `topic`: one per partition, "<topic>/<n>". */
export function kafkaWriterIds(topic: string, partitions: number): string[] {
  return Array.from({ length: partitions }, (_, i) => partitionId(topic, i))
}

type RawHeaders = Record<string, Buffer | string | Array<Buffer | string> | undefined> | Array<Record<string, Buffer | string>>

/** A header as text, from kafkajs ({ name: Buffer }) or node-rdkafka ([{ name: Buffer }]) messages. */
function header(headers: RawHeaders | undefined, name: string): string | undefined {
  if (!headers) return undefined
  let v: Buffer | string | Array<Buffer | string> | undefined
  if (Array.isArray(headers)) {
    for (const h of headers) if (h[name] !== undefined) { v = h[name]; break }
  } else {
    v = headers[name]
  }
  if (Array.isArray(v)) v = v[0]
  if (v === undefined) return undefined
  return typeof v === 'string' ? v : Buffer.from(v).toString('utf8')
}

/**
 * Decodes messages of the intermediate topic into records and markers. Anything malformed, and
 * records of writers not in `writers`, become dead letters with their original bytes.
 */
export function repartitionDecoder<T>(writers: readonly string[], codec: RepartitionCodec<T> = jsonCodec<T>(), source?: string) {
  const known = new Set(writers)
  return (messages: readonly KafkaMessage[]): { values: RepartitionItem<T>[]; times: EventTime[]; deadLetters: DeadLetter[] } => {
    const values: RepartitionItem<T>[] = []
    const times: EventTime[] = []
    const deadLetters: DeadLetter[] = []
    let at = 0
    for (const m of messages) {
      const h = (m as KafkaMessage & { headers?: RawHeaders }).headers
      const bad = (code: string, reason: string) => {
        at ||= Date.now()
        deadLetters.push({
          source: source ?? m.topic, partition: partitionId(m.topic, m.partition), position: String(m.offset),
          code, reason, payload: m.value ?? new Uint8Array(0), at,
        })
      }
      const type = header(h, REPARTITION_TYPE_HEADER)
      const writer = header(h, REPARTITION_WRITER_HEADER)
      if (type !== 'record' && type !== 'watermark') { bad('INPUT_SCHEMA_MISMATCH', `not a repartition message: header ${REPARTITION_TYPE_HEADER} is ${JSON.stringify(type)}`); continue }
      if (!writer) { bad('INPUT_SCHEMA_MISMATCH', `repartition ${type} without a ${REPARTITION_WRITER_HEADER} header`); continue }
      if (!known.has(writer)) { bad('INPUT_SCHEMA_MISMATCH', `repartition ${type} from writer "${writer}", which is not among the configured writers`); continue }
      if (type === 'watermark') {
        const wm = parseTime(header(h, REPARTITION_WATERMARK_HEADER) ?? '')
        if (wm === null) { bad('INPUT_SCHEMA_MISMATCH', `watermark marker from "${writer}" with a bad ${REPARTITION_WATERMARK_HEADER} header`); continue }
        values.push({ writer, watermark: wm })
        times.push(wm)
        continue
      }
      const seqText = header(h, REPARTITION_SEQ_HEADER) ?? ''
      const time = parseTime(header(h, REPARTITION_TIME_HEADER) ?? '')
      if (!/^\d+$/.test(seqText) || time === null || !Number.isFinite(time)) { bad('INPUT_SCHEMA_MISMATCH', `record from "${writer}" with a bad ${REPARTITION_SEQ_HEADER} or ${REPARTITION_TIME_HEADER} header`); continue }
      let value: T
      try {
        value = codec.decode(m.value ?? new Uint8Array(0))
      } catch (e) {
        bad('INPUT_MALFORMED', `record from "${writer}" seq ${seqText}: cannot decode its value: ${(e as Error).message}`)
        continue
      }
      values.push({ writer, seq: Number(seqText), value })
      times.push(time)
    }
    return { values, times, deadLetters }
  }
}

export interface RepartitionSourceOptions {
  /** Every writer id of the upstream (see the header). */
  writers: readonly string[]
  /** Report a partition finished once every writer sent "inf", and be done when all held partitions are. */
  endWhenWritersFinish?: boolean
  /**
   * With endWhenWritersFinish in a consumer group: done only once this says every partition is
   * finished (tasksFinished over the shared checkpoint store; see streams/kafka/bounded.ts).
   */
  allFinished?: () => Promise<boolean>
  name?: string
  metrics?: MetricsSink
}

/**
 * Dedup and watermarks over any source of RepartitionItems (in practice the Kafka source on the
 * intermediate topic; see createRepartitionSource).
 */
export class RepartitionSource<T> implements Source<T> {
  readonly name: string
  private readonly writers: readonly string[]
  private readonly state = new Map<string, PartitionState>()
  private readonly assigned = new Set<string>()
  private readonly reported = new Set<string>()
  private readonly metrics: MetricsSink
  /** Records dropped as duplicates since start (for tests and the status page). */
  duplicates = 0
  /** Times a record's seq jumped past last + 1 (records missing: retention, or a writer that is not deterministic). */
  gaps = 0

  constructor(readonly inner: Source<RepartitionItem<T>>, private readonly opts: RepartitionSourceOptions) {
    if (opts.writers.length === 0) throw new TrendwireError('CONFIG_INVALID', 'repartition source: at least one writer id is required')
    this.writers = [...new Set(opts.writers)]
    this.name = opts.name ?? inner.name
    this.metrics = opts.metrics ?? noMetrics
  }

  private stateOf(partition: string): PartitionState {
    let s = this.state.get(partition)
    if (!s) this.state.set(partition, (s = { seqs: new Map(), marks: new Map() }))
    return s
  }

  private fromPosition(partition: string, pos: unknown): { offset: unknown; state: PartitionState } {
    const p = pos as Partial<RepartitionPosition> | null
    if (!p || typeof p !== 'object' || !('offset' in p) || typeof p.seqs !== 'object' || typeof p.marks !== 'object' || !p.seqs || !p.marks) {
      throw new TrendwireError('CHECKPOINT_CORRUPT', `${this.name}: position of ${partition} is not a repartition position { offset, seqs, marks }: ${JSON.stringify(pos)}`)
    }
    return { offset: p.offset, state: { seqs: new Map(Object.entries(p.seqs)), marks: new Map(Object.entries(p.marks)) } }
  }

  /** The partition's watermark: the minimum over all writers of their highest marker. */
  watermarkOf(partition: string): EventTime {
    const s = this.stateOf(partition)
    let min = Infinity
    for (const w of this.writers) {
      const m = s.marks.get(w) ?? -Infinity
      if (m < min) min = m
    }
    return min
  }

  async open(positions: Record<string, unknown> | null, hooks: SourceHooks): Promise<void> {
    const inner: Record<string, unknown> = {}
    for (const [p, pos] of Object.entries(positions ?? {})) {
      if (pos === undefined || pos === null) continue
      const { offset, state } = this.fromPosition(p, pos)
      this.state.set(p, state)
      if (offset !== undefined && offset !== null) inner[p] = offset
    }
    const wrapped: SourceHooks = {
      beforeRevoke: async (parts) => {
        await hooks.beforeRevoke(parts)
        // the state stays: a partition that comes straight back continues where it was
        for (const p of parts) { this.assigned.delete(p); this.reported.delete(p) }
      },
      onAssign: (parts) => {
        for (const p of parts) { this.assigned.add(p); this.reported.delete(p); this.stateOf(p) }
        hooks.onAssign(parts)
      },
    }
    if (hooks.positionsFor) {
      const ask = hooks.positionsFor
      wrapped.positionsFor = async (parts) => {
        const answer = (await ask(parts)) ?? {}
        const out: Record<string, unknown> = {}
        for (const p of parts) {
          const pos = answer[p]
          if (pos === undefined || pos === null) {
            // no checkpoint anywhere: the partition starts from scratch, and so does its state
            this.state.set(p, { seqs: new Map(), marks: new Map() })
            continue
          }
          const { offset, state } = this.fromPosition(p, pos)
          this.state.set(p, state)
          if (offset !== undefined && offset !== null) out[p] = offset
        }
        return out
      }
    }
    await this.inner.open(inner, wrapped)
  }

  async poll(maxRecords: number): Promise<PollResult<T>> {
    const r = await this.inner.poll(maxRecords)
    const batches: SourceBatch<T>[] = []
    for (const b of r.batches) {
      const s = this.stateOf(b.partition)
      const values: T[] = []
      const times: EventTime[] = []
      let dups = 0
      for (let i = 0; i < b.values.length; i++) {
        const item = b.values[i]
        if ('watermark' in item) {
          if (item.watermark > (s.marks.get(item.writer) ?? -Infinity)) s.marks.set(item.writer, item.watermark)
          continue
        }
        const last = s.seqs.get(item.writer) ?? 0
        if (item.seq <= last) { dups++; continue }
        if (item.seq !== last + 1 && last > 0) this.gaps++
        s.seqs.set(item.writer, item.seq)
        values.push(item.value)
        times.push(b.times[i])
      }
      if (dups > 0) {
        this.duplicates += dups
        this.metrics.inc('repartition_duplicates_dropped_total', dups, { source: this.name })
      }
      batches.push({ partition: b.partition, values, times, deadLetters: b.deadLetters, watermark: this.watermarkOf(b.partition) })
    }
    const finished = [...(r.finished ?? [])]
    if (this.opts.endWhenWritersFinish) {
      for (const p of this.assigned) {
        if (!this.reported.has(p) && this.watermarkOf(p) === Infinity) {
          this.reported.add(p)
          finished.push(p)
        }
      }
    }
    const done = r.done || (this.opts.endWhenWritersFinish === true && (await boundedDone(this.assigned, this.reported, this.opts.allFinished)))
    return finished.length > 0 ? { batches, finished, done } : { batches, done }
  }

  /** Per partition: the inner position plus a copy of the dedup and watermark state at it. */
  positions(): Record<string, unknown> {
    const inner = this.inner.positions()
    const out: Record<string, RepartitionPosition> = {}
    for (const [p, s] of this.state) {
      if (inner[p] === undefined && s.seqs.size === 0 && s.marks.size === 0) continue
      out[p] = { offset: inner[p], seqs: Object.fromEntries(s.seqs), marks: Object.fromEntries(s.marks) }
    }
    return out
  }

  async commit(positions: Record<string, unknown>): Promise<void> {
    if (!this.inner.commit) return
    const offsets: Record<string, unknown> = {}
    for (const [p, pos] of Object.entries(positions)) {
      const o = (pos as Partial<RepartitionPosition> | null)?.offset
      if (o !== undefined && o !== null) offsets[p] = o
    }
    await this.inner.commit(offsets)
  }

  pause(): void { this.inner.pause?.() }
  resume(): void { this.inner.resume?.() }
  close(): Promise<void> { return this.inner.close() }
}

export interface RepartitionKafkaOptions<T> extends Omit<KafkaSourceOptions<RepartitionItem<T>>, 'topics' | 'decode'> {
  /** The intermediate topic. */
  topic: string
  writers: readonly string[]
  codec?: RepartitionCodec<T>
  endWhenWritersFinish?: boolean
  allFinished?: () => Promise<boolean>
  metrics?: MetricsSink
}

/** The Kafka source on the intermediate topic (in the downstream consumer group), with dedup and watermarks. */
export async function createRepartitionSource<T>(o: RepartitionKafkaOptions<T>): Promise<RepartitionSource<T>> {
  const { topic, writers, codec, endWhenWritersFinish, allFinished, metrics, ...kafka } = o
  const inner = await createKafkaSource<RepartitionItem<T>>({ ...kafka, topics: [topic], decode: repartitionDecoder(writers, codec, topic) })
  return new RepartitionSource<T>(inner, { writers, endWhenWritersFinish, allFinished, name: kafka.name ?? `repartition-${topic}`, metrics })
}
