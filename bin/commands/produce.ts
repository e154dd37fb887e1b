// trendwire produce: write firehose events (an NDJSON file, or the synthetic firehose) to a Kafka
// topic, keyed by partitionKey, as JSON or Confluent-framed Avro (schemas/codec.ts).
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import type { FirehoseEvent } from '../../schemas/events.ts'
import { produceEvents, jsonEncoder, type Encoder, type ProduceProgress } from '../../streams/kafka/producer.ts'

export const summary = 'write events (NDJSON file or synthetic) to a Kafka topic, keyed by partitionKey'

const USAGE = `usage: trendwire produce --brokers HOST:PORT[,HOST:PORT] --topic firehose --source FILE.ndjson|synthetic [options]

  --brokers LIST          bootstrap brokers (e.g. the address \`trendwire broker\` prints)
  --topic NAME            topic to write (must exist)
  --source FILE|synthetic NDJSON file of FirehoseEvents (one per line; - for stdin), or the synthetic firehose
  --format json|avro      message encoding (default json); avro = Confluent wire format via schemas/codec.ts
  --registry URL          Schema Registry for avro (default: the local registry in schemas/avro)
  --rate N|max            events per second (default max)
  --events-per-message N  JSON only: N events per message, as a JSON array (default 1)
  --client kafkajs|node-rdkafka   (default kafkajs)
  --events N              synthetic: how many events (default 100000)
  --seed N                synthetic: PRNG seed (default 1)
  --ssl                   TLS with the system CAs
  --sasl-mechanism plain|scram-sha-256|scram-sha-512 --sasl-username U  (password from $KAFKA_SASL_PASSWORD)`

async function* ndjson(path: string, chunk = 1000): AsyncGenerator<FirehoseEvent[]> {
  const input = path === '-' ? process.stdin : createReadStream(path, 'utf8')
  const lines = createInterface({ input, crlfDelay: Infinity })
  let out: FirehoseEvent[] = []
  let n = 0
  for await (const line of lines) {
    n++
    if (!line.trim()) continue
    try {
      out.push(JSON.parse(line) as FirehoseEvent)
    } catch (e) {
      throw new Error(`${path}:${n}: not JSON: ${(e as Error).message}`)
    }
    if (out.length >= chunk) { yield out; out = [] }
  }
  if (out.length) yield out
}

async function synthetic(events: number, seed: number): Promise<Iterable<FirehoseEvent[]>> {
  const { iterateEvents } = await import('../../streams/sources/synthetic.ts')
  return { [Symbol.iterator]: () => iterateEvents({ maxEvents: events, seed }, 10_000) } as Iterable<FirehoseEvent[]>
}

/** The Avro encoder from schemas/codec.ts: one event per message, framed with its schema id. */
async function avroEncoder(topic: string, registryUrl: string | undefined): Promise<Encoder> {
  const { FirehoseCodec } = await import('../../schemas/codec.ts')
  let registry
  if (registryUrl) {
    const { ConfluentSchemaRegistry } = await import('../../schemas/registry.ts')
    registry = await ConfluentSchemaRegistry.create({ url: registryUrl })
  }
  const codec = await FirehoseCodec.create({ defaultFormat: 'avro', encodeTopic: topic }, { registry })
  return (events, t) => {
    if (events.length !== 1) throw new Error('avro: one event per message (drop --events-per-message)')
    return codec.encode(events[0], t)
  }
}

export default async function produce(argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      brokers: { type: 'string' }, topic: { type: 'string' }, source: { type: 'string' },
      format: { type: 'string', default: 'json' }, registry: { type: 'string' }, rate: { type: 'string', default: 'max' },
      'events-per-message': { type: 'string', default: '1' }, client: { type: 'string', default: 'kafkajs' },
      events: { type: 'string', default: '100000' }, seed: { type: 'string', default: '1' },
      ssl: { type: 'boolean' }, 'sasl-mechanism': { type: 'string' }, 'sasl-username': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (a.help) { console.log(USAGE); return 0 }
  if (!a.brokers || !a.topic || !a.source) { console.error(USAGE); return 2 }
  if (a.format !== 'json' && a.format !== 'avro') throw new Error(`--format: json or avro, not ${JSON.stringify(a.format)}`)
  const rate = a.rate === 'max' ? 'max' : Number(a.rate)
  if (rate !== 'max' && !(rate > 0)) throw new Error(`--rate: a positive number or max, not ${JSON.stringify(a.rate)}`)
  const perMessage = Number(a['events-per-message'])
  const encoder = a.format === 'avro' ? await avroEncoder(a.topic, a.registry) : jsonEncoder
  const events = a.source === 'synthetic' ? await synthetic(Number(a.events), Number(a.seed)) : ndjson(a.source)

  const report = (p: ProduceProgress, final = false): void => {
    const secs = Math.max(p.elapsedMs / 1000, 1e-3)
    const line = `${p.events} events, ${p.messages} messages, ${(p.bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(1)} s (${Math.round(p.events / secs)} events/s)`
    if (process.stderr.isTTY && !final) process.stderr.write(`\r${line}   `)
    else console.error(line)
  }
  const result = await produceEvents(
    {
      client: a.client as 'kafkajs' | 'node-rdkafka',
      brokers: a.brokers,
      topic: a.topic,
      rate,
      eventsPerMessage: perMessage,
      encoder,
      ssl: a.ssl ?? false,
      sasl: a['sasl-mechanism'] ? { mechanism: a['sasl-mechanism'] as 'plain', username: a['sasl-username'] ?? '', password: process.env.KAFKA_SASL_PASSWORD ?? '' } : undefined,
    },
    events,
    (p) => report(p),
  )
  if (process.stderr.isTTY) process.stderr.write('\n')
  report(result, true)
  return 0
}
