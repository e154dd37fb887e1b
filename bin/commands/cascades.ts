// trendwire cascades --data DIR --obs 1h,6h,24h --out FILE.csv
//
// Predicts the 7-day retweet count of each cascade in DIR (RT<n>.txt files, format in
// benchmarks/cascades/data.ts) from the events up to each observation time, with the streaming
// point-process predictor (operators/virality/pointprocess.ts, built-in calibration). Events after an
// observation time are never shown to the predictor for that row.
//
// Output CSV, one row per (cascade, observation time):
//   cascade          file name without .txt
//   obs_hours        observation time in hours
//   observed_count   retweets at or before the observation time (the original post not counted)
//   predicted_count  predicted retweets at 168 h (the original post not counted), rounded
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { PointProcessModel } from '../../operators/virality/pointprocess.ts'
import { loadCascadeDir, parseDuration } from '../../benchmarks/cascades/data.ts'

export const summary = 'predict retweet cascades\' 7-day size from their first hours (point process) → CSV'

const USAGE = `usage: trendwire cascades --data DIR --out FILE.csv [--obs 1h,6h,24h]

  --data DIR    directory of cascade files RT<n>.txt (line 1 "<N> <start day>", then "<seconds> <followers>")
  --obs LIST    observation times, comma-separated durations (30m, 1h, 24h, …); default 1h,6h,24h
  --out FILE    CSV to write ("-" for standard output):
                cascade,obs_hours,observed_count,predicted_count`

export const CSV_HEADER = 'cascade,obs_hours,observed_count,predicted_count'

export default async function cascades(argv: string[]): Promise<number> {
  let values: { data?: string; obs?: string; out?: string; help?: boolean }
  try {
    values = parseArgs({
      args: argv,
      options: {
        data: { type: 'string' },
        obs: { type: 'string', default: '1h,6h,24h' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values
  } catch (err) {
    console.error(`trendwire cascades: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`)
    return 2
  }
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  if (!values.data || !values.out) {
    console.error(`trendwire cascades: --data and --out are required\n\n${USAGE}`)
    return 2
  }
  const obs = (values.obs ?? '').split(',').filter((s) => s.trim() !== '').map(parseDuration).sort((a, b) => a - b)
  if (obs.length === 0) {
    console.error('trendwire cascades: --obs needs at least one duration')
    return 2
  }
  const model = new PointProcessModel()
  const lines = [CSV_HEADER]
  for (const c of await loadCascadeDir(values.data)) {
    const st = model.createState(0, c.followers[0])
    let i = 1
    for (const T of obs) {
      // Feed exactly the retweets at or before T; the prediction never sees anything later.
      while (i < c.times.length && c.times[i] <= T) { model.observe(st, c.times[i], c.followers[i]); i++ }
      const p = model.predict(st, T)
      lines.push(`${c.name},${Number((T / 3600).toFixed(6))},${p.observed},${Math.round(p.predictedFinal)}`)
    }
  }
  const csv = lines.join('\n') + '\n'
  if (values.out === '-') process.stdout.write(csv)
  else await writeFile(values.out, csv)
  return 0
}
