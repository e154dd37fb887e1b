// Brand mentions and negative wording in captions and comments: the text side of the alert rules.
//
// Mention matching works on a "spaced" form of the text: NFKD with combining marks dropped, lower
// case, every run of non-letters/digits replaced by one space, padded with a space at both ends
// ("Kiko Café is a SCAM!" → " kiko cafe is a scam "). A term in the same form, padded, matches
// on word boundaries with one indexOf: " kiko cafe " is found, " kiko " is not found in
// " kikocafe ". Hashtags glue words together (#boycottkikocafe), so a term of 5+ characters with
// its spaces removed ("kikocafe") also matches inside any hashtag of the text. Crude by design: a
// brand's name and aliases are distinctive strings, and the same rule applies on both sides.
//
// Negative wording: a small lexicon (en, es, pt, fr, de) of words people use when they complain
// about a brand. Any lexicon word in the text marks it negative. No negation handling ("not a scam"
// counts): a spike of complaints is what the crisis rule looks for, and the baseline absorbs the
// steady rate of false positives. Words are stored in the spaced form (accents dropped).

const MARKS = /\p{M}+/gu
const NON_WORD = /[^\p{L}\p{N}]+/gu
const HASHTAG = /#([\p{L}\p{N}\p{M}_]+)/gu
const ASCII = /^[\x00-\x7f]*$/

/** " words separated by single spaces " — see the header. */
export function spaced(s: string): string {
  const t = ASCII.test(s) ? s.toLowerCase() : s.normalize('NFKD').replace(MARKS, '').toLowerCase()
  return ' ' + t.replace(NON_WORD, ' ').trim() + ' '
}

/** A term in matching form: its spaced form, and the glued form for matching inside hashtags (or null when too short). */
export interface MentionTerm {
  /** the term as the user wrote it */
  term: string
  spaced: string
  glued: string | null
}

export function mentionTerm(term: string): MentionTerm | null {
  const s = spaced(term)
  if (s.length <= 2) return null
  const glued = s.replace(/ /g, '')
  return { term, spaced: s, glued: glued.length >= 5 ? glued : null }
}

/** Hashtags of a text and of an explicit list, glued (spaces and accents removed). */
export function gluedHashtags(text: string, extra?: readonly string[]): string[] {
  const out: string[] = []
  for (const m of text.matchAll(HASHTAG)) out.push(spaced(m[1]).replace(/ /g, ''))
  if (extra) for (const h of extra) out.push(spaced(h).replace(/ /g, ''))
  return out
}

/** The first of `terms` the text mentions, or null. `text` is spaced(), `tags` from gluedHashtags(). */
export function findMention(terms: readonly MentionTerm[], text: string, tags: readonly string[]): MentionTerm | null {
  for (const t of terms) {
    if (text.includes(t.spaced)) return t
    if (t.glued !== null) for (const h of tags) if (h.includes(t.glued)) return t
  }
  return null
}

/** Complaint words, in spaced form without the padding. Multi-word entries match as phrases. */
export const NEGATIVE_LEXICON: readonly string[] = [
  // en
  'scam', 'scammed', 'scammers', 'boycott', 'never', 'lied', 'liar', 'liars', 'lies', 'shame', 'shameful', 'refund',
  'worst', 'disgusting', 'ashamed', 'awful', 'terrible', 'horrible', 'hate', 'fraud', 'ripoff', 'rip off', 'rip-off',
  'unacceptable', 'furious', 'outraged', 'recall', 'poisoned', 'lawsuit', 'cancel', 'cancelled', 'garbage', 'trash',
  // es
  'estafa', 'estafadores', 'verguenza', 'fraude', 'asco', 'peor', 'nunca', 'basura', 'boicot', 'mentirosos',
  // pt
  'golpe', 'vergonha', 'lixo', 'nojo', 'pior', 'mentira', 'boicote',
  // fr
  'arnaque', 'honte', 'nul', 'degoutant', 'pire', 'jamais', 'boycotter', 'menteurs',
  // de
  'betrug', 'schande', 'ekelhaft', 'schlimmste', 'niemals', 'abzocke', 'boykott',
]

const NEG_WORDS = new Set(NEGATIVE_LEXICON.filter((w) => !w.includes(' ') && !w.includes('-')))
const NEG_PHRASES = NEGATIVE_LEXICON.filter((w) => w.includes(' ')).map((w) => ' ' + w + ' ')

/** True when the spaced text contains a complaint word. */
export function isNegative(text: string): boolean {
  let start = 1
  const n = text.length - 1
  while (start < n) {
    let end = text.indexOf(' ', start)
    if (end < 0) end = n
    if (end > start && NEG_WORDS.has(text.slice(start, end))) return true
    start = end + 1
  }
  for (const p of NEG_PHRASES) if (text.includes(p)) return true
  return false
}
