// The Trend Radar page: static HTML/JS/CSS in dashboards/trend-radar/ (no build step), served by
// radarRouter() at /radar/, plus what the page reads when no WebSocket feed is configured.
//
// Data. The page prefers the WebSocket live feed (protocol 1, schemas/api/ws.ts): pass
// `feed: { wsUrl }` and the page subscribes to trends, scores and alerts there. The feed server
// (server/ws/) had not landed when this was written, so the page also has a fallback: it polls
// GET /api/radar/snapshot, served here from a RadarState — the latest trend signals (a TrendContext,
// shared with the Reel generator), a virality leaderboard and the recent brand alerts, fed as sinks.
//
//   app.use(radarRouter({ state }))                  // page at /radar/, polling /api/radar/snapshot
//   app.use(radarRouter({ feed: { wsUrl: '/ws' } }))  // page at /radar/, live over the WebSocket feed
import express, { type Router } from 'express'
import { fileURLToPath } from 'node:url'
import type { BrandAlert, TrendSignal, ViralityScore } from '../schemas/outputs.ts'
import type { Batch, Sink } from '../streams/types.ts'
import { TrendContext, type TrendEntry } from '../server/generator/context.ts'

export const RADAR_DIR = fileURLToPath(new URL('./trend-radar/', import.meta.url))

/** One row of the radar's trend list. */
export interface RadarTrend {
  id: string
  entityType: TrendSignal['entityType']
  entity: string
  platform: TrendSignal['platform']
  stage: TrendSignal['stage']
  score: number
  growth: number
  uses: number
  uniqueCreators: number
  windowEnd: number
  revision: number
  /** score per window, oldest first (sparkline) */
  history: Array<{ windowEnd: number; score: number }>
}

export interface RadarSnapshot {
  /** bumps on every change; the page re-renders only when it moves */
  version: number
  /** newest trend window end seen (event time) */
  watermark: number | null
  trends: RadarTrend[]
  leaderboard: ViralityScore[]
  alerts: BrandAlert[]
  counts: { trends: number; scores: number; alerts: number }
}

export interface RadarStateOptions {
  /** share the generator's context so both see the same trends */
  trends?: TrendContext
  maxTrends?: number
  leaderboardSize?: number
  maxAlerts?: number
  /** scores older than this (event time, behind the newest) leave the leaderboard */
  leaderboardWindowMs?: number
  /** a trend whose last window ended this long before the newest one is no longer listed */
  staleAfterMs?: number
}

/** Live state for the polling fallback: the latest trends, the virality leaderboard, recent alerts. */
export class RadarState {
  readonly trends: TrendContext
  version = 0
  private readonly scores = new Map<string, ViralityScore>()
  private latestScoreAt = -Infinity
  private alerts: BrandAlert[] = []
  private readonly alertIds = new Set<string>()
  private counts = { trends: 0, scores: 0, alerts: 0 }
  private readonly o: Required<Omit<RadarStateOptions, 'trends'>>

  constructor(o: RadarStateOptions = {}) {
    this.trends = o.trends ?? new TrendContext()
    this.o = { maxTrends: o.maxTrends ?? 40, leaderboardSize: o.leaderboardSize ?? 10, maxAlerts: o.maxAlerts ?? 25, leaderboardWindowMs: o.leaderboardWindowMs ?? 30 * 60_000, staleAfterMs: o.staleAfterMs ?? 10 * 60_000 }
    this.trends.onUpdate((changed) => { this.version++; this.counts.trends += changed.length })
  }

  addScores(xs: readonly ViralityScore[]): void {
    if (xs.length === 0) return
    for (const s of xs) {
      this.scores.set(s.postId, s)
      if (s.at > this.latestScoreAt) this.latestScoreAt = s.at
    }
    this.counts.scores += xs.length
    // bound the map: drop posts whose latest score fell out of the window
    if (this.scores.size > 50_000) for (const [k, s] of this.scores) if (s.at < this.latestScoreAt - this.o.leaderboardWindowMs) this.scores.delete(k)
    this.version++
  }

  addAlerts(xs: readonly BrandAlert[]): void {
    let added = 0
    for (const a of xs) {
      if (this.alertIds.has(a.alertId)) continue // deterministic ids: a replayed alert is the same alert
      this.alertIds.add(a.alertId)
      this.alerts.push(a)
      added++
    }
    if (added === 0) return
    this.alerts.sort((a, b) => b.at - a.at)
    if (this.alerts.length > this.o.maxAlerts) {
      for (const a of this.alerts.splice(this.o.maxAlerts)) this.alertIds.delete(a.alertId)
    }
    this.counts.alerts += added
    this.version++
  }

  trendSink(name = 'radar-trends'): Sink<TrendSignal> { return this.trends.sink(name) }
  scoreSink(name = 'radar-scores'): Sink<ViralityScore> { return { name, write: (b: Batch<ViralityScore>) => { this.addScores(b.values) } } }
  alertSink(name = 'radar-alerts'): Sink<BrandAlert> { return { name, write: (b: Batch<BrandAlert>) => { this.addAlerts(b.values) } } }

  snapshot(): RadarSnapshot {
    const fresh = this.trends.latestWindowEnd - this.o.staleAfterMs
    const live = this.trends.all().filter((e) => (e.latest.stage === 'emerging' || e.latest.stage === 'rising') && e.latest.windowEnd >= fresh)
    const board = [...this.scores.values()]
      .filter((s) => s.at >= this.latestScoreAt - this.o.leaderboardWindowMs)
      .sort((a, b) => b.probTop1Pct - a.probTop1Pct || b.predictedFinalEngagement - a.predictedFinalEngagement || (a.postId < b.postId ? -1 : 1))
      .slice(0, this.o.leaderboardSize)
    return {
      version: this.version,
      watermark: Number.isFinite(this.trends.latestWindowEnd) ? this.trends.latestWindowEnd : null,
      trends: live.slice(0, this.o.maxTrends).map(toRadarTrend),
      leaderboard: board,
      alerts: this.alerts.slice(),
      counts: { ...this.counts },
    }
  }
}

function toRadarTrend(e: TrendEntry): RadarTrend {
  const s = e.latest
  return {
    id: e.id, entityType: s.entityType, entity: s.entity, platform: s.platform, stage: s.stage, score: s.score, growth: s.growth,
    uses: s.uses, uniqueCreators: s.uniqueCreators, windowEnd: s.windowEnd, revision: s.revision,
    history: e.history.map((p) => ({ windowEnd: p.windowEnd, score: p.score })),
  }
}

export interface RadarRouterOptions {
  /** where the page is served; default /radar */
  path?: string
  /** polling fallback: serve GET /api/radar/snapshot from this state */
  state?: RadarState
  /** the WebSocket live feed the page should use instead of polling (URL absolute or relative to the page's origin) */
  feed?: { wsUrl: string }
  /** how often the page polls the snapshot, when it polls */
  pollMs?: number
}

/**
 * The page (static files) at `path`, its config at `${path}/config.json`, and — with `state` — the
 * polling endpoint GET /api/radar/snapshot. The generator panel posts to /api/generate-reel on the
 * same origin: mount generatorRouter() on the same app.
 */
export function radarRouter(o: RadarRouterOptions = {}): Router {
  const base = (o.path ?? '/radar').replace(/\/+$/, '')
  const r = express.Router()
  r.get(`${base}/config.json`, (_req, res) => {
    res.json({
      feed: o.feed ? { kind: 'websocket', url: o.feed.wsUrl } : o.state ? { kind: 'poll', url: '/api/radar/snapshot', intervalMs: o.pollMs ?? 1000 } : { kind: 'none' },
      generator: { url: '/api/generate-reel', sectors: '/api/sectors', hookTypes: '/api/hook-types' },
    })
  })
  if (o.state) {
    const state = o.state
    r.get('/api/radar/snapshot', (_req, res) => { res.set('cache-control', 'no-store').json(state.snapshot()) })
  }
  // /radar → /radar/ so the page's relative URLs resolve
  r.get(base, (req, res, next) => (req.path === base && !req.originalUrl.split('?')[0].endsWith('/') ? res.redirect(301, `${base}/`) : next()))
  r.use(base, express.static(RADAR_DIR, { index: 'index.html', maxAge: 0 }))
  return r
}
