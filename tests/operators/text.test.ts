import { test } from 'node:test'
import assert from 'node:assert/strict'
import { extractEntities, normalizeHashtag, normalizeTerm, STOP_WORDS, tokenize } from '../../operators/text.ts'
import { generateEvents, normalizeTerm as generatorNormalize } from '../../streams/sources/synthetic.ts'

test('normalizeTerm: case, accents, emoji and variation selectors, plural, compatibility forms', () => {
  assert.equal(normalizeTerm('Café'), 'cafe')
  assert.equal(normalizeTerm('CAFÉS'), 'cafe')
  assert.equal(normalizeTerm('#Fútbol'), 'futbol')
  assert.equal(normalizeTerm('tacos🔥'), 'taco')
  assert.equal(normalizeTerm('love❤️'), 'love', 'heart + U+FE0F variation selector')
  assert.equal(normalizeTerm('👍🏽cool'), 'cool', 'skin-tone modifier')
  assert.equal(normalizeTerm('ＣＡＴＳ'), 'cat', 'fullwidth letters')
  assert.equal(normalizeTerm('ﬁsh'), 'fish', 'ligature')
  assert.equal(normalizeTerm('kiss'), 'kiss', '"ss" is not a plural')
  assert.equal(normalizeTerm('ads'), 'ad')
  assert.equal(normalizeTerm('is'), 'is', 'too short to fold')
  assert.equal(normalizeTerm('jalapeños'), 'jalapeno')
  assert.equal(normalizeTerm('İstanbul'), 'istanbul', 'dotted capital I')
  assert.equal(normalizeTerm('ガンダム'), 'ガンダム', 'dakuten is part of the kana, not an accent')
  assert.equal(normalizeTerm('한국'), '한국', 'Hangul recomposes')
  assert.equal(normalizeTerm('Ωμέγα'), 'ωμεγα')
  assert.equal(normalizeHashtag('#'), '')
})

test('normalizeTerm agrees with the synthetic firehose on every hashtag variant it generates and on its trend labels', () => {
  const { events, labels } = generateEvents({ seed: 11, durationMs: 20 * 60_000, eventsPerSecond: 40, trends: 40, hashtags: 3_000 })
  let n = 0
  for (const e of events) {
    if (e.kind !== 'post') continue
    for (const h of e.hashtags) {
      assert.equal(normalizeHashtag(h), generatorNormalize(h), `variant ${h}`)
      n++
    }
  }
  assert.ok(n > 1_000)
  for (const t of labels.trends) if (t.type === 'hashtag') assert.equal(normalizeTerm(t.entity), t.normalized, t.entity)
})

test('tokenize: hashtags and mentions keep their sigil, URLs go, emoji split off, Japanese split at script changes', () => {
  assert.deepEqual(tokenize('POV: tacos🔥 at 3am #TacoTuesday✨ @maria https://t.co/x y'), ['POV', 'tacos', 'at', '3am', '#TacoTuesday', '@maria', 'y'])
  assert.deepEqual(tokenize('今日は最高の一日'), ['今日', 'は', '最高', 'の', '一日'])
  assert.deepEqual(tokenize('新しいレシピ'), ['新', 'しい', 'レシピ'])
})

test('extractEntities: hashtags from the list and the caption, once each; terms without stop words, numbers, tags', () => {
  const e = extractEntities({
    caption: 'When the new Tacos recipe hits 🌮🔥 2 times #TacoTuesday #tacos @chef tacos Recipes',
    hashtags: ['TacoTuesday', 'FoodTok'],
    soundId: 'snd_42',
  })
  assert.deepEqual(e.hashtags, ['tacotuesday', 'foodtok', 'taco'])
  assert.equal(e.sound, 'snd_42')
  assert.deepEqual(e.terms, ['recipe', 'hit', 'time'], '"tacos" is a hashtag of the post, "the"/"new"/"when" are stop words, "2" a number')
  assert.ok(STOP_WORDS.has('the'))
  const ja = extractEntities({ caption: '今日は最高の一日 ラーメン', hashtags: [], soundId: null })
  assert.deepEqual(ja.terms, ['今日', '最高', '一日', 'ラーメン'], 'particles は and の dropped')
  assert.equal(extractEntities({ caption: 'a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff gg hh ii jj kk ll mm nn oo pp qq', hashtags: [], soundId: null }, { maxTerms: 5 }).terms.length, 5)
})
