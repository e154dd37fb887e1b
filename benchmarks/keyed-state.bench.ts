// KeyedState under churn: a bounded table (maxKeys) fed mostly new keys, so every set evicts the
// least recently updated key, with some updates to live keys (moved to the back). Compares the
// state against a plain Map that only inserts (the floor), in the same run.
//   node --expose-gc --import tsx benchmarks/keyed-state.bench.ts
import { KeyedState } from '../streams/state.ts'

const N = 1_000_000
const CAP = 100_000
const keys = Array.from({ length: N }, (_, i) => `post-${(i * 2654435761) % (N * 4)}`)

function churn(): number {
  const s = new KeyedState<string, number>({ ttlMs: 0, maxKeys: CAP })
  const t0 = performance.now()
  for (let i = 0; i < N; i++) {
    s.set(keys[i], i, i)
    if (i % 4 === 0 && i > 10) s.set(keys[i - 7], i, i) // an update moves a live key to the back
  }
  return performance.now() - t0
}

function plainMap(): number {
  const m = new Map<string, number>()
  const t0 = performance.now()
  for (let i = 0; i < N; i++) {
    m.set(keys[i], i)
    if (m.size > CAP) m.delete(keys[i - CAP])
  }
  return performance.now() - t0
}

const runs = 3
let best = Infinity
let bestMap = Infinity
for (let r = 0; r < runs; r++) {
  best = Math.min(best, churn())
  bestMap = Math.min(bestMap, plainMap())
}
console.table({
  'KeyedState, bounded, 1M sets (ms)': +best.toFixed(0),
  'plain Map insert + delete oldest by key (ms)': +bestMap.toFixed(0),
  'µs per set (KeyedState)': +((best * 1000) / (N * 1.25)).toFixed(3),
  'ratio to plain Map': +(best / bestMap).toFixed(2),
})
