// The repartition sink: the upstream half of a shuffle through Kafka (Kafka Streams' repartition
// topics). Each record of a stream goes to an intermediate topic, in the partition of its key, so a
// second partitioned topology (streams/repartition.ts, RepartitionSource) sees every record of a key
// in one partition — e.g. hashtag counts over a firehose that is partitioned by post id.
//
//   partition  fnv1a(key(value)) mod the topic's partition count (stable: same key, same partition)
//   key        key(value) as UTF-8
//   value      codec.encode(value) (JSON by default)
//   headers    trendwire-type    "record"
//              trendwire-writer  the writer id: the upstream task, e.g. its source partition "firehose/3"
//              trendwire-seq     1, 2, 3 … per (writer, target partition), decimal
//              trendwire-time    the record's event time, epoch ms, decimal
//
// Watermark markers (control records, no value) go to every partition of the topic at every
// preCommit, after the records written before it, carrying the task's watermark (SinkContext.watermark):
//   headers    trendwire-type "watermark", trendwire-writer, trendwire-watermark (decimal, "inf", "-inf")
// The last preCommit of a task whose input ended (the runner's checkpointAtEnd, the default) writes
// "inf": the writer is finished. A marker is not written while the watermark is still -∞.
//
// Delivery is two-phase like KafkaDeadLetterSink: write() sends full batches in the background, one
// request at a time and in order (so each partition receives a writer's records in sequence order);
// preCommit() sends the rest plus the markers and waits for every ack. The sequence counters are the
// sink's checkpointed state: after a crash the task restores them with its operators, replays its
// input from the checkpointed positions and — provided its output is a deterministic function of its
// input sequence (one source partition per task, record-at-a-time operators; see docs/kafka.md) —
// produces the same records with the same sequence numbers again. The downstream source drops every
// record whose sequence number is not above the last one it accepted from that writer in that
// partition, so the replay's duplicates never count twice.
import pino, { type Logger } from 'pino'
import { z } from 'zod'
import type { Message } from 'kafkajs'
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { noMetrics } from '../../streams/metrics.ts'
import { fnv1a } from '../../streams/sources/prng.ts'
import type { Batch, EventTime, MetricsSink, Sink, SinkContext } from '../../streams/types.ts'
import { AckedProducer, ackedProducerOptionsShape } from './acked-producer.ts'

export const REPARTITION_TYPE_HEADER = 'trendwire-type'
export const REPARTITION_WRITER_HEADER = 'trendwire-writer'
export const REPARTITION_SEQ_HEADER = 'trendwire-seq'
export const REPARTITION_TIME_HEADER = 'trendwire-time'
export const REPARTITION_WATERMARK_HEADER = 'trendwire-watermark'

/** How values travel through the repartition topic. */
export interface RepartitionCodec<T> {
  encode(value: T): Uint8Array
  /** May throw on bad bytes: the source turns that into a dead letter. */
  decode(bytes: Uint8Array): T
}

export function jsonCodec<T>(): RepartitionCodec<T> {
  return {
    encode: (v) => Buffer.from(JSON.stringify(v), 'utf8'),
    decode: (b) => JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as T,
  }
}

/** The partition of a key: FNV-1a of its UTF-16 code units, modulo the partition count. */
export function repartitionPartition(key: string, partitions: number): number {
  return fnv1a(key) % partitions
}

/** Event times and watermarks as header text: decimal epoch ms, or "inf" / "-inf". */
export function formatTime(t: EventTime): string {
  return t === Infinity ? 'inf' : t === -Infinity ? '-inf' : String(t)
}

export function parseTime(s: string): EventTime | null {
  if (s === 'inf') return Infinity
  if (s === '-inf') return -Infinity
  if (!/^-?\d+(\.\d+)?$/.test(s)) return null
  return Number(s)
}

export const kafkaRepartitionOptionsSchema = z.object({
  /** Sink name: keys the sink's state in the task checkpoint. */
  name: z.string().min(1).default('repartition'),
  /** The intermediate topic; create it beforehand (the sink never auto-creates topics). */
  topic: z.string().min(1),
  /**
   * Who writes: one id per upstream task, stable across restarts and moves, e.g. its source
   * partition ("firehose/3"). The downstream source must list every writer id (RepartitionSource
   * `writers`); two live tasks must never share one.
   */
  writerId: z.string().min(1),
  /** The partition count the topic must have (checked at open). Default: whatever it has. */
  partitions: z.number().int().positive().optional(),
  // brokers, clientId, maxBatch, maxPendingBatches, idempotent (off: sequence numbers still identify
  // duplicates), ackTimeoutMs, ssl, sasl, requestTimeoutMs, connectionTimeoutMs, retries
  ...ackedProducerOptionsShape({ clientId: 'trendwire-repartition', maxBatch: 1000 }),
}).strict()

export type KafkaRepartitionOptions = z.input<typeof kafkaRepartitionOptionsSchema>

export interface KafkaRepartitionDeps<T> {
  /** The key to partition by (the downstream topology's keyBy). */
  key: (value: T) => string
  /** Default: JSON. */
  codec?: RepartitionCodec<T>
  logger?: Logger
}

/** What the sink keeps in the task checkpoint. */
export interface RepartitionSinkState {
  writer: string
  topic: string
  /** Last sequence number used, per target partition. */
  seqs: number[]
}

export class KafkaRepartitionSink<T> implements Sink<T> {
  readonly name: string
  readonly cfg: z.output<typeof kafkaRepartitionOptionsSchema>
  private readonly keyOf: (value: T) => string
  private readonly codec: RepartitionCodec<T>
  private readonly log: Logger
  private readonly out: AckedProducer
  private partitions = 0
  /** Last sequence number used, per target partition. */
  private seqs: number[] = []
  private ctx: SinkContext | undefined
  private metrics: MetricsSink = noMetrics
  /** Records acknowledged by the broker since start (for tests and the status page). */
  acked = 0
  /** Watermark markers acknowledged since start. */
  markers = 0
  /** The watermark of the last markers sent (for tests). */
  lastMarker: EventTime = -Infinity

  constructor(options: KafkaRepartitionOptions, deps: KafkaRepartitionDeps<T>) {
    this.cfg = parseOptions('kafka repartition sink', kafkaRepartitionOptionsSchema, options)
    this.name = this.cfg.name
    this.keyOf = deps.key
    this.codec = deps.codec ?? jsonCodec<T>()
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
    this.out = new AckedProducer(this.cfg, {
      label: 'kafka repartition sink',
      sink: this.name,
      log: this.log,
      target: `${this.cfg.brokers.join(',')} / ${this.cfg.topic}`,
      onAck: (messages: Message[]) => {
        let markers = 0
        for (const m of messages) if (m.headers![REPARTITION_TYPE_HEADER] === 'watermark') markers++
        const records = messages.length - markers
        this.acked += records
        this.markers += markers
        if (records > 0) this.metrics.inc('repartition_records_produced_total', records, { sink: this.name })
        if (markers > 0) this.metrics.inc('repartition_markers_produced_total', markers, { sink: this.name })
      },
    })
  }

  /** The topic's partition count (known after open). */
  get partitionCount(): number {
    return this.partitions
  }

  async open(ctx: SinkContext): Promise<void> {
    this.ctx = ctx
    this.metrics = ctx.metrics
    await this.connect()
  }

  /** Connects, after checking the topic's partition count against the options and the restored sequence counters. */
  private connect(): Promise<void> {
    let n = 0
    return this.out.connect(async (kafka) => {
      const admin = kafka.admin()
      try {
        await admin.connect()
        const meta = await admin.fetchTopicMetadata({ topics: [this.cfg.topic] })
        await admin.disconnect()
        n = meta.topics[0]?.partitions.length ?? 0
        if (n === 0) throw new Error(`topic ${this.cfg.topic} has no partitions (does it exist?)`)
        if (this.cfg.partitions !== undefined && n !== this.cfg.partitions) {
          throw new TrendwireError('CONFIG_INVALID', `kafka repartition sink: topic ${this.cfg.topic} has ${n} partitions, expected ${this.cfg.partitions}`)
        }
      } catch (e) {
        await admin.disconnect().catch(() => {})
        throw e
      }
    }, () => {
      if (this.seqs.length === 0) this.seqs = new Array(n).fill(0)
      else if (this.seqs.length !== n) throw this.partitionCountChanged(this.seqs.length, n)
      this.partitions = n
    })
  }

  private partitionCountChanged(was: number, now: number): TrendwireError {
    return new TrendwireError('CONFIG_INVALID', `kafka repartition sink: topic ${this.cfg.topic} has ${now} partitions but the checkpoint was written with ${was}; changing it moves keys between partitions (start the downstream from scratch with a new topic)`)
  }

  write(batch: Batch<T>, ctx: SinkContext): void | Promise<void> {
    this.ctx = ctx
    this.metrics = ctx.metrics
    this.out.check()
    if (!this.out.connected) return this.connect().then(() => this.write(batch, ctx))
    const { values, times } = batch
    const writer = this.cfg.writerId
    for (let i = 0; i < values.length; i++) {
      const key = this.keyOf(values[i])
      const partition = repartitionPartition(key, this.partitions)
      const seq = ++this.seqs[partition]
      this.out.push({
        key,
        partition,
        value: this.codec.encode(values[i]) as Buffer,
        headers: {
          [REPARTITION_TYPE_HEADER]: 'record',
          [REPARTITION_WRITER_HEADER]: writer,
          [REPARTITION_SEQ_HEADER]: String(seq),
          [REPARTITION_TIME_HEADER]: formatTime(times[i]),
        },
      })
    }
    return this.out.backpressure()
  }

  /**
   * Sends everything written so far, then a watermark marker to every partition, and waits for every
   * ack: the checkpoint's sequence counters cover only acknowledged records.
   */
  async preCommit(_checkpointId: number): Promise<RepartitionSinkState> {
    if (this.out.connected) {
      const wm = this.ctx?.watermark
      const markers: Message[] = []
      if (wm !== undefined && wm > -Infinity) {
        for (let p = 0; p < this.partitions; p++) {
          markers.push({
            key: this.cfg.writerId,
            partition: p,
            value: Buffer.alloc(0),
            headers: {
              [REPARTITION_TYPE_HEADER]: 'watermark',
              [REPARTITION_WRITER_HEADER]: this.cfg.writerId,
              [REPARTITION_WATERMARK_HEADER]: formatTime(wm),
            },
          })
        }
        this.lastMarker = wm
      }
      await this.out.flush(markers)
    }
    return { writer: this.cfg.writerId, topic: this.cfg.topic, seqs: this.seqs.slice() }
  }

  /** The sequence counters of the last durable checkpoint: the replay reuses the same numbers. */
  async restore(state: unknown): Promise<void> {
    if (state === undefined || state === null) return
    const s = state as Partial<RepartitionSinkState>
    if (!Array.isArray(s.seqs) || !s.seqs.every((n) => Number.isInteger(n) && n >= 0)) {
      throw new TrendwireError('CHECKPOINT_CORRUPT', `kafka repartition sink "${this.name}": bad checkpoint state ${JSON.stringify(state)}`)
    }
    if (s.writer !== this.cfg.writerId || s.topic !== this.cfg.topic) {
      throw new TrendwireError('CHECKPOINT_CORRUPT', `kafka repartition sink "${this.name}": checkpoint was written by writer "${s.writer}" to ${s.topic}, not "${this.cfg.writerId}" to ${this.cfg.topic}`)
    }
    if (this.partitions > 0 && s.seqs.length !== this.partitions) throw this.partitionCountChanged(s.seqs.length, this.partitions)
    this.seqs = s.seqs.slice()
  }

  /** Disconnects. Records not covered by a checkpoint are not flushed here: the replay produces them. */
  async close(): Promise<void> {
    await this.out.close()
  }
}
