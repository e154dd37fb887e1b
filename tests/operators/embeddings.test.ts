// The engine's text embedding: deterministic, normalised, folds surface variants, prefers upstream
// vectors of the right size, and separates similar from dissimilar pairs as well as
// docs/search-and-state.md says (figures printed as diagnostics; thresholds a little below them).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EMBEDDING_DIM, TextEmbedder, cosine, embedPost, embedText } from '../../operators/embeddings/embed.ts'
import { accuracyAt, bestThreshold, firehosePairs, HANDWRITTEN_PAIRS, rocAuc, scorePairs } from '../../operators/embeddings/quality.ts'
import { DEFAULT_MODEL_PATH } from '../../operators/embeddings/model.ts'
import { statSync } from 'node:fs'
import type { PostPublished } from '../../schemas/events.ts'

const post = (caption: string, hashtags: string[] = [], soundId: string | null = null) => ({ caption, hashtags, soundId })

test('deterministic, unit length, fixed dimension', () => {
  const a = new TextEmbedder().embedPost(post('new recipe #Cooking #fyp 🔥', ['Cooking', 'fyp'], 'snd_3'))
  const b = new TextEmbedder().embedPost(post('new recipe #Cooking #fyp 🔥', ['Cooking', 'fyp'], 'snd_3'))
  assert.equal(a.length, EMBEDDING_DIM)
  assert.deepEqual(Buffer.from(a.buffer), Buffer.from(b.buffer), 'bit-identical across instances')
  let n = 0
  for (const x of a) n += x * x
  assert.ok(Math.abs(n - 1) < 1e-5)
  // a fixed reference: changes here mean every stored vector changed (bump the model id)
  assert.equal(new TextEmbedder().modelId.startsWith('tw-hash256-idf-cooc1-'), true)
  const empty = embedPost(post(''))
  assert.ok(empty.every((x) => x === 0), 'no tokens → zero vector (cosine 0 with everything)')
})

test('surface variants of a tag embed identically; order of tags does not matter', () => {
  const v = (tags: string[]) => embedPost(post(tags.map((t) => '#' + t).join(' '), tags))
  assert.ok(cosine(v(['Cafés']), v(['cafe'])) > 0.9999)
  assert.ok(cosine(v(['DANCE', 'fyp']), v(['fyp', 'dance'])) > 0.9999)
  assert.ok(cosine(embedText('#dancechallenge'), embedText('dance challenge')) > 0.3, 'compound tag meets its parts')
})

test('text queries: sound ids, hashtags and words', () => {
  const p = embedPost(post('transition #dance', ['dance'], 'snd_3ve'))
  assert.ok(cosine(embedText('snd_3ve'), p) > 0.3)
  assert.ok(cosine(embedText('#dance'), p) > 0.3)
  assert.ok(cosine(embedText('#cooking'), p) < 0.1)
})

test('upstream embedding used when it has the index dimension, text embedding otherwise', () => {
  const e = new TextEmbedder()
  const base: PostPublished = {
    kind: 'post', postId: 'p', platform: 'tiktok', creatorId: 'c', creatorFollowers: 1, postedAt: 0,
    caption: 'hello #world', hashtags: ['world'], soundId: null, durationSec: 10, language: 'en', embedding: null,
  }
  const up = Array.from({ length: EMBEDDING_DIM }, (_, i) => (i === 3 ? 2 : 0))
  const a = e.postVector({ ...base, embedding: up })
  assert.equal(a.model, 'upstream')
  assert.equal(a.vector[3], 1, 'normalised')
  const b = e.postVector({ ...base, embedding: [1, 2, 3] })
  assert.equal(b.model, e.modelId)
  assert.deepEqual(b.vector, e.embedPost(base))
})

test('shipped co-occurrence model is small', () => {
  assert.ok(statSync(DEFAULT_MODEL_PATH).size < 2 * 1024 * 1024)
})

test('quality on labelled pairs: held-out firehose seed and the hand-written set', (t) => {
  const embed = new TextEmbedder()
  const f = (x: Parameters<typeof embed.embedPost>[0]) => embed.embedPost(x)
  // the co-occurrence model was trained on seed 1; the threshold is fitted on seed 2 and applied to seed 3
  const opts = (seed: number) => ({ firehose: { seed, maxEvents: 300_000, eventsPerSecond: 2_000, trends: 20, crises: 6 } })
  const dev = firehosePairs(opts(2))
  const test3 = firehosePairs(opts(3))
  const all = (d: typeof dev) => scorePairs([...d.positives, ...d.randomNegatives, ...d.hardNegatives], f)
  const devS = all(dev)
  const testS = all(test3)
  const rnd = scorePairs([...test3.positives, ...test3.randomNegatives], f)
  const hard = scorePairs([...test3.positives, ...test3.hardNegatives], f)
  const thr = bestThreshold(devS.scores, devS.similar)
  const fig = {
    testPairs: testS.scores.length,
    aucRandom: rocAuc(rnd.scores, rnd.similar),
    aucHard: rocAuc(hard.scores, hard.similar),
    threshold: thr.threshold,
    accuracyDev: thr.accuracy,
    accuracyTest: accuracyAt(testS.scores, testS.similar, thr.threshold),
  }
  const hw = scorePairs(HANDWRITTEN_PAIRS, f)
  const keep = hw.groups.map((g) => g !== 'semantic')
  const hand = {
    pairs: hw.scores.length,
    auc: rocAuc(hw.scores, hw.similar),
    aucWithoutSemantic: rocAuc(hw.scores.filter((_, i) => keep[i]), hw.similar.filter((_, i) => keep[i])),
    accuracyAtFirehoseThreshold: accuracyAt(hw.scores, hw.similar, thr.threshold),
  }
  t.diagnostic(`firehose seed 3: ${JSON.stringify(fig)}`)
  t.diagnostic(`hand-written: ${JSON.stringify(hand)}`)
  // measured (docs/search-and-state.md): AUC 0.992 / 0.990, accuracy 0.965; hand-written AUC 0.727 (0.828 without the semantic group)
  assert.ok(fig.aucRandom > 0.98, `AUC vs random ${fig.aucRandom}`)
  assert.ok(fig.aucHard > 0.98, `AUC vs hard ${fig.aucHard}`)
  assert.ok(fig.accuracyTest > 0.95, `accuracy ${fig.accuracyTest}`)
  assert.ok(hand.auc > 0.7, `hand-written AUC ${hand.auc}`)
  // the "semantic" group (same topic, no shared token) is beyond a hashing embedding: it scores at
  // the noise level of unrelated pairs (|cosine| ≈ 0.1 from hash and n-gram collisions)
  const sem = hw.scores.filter((_, i) => hw.groups[i] === 'semantic')
  t.diagnostic(`semantic group scores: ${sem.map((s) => s.toFixed(3)).join(' ')}`)
  assert.ok(sem.every((s) => s < 0.15), 'documented limitation still holds (update the docs if this changes)')
})
