// What a post's text embedding is computed from: its tokens, each with a kind and a weight.
//
// Tokens come from operators/text.ts (the engine's one tokenizer and normaliser): normalised
// hashtags (case, accents, emoji and plural folded: #Cafés and #cafe are one token), the sound id,
// and caption terms (stop words in en/es/pt/fr/de/id dropped, so two posts are not similar just for
// both saying "when you finally"). Hashtags and caption terms share one token space: the caption word
// "dance" and the tag #dance are the same token; a hashtag counts more than a caption word.
import { extractEntities, normalizeTerm, tokenize } from '../text.ts'

export const TOKEN_TAG = 0
export const TOKEN_TERM = 1
export const TOKEN_SOUND = 2

export interface TokenList {
  tokens: string[]
  /** TOKEN_TAG | TOKEN_TERM | TOKEN_SOUND per token. */
  kinds: number[]
}

export interface PostText {
  caption: string
  hashtags: readonly string[]
  soundId: string | null
}

/** Tokens of a post: hashtags (list and caption), its sound, caption terms; each once. */
export function postTokens(p: PostText, maxTerms = 24): TokenList {
  const e = extractEntities(p, { maxTerms })
  const tokens: string[] = []
  const kinds: number[] = []
  for (const h of e.hashtags) { tokens.push(h); kinds.push(TOKEN_TAG) }
  if (e.sound) { tokens.push(e.sound); kinds.push(TOKEN_SOUND) }
  for (const t of e.terms) { tokens.push(t); kinds.push(TOKEN_TERM) }
  return { tokens, kinds }
}

/**
 * Tokens of a free-text query ("#dance challenge", "snd_3ve", "nimbus cola scam"): words that look
 * like sound ids are sounds, #words are hashtags, the rest caption terms (stop words kept only if
 * nothing else is left, so a query is never empty by accident).
 */
export function queryTokens(text: string): TokenList {
  const sounds: string[] = []
  const rest: string[] = []
  for (const w of text.split(/\s+/)) {
    if (/^snd_[a-z0-9]+$/i.test(w)) sounds.push(w.toLowerCase())
    else if (w) rest.push(w)
  }
  const hasTag = rest.some((w) => w.startsWith('#'))
  const caption = rest.join(' ')
  const list = postTokens({ caption, hashtags: [], soundId: sounds[0] ?? null })
  for (let i = 1; i < sounds.length; i++) if (!list.tokens.includes(sounds[i])) { list.tokens.push(sounds[i]); list.kinds.push(TOKEN_SOUND) }
  if (list.tokens.length === 0 && !hasTag) {
    for (const raw of tokenize(caption)) {
      const t = normalizeTerm(raw)
      if (t && !list.tokens.includes(t)) { list.tokens.push(t); list.kinds.push(TOKEN_TERM) }
    }
  }
  return list
}
