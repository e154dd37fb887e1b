// Per-entity window series straight from generated events, for the offline tuner and for checking
// the topology against a direct computation: for each (platform, type, entity) the distinct
// creators per window, and each platform's post count per window. Same extraction and keys as the
// topology (operators/text.ts, operators/trends/keys.ts); no admission, no lateness.
import type { FirehoseEvent, Platform } from '../../schemas/events.ts'
import { extractEntities } from '../../operators/text.ts'
import { entityKey } from '../../operators/trends/keys.ts'

export interface EntitySeries {
  /** key → [windowEnd, distinct creators] in window order */
  entities: Map<string, Array<[number, number]>>
  /** `${platform}|${windowEnd}` → posts */
  totals: Map<string, number>
  firstEnd: number
  lastEnd: number
}

/** crossPlatform: pool all platforms under 'tiktok' (to measure what per-platform keys cost). */
export function buildSeries(events: readonly FirehoseEvent[], windowMs: number, crossPlatform = false): EntitySeries {
  const perWindow = new Map<number, Map<string, Set<string>>>()
  const totals = new Map<string, number>()
  let firstEnd = Infinity
  let lastEnd = -Infinity
  for (const e of events) {
    if (e.kind !== 'post') continue
    const end = Math.floor(e.postedAt / windowMs) * windowMs + windowMs
    if (end < firstEnd) firstEnd = end
    if (end > lastEnd) lastEnd = end
    const ent = extractEntities(e)
    let m = perWindow.get(end)
    if (!m) perWindow.set(end, (m = new Map()))
    const add = (k: string): void => {
      let s = m!.get(k)
      if (!s) m!.set(k, (s = new Set()))
      s.add(e.creatorId)
    }
    const p: Platform = crossPlatform ? 'tiktok' : e.platform
    for (const h of ent.hashtags) add(entityKey(p, 'hashtag', h))
    if (ent.sound) add(entityKey(p, 'sound', ent.sound))
    for (const t of ent.terms) add(entityKey(p, 'term', t))
    const tk = `${p}|${end}`
    totals.set(tk, (totals.get(tk) ?? 0) + 1)
  }
  const entities = new Map<string, Array<[number, number]>>()
  for (const end of [...perWindow.keys()].sort((a, b) => a - b)) {
    for (const [k, s] of perWindow.get(end)!) {
      let l = entities.get(k)
      if (!l) entities.set(k, (l = []))
      l.push([end, s.size])
    }
  }
  return { entities, totals, firstEnd, lastEnd }
}
