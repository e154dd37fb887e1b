// trendwire generate: write the synthetic firehose as NDJSON (one FirehoseEvent per line, in delivery
// order) and, optionally, its ground-truth labels as JSON. See docs/synthetic-firehose.md.
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import type { Writable } from 'node:stream'
import { FirehoseGenerator, writeLabelsFile, type SyntheticOptionsInput } from '../../streams/sources/synthetic.ts'

export const summary = 'write the synthetic firehose as NDJSON (+ ground-truth labels)'

const USAGE = `usage: trendwire generate [--seed N] [--events N | --duration 6h] [--out events.ndjson] [--labels labels.json] [options]

  --seed N               PRNG seed (default 1); same seed, same stream
  --events N             stop after N events (default 100000 unless --duration is given)
  --duration D           event time to cover, e.g. 90s, 30m, 6h, 2d (or ms)
  --eps N                mean events per event-time second (default 50)
  --start ISO            start of event time (default 2024-06-01T00:00:00Z)
  --warmup D             simulate D before the start so engagement starts in steady state
  --partitions N         partitions (default 4); only affects the labels' partition/offset fields
  --out-of-order D       bound on out-of-orderness (default 2s)
  --late-fraction F      fraction of engagement/creator events made late (default 0)
  --late-by D            how late (default 5m; must exceed --out-of-order)
  --creators N --hashtags N --sounds N --trends N --crises N
  --skip-label-completion  do not simulate live posts to their 24 h horizon (faster; labels marked incomplete)
  --out PATH             NDJSON output (default: stdout)
  --labels PATH          labels JSON output`

/** "90s", "30m", "6h", "2d", "1500ms" or a bare number of milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(s.trim())
  if (!m) throw new Error(`bad duration ${JSON.stringify(s)} (use e.g. 90s, 30m, 6h, 2d)`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms']
  return Math.round(Number(m[1]) * unit)
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n)) throw new Error(`--${name}: not a number: ${JSON.stringify(v)}`)
  return n
}

export default async function generate(argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' }, events: { type: 'string' }, duration: { type: 'string' }, eps: { type: 'string' },
      start: { type: 'string' }, warmup: { type: 'string' }, partitions: { type: 'string' },
      'out-of-order': { type: 'string' }, 'late-fraction': { type: 'string' }, 'late-by': { type: 'string' },
      creators: { type: 'string' }, hashtags: { type: 'string' }, sounds: { type: 'string' }, trends: { type: 'string' }, crises: { type: 'string' },
      'skip-label-completion': { type: 'boolean' },
      out: { type: 'string' }, labels: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (a.help) { console.log(USAGE); return 0 }

  let startTime: number | undefined
  if (a.start !== undefined) {
    startTime = Date.parse(a.start)
    if (Number.isNaN(startTime)) throw new Error(`--start: not a date: ${JSON.stringify(a.start)}`)
  }
  const durationMs = a.duration !== undefined ? parseDuration(a.duration) : undefined
  const opts: SyntheticOptionsInput = {
    seed: int('seed', a.seed) ?? 1,
    maxEvents: int('events', a.events) ?? (durationMs === undefined ? 100_000 : undefined),
    durationMs,
    eventsPerSecond: int('eps', a.eps),
    startTime,
    warmupMs: a.warmup !== undefined ? parseDuration(a.warmup) : undefined,
    partitions: int('partitions', a.partitions),
    outOfOrderMs: a['out-of-order'] !== undefined ? parseDuration(a['out-of-order']) : undefined,
    lateFraction: int('late-fraction', a['late-fraction']),
    lateByMs: a['late-by'] !== undefined ? parseDuration(a['late-by']) : undefined,
    creators: int('creators', a.creators),
    hashtags: int('hashtags', a.hashtags),
    sounds: int('sounds', a.sounds),
    trends: int('trends', a.trends),
    crises: int('crises', a.crises),
    completeLabels: a['skip-label-completion'] ? false : undefined,
  }
  for (const k of Object.keys(opts) as (keyof SyntheticOptionsInput)[]) if (opts[k] === undefined) delete opts[k]

  const t0 = performance.now()
  const g = new FirehoseGenerator(opts)
  const toStdout = a.out === undefined || a.out === '-'
  const out: Writable = toStdout ? process.stdout : createWriteStream(a.out!)
  let chunk = ''
  let bytes = 0
  while (g.next()) {
    chunk += JSON.stringify(g.event) + '\n'
    if (chunk.length >= 1 << 20) {
      bytes += Buffer.byteLength(chunk)
      if (!out.write(chunk)) await once(out, 'drain')
      chunk = ''
    }
  }
  if (chunk.length > 0) { bytes += Buffer.byteLength(chunk); out.write(chunk) }
  if (!toStdout) {
    out.end()
    await once(out, 'finish')
  }
  const genMs = performance.now() - t0
  const n = g.count
  let labelNote = ''
  if (a.labels !== undefined) {
    const labels = g.labels()
    await writeLabelsFile(a.labels, labels)
    labelNote = `; labels → ${a.labels}: ${labels.posts.length} posts, ${labels.trends.length} trends, ${labels.crises.length} crises, ${labels.late.length} late events`
  }
  console.error(
    `trendwire generate: ${n} events (${(bytes / 1e6).toFixed(1)} MB) in ${(genMs / 1000).toFixed(2)} s ` +
    `(${Math.round(n / (genMs / 1000))} events/s)${toStdout ? '' : ` → ${a.out}`}${labelNote}`,
  )
  return 0
}
