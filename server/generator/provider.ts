// The contract between the generator and whatever writes the script: the built-in templates
// (builtin.ts) or an OpenAI-compatible chat model (openai.ts). A provider gets the brand, the live
// trends and similar posts it may cite, the constraints, and — on a retry — what was wrong with the
// previous attempt. It returns a ScriptDraft, or raw model output (a JSON string or object) that the
// generator parses; it throws a TrendwireError for transport problems (retryable or not).
import type { RelevantTrend } from './context.ts'
import type { BrandProfile, CitedPost, ScriptDraft } from './schemas.ts'
import type { ValidationFailure } from './validate.ts'

export interface ProviderRequest {
  profile: BrandProfile
  /** fixed by the caller, or the provider picks */
  hookType?: string
  seed: number
  /** 1-based */
  attempt: number
  trends: readonly RelevantTrend[]
  posts: readonly CitedPost[]
  /** spoken words the script must have, inclusive */
  wordRange: [number, number]
  hashtagsMin: number
  hashtagsMax: number
  unsafeTerms?: readonly string[]
  /** what the previous attempt failed on (empty on the first) */
  feedback: readonly ValidationFailure[]
}

export interface ScriptProvider {
  readonly name: string
  readonly model?: string
  generate(req: ProviderRequest): Promise<ScriptDraft | string | unknown>
}
