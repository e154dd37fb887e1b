// trendwire broker: a local Kafka-protocol broker for development (librdkafka's mock cluster, the
// same one the tests use: tests/kafka-mock/kafka-mock.c, built by tests/setup/kafka.sh). Not for
// production: data lives in memory and is gone when it stops.
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { KafkaMock } from '../../tests/helpers/kafka.ts'

export const summary = 'run a local mock Kafka cluster (librdkafka mock) and print its bootstrap address'

const USAGE = `usage: trendwire broker [--topics firehose:8,dead-letters:1] [--brokers 3]

Prints "BOOTSTRAP host:port,..." and runs until Ctrl-C. Lines typed on stdin are mock commands
(answered OK/ERR): topic NAME PARTITIONS | down ID | up ID | errors APIKEY ERR[,ERR] |
clear-errors APIKEY | leader TOPIC PARTITION ID | rtt ID MS | coordinator group KEY ID.`

export default async function broker(argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: { topics: { type: 'string', default: 'firehose:8,dead-letters:1' }, brokers: { type: 'string', default: '3' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  })
  if (a.help) { console.log(USAGE); return 0 }
  const topics: Record<string, number> = {}
  for (const spec of a.topics!.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^:\s]+):(\d+)$/.exec(spec)
    if (!m || Number(m[2]) < 1) throw new Error(`--topics: want NAME:PARTITIONS[,...], got ${JSON.stringify(spec)}`)
    topics[m[1]] = Number(m[2])
  }
  const brokers = Number(a.brokers)
  if (!Number.isInteger(brokers) || brokers < 1 || brokers > 32) throw new Error('--brokers: 1..32')

  const mock = await KafkaMock.start({ brokers, topics, stderr: 'inherit' })
  console.log(`BOOTSTRAP ${mock.bootstrap}`)
  console.error(`mock Kafka cluster: ${brokers} broker(s), topics ${Object.entries(topics).map(([t, n]) => `${t}(${n})`).join(', ')}; Ctrl-C to stop`)

  const stop = (): void => { void mock.stop() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  if (!process.stdin.isTTY || process.stdin.readable) {
    const lines = createInterface({ input: process.stdin })
    lines.on('line', (line) => {
      if (!line.trim()) return
      mock.command(line.trim()).then(() => console.log(`OK ${line.trim()}`), (e: Error) => console.log(e.message))
    })
    // stdin closed (e.g. run from a script with </dev/null): keep running until a signal.
  }
  const code = await mock.waitExit()
  process.stdin.pause()
  return code === 0 || code === null ? 0 : 1
}
