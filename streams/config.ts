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
