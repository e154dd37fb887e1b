// One insert of pre-serialised rows into one table, retried until it lands or is refused.
//
// Wire format: the request body of `INSERT INTO db.table (col, …) FORMAT JSONCompactEachRow` — one JSON
// array per line, values in column order (rows.ts) — or, for servers without JSONCompactEachRow input
// (18.16), FORMAT TabSeparated (tsv.ts) where every column type has a TSV encoding, else JSONEachRow
// (one object per line). Each chunk says its format (a checkpoint's tail keeps the one it was written in). Rows are serialised once, by the sink, into one
// Buffer per chunk that every retry resends unchanged (the dedup token must name identical bytes).
// Over HTTP the body goes through clickhouse-js's exec(); on chDB through chdb's raw insert, which hands
// the Buffer to the engine without decoding it into a JS string on the main thread (client.ts,
// insertRaw). DateTime64(3) columns take integer epoch milliseconds.
//
// Retries: exponential backoff with equal jitter (delay in [cap/2, cap], cap = min(max, initial·2^n)),
// forever unless giveUpAfterMs is set — while ClickHouse is down the caller is held, nothing is dropped.
// Only errors classified retryable (errors.ts) are retried; the rest surface as SINK_REJECTED.
import { drainStream } from '@clickhouse/client'
import diagnostics from 'node:diagnostics_channel'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { z } from 'zod'
import { retryOptionsSchema as sharedRetryOptions } from '../../streams/config.ts'
import { TrendwireError } from '../../streams/errors.ts'
import type { MetricsSink } from '../../streams/types.ts'
import { quoteIdent, type ClickHouse } from './client.ts'
import { classifyClickHouseError, clickHouseFailure } from './errors.ts'

export const retryOptionsSchema = sharedRetryOptions({ initialDelayMs: 100, maxDelayMs: 10_000 })
export type RetryOptions = z.output<typeof retryOptionsSchema>

/**
 * Published on every insert attempt (success or failure), for tests and tracing. Costs nothing
 * without subscribers. Message: { sink, table, rows, bytes, token, attempt, ms, error? }.
 */
export const insertChannel = diagnostics.channel('trendwire:clickhouse:insert')

/**
 * Published on every failed attempt of the sink's other calls (capabilities, bookkeeping records,
 * deletes at restore), which are retried like inserts. Message: { sink, what, attempt, error }.
 */
export const callChannel = diagnostics.channel('trendwire:clickhouse:call')

export interface CallEvent {
  sink: string
  what: string
  attempt: number
  error: Error
}

export interface InsertEvent {
  sink: string
  table: string
  rows: number
  bytes: number
  token: string | undefined
  attempt: number
  ms: number
  error?: Error
}

/** Splits "db.table" (or "table", in the connection's database) and quotes both parts. */
export function qualifiedTable(ch: ClickHouse, table: string): { database: string; table: string; sql: string } {
  const dot = table.indexOf('.')
  const database = dot >= 0 ? table.slice(0, dot) : ch.database
  const name = dot >= 0 ? table.slice(dot + 1) : table
  return { database, table: name, sql: `${quoteIdent(database)}.${quoteIdent(name)}` }
}

/**
 * The body's format: RowBinary (rowbinary.ts), JSONCompactEachRow (arrays), JSONEachRow (objects, for
 * servers without the compact form), TabSeparated (tsv.ts).
 */
export type WireFormat = 'JSONCompactEachRow' | 'JSONEachRow' | 'TabSeparated' | 'RowBinary'

export class Inserter {
  private readonly qualified: string
  private columns: readonly string[]
  /** "name Type, …" of the columns, for RowBinary bodies into chDB (setStructure). */
  private structure: string | undefined
  readonly table: string

  constructor(
    private readonly ch: ClickHouse,
    table: string,
    columns: readonly string[],
    private readonly retry: RetryOptions,
    private readonly who: { sink: string; log: Logger; metrics: () => MetricsSink },
  ) {
    const q = qualifiedTable(ch, table)
    this.table = `${q.database}.${q.table}`
    this.qualified = q.sql
    this.columns = columns
  }

  /** The columns each line fills, in order. */
  setColumns(columns: readonly string[]): void {
    this.columns = columns
  }

  /** "name Type, …" of the columns, for RowBinary bodies into chDB (client.ts). */
  setStructure(structure: string): void {
    this.structure = structure
  }

  private sql(format: WireFormat): string {
    return `INSERT INTO ${this.qualified} (${this.columns.map(quoteIdent).join(', ')}) FORMAT ${format}`
  }

  /**
   * Inserts `body` (one serialised row per line, newline-terminated; or RowBinary rows) and resolves once ClickHouse acknowledged it.
   * Retryable failures are retried with backoff until `signal` aborts or giveUpAfterMs passes.
   */
  async insert(
    format: WireFormat, body: Buffer, rows: number, settings: Record<string, string | number | boolean>, token: string | undefined, signal: AbortSignal,
    /** Before each retry: did the failed attempt land after all? ('in': done.) Errors here are retried too. */
    landed?: () => Promise<'in' | 'absent'>,
  ): Promise<void> {
    const started = Date.now()
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now()
      try {
        if (attempt > 1 && landed && (await landed()) === 'in') {
          this.who.log.info({ sink: this.who.sink, table: this.table, attempt, token }, 'clickhouse insert had landed before its acknowledgement was lost: not resent')
          return
        }
        if (this.ch.insertRaw) {
          // chDB: the Buffer goes to the engine as it is, off the main thread (client.ts).
          await this.ch.insertRaw({ table: this.table, columns: this.columns, format, structure: this.structure, body, settings, signal })
        } else {
          const r = await this.ch.client.exec({
            query: this.sql(format),
            values: Readable.from([body], { objectMode: false }),
            clickhouse_settings: settings,
            abort_signal: signal,
          })
          await drainStream(r.stream)
        }
        if (insertChannel.hasSubscribers) insertChannel.publish({ sink: this.who.sink, table: this.table, rows, bytes: body.length, token, attempt, ms: performance.now() - t0 } satisfies InsertEvent)
        return
      } catch (err) {
        if (insertChannel.hasSubscribers) insertChannel.publish({ sink: this.who.sink, table: this.table, rows, bytes: body.length, token, attempt, ms: performance.now() - t0, error: err as Error } satisfies InsertEvent)
        const ctx = `sink "${this.who.sink}": insert of ${rows} rows into ${this.table} failed`
        if (signal.aborted) throw new TrendwireError('SINK_UNAVAILABLE', `${ctx}: aborted (sink closing)`, { cause: err, details: { table: this.table, token } })
        const info = classifyClickHouseError(err)
        if (!info.retryable) throw clickHouseFailure(err, ctx, { table: this.table, token, rows })
        const failingMs = Date.now() - started
        if (this.retry.giveUpAfterMs > 0 && failingMs >= this.retry.giveUpAfterMs) {
          throw new TrendwireError('SINK_UNAVAILABLE', `${ctx}: still failing after ${failingMs} ms and ${attempt} attempts: ${info.message}`, { cause: err, details: { table: this.table, token, rows } })
        }
        const cap = Math.min(this.retry.maxDelayMs, this.retry.initialDelayMs * 2 ** Math.min(attempt - 1, 30))
        const delay = cap / 2 + Math.random() * (cap / 2)
        this.who.metrics().inc('clickhouse_insert_retries_total', 1, { sink: this.who.sink })
        this.who.log.warn({ sink: this.who.sink, table: this.table, attempt, retryInMs: Math.round(delay), failingMs, err: info.message, code: info.serverCode ?? info.errno }, 'clickhouse insert failed, retrying')
        try {
          await sleep(delay, undefined, { signal })
        } catch {
          throw new TrendwireError('SINK_UNAVAILABLE', `${ctx}: aborted while waiting to retry (sink closing): ${info.message}`, { cause: err, details: { table: this.table, token } })
        }
      }
    }
  }
}
