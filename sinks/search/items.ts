// Turning engine records into VectorItems (pure).
import type { PostPublished } from '../../schemas/events.ts'
import type { TrendSignal } from '../../schemas/outputs.ts'
import type { EmbeddedVector, TextEmbedder } from '../../operators/embeddings/embed.ts'
import type { VectorItem } from './types.ts'

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
