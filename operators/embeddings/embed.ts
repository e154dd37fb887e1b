// Text embeddings computed in the engine, for posts, trends and search queries. No model can be
// downloaded here, so the vector is built from the text itself:
//
//   1. Feature hashing, signed (Weinberger et al. 2009, "Feature hashing for large scale multitask
//      learning"): every token (features.ts) and the character 3- and 4-grams of every hashtag and
//      caption term are hashed (MurmurHash3) to 4 of the `dim` coordinates, each with a ±1 sign from
//      another bit of its hash, and added with the token's weight. Signed hashing keeps inner
//      products unbiased under collisions; 4 coordinates per feature cut the variance a collision
//      adds (see add()). The n-grams give partial credit to tokens that share most
//      of their letters (#dancechallenge ~ #dance, typos) where normalisation did not fold them.
//   2. Token weights: hashtag 1.0, sound 1.0, caption term 0.5, times an IDF learnt from the synthetic
//      firehose's posts (model.ts), so ubiquitous tags (#fyp, #viral) barely count and a rare shared
//      tag (a trend) dominates. Unknown tokens get the IDF of a token seen once.
//   3. A hashtag that splits into known tokens (#dancechallenge → dance + challenge, #travelvlog →
//      travel + vlog) gives half its weight to the parts, so it meets posts that wrote them apart.
//   4. Optionally (cooccurrence > 0) plus, for tokens the model knows, a random projection of their
//      PPMI co-occurrence rows (model.ts), scaled by `cooccurrence` relative to the hashed part. On the
//      labelled pairs it made no measurable difference at 0.3 (±0.001 AUC) and hurt at 1.0 (AUC 0.99 →
//      0.91 against hard negatives): the synthetic firehose draws hashtags
//      independently, so co-occurrence learns languages (receta ~ increíble) and crisis vocabulary
//      (scam ~ estafa ~ boycott, but also every brand ~ every other brand), not topics
//      (docs/search-and-state.md). The default leaves it off; the option stays for a corpus with real
//      topical co-occurrence.
//   5. L2-normalised: cosine similarity is a dot product, cosine distance 1 − dot.
//
// Deterministic: integer hashing and a fixed summation order; Float32 output.
// Posts carrying an upstream embedding (PostPublished.embedding) use it instead when its length is
// the index dimension (postVector()); the two kinds of vector live in different spaces, so every
// vector says which model made it (`model`), and an index never compares across models unless asked.
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import type { PostPublished } from '../../schemas/events.ts'
import type { TrendSignal } from '../../schemas/outputs.ts'
import { fmix32, murmur3 } from '../sketches/hash.ts'
import { postTokens, queryTokens, TOKEN_SOUND, TOKEN_TAG, TOKEN_TERM, type PostText, type TokenList } from './features.ts'
import { loadCoocModel, type CoocModel } from './model.ts'

/** Dimension of the engine's text embedding (and of the vector tables and classes). */
export const EMBEDDING_DIM = 256

export const embedderOptionsSchema = z.object({
  dim: z.number().int().min(8).max(4096).default(EMBEDDING_DIM),
  tagWeight: z.number().min(0).default(1),
  soundWeight: z.number().min(0).default(1),
  termWeight: z.number().min(0).default(0.5),
  /** Share of a token's weight spread over its character n-grams (the token itself keeps the rest). */
  ngramShare: z.number().min(0).max(1).default(0.3),
  ngramMin: z.number().int().min(1).max(8).default(3),
  ngramMax: z.number().int().min(1).max(8).default(4),
  /** Weight tokens by IDF from the co-occurrence model's document frequencies. */
  idf: z.boolean().default(true),
  /** IDF^power: 1 = plain IDF, < 1 flattens it (popular tags keep more weight). */
  idfPower: z.number().min(0).max(4).default(1),
  /**
   * Share of a hashtag's weight given to its parts when it splits into known tokens
   * (#dancechallenge → dance + challenge); 0 = off. Parts are vocabulary tokens of ≥ 3 characters.
   */
  splitShare: z.number().min(0).max(1).default(0.5),
  /** Weight of the co-occurrence (PPMI projection) part relative to the hashed part; 0 = off. */
  cooccurrence: z.number().min(0).default(0),
  /** Co-occurrence model file; default the shipped model/cooc-v1.json. */
  modelPath: z.string().optional(),
}).strict().refine((o) => o.ngramMax >= o.ngramMin, { message: 'must be ≥ ngramMin', path: ['ngramMax'] })
export type EmbedderOptions = z.input<typeof embedderOptionsSchema>

export interface EmbeddedVector {
  vector: Float32Array
  /** Which model made it: 'upstream' or the text embedder's id (e.g. "tw-hash256-idf-cooc1-…"). */
  model: string
}

export class TextEmbedder {
  readonly opts: z.output<typeof embedderOptionsSchema>
  readonly dim: number
  /** Identifies the configuration: vectors with different ids are not comparable. */
  readonly modelId: string
  private readonly model: CoocModel | null
  private readonly maxIdf: number
  private readonly acc: Float64Array
  private readonly sem: Float64Array

  constructor(options: EmbedderOptions = {}) {
    this.opts = parseOptions('text embedder', embedderOptionsSchema, options)
    this.dim = this.opts.dim
    const needModel = this.opts.idf || this.opts.cooccurrence > 0 || this.opts.splitShare > 0
    this.model = needModel ? loadCoocModel(this.dim, this.opts.modelPath) : null
    this.maxIdf = this.model ? Math.log((this.model.docs + 1) / 2) : 1
    this.acc = new Float64Array(this.dim)
    this.sem = new Float64Array(this.dim)
    const o = this.opts
    const parts = [`tw-hash${this.dim}`]
    if (o.tagWeight !== 1 || o.soundWeight !== 1 || o.termWeight !== 0.5 || o.ngramShare !== 0.3 || o.ngramMin !== 3 || o.ngramMax !== 4 || o.splitShare !== 0.5) {
      parts.push(`w${o.tagWeight}-${o.soundWeight}-${o.termWeight}-${o.ngramShare}-${o.ngramMin}${o.ngramMax}-${o.splitShare}`)
    }
    if (this.model && o.idf) parts.push(`idf${o.idfPower === 1 ? '' : o.idfPower}-${this.model.id}`)
    if (this.model && o.cooccurrence > 0) parts.push(`cooc${o.cooccurrence}`)
    this.modelId = parts.join('-')
  }

  /** The embedding of a post's caption, hashtags and sound. */
  embedPost(p: PostText): Float32Array {
    return this.embedTokens(postTokens(p))
  }

  /** The embedding of a search query or any free text (see queryTokens for how it is read). */
  embedText(text: string): Float32Array {
    return this.embedTokens(queryTokens(text))
  }

  /**
   * The embedding of a trend: its entity as a one-token post (a hashtag, a sound, or a caption term),
   * optionally pulled towards the mean of its contributing posts' vectors (weight `postsWeight`).
   */
  embedTrend(t: Pick<TrendSignal, 'entityType' | 'entity'>, posts: readonly ArrayLike<number>[] = [], postsWeight = 0.5): Float32Array {
    const tokens: TokenList = t.entityType === 'hashtag'
      ? postTokens({ caption: '', hashtags: [t.entity], soundId: null })
      : t.entityType === 'sound'
        ? { tokens: [t.entity], kinds: [TOKEN_SOUND] }
        : { tokens: [t.entity], kinds: [TOKEN_TERM] }
    const v = this.embedTokens(tokens)
    if (posts.length === 0 || postsWeight === 0) return v
    const mean = new Float64Array(this.dim)
    for (const p of posts) for (let j = 0; j < this.dim; j++) mean[j] += p[j]
    normalizeInto(mean, mean)
    const out = new Float64Array(this.dim)
    for (let j = 0; j < this.dim; j++) out[j] = (1 - postsWeight) * v[j] + postsWeight * mean[j]
    return toUnitFloat32(out)
  }

  /** The upstream embedding when the post carries one of the right length, else the text embedding. */
  postVector(p: PostPublished): EmbeddedVector {
    const up = p.embedding
    if (up && up.length === this.dim && up.every(Number.isFinite)) {
      return { vector: toUnitFloat32(Float64Array.from(up)), model: 'upstream' }
    }
    return { vector: this.embedPost(p), model: this.modelId }
  }

  private weight(token: string, kind: number): number {
    const o = this.opts
    const base = kind === TOKEN_TAG ? o.tagWeight : kind === TOKEN_SOUND ? o.soundWeight : o.termWeight
    if (!o.idf || !this.model) return base
    const i = this.model.index.get(token)
    const df = i === undefined ? 1 : this.model.df[i]
    const idf = Math.log((this.model.docs + 1) / (df + 1)) / this.maxIdf
    return base * (this.opts.idfPower === 1 ? idf : Math.pow(idf, this.opts.idfPower))
  }

  embedTokens(list: TokenList): Float32Array {
    const acc = this.acc
    const dim = this.dim
    acc.fill(0)
    const { tokens, kinds } = list
    const o = this.opts
    const useSem = this.model !== null && o.cooccurrence > 0
    if (useSem) this.sem.fill(0)
    let semAny = false
    for (let i = 0; i < tokens.length; i++) {
      const tok = tokens[i]
      const kind = kinds[i]
      const w = this.weight(tok, kind)
      if (w === 0) continue
      const grams = kind === TOKEN_SOUND ? 0 : o.ngramShare
      const parts = kind === TOKEN_TAG && o.splitShare > 0 ? this.split(tok) : null
      const whole = parts ? w * (1 - o.splitShare) : w
      add(acc, dim, (kind === TOKEN_SOUND ? 's:' : 't:') + tok, whole * (1 - grams))
      if (parts) {
        // each part as the token it is elsewhere (with its own IDF), sharing splitShare of the tag's weight
        let sum = 0
        for (const q of parts) sum += this.weight(q, TOKEN_TAG)
        if (sum > 0) for (const q of parts) add(acc, dim, 't:' + q, (w * o.splitShare * this.weight(q, TOKEN_TAG)) / sum)
      }
      if (grams > 0) {
        const padded = '<' + tok + '>'
        let count = 0
        for (let n = o.ngramMin; n <= o.ngramMax; n++) count += Math.max(0, padded.length - n + 1)
        if (count > 0) {
          const gw = (whole * grams) / count
          for (let n = o.ngramMin; n <= o.ngramMax; n++) {
            for (let s = 0; s + n <= padded.length; s++) add(acc, dim, 'g:' + padded.slice(s, s + n), gw)
          }
        }
      }
      if (useSem) {
        const idx = this.model!.index.get(tok)
        if (idx !== undefined) {
          const vecs = this.model!.vectors
          const base = idx * dim
          for (let j = 0; j < dim; j++) this.sem[j] += w * vecs[base + j]
          semAny = true
        }
      }
    }
    normalizeInto(acc, acc)
    if (useSem && semAny) {
      normalizeInto(this.sem, this.sem)
      for (let j = 0; j < dim; j++) acc[j] += o.cooccurrence * this.sem[j]
    }
    return toUnitFloat32(acc)
  }

  private readonly splits = new Map<string, string[] | null>()

  /**
   * Splits a hashtag into known vocabulary tokens (≥ 3 characters each) covering all of it, fewest
   * parts first (dynamic programming over split points); null when it does not split. Cached.
   */
  private split(tag: string): string[] | null {
    const hit = this.splits.get(tag)
    if (hit !== undefined) return hit
    const vocab = this.model?.index
    let res: string[] | null = null
    if (vocab && tag.length >= 6 && !vocab.has(tag)) {
      const n = tag.length
      const best: Array<number[] | null> = new Array(n + 1).fill(null)
      best[0] = []
      for (let i = 3; i <= n; i++) {
        for (let j = Math.max(0, i - 24); j <= i - 3; j++) {
          const prev = best[j]
          if (prev === null || !vocab.has(tag.slice(j, i))) continue
          if (best[i] === null || prev.length + 1 < best[i]!.length) best[i] = [...prev, j]
        }
      }
      const cut = best[n]
      if (cut && cut.length >= 2) res = cut.map((start, k) => tag.slice(start, k + 1 < cut.length ? cut[k + 1] : n))
    }
    if (this.splits.size > 100_000) this.splits.clear()
    this.splits.set(tag, res)
    return res
  }
}

/**
 * Adds a feature to HASHES_PER_FEATURE coordinates, each with its own sign and weight w/√s (sparse
 * Johnson–Lindenstrauss: Kane & Nelson 2014). With one coordinate per feature, two unrelated tokens
 * that collide look as similar as two equal ones (at 256 dimensions a one-token query collides with
 * a few percent of all posts); spread over s coordinates a collision costs 1/s of that, while equal
 * features still match on all s.
 */
const HASHES_PER_FEATURE = 4
const SPREAD = 1 / Math.sqrt(HASHES_PER_FEATURE)

function add(acc: Float64Array, dim: number, feature: string, w: number): void {
  const h = murmur3(feature, 0x7e4d)
  const ws = w * SPREAD
  for (let k = 0; k < HASHES_PER_FEATURE; k++) {
    // an independent-looking 32-bit value per copy: low bits choose the coordinate, the top bit the sign
    const x = fmix32((h ^ Math.imul(k + 1, 0x9e3779b9)) >>> 0)
    acc[x % dim] += x & 0x80000000 ? -ws : ws
  }
}

function normalizeInto(src: Float64Array, dst: Float64Array): void {
  let n = 0
  for (let j = 0; j < src.length; j++) n += src[j] * src[j]
  const s = n > 0 ? 1 / Math.sqrt(n) : 0
  for (let j = 0; j < src.length; j++) dst[j] = src[j] * s
}

function toUnitFloat32(v: Float64Array): Float32Array {
  const out = new Float32Array(v.length)
  let n = 0
  for (let j = 0; j < v.length; j++) n += v[j] * v[j]
  const s = n > 0 ? 1 / Math.sqrt(n) : 0
  for (let j = 0; j < v.length; j++) out[j] = v[j] * s
  return out
}

/** Cosine similarity of two vectors (any length-matched numeric arrays). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0
  let na = 0
  let nb = 0
  for (let j = 0; j < a.length; j++) {
    dot += a[j] * b[j]
    na += a[j] * a[j]
    nb += b[j] * b[j]
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0
}

let shared: TextEmbedder | null = null

/** The default embedder (built once): what posts, trends and text queries use unless told otherwise. */
export function defaultEmbedder(): TextEmbedder {
  shared ??= new TextEmbedder()
  return shared
}

/** embedPost with the default embedder. */
export function embedPost(p: PostText): Float32Array {
  return defaultEmbedder().embedPost(p)
}

/** embedText with the default embedder. */
export function embedText(text: string): Float32Array {
  return defaultEmbedder().embedText(text)
}
