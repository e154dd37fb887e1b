// Options are validated once, at construction, with zod; a bad key fails at start with a message
// naming the key and the reason.
import { z } from 'zod'
import { TrendwireError } from './errors.ts'

export function parseOptions<S extends z.ZodType>(component: string, schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input ?? {})
  if (r.success) return r.data
  const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ')
  throw new TrendwireError('CONFIG_INVALID', `${component}: invalid options: ${problems}`, { cause: r.error })
}

/**
 * The retry options every sink shares: exponential backoff from initialDelayMs up to maxDelayMs,
 * giving up (SINK_UNAVAILABLE) after giveUpAfterMs of failing — 0 = never: hold the stream until
 * the service is back. Defaults per caller.
 */
export function retryOptionsSchema(defaults: { initialDelayMs: number; maxDelayMs: number }) {
  return z.object({
    initialDelayMs: z.number().int().positive().default(defaults.initialDelayMs),
    maxDelayMs: z.number().int().positive().default(defaults.maxDelayMs),
    giveUpAfterMs: z.number().int().min(0).default(0),
  }).strict()
}
