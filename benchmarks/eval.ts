// npm run eval — runs every quality evaluation, one after another, each in its own process:
//   nab        the anomaly detector on the 48 NAB series (benchmarks/nab/run.ts)
//   cascades   virality point process on the 50 retweet cascades (benchmarks/cascades/run.ts)
//   trends     trend detection on the synthetic firehose's injected trends (benchmarks/trends/run.ts)
//   virality   top-1% probability ROC/PR AUC on held-out synthetic seeds (benchmarks/virality/eval.ts)
// `npm run eval -- nab cascades` runs a subset. Figures are kept in each folder's README.md and
// summarised in benchmarks/README.md.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const evals: Record<string, string> = {
  nab: 'nab/run.ts',
  cascades: 'cascades/run.ts',
  trends: 'trends/run.ts',
  virality: 'virality/eval.ts',
}
const wanted = process.argv.slice(2)
const results: Array<{ evaluation: string; status: string; seconds: number }> = []
for (const [name, file] of Object.entries(evals)) {
  if (wanted.length && !wanted.includes(name)) continue
  const path = join(here, file)
  if (!existsSync(path)) {
    results.push({ evaluation: name, status: 'missing', seconds: 0 })
    continue
  }
  console.log(`\n=== ${name} ===`)
  const t0 = performance.now()
  const r = spawnSync(process.execPath, ['--import', 'tsx', path], { stdio: 'inherit' })
  results.push({ evaluation: name, status: r.status === 0 ? 'ok' : `failed (${r.status ?? r.signal})`, seconds: +((performance.now() - t0) / 1000).toFixed(1) })
}
console.log('\n=== summary ===')
console.table(results)
process.exitCode = results.every((r) => r.status === 'ok') ? 0 : 1
