// Turning whatever a ClickHouse call threw into one TrendwireError, with the retry decision made once.
//
// Where the code comes from:
//  - current servers and chDB answer "Code: 60. DB::Exception: … (UNKNOWN_TABLE)"; clickhouse-js parses
//    that into ClickHouseError { code: '60', type: 'UNKNOWN_TABLE' } (client-common/src/error/error.ts);
//  - 18.x answers "Code: 60, e.displayText() = DB::Exception: …", which that regex does not match, so the
//    client hands back a plain Error with the body as message: the code is read from the message here;
//  - transport failures are Node errors with an errno code (ECONNREFUSED, ECONNRESET, …), or
//    clickhouse-js's "Timeout error." when request_timeout passes.
// Retryable means "the same insert is expected to succeed later unchanged": the server is away,
// overloaded, out of memory for now, or the connection broke. Parse errors, type mismatches, unknown
// tables or columns fail identically every time: not retryable (SINK_REJECTED).
import { ClickHouseError } from '@clickhouse/client'
import { TrendwireError } from '../../streams/errors.ts'

/** ClickHouse error codes worth retrying (src/Common/ErrorCodes.cpp; numbers checked against chDB 26's system.errors). */
export const RETRYABLE_CODES: ReadonlyMap<number, string> = new Map([
  [3, 'UNEXPECTED_END_OF_FILE'], // request body cut: the connection dropped mid-insert
  [32, 'ATTEMPT_TO_READ_AFTER_EOF'],
  [33, 'CANNOT_READ_ALL_DATA'],
  [95, 'CANNOT_READ_FROM_SOCKET'],
  [96, 'CANNOT_WRITE_TO_SOCKET'],
  [159, 'TIMEOUT_EXCEEDED'],
  [160, 'TOO_SLOW'],
  [173, 'CANNOT_ALLOCATE_MEMORY'],
  [202, 'TOO_MANY_SIMULTANEOUS_QUERIES'],
  [203, 'NO_FREE_CONNECTION'],
  [209, 'SOCKET_TIMEOUT'],
  [210, 'NETWORK_ERROR'],
  [225, 'NO_ZOOKEEPER'],
  [236, 'ABORTED'],
  [241, 'MEMORY_LIMIT_EXCEEDED'],
  [242, 'TABLE_IS_READ_ONLY'],
  [243, 'NOT_ENOUGH_SPACE'],
  [252, 'TOO_MANY_PARTS'],
  [279, 'ALL_CONNECTION_TRIES_FAILED'],
  [319, 'UNKNOWN_STATUS_OF_INSERT'],
  [394, 'QUERY_WAS_CANCELLED'],
  [439, 'CANNOT_SCHEDULE_TASK'],
  [473, 'DEADLOCK_AVOIDED'],
  [574, 'DISTRIBUTED_TOO_MANY_PENDING_BYTES'],
  [745, 'SERVER_OVERLOADED'],
  [999, 'KEEPER_EXCEPTION'],
  [1000, 'POCO_EXCEPTION'],
])

/** Node / undici transport errors: the server is unreachable or the connection broke. */
const RETRYABLE_ERRNO = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT',
])

/** What a failed call was, as far as we can tell. */
export interface ClickHouseFailureInfo {
  retryable: boolean
  /** ClickHouse's numeric error code, when the server answered with one. */
  serverCode?: number
  /** ClickHouse's symbolic error name (current servers, or from the table above). */
  serverType?: string
  /** Transport errno, when it never got an answer. */
  errno?: string
  message: string
}

const CODE_IN_MESSAGE = /^\s*Code:\s*(\d+)[.,]/
const HTTP_5XX_TEXT = /\b(502 Bad Gateway|503 Service (Temporarily )?Unavailable|504 Gateway Time-?out|500 Internal Server Error)\b/i

export function classifyClickHouseError(err: unknown): ClickHouseFailureInfo {
  if (err instanceof TrendwireError) return { retryable: err.retryable, message: err.message }
  const message = err instanceof Error ? err.message : String(err)
  // By shape, not instanceof: chdb/connection throws client-common's ClickHouseError, a different
  // class object from the copy @clickhouse/client bundles.
  const shaped = err as { code?: unknown; type?: unknown } | null
  if (err instanceof ClickHouseError || (typeof shaped?.code === 'string' && /^\d+$/.test(shaped.code))) {
    const code = Number(shaped!.code)
    return { retryable: RETRYABLE_CODES.has(code), serverCode: code, serverType: typeof shaped!.type === 'string' ? shaped!.type : RETRYABLE_CODES.get(code), message }
  }
  const m = CODE_IN_MESSAGE.exec(message)
  if (m) {
    const code = Number(m[1])
    return { retryable: RETRYABLE_CODES.has(code), serverCode: code, serverType: RETRYABLE_CODES.get(code), message: firstLine(message) }
  }
  const errno = (err as { code?: unknown } | null)?.code
  if (typeof errno === 'string' && RETRYABLE_ERRNO.has(errno)) return { retryable: true, errno, message }
  if (/^Timeout error\.?$/.test(message) || /socket hang up|other side closed|socket was closed/i.test(message)) return { retryable: true, message }
  // A proxy in front of ClickHouse answering 5xx with its own page: clickhouse-js gives us the body only.
  if (HTTP_5XX_TEXT.test(message)) return { retryable: true, message: firstLine(message) }
  // Programming errors (TypeError …) and anything we cannot place: do not spin on them.
  return { retryable: false, message }
}

function firstLine(s: string): string {
  const i = s.indexOf(', e.what()')
  return (i > 0 ? s.slice(0, i) : s).trim()
}

/**
 * A TrendwireError for a failed call: SINK_UNAVAILABLE (retryable) or SINK_REJECTED (not), with the
 * ClickHouse code and type in details and the original error as cause.
 */
export function clickHouseFailure(err: unknown, context: string, details: Record<string, unknown> = {}): TrendwireError {
  if (err instanceof TrendwireError) return err
  const info = classifyClickHouseError(err)
  const what = info.serverCode !== undefined ? ` (ClickHouse code ${info.serverCode}${info.serverType ? ` ${info.serverType}` : ''})` : info.errno ? ` (${info.errno})` : ''
  return new TrendwireError(info.retryable ? 'SINK_UNAVAILABLE' : 'SINK_REJECTED', `${context}: ${info.message}${what}`, {
    cause: err,
    details: { ...details, serverCode: info.serverCode, serverType: info.serverType, errno: info.errno },
  })
}
