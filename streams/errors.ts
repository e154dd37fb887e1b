// One error class for the whole engine: a closed set of codes, a retryable flag and a domain
// (user: bad input or config; external: a service we talk to; internal: our bug), always with a cause.
// Modelled on platformatic/kafka's src/errors.ts and Arroyo's arroyo-rpc errors.

export const ERROR_CODES = {
  CONFIG_INVALID: { domain: 'user', retryable: false },
  INPUT_MALFORMED: { domain: 'user', retryable: false },
  INPUT_SCHEMA_MISMATCH: { domain: 'user', retryable: false },
  INPUT_UNKNOWN_SCHEMA: { domain: 'user', retryable: false },
  INPUT_BAD_TIMESTAMP: { domain: 'user', retryable: false },
  INPUT_OVERSIZED: { domain: 'user', retryable: false },
  OPERATOR_FAILED: { domain: 'internal', retryable: false },
  CHECKPOINT_FAILED: { domain: 'internal', retryable: true },
  CHECKPOINT_CORRUPT: { domain: 'internal', retryable: false },
  SOURCE_FAILED: { domain: 'external', retryable: true },
  SINK_UNAVAILABLE: { domain: 'external', retryable: true },
  SINK_REJECTED: { domain: 'external', retryable: false },
  STATE_LIMIT: { domain: 'internal', retryable: false },
} as const

export type ErrorCode = keyof typeof ERROR_CODES
export type ErrorDomain = 'user' | 'external' | 'internal'

export class TrendwireError extends Error {
  readonly code: ErrorCode
  readonly domain: ErrorDomain
  readonly retryable: boolean
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {}) {
    super(message, { cause: opts.cause })
    this.name = 'TrendwireError'
    this.code = code
    this.domain = ERROR_CODES[code].domain
    this.retryable = opts.retryable ?? ERROR_CODES[code].retryable
    this.details = opts.details
  }
}

/** Wraps whatever an operator threw with the operator's name, keeping the cause. */
export function operatorError(operator: string, cause: unknown): TrendwireError {
  if (cause instanceof TrendwireError && cause.code === 'OPERATOR_FAILED') return cause
  const msg = cause instanceof Error ? cause.message : String(cause)
  return new TrendwireError('OPERATOR_FAILED', `operator "${operator}" failed: ${msg}`, { cause, details: { operator } })
}
