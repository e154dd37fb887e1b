// TrendContext: the generator's view of the live trend feed. It keeps the latest TrendSignal of
// every (entity type, platform, entity) and a short history of its score for sparklines, and ranks
// the trends relevant to a brand.
//
// Fed three ways, all with TrendSignal records: ingest() directly, as a Sink in a topology (the main
// job tees its trend signals into context.sink()), or from the WebSocket live feed through a
// subscriber that calls ingest(). Revisions of a window (late data) replace the earlier version.
//
// Relevance (0..1) of a trend to a brand:
//   match     1 brand name word, 0.9 a brand keyword, 0.75 a sector keyword, 0 none
//             (entity equals the folded keyword, or contains it when the keyword has 4+ letters)
//   strength  score / (score + scoreHalf): a saturating map of the detector's score
//   relevance = (0.6·match + 0.4·strength) · platform · stage · freshness
//   platform  1 on the brand's platform, 0.6 elsewhere
//   stage     emerging 1, rising 1, peaking 0.75, declining 0.3 (a Reel takes time to ship)
//   freshness 2^(−age/halfLife), age = newest windowEnd seen − the trend's windowEnd
// Trends whose entity holds an unsafe term or a banned word are excluded (and reported as such).
// Ranking ties break on the id, so the order is deterministic for a given feed.
import type { Platform } from '../../schemas/events.ts'
import type { LifecycleStage, TrendSignal } from '../../schemas/outputs.ts'
import type { Batch, Sink } from '../../streams/types.ts'
import { SECTORS, UNSAFE_TERMS } from './catalog.ts'
import type { BrandProfile, CitedTrend, TrendMatch } from './schemas.ts'
import { fold, hashtagContains, words } from './text.ts'

export interface TrendContextOptions {
  /** Most entities kept; the stalest are dropped first. */
  maxEntities?: number
  /** Points of score history kept per entity (sparklines). */
  historyPoints?: number
  /** Freshness half-life in event-time ms. */
  freshnessHalfLifeMs?: number
  /** Score at which strength is 0.5. */
  scoreHalf?: number
  /** Extra keywords per sector id. */
  extraKeywords?: Record<string, string[]>
}

export interface TrendPoint { windowEnd: number; score: number; observed: number }

export interface TrendEntry {
  id: string
  latest: TrendSignal
  history: TrendPoint[]
}

export interface RelevantTrend extends CitedTrend {
  signal: TrendSignal
}

export interface RelevanceResult {
  trends: RelevantTrend[]
  /** trends that matched the brand but were left out, with why */
  excluded: Array<{ id: string; reason: string }>
}

const STAGE_WEIGHT: Record<LifecycleStage, number> = { emerging: 1, rising: 1, peaking: 0.75, declining: 0.3 }

export function trendId(s: Pick<TrendSignal, 'entityType' | 'platform' | 'entity'>): string {
  return `${s.entityType}:${s.platform}:${s.entity}`
}

type Listener = (changed: readonly TrendEntry[]) => void

/**
 * Anything that hands out the live feed's records (server/ws/bus.ts FeedBus: InProcessBus,
 * RedisFanoutBus), typed structurally so the generator does not depend on the server's modules.
 */
export interface FeedRecordSource {
  subscribe(listener: (records: ReadonlyArray<{ stream: string; data: unknown }>) => void): () => void
}

/** Keeps `context` fed from the live feed's trend records; returns the unsubscribe function. */
export function followFeed(context: TrendContext, bus: FeedRecordSource): () => void {
  return bus.subscribe((records) => {
    const trends: TrendSignal[] = []
    for (const r of records) if (r.stream === 'trends') trends.push(r.data as TrendSignal)
    context.ingest(trends)
  })
}

export class TrendContext {
  private readonly entries = new Map<string, TrendEntry>()
  private readonly listeners = new Set<Listener>()
  private readonly maxEntities: number
  private readonly historyPoints: number
  private readonly halfLife: number
  private readonly scoreHalf: number
  private readonly sectorKeywords = new Map<string, string[]>()
  /** newest windowEnd seen: the context's "now" in event time */
  latestWindowEnd = -Infinity
  signalsIn = 0

  constructor(o: TrendContextOptions = {}) {
    this.maxEntities = o.maxEntities ?? 20_000
    this.historyPoints = o.historyPoints ?? 30
    this.halfLife = o.freshnessHalfLifeMs ?? 15 * 60_000
    this.scoreHalf = o.scoreHalf ?? 3
    for (const s of SECTORS) this.sectorKeywords.set(s.id, [...s.keywords, ...(o.extraKeywords?.[s.id] ?? [])].map(fold))
  }

  get size(): number { return this.entries.size }

  /** Add signals (any order; a higher revision of the same window replaces the earlier one). */
  ingest(signals: readonly TrendSignal[]): void {
    if (signals.length === 0) return
    const changed: TrendEntry[] = []
    for (const s of signals) {
      this.signalsIn++
      const id = trendId(s)
      let e = this.entries.get(id)
      if (!e) {
        e = { id, latest: s, history: [] }
        this.entries.set(id, e)
      } else if (s.windowEnd > e.latest.windowEnd || (s.windowEnd === e.latest.windowEnd && s.revision >= e.latest.revision)) {
        e.latest = s
      }
      addPoint(e.history, { windowEnd: s.windowEnd, score: s.score, observed: s.observed }, this.historyPoints)
      if (s.windowEnd > this.latestWindowEnd) this.latestWindowEnd = s.windowEnd
      changed.push(e)
    }
    if (this.entries.size > this.maxEntities) this.evict()
    for (const l of this.listeners) l(changed)
  }

  /** A sink for a topology's TrendSignal stream. Keeps no checkpoint state: the context is a cache. */
  sink(name = 'trend-context'): Sink<TrendSignal> {
    return { name, write: (batch: Batch<TrendSignal>) => { this.ingest(batch.values) } }
  }

  /** Called with the entries each ingest changed. Returns an unsubscribe function. */
  onUpdate(l: Listener): () => void {
    this.listeners.add(l)
    return () => { this.listeners.delete(l) }
  }

  get(id: string): TrendEntry | undefined { return this.entries.get(id) }

  /** Every entry, highest latest score first. */
  all(): TrendEntry[] {
    return [...this.entries.values()].sort((a, b) => b.latest.score - a.latest.score || cmp(a.id, b.id))
  }

  /** The trends relevant to a brand, best first. */
  relevant(p: Pick<BrandProfile, 'name' | 'sector' | 'platform' | 'keywords' | 'bannedWords'>, limit = 8): RelevanceResult {
    const brandWords = words(p.name).map(fold).filter((w) => w.length >= 3)
    const keywords = p.keywords.flatMap((k) => words(k)).map(fold).filter((w) => w.length >= 2)
    const sectorWords = this.sectorKeywords.get(p.sector) ?? []
    const trends: RelevantTrend[] = []
    const excluded: RelevanceResult['excluded'] = []
    for (const e of this.entries.values()) {
      const s = e.latest
      const entity = fold(s.entity)
      let match: TrendMatch = 'none'
      let m = 0
      if (brandWords.some((w) => matches(entity, w))) { match = 'brand'; m = 1 }
      else if (keywords.some((w) => matches(entity, w))) { match = 'keyword'; m = 0.9 }
      else if (sectorWords.some((w) => matches(entity, w))) { match = 'sector'; m = 0.75 }
      const unsafe = UNSAFE_TERMS.find((t) => hashtagContains(entity, t, 6)) ?? p.bannedWords.find((t) => hashtagContains(entity, t, 4))
      if (unsafe) {
        if (match !== 'none' || s.score > 0) excluded.push({ id: e.id, reason: `entity contains "${unsafe}"` })
        continue
      }
      const strength = s.score > 0 ? s.score / (s.score + this.scoreHalf) : 0
      const age = Math.max(0, this.latestWindowEnd - s.windowEnd)
      const relevance = (0.6 * m + 0.4 * strength) * (s.platform === p.platform ? 1 : 0.6) * STAGE_WEIGHT[s.stage] * Math.pow(2, -age / this.halfLife)
      if (relevance <= 0) continue
      trends.push({
        id: e.id, entityType: s.entityType, entity: s.entity, platform: s.platform, stage: s.stage,
        score: s.score, growth: s.growth, windowEnd: s.windowEnd, relevance: round4(relevance), match, signal: s,
      })
    }
    trends.sort((a, b) => b.relevance - a.relevance || cmp(a.id, b.id))
    excluded.sort((a, b) => cmp(a.id, b.id))
    return { trends: trends.slice(0, limit), excluded: excluded.slice(0, 20) }
  }

  private evict(): void {
    const drop = this.entries.size - Math.floor(this.maxEntities * 0.9)
    const byAge = [...this.entries.values()].sort((a, b) => a.latest.windowEnd - b.latest.windowEnd || a.latest.score - b.latest.score)
    for (let i = 0; i < drop; i++) this.entries.delete(byAge[i].id)
  }
}

/** Entity matches a folded keyword: equal, or contains it when the keyword is long enough to be specific. */
function matches(entity: string, kw: string): boolean {
  return entity === kw || (kw.length >= 4 && entity.includes(kw))
}

function addPoint(h: TrendPoint[], p: TrendPoint, max: number): void {
  // keep history ordered by windowEnd; a revision of a window replaces its point
  let i = h.length - 1
  while (i >= 0 && h[i].windowEnd > p.windowEnd) i--
  if (i >= 0 && h[i].windowEnd === p.windowEnd) h[i] = p
  else h.splice(i + 1, 0, p)
  if (h.length > max) h.splice(0, h.length - max)
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
const round4 = (x: number): number => Math.round(x * 1e4) / 1e4
