// Benchmark inputs. Hashtag uses come from the synthetic firehose's model: Zipf-popular hashtags
// (exponent 0.9 over the vocabulary), posts arriving at a steady event-time rate with bounded
// disorder, deterministic for the seed.
import { AliasTable, Rng, zipfWeights } from '../streams/sources/prng.ts'

export function hashtagUses(n: number, vocabulary: number, seed = 7, perMinute = 150_000, disorderMs = 4_000) {
  const rng = new Rng(seed, 'bench-hashtags')
  const table = new AliasTable(zipfWeights(vocabulary, 0.9))
  const names = Array.from({ length: vocabulary }, (_, i) => `#tag${i}`)
  const uses = new Array<{ tag: string }>(n)
  const times = new Array<number>(n)
  const t0 = Date.UTC(2026, 10, 1)
  const step = 60_000 / perMinute
  const seen = new Set<number>()
  for (let i = 0; i < n; i++) {
    const k = table.sample(rng)
    seen.add(k)
    uses[i] = { tag: names[k] }
    times[i] = Math.floor(t0 + i * step - rng.float() * disorderMs)
  }
  return { uses, times, distinct: seen.size, spanMs: n * step }
}
