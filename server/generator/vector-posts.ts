// Similar high-performing posts from the project's VectorIndex (sinks/search/): the nearest posts to
// the brand's context text, re-ranked by how well they perform.
//
// The index knows what a post is about, not how it did, so performance comes from elsewhere: by
// default the live read side's latest ViralityScore of each post (LiveState.postScore →
// predictedFinalEngagement). Ranking: similarity (1 − cosine distance) × log(1 + performance), over
// `candidates × k` nearest posts; posts without a known performance are left out.
import type { Platform } from '../../schemas/events.ts'
import type { ViralityScore } from '../../schemas/outputs.ts'
import type { SearchHit, SearchOptions } from '../../sinks/search/types.ts'
import type { SimilarPostQuery, SimilarPostSearch } from './posts.ts'
import type { CitedPost } from './schemas.ts'

/** The one method of VectorIndex this needs. */
export interface PostVectorSearch {
  search(query: string, opts?: SearchOptions): Promise<SearchHit[]>
}

/** Performance of posts by id (e.g. predicted final engagement); unknown posts are absent. */
export type PostPerformance = (postIds: readonly string[]) => Promise<Map<string, number>>

export interface VectorPostSearchOptions {
  /** nearest posts fetched per result wanted */
  candidates?: number
  /** posts performing below this are not "high-performing" */
  minPerformance?: number
}

/** Performance from the API's LiveState (anything with postScore). */
export function performanceFromScores(live: { postScore(postId: string): Promise<ViralityScore | null> }): PostPerformance {
  return async (ids) => {
    const scores = await Promise.all(ids.map((id) => live.postScore(id)))
    const out = new Map<string, number>()
    for (const s of scores) if (s) out.set(s.postId, s.predictedFinalEngagement)
    return out
  }
}

const HASHTAG = /#([\p{L}\p{N}_]+)/gu

export function vectorPostSearch(index: PostVectorSearch, performance: PostPerformance, o: VectorPostSearchOptions = {}): SimilarPostSearch {
  const candidates = o.candidates ?? 5
  const minPerformance = o.minPerformance ?? 1
  return {
    async similar(q: SimilarPostQuery): Promise<CitedPost[]> {
      if (!q.text.trim() || q.k <= 0) return []
      const hits = await index.search(q.text, { kind: 'post', k: q.k * candidates, ...(q.platform ? { filter: { platform: q.platform as Platform } } : {}) })
      if (hits.length === 0) return []
      const perf = await performance(hits.map((h) => h.id))
      const ranked: Array<{ post: CitedPost; rank: number }> = []
      for (const h of hits) {
        const p = perf.get(h.id)
        if (p === undefined || p < minPerformance) continue
        const similarity = Math.max(0, 1 - h.distance)
        const hashtags = [...h.text.matchAll(HASHTAG)].map((m) => m[1])
        ranked.push({
          post: { postId: h.id, platform: h.platform, caption: h.text, hashtags, engagement: Math.round(p), similarity: Math.round(similarity * 1000) / 1000 },
          rank: similarity * Math.log1p(p),
        })
      }
      ranked.sort((x, y) => y.rank - x.rank || (x.post.postId < y.post.postId ? -1 : 1))
      return ranked.slice(0, q.k).map((r) => r.post)
    },
  }
}
