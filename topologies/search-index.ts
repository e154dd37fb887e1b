// Topology: search index — every post's vector (its upstream embedding, or the engine's text
// embedding of caption, hashtags and sound) into the vector index behind /api/search and the
// generator's similar posts. Wiring only.
import { postItem } from '../sinks/search/items.ts'
import type { PostPublished, FirehoseEvent } from '../schemas/events.ts'
import { defaultEmbedder } from '../operators/embeddings/index.ts'
import type { VectorItem } from '../sinks/search/types.ts'
import { Topology } from '../streams/topology.ts'
import type { Sink, Source } from '../streams/types.ts'

export function searchIndexTopology(source: Source<FirehoseEvent>, sinks: { posts: Sink<VectorItem> }): Topology {
  const embedder = defaultEmbedder()
  const t = new Topology('search-index')
  t.from(source, { outOfOrdernessMs: 5_000, idleTimeoutMs: 30_000 })
    .filter('search-posts', (e): e is PostPublished => e.kind === 'post')
    .map('post-vectors', (p) => postItem(p, embedder))
    .to(sinks.posts)
  return t
}
