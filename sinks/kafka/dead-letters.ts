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
import type { Message } from 'kafkajs'
import { parseOptions } from '../../streams/config.ts'
import type { Batch, DeadLetter, MetricsSink, Sink, SinkContext } from '../../streams/types.ts'
import { noMetrics } from '../../streams/metrics.ts'
import { deadLetterCodec, type RecordCodec } from '../../schemas/codec.ts'
import type { SchemaRegistry } from '../../schemas/registry.ts'
import { AckedProducer, ackedProducerOptionsShape } from './acked-producer.ts'

export const kafkaDeadLetterOptionsSchema = z.object({
  name: z.string().min(1).default('dead-letters'),
  /** The dead-letter topic; create it beforehand (the sink never auto-creates topics). */
  topic: z.string().min(1).default('trendwire-dead-letters'),
  // brokers, clientId, maxBatch, maxPendingBatches, idempotent (off: keys still identify duplicates),
  // ackTimeoutMs, ssl, sasl, requestTimeoutMs, connectionTimeoutMs, retries
  ...ackedProducerOptionsShape({ clientId: 'trendwire-dead-letters', maxBatch: 500 }),
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
  private connecting: Promise<void> | undefined
  private readonly out: AckedProducer
  private metrics: MetricsSink = noMetrics
  /** Dead letters acknowledged by the broker since start (for tests and the status page). */
  acked = 0

  constructor(options: KafkaDeadLetterOptions, deps: KafkaDeadLetterDeps = {}) {
    this.cfg = parseOptions('kafka dead-letter sink', kafkaDeadLetterOptionsSchema, options)
    this.name = this.cfg.name
    this.registry = deps.registry
    this.log = deps.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
    this.out = new AckedProducer(this.cfg, {
      label: 'kafka dead-letter sink',
      sink: this.name,
      log: this.log,
      target: this.cfg.brokers.join(','),
      onAck: (messages: Message[]) => {
        this.acked += messages.length
        this.metrics.inc('dead_letters_produced_total', messages.length, { sink: this.name })
      },
    })
  }

  async open(ctx: SinkContext): Promise<void> {
    this.metrics = ctx.metrics
    await this.connect()
  }

  private connect(): Promise<void> {
    this.connecting ??= (async () => {
      this.codec = await deadLetterCodec(this.cfg.topic, this.registry)
      try {
        await this.out.connect()
      } catch (e) {
        this.connecting = undefined
        throw e
      }
    })()
    return this.connecting
  }

  write(batch: Batch<DeadLetter>, ctx: SinkContext): void | Promise<void> {
    this.metrics = ctx.metrics
    this.out.check()
    if (!this.codec) return this.connect().then(() => this.write(batch, ctx))
    for (const d of batch.values) {
      this.out.push({
        key: deadLetterKey(d),
        value: this.codec.encode({ ...d, payload: Buffer.from(d.payload.buffer, d.payload.byteOffset, d.payload.byteLength) }),
        headers: { [DEAD_LETTER_CODE_HEADER]: d.code, [DEAD_LETTER_SOURCE_HEADER]: d.source },
      })
    }
    return this.out.backpressure()
  }

  /** Sends everything written so far and waits for every ack: the checkpoint covers only acknowledged dead letters. */
  async preCommit(_checkpointId: number): Promise<unknown> {
    if (this.codec) await this.out.flush()
    return { acked: this.acked }
  }

  /** Nothing to restore: dead letters after the checkpoint are produced again on replay (same keys). */
  async restore(_state: unknown): Promise<void> {}

  /** Disconnects. Dead letters not covered by a checkpoint are not flushed here: the replay produces them. */
  async close(): Promise<void> {
    this.connecting = undefined
    this.codec = undefined
    await this.out.close()
  }
}
