// trendwire nab --data DIR --out DIR [--name NAME]
//
// Runs the streaming anomaly detector (operators/anomaly) over a corpus in the Numenta Anomaly
// Benchmark layout and writes NAB result files:
//   in:  DIR/<category>/<file>.csv          header `timestamp,value`, one row per step
//   out: OUT/<category>/<NAME>_<file>.csv   header `timestamp,value,anomaly_score`, one row per input
//        row in the same order; timestamp and value are copied as they were, the score is in [0, 1].
// Each file gets a fresh detector with the default options, fed one row at a time in file order:
// the score of a row depends on that row and the rows before it only.
import { createReadStream, createWriteStream, readdirSync, statSync, mkdirSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { Detector, type DetectorOptionsInput } from '../../operators/anomaly/index.ts'
import { TrendwireError } from '../../streams/errors.ts'

export const summary = 'run the anomaly detector over a NAB-layout corpus: --data DIR --out DIR [--name NAME]'

const USAGE = `usage: trendwire nab --data DIR --out DIR [--name NAME]

  --data DIR    corpus root: DIR/<category>/<file>.csv with header "timestamp,value"
  --out DIR     results root: OUT/<category>/<NAME>_<file>.csv (created if missing)
  --name NAME   detector name used in result file names, letters and digits only (default: trendwire)`

export default async function nab(argv: string[]): Promise<number> {
  let args
  try {
    args = parseArgs({
      args: argv,
      options: {
        data: { type: 'string' },
        out: { type: 'string' },
        name: { type: 'string', default: 'trendwire' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    })
  } catch (err) {
    console.error(`trendwire nab: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const { data, out, name, help } = args.values
  if (help) {
    console.log(USAGE)
    return 0
  }
  if (!data || !out) {
    console.error(`trendwire nab: --data and --out are required\n${USAGE}`)
    return 2
  }
  if (!/^[A-Za-z0-9]+$/.test(name!)) {
    console.error(`trendwire nab: --name must be letters and digits only, got "${name}"`)
    return 2
  }
  const files = listCorpus(data)
  if (files.length === 0) {
    console.error(`trendwire nab: no <category>/<file>.csv under ${data}`)
    return 1
  }
  const started = performance.now()
  let rows = 0
  for (const f of files) {
    mkdirSync(join(out, f.category), { recursive: true })
    rows += await detectFile(join(data, f.category, f.file), join(out, f.category, `${name}_${f.file}`))
  }
  const secs = (performance.now() - started) / 1000
  console.error(`trendwire nab: ${files.length} files, ${rows} rows in ${secs.toFixed(1)} s -> ${out}`)
  return 0
}

export interface CorpusFile {
  category: string
  file: string
}

/** DIR/<category>/<file>.csv, sorted by category then file. */
export function listCorpus(dir: string): CorpusFile[] {
  let categories: string[]
  try {
    categories = readdirSync(dir).filter((c) => !c.startsWith('.') && statSync(join(dir, c)).isDirectory())
  } catch (err) {
    throw new TrendwireError('CONFIG_INVALID', `cannot read data directory ${dir}: ${(err as Error).message}`, { cause: err })
  }
  const out: CorpusFile[] = []
  for (const category of categories.sort()) {
    for (const file of readdirSync(join(dir, category)).sort()) {
      if (file.endsWith('.csv') && !file.startsWith('.')) out.push({ category, file })
    }
  }
  return out
}

/** NAB timestamps: "YYYY-MM-DD HH:MM:SS[.ffffff]", read as UTC; anything Date.parse accepts otherwise. */
export function parseTimestamp(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(s)
  if (m) {
    const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms)
  }
  return Date.parse(s)
}

const FLUSH_BYTES = 1 << 16

/**
 * Streams one input file through a fresh detector and writes the result file.
 * Output lines are buffered into ~64 KiB chunks, and we wait for 'drain' when the stream is full.
 */
export async function detectFile(inPath: string, outPath: string, options?: DetectorOptionsInput): Promise<number> {
  const detector = new Detector(options)
  const input = createInterface({ input: createReadStream(inPath, { encoding: 'utf8' }), crlfDelay: Infinity })
  const output = createWriteStream(outPath, { encoding: 'utf8' })
  let chunk = 'timestamp,value,anomaly_score\n'
  let line = 0
  let rows = 0
  try {
    for await (const raw of input) {
      line++
      const text = raw.trim()
      if (line === 1) {
        if (text.replace(/\s/g, '') !== 'timestamp,value') {
          throw new TrendwireError('INPUT_SCHEMA_MISMATCH', `${inPath}:1: expected header "timestamp,value", got "${text}"`)
        }
        continue
      }
      if (text === '') continue
      const comma = text.indexOf(',')
      if (comma < 0 || text.indexOf(',', comma + 1) >= 0) {
        throw new TrendwireError('INPUT_MALFORMED', `${inPath}:${line}: expected 2 columns, got "${text}"`)
      }
      const ts = text.slice(0, comma)
      const valueText = text.slice(comma + 1)
      const time = parseTimestamp(ts)
      if (!Number.isFinite(time)) throw new TrendwireError('INPUT_BAD_TIMESTAMP', `${inPath}:${line}: bad timestamp "${ts}"`)
      const value = Number(valueText)
      if (valueText.trim() === '' || !Number.isFinite(value)) {
        throw new TrendwireError('INPUT_MALFORMED', `${inPath}:${line}: value is not a finite number: "${valueText}"`)
      }
      const score = detector.update(value, time).score
      chunk += `${ts},${valueText},${score}\n`
      rows++
      if (chunk.length >= FLUSH_BYTES) {
        if (!output.write(chunk)) await once(output, 'drain')
        chunk = ''
      }
    }
    output.end(chunk)
    await once(output, 'finish')
  } catch (err) {
    output.destroy()
    throw err
  } finally {
    input.close()
  }
  return rows
}
