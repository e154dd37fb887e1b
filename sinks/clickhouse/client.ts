// One way to reach ClickHouse for every sink, the migrator and the tests: a @clickhouse/client
// ClickHouseClient, either over HTTP to a server or in process on chDB. The sink code never knows
// which: chDB plugs into clickhouse-js's `createClient({ connection })` hook through
// `createChdbConnection` (chdb/connection, chdb ≥ 3.4; node_modules/chdb/README.md), which
// implements the same Connection<Readable> contract as the HTTP connection.
//
// chDB binds one data directory per process (opening a different one while one is live is refused);
// several connections on the same directory coexist. Each connection is its own query context:
// `clickhouse_settings` are applied as `SET …` statements that persist on that connection, so the
// sink always passes every setting it relies on, on every insert (see sink.ts).
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client'
import { createChdbConnection, type ChdbExtension } from 'chdb/connection'
import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { parseOptions } from '../../streams/config.ts'
import { clickHouseFailure } from './errors.ts'

const serverSchema = z.object({
  /** e.g. http://127.0.0.1:8123 */
  url: z.url(),
  username: z.string().default('default'),
  password: z.string().default(''),
  database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a plain identifier').default('default'),
  /** Per request; an insert that takes longer is abandoned and retried by the sink. */
  requestTimeoutMs: z.number().int().positive().default(30_000),
}).strict()

const embeddedSchema = z.object({
  /** Folder holding the chDB data (created if missing). One folder per process. */
  embeddedPath: z.string().min(1),
  /**
   * The sinks' INSERTs (their chunks) running at once, each on a chDB connection of its own (a
   * connection runs one query at a time; the client's own connection stays free for everything else).
   * chdb runs each query on a thread of libuv's pool (4 threads unless UV_THREADPOOL_SIZE says
   * otherwise) and holds it until the query ends: with more long INSERTs in flight than the pool has
   * threads, everything else that needs the pool — the checkpoint files, the sinks' bookkeeping
   * queries, DNS — waits behind them, and the whole engine with it (benchmarks/clickhouse/README.md,
   * sections 6 and 7). Two keep both cores busy and leave the pool room; 1, 3 and 4 measured no better.
   */
  maxConcurrentInserts: z.number().int().min(1).max(64).default(2),
}).strict()

export const clickHouseOptionsSchema = z.union([serverSchema, embeddedSchema])
export type ClickHouseOptions = z.input<typeof clickHouseOptionsSchema>

/** What the connected ClickHouse can do; decides how the sink deduplicates (docs/clickhouse.md). */
export interface ClickHouseCapabilities {
  version: string
  /** `insert_deduplication_token` exists (ClickHouse ≥ 22.2). 18.16 has no such setting. */
  dedupToken: boolean
  /** MergeTree tables can keep insert hashes without replication (`non_replicated_deduplication_window`, ≥ 20.x). */
  nonReplicatedDedup: boolean
  /** JSONCompactEachRow is an input format (not in 18.16: the sink falls back to JSONEachRow). */
  compactJson: boolean
  /** `DELETE FROM` (lightweight, synchronous; ≥ 23.3). Older servers delete with ALTER TABLE … DELETE mutations. */
  lightweightDelete: boolean
  /**
   * The sink's 'auto' format may be RowBinary here (rowbinary.ts): chDB, and servers that read
   * JSONCompactEachRow (≥ 20.x). 18.16 reads RowBinary too, but keeps TabSeparated under 'auto'
   * (its tables have no DateTime64; format: 'RowBinary' still works there).
   */
  rowBinary: boolean
}

/** One INSERT whose body is already serialised in `format`. */
export interface RawInsert {
  /** "db.table" (plain identifiers). */
  table: string
  columns: readonly string[]
  format: 'JSONCompactEachRow' | 'JSONEachRow' | 'TabSeparated' | 'RowBinary'
  /** RowBinary: "name Type, …" of `columns` (rowbinary.ts structureOf), which binary rows do not carry. */
  structure?: string
  body: Buffer
  settings: Record<string, string | number | boolean>
  signal: AbortSignal
}

export interface ClickHouse {
  readonly client: ClickHouseClient
  /**
   * chDB only: inserts a Buffer as it is (chdb's raw insert: handed to the engine zero-copy, the
   * statement built and run on a libuv thread). The client's exec() path would decode the body into a
   * JS string and concatenate it onto the SQL on the main thread first (chdb/connection exec): 20 ms
   * of the main thread per 100k rows against 3 ms (benchmarks/clickhouse/README.md, section 2).
   * Undefined for servers.
   */
  readonly insertRaw?: (p: RawInsert) => Promise<void>
  readonly kind: 'server' | 'embedded'
  /** The URL (without credentials) or the data folder, for logs and errors. */
  readonly target: string
  readonly database: string
  capabilities(): Promise<ClickHouseCapabilities>
  /** Closes the client. Sinks never close the handle they were given; whoever created it does. */
  close(): Promise<void>
}

/** At most `n` holders at once; the others wait in arrival order (or until their signal aborts). */
export class Semaphore {
  private held = 0
  private readonly waiting: Array<{ go: () => void }> = []
  constructor(private readonly n: number) {}

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.held < this.n) {
      this.held++
      return Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      const w = {
        go: () => {
          signal?.removeEventListener('abort', onAbort)
          this.held++
          resolve()
        },
      }
      const onAbort = () => {
        const i = this.waiting.indexOf(w)
        if (i >= 0) this.waiting.splice(i, 1)
        reject(signal!.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(w)
    })
  }

  release(): void {
    this.held--
    const next = this.waiting.shift()
    if (next) next.go()
  }

  get pending(): number {
    return this.waiting.length
  }
}

/**
 * `createClickHouse({ url })` for a server, `createClickHouse({ embeddedPath })` for chDB in process.
 * Options are validated here, once; a bad key fails with CONFIG_INVALID naming it.
 */
export function createClickHouse(options: ClickHouseOptions): ClickHouse {
  const o = parseOptions('clickhouse', clickHouseOptionsSchema, options)
  // The client's own logger would print every failed request at ERROR; the sink logs what matters.
  const log = { level: ClickHouseLogLevel.OFF }
  let client: ClickHouseClient
  let kind: ClickHouse['kind']
  let target: string
  let database: string
  let insertRaw: ClickHouse['insertRaw']
  let closeLanes = async (): Promise<void> => {}
  if ('url' in o) {
    client = createClient({
      url: o.url, username: o.username, password: o.password, database: o.database,
      request_timeout: o.requestTimeoutMs, log,
    })
    const u = new URL(o.url)
    u.username = ''
    u.password = ''
    target = u.toString()
    kind = 'server'
    database = o.database
  } else {
    const path = resolve(o.embeddedPath)
    mkdirSync(path, { recursive: true })
    // chdb types its connection against @clickhouse/client-common while @clickhouse/client bundles its
    // own copy of the same declarations; structurally identical at runtime, nominally distinct for tsc.
    const connection = createChdbConnection({ path }) as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection']
    client = createClient({ connection, log })
    // The sinks' INSERTs go through connections of their own, one per INSERT that may run at once: a
    // chDB connection runs one query at a time, and on the client's connection every bookkeeping query
    // (a checkpoint's 'committed' record, a delete, a landed-or-not check) waited behind whole 100k-row
    // INSERTs — the runners stood idle in commit() (benchmarks/clickhouse/README.md, section 7).
    const lanes = Array.from({ length: o.maxConcurrentInserts }, () => createChdbConnection({ path }))
    const free = lanes.map((l) => (l as unknown as { chdb: ChdbExtension }).chdb)
    const slots = new Semaphore(o.maxConcurrentInserts)
    const files = insertFiles(path)
    insertRaw = async (p) => {
      await slots.acquire(p.signal)
      const raw = free.pop()!
      try {
        if (p.format === 'RowBinary') {
          // chdb's raw insert takes text formats only (its native entry, called directly, failed every
          // binary body over ~1 MiB with "Cannot read all data" at the row crossing the first MiB —
          // chdb 3.4.0, benchmarks/clickhouse/README.md section 7): the body goes through a file that
          // the INSERT reads with the file() table function, on chDB's own threads. Written by libuv's
          // pool, deleted before any writeback would happen; a crash leaves it for the next start.
          const file = files.next()
          await writeFile(file, p.body, { signal: p.signal })
          try {
            const table = p.table.split('.').map(quoteIdent).join('.')
            await raw.queryAsync(
              `INSERT INTO ${table} (${p.columns.map(quoteIdent).join(', ')})${settingsClause(p.settings)} SELECT * FROM file(${quoteString(file)}, 'RowBinary', ${quoteString(p.structure ?? '')})`,
              { format: 'CSV', signal: p.signal },
            )
          } finally {
            await rm(file, { force: true })
          }
        } else {
          await raw.rawInsert({ table: p.table, columns: p.columns, format: p.format, values: p.body, settings: p.settings, signal: p.signal })
        }
      } catch (err) {
        throw asClickHouseShaped(err)
      } finally {
        free.push(raw)
        slots.release()
      }
    }
    closeLanes = () => Promise.all(lanes.map((l) => l.close())).then(() => {})
    target = path
    kind = 'embedded'
    database = 'default'
  }
  let caps: Promise<ClickHouseCapabilities> | null = null
  return {
    client, kind, target, database, insertRaw,
    capabilities() {
      caps ??= detectCapabilities(client).catch((err) => {
        caps = null
        throw clickHouseFailure(err, `clickhouse at ${target}: cannot read server capabilities`)
      })
      return caps
    },
    close: async () => {
      await client.close()
      await closeLanes()
    },
  }
}

/** ` SETTINGS k = v, …` for an INSERT's SQL ('' for none). */
function settingsClause(settings: Record<string, string | number | boolean>): string {
  const parts = Object.entries(settings).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`not a setting name: ${JSON.stringify(k)}`)
    return `${k} = ${typeof v === 'string' ? quoteString(v) : typeof v === 'boolean' ? (v ? 1 : 0) : v}`
  })
  return parts.length > 0 ? ` SETTINGS ${parts.join(', ')}` : ''
}

/**
 * Names for RowBinary bodies on their way into chDB: `<data folder>/inserts/<pid>-<n>.bin`. Files
 * of a process that is gone (a crash between write and delete) are removed when the next one opens
 * the folder.
 */
function insertFiles(path: string): { next(): string } {
  const dir = join(path, 'inserts')
  mkdirSync(dir, { recursive: true })
  for (const f of readdirSync(dir)) {
    const pid = Number(/^(\d+)-/.exec(f)?.[1])
    if (pid === process.pid) continue
    let alive = false
    try {
      process.kill(pid, 0)
      alive = true
    } catch {}
    if (!alive) rmSync(join(dir, f), { force: true })
  }
  let n = 0
  return { next: () => join(dir, `${process.pid}-${++n}.bin`) }
}

/**
 * chdb's raw insert throws its own ChdbInsertError ("Code: 27. DB::Exception: … (TYPE)" with
 * clickhouseCode); give it the { code: '27', type } shape errors.ts reads from clickhouse-js errors.
 */
function asClickHouseShaped(err: unknown): unknown {
  const e = err as { clickhouseCode?: unknown; message?: unknown; name?: unknown } | null
  if (!e || typeof e.message !== 'string' || e.name === 'ChdbAbortError') return err
  const m = /^\s*Code:\s*(\d+)[.,]/.exec(e.message)
  const code = typeof e.clickhouseCode === 'number' ? e.clickhouseCode : m ? Number(m[1]) : undefined
  if (code === undefined) return err
  const type = /\(([A-Z][A-Z0-9_]+)\)\s*(\(version [^)]*\))?\s*$/.exec(e.message)?.[1]
  return Object.assign(new Error(e.message, { cause: err }), { code: String(code), type })
}

async function detectCapabilities(client: ClickHouseClient): Promise<ClickHouseCapabilities> {
  // Plain SQL that 18.16 understands too (no query parameters, no newer functions).
  const rs = await client.query({
    query: `SELECT version() AS version,
      (SELECT count() FROM system.settings WHERE name = 'insert_deduplication_token') AS token,
      (SELECT count() FROM system.merge_tree_settings WHERE name = 'non_replicated_deduplication_window') AS window,
      (SELECT count() FROM system.formats WHERE name = 'JSONCompactEachRow' AND is_input) AS compact`,
    format: 'JSONEachRow',
  })
  const [row] = await rs.json<{ version: string; token: number | string; window: number | string; compact: number | string }>()
  const [major, minor] = row.version.split('.').map(Number)
  return {
    version: row.version, dedupToken: Number(row.token) > 0, nonReplicatedDedup: Number(row.window) > 0,
    compactJson: Number(row.compact) > 0, lightweightDelete: major > 23 || (major === 23 && minor >= 3),
    rowBinary: Number(row.compact) > 0,
  }
}

/** Quotes an identifier (table or column) with backquotes; ClickHouse escapes a backquote with a backslash. */
export function quoteIdent(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`'
}

/** A ClickHouse string literal. */
export function quoteString(s: string): string {
  return "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'"
}
