// Writes firehose events to a Kafka topic, keyed by partitionKey (schemas/events.ts) so a post's
// events stay in one partition and in order. Used by `trendwire produce` and the Kafka benchmark.
// The encoder is a plain function: JSON here; Avro comes from schemas/codec.ts (FirehoseCodec.encode).
//
// Wire format of a message: key = partitionKey(event) as UTF-8; value = encoder(events). With
// eventsPerMessage > 1 the value carries several events (JSON: an array), keyed by the first one.
import { z } from 'zod'
import { parseOptions } from '../config.ts'
import { TrendwireError } from '../errors.ts'
import { partitionKey, type FirehoseEvent } from '../../schemas/events.ts'
import { kafkaSourceOptionsSchema } from './options.ts'
import { kafkajsClientConfig } from './kafkajs.ts'
import { rdkafkaClientConfig, type RdkafkaProducer } from './rdkafka.ts'
import { loadRdkafka } from './index.ts'

/** Turns one message's events into its value. */
export type Encoder = (events: readonly FirehoseEvent[], topic: string) => Uint8Array

/** One event per message: the event's JSON; several: a JSON array of them. */
export const jsonEncoder: Encoder = (events) => Buffer.from(events.length === 1 ? JSON.stringify(events[0]) : JSON.stringify(events), 'utf8')

const base = kafkaSourceOptionsSchema.shape
export const producerOptionsSchema = z.object({
  client: base.client,
  brokers: base.brokers,
  clientId: z.string().min(1).default('trendwire-producer'),
  ssl: base.ssl,
  sasl: base.sasl,
  requestTimeoutMs: base.requestTimeoutMs,
  connectionTimeoutMs: base.connectionTimeoutMs,
  retries: base.retries,
  topic: z.string().min(1),
  /** Events per second, or 'max': as fast as the broker takes them. */
  rate: z.union([z.number().positive(), z.literal('max')]).default('max'),
  /** Events per message (JSON arrays when > 1). */
  eventsPerMessage: z.number().int().positive().default(1),
  /** Messages per produce request (kafkajs) / between delivery polls (node-rdkafka). */
  batchMessages: z.number().int().positive().default(1000),
  /** Produce requests in flight at once (kafkajs). */
  inFlight: z.number().int().positive().default(4),
  acks: z.union([z.literal(-1), z.literal(0), z.literal(1)]).default(-1),
  rdkafka: base.rdkafka,
})
export type ProducerOptions = z.input<typeof producerOptionsSchema> & {
  encoder?: Encoder
  /** Message key of one message's events; default partitionKey of the first (a post's events stay in order). */
  key?: (events: readonly FirehoseEvent[], index: number) => string
}

export interface ProduceProgress {
  events: number
  messages: number
  bytes: number
  elapsedMs: number
}

export interface ProduceResult extends ProduceProgress {
  eventsPerSec: number
}

/**
 * Produces every event of `events` (arrays, e.g. chunks of a file or of the synthetic firehose).
 * Rate limiting is by event time of the wall clock, a token bucket refilled continuously.
 */
export async function produceEvents(
  options: ProducerOptions,
  events: Iterable<readonly FirehoseEvent[]> | AsyncIterable<readonly FirehoseEvent[]>,
  onProgress?: (p: ProduceProgress) => void,
): Promise<ProduceResult> {
  const encoder = options.encoder ?? jsonEncoder
  const keyOf = options.key ?? ((group: readonly FirehoseEvent[]) => partitionKey(group[0]))
  const { encoder: _e, key: _k, ...rest } = options
  const cfg = parseOptions('kafka producer', producerOptionsSchema, rest)
  const sink = cfg.client === 'node-rdkafka' ? await rdkafkaSink(cfg) : await kafkajsSink(cfg)
  const started = Date.now()
  const progress: ProduceProgress = { events: 0, messages: 0, bytes: 0, elapsedMs: 0 }
  let lastReport = started
  const per = cfg.eventsPerMessage
  try {
    let keys: string[] = []
    let values: Uint8Array[] = []
    for await (const chunk of events) {
      for (let i = 0; i < chunk.length; i += per) {
        const group = per === 1 ? [chunk[i]] : chunk.slice(i, i + per)
        const value = encoder(group, cfg.topic)
        keys.push(keyOf(group, progress.messages + values.length))
        values.push(value)
        progress.events += group.length
        progress.bytes += value.length
        if (values.length >= cfg.batchMessages) {
          await throttle(cfg.rate, started, progress.events)
          await sink.send(keys, values)
          progress.messages += values.length
          keys = []
          values = []
          const now = Date.now()
          if (onProgress && now - lastReport >= 1000) {
            lastReport = now
            onProgress({ ...progress, elapsedMs: now - started })
          }
        }
      }
    }
    if (values.length > 0) {
      await throttle(cfg.rate, started, progress.events)
      await sink.send(keys, values)
      progress.messages += values.length
    }
    await sink.flush()
  } finally {
    await sink.close()
  }
  progress.elapsedMs = Date.now() - started
  return { ...progress, eventsPerSec: progress.events / Math.max(progress.elapsedMs / 1000, 1e-3) }
}

/** Waits until `sent` events are allowed at `rate` per second since `started`. */
async function throttle(rate: number | 'max', started: number, sent: number): Promise<void> {
  if (rate === 'max') return
  const due = started + (sent / rate) * 1000
  const wait = due - Date.now()
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
}

interface MessageSink {
  send(keys: string[], values: Uint8Array[]): Promise<void>
  flush(): Promise<void>
  close(): Promise<void>
}

type Cfg = z.output<typeof producerOptionsSchema>

async function kafkajsSink(cfg: Cfg): Promise<MessageSink> {
  const lib = (await import('kafkajs')).default
  const kafka = new lib.Kafka(kafkajsClientConfig(cfg, lib, (level, message) => {
    if (level === 'error' || level === 'warn') console.error(`[producer] ${level}: ${message}`)
  }))
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: lib.Partitioners.DefaultPartitioner })
  await producer.connect()
  // Up to inFlight requests at once: one at a time leaves the broker idle between round trips.
  const inFlight = new Set<Promise<unknown>>()
  let failure: unknown
  return {
    async send(keys, values) {
      if (failure) throw failure
      const messages = new Array(values.length)
      for (let i = 0; i < values.length; i++) messages[i] = { key: keys[i], value: values[i] as Buffer }
      const p = producer.send({ topic: cfg.topic, acks: cfg.acks, messages }).catch((e) => { failure = e })
      inFlight.add(p)
      void p.finally(() => inFlight.delete(p))
      if (inFlight.size >= cfg.inFlight) await Promise.race(inFlight)
      if (failure) throw failure
    },
    async flush() {
      await Promise.all(inFlight)
      if (failure) throw failure
    },
    close: () => producer.disconnect(),
  }
}

async function rdkafkaSink(cfg: Cfg): Promise<MessageSink> {
  const lib = await loadRdkafka()
  const producer: RdkafkaProducer = new lib.Producer({
    ...rdkafkaClientConfig(cfg),
    'acks': cfg.acks,
    'linger.ms': 5,
    'queue.buffering.max.messages': 1_000_000,
    'dr_cb': false,
    ...cfg.rdkafka,
  })
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: cfg.requestTimeoutMs }, (err) => (err ? reject(err) : resolve())))
  producer.setPollInterval(100)
  let failure: unknown
  producer.on('event.error', (e: Error) => { failure ??= e })
  return {
    async send(keys, values) {
      if (failure) throw new TrendwireError('SINK_UNAVAILABLE', `producer: ${(failure as Error).message}`, { cause: failure })
      for (let i = 0; i < values.length; i++) {
        for (;;) {
          try {
            producer.produce(cfg.topic, null, values[i] as Buffer, keys[i])
            break
          } catch (e) {
            // Local queue full: let librdkafka deliver some, then retry this message.
            if ((e as { code?: number }).code !== -184) throw e
            await new Promise<void>((r) => producer.flush(1000, () => r()))
          }
        }
      }
    },
    flush: () => new Promise<void>((resolve, reject) => producer.flush(cfg.requestTimeoutMs, (err) => (err ? reject(err) : resolve()))),
    close: () => new Promise<void>((resolve) => producer.disconnect(() => resolve())),
  }
}
