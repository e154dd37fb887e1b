// Text helpers shared by the validator, the trend context and the built-in generator.
//
// fold() is the key every comparison uses (banned words, keywords, trend entities, hashtags): NFKD,
// combining marks dropped after Latin/Greek/Cyrillic letters, lower case, a leading '#' dropped, and
// one trailing 's' dropped from words of 3+ letters not ending in "ss" — the same crude plural rule
// as operators/text.ts normalizeTerm, applied to both sides so "Tacos", "#taco" and "tacos" agree.

const STRIP_ACCENT = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{M}+/gu
const ASCII_ONLY = /^[\x00-\x7f]*$/

function foldWord(t: string): string {
  const n = t.length
  if (n >= 3 && t.charCodeAt(n - 1) === 115 /* s */ && t.charCodeAt(n - 2) !== 115) return t.slice(0, -1)
  return t
}

/** Accent-, case- and plural-folded key of a word or hashtag. */
export function fold(s: string): string {
  let t = ASCII_ONLY.test(s) ? s.toLowerCase() : s.normalize('NFKD').replace(STRIP_ACCENT, '$1').normalize('NFC').toLowerCase()
  if (t.startsWith('#')) t = t.slice(1)
  return foldWord(t)
}

// A "word" is a run of letters, digits, apostrophes or hyphens inside a word (don't, part-time).
const WORD = /[\p{L}\p{N}]+(?:['’\-][\p{L}\p{N}]+)*/gu

/** The words of a text, as written. */
export function words(text: string): string[] {
  return text.match(WORD) ?? []
}

/** Spoken-word count: what the voice-over length is measured in. */
export function wordCount(text: string): number {
  return words(text).length
}

/** Folded words of a text (each word folded on its own). Hyphenated words also yield their parts. */
export function foldedWords(text: string): string[] {
  const out: string[] = []
  for (const w of words(text)) {
    out.push(fold(w))
    if (w.includes('-') || w.includes('\'') || w.includes('’')) for (const p of w.split(/['’\-]/)) if (p) out.push(fold(p))
  }
  return out
}

/**
 * True if `term` (one word or a phrase) occurs in `text` as whole folded words. Phrases match as a
 * contiguous run of words; a hyphenated term also matches its parts written apart or together.
 */
export function containsTerm(text: string, term: string): boolean {
  const tw = words(term).map(fold)
  if (tw.length === 0) return false
  const xs = words(text).map(fold)
  if (tw.length === 1) {
    if (xs.includes(tw[0])) return true
    // "self-harm" written "selfharm" or "self harm"
    return term.includes('-') && xs.includes(fold(term.replace(/-/g, '')))
  }
  outer: for (let i = 0; i + tw.length <= xs.length; i++) {
    for (let j = 0; j < tw.length; j++) if (xs[i + j] !== tw[j]) continue outer
    return true
  }
  // the hyphenated form written as one word
  return xs.includes(tw.join('')) || foldedWords(text).includes(fold(term))
}

/**
 * True if a hashtag contains `term`. Hashtags glue words together, so a term is looked for as a
 * substring of the folded tag once it is long enough to be unambiguous (`minSubstring` letters);
 * shorter terms must be the whole tag — otherwise "gun" would flag #gungho and "meth" #method.
 */
export function hashtagContains(tag: string, term: string, minSubstring: number): boolean {
  const t = fold(tag).replace(/[_\-]/g, '')
  const k = fold(term.replace(/[\s\-_]+/g, ''))
  if (!k) return false
  if (t === k) return true
  return k.length >= minSubstring && t.includes(k)
}

/** A brand or phrase as a hashtag body: letters and digits only, accents folded, lower case. */
export function toHashtagBody(s: string): string {
  return s.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '')
}

/** Truncate to at most n words (keeps the text as written). */
export function firstWords(text: string, n: number): string {
  const ws = words(text)
  return ws.length <= n ? text : ws.slice(0, n).join(' ')
}
