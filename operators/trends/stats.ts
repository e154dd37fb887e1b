// Per-window statistics of one entity: uses, distinct creators, engagement, and the posts that
// contributed most. An AggregateFunction for the runtime's window operator (streams/windows.ts).
//
// Input records (EntityHit) come from the trend topology: one per (post, entity) for a use, one per
// (engagement, entity of the engaged post) for engagement. The accumulator is plain data (numbers,
// arrays, a sparse-first HyperLogLog), so window state checkpoints by structured clone as it is.
//
// Contributing posts: a Space-Saving list of `topPosts` (post id, weight) pairs, weight = 1 for the
// post itself plus 1 per engagement in the window. Bounded however many posts use the entity; the
// heaviest posts are exact and a displaced post's weight is over-counted by at most the minimum.
import type { AggregateFunction } from '../../streams/windows.ts'
import { type Hll, hllAdd, hllBytes, hllClone, hllCount, hllCreate, hllMergeInto } from '../sketches/hll.ts'

export const USE = 0
export const ENGAGEMENT = 1

/** One contribution to an entity's window. */
export interface EntityHit {
  /** Entity key (see entityKey in trends/keys.ts). */
  key: string
  /** USE (a post used the entity) or ENGAGEMENT (someone engaged with such a post). */
  kind: typeof USE | typeof ENGAGEMENT
  postId: string
  /** The post's creator (uses only; '' for engagements). */
  creatorId: string
  /** Index of the post's platform in PLATFORMS (schemas/events.ts). */
  platform: number
}

export interface WindowAcc {
  uses: number
  creators: Hll
  engagement: number
  /** Uses per platform, by index in PLATFORMS. */
  byPlatform: number[]
  /** Contributing posts (Space-Saving): ids and weights, parallel. */
  postIds: string[]
  postWeights: number[]
}

/** What a window of one entity amounts to. */
export interface EntityWindowStats {
  uses: number
  uniqueCreators: number
  engagement: number
  /** Heaviest posts first (weight = 1 + engagements in the window), ties by id. */
  topPosts: string[]
  /** Index in PLATFORMS of the platform with the most uses (ties: lowest index). */
  topPlatform: number
}

function offerPost(acc: WindowAcc, id: string, w: number, cap: number): void {
  const ids = acc.postIds
  const ws = acc.postWeights
  const i = ids.indexOf(id)
  if (i >= 0) { ws[i] += w; return }
  if (ids.length < cap) { ids.push(id); ws.push(w); return }
  let m = 0
  for (let j = 1; j < ws.length; j++) if (ws[j] < ws[m]) m = j
  ids[m] = id
  ws[m] += w
}

export interface EntityStatsOptions {
  /** HyperLogLog precision for distinct creators (exact below 2^p / 8). */
  hllPrecision?: number
  /** Contributing posts kept per window. */
  topPosts?: number
}

export function entityWindowStats(o: EntityStatsOptions = {}): AggregateFunction<EntityHit, WindowAcc, EntityWindowStats> {
  const p = o.hllPrecision ?? 12
  const cap = o.topPosts ?? 5
  return {
    create: () => ({ uses: 0, creators: hllCreate(p), engagement: 0, byPlatform: [0, 0, 0], postIds: [], postWeights: [] }),
    add(acc, h) {
      if (h.kind === USE) {
        acc.uses++
        acc.byPlatform[h.platform]++
        hllAdd(acc.creators, h.creatorId)
      } else acc.engagement++
      offerPost(acc, h.postId, 1, cap)
      return acc
    },
    merge(a, b) {
      const out: WindowAcc = {
        uses: a.uses + b.uses, creators: hllMergeInto(hllClone(a.creators), b.creators), engagement: a.engagement + b.engagement,
        byPlatform: a.byPlatform.map((n, i) => n + b.byPlatform[i]),
        postIds: a.postIds.slice(), postWeights: a.postWeights.slice(),
      }
      for (let i = 0; i < b.postIds.length; i++) offerPost(out, b.postIds[i], b.postWeights[i], cap)
      return out
    },
    result(acc) {
      const order = acc.postIds.map((_, i) => i)
      order.sort((i, j) => acc.postWeights[j] - acc.postWeights[i] || (acc.postIds[i] < acc.postIds[j] ? -1 : 1))
      let top = 0
      for (let i = 1; i < acc.byPlatform.length; i++) if (acc.byPlatform[i] > acc.byPlatform[top]) top = i
      return { uses: acc.uses, uniqueCreators: hllCount(acc.creators), engagement: acc.engagement, topPosts: order.map((i) => acc.postIds[i]), topPlatform: top }
    },
  }
}

/** Rough bytes of one accumulator (for state accounting). */
export function windowAccBytes(acc: WindowAcc): number {
  return 64 + hllBytes(acc.creators) + acc.postIds.length * 48
}
