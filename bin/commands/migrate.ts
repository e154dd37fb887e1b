// trendwire migrate — applies schemas/clickhouse/NNN_*.sql to ClickHouse (sinks/clickhouse/migrate.ts).
//   trendwire migrate                          embedded chDB in .trendwire/clickhouse
//   trendwire migrate --embedded DIR           embedded chDB in DIR
//   trendwire migrate --url http://host:8123 [--database db] [--user u] (password: $CLICKHOUSE_PASSWORD)
//   trendwire migrate --status                 list applied / pending / changed, apply nothing
// $TRENDWIRE_CLICKHOUSE_URL stands for --url when no target is given.
import { parseArgs } from 'node:util'
import pino from 'pino'
import { createClickHouse, quoteIdent, type ClickHouseOptions } from '../../sinks/clickhouse/client.ts'
import { migrate, migrationStatus } from '../../sinks/clickhouse/migrate.ts'
import { TrendwireError } from '../../streams/errors.ts'

export const summary = 'apply the ClickHouse schema (schemas/clickhouse/*.sql) to a server or embedded chDB'

export default async function (argv: string[]): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      embedded: { type: 'string' },
      database: { type: 'string', default: 'default' },
      user: { type: 'string', default: 'default' },
      status: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (a.help) {
    console.log('usage: trendwire migrate [--url URL [--database DB] [--user U] | --embedded DIR] [--status]')
    return 0
  }
  if (a.url && a.embedded) throw new TrendwireError('CONFIG_INVALID', 'migrate: give --url or --embedded, not both')
  const url = a.url ?? (a.embedded ? undefined : process.env.TRENDWIRE_CLICKHOUSE_URL)
  const log = pino({ level: process.env.TRENDWIRE_LOG_LEVEL ?? 'info' })
  const password = process.env.CLICKHOUSE_PASSWORD ?? ''
  let opts: ClickHouseOptions
  if (url) {
    if (a.database !== 'default') {
      // The target database must exist before a client can use it as its default.
      const admin = createClickHouse({ url, username: a.user, password })
      try {
        await admin.client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdent(a.database!)}` })
      } finally {
        await admin.close()
      }
    }
    opts = { url, username: a.user, password, database: a.database }
  } else {
    if (a.database !== 'default') throw new TrendwireError('CONFIG_INVALID', 'migrate: --database applies to --url only (embedded chDB uses "default")')
    opts = { embeddedPath: a.embedded ?? '.trendwire/clickhouse' }
  }
  const ch = createClickHouse(opts)
  try {
    if (a.status) {
      for (const s of await migrationStatus(ch)) {
        console.log(`${String(s.migration.version).padStart(3, '0')}  ${s.state.padEnd(8)} ${s.migration.file}${s.appliedAt ? `  (${s.appliedAt})` : ''}`)
      }
      return 0
    }
    const applied = await migrate(ch, { logger: log })
    log.info({ target: ch.target, database: ch.database, applied: applied.map((m) => m.file) }, applied.length ? 'schema up to date' : 'schema already up to date')
    return 0
  } finally {
    await ch.close()
  }
}
