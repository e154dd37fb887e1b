// ClickHouse for tests: an embedded chDB folder per test file (chDB binds one folder per process, and
// node --test runs each file in its own process), per-test tables cloned from the migrated schema,
// and the real server started by tests/setup/clickhouse.sh, which tests can kill and start again.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createClickHouse, quoteIdent, type ClickHouse } from '../../sinks/clickhouse/client.ts'
import { migrate } from '../../sinks/clickhouse/migrate.ts'

const testsDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const serviceDir = join(testsDir, '.services', 'clickhouse')
export const CLICKHOUSE_TEST_URL = process.env.TRENDWIRE_CH_TEST_URL ?? `http://127.0.0.1:${process.env.TRENDWIRE_CH_HTTP_PORT ?? 18123}`

/** A fresh chDB folder with the schema applied. One per test file. */
export async function embeddedWithSchema(name: string): Promise<{ ch: ClickHouse; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), `trendwire-${name}-`))
  const ch = createClickHouse({ embeddedPath: dir })
  await migrate(ch)
  // Test data is dated by the synthetic generator (2024) or fixed epochs, often far beyond the tables'
  // TTLs relative to the wall clock: a TTL merge would delete it mid-test. Tests are not about TTL.
  const withTtl = await rows<{ name: string }>(ch, "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree' AND create_table_query LIKE '% TTL %'")
  for (const t of withTtl) await ch.client.command({ query: `ALTER TABLE ${quoteIdent(t.name)} REMOVE TTL` })
  return { ch, dir }
}

/** A unique table name per test, so tests never see each other's rows. */
export function uniqueTable(name: string): string {
  return `t_${name.replace(/[^a-zA-Z0-9_]/g, '_')}_${randomBytes(3).toString('hex')}`
}

/** A new empty table with the structure, engine and settings of `like` (e.g. a migrated table). */
export async function cloneTable(ch: ClickHouse, like: string, name: string): Promise<string> {
  await ch.client.command({ query: `CREATE TABLE ${quoteIdent(name)} AS ${quoteIdent(like)}` })
  return name
}

/**
 * A new empty plain-MergeTree table with the columns of `like` (keeping insert hashes): merges never
 * remove a row from it, so every duplicate a sink let through stays countable — without stopping
 * merges, which would also stop the deletes a sink's restore runs (they are mutations).
 */
export async function rawTable(ch: ClickHouse, like: string, name: string, orderBy: string): Promise<string> {
  await ch.client.command({ query: `CREATE TABLE ${quoteIdent(name)} AS ${quoteIdent(like)} ENGINE = MergeTree ORDER BY (${orderBy}) SETTINGS non_replicated_deduplication_window = 10000` })
  return name
}

export async function dropTable(ch: ClickHouse, name: string): Promise<void> {
  await ch.client.command({ query: `DROP TABLE IF EXISTS ${quoteIdent(name)}` })
}

export async function rows<R>(ch: ClickHouse, query: string): Promise<R[]> {
  const rs = await ch.client.query({ query, format: 'JSONEachRow' })
  return rs.json<R>()
}

/** Why the real server is not usable, or null when it answers /ping. */
export async function serverUnavailable(): Promise<string | null> {
  const marker = join(serviceDir, 'unavailable')
  if (existsSync(marker)) return `clickhouse-server could not be installed (${readFileSync(marker, 'utf8').trim()}; see tests/setup/clickhouse.sh)`
  const bin = spawnSync('sh', ['-c', 'command -v clickhouse-server'], { encoding: 'utf8' })
  if (bin.status !== 0) return 'clickhouse-server is not installed (tests/setup/clickhouse.sh installs Debian\'s package; run tests through tests/run.sh)'
  // Installed: if it is not answering, startServer() starts it and fails loudly when it cannot.
  return null
}

export async function ping(timeoutMs = 1000): Promise<boolean> {
  try {
    const r = await fetch(`${CLICKHOUSE_TEST_URL}/ping`, { signal: AbortSignal.timeout(timeoutMs) })
    return r.ok
  } catch {
    return false
  }
}

/** Starts the server if it is not answering (tests/setup/clickhouse.sh), waiting for /ping. */
export function startServer(): void {
  const r = spawnSync('bash', [join(testsDir, 'setup', 'clickhouse.sh')], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`tests/setup/clickhouse.sh failed (exit ${r.status}): ${r.stderr}`)
}

/** SIGKILLs the server and waits (bounded) until its process is gone. */
export async function killServer(): Promise<number> {
  const pid = Number(readFileSync(join(serviceDir, 'clickhouse.pid'), 'utf8').trim())
  if (!Number.isInteger(pid) || pid <= 0) throw new Error('no clickhouse-server pid file')
  process.kill(pid, 'SIGKILL')
  for (let i = 0; i < 200; i++) {
    if (!alive(pid)) return pid
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`clickhouse-server ${pid} still alive 5 s after SIGKILL`)
}

/** Running (a zombie waiting for its reaper counts as gone: it holds no port and no file). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}
