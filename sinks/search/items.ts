// Turning engine records into VectorItems (pure).
import type { PostPublished } from '../../schemas/events.ts'
import type { TrendSignal } from '../../schemas/outputs.ts'
import type { EmbeddedVector, TextEmbedder } from '../../operators/embeddings/embed.ts'
import { TrendwireError } from '../../streams/errors.ts'
import type { SearchFilter, SearchOptions, VectorItem, VectorKind } from './types.ts'

export function trendItemId(t: Pick<TrendSignal, 'platform' | 'entityType' | 'entity'>): string {
  return `${t.platform}:${t.entityType}:${t.entity}`
}

/** Orders a trend's vectors by window, then revision (revisions above 999 count as 999). */
export function trendVersion(t: Pick<TrendSignal, 'windowEnd' | 'revision'>): number {
  return t.windowEnd * 1000 + Math.min(t.revision, 999)
}

/** A post's item: its upstream embedding if it fits, else the text embedding (TextEmbedder.postVector). */
export function postItem(p: PostPublished, embedder: TextEmbedder, embedded?: EmbeddedVector): VectorItem {
  const e = embedded ?? embedder.postVector(p)
  return { kind: 'post', id: p.postId, vector: e.vector, platform: p.platform, language: p.language, time: p.postedAt, text: p.caption, model: e.model, version: 0 }
}

/** A trend's item: its entity embedded (optionally with its posts' vectors), versioned by window and revision. */
export function trendItem(t: TrendSignal, embedder: TextEmbedder, postVectors: readonly ArrayLike<number>[] = []): VectorItem {
  return {
    kind: 'trend', id: trendItemId(t), vector: embedder.embedTrend(t, postVectors), platform: t.platform, language: '',
    time: t.windowEnd, text: t.entity, model: embedder.modelId, version: trendVersion(t),
  }
}

/** True when the vector has a non-zero norm (a zero vector has no direction: nothing to search by). */
export function hasDirection(v: ArrayLike<number>): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) return true
  return false
}

/**
 * What every VectorIndex.search does first: embed a text query (and restrict it to the embedder's
 * model, so text is only compared with vectors of the same model), check the dimension, and give
 * up early on a zero vector or k <= 0 (null: no hits).
 */
export function prepareQuery(
  index: string, query: ArrayLike<number> | string, opts: SearchOptions, embedder: TextEmbedder, dim: number,
): { vec: ArrayLike<number>; k: number; kind: VectorKind; filter: SearchFilter } | null {
  const k = opts.k ?? 10
  const kind = opts.kind ?? 'post'
  const isText = typeof query === 'string'
  const vec = isText ? embedder.embedText(query) : query
  if (vec.length !== dim) throw new TrendwireError('CONFIG_INVALID', `${index}: query vector has ${vec.length} dimensions, the index has ${dim}`)
  if (!hasDirection(vec) || k <= 0) return null
  const filter: SearchFilter = { ...opts.filter }
  if (isText && filter.model === undefined) filter.model = embedder.modelId
  return { vec, k, kind, filter }
}
