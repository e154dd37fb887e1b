// Kafka sources: one Source<T> per client library behind the same options (options.ts).
//   kafkajs       pure JavaScript, always installed (default)
//   node-rdkafka  librdkafka bindings, the fast path; an optional dependency, loaded on demand
// Each assigned topic partition is its own source partition "<topic>/<n>" with its own watermark.
import { parseOptions } from '../config.ts'
import { TrendwireError } from '../errors.ts'
import type { KafkaSourceBase } from './base.ts'
import type { RdkafkaModule } from './rdkafka.ts'
import { kafkaSourceOptionsSchema, type KafkaSourceOptions } from './options.ts'

export type { DecodeFn, Decoded, KafkaMessage, KafkaSourceOptions, KafkaSourceConfig } from './options.ts'
export { kafkaSourceOptionsSchema, partitionId, parsePartitionId } from './options.ts'
export { KAFKA_CHANNEL, kafkaChannel, type KafkaEvent } from './diagnostics.ts'

export type KafkaSource<T> = KafkaSourceBase<T>

/** Validates the options and builds the source for the chosen client. Fails at start on bad config or a missing client. */
export async function createKafkaSource<T>(options: KafkaSourceOptions<T>): Promise<KafkaSource<T>> {
  const cfg = parseOptions('kafka source', kafkaSourceOptionsSchema, options)
  if (cfg.client === 'node-rdkafka') {
    const lib = await loadRdkafka()
    const { RdkafkaSource } = await import('./rdkafka.ts')
    return new RdkafkaSource<T>(cfg, lib)
  }
  const lib = (await import('kafkajs')).default
  const { KafkajsSource } = await import('./kafkajs.ts')
  return new KafkajsSource<T>(cfg, lib)
}

/**
 * node-rdkafka is optional (it needs librdkafka to build); import it only when asked for. The name
 * is a variable so TypeScript does not resolve it: the project typechecks where it is not installed.
 */
export async function loadRdkafka(): Promise<RdkafkaModule> {
  const name = 'node-rdkafka'
  try {
    const mod = (await import(name)) as { default?: RdkafkaModule } & RdkafkaModule
    return mod.default ?? mod
  } catch (e) {
    throw new TrendwireError(
      'CONFIG_INVALID',
      'kafka source: client "node-rdkafka" is not installed or did not build (it is an optional dependency; it needs librdkafka-dev, see docs/kafka.md). Use client "kafkajs" or install it.',
      { cause: e },
    )
  }
}

/** True when node-rdkafka can be loaded here. */
export async function rdkafkaAvailable(): Promise<boolean> {
  try {
    await loadRdkafka()
    return true
  } catch {
    return false
  }
}
