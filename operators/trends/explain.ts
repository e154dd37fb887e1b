// One line of plain language per TrendSignal, from the fields that explain it: what was observed
// against what the baseline expected, how unusual that is, how much evidence has built up, and
// which posts carried it. For logs, the status page and alert texts; the record itself stays the
// contract.
import type { TrendSignal } from '../../schemas/outputs.ts'

const SIGIL: Record<TrendSignal['entityType'], string> = { hashtag: '#', sound: 'sound ', term: '"' }

function fmt(x: number): string {
  return Math.abs(x) >= 10 ? x.toFixed(0) : x.toFixed(1)
}

export function describeSignal(s: TrendSignal): string {
  const name = s.entityType === 'term' ? `${SIGIL.term}${s.entity}"` : `${SIGIL[s.entityType]}${s.entity}`
  const when = `${new Date(s.windowStart).toISOString().slice(11, 16)}–${new Date(s.windowEnd).toISOString().slice(11, 16)} UTC`
  const growth = s.growth >= 0 ? `+${Math.round(s.growth * 100)}%` : `${Math.round(s.growth * 100)}%`
  const posts = s.contributingPostIds.length ? `; top posts ${s.contributingPostIds.join(', ')}` : ''
  const rev = s.revision > 0 ? ` (correction ${s.revision})` : ''
  return `${name} on ${s.platform} is ${s.stage}${rev}: ${s.uniqueCreators} creators (${s.uses} posts, ${s.totalEngagement} engagements) in ${when}` +
    ` against ${fmt(s.baseline)} expected (z = ${fmt(s.deviation)}, ${growth} on the previous window), evidence ${fmt(s.score)}× the alarm threshold${posts}`
}
