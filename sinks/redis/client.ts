// One way to reach Redis for the state sink, the fan-out subscriber, the reader and the tests: an
// ioredis client built from validated options. Sinks and readers never close a client they were
// given; whoever created it does.
//
// Connection behaviour we rely on (ioredis RedisOptions):
//  - `maxRetriesPerRequest: 1`: while the server is away a command fails after one reconnect attempt
//    instead of ioredis's default 20. The sink retries whole pipelines itself, with its own backoff
//    and give-up policy (state-sink.ts); the scripts and the fan-out ids make a resent pipeline a no-op.
//  - `enableOfflineQueue: true` (default): commands issued while reconnecting wait in ioredis's queue.
//  - `retryStrategy`: reconnect forever, 50 ms doubling to 2 s.
import { Redis, type RedisOptions } from 'ioredis'
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'

export const redisOptionsSchema = z.object({
  /** redis://[user:password@]host:port[/db] or rediss:// for TLS. */
  url: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
  /** Client name shown by CLIENT LIST. */
  name: z.string().regex(/^\S+$/, 'no spaces').default('trendwire'),
  connectTimeoutMs: z.number().int().positive().default(5_000),
  /** Per command; 0 = none. A pipeline that takes longer fails and the sink retries it. */
  commandTimeoutMs: z.number().int().min(0).default(10_000),
}).strict()
export type RedisClientOptions = z.input<typeof redisOptionsSchema>

/** `createRedis({ url })`: a connected-on-demand ioredis client. Options are validated once, here. */
export function createRedis(options: RedisClientOptions = {}, extra: Partial<RedisOptions> = {}): Redis {
  const o = parseOptions('redis', redisOptionsSchema, options)
  return new Redis(o.url, {
    connectionName: o.name,
    connectTimeout: o.connectTimeoutMs,
    commandTimeout: o.commandTimeoutMs > 0 ? o.commandTimeoutMs : undefined,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(2_000, 50 * 2 ** Math.min(times, 10)),
    ...extra,
  })
}

/** Redis error replies that mean "try the same command again later" (server loading, busy, failover, full). */
const RETRYABLE_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|OOM|NOREPLICAS)\b/
const RETRYABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND'])

/**
 * Whether a failed Redis call is worth retrying unchanged: the connection broke or timed out, or the
 * server answered with a transient condition. Script errors, WRONGTYPE, syntax errors: not retryable.
 */
export function isRetryableRedisError(err: unknown): boolean {
  if (err instanceof TrendwireError) return err.retryable
  const e = err as { name?: string; code?: string; message?: string } | null
  if (!e) return false
  if (e.name === 'MaxRetriesPerRequestError') return true
  if (typeof e.code === 'string' && RETRYABLE_ERRNO.has(e.code)) return true
  const msg = e.message ?? String(err)
  if (e.name === 'ReplyError') return RETRYABLE_REPLY.test(msg)
  return /Connection is closed|Command timed out|Stream isn't writeable|connect ETIMEDOUT|socket (hang up|closed)/i.test(msg)
}

/** A TrendwireError for a failed Redis call: SINK_UNAVAILABLE (retryable) or SINK_REJECTED. */
export function redisFailure(err: unknown, context: string): TrendwireError {
  if (err instanceof TrendwireError) return err
  const retryable = isRetryableRedisError(err)
  const msg = err instanceof Error ? err.message : String(err)
  return new TrendwireError(retryable ? 'SINK_UNAVAILABLE' : 'SINK_REJECTED', `${context}: ${msg}`, { cause: err })
}

/** Resolves once the client is connected (connects it when lazy). */
export async function ensureConnected(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return
  if (redis.status === 'wait' || redis.status === 'end') {
    await redis.connect()
    return
  }
  await new Promise<void>((resolve, reject) => {
    const onReady = (): void => { redis.off('end', onEnd); resolve() }
    const onEnd = (): void => { redis.off('ready', onReady); reject(new TrendwireError('SINK_UNAVAILABLE', 'redis: connection ended before it was ready')) }
    redis.once('ready', onReady)
    redis.once('end', onEnd)
  })
}
