// NAB benchmark: runs `trendwire nab` (the same code path as the CLI) over the corpus, scores the
// result files with NAB's scoring (score.ts) and prints the three normalised scores next to the
// published ones on the same 48 series.
//
//   npx tsx benchmarks/nab/run.ts [--data DIR] [--out DIR] [--name NAME] [--details]
//
// DIR is the NAB root: DIR/data/<category>/<file>.csv, DIR/labels/combined_windows.json,
// DIR/profiles.json. Default: ../shared/data/nab relative to the repository root.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import nab from '../../bin/commands/nab.ts'
import { parseNabTime, scoreCorpus, type CostMatrix, type ProfileResult, type ScoredFile } from './score.ts'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Published normalised scores on the same 48 series (standard / reward_low_FP_rate / reward_low_FN_rate). */
export const PUBLISHED: ReadonlyArray<[string, number, number, number]> = [
  ['ARTime', 72.1, 63.2, 77.4],
  ['Numenta HTM', 70.9, 65.0, 75.0],
  ['CAD OSE', 68.1, 64.5, 71.9],
  ['Random Cut Forest', 56.2, 45.2, 64.0],
  ['KNN CAD', 55.5, 43.9, 61.5],
  ['Twitter ADVec', 42.1, 32.7, 47.3],
]

const PROFILE_ORDER = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']

/** Reads OUT/<category>/<name>_<file>.csv for every labelled file and checks it against the data file. */
export function loadResults(dataRoot: string, outDir: string, name: string): ScoredFile[] {
  const labels = JSON.parse(readFileSync(join(dataRoot, 'labels', 'combined_windows.json'), 'utf8')) as Record<string, [string, string][]>
  const files: ScoredFile[] = []
  for (const rel of Object.keys(labels).sort()) {
    const [category, file] = rel.split('/')
    const data = readRows(join(dataRoot, 'data', category, file), 2)
    const result = readRows(join(outDir, category, `${name}_${file}`), 3)
    if (result.length !== data.length) throw new Error(`${rel}: ${result.length} result rows for ${data.length} data rows`)
    const timestamps: number[] = []
    const scores = new Float64Array(result.length)
    for (let i = 0; i < result.length; i++) {
      if (result[i][0] !== data[i][0]) throw new Error(`${rel}: row ${i + 1} timestamp ${result[i][0]} differs from the data (${data[i][0]})`)
      const t = parseNabTime(result[i][0])
      const s = Number(result[i][2])
      if (!Number.isFinite(t)) throw new Error(`${rel}: bad timestamp ${result[i][0]}`)
      if (!(s >= 0 && s <= 1)) throw new Error(`${rel}: row ${i + 1}: anomaly_score ${result[i][2]} is not in [0, 1]`)
      timestamps.push(t)
      scores[i] = s
    }
    const windows = labels[rel].map(([a, b]) => [parseNabTime(a), parseNabTime(b)] as const)
    files.push({ name: rel, timestamps, scores, windows })
  }
  return files
}

function readRows(path: string, columns: number): string[][] {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/)
  const rows: string[][] = []
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue
    const cols = lines[i].split(',')
    if (cols.length < columns) throw new Error(`${path}:${i + 1}: expected ${columns} columns`)
    rows.push(cols)
  }
  return rows
}

export function loadProfiles(dataRoot: string): Record<string, CostMatrix> {
  const raw = JSON.parse(readFileSync(join(dataRoot, 'profiles.json'), 'utf8')) as Record<string, { CostMatrix: CostMatrix }>
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v.CostMatrix]))
}

export function formatTable(name: string, results: ProfileResult[]): string {
  const byProfile = new Map(results.map((r) => [r.profile, r]))
  const mine = PROFILE_ORDER.map((p) => byProfile.get(p)?.normalized ?? NaN)
  const rows: [string, number[]][] = [[`${name} (this run)`, mine], ...PUBLISHED.map(([d, ...s]): [string, number[]] => [d, s])]
  rows.sort((a, b) => b[1][0] - a[1][0])
  const w = Math.max(...rows.map((r) => r[0].length))
  const head = `${'detector'.padEnd(w)}  ${'standard'.padStart(8)}  ${'low FP'.padStart(8)}  ${'low FN'.padStart(8)}`
  const lines = rows.map(([d, s]) => `${d.padEnd(w)}  ${s.map((x) => x.toFixed(1).padStart(8)).join('  ')}`)
  return [head, '-'.repeat(head.length), ...lines].join('\n')
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: resolve(repoRoot, '..', 'shared', 'data', 'nab') },
      out: { type: 'string' },
      name: { type: 'string', default: 'trendwire' },
      details: { type: 'boolean', default: false },
    },
  })
  const dataRoot = resolve(values.data!)
  const outDir = values.out ? resolve(values.out) : mkdtempSync(join(tmpdir(), 'trendwire-nab-'))
  try {
    const started = performance.now()
    const code = await nab(['--data', join(dataRoot, 'data'), '--out', outDir, '--name', values.name!])
    if (code !== 0) return code
    const detectSecs = (performance.now() - started) / 1000
    const files = loadResults(dataRoot, outDir, values.name!)
    const results = scoreCorpus(files, loadProfiles(dataRoot))
    const windows = files.reduce((a, f) => a + f.windows.length, 0)
    console.log(`NAB: ${files.length} files, ${windows} windows, detection ${detectSecs.toFixed(1)} s\n`)
    console.log(formatTable(values.name!, results))
    console.log()
    for (const r of results) {
      const detected = r.files.reduce((a, f) => a + f.detected, 0)
      const fp = r.files.reduce((a, f) => a + f.fpRows, 0)
      console.log(
        `${r.profile.padEnd(19)} threshold ${r.threshold.toFixed(4)}  raw ${r.raw.toFixed(2)} (null ${r.nullScore.toFixed(2)}, perfect ${r.perfect.toFixed(2)})  windows detected ${detected}/${windows}  false-positive rows ${fp}`,
      )
    }
    if (values.details) {
      const std = results.find((r) => r.profile === 'standard') ?? results[0]
      console.log(`\nper file (${std.profile} profile):`)
      for (const f of std.files) {
        console.log(`  ${f.name.padEnd(58)} ${f.score.toFixed(2).padStart(6)}  windows ${f.detected}/${f.windows}  fp rows ${f.fpRows}  [${f.windowScores.map((x) => x.toFixed(2)).join(' ')}]`)
      }
    }
    return 0
  } finally {
    if (!values.out) rmSync(outDir, { recursive: true, force: true })
  }
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (err) => {
    console.error(`nab benchmark: ${err instanceof Error ? err.message : String(err)}`)
    process.exitCode = 1
  },
)
