// The windowed engagement aggregate behind VideoFeatures: counts per engagement type, watch time and
// completions of one post over a window, plus the window's per-pane totals.
//
// Why the pane totals: VideoFeatures also carries counts since posting (viewsSincePosting, ...), which
// a hopping window cannot give on its own (it only knows its last size/slide panes). The window
// operator computes hopping windows on panes of `slide` ms (streams/windows.ts), and each pane's
// accumulator records its own [paneStart, views, engagements]; merging keeps the list, so every
// window result says exactly what each of its panes held. The per-post stage (post.ts) keeps the
// recent panes and folds older ones into a running total.
//
// The accumulator also keeps a reference to the post (from the join before the window), so a window
// result carries its post's static context without a second lookup in the post table when it fires:
// at the end of input the +∞ watermark expires every table row (TTL) before the windows it closes
// fire, and a lookup then would find nothing. The reference costs a pointer per pane; a checkpoint
// (one v8 serialisation) stores each post once however many panes point at it.
import type { AggregateFunction } from '../../streams/windows.ts'
import type { EngagementType, PostPublished } from '../../schemas/events.ts'

/** One engagement reduced to what the aggregate needs (after the join with its post). */
export interface EngagementFact {
  postId: string
  type: EngagementType
  /** seconds watched, for views that carried a watch time; null otherwise */
  watchTimeSec: number | null
  /** the view was watched to the end: watchTimeSec >= the post's durationSec */
  completed: boolean
  /** the post, from the post table; null when it never arrived */
  post: PostPublished | null
}

/** Counts of one post over one pane or window. Plain numbers: structured-clone safe for checkpoints. */
export interface EngagementCounts {
  views: number
  likes: number
  shares: number
  comments: number
  saves: number
  follows: number
  /** every engagement, views and follows included */
  total: number
  /** views that carried a watch time */
  watched: number
  watchSum: number
  /** views watched to the end */
  completed: number
  /** flat [paneStart, views, total] per pane, ascending by paneStart */
  panes: number[]
  /** the post (static context), from the first engagement that had it */
  post: PostPublished | null
}

export function emptyCounts(): EngagementCounts {
  return { views: 0, likes: 0, shares: 0, comments: 0, saves: 0, follows: 0, total: 0, watched: 0, watchSum: 0, completed: 0, panes: [], post: null }
}

/** Merge of two sorted flat pane lists; panes present in both are summed. Allocates; mutates neither. */
function mergePanes(a: number[], b: number[]): number[] {
  const out: number[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i] < b[j])) { out.push(a[i], a[i + 1], a[i + 2]); i += 3 }
    else if (i >= a.length || b[j] < a[i]) { out.push(b[j], b[j + 1], b[j + 2]); j += 3 }
    else { out.push(a[i], a[i + 1] + b[j + 1], a[i + 2] + b[j + 2]); i += 3; j += 3 }
  }
  return out
}

/**
 * The aggregate for windows sliding by `slideMs` (offset 0, as the window operator's default).
 * `add` mutates the pane accumulator in place (the operator allows it); `merge` allocates.
 */
export function engagementAggregate(slideMs: number): AggregateFunction<EngagementFact, EngagementCounts, EngagementCounts> {
  return {
    create: emptyCounts,
    add(acc, f, time) {
      switch (f.type) {
        case 'view':
          acc.views++
          if (f.watchTimeSec !== null) {
            acc.watched++
            acc.watchSum += f.watchTimeSec
            if (f.completed) acc.completed++
          }
          break
        case 'like': acc.likes++; break
        case 'share': acc.shares++; break
        case 'comment': acc.comments++; break
        case 'save': acc.saves++; break
        case 'follow': acc.follows++; break
      }
      acc.total++
      if (acc.post === null) acc.post = f.post
      const r = time % slideMs
      const pane = time - (r < 0 ? r + slideMs : r)
      const p = acc.panes
      // a pane accumulator only ever sees its own pane; the search keeps add() correct for any acc
      let k = p.length - 3
      while (k >= 0 && p[k] > pane) k -= 3
      if (k >= 0 && p[k] === pane) {
        if (f.type === 'view') p[k + 1]++
        p[k + 2]++
      } else {
        p.splice(k + 3, 0, pane, f.type === 'view' ? 1 : 0, 1)
      }
      return acc
    },
    merge(a, b) {
      return {
        views: a.views + b.views, likes: a.likes + b.likes, shares: a.shares + b.shares, comments: a.comments + b.comments,
        saves: a.saves + b.saves, follows: a.follows + b.follows, total: a.total + b.total, watched: a.watched + b.watched,
        watchSum: a.watchSum + b.watchSum, completed: a.completed + b.completed, panes: mergePanes(a.panes, b.panes),
        post: a.post ?? b.post,
      }
    },
    // A copy: for a single-pane window the operator hands over the live pane accumulator.
    result: (acc) => ({ ...acc, panes: acc.panes.slice() }),
  }
}
