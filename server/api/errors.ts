// API errors: one JSON shape for every 4xx/5xx (schemas/api/common.ts ErrorSchema):
//   { "error": { "code": "invalid_request", "message": "query.minScore: expected number, received NaN", "field": "query.minScore" } }
// Validation messages name the field as <where>.<path> (where = params, query or body), so a client
// sees at once which input to fix.
import type { ErrorRequestHandler } from 'express'
import type { Logger } from 'pino'
import type { z } from 'zod'

export type ApiErrorCode = 'invalid_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'payload_too_large' | 'rate_limited' | 'unavailable' | 'internal'

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: ApiErrorCode, message: string, readonly field?: string, readonly issues?: Array<{ path: string; message: string }>) {
    super(message)
    this.name = 'ApiError'
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}), ...(this.issues ? { issues: this.issues } : {}) } }
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`)

/** A 400 from zod issues, naming the first field at fault. */
export function validationError(where: 'params' | 'query' | 'body', error: z.ZodError): ApiError {
  const issues = error.issues.map((i) => {
    const path = [where, ...i.path.map(String)].join('.')
    let message = i.message
    if (i.code === 'unrecognized_keys') return { path: [where, ...i.path.map(String), i.keys[0]].join('.'), message: `unknown field "${i.keys.join('", "')}"` }
    if (i.code === 'invalid_type' && /received undefined/.test(i.message)) message = 'required'
    return { path, message }
  })
  const first = issues[0]
  return new ApiError(400, 'invalid_request', `${first.path}: ${first.message}`, first.path, issues)
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let e: ApiError
    if (err instanceof ApiError) e = err
    else if (err?.type === 'entity.parse.failed') e = new ApiError(400, 'invalid_request', 'body: not valid JSON', 'body')
    else if (err?.type === 'entity.too.large') e = new ApiError(413, 'payload_too_large', `body: larger than ${err.limit} bytes`, 'body')
    else if (err?.type === 'charset.unsupported' || err?.type === 'encoding.unsupported') e = new ApiError(415, 'invalid_request', 'body: unsupported encoding', 'body')
    else {
      log.error({ err, method: req.method, path: req.path }, 'unhandled error in API route')
      e = new ApiError(500, 'internal', 'internal error')
    }
    if (res.headersSent) return
    res.status(e.status).json(e.toJSON())
  }
}
