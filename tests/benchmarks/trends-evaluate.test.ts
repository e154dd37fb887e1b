import { test } from 'node:test'
import assert from 'node:assert/strict'
import { episodes, evaluate, type KnownBurst, type SignalLike, type TrendTruth } from '../../benchmarks/trends/evaluate.ts'

const M = 60_000

function sig(platform: SignalLike['platform'], type: SignalLike['entityType'], entity: string, startMin: number, stage: SignalLike['stage'], revision = 0): SignalLike {
  return { platform, entityType: type, entity, windowStart: startMin * M, windowEnd: (startMin + 1) * M, stage, revision }
}

const labels: TrendTruth[] = [
  { id: 'A', type: 'hashtag', entity: 'a', onset: 0, end: 100 * M },
  { id: 'B', type: 'sound', entity: 's', onset: 50 * M, end: 200 * M },
  { id: 'C', type: 'hashtag', entity: 'c', onset: 0, end: 100 * M },
]
const known: KnownBurst[] = [{ type: 'hashtag', entity: 'boycottx', from: 0, to: 100 * M }]

const signals: SignalLike[] = [
  // A on tiktok: one episode over three windows, detected at the end of minute 10 → delay 11 min
  sig('tiktok', 'hashtag', 'a', 10, 'emerging'), sig('tiktok', 'hashtag', 'a', 11, 'rising'), sig('tiktok', 'hashtag', 'a', 12, 'peaking'),
  // a correction is not a new episode
  sig('tiktok', 'hashtag', 'a', 11, 'rising', 1),
  // A on reels, later: a true episode, but not the first detection
  sig('reels', 'hashtag', 'a', 20, 'emerging'),
  // A on tiktok again after a gap: true, and a duplicate (flapping)
  sig('tiktok', 'hashtag', 'a', 40, 'emerging'),
  // B: sound, detected at the end of minute 55 → delay 6 min; a hashtag "s" would not match
  sig('tiktok', 'sound', 's', 55, 'emerging'),
  // false: an entity nobody labelled, and A's entity as a sound
  sig('tiktok', 'hashtag', 'z', 5, 'emerging'),
  sig('shorts', 'sound', 'a', 30, 'emerging'),
  // a known non-trend burst: explained, neither true nor false
  sig('tiktok', 'hashtag', 'boycottx', 30, 'emerging'),
  // no emerging/rising signal: not a detection at all
  sig('tiktok', 'hashtag', 'q', 30, 'peaking'), sig('tiktok', 'hashtag', 'q', 31, 'declining'),
  // C's entity but before its onset... C has onset 0, so put one after its end: not a match
  sig('tiktok', 'hashtag', 'c', 150, 'emerging'),
]

test('evaluate: precision, recall and median delay on a hand-made case', () => {
  const ev = evaluate(signals, labels, known)
  assert.equal(ev.episodes, 8)
  assert.equal(ev.truePositives, 4)
  assert.equal(ev.falsePositives, 3)
  assert.equal(ev.explained, 1)
  assert.equal(ev.duplicates, 1)
  assert.equal(ev.precision, 4 / 7)
  assert.equal(ev.precisionStrict, 4 / 8)
  assert.equal(ev.detected, 2)
  assert.equal(ev.recall, 2 / 3)
  assert.deepEqual(ev.perLabel, { A: 11 * M, B: 6 * M, C: null })
  assert.equal(ev.medianDelayMs, 8.5 * M)
  assert.deepEqual(ev.falsePositiveEpisodes.map((e) => e.key).sort(), ['shorts|sound|a', 'tiktok|hashtag|c', 'tiktok|hashtag|z'])
})

test('evaluate: earlyMs lets a detection just before onset match; ignorePlatform merges platforms', () => {
  const early = [sig('tiktok', 'sound', 's', 48, 'emerging')]
  assert.equal(evaluate(early, labels).detected, 0)
  const ev = evaluate(early, labels, [], { earlyMs: 2 * M })
  assert.equal(ev.detected, 1)
  assert.equal(ev.perLabel.B, -1 * M)
  const pooled = episodes([sig('tiktok', 'hashtag', 'a', 10, 'emerging'), sig('reels', 'hashtag', 'a', 11, 'rising')], undefined, true)
  assert.equal(pooled.length, 1)
  assert.deepEqual(pooled[0].stages, ['emerging', 'rising'])
})
