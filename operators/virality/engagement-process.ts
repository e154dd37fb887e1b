// Per-post point-process state for the stream: each post's engagements feed a PointProcessModel
// (pointprocess.ts), and the scorer asks for the predicted final engagement as of a given event time.
//
// Like a TableOperator (streams/operators.ts) it emits nothing: the scorer, declared after it in the
// same topology, reads it (the engine runs earlier-declared branches first within a batch).
//
// Event time, not arrival order: the stream runs ahead of the watermark, so when the scorer asks
// "as of the end of window w" the operator may already hold engagements after w. Engagements wait in
// a per-post buffer (times only) and are folded into the model in time order only up to the time
// asked for; a prediction at time T therefore uses exactly the engagements before T that have
// arrived, whatever the batch boundaries (and a restore from a checkpoint answers the same). The
// model's sums cannot be rewound, so a later question about an earlier time (a window correction)
// is answered as of the last time folded.
//
// State per post: the model state (a few dozen numbers) and the waiting times; posts expire by TTL,
// the number of posts is bounded, and so is each buffer (beyond maxPendingPerPost the oldest waiting
// engagements are folded in early). Engagements that arrive before their post wait for it for up to
// orphanWaitMs of event time.
import { z } from 'zod'
import type { FirehoseEvent } from '../../schemas/events.ts'
import { parseOptions } from '../../streams/config.ts'
import { KeyedState } from '../../streams/state.ts'
import type { Batch, EventTime, Operator, OperatorContext, StateStats } from '../../streams/types.ts'
import { PointProcessModel, type PointProcessOptions, type PointProcessPrediction, type PointProcessState } from './pointprocess.ts'

export const engagementProcessOptionsSchema = z.strictObject({
  ttlMs: z.number().int().positive().default(26 * 3_600_000),
  maxPosts: z.number().int().positive().default(2_000_000),
  maxPendingPerPost: z.number().int().positive().default(10_000),
  orphanWaitMs: z.number().int().min(0).default(2 * 60_000),
  /**
   * A post's prediction is recomputed when engagements were folded in since the last one, or when it
   * is older than this (event time); otherwise the last one is returned. The hopping feature windows
   * ask every slide while a post is in any window, mostly with nothing new: this halves the cost of
   * the topology (the forecast integrates the renewal equation, ~100 steps). 0 = always recompute.
   */
  refreshMs: z.number().int().min(0).default(5 * 60_000),
  maxOrphans: z.number().int().positive().default(100_000),
})
export type EngagementProcessOptions = z.input<typeof engagementProcessOptionsSchema>

interface PostProcess {
  st: PointProcessState
  /** event times (ms) of engagements not yet folded into st, ascending */
  pending: number[]
  /** the last prediction, the time it was for, and st.count then */
  last: PointProcessPrediction | null
  lastAt: number
  lastCount: number
}

function insertSorted(a: number[], t: number): void {
  let i = a.length
  while (i > 0 && a[i - 1] > t) i--
  if (i === a.length) a.push(t)
  else a.splice(i, 0, t)
}

export class EngagementProcessTable implements Operator<FirehoseEvent, never> {
  readonly model: PointProcessModel
  private readonly opts: z.output<typeof engagementProcessOptionsSchema>
  private readonly posts: KeyedState<string, PostProcess>
  /** engagements whose post has not arrived: postId → event times (ms) */
  private orphans = new Map<string, number[]>()
  private orphanCount = 0
  droppedOrphans = 0

  constructor(readonly name: string, model: PointProcessModel | PointProcessOptions = {}, options: EngagementProcessOptions = {}) {
    this.model = model instanceof PointProcessModel ? model : new PointProcessModel(model)
    this.opts = parseOptions(`point-process table "${name}"`, engagementProcessOptionsSchema, options)
    this.posts = new KeyedState<string, PostProcess>({ ttlMs: this.opts.ttlMs, maxKeys: this.opts.maxPosts, bytesPerValue: 600 })
  }

  processBatch(batch: Batch<FirehoseEvent>, _ctx: OperatorContext): void {
    const { values, times } = batch
    for (let i = 0; i < values.length; i++) {
      const e = values[i]
      if (e.kind === 'post') {
        if (this.posts.has(e.postId)) continue
        const pending = this.orphans.get(e.postId) ?? []
        if (pending.length) { this.orphans.delete(e.postId); this.orphanCount -= pending.length }
        this.posts.set(e.postId, { st: this.model.createState(e.postedAt / 1000, e.creatorFollowers), pending, last: null, lastAt: -Infinity, lastCount: -1 }, times[i])
      } else if (e.kind === 'engagement') {
        const p = this.posts.get(e.postId)
        if (p) {
          insertSorted(p.pending, e.at)
          if (p.pending.length > this.opts.maxPendingPerPost) this.model.observe(p.st, p.pending.shift()! / 1000)
          this.posts.set(e.postId, p, times[i])
        } else {
          let list = this.orphans.get(e.postId)
          if (!list) this.orphans.set(e.postId, (list = []))
          insertSorted(list, e.at)
          if (++this.orphanCount > this.opts.maxOrphans) this.dropOldestOrphans()
        }
      }
    }
  }

  /** Folds the waiting engagements with time < beforeMs into the model, in time order. */
  private fold(p: PostProcess, beforeMs: number): void {
    const q = p.pending
    let n = 0
    while (n < q.length && q[n] < beforeMs) { this.model.observe(p.st, q[n] / 1000); n++ }
    if (n > 0) q.splice(0, n)
  }

  /** The predicted final engagement of a post from its engagements before atMs; null for an unknown post. */
  predictAt(postId: string, atMs: EventTime): PointProcessPrediction | null {
    const p = this.posts.get(postId)
    if (!p) return null
    this.fold(p, atMs)
    if (p.last !== null && p.lastCount === p.st.count && atMs >= p.lastAt && atMs - p.lastAt < this.opts.refreshMs) return p.last
    p.last = this.model.predict(p.st, atMs / 1000)
    p.lastAt = atMs
    p.lastCount = p.st.count
    return p.last
  }

  private dropOldestOrphans(): void {
    const first = this.orphans.entries().next()
    if (first.done) return
    this.orphans.delete(first.value[0])
    this.orphanCount -= first.value[1].length
    this.droppedOrphans += first.value[1].length
  }

  onWatermark(wm: EventTime): void {
    // Not at the end of input (+∞): the windows that watermark closes still ask for predictions.
    if (wm !== Infinity) this.posts.expire(wm)
    if (this.orphans.size === 0) return
    for (const [k, list] of this.orphans) {
      if (list[list.length - 1] + this.opts.orphanWaitMs > wm) continue
      this.orphans.delete(k)
      this.orphanCount -= list.length
      this.droppedOrphans += list.length
    }
  }

  stateStats(): StateStats {
    const s = this.posts.stats()
    return { keys: s.keys, estimatedBytes: s.estimatedBytes + this.orphanCount * 16 }
  }

  snapshot(): unknown {
    return { posts: this.posts.snapshot(), orphans: this.orphans, droppedOrphans: this.droppedOrphans, expired: this.posts.expired, evicted: this.posts.evicted }
  }

  restore(s: unknown): void {
    const st = s as { posts: Array<[string, PostProcess, number]>; orphans: Map<string, number[]>; droppedOrphans: number; expired: number; evicted: number }
    this.posts.restore(st.posts.map(([k, v, t]) => [k, { ...v, st: this.model.restoreState(v.st), pending: v.pending.slice() }, t]))
    this.orphans = st.orphans
    this.orphanCount = 0
    for (const l of st.orphans.values()) this.orphanCount += l.length
    this.droppedOrphans = st.droppedOrphans
    this.posts.expired = st.expired
    this.posts.evicted = st.evicted
  }
}
