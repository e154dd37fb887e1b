// The produce pipeline shared by the Kafka sinks (KafkaDeadLetterSink, KafkaRepartitionSink): one
// kafkajs producer (idempotent by default, one request in flight, acks=all, no topic auto-creation),
// a message buffer sent in batches of maxBatch, one request at a time and in order, a count of
// batches still awaiting their acks (backpressure above maxPendingBatches), the first send failure
// (every later call fails with SINK_UNAVAILABLE), and flush(): send what is left and wait for every
// ack within ackTimeoutMs — what a sink's preCommit needs before the runner writes its checkpoint.
import type { Logger } from 'pino'
import { z } from 'zod'
import type { Kafka, Message, Producer } from 'kafkajs'
import { TrendwireError } from '../../streams/errors.ts'
import { kafkaSourceOptionsSchema } from '../../streams/kafka/options.ts'
import { kafkajsClientConfig } from '../../streams/kafka/kafkajs.ts'

const base = kafkaSourceOptionsSchema.shape

/** The option fields every producing Kafka sink has, with that sink's defaults. */
export function ackedProducerOptionsShape(defaults: { clientId: string; maxBatch: number }) {
  return {
    brokers: base.brokers,
    clientId: z.string().min(1).default(defaults.clientId),
    /** Records per produce request; write() sends a batch as soon as this many are buffered. */
    maxBatch: z.number().int().positive().max(100_000).default(defaults.maxBatch),
    /** write() returns a Promise (backpressure) while more than this many batches await their acks. */
    maxPendingBatches: z.number().int().positive().default(8),
    /**
     * Idempotent producer (default): the broker drops a retried request it already appended. Turn off
     * only for brokers without InitProducerId support (e.g. librdkafka's mock cluster, whose metadata
     * names controller 0, which kafkajs cannot find).
     */
    idempotent: z.boolean().default(true),
    /** preCommit() fails with SINK_UNAVAILABLE when the acks take longer than this. */
    ackTimeoutMs: z.number().int().positive().default(60_000),
    ssl: base.ssl,
    sasl: base.sasl,
    requestTimeoutMs: base.requestTimeoutMs,
    connectionTimeoutMs: base.connectionTimeoutMs,
    retries: base.retries,
  }
}

const commonSchema = z.object(ackedProducerOptionsShape({ clientId: 'trendwire', maxBatch: 1 }))
export type AckedProducerConfig = z.output<typeof commonSchema> & { topic: string }

export interface AckedProducerDeps {
  /** Names the sink in error messages, e.g. "kafka dead-letter sink". */
  label: string
  /** The sink's name, in log lines. */
  sink: string
  log: Logger
  /** What a failed connection names, e.g. the broker list. */
  target: string
  /** Called with every batch the broker acknowledged (counters, metrics). */
  onAck(messages: Message[]): void
}

export class AckedProducer {
  private producer: Producer | undefined
  private connecting: Promise<void> | undefined
  private buffer: Message[] = []
  /** The last send in the chain: batches go one after another, in order. */
  private tail: Promise<void> = Promise.resolve()
  private pending = 0
  private failure: unknown

  constructor(private readonly cfg: AckedProducerConfig, private readonly deps: AckedProducerDeps) {}

  get connected(): boolean {
    return this.producer !== undefined
  }

  /**
   * Creates the client and connects the producer, once (again after a failure). `before` runs first
   * with the client (e.g. metadata checks), `after` once the producer is connected; a TrendwireError
   * either throws passes through, any other failure becomes SINK_UNAVAILABLE.
   */
  connect(before?: (kafka: Kafka) => Promise<void>, after?: () => void): Promise<void> {
    this.connecting ??= (async () => {
      const lib = (await import('kafkajs')).default
      const kafka: Kafka = new lib.Kafka(kafkajsClientConfig(this.cfg, lib, (level, message, extra) => {
        if (level === 'error' || level === 'warn') this.deps.log[level]({ sink: this.deps.sink, ...extra }, message)
      }))
      // Idempotent: the broker drops a retried request it already appended, so retries never duplicate.
      const producer = kafka.producer({ idempotent: this.cfg.idempotent, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: lib.Partitioners.DefaultPartitioner })
      try {
        await before?.(kafka)
        await producer.connect()
        after?.()
      } catch (e) {
        this.connecting = undefined
        if (e instanceof TrendwireError) throw e
        throw new TrendwireError('SINK_UNAVAILABLE', `${this.deps.label}: cannot connect to ${this.deps.target}: ${(e as Error).message}`, { cause: e })
      }
      this.producer = producer
    })()
    return this.connecting
  }

  /** Throws the SINK_UNAVAILABLE error of an earlier failed send, if any. */
  check(): void {
    if (this.failure) throw this.failed()
  }

  /** Buffers a message; a full buffer (maxBatch) starts sending. */
  push(message: Message): void {
    this.buffer.push(message)
    if (this.buffer.length >= this.cfg.maxBatch) this.send()
  }

  /** A Promise while more than maxPendingBatches batches await their acks (write()'s backpressure). */
  backpressure(): void | Promise<void> {
    if (this.pending > this.cfg.maxPendingBatches) return this.drain(this.cfg.maxPendingBatches)
  }

  /**
   * Sends everything buffered plus `trailing` (in the same request, whatever maxBatch says) and waits
   * for every ack; SINK_UNAVAILABLE when a send failed or the acks take longer than ackTimeoutMs.
   */
  async flush(trailing: Message[] = []): Promise<void> {
    this.buffer.push(...trailing)
    this.send()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TrendwireError('SINK_UNAVAILABLE', `${this.deps.label}: no ack from ${this.cfg.topic} within ${this.cfg.ackTimeoutMs} ms`)), this.cfg.ackTimeoutMs)
    })
    try {
      await Promise.race([this.drain(0), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Starts sending what is buffered, after the batches already under way. */
  private send(): void {
    if (this.buffer.length === 0) return
    const messages = this.buffer
    this.buffer = []
    this.pending++
    this.tail = this.tail.then(async () => {
      if (this.failure) return
      try {
        await this.producer!.send({ topic: this.cfg.topic, acks: -1, messages })
        this.deps.onAck(messages)
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
    return new TrendwireError('SINK_UNAVAILABLE', `${this.deps.label}: producing to ${this.cfg.topic} failed: ${e.message}`, { cause: e })
  }

  /** Drops what is buffered, waits for the sends under way and disconnects (no flush). */
  async close(): Promise<void> {
    const p = this.producer
    this.producer = undefined
    this.connecting = undefined
    this.buffer = []
    if (!p) return
    await this.tail.catch(() => {})
    await p.disconnect()
  }
}
