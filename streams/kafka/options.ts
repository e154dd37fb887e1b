// Options shared by every Kafka source implementation (kafkajs, node-rdkafka): one schema, validated
// once at construction, so switching `client` never changes what a config file means.
import { z } from 'zod'
import type { DeadLetter, EventTime } from '../types.ts'

/**
 * One Kafka message as the decode function sees it. It is the client's own message object (kafkajs
 * gets topic and partition set on it; node-rdkafka's has them), so nothing is copied per message.
 * The shape matches schemas/codec.ts's InputMessage, so FirehoseCodec.decodeBatch plugs in as is.
 */
export interface KafkaMessage {
  readonly value: Uint8Array | null
  readonly topic: string
  readonly partition: number
  /** 64-bit offset: a decimal string from kafkajs, a number from node-rdkafka. */
  readonly offset: string | number
  /** Kafka record timestamp (CreateTime or LogAppendTime), epoch ms: a string from kafkajs. */
  readonly timestamp?: string | number
}

export interface Decoded<T> {
  values: T[]
  times: EventTime[]
  deadLetters: DeadLetter[]
}

/**
 * Turns one partition's consecutive messages into typed values with event times. A message may
 * become zero, one or many values (e.g. a JSON array of events per message); positions stay per
 * message. Bad records become dead letters; it never throws for bad input. It may return a Promise
 * (e.g. a schema registry lookup), awaited once per call.
 */
export type DecodeFn<T> = (messages: readonly KafkaMessage[]) => Decoded<T> | Promise<Decoded<T>>

const brokerList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean))
  .refine((v) => v.length > 0, 'at least one broker (HOST:PORT) is required')
  .refine((v) => v.every((b) => /^[^\s:]+:\d+$/.test(b) || /^\[[0-9a-fA-F:]+\]:\d+$/.test(b)), 'each broker must be HOST:PORT')

export const kafkaSourceOptionsSchema = z.object({
  /** Which client library: kafkajs (pure JS, default) or node-rdkafka (librdkafka, faster, optional dependency). */
  client: z.enum(['kafkajs', 'node-rdkafka']).default('kafkajs'),
  name: z.string().min(1).default('kafka'),
  brokers: brokerList,
  topics: z.array(z.string().min(1)).min(1, 'at least one topic is required'),
  groupId: z.string().min(1),
  clientId: z.string().min(1).default('trendwire'),
  /** Where a partition starts when neither the checkpoint nor a committed offset covers it. */
  fromBeginning: z.boolean().default(true),
  /** TLS: true for the system CAs, or files (PEM) for a private CA / client certificate. */
  ssl: z
    .union([
      z.boolean(),
      z.object({
        caFile: z.string().optional(),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
        keyPassword: z.string().optional(),
        rejectUnauthorized: z.boolean().default(true),
      }),
    ])
    .default(false),
  sasl: z
    .object({
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
      username: z.string().min(1),
      password: z.string(),
    })
    .optional(),
  /** Bound of the fetch buffer between the client and poll(); fetching pauses above it (backpressure). */
  maxQueuedMessages: z.number().int().positive().default(20_000),
  maxQueuedBytes: z.number().int().positive().default(32 * 1024 * 1024),
  /** How long poll() waits for data when the buffer is empty. */
  pollTimeoutMs: z.number().int().nonnegative().default(100),
  sessionTimeoutMs: z.number().int().positive().default(30_000),
  /** How long a rebalance may take, including beforeRevoke (the runner's checkpoint). */
  rebalanceTimeoutMs: z.number().int().positive().default(60_000),
  heartbeatIntervalMs: z.number().int().positive().default(3_000),
  /** Longest a fetch waits on the broker for new data. */
  fetchMaxWaitMs: z.number().int().positive().default(500),
  fetchMaxBytes: z.number().int().positive().default(10 * 1024 * 1024),
  fetchMaxBytesPerPartition: z.number().int().positive().default(1024 * 1024),
  /** How long a request may wait for its response (a broker that accepts connections but does not answer). */
  requestTimeoutMs: z.number().int().positive().default(30_000),
  connectionTimeoutMs: z.number().int().positive().default(3_000),
  /** Client retries before the source fails with SOURCE_FAILED (the runner then restarts from the checkpoint). */
  retries: z.number().int().nonnegative().default(8),
  logLevel: z.enum(['nothing', 'error', 'warn', 'info', 'debug']).default('warn'),
  /** Extra librdkafka properties for the node-rdkafka client (https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md). */
  rdkafka: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  decode: z.custom<DecodeFn<unknown>>((v) => typeof v === 'function', 'must be a function (messages) => { values, times, deadLetters }'),
})

export type KafkaSourceConfig = z.output<typeof kafkaSourceOptionsSchema>
/** What callers pass: the schema's input, with decode typed for T. */
export type KafkaSourceOptions<T> = Omit<z.input<typeof kafkaSourceOptionsSchema>, 'decode'> & { decode: DecodeFn<T> }

/** Partition id used everywhere in the engine: "<topic>/<n>". */
export function partitionId(topic: string, partition: number): string {
  return `${topic}/${partition}`
}

export function parsePartitionId(id: string): { topic: string; partition: number } | null {
  const i = id.lastIndexOf('/')
  if (i <= 0) return null
  const partition = Number(id.slice(i + 1))
  if (!Number.isInteger(partition) || partition < 0) return null
  return { topic: id.slice(0, i), partition }
}
