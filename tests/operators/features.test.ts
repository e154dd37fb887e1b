// Feature enrichment operators on a hand-made post, with the harness and watermarks stepped by hand:
// the windowed aggregate, the per-post stage (rates, velocity, acceleration, watch time, completion,
// counts since posting, baseline samples) and the per-creator stage (rolling median, ratio).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  creatorBaseline, engagementAggregate, engagementFact, parseFeaturesOptions, postFeatures, postWindow, withCreator,
  type EngagementCounts, type EngagementFact, type FeatureDraft, type PostStageOutput, type PostWindow,
} from '../../operators/features/index.ts'
import type { Engagement, EngagementType, PostPublished } from '../../schemas/events.ts'
import type { VideoFeatures } from '../../schemas/outputs.ts'
import { OperatorHarness } from '../../streams/harness.ts'
import { KeyedProcessOperator, TableJoinOperator, TableOperator } from '../../streams/operators.ts'
import { hopping, SlicedWindowOperator, type WindowResult } from '../../streams/windows.ts'

const MIN = 60_000
const T0 = Date.UTC(2024, 5, 1) // a multiple of every slide used here
const SEC = 1000

// Windows of 4 min sliding by 2 min; baseline at ages 2 and 6 min, median of the last 3 posts.
const opts = parseFeaturesOptions({ windowSizeMs: 4 * MIN, windowSlideMs: 2 * MIN, allowedLatenessMs: 0, baselineAgesMin: [2, 6], baselinePosts: 3, minBaselinePosts: 2 })

const post: PostPublished = {
  kind: 'post', postId: 'p1', platform: 'tiktok', creatorId: 'c1', creatorFollowers: 1200, postedAt: T0 + 30 * SEC,
  caption: 'pov: #fyp #cat', hashtags: ['fyp', 'cat'], soundId: 'snd_9', durationSec: 20, language: 'en', embedding: null,
}

function eng(type: EngagementType, at: number, watchTimeSec: number | null = null): Engagement {
  return { kind: 'engagement', postId: 'p1', platform: 'tiktok', type, at, watchTimeSec, userId: 'u1', commentText: type === 'comment' ? 'lol' : null }
}

// The hand-made post's engagements (minutes after T0; the post went live at 0:30).
const engagements: Engagement[] = [
  eng('view', T0 + 60 * SEC, 20), // watched to the end (duration 20 s)
  eng('view', T0 + 90 * SEC, 10),
  eng('like', T0 + 100 * SEC),
  eng('view', T0 + 130 * SEC, 25), // to the end
  eng('share', T0 + 180 * SEC),
  eng('view', T0 + 210 * SEC, null), // no watch time
  eng('comment', T0 + 300 * SEC),
]

async function windows(): Promise<WindowResult<string, EngagementCounts>[]> {
  const op = new SlicedWindowOperator<EngagementFact, string, EngagementCounts, EngagementCounts>('w', hopping(4 * MIN, 2 * MIN), (f) => f.postId, engagementAggregate(2 * MIN))
  const h = new OperatorHarness(op)
  await h.feed(engagements.map((e) => [engagementFact(e, post), e.at]))
  await h.watermarkTo(T0 + 2 * MIN - 2)
  assert.equal(h.output.length, 0, 'nothing fires before the watermark reaches end - 1')
  await h.watermarkTo(T0 + 2 * MIN - 1)
  assert.equal(h.output.length, 1)
  await h.watermarkTo(Infinity)
  return h.values()
}

test('windowed aggregate: counts by type, watch time, completions and the per-pane breakdown', async () => {
  const w = await windows()
  assert.deepEqual(w.map((r) => [r.start - T0, r.end - T0]), [[-2 * MIN, 2 * MIN], [0, 4 * MIN], [2 * MIN, 6 * MIN], [4 * MIN, 8 * MIN]])
  assert.deepEqual(w[0].value, { views: 2, likes: 1, shares: 0, comments: 0, saves: 0, follows: 0, total: 3, watched: 2, watchSum: 30, completed: 1, panes: [T0, 2, 3], post })
  assert.deepEqual(w[1].value, { views: 4, likes: 1, shares: 1, comments: 0, saves: 0, follows: 0, total: 6, watched: 3, watchSum: 55, completed: 2, panes: [T0, 2, 3, T0 + 2 * MIN, 2, 3], post })
  assert.deepEqual(w[2].value.panes, [T0 + 2 * MIN, 2, 3, T0 + 4 * MIN, 0, 1])
  assert.deepEqual(w[3].value, { views: 0, likes: 0, shares: 0, comments: 1, saves: 0, follows: 0, total: 1, watched: 0, watchSum: 0, completed: 0, panes: [T0 + 4 * MIN, 0, 1], post })
})

function postStage() {
  return new KeyedProcessOperator<string, PostWindow, never, PostStageOutput>('post-features', (w) => w.postId, postFeatures(opts) as never)
}

test('per-post stage: exact rates, velocity, acceleration, watch time, completion and counts since posting', async () => {
  const w = await windows()
  const h = new OperatorHarness(postStage())
  await h.feed(w.map((r) => [postWindow(r)!, r.end - 1]))
  const drafts = h.values().filter((o): o is FeatureDraft => o.kind === 'features').map((d) => d.features)
  assert.equal(drafts.length, 4)
  const pick = (f: VideoFeatures) => [f.viewsPerMin, f.likesPerMin, f.sharesPerMin, f.commentsPerMin, f.velocity, f.acceleration, f.engagementRate, f.shareRate, f.avgWatchTimeSec, f.completionRate, f.viewsSincePosting, f.engagementsSincePosting, f.minutesSincePosting]
  // window [−2, 2) min: 2 views, 1 like over 4 min; first window of the post → acceleration 0
  assert.deepEqual(pick(drafts[0]), [0.5, 0.25, 0, 0, 0.75, 0, 0.5, 0, 15, 0.5, 2, 3, 1.5])
  // [0, 4): 4 views, 1 like, 1 share; velocity 6/4; (1.5 − 0.75) / 2 min; watch (20 + 10 + 25) / 3; 2 of 3 complete
  assert.deepEqual(pick(drafts[1]), [1, 0.25, 0.25, 0, 1.5, 0.375, 0.5, 0.25, 55 / 3, 2 / 3, 4, 6, 3.5])
  // [2, 6): 2 views (one without watch time), 1 share, 1 comment
  assert.deepEqual(pick(drafts[2]), [0.5, 0, 0.25, 0.25, 1, -0.25, 1, 0.5, 25, 1, 4, 7, 5.5])
  // [4, 8): only the comment: no views → rates 0, watch time and completion null
  assert.deepEqual(pick(drafts[3]), [0, 0, 0, 0.25, 0.25, -0.375, 0, 0, null, null, 4, 7, 7.5])
  // static context from the post
  assert.deepEqual([drafts[0].creatorFollowers, drafts[0].hashtags, drafts[0].soundId, drafts[0].language, drafts[0].captionLength, drafts[0].platform],
    [1200, ['fyp', 'cat'], 'snd_9', 'en', post.caption.length, 'tiktok'])
  // baseline samples: age 2 min → the window ending at 4:00 (first end ≥ 2:30); age 6 min → the one ending at 8:00
  const samples = h.values().filter((o) => o.kind === 'sample')
  assert.deepEqual(samples, [
    { kind: 'sample', creatorId: 'c1', postId: 'p1', bucket: 0, velocity: 1.5 },
    { kind: 'sample', creatorId: 'c1', postId: 'p1', bucket: 1, velocity: 0.25 },
  ])
})

test('per-post stage: a baseline age with no window of the post records velocity 0 when the watermark passes it', async () => {
  const w = await windows()
  const h = new OperatorHarness(postStage())
  await h.feed([[postWindow(w[0])!, w[0].end - 1]]) // only the first window: registers timers for both ages
  await h.watermarkTo(T0 + 4 * MIN - 2)
  assert.equal(h.values().filter((o) => o.kind === 'sample').length, 0)
  await h.watermarkTo(T0 + 4 * MIN - 1) // the age-2 window (end 4:00) would have fired by now: it had no engagement
  assert.deepEqual(h.values().filter((o) => o.kind === 'sample'), [{ kind: 'sample', creatorId: 'c1', postId: 'p1', bucket: 0, velocity: 0 }])
  await h.watermarkTo(T0 + 8 * MIN - 1)
  assert.equal(h.values().filter((o) => o.kind === 'sample').length, 2)
})

test('per-post stage: a snapshot restored mid-stream gives the same output as an uninterrupted run', async () => {
  const w = await windows()
  const records: Array<[PostWindow, number]> = w.map((r) => [postWindow(r)!, r.end - 1])
  const ref = new OperatorHarness(postStage())
  await ref.feed(records.slice(0, 2))
  await ref.watermarkTo(T0 + 4 * MIN)
  await ref.feed(records.slice(2))
  await ref.watermarkTo(Infinity)

  const h = new OperatorHarness(postStage())
  await h.feed(records.slice(0, 2))
  await h.watermarkTo(T0 + 4 * MIN)
  h.restoreInto(postStage(), h.snapshot())
  await h.feed(records.slice(2))
  await h.watermarkTo(Infinity)
  assert.deepEqual(h.values(), ref.values())
})

test('per-creator stage: ratio to the median of the creator\'s earlier posts at the same age, own post excluded, bounded', async () => {
  const op = new KeyedProcessOperator<string, PostStageOutput, never, VideoFeatures>('creator-baseline', (r) => r.creatorId, creatorBaseline(opts) as never)
  const h = new OperatorHarness(op)
  const sample = (postId: string, bucket: number, velocity: number): [PostStageOutput, number] => [{ kind: 'sample', creatorId: 'c1', postId, bucket, velocity }, T0]
  const draft = (postId: string, bucket: number, velocity: number): [PostStageOutput, number] =>
    [{ kind: 'features', creatorId: 'c1', bucket, features: { postId, velocity, ratioToCreatorBaseline: null } as VideoFeatures }, T0 + MIN]
  await h.feed([sample('q1', 0, 1)])
  await h.feed([draft('p1', 0, 3)]) // one earlier post < minBaselinePosts (2): no baseline yet
  await h.feed([sample('q2', 0, 2), sample('q3', 0, 4), sample('q3', 1, 100)])
  await h.feed([draft('p1', 0, 3)]) // median(1, 2, 4) = 2 → 1.5
  await h.feed([sample('p1', 0, 50)]) // the post's own sample: pushes out q1 (last 3 kept) but never counts for p1
  await h.feed([draft('p1', 0, 3)]) // p1's baseline: median(2, 4) = 3 → 1
  await h.feed([draft('p9', 0, 3)]) // another post sees median(2, 4, 50) = 4 → 0.75
  await h.feed([sample('q4', 1, 0), draft('p9', 1, 0.1)]) // median(100, 0) = 50 → 0.1 / 50
  await h.feed([sample('q5', 1, 0), sample('q6', 1, 0), draft('p9', 1, 0.1)]) // median 0 → floored at 1 engagement per 4-min window
  assert.deepEqual(h.values().map((f) => f.ratioToCreatorBaseline), [null, 1.5, 1, 0.75, 0.1 / 50, 0.1 / 0.25])
})

test('joins: an engagement waits for its post, takes its duration (completion) and static context through the window; a newer profile update wins', async () => {
  const posts = new TableOperator<string, PostPublished>('posts-by-id', (p) => p.postId)
  const h = new OperatorHarness(new TableJoinOperator('engagement-post', posts, (e: Engagement) => e.postId, engagementFact, { waitMs: 5 * MIN }))
  await h.feed([[engagements[0], engagements[0].at]])
  assert.equal(h.output.length, 0, 'the post is not in the table yet: the engagement waits')
  await posts.processBatch({ values: [post], times: [post.postedAt] })
  await h.feed(engagements.slice(1).map((e) => [e, e.at]))
  const facts = h.values()
  assert.equal(facts.length, engagements.length, 'released in order once the post arrived')
  assert.deepEqual(facts.map((f) => f.completed), [true, false, false, true, false, false, false], 'watch time >= the post\'s 20 s duration')
  assert.ok(facts.every((f) => f.post === post))
  // the window result carries the post's static context to the per-post stage
  const pw = postWindow((await windows())[1])!
  assert.deepEqual([pw.postId, pw.creatorId, pw.postedAt, pw.creatorFollowers, pw.hashtags, pw.soundId, pw.language, pw.captionLength, pw.platform],
    ['p1', 'c1', post.postedAt, 1200, ['fyp', 'cat'], 'snd_9', 'en', 14, 'tiktok'])
  // a post that never arrives: its engagements go on without it after the wait, and its windows are dropped
  const h2 = new OperatorHarness(new TableJoinOperator('j2', new TableOperator<string, PostPublished>('t2', (p) => p.postId), (e: Engagement) => e.postId, engagementFact, { waitMs: MIN }))
  await h2.feed([[engagements[0], engagements[0].at]])
  await h2.watermarkTo(engagements[0].at + MIN)
  assert.deepEqual(h2.values().map((f) => [f.post, f.completed]), [[null, false]])
  assert.equal(h2.side('unmatched').length, 1)
  const orphan = { key: 'p1', start: T0, end: T0 + 4 * MIN, value: { ...(await windows())[1].value, post: null }, revision: 0 }
  assert.equal(postWindow(orphan), null)
  // creator profile: an update after the post and before the window's end wins; a later one does not
  assert.equal(withCreator({ ...pw }, { kind: 'creator', creatorId: 'c1', platform: 'tiktok', followers: 5000, at: T0 + 3 * MIN, displayName: null }).creatorFollowers, 5000)
  assert.equal(withCreator({ ...pw }, { kind: 'creator', creatorId: 'c1', platform: 'tiktok', followers: 9000, at: T0 + 4 * MIN, displayName: null }).creatorFollowers, 1200)
  assert.equal(withCreator({ ...pw }, undefined).creatorFollowers, 1200)
})

test('options: a bad key fails at construction with the key and the reason', () => {
  assert.throws(() => parseFeaturesOptions({ windowSizeMs: 5 * MIN, windowSlideMs: 2 * MIN }), /windowSizeMs: must be a multiple of windowSlideMs/)
  assert.throws(() => parseFeaturesOptions({ baselineAgesMin: [10, 5] }), /baselineAgesMin.1: ages must be strictly increasing/)
  assert.throws(() => parseFeaturesOptions({ windowSize: 1 }), /Unrecognized key/)
})
