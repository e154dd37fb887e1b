// Retrying a remote call with exponential backoff and "equal jitter" (AWS Architecture Blog,
// "Exponential Backoff And Jitter", 2015): attempt n waits a uniform time in [cap/2, cap] with
// cap = min(maxDelayMs, initialDelayMs·2^(n−1)). Half the delay is kept, so a recovering service is
// not hammered at once; the other half is random, so many writers that failed together do not retry
// together. The sinks share this loop and the policy's options (streams/config.ts
// retryOptionsSchema); what counts as retryable and which error to raise stay with each sink.
import { setTimeout as sleep } from 'node:timers/promises'

export interface RetryPolicy {
  initialDelayMs: number
  maxDelayMs: number
  /** 0: retry for ever (the runtime applies backpressure meanwhile) */
  giveUpAfterMs: number
}

/** Delay before retry number `attempt` (1 = the first retry), in ms. */
export function backoffDelay(policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>, attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt - 1, 30))
  return cap / 2 + random() * (cap / 2)
}

export interface RetryingOptions {
  policy: RetryPolicy
  /** The error to throw at once if `err` is not worth retrying; undefined to retry. */
  fatal(err: unknown): Error | undefined
  /** The error to throw once the policy's giveUpAfterMs has passed. */
  exhausted(err: unknown, failingMs: number, attempts: number): Error
  /** Called before each wait (log, count). */
  onRetry?(err: unknown, attempt: number, delayMs: number): void
  /** Aborting stops the retries: the error from `aborted` is thrown. */
  signal?: AbortSignal
  aborted?(err: unknown): Error
  random?: () => number
}

/** Runs `fn` until it resolves, a fatal error, the give-up time, or an abort. */
export async function retrying<R>(fn: (attempt: number) => Promise<R>, o: RetryingOptions): Promise<R> {
  const started = Date.now()
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (err) {
      if (o.signal?.aborted) throw o.aborted?.(err) ?? err
      const fatal = o.fatal(err)
      if (fatal) throw fatal
      const failingMs = Date.now() - started
      if (o.policy.giveUpAfterMs > 0 && failingMs >= o.policy.giveUpAfterMs) throw o.exhausted(err, failingMs, attempt)
      const delay = backoffDelay(o.policy, attempt, o.random)
      o.onRetry?.(err, attempt, delay)
      try {
        await sleep(delay, undefined, o.signal ? { signal: o.signal } : undefined)
      } catch {
        throw o.aborted?.(err) ?? err
      }
    }
  }
}
