// Checks a script draft against the brand's constraints. Pure: no I/O, no clock.
//
// Failure kinds (each has a test in tests/server/generator.test.ts):
//   schema            the provider's answer is not a script (not JSON, or a field missing/mistyped)
//   missing_hook      no hook line
//   word_count        spoken words outside lengthSec × wordsPerSecond ± tolerance (≥ 3 words either way)
//   timing            segments out of order, overlapping, leaving gaps > 0.5 s, not ending at lengthSec,
//                     or a segment with more words than can be spoken in it (1.6 × the pace, + 2)
//   banned_word       one of the brand's banned words, anywhere (whole folded words in prose;
//                     substrings of hashtags when 4+ letters)
//   unsafe_term       a brand-safety term (catalog.ts UNSAFE_TERMS; substrings of hashtags when 6+ letters)
//   hashtag_count     fewer than min or more than max hashtags
//   hashtag_format    not '#' + 2–30 letters/digits/underscores, or a duplicate after folding
//   missing_cta       no call-to-action line, or one that asks for nothing (no CTA verb)
//   unknown_citation  a cited trend or post id that was not in the context given to the provider
//   no_citation       trends were available but the script cites none (it must be grounded)
import { CTA_VERBS, UNSAFE_TERMS } from './catalog.ts'
import { scriptDraftSchema, type ScriptDraft } from './schemas.ts'
import { containsTerm, fold, foldedWords, hashtagContains, wordCount } from './text.ts'

export const FAILURE_KINDS = [
  'schema', 'missing_hook', 'word_count', 'timing', 'banned_word', 'unsafe_term', 'hashtag_count', 'hashtag_format',
  'missing_cta', 'unknown_citation', 'no_citation',
] as const
export type FailureKind = (typeof FAILURE_KINDS)[number]

export interface ValidationFailure {
  kind: FailureKind
  message: string
  /** the field it was found in, e.g. "beats[2].voiceOver" */
  where?: string
  /** the offending word, term or hashtag */
  term?: string
}

export interface ValidationRules {
  lengthSec: number
  wordsPerSecond: number
  /** relative tolerance on the word count, e.g. 0.2 = ±20% */
  wordTolerance: number
  hashtagsMin: number
  hashtagsMax: number
  bannedWords: readonly string[]
  unsafeTerms?: readonly string[]
  /** ids the provider was shown; citations outside them are unknown */
  knownTrendIds: ReadonlySet<string>
  knownPostIds: ReadonlySet<string>
}

export interface ValidationReport {
  ok: boolean
  wordCount: number
  wordRange: [number, number]
  failures: ValidationFailure[]
}

const HASHTAG = /^#[\p{L}\p{N}_]{2,30}$/u
const TIME_SLACK = 0.5

export function wordRange(lengthSec: number, wordsPerSecond: number, tolerance: number): [number, number] {
  const target = lengthSec * wordsPerSecond
  const slack = Math.max(3, target * tolerance)
  return [Math.max(1, Math.floor(target - slack)), Math.ceil(target + slack)]
}

/** Parse a provider's answer (a JSON string or an object) into a draft, or schema failures. */
export function parseDraft(raw: unknown): { draft: ScriptDraft } | { failures: ValidationFailure[] } {
  let v = raw
  if (typeof raw === 'string') {
    try { v = JSON.parse(raw) } catch (e) {
      return { failures: [{ kind: 'schema', message: `the answer is not JSON: ${(e as Error).message}` }] }
    }
  }
  const r = scriptDraftSchema.safeParse(v)
  if (r.success) return { draft: r.data }
  return { failures: r.error.issues.slice(0, 10).map((i) => ({ kind: 'schema' as const, message: `${i.path.join('.') || '(root)'}: ${i.message}`, where: i.path.join('.') })) }
}

/** Every text field of a draft with its location, in speaking/reading order. */
export function textFields(d: ScriptDraft): Array<[where: string, text: string]> {
  const out: Array<[string, string]> = [
    ['title', d.title], ['hook.voiceOver', d.hook.voiceOver], ['hook.onScreenText', d.hook.onScreenText],
  ]
  d.beats.forEach((b, i) => {
    out.push([`beats[${i}].visual`, b.visual], [`beats[${i}].onScreenText`, b.onScreenText], [`beats[${i}].voiceOver`, b.voiceOver])
  })
  out.push(['callToAction.voiceOver', d.callToAction.voiceOver], ['callToAction.onScreenText', d.callToAction.onScreenText],
    ['caption', d.caption], ['sound.description', d.sound.description])
  return out
}

/** The spoken words, in order. */
export function spokenText(d: ScriptDraft): string {
  return [d.hook.voiceOver, ...d.beats.map((b) => b.voiceOver), d.callToAction.voiceOver].filter((s) => s.trim()).join(' ')
}

export function validateScript(d: ScriptDraft, r: ValidationRules): ValidationReport {
  const failures: ValidationFailure[] = []
  const fail = (kind: FailureKind, message: string, where?: string, term?: string): void => { failures.push({ kind, message, where, term }) }

  // hook
  if (!d.hook.voiceOver.trim() && !d.hook.onScreenText.trim()) fail('missing_hook', 'the hook has neither voice-over nor on-screen text', 'hook')

  // word count
  const spoken = wordCount(spokenText(d))
  const range = wordRange(r.lengthSec, r.wordsPerSecond, r.wordTolerance)
  if (spoken < range[0] || spoken > range[1]) {
    fail('word_count', `${spoken} spoken words; a ${r.lengthSec} s Reel needs ${range[0]}–${range[1]} (${r.wordsPerSecond} words/s ± ${Math.round(r.wordTolerance * 100)}%)`, 'voiceOver')
  }

  // timing: hook [0, hook.endSec), beats contiguous, call to action [startSec, lengthSec)
  const segs: Array<{ where: string; start: number; end: number; words: number }> = [
    { where: 'hook', start: 0, end: d.hook.endSec, words: wordCount(d.hook.voiceOver) },
    ...d.beats.map((b, i) => ({ where: `beats[${i}]`, start: b.startSec, end: b.endSec, words: wordCount(b.voiceOver) })),
    { where: 'callToAction', start: d.callToAction.startSec, end: r.lengthSec, words: wordCount(d.callToAction.voiceOver) },
  ]
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]
    if (!(s.end > s.start)) { fail('timing', `${s.where} ends at ${s.end} s, not after its start ${s.start} s`, s.where); continue }
    if (i > 0 && Math.abs(s.start - segs[i - 1].end) > TIME_SLACK) {
      fail('timing', `${s.where} starts at ${s.start} s but ${segs[i - 1].where} ends at ${segs[i - 1].end} s`, s.where)
    }
    const maxWords = Math.floor((s.end - s.start) * r.wordsPerSecond * 1.6) + 2
    if (s.words > maxWords) fail('timing', `${s.where} has ${s.words} words for ${round1(s.end - s.start)} s (at most ${maxWords})`, s.where)
  }
  const lastBeat = d.beats[d.beats.length - 1]
  if (lastBeat && lastBeat.endSec > r.lengthSec + TIME_SLACK) fail('timing', `beats run to ${lastBeat.endSec} s, past the ${r.lengthSec} s length`, `beats[${d.beats.length - 1}]`)

  // banned words and unsafe terms: prose as whole words, hashtags as substrings
  const unsafe = r.unsafeTerms ?? UNSAFE_TERMS
  const fields = textFields(d)
  const check = (kind: 'banned_word' | 'unsafe_term', terms: readonly string[], minSub: number): void => {
    for (const term of terms) {
      const hitField = fields.find(([, t]) => t && containsTerm(t, term))
      if (hitField) { fail(kind, `"${term}" appears in ${hitField[0]}`, hitField[0], term); continue }
      const tag = d.hashtags.find((h) => hashtagContains(h, term, minSub))
      if (tag) fail(kind, `"${term}" appears in hashtag ${tag}`, 'hashtags', term)
    }
  }
  check('banned_word', r.bannedWords, 4)
  check('unsafe_term', unsafe, 6)

  // hashtags
  if (d.hashtags.length < r.hashtagsMin || d.hashtags.length > r.hashtagsMax) {
    fail('hashtag_count', `${d.hashtags.length} hashtags; between ${r.hashtagsMin} and ${r.hashtagsMax} wanted`, 'hashtags')
  }
  const seen = new Set<string>()
  for (const h of d.hashtags) {
    if (!HASHTAG.test(h)) fail('hashtag_format', `"${h}" is not '#' followed by 2–30 letters, digits or underscores`, 'hashtags', h)
    const k = fold(h)
    if (seen.has(k)) fail('hashtag_format', `"${h}" repeats another hashtag`, 'hashtags', h)
    seen.add(k)
  }

  // call to action
  const cta = `${d.callToAction.voiceOver} ${d.callToAction.onScreenText}`
  if (!cta.trim()) fail('missing_cta', 'no call to action', 'callToAction')
  else {
    const ws = new Set(foldedWords(cta))
    if (!CTA_VERBS.some((v) => ws.has(fold(v)))) fail('missing_cta', `the call to action asks for nothing (no verb like ${CTA_VERBS.slice(0, 5).join(', ')}, …)`, 'callToAction')
  }

  // grounding
  for (const id of d.usedTrendIds) if (!r.knownTrendIds.has(id)) fail('unknown_citation', `cited trend "${id}" was not in the live context`, 'usedTrendIds', id)
  for (const id of d.usedPostIds) if (!r.knownPostIds.has(id)) fail('unknown_citation', `cited post "${id}" was not among the similar posts`, 'usedPostIds', id)
  if (r.knownTrendIds.size > 0 && d.usedTrendIds.length === 0) fail('no_citation', 'live trends were available but the script cites none', 'usedTrendIds')

  return { ok: failures.length === 0, wordCount: spoken, wordRange: range, failures }
}

const round1 = (x: number): number => Math.round(x * 10) / 10
