// The feature topology end to end with the runner: a hand-made creator with two earlier posts and a
// profile update, and a post whose features are known exactly (including the joins with the post and
// creator tables and the ratio to the creator's baseline); then a checkpoint taken mid-stream and
// restored gives the same records as an uninterrupted run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import type { CreatorUpdated, Engagement, EngagementType, FirehoseEvent, PostPublished } from '../../schemas/events.ts'
import { eventTime } from '../../schemas/events.ts'
import type { VideoFeatures } from '../../schemas/outputs.ts'
import { CollectSink } from '../../sinks/memory.ts'
import { MemoryCheckpointStore } from '../../streams/checkpoint.ts'
import { Runner } from '../../streams/runner.ts'
import { ArraySource, type ArrayPartition } from '../../streams/sources/array.ts'
import { generateEvents } from '../../streams/sources/synthetic.ts'
import { featuresTopology } from '../../topologies/features.ts'

const quiet = pino({ level: 'silent' })
const MIN = 60_000
const SEC = 1000
const T0 = Date.UTC(2024, 5, 1)
const OPTS = { windowSizeMs: 4 * MIN, windowSlideMs: 2 * MIN, allowedLatenessMs: 0, outOfOrdernessMs: 1000, baselineAgesMin: [2, 6], baselinePosts: 3, minBaselinePosts: 2 }

const mkPost = (postId: string, postedAt: number): PostPublished => ({
  kind: 'post', postId, platform: 'tiktok', creatorId: 'c1', creatorFollowers: 1200, postedAt,
  caption: 'pov: #fyp #cat', hashtags: ['fyp', 'cat'], soundId: 'snd_9', durationSec: 20, language: 'en', embedding: null,
})
const mkEng = (postId: string, type: EngagementType, at: number, watchTimeSec: number | null = null): Engagement =>
  ({ kind: 'engagement', postId, platform: 'tiktok', type, at, watchTimeSec, userId: 'u1', commentText: null })

function handMadeStream(): FirehoseEvent[] {
  const update: CreatorUpdated = { kind: 'creator', creatorId: 'c1', platform: 'tiktok', followers: 5000, at: T0 + MIN, displayName: null }
  const events: FirehoseEvent[] = [
    // earlier posts of the creator: velocity at age 2 min is 2/4 and 4/4 per min; nothing at age 6 min
    mkPost('q1', T0 - 20 * MIN), mkEng('q1', 'view', T0 - 19 * MIN, 5), mkEng('q1', 'view', T0 - 19 * MIN + SEC, 5),
    mkPost('q2', T0 - 15 * MIN), ...[0, 1, 2, 3].map((i) => mkEng('q2', 'view', T0 - 14 * MIN + i * SEC, 5)),
    // the post (live at 0:30), its engagements, and a profile update at 1:00
    mkPost('p1', T0 + 30 * SEC), mkEng('p1', 'view', T0 + 60 * SEC, 20), update, mkEng('p1', 'view', T0 + 90 * SEC, 10),
    mkEng('p1', 'like', T0 + 100 * SEC), mkEng('p1', 'view', T0 + 130 * SEC, 25), mkEng('p1', 'share', T0 + 180 * SEC),
    mkEng('p1', 'view', T0 + 210 * SEC, null), mkEng('p1', 'comment', T0 + 300 * SEC),
    // another creator's posts much later move the watermark past p1's windows, so they fire before the
    // end of input (at +∞ every table row expires first, and the profile update with it)
    { ...mkPost('z8', T0 + 30 * MIN), creatorId: 'c2' }, { ...mkPost('z9', T0 + 31 * MIN), creatorId: 'c2' },
  ]
  return events
}

function source(events: FirehoseEvent[], parts = 1, perPoll = 1): ArraySource<FirehoseEvent> {
  const p: ArrayPartition<FirehoseEvent>[] = Array.from({ length: parts }, (_, i) => ({ id: `p${i}`, records: [] }))
  // all of a post's events in one partition, as the firehose is partitioned
  const part = (e: FirehoseEvent) => (e.kind === 'creator' ? 0 : Number(e.postId.charCodeAt(1)) % parts)
  for (const e of events) p[part(e)].records.push([e, eventTime(e)])
  return new ArraySource('firehose', p, { perPoll })
}

test('features topology: exact features of a hand-made post, joined with its post and creator, against its creator\'s baseline', async () => {
  const out = new CollectSink<VideoFeatures>('features')
  const late = new CollectSink<unknown>('late')
  await new Runner(featuresTopology(source(handMadeStream()), { features: out, late }, OPTS), {}, { logger: quiet }).run()
  assert.equal(late.values.length, 0)
  const p1 = out.values.filter((f) => f.postId === 'p1')
  assert.deepEqual(p1.map((f) => f.windowEnd - T0), [2 * MIN, 4 * MIN, 6 * MIN, 8 * MIN])
  assert.deepEqual(p1.map((f) => [f.velocity, f.acceleration, f.viewsPerMin, f.engagementRate, f.shareRate, f.avgWatchTimeSec, f.completionRate, f.viewsSincePosting, f.engagementsSincePosting]), [
    [0.75, 0, 0.5, 0.5, 0, 15, 0.5, 2, 3],
    [1.5, 0.375, 1, 0.5, 0.25, 55 / 3, 2 / 3, 4, 6],
    [1, -0.25, 0.5, 1, 0.5, 25, 1, 4, 7],
    [0.25, -0.375, 0, 0, 0, null, null, 4, 7],
  ])
  // baseline at age 2 min: median(0.5, 1) = 0.75 for the windows younger than 6 min; at 6 min both
  // earlier posts were silent (timer samples of 0): floored at one engagement per 4-min window, 0.25
  assert.deepEqual(p1.map((f) => f.ratioToCreatorBaseline), [0.75 / 0.75, 1.5 / 0.75, 1 / 0.75, 0.25 / 0.25])
  // static context from the post table; follower count from the profile update made after posting
  for (const f of p1) {
    assert.deepEqual([f.platform, f.hashtags, f.soundId, f.language, f.captionLength, f.creatorFollowers, f.revision], ['tiktok', ['fyp', 'cat'], 'snd_9', 'en', 14, 5000, 0])
  }
  assert.deepEqual(p1.map((f) => f.minutesSincePosting), [1.5, 3.5, 5.5, 7.5])
  // the earlier posts had no baseline of their own (fewer than 2 earlier posts)
  assert.ok(out.values.filter((f) => f.postId !== 'p1').every((f) => f.ratioToCreatorBaseline === null && f.creatorFollowers === 1200))
})

test('features topology: restored from a checkpoint taken mid-stream, the output equals an uninterrupted run', async () => {
  const g = generateEvents({ seed: 77, durationMs: 25 * MIN, eventsPerSecond: 25, partitions: 2, creators: 300, outOfOrderMs: 2000 })
  const parts = (): ArraySource<FirehoseEvent> => {
    const p: ArrayPartition<FirehoseEvent>[] = g.labels.partitions.map((id) => ({ id, records: [] }))
    g.events.forEach((e, i) => p[g.partitions[i]].records.push([e, eventTime(e)]))
    return new ArraySource('synthetic', p, { perPoll: 500 })
  }
  const options = { windowSizeMs: 5 * MIN, windowSlideMs: MIN, baselineAgesMin: [2, 5, 10] }
  const ref = new CollectSink<VideoFeatures>('features')
  await new Runner(featuresTopology(parts(), { features: ref, late: new CollectSink('late') }, options), {}, { logger: quiet }).run()
  assert.ok(ref.values.length > 1000)
  assert.ok(ref.values.some((f) => f.ratioToCreatorBaseline !== null))

  const store = new MemoryCheckpointStore()
  const first = new CollectSink<VideoFeatures>('features')
  const src1 = parts()
  const r1 = new Runner(featuresTopology(src1, { features: first, late: new CollectSink('late') }, options), { checkpointEveryPolls: 4, checkpointIntervalMs: 0 }, { store, logger: quiet })
  const poll = src1.poll.bind(src1)
  const half = Math.floor(g.events.length / 500 / 2)
  src1.poll = async (n) => { if (src1.polls === half) r1.stop(); return poll(n) }
  await r1.run()
  assert.ok(first.values.length > 0 && first.values.length < ref.values.length, `stopped mid-stream (${first.values.length} of ${ref.values.length})`)
  const second = new CollectSink<VideoFeatures>('features')
  await new Runner(featuresTopology(parts(), { features: second, late: new CollectSink('late') }, options), {}, { store, logger: quiet }).run()
  assert.deepEqual([...first.values, ...second.values], ref.values)
})
