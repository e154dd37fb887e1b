// The generation loop: gather the live context for a brand (relevant trends, similar high-performing
// posts), ask a provider for a script, validate it, and retry with the problems fed back — then
// either return the script with what it cites, or report every attempt's failures.
//
// Retries: a validation failure or a retryable provider error (timeout, 429, 5xx) uses up one attempt
// and tries again (the built-in provider draws different templates per attempt; an LLM gets the list
// of problems in its prompt). A non-retryable provider error (e.g. 401) stops at once.
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { fnv1a } from '../../streams/sources/prng.ts'
import { BuiltinProvider } from './builtin.ts'
import { HOOK_TYPE_IDS, SECTORS, UNSAFE_TERMS } from './catalog.ts'
import type { RelevantTrend, TrendContext } from './context.ts'
import { OpenAIChatProvider, openAIOptionsSchema } from './openai.ts'
import type { SimilarPostSearch } from './posts.ts'
import type { ProviderRequest, ScriptProvider } from './provider.ts'
import type { CitedPost, GenerateRequest, ReelScript, ScriptDraft } from './schemas.ts'
import { parseDraft, spokenText, validateScript, wordRange, type ValidationFailure, type ValidationReport } from './validate.ts'

export const generatorConfigSchema = z.strictObject({
  /** provider used when a request does not name one: "builtin", "openai", or one passed in GeneratorDeps.providers */
  provider: z.string().min(1).default('builtin'),
  /** OpenAI-compatible endpoint; required when provider is "openai" */
  openai: openAIOptionsSchema.optional(),
  maxAttempts: z.number().int().min(1).max(10).default(3),
  /** speaking pace used to size the voice-over */
  wordsPerSecond: z.number().positive().max(6).default(2.3),
  wordTolerance: z.number().min(0).max(1).default(0.2),
  hashtagsMin: z.number().int().min(0).max(30).default(3),
  hashtagsMax: z.number().int().min(1).max(30).default(5),
  /** trends and similar posts put in front of the provider */
  trendsInContext: z.number().int().min(0).max(20).default(6),
  postsInContext: z.number().int().min(0).max(20).default(4),
  /** terms banned for every brand, on top of catalog.ts UNSAFE_TERMS */
  extraUnsafeTerms: z.array(z.string().min(1)).default([]),
}).refine((c) => c.hashtagsMin <= c.hashtagsMax, { path: ['hashtagsMin'], message: 'must not exceed hashtagsMax' })
export type GeneratorConfig = z.output<typeof generatorConfigSchema>
export type GeneratorConfigInput = z.input<typeof generatorConfigSchema>

export function parseGeneratorConfig(input: unknown): GeneratorConfig {
  return parseOptions('generator', generatorConfigSchema, input)
}

/**
 * Config from the environment: TRENDWIRE_LLM_BASE_URL (+ TRENDWIRE_LLM_MODEL, TRENDWIRE_LLM_API_KEY)
 * switches the default provider to the OpenAI-compatible one; without it the built-in one is used.
 */
export function generatorConfigFromEnv(env: NodeJS.ProcessEnv = process.env): GeneratorConfigInput {
  const baseUrl = env.TRENDWIRE_LLM_BASE_URL
  if (!baseUrl) return {}
  return { provider: 'openai', openai: { baseUrl, model: env.TRENDWIRE_LLM_MODEL ?? 'gpt-4o-mini', ...(env.TRENDWIRE_LLM_API_KEY ? { apiKey: env.TRENDWIRE_LLM_API_KEY } : {}) } }
}

export interface GeneratorDeps {
  context: TrendContext
  /** similar high-performing posts; without it scripts cite trends only */
  posts?: SimilarPostSearch
  config?: GeneratorConfigInput
  /** override or add providers by name (tests) */
  providers?: Record<string, ScriptProvider>
}

export interface AttemptReport {
  attempt: number
  ok: boolean
  failures: ValidationFailure[]
  /** transport error from the provider, when there was one */
  providerError?: { code: string; message: string; retryable: boolean }
  ms: number
}

export interface GenerateSuccess {
  ok: true
  script: ReelScript
  seed: number
  provider: string
  model: string | null
  attempts: AttemptReport[]
  validation: ValidationReport
  context: { trendsConsidered: number; excludedTrends: Array<{ id: string; reason: string }>; postsConsidered: number; contextWindowEnd: number | null }
}

export interface GenerateFailure {
  ok: false
  error: { code: 'validation_failed' | 'provider_failed'; message: string }
  seed: number
  provider: string
  model: string | null
  attempts: AttemptReport[]
  /** the last script that was produced, with its problems, if any was */
  lastDraft?: ScriptDraft
}

export type GenerateResult = GenerateSuccess | GenerateFailure

export class ReelGenerator {
  readonly config: GeneratorConfig
  private readonly providers: Record<string, ScriptProvider>

  constructor(private readonly deps: GeneratorDeps) {
    this.config = parseGeneratorConfig(deps.config ?? {})
    this.providers = { builtin: new BuiltinProvider(), ...(this.config.openai ? { openai: new OpenAIChatProvider(this.config.openai) } : {}), ...deps.providers }
    if (!this.providers[this.config.provider]) {
      const hint = this.config.provider === 'openai' ? ' (give openai: { baseUrl, model, apiKey })' : ''
      throw new TrendwireError('CONFIG_INVALID', `generator: invalid options: provider: "${this.config.provider}" is not configured${hint}`, { details: { field: 'provider' } })
    }
  }

  get providerNames(): string[] { return Object.keys(this.providers) }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const cfg = this.config
    const name = req.provider ?? cfg.provider
    const provider = this.providers[name]
    if (!provider) throw new TrendwireError('CONFIG_INVALID', `provider "${name}" is not configured (have: ${this.providerNames.join(', ')})`, { details: { field: 'provider' } })
    const seed = req.seed ?? (fnv1a(JSON.stringify(req)) ^ Math.floor(Math.random() * 2 ** 31)) >>> 1

    const rel = this.deps.context.relevant(req, cfg.trendsInContext)
    const posts = await this.similarPosts(req, rel.trends)
    const range = wordRange(req.lengthSec, cfg.wordsPerSecond, cfg.wordTolerance)
    const unsafeTerms = cfg.extraUnsafeTerms.length ? [...UNSAFE_TERMS, ...cfg.extraUnsafeTerms] : undefined
    const rules = {
      lengthSec: req.lengthSec, wordsPerSecond: cfg.wordsPerSecond, wordTolerance: cfg.wordTolerance,
      hashtagsMin: cfg.hashtagsMin, hashtagsMax: cfg.hashtagsMax, bannedWords: req.bannedWords, unsafeTerms,
      knownTrendIds: new Set(rel.trends.map((t) => t.id)), knownPostIds: new Set(posts.map((p) => p.postId)),
    }
    const attempts: AttemptReport[] = []
    let feedback: ValidationFailure[] = []
    let lastDraft: ScriptDraft | undefined
    for (let attempt = 1; attempt <= cfg.maxAttempts; attempt++) {
      const t0 = performance.now()
      const preq: ProviderRequest = {
        profile: req, hookType: req.hookType, seed, attempt, trends: rel.trends, posts, wordRange: range,
        hashtagsMin: cfg.hashtagsMin, hashtagsMax: cfg.hashtagsMax, unsafeTerms, feedback,
      }
      let raw: unknown
      try {
        raw = await provider.generate(preq)
      } catch (e) {
        const err = e instanceof TrendwireError ? e : new TrendwireError('SINK_UNAVAILABLE', (e as Error)?.message ?? String(e), { cause: e })
        attempts.push({ attempt, ok: false, failures: [], providerError: { code: err.code, message: err.message, retryable: err.retryable }, ms: ms(t0) })
        if (!err.retryable) break
        continue
      }
      const parsed = parseDraft(raw)
      if ('failures' in parsed) {
        attempts.push({ attempt, ok: false, failures: parsed.failures, ms: ms(t0) })
        feedback = parsed.failures
        continue
      }
      lastDraft = parsed.draft
      const report = validateScript(parsed.draft, rules)
      attempts.push({ attempt, ok: report.ok, failures: report.failures, ms: ms(t0) })
      if (report.ok) {
        return {
          ok: true, seed, provider: provider.name, model: provider.model ?? null, attempts, validation: report,
          script: this.finish(parsed.draft, req, rel.trends, posts),
          context: { trendsConsidered: rel.trends.length, excludedTrends: rel.excluded, postsConsidered: posts.length, contextWindowEnd: Number.isFinite(this.deps.context.latestWindowEnd) ? this.deps.context.latestWindowEnd : null },
        }
      }
      feedback = report.failures
    }
    const last = attempts[attempts.length - 1]
    const providerFailed = !!last?.providerError
    return {
      ok: false, seed, provider: provider.name, model: provider.model ?? null, attempts, lastDraft,
      error: providerFailed
        ? { code: 'provider_failed', message: `${provider.name}: ${last.providerError!.message}` }
        : { code: 'validation_failed', message: `no valid script after ${attempts.length} attempt(s): ${summarize(last?.failures ?? [])}` },
    }
  }

  /** n variations: seeds seed, seed+1, …; hook types rotate unless one is fixed. */
  async generateBatch(req: GenerateRequest, variations: number): Promise<GenerateResult[]> {
    const base = req.seed ?? (fnv1a(JSON.stringify(req)) ^ Math.floor(Math.random() * 2 ** 31)) >>> 1
    const out: GenerateResult[] = []
    const hookTypes = HOOK_TYPE_IDS
    const offset = base % hookTypes.length
    for (let i = 0; i < variations; i++) {
      // sequential: a remote model's rate limit is per key, and the built-in provider is fast
      out.push(await this.generate({ ...req, seed: (base + i) % 2 ** 31, hookType: req.hookType ?? hookTypes[(offset + i) % hookTypes.length] }))
    }
    return out
  }

  private async similarPosts(req: GenerateRequest, trends: readonly RelevantTrend[]): Promise<CitedPost[]> {
    if (!this.deps.posts || this.config.postsInContext === 0) return []
    const sector = SECTORS.find((s) => s.id === req.sector)
    const text = [...trends.filter((t) => t.entityType !== 'sound').map((t) => t.entity), ...req.keywords, ...(sector?.keywords.slice(0, 4) ?? [])].join(' ')
    return [...await this.deps.posts.similar({ text, platform: req.platform, k: this.config.postsInContext })]
  }

  /** The validated draft with its citations resolved against the context it was given. */
  private finish(d: ScriptDraft, req: GenerateRequest, trends: readonly RelevantTrend[], posts: readonly CitedPost[]): ReelScript {
    const { usedTrendIds, usedPostIds, ...rest } = d
    const citedTrends = trends.filter((t) => usedTrendIds.includes(t.id)).map(({ signal: _s, ...t }) => t)
    return {
      ...rest,
      lengthSec: req.lengthSec,
      platform: req.platform,
      voiceOver: spokenText(d),
      citations: { trends: citedTrends, posts: posts.filter((p) => usedPostIds.includes(p.postId)) },
    }
  }
}

function summarize(fs: readonly ValidationFailure[]): string {
  if (fs.length === 0) return 'no details'
  return fs.slice(0, 4).map((f) => f.message).join('; ') + (fs.length > 4 ? `; and ${fs.length - 4} more` : '')
}

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10
