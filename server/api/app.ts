// The express application: request logging and metrics, then each declared route (routes.ts) behind
// its access check, rate limit and input validation, then JSON 404s and errors.
//
// Request log (pino, one JSON line per request, when the response finishes):
//   {"level":30,"reqId":"…","method":"GET","route":"/api/trends/:entity","status":200,"ms":1.2,"tenant":"tnt_…","key":"a1b2…","msg":"request"}
// The query string and headers are not logged (they may carry keys).
import { randomBytes } from 'node:crypto'
import express, { type Express, type NextFunction, type Request, type Response } from 'express'
import type { Logger } from 'pino'
import type { z } from 'zod'
import { Auth, RateLimiter } from './auth.ts'
import { ApiError, errorHandler, validationError } from './errors.ts'
import type { ApiMetrics } from './metrics.ts'
import type { RouteDef } from './routes.ts'
import type { Principal } from './store.ts'

export interface AppDeps {
  auth: Auth
  limiter: RateLimiter
  metrics: ApiMetrics
  log: Logger
  /** largest accepted JSON body */
  bodyLimit?: string
}

interface Locals {
  principal: Principal | null
  reqId: string
}

export function createApp(routes: readonly RouteDef[], deps: AppDeps): Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('query parser', 'simple')

  app.use((req: Request, res: Response, next: NextFunction) => {
    const t0 = performance.now()
    const given = req.headers['x-request-id']
    const reqId = typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomBytes(8).toString('hex')
    ;(res.locals as Locals).reqId = reqId
    ;(res.locals as Locals).principal = null
    res.setHeader('X-Request-Id', reqId)
    res.on('finish', () => {
      const ms = performance.now() - t0
      const routePath = (req.route?.path as string | undefined) ?? 'unmatched'
      deps.metrics.httpRequests.inc({ method: req.method, route: routePath, status: String(res.statusCode) })
      deps.metrics.httpDuration.observe({ method: req.method, route: routePath }, ms / 1000)
      const p = (res.locals as Locals).principal
      const line = { reqId, method: req.method, route: routePath, path: req.path, status: res.statusCode, ms: Math.round(ms * 100) / 100, tenant: p?.tenant.id, key: p?.keyId }
      if (res.statusCode >= 500) deps.log.error(line, 'request')
      else deps.log.info(line, 'request')
    })
    next()
  })
  app.use(express.json({ limit: deps.bodyLimit ?? '100kb' }))

  for (const r of routes) app[r.method](r.path, guard(r, deps), handle(r))
  return app
}

/** JSON 404s and errors; added last (after any router mounted on the app). */
export function finishApp(app: Express, log: Logger): void {
  app.use((req: Request, _res: Response, next: NextFunction) => next(new ApiError(404, 'not_found', `no route ${req.method} ${req.path}`)))
  app.use(errorHandler(log))
}

function guard(r: RouteDef, deps: AppDeps) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (r.access === 'public') return next()
    let key: string
    let limit = deps.limiter.defaults
    if (r.access === 'admin') {
      if (!deps.auth.isAdmin(req)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="trendwire-admin"')
        throw new ApiError(401, 'unauthorized', deps.auth.adminConfigured ? 'admin key required' : 'admin routes are disabled: no admin key configured (TRENDWIRE_ADMIN_KEY)')
      }
      key = 'admin'
    } else {
      const p = deps.auth.tenant(req)
      if (!p) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="trendwire"')
        throw new ApiError(401, 'unauthorized', 'missing or invalid API key (Authorization: Bearer <key> or X-API-Key)')
      }
      ;(res.locals as Locals).principal = p
      key = p.keyId
      limit = p.tenant.rateLimit ?? limit
    }
    const t = deps.limiter.take(key, limit)
    RateLimiter.headers(res, t, limit)
    if (!t.allowed) {
      deps.metrics.rateLimited('http')
      throw new ApiError(429, 'rate_limited', `rate limit exceeded: ${limit.capacity} requests, ${limit.refillPerSec} per second; retry in ${t.retryAfterSec} s`)
    }
    next()
  }
}

function parse<T>(where: 'params' | 'query' | 'body', schema: z.ZodType<T> | undefined, value: unknown): T {
  if (!schema) return undefined as T
  const r = schema.safeParse(value ?? (where === 'body' ? undefined : {}))
  if (!r.success) throw validationError(where, r.error)
  return r.data
}

function handle(r: RouteDef) {
  return async (req: Request, res: Response) => {
    const params = parse('params', r.params, req.params)
    const query = parse('query', r.query, req.query)
    const body = parse('body', r.body, req.body)
    const out = await r.handler({ params, query, body, principal: (res.locals as Locals).principal, req, res })
    if (res.headersSent) return
    const status = r.status ?? 200
    if (out === undefined) res.status(status === 200 ? 204 : status).end()
    else res.status(status).json(out)
  }
}
