// Scoring trend signals against the synthetic firehose's labelled trends.
//
// Episodes: the topology emits one TrendSignal per window while an entity is not idle, so an
// episode of an entity (platform, type, entity) is a maximal run of its signals over adjacent
// windows (each windowStart equal to the previous windowEnd; revisions > 0 are corrections and
// ignored). An episode's detection time is the windowEnd of its first signal whose stage counts as
// a detection (emerging or rising by default): the earliest moment the signal could be out, in
// event time.
//
// Matching: an episode matches a label when type and normalised entity agree and its detection
// time falls in [onset − earlyMs, end]. A label is detected when at least one episode (on any
// platform) matches it; its delay is the earliest matching detection time minus onset.
//   precision = matched episodes / all episodes (a trend seen on three platforms is three true
//               episodes; an entity flapping in and out of a trend also counts each episode, so
//               flapping shows as duplicates, reported separately)
//   recall    = detected labels / labels
// Episodes on entities of a known non-trend burst (the firehose's crisis hashtags and the words of
// crisis posts) are counted apart as `explained` and left out of precision, with `precisionStrict`
// counting them as false.
import type { EntityType, TrendSignal } from '../../schemas/outputs.ts'

export interface TrendTruth {
  id: string
  type: EntityType
  /** Normalised entity. */
  entity: string
  onset: number
  end: number
}

/** An entity burst that is real but not a labelled trend (e.g. a crisis hashtag). */
export interface KnownBurst {
  type: EntityType
  entity: string
  from: number
  to: number
}

export type SignalLike = Pick<TrendSignal, 'entityType' | 'entity' | 'platform' | 'windowStart' | 'windowEnd' | 'stage' | 'revision'>

export interface Episode {
  key: string
  type: EntityType
  entity: string
  platform: string
  start: number
  end: number
  /** windowEnd of the first detecting signal; NaN if none. */
  detectedAt: number
  stages: string[]
  /** Label id it matched, 'explained:…' for a known burst, or null. */
  match: string | null
}

export interface Evaluation {
  labels: number
  detected: number
  recall: number
  episodes: number
  truePositives: number
  falsePositives: number
  explained: number
  precision: number
  precisionStrict: number
  /** Matched episodes beyond the first per (label, platform): flapping. */
  duplicates: number
  /** Detection delay per detected label (ms), in label order. */
  delaysMs: number[]
  medianDelayMs: number
  /** Per label: id → delay in ms, or null when missed. */
  perLabel: Record<string, number | null>
  falsePositiveEpisodes: Episode[]
}

export interface EvaluateOptions {
  /** Stages whose signals count as a detection. */
  detectStages?: readonly string[]
  /** How far before the onset a detection may fall and still match. */
  earlyMs?: number
  /** Group episodes by entity only (the topology ran with scope 'all'). */
  ignorePlatform?: boolean
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = xs.slice().sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** ignorePlatform: the topology pooled platforms (scope 'all'); signal.platform is only the busiest one. */
export function episodes(signals: readonly SignalLike[], detectStages: readonly string[] = ['emerging', 'rising'], ignorePlatform = false): Episode[] {
  const byKey = new Map<string, SignalLike[]>()
  for (const s of signals) {
    if (s.revision > 0) continue
    const k = `${ignorePlatform ? '*' : s.platform}|${s.entityType}|${s.entity}`
    let l = byKey.get(k)
    if (!l) byKey.set(k, (l = []))
    l.push(s)
  }
  const out: Episode[] = []
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.windowStart - b.windowStart)
    let cur: Episode | null = null
    for (const s of list) {
      if (cur === null || s.windowStart !== cur.end) {
        if (cur) out.push(cur)
        cur = { key, type: s.entityType, entity: s.entity, platform: ignorePlatform ? '*' : s.platform, start: s.windowStart, end: s.windowEnd, detectedAt: NaN, stages: [], match: null }
      }
      cur.end = s.windowEnd
      cur.stages.push(s.stage)
      if (Number.isNaN(cur.detectedAt) && detectStages.includes(s.stage)) cur.detectedAt = s.windowEnd
    }
    if (cur) out.push(cur)
  }
  return out.sort((a, b) => a.start - b.start || (a.key < b.key ? -1 : 1))
}

export function evaluate(signals: readonly SignalLike[], labels: readonly TrendTruth[], known: readonly KnownBurst[] = [], o: EvaluateOptions = {}): Evaluation {
  const early = o.earlyMs ?? 0
  const eps = episodes(signals, o.detectStages, o.ignorePlatform).filter((e) => !Number.isNaN(e.detectedAt))
  const firstDetection = new Map<string, number>()
  const seen = new Set<string>()
  let tp = 0
  let fp = 0
  let explained = 0
  let duplicates = 0
  const fps: Episode[] = []
  for (const e of eps) {
    const label = labels.find((l) => l.type === e.type && l.entity === e.entity && e.detectedAt >= l.onset - early && e.detectedAt <= l.end)
    if (label) {
      e.match = label.id
      tp++
      const dupKey = `${label.id}|${e.platform}`
      if (seen.has(dupKey)) duplicates++
      seen.add(dupKey)
      const prev = firstDetection.get(label.id)
      if (prev === undefined || e.detectedAt < prev) firstDetection.set(label.id, e.detectedAt)
      continue
    }
    const k = known.find((b) => b.type === e.type && b.entity === e.entity && e.detectedAt >= b.from && e.detectedAt <= b.to)
    if (k) {
      e.match = `explained:${k.entity}`
      explained++
      continue
    }
    fp++
    fps.push(e)
  }
  const perLabel: Record<string, number | null> = {}
  const delays: number[] = []
  for (const l of labels) {
    const t = firstDetection.get(l.id)
    perLabel[l.id] = t === undefined ? null : t - l.onset
    if (t !== undefined) delays.push(t - l.onset)
  }
  const detected = delays.length
  return {
    labels: labels.length,
    detected,
    recall: labels.length ? detected / labels.length : NaN,
    episodes: eps.length,
    truePositives: tp,
    falsePositives: fp,
    explained,
    precision: tp + fp ? tp / (tp + fp) : NaN,
    precisionStrict: eps.length ? tp / eps.length : NaN,
    duplicates,
    delaysMs: delays,
    medianDelayMs: median(delays),
    perLabel,
    falsePositiveEpisodes: fps,
  }
}
