// Script provider for any OpenAI-compatible chat completions API (OpenAI, Azure OpenAI's v1 route,
// vLLM, llama.cpp server, Ollama, LiteLLM …), with plain fetch.
//
// Wire format (https://platform.openai.com/docs/api-reference/chat/create):
//   POST {baseUrl}/chat/completions          baseUrl includes the version, e.g. https://api.openai.com/v1
//   Authorization: Bearer {apiKey}           omitted when no key is configured (local servers)
//   { model, messages: [{role:'system'},{role:'user'}], response_format: {type:'json_object'},
//     temperature, seed, max_tokens }
//   → 200 { choices: [{ message: { content: "<JSON text>" }, finish_reason }] }
// JSON mode guarantees syntactically valid JSON only; the shape is checked by the generator like any
// other draft, and the problems go back to the model in the next attempt's prompt.
// Errors: network failure, timeout, 408, 409, 429 and 5xx are retryable (SINK_UNAVAILABLE: an external
// service we send to); other 4xx are not (SINK_REJECTED), with the server's message.
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { HOOK_TYPE_IDS } from './catalog.ts'
import type { ProviderRequest, ScriptProvider } from './provider.ts'

export const openAIOptionsSchema = z.strictObject({
  /** e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1 */
  baseUrl: z.url({ protocol: /^https?$/ }),
  model: z.string().min(1),
  apiKey: z.string().min(1).optional(),
  timeoutMs: z.number().int().positive().default(60_000),
  temperature: z.number().min(0).max(2).default(0.8),
  maxTokens: z.number().int().positive().default(1_500),
})
export type OpenAIOptionsInput = z.input<typeof openAIOptionsSchema>

type Fetch = typeof fetch

export class OpenAIChatProvider implements ScriptProvider {
  readonly name = 'openai'
  readonly model: string
  private readonly o: z.output<typeof openAIOptionsSchema>
  private readonly url: string

  constructor(options: OpenAIOptionsInput, private readonly fetchImpl: Fetch = fetch) {
    this.o = parseOptions('generator.openai', openAIOptionsSchema, options)
    this.model = this.o.model
    this.url = `${this.o.baseUrl.replace(/\/+$/, '')}/chat/completions`
  }

  async generate(req: ProviderRequest): Promise<string> {
    const body = {
      model: this.o.model,
      messages: buildMessages(req),
      response_format: { type: 'json_object' },
      temperature: this.o.temperature,
      seed: req.seed + req.attempt - 1,
      max_tokens: this.o.maxTokens,
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' }
    if (this.o.apiKey) headers.authorization = `Bearer ${this.o.apiKey}`
    let res: Response
    try {
      res = await this.fetchImpl(this.url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.o.timeoutMs) })
    } catch (cause) {
      const timeout = (cause as Error)?.name === 'TimeoutError'
      throw new TrendwireError('SINK_UNAVAILABLE', `chat completions at ${this.url}: ${timeout ? `no answer in ${this.o.timeoutMs} ms` : (cause as Error).message}`, { cause, details: { provider: this.name } })
    }
    const text = await res.text()
    if (!res.ok) {
      const retryable = res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500
      throw new TrendwireError(retryable ? 'SINK_UNAVAILABLE' : 'SINK_REJECTED', `chat completions at ${this.url}: HTTP ${res.status}: ${serverMessage(text)}`, {
        retryable, details: { provider: this.name, status: res.status },
      })
    }
    let json: unknown
    try { json = JSON.parse(text) } catch (cause) {
      throw new TrendwireError('SINK_REJECTED', `chat completions at ${this.url}: the response is not JSON`, { cause, retryable: true, details: { provider: this.name } })
    }
    const choice = (json as { choices?: Array<{ message?: { content?: unknown }; finish_reason?: string }> }).choices?.[0]
    const content = choice?.message?.content
    if (typeof content !== 'string') {
      throw new TrendwireError('SINK_REJECTED', `chat completions at ${this.url}: no message content in the response`, { retryable: true, details: { provider: this.name } })
    }
    // a truncated answer (finish_reason "length") is returned as is: it fails to parse and the
    // next attempt is told so
    return content
  }
}

function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: string } | string }
    const m = typeof j.error === 'string' ? j.error : j.error?.message
    if (m) return m.slice(0, 300)
  } catch { /* not JSON */ }
  return text.slice(0, 300) || '(empty body)'
}

/** The JSON the model must return; mirrors scriptDraftSchema in schemas.ts. */
const OUTPUT_SHAPE = `{
  "title": string,
  "hook": { "type": one of ${JSON.stringify(HOOK_TYPE_IDS)}, "voiceOver": string, "onScreenText": string, "endSec": number },
  "beats": [ { "startSec": number, "endSec": number, "visual": string, "onScreenText": string, "voiceOver": string } ],
  "callToAction": { "voiceOver": string, "onScreenText": string, "startSec": number },
  "caption": string,
  "hashtags": [ "#tag", ... ],
  "sound": { "soundId": string or null, "description": string },
  "usedTrendIds": [ ids from "trends" that the script uses ],
  "usedPostIds": [ ids from "similarPosts" that inspired it ]
}`

export function buildMessages(req: ProviderRequest): Array<{ role: 'system' | 'user'; content: string }> {
  const p = req.profile
  const system = [
    'You write short-form vertical video scripts (Instagram Reels, TikTok, YouTube Shorts) for brands.',
    'Ground every script in the live trends and similar high-performing posts you are given; never invent trends.',
    'Answer with one JSON object only, exactly this shape:',
    OUTPUT_SHAPE,
    'Rules:',
    `- Timing: the hook runs from 0 to hook.endSec (2-3 s); beats follow each other without gaps; the call to action runs from callToAction.startSec to ${p.lengthSec} s.`,
    `- The spoken words (hook.voiceOver + every beats[].voiceOver + callToAction.voiceOver) must total between ${req.wordRange[0]} and ${req.wordRange[1]} words.`,
    `- Between ${req.hashtagsMin} and ${req.hashtagsMax} hashtags, each '#' followed by letters, digits or underscores only, no duplicates.`,
    '- The call to action asks the viewer to do one thing (follow, save, share, comment, tap the link, ...).',
    '- Never use the banned words, nor anything unsafe for a brand (violence, drugs, adult content, hate, boycotts, scams, miracle or guaranteed claims).',
    '- Cite in usedTrendIds the ids of the trends you used, and in usedPostIds the posts that inspired you.',
  ].join('\n')
  const user = {
    brand: { name: p.name, sector: p.sector, tone: p.tone, audience: p.audience, goal: p.goal, platform: p.platform, lengthSec: p.lengthSec, keywords: p.keywords },
    bannedWords: p.bannedWords,
    hookType: req.hookType ?? 'your choice',
    trends: req.trends.map((t) => ({ id: t.id, type: t.entityType, entity: t.entity, platform: t.platform, stage: t.stage, score: round2(t.score), growth: round2(t.growth), relevance: t.relevance, match: t.match })),
    similarPosts: req.posts.map((x) => ({ id: x.postId, platform: x.platform, caption: x.caption, hashtags: x.hashtags, engagement: x.engagement })),
    ...(req.feedback.length ? { previousAttemptProblems: req.feedback.map((f) => f.message) } : {}),
  }
  return [{ role: 'system', content: system }, { role: 'user', content: JSON.stringify(user) }]
}

const round2 = (x: number): number => Math.round(x * 100) / 100
