// Data for training and evaluating the virality model, regenerated from the synthetic firehose:
// a seed's events go through the real feature topology (topologies/features.ts) with the runner, and
// the VideoFeatures it emits are paired with the generator's labels (final engagement at 24 h, top 1%
// of the platform). Training and evaluation use disjoint seeds (train.ts, eval.ts).
import pino from 'pino'
import type { Engagement, FirehoseEvent, PostPublished } from '../../schemas/events.ts'
import type { VideoFeatures } from '../../schemas/outputs.ts'
import { CollectSink } from '../../sinks/memory.ts'
import { Runner } from '../../streams/runner.ts'
import { ArraySource, type ArrayPartition } from '../../streams/sources/array.ts'
import { generateEvents, type FirehoseLabels, type GeneratedFirehose, type SyntheticOptionsInput } from '../../streams/sources/synthetic.ts'
import { eventTime } from '../../schemas/events.ts'
import { featuresTopology } from '../../topologies/features.ts'
import type { FeaturesOptionsInput } from '../../operators/features/index.ts'
import type { Source } from '../../streams/types.ts'

const MINUTE = 60_000

/** The synthetic firehose every virality data set is drawn from; only the seed changes. */
export const FIREHOSE: Omit<SyntheticOptionsInput, 'seed'> = {
  durationMs: 2 * 60 * MINUTE,
  eventsPerSecond: 50,
  partitions: 4,
  outOfOrderMs: 2_000,
  // every post's 24 h engagement is simulated to the end, so each label is exact
  completeLabels: true,
}

export const quiet = pino({ level: 'silent' })

export function firehose(seed: number, overrides: Partial<SyntheticOptionsInput> = {}): GeneratedFirehose {
  return generateEvents({ ...FIREHOSE, ...overrides, seed })
}

/** The generated stream as a replayable source, partitioned as the generator delivered it. */
export function sourceOf(g: GeneratedFirehose, name = 'synthetic', perPoll = 4096): Source<FirehoseEvent> {
  const parts: ArrayPartition<FirehoseEvent>[] = g.labels.partitions.map((id) => ({ id, records: [] }))
  for (let i = 0; i < g.events.length; i++) parts[g.partitions[i]].records.push([g.events[i], eventTime(g.events[i])])
  return new ArraySource(name, parts, { perPoll })
}

/** Runs the feature topology over a generated stream; returns every VideoFeatures record in emission order. */
export async function computeFeatures(g: GeneratedFirehose, options: FeaturesOptionsInput = {}): Promise<VideoFeatures[]> {
  const out = new CollectSink<VideoFeatures>('features')
  const late = new CollectSink<unknown>('late')
  const t = featuresTopology(sourceOf(g), { features: out, late }, options)
  await new Runner(t, { checkpointIntervalMs: 0, checkpointAtEnd: false }, { logger: quiet }).run()
  return out.values
}

/** Posts that can be scored at `maxAgeMs`: published at least that long before the stream ends, not during warm-up. */
export function eligiblePosts(labels: FirehoseLabels, maxAgeMs: number): FirehoseLabels['posts'] {
  return labels.posts.filter((p) => p.complete && !p.warmup && p.postedAt + maxAgeMs <= labels.endTime)
}

/**
 * The latest record per post as of each age: for age a, the record with the largest windowEnd <=
 * postedAt + a (highest revision among equals). Missing when the post had no engagement by then.
 */
export function snapshotsAt<R extends { postId: string; windowEnd: number; revision: number }>(
  records: readonly R[], postedAt: ReadonlyMap<string, number>, agesMs: readonly number[],
): Map<string, (R | undefined)[]> {
  const out = new Map<string, (R | undefined)[]>()
  for (const r of records) {
    const t0 = postedAt.get(r.postId)
    if (t0 === undefined) continue
    let row = out.get(r.postId)
    if (!row) out.set(r.postId, (row = new Array(agesMs.length).fill(undefined)))
    for (let i = 0; i < agesMs.length; i++) {
      if (r.windowEnd > t0 + agesMs[i]) continue
      const cur = row[i]
      if (!cur || r.windowEnd > cur.windowEnd || (r.windowEnd === cur.windowEnd && r.revision >= cur.revision)) row[i] = r
    }
  }
  return out
}

/** Views of each post with event time <= postedAt + age, for each age: the raw-count baseline. */
export function viewsAt(events: readonly FirehoseEvent[], agesMs: readonly number[]): Map<string, number[]> {
  const postedAt = new Map<string, number>()
  for (const e of events) if (e.kind === 'post') postedAt.set(e.postId, e.postedAt)
  const out = new Map<string, number[]>()
  for (const e of events) {
    if (e.kind !== 'engagement' || e.type !== 'view') continue
    const t0 = postedAt.get(e.postId)
    if (t0 === undefined) continue
    let row = out.get(e.postId)
    if (!row) out.set(e.postId, (row = new Array(agesMs.length).fill(0)))
    for (let i = 0; i < agesMs.length; i++) if (e.at <= t0 + agesMs[i]) row[i]++
  }
  return out
}

export function postsOf(events: readonly FirehoseEvent[]): Map<string, PostPublished> {
  const m = new Map<string, PostPublished>()
  for (const e of events) if (e.kind === 'post') m.set(e.postId, e)
  return m
}

export function engagementsOf(events: readonly FirehoseEvent[]): Engagement[] {
  return events.filter((e): e is Engagement => e.kind === 'engagement')
}

/** Seeds the model is trained on (train.ts) and evaluated on (eval.ts): disjoint, and checked to be. */
export const TRAIN_SEEDS = [1001, 1002, 1003, 1004, 1005, 1006]
export const EVAL_SEEDS = [2001, 2002, 2003, 2004]
/** Held out from training; train.ts records the model's figures on them in the model's JSON. */
export const VALIDATION_SEEDS = [3001]

/** Post ages (minutes) whose latest features become training rows: around and between the evaluated ages. */
export const TRAIN_AGES_MIN = [5, 10, 15, 20, 30, 45, 60, 90]
/** Post ages (minutes) the evaluation scores at. */
export const EVAL_AGES_MIN = [15, 60]

export function parseSeeds(s: string): number[] {
  const out: number[] = []
  for (const part of s.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(part)
    if (!m) throw new Error(`bad seed list "${s}": use e.g. 1001,1002 or 1001-1006`)
    const a = Number(m[1])
    const b = m[2] === undefined ? a : Number(m[2])
    for (let x = a; x <= b; x++) out.push(x)
  }
  return out
}
