// The evaluation's fixed setup: firehose options, which seeds were used for tuning (never for the
// reported figures), and how labels become truth for evaluate.ts.
import type { SyntheticOptionsInput, FirehoseLabels } from '../../streams/sources/synthetic.ts'
import { normalizeTerm } from '../../operators/text.ts'
import type { KnownBurst, TrendTruth } from './evaluate.ts'

/** Seeds the detector and lifecycle were tuned on (benchmarks/trends/tune.ts). */
export const TRAIN_SEEDS = [1, 2, 3]
/** Seeds of the reported evaluation: never used for tuning. */
export const TEST_SEEDS = [101, 102, 103, 104, 105]

/** 6 hours of event time at 50 events/s (~750k events, ~47k posts), 12 injected trends. */
export function firehoseOptions(seed: number, over: Partial<SyntheticOptionsInput> = {}): SyntheticOptionsInput {
  return { seed, durationMs: 6 * 3_600_000, eventsPerSecond: 50, trends: 12, partitions: 4, ...over }
}

/**
 * Labelled trends that can be judged: onset at least `tailMs` before the end of the stream (a
 * trend starting in the last minutes cannot be detected, nor shown missed).
 */
export function truthOf(labels: FirehoseLabels, tailMs = 30 * 60_000): TrendTruth[] {
  return labels.trends
    .filter((t) => t.onset < labels.endTime - tailMs)
    .map((t) => ({ id: `${labels.seed}/${t.id}`, type: t.type, entity: t.normalized, onset: t.onset, end: t.end }))
}

/**
 * Real bursts that are not labelled trends: each crisis's hashtag and the words its posts and
 * comments use (brand name, negative templates), from its onset to an hour after its end.
 */
export function knownBursts(labels: FirehoseLabels): KnownBurst[] {
  const out: KnownBurst[] = []
  const templateWords = ['boycott', 'never', 'buying', 'again', 'experience', 'refund', 'lied', 'should', 'ashamed', 'scam', 'shame',
    'worst', 'disgusting', 'estafa', 'vergüenza', 'arnaque', 'nunca', 'mais', 'compro', "c'est", 'una', 'une', 'qué']
  for (const c of labels.crises) {
    const to = c.end + 3_600_000
    out.push({ type: 'hashtag', entity: c.hashtag, from: c.onset, to })
    for (const w of [...c.brand.split(/\s+/), ...c.negativeWords, ...templateWords]) out.push({ type: 'term', entity: normalizeTerm(w), from: c.onset, to })
  }
  return out
}
