// Semantic search behind /api/search: "posts or trends similar to a text or to a post". The API
// codes against this small interface; an adapter over the engine's vector index plugs in here
// (see adaptVectorIndex). Without a backend the route answers 503.
import type { Platform } from '../../schemas/events.ts'

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

/** The shape of a vector index this adapter needs: search by text or vector, and a stored item's vector. */
export interface VectorIndexLike<Item> {
  search(query: string | Float32Array | number[], o: { k: number; filter?: Record<string, unknown> }): Promise<Array<{ id: string; score: number; item?: Item }>>
  vectorOf?(id: string): Promise<Float32Array | number[] | null>
}

/**
 * A SearchBackend over one index per kind. `toHit` turns an index result into a hit; `filterFor`
 * turns the platform filter into the index's filter.
 */
export function adaptVectorIndex<P, T>(o: {
  posts?: VectorIndexLike<P>
  trends?: VectorIndexLike<T>
  postHit(r: { id: string; score: number; item?: P }): SearchHit
  trendHit(r: { id: string; score: number; item?: T }): SearchHit
  filterFor?(platforms: Platform[] | undefined): Record<string, unknown> | undefined
}): SearchBackend {
  return {
    async search(q) {
      const index = q.kind === 'posts' ? o.posts : o.trends
      if (!index) return []
      let query: string | Float32Array | number[]
      if (q.text !== undefined) query = q.text
      else {
        const v = o.posts?.vectorOf ? await o.posts.vectorOf(q.postId!) : null
        if (!v) return null
        query = v
      }
      const filter = o.filterFor?.(q.platforms)
      const res = await index.search(query, { k: q.k + (q.postId && q.kind === 'posts' ? 1 : 0), filter })
      const hits = q.kind === 'posts'
        ? (res as Array<{ id: string; score: number; item?: P }>).filter((r) => r.id !== q.postId).map(o.postHit)
        : (res as Array<{ id: string; score: number; item?: T }>).map(o.trendHit)
      return hits.slice(0, q.k)
    },
  }
}
