// trendwire run — the main job on the embedded default: the synthetic firehose, paced in real
// time, through the topologies, into local files, with a live status page on localhost.
// State is checkpointed to the data folder; run it again and it resumes where it stopped.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { startStatusServer } from '../../server/status.ts'
import { NdjsonFileSink } from '../../sinks/file.ts'
import { TopNByWindowSink } from '../../sinks/memory.ts'
import { TeeSink } from '../../sinks/tee.ts'
import { FileCheckpointStore } from '../../streams/checkpoint.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { Runner } from '../../streams/runner.ts'
import { SyntheticSource } from '../../streams/sources/synthetic.ts'
import type { DeadLetter } from '../../streams/types.ts'
import { hashtagActivity, type HashtagWindowCount } from '../../topologies/hashtag-activity.ts'

export const summary = 'run the main job: synthetic firehose → topologies → local sinks, status page on localhost'

export default async function run(argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string', default: '1' },
      rate: { type: 'string', default: '200' },
      speed: { type: 'string', default: '20' },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'data-dir': { type: 'string', default: '.trendwire' },
      'duration-sec': { type: 'string', default: '0' },
      'late-fraction': { type: 'string', default: '0.002' },
      fresh: { type: 'boolean', default: false },
    },
  })
  const num = (k: keyof typeof a) => {
    const v = Number(a[k])
    if (!Number.isFinite(v)) throw new TrendwireError('CONFIG_INVALID', `--${k}: "${a[k]}" is not a number`)
    return v
  }
  const log = pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
  const dir = a['data-dir']!
  if (a.fresh) rmSync(dir, { recursive: true, force: true })
  const durationSec = num('duration-sec')

  const source = new SyntheticSource({
    seed: num('seed'), eventsPerSecond: num('rate'), realtime: true, speed: num('speed'),
    partitions: 4, lateFraction: num('late-fraction'), outOfOrderMs: 2_000, lateByMs: 3 * 60_000, warmupMs: 30 * 60_000,
  })
  const top = new TopNByWindowSink<HashtagWindowCount>('top-hashtags', (r) => r.hashtag, (r) => r.count, 15, (rows) => {
    log.info({ window: new Date(rows[0].windowStart).toISOString(), top: rows.slice(0, 5).map((r) => `#${r.hashtag}:${r.count}`).join(' ') }, 'hashtag uses, closed minute')
  })
  const topology = hashtagActivity(source, {
    hashtagUses: new TeeSink('hashtag-uses', [new NdjsonFileSink('hashtag-uses-file', join(dir, 'out', 'hashtag-uses.ndjson')), top]),
    hashtagEngagement: new NdjsonFileSink('hashtag-engagement', join(dir, 'out', 'hashtag-engagement.ndjson')),
    late: new NdjsonFileSink('late', join(dir, 'out', 'late.ndjson')),
  })
  const runner = new Runner(topology, { checkpointIntervalMs: 5_000, maxBatchRecords: 2048 }, {
    store: new FileCheckpointStore(join(dir, 'checkpoints'), topology.name),
    logger: log,
    deadLetterSink: new NdjsonFileSink<DeadLetter>('dead-letters', join(dir, 'out', 'dead-letters.ndjson'), {
      format: (d) => JSON.stringify({ ...(d as DeadLetter), payload: Buffer.from((d as DeadLetter).payload).toString('base64') }),
    }),
  })
  const port = num('port')
  const status = await startStatusServer([runner], { port, host: a.host, results: () => ({ topHashtags: top.top }) })
  log.info({ url: status.url, dataDir: dir }, 'trendwire is running: open the status page; Ctrl-C stops with a checkpoint')
  const stop = () => { log.info('stopping: final checkpoint'); runner.stop() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const timer = durationSec > 0 ? setTimeout(stop, durationSec * 1000) : null
  try {
    const s = await runner.run()
    log.info({ records: s.recordsIn, checkpoint: s.checkpointId, late: s.lateRecords }, 'stopped')
  } finally {
    if (timer) clearTimeout(timer)
    await status.close()
  }
  return 0
}
