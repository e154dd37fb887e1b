// One search interface over post and trend vectors, whatever stores them (ClickHouse/chDB by default,
// Weaviate when configured). Pure types: no I/O here.
import type { Platform } from '../../schemas/events.ts'

export type VectorKind = 'post' | 'trend'
export const VECTOR_KINDS: readonly VectorKind[] = ['post', 'trend']

/** One searchable item. (kind, id) identifies it; a newer `version` replaces an older one. */
export interface VectorItem {
  kind: VectorKind
  /** The post id, or for a trend `${platform}:${entityType}:${entity}` (trendItemId). */
  id: string
  /** Unit-length embedding (operators/embeddings); the index's dimension. */
  vector: ArrayLike<number>
  platform: Platform
  /** The post's language; '' for trends. */
  language: string
  /** Epoch ms: postedAt for posts, windowEnd of the newest window for trends. */
  time: number
  /** Caption, or the trend's entity: for display. */
  text: string
  /** Which embedding made the vector (TextEmbedder.modelId, or 'upstream'). */
  model: string
  /** Posts: 0. Trends: windowEnd × 1000 + revision (trendVersion). Higher replaces lower. */
  version: number
}

export interface SearchFilter {
  platform?: Platform | readonly Platform[]
  language?: string | readonly string[]
  /** time ≥ from (epoch ms). */
  from?: number
  /** time < to (epoch ms): half-open, like windows. */
  to?: number
  /**
   * Only vectors made by this model. Text queries default to the index embedder's model, so a text
   * query never ranks vectors from another space; vector queries default to no model filter.
   */
  model?: string
}

export interface SearchOptions {
  /** Results wanted. Default 10. */
  k?: number
  /** Default 'post'. */
  kind?: VectorKind
  filter?: SearchFilter
  /** Force an exact (brute-force) search where the store has an approximate index. */
  exact?: boolean
}

export interface SearchHit {
  kind: VectorKind
  id: string
  /** Cosine distance (1 − cosine similarity): 0 identical, 2 opposite. Nearest first. */
  distance: number
  platform: Platform
  language: string
  time: number
  text: string
  model: string
  version: number
}

/**
 * The search interface. Implementations: ClickHouseVectorIndex (clickhouse.ts), WeaviateVectorIndex
 * (weaviate.ts). upsert() is idempotent per (kind, id, version): sending the same items again changes
 * nothing, so a sink may re-send after a crash or a timeout.
 */
export interface VectorIndex {
  readonly name: string
  readonly dim: number
  /** Creates the table / classes if missing. Idempotent. */
  open(): Promise<void>
  upsert(items: readonly VectorItem[]): Promise<void>
  /** Nearest items to a vector, or to a text embedded with the index's embedder. Nearest first. */
  search(query: ArrayLike<number> | string, opts?: SearchOptions): Promise<SearchHit[]>
  close(): Promise<void>
}
