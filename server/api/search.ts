// Semantic search behind /api/search: "posts or trends similar to a text or to a post". The API
// codes against this small interface; vectorIndexSearch() adapts the engine's VectorIndex
// (sinks/search/). Without a backend the route answers 503.
import type { Platform } from '../../schemas/events.ts'
import type { VectorIndex } from '../../sinks/search/types.ts'

export interface SearchHit {
  /** post id, or "<entityType>:<entity>" for a trend */
  id: string
  kind: 'post' | 'trend'
  /** similarity, higher is closer */
  score: number
  platform: Platform | null
  text: string | null
  data?: Record<string, unknown>
}

export interface SearchRequest {
  /** exactly one of text and postId */
  text?: string
  postId?: string
  kind: 'posts' | 'trends'
  k: number
  platforms?: Platform[]
}

export interface SearchBackend {
  /** null when postId is given and the index does not know the post */
  search(q: SearchRequest): Promise<SearchHit[] | null>
  ready?(): Promise<boolean>
}

/** What this adapter needs of sinks/search's VectorIndex (ClickHouseVectorIndex, WeaviateVectorIndex). */
export type VectorSearch = Pick<VectorIndex, 'search'>

export interface VectorIndexSearchOptions {
  /**
   * The text of a post (caption and hashtags) for "similar to this post": VectorIndex has no lookup
   * by id, so the query is the post's own text, embedded like any text query. Without it, or when it
   * returns null, postId searches answer 404.
   */
  postText?: (postId: string) => Promise<string | null>
}

/**
 * A SearchBackend over a VectorIndex. score = 1 − cosine distance; trend ids are the index's
 * "<platform>:<entityType>:<entity>"; a post is not its own neighbour.
 */
export function vectorIndexSearch(index: VectorSearch, o: VectorIndexSearchOptions = {}): SearchBackend {
  return {
    async search(q) {
      let text = q.text
      if (text === undefined) {
        text = (await o.postText?.(q.postId!)) ?? undefined
        if (text === undefined) return null
      }
      const kind = q.kind === 'posts' ? 'post' : 'trend'
      const self = q.postId !== undefined && kind === 'post' ? 1 : 0
      const hits = await index.search(text, { kind, k: q.k + self, ...(q.platforms ? { filter: { platform: q.platforms } } : {}) })
      return hits
        .filter((h) => !(self && h.id === q.postId))
        .slice(0, q.k)
        .map((h) => ({
          id: h.id, kind: h.kind, score: 1 - h.distance, platform: h.platform, text: h.text,
          data: { distance: h.distance, language: h.language, time: h.time, model: h.model },
        }))
    },
  }
}
