// docs/sql-cookbook.md, executed: every ```sql block of the document runs against embedded chDB with
// the migrated schema, loaded with a small fixture dataset through ClickHouseSink (the same path the
// engine's output takes). Blocks named in `expected` below are compared with results computed here,
// in TypeScript, from the fixture itself; the rest must run without error.
//
// Fixture times are relative to the wall clock (the views ask about "the last hour"), and placed away
// from every time boundary the queries use (1 h, 6 h, 24 h): rows that must count are at most 50
// minutes (windows) or 3 hours (posts) old, rows that must not are 70+ minutes or 26+ hours old, so a
// slow run crossing a minute boundary cannot change the answers.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, rmSync } from 'node:fs'
import pino from 'pino'
import type { Engagement, Platform, PostPublished } from '../../schemas/events.ts'
import type { BrandAlert, TrendSignal, VideoFeatures, ViralityScore } from '../../schemas/outputs.ts'
import type { ClickHouse } from '../../sinks/clickhouse/client.ts'
import { ClickHouseDeadLetterTable } from '../../sinks/clickhouse/dead-letters.ts'
import * as R from '../../sinks/clickhouse/rows.ts'
import { ClickHouseSink } from '../../sinks/clickhouse/sink.ts'
import { Rng } from '../../streams/sources/prng.ts'
import type { DeadLetter } from '../../streams/types.ts'
import type { LateRecord } from '../../streams/windows.ts'
import type { HashtagWindowCount } from '../../topologies/hashtag-activity.ts'
import { embeddedWithSchema, rows } from '../helpers/clickhouse.ts'

const quiet = pino({ level: 'silent' })
const MIN = 60_000
const HOUR = 60 * MIN
const NOW = Math.floor(Date.now() / MIN) * MIN
const PLATFORMS: Platform[] = ['tiktok', 'reels', 'shorts']
const TAGS = ['dance', 'food', 'travel', 'cats', 'ads', 'glowup']

// ---------------------------------------------------------------------------------------------
// The fixture

interface Fixture {
  posts: PostPublished[]
  engagements: Engagement[]
  uses: HashtagWindowCount[]
  engagement10m: HashtagWindowCount[]
  trends: TrendSignal[]
  scores: ViralityScore[]
  features: VideoFeatures[]
  alerts: BrandAlert[]
  deadLetters: DeadLetter[]
  late: LateRecord<unknown>[]
}

function fixture(): Fixture {
  const rng = new Rng(2024, 'cookbook')
  const posts: PostPublished[] = []
  const engagements: Engagement[] = []
  const creators = [{ id: 'c-1', platform: 'tiktok' as Platform, n: 5 }, { id: 'c-2', platform: 'reels' as Platform, n: 4 }, { id: 'c-3', platform: 'shorts' as Platform, n: 4 }]
  for (const c of creators) {
    for (let k = 0; k < c.n; k++) {
      const postedAt = NOW - (20 + k * 35 + rng.int(5)) * MIN
      posts.push({
        kind: 'post', postId: `${c.id}-p${k}`, platform: c.platform, creatorId: c.id, creatorFollowers: 1000 * (k + 1),
        postedAt, caption: `post ${k} by ${c.id} #${TAGS[k % TAGS.length]}`, hashtags: [TAGS[k % TAGS.length], TAGS[(k + 2) % TAGS.length]],
        soundId: k % 2 ? `s-${k}` : null, durationSec: 15 + 10 * k, language: 'en', embedding: null,
      })
    }
  }
  // an old post, outside "the last 6 hours", with engagement older than a day
  posts.push({ kind: 'post', postId: 'old-p0', platform: 'reels', creatorId: 'c-9', creatorFollowers: 10, postedAt: NOW - 30 * HOUR, caption: 'old', hashtags: ['ads'], soundId: null, durationSec: 30, language: 'de', embedding: null })
  for (const p of posts) {
    const types: Engagement['type'][] = ['view', 'view', 'view', 'view', 'like', 'like', 'comment', 'share', 'save']
    const n = 15 + rng.int(25)
    for (let i = 0; i < n; i++) {
      const type = rng.pick(types)
      // within 70 minutes of posting (some after the first hour), never in the future
      const at = Math.min(p.postedAt + 1_000 + rng.int(70 * MIN), NOW - 1_000)
      const watch = type === 'view' && !rng.chance(0.1) ? Math.round(rng.float() * p.durationSec * 1.3 * 10) / 10 : null
      engagements.push({ kind: 'engagement', postId: p.postId, platform: p.platform, type, at, watchTimeSec: watch, commentText: type === 'comment' ? 'nice' : null, userId: `u-${rng.int(500)}` })
    }
  }

  const uses: HashtagWindowCount[] = []
  for (const tag of TAGS) {
    for (const m of [...range(1, 50), ...range(70, 90)]) {
      const base = tag === 'glowup' ? (m <= 10 ? 20 : 2) : tag === 'ads' ? 1 : 6
      const count = rng.int(base + 3)
      if (count === 0) continue
      const w = { hashtag: tag, windowStart: NOW - m * MIN, windowEnd: NOW - (m - 1) * MIN, count, revision: 0 }
      uses.push(w)
      if (rng.chance(0.08)) uses.push({ ...w, count: count + 1 + rng.int(3), revision: 1 })
    }
  }
  const engagement10m: HashtagWindowCount[] = []
  for (const tag of TAGS) {
    for (const e of range(0, 30)) {
      const w = { hashtag: tag, windowStart: NOW - e * MIN - 10 * MIN, windowEnd: NOW - e * MIN, count: 5 + rng.int(100), revision: 0 }
      engagement10m.push(w)
      if (e === 0 && tag === 'food') engagement10m.push({ ...w, count: w.count + 500, revision: 1 })
    }
  }

  const trends: TrendSignal[] = []
  const stages = ['emerging', 'rising', 'peaking', 'declining'] as const
  for (const platform of PLATFORMS) {
    for (const [entityType, entity] of [['hashtag', 'glowup'], ['hashtag', 'dance'], ['hashtag', 'food'], ['hashtag', 'cats'], ['sound', 's-77'], ['term', 'heatwave']] as const) {
      for (const j of [...range(0, 9), 16, 18, 20]) {
        const windowEnd = NOW - j * 5 * MIN
        const uses = 1 + rng.int(60)
        trends.push({
          entityType, entity, platform, windowStart: windowEnd - 5 * MIN, windowEnd, uses, uniqueCreators: 1 + rng.int(uses),
          totalEngagement: uses * 10 + rng.int(100), growth: rng.range(-1, 3), baseline: rng.range(1, 20), observed: uses,
          deviation: rng.range(-2, 6), score: Math.round(rng.range(0, 100) * 1000) / 1000, stage: rng.pick(stages),
          contributingPostIds: ['c-1-p0'], revision: 0,
        })
      }
    }
  }
  // a correction of a latest window: the corrected stage and score must win
  const latestGlowup = trends.find((t) => t.platform === 'tiktok' && t.entity === 'glowup' && t.windowEnd === NOW)!
  trends.push({ ...latestGlowup, stage: 'emerging', score: 999, revision: 1 })

  const scores: ViralityScore[] = []
  for (const p of posts.slice(0, 10)) {
    for (const ago of [30, 20, 10]) {
      scores.push({ postId: p.postId, platform: p.platform, at: NOW - ago * MIN, predictedFinalEngagement: Math.round(rng.range(100, 10_000)), probTop1Pct: Math.round(rng.float() * 10_000) / 10_000, modelVersion: ago === 10 ? 'v2' : 'v1', topFeatures: [{ name: 'velocity', value: rng.range(0, 50), contribution: rng.range(-1, 1) }] })
    }
  }
  scores.push({ postId: 'old-p0', platform: 'reels', at: NOW - 30 * HOUR, predictedFinalEngagement: 1e6, probTop1Pct: 0.9999, modelVersion: 'v1', topFeatures: [] })

  const features: VideoFeatures[] = []
  for (const p of posts.slice(0, 8)) {
    for (const j of range(0, 3)) {
      const windowEnd = NOW - j * 5 * MIN
      features.push(feature(p, windowEnd, Math.round(rng.range(0, 40) * 100) / 100, Math.round(rng.range(-5, 5) * 100) / 100, 0))
    }
  }
  features.push({ ...features[0], acceleration: 42, revision: 1 }) // the latest window of the first post, corrected

  const alerts: BrandAlert[] = []
  for (const [i, [brand, severity, ago]] of ([['b-1', 'critical', 30], ['b-1', 'critical', 90], ['b-1', 'warning', 60], ['b-2', 'info', 10], ['b-2', 'critical', 200], ['b-2', 'critical', 30 * 60]] as const).entries()) {
    alerts.push({ alertId: `a-${i}`, brandId: brand, rule: 'keyword_trend', entity: 'glowup', postId: null, severity, reason: `rule fired ${i}`, at: NOW - ago * MIN })
  }
  alerts.push({ ...alerts[0] }) // re-emitted alert: same id, counted once

  const deadLetters: DeadLetter[] = []
  for (const [i, code] of ['INPUT_MALFORMED', 'INPUT_MALFORMED', 'INPUT_MALFORMED', 'INPUT_SCHEMA_MISMATCH', 'INPUT_SCHEMA_MISMATCH'].entries()) {
    deadLetters.push({ source: 'firehose', partition: 'firehose/0', position: String(100 + i), code, reason: `bad record ${i}`, payload: i === 4 ? new Uint8Array([0xff, 0xfe, 0x00]) : Buffer.from(`{"broken":${i}`), at: NOW - 10 * MIN })
  }
  deadLetters.push({ source: 'firehose', partition: 'firehose/1', position: '7', code: 'INPUT_MALFORMED', reason: 'old', payload: Buffer.from('x'), at: NOW - 30 * HOUR })

  const late: LateRecord<unknown>[] = [
    { value: { tag: 'dance' }, time: NOW - 20 * MIN, watermark: NOW - 15 * MIN, operator: 'hashtag-uses-1m', reason: 'window closed' },
    { value: { tag: 'food' }, time: NOW - 30 * MIN, watermark: NOW - 12 * MIN, operator: 'hashtag-uses-1m', reason: 'window closed' },
    { value: { tag: 'cats' }, time: NOW - 40 * MIN, watermark: NOW - 38 * MIN, operator: 'hashtag-engagement-10m', reason: 'window closed' },
  ]
  return { posts, engagements, uses, engagement10m, trends, scores, features, alerts, deadLetters, late }
}

function feature(p: PostPublished, windowEnd: number, velocity: number, acceleration: number, revision: number): VideoFeatures {
  return {
    postId: p.postId, platform: p.platform, windowStart: windowEnd - 5 * MIN, windowEnd, revision, viewsPerMin: velocity / 2, likesPerMin: 1, sharesPerMin: 0.1,
    commentsPerMin: 0.2, savesPerMin: 0.1, velocity, acceleration, engagementRate: 0.1, shareRate: 0.01, avgWatchTimeSec: null, completionRate: null,
    ratioToCreatorBaseline: null, minutesSincePosting: (windowEnd - p.postedAt) / MIN, creatorFollowers: p.creatorFollowers, hashtags: p.hashtags,
    soundId: p.soundId, language: p.language, captionLength: p.caption.length,
  }
}

function range(a: number, b: number): number[] {
  const out: number[] = []
  for (let i = a; i <= b; i++) out.push(i)
  return out
}

// ---------------------------------------------------------------------------------------------
// Expected answers, computed from the fixture

type Row = unknown[]
const now = () => Date.now()

/** Highest revision per key (what FINAL / argMax(…, revision) read). */
function latest<T extends { revision: number }>(items: T[], key: (x: T) => string): T[] {
  const m = new Map<string, T>()
  for (const x of items) {
    const k = key(x)
    const cur = m.get(k)
    if (!cur || x.revision >= cur.revision) m.set(k, x)
  }
  return [...m.values()]
}

const byKey = <T>(xs: T[], key: (x: T) => string): Map<string, T[]> => {
  const m = new Map<string, T[]>()
  for (const x of xs) {
    const k = key(x)
    let l = m.get(k)
    if (!l) m.set(k, (l = []))
    l.push(x)
  }
  return m
}

const cmp = (...keys: Array<(r: Row) => number | string>) => (a: Row, b: Row) => {
  for (const k of keys) {
    const x = k(a)
    const y = k(b)
    if (x < y) return -1
    if (x > y) return 1
  }
  return 0
}
const desc = (i: number) => (r: Row) => -(r[i] as number)
const asc = (i: number) => (r: Row) => r[i] as number | string

const expected: Record<string, (f: Fixture) => Row[]> = {
  'top-hashtags-last-hour': (f) => {
    const t = now()
    const win = latest(f.uses, (w) => `${w.hashtag}|${w.windowStart}`).filter((w) => w.windowEnd > t - HOUR && w.windowEnd <= t)
    return [...byKey(win, (w) => w.hashtag)].map(([tag, ws]): Row => [tag, ws.reduce((s, w) => s + w.count, 0), ws.length])
      .sort(cmp(desc(1), asc(0))).slice(0, 10)
  },
  'hashtag-history': (f) => latest(f.uses, (w) => `${w.hashtag}|${w.windowStart}`)
    .filter((w) => w.hashtag === 'dance' && w.windowStart >= now() - 3 * HOUR)
    .sort((a, b) => a.windowStart - b.windowStart).map((w) => [w.windowStart, w.count, w.revision]),
  'hashtag-breakouts': (f) => {
    const win = latest(f.uses, (w) => `${w.hashtag}|${w.windowStart}`)
    const tEnd = Math.max(...f.uses.map((w) => w.windowEnd))
    return [...byKey(win.filter((w) => w.windowEnd > tEnd - 20 * MIN), (w) => w.hashtag)].map(([tag, ws]): Row => {
      const last = ws.filter((w) => w.windowEnd > tEnd - 10 * MIN).reduce((s, w) => s + w.count, 0)
      const prev = ws.filter((w) => w.windowEnd <= tEnd - 10 * MIN).reduce((s, w) => s + w.count, 0)
      return [tag, last, prev, (last - prev) / Math.max(prev, 1)]
    }).filter((r) => (r[1] as number) >= 5).sort(cmp(desc(3), asc(0))).slice(0, 20)
  },
  'engagement-leaders': (f) => {
    const win = latest(f.engagement10m, (w) => `${w.hashtag}|${w.windowStart}`)
    const end = Math.max(...win.map((w) => w.windowEnd))
    return win.filter((w) => w.windowEnd === end).map((w): Row => [w.hashtag, w.count, w.windowStart, w.windowEnd]).sort(cmp(desc(1), asc(0))).slice(0, 10)
  },
  'corrected-windows': (f) => {
    const win = latest(f.uses, (w) => `${w.hashtag}|${w.windowStart}`).filter((w) => w.revision > 0)
    return [...byKey(win, (w) => w.hashtag)].map(([tag, ws]): Row => [tag, ws.length, Math.max(...ws.map((w) => w.revision))]).sort(cmp(desc(1), asc(0)))
  },
  'emerging-trends': (f) => {
    const t = now()
    const win = latest(f.trends, (s) => `${s.platform}|${s.entityType}|${s.entity}|${s.windowStart}`).filter((s) => s.windowEnd > t - HOUR && s.windowEnd <= t)
    const out: Row[] = []
    for (const ss of byKey(win, (s) => `${s.platform}|${s.entityType}|${s.entity}`).values()) {
      const last = ss.reduce((a, b) => (b.windowStart > a.windowStart ? b : a))
      if (last.stage === 'emerging') out.push([last.platform, last.entityType, last.entity, last.score, last.growth, last.uses, Math.max(...ss.map((s) => s.windowEnd))])
    }
    out.sort(cmp(asc(0), desc(3), asc(2)))
    return PLATFORMS.slice().sort().flatMap((p) => out.filter((r) => r[0] === p).slice(0, 10))
  },
  'trend-history': (f) => latest(f.trends, (s) => `${s.platform}|${s.entityType}|${s.entity}|${s.windowStart}`)
    .filter((s) => s.entity === 'glowup').map((s): Row => [s.platform, s.windowStart, s.uses, s.uniqueCreators, s.score, s.stage, s.revision])
    .sort(cmp(asc(0), asc(1))),
  'lifecycle-stages': (f) => {
    const t = now()
    const win = latest(f.trends, (s) => `${s.platform}|${s.entityType}|${s.entity}|${s.windowStart}`).filter((s) => s.windowEnd > t - HOUR)
    const stageOf = [...byKey(win, (s) => `${s.platform}|${s.entityType}|${s.entity}`).values()].map((ss) => ss.reduce((a, b) => (b.windowStart > a.windowStart ? b : a)))
    return [...byKey(stageOf, (s) => `${s.platform}|${s.stage}`).values()].map((ss): Row => [ss[0].platform, ss[0].stage, ss.length]).sort(cmp(asc(0), asc(1)))
  },
  'virality-leaderboard': (f) => {
    const t = now()
    return [...byKey(f.scores.filter((s) => s.at > t - 24 * HOUR), (s) => `${s.platform}|${s.postId}`).values()]
      .map((ss) => ss.reduce((a, b) => (b.at > a.at ? b : a)))
      .map((s): Row => [s.platform, s.postId, s.probTop1Pct, s.predictedFinalEngagement, s.modelVersion])
      .sort(cmp(desc(2), asc(1))).slice(0, 20)
  },
  'creator-vs-baseline': (f) => {
    const mine = f.posts.filter((p) => p.creatorId === 'c-1')
    const per = mine.map((p) => {
      const es = f.engagements.filter((e) => e.postId === p.postId && e.at < p.postedAt + HOUR)
      return { p, eng: es.filter((e) => e.type !== 'view').length, views: es.filter((e) => e.type === 'view').length }
    })
    const sorted = per.map((x) => x.eng).sort((a, b) => a - b)
    const median = sorted[(sorted.length - 1) / 2] // odd count: the middle value, no interpolation
    return per.sort((a, b) => b.p.postedAt - a.p.postedAt).map((x): Row => [x.p.postId, x.p.platform, x.p.postedAt, x.eng, x.views, median, median === 0 ? null : x.eng / median])
  },
  'engagement-funnel': (f) => {
    const t = now()
    return [...byKey(f.engagements.filter((e) => e.at > t - 24 * HOUR), (e) => e.platform)].map(([platform, es]): Row => {
      const n = (ty: string) => es.filter((e) => e.type === ty).length
      return [platform, n('view'), n('like'), n('comment'), n('share'), n('save'), n('like') / Math.max(n('view'), 1)]
    }).sort(cmp(asc(0)))
  },
  'posts-per-hour': (f) => {
    const t = now()
    return [...byKey(f.posts.filter((p) => p.postedAt > t - 6 * HOUR), (p) => `${Math.floor(p.postedAt / HOUR) * HOUR}|${p.platform}`).values()]
      .map((ps): Row => [Math.floor(ps[0].postedAt / HOUR) * HOUR, ps[0].platform, ps.length, new Set(ps.map((p) => p.creatorId)).size])
      .sort(cmp(asc(0), asc(1)))
  },
  'watch-time': (f) => {
    const dur = new Map(f.posts.map((p) => [p.postId, p.durationSec]))
    return [...byKey(f.engagements.filter((e) => e.type === 'view' && e.watchTimeSec !== null), (e) => e.platform)].map(([platform, es]): Row => [
      platform, es.length, es.reduce((s, e) => s + e.watchTimeSec!, 0) / es.length, es.filter((e) => e.watchTimeSec! >= dur.get(e.postId)!).length / es.length,
    ]).sort(cmp(asc(0)))
  },
  'accelerating-posts': (f) => {
    const win = latest(f.features, (x) => `${x.platform}|${x.postId}|${x.windowStart}`)
    return [...byKey(win, (x) => x.postId).values()].map((xs) => xs.reduce((a, b) => (b.windowEnd > a.windowEnd ? b : a)))
      .map((x): Row => [x.platform, x.postId, x.windowEnd, x.velocity, x.acceleration]).sort(cmp(desc(4), asc(1))).slice(0, 10)
  },
  'brand-alerts': (f) => {
    const t = now()
    const uniq = [...new Map(f.alerts.map((a) => [a.alertId, a])).values()].filter((a) => a.at > t - 24 * HOUR)
    return [...byKey(uniq, (a) => `${a.brandId}|${a.severity}`).values()].map((as): Row => [as[0].brandId, as[0].severity, as.length, as.reduce((x, y) => (y.at > x.at ? y : x)).reason]).sort(cmp(asc(0), asc(1)))
  },
  'dead-letters': (f) => {
    const t = now()
    const letters = f.deadLetters.filter((d) => d.at > t - 24 * HOUR).map((d) => ({ source: d.source, code: d.code }))
    letters.push({ source: 'clickhouse:fixture-bad', code: 'SINK_REJECTED' }) // the refused row (see load())
    return [...byKey(letters, (d) => `${d.source}|${d.code}`).values()].map((ds): Row => [ds[0].source, ds[0].code, ds.length]).sort(cmp(desc(2), asc(0), asc(1)))
  },
  'late-records': (f) => [...byKey(f.late, (l) => l.operator)].map(([op, ls]): Row => [op, ls.length, Math.max(...ls.map((l) => (l.watermark - l.time) / 1000))]).sort(cmp(asc(0))),
}

/** Which output columns to compare for each query (others, like example reasons, are not checked). */
const compareColumns: Record<string, number[] | undefined> = {
  'dead-letters': [0, 1, 2],
}

// ---------------------------------------------------------------------------------------------

interface Block { name: string; sql: string }

function cookbookBlocks(): Block[] {
  const md = readFileSync(new URL('../../docs/sql-cookbook.md', import.meta.url), 'utf8')
  const out: Block[] = []
  for (const m of md.matchAll(/```sql\n([\s\S]*?)```/g)) {
    const sql = m[1].trim()
    const name = /^--\s*name:\s*(\S+)/.exec(sql)?.[1]
    assert.ok(name, `every sql block starts with "-- name: …": ${sql.slice(0, 60)}`)
    out.push({ name, sql })
  }
  return out
}

const DATETIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/
/** Output values as comparable primitives: datetimes → epoch ms, numeric strings (UInt64) → numbers. */
function normalize(v: unknown): unknown {
  if (typeof v === 'string') {
    if (DATETIME.test(v)) return Date.parse(v.replace(' ', 'T') + 'Z')
    if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v)
  }
  return v
}

function sameRows(name: string, got: Row[], want: Row[]): void {
  assert.equal(got.length, want.length, `${name}: ${got.length} rows, expected ${want.length}\n got: ${JSON.stringify(got)}\nwant: ${JSON.stringify(want)}`)
  for (let i = 0; i < want.length; i++) {
    for (let j = 0; j < want[i].length; j++) {
      const g = got[i][j]
      const w = want[i][j]
      if (typeof w === 'number' && typeof g === 'number' && !Number.isInteger(w)) {
        // the queries round to 2–4 decimals
        assert.ok(Math.abs(g - w) <= 5e-3 * Math.max(1, Math.abs(w)), `${name} row ${i} col ${j}: ${g} ≉ ${w}\n got: ${JSON.stringify(got[i])}\nwant: ${JSON.stringify(want[i])}`)
      } else {
        assert.deepEqual(g, w, `${name} row ${i} col ${j}\n got: ${JSON.stringify(got[i])}\nwant: ${JSON.stringify(want[i])}`)
      }
    }
  }
}

let ch: ClickHouse
let dir: string
let data: Fixture

/** Loads the fixture the way the engine writes: one ClickHouseSink per table, one checkpoint. */
async function load(f: Fixture): Promise<void> {
  const deadLetters = new ClickHouseDeadLetterTable(ch, { logger: quiet })
  const write = async <T>(name: string, format: R.RowFormat<T>, values: T[]) => {
    const sink = new ClickHouseSink<T>(name, ch, format, { chunkRows: 1000 }, { logger: quiet, deadLetters })
    await sink.open()
    await sink.write({ values, times: values.map(() => NOW) })
    await sink.preCommit(1)
    await sink.commit(1)
    await sink.close()
    return sink
  }
  await write('fixture-posts', R.postRows, f.posts)
  await write('fixture-engagements', R.engagementRows, f.engagements)
  await write('fixture-uses', R.hashtagWindowRows('hashtag_uses_1m'), f.uses)
  await write('fixture-engagement-10m', R.hashtagWindowRows('hashtag_engagement_10m'), f.engagement10m)
  await write('fixture-trends', R.trendSignalRows, f.trends)
  await write('fixture-scores', R.viralityScoreRows, f.scores)
  await write('fixture-features', R.videoFeatureRows, f.features)
  await write('fixture-alerts', R.brandAlertRows, f.alerts)
  await write('fixture-dead-letters', R.deadLetterRows, f.deadLetters)
  await write('fixture-late', R.lateRecordRows, f.late)
  // A row ClickHouse refuses (count is UInt64): it must reach dead_letters as SINK_REJECTED, not the table.
  const bad = await write('fixture-bad', R.hashtagWindowRows('hashtag_uses_1m'), [{ hashtag: 'broken', windowStart: NOW - 5 * MIN, windowEnd: NOW - 4 * MIN, count: -1, revision: 0 }])
  assert.equal(bad.stats.rowsRejected, 1)
}

before(async () => {
  ;({ ch, dir } = await embeddedWithSchema('cookbook'))
  data = fixture()
  await load(data)
})
after(async () => {
  await ch?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

test('the cookbook has 10+ named queries, and every expectation names one of them', () => {
  const names = cookbookBlocks().map((b) => b.name)
  assert.ok(names.length >= 10, `${names.length} queries`)
  assert.equal(new Set(names).size, names.length, 'names are unique')
  for (const n of Object.keys(expected)) assert.ok(names.includes(n), `expected answer for "${n}", which is not in docs/sql-cookbook.md`)
})

for (const block of cookbookBlocks()) {
  test(`cookbook: ${block.name}`, async () => {
    const got = await rows<Record<string, unknown>>(ch, block.sql)
    const check = expected[block.name]
    if (!check) return
    const want = check(data)
    assert.ok(want.length > 0, `${block.name}: the fixture gives this query something to find`)
    const cols = compareColumns[block.name]
    const asRows = got.map((r) => Object.values(r).map(normalize)).map((r) => (cols ? cols.map((i) => r[i]) : r))
    sameRows(block.name, asRows, want.map((r) => (cols ? cols.map((i) => r[i]) : r)))
  })
}
