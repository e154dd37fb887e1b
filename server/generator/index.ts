// The trend-aware Reel script generator: see docs/generator.md.
export { generatorRouter, fieldProblems, type FieldProblem, type GeneratorRouterDeps } from './router.ts'
export {
  ReelGenerator, generatorConfigSchema, generatorConfigFromEnv, parseGeneratorConfig,
  type GeneratorConfig, type GeneratorConfigInput, type GeneratorDeps, type GenerateResult, type GenerateSuccess, type GenerateFailure, type AttemptReport,
} from './generate.ts'
export { TrendContext, trendId, followFeed, type FeedRecordSource, type TrendContextOptions, type TrendEntry, type TrendPoint, type RelevantTrend, type RelevanceResult } from './context.ts'
export { InMemoryPostIndex, postIndexTopology, type SimilarPostSearch, type SimilarPostQuery } from './posts.ts'
export { vectorPostSearch, performanceFromScores, type PostVectorSearch, type PostPerformance, type VectorPostSearchOptions } from './vector-posts.ts'
export { BuiltinProvider, buildScript, planSegments } from './builtin.ts'
export { OpenAIChatProvider, openAIOptionsSchema, buildMessages, type OpenAIOptionsInput } from './openai.ts'
export type { ScriptProvider, ProviderRequest } from './provider.ts'
export { validateScript, parseDraft, wordRange, spokenText, FAILURE_KINDS, type FailureKind, type ValidationFailure, type ValidationReport, type ValidationRules } from './validate.ts'
export * from './schemas.ts'
export { SECTORS, HOOK_TYPES, TONES, GOALS, UNSAFE_TERMS, CTA_VERBS } from './catalog.ts'
