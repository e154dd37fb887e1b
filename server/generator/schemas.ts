// Request and result shapes of the Reel generator, with their zod schemas. A request is a brand
// profile plus generation options; the result is a ReelScript with the trends and posts it cites.
// The same script schema validates what an LLM returns (ScriptDraft: the script without citations
// resolved), so a malformed model answer is a validation failure like any other, not a crash.
import { z } from 'zod'
import { PLATFORMS, type Platform } from '../../schemas/events.ts'
import type { EntityType, LifecycleStage } from '../../schemas/outputs.ts'
import { GOALS, HOOK_TYPE_IDS, SECTOR_IDS, TONES } from './catalog.ts'

const text = (max: number) => z.string().trim().min(1).max(max)

export const brandProfileSchema = z.strictObject({
  name: text(80),
  sector: z.enum(SECTOR_IDS),
  tone: z.enum(TONES),
  audience: text(200),
  bannedWords: z.array(text(40)).max(100).default([]),
  goal: z.enum(GOALS),
  platform: z.enum(PLATFORMS as [Platform, ...Platform[]]),
  /** Reel length in seconds (Instagram Reels and Shorts allow up to 90 s in-app; TikTok more). */
  lengthSec: z.number().int().min(7).max(90),
  /** Extra words that make a trend relevant (product names, themes), folded like hashtags. */
  keywords: z.array(text(40)).max(30).default([]),
})
export type BrandProfile = z.output<typeof brandProfileSchema>
export type BrandProfileInput = z.input<typeof brandProfileSchema>

/** POST /api/generate-reel: the profile's fields at the top level, plus generation options. */
export const generateRequestSchema = brandProfileSchema.extend({
  /** Same seed, same profile, same live context → the same script (built-in provider). */
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  hookType: z.enum(HOOK_TYPE_IDS).optional(),
  /** Which provider to use; default from config. */
  provider: z.enum(['builtin', 'openai']).optional(),
})
export type GenerateRequest = z.output<typeof generateRequestSchema>

export const batchRequestSchema = generateRequestSchema.extend({
  variations: z.number().int().min(1).max(10),
})
export type BatchRequest = z.output<typeof batchRequestSchema>

// ---------------------------------------------------------------------------------------------
// The script

export const beatSchema = z.object({
  startSec: z.number().min(0),
  endSec: z.number().positive(),
  /** What the camera shows. */
  visual: z.string(),
  onScreenText: z.string(),
  /** Spoken words of the beat (may be empty for a visual-only beat). */
  voiceOver: z.string(),
})
export type Beat = z.infer<typeof beatSchema>

/** What a provider returns: the script with the ids of the trends and posts it used. */
export const scriptDraftSchema = z.object({
  title: z.string(),
  hook: z.object({ type: z.string(), voiceOver: z.string(), onScreenText: z.string(), endSec: z.number().positive() }),
  beats: z.array(beatSchema).min(1).max(12),
  callToAction: z.object({ voiceOver: z.string(), onScreenText: z.string(), startSec: z.number().min(0) }),
  caption: z.string(),
  hashtags: z.array(z.string()).max(30),
  sound: z.object({ soundId: z.string().nullable(), description: z.string() }),
  usedTrendIds: z.array(z.string()).max(20),
  usedPostIds: z.array(z.string()).max(20),
})
export type ScriptDraft = z.infer<typeof scriptDraftSchema>

export interface CitedTrend {
  /** `${entityType}:${platform}:${entity}` — stable across windows */
  id: string
  entityType: EntityType
  entity: string
  platform: Platform
  stage: LifecycleStage
  score: number
  growth: number
  windowEnd: number
  relevance: number
  /** why it was considered relevant */
  match: TrendMatch
}

export type TrendMatch = 'brand' | 'keyword' | 'sector' | 'none'

export interface CitedPost {
  postId: string
  platform: Platform
  caption: string
  hashtags: string[]
  /** engagement events seen so far: the "performance" the search ranks by */
  engagement: number
  similarity: number
}

export interface ReelScript extends Omit<ScriptDraft, 'usedTrendIds' | 'usedPostIds'> {
  lengthSec: number
  platform: Platform
  /** the whole voice-over in speaking order (hook, beats, call to action) */
  voiceOver: string
  citations: { trends: CitedTrend[]; posts: CitedPost[] }
}
