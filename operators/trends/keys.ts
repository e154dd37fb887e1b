// Entity keys: "<platform>|<type>|<entity>", one string so that keyed state, window panes and the
// admission sketch all hash one value. The per-platform totals that the baseline divides by use the
// reserved type '*' ("tiktok|*|"), which no entity has. With platforms pooled (the topology's
// scope 'all') the platform part is '*' too: "*|hashtag|taco", "*|*|".
import type { Platform } from '../../schemas/events.ts'
import type { EntityType } from '../../schemas/outputs.ts'

export const TOTAL_TYPE = '*'

/** Platform part of pooled keys. */
export const ALL_PLATFORMS = '*'

export function entityKey(platform: Platform | typeof ALL_PLATFORMS, type: EntityType, entity: string): string {
  return `${platform}|${type}|${entity}`
}

export function totalKey(platform: Platform | typeof ALL_PLATFORMS): string {
  return `${platform}|${TOTAL_TYPE}|`
}

export function isTotalKey(key: string): boolean {
  const i = key.indexOf('|')
  return key.charCodeAt(i + 1) === 42 /* * */ && key.charCodeAt(i + 2) === 124 /* | */
}

export interface ParsedKey {
  platform: Platform | typeof ALL_PLATFORMS
  type: EntityType
  entity: string
}

export function parseKey(key: string): ParsedKey {
  const i = key.indexOf('|')
  const j = key.indexOf('|', i + 1)
  return { platform: key.slice(0, i) as Platform | typeof ALL_PLATFORMS, type: key.slice(i + 1, j) as EntityType, entity: key.slice(j + 1) }
}

/** Platform part of a key, without parsing the rest. */
export function keyPlatform(key: string): string {
  return key.slice(0, key.indexOf('|'))
}
