// The dead-letter topic: every record the engine could not decode or process, produced to Kafka as a
// DeadLetter.avsc record (Confluent framing, schemas/codec.ts deadLetterCodec()), with its original
// bytes, where it came from (source, partition, position), the error code and the reason.
//
//   key      `${partition}@${position}`, e.g. "firehose/3@1234": a replay after a restart produces the
//            same keys again, so duplicates are identifiable (and a compacted topic keeps one of each)
//   headers  trendwire-code (e.g. INPUT_MALFORMED), trendwire-source
//   value    DeadLetter.avsc, framed with its schema id under `<topic>-value`
//
// Delivery is at-least-once, aligned with checkpoints: write() buffers and sends full batches of
// maxBatch records in the background (one request at a time, in order, idempotent producer, acks=all);
// preCommit() sends what is left and waits for every ack before the runner writes its checkpoint. A
// crash after the checkpoint replays from its positions and produces the dead letters written since
// again (same keys); none written before a durable checkpoint is ever lost.
import pino, { type Logger } from 'pino'
import { z } from 'zod'
import type { Kafka, Message, Producer } from 'kafkajs'
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { kafkaSourceOptionsSchema } from '../../streams/kafka/options.ts'
import { kafkajsClientConfig } from '../../streams/kafka/kafkajs.ts'
import type { Batch, DeadLetter, MetricsSink, Sink, SinkContext } from '../../streams/types.ts'
import { noMetrics } from '../../streams/metrics.ts'
import { deadLetterCodec, type RecordCodec } from '../../schemas/codec.ts'
import type { SchemaRegistry } from '../../schemas/registry.ts'

const base = kafkaSourceOptionsSchema.shape

export const kafkaDeadLetterOptionsSchema = z.object({
  name: z.string().min(1).default('dead-letters'),
  brokers: base.brokers,
  /** The dead-letter topic; create it beforehand (the sink never auto-creates topics). */
  topic: z.string().min(1).default('trendwire-dead-letters'),
  clientId: z.string().min(1).default('trendwire-dead-letters'),
  /** Records per produce request; write() sends a batch as soon as this many are buffered. */
  maxBatch: z.number().int().positive().max(100_000).default(500),
  /** write() returns a Promise (backpressure) while more than this many batches await their acks. */
  maxPendingBatches: z.number().int().positive().default(8),
  /**
   * Idempotent producer (default): the broker drops a retried request it already appended. Turn off
   * only for brokers without InitProducerId support (e.g. librdkafka's mock cluster, whose metadata
   * names controller 0, which kafkajs cannot find); keys still identify duplicates.
   */
  idempotent: z.boolean().default(true),
  /** preCommit() fails with SINK_UNAVAILABLE when the acks take longer than this. */
  ackTimeoutMs: z.number().int().positive().default(60_000),
  ssl: base.ssl,
  sasl: base.sasl,
  requestTimeoutMs: base.requestTimeoutMs,
  connectionTimeoutMs: base.connectionTimeoutMs,
  retries: base.retries,
}).strict()

export type KafkaDeadLetterOptions = z.input<typeof kafkaDeadLetterOptionsSchema>

export interface KafkaDeadLetterDeps {
  /** Default: the local registry (schemas/avro/ with ids.json). */
  registry?: SchemaRegistry
  logger?: Logger
}

export const DEAD_LETTER_CODE_HEADER = 'trendwire-code'
export const DEAD_LETTER_SOURCE_HEADER = 'trendwire-source'

/** The message key of a dead letter: its partition and position, unique per input record. */
export function deadLetterKey(d: Pick<DeadLetter, 'partition' | 'position'>): string {
  return `${d.partition}@${d.position}`
}

export class KafkaDeadLetterSink implements Sink<DeadLetter> {
  readonly name: string
  readonly cfg: z.output<typeof kafkaDeadLetterOptionsSchema>
  private readonly log: Logger
  private readonly registry: SchemaRegistry | undefined
  private codec: RecordCodec<DeadLetter> | undefined
  private producer: Producer | undefined
  private connecting: Promise<void> | undefined
  private buffer: Message[] = []
  /** The last send in the chain: batches go one after another, in order. */
  private tail: Promise<void> = Promise.resolve()
  private pending = 0
  private failure: unknown
  private metrics: MetricsSink = noMetrics
  /** Dead letters acknowledged by the broker since start (for tests and the status page). */
  acked = 0

  constructor(options: KafkaDeadLetterOptions, deps: KafkaDeadLetterDeps = {}) {
    this.cfg = parseOptions('kafka dead-letter sink', kafkaDeadLetterOptionsSchema, options)
    this.name = this.cfg.name
    this.registry = deps.registry
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
  }

  async open(ctx: SinkContext): Promise<void> {
    this.metrics = ctx.metrics
    await this.connect()
  }

  private connect(): Promise<void> {
    this.connecting ??= (async () => {
      this.codec = await deadLetterCodec(this.cfg.topic, this.registry)
      const lib = (await import('kafkajs')).default
      const kafka: Kafka = new lib.Kafka(kafkajsClientConfig(this.cfg, lib, (level, message, extra) => {
        if (level === 'error' || level === 'warn') this.log[level]({ sink: this.name, ...extra }, message)
      }))
      // Idempotent: the broker drops a retried request it already appended, so retries never duplicate.
      const producer = kafka.producer({ idempotent: this.cfg.idempotent, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: lib.Partitioners.DefaultPartitioner })
      try {
        await producer.connect()
      } catch (e) {
        this.connecting = undefined
        throw new TrendwireError('SINK_UNAVAILABLE', `kafka dead-letter sink: cannot connect to ${this.cfg.brokers.join(',')}: ${(e as Error).message}`, { cause: e })
      }
      this.producer = producer
    })()
    return this.connecting
  }

  write(batch: Batch<DeadLetter>, ctx: SinkContext): void | Promise<void> {
    this.metrics = ctx.metrics
    if (this.failure) throw this.failed()
    if (!this.codec) return this.connect().then(() => this.write(batch, ctx))
    for (const d of batch.values) {
      this.buffer.push({
        key: deadLetterKey(d),
        value: this.codec.encode({ ...d, payload: Buffer.from(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength) }),
        headers: { [DEAD_LETTER_CODE_HEADER]: d.code, [DEAD_LETTER_SOURCE_HEADER]: d.source },
      })
      if (this.buffer.length >= this.cfg.maxBatch) this.sendBuffered()
    }
    if (this.pending > this.cfg.maxPendingBatches) return this.drain(this.cfg.maxPendingBatches)
  }

  /** Starts sending what is buffered, after the batches already under way. */
  private sendBuffered(): void {
    if (this.buffer.length === 0) return
    const messages = this.buffer
    this.buffer = []
    this.pending++
    this.tail = this.tail.then(async () => {
      if (this.failure) return
      try {
        await this.producer!.send({ topic: this.cfg.topic, acks: -1, messages })
        this.acked += messages.length
        this.metrics.inc('dead_letters_produced_total', messages.length, { sink: this.name })
      } catch (e) {
        this.failure ??= e
      } finally {
        this.pending--
      }
    })
  }

  /** Waits until at most `limit` batches are unacknowledged (the chain is in order: wait for all when 0). */
  private async drain(limit: number): Promise<void> {
    while (this.pending > limit && !this.failure) await this.tail
    if (this.failure) throw this.failed()
  }

  private failed(): TrendwireError {
    const e = this.failure as Error
    return new TrendwireError('SINK_UNAVAILABLE', `kafka dead-letter sink: producing to ${this.cfg.topic} failed: ${e.message}`, { cause: e })
  }

  /** Sends everything written so far and waits for every ack: the checkpoint covers only acknowledged dead letters. */
  async preCommit(_checkpointId: number): Promise<unknown> {
    if (this.codec) {
      this.sendBuffered()
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TrendwireError('SINK_UNAVAILABLE', `kafka dead-letter sink: no ack from ${this.cfg.topic} within ${this.cfg.ackTimeoutMs} ms`)), this.cfg.ackTimeoutMs)
      })
      try {
        await Promise.race([this.drain(0), timeout])
      } finally {
        clearTimeout(timer)
      }
    }
    return { acked: this.acked }
  }

  /** Nothing to restore: dead letters after the checkpoint are produced again on replay (same keys). */
  async restore(_state: unknown): Promise<void> {}

  /** Disconnects. Dead letters not covered by a checkpoint are not flushed here: the replay produces them. */
  async close(): Promise<void> {
    const p = this.producer
    this.producer = undefined
    this.connecting = undefined
    this.codec = undefined
    this.buffer = []
    if (!p) return
    await this.tail.catch(() => {})
    await p.disconnect()
  }
}
