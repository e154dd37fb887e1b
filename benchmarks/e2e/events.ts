// The benchmark's input: "post" events reduced to what the trend path reads — a platform, 1–3
// hashtags (Zipf over `tags` names) and the event time — drawn once into a pool and cycled, so
// generating 50k events/s costs the producer almost nothing.
//
// Wire format (Kafka message value, UTF-8 JSON, one event per message): {"p":"tiktok","h":["tag7"],"t":1700000000000}
import { AliasTable, Rng, zipfWeights } from '../../streams/sources/prng.ts'
import type { Platform } from '../../schemas/events.ts'

export interface BenchEvent { p: Platform; h: string[]; t: number }

const PLATFORMS: Platform[] = ['tiktok', 'reels', 'shorts']

export function eventPool(seed = 1, tags = 300, size = 16_384): Array<Omit<BenchEvent, 't'>> {
  const rng = new Rng(seed, 'e2e-bench')
  const zipf = new AliasTable(zipfWeights(tags, 1.1))
  const plat = new AliasTable([0.5, 0.3, 0.2])
  const out: Array<Omit<BenchEvent, 't'>> = []
  for (let i = 0; i < size; i++) {
    const n = 1 + rng.int(3)
    const h = new Set<string>()
    while (h.size < n) h.add(`tag${zipf.sample(rng)}`)
    out.push({ p: PLATFORMS[plat.sample(rng)], h: [...h] })
  }
  return out
}
