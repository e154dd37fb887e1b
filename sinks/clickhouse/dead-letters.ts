// Where a chunk ClickHouse refused goes: one dead letter per row, with the reason (the server's
// message and code) and the row's original JSON line as payload, so nothing the engine produced is
// lost and an operator can see why and re-insert it after fixing the table.
//
// ClickHouseDeadLetterTable writes them into the `dead_letters` table (schemas/clickhouse/007_*.sql)
// under a deduplication token derived from the refused chunk's token, so a replay after a crash that
// is refused again does not write its dead letters twice. sinkDeadLetters() hands them to any Sink
// (e.g. the main job's NDJSON dead-letter file) instead.
import pino, { type Logger } from 'pino'
import type { TrendwireError } from '../../streams/errors.ts'
import type { DeadLetter, MetricsSink, Sink, SinkContext } from '../../streams/types.ts'
import { noMetrics } from '../../streams/metrics.ts'
import type { ClickHouse } from './client.ts'
import { Inserter, retryOptionsSchema, type RetryOptions } from './insert.ts'
import { deadLetterRows, lineAsObject, lineSerializer } from './rows.ts'

/** A chunk a ClickHouseSink could not insert for a reason that retrying will not fix. */
export interface RejectedChunk {
  sink: string
  table: string
  /** The chunk's deduplication token (deterministic; see sink.ts). */
  token: string
  /** The rows as sent, one serialised line each, and the columns they fill. */
  lines: string[]
  columns: readonly string[]
  error: TrendwireError
}

export interface DeadLetterTarget {
  rejected(chunk: RejectedChunk, signal: AbortSignal): Promise<void>
}

/** One DeadLetter per refused row: code SINK_REJECTED, position "<token>#<row>", payload the row as a JSON object. */
export function rejectedToDeadLetters(c: RejectedChunk, at = Date.now()): DeadLetter[] {
  const out: DeadLetter[] = new Array(c.lines.length)
  for (let i = 0; i < c.lines.length; i++) {
    out[i] = { source: `clickhouse:${c.sink}`, partition: c.table, position: `${c.token}#${i}`, code: 'SINK_REJECTED', reason: c.error.message, payload: Buffer.from(lineAsObject(c.lines[i], c.columns)), at }
  }
  return out
}

export class ClickHouseDeadLetterTable implements DeadLetterTarget {
  private readonly inserter: Inserter
  private readonly caps: Promise<{ token: boolean; compact: boolean }>
  metrics: MetricsSink = noMetrics

  constructor(private readonly ch: ClickHouse, opts: { table?: string; retry?: Partial<RetryOptions>; logger?: Logger } = {}) {
    const log = opts.logger ?? pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
    this.inserter = new Inserter(ch, opts.table ?? deadLetterRows.table, deadLetterRows.columns, retryOptionsSchema.parse(opts.retry ?? {}), { sink: 'dead-letters', log, metrics: () => this.metrics })
    this.caps = ch.capabilities().then((c) => ({ token: c.dedupToken, compact: c.compactJson }), () => ({ token: false, compact: false }))
  }

  async rejected(c: RejectedChunk, signal: AbortSignal): Promise<void> {
    const letters = rejectedToDeadLetters(c)
    const caps = await this.caps
    const line = lineSerializer(deadLetterRows, caps.compact)
    let body = ''
    for (const d of letters) body += line(d, d.at) + '\n'
    const token = `${c.token}-dead-letters`
    const settings: Record<string, string | number> = { input_format_skip_unknown_fields: 0 }
    if (caps.token) settings.insert_deduplication_token = token
    await this.inserter.insert(caps.compact ? 'JSONCompactEachRow' : 'JSONEachRow', Buffer.from(body), letters.length, settings, token, signal)
  }
}

/** Sends refused rows to a Sink<DeadLetter> (awaiting its backpressure). */
export function sinkDeadLetters(sink: Sink<DeadLetter>, ctx: SinkContext = { checkpointId: 0, metrics: noMetrics }): DeadLetterTarget {
  return {
    async rejected(c) {
      const letters = rejectedToDeadLetters(c)
      await sink.write({ values: letters, times: letters.map((d) => d.at) }, ctx)
    },
  }
}
