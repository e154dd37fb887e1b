// Prints the embedding quality table of docs/search-and-state.md: each configuration's ROC AUC and
// accuracy on the labelled pairs (quality.ts). A script, not used at run time:
//
//   node --import tsx operators/embeddings/evaluate.ts
//
// Pairs: firehose seed 2 (dev: the accuracy threshold is fitted there) and seed 3 (test: reported);
// the co-occurrence model was trained on seed 1. Plus the hand-written pairs, at the dev threshold.
import { TextEmbedder, type EmbedderOptions } from './embed.ts'
import { accuracyAt, bestThreshold, firehosePairs, HANDWRITTEN_PAIRS, rocAuc, scorePairs, type FirehosePairs } from './quality.ts'

export const CONFIGS: Record<string, EmbedderOptions> = {
  'hashing only (no IDF, no tag splitting)': { idf: false, splitShare: 0 },
  '+ IDF': { splitShare: 0 },
  '+ IDF + tag splitting (default)': {},
  'default + PPMI projection ×0.3': { cooccurrence: 0.3 },
  'default + PPMI projection ×1.0': { cooccurrence: 1 },
}

const split = (seed: number): FirehosePairs => firehosePairs({ firehose: { seed, maxEvents: 300_000, eventsPerSecond: 2_000, trends: 20, crises: 6 } })

if (import.meta.url === `file://${process.argv[1]}`) {
  const dev = split(2)
  const test = split(3)
  console.log(`pairs per split: ${dev.positives.length} similar, ${dev.randomNegatives.length} random + ${dev.hardNegatives.length} hard dissimilar; hand-written: ${HANDWRITTEN_PAIRS.length}`)
  console.log('| configuration | AUC vs random (test) | AUC vs hard (test) | accuracy (test, dev threshold) | hand-written AUC | hand-written AUC w/o "semantic" | hand-written accuracy |')
  console.log('|---|---|---|---|---|---|---|')
  for (const [name, o] of Object.entries(CONFIGS)) {
    const e = new TextEmbedder(o)
    const f = (t: Parameters<typeof e.embedPost>[0]) => e.embedPost(t)
    const all = (d: FirehosePairs) => scorePairs([...d.positives, ...d.randomNegatives, ...d.hardNegatives], f)
    const thr = bestThreshold(all(dev).scores, all(dev).similar).threshold
    const t = all(test)
    const rnd = scorePairs([...test.positives, ...test.randomNegatives], f)
    const hard = scorePairs([...test.positives, ...test.hardNegatives], f)
    const hw = scorePairs(HANDWRITTEN_PAIRS, f)
    const keep = hw.groups.map((g) => g !== 'semantic')
    const row = [
      rocAuc(rnd.scores, rnd.similar), rocAuc(hard.scores, hard.similar), accuracyAt(t.scores, t.similar, thr),
      rocAuc(hw.scores, hw.similar), rocAuc(hw.scores.filter((_, i) => keep[i]), hw.similar.filter((_, i) => keep[i])), accuracyAt(hw.scores, hw.similar, thr),
    ]
    console.log(`| ${name} | ${row.map((x) => x.toFixed(3)).join(' | ')} |`)
  }
}
