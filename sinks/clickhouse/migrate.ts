// Versioned DDL: schemas/clickhouse/NNN_name.sql, applied in order, each once. A `schema_migrations`
// table records (version, name, checksum, applied_at). A migration is recorded only after all its
// statements ran; its statements are written to be re-runnable (IF NOT EXISTS), so a run interrupted
// halfway simply applies it again. A recorded migration whose file changed since is reported, never
// re-applied: change the schema with a new file.
// Not safe for two migrators at once on the same database (no lock in ClickHouse): run one.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { TrendwireError } from '../../streams/errors.ts'
import { quoteString, type ClickHouse } from './client.ts'
import { clickHouseFailure } from './errors.ts'

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schemas', 'clickhouse')

export interface Migration {
  version: number
  name: string
  file: string
  checksum: string
  statements: string[]
}

export interface MigrationStatus {
  migration: Migration
  state: 'applied' | 'pending' | 'changed'
  appliedAt?: string
}

const FILE = /^(\d{3,})_([a-z0-9_]+)\.sql$/

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = []
  const seen = new Map<number, string>()
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.sql')) continue
    const m = FILE.exec(f)
    if (!m) throw new TrendwireError('CONFIG_INVALID', `migrations: ${f} is not named NNN_snake_case.sql`)
    const version = Number(m[1])
    if (seen.has(version)) throw new TrendwireError('CONFIG_INVALID', `migrations: version ${version} used by both ${seen.get(version)} and ${f}`)
    seen.set(version, f)
    const sql = readFileSync(join(dir, f), 'utf8')
    out.push({ version, name: m[2], file: f, checksum: createHash('sha256').update(sql).digest('hex').slice(0, 16), statements: splitStatements(sql) })
  }
  return out.sort((a, b) => a.version - b.version)
}

/**
 * Splits a SQL script into statements on `;` outside quotes and comments, dropping comments.
 * Handles '…' strings (backslash and doubled-quote escapes), "…" and `…` identifiers, -- and /* *\/ comments.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = []
  let cur = ''
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql[i]
    if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++
      continue
    }
    if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2)
      i = end < 0 ? n : end + 2
      cur += ' '
      continue
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1
      while (j < n) {
        if (sql[j] === '\\') { j += 2; continue }
        if (sql[j] === c) {
          if (sql[j + 1] === c) { j += 2; continue }
          break
        }
        j++
      }
      cur += sql.slice(i, j + 1)
      i = j + 1
      continue
    }
    if (c === ';') {
      if (cur.trim()) out.push(cur.trim())
      cur = ''
      i++
      continue
    }
    cur += c
    i++
  }
  if (cur.trim()) out.push(cur.trim())
  return out
}

const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime DEFAULT now()
)
ENGINE = MergeTree
ORDER BY version`

async function run(ch: ClickHouse, sql: string, what: string): Promise<void> {
  try {
    await ch.client.command({ query: sql })
  } catch (err) {
    throw clickHouseFailure(err, `migrate: ${what}`)
  }
}

export async function migrationStatus(ch: ClickHouse, dir = MIGRATIONS_DIR): Promise<MigrationStatus[]> {
  await run(ch, LEDGER, 'create schema_migrations')
  const rs = await ch.client.query({ query: 'SELECT version, checksum, toString(max(applied_at)) AS applied_at FROM schema_migrations GROUP BY version, checksum', format: 'JSONEachRow' })
  const applied = new Map((await rs.json<{ version: number; checksum: string; applied_at: string }>()).map((r) => [Number(r.version), r]))
  return loadMigrations(dir).map((m) => {
    const a = applied.get(m.version)
    if (!a) return { migration: m, state: 'pending' }
    return { migration: m, state: a.checksum === m.checksum ? 'applied' : 'changed', appliedAt: a.applied_at }
  })
}

/** The oldest ClickHouse the DDL is written for: parameterized views (23.1), TTL, codecs, insert tokens. */
export const MIN_VERSION: readonly [number, number] = [23, 1]

/** Applies every pending migration in order. Returns the ones applied now. */
export async function migrate(ch: ClickHouse, opts: { dir?: string; logger?: Logger } = {}): Promise<Migration[]> {
  const { version } = await ch.capabilities()
  const [major, minor] = version.split('.').map(Number)
  if (major < MIN_VERSION[0] || (major === MIN_VERSION[0] && minor < MIN_VERSION[1])) {
    throw new TrendwireError('CONFIG_INVALID', `migrate: ${ch.target} runs ClickHouse ${version}; the schema needs ${MIN_VERSION.join('.')} or newer (parameterized views, TTL, column codecs, insert deduplication tokens)`)
  }
  const status = await migrationStatus(ch, opts.dir)
  const done: Migration[] = []
  for (const s of status) {
    if (s.state === 'changed') {
      opts.logger?.warn({ version: s.migration.version, file: s.migration.file }, 'migration file changed after it was applied: not re-applied (add a new migration instead)')
      continue
    }
    if (s.state === 'applied') continue
    const m = s.migration
    for (let k = 0; k < m.statements.length; k++) await run(ch, m.statements[k], `${m.file} statement ${k + 1}`)
    await run(ch, `INSERT INTO schema_migrations (version, name, checksum) VALUES (${m.version}, ${quoteString(m.name)}, ${quoteString(m.checksum)})`, `record ${m.file}`)
    opts.logger?.info({ version: m.version, file: m.file, statements: m.statements.length }, 'migration applied')
    done.push(m)
  }
  return done
}
