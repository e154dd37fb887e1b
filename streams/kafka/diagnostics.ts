// Kafka source events on a diagnostics_channel, so tracing costs nothing when nobody listens
// (pino's approach): assignments, revocations, backpressure pauses, commits, client logs and failures.
// Tests subscribe to wait on these events instead of sleeping.
import diagnostics_channel from 'node:diagnostics_channel'

export type KafkaEvent =
  | { type: 'assign'; source: string; partitions: string[]; seeks: Record<string, string> }
  | { type: 'revoke-start'; source: string; partitions: string[] }
  | { type: 'revoke-done'; source: string; partitions: string[]; error?: unknown }
  | { type: 'pause' | 'resume'; source: string; queuedMessages: number; queuedBytes: number; reason: 'backpressure' | 'user' }
  | { type: 'rejected'; source: string; partition: string; messages: number }
  | { type: 'commit'; source: string; offsets: Record<string, string> }
  | { type: 'log'; source: string; level: 'error' | 'warn' | 'info' | 'debug'; message: string; extra?: Record<string, unknown> }
  | { type: 'failed'; source: string; error: unknown }

export const KAFKA_CHANNEL = 'trendwire:kafka'
export const kafkaChannel = diagnostics_channel.channel(KAFKA_CHANNEL)

export function publish(event: KafkaEvent): void {
  if (kafkaChannel.hasSubscribers) kafkaChannel.publish(event)
}
