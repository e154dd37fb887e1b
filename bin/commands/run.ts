// trendwire run — the main job on the embedded default: the synthetic firehose, paced in real
// time, through every topology into embedded ClickHouse (chDB), with the API, the live WebSocket
// feed, the Trend Radar and the Reel generator on localhost (server/job.ts).
// State is checkpointed to the data folder; run it again and it resumes where it stopped.
import { rmSync } from 'node:fs'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { startMainJob } from '../../server/job.ts'
import { TrendwireError } from '../../streams/errors.ts'

export const summary = 'run the main job: synthetic firehose → all topologies → embedded ClickHouse; API, live feed and Trend Radar on localhost'

export default async function run(argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string', default: '1' },
      rate: { type: 'string', default: '200' },
      speed: { type: 'string', default: '20' },
      partitions: { type: 'string', default: '4' },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'data-dir': { type: 'string', default: '.trendwire' },
      'duration-sec': { type: 'string', default: '0' },
      'late-fraction': { type: 'string', default: '0.002' },
      clickhouse: { type: 'string', default: process.env.TRENDWIRE_CLICKHOUSE_URL ?? 'embedded' },
      fresh: { type: 'boolean', default: false },
      brokers: { type: 'string' },
      topic: { type: 'string', default: 'firehose' },
      group: { type: 'string', default: 'trendwire' },
      'kafka-client': { type: 'string', default: 'kafkajs' },
      format: { type: 'string', default: 'avro' },
      'schema-registry': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (a.help) {
    console.log(`usage: trendwire run [--seed N] [--rate EVENTS_PER_S] [--speed X] [--partitions N] [--port 8080] [--host 127.0.0.1]
                     [--data-dir .trendwire] [--duration-sec S] [--late-fraction F] [--clickhouse embedded|URL|off] [--fresh]
                     [--brokers HOST:PORT,… [--topic firehose] [--group trendwire] [--kafka-client kafkajs|node-rdkafka]
                      [--format avro|json] [--schema-registry URL]]   read the firehose from Kafka instead of generating it`)
    return 0
  }
  const num = (k: keyof typeof a) => {
    const v = Number(a[k])
    if (!Number.isFinite(v)) throw new TrendwireError('CONFIG_INVALID', `--${k}: "${a[k]}" is not a number`)
    return v
  }
  const log = pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
  const dir = a['data-dir']!
  if (a.fresh) rmSync(dir, { recursive: true, force: true })
  if (a['kafka-client'] !== 'kafkajs' && a['kafka-client'] !== 'node-rdkafka') throw new TrendwireError('CONFIG_INVALID', `--kafka-client: "${a['kafka-client']}" is not kafkajs or node-rdkafka`)
  if (a.format !== 'avro' && a.format !== 'json') throw new TrendwireError('CONFIG_INVALID', `--format: "${a.format}" is not avro or json`)
  const kafka = a.brokers ? {
    brokers: a.brokers.split(',').map((b) => b.trim()).filter(Boolean), topic: a.topic!, groupId: a.group!,
    client: a['kafka-client'], format: a.format, schemaRegistryUrl: a['schema-registry'],
  } as const : undefined
  const job = await startMainJob({
    dataDir: dir, port: num('port'), host: a.host!, logger: log, clickhouse: a.clickhouse!, kafka,
    source: {
      seed: num('seed'), eventsPerSecond: num('rate'), realtime: true, speed: num('speed'), partitions: num('partitions'),
      lateFraction: num('late-fraction'), outOfOrderMs: 2_000, lateByMs: 3 * 60_000, warmupMs: 30 * 60_000,
    },
  })
  log.info({ radar: job.radarUrl, api: `${job.http.url}/api/openapi.json`, status: `${job.http.url}/`, sql: `${job.http.url}/clickhouse/?query=SELECT+1`, dataDir: dir },
    'trendwire is running — open the Trend Radar; Ctrl-C stops with a checkpoint')
  const stop = () => { log.info('stopping: final checkpoints'); void job.stop() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const durationSec = num('duration-sec')
  const timer = durationSec > 0 ? setTimeout(stop, durationSec * 1000) : null
  try {
    await job.done
  } finally {
    if (timer) clearTimeout(timer)
    await job.stop()
  }
  return 0
}
