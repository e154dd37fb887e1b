// The virality topology end to end on a small synthetic firehose with the shipped model: one score per
// features record, each with the model version, its top features and a point-process estimate no
// smaller than what the post has already had; and a checkpoint restored mid-stream gives the same scores.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pino from 'pino'
import { loadViralityModel } from '../../operators/virality/scorer.ts'
import { eventTime, type FirehoseEvent } from '../../schemas/events.ts'
import type { VideoFeatures, ViralityScore } from '../../schemas/outputs.ts'
import { CollectSink } from '../../sinks/memory.ts'
import { MemoryCheckpointStore } from '../../streams/checkpoint.ts'
import { Runner } from '../../streams/runner.ts'
import { ArraySource, type ArrayPartition } from '../../streams/sources/array.ts'
import { generateEvents } from '../../streams/sources/synthetic.ts'
import { viralityTopology } from '../../topologies/virality.ts'

const quiet = pino({ level: 'silent' })
const MIN = 60_000
const g = generateEvents({ seed: 78, durationMs: 20 * MIN, eventsPerSecond: 25, partitions: 2, creators: 300, outOfOrderMs: 2000 })
const PER_POLL = 500

function source(): ArraySource<FirehoseEvent> {
  const p: ArrayPartition<FirehoseEvent>[] = g.labels.partitions.map((id) => ({ id, records: [] }))
  g.events.forEach((e, i) => p[g.partitions[i]].records.push([e, eventTime(e)]))
  return new ArraySource('synthetic', p, { perPoll: PER_POLL })
}

/** One uninterrupted run, shared by the tests (the restore test compares against it). */
let reference: Promise<{ scores: ViralityScore[]; features: VideoFeatures[] }> | null = null
function uninterrupted() {
  reference ??= (async () => {
    const scores = new CollectSink<ViralityScore>('scores')
    const features = new CollectSink<VideoFeatures>('features')
    await new Runner(viralityTopology(source(), { scores, features, late: new CollectSink('late') }, { model: await loadViralityModel() }), {}, { logger: quiet }).run()
    return { scores: scores.values, features: features.values }
  })()
  return reference
}

test('virality topology: a score per features record, with the model version, top features and the point-process estimate', async () => {
  const model = await loadViralityModel()
  const run = await uninterrupted()
  const scores = { values: run.scores }
  const features = { values: run.features }
  assert.ok(scores.values.length > 1000)
  assert.equal(scores.values.length, features.values.length)
  const names = new Set(model.spec.features.map((f) => f.name))
  scores.values.forEach((s, i) => {
    const f = features.values[i]
    assert.equal(s.postId, f.postId)
    assert.equal(s.at, f.windowEnd)
    assert.equal(s.modelVersion, model.spec.modelVersion)
    assert.ok(s.probTop1Pct >= 0 && s.probTop1Pct <= 1)
    assert.equal(s.topFeatures.length, 3)
    for (const t of s.topFeatures) assert.ok(names.has(t.name), t.name)
    // the point process has seen the same engagements before `at` as the counts since posting
    assert.ok(s.predictedFinalEngagement >= f.engagementsSincePosting!, `${s.postId}@${s.at}: ${s.predictedFinalEngagement} < ${f.engagementsSincePosting}`)
  })
  // the scores rank: the posts that end in the top 1% score higher on average than the rest
  const top = new Set(g.labels.posts.filter((p) => p.top1pct).map((p) => p.postId))
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const last = new Map(scores.values.map((s) => [s.postId, s.probTop1Pct]))
  const inTop = [...last].filter(([p]) => top.has(p)).map(([, v]) => v)
  const rest = [...last].filter(([p]) => !top.has(p)).map(([, v]) => v)
  assert.ok(inTop.length > 0 && mean(inTop) > 5 * mean(rest), `${mean(inTop)} vs ${mean(rest)}`)
})

test('virality topology: restored from a checkpoint taken mid-stream, the scores equal an uninterrupted run', async () => {
  const model = await loadViralityModel()
  const ref = { values: (await uninterrupted()).scores }

  const store = new MemoryCheckpointStore()
  const first = new CollectSink<ViralityScore>('scores')
  const src1 = source()
  const r1 = new Runner(viralityTopology(src1, { scores: first, late: new CollectSink('late') }, { model }), { checkpointEveryPolls: 5, checkpointIntervalMs: 0 }, { store, logger: quiet })
  const poll = src1.poll.bind(src1)
  const half = Math.floor(g.events.length / PER_POLL / 2)
  src1.poll = async (n) => { if (src1.polls === half) r1.stop(); return poll(n) }
  await r1.run()
  assert.ok(first.values.length > 0 && first.values.length < ref.values.length, `stopped mid-stream (${first.values.length} of ${ref.values.length})`)
  const second = new CollectSink<ViralityScore>('scores')
  await new Runner(viralityTopology(source(), { scores: second, late: new CollectSink('late') }, { model }), {}, { store, logger: quiet }).run()
  assert.deepEqual([...first.values, ...second.values], ref.values)
})
