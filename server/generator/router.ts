// HTTP routes of the Reel generator (express 5). Paths are absolute (/api/...), so mount the router
// at the root of the API server's app, with its key check:
//   api.app.use(generatorRouter({ context, posts, authorize: (req) => api.store.verifyKey(presentedKey(req) ?? '') !== null }))
//
//   GET  /api/sectors                 → { sectors: [{ id, label, topic, keywords }] }
//   GET  /api/hook-types              → { hookTypes: [{ id, label, description, example }] }
//   POST /api/generate-reel           brand profile (+ seed, hookType, provider)
//        200 GenerateSuccess | 400 invalid_request (names the field) | 422 validation_failed after retries,
//        with every attempt's failures | 502 provider_failed (the model endpoint failed)
//   POST /api/generate-reel/batch     the same + variations: n (1–10)
//        200 { results: GenerateResult[], ok: number }   (each result carries its own ok flag)
// 400 body: the API's ErrorSchema (schemas/api/common.ts): { error: { code: 'invalid_request', message,
// field: 'body.lengthSec', issues: [{ path, message }] } }.
import express, { type NextFunction, type Request, type Response, type Router } from 'express'
import type { z } from 'zod'
import { TrendwireError } from '../../streams/errors.ts'
import { HOOK_TYPES, SECTORS } from './catalog.ts'
import { ReelGenerator, type GenerateResult, type GeneratorDeps } from './generate.ts'
import { batchRequestSchema, generateRequestSchema } from './schemas.ts'

export interface FieldProblem { field: string; message: string }

/** zod issues → one problem per field, with the field's path ("body.bannedWords.2", "body.lengthSec"). */
export function fieldProblems(err: z.ZodError, prefix = 'body'): FieldProblem[] {
  return err.issues.flatMap((i) => {
    const base = [prefix, ...i.path.map(String)].join('.')
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ field: `${base}.${k}`, message: 'unknown field' }))
    return [{ field: base, message: i.message }]
  })
}

/** 400 in the API's error shape (schemas/api/common.ts ErrorSchema): the message names the field. */
function badRequest(res: Response, problems: FieldProblem[]): void {
  res.status(400).json({
    error: {
      code: 'invalid_request',
      message: problems.map((p) => `${p.field}: ${p.message}`).join('; '),
      field: problems[0]?.field,
      issues: problems.map((p) => ({ path: p.field, message: p.message })),
    },
  })
}

function statusOf(r: GenerateResult): number {
  if (r.ok) return 200
  return r.error.code === 'provider_failed' ? 502 : 422
}

export interface GeneratorRouterDeps extends GeneratorDeps {
  generator?: ReelGenerator
  /**
   * Who may call the routes. Mounted on the API server's app (which guards only its own routes),
   * pass its key check, e.g. `(req) => api.store.verifyKey(presentedKey(req) ?? '') !== null`.
   * Without it the routes are open (tests, a local demo).
   */
  authorize?: (req: Request) => boolean
}

export function generatorRouter(deps: GeneratorRouterDeps): Router {
  const gen = deps.generator ?? new ReelGenerator(deps)
  const r = express.Router()
  if (deps.authorize) {
    const authorize = deps.authorize
    r.use(['/api/generate-reel', '/api/sectors', '/api/hook-types'], (req, res, next) => {
      if (authorize(req)) return next()
      res.setHeader('WWW-Authenticate', 'Bearer realm="trendwire"')
      res.status(401).json({ error: { code: 'unauthorized', message: 'missing or invalid API key' } })
    })
  }
  r.use('/api/generate-reel', express.json({ limit: '64kb' }))

  r.get('/api/sectors', (_req, res) => {
    res.json({ sectors: SECTORS.map((s) => ({ id: s.id, label: s.label, topic: s.topic, keywords: s.keywords })) })
  })
  r.get('/api/hook-types', (_req, res) => { res.json({ hookTypes: HOOK_TYPES }) })

  r.post('/api/generate-reel', async (req, res) => {
    const p = generateRequestSchema.safeParse(req.body ?? {})
    if (!p.success) return badRequest(res, fieldProblems(p.error))
    if (p.data.provider && !gen.providerNames.includes(p.data.provider)) return badRequest(res, [{ field: 'body.provider', message: `"${p.data.provider}" is not configured on this server` }])
    const result = await gen.generate(p.data)
    res.status(statusOf(result)).json(result)
  })

  r.post('/api/generate-reel/batch', async (req, res) => {
    const p = batchRequestSchema.safeParse(req.body ?? {})
    if (!p.success) return badRequest(res, fieldProblems(p.error))
    if (p.data.provider && !gen.providerNames.includes(p.data.provider)) return badRequest(res, [{ field: 'body.provider', message: `"${p.data.provider}" is not configured on this server` }])
    const { variations, ...one } = p.data
    const results = await gen.generateBatch(one, variations)
    res.json({ results, ok: results.filter((x) => x.ok).length })
  })

  // malformed JSON bodies and anything thrown above
  r.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err)
    const e = err as { type?: string; status?: number; message?: string }
    if (e?.type === 'entity.parse.failed') return badRequest(res, [{ field: 'body', message: 'not valid JSON' }])
    if (e?.type === 'entity.too.large') return res.status(413).json({ error: { code: 'invalid_request', message: 'body: larger than 64 kB', field: 'body' } })
    if (err instanceof TrendwireError && err.domain === 'user') {
      const field = typeof err.details?.field === 'string' ? `body.${err.details.field}` : 'body'
      return badRequest(res, [{ field, message: err.message }])
    }
    res.status(500).json({ error: { code: 'internal', message: e?.message ?? 'internal error' } })
  })
  return r
}
