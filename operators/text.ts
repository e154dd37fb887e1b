// Entities of a post and how they are normalised: hashtags, the sound id, and caption terms.
//
// Normalisation (normalizeTerm) folds the surface variants people type for one thing onto one key:
//   1. NFKD: compatibility forms to plain ones (fullwidth ＡＢＣ → ABC, ligatures ﬁ → fi) and
//      accented letters to base + combining mark;
//   2. combining marks are dropped after Latin, Greek and Cyrillic letters only (café → cafe,
//      fútbol → futbol), then NFC recomposes the rest, so Japanese dakuten (ガ) and Hangul survive:
//      there the mark is part of the letter, not an accent;
//   3. emoji, skin-tone modifiers, variation selectors (U+FE0E/F), zero-width joiners, regional
//      indicators and tag characters are removed (#tacos🔥 and #tacos are one tag);
//   4. lower case; a leading '#' is dropped;
//   5. simple plural folding: one trailing ASCII 's' is dropped from words of 3+ characters that do
//      not end in "ss" (tacos → taco, ads → ad, kiss stays; also gas → ga). Deliberately crude: a
//      key, not a lemma, and the same crude rule on both sides of every comparison.
// On every hashtag the synthetic firehose generates (canonical tags never end in 's'; variants are
// capitalised, upper-cased, pluralised with 's' or accent-folded) this gives the same key as the
// generator's own normalizeTerm (streams/sources/synthetic.ts), which its trend labels use;
// tests/operators/text.test.ts checks it on the generator's vocabulary.
//
// Caption terms: tokens of letters/digits (Japanese runs split at script changes, Thai with
// Intl.Segmenter), hashtags, @mentions and URLs removed, normalised, minus stop words, pure numbers,
// 1-character tokens (in every script: a lone kana is a particle) and single hiragana runs of 1–2
// characters, de-duplicated per post and capped.

const STRIP_ACCENT = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{M}+/gu
const EMOJI = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\p{Regional_Indicator}\u{FE0E}\u{FE0F}\u{200D}\u{E0020}-\u{E007F}]/gu
// ASCII fast path: nothing to decompose, no emoji
const ASCII_ONLY = /^[\x00-\x7f]*$/

export function foldPlural(t: string): string {
  const n = t.length
  if (n >= 3 && t.charCodeAt(n - 1) === 115 /* s */ && t.charCodeAt(n - 2) !== 115) return t.slice(0, -1)
  return t
}

/** The key of a hashtag or caption term (see the header): accent-, case-, emoji- and plural-folded. */
export function normalizeTerm(s: string): string {
  let t: string
  if (ASCII_ONLY.test(s)) t = s.toLowerCase()
  else t = s.normalize('NFKD').replace(STRIP_ACCENT, '$1').replace(EMOJI, '').normalize('NFC').toLowerCase()
  if (t.charCodeAt(0) === 35 /* # */) t = t.slice(1)
  return foldPlural(t.trim())
}

/** Words too common to be a trend on their own (en, es, pt, fr, de, id; already normalised). */
export const STOP_WORDS: ReadonlySet<string> = new Set([
  // en
  'a', 'about', 'after', 'again', 'all', 'am', 'an', 'and', 'any', 'are', 'as', 'at', 'be', 'because', 'been', 'before',
  'but', 'by', 'can', 'cant', "can't", 'could', 'did', 'do', 'doe', 'doing', 'dont', "don't", 'for', 'from', 'get', 'got',
  'had', 'ha', 'has', 'have', 'he', 'her', 'here', 'him', 'his', 'how', 'i', "i'm", 'im', 'if', 'in', 'into', 'is', 'it',
  "it's", 'its', 'just', 'me', 'more', 'my', 'no', 'not', 'now', 'of', 'on', 'one', 'or', 'our', 'out', 'over', 'pov',
  'said', 'she', 'so', 'some', 'than', 'that', 'the', 'their', 'them', 'then', 'there', 'these', 'they', 'thi', 'this',
  'to', 'too', 'up', 'u', 'very', 'wa', 'was', 'we', 'were', 'what', 'when', 'where', 'which', 'who', 'why', 'will',
  'with', 'would', 'you', 'your', 'part', 'ever', 'wait', 'new', 'best', 'day', 'finally', 'trying', 'nobody', 'talking',
  'stop', 'watching', 'lol',
  // es
  'de', 'la', 'el', 'en', 'y', 'que', 'lo', 'lo', 'un', 'una', 'por', 'con', 'para', 'mi', 'tu', 'su', 'se', 'del', 'al',
  'es', 'esto', 'esta', 'este', 'cuando', 'como', 'pero', 'mas', 'muy', 'fin', 'nadie', 'habla', 'parte', 'esperen',
  // pt
  'o', 'os', 'da', 'do', 'em', 'um', 'uma', 'com', 'nao', 'voce', 'quando', 'disso', 'fala', 'ninguem', 'espera',
  'finalmente', 'melhor', 'dia', 'nova',
  // fr
  'le', 'les', 'des', 'du', 'et', 'un', 'une', 'ce', 'ca', 'tu', 'je', 'il', 'elle', 'quand', 'enfin', 'tres',
  'personne', 'parle', 'partie', 'attend',
  // de
  'der', 'die', 'das', 'und', 'ist', 'ich', 'du', 'wenn', 'fur', 'uber', 'ein', 'eine', 'nicht', 'mit', 'auf', 'endlich',
  'niemand', 'redet', 'daruber', 'teil', 'warte',
  // id
  'yang', 'dan', 'di', 'ini', 'itu', 'ada', 'tidak', 'ketika', 'akhirnya', 'hari', 'bagian', 'tunggu', 'bahas', 'banget',
])

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}]/u
const TOKEN = /[#@]?[\p{L}\p{N}][\p{L}\p{N}\p{M}_'’]*/gu
const URL = /\bhttps?:\/\/\S+/giu
const DIGITS = /^\p{N}+$/u
// Japanese is written without spaces. A dictionary segmenter (Intl.Segmenter) costs ~75 µs per
// caption here; splitting at changes of script (kanji | hiragana | katakana) costs ~1 µs and is the
// classic cheap approximation: particles and inflections are hiragana between kanji words
// (今日は最高の一日 → 今日 は 最高 の 一日), loanwords are katakana runs. Thai has neither spaces nor
// script changes, so it alone goes through Intl.Segmenter.
const JA_RUN = /\p{Script=Han}+|[\p{Script=Hiragana}ー]+|[\p{Script=Katakana}ー]+|[^\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}ー]+/gu
const THAI = /\p{Script=Thai}/u
const JA = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u
let segmenter: Intl.Segmenter | null = null
const HIRAGANA_PARTICLE = /^\p{Script=Hiragana}{1,2}$/u

/** Raw tokens of a text: words, #hashtags and @mentions (with their sigil); URLs skipped. */
export function tokenize(text: string): string[] {
  const clean = text.includes('://') ? text.replace(URL, ' ') : text
  const raw = clean.match(TOKEN) ?? []
  if (!CJK.test(clean)) return raw
  const out: string[] = []
  for (const tok of raw) {
    if (tok[0] === '#' || tok[0] === '@') out.push(tok)
    else if (JA.test(tok)) { for (const m of tok.match(JA_RUN)!) out.push(m) }
    else if (THAI.test(tok)) {
      segmenter ??= new Intl.Segmenter('th', { granularity: 'word' })
      for (const s of segmenter.segment(tok)) if (s.isWordLike) out.push(s.segment)
    } else out.push(tok)
  }
  return out
}

/** Hashtag key: normalizeTerm without the '#'; '' when nothing is left. */
export function normalizeHashtag(tag: string): string {
  return normalizeTerm(tag.startsWith('#') ? tag.slice(1) : tag)
}

export interface PostEntities {
  /** Normalised hashtags, distinct, in order of first appearance. */
  hashtags: string[]
  sound: string | null
  /** Normalised caption terms, distinct, hashtags excluded. */
  terms: string[]
}

export interface ExtractOptions {
  /** Most caption terms kept per post (first ones win). */
  maxTerms?: number
  /** Shortest term kept, in UTF-16 code units. */
  minTermLength?: number
}

/** Entities of one post: its hashtag list and the #tags in its caption, its sound, its caption terms. */
export function extractEntities(post: { caption: string; hashtags: readonly string[]; soundId: string | null }, o: ExtractOptions = {}): PostEntities {
  const maxTerms = o.maxTerms ?? 16
  const minLen = o.minTermLength ?? 2
  const hashtags: string[] = []
  for (const h of post.hashtags) {
    const k = normalizeHashtag(h)
    if (k.length > 0 && !hashtags.includes(k)) hashtags.push(k)
  }
  const terms: string[] = []
  for (const tok of tokenize(post.caption)) {
    const c = tok.charCodeAt(0)
    if (c === 35 /* # */) {
      const k = normalizeHashtag(tok)
      if (k.length > 0 && !hashtags.includes(k)) hashtags.push(k)
      continue
    }
    if (c === 64 /* @ */) continue
    if (terms.length >= maxTerms) continue
    const k = normalizeTerm(tok)
    if (k.length < minLen || HIRAGANA_PARTICLE.test(k)) continue
    if (DIGITS.test(k) || STOP_WORDS.has(k) || terms.includes(k) || hashtags.includes(k)) continue
    terms.push(k)
  }
  // a caption word that is also one of the post's hashtags counts once, as the hashtag
  const out = hashtags.length > 0 ? terms.filter((t) => !hashtags.includes(t)) : terms
  return { hashtags, sound: post.soundId, terms: out }
}
