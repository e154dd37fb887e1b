// Retweet-cascade files (the SEISMIC data set as redistributed by TiDeH; /work/shared/data/cascades).
//
// Format of RT<n>.txt, space-separated:
//   line 1:      <N retweets> <start time of the original post, in days>
//   N+1 lines:   <seconds since the original post> <follower count>
// The first event line is the original post itself, at 0. Times are sorted.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TrendwireError } from '../../streams/errors.ts'

export interface Cascade {
  name: string
  /** Start of the original post, in days (fractional part = time of day, UTC). */
  startDay: number
  /** Event times in seconds since the post; index 0 is the original post. */
  times: Float64Array
  /** Follower counts; index 0 is the author of the original post. */
  followers: Float64Array
}

export function parseCascade(text: string, name: string): Cascade {
  const lines = text.split(/\r?\n/)
  const bad = (line: number, why: string): never => {
    throw new TrendwireError('INPUT_MALFORMED', `cascade ${name}, line ${line}: ${why}`, { details: { name, line } })
  }
  const head = (lines[0] ?? '').trim().split(/\s+/)
  const n = Number(head[0])
  const startDay = Number(head[1])
  if (head.length < 2 || !Number.isInteger(n) || n < 0 || !Number.isFinite(startDay)) bad(1, `expected "<N> <start day>", got "${lines[0] ?? ''}"`)
  const times: number[] = []
  const followers: number[] = []
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i].trim()
    if (l === '') continue
    const parts = l.split(/\s+/)
    const t = Number(parts[0])
    const f = Number(parts[1])
    if (parts.length < 2 || !Number.isFinite(t) || t < 0 || !Number.isFinite(f) || f < 0) bad(i + 1, `expected "<seconds> <followers>", got "${l}"`)
    if (times.length > 0 && t < times[times.length - 1]) bad(i + 1, `time ${t} is before the previous event (${times[times.length - 1]}): times must be sorted`)
    times.push(t)
    followers.push(f)
  }
  if (times.length === 0) bad(2, 'no events: the original post is missing')
  if (times[0] !== 0) bad(2, `the first event is the original post and must be at 0, got ${times[0]}`)
  if (times.length !== n + 1) bad(1, `header says ${n} retweets but the file has ${times.length - 1}`)
  return { name, startDay, times: Float64Array.from(times), followers: Float64Array.from(followers) }
}

/** Every *.txt cascade in dir, in natural order (RT2 before RT10). README etc. are skipped. */
export async function loadCascadeDir(dir: string): Promise<Cascade[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.txt'))
  files.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
  const out: Cascade[] = []
  for (const f of files) out.push(parseCascade(await readFile(join(dir, f), 'utf8'), f.slice(0, -4)))
  if (out.length === 0) throw new TrendwireError('INPUT_MALFORMED', `no cascade files (*.txt) in ${dir}`)
  return out
}

/** Retweets (the original post not counted) at or before tSec. */
export function countUpTo(c: Cascade, tSec: number): number {
  // Binary search for the first event after tSec.
  let lo = 1
  let hi = c.times.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (c.times[mid] <= tSec) lo = mid + 1
    else hi = mid
  }
  return lo - 1
}

const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }

/** "90s", "30m", "1h", "1.5h", "7d" (or a bare number of seconds) → seconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/i.exec(text)
  if (!m) throw new TrendwireError('CONFIG_INVALID', `"${text}" is not a duration (examples: 30m, 1h, 24h, 7d)`)
  const v = Number(m[1]) * UNIT_SEC[(m[2] || 's').toLowerCase()]
  if (!(v > 0)) throw new TrendwireError('CONFIG_INVALID', `duration "${text}" must be positive`)
  return v
}

/** Seconds → "1h", "90m", "45s": the largest unit that divides it exactly. */
export function formatDuration(sec: number): string {
  if (sec % 3600 === 0) return `${sec / 3600}h`
  if (sec % 60 === 0) return `${sec / 60}m`
  return `${sec}s`
}
