// What the alert rules read (the brands' watchlists) and what they emit (an alert with its routing).
//
// The watchlist changes while the engine runs (brands and subscriptions are edited over the API).
// Operators read it through this interface, compile it again when `version` changes, and never
// write to it. Watchlist edits are not part of checkpoints: a replay after a restart evaluates
// records against the watchlist as it is now.
import { createHash } from 'node:crypto'
import type { Platform } from '../../schemas/events.ts'
import type { AlertRule, BrandAlert } from '../../schemas/outputs.ts'

export interface AlertThresholds {
  /** keyword_trend: least TrendSignal.score */
  trendScore: number
  /** viral_mention: least ViralityScore.probTop1Pct */
  viralProbability: number
  /** crisis: least negative mentions in the detection window */
  crisisMinMentions: number
}

export interface WatchedSubscription {
  id: string
  /** alert categories (rules) this subscription receives */
  categories: readonly AlertRule[]
  /** platforms it watches; empty = all */
  platforms: readonly Platform[]
  keywords: readonly string[]
  hashtags: readonly string[]
  thresholds: AlertThresholds
}

export interface WatchedBrand {
  brandId: string
  tenantId: string
  /** the brand as people write it; mentions are matched on it and on the aliases */
  name: string
  aliases: readonly string[]
  /** active subscriptions only */
  subscriptions: readonly WatchedSubscription[]
}

export interface Watchlist {
  /** Changes whenever brands() would return something different. */
  readonly version: number
  brands(): readonly WatchedBrand[]
}

/** A fixed watchlist (tests, batch jobs). */
export class StaticWatchlist implements Watchlist {
  version = 1
  constructor(private list: WatchedBrand[]) {}
  brands(): readonly WatchedBrand[] { return this.list }
  set(list: WatchedBrand[]): void { this.list = list; this.version++ }
}

/**
 * An alert and where it goes. The same alertId may come again with more subscriptions (a higher
 * threshold met later in the same episode); consumers de-duplicate on (alertId, subscriptionId).
 */
export interface RoutedAlert {
  alert: BrandAlert
  tenantId: string
  /** subscriptions whose categories, platforms and thresholds this alert meets */
  subscriptionIds: string[]
  /** platform of the evidence, when there is one */
  platform: Platform | null
}

/** Deterministic alert id: the same evidence gives the same id, on every run and after replays. */
export function alertId(...parts: Array<string | number>): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 22)
}

export function platformMatches(sub: WatchedSubscription, platform: Platform | null): boolean {
  return sub.platforms.length === 0 || platform === null || sub.platforms.includes(platform)
}
