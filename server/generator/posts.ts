// Similar high-performing posts, for grounding a script in what already works.
//
// The generator depends only on SimilarPostSearch. The project's VectorIndex (sinks/search/) had not
// landed when this was written, so InMemoryPostIndex is a small stand-in with the same role: posts
// from the firehose, embedded by feature hashing of their folded caption words and hashtags
// (hashtags count double) into 256 dimensions, L2-normalised; engagement events counted per post;
// a query ranks posts by cosine similarity × log(1 + engagement) among posts with some engagement.
// Brute force over at most `maxPosts` posts (a 50k × 256 scan is ~10 ms): fine for a demo and the
// tests, not for production — swap in the VectorIndex behind the same interface.
import type { FirehoseEvent, Platform, PostPublished } from '../../schemas/events.ts'
import { fnv1a } from '../../streams/sources/prng.ts'
import { Topology } from '../../streams/topology.ts'
import type { Batch, Sink, Source } from '../../streams/types.ts'
import type { CitedPost } from './schemas.ts'
import { fold, words } from './text.ts'

export interface SimilarPostQuery {
  /** free text: the brand's keywords and the trends' entities */
  text: string
  /** prefer this platform (others are kept, scaled by 0.7) */
  platform?: Platform
  k: number
}

export interface SimilarPostSearch {
  similar(q: SimilarPostQuery): Promise<CitedPost[]> | CitedPost[]
}

const DIMS = 256

interface IndexedPost {
  postId: string
  platform: Platform
  postedAt: number
  caption: string
  hashtags: string[]
  vec: Float32Array
  engagement: number
}

export interface InMemoryPostIndexOptions {
  maxPosts?: number
  /** posts with fewer engagement events are never returned */
  minEngagement?: number
  /** cosine similarity below this is not "similar" */
  minSimilarity?: number
}

export class InMemoryPostIndex implements SimilarPostSearch {
  private readonly posts = new Map<string, IndexedPost>()
  private readonly maxPosts: number
  private readonly minEngagement: number
  private readonly minSimilarity: number

  constructor(o: InMemoryPostIndexOptions = {}) {
    this.maxPosts = o.maxPosts ?? 50_000
    this.minEngagement = o.minEngagement ?? 1
    this.minSimilarity = o.minSimilarity ?? 0.15
  }

  get size(): number { return this.posts.size }

  add(p: PostPublished, engagement = 0): void {
    const prev = this.posts.get(p.postId)
    this.posts.set(p.postId, {
      postId: p.postId, platform: p.platform, postedAt: p.postedAt, caption: p.caption, hashtags: p.hashtags,
      vec: embed(p.caption, p.hashtags), engagement: (prev?.engagement ?? 0) + engagement,
    })
    if (this.posts.size > this.maxPosts) this.evict()
  }

  /** Posts are indexed, engagement events counted against their post; other events ignored. */
  observe(events: readonly FirehoseEvent[]): void {
    for (const e of events) {
      if (e.kind === 'post') this.add(e)
      else if (e.kind === 'engagement') {
        const p = this.posts.get(e.postId)
        if (p) p.engagement++
      }
    }
  }

  /** A sink for the firehose stream (a tap in the topology). */
  sink(name = 'post-index'): Sink<FirehoseEvent> {
    return { name, write: (b: Batch<FirehoseEvent>) => { this.observe(b.values) } }
  }

  similar(q: SimilarPostQuery): CitedPost[] {
    const qv = embed(q.text, [])
    const scored: Array<{ p: IndexedPost; sim: number; rank: number }> = []
    for (const p of this.posts.values()) {
      if (p.engagement < this.minEngagement) continue
      let sim = 0
      for (let i = 0; i < DIMS; i++) sim += qv[i] * p.vec[i]
      if (sim < this.minSimilarity) continue
      const rank = sim * Math.log1p(p.engagement) * (q.platform && p.platform !== q.platform ? 0.7 : 1)
      scored.push({ p, sim, rank })
    }
    scored.sort((a, b) => b.rank - a.rank || (a.p.postId < b.p.postId ? -1 : 1))
    return scored.slice(0, q.k).map(({ p, sim }) => ({
      postId: p.postId, platform: p.platform, caption: p.caption, hashtags: p.hashtags, engagement: p.engagement,
      similarity: Math.round(sim * 1000) / 1000,
    }))
  }

  private evict(): void {
    const keep = Math.floor(this.maxPosts * 0.8)
    const order = [...this.posts.values()].sort((a, b) => a.engagement - b.engagement || a.postedAt - b.postedAt)
    for (let i = 0; i < order.length - keep; i++) this.posts.delete(order[i].postId)
  }
}

/** Feature-hashed bag of folded words; hashtags weigh double. Signed hashing keeps collisions unbiased. */
export function embed(text: string, hashtags: readonly string[]): Float32Array {
  const v = new Float32Array(DIMS)
  const add = (w: string, weight: number): void => {
    if (w.length < 2) return
    const h = fnv1a(w)
    v[h % DIMS] += (h & 0x80000000 ? -1 : 1) * weight
  }
  for (const w of words(text)) add(fold(w), 1)
  for (const t of hashtags) add(fold(t), 2)
  let n = 0
  for (let i = 0; i < DIMS; i++) n += v[i] * v[i]
  if (n > 0) {
    const s = 1 / Math.sqrt(n)
    for (let i = 0; i < DIMS; i++) v[i] *= s
  }
  return v
}

/**
 * A topology that only feeds an InMemoryPostIndex from the firehose, for jobs whose topologies do not
 * expose their input stream: give it its own source over the same firehose (a copy of the synthetic
 * source with the same options, or its own Kafka consumer group).
 */
export function postIndexTopology(source: Source<FirehoseEvent>, index: InMemoryPostIndex): Topology {
  const t = new Topology('post-index')
  t.from(source, { outOfOrdernessMs: 5_000, idleTimeoutMs: 30_000 }).to(index.sink())
  return t
}
