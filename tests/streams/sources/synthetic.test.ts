// The synthetic firehose: determinism, partitioning, heavy tails, injected ground truth, disorder
// bounds and exact resume. One bounded run is generated once and shared by the read-only checks.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  FirehoseGenerator, generateEvents, iterateEvents, normalizeTerm, partitionOf, SyntheticSource,
  type SyntheticOptionsInput,
} from '../../../streams/sources/synthetic.ts'
import { TrendwireError } from '../../../streams/errors.ts'
import { eventTime, partitionKey, type FirehoseEvent } from '../../../schemas/events.ts'

const HOUR = 3_600_000

// Three hours of event time at ~30 events/s, with late events: about 200k events.
const BASE: SyntheticOptionsInput = {
  seed: 7, durationMs: 3 * HOUR, eventsPerSecond: 30, partitions: 4,
  outOfOrderMs: 2_000, lateFraction: 0.01, lateByMs: 120_000, trends: 6, crises: 2,
}
const run = generateEvents(BASE)
const { events, labels } = run

test('the shared run is non-trivial', () => {
  assert.ok(events.length > 100_000, `only ${events.length} events`)
  assert.equal(labels.events, events.length)
  assert.ok(labels.trends.length >= 4)
  assert.ok(labels.crises.length >= 1)
})

test('same seed gives identical events; another seed differs', () => {
  const opts = { seed: 3, maxEvents: 20_000, eventsPerSecond: 100, lateFraction: 0.02, lateByMs: 60_000, completeLabels: false }
  const a = generateEvents(opts)
  const b = generateEvents(opts)
  assert.equal(JSON.stringify(a.events), JSON.stringify(b.events))
  assert.deepEqual(a.labels, b.labels)
  const c = generateEvents({ ...opts, seed: 4 })
  assert.notEqual(JSON.stringify(c.events), JSON.stringify(a.events))
})

test('delivery settings change the order, never which events exist', () => {
  const base = { seed: 11, durationMs: 20 * 60_000, eventsPerSecond: 50 }
  const a = generateEvents({ ...base, outOfOrderMs: 0, lateFraction: 0 })
  const b = generateEvents({ ...base, outOfOrderMs: 5_000, lateFraction: 0.05, lateByMs: 60_000, partitions: 7 })
  const key = (e: FirehoseEvent) => JSON.stringify(e)
  assert.deepEqual(a.events.map(key).sort(), b.events.map(key).sort())
  // With no jitter and no late events the stream is in event-time order.
  for (let i = 1; i < a.events.length; i++) assert.ok(eventTime(a.events[i]) >= eventTime(a.events[i - 1]))
})

test('iterateEvents yields the same stream in chunks and returns the labels', () => {
  const opts = { seed: 5, maxEvents: 12_345, eventsPerSecond: 80 }
  const it = iterateEvents(opts, 1000)
  const got: FirehoseEvent[] = []
  let r = it.next()
  while (!r.done) { assert.ok(r.value.length <= 1000); got.push(...r.value); r = it.next() }
  const whole = generateEvents(opts)
  assert.equal(JSON.stringify(got), JSON.stringify(whole.events))
  assert.deepEqual(r.value, whole.labels)
})

test('a key always maps to one partition, and a post\'s on-time events arrive in order, post first', () => {
  const seen = new Map<string, { part: number; lastT: number; posted: boolean }>()
  const lateIdx = new Set(labels.late.map((l) => l.index))
  for (let i = 0; i < events.length; i++) {
    const e = events[i]
    const part = run.partitions[i]
    assert.equal(part, partitionOf(partitionKey(e), 4))
    if (e.kind === 'creator') continue
    const s = seen.get(e.postId)
    if (e.kind === 'post') {
      assert.equal(s, undefined, `post ${e.postId} after its engagement`)
      seen.set(e.postId, { part, lastT: e.postedAt, posted: true })
      continue
    }
    assert.ok(s, `engagement for ${e.postId} before its post`)
    assert.equal(s.part, part)
    if (lateIdx.has(i)) continue
    assert.ok(e.at >= s.lastT, `post ${e.postId}: on-time events out of order`)
    s.lastT = e.at
  }
})

test('out-of-orderness stays within the bound except for the labelled late events', () => {
  const lateIdx = new Set(labels.late.map((l) => l.index))
  const bound = labels.outOfOrderMs
  let max = -Infinity
  let lateBehindWatermark = 0
  for (let i = 0; i < events.length; i++) {
    const t = eventTime(events[i])
    if (lateIdx.has(i)) {
      if (t < max - bound) lateBehindWatermark++
    } else {
      assert.ok(t >= max - bound, `event ${i} is ${max - t} ms behind the max, bound ${bound}`)
    }
    if (t > max) max = t
  }
  const engagementAndCreator = events.filter((e) => e.kind !== 'post').length
  const expected = engagementAndCreator * 0.01
  assert.ok(Math.abs(labels.late.length - expected) < 5 * Math.sqrt(expected), `late ${labels.late.length}, expected ~${expected}`)
  assert.ok(lateBehindWatermark >= 0.95 * labels.late.length, `${lateBehindWatermark}/${labels.late.length} late events behind the watermark`)
  for (const l of labels.late) {
    const e = events[l.index]
    assert.equal(eventTime(e), l.at)
    assert.equal(partitionKey(e), l.key)
    assert.notEqual(e.kind, 'post')
  }
})

test('heavy tails: a few posts hold much of the engagement; follower counts have a Pareto tail', () => {
  const fe = labels.posts.filter((p) => p.complete).map((p) => p.finalEngagement).sort((a, b) => b - a)
  const total = fe.reduce((a, b) => a + b, 0)
  const k = Math.ceil(fe.length / 100)
  const share = fe.slice(0, k).reduce((a, b) => a + b, 0) / total
  assert.ok(share > 0.2, `top 1% of posts hold ${(share * 100).toFixed(1)}% of engagement`)
  assert.ok(fe[Math.floor(fe.length / 2)] * 50 < fe[0], 'the biggest post should dwarf the median')
  // top1pct flags: 1% per platform.
  for (const platform of ['tiktok', 'reels', 'shorts'] as const) {
    const mine = labels.posts.filter((p) => p.platform === platform && p.complete)
    const flagged = mine.filter((p) => p.top1pct)
    assert.equal(flagged.length, Math.ceil(mine.length / 100))
    assert.ok(flagged.every((p) => p.finalEngagement >= labels.top1pctThreshold[platform]!))
  }
  // Followers per creator (first sighting): Hill estimator of the tail index over the top 5%.
  const followers = new Map<string, number>()
  for (const e of events) if (e.kind === 'post' && !followers.has(e.creatorId)) followers.set(e.creatorId, e.creatorFollowers)
  const f = [...followers.values()].sort((a, b) => b - a)
  const m = Math.floor(f.length * 0.05)
  let hill = 0
  for (let i = 0; i < m; i++) hill += Math.log(f[i] / f[m])
  const alpha = m / hill
  assert.ok(alpha > 0.6 && alpha < 2, `tail index ${alpha.toFixed(2)}`)
  assert.ok(f[0] > 100 * f[Math.floor(f.length / 2)], 'largest creator ≫ median creator')
})

test('every post is labelled with an engagement count that matches the delivered events', () => {
  const delivered = new Map<string, number>()
  for (const e of events) if (e.kind === 'engagement') delivered.set(e.postId, (delivered.get(e.postId) ?? 0) + 1)
  const posts = events.filter((e) => e.kind === 'post')
  assert.equal(labels.posts.length, posts.length)
  for (const p of labels.posts) {
    assert.ok(p.complete)
    // Everything delivered is inside the horizon; the label also counts what happens after the run.
    assert.ok(p.finalEngagement >= (delivered.get(p.postId) ?? 0))
  }
})

test('trend bursts are visible in hashtag and sound counts around the labelled onsets', () => {
  const posts = events.filter((e) => e.kind === 'post')
  let checked = 0
  for (const tr of labels.trends) {
    const rise = tr.peak - tr.onset
    if (tr.peak + rise / 2 > labels.endTime) continue
    const uses = (p: (typeof posts)[number]) =>
      tr.type === 'sound' ? p.soundId === tr.entity : p.hashtags.some((h) => normalizeTerm(h) === tr.normalized)
    let before = 0
    let atPeak = 0
    for (const p of posts) {
      if (!uses(p)) continue
      if (p.postedAt >= tr.onset - rise && p.postedAt < tr.onset) before++
      if (p.postedAt >= tr.peak - rise / 2 && p.postedAt < tr.peak + rise / 2) atPeak++
    }
    assert.ok(atPeak >= 2 * before + 3, `${tr.id} ${tr.entity}: ${before} uses before onset, ${atPeak} around the peak`)
    if (tr.isNew) assert.equal(before, 0, `${tr.id}: a new entity used before its onset`)
    checked++
  }
  assert.ok(checked >= 3, `only ${checked} trends complete within the run`)
})

test('hashtags come in surface variants that normalise back to one term', () => {
  const forms = new Map<string, Set<string>>()
  for (const e of events) {
    if (e.kind !== 'post') continue
    for (const h of e.hashtags) {
      const k = normalizeTerm(h)
      if (!forms.has(k)) forms.set(k, new Set())
      forms.get(k)!.add(h)
      assert.ok(e.caption.includes('#' + h))
    }
  }
  const variants = [...forms.values()].filter((s) => s.size > 1).length
  assert.ok(variants > 100, `only ${variants} terms appear in more than one surface form`)
  assert.ok([...forms.keys()].some((k) => k === 'cafe'), 'accented tags are folded')
  assert.ok(forms.get('cafe')!.has('café') && forms.get('cafe')!.has('cafe'))
})

test('crisis episodes: negative brand comments concentrate in the labelled window', () => {
  for (const c of labels.crises) {
    let inside = 0
    let outside = 0
    for (const e of events) {
      if (e.kind !== 'engagement' || e.type !== 'comment' || !e.commentText?.includes(c.brand)) continue
      if (!c.negativeWords.some((w) => e.commentText!.includes(w))) continue
      if (e.at >= c.onset && e.at < c.end + HOUR) inside++
      else outside++
    }
    assert.ok(inside >= 10, `${c.id} ${c.brand}: only ${inside} negative comments in the window`)
    assert.ok(inside > 5 * outside, `${c.id}: ${inside} inside vs ${outside} outside`)
    assert.ok(c.posts > 0 && c.negativeComments > 0)
  }
})

test('labels file round-trips as JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-synth-'))
  try {
    const src = new SyntheticSource({ seed: 2, maxEvents: 3000, eventsPerSecond: 100 })
    await src.open(null, { beforeRevoke: async () => {}, onAssign: () => {} })
    for (;;) { const r = await src.poll(1000); if (r.done) break }
    await src.writeLabels(join(dir, 'labels.json'))
    const got = JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8'))
    assert.equal(got.version, 1)
    assert.equal(got.events, 3000)
    assert.ok(Array.isArray(got.posts) && got.posts.length > 0)
    assert.deepEqual(Object.keys(got.top1pctThreshold).sort(), ['reels', 'shorts', 'tiktok'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

async function drain(src: SyntheticSource, maxPolls = Infinity, batch = 997): Promise<{ perPart: Map<string, FirehoseEvent[]>; done: boolean; finished: string[] }> {
  const perPart = new Map<string, FirehoseEvent[]>()
  const finished: string[] = []
  let done = false
  for (let i = 0; i < maxPolls && !done; i++) {
    const r = await src.poll(batch)
    for (const b of r.batches) {
      assert.equal(b.values.length, b.times.length)
      b.values.forEach((v, j) => assert.equal(b.times[j], eventTime(v)))
      if (!perPart.has(b.partition)) perPart.set(b.partition, [])
      perPart.get(b.partition)!.push(...b.values)
    }
    if (r.finished) finished.push(...r.finished)
    done = r.done
  }
  return { perPart, done, finished }
}

const hooks = { beforeRevoke: async () => {}, onAssign: () => {} }

test('SyntheticSource: resume from positions mid-stream yields exactly the remainder', async () => {
  const opts: SyntheticOptionsInput = { seed: 9, maxEvents: 15_000, eventsPerSecond: 120, partitions: 3, lateFraction: 0.02, lateByMs: 30_000 }
  const full = new SyntheticSource(opts)
  await full.open(null, hooks)
  const all = await drain(full)
  assert.ok(all.done)
  assert.deepEqual(all.finished.sort(), ['synthetic/0', 'synthetic/1', 'synthetic/2'])
  assert.equal([...all.perPart.values()].reduce((a, b) => a + b.length, 0), 15_000)

  const first = new SyntheticSource(opts)
  await first.open(null, hooks)
  const head = await drain(first, 7)
  assert.ok(!head.done)
  const positions = first.positions()
  await first.close()

  const second = new SyntheticSource(opts)
  await second.open(JSON.parse(JSON.stringify(positions)), hooks)
  const tail = await drain(second)
  assert.ok(tail.done)
  for (const [p, evs] of all.perPart) {
    const got = [...(head.perPart.get(p) ?? []), ...(tail.perPart.get(p) ?? [])]
    assert.equal(got.length, evs.length, p)
    assert.equal(JSON.stringify(got), JSON.stringify(evs), p)
    assert.deepEqual(positions[p], { n: head.perPart.get(p)?.length ?? 0, startTime: Date.UTC(2024, 5, 1) })
  }
  assert.deepEqual(second.positions(), full.positions())
})

test('SyntheticSource: a realtime run without a start time resumes the same stream', async () => {
  const opts: SyntheticOptionsInput = { seed: 12, eventsPerSecond: 2_000, realtime: true, speed: 1000, outOfOrderMs: 0 }
  const a = new SyntheticSource(opts)
  await a.open(null, hooks)
  const head = await drain(a, 3, 500)
  const pos = JSON.parse(JSON.stringify(a.positions()))
  const more = await drain(a, 3, 500)
  await new Promise((r) => setTimeout(r, 5)) // a later wall clock: a fresh run would start elsewhere
  const b = new SyntheticSource(opts)
  assert.notEqual(b.options.startTime, a.options.startTime)
  await b.open(pos, hooks)
  assert.equal(b.options.startTime, a.options.startTime)
  const again = await drain(b, 3, 500)
  // Realtime polls hand out what is due, so compare the common prefix of each partition.
  let compared = 0
  for (const [p, evs] of more.perPart) {
    const got = again.perPart.get(p) ?? []
    const k = Math.min(got.length, evs.length)
    assert.ok(JSON.stringify(got.slice(0, k)) === JSON.stringify(evs.slice(0, k)), `${p}: resumed stream differs`)
    compared += k
  }
  assert.ok(compared > 0 && head.perPart.size > 0)
  await assert.rejects(b.open({ 'synthetic/0': 5 }, hooks), (e: unknown) => e instanceof TrendwireError && e.code === 'CHECKPOINT_CORRUPT')
})

test('SyntheticSource: realtime pacing keeps event time near the wall clock', async () => {
  const start = Date.UTC(2024, 0, 1, 12)
  const src = new SyntheticSource({ seed: 1, eventsPerSecond: 400, realtime: true, speed: 10, startTime: start, outOfOrderMs: 0 })
  await src.open(null, hooks)
  const t0 = Date.now()
  let n = 0
  let maxT = -Infinity
  while (Date.now() - t0 < 400) {
    const r = await src.poll(10_000)
    assert.equal(r.done, false)
    for (const b of r.batches) { n += b.values.length; for (const t of b.times) maxT = Math.max(maxT, t) }
  }
  const elapsedEventTime = (Date.now() - t0) * 10
  assert.ok(n > 0, 'nothing delivered')
  assert.ok(maxT <= start + elapsedEventTime + 50, `event time ran ahead: ${maxT - start} ms vs ${elapsedEventTime}`)
  await src.close()
})

test('bad options fail at construction naming the key', () => {
  assert.throws(() => new FirehoseGenerator({ seed: 1, lateFraction: 0.1, outOfOrderMs: 5000, lateByMs: 1000 }), (e: unknown) =>
    e instanceof TrendwireError && e.code === 'CONFIG_INVALID' && /lateByMs/.test(e.message))
  assert.throws(() => new FirehoseGenerator({ seed: 1, partitions: 0 }), /partitions/)
  assert.throws(() => new FirehoseGenerator({ seed: 1, bogus: 1 } as never), /bogus|unrecognized/i)
  assert.throws(() => generateEvents({ seed: 1 }), /durationMs or maxEvents/)
})

test('a large vocabulary (100k hashtags) is built and used', () => {
  const r = generateEvents({ seed: 1, maxEvents: 20_000, eventsPerSecond: 5_000, hashtags: 100_000, completeLabels: false })
  const tags = new Set<string>()
  for (const e of r.events) if (e.kind === 'post') for (const h of e.hashtags) tags.add(normalizeTerm(h))
  assert.ok(tags.size > 4_000, `${tags.size} distinct tags`)
})
