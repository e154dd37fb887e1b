// npm run bench — runs every benchmarks/*.bench.ts (or the ones named) in its own process, one
// after another (the machine has two cores; parallel runs would disturb each other), and prints
// a summary. Each benchmark prints its own table and compares against a baseline in the same run.
//   npm run bench [-- windowed-count codec …]
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const wanted = process.argv.slice(2)
const all = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).map((f) => f.slice(0, -'.bench.ts'.length)).sort()
const chosen = wanted.length ? all.filter((b) => wanted.includes(b)) : all
const results: Array<{ benchmark: string; status: string; seconds: number }> = []
for (const b of chosen) {
  console.log(`\n=== ${b} ===`)
  const t0 = performance.now()
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, `${b}.bench.ts`)], { stdio: 'inherit' })
  results.push({ benchmark: b, status: r.status === 0 ? 'ok' : `failed (${r.status ?? r.signal})`, seconds: +((performance.now() - t0) / 1000).toFixed(1) })
}
console.log('\n=== summary ===')
console.table(results)
process.exitCode = results.every((r) => r.status === 'ok') ? 0 : 1
